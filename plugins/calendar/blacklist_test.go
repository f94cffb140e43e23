package calendar

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// visitOn stores a booking of the fixture's doctor (or of doctorID) with status, for the
// patient with pesel, starting at start: a past or future visit of any state, as the month
// counting reads them.
func (f *fixture) visitOn(doctorID, pesel string, start time.Time, status string) *Booking {
	f.t.Helper()
	s := f.services[30]
	b := f.booking(s, start, pesel)
	b.ID, b.TenantID, b.DoctorID, b.Status = newID(), f.A.ID, doctorID, status
	b.VisitDay = start.In(tenantZone(f.A)).Format(time.DateOnly)
	b.DaySlot = 1
	b.CreatedAt = start.Add(-30 * 24 * time.Hour) // booked a month before the visit
	err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(b).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// visitSeq shifts each series of visits by half an hour, so that two patients' live
// visits never hold the same time of the doctor.
var visitSeq atomic.Int64

// visits stores, for pesel with doctorID, one visit a day from day on (shifted by a half
// hour per series), each with the next status of statuses.
func (f *fixture) visits(doctorID, pesel string, day time.Time, statuses ...string) {
	f.t.Helper()
	day = day.Add(time.Duration(1+visitSeq.Add(1)%15) * 30 * time.Minute)
	for i, st := range statuses {
		f.visitOn(doctorID, pesel, day.AddDate(0, 0, i), st)
	}
}

// linkDoctor makes userID the account of the doctor record id.
func (f *fixture) linkDoctor(id, userID string) {
	f.t.Helper()
	err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Doctor)(nil)).Set("user_id = ?", userID).Where("dr.id = ?", id).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// otherDoctor adds a second doctor at the fixture's facility.
func (f *fixture) otherDoctor(last string) *Doctor {
	f.t.Helper()
	d := &Doctor{Title: "lek.", FirstName: "Piotr", LastName: last, LicenceNumber: "7654321", Bookable: true, OnlineCalendar: true}
	if err := f.m.saveDoctor(context.Background(), f.A, d, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) ground(t sdk.Tenant, doctorID, pesel string) string {
	f.t.Helper()
	g, err := f.m.barred(context.Background(), t, doctorID, pesel)
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

func (f *fixture) entries(status string) []BlacklistEntry {
	f.t.Helper()
	var out []BlacklistEntry
	err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("bl.status = ?", status).Order("bl.created_at").Scan(ctx)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) audited(action string) int {
	n := 0
	for _, a := range f.h.Host.Audits {
		if a.Value.Action == action && a.Scope.TenantID == f.A.ID {
			n++
		}
	}
	return n
}

// message is the last message sent from template tmpl, or nil.
func (f *fixture) message(tmpl string) *sdk.Message {
	var out *sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			v := m.Value
			out = &v
		}
	}
	return out
}

var november = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // a Monday, 10:00 in Warsaw

// C12: a month's cancellations are counted by the visit's date in the tenant's zone, not
// the booking's; only the patient's own cancellations count (never a doctor's, never an
// expired booking, which was never booked); the ground needs more than the tenant's minimum
// booked and more than its percentage of them cancelled.
func TestC12MonthCounting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		d := f.doctor.ID
		cp, ok, dc, ex := statusCancelledPatient, statusCompleted, statusCancelledDoctor, statusExpired
		// P1: 5 booked in November, 3 cancelled by him: 60 % of 5 > 4 — over.
		f.visits(d, testPESEL(1), november, cp, cp, cp, ok, ok)
		// P2: 5 booked, 2 cancelled by him and 2 by the doctor: 40 % — not over.
		f.visits(d, testPESEL(2), november, cp, cp, dc, dc, ok)
		// P3: 4 cancelled by him and 3 expired anonymous bookings: 4 booked, not more than 4.
		f.visits(d, testPESEL(3), november, cp, cp, cp, cp, ex, ex, ex)
		// P4: 3 cancelled in November, 2 kept visits on 1 December (booked in November): 3 of
		// 3 in November, not more than 4 booked.
		f.visits(d, testPESEL(4), november, cp, cp, cp)
		f.visits(d, testPESEL(4), time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), ok, ok) // 00:30 on 1 Dec in Warsaw
		var rows []tally
		err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			rows, err = tallies(ctx, sc, "2026-11", true, "", "")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]tally{}
		for _, r := range rows {
			got[r.PESEL] = r
		}
		want := map[string][2]int{testPESEL(1): {5, 3}, testPESEL(2): {5, 2}, testPESEL(3): {4, 4}, testPESEL(4): {3, 3}}
		for p, w := range want {
			if got[p].Booked != w[0] || got[p].Cancelled != w[1] {
				t.Errorf("%s: booked %d cancelled %d, want %v", p, got[p].Booked, got[p].Cancelled, w)
			}
		}
		over := map[string]bool{testPESEL(1): true}
		for p := range want {
			if overLimit(f.A, got[p]) != over[p] {
				t.Errorf("%s over the limit: %v", p, !over[p])
			}
		}
		// The rules are the tenant's: at 40 % P2 is over.
		t40 := f.A
		t40.Rules = map[string]any{"calendar.blacklist_cancel_percent": int64(30)}
		if !overLimit(t40, got[testPESEL(2)]) {
			t.Error("at 30 % P2 is not over the limit")
		}
	})
}

