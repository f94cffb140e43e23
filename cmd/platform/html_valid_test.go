package main

import (
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

var (
	adminUserRe = regexp.MustCompile(`href="/admin/users/([0-9a-f-]{36})"`)
	mailboxRe   = regexp.MustCompile(`href="/admin/mailbox/([0-9a-f-]{36})"`)
	complaintRe = regexp.MustCompile(`href="/admin/complaints/([0-9a-f-]{36})"`)
	recordRe    = regexp.MustCompile(`href="/results/staff/patients/([0-9a-f-]{36})"`)
	tenantRe    = regexp.MustCompile(`href="/platform/tenants/([0-9a-f-]{36})"`)
)

// TestHTMLValidateWantsLowercaseDoctype: the html-validate configuration the pages are
// checked with has doctype-style on, lower case: `<!DOCTYPE html>` is an error, and
// `<!doctype html>` is not (issue 11.11).
var (
	bookServiceRe = regexp.MustCompile(`href="(/calendar/doctors/[0-9a-f-]{36}/book\?service=[0-9a-f-]{36})"`)
	bookStartRe   = regexp.MustCompile(`href="(/calendar/doctors/[0-9a-f-]{36}/book\?service=[^"]+&amp;start=\d+)"`)
	nextWeekRe    = regexp.MustCompile(`href="([^"]+)" rel="next"`)
)

// firstFreeStart is the first free start of the booking weeks from week on: late in a week,
// or in a week of public holidays, the current week may offer none, and the patient moves
// to the next one (C4).
func firstFreeStart(t *testing.T, get func(path string) string, week string) string {
	t.Helper()
	for i := 0; i < 4; i++ {
		body := get(week)
		if m := bookStartRe.FindStringSubmatch(body); m != nil {
			return html.UnescapeString(m[1])
		}
		m := nextWeekRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no free start and no next week on %s:\n%s", week, body)
		}
		week = html.UnescapeString(m[1])
	}
	t.Fatalf("no free start in four weeks from %s", week)
	return ""
}

func TestHTMLValidateWantsLowercaseDoctype(t *testing.T) {
	checks := browsertest.NeedChecks(t)
	body := "\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Essai</title></head><body><main><h1>Essai</h1></main></body></html>\n"
	problems, err := checks.ValidateHTML(map[string]string{"upper": "<!DOCTYPE html>" + body, "lower": "<!doctype html>" + body})
	if err != nil {
		t.Fatal(err)
	}
	var upper, lower []string
	for _, p := range problems {
		switch p.Page {
		case "upper":
			upper = append(upper, p.Rule)
		case "lower":
			lower = append(lower, p.Rule)
		}
	}
	if strings.Join(upper, ",") != "doctype-style" {
		t.Errorf("<!DOCTYPE html>: html-validate reports %v, want doctype-style only", upper)
	}
	if len(lower) != 0 {
		t.Errorf("<!doctype html>: html-validate reports %v, want nothing", lower)
	}
}

