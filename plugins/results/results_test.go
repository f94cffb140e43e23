package results

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

type fixture struct {
	t    *testing.T
	h    *sdktest.Harness
	m    *Module
	A, B sdk.Tenant
	lis  string // the LIS's API key
	now  time.Time
}

func tenant(id, slug string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: slug, Name: "Lab " + slug, Locale: "fr", TimeZone: "Europe/Paris", Currency: "EUR", Country: "FR", Portal: "patients"}
}

func setup(t *testing.T, b storetest.Backend) *fixture {
	m := newModule()
	f := &fixture{t: t, m: m, A: tenant("tA", "a"), B: tenant("tB", "b"), lis: "key1",
		now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "results"))
	return f
}

func (f *fixture) user(ten sdk.Tenant, u sdk.User) *sdk.User {
	f.h.Host.Users[ten.ID] = append(f.h.Host.Users[ten.ID], u)
	return &u
}

// patient registers a patient account and tells the module it is verified (R2, R3).
func (f *fixture) patient(ten sdk.Tenant, id, name, birthName, birth string) *sdk.User {
	u := f.user(ten, sdk.User{ID: id, Email: id + "@example.org", Name: name, BirthDate: birth, Portal: "patients",
		Profile: map[string]string{fieldBirthName: birthName}, Roles: []string{"user"}})
	if err := f.h.Event(context.Background(), ten, host.EventUserVerified, []byte(id)); err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) incoming(reportID, labID, last, first, birthName, birth, rpps string) *Incoming {
	in := &Incoming{ReportID: reportID, CollectedAt: "2026-11-19T07:30:00Z", Lab: "Site Part-Dieu", Status: "final",
		Patient:    IncomingPatient{LabPatientID: labID, LastName: last, FirstName: first, BirthName: birthName, BirthDate: birth},
		Prescriber: IncomingPro{RegisterNumber: rpps, Name: "Dr Jean Petit"},
		Values: []IncomingValue{{Code: "GLU", Label: "Glycémie", Value: "6,4", Unit: "mmol/L", Low: ptr(3.9), High: ptr(6.1), Flag: "H"},
			{Code: "HB", Label: "Hémoglobine", Value: "13.9", Unit: "g/dL", Low: ptr(12), High: ptr(16), Flag: "N"}}}
	pdf, err := f.m.reportPDF(f.A, "fr", in)
	if err != nil {
		f.t.Fatal(err)
	}
	in.PDF = pdf
	return in
}

func ptr(x float64) *float64 { return &x }

func (f *fixture) api(ten sdk.Tenant, in *Incoming) (*sdk.Response, map[string]any) {
	f.t.Helper()
	in.PDFBase64 = base64.StdEncoding.EncodeToString(in.PDF)
	body, _ := json.Marshal(in)
	res, err := f.h.Send(context.Background(), ten, nil, &sdk.Request{Method: "POST", Path: "/results/api/reports", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}, ClientID: f.lis, ClientName: "LIS"})
	if err != nil {
		f.t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(res.Body, &out)
	return res, out
}

// race sends n requests at once (send answers the status of the i-th) and counts those
// that created something; any answer but 201 or 200 fails the test.
func (f *fixture) race(n int, send func(i int) int) int {
	f.t.Helper()
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = send(i)
		}(i)
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			f.t.Fatalf("statuses %v", statuses)
		}
	}
	return created
}

func (f *fixture) get(ten sdk.Tenant, u *sdk.User, path string) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Do(context.Background(), ten, u, "GET", path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) post(ten sdk.Tenant, u *sdk.User, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Do(context.Background(), ten, u, "POST", path, []byte(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) reportIDs(ten sdk.Tenant) []string {
	var ids []string
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Report)(nil)).Column("id").Order("collected_at DESC").Scan(ctx, &ids)
	})
	return ids
}

// in runs fn in a scope of tenant ten, failing the test on an error.
func (f *fixture) in(ten sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.In(context.Background(), ten, fn); err != nil {
		f.t.Fatal(err)
	}
}

