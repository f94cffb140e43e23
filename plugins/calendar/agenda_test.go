package calendar

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// booking reads one booking of tenant A by id.
func (f *fixture) bookingByID(id string) Booking {
	f.t.Helper()
	var b Booking
	if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&b).Where("bk.id = ?", id).Scan(ctx)
	}); err != nil {
		f.t.Fatal(err)
	}
	return b
}

// agendaFixture gives the fixture's doctor the account doc1, its facility the account
// fac1, a second doctor at the facility, and books: for the first doctor a visit on
// Tuesday 1 December (made by someone else for the patient) and one on Wednesday; for the
// second doctor one on Tuesday.
func agendaFixture(t *testing.T, b storetest.Backend) (f *fixture, mine, wed, hers *Booking, second *Doctor) {
	f = setup(t, b)
	ctx := context.Background()
	f.doctor.UserID = "doc1"
	if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
		t.Fatal(err)
	}
	f.facility.UserID = "fac1"
	if err := f.m.saveFacility(ctx, f.A, f.facility); err != nil {
		t.Fatal(err)
	}
	second = &Doctor{FirstName: "Ewa", LastName: "Zielińska", Bookable: true, OnlineCalendar: true}
	if err := f.m.saveDoctor(ctx, f.A, second, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
		t.Fatal(err)
	}
	svc2 := &Service{DoctorID: second.ID, FacilityID: f.facility.ID, Name: "Konsultacja", DurationMinutes: 30, PriceMinor: 1000, Active: true}
	if err := f.m.saveService(ctx, f.A, svc2); err != nil {
		t.Fatal(err)
	}
	mine = f.booking(f.services[30], tuesday, "85030212344")
	mine.ForOther, mine.PatientFirstName, mine.PatientLastName, mine.Email = true, "Zofia", "Nowak", "zofia@example.org"
	wed = f.booking(f.services[30], tuesday.AddDate(0, 0, 1), "90010112349")
	hers = f.booking(svc2, tuesday, "90010112349")
	hers.PatientFirstName, hers.PatientLastName = "Piotr", "Wiśniewski"
	for _, bk := range []*Booking{mine, wed, hers} {
		if err := f.m.reserve(ctx, f.A, bk); err != nil {
			t.Fatal(err)
		}
	}
	return f, mine, wed, hers, second
}

// Issue 13.6, C2, C9: the doctor's week and day show his visits with their status in words
// and the patient's details (name, PESEL, mobile, e-mail, booked by another person); the
// facility's account sees all its doctors and can narrow to one; an account that manages
// no doctor sees none, and no one else's.
func TestAgendaDayWeekAndFacility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, mine, wed, hers, second := agendaFixture(t, b)
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		fac := &sdk.User{ID: "fac1", Name: "Przychodnia", Roles: []string{"facility"}}
		week := string(f.send(doc, "GET", "/calendar/agenda?from=2026-12-02", nil).Body)
		for _, want := range []string{"Zofia Nowak", "85030212344", "zofia@example.org", "href=\"tel:&#43;48601234567\"", "Wizytę umówiła inna osoba",
			"Potwierdzona", "01.12.2026", "02.12.2026"} {
			if !strings.Contains(week, want) {
				t.Fatalf("week lacks %q:\n%s", want, week)
			}
		}
		if strings.Contains(week, "Wiśniewski") || strings.Contains(week, "confirmed<") {
			t.Fatalf("the doctor's week shows another doctor's visit or a raw status:\n%s", week)
		}
		day := string(f.send(doc, "GET", "/calendar/agenda?view=day&from=2026-12-02", nil).Body)
		if strings.Contains(day, "Zofia") || !strings.Contains(day, wed.PESEL) {
			t.Fatalf("the day of 2 December:\n%s", day)
		}
		all := string(f.send(fac, "GET", "/calendar/agenda?from=2026-11-30", nil).Body)
		if !strings.Contains(all, "Zofia Nowak") || !strings.Contains(all, "Piotr Wiśniewski") || !strings.Contains(all, "Ewa Zielińska") {
			t.Fatalf("the facility's week:\n%s", all)
		}
		one := string(f.send(fac, "GET", "/calendar/agenda?from=2026-11-30&doctor="+second.ID, nil).Body)
		if strings.Contains(one, "Zofia") || !strings.Contains(one, "Piotr Wiśniewski") {
			t.Fatalf("the facility's week for one doctor:\n%s", one)
		}
		if res := f.send(doc, "GET", "/calendar/agenda?from=2026-11-30&doctor="+second.ID, nil); res.Status != 404 {
			t.Fatalf("a doctor picking a colleague: %d", res.Status)
		}
		if res := f.send(doc, "GET", "/calendar/agenda?view=month", nil); res.Status != 400 {
			t.Fatalf("an unknown view: %d", res.Status)
		}
		other := &sdk.User{ID: "doc9", Roles: []string{"doctor"}}
		if body := string(f.send(other, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); strings.Contains(body, "Nowak") ||
			!strings.Contains(body, "nie jest powiązane") {
			t.Fatalf("an account without doctors:\n%s", body)
		}
		// The facility cancels a visit of its doctor with a reason (C10).
		if res := f.send(fac, "POST", "/calendar/agenda/"+hers.ID+"/cancel", url.Values{"reason": {"facility_closed"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("the facility cancels: %d", res.Status)
		}
		if got := f.bookingByID(hers.ID); got.Status != statusCancelledDoctor {
			t.Fatalf("after the facility's cancellation: %s", got.Status)
		}
		if got := f.bookingByID(mine.ID); got.Status != statusConfirmed {
			t.Fatalf("another visit changed: %s", got.Status)
		}
	})
}

