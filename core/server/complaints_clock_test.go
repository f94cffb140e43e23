package server_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
)

var explainLinkRe = regexp.MustCompile(`https?://[^\s"<>]+/complaints/explain/[A-Za-z0-9_-]+`)

// TestComplaintClockC17: a complaint about the portal is answered within the tenant's rule
// (14 days), extended once by at most its rule (5) for a reason staff choose, the person
// told the new date by e-mail in his language; staff ask the person for explanations, the
// clock stands still from the question to his answer given on his complaint's page, and the
// due date moves by the paused days; every step audited (C17, P10, issue 13.10).
func TestComplaintClockC17(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		tn := e.tenant("elekarze")
		loc := tn.Location()
		day := func(tm time.Time) string { return tm.In(loc).Format("02.01.2006") }
		pl := e.client("elekarze.localhost")
		if r := pl.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"platform"}, "category": {"service"},
			"body": {"Nie mogę zarezerwować wizyty."}, "reply_to": {"pacjent@example.org"}}, nil); r.Status != 200 {
			t.Fatalf("lodge: %d", r.Status)
		}
		list, _ := e.srv.Complaints.Queue(ctx, tn.ID, complaints.Open)
		if len(list) != 1 {
			t.Fatalf("queue: %d", len(list))
		}
		c0 := list[0]
		if got, want := day(c0.DueAt), day(time.Now().AddDate(0, 0, 14)); got != want {
			t.Fatalf("due %s, want %s (14 days, the tenant's rule)", got, want)
		}
		admin := e.client("elekarze.localhost")
		admin.login("", "admin@elekarze.localhost", "demo-elekarze-admin")
		page := "/admin/complaints/" + c0.ID
		mustContain(t, admin.get(page), "Zostało 14 dni", "wymaga wiedzy specjalistycznej")

		// The reason is one of the rules' two: a free text is refused next to the field.
		r := admin.post(page, page+"/extend", url.Values{"days": {"5"}, "reason": {"bo tak"}})
		if r.Status != 422 {
			t.Fatalf("a reason that is not one of the rule's: %d", r.Status)
		}
		mustContain(t, r, `id="e-reason"`)
		if r := admin.post(page, page+"/extend", url.Values{"days": {"5"}, "reason": {"outside_control"}}); r.Status != 303 {
			t.Fatalf("extend: %d", r.Status)
		}
		c1, _ := e.srv.Complaints.Get(ctx, tn.ID, c0.ID)
		if got, want := day(c1.DueAt), day(c0.DueAt.AddDate(0, 0, 5)); got != want || c1.ExtendedDays != 5 {
			t.Fatalf("extended to %s (%d days), want %s", got, c1.ExtendedDays, want)
		}
		ms := e.mails("elekarze")
		m := ms[len(ms)-1]
		if !strings.Contains(m.To, "pacjent@example.org") || m.Lang != "pl" || !strings.Contains(m.Subject, "nowy termin") ||
			!strings.Contains(m.Text, day(c1.DueAt)) || !strings.Contains(m.Text, "z przyczyn niezależnych od nas") {
			t.Fatalf("extension mail: %+v", m)
		}
		pages := map[string]string{}
		p := admin.get(page)
		mustContain(t, p, "Przedłużono o 5 dni", "z przyczyn niezależnych od nas")
		pages["extended"] = p.Body
		mustNotContain(t, p, "outside_control")

		// Staff ask; the person is e-mailed the question with the link to his complaint's page.
		if r := admin.post(page, page+"/question", url.Values{"question": {""}}); r.Status != 422 {
			t.Fatalf("an empty question: %d", r.Status)
		}
		if r := admin.post(page, page+"/question", url.Values{"question": {"Proszę podać nazwisko lekarza."}}); r.Status != 303 {
			t.Fatalf("ask: %d", r.Status)
		}
		if r := admin.post(page, page+"/question", url.Values{"question": {"Drugie pytanie"}}); r.Status != 422 {
			t.Fatalf("a second question while one waits: %d", r.Status)
		}
		ms = e.mails("elekarze")
		m = ms[len(ms)-1]
		link := explainLinkRe.FindString(m.Text)
		if !strings.Contains(m.To, "pacjent@example.org") || m.Lang != "pl" || !strings.Contains(m.Text, "Proszę podać nazwisko lekarza.") || link == "" {
			t.Fatalf("question mail: %+v", m)
		}

		// 25 days later, past the due date: the clock stood still, the complaint is not late.
		later := time.Now().UTC().AddDate(0, 0, 25)
		e.srv.Complaints.Now = func() time.Time { return later }
		q := admin.get("/admin/complaints")
		mustContain(t, q, "Czeka na wyjaśnienia")
		mustNotContain(t, q, "Po terminie")

		person := e.client("elekarze.localhost")
		g := person.get(pathOf(link))
		if g.Status != 200 {
			t.Fatalf("the complaint's page: %d", g.Status)
		}
		mustContain(t, g, "Proszę podać nazwisko lekarza.", "Termin wstrzymany od "+day(time.Now()))
		pages["question"] = g.Body
		pages["paused"] = admin.get(page).Body
		if r := person.post(pathOf(link), pathOf(link), url.Values{"explanation": {" "}}); r.Status != 422 {
			t.Fatalf("an empty answer: %d", r.Status)
		} else {
			mustContain(t, r, `id="e-explanation"`)
			pages["question with an error"] = r.Body
		}
		r = person.post(pathOf(link), pathOf(link), url.Values{"explanation": {"Dr Anna Nowak."}})
		if r.Status != 200 {
			t.Fatalf("answer: %d %s", r.Status, mainOf(r.Body))
		}
		c2, _ := e.srv.Complaints.Get(ctx, tn.ID, c0.ID)
		if got, want := day(c2.DueAt), day(c1.DueAt.AddDate(0, 0, 25)); got != want || c2.PausedDays != 25 || c2.Paused() {
			t.Fatalf("due after the pause %s (%d days), want %s", got, c2.PausedDays, want)
		}
		mustContain(t, r, "Odpowiedź otrzymana", day(c2.DueAt))
		if r := person.post(pathOf(link), pathOf(link), url.Values{"explanation": {"Jeszcze raz"}}); r.Status != 422 {
			t.Fatalf("a second answer: %d", r.Status)
		} else {
			mustContain(t, r, "To pytanie nie oczekuje już odpowiedzi.")
		}
		if r := person.get("/complaints/explain/" + strings.Repeat("A", 43)); r.Status != 404 {
			t.Fatalf("an unknown link: %d", r.Status)
		}
		p = admin.get(page)
		mustContain(t, p, "Dr Anna Nowak.", "Termin przesunięty o 25 dni oczekiwania", "Zostało 19 dni")
		pages["explained"], pages["answered question"] = p.Body, person.get(pathOf(link)).Body
		for _, a := range []string{"admin.complaint_extended", "admin.complaint_question", "complaint.explained"} {
			if l, _ := e.srv.Trail.Search(ctx, tn.ID, audit.Filter{Action: a, ExactAction: true}); len(l) != 1 {
				t.Fatalf("%s audited %d times", a, len(l))
			}
		}
		t.Run("valid HTML", func(t *testing.T) {
			problems, err := browsertest.NeedChecks(t).ValidateHTML(pages)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	})
}