// count counts the rows of model in tenant ten matching where.
func (f *fixture) count(ten sdk.Tenant, model any, where string) int {
	var n int64
	f.in(ten, func(ctx context.Context, sc *store.Scope) (err error) {
		n, err = sc.Select(model).Where(where).Count(ctx)
		return err
	})
	return int(n)
}

// report reads a report of ten.
func (f *fixture) report(ten sdk.Tenant, id string) *Report {
	var r *Report
	f.in(ten, func(ctx context.Context, sc *store.Scope) (err error) {
		r, err = report(ctx, sc, id)
		return err
	})
	return r
}

func (f *fixture) audits(action string) int {
	n := 0
	for _, a := range f.h.Host.Audits {
		if a.Value.Action == action {
			n++
		}
	}
	return n
}

func (f *fixture) noMissingMessages() {
	f.t.Helper()
	if miss := f.m.Msgs.Missing(); len(miss) > 0 {
		f.t.Errorf("messages asked for but missing: %v", miss)
	}
}

// TestImportAPIIsValidatedAndIdempotent: the LIS's import checks every field and answers
// each problem with a code and a message; the same report id stores one report, even when
// several imports race (R3).
func TestImportAPIIsValidatedAndIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		bad := f.incoming("R-1", "", "", "Marie", "", "1985-13-40", "12ab")
		bad.PDF = []byte("not a pdf")
		res, out := f.api(f.A, bad)
		if res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		// The API's one error shape: a code, a sentence, and a sentence per field.
		got, _ := out["fields"].(map[string]any)
		if out["error"] != "invalid_report" || out["message"] == "" || got == nil {
			t.Fatalf("422 body: %s", res.Body)
		}
		want := map[string]string{"patient.lab_patient_id": "required", "patient.last_name": "required", "patient.birth_date": "invalid_date",
			"prescriber.register_number": "invalid_register_number", "pdf": "not_pdf"}
		for k, v := range want {
			if msg := f.m.Msgs.For("fr").T(errKey(v)); got[k] != msg {
				t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], msg, got)
			}
		}
		if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 {
			t.Fatal("a refused import stored something")
		}
		// A "PDF" that is HTML after its header is refused: the PDF must parse (issue 11.9).
		html := f.incoming("R-2", "P-2", "Durand", "Marie", "Martin", "1985-03-02", "10000000001")
		html.PDF = []byte("%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>")
		if res, out := f.api(f.A, html); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), `"pdf":"`+f.m.Msgs.For("fr").T(errKey("not_pdf"))+`"`) {
			t.Fatalf("HTML behind a PDF header: %d %v", res.Status, out)
		}
		if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 {
			t.Fatal("a refused import stored something")
		}
		// Malformed JSON is a 400, never a 500.
		res, err := f.h.Send(context.Background(), f.A, nil, &sdk.Request{Method: "POST", Path: "/results/api/reports", Body: []byte("{"), ClientID: f.lis})
		if err != nil || res.Status != http.StatusBadRequest {
			t.Fatalf("malformed: %v %d", err, res.Status)
		}
		// Without the API client (a browser session) the route refuses.
		res, _ = f.h.Send(context.Background(), f.A, &sdk.User{ID: "u"}, &sdk.Request{Method: "POST", Path: "/results/api/reports", Body: []byte("{}")})
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("without a client: %d", res.Status)
		}

		in := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101")
		created := f.race(8, func(int) int {
			c := *in
			res, _ := f.api(f.A, &c)
			return res.Status
		})
		if created != 1 || len(f.reportIDs(f.A)) != 1 {
			t.Fatalf("created %d, stored %d: one report per lab report id", created, len(f.reportIDs(f.A)))
		}
		if len(f.h.Host.Blobs) != 1 {
			t.Fatalf("%d PDFs kept, want 1", len(f.h.Host.Blobs))
		}
		if f.audits("results.imported") != 1 {
			t.Fatalf("imports recorded: %d", f.audits("results.imported"))
		}
		// The same lab ids in another tenant are another report.
		res, _ = f.api(f.B, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101"))
		if res.Status != http.StatusCreated || len(f.reportIDs(f.B)) != 1 || len(f.reportIDs(f.A)) != 1 {
			t.Fatalf("tenant B import: %d", res.Status)
		}
	})
}

