package main

import (
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// doctorAgendaTimeout bounds the agenda scenario, browser start included.
const doctorAgendaTimeout = 2 * time.Minute

// TestBrowserDoctorAgenda (issue 13.6, C10): the demo doctor signs in on elekarze, sees the
// week of the visit that began yesterday (the last weekday) with its status and patient in
// words, marks it a no-show, then opens the week of his demo patient's visit to come and
// cancels it with a reason; each step shows its confirmation and the new status.
func TestBrowserDoctorAgenda(t *testing.T) {
	execPath := browsertest.Need(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	const host = "elekarze.localhost"
	waw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	// The demo's dates (plugins/calendar demo.go, agenda.go): a begun visit at 11:00 on the
	// last weekday before today, and the demo patient's visit three days on (a weekend day
	// moves to the Monday after).
	now := time.Now().In(waw)
	past := time.Date(now.Year(), now.Month(), now.Day(), 11, 0, 0, 0, waw).AddDate(0, 0, -1)
	for past.Weekday() == time.Saturday || past.Weekday() == time.Sunday {
		past = past.AddDate(0, 0, -1)
	}
	coming := time.Date(now.Year(), now.Month(), now.Day(), 10, 0, 0, 0, waw).AddDate(0, 0, 3)
	for coming.Weekday() == time.Saturday || coming.Weekday() == time.Sunday {
		coming = coming.AddDate(0, 0, 1)
	}

	first := browsertest.Start(t, execPath, doctorAgendaTimeout)
	doc := &person{t: t, who: "doctor", ctx: first, port: base.Port()}
	doc.open("open the login form", doc.url(host, "/login"), 200)
	doc.login("doctor@elekarze.localhost", "demo-elekarze-doctor", "Demo doctor")

	doc.open("his week with the begun visit", doc.url(host, "/calendar/agenda?view=week&from="+past.Format(time.DateOnly)), 200)
	doc.wantIn("main h1", "Mój kalendarz wizyt")
	doc.wantIn("main", "Jan Zieliński", "PESEL 90010112349", "Potwierdzona", past.Format("02.01.2006"))
	doc.wantNotIn("main", "confirmed", "no_show")
	doc.load("mark the visit a no-show", 200, chromedp.Click(chromedp.CSS(`main form[action$="/outcome"] button[value=no_show]`)))
	doc.wantIn("main .flash", "Zapisano, że pacjent nie przyszedł")
	doc.wantIn("main", "Jan Zieliński", "Pacjent nie przyszedł")
	if doc.has(`main form[action$="/outcome"]`) {
		doc.fatal("after the mark", errNoSecondMark)
	}

	doc.open("the week of the visit to come", doc.url(host, "/calendar/agenda?view=week&from="+coming.Format(time.DateOnly)), 200)
	doc.wantIn("main", "Demo User", "Potwierdzona", coming.Format("02.01.2006"))
	doc.do("pick the reason", chromedp.SetValue(chromedp.CSS(`main form[action$="/cancel"] select[name=reason]`), "emergency"))
	doc.load("cancel the visit", 200, chromedp.Click(chromedp.CSS(`main form[action$="/cancel"] button[type=submit]`)))
	doc.wantIn("main .flash", "Wizyta została odwołana; pacjent otrzyma e-mail")
	doc.wantIn("main", "Demo User", "Odwołana przez lekarza", "nagły wypadek")
}

var errNoSecondMark = errorString("the visit can still be marked")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestBrowserPhoneCalendarManage (issue 13.1, 13.2, 13.6, 13.10): the doctor's, the
// facility's and the administrator's calendar pages, and the application and data-rights
// forms, on a 390 px phone in Chromium: none scrolls sideways, the agenda's table reflows
// under its column names, axe-core finds nothing serious.
func TestBrowserPhoneCalendarManage(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	patient := p.browser("elekarze.localhost")
	patient.login("user@elekarze.localhost", "demo-elekarze-user")
	_, body := patient.do("GET", "/calendar?city=warszawa", nil)
	m := doctorLinkRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no doctor in Warsaw:\n%s", body)
	}
	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	type page = phoneStop
	for _, who := range []phoneVisit{
		{name: "patient", host: "elekarze.localhost", email: "user@elekarze.localhost", password: "demo-elekarze-user", shown: "Demo User",
			pages: []page{{"the application", "/calendar/apply", false}, {"the data-rights form", "/calendar/doctors/" + m[1] + "/rights", false}}},
		{name: "doctor", host: "elekarze.localhost", email: "doctor@elekarze.localhost", password: "demo-elekarze-doctor", shown: "Demo doctor",
			pages: []page{{"his profile and calendar", "/calendar/manage", false}, {"the data-rights requests", "/calendar/requests", false}}},
		{name: "facility", host: "elekarze.localhost", email: "facility@elekarze.localhost", password: "demo-elekarze-facility", shown: "Demo facility",
			pages: []page{{"its doctors", "/calendar/manage", false}, {"its doctors' week", "/calendar/agenda", true}}},
		{name: "admin", host: "elekarze.localhost", email: "admin@elekarze.localhost", password: "demo-elekarze-admin", shown: "Admin",
			pages: []page{{"the applications", "/calendar/admin/applications", false}, {"the directory import", "/calendar/admin/import", false}}},
	} {
		onPhone(t, first, base.Port(), checks, who, nil)
	}
}

// manageIDRe finds a doctor's page of the profile and calendar.
var manageIDRe = regexp.MustCompile(`href="/calendar/manage/([0-9a-f-]{36})"`)

// TestCalendarManagePagesAreValidHTML (issue 13.1, 13.2, 13.6, 13.10): the pages of the
// doctor's, the facility's and the administrator's side, each also with a refused form,
// pass html-validate as every page of the platform does.
func TestCalendarManagePagesAreValidHTML(t *testing.T) {
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants"))
	pages := map[string]string{}
	keep := func(who, path string, want, code int, body string) string {
		t.Helper()
		if code != want {
			t.Fatalf("%s %s: %d, want %d\n%s", who, path, code, want, body)
		}
		pages[who+" "+path] = body
		return body
	}
	get := func(b *browser, who, path string, want int) string {
		t.Helper()
		code, body := b.do("GET", path, nil)
		return keep(who, path, want, code, body)
	}
	post := func(b *browser, who, page, path string, form url.Values, want int) string {
		t.Helper()
		code, body := b.post(page, path, form)
		return keep(who, "POST "+path, want, code, body)
	}
	const host = "elekarze.localhost"
	patient := p.browser(host)
	patient.login("user@elekarze.localhost", "demo-elekarze-user")
	m := doctorLinkRe.FindStringSubmatch(get(patient, "patient", "/calendar?city=warszawa", 200))
	if m == nil {
		t.Fatal("no doctor in Warsaw")
	}
	rights := "/calendar/doctors/" + m[1] + "/rights"
	get(patient, "patient", "/calendar/apply", 200)
	post(patient, "patient", "/calendar/apply", "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"1234567"}}, 422)
	get(patient, "patient", rights, 200)
	post(patient, "patient", rights, rights, url.Values{"name": {""}, "pesel": {"123"}, "email": {"x"}, "kind": {"access"}}, 422)

	doc := p.browser(host)
	doc.login("doctor@elekarze.localhost", "demo-elekarze-doctor")
	get(doc, "doctor", "/calendar/agenda?view=day", 200)
	get(doc, "doctor", "/calendar/requests", 200)
	fac := p.browser(host)
	fac.login("facility@elekarze.localhost", "demo-elekarze-facility")
	list := get(fac, "facility", "/calendar/manage", 200)
	id := manageIDRe.FindStringSubmatch(list)
	if id == nil {
		t.Fatalf("the facility manages no doctor:\n%s", list)
	}
	page := "/calendar/manage/" + id[1]
	get(fac, "facility", page, 200)
	post(fac, "facility", page, page+"/windows", url.Values{"win_facility": {facilityOf(t, get(fac, "facility", page, 200))}, "win_weekday": {"1"},
		"win_from": {"12:00"}, "win_to": {"9:00"}}, 422)
	get(fac, "facility", "/calendar/agenda", 200)
	admin := p.browser(host)
	admin.login("admin@elekarze.localhost", "demo-elekarze-admin")
	get(admin, "admin", "/calendar/admin/applications", 200)

	problems, err := checks.ValidateHTML(pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("%s", pr)
	}
	t.Logf("%d pages checked, %d problems", len(pages), len(problems))
}

var facilityOptionRe = regexp.MustCompile(`name="win_facility"><option value="([0-9a-f-]{36})"`)

// facilityOf is the first facility the window form of a manage page offers.
func facilityOf(t *testing.T, body string) string {
	t.Helper()
	m := facilityOptionRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no facility in the window form:\n%s", body)
	}
	return m[1]
}
