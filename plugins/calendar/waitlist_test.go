package calendar

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// offers are the waitlist messages sent so far: the offer id of each, by recipient.
func (f *fixture) offers() map[string]string {
	out := map[string]string{}
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmplWaitlistOffer {
			out[m.Value.UserID] = strings.TrimPrefix(m.Value.Link, "/calendar/offers/")
		}
	}
	return out
}

// Issue 13.9: patients join the waitlist of a doctor's service from its booking page; a
// start freed by a patient's cancellation is e-mailed to each of them; 20 claim it at once
// and exactly one gets it, the others being told it is gone; a start the doctor cancelled
// is not offered again; an offer lapses once its start has come.
func TestWaitlistOfferAndRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.window(2, 9*60, 12*60) // Tuesdays 9:00–12:00 in Warsaw: tuesday (10:00) is a start
		svc := f.services[30]
		first := f.booking(svc, tuesday, testPESEL(100))
		first.UserID, first.BookedBy = "p0", "p0"
		if err := f.m.reserve(ctx, f.A, first); err != nil {
			t.Fatal(err)
		}
		users := make([]*sdk.User, 20)
		for i := range users {
			users[i] = &sdk.User{ID: fmt.Sprintf("w%d", i), Email: fmt.Sprintf("w%d@example.org", i), Name: fmt.Sprintf("Pacjent Numer%d", i), Roles: []string{"user"}}
		}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + svc.ID + "&week=2026-12-01"
		if body := string(f.send(users[0], "GET", week, nil).Body); !strings.Contains(body, "/calendar/doctors/"+f.doctor.ID+"/waitlist?service="+svc.ID) {
			t.Fatalf("booking page has no waitlist link:\n%s", body)
		}
		join := "/calendar/doctors/" + f.doctor.ID + "/waitlist"
		if res := f.send(users[0], "POST", join, url.Values{"service": {svc.ID}, "pesel": {"123"}, "mobile": {"+48601234567"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "11 cyfr") {
			t.Fatalf("bad join: %d\n%s", res.Status, res.Body)
		}
		for i, u := range users {
			form := url.Values{"service": {svc.ID}, "pesel": {testPESEL(i + 1)}, "mobile": {"+48601234567"}}
			if res := f.send(u, "POST", join, form); res.Status != http.StatusSeeOther {
				t.Fatalf("join %d: %d\n%s", i, res.Status, res.Body)
			}
		}
		f.send(users[0], "POST", join, url.Values{"service": {svc.ID}, "pesel": {testPESEL(1)}, "mobile": {"+48601234567"}}) // again: no second entry
		if body := string(f.send(users[0], "GET", "/calendar/visits", nil).Body); strings.Count(body, "/leave") != 1 || !strings.Contains(body, "Konsultacja 30 min") {
			t.Fatalf("visits page:\n%s", body)
		}
		// The doctor's patient cancels: everyone waiting is offered the start.
		p0 := &sdk.User{ID: "p0", Roles: []string{"user"}}
		if res := f.send(p0, "POST", "/calendar/visits/"+first.ID+"/cancel", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", res.Status)
		}
		offers := f.offers()
		if len(offers) != 20 {
			t.Fatalf("%d offers, want 20", len(offers))
		}
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplWaitlistOffer && (m.Value.Data["Doctor"] != "dr n. med. Anna Kowalska" || !strings.Contains(fmt.Sprint(m.Value.Data["When"]), "10:00")) {
				t.Fatalf("offer message: %+v", m.Value)
			}
		}
		if res := f.send(users[1], "GET", "/calendar/offers/"+offers["w0"], nil); res.Status != http.StatusNotFound {
			t.Fatalf("another's offer: %d", res.Status)
		}
		if body := string(f.send(users[0], "GET", "/calendar/offers/"+offers["w0"], nil).Body); !strings.Contains(body, "Rezerwuję ten termin") {
			t.Fatalf("offer page:\n%s", body)
		}
		// All claim at once.
		statuses := make([]int, len(users))
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"consent_doctor": {"yes"}}
				req := &sdk.Request{Method: "POST", Path: "/calendar/offers/" + offers[u.ID], RemoteIP: "10.9.9.9", TermsVersion: "terms-v3",
					Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(form.Encode())}
				res, err := f.h.Send(ctx, f.A, u, req)
				if err != nil {
					statuses[i] = -1
					return
				}
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		won, winner := 0, -1
		for i, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				won, winner = won+1, i
			case http.StatusConflict:
			default:
				t.Fatalf("claim %d: %d", i, s)
			}
		}
		live := f.live(f.A)
		if won != 1 || len(live) != 1 || !live[0].StartsAt.Equal(tuesday) || live[0].UserID != users[winner].ID || live[0].PESEL != testPESEL(winner+1) ||
			live[0].TermsVersion != "terms-v3" {
			t.Fatalf("%d won, live %+v", won, live)
		}
		loser := (winner + 1) % len(users)
		if body := string(f.send(users[loser], "GET", "/calendar/offers/"+offers[users[loser].ID], nil).Body); !strings.Contains(body, "Ten termin jest już zajęty") {
			t.Fatalf("loser's offer page:\n%s", body)
		}
		// The winner left the waitlist; the others are still on it.
		var n int
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			c, err := sc.Select((*Waiter)(nil)).Count(ctx)
			n = int(c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != 19 {
			t.Fatalf("%d waiting, want 19", n)
		}
		// The doctor cancels the winner's visit: not offered again, and the old offers stay
		// gone.
		f.linkDoctor(f.doctor.ID, "doc1")
		doc := &sdk.User{ID: "doc1", Roles: []string{"doctor"}}
		if res := f.send(doc, "POST", "/calendar/agenda/"+live[0].ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("doctor's cancellation: %d", res.Status)
		}
		count := 0
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplWaitlistOffer {
				count++
			}
		}
		if count != 20 {
			t.Fatalf("after the doctor's cancellation %d offers, want 20", count)
		}
		form := url.Values{"consent_doctor": {"yes"}}
		if res := f.send(users[loser], "POST", "/calendar/offers/"+offers[users[loser].ID], form); res.Status != http.StatusConflict || len(f.live(f.A)) != 0 {
			t.Fatalf("claiming a start the doctor cancelled: %d", res.Status)
		}
		// A start freed again by a patient, offered, then begun: the offer has lapsed.
		again := f.booking(svc, tuesday.Add(30*time.Minute), testPESEL(200))
		again.UserID = "p0"
		if err := f.m.reserve(ctx, f.A, again); err != nil {
			t.Fatal(err)
		}
		if res := f.send(p0, "POST", "/calendar/visits/"+again.ID+"/cancel", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", res.Status)
		}
		late := f.offers()[users[loser].ID]
		if late == offers[users[loser].ID] {
			t.Fatal("no new offer")
		}
		f.now = again.StartsAt.Add(time.Minute)
		if res := f.send(users[loser], "POST", "/calendar/offers/"+late, form); res.Status != http.StatusConflict || len(f.live(f.A)) != 0 {
			t.Fatalf("claiming a begun start: %d", res.Status)
		}
	})
}