// TestAccountsAreLinkedOnExactIdentity: an account is linked when its identity matches one
// lab record, whatever the case, accents and order of names; otherwise it waits in the staff
// queue (no record, or several). A record arriving later links a waiting account (R3), and
// the patient is told by an e-mail with no health data (R10).
func TestAccountsAreLinkedOnExactIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "DURAND", "Marie-Hélène", "Martin", "1985-03-02", ""))
		f.api(f.A, f.incoming("R-2", "P-2", "Dupont", "Jean", "", "1970-01-01", ""))
		f.api(f.A, f.incoming("R-3", "P-3", "Dupont", "Jean", "", "1970-01-01", "")) // the LIS has him twice

		marie := f.patient(f.A, "u-marie", "marie helene durand", "MARTÍN", "1985-03-02")
		typo := f.patient(f.A, "u-typo", "Marie-Hélène Durant", "Martin", "1985-03-02")
		jean := f.patient(f.A, "u-jean", "Jean Dupont", "Dupont", "1970-01-01")
		late := f.patient(f.A, "u-late", "Anna Nowak", "Kowalska", "1990-06-15")
		states := map[string]string{}
		var accs []Account
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&accs).Scan(ctx) })
		for _, a := range accs {
			states[a.UserID] = a.State
		}
		want := map[string]string{marie.ID: stateLinked, typo.ID: stateNoRecord, jean.ID: stateAmbiguous, late.ID: stateNoRecord}
		for id, s := range want {
			if states[id] != s {
				t.Errorf("%s: state %q, want %q", id, states[id], s)
			}
		}
		// A record for Anna arrives: she is linked and told.
		res, out := f.api(f.A, f.incoming("R-4", "P-4", "Nowak", "Anna", "Kowalska", "1990-06-15", ""))
		if res.Status != http.StatusCreated || out["linked"] != true {
			t.Fatalf("late record: %d %v", res.Status, out)
		}
		told := map[string]int{}
		for _, msg := range f.h.Host.Messages {
			if msg.Value.Template != "results.published" {
				t.Fatalf("template %q", msg.Value.Template)
			}
			// R10: no health data in the message, only a count and a link to sign in.
			for k := range msg.Value.Data {
				if k != "Count" {
					t.Errorf("message data %q", k)
				}
			}
			if !strings.HasPrefix(msg.Value.Link, "/login") {
				t.Errorf("link %q", msg.Value.Link)
			}
			told[msg.Value.Channel+":"+msg.Value.UserID]++
		}
		// By e-mail, and by SMS where the tenant sends them (the host decides; issue 11.15).
		for _, ch := range []string{"", "sms"} {
			if told[ch+":"+marie.ID] != 1 || told[ch+":"+late.ID] != 1 || told[ch+":"+typo.ID] != 0 || told[ch+":"+jean.ID] != 0 {
				t.Fatalf("notifications: %v", told)
			}
		}
		// Another report for Marie: one more e-mail.
		f.api(f.A, f.incoming("R-5", "P-1", "Durand", "Marie-Hélène", "Martin", "1985-03-02", ""))
		n := 0
		for _, msg := range f.h.Host.Messages {
			if msg.Value.UserID == marie.ID && msg.Value.Channel == "" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("Marie was told %d times, want 2", n)
		}
	})
}

