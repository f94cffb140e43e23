package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// phoneWidth is the width of the phone every page must fit: nothing scrolls sideways.
const phoneWidth = 390

// phoneTablesTimeout bounds the whole scenario (five people, some twenty pages, axe-core on
// each), browser start included.
const phoneTablesTimeout = 4 * time.Minute

// tableCheck is what the page's tables look like to the test, measured in the browser.
type tableCheck struct {
	Tables   int      `json:"tables"`   // tables in main
	Labelled int      `json:"labelled"` // data cells whose data-label is their column's header
	Shown    int      `json:"shown"`    // of those, the ones whose label is drawn (::before)
	Problems []string `json:"problems"` // cells without their column's name, tables without headers
	Wide     []string `json:"wide"`     // elements that reach past the phone's right edge
	Width    int      `json:"width"`    // document.scrollingElement.scrollWidth
}

// tableJS measures the page: the document's width, the elements wider than the phone, and
// for each table of main whether every data cell carries its column header's text in
// data-label (the label the phone layout draws) and whether that label is drawn.
const tableJS = `(() => {
	const out = {tables: 0, labelled: 0, shown: 0, problems: [], wide: [],
		width: document.scrollingElement.scrollWidth};
	const vw = document.documentElement.clientWidth;
	for (const el of document.querySelectorAll("body *")) {
		const r = el.getBoundingClientRect();
		if (r.width > 0 && r.right > vw + 0.5 && out.wide.length < 8) {
			out.wide.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " right=" + Math.round(r.right));
		}
	}
	for (const table of document.querySelectorAll("main table")) {
		out.tables++;
		const heads = [...table.querySelectorAll("thead tr:first-child th")].map(th => th.textContent.replace(/\s+/g, " ").trim());
		if (heads.length === 0) { out.problems.push("a table without a header row"); continue; }
		if (table.querySelector("thead th:not([scope=col])")) out.problems.push("a column header without scope=col");
		for (const tr of table.querySelectorAll("tbody tr")) {
			if (tr.querySelector("[colspan]")) continue; // the "nothing yet" row
			[...tr.children].forEach((cell, i) => {
				if (cell.tagName === "TH") {
					if (cell.getAttribute("scope") !== "row") out.problems.push("a header cell in the body without scope=row");
					return;
				}
				const want = heads[i] || "";
				const got = cell.getAttribute("data-label");
				if (got === null || got.replace(/\s+/g, " ").trim() !== want) {
					out.problems.push("column " + (i+1) + " (" + JSON.stringify(want) + "): data-label " + JSON.stringify(got) +
						" on " + JSON.stringify(cell.textContent.replace(/\s+/g, " ").trim().slice(0, 60)));
					return;
				}
				out.labelled++;
				const before = getComputedStyle(cell, "::before");
				if (want !== "" && before.content !== "none" && before.display !== "none") out.shown++;
			});
		}
	}
	return JSON.stringify(out);
})()`

// axRoles counts the table roles the page exposes to assistive technology.
func axRoles(b *person) map[string]int {
	b.t.Helper()
	counts := map[string]int{}
	b.do("read the accessibility tree", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		if err != nil {
			return err
		}
		for _, n := range res.Nodes {
			if n.Ignored || n.Role == nil {
				continue
			}
			var role string
			if json.Unmarshal(n.Role.Value, &role) == nil {
				counts[role]++
			}
		}
		return nil
	}))
	return counts
}

// phonePage opens a page on the phone and checks it: it fits the phone's width, its tables
// reflow into label + value lines and stay tables for screen readers, and axe-core finds no
// serious or critical violation (scrollable-region-focusable among them).
func phonePage(b *person, checks *browsertest.Checks, name, u string, wantTable bool) {
	b.t.Helper()
	b.open(name, u, 200)
	phoneHere(b, checks, name, u, wantTable)
}

// phoneHere checks the page the phone shows now, as phonePage does.
func phoneHere(b *person, checks *browsertest.Checks, name, u string, wantTable bool) {
	b.t.Helper()
	var m tableCheck
	if err := json.Unmarshal([]byte(eval[string](b, "measure "+name, tableJS)), &m); err != nil {
		b.fatal("measure "+name, err)
	}
	if m.Width > phoneWidth {
		b.t.Errorf("%s (%s): the page is %d px wide on a %d px phone: it scrolls sideways; too wide: %v",
			name, u, m.Width, phoneWidth, m.Wide)
	}
	for _, p := range m.Problems {
		b.t.Errorf("%s (%s): %s", name, u, p)
	}
	if wantTable {
		if m.Tables == 0 || m.Labelled == 0 {
			b.t.Errorf("%s (%s): want a table with rows, found %d tables, %d labelled cells", name, u, m.Tables, m.Labelled)
		}
		if m.Shown == 0 {
			b.t.Errorf("%s (%s): no cell shows its column's name on the phone", name, u)
		}
		// The reflowed table is still a table to a screen reader: a table, its column
		// headers and its cells.
		roles := axRoles(b)
		if roles["table"] == 0 || roles["columnheader"] == 0 || roles["cell"] == 0 {
			b.t.Errorf("%s (%s): the table lost its semantics on the phone: roles %v", name, u, roles)
		}
	}
	vs, err := checks.Axe(b.ctx)
	if err != nil {
		b.fatal("axe-core on "+name, err)
	}
	for _, v := range browsertest.Serious(vs) {
		b.t.Errorf("%s (%s): axe-core: %s", name, u, v)
	}
	b.t.Logf("%s: %d px wide, %d tables, %d labelled cells, %d axe-core findings (none serious)", name, m.Width, m.Tables, m.Labelled, len(vs))
}