// TestComplaintClockHoldsC17: staff asking twice at once make one question; an extension and
// the person's answer arriving together both move the due date, once each (C17).
func TestComplaintClockHoldsC17(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		tn := e.tenant("elekarze")
		rules := complaints.RulesOf(tn)
		svc := e.srv.Complaints
		c0, err := svc.Lodge(ctx, tn.ID, rules, complaints.Draft{Module: "platform", Category: "service", Body: "Błąd",
			ReplyTo: "p@example.org", Locale: "pl"}, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		keys := make([]string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, k, err := svc.Ask(ctx, tn.ID, c0.ID, "staff", "Pytanie")
				var ferr form.Errors
				if err != nil && !errors.As(err, &ferr) {
					t.Errorf("ask: %v", err)
				}
				keys[i] = k
			}(i)
		}
		wg.Wait()
		key := ""
		for _, k := range keys {
			if k != "" {
				if key != "" {
					t.Fatal("two questions asked at once both wait")
				}
				key = k
			}
		}
		if key == "" {
			t.Fatal("no question")
		}
		start := time.Now().UTC()
		svc.Now = func() time.Time { return start.AddDate(0, 0, 3) }
		var extended, explained int
		var mu sync.Mutex
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := svc.Extend(ctx, tn.ID, c0.ID, rules, 5, "special_knowledge")
				mu.Lock()
				defer mu.Unlock()
				var ferr form.Errors
				if err == nil {
					extended++
				} else if !errors.As(err, &ferr) {
					t.Errorf("extend: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				_, err := svc.Explain(ctx, tn.ID, rules, key, "Wyjaśnienie")
				mu.Lock()
				defer mu.Unlock()
				var ferr form.Errors
				if err == nil {
					explained++
				} else if !errors.As(err, &ferr) {
					t.Errorf("explain: %v", err)
				}
			}()
		}
		wg.Wait()
		c1, _ := svc.Get(ctx, tn.ID, c0.ID)
		loc := tn.Location()
		if extended != 1 || explained != 1 || c1.ExtendedDays != 5 || c1.PausedDays != 3 ||
			c1.DueAt.In(loc).Format(time.DateOnly) != c0.DueAt.In(loc).AddDate(0, 0, 8).Format(time.DateOnly) {
			t.Fatalf("extended %d, explained %d: %d+%d days, due %s from %s", extended, explained, c1.ExtendedDays, c1.PausedDays, c1.DueAt, c0.DueAt)
		}
	})
}