// TestPatientSeesOwnResultsAndEveryAccessIsAudited: the patient lists his results newest
// first, opens one (values, ranges, flags), opens and downloads the PDF; nobody else's;
// each view and download is one audit record (R4, R9); the PDF is the one the LIS sent.
func TestPatientSeesOwnResultsAndEveryAccessIsAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		old := f.incoming("R-OLD", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		old.CollectedAt = "2025-01-10T07:00:00Z"
		f.api(f.A, old)
		f.api(f.A, f.incoming("R-NEW", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		f.api(f.A, f.incoming("R-OTHER", "P-2", "Dupont", "Jean", "", "1970-01-01", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		jean := f.patient(f.A, "u-jean", "Jean Dupont", "Dupont", "1970-01-01")
		ids := f.reportIDs(f.A) // newest first: R-NEW, R-OTHER (same date), R-OLD
		var mine []string
		for _, id := range ids {
			r := f.report(f.A, id)
			if r.Patient.UserID == marie.ID {
				mine = append(mine, id)
			}
		}
		page := f.get(f.A, marie, "/results/mine")
		body := string(page.Body)
		if page.Status != 200 || strings.Index(body, mine[0]) < 0 || strings.Index(body, mine[0]) > strings.Index(body, mine[1]) {
			t.Fatalf("list (newest first): %d\n%s", page.Status, body)
		}
		var other string
		for _, id := range ids {
			if id != mine[0] && id != mine[1] {
				other = id
			}
		}
		if strings.Contains(body, other) {
			t.Fatal("Marie's list shows Jean's result")
		}
		accesses := 0
		for i := 0; i < 3; i++ {
			res := f.get(f.A, marie, "/results/r/"+mine[0])
			accesses++
			if res.Status != 200 || !strings.Contains(string(res.Body), "Glycémie") || !strings.Contains(string(res.Body), "Élevé") {
				t.Fatalf("view: %d %s", res.Status, res.Body)
			}
		}
		pdf := f.get(f.A, marie, "/results/r/"+mine[0]+"/pdf")
		accesses++
		if pdf.Header.Get("X-Content-Type-Options") != "nosniff" || pdf.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("PDF served without nosniff or a policy (issue 11.9): %v", pdf.Header)
		}
		if pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Header.Get("Content-Disposition"), "inline") ||
			!strings.Contains(pdf.Header.Get("Cache-Control"), "no-store") {
			t.Fatalf("inline PDF headers %v", pdf.Header)
		}
		dl := f.get(f.A, marie, "/results/r/"+mine[0]+"/pdf?download=1")
		accesses++
		if !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("download headers %v", dl.Header)
		}
		text, err := pdfdoc.ExtractText(dl.Body)
		if err != nil || !strings.Contains(text, "DURAND Marie") || !strings.Contains(text, "Glycémie") {
			t.Fatalf("PDF read back: %v\n%s", err, text)
		}
		// Another patient's result: not found, and not recorded as an access.
		for _, p := range []string{"/results/r/" + mine[0], "/results/r/" + mine[0] + "/pdf"} {
			if res := f.get(f.A, jean, p); res.Status != http.StatusNotFound {
				t.Fatalf("Jean reads Marie's %s: %d", p, res.Status)
			}
		}
		// The same user id in another tenant sees nothing of tenant A.
		ghost := &sdk.User{ID: marie.ID, Roles: []string{"user"}}
		if res := f.get(f.B, ghost, "/results/r/"+mine[0]); res.Status != http.StatusNotFound {
			t.Fatalf("tenant B reads tenant A's result: %d", res.Status)
		}
		// R9: the number of audit records equals the number of accesses.
		got := f.audits("results.view") + f.audits("results.view_pdf") + f.audits("results.download")
		if got != accesses {
			t.Fatalf("%d audit records for %d accesses", got, accesses)
		}
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "results.view" && (a.Value.Subject != marie.ID || a.Value.Resource != "result:"+mine[0] || a.Scope.UserID != marie.ID) {
				t.Fatalf("audit record %+v", a)
			}
		}
		// The access log shows them to Marie.
		log := f.get(f.A, marie, "/results/access")
		if n := strings.Count(string(log.Body), "<tr>") - 1; log.Status != 200 || n != accesses {
			t.Fatalf("access log: %d rows for %d accesses\n%s", n, accesses, log.Body)
		}
		// Trend of glucose over Marie's two reports: a chart with two points.
		tr := f.get(f.A, marie, "/results/trend/glu")
		// (each point carries its date and value as a tooltip; out-of-range ones are diamonds).
		if tr.Status != 200 || strings.Count(string(tr.Body), "<title>") != 2 || strings.Count(string(tr.Body), `class="out"`) != 2 {
			t.Fatalf("trend: %d\n%s", tr.Status, tr.Body)
		}
		f.noMissingMessages()
	})
}