// phoneStop is a page a person opens on the phone, and whether it shows a table.
type phoneStop struct {
	name, path string
	table      bool
}

// phoneVisit is a person signed in on the phone and the pages he opens there.
type phoneVisit struct {
	name, host, email, password, shown string
	pages                              []phoneStop
}

// onPhone signs who in on a 390 px phone and checks each of his pages with phonePage; then
// runs after (when not nil) on each page he opened.
func onPhone(t *testing.T, first context.Context, port string, checks *browsertest.Checks, who phoneVisit, after func(b *person, pg phoneStop)) {
	t.Run(who.name, func(t *testing.T) {
		b := newPerson(t, first, who.name, port)
		b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
		b.open("open the login form", b.url(who.host, "/login"), 200)
		b.login(who.email, who.password, who.shown)
		for _, pg := range who.pages {
			phonePage(b, checks, pg.name, b.url(who.host, pg.path), pg.table)
			if after != nil {
				after(b, pg)
			}
		}
	})
}

var trendRe = regexp.MustCompile(`href="(/results/trend/[^"]+)"`)

// phoneData gives every table of the test something to show: an API key, a complaint, a
// mail in the outbox, an account waiting in the lab's queue (with a lab record as candidate)
// and a professional waiting for activation. It returns a result of the demo patient and an
// analyte of it.
func phoneData(t *testing.T, p *platform) (reportID, trendPath string) {
	t.Helper()
	admin := p.browser("mlab.localhost")
	admin.login("admin@mlab.localhost", "demo-mlab-admin")
	createKey(t, admin, "Laboratory system", "results.import")

	user := p.browser("mlab.localhost")
	user.login("user@mlab.localhost", "demo-mlab-user")
	if code, body := user.post("/complaints/new", "/complaints", url.Values{"module": {"platform"}, "category": {"service"},
		"body": {"Le résultat de mon bilan a mis trois semaines à arriver."}, "reply_to": {"user@mlab.localhost"}}); code != 303 && code != 200 {
		t.Fatalf("lodge a complaint: %d\n%s", code, body)
	}
	if code, body := p.browser("mlab.localhost").post("/reset", "/reset", url.Values{"email": {"user@mlab.localhost"}}); code >= 400 {
		t.Fatalf("ask for a password reset: %d\n%s", code, body)
	}

	// Same date of birth as the lab's waiting record (Marie DURAND, 1985-03-02), another
	// name: no exact match, so the account waits in the queue with that record as candidate.
	reg := func(host string, form url.Values) {
		b := p.browser(host)
		if code, body := b.post("/register", "/register", form); code != 200 {
			t.Fatalf("register %s: %d\n%s", form.Get("email"), code, body)
		}
		verify := linkRe.FindString(p.lastMailTo(t, "mlab", form.Get("email")))
		v, _ := url.Parse(verify)
		if code, body := b.post(v.RequestURI(), "/verify", url.Values{"token": {v.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify %s: %d\n%s", form.Get("email"), code, body)
		}
	}
	reg("mlab.localhost", url.Values{"email": {"marie.durant@example.org"}, "password": {"Correct-Horse-44"},
		"password2": {"Correct-Horse-44"}, "name": {"Marie Durant"}, "birth_date": {"1985-03-02"}, "birth_name": {"Martinez"},
		"secret_question": {"Ville natale ?"}, "secret_answer": {"Lyon"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})
	reg("pro.mlab.localhost", url.Values{"email": {"jeanne.roux@example.org"}, "password": {"Correct-Horse-45"},
		"password2": {"Correct-Horse-45"}, "name": {"Jeanne Roux"}, "birth_date": {"1972-06-06"}, "professional_number": {"10202020202"},
		"secret_question": {"Ville natale ?"}, "secret_answer": {"Nantes"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})

	return demoReport(t, user)
}

// demoReport opens the demo patient's newest report, as he does from his results, and
// returns its id and the link to the trend it offers.
func demoReport(t *testing.T, user *browser) (reportID, trendPath string) {
	t.Helper()
	_, body := user.do("GET", "/results/mine", nil)
	m := reportRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the demo patient has no result:\n%s", body)
	}
	_, body = user.do("GET", "/results/r/"+m[1], nil)
	tr := trendRe.FindStringSubmatch(body)
	if tr == nil {
		t.Fatalf("the demo result links no trend:\n%s", body)
	}
	return m[1], tr[1]
}

// TestBrowserPhoneTables (issue 11.10, the pages work at 390 px wide): every page with a
// table, signed in as each demo account that has one, on a 390 px phone in Chromium. No
// page scrolls sideways (document.scrollingElement.scrollWidth ≤ 390): a table reflows into
// one block per row, each value under its column's name (data-label), instead of being a
// scroll region no keyboard reaches; the table keeps its semantics for screen readers (its
// accessibility tree still has a table, column headers and cells); and axe-core reports no
// serious or critical violation, scrollable-region-focusable among them.
func TestBrowserPhoneTables(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	port := base.Port()
	reportID, trendPath := phoneData(t, p)
	recordPath, versionPath := recordPages(t, p)
	// The demo patient's daughter's result, on his page under her name (issue 12.9).
	parent := p.browser("mlab.localhost")
	parent.login("user@mlab.localhost", "demo-mlab-user")
	_, mine := parent.do("GET", "/results/mine", nil)
	fm := familyReportRe.FindStringSubmatch(mine)
	if fm == nil {
		t.Fatalf("the demo patient's page shows no result of his daughter:\n%s", mine)
	}

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	type page = phoneStop
	for _, who := range []phoneVisit{
		{name: "tenant admin", host: "mlab.localhost", email: "admin@mlab.localhost", password: "demo-mlab-admin", shown: "Admin",
			pages: []page{
				{"users", "/admin/users", true}, {"audit", "/admin/audit", true}, {"API keys", "/admin/api-keys", true},
				{"mailbox", "/admin/mailbox", true}, {"complaints", "/admin/complaints", true}, {"roles", "/admin/roles", true},
				{"messages", "/admin/messages", true}, {"terms", "/admin/terms", true}, {"jobs", "/admin/jobs", false},
				{"sessions", "/account/sessions", true}, {"own access log", "/account/access", false},
			}},
		{name: "platform admin", host: "admin.localhost", email: "admin@platform.localhost", password: "demo-platform-admin", shown: "Platform Admin",
			pages: []page{
				{"tenants", "/platform/tenants", true}, {"modules", "/platform/modules", true}, {"all users", "/platform/users", true},
				{"failed jobs", "/platform/jobs", false}, {"maintenance", "/platform/maintenance", false},
				{"new tenant", "/platform/tenants/new", false}, // issue 12.14
			}},
		{name: "lab staff", host: "mlab.localhost", email: "lab-staff@mlab.localhost", password: "demo-mlab-lab_staff", shown: "Demo lab staff",
			pages: []page{
				{"queue", "/results/staff/queue", true}, {"records", "/results/staff/patients?q=DURAND", true},
				{"professionals", "/results/staff/professionals", true}, {"a result", "/results/staff/r/" + reportID, true},
				{"a record without account", recordPath, true}, {"an earlier version", versionPath, true}, // issue 12.1, 12.2
			}},
		{name: "patient", host: "mlab.localhost", email: "user@mlab.localhost", password: "demo-mlab-user", shown: "Demo User",
			pages: []page{
				{"results", "/results/mine", true}, {"a result", "/results/r/" + reportID, true},
				{"a trend", trendPath, true}, {"access log", "/results/access", true},
				{"his daughter's result", "/results/family/r/" + fm[1], true},
			}},
		{name: "professional", host: "pro.mlab.localhost", email: "professional@mlab.localhost", password: "demo-mlab-professional", shown: "Demo professional",
			pages: []page{{"his patients' results", "/results/pro", true}}},
	} {
		onPhone(t, first, port, checks, who, nil)
	}
	if t.Failed() {
		return
	}
	// The check can fail: the same page with the old rule (a table as a block that scrolls
	// sideways) is a scroll region no keyboard reaches.
	b := newPerson(t, first, "control", port)
	b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.open("open the login form", b.url("admin.localhost", "/login"), 200)
	b.login("admin@platform.localhost", "demo-platform-admin", "Platform Admin")
	b.open("all users", b.url("admin.localhost", "/platform/users"), 200)
	// (Through the CSSOM: the pages' Content-Security-Policy refuses inline style elements.)
	if !eval[bool](b, "the old table rule", `(() => {
		const sheet = [...document.styleSheets].find(s => s.href && s.href.includes("style.css"));
		for (const rule of [
			"table { display: block !important; overflow-x: auto !important }",
			"thead { display: table-header-group !important; position: static !important; width: auto !important; height: auto !important; clip: auto !important }",
			"tbody { display: table-row-group !important }",
			"tr { display: table-row !important }",
			"td, th { display: table-cell !important; width: auto !important; white-space: nowrap }",
		]) sheet.insertRule(rule, sheet.cssRules.length);
		const t = document.querySelector("main table");
		return t.scrollWidth > t.clientWidth;
	})()`) {
		b.fatal("the old table rule", fmt.Errorf("the table does not scroll"))
	}
	vs, err := checks.Axe(b.ctx)
	if err != nil {
		b.fatal("axe-core", err)
	}
	found := false
	for _, v := range vs {
		found = found || v.ID == "scrollable-region-focusable"
	}
	if !found {
		t.Errorf("axe-core does not see the scrolling table of the old rule: %v", vs)
	}
}
