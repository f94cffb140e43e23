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