// TestProfessionalSeesOnlyWhatHePrescribed: a professional account waits for the lab's
// check of his register number; once activated he sees the results he prescribed and no
// other (R1, R5).
func TestProfessionalSeesOnlyWhatHePrescribed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		pro := f.user(f.A, sdk.User{ID: "u-pro", Name: "Dr Jean Petit", Portal: portalPros, Roles: []string{"user"},
			Profile: map[string]string{fieldProNumber: "10101010101"}})
		if err := f.h.Event(context.Background(), f.A, host.EventUserVerified, []byte(pro.ID)); err != nil {
			t.Fatal(err)
		}
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101"))
		f.api(f.A, f.incoming("R-2", "P-2", "Dupont", "Jean", "", "1970-01-01", "20202020202"))
		ids := f.reportIDs(f.A)
		var his, notHis string
		for _, id := range ids {
			r := f.report(f.A, id)
			if r.PrescriberNumber == "10101010101" {
				his = id
			} else {
				notHis = id
			}
		}
		// Pending: nothing.
		if res := f.get(f.A, pro, "/results/pro/r/"+his); res.Status != http.StatusNotFound {
			t.Fatalf("pending professional reads a result: %d", res.Status)
		}
		// A bad number is refused next to the field, nothing changes.
		res := f.post(f.A, staff, "/results/staff/professionals/"+pro.ID+"/activate", url.Values{"register_number": {"12x"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `class="error"`) || len(f.h.Host.RoleSets) != 0 {
			t.Fatalf("bad number: %d", res.Status)
		}
		res = f.post(f.A, staff, "/results/staff/professionals/"+pro.ID+"/activate", url.Values{"register_number": {"10101010101"}})
		if res.Status != http.StatusSeeOther || len(f.h.Host.RoleSets) != 1 || f.h.Host.RoleSets[0].Value != [3]string{pro.ID, "professional", "on"} {
			t.Fatalf("activate: %d %v", res.Status, f.h.Host.RoleSets)
		}
		pro.Roles = append(pro.Roles, "professional")
		list := f.get(f.A, pro, "/results/pro")
		if !strings.Contains(string(list.Body), his) || strings.Contains(string(list.Body), notHis) {
			t.Fatalf("professional list:\n%s", list.Body)
		}
		if res := f.get(f.A, pro, "/results/pro/r/"+his); res.Status != 200 {
			t.Fatalf("his patient's result: %d", res.Status)
		}
		for _, p := range []string{"/results/pro/r/" + notHis, "/results/pro/r/" + notHis + "/pdf"} {
			if res := f.get(f.A, pro, p); res.Status != http.StatusNotFound {
				t.Fatalf("another prescriber's result %s: %d", p, res.Status)
			}
		}
		// His access is shown to the patient once she links her account.
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		log := f.get(f.A, marie, "/results/access")
		if !strings.Contains(string(log.Body), "Dr Jean Petit") && !strings.Contains(string(log.Body), "u-pro") {
			t.Fatalf("the patient does not see the prescriber's access:\n%s", log.Body)
		}
		// Suspended: nothing again.
		f.post(f.A, staff, "/results/staff/professionals/"+pro.ID+"/suspend", nil)
		if res := f.get(f.A, pro, "/results/pro/r/"+his); res.Status != http.StatusNotFound {
			t.Fatalf("suspended professional reads a result: %d", res.Status)
		}
	})
}

