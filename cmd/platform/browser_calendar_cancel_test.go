package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pesel"
)

// mailPart is one leaf part of an e-mail, decoded.
type mailPart struct {
	Type, File string
	Body       []byte
}

// mailParts reads an e-mail's leaf parts, through nested multiparts, each decoded from its
// transfer encoding.
func mailParts(t *testing.T, raw []byte) []mailPart {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out []mailPart
	var walk func(ct, cte, disp string, body io.Reader)
	walk = func(ct, cte, disp string, body io.Reader) {
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
			}
		}
		switch strings.ToLower(cte) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("part %s: %v", mt, err)
		}
		_, dp, _ := mime.ParseMediaType(disp)
		out = append(out, mailPart{Type: mt, File: dp["filename"], Body: b})
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return out
}

var cancelLinkRe = regexp.MustCompile(`https?://[^\s"<>]+/calendar/cancel/[A-Za-z0-9_-]{43}`)

// TestBrowserBookConfirmCancelByLink (C7, C9, issue 13.4) in Chromium: the patient searches,
// opens a doctor, books the first free start of his service; the confirmation e-mail (read
// from the development mailbox) carries the visit's details, the cancel link and the ICS in
// the tenant's zone; the link, opened in another browser without signing in (a 390 px
// phone), shows the visit and cancels it; the start is free again in the week, and the link no longer cancels.
func TestBrowserBookConfirmCancelByLink(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	const host = "elekarze.localhost"
	first := browsertest.Start(t, execPath, 90*time.Second)
	patient := &person{t: t, who: "patient", ctx: first, port: base.Port()}

	patient.open("the login form", patient.url(host, "/login"), 200)
	patient.login("user@elekarze.localhost", "demo-elekarze-user", "Demo User")

	// Search, a doctor, his first service, the first week with a free start.
	patient.open("search", patient.url(host, "/calendar?city=warszawa"), 200)
	doctor := eval[string](patient, "first doctor", `document.querySelector('main a[href^="/calendar/doctors/"]').getAttribute("href")`)
	patient.load("open the doctor", 200, chromedp.Click(chromedp.CSS(`main a[href="`+doctor+`"]`)))
	patient.load("book with him", 200, chromedp.Click(chromedp.CSS(`main a[href="`+doctor+`/book"]`)))
	week := eval[string](patient, "a service", `document.querySelector('main a[href*="/book?service="]').getAttribute("href")`)
	form := firstFreeStart(t, func(path string) string {
		patient.open("a week", patient.url(host, path), 200)
		return eval[string](patient, "the week", `document.querySelector("main").innerHTML`)
	}, week)
	start := regexp.MustCompile(`start=(\d+)`).FindStringSubmatch(form)[1]
	weekOfStart := strings.Replace(form, "&start="+start, "", 1)
	patient.open("the booking form", patient.url(host, form), 200)
	// A PESEL of its own (born 15 July 1992) keeps the demo's bookings out of the day's limit.
	id := "9207151234"
	id += string(rune('0' + pesel.CheckDigit(id)))
	patient.do("the PESEL and mobile", chromedp.SetValue(chromedp.CSS(`#f-pesel`), id), chromedp.SetValue(chromedp.CSS(`#f-mobile`), "+48601234567"),
		chromedp.Click(chromedp.CSS(`#f-consent_doctor`)))
	patient.load("book", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	if !strings.HasPrefix(patient.at().Path, "/calendar/visits/") {
		patient.fatal("after booking", nil)
	}
	patient.wantIn("main", "Twoja wizyta jest potwierdzona")
	doctorName := patient.text("main dl.summary dd:nth-of-type(3)")

	// The confirmation e-mail: in Polish, the doctor, the cancel link, the ICS.
	var raw []byte
	deadline := time.Now().Add(10 * time.Second)
	for raw == nil {
		for _, m := range p.mailbox(t, "elekarze") {
			if bytes.Contains(m, []byte("calendar.booked")) || bytes.Contains(m, []byte("wizyta.ics")) {
				raw = m
			}
		}
		if raw == nil && time.Now().After(deadline) {
			t.Fatal("no confirmation e-mail in the mailbox")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var text string
	var ics []byte
	for _, part := range mailParts(t, raw) {
		switch {
		case part.Type == "text/plain":
			text = string(part.Body)
		case part.File == "wizyta.ics":
			ics = part.Body
		}
	}
	for _, want := range []string{"Twoja wizyta jest potwierdzona", doctorName, "cena brutto"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the e-mail lacks %q:\n%s", want, text)
		}
	}
	if !bytes.Contains(ics, []byte("DTSTART;TZID=Europe/Warsaw:")) || !bytes.Contains(ics, []byte("BEGIN:VTIMEZONE")) {
		t.Fatalf("the ICS:\n%s", ics)
	}
	link := cancelLinkRe.FindString(text)
	if link == "" {
		t.Fatalf("no cancel link in:\n%s", text)
	}

	// The link, in another browser, without signing in, on a 390 px phone: no sideways
	// scrolling, nothing serious for axe-core.
	other := newPerson(t, first, "the link's reader", base.Port())
	other.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	phonePage(other, checks, "the cancel link", link, false)
	other.wantIn("main", doctorName)
	other.load("cancel", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	other.wantIn("main", "Wizyta została odwołana")
	phoneHere(other, checks, "the cancelled visit", link, false)
	if other.has("main form") {
		other.fatal("after the cancellation", nil)
	}

	// The start is free again in the patient's week; the visit is in his history.
	patient.open("the week again", patient.url(host, weekOfStart), 200)
	if !patient.has(`main a[href*="start=` + start + `"]`) {
		patient.fatal("the freed start", nil)
	}
	patient.open("his visits", patient.url(host, "/calendar/visits"), 200)
	patient.wantIn("main", "Odwołana przez pacjenta")

	// The link no longer cancels.
	other.open("the used link", link, 200)
	if other.has("main form") {
		other.fatal("the used link offers a cancellation", nil)
	}

	// The doctor's feed page on the phone (issue 13.6).
	onPhone(t, first, base.Port(), checks, phoneVisit{name: "doctor", host: host, email: "doctor@elekarze.localhost", password: "demo-elekarze-doctor",
		shown: "Demo doctor", pages: []phoneStop{{"agenda feed", "/calendar/agenda/feed", false}}}, nil)
}