// Issue 13.6: a confirmed visit is marked a no-show or completed only once it has begun,
// by a guarded update from confirmed: before its start nothing changes; a second mark, or
// a mark of a cancelled visit, changes nothing; another doctor cannot mark it; of many
// concurrent marks exactly one applies.
func TestAgendaMarksNoShowAndCompleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, mine, wed, _, _ := agendaFixture(t, b)
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		mark := func(u *sdk.User, id, outcome string) *sdk.Response {
			return f.send(u, "POST", "/calendar/agenda/"+id+"/outcome", url.Values{"outcome": {outcome}, "view": {"week"}, "from": {"2026-11-30"}})
		}
		if res := mark(doc, mine.ID, "no_show"); res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=not_started") ||
			f.bookingByID(mine.ID).Status != statusConfirmed {
			t.Fatalf("before the start: %d %s", res.Status, res.Header.Get("Location"))
		}
		body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body)
		if strings.Contains(body, "/outcome\"") {
			t.Fatal("the agenda offers to mark a visit to come")
		}
		f.now = tuesday.Add(10 * time.Minute)
		body = string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body)
		if strings.Count(body, "/outcome\"") != 1 {
			t.Fatalf("the agenda offers %d marks once the first visit began", strings.Count(body, "/outcome\""))
		}
		if res := mark(doc, mine.ID, "absent"); res.Status != 400 {
			t.Fatalf("an unknown outcome: %d", res.Status)
		}
		if res := mark(&sdk.User{ID: "doc9", Roles: []string{"doctor"}}, mine.ID, "no_show"); res.Status != 404 {
			t.Fatalf("another doctor: %d", res.Status)
		}
		// Concurrent marks: exactly one applies.
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				outcome := []string{"no_show", "completed"}[i%2]
				res := mark(doc, mine.ID, outcome)
				if res.Status != http.StatusSeeOther {
					t.Errorf("mark %d: %d", i, res.Status)
				}
				if strings.Contains(res.Header.Get("Location"), "done=marked_") {
					mu.Lock()
					applied++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		got := f.bookingByID(mine.ID)
		if applied != 1 || (got.Status != statusNoShow && got.Status != statusCompleted) {
			t.Fatalf("%d marks applied, status %s", applied, got.Status)
		}
		if res := mark(doc, mine.ID, "completed"); !strings.Contains(res.Header.Get("Location"), "done=not_markable") || f.bookingByID(mine.ID).Status != got.Status {
			t.Fatalf("a second mark: %s", res.Header.Get("Location"))
		}
		body = string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body)
		if want := map[string]string{statusNoShow: "Pacjent nie przyszedł", statusCompleted: "Odbyta"}[got.Status]; !strings.Contains(body, "<strong>"+want+"</strong>") {
			t.Fatalf("the agenda does not say %q:\n%s", want, body)
		}
		// The marked visit still holds its time (C9).
		if err := f.m.reserve(context.Background(), f.A, f.booking(f.services[30], tuesday, testPESEL(7))); err == nil {
			t.Fatal("a marked visit's time was free")
		}
		// A cancelled visit cannot be marked.
		f.now = wed.StartsAt.Add(-time.Hour)
		if res := f.send(doc, "POST", "/calendar/agenda/"+wed.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", res.Status)
		}
		f.now = wed.StartsAt.Add(time.Hour)
		if res := mark(doc, wed.ID, "completed"); !strings.Contains(res.Header.Get("Location"), "done=not_markable") || f.bookingByID(wed.ID).Status != statusCancelledDoctor {
			t.Fatalf("marking a cancelled visit: %s", res.Header.Get("Location"))
		}
	})
}