// TestStaffQueueAndUpload: staff link a waiting account after checking the secret answer,
// and publish a report through the form with the same checks as the API (R3, R6).
func TestStaffQueueAndUpload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		typo := f.patient(f.A, "u-typo", "Marie Durant", "Martin", "1985-03-02")
		f.h.Host.Secrets[typo.ID] = "rex"
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		q := f.get(f.A, staff, "/results/staff/queue")
		if q.Status != 200 || !strings.Contains(string(q.Body), "Marie Durant") || !strings.Contains(string(q.Body), "P-1") {
			t.Fatalf("queue:\n%s", q.Body)
		}
		chk := f.post(f.A, staff, "/results/staff/queue/"+typo.ID+"/check", url.Values{"answer": {"REX"}})
		if !strings.Contains(string(chk.Body), f.m.Msgs.For("fr").T("results.queue.check_match")) {
			t.Fatalf("check:\n%s", chk.Body)
		}
		bad := f.post(f.A, staff, "/results/staff/queue/"+typo.ID+"/link", url.Values{"lab_patient_id": {"NOPE"}})
		if bad.Status != http.StatusUnprocessableEntity {
			t.Fatalf("unknown record: %d", bad.Status)
		}
		ok := f.post(f.A, staff, "/results/staff/queue/"+typo.ID+"/link", url.Values{"lab_patient_id": {"P-1"}})
		if ok.Status != http.StatusSeeOther {
			t.Fatalf("link: %d %s", ok.Status, ok.Body)
		}
		if res := f.get(f.A, typo, "/results/mine"); !strings.Contains(string(res.Body), f.reportIDs(f.A)[0]) {
			t.Fatal("linked account does not see its result")
		}
		// Upload form: errors next to the fields, nothing stored.
		res := f.post(f.A, staff, "/results/staff/upload", url.Values{"report_id": {"U-1"}})
		if res.Status != http.StatusBadRequest && res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("upload without multipart: %d", res.Status)
		}
		// A "PDF" that is HTML after its header: refused next to the file field, in the
		// staff's language, nothing stored (issue 11.9).
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range map[string]string{"report_id": "U-2", "lab_patient_id": "P-9", "last_name": "Durand", "first_name": "Marie",
			"birth_name": "Martin", "birth_date": "1985-03-02", "collected_at": "2026-11-19", "lab": "Site", "status": "final",
			"code.0": "FER", "label.0": "Ferritine", "value.0": "9", "unit.0": "µg/L", "low.0": "15", "high.0": "150"} {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("pdf", "compte-rendu.pdf")
		fw.Write([]byte("%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>"))
		mw.Close()
		before := len(f.reportIDs(f.A))
		res, err := f.h.Send(context.Background(), f.A, staff, &sdk.Request{Method: "POST", Path: "/results/staff/upload",
			Header: http.Header{"Content-Type": {mw.FormDataContentType()}}, Body: body.Bytes()})
		if err != nil || res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("polyglot upload: %v %d", err, res.Status)
		}
		notPDF := f.m.Msgs.For("fr").T("results.err.not_pdf")
		if page := string(res.Body); !strings.Contains(page, `id="e-pdf"`) || !strings.Contains(page, notPDF) {
			t.Fatalf("no error next to the file field:\n%s", page)
		}
		if len(f.reportIDs(f.A)) != before {
			t.Fatal("a refused upload stored a report")
		}
		f.noMissingMessages()
	})
}

