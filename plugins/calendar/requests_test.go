package calendar

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// C16 (issue 13.10): a person without an account asks a doctor, from his page, about his
// booking data; bad input is refused next to its field and nothing is stored; the request
// reaches the doctor's and his facility's page with its due date (the tenant's rule, 30
// days), and shows overdue once past it; the doctor refuses only with a reason, answers
// once, and the person gets the answer by e-mail. Another doctor sees nothing of it.
func TestRightsRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, second := agendaFixture(t, b)
		ctx := context.Background()
		path := "/calendar/doctors/" + f.doctor.ID + "/rights"
		if body := string(f.get(f.A, nil, "10.0.0.1", "/calendar/doctors/"+f.doctor.ID).Body); !strings.Contains(body, path) {
			t.Fatal("the doctor's page has no link to the form")
		}
		if res := f.get(f.A, nil, "10.0.0.1", path); res.Status != 200 || !strings.Contains(string(res.Body), "w ciągu 30 dni") {
			t.Fatalf("form: %d\n%s", res.Status, res.Body)
		}
		post := func(form url.Values) *sdk.Response {
			req := &sdk.Request{Method: "POST", Path: path, RemoteIP: "10.0.0.1", Header: http.Header{}, Body: []byte(form.Encode())}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := f.h.Send(ctx, f.A, nil, req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		stored := func() []RightsRequest {
			var out []RightsRequest
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&out).Scan(ctx) }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		res := post(url.Values{"name": {"Ewa Lis"}, "pesel": {"90010112340"}, "email": {"ewa@"}, "kind": {"everything"}})
		if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "ostatnia nie zgadza się") ||
			!strings.Contains(body, "Podaj prawidłowy adres e-mail") || !strings.Contains(body, "Wybierz, czego dotyczy") || len(stored()) != 0 {
			t.Fatalf("bad request: %d\n%s", res.Status, body)
		}
		res = post(url.Values{"name": {"Ewa Lis"}, "pesel": {"90010112349"}, "email": {"ewa@example.org"}, "kind": {"erasure"}, "message": {"Proszę usunąć moje dane."}})
		if res.Status != http.StatusSeeOther || len(stored()) != 1 {
			t.Fatalf("request: %d\n%s", res.Status, res.Body)
		}
		r := stored()[0]
		if r.Status != "open" || r.UserID != "" || !r.DueAt.Equal(f.now.AddDate(0, 0, 30)) || r.DoctorID != f.doctor.ID {
			t.Fatalf("stored: %+v", r)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		fac := &sdk.User{ID: "fac1", Name: "Przychodnia", Roles: []string{"facility"}}
		for _, u := range []*sdk.User{doc, fac} {
			body := string(f.send(u, "GET", "/calendar/requests", nil).Body)
			if !strings.Contains(body, "usunięcie danych") || !strings.Contains(body, "Ewa Lis") || !strings.Contains(body, "termin odpowiedzi: 20.12.2026") {
				t.Fatalf("%s's requests:\n%s", u.ID, body)
			}
		}
		second.UserID = "doc2"
		if err := f.m.saveDoctor(ctx, f.A, second, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		other := &sdk.User{ID: "doc2", Roles: []string{"doctor"}}
		if body := string(f.send(other, "GET", "/calendar/requests", nil).Body); strings.Contains(body, "Ewa Lis") {
			t.Fatal("another doctor sees the request")
		}
		if res := f.send(other, "POST", "/calendar/requests/"+r.ID+"/answer", url.Values{"outcome": {"done"}}); res.Status != 404 {
			t.Fatalf("another doctor answers: %d", res.Status)
		}
		f.now = f.now.AddDate(0, 0, 31)
		if body := string(f.send(doc, "GET", "/calendar/requests", nil).Body); !strings.Contains(body, "termin minął 20.12.2026") {
			t.Fatalf("overdue:\n%s", body)
		}
		if res := f.send(doc, "POST", "/calendar/requests/"+r.ID+"/answer", url.Values{"outcome": {"refused"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Odmowa wymaga uzasadnienia") || stored()[0].Status != "open" {
			t.Fatalf("a refusal without a reason: %d", res.Status)
		}
		if res := f.send(doc, "POST", "/calendar/requests/"+r.ID+"/answer", url.Values{"outcome": {"maybe"}}); res.Status != 400 {
			t.Fatalf("an unknown outcome: %d", res.Status)
		}
		note := "Dane z rezerwacji przechowuję zgodnie z przepisami o dokumentacji medycznej."
		if res := f.send(doc, "POST", "/calendar/requests/"+r.ID+"/answer", url.Values{"outcome": {"refused"}, "note": {note}}); res.Status != http.StatusSeeOther {
			t.Fatalf("answer: %d", res.Status)
		}
		if got := stored()[0]; got.Status != "refused" || got.Answer != note || got.AnsweredBy != "doc1" {
			t.Fatalf("answered: %+v", got)
		}
		if res := f.send(fac, "POST", "/calendar/requests/"+r.ID+"/answer", url.Values{"outcome": {"done"}}); !strings.Contains(res.Header.Get("Location"), "already_answered") ||
			stored()[0].Status != "refused" {
			t.Fatalf("a second answer: %s", res.Header.Get("Location"))
		}
		sent := 0
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplRightsAnswered && m.Value.To == "ewa@example.org" && m.Value.Data["Kind"] == "usunięcie danych" &&
				m.Value.Data["Outcome"] == "odmowa" && m.Value.Data["Note"] == note {
				sent++
			}
		}
		if sent != 1 {
			t.Fatalf("%d answers sent: %+v", sent, f.h.Host.Messages)
		}
		audited := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == auditRightsAnswered && a.Value.Resource == "rights_request:"+r.ID {
				audited++
			}
		}
		if audited != 1 {
			t.Fatalf("%d audit records of the answer", audited)
		}
	})
}