// TestPagesAreValidHTML (issue 11.11): every kind of page the platform serves — the layout
// of each tenant and of the console, the error pages (unknown host, not found, forbidden),
// the core's pages for each role, the results module's pages and the other modules' landing
// pages, and a mail's HTML as the mailbox shows it — is valid HTML as html-validate's
// recommended rules see it, with its doctype in lower case (`<!doctype html>`).
func TestPagesAreValidHTML(t *testing.T) {
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants"))
	reportID, trendPath := phoneData(t, p)
	pages := map[string]string{}
	get := func(b *browser, who, path string, want int) string {
		t.Helper()
		code, body := b.do("GET", path, nil)
		if code != want {
			t.Fatalf("%s GET %s%s: %d, want %d\n%s", who, b.host, path, code, want, body)
		}
		pages[who+" "+b.host+path] = body
		return body
	}
	find := func(re *regexp.Regexp, body, what string) string {
		t.Helper()
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s found", what)
		}
		return m[1]
	}

	// Nobody signed in: each tenant's public pages, the module landing pages, the errors.
	for _, host := range []string{"mlab.localhost", "elekarze.localhost", "unilabs.localhost", "secretaires.localhost"} {
		anon := p.browser(host)
		for _, path := range []string{"/", "/login", "/register", "/reset", "/legal", "/terms", "/complaints/new"} {
			get(anon, "anonymous", path, 200)
		}
		get(anon, "anonymous", "/no-such-page", 404)
	}
	get(p.browser("pro.mlab.localhost"), "anonymous", "/register", 200)
	get(p.browser("mlab.localhost"), "anonymous", "/results", 200)
	get(p.browser("elekarze.localhost"), "anonymous", "/calendar", 200)
	get(p.browser("unilabs.localhost"), "anonymous", "/eshop", 200)
	// The calendar (issue 13): a search, its cap, a refused field, a doctor; the patient's
	// booking pages and visits; the doctor's agenda.
	cal := p.browser("elekarze.localhost")
	doctorPath := "/calendar/doctors/" + find(doctorLinkRe, get(cal, "anonymous", "/calendar?city=warszawa", 200), "doctor")
	get(cal, "anonymous", "/calendar?city=krakow&page=99", 200)
	get(cal, "anonymous", "/calendar?specialty=astrology", 422)
	get(cal, "anonymous", doctorPath, 200)
	calPatient := p.browser("elekarze.localhost")
	calPatient.login("user@elekarze.localhost", "demo-elekarze-user")
	get(calPatient, "patient", "/calendar/visits/"+find(visitLinkRe, get(calPatient, "patient", "/calendar/visits", 200), "visit"), 200)
	week := html.UnescapeString(find(bookServiceRe, get(calPatient, "patient", doctorPath+"/book", 200), "service"))
	form := firstFreeStart(t, func(path string) string { return get(calPatient, "patient", path, 200) }, week)
	get(calPatient, "patient", form, 200)
	get(calPatient, "patient", form+"&for=other", 200)
	// Booking without an account (C6): the form, and a link that confirms nothing.
	guest := strings.Replace(form, "/book?", "/guest?", 1)
	get(cal, "anonymous", guest, 200)
	get(cal, "anonymous", "/calendar/confirm/"+strings.Repeat("A", 43), 404)
	calDoctor := p.browser("elekarze.localhost")
	calDoctor.login("doctor@elekarze.localhost", "demo-elekarze-doctor")
	get(calDoctor, "doctor", "/calendar/agenda", 200)
	get(calDoctor, "doctor", "/calendar/agenda/feed", 200)
	get(cal, "anonymous", "/calendar/cancel/"+strings.Repeat("x", 43), 404)
	// The directory near a place with its map, a place unknown, a refused report; the
	// administrator's doctor page, import and report queue (issue 13.1).
	get(cal, "anonymous", "/calendar?near=Warszawa&sort=distance", 200)
	get(cal, "anonymous", "/calendar?near=Atlantyda", 422)
	if code, body := cal.post(doctorPath, doctorPath+"/report", url.Values{"what": {"wrong_data"}, "details": {"Zły numer telefonu gabinetu."}}); code != 303 {
		t.Fatalf("report: %d\n%s", code, body)
	}
	if code, body := cal.post(doctorPath, doctorPath+"/report", url.Values{"what": {""}, "details": {"x"}}); code != 422 {
		t.Fatalf("refused report: %d\n%s", code, body)
	} else {
		pages["anonymous refused report"] = body
	}
	calAdmin := p.browser("elekarze.localhost")
	calAdmin.login("admin@elekarze.localhost", "demo-elekarze-admin")
	get(calAdmin, "admin", doctorPath, 200)
	get(calAdmin, "admin", "/calendar/admin/import", 200)
	get(calAdmin, "admin", "/calendar/admin/reports", 200)
	get(p.browser("secretaires.localhost"), "anonymous", "/billing", 200)
	// Billing (issue 15): the offers, the client's portal and the clerk's pages, each with a
	// demo object, and a refused form with its errors.
	get(p.browser("secretaires.localhost"), "anonymous", "/billing/offers", 200)
	billClient := p.browser("secretaires.localhost")
	billClient.login("user@secretaires.localhost", "demo-secretaires-user")
	mine := get(billClient, "billing client", "/billing/invoices", 200)
	for _, path := range []string{"/billing/portal", "/billing/usage", "/billing/messages", "/billing/contract",
		"/billing/invoices/" + find(billMineRe, mine, "client's invoice")} {
		get(billClient, "billing client", path, 200)
	}
	billClerk := p.browser("secretaires.localhost")
	billClerk.login("billing-clerk@secretaires.localhost", "demo-secretaires-billing_clerk")
	subs := get(billClerk, "billing clerk", "/billing/manage", 200)
	sub := "/billing/manage/subscriptions/" + find(billSubRe, subs, "subscription")
	catalog := get(billClerk, "billing clerk", "/billing/manage/catalog", 200)
	tariffs := get(billClerk, "billing clerk", "/billing/manage/tariffs", 200)
	invoices := get(billClerk, "billing clerk", "/billing/manage/invoices", 200)
	runs := get(billClerk, "billing clerk", "/billing/manage/runs", 200)
	for _, path := range []string{sub, sub + "/usage", sub + "/contract", "/billing/manage/subscriptions/new",
		"/billing/manage/invoices/" + find(billInvoiceRe, invoices, "invoice"), "/billing/manage/runs/" + find(billRunRe, runs, "run"),
		"/billing/manage/payments", "/billing/manage/payments/import", "/billing/manage/dunning", "/billing/manage/dunning/rates",
		"/billing/manage/catalog/" + find(billProductRe, catalog, "product"), "/billing/manage/catalog/new",
		"/billing/manage/tariffs/" + find(billTariffRe, tariffs, "tariff")} {
		get(billClerk, "billing clerk", path, 200)
	}
	if code, body := billClerk.post("/billing/manage/subscriptions/new", "/billing/manage/subscriptions/new", url.Values{"client_name": {"Cabinet"},
		"email": {"pas une adresse"}, "locale": {"fr"}, "country": {"FR"}, "hours_profile": {"full"}, "payment_method": {"transfer"}}); code != 422 {
		t.Fatalf("incomplete subscription: %d\n%s", code, body)
	} else {
		pages["billing clerk /billing/manage/subscriptions/new (errors)"] = body
	}
	get(p.browser("nobody.localhost"), "anonymous", "/", 404)
	get(p.browser("admin.localhost"), "anonymous", "/login", 200)

	// The patient: her account and her results.
	user := p.browser("mlab.localhost")
	user.login("user@mlab.localhost", "demo-mlab-user")
	// …and the person she represents (issue 12.9): the form, with its errors, and his results.
	if code, _ := user.post("/account/dependants/new", "/account/dependants", url.Values{"first_name": {"Marie"}, "last_name": {"Durand"},
		"birth_name": {"Martin"}, "birth_date": {"1985-03-02"}, "relationship": {"guardian"}, "legal_status": {"deprived"},
		"consent": {"yes"}}); code != 303 {
		t.Fatalf("add the person she represents: %d", code)
	}
	code, body := user.post("/account/dependants/new", "/account/dependants", url.Values{"first_name": {"Marie"}})
	if code != 422 {
		t.Fatalf("incomplete form: %d", code)
	}
	pages["patient mlab.localhost/account/dependants (errors)"] = body
	get(user, "patient", "/account/dependants/new", 200)
	get(user, "patient", "/account/dependants/"+find(dependantLinkRe, get(user, "patient", "/account", 200), "dependant"), 200)
	get(user, "patient", "/results/family/r/"+find(familyReportRe, get(user, "patient", "/results/mine", 200), "family report"), 200)
	for _, path := range []string{"/account", "/account/sessions", "/account/access", "/account/delete", "/results/mine",
		"/results/r/" + reportID, trendPath, "/results/access", "/results/support"} {
		get(user, "patient", path, 200)
	}
	get(user, "patient", "/admin/users", 403)

	// The tenant admin.
	admin := p.browser("mlab.localhost")
	admin.login("admin@mlab.localhost", "demo-mlab-admin")
	users := get(admin, "tenant admin", "/admin/users", 200)
	mailbox := get(admin, "tenant admin", "/admin/mailbox", 200)
	complaints := get(admin, "tenant admin", "/admin/complaints", 200)
	for _, path := range []string{"/admin/roles", "/admin/api-keys", "/admin/audit", "/admin/jobs", "/admin/settings",
		"/admin/messages", "/admin/messages/reset/fr", "/admin/terms", "/admin/modules/results",
		"/admin/users/" + find(adminUserRe, users, "user"), "/admin/complaints/" + find(complaintRe, complaints, "complaint")} {
		get(admin, "tenant admin", path, 200)
	}
	mailID := find(mailboxRe, mailbox, "mail")
	get(admin, "tenant admin", "/admin/mailbox/"+mailID, 200)
	get(admin, "tenant admin", "/admin/mailbox/"+mailID+"/html", 200)

	// The lab staff and the professional: the results module's own pages.
	staff := p.browser("mlab.localhost")
	staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
	records := get(staff, "lab staff", "/results/staff/patients?q=DURAND", 200)
	for _, path := range []string{"/results/staff", "/results/staff/queue", "/results/staff/patients",
		"/results/staff/patients/" + find(recordRe, records, "patient record"), "/results/staff/professionals",
		"/results/staff/upload", "/results/staff/r/" + reportID} {
		get(staff, "lab staff", path, 200)
	}
	pro := p.browser("pro.mlab.localhost")
	pro.login("professional@mlab.localhost", "demo-mlab-professional")
	get(pro, "professional", "/results/pro", 200)

	// The platform admin's console.
	console := p.browser("admin.localhost")
	console.login("admin@platform.localhost", "demo-platform-admin")
	tenants := get(console, "platform admin", "/platform/tenants", 200)
	for _, path := range []string{"/platform/modules", "/platform/users", "/platform/jobs", "/platform/maintenance",
		"/platform/tenants/" + find(tenantRe, tenants, "tenant"), "/platform/tenants/new"} {
		get(console, "platform admin", path, 200)
	}

	for name, body := range pages {
		if !strings.HasPrefix(body, "<!doctype html>") {
			t.Errorf("%s does not start with <!doctype html>: %.60q", name, body)
		}
	}
	problems, err := checks.ValidateHTML(pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		// A mail carries its style inline: mail readers drop style sheets.
		if pr.Rule == "no-inline-style" && strings.HasSuffix(pr.Page, "/html") && strings.Contains(pr.Page, "/admin/mailbox/") {
			continue
		}
		t.Errorf("%s", pr)
	}
	t.Logf("%d pages checked, %d problems", len(pages), len(problems))
}
