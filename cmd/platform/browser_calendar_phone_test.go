package main

import (
	"html"
	"net/url"
	"path/filepath"
	"testing"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// TestBrowserPhoneCalendar (issue 13.3, 13.4): the calendar's pages on a 390 px phone in
// Chromium — the patient's search, a doctor with his prices, the week's free starts, the
// booking form, his visits and one visit; the doctor's agenda. No page scrolls sideways,
// tables reflow under their column names, axe-core finds nothing serious.
func TestBrowserPhoneCalendar(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	patient := p.browser("elekarze.localhost")
	patient.login("user@elekarze.localhost", "demo-elekarze-user")
	find := func(re interface{ FindStringSubmatch(string) []string }, path string) string {
		t.Helper()
		_, body := patient.do("GET", path, nil)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("nothing to follow on %s:\n%s", path, body)
		}
		return html.UnescapeString(m[1])
	}
	doctor := "/calendar/doctors/" + find(doctorLinkRe, "/calendar?city=warszawa")
	week := find(bookServiceRe, doctor+"/book")
	form := firstFreeStart(t, func(path string) string { _, body := patient.do("GET", path, nil); return body }, week)
	visit := "/calendar/visits/" + find(visitLinkRe, "/calendar/visits")

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	type page = phoneStop
	for _, who := range []phoneVisit{
		{name: "patient", host: "elekarze.localhost", email: "user@elekarze.localhost", password: "demo-elekarze-user", shown: "Demo User",
			pages: []page{{"search", "/calendar?city=warszawa", false}, {"a doctor", doctor, true}, {"the week", week, false},
				{"the booking form", form, false}, {"the booking form for another person", form + "&for=other", false}, {"his visits", "/calendar/visits", true}, {"a visit", visit, false}}},
		{name: "doctor", host: "elekarze.localhost", email: "doctor@elekarze.localhost", password: "demo-elekarze-doctor", shown: "Demo doctor",
			pages: []page{{"agenda", "/calendar/agenda", true}}},
	} {
		onPhone(t, first, base.Port(), checks, who, slotsInARow)
	}
}
