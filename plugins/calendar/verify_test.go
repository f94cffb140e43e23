package calendar

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// multipart posts fields and files (each file under field name) as a form.
func (f *fixture) multipart(u *sdk.User, path string, fields url.Values, name string, files ...[]byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, data := range files {
		fw, _ := mw.CreateFormFile(name, "scan.png")
		fw.Write(data)
	}
	mw.Close()
	req := &sdk.Request{Method: "POST", Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}, Body: body.Bytes()}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := f.h.Send(context.Background(), f.A, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// C2: the licence number's rule as the Supreme Medical Council publishes it: seven digits,
// the first the sum of the next six weighted 1…6 modulo 11, never 0.
func TestLicenceNumberCheck(t *testing.T) {
	for s, want := range map[string]bool{"5425740": true, "1234567": false, "5425741": false, "0000000": false,
		"542574": false, "54257400": false, "54a5740": false, "": false, "1000001": false, "6000001": true} {
		if got := validNPWZ(s); got != want {
			t.Errorf("validNPWZ(%q) = %v, want %v", s, got, want)
		}
	}
}

// C2 (issue 13.1): an account applies to be a doctor with his licence number and documents;
// a wrong number, no document or a document that is not a PDF or an image is refused next
// to its field; the role comes only when the administrator approves: then the directory
// record of that number is his, he is told, and it is audited. A facility's application
// refused with a reason gives no role, and its applicant reads the reason. A second
// decision finds nothing pending; no one but the administrator opens the queue.
func TestRoleOnlyAfterVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.doctor.LicenceNumber, f.doctor.Bookable = "5425740", false // imported: listed, not bookable
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		f.h.Host.Users[f.A.ID] = append(f.h.Host.Users[f.A.ID], sdk.User{ID: "u1", Name: "Anna Kowalska", Roles: []string{"user"}},
			sdk.User{ID: "u2", Name: "Jan Lis", Roles: []string{"user"}})
		u1 := &sdk.User{ID: "u1", Name: "Anna Kowalska", Roles: []string{"user"}}
		u2 := &sdk.User{ID: "u2", Name: "Jan Lis", Roles: []string{"user"}}
		admin := &sdk.User{ID: "adm", Name: "Admin", Roles: []string{"tenant_admin"}}
		doc := pngOf(t, 200, 200)
		pending := func() int64 {
			var n int64
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				var err error
				n, err = sc.Select((*Application)(nil)).Where("ap.status = 'pending'").Count(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, c := range []struct {
			number string
			files  [][]byte
			want   string
		}{{"5425741", [][]byte{doc}, "cyfrą kontrolną"}, {"5425740", nil, "co najmniej jeden dokument"},
			{"5425740", [][]byte{[]byte("<html>")}, "plikiem PDF albo zdjęciem"}} {
			res := f.multipart(u1, "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {c.number}}, "documents", c.files...)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), c.want) || pending() != 0 {
				t.Fatalf("%s: %d, want %q\n%s", c.number, res.Status, c.want, res.Body)
			}
		}
		if res := f.multipart(u1, "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"542 5740"}}, "documents", doc); res.Status != http.StatusSeeOther || pending() != 1 {
			t.Fatalf("apply: %d\n%s", res.Status, res.Body)
		}
		if res := f.multipart(u1, "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"5425740"}}, "documents", doc); res.Status != http.StatusConflict ||
			!strings.Contains(string(res.Body), "czeka już na sprawdzenie") || pending() != 1 {
			t.Fatalf("a second application: %d", res.Status)
		}
		pdf := pdfdoc.New("Wpis do rejestru", "Centrum Zdrowia", f.now)
		pdf.Text("Księga rejestrowa 000000012345")
		pdfData, err := pdf.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if res := f.multipart(u2, "/calendar/apply", url.Values{"kind": {"facility"}, "register_number": {"000000012345"}, "name": {"Centrum Zdrowia"}, "city": {"Łódź"}},
			"documents", pdfData, doc); res.Status != http.StatusSeeOther || pending() != 2 {
			t.Fatalf("the facility applies: %d\n%s", res.Status, res.Body)
		}
		roles := func(id string) string {
			for _, u := range f.h.Host.Users[f.A.ID] {
				if u.ID == id {
					return strings.Join(u.Roles, ",")
				}
			}
			return ""
		}
		if roles("u1") != "user" {
			t.Fatal("a role before the check")
		}
		// The queue is the administrator's: the core lets only the permission's holders in,
		// and only tenant_admin holds it.
		for _, r := range f.h.Manifest.Routes {
			if strings.HasPrefix(r.Path, "/calendar/admin/applications") && r.Permission != permVerify {
				t.Fatalf("%s %s is open to %q", r.Method, r.Path, r.Permission)
			}
		}
		for _, p := range f.h.Manifest.Permissions {
			if p.Name == permVerify && strings.Join(p.Grants, ",") != "tenant_admin" {
				t.Fatalf("%s granted to %v", permVerify, p.Grants)
			}
		}
		queue := string(f.send(admin, "GET", "/calendar/admin/applications", nil).Body)
		if !strings.Contains(queue, "5425740") || !strings.Contains(queue, "Centrum Zdrowia") || !strings.Contains(queue, "cyfra kontrolna się zgadza") {
			t.Fatalf("queue:\n%s", queue)
		}
		var apps []Application
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&apps).Order("ap.kind").Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		docApp, facApp := apps[0], apps[1]
		if res := f.send(admin, "GET", "/calendar/admin/applications/"+docApp.ID+"/documents/0", nil); res.Status != 200 || !bytes.Equal(res.Body, doc) {
			t.Fatalf("document: %d", res.Status)
		}
		if res := f.send(admin, "GET", "/calendar/admin/applications/"+facApp.ID+"/documents/0", nil); res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
			!bytes.Equal(res.Body, pdfData) || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("the facility's PDF: %d %v", res.Status, res.Header)
		}
		if !strings.Contains(queue, "/calendar/admin/applications/"+facApp.ID+"/documents/1") {
			t.Fatal("the queue does not link the facility's second document")
		}
		if res := f.send(admin, "GET", "/calendar/admin/applications/"+docApp.ID+"/documents/7", nil); res.Status != 404 {
			t.Fatalf("a document that is not there: %d", res.Status)
		}
		if res := f.send(admin, "POST", "/calendar/admin/applications/"+docApp.ID+"/approve", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("approve: %d\n%s", res.Status, res.Body)
		}
		if roles("u1") != "user,doctor" {
			t.Fatalf("roles after approval: %s", roles("u1"))
		}
		var d Doctor
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&d).Where("dr.id = ?", f.doctor.ID).Scan(ctx)
		}); err != nil || d.UserID != "u1" || !d.Bookable {
			t.Fatalf("the record of that licence number is not his: %+v %v", d, err)
		}
		if res := f.send(admin, "POST", "/calendar/admin/applications/"+docApp.ID+"/approve", url.Values{}); !strings.Contains(res.Header.Get("Location"), "already_decided") {
			t.Fatalf("a second approval: %s", res.Header.Get("Location"))
		}
		// Refused with a reason: no role; the reason reaches him.
		if res := f.send(admin, "POST", "/calendar/admin/applications/"+facApp.ID+"/refuse", url.Values{"reason": {"  "}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Podaj powód odmowy") || pending() != 1 {
			t.Fatalf("a refusal without a reason: %d", res.Status)
		}
		if res := f.send(admin, "POST", "/calendar/admin/applications/"+facApp.ID+"/refuse", url.Values{"reason": {"Numer nie figuruje w rejestrze."}}); res.Status != http.StatusSeeOther {
			t.Fatalf("refuse: %d", res.Status)
		}
		if roles("u2") != "user" || pending() != 0 {
			t.Fatalf("after a refusal: %s, %d pending", roles("u2"), pending())
		}
		if body := string(f.send(u2, "GET", "/calendar/apply", nil).Body); !strings.Contains(body, "odrzucony") || !strings.Contains(body, "Numer nie figuruje w rejestrze.") {
			t.Fatalf("the applicant's page:\n%s", body)
		}
		var approved, refused bool
		for _, m := range f.h.Host.Messages {
			approved = approved || m.Value.Template == tmplApplicationApproved && m.Value.UserID == "u1"
			refused = refused || m.Value.Template == tmplApplicationRefused && m.Value.UserID == "u2" && m.Value.Data["Reason"] == "Numer nie figuruje w rejestrze."
		}
		if !approved || !refused {
			t.Fatalf("messages: %+v", f.h.Host.Messages)
		}
		var audited []string
		for _, a := range f.h.Host.Audits {
			audited = append(audited, a.Value.Action+":"+a.Value.Subject)
		}
		if got := strings.Join(audited, " "); !strings.Contains(got, auditApplicationApproved+":u1") || !strings.Contains(got, auditApplicationRefused+":u2") {
			t.Fatalf("audit: %s", got)
		}
		// Approved, a facility with no record yet gets a new one, its account's.
		if res := f.multipart(u2, "/calendar/apply", url.Values{"kind": {"facility"}, "register_number": {"000000054321"}, "name": {"Nowa Przychodnia"}, "city": {"Kraków"}},
			"documents", doc); res.Status != http.StatusSeeOther {
			t.Fatalf("apply again: %d", res.Status)
		}
		var again Application
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&again).Where("ap.status = 'pending'").Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		f.send(admin, "POST", "/calendar/admin/applications/"+again.ID+"/approve", url.Values{})
		var fa Facility
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&fa).Where("fa.register_number = '000000054321'").Scan(ctx)
		}); err != nil || fa.UserID != "u2" || fa.Name != "Nowa Przychodnia" || fa.OwnerKind != ownerAccount || roles("u2") != "user,facility" {
			t.Fatalf("new facility: %+v %v, roles %s", fa, err, roles("u2"))
		}
	})
}