// C12: the doctor adds a patient only on one of three grounds — the cancellations of a
// month (checked against his bookings), or a breach in connection with an earlier booking of
// this patient with him, chosen from those bookings; the patient is then barred from booking
// with him only, and told the ground; the doctor removes him; each change is audited.
func TestC12DoctorGrounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.now = time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
		other := f.otherDoctor("Zieliński")
		f.linkDoctor(f.doctor.ID, "doc1")
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		d := f.doctor.ID
		cp, ok := statusCancelledPatient, statusCompleted
		f.visits(d, testPESEL(1), november, cp, cp, cp, ok, ok)
		f.visits(d, testPESEL(2), november, cp, cp, ok, ok, ok)
		mine := f.visitOn(d, testPESEL(3), november, ok)
		theirs := f.visitOn(other.ID, testPESEL(4), november, ok)
		post := func(form url.Values) *sdk.Response { return f.send(doc, "POST", "/calendar/blacklist", form) }

		// Not over the limit in November: refused next to the month, nothing stored.
		res := post(url.Values{"pesel": {testPESEL(2)}, "ground": {groundCancellations}, "month": {"2026-11"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "nie odwołał ponad wymaganej części") ||
			!strings.Contains(string(res.Body), `id="e-month"`) || len(f.entries(entryActive)) != 0 {
			t.Fatalf("not over: %d\n%s", res.Status, res.Body)
		}
		// An unknown ground, a wrong PESEL: refused.
		if res := post(url.Values{"pesel": {testPESEL(1)}, "ground": {"rude"}}); res.Status != http.StatusUnprocessableEntity || len(f.entries(entryActive)) != 0 {
			t.Fatalf("unknown ground: %d", res.Status)
		}
		if res := post(url.Values{"pesel": {"123"}, "ground": {groundLawBreach}}); res.Status != http.StatusUnprocessableEntity || len(f.entries(entryActive)) != 0 {
			t.Fatalf("bad PESEL: %d", res.Status)
		}
		// Over the limit: listed; barred with him, not with the other doctor.
		if res := post(url.Values{"pesel": {testPESEL(1)}, "ground": {groundCancellations}, "month": {"2026-11"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancellations: %d\n%s", res.Status, res.Body)
		}
		if g := f.ground(f.A, d, testPESEL(1)); g != "calendar.barred.doctor.cancellations" {
			t.Fatalf("barred: %q", g)
		}
		if g := f.ground(f.A, other.ID, testPESEL(1)); g != "" {
			t.Fatalf("barred with another doctor: %q", g)
		}
		// A breach needs an earlier booking of this patient with him: none, or another
		// doctor's booking, is refused.
		for _, bk := range []string{"", theirs.ID, mine.ID} {
			res := post(url.Values{"pesel": {testPESEL(4)}, "ground": {groundTermsBreach}, "booking": {bk}})
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Wybierz wcześniejszą rezerwację") {
				t.Fatalf("booking %q: %d\n%s", bk, res.Status, res.Body)
			}
		}
		// The page offers his bookings of that PESEL to choose from.
		if body := string(f.send(doc, "GET", "/calendar/blacklist?pesel="+testPESEL(3), nil).Body); !strings.Contains(body, `value="`+mine.ID+`"`) ||
			strings.Contains(body, theirs.ID) {
			t.Fatalf("bookings offered:\n%s", body)
		}
		if res := post(url.Values{"pesel": {testPESEL(3)}, "ground": {groundLawBreach}, "booking": {mine.ID}}); res.Status != http.StatusSeeOther {
			t.Fatalf("law breach: %d\n%s", res.Status, res.Body)
		}
		if g := f.ground(f.A, d, testPESEL(3)); g != "calendar.barred.doctor.law_breach" {
			t.Fatalf("barred: %q", g)
		}
		// Listed twice: refused.
		if res := post(url.Values{"pesel": {testPESEL(3)}, "ground": {groundTermsBreach}, "booking": {mine.ID}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "jest już na liście") {
			t.Fatalf("twice: %d", res.Status)
		}
		body := string(f.send(doc, "GET", "/calendar/blacklist", nil).Body)
		if !strings.Contains(body, "Naruszenie prawa przy rezerwacji") || !strings.Contains(body, "Odwołanie ponad połowy wizyt w miesiącu") ||
			!strings.Contains(body, "Jan Nowak") {
			t.Fatalf("list:\n%s", body)
		}
		es := f.entries(entryActive)
		if len(es) != 2 {
			t.Fatalf("%d entries", len(es))
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/"+es[1].ID+"/remove", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("remove: %d", res.Status)
		}
		if g := f.ground(f.A, d, testPESEL(3)); g != "" {
			t.Fatalf("after removal: %q", g)
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/"+es[1].ID+"/remove", url.Values{}); res.Status != http.StatusNotFound {
			t.Fatalf("removed twice: %d", res.Status)
		}
		if f.audited(auditBlacklistAdded) != 2 || f.audited(auditBlacklistRemoved) != 1 {
			t.Fatalf("audit: %+v", f.h.Host.Audits)
		}
	})
}

// C12, C13: the monthly job only proposes entries to the doctor — a proposal bars nobody
// until he accepts it; a rejected proposal is not made again for that month — and, for the
// portal's list, proposes them to the administrator or applies them as the tenant's rule
// says.
func TestC12C13MonthlyJobProposes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.now = time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC) // the job's night: November ended
		f.linkDoctor(f.doctor.ID, "doc1")
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		d := f.doctor.ID
		cp, ok := statusCancelledPatient, statusCompleted
		f.visits(d, testPESEL(1), november, cp, cp, cp, ok, ok)
		f.visits(d, testPESEL(2), november, cp, cp, cp, cp, ok)
		f.visits(d, testPESEL(3), november, cp, ok, ok, ok, ok)
		if err := f.h.Job(ctx, f.A, jobProposeBlacklists, nil); err != nil {
			t.Fatal(err)
		}
		props := f.entries(entryProposed)
		if len(props) != 2 || len(f.entries(entryActive)) != 0 || props[0].Month != "2026-11" {
			t.Fatalf("proposals: %+v", props)
		}
		if g := f.ground(f.A, d, testPESEL(1)); g != "" {
			t.Fatalf("a proposal bars: %q", g)
		}
		body := string(f.send(doc, "GET", "/calendar/blacklist", nil).Body)
		if !strings.Contains(body, "Propozycje do decyzji") || !strings.Contains(body, "/accept") {
			t.Fatalf("page:\n%s", body)
		}
		byPESEL := map[string]string{}
		for _, p := range props {
			byPESEL[p.PESEL] = p.ID
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/"+byPESEL[testPESEL(1)]+"/accept", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("accept: %d", res.Status)
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/"+byPESEL[testPESEL(2)]+"/reject", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("reject: %d", res.Status)
		}
		if g := f.ground(f.A, d, testPESEL(1)); g != "calendar.barred.doctor.cancellations" {
			t.Fatalf("accepted: %q", g)
		}
		if g := f.ground(f.A, d, testPESEL(2)); g != "" {
			t.Fatalf("rejected: %q", g)
		}
		// The job again: nothing new (one listed, one rejected for November).
		if err := f.h.Job(ctx, f.A, jobProposeBlacklists, nil); err != nil {
			t.Fatal(err)
		}
		if n := len(f.entries(entryProposed)); n != 0 {
			t.Fatalf("proposed again: %d", n)
		}
		if f.audited(auditBlacklistProposed) != 2 || f.audited(auditBlacklistRejected) != 1 {
			t.Fatalf("audit: %+v", f.h.Host.Audits)
		}
		// The portal's list: P1 and P2 cancelled more than half of all their visits in
		// November; by default the job proposes them to the administrator.
		var portal []PortalEntry
		read := func() {
			portal = nil
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				return sc.Select(&portal).Order("pb.pesel").Scan(ctx)
			}); err != nil {
				t.Fatal(err)
			}
		}
		read()
		if len(portal) != 2 || portal[0].Status != entryProposed || portal[0].Ground != groundCancellations || portal[0].PESEL != testPESEL(1) {
			t.Fatalf("portal: %+v", portal)
		}
		if g := f.ground(f.A, d, testPESEL(2)); g != "" {
			t.Fatalf("a portal proposal bars: %q", g)
		}
		// Another tenant whose rule applies the job's findings at once.
		auto := f.A
		auto.Rules = map[string]any{"calendar.admin_blacklist_auto_apply": true}
		if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*PortalEntry)(nil)).Where("1 = 1").Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Job(ctx, auto, jobProposeBlacklists, nil); err != nil {
			t.Fatal(err)
		}
		read()
		if len(portal) != 2 || portal[0].Status != entryActive {
			t.Fatalf("applied: %+v", portal)
		}
		if g := f.ground(auto, d, testPESEL(2)); g != "calendar.barred.portal.cancellations" {
			t.Fatalf("portal barred: %q", g)
		}
	})
}

