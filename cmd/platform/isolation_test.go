package main

import (
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pesel"
)

var (
	queueCheckRe      = regexp.MustCompile(`action="/results/staff/queue/([0-9a-f-]{36})/check"`)
	proActionRe       = regexp.MustCompile(`action="/results/staff/professionals/([0-9a-f-]{36})/(?:suspend|activate)"`)
	familyReportRe    = regexp.MustCompile(`href="/results/family/r/([0-9a-f-]{36})"`)
	staffReportRe     = regexp.MustCompile(`href="/results/staff/r/([0-9a-f-]{36})"`)
	dependantLinkRe   = regexp.MustCompile(`href="/account/dependants/([0-9a-f-]{36})"`)
	doctorLinkRe      = regexp.MustCompile(`href="/calendar/doctors/([0-9a-f-]{36})"`)
	dirReportRe       = regexp.MustCompile(`action="/calendar/admin/reports/([0-9a-f-]{36})/resolve"`)
	dirFacilityRe     = regexp.MustCompile(`action="/calendar/admin/facilities/([0-9a-f-]{36})/remove"`)
	visitLinkRe       = regexp.MustCompile(`href="/calendar/visits/([0-9a-f-]{36})"`)
	feedLinkRe        = regexp.MustCompile(`href="(/calendar/feed/[A-Za-z0-9_-]{43}/agenda\.ics)"`)
	waitLeaveRe       = regexp.MustCompile(`action="/calendar/waitlist/([0-9a-f-]{36})/leave"`)
	offerLinkRe       = regexp.MustCompile(`/calendar/offers/([0-9a-f-]{36})`)
	entryRemoveRe     = regexp.MustCompile(`action="/calendar/blacklist/([0-9a-f-]{36})/remove"`)
	requestAnswerRe   = regexp.MustCompile(`action="/calendar/blacklist/requests/([0-9a-f-]{36})/answer"`)
	portalRemoveRe    = regexp.MustCompile(`action="/calendar/admin/blacklist/([0-9a-f-]{36})/remove"`)
	portalAnswerRe    = regexp.MustCompile(`action="/calendar/admin/blacklist/requests/([0-9a-f-]{36})/answer"`)
	appDocumentRe     = regexp.MustCompile(`href="/calendar/admin/applications/([0-9a-f-]{36})/documents/0"`)
	rightsAnswerRe    = regexp.MustCompile(`action="/calendar/requests/([0-9a-f-]{36})/answer"`)
	serviceWithdrawRe = regexp.MustCompile(`action="/calendar/manage/[0-9a-f-]{36}/services/([0-9a-f-]{36})/withdraw"`)
	windowRemoveRe    = regexp.MustCompile(`action="/calendar/manage/[0-9a-f-]{36}/windows/([0-9a-f-]{36})/remove"`)
	absenceRemoveRe   = regexp.MustCompile(`action="/calendar/manage/[0-9a-f-]{36}/absences/([0-9a-f-]{36})/remove"`)
	manageLinkRe      = regexp.MustCompile(`^/calendar/manage/([0-9a-f-]{36})`)
)

