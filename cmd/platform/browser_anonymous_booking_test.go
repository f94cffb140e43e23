package main

import (
	"database/sql"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pesel"
)

var (
	guestServiceRe = regexp.MustCompile(`href="(/calendar/doctors/[0-9a-f-]{36}/guest\?service=[0-9a-f-]{36})"`)
	guestStartRe   = regexp.MustCompile(`href="(/calendar/doctors/[0-9a-f-]{36}/guest\?service=[^"]+&amp;start=\d+)"`)
	confirmLinkRe  = regexp.MustCompile(`https?://[^\s"<>]+/calendar/confirm/[A-Za-z0-9_-]{43}`)
)

// TestBrowserAnonymousBooking (C6) in Chromium against `serve --demo`: a person without an
// account opens a doctor of eLekarze, books a free start without signing in (name, PESEL,
// e-mail, mobile, the terms and the doctor's consent), reads the e-mail in the dev mailbox,
// follows its link, confirms with the button and is offered registration. A second person
// books and follows his link only after his hold ended: the page says the link expired, and
// his start is free again.
func TestBrowserAnonymousBooking(t *testing.T) {
	execPath := browsertest.Need(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	// The addresses a person would reach by clicking: a doctor of Warsaw, his first service
	// without an account, its first free start (moving week by week if this one has none).
	client := p.browser("elekarze.localhost")
	get := func(path string) string { _, body := client.do("GET", path, nil); return body }
	find := func(re *regexp.Regexp, path string) string {
		t.Helper()
		m := re.FindStringSubmatch(get(path))
		if m == nil {
			t.Fatalf("nothing to follow on %s", path)
		}
		return html.UnescapeString(m[1])
	}
	doctor := "/calendar/doctors/" + find(doctorLinkRe, "/calendar?city=warszawa")
	week := find(guestServiceRe, doctor+"/guest")
	startOf := func(week string) string { t.Helper(); return firstGuestStart(t, get, week) }

	first := browsertest.Start(t, execPath, resultsScenarioTimeout)
	shots := os.Getenv("PLATFORM_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	host := "elekarze.localhost"
	// book has b book the first free start without an account and returns the link of the
	// e-mail he receives.
	book := func(b *person, firstName, lastName, pesel, email string) string {
		t.Helper()
		b.open("open the doctor", b.url(host, doctor), 200)
		b.load("book without an account", 200, chromedp.Click(chromedp.CSS(`main a[href$="/guest"]`)))
		b.wantIn("main h1", "Umów wizytę")
		b.open("pick a free start", b.url(host, startOf(week)), 200)
		b.wantIn("main", "Umawiasz wizytę bez konta")
		fitsPhone(b, shots, "anonymous-form")
		b.fill("f-first_name", firstName)
		b.fill("f-last_name", lastName)
		b.fill("f-pesel", pesel)
		b.fill("f-email", email)
		b.fill("f-mobile", "601 234 567")
		b.do("accept the terms and the doctor's consent",
			chromedp.Click(chromedp.CSS(`main input[name=consent_terms]`)),
			chromedp.Click(chromedp.CSS(`main input[name=consent_doctor]`)))
		b.load("send the booking", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
		b.wantIn("main h1", "Sprawdź skrzynkę e-mail")
		b.wantIn("main", email)
		link := confirmLinkRe.FindString(p.lastMailTo(t, "elekarze", email))
		if want := b.url(host, "/calendar/confirm/"); len(link) <= len(want) || link[:len(want)] != want {
			t.Fatalf("%s: the e-mail's link %q does not start with %q", b.who, link, want)
		}
		return link
	}

	// Jan confirms in time, once, and is offered an account.
	jan := newPerson(t, first, "Jan", base.Port())
	link := book(jan, "Jan", "Wiśniewski", validPESEL("8503021235"), "jan.wisniewski@example.org")
	jan.open("follow the e-mail's link", link, 200)
	jan.wantIn("main h1", "Potwierdzenie wizyty")
	jan.wantIn("main", "Oczekuje na potwierdzenie", "Jan Wiśniewski")
	fitsPhone(jan, shots, "anonymous-confirm")
	jan.load("confirm", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	jan.wantIn("main", "Dziękujemy, Twoja wizyta jest potwierdzona", "Potwierdzona", "Załóż konto")
	if !jan.has(`main a[href$="/register"]`) {
		t.Fatal("Jan: the confirmation offers no registration")
	}
	jan.open("follow the link again", link, 200)
	jan.wantIn("main", "link działa tylko raz")

	// Ewa follows her link only after her hold ended: it says so, without a button, and her
	// start is offered again.
	ewa := newPerson(t, first, "Ewa", base.Port())
	start := startOf(week)
	link = book(ewa, "Ewa", "Lis", validPESEL("9001011234"), "ewa.lis@example.org")
	if startOf(week) == start {
		t.Fatal("Ewa's held start is still offered")
	}
	endHold(t, p, "ewa.lis@example.org")
	ewa.open("follow the e-mail's link too late", link, 410)
	ewa.wantIn("main", "Ten link wygasł")
	fitsPhone(ewa, shots, "anonymous-expired")
	if ewa.has(`main form button[type=submit]`) {
		t.Fatal("Ewa: an expired link offers a confirm button")
	}
	if startOf(week) != start {
		t.Fatal("Ewa's expired start is not offered again")
	}
}

// validPESEL completes ten digits with their check digit.
func validPESEL(first10 string) string { return first10 + strconv.Itoa(pesel.CheckDigit(first10)) }

// endHold ends, in the calendar's database, the hold of the anonymous booking of email and
// its link's validity, as if the tenant's window had passed: both take the booking's own
// creation time, a moment already gone, written by the module itself.
func endHold(t *testing.T, p *platform, email string) {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(p.data, "modules", "calendar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, q := range []string{
		`UPDATE calendar_confirm_tokens SET expires_at = (SELECT bk.created_at FROM calendar_bookings AS bk
			WHERE bk.tenant_id = calendar_confirm_tokens.tenant_id AND bk.id = calendar_confirm_tokens.booking_id)
			WHERE booking_id IN (SELECT id FROM calendar_bookings WHERE email = ? AND status = 'awaiting_confirmation')`,
		`UPDATE calendar_bookings SET hold_expires_at = created_at WHERE email = ? AND status = 'awaiting_confirmation'`,
	} {
		res, err := d.Exec(q, email)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%d rows changed by %s", n, q)
		}
	}
}

// fitsPhone reloads b's page (a GET) at 390 px wide, checks it does not scroll sideways,
// keeps a screenshot in dir, and goes back to the desktop width.
func fitsPhone(b *person, dir, name string) {
	b.t.Helper()
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Reload())
	if w := eval[int](b, "page width", `document.documentElement.scrollWidth`); w > 390 {
		b.fatal("phone width", fmt.Errorf("%s is %d px wide on a 390 px phone", name, w))
	}
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatal("screenshot", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-phone.png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 900), chromedp.Reload())
}

// firstGuestStart is the first free start of the anonymous booking weeks from week on,
// moving week by week as a person would.
func firstGuestStart(t *testing.T, get func(path string) string, week string) string {
	t.Helper()
	for i := 0; i < 4; i++ {
		body := get(week)
		if m := guestStartRe.FindStringSubmatch(body); m != nil {
			return html.UnescapeString(m[1])
		}
		m := nextWeekRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no next week on %s", week)
		}
		week = html.UnescapeString(m[1])
	}
	t.Fatalf("no free start in four weeks from %s", week)
	return ""
}