// TestRetentionRemovesOldResultsAfterNotice: the results page warns before the end of the
// retention; the nightly job removes the report, its values and its PDF (R4).
func TestRetentionRemovesOldResultsAfterNotice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		id := f.reportIDs(f.A)[0]
		soon := f.m.Msgs.For("fr").TN("results.mine.soon", 1)
		if strings.Contains(string(f.get(f.A, marie, "/results/mine").Body), soon) {
			t.Fatal("notice shown too early")
		}
		f.now = f.now.AddDate(5, 0, -10) // 10 days before the end of 5 years
		page := string(f.get(f.A, marie, "/results/mine").Body)
		if !strings.Contains(page, soon) {
			t.Fatalf("no removal notice:\n%s", page)
		}
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil {
			t.Fatal(err)
		}
		if len(f.reportIDs(f.A)) != 1 {
			t.Fatal("removed before its time")
		}
		f.now = f.now.AddDate(0, 0, 11)
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil {
			t.Fatal(err)
		}
		if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 || f.audits("results.expired") != 1 {
			t.Fatalf("after retention: %d reports, %d blobs", len(f.reportIDs(f.A)), len(f.h.Host.Blobs))
		}
		n := f.count(f.A, (*Value)(nil), "1 = 1")
		if n != 0 {
			t.Fatalf("%d values left", n)
		}
		if res := f.get(f.A, marie, "/results/r/"+id); res.Status != http.StatusNotFound {
			t.Fatalf("expired result still shown: %d", res.Status)
		}
	})
}

// TestCancelledAccountLosesAccessAtOnce: when the account is deleted its links go at once;
// the reports stay the lab's (R7, P11).
func TestCancelledAccountLosesAccessAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		id := f.reportIDs(f.A)[0]
		if err := f.h.Event(context.Background(), f.A, host.EventUserDeleted, []byte(marie.ID)); err != nil {
			t.Fatal(err)
		}
		if res := f.get(f.A, marie, "/results/r/"+id); res.Status != http.StatusNotFound {
			t.Fatalf("deleted account reads its result: %d", res.Status)
		}
		n := f.count(f.A, (*Account)(nil), "1 = 1")
		linked := f.count(f.A, (*LabPatient)(nil), "user_id <> ''")
		if n != 0 || linked != 0 {
			t.Fatalf("left: %d accounts, %d links", n, linked)
		}
	})
}

// TestSupportNeedsALabRecord: support is answered only where the lab has a record (R3, R8):
// others get the tenant's message; a linked patient's request goes to the complaints queue,
// due within the business-hours rule.
func TestSupportNeedsALabRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		stranger := f.patient(f.A, "u-x", "Nobody Known", "Known", "1999-09-09")
		res := f.post(f.A, stranger, "/results/support", url.Values{"body": {"Bonjour"}})
		if res.Status != http.StatusUnprocessableEntity || len(f.h.Host.Complaints) != 0 ||
			!strings.Contains(string(res.Body), f.m.Msgs.For("fr").T("results.support.no_record")) {
			t.Fatalf("support without record: %d %d", res.Status, len(f.h.Host.Complaints))
		}
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		if res := f.post(f.A, marie, "/results/support", url.Values{"body": {""}}); res.Status != http.StatusUnprocessableEntity || len(f.h.Host.Complaints) != 0 {
			t.Fatalf("empty body: %d", res.Status)
		}
		// Friday 20 November 2026, 11:00 in Paris: 8 business hours (8–18) later is Monday 9:00.
		res = f.post(f.A, marie, "/results/support", url.Values{"body": {"Je ne trouve pas mon résultat d’hier."}})
		if res.Status != 200 || len(f.h.Host.Complaints) != 1 {
			t.Fatalf("support: %d", res.Status)
		}
		c := f.h.Host.Complaints[0].Value
		paris, _ := time.LoadLocation("Europe/Paris")
		want := time.Date(2026, 11, 23, 9, 0, 0, 0, paris)
		if c.Category != "support" || c.UserID != marie.ID || !c.Due.Equal(want) {
			t.Fatalf("complaint %+v, due want %v", c, want)
		}
	})
}