// copyTenants copies the demo tenants into a temporary directory, with the results module
// switched on for elekarze, the e-shop for secretaires and billing for mlab too: two tenants
// of each module (the billing demo seeds every French tenant that runs it); unilabs sends
// text messages.
func copyTenants(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "tenants")
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == filepath.Join("secretaires", "tenant.toml") {
			b = append(b, "\n[modules.eshop]\nenabled = true\n"...)
		}
		if rel == filepath.Join("elekarze", "tenant.toml") {
			b = append(b, "\n[modules.results]\nenabled = true\n"...)
		}
		if rel == filepath.Join("mlab", "tenant.toml") {
			b = append(b, "\n[modules.billing]\nenabled = true\n"...)
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestModuleTenantIsolation (issue 11.20, P1): two tenants run the results module (mlab, A,
// and elekarze, B). Each route of the module's manifest that takes an id is used on A's host
// by the person of A who holds the route's permission (A's patient, professional or lab
// staff) with the real id of one of B's objects — a report, a patient record, an account
// waiting in B's queue, a professional — and answers exactly 404, and nothing of B changes.
// The calendar runs on elekarze and secretaires, the e-shop on unilabs (B) and secretaires
// (A; isolation_eshop_test.go), billing on secretaires (B) and mlab (A;
// isolation_billing_test.go), and are tried the same way. The routes come from the
// modules' manifests: a new route with an id and no case here fails the test. On SQLite and
// PostgreSQL.
func TestModuleTenantIsolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, copyTenants(t))

		// B's objects: its demo patient's report, its waiting lab record, an account in its
		// queue, its demo professional.
		bUser := p.browser("elekarze.localhost")
		bUser.login("user@elekarze.localhost", "demo-elekarze-user")
		_, body := bUser.do("GET", "/results/mine", nil)
		m := reportRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("B's demo patient has no result:\n%s", body)
		}
		bReport := m[1]
		reg := p.browser("elekarze.localhost")
		form := url.Values{"email": {"anna.nowak@example.org"}, "password": {"Correct-Horse-46"}, "password2": {"Correct-Horse-46"},
			"name": {"Anna Nowak"}, "first_name": {"Anna"}, "last_name": {"Nowak"}, "birth_date": {"1985-03-02"}, "birth_name": {"Kowalska"}, "accept_terms": {"yes"},
			"consent_data_processing": {"yes"}, "pesel": {"85030212344"}, "mobile": {"601 234 567"}} // C3: eLekarze runs the calendar
		if code, body := reg.post("/register", "/register", form); code != 200 {
			t.Fatalf("register in B: %d\n%s", code, body)
		}
		v, _ := url.Parse(linkRe.FindString(p.lastMailTo(t, "elekarze", "anna.nowak@example.org")))
		if code, body := reg.post(v.RequestURI(), "/verify", url.Values{"token": {v.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify in B: %d\n%s", code, body)
		}
		bStaff := p.browser("elekarze.localhost")
		bStaff.login("lab-staff@elekarze.localhost", "demo-elekarze-lab_staff")
		_, queue := bStaff.do("GET", "/results/staff/queue", nil)
		_, records := bStaff.do("GET", "/results/staff/patients?q=DURAND", nil)
		_, pros := bStaff.do("GET", "/results/staff/professionals", nil)
		find := func(re *regexp.Regexp, body, what string) string {
			t.Helper()
			m := re.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no %s of B found:\n%s", what, body)
			}
			return m[1]
		}
		bQueued := find(queueCheckRe, queue, "queued account")
		bRecord := find(recordRe, records, "patient record")
		bPro := find(proActionRe, pros, "professional")

		// A's people, on A's hosts.
		patient := p.browser("mlab.localhost")
		patient.login("user@mlab.localhost", "demo-mlab-user")
		pro := p.browser("pro.mlab.localhost")
		pro.login("professional@mlab.localhost", "demo-mlab-professional")
		staff := p.browser("mlab.localhost")
		staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")

		// The same routes with A's own report answer: a 404 below is B's id, not a refusal.
		_, mine := patient.do("GET", "/results/mine", nil)
		aReport := find(reportRe, mine, "report (of A)")
		for _, c := range []struct {
			who  *browser
			path string
		}{{patient, "/results/r/" + aReport}, {pro, "/results/pro/r/" + aReport}, {staff, "/results/staff/r/" + aReport}} {
			if code, _ := c.who.do("GET", c.path, nil); code != 200 {
				t.Fatalf("A's own report at %s on %s: %d", c.path, c.who.host, code)
			}
		}

		// A's patient represents Marie Durand, an adult under guardianship (P2, issue 12.9),
		// whose identity B's lab holds too: he reads A's report of her, never B's.
		if code, body := patient.post("/account/dependants/new", "/account/dependants", url.Values{"first_name": {"Marie"},
			"last_name": {"Durand"}, "birth_name": {"Martin"}, "birth_date": {"1985-03-02"}, "relationship": {"guardian"},
			"legal_status": {"deprived"}, "consent": {"yes"}}); code != 303 {
			t.Fatalf("A's patient adds the person he represents: %d\n%s", code, body)
		}
		_, mine = patient.do("GET", "/results/mine", nil)
		aFamily := find(familyReportRe, mine, "report of a represented person (of A)")
		if code, _ := patient.do("GET", "/results/family/r/"+aFamily, nil); code != 200 {
			t.Fatalf("A's represented person's report: %d", code)
		}
		_, bFile := bStaff.do("GET", "/results/staff/patients/"+bRecord, nil)
		bFamily := find(staffReportRe, bFile, "report of Marie Durand (of B)")

		// The calendar runs on elekarze (B) and secretaires (A'): B's doctor, found by a
		// search on B, is no one on A' (C1), while A's own doctor is there.
		_, bSearch := bUser.do("GET", "/calendar?city=krakow", nil)
		bDoctor := find(doctorLinkRe, bSearch, "doctor (of B)")
		_, bVisits := bUser.do("GET", "/calendar/visits", nil)
		bVisit := find(visitLinkRe, bVisits, "visit (of B)")
		// Someone without an account books with B's doctor (C6): the link of his e-mail is B's.
		bGuest := p.browser("elekarze.localhost")
		_, bWarsaw := bGuest.do("GET", "/calendar?city=warszawa", nil)
		bBookable := find(doctorLinkRe, bWarsaw, "bookable doctor (of B)")
		_, bBook := bGuest.do("GET", "/calendar/doctors/"+bBookable+"/guest", nil)
		bStart := firstGuestStart(t, func(path string) string { _, body := bGuest.do("GET", path, nil); return body },
			html.UnescapeString(find(guestServiceRe, bBook, "service (of B)")))
		if code, body := bGuest.post(bStart, "/calendar/doctors/"+bBookable+"/guest", url.Values{
			"service": {regexp.MustCompile(`service=([0-9a-f-]{36})`).FindStringSubmatch(bStart)[1]}, "start": {bStart[strings.LastIndex(bStart, "=")+1:]},
			"first_name": {"Adam"}, "last_name": {"Gość"}, "pesel": {"85030212344"}, "email": {"adam.gosc@example.org"}, "mobile": {"601 234 567"},
			"consent_terms": {"yes"}, "consent_doctor": {"yes"}}); code != 200 {
			t.Fatalf("anonymous booking in B: %d\n%s", code, body)
		}
		bToken := find(regexp.MustCompile(`/calendar/confirm/([A-Za-z0-9_-]{43})`), p.lastMailTo(t, "elekarze", "adam.gosc@example.org"), "confirmation link (of B)")
		visitor := p.browser("secretaires.localhost")
		aPatient := p.browser("secretaires.localhost")
		aPatient.login("user@secretaires.localhost", "demo-secretaires-user")
		aDoctor := p.browser("secretaires.localhost")
		aDoctor.login("doctor@secretaires.localhost", "demo-secretaires-doctor")
		_, aVisits := aPatient.do("GET", "/calendar/visits", nil)
		if code, _ := aPatient.do("GET", "/calendar/visits/"+find(visitLinkRe, aVisits, "visit (of A')"), nil); code != 200 {
			t.Fatalf("A's own visit: %d", code)
		}
		_, aSearch := visitor.do("GET", "/calendar?city=lyon", nil)
		if code, _ := visitor.do("GET", "/calendar/doctors/"+find(doctorLinkRe, aSearch, "doctor (of A')"), nil); code != 200 {
			t.Fatalf("A's own doctor: %d", code)
		}

		// B's secrets: the cancel link of a booking of B's patient, from its confirmation
		// e-mail, and the agenda feed's address of B's doctor (issue 13.4, 13.6).
		_, bWarsaw = bUser.do("GET", "/calendar?city=warszawa", nil)
		bBookable = find(doctorLinkRe, bWarsaw, "bookable doctor (of B)")
		_, bServices := bUser.do("GET", "/calendar/doctors/"+bBookable+"/book", nil)
		bStart = firstFreeStart(t, func(path string) string { _, body := bUser.do("GET", path, nil); return body },
			html.UnescapeString(find(bookServiceRe, bServices, "service (of B)")))
		bq, _ := url.Parse(bStart)
		bPESEL := "9207151234"
		bPESEL += strconv.Itoa(pesel.CheckDigit(bPESEL))
		if code, body := bUser.post(bStart, "/calendar/doctors/"+bBookable+"/book", url.Values{"service": {bq.Query().Get("service")},
			"start": {bq.Query().Get("start")}, "pesel": {bPESEL}, "mobile": {"+48601234567"}, "consent_doctor": {"yes"}}); code != 303 {
			t.Fatalf("B's patient books: %d\n%s", code, body)
		}
		var bCancel string
		for _, raw := range p.mailbox(t, "elekarze") {
			for _, part := range mailParts(t, raw) {
				if u, err := url.Parse(cancelLinkRe.FindString(string(part.Body))); part.Type == "text/plain" && err == nil && u.Path != "" {
					bCancel = u.Path
				}
			}
		}
		if bCancel == "" {
			t.Fatal("no cancel link in B's mailbox")
		}
		bDoc := p.browser("elekarze.localhost")
		bDoc.login("doctor@elekarze.localhost", "demo-elekarze-doctor")
		_, bFeedPage := bDoc.post("/calendar/agenda/feed", "/calendar/agenda/feed", url.Values{})
		bFeed := find(feedLinkRe, bFeedPage, "agenda feed (of B)")
		// The directory's care (C1): B's report, B's facility, seen by B's administrator; A's
		// administrator and a visitor of A' try them on A'.
		bReportPath := "/calendar/doctors/" + bDoctor
		if code, body := bUser.post(bReportPath, bReportPath+"/report", url.Values{"what": {"wrong_data"}, "details": {"Zły adres gabinetu w katalogu."}}); code != 303 {
			t.Fatalf("a report in B: %d\n%s", code, body)
		}
		bAdmin := p.browser("elekarze.localhost")
		bAdmin.login("admin@elekarze.localhost", "demo-elekarze-admin")
		_, bQueue := bAdmin.do("GET", "/calendar/admin/reports", nil)
		bDirReport := find(dirReportRe, bQueue, "directory report (of B)")
		_, bDoctorPage := bAdmin.do("GET", "/calendar/doctors/"+bDoctor, nil)
		bFacility := find(dirFacilityRe, bDoctorPage, "facility (of B)")
		aAdmin := p.browser("secretaires.localhost")
		aAdmin.login("admin@secretaires.localhost", "demo-secretaires-admin")
		aDoctorPage := "/calendar/doctors/" + find(doctorLinkRe, aSearch, "doctor (of A')")

		// The calendar's own objects of B, made through B's pages by B's people (issue 13):
		// a waitlist entry and the offer a patient's cancellation sends it; the demo
		// doctor's blacklist entry from one of his bookings and a removal request about it;
		// the administrator's portal entry and the patient's request about it; an application
		// with its document; a rights request; the doctor's services, windows, an absence and
		// a photo from his manage page.
		bWaiter := p.browser("elekarze.localhost")
		bWaiter.login("anna.nowak@example.org", "Correct-Horse-46")
		bService := bq.Query().Get("service")
		bWaitPath := "/calendar/doctors/" + bBookable + "/waitlist"
		if code, body := bWaiter.post(bWaitPath+"?service="+bService, bWaitPath, url.Values{"service": {bService},
			"pesel": {"85030212344"}, "mobile": {"601 234 567"}}); code != 303 {
			t.Fatalf("B's patient joins the waitlist: %d\n%s", code, body)
		}
		_, bWaits := bWaiter.do("GET", "/calendar/waitlist", nil)
		bWait := find(waitLeaveRe, bWaits, "waitlist entry")
		bFreed := firstFreeStart(t, func(path string) string { _, body := bUser.do("GET", path, nil); return body },
			html.UnescapeString(find(bookServiceRe, bServices, "service (of B)")))
		fq, _ := url.Parse(bFreed)
		if code, body := bUser.post(bFreed, "/calendar/doctors/"+bBookable+"/book", url.Values{"service": {bService},
			"start": {fq.Query().Get("start")}, "pesel": {validPESEL("9308201234")}, "mobile": {"+48601234567"}, "consent_doctor": {"yes"}}); code != 303 {
			t.Fatalf("B's patient books the slot he will free: %d\n%s", code, body)
		}
		bFreedVisit := find(regexp.MustCompile(`^/calendar/visits/([0-9a-f-]{36})`), bUser.last.Get("Location"), "booked visit")
		if code, body := bUser.post("/calendar/visits", "/calendar/visits/"+bFreedVisit+"/cancel", url.Values{}); code != 303 {
			t.Fatalf("B's patient cancels: %d\n%s", code, body)
		}
		bOffer := find(offerLinkRe, p.lastMailTo(t, "elekarze", "anna.nowak@example.org"), "waitlist offer")

		_, bDemo := bUser.do("GET", "/calendar?q=Kowalska&city=warszawa", nil)
		bOwn := find(doctorLinkRe, bDemo, "demo doctor")
		_, bList := bDoc.do("GET", "/calendar/blacklist?pesel=85030212344", nil)
		if code, body := bDoc.post("/calendar/blacklist", "/calendar/blacklist", url.Values{"pesel": {"85030212344"}, "ground": {"terms_breach"},
			"booking": {find(blacklistBookingRe, bList, "booking to list")}}); code != 303 {
			t.Fatalf("B's doctor lists a patient: %d\n%s", code, body)
		}
		bRemoval := "/calendar/doctors/" + bOwn + "/removal"
		if code, body := bGuest.post(bRemoval, bRemoval, url.Values{"name": {"Demo User"}, "pesel": {"85030212344"}, "email": {"user@elekarze.localhost"},
			"justification": {"Proszę o ponowne rozpatrzenie."}}); code != 200 {
			t.Fatalf("a removal request in B: %d\n%s", code, body)
		}
		_, bList = bDoc.do("GET", "/calendar/blacklist", nil)
		bEntry := find(entryRemoveRe, bList, "blacklist entry")
		bRequest := find(requestAnswerRe, bList, "removal request")
		if code, body := bAdmin.post("/calendar/admin/blacklist", "/calendar/admin/blacklist", url.Values{"pesel": {bPESEL}, "ground": {"gross_breach"}}); code != 303 {
			t.Fatalf("B's administrator lists a patient: %d\n%s", code, body)
		}
		if code, body := bUser.post("/calendar/removal", "/calendar/removal", url.Values{"pesel": {bPESEL}, "justification": {"To pomyłka."}}); code != 200 {
			t.Fatalf("a portal removal request in B: %d\n%s", code, body)
		}
		_, bPortal := bAdmin.do("GET", "/calendar/admin/blacklist", nil)
		bPortalEntry := find(portalRemoveRe, bPortal, "portal entry")
		bPortalRequest := find(portalAnswerRe, bPortal, "portal removal request")

		if code, body := bWaiter.upload("/calendar/apply", "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"5425740"}},
			"documents", "prawo.png", blankPNG(t, 200, 200)); code != 303 {
			t.Fatalf("an application in B: %d\n%s", code, body)
		}
		_, bApps := bAdmin.do("GET", "/calendar/admin/applications", nil)
		bApp := find(appDocumentRe, bApps, "application")
		if code, _ := bAdmin.do("GET", "/calendar/admin/applications/"+bApp+"/documents/0", nil); code != 200 {
			t.Fatalf("B's administrator reads the application's document: %d", code)
		}
		bRights := "/calendar/doctors/" + bOwn + "/rights"
		if code, body := bGuest.post(bRights, bRights, url.Values{"kind": {"access"}, "name": {"Adam Gość"}, "pesel": {"85030212344"},
			"email": {"adam.gosc@example.org"}, "message": {"Proszę o kopię moich danych."}}); code != 303 {
			t.Fatalf("a rights request in B: %d\n%s", code, body)
		}
		_, bRequests := bDoc.do("GET", "/calendar/requests", nil)
		bRightsRequest := find(rightsAnswerRe, bRequests, "rights request")

		bManage := "/calendar/manage/" + bOwn
		if code, body := bDoc.post(bManage, bManage+"/absences", url.Values{"abs_facility": {""}, "abs_from": {"2031-02-03T09:00"},
			"abs_to": {"2031-02-03T12:00"}, "abs_note": {"Konferencja"}}); code != 303 {
			t.Fatalf("B's doctor adds an absence: %d\n%s", code, body)
		}
		if code, body := bDoc.upload(bManage, bManage+"/photo", url.Values{}, "photo", "zdjecie.png", blankPNG(t, 200, 200)); code != 303 {
			t.Fatalf("B's doctor adds his photo: %d\n%s", code, body)
		}
		if code, _ := bGuest.do("GET", "/calendar/doctors/"+bOwn+"/photo", nil); code != 200 {
			t.Fatalf("B's doctor's photo in B: %d", code)
		}
		_, bManagePage := bDoc.do("GET", bManage, nil)
		bSvc := find(serviceWithdrawRe, bManagePage, "service")
		bWin := find(windowRemoveRe, bManagePage, "window")
		bAbs := find(absenceRemoveRe, bManagePage, "absence")
		// A's doctor's own manage page: B's sub-ids are tried under his own doctor, where
		// the doctor passes and only the sub-id's lookup can refuse.
		aManage := "/calendar/manage/" + find(manageLinkRe, func() string { aDoctor.do("GET", "/calendar/manage", nil); return aDoctor.last.Get("Location") }(), "managed doctor (of A')")
		if code, _ := aDoctor.do("GET", aManage, nil); code != 200 {
			t.Fatalf("A's doctor's own manage page: %d", code)
		}

		// The e-shop's objects of B (unilabs) and A's people (secretaires), issue 14.
		shopCases, shopAfter := eshopIsolation(t, p)
		billCases, billAfter := billingIsolation(t, p)

		type use = isoUse
		cases := map[string]use{
			"GET /results/r/{id}":                             {who: patient, path: "/results/r/" + bReport, want: 404},
			"GET /results/r/{id}/pdf":                         {who: patient, path: "/results/r/" + bReport + "/pdf", want: 404},
			"GET /results/pro/r/{id}":                         {who: pro, path: "/results/pro/r/" + bReport, want: 404},
			"GET /results/pro/r/{id}/pdf":                     {who: pro, path: "/results/pro/r/" + bReport + "/pdf", want: 404},
			"GET /results/staff/r/{id}":                       {who: staff, path: "/results/staff/r/" + bReport, want: 404},
			"GET /results/staff/r/{id}/pdf":                   {who: staff, path: "/results/staff/r/" + bReport + "/pdf", want: 404},
			"GET /results/staff/patients/{id}":                {who: staff, path: "/results/staff/patients/" + bRecord, want: 404},
			"POST /results/staff/patients/{id}/unlink":        {who: staff, path: "/results/staff/patients/" + bRecord + "/unlink", page: "/results/staff/patients", want: 404},
			"POST /results/staff/patients/{id}/attach":        {who: staff, path: "/results/staff/patients/" + bRecord + "/attach", page: "/results/staff/patients", form: url.Values{"user": {bQueued}}, want: 404},
			"POST /results/staff/patients/{id}/merge":         {who: staff, path: "/results/staff/patients/" + bRecord + "/merge", page: "/results/staff/patients", form: url.Values{"from": {bRecord}}, want: 404},
			"GET /results/staff/r/{id}/v/{version}":           {who: staff, path: "/results/staff/r/" + bReport + "/v/1", want: 404},
			"GET /results/staff/r/{id}/v/{version}/pdf":       {who: staff, path: "/results/staff/r/" + bReport + "/v/1/pdf", want: 404},
			"POST /results/staff/queue/{id}/link":             {who: staff, path: "/results/staff/queue/" + bQueued + "/link", page: "/results/staff/queue", form: url.Values{"lab_patient_id": {"P-1"}}, want: 404},
			"POST /results/staff/queue/{id}/check":            {who: staff, path: "/results/staff/queue/" + bQueued + "/check", page: "/results/staff/queue", form: url.Values{"answer": {"x"}}, want: 404},
			"POST /results/staff/professionals/{id}/activate": {who: staff, path: "/results/staff/professionals/" + bPro + "/activate", page: "/results/staff/professionals", form: url.Values{"register_number": {"10000000001"}}, want: 404},
			"POST /results/staff/professionals/{id}/suspend":  {who: staff, path: "/results/staff/professionals/" + bPro + "/suspend", page: "/results/staff/professionals", want: 404},
			"GET /results/r/{id}/print":                       {who: patient, path: "/results/r/" + bReport + "/print", want: 404},
			"GET /results/pro/r/{id}/print":                   {who: pro, path: "/results/pro/r/" + bReport + "/print", want: 404},
			"GET /results/staff/r/{id}/print":                 {who: staff, path: "/results/staff/r/" + bReport + "/print", want: 404},
			"GET /results/pro/p/{id}/trend/{code}":            {who: pro, path: "/results/pro/p/" + bRecord + "/trend/GLU", want: 404},
			"GET /results/family/r/{id}":                      {who: patient, path: "/results/family/r/" + bFamily, want: 404},
			"GET /results/family/r/{id}/pdf":                  {who: patient, path: "/results/family/r/" + bFamily + "/pdf", want: 404},
			"GET /calendar/doctors/{id}":                      {who: visitor, path: "/calendar/doctors/" + bDoctor, want: 404},
			"GET /calendar/doctors/{id}/book":                 {who: aPatient, path: "/calendar/doctors/" + bBookable + "/book", want: 404},
			"POST /calendar/doctors/{id}/book":                {who: aPatient, path: "/calendar/doctors/" + bBookable + "/book", page: "/calendar/visits", form: url.Values{"service": {"x"}, "start": {"1"}}, want: 404},
			"POST /calendar/agenda/{id}/cancel":               {who: aDoctor, path: "/calendar/agenda/" + bVisit + "/cancel", page: "/calendar/agenda", form: url.Values{"reason": {"emergency"}}, want: 404},
			"GET /calendar/visits/{id}":                       {who: aPatient, path: "/calendar/visits/" + bVisit, want: 404},
			"GET /calendar/doctors/{id}/guest":                {who: visitor, path: "/calendar/doctors/" + bBookable + "/guest", want: 404},
			"POST /calendar/doctors/{id}/guest":               {who: visitor, path: "/calendar/doctors/" + bBookable + "/guest", page: "/login", form: url.Values{"service": {"x"}, "start": {"1"}}, want: 404},
			"GET /calendar/confirm/{token}":                   {who: visitor, path: "/calendar/confirm/" + bToken, want: 404},
			"POST /calendar/confirm/{token}":                  {who: visitor, path: "/calendar/confirm/" + bToken, page: "/login", want: 404},
			"POST /calendar/visits/{id}/cancel":               {who: aPatient, path: "/calendar/visits/" + bVisit + "/cancel", page: "/calendar/visits", want: 404},
			"GET /calendar/visits/{id}/visit.ics":             {who: aPatient, path: "/calendar/visits/" + bVisit + "/visit.ics", want: 404},
			"GET /calendar/cancel/{token}":                    {who: visitor, path: bCancel, want: 404},
			"POST /calendar/cancel/{token}":                   {who: visitor, path: bCancel, page: "/login", want: 404},
			"GET /calendar/feed/{token}/agenda.ics":           {who: visitor, path: bFeed, want: 404},
			"GET /results/trend/{code}":                       {exemption: "an analyte code, not an object: the patient's own values of that analyte"},
			"GET /calendar/assets/{name}":                     {exemption: "a file of the map in the module's binary, the same for every tenant"},
			"GET /calendar/assets/{dir}/{name}":               {exemption: "a file of the map in the module's binary, the same for every tenant"},
			"POST /calendar/doctors/{id}/report":              {who: visitor, path: "/calendar/doctors/" + bDoctor + "/report", page: aDoctorPage, form: url.Values{"what": {"other"}, "details": {"Ten lekarz nie istnieje tutaj."}}, want: 404},
			"POST /calendar/admin/reports/{id}/resolve":       {who: aAdmin, path: "/calendar/admin/reports/" + bDirReport + "/resolve", page: "/calendar/admin/reports", form: url.Values{"resolution": {"dismissed"}}, want: 404},
			"POST /calendar/admin/doctors/{id}/remove":        {who: aAdmin, path: "/calendar/admin/doctors/" + bDoctor + "/remove", page: "/calendar/admin/reports", want: 404},
			"POST /calendar/admin/facilities/{id}/remove":     {who: aAdmin, path: "/calendar/admin/facilities/" + bFacility + "/remove", page: "/calendar/admin/reports", want: 404},
			// Issue 13's routes, each with a real object of B. A proposed entry comes only from
			// the monthly job on last month's cancellations, which pages cannot make: accept and
			// reject try B's active entry, which their handlers look up by id in the tenant (and,
			// for a doctor, among his own doctors) before they look at its state, as for a
			// proposal. The sub-ids of a doctor's calendar are tried under A's own doctor, who
			// passes: only the sub-id's own lookup can refuse them.
			"GET /calendar/doctors/{id}/waitlist":                 {who: aPatient, path: bWaitPath + "?service=" + bService, want: 404},
			"POST /calendar/doctors/{id}/waitlist":                {who: aPatient, path: bWaitPath, page: "/calendar/visits", form: url.Values{"service": {bService}, "pesel": {"85030212344"}, "mobile": {"601 234 567"}}, want: 404},
			"POST /calendar/waitlist/{id}/leave":                  {who: aPatient, path: "/calendar/waitlist/" + bWait + "/leave", page: "/calendar/waitlist", want: 404},
			"GET /calendar/offers/{id}":                           {who: aPatient, path: "/calendar/offers/" + bOffer, want: 404},
			"POST /calendar/offers/{id}":                          {who: aPatient, path: "/calendar/offers/" + bOffer, page: "/calendar/visits", form: url.Values{"consent_doctor": {"yes"}}, want: 404},
			"POST /calendar/blacklist/{id}/remove":                {who: aDoctor, path: "/calendar/blacklist/" + bEntry + "/remove", page: "/calendar/blacklist", want: 404},
			"POST /calendar/blacklist/{id}/accept":                {who: aDoctor, path: "/calendar/blacklist/" + bEntry + "/accept", page: "/calendar/blacklist", want: 404},
			"POST /calendar/blacklist/{id}/reject":                {who: aDoctor, path: "/calendar/blacklist/" + bEntry + "/reject", page: "/calendar/blacklist", want: 404},
			"POST /calendar/blacklist/requests/{id}/answer":       {who: aDoctor, path: "/calendar/blacklist/requests/" + bRequest + "/answer", page: "/calendar/blacklist", form: url.Values{"decision": {"granted"}}, want: 404},
			"GET /calendar/doctors/{id}/removal":                  {who: visitor, path: bRemoval, want: 404},
			"POST /calendar/doctors/{id}/removal":                 {who: visitor, path: bRemoval, page: "/login", form: url.Values{"name": {"Demo User"}, "pesel": {"85030212344"}, "email": {"user@elekarze.localhost"}, "justification": {"Proszę."}}, want: 404},
			"POST /calendar/admin/blacklist/{id}/remove":          {who: aAdmin, path: "/calendar/admin/blacklist/" + bPortalEntry + "/remove", page: "/calendar/admin/blacklist", want: 404},
			"POST /calendar/admin/blacklist/{id}/accept":          {who: aAdmin, path: "/calendar/admin/blacklist/" + bPortalEntry + "/accept", page: "/calendar/admin/blacklist", want: 404},
			"POST /calendar/admin/blacklist/{id}/reject":          {who: aAdmin, path: "/calendar/admin/blacklist/" + bPortalEntry + "/reject", page: "/calendar/admin/blacklist", want: 404},
			"POST /calendar/admin/blacklist/requests/{id}/answer": {who: aAdmin, path: "/calendar/admin/blacklist/requests/" + bPortalRequest + "/answer", page: "/calendar/admin/blacklist", form: url.Values{"decision": {"granted"}}, want: 404},
			"GET /calendar/admin/applications/{id}/documents/{n}": {who: aAdmin, path: "/calendar/admin/applications/" + bApp + "/documents/0", want: 404},
			"POST /calendar/admin/applications/{id}/approve":      {who: aAdmin, path: "/calendar/admin/applications/" + bApp + "/approve", page: "/calendar/admin/applications", want: 404},
			"POST /calendar/admin/applications/{id}/refuse":       {who: aAdmin, path: "/calendar/admin/applications/" + bApp + "/refuse", page: "/calendar/admin/applications", form: url.Values{"reason": {"Brak dokumentu."}}, want: 404},
			"GET /calendar/doctors/{id}/rights":                   {who: visitor, path: bRights, want: 404},
			"POST /calendar/doctors/{id}/rights":                  {who: visitor, path: bRights, page: "/login", form: url.Values{"kind": {"access"}, "name": {"Adam Gość"}, "pesel": {"85030212344"}, "email": {"adam.gosc@example.org"}}, want: 404},
			"POST /calendar/requests/{id}/answer":                 {who: aDoctor, path: "/calendar/requests/" + bRightsRequest + "/answer", page: "/calendar/requests", form: url.Values{"outcome": {"done"}, "note": {"Fait."}}, want: 404},
			"POST /calendar/agenda/{id}/outcome":                  {who: aDoctor, path: "/calendar/agenda/" + bVisit + "/outcome", page: "/calendar/agenda", form: url.Values{"outcome": {"no_show"}}, want: 404},
			"POST /calendar/agenda/{id}/documents":                {who: aDoctor, path: "/calendar/agenda/" + bVisit + "/documents", page: "/calendar/agenda", form: url.Values{"note": {"Wyniki."}}, want: 404},
			"GET /calendar/doctors/{id}/photo":                    {who: visitor, path: "/calendar/doctors/" + bOwn + "/photo", want: 404},
			"GET /calendar/manage/{id}":                           {who: aDoctor, path: bManage, want: 404},
			"POST /calendar/manage/{id}/profile":                  {who: aDoctor, path: bManage + "/profile", page: aManage, form: url.Values{"description": {"Przejęty."}}, want: 404},
			"POST /calendar/manage/{id}/photo":                    {who: aDoctor, path: bManage + "/photo", page: aManage, want: 404},
			"POST /calendar/manage/{id}/services":                 {who: aDoctor, path: bManage + "/services", page: aManage, form: url.Values{"svc_name": {"Konsultacja"}}, want: 404},
			"POST /calendar/manage/{id}/windows":                  {who: aDoctor, path: bManage + "/windows", page: aManage, form: url.Values{"win_weekday": {"1"}, "win_from": {"08:00"}, "win_to": {"12:00"}}, want: 404},
			"POST /calendar/manage/{id}/absences":                 {who: aDoctor, path: bManage + "/absences", page: aManage, form: url.Values{"abs_from": {"2031-03-03T09:00"}, "abs_to": {"2031-03-03T12:00"}}, want: 404},
			"POST /calendar/manage/{id}/buffer":                   {who: aDoctor, path: bManage + "/buffer", page: aManage, form: url.Values{"buffer": {"15"}}, want: 404},
			"POST /calendar/manage/{id}/services/{sid}/withdraw":  {who: aDoctor, path: aManage + "/services/" + bSvc + "/withdraw", page: aManage, want: 404},
			"POST /calendar/manage/{id}/windows/{wid}/remove":     {who: aDoctor, path: aManage + "/windows/" + bWin + "/remove", page: aManage, want: 404},
			"POST /calendar/manage/{id}/absences/{eid}/remove":    {who: aDoctor, path: aManage + "/absences/" + bAbs + "/remove", page: aManage, want: 404},
		}

		for k, c := range shopCases {
			cases[k] = c
		}
		for k, c := range billCases {
			cases[k] = c
		}

		var routes []string
		for id, mk := range builtins {
			if id == "probe" {
				continue // this test binary's probe module (TestMain), not a module of the platform
			}
			for _, r := range mk().Manifest().Routes {
				if strings.Contains(r.Path, "{") {
					routes = append(routes, r.Method+" "+r.Path)
				}
			}
		}
		sort.Strings(routes)
		seen := map[string]bool{}
		for _, k := range routes {
			seen[k] = true
			c, ok := cases[k]
			if !ok {
				t.Errorf("module route %s takes an id and has no isolation case", k)
				continue
			}
			if c.exemption != "" {
				continue
			}
			var code int
			var body string
			if strings.HasPrefix(k, "GET ") {
				code, body = c.who.do("GET", c.path, nil)
			} else {
				if c.form == nil {
					c.form = url.Values{}
				}
				if c.file != "" {
					code, body = c.who.upload(c.page, c.path, c.form, c.file, "document", c.data)
				} else {
					code, body = c.who.post(c.page, c.path, c.form)
				}
			}
			if code != c.want {
				t.Errorf("%s as %s on %s: %d, want %d", k, c.path, c.who.host, code, c.want)
			}
			for _, leak := range []string{"Anna Nowak", "Kowalska", "elekarze", "unilabs", "DEMO-100", "Bratislava"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s as %s shows B's %q", k, c.path, leak)
				}
			}
		}
		for k := range cases {
			if !seen[k] {
				t.Errorf("isolation case %s names no route of a module's manifest", k)
			}
		}

		shopAfter()
		billAfter()

		// Nothing of B changed: the account still waits, the record is as it was, the
		// professional keeps his state, the patient still reads her result; the cancel link
		// still cancels, the feed still answers.
		if code, body := bUser.do("GET", bCancel, nil); code != 200 || !strings.Contains(body, `action="/calendar/cancel/`) {
			t.Errorf("B's cancel link after A's tries: %d", code)
		}
		if code, _ := bDoc.do("GET", bFeed, nil); code != 200 {
			t.Errorf("B's feed after A's tries: %d", code)
		}
		if code, _ := bUser.do("GET", "/calendar/doctors/"+bDoctor, nil); code != 200 {
			t.Error("B's doctor left B's directory")
		}
		if _, after := bAdmin.do("GET", "/calendar/admin/reports", nil); !strings.Contains(after, `action="/calendar/admin/reports/`+bDirReport+`/resolve"`) {
			t.Error("B's directory report is no longer open")
		}
		// Nothing of the calendar's objects of B changed (issue 13): each is still in the
		// state B's people left it, as B's database holds it and as B's pages show it.
		for _, c := range []struct {
			what, query, id string
		}{
			{"the waitlist entry", "SELECT count(*) FROM calendar_waitlist WHERE id = ?", bWait},
			{"the unclaimed offer", "SELECT count(*) FROM calendar_waitlist_offers WHERE id = ? AND booking_id = ''", bOffer},
			{"the doctor's active entry", "SELECT count(*) FROM calendar_blacklist WHERE id = ? AND status = 'active'", bEntry},
			{"the open removal request", "SELECT count(*) FROM calendar_blacklist_requests WHERE id = ? AND status = 'open'", bRequest},
			{"the portal's active entry", "SELECT count(*) FROM calendar_portal_blacklist WHERE id = ? AND status = 'active'", bPortalEntry},
			{"the open portal request", "SELECT count(*) FROM calendar_blacklist_requests WHERE id = ? AND status = 'open'", bPortalRequest},
			{"the pending application", "SELECT count(*) FROM calendar_applications WHERE id = ? AND status = 'pending'", bApp},
			{"the open rights request", "SELECT count(*) FROM calendar_rights_requests WHERE id = ? AND status = 'open'", bRightsRequest},
			{"the visit without outcome nor documents asked", "SELECT count(*) FROM calendar_bookings WHERE id = ? AND status NOT IN ('completed', 'no_show') AND documents_requested_at IS NULL", bVisit},
			{"the active service", "SELECT count(*) FROM calendar_services WHERE id = ? AND active", bSvc},
			{"the window", "SELECT count(*) FROM calendar_windows WHERE id = ?", bWin},
			{"the absence", "SELECT count(*) FROM calendar_exceptions WHERE id = ?", bAbs},
		} {
			if n := p.count(t, "calendar", c.query, c.id); n != 1 {
				t.Errorf("B's %s changed after A's tries", c.what)
			}
		}
		if _, after := bDoc.do("GET", "/calendar/blacklist", nil); !strings.Contains(after, `action="/calendar/blacklist/`+bEntry+`/remove"`) ||
			!strings.Contains(after, `action="/calendar/blacklist/requests/`+bRequest+`/answer"`) {
			t.Error("B's doctor's blacklist entry or its removal request is no longer listed")
		}
		if _, after := bAdmin.do("GET", "/calendar/admin/applications", nil); !strings.Contains(after, `action="/calendar/admin/applications/`+bApp+`/approve"`) {
			t.Error("B's application is no longer pending")
		}
		if _, after := bWaiter.do("GET", "/calendar/waitlist", nil); !strings.Contains(after, `action="/calendar/waitlist/`+bWait+`/leave"`) {
			t.Error("B's patient left the waitlist")
		}
		if code, _ := bGuest.do("GET", "/calendar/doctors/"+bOwn+"/photo", nil); code != 200 {
			t.Errorf("B's doctor's photo after A's tries: %d", code)
		}
		if _, after := bGuest.do("GET", "/calendar/doctors/"+bOwn, nil); strings.Contains(after, "Przejęty") {
			t.Error("B's doctor's profile took A's description")
		}
		if _, after := bStaff.do("GET", "/results/staff/queue", nil); !strings.Contains(after, bQueued) {
			t.Error("B's queued account left the queue")
		}
		if _, after := bStaff.do("GET", "/results/staff/patients?q=DURAND", nil); after != records {
			if strings.Count(after, "/results/staff/patients/") != strings.Count(records, "/results/staff/patients/") {
				t.Error("B's records changed")
			}
		}
		if _, after := bStaff.do("GET", "/results/staff/professionals", nil); proActionRe.FindString(after) != proActionRe.FindString(pros) {
			t.Errorf("B's professional changed state")
		}
		if code, _ := bUser.do("GET", "/results/r/"+bReport, nil); code != 200 {
			t.Errorf("B's patient lost her result: %d", code)
		}
	})
}