// C2: concurrent decisions on one application make one: the database's guarded update lets
// one approval through; the role is given once, one e-mail goes, one audit record.
func TestConcurrentApprovalsMakeOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.h.Host.Users[f.A.ID] = append(f.h.Host.Users[f.A.ID], sdk.User{ID: "u1", Name: "Anna Nowak", Roles: []string{"user"}})
		u1 := &sdk.User{ID: "u1", Name: "Anna Nowak", Roles: []string{"user"}}
		if res := f.multipart(u1, "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"6000001"}}, "documents", pngOf(t, 200, 200)); res.Status != http.StatusSeeOther {
			t.Fatalf("apply: %d", res.Status)
		}
		var a Application
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&a).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		admin := &sdk.User{ID: "adm", Roles: []string{"tenant_admin"}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		approved := 0
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				path, form := "/calendar/admin/applications/"+a.ID+"/approve", url.Values{}
				if i%3 == 2 {
					path, form = "/calendar/admin/applications/"+a.ID+"/refuse", url.Values{"reason": {"Brak dokumentu."}}
				}
				res := f.send(admin, "POST", path, form)
				if res.Status != http.StatusSeeOther {
					t.Errorf("decision %d: %d", i, res.Status)
				}
				if loc := res.Header.Get("Location"); strings.Contains(loc, "done=approved") || strings.Contains(loc, "done=refused") {
					mu.Lock()
					approved++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		var roleSets, messages, audits int
		for _, r := range f.h.Host.RoleSets {
			if r.Value[0] == "u1" {
				roleSets++
			}
		}
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplApplicationApproved || m.Value.Template == tmplApplicationRefused {
				messages++
			}
		}
		for _, x := range f.h.Host.Audits {
			if x.Value.Action == auditApplicationApproved || x.Value.Action == auditApplicationRefused {
				audits++
			}
		}
		var doctors int64
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			doctors, err = sc.Select((*Doctor)(nil)).Where("dr.licence_number = '6000001'").Count(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if approved != 1 || messages != 1 || audits != 1 || roleSets > 1 || doctors > 1 {
			t.Fatalf("%d decisions, %d role changes, %d messages, %d audits, %d records", approved, roleSets, messages, audits, doctors)
		}
	})
}