// C14: the doctor asks the patient for documents confirming the booking data: the patient
// gets the message (to his account or to the address given), the request stays on the
// booking and shows in the agenda; it is sent once; another doctor cannot ask.
func TestAgendaRequestsDocuments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, mine, _, _, _ := agendaFixture(t, b)
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		path := "/calendar/agenda/" + mine.ID + "/documents"
		if res := f.send(&sdk.User{ID: "doc9", Roles: []string{"doctor"}}, "POST", path, url.Values{}); res.Status != 404 {
			t.Fatalf("another doctor: %d", res.Status)
		}
		if res := f.send(doc, "POST", path, url.Values{"note": {strings.Repeat("x", maxDocumentsNote+1)}}); res.Status != 400 ||
			!f.bookingByID(mine.ID).DocumentsRequestedAt.IsZero() {
			t.Fatalf("a note too long: %d", res.Status)
		}
		res := f.send(doc, "POST", path, url.Values{"note": {"Dowód osobisty pacjentki"}})
		if res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=documents_requested") {
			t.Fatalf("request: %d %s", res.Status, res.Header.Get("Location"))
		}
		got := f.bookingByID(mine.ID)
		if got.DocumentsRequestedAt.IsZero() || got.DocumentsNote != "Dowód osobisty pacjentki" {
			t.Fatalf("stored: %+v", got)
		}
		count := func() (n int) {
			for _, m := range f.h.Host.Messages {
				if m.Value.Template == tmplDocumentsRequested && m.Value.To == "zofia@example.org" && m.Value.Data["Doctor"] == "dr n. med. Anna Kowalska" &&
					m.Value.Data["Note"] == "Dowód osobisty pacjentki" {
					n++
				}
			}
			return n
		}
		if count() != 1 {
			t.Fatalf("messages: %+v", f.h.Host.Messages)
		}
		if res := f.send(doc, "POST", path, url.Values{}); !strings.Contains(res.Header.Get("Location"), "done=documents_not_requested") || count() != 1 {
			t.Fatalf("a second request: %s, %d messages", res.Header.Get("Location"), count())
		}
		body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30&done=documents_requested", nil).Body)
		if !strings.Contains(body, "Poproszono o dokumenty") || !strings.Contains(body, "Dowód osobisty pacjentki") || !strings.Contains(body, "Pacjent otrzyma prośbę") {
			t.Fatalf("agenda after the request:\n%s", body)
		}
	})
}

// Issue 13.11, C2, 13.6: the demo facility account manages the doctors of the first demo
// doctor's facility, and the demo doctor's week holds a begun visit he can mark.
func TestDemoFacilityAndAgenda(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		accounts := []kit.DemoAccount{{ID: "dd", Role: "doctor"}, {ID: "ff", Role: "facility"}}
		for range 2 {
			if err := f.m.seedDemo(ctx, f.A, accounts); err != nil {
				t.Fatal(err)
			}
		}
		fac := &sdk.User{ID: "ff", Roles: []string{"facility"}}
		body := string(f.send(fac, "GET", "/calendar/manage", nil).Body)
		if strings.Count(body, `href="/calendar/manage/`) < 2 || !strings.Contains(body, "Kozłowska") {
			t.Fatalf("the demo facility's doctors:\n%s", body)
		}
		at := demoPastVisit(f.now, tenantZone(f.A))
		doc := &sdk.User{ID: "dd", Roles: []string{"doctor"}}
		body = string(f.send(doc, "GET", "/calendar/agenda?from="+at.Format(time.DateOnly), nil).Body)
		if strings.Count(body, "/outcome\"") != 1 || !strings.Contains(body, "Zieliński") {
			t.Fatalf("the demo doctor's week:\n%s", body)
		}
	})
}

