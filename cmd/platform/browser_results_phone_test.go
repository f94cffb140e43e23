package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

var proTrendRe = regexp.MustCompile(`href="(/results/pro/p/[0-9a-f-]{36}/trend/[A-Z0-9._-]+)"`)

// chartCheck is what a trend chart looks like on the phone, measured in the browser.
type chartCheck struct {
	Charts   int      `json:"charts"`
	Smallest float64  `json:"smallest"` // the smallest label, in CSS pixels as drawn
	Texts    []string `json:"texts"`
	Out      int      `json:"out"`  // points marked out of range
	Band     int      `json:"band"` // the reference band
	Width    float64  `json:"width"`
}

const chartJS = `(() => {
	const out = {charts: 0, smallest: 1e9, texts: [], out: 0, band: 0, width: 0};
	for (const svg of document.querySelectorAll("main svg.chart")) {
		out.charts++;
		const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
		out.width = svg.getBoundingClientRect().width;
		for (const t of svg.querySelectorAll("text")) {
			out.smallest = Math.min(out.smallest, parseFloat(t.getAttribute("font-size")) * scale);
			out.texts.push(t.textContent);
		}
		out.out += svg.querySelectorAll(".out").length;
		out.band += svg.querySelectorAll("rect").length;
	}
	return JSON.stringify(out);
})()`

// checkChart checks the trend chart the phone shows: labels of at least 11 px as drawn, the
// unit written, the reference band drawn and the out-of-range points marked.
func checkChart(b *person, name, unit string, wantOut bool) {
	b.t.Helper()
	var c chartCheck
	if err := json.Unmarshal([]byte(eval[string](b, "measure the chart of "+name, chartJS)), &c); err != nil {
		b.fatal("measure the chart of "+name, err)
	}
	if c.Charts != 1 || c.Smallest < 11 || c.Band == 0 || (wantOut && c.Out == 0) || !strings.Contains(strings.Join(c.Texts, " "), unit) {
		b.t.Errorf("%s: chart on the phone: %+v (want one chart, labels ≥ 11 px, the unit %q, the band, out-of-range points marked)", name, c, unit)
	}
	b.t.Logf("%s: chart %.0f px wide, smallest label %.1f px, %d points marked out of range", name, c.Width, c.Smallest, c.Out)
}

// TestBrowserPhoneResults (issue 12.18): the results module's journeys on a 390 px phone in
// Chromium — the patient (results, a report, a trend, the access log), the professional (his
// patients' results with their markers, a report, a patient's trend) and the lab staff (their
// desk, the queue, the records, a record, a report, the professionals, the upload form and
// its "more rows"). No page scrolls sideways, tables reflow under their column names, axe-core
// finds nothing serious; a trend chart keeps legible labels, its unit, its reference band and
// its out-of-range points marked. The same pages, as the server sends them, are valid HTML.
func TestBrowserPhoneResults(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	reportID, trendPath := phoneData(t, p)
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	port := base.Port()

	// The ids the pages link to, and the pages as the server sends them (html-validate).
	pages := map[string]string{}
	staffHTTP := p.browser("mlab.localhost")
	staffHTTP.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
	_, records := staffHTTP.do("GET", "/results/staff/patients?q=DURAND", nil)
	m := recordRe.FindStringSubmatch(records)
	if m == nil {
		t.Fatalf("no lab record found:\n%s", records)
	}
	recordPath := "/results/staff/patients/" + m[1]
	proHTTP := p.browser("pro.mlab.localhost")
	proHTTP.login("professional@mlab.localhost", "demo-mlab-professional")
	_, proReport := proHTTP.do("GET", "/results/pro/r/"+reportID, nil)
	tr := proTrendRe.FindStringSubmatch(proReport)
	if tr == nil {
		t.Fatalf("the professional's report links no trend:\n%s", proReport)
	}
	proTrend := tr[1]
	for _, x := range []struct {
		b     *browser
		paths []string
	}{
		{staffHTTP, []string{"/results/staff", "/results/staff/upload", recordPath, "/results/staff/r/" + reportID}},
		{proHTTP, []string{"/results/pro", "/results/pro/r/" + reportID, proTrend, "/results/pro?q=" + time.Now().Format("02/01/2006")}},
	} {
		for _, path := range x.paths {
			code, body := x.b.do("GET", path, nil)
			if code != 200 {
				t.Fatalf("GET %s%s: %d", x.b.host, path, code)
			}
			pages[x.b.host+path] = body
		}
	}
	problems, err := checks.ValidateHTML(pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("%s", pr)
	}

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	type page = phoneStop
	for _, who := range []phoneVisit{
		{name: "patient", host: "mlab.localhost", email: "user@mlab.localhost", password: "demo-mlab-user", shown: "Demo User",
			pages: []page{{"results", "/results/mine", true}, {"a result", "/results/r/" + reportID, true},
				{"a trend", trendPath, true}, {"access log", "/results/access", true}}},
		{name: "professional", host: "pro.mlab.localhost", email: "professional@mlab.localhost", password: "demo-mlab-professional", shown: "Demo professional",
			pages: []page{{"his patients' results", "/results/pro", true}, {"a result", "/results/pro/r/" + reportID, true},
				{"a patient's trend", proTrend, true}}},
		{name: "lab staff", host: "mlab.localhost", email: "lab-staff@mlab.localhost", password: "demo-mlab-lab_staff", shown: "Demo lab staff",
			pages: []page{{"desk", "/results/staff", false}, {"queue", "/results/staff/queue", true},
				{"records", "/results/staff/patients?q=DURAND", true}, {"a record", recordPath, true},
				{"a result", "/results/staff/r/" + reportID, true}, {"professionals", "/results/staff/professionals", true},
				{"upload form", "/results/staff/upload", true}}},
	} {
		onPhone(t, first, port, checks, who, func(b *person, pg phoneStop) {
			switch {
			case strings.Contains(pg.path, "/trend/"):
				// The demo's glucose went above its range once.
				checkChart(b, pg.name, "mmol/L", true)
			case pg.path == "/results/staff/upload":
				// More rows, without a script: the form comes back longer and still fits.
				rows := eval[int](b, "count the rows", `document.querySelectorAll("table.entry tbody tr").length`)
				b.load("more rows", 200, chromedp.Click(chromedp.CSS(`button[name=more]`)))
				if after := eval[int](b, "count the rows", `document.querySelectorAll("table.entry tbody tr").length`); after <= rows {
					b.t.Errorf("more rows: %d rows, then %d", rows, after)
				}
				phoneHere(b, checks, "upload form with more rows", b.url(who.host, pg.path), true)
			}
		})
	}
}