// C12: a patient — signed in or not — asks the doctor to take him off his list, with name,
// PESEL, justification and e-mail; the doctor must decide within the tenant's days: the
// request shows its due date, overdue once it passed; granting it takes him off.
func TestC12RemovalRequestDeadline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.linkDoctor(f.doctor.ID, "doc1")
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		booked := f.visitOn(f.doctor.ID, testPESEL(1), november, statusCompleted)
		if res := f.send(doc, "POST", "/calendar/blacklist", url.Values{"pesel": {testPESEL(1)}, "ground": {groundTermsBreach}, "booking": {booked.ID}}); res.Status != http.StatusSeeOther {
			t.Fatalf("add: %d", res.Status)
		}
		path := "/calendar/doctors/" + f.doctor.ID + "/removal"
		form := url.Values{"name": {"Jan Nowak"}, "pesel": {testPESEL(1)}, "email": {"jan@example.org"}, "justification": {"To było nieporozumienie."}}
		anon := func(form url.Values) *sdk.Response { return f.send(nil, "POST", path, form) }
		if res := f.send(nil, "GET", path, nil); res.Status != 200 || !strings.Contains(string(res.Body), "Uzasadnienie") {
			t.Fatalf("form: %d", res.Status)
		}
		bad := url.Values{"name": {""}, "pesel": {testPESEL(1)}, "email": {"nope"}, "justification": {""}}
		res := anon(bad)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Podaj imię i nazwisko") ||
			!strings.Contains(string(res.Body), "Podaj poprawny adres e-mail") || !strings.Contains(string(res.Body), "Napisz uzasadnienie") {
			t.Fatalf("bad request: %d\n%s", res.Status, res.Body)
		}
		notListed := url.Values{"name": {"Ewa Lis"}, "pesel": {testPESEL(2)}, "email": {"ewa@example.org"}, "justification": {"Proszę."}}
		if res := anon(notListed); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "nie jest na tej czarnej liście") {
			t.Fatalf("not listed: %d", res.Status)
		}
		res = anon(form)
		if res.Status != 200 || !strings.Contains(string(res.Body), "Decyzja zostanie podjęta do 27.11.2026") {
			t.Fatalf("sent: %d\n%s", res.Status, res.Body)
		}
		// Asking again while the first waits: told so, nothing stored.
		if res := anon(form); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "już czeka na decyzję") {
			t.Fatalf("asked twice: %d\n%s", res.Status, res.Body)
		}
		var rqs []RemovalRequest
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&rqs).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		if len(rqs) != 1 || !rqs[0].DueAt.Equal(f.now.AddDate(0, 0, 7)) || rqs[0].Status != requestOpen || rqs[0].List != listDoctor {
			t.Fatalf("stored: %+v", rqs)
		}
		// The doctor is told by e-mail, with the date by which to decide.
		if m := f.message(tmplRemovalAsked); m == nil || m.UserID != "doc1" || m.Data["Due"] != "27.11.2026" || m.Data["Patient"] != "Jan Nowak" {
			t.Fatalf("the doctor's message: %+v", m)
		}
		body := string(f.send(doc, "GET", "/calendar/blacklist", nil).Body)
		if !strings.Contains(body, "Decyzja do 27.11.2026") || !strings.Contains(body, "To było nieporozumienie.") {
			t.Fatalf("doctor's page:\n%s", body)
		}
		f.now = f.now.AddDate(0, 0, 8)
		body = string(f.send(doc, "GET", "/calendar/blacklist", nil).Body)
		if !strings.Contains(body, "Termin decyzji minął 27.11.2026") {
			t.Fatalf("overdue:\n%s", body)
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/requests/"+rqs[0].ID+"/answer", url.Values{"decision": {"maybe"}}); res.Status != http.StatusBadRequest {
			t.Fatalf("bad decision: %d", res.Status)
		}
		if res := f.send(doc, "POST", "/calendar/blacklist/requests/"+rqs[0].ID+"/answer", url.Values{"decision": {requestGranted}}); res.Status != http.StatusSeeOther {
			t.Fatalf("grant: %d", res.Status)
		}
		if g := f.ground(f.A, f.doctor.ID, testPESEL(1)); g != "" {
			t.Fatalf("after granting: %q", g)
		}
		// The patient, who has no account, is told at the address he gave.
		if m := f.message(tmplRemovalGranted); m == nil || m.To != "jan@example.org" || m.Data["Who"] != "dr n. med. Anna Kowalska" {
			t.Fatalf("the patient's message: %+v", m)
		}
		if f.audited(auditBlacklistAsked) != 1 || f.audited(auditBlacklistAnswered) != 1 {
			t.Fatalf("audit: %+v", f.h.Host.Audits)
		}
	})
}