// C12, P11, issue 13.9: a patient barred from booking with the doctor cannot wait for his
// starts and is told why; a patient's waitlist is in his export, and goes with his account.
func TestWaitlistBarredAndErasure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		svc := f.services[30]
		booked := f.visitOn(f.doctor.ID, testPESEL(50), november, statusCompleted)
		if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&BlacklistEntry{TenantID: f.A.ID, ID: newID(), DoctorID: f.doctor.ID, PESEL: testPESEL(50), Ground: groundTermsBreach,
				BookingID: booked.ID, Status: entryActive, CreatedAt: f.now}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		waiting := func() int {
			var n int
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				c, err := sc.Select((*Waiter)(nil)).Count(ctx)
				n = int(c)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		join := "/calendar/doctors/" + f.doctor.ID + "/waitlist"
		barred := &sdk.User{ID: "w50", Email: "w50@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		res := f.send(barred, "POST", join, url.Values{"service": {svc.ID}, "pesel": {testPESEL(50)}, "mobile": {"+48601234567"}})
		if res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), "rażącego naruszenia regulaminu") || waiting() != 0 {
			t.Fatalf("barred join: %d\n%s", res.Status, res.Body)
		}
		u := &sdk.User{ID: "w1", Email: "w1@example.org", Name: "Ewa Lis", Roles: []string{"user"}}
		if res := f.send(u, "POST", join, url.Values{"service": {svc.ID}, "pesel": {testPESEL(1)}, "mobile": {"+48601234567"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("join: %d", res.Status)
		}
		raw, err := f.h.Export(ctx, f.A, "w1")
		if err != nil || !strings.Contains(string(raw), `"waitlists"`) || !strings.Contains(string(raw), testPESEL(1)) {
			t.Fatalf("export: %v %s", err, raw)
		}
		if err := f.h.Event(ctx, f.A, host.EventUserDeleted, []byte("w1")); err != nil {
			t.Fatal(err)
		}
		if n := waiting(); n != 0 {
			t.Fatalf("%d waiting after erasure", n)
		}
	})
}