// Tenants never leak: the same account ids in another tenant manage nothing there and
// reach none of tenant A's visits, profiles or requests.
func TestAgendaStaysInItsTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, mine, _, _, _ := agendaFixture(t, b)
		ctx := context.Background()
		inB := func(u *sdk.User, method, path string, form url.Values) *sdk.Response {
			req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}}
			if form != nil {
				req.Body = []byte(form.Encode())
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			res, err := f.h.Send(ctx, f.B, u, req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		for _, id := range []string{"doc1", "fac1"} {
			u := &sdk.User{ID: id, Roles: []string{"doctor", "facility"}}
			if body := string(inB(u, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); strings.Contains(body, "Nowak") || !strings.Contains(body, "nie jest powiązane") {
				t.Fatalf("%s in tenant B sees:\n%s", id, body)
			}
			if res := inB(u, "GET", "/calendar/manage/"+f.doctor.ID, nil); res.Status != 404 {
				t.Fatalf("%s in tenant B opens the doctor: %d", id, res.Status)
			}
			if res := inB(u, "POST", "/calendar/agenda/"+mine.ID+"/documents", url.Values{}); res.Status != 404 {
				t.Fatalf("%s in tenant B asks for documents: %d", id, res.Status)
			}
		}
		if !f.bookingByID(mine.ID).DocumentsRequestedAt.IsZero() {
			t.Fatal("tenant B changed a booking of tenant A")
		}
	})
}

// C2: a facility sees and handles the visits at its own facility only: the visit its
// doctor gives at another facility is not in its agenda, and it cannot cancel it.
func TestFacilitySeesOnlyItsOwnVisits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, _ := agendaFixture(t, b)
		ctx := context.Background()
		other := &Facility{Name: "Inna Przychodnia", City: "Kraków", UserID: "fac2"}
		if err := f.m.saveFacility(ctx, f.A, other); err != nil {
			t.Fatal(err)
		}
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID, other.ID}); err != nil {
			t.Fatal(err)
		}
		svc := &Service{DoctorID: f.doctor.ID, FacilityID: other.ID, Name: "Konsultacja w Krakowie", DurationMinutes: 30, PriceMinor: 1000, Active: true}
		if err := f.m.saveService(ctx, f.A, svc); err != nil {
			t.Fatal(err)
		}
		there := f.booking(svc, tuesday.Add(3*time.Hour), testPESEL(3))
		there.PatientFirstName, there.PatientLastName = "Marta", "Krakowska"
		if err := f.m.reserve(ctx, f.A, there); err != nil {
			t.Fatal(err)
		}
		fac1 := &sdk.User{ID: "fac1", Roles: []string{"facility"}}
		fac2 := &sdk.User{ID: "fac2", Roles: []string{"facility"}}
		doc := &sdk.User{ID: "doc1", Roles: []string{"doctor"}}
		if body := string(f.send(fac1, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); strings.Contains(body, "Krakowska") || !strings.Contains(body, "Zofia Nowak") {
			t.Fatalf("the first facility's week:\n%s", body)
		}
		if body := string(f.send(fac2, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); !strings.Contains(body, "Krakowska") || strings.Contains(body, "Zofia Nowak") {
			t.Fatalf("the other facility's week:\n%s", body)
		}
		if body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); !strings.Contains(body, "Krakowska") || !strings.Contains(body, "Zofia Nowak") {
			t.Fatalf("the doctor's week:\n%s", body)
		}
		if res := f.send(fac1, "POST", "/calendar/agenda/"+there.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != 404 || f.bookingByID(there.ID).Status != statusConfirmed {
			t.Fatalf("a facility cancels a visit elsewhere: %d", res.Status)
		}
	})
}