// C12: the administrator never sees or changes a doctor's list — not even after granting
// himself the doctor role, without being a doctor record's account: the list page shows him
// none, and removing an entry or answering a request of it is not found. He sees only on
// how many doctors' lists a PESEL is.
func TestC12AdminCannotReadDoctorsList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.linkDoctor(f.doctor.ID, "doc1")
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		booked := f.visitOn(f.doctor.ID, testPESEL(1), november, statusCompleted)
		if res := f.send(doc, "POST", "/calendar/blacklist", url.Values{"pesel": {testPESEL(1)}, "ground": {groundTermsBreach}, "booking": {booked.ID}}); res.Status != http.StatusSeeOther {
			t.Fatalf("add: %d", res.Status)
		}
		anon := url.Values{"name": {"Jan Nowak"}, "pesel": {testPESEL(1)}, "email": {"jan@example.org"}, "justification": {"Proszę."}}
		if res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/removal", anon); res.Status != 200 {
			t.Fatalf("request: %d", res.Status)
		}
		entry := f.entries(entryActive)[0]
		var rq RemovalRequest
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&rq).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		admin := &sdk.User{ID: "adm", Name: "Admin", Roles: []string{"tenant_admin", "doctor"}}
		body := string(f.send(admin, "GET", "/calendar/blacklist?pesel="+testPESEL(1), nil).Body)
		if !strings.Contains(body, "nie jest powiązane z żadnym profilem lekarza") || strings.Contains(body, "Jan Nowak") ||
			strings.Contains(body, booked.ID) || strings.Contains(body, "Proszę.") || strings.Contains(body, "Rażące naruszenie") {
			t.Fatalf("the admin's view of the doctor's list:\n%s", body)
		}
		for _, p := range []string{"/calendar/blacklist/" + entry.ID + "/remove", "/calendar/blacklist/" + entry.ID + "/reject"} {
			if res := f.send(admin, "POST", p, url.Values{}); res.Status != http.StatusNotFound {
				t.Fatalf("%s: %d", p, res.Status)
			}
		}
		if res := f.send(admin, "POST", "/calendar/blacklist/requests/"+rq.ID+"/answer", url.Values{"decision": {requestGranted}}); res.Status != http.StatusNotFound {
			t.Fatalf("answer: %d", res.Status)
		}
		if res := f.send(admin, "POST", "/calendar/blacklist", url.Values{"pesel": {testPESEL(2)}, "ground": {groundLawBreach}, "booking": {booked.ID}}); res.Status != http.StatusNotFound {
			t.Fatalf("add as admin: %d", res.Status)
		}
		// His own list's requests do not include the doctor's.
		if res := f.send(admin, "POST", "/calendar/admin/blacklist/requests/"+rq.ID+"/answer", url.Values{"decision": {requestGranted}}); res.Status != http.StatusNotFound {
			t.Fatalf("answer through the portal's list: %d", res.Status)
		}
		if g := f.ground(f.A, f.doctor.ID, testPESEL(1)); g != "calendar.barred.doctor.terms_breach" {
			t.Fatalf("the entry changed: %q", g)
		}
		body = string(f.send(admin, "GET", "/calendar/admin/blacklist?pesel="+testPESEL(1), nil).Body)
		if !strings.Contains(body, "jest na czarnej liście jednego lekarza") || strings.Contains(body, "Kowalska") || strings.Contains(body, "Proszę.") ||
			strings.Contains(body, "Rażące naruszenie regulaminu przy rezerwacji") {
			t.Fatalf("admin page:\n%s", body)
		}
	})
}

