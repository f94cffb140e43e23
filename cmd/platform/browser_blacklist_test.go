package main

import (
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

var blacklistBookingRe = regexp.MustCompile(`name="booking" value="([0-9a-f-]{36})"`)

// TestBrowserBlacklistMessage (C12, seed 4.14): the demo doctor puts the demo patient on his
// blacklist for a gross breach of the terms in connection with the patient's earlier visit
// with him (chosen from his bookings); the patient, on a 390 px phone in Chromium, fills the
// booking form for that doctor and is told he cannot book, and why, with the way to ask the
// doctor for removal.
func TestBrowserBlacklistMessage(t *testing.T) {
	execPath := browsertest.Need(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	const pesel = "85030212344" // the demo patient's
	doctor := p.browser("elekarze.localhost")
	doctor.login("doctor@elekarze.localhost", "demo-elekarze-doctor")
	_, body := doctor.do("GET", "/calendar/blacklist?pesel="+pesel, nil)
	m := blacklistBookingRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the doctor's list offers no booking of the patient:\n%s", body)
	}
	if code, body := doctor.post("/calendar/blacklist", "/calendar/blacklist",
		url.Values{"pesel": {pesel}, "ground": {"terms_breach"}, "booking": {m[1]}}); code != 303 {
		t.Fatalf("the doctor lists the patient: %d\n%s", code, body)
	}

	patient := p.browser("elekarze.localhost")
	patient.login("user@elekarze.localhost", "demo-elekarze-user")
	_, body = patient.do("GET", "/calendar?q=Kowalska&city=warszawa", nil)
	dm := doctorLinkRe.FindStringSubmatch(body)
	if dm == nil {
		t.Fatalf("the directory does not find the demo doctor:\n%s", body)
	}
	_, body = patient.do("GET", "/calendar/doctors/"+dm[1]+"/book", nil)
	sm := bookServiceRe.FindStringSubmatch(body)
	if sm == nil {
		t.Fatalf("no service to book:\n%s", body)
	}
	form := firstFreeStart(t, func(path string) string { _, body := patient.do("GET", path, nil); return body }, html.UnescapeString(sm[1]))

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	b := newPerson(t, first, "patient", base.Port())
	b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.open("open the login form", b.url("elekarze.localhost", "/login"), 200)
	b.login("user@elekarze.localhost", "demo-elekarze-user", "Demo User")
	b.open("open the booking form", b.url("elekarze.localhost", form), 200)
	b.do("fill the form", chromedp.SetValue(chromedp.CSS("#f-pesel"), pesel), chromedp.SetValue(chromedp.CSS("#f-mobile"), "+48601234567"),
		chromedp.Click(chromedp.CSS("#f-consent_doctor")))
	b.load("book", 403, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.wantIn("main [role=alert]", "Ten lekarz wpisał Cię na swoją czarną listę z powodu rażącego naruszenia regulaminu w związku z wcześniejszą rezerwacją u niego.")
	b.wantIn("main", "Poproś lekarza o usunięcie z listy")
	if !b.has(`main a[href$="/calendar/doctors/` + dm[1] + `/removal"]`) {
		t.Fatal("no link to ask for removal")
	}
	if w := eval[int](b, "page width", `document.scrollingElement.scrollWidth`); w > phoneWidth {
		t.Fatalf("the page is %d px wide on a %d px phone", w, phoneWidth)
	}
}

// TestBrowserBlacklistPages (C12, C13, issue 13.9): the blacklists' and the waitlist's pages
// — the doctor's list with an entry and a removal request, a refused entry, the request form
// with its errors, the administrator's list with the count of doctors' lists, the patient's
// request to the portal, the waitlist's form and his waitlists — are valid HTML, and on a
// 390 px phone in Chromium none scrolls sideways and axe-core finds nothing serious.
func TestBrowserBlacklistPages(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	const pesel = "85030212344" // the demo patient's
	pages := map[string]string{}
	get := func(b *browser, who, path string, want int) string {
		t.Helper()
		code, body := b.do("GET", path, nil)
		if code != want {
			t.Fatalf("%s GET %s: %d, want %d\n%s", who, path, code, want, body)
		}
		pages[who+" "+path] = body
		return body
	}
	doctor := p.browser("elekarze.localhost")
	doctor.login("doctor@elekarze.localhost", "demo-elekarze-doctor")
	m := blacklistBookingRe.FindStringSubmatch(get(doctor, "doctor", "/calendar/blacklist?pesel="+pesel, 200))
	if m == nil {
		t.Fatal("the doctor's list offers no booking of the patient")
	}
	code, body := doctor.post("/calendar/blacklist", "/calendar/blacklist", url.Values{"pesel": {pesel}, "ground": {"law_breach"}})
	if code != 422 {
		t.Fatalf("an entry without its booking: %d", code)
	}
	pages["doctor refused entry"] = body
	if code, body := doctor.post("/calendar/blacklist", "/calendar/blacklist", url.Values{"pesel": {pesel}, "ground": {"terms_breach"}, "booking": {m[1]}}); code != 303 {
		t.Fatalf("the doctor lists the patient: %d\n%s", code, body)
	}
	patient := p.browser("elekarze.localhost")
	patient.login("user@elekarze.localhost", "demo-elekarze-user")
	dm := doctorLinkRe.FindStringSubmatch(get(patient, "patient", "/calendar?q=Kowalska&city=warszawa", 200))
	if dm == nil {
		t.Fatal("the directory does not find the demo doctor")
	}
	removal := "/calendar/doctors/" + dm[1] + "/removal"
	anon := p.browser("elekarze.localhost")
	get(anon, "anonymous", removal, 200)
	code, body = anon.post(removal, removal, url.Values{"name": {""}, "pesel": {pesel}, "email": {"zły"}, "justification": {""}})
	if code != 422 {
		t.Fatalf("a refused request: %d", code)
	}
	pages["anonymous refused request"] = body
	if code, body := anon.post(removal, removal, url.Values{"name": {"Demo User"}, "pesel": {pesel}, "email": {"user@elekarze.localhost"},
		"justification": {"Proszę o ponowne rozpatrzenie."}}); code != 200 {
		t.Fatalf("a request: %d\n%s", code, body)
	} else {
		pages["anonymous request sent"] = body
	}
	get(doctor, "doctor", "/calendar/blacklist", 200)
	admin := p.browser("elekarze.localhost")
	admin.login("admin@elekarze.localhost", "demo-elekarze-admin")
	get(admin, "admin", "/calendar/admin/blacklist?pesel="+pesel, 200)
	get(patient, "patient", "/calendar/removal", 200)
	service := bookServiceRe.FindStringSubmatch(get(patient, "patient", "/calendar/doctors/"+dm[1]+"/book", 200))
	if service == nil {
		t.Fatal("no service")
	}
	u, _ := url.Parse(html.UnescapeString(service[1]))
	wait := "/calendar/doctors/" + dm[1] + "/waitlist?service=" + u.Query().Get("service")
	get(patient, "patient", wait, 200)
	get(patient, "patient", "/calendar/waitlist", 200)

	problems, err := checks.ValidateHTML(pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("%s", pr)
	}

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	for _, who := range []phoneVisit{
		{name: "doctor", host: "elekarze.localhost", email: "doctor@elekarze.localhost", password: "demo-elekarze-doctor", shown: "Demo doctor",
			pages: []phoneStop{{"his blacklist", "/calendar/blacklist?pesel=" + pesel, false}}},
		{name: "admin", host: "elekarze.localhost", email: "admin@elekarze.localhost", password: "demo-elekarze-admin", shown: "Admin",
			pages: []phoneStop{{"the portal's blacklist", "/calendar/admin/blacklist?pesel=" + pesel, false}}},
		{name: "patient", host: "elekarze.localhost", email: "user@elekarze.localhost", password: "demo-elekarze-user", shown: "Demo User",
			pages: []phoneStop{{"a removal request", removal, false}, {"the portal removal request", "/calendar/removal", false},
				{"the waitlist form", wait, false}, {"his waitlists", "/calendar/waitlist", false}}},
	} {
		onPhone(t, first, base.Port(), checks, who, nil)
	}
}