// TestPagesInEveryLanguage: every page of the module renders in fr, pl and sk with no
// message missing (P4).
func TestPagesInEveryLanguage(t *testing.T) {
	f := setup(t, "sqlite")
	staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
	f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101"))
	marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
	f.patient(f.A, "u-wait", "Anna Nowak", "Nowak", "1990-06-15")
	id := f.reportIDs(f.A)[0]
	for _, lang := range []string{"fr", "pl", "sk"} {
		ten := f.A
		ten.Locale = lang
		for _, p := range []string{"/results", "/results/mine", "/results/r/" + id, "/results/trend/GLU", "/results/access", "/results/support"} {
			if res := f.get(ten, marie, p); res.Status != 200 && res.Status != http.StatusSeeOther {
				t.Errorf("%s %s: %d", lang, p, res.Status)
			}
		}
		for _, p := range []string{"/results/staff", "/results/staff/queue", "/results/staff/patients?q=durand", "/results/staff/upload",
			"/results/staff/professionals", "/results/staff/r/" + id} {
			if res := f.get(ten, staff, p); res.Status != 200 {
				t.Errorf("%s %s: %d", lang, p, res.Status)
			}
		}
		if res := f.get(ten, nil, "/results"); res.Status != 200 {
			t.Errorf("%s home: %d", lang, res.Status)
		}
		pdf, err := f.m.reportPDF(ten, lang, f.incoming("X", "P", "Łukasiewicz", "Żaneta", "Ďurčová", "1980-01-01", ""))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := pdfdoc.ExtractText(pdf)
		if !strings.Contains(text, "ŁUKASIEWICZ Żaneta") || !strings.Contains(text, f.m.Msgs.For(lang).T("results.pdf.title")) {
			t.Errorf("%s PDF:\n%s", lang, text)
		}
	}
	f.noMissingMessages()
	_ = fmt.Sprint
}

// TestExportHoldsWhatTheModuleKnows: the personal data export (P11) carries the account's
// identity, its lab records and their reports with values.
func TestExportHoldsWhatTheModuleKnows(t *testing.T) {
	f := setup(t, "sqlite")
	f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
	marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
	b, err := f.h.Export(context.Background(), f.A, marie.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Account    Account
		LabRecords []LabPatient `json:"lab_records"`
		Reports    []struct {
			ReportID string `json:"report_id"`
			Values   []Value
		}
		Kept map[string]string `json:"kept_after_erasure"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Account.UserID != marie.ID || len(out.LabRecords) != 1 || len(out.Reports) != 1 || out.Reports[0].ReportID != "R-1" || len(out.Reports[0].Values) != 2 {
		t.Fatalf("export: %s", b)
	}
	// Values under the import API's names, without the database's wrappers (issue 12.16).
	if strings.Contains(string(b), `"Valid"`) || strings.Contains(string(b), `"Float64"`) || !strings.Contains(string(b), `"code":`) {
		t.Fatalf("export values in the database's shape: %s", b)
	} // It says what an erasure keeps and why, in every language, with the tenant's retention
	// (issue 11.12, P11, R4).
	if want := "le laboratoire les conserve 5 ans après leur publication"; !strings.Contains(out.Kept["fr"], want) {
		t.Fatalf("export's kept_after_erasure in French: %q", out.Kept["fr"])
	}
	if !strings.Contains(out.Kept["pl"], "przez 5 lat") || !strings.Contains(out.Kept["sk"], "5 rokov") {
		t.Fatalf("export's kept_after_erasure: %v", out.Kept)
	}
}

// TestFrameHolds: every route of the manifest reaches its handler and the host matches it
// the same way; every table of the module is reached only through a tenant scope; on
// PostgreSQL, with reports, values, records, accounts and a professional in tenant A, the
// module's runtime role sees none of them in tenant B's scope and cannot switch row-level
// security off.
func TestFrameHolds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		kittest.CheckRoutes(t, f.m.Module)
		kittest.CheckScoped(t, f.m.Module, (*LabPatient)(nil), (*Account)(nil), (*Professional)(nil), (*Report)(nil), (*Value)(nil),
			(*ReportVersion)(nil)) // issue 12.2
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101"))
		f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		f.user(f.A, sdk.User{ID: "u-pro", Name: "Dr Petit", Portal: portalPros, Profile: map[string]string{fieldProNumber: "10101010101"}})
		if err := f.h.Event(context.Background(), f.A, host.EventUserVerified, []byte("u-pro")); err != nil {
			t.Fatal(err)
		}
		kittest.CheckIsolation(t, "results", f.h.Env, f.A, f.B)
	})
}