// C13: the administrator's list bars a patient from booking with any doctor, on its grounds
// (more than one doctor's list, checked; a gross breach); the patient asks for removal from
// his account, whose PESEL it must be, decided within the tenant's 14 days; a tenant that
// switched the portal's list off bars no one by it and has no such pages.
func TestC13PortalBlacklist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		other := f.otherDoctor("Zieliński")
		admin := &sdk.User{ID: "adm", Name: "Admin", Roles: []string{"tenant_admin"}}
		post := func(form url.Values) *sdk.Response { return f.send(admin, "POST", "/calendar/admin/blacklist", form) }
		// On one doctor's list only: not the "more than one doctor" ground.
		booked := f.visitOn(f.doctor.ID, testPESEL(1), november, statusCompleted)
		if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&BlacklistEntry{TenantID: f.A.ID, ID: newID(), DoctorID: f.doctor.ID, PESEL: testPESEL(1), Ground: groundTermsBreach,
				BookingID: booked.ID, Status: entryActive, CreatedAt: f.now}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if res := post(url.Values{"pesel": {testPESEL(1)}, "ground": {groundDoctors}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "nie jest na czarnych listach więcej niż jednego lekarza") {
			t.Fatalf("one list: %d\n%s", res.Status, res.Body)
		}
		if res := post(url.Values{"pesel": {testPESEL(1)}, "ground": {groundGrossBreach}}); res.Status != http.StatusSeeOther {
			t.Fatalf("gross breach: %d\n%s", res.Status, res.Body)
		}
		for _, d := range []string{f.doctor.ID, other.ID} {
			if g := f.ground(f.A, d, testPESEL(1)); g != "calendar.barred.portal.gross_breach" {
				t.Fatalf("doctor %s: %q", d, g)
			}
		}
		if f.audited(auditPortalAdded) != 1 {
			t.Fatal("not audited")
		}
		// The removal request: from the account whose PESEL it is.
		stranger := &sdk.User{ID: "p9", Email: "x@example.org", Name: "Ktoś Inny", Roles: []string{"user"}, Profile: map[string]string{"pesel": testPESEL(9)}}
		form := url.Values{"pesel": {testPESEL(1)}, "justification": {"Proszę o ponowne rozpatrzenie."}}
		if res := f.send(stranger, "POST", "/calendar/removal", form); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "nie należy do Twojego konta") {
			t.Fatalf("stranger: %d", res.Status)
		}
		patient := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": testPESEL(1)}}
		if body := string(f.send(patient, "GET", "/calendar/removal", nil).Body); !strings.Contains(body, "jan@example.org") {
			t.Fatalf("form:\n%s", body)
		}
		if res := f.send(patient, "POST", "/calendar/removal", form); res.Status != 200 || !strings.Contains(string(res.Body), "04.12.2026") {
			t.Fatalf("request: %d\n%s", res.Status, res.Body)
		}
		body := string(f.send(admin, "GET", "/calendar/admin/blacklist", nil).Body)
		if !strings.Contains(body, "Decyzja do 04.12.2026") || !strings.Contains(body, "jan@example.org") || !strings.Contains(body, "Rażące naruszenie regulaminu lub prawa") {
			t.Fatalf("admin page:\n%s", body)
		}
		// Switched off: no bar, no pages.
		off := f.A
		off.Rules = map[string]any{"calendar.admin_blacklist_enabled": false}
		if g := f.ground(off, other.ID, testPESEL(1)); g != "" {
			t.Fatalf("switched off: %q", g)
		}
		if g := f.ground(off, f.doctor.ID, testPESEL(1)); g != "calendar.barred.doctor.terms_breach" {
			t.Fatalf("switched off, the doctor's list: %q", g)
		}
		res, err := f.h.Send(ctx, off, admin, &sdk.Request{Method: "GET", Path: "/calendar/admin/blacklist", Header: http.Header{}})
		if err != nil || !strings.Contains(string(res.Body), "jest wyłączona") {
			t.Fatalf("off page: %v\n%s", err, res.Body)
		}
		if res, _ := f.h.Send(ctx, off, patient, &sdk.Request{Method: "GET", Path: "/calendar/removal", Header: http.Header{}}); res.Status != http.StatusNotFound {
			t.Fatalf("off request page: %d", res.Status)
		}
		// The administrator removes the entry: the open request is answered with it.
		var pe PortalEntry
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&pe).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		if res := f.send(admin, "POST", "/calendar/admin/blacklist/"+pe.ID+"/remove", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("remove: %d", res.Status)
		}
		if g := f.ground(f.A, other.ID, testPESEL(1)); g != "" {
			t.Fatalf("after removal: %q", g)
		}
	})
}