// C16, P11: a signed-in person's data-rights request and application are in his export;
// when his account is erased, the request stays with the doctor who must answer it,
// detached from the account, and the application goes with its documents.
func TestErasureKeepsRightsRequestsDropsApplications(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		u := &sdk.User{ID: "p1", Name: "Ewa Lis", Email: "ewa@example.org", Roles: []string{"user"}}
		if res := f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/rights", url.Values{"name": {"Ewa Lis"}, "pesel": {"90010112349"},
			"email": {"ewa@example.org"}, "kind": {"access"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("request: %d\n%s", res.Status, res.Body)
		}
		if res := f.multipart(u, "/calendar/apply", url.Values{"kind": {"doctor"}, "register_number": {"5425740"}}, "documents", pngOf(t, 200, 200)); res.Status != http.StatusSeeOther {
			t.Fatalf("apply: %d", res.Status)
		}
		raw, err := f.h.Export(ctx, f.A, "p1")
		if err != nil || !strings.Contains(string(raw), "5425740") || !strings.Contains(string(raw), "90010112349") {
			t.Fatalf("export: %v %s", err, raw)
		}
		if err := f.h.Event(ctx, f.A, host.EventUserDeleted, []byte("p1")); err != nil {
			t.Fatal(err)
		}
		var reqs []RightsRequest
		var apps []Application
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&apps).Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&reqs).Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if len(reqs) != 1 || reqs[0].UserID != "" || reqs[0].Email != "ewa@example.org" || len(apps) != 0 || len(f.h.Host.Blobs) != 0 {
			t.Fatalf("after erasure: %+v, %d applications, %d blobs", reqs, len(apps), len(f.h.Host.Blobs))
		}
		if raw, _ := f.h.Export(ctx, f.A, "p1"); strings.Contains(string(raw), "5425740") || strings.Contains(string(raw), "90010112349") {
			t.Fatalf("export after erasure: %s", raw)
		}
	})
}

// C1: the public data-rights form names a doctor, so it counts against the client's
// directory budget like his page: a loop over it is cut off with a 429.
func TestRightsFormCountsAgainstTheBudget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		limit := int(directoryPerIP.Of(f.A))
		for i := 0; i <= limit; i++ {
			res := f.get(f.A, nil, "10.7.7.7", "/calendar/doctors/"+f.doctor.ID+"/rights")
			if i < limit && res.Status != 200 {
				t.Fatalf("request %d: %d", i+1, res.Status)
			}
			if i == limit && res.Status != http.StatusTooManyRequests {
				t.Fatalf("request %d over the budget of %d: %d", i+1, limit, res.Status)
			}
		}
	})
}

// C16: the answer's due date is the tenant's rule: a tenant that gives its doctors 10 days
// gets requests due in 10 days.
func TestRightsDueDateIsTheTenantsRule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		rules, err := f.h.Manifest.ValidateRules(map[string]any{"calendar.rights_answer_days": 10})
		if err != nil {
			t.Fatal(err)
		}
		ten := f.A
		ten.Rules = rules
		form := url.Values{"name": {"Ewa Lis"}, "pesel": {"90010112349"}, "email": {"ewa@example.org"}, "kind": {"rectification"}}
		req := &sdk.Request{Method: "POST", Path: "/calendar/doctors/" + f.doctor.ID + "/rights", RemoteIP: "10.0.0.2", Header: http.Header{}, Body: []byte(form.Encode())}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if res, err := f.h.Send(context.Background(), ten, nil, req); err != nil || res.Status != http.StatusSeeOther {
			t.Fatalf("request: %v %+v", err, res)
		}
		var r RightsRequest
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&r).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		if !r.DueAt.Equal(f.now.AddDate(0, 0, 10)) {
			t.Fatalf("due %v, want %v", r.DueAt, f.now.AddDate(0, 0, 10))
		}
	})
}