// C12, C13 (seed 4.14): a barred patient who books is told the ground, with the way to ask
// for removal, and nothing is stored.
func TestC12BarredMessageOnBooking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		booked := f.visitOn(f.doctor.ID, "85030212344", november, statusCompleted)
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&BlacklistEntry{TenantID: f.A.ID, ID: newID(), DoctorID: f.doctor.ID, PESEL: "85030212344", Ground: groundLawBreach,
				BookingID: booked.ID, Status: entryActive, CreatedAt: f.now}).Exec(context.Background())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID + "&week=2026-12-01"
		starts := slotLinkRe.FindAllStringSubmatch(string(f.send(u, "GET", week, nil).Body), -1)
		if len(starts) == 0 {
			t.Fatal("no start")
		}
		before := len(f.live(f.A))
		form := url.Values{"service": {f.services[30].ID}, "start": {starts[0][2]}, "pesel": {"85030212344"}, "mobile": {"+48601234567"}, "consent_doctor": {"yes"}}
		res := f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form)
		if res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), "z powodu naruszenia prawa w związku z wcześniejszą rezerwacją") ||
			!strings.Contains(string(res.Body), "/calendar/doctors/"+f.doctor.ID+"/removal") || len(f.live(f.A)) != before {
			t.Fatalf("barred booking: %d\n%s", res.Status, res.Body)
		}
	})
}

// C12, C13: the ground is the patient's own to read. A visitor without an account who types
// a blacklisted number, or a signed-in patient booking for that person, reads only that the
// booking is not possible; the patient himself, signed in, reads the ground.
func TestBarredGroundOnlyToThePatient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		const number = "85030212344"
		ctx := context.Background()
		if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&PortalEntry{TenantID: f.A.ID, ID: newID(), PESEL: number, Ground: "gross_breach", Status: entryActive,
				CreatedAt: f.now}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		start := f.firstStart("guest")
		res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(start, number, "obcy@example.org"))
		body := string(res.Body)
		if res.Status != http.StatusForbidden || !strings.Contains(body, "Powód podajemy tylko tej osobie") || strings.Contains(body, "naruszen") {
			t.Fatalf("a visitor typing a barred number: %d\n%s", res.Status, body)
		}
		owner := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": number}}
		other := &sdk.User{ID: "p2", Email: "ewa@example.org", Name: "Ewa Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": "92071314762"}}
		form := url.Values{"service": {f.services[30].ID}, "start": {start}, "pesel": {number}, "mobile": {"+48601234567"}, "consent_doctor": {"yes"}}
		if res := f.send(other, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form); res.Status != http.StatusForbidden ||
			!strings.Contains(string(res.Body), "Powód podajemy tylko tej osobie") {
			t.Fatalf("someone else's number as his own: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(owner, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form); res.Status != http.StatusForbidden ||
			strings.Contains(string(res.Body), "Powód podajemy tylko tej osobie") {
			t.Fatalf("the patient himself: %d\n%s", res.Status, res.Body)
		}
	})
}
