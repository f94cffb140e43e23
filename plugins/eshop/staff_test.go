package eshop

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// staffFixture is the module on one backend with, in tenant A (Slovak, Bratislava), a
// collection point open on weekdays 07:00–12:00 with 15-minute slots of 2 places, and a paid
// order of a customer with one test for himself at the original time (Thursday 3 December
// 2026, 09:00 in Bratislava).
type staffFixture struct {
	t        *testing.T
	m        *Module
	h        *sdktest.Harness
	A        sdk.Tenant
	now      time.Time
	point    *Point
	order    *Order
	item     *OrderItem
	customer *sdk.User
	staff    *sdk.User
}

var baZone, _ = time.LoadLocation("Europe/Bratislava")

// local is a time of Bratislava, in UTC.
func baTime(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, baZone).UTC()
}

func staffSetup(t *testing.T, b storetest.Backend) *staffFixture {
	t.Helper()
	m := newModule()
	f := &staffFixture{t: t, m: m, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		A:        sdk.Tenant{ID: "tA", Slug: "a", Name: "Unilabs", Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"},
		customer: &sdk.User{ID: "c1", Email: "jan@example.sk", Name: "Ján Novák", Locale: "sk", Roles: []string{"user"}},
		staff:    &sdk.User{ID: "s1", Email: "sestra@example.sk", Name: "Eva Sestrová", Locale: "sk", Roles: []string{"lab_staff"}},
	}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	f.h.Host.Users[f.A.ID] = []sdk.User{*f.customer, *f.staff}
	f.point = &Point{TenantID: f.A.ID, ID: newID(), Name: "Odberné miesto Ružinov", Town: "Bratislava", SlotMinutes: 15, Capacity: 2, Active: true, CreatedAt: f.now, UpdatedAt: f.now}
	f.in(func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(f.point).Exec(ctx); err != nil {
			return err
		}
		for wd := 1; wd <= 5; wd++ {
			if _, err := sc.Insert(&PointHours{TenantID: f.A.ID, PointID: f.point.ID, Weekday: wd, Opens: "07:00", Closes: "12:00"}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	f.order, f.item = f.paidOrder(f.customer.ID, "2026-000001", baTime(2026, 12, 3, 9, 0), "")
	return f
}

func (f *staffFixture) in(fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.In(context.Background(), f.A, fn); err != nil {
		f.t.Fatal(err)
	}
}

// paidOrder stores a paid order of user with one test at start (for a dependant when given),
// its place held.
func (f *staffFixture) paidOrder(user, number string, start time.Time, dependant string) (*Order, *OrderItem) {
	f.t.Helper()
	o := &Order{TenantID: f.A.ID, ID: newID(), Number: number, UserID: user, Status: orderPaid, Locale: "sk", BuyerName: "Ján Novák", Email: "jan@example.sk",
		Currency: "EUR", TotalMinor: 4200, DueMinor: 4200, SubmittedAt: f.now, PayBy: f.now.Add(30 * time.Minute)}
	o.PaidAt.Time = f.now
	it := &OrderItem{TenantID: f.A.ID, ID: newID(), OrderID: o.ID, ItemID: "x", Kind: kindTest, Name: "Krvný obraz", PriceMinor: 3900, VATPercent: 23, FeeMinor: 300,
		FeeVATPercent: 23, TATDays: 2, DependantID: dependant, PersonName: "Ján Novák", PointID: f.point.ID, StartsAt: start, Status: itemBooked}
	if dependant != "" {
		it.PersonName = "Anna Nováková"
	}
	f.in(func(ctx context.Context, sc *store.Scope) error {
		// The order was made before its slot: the place is held as of then.
		now := f.now
		if !start.After(now) {
			f.now = start.Add(-24 * time.Hour)
		}
		hold, err := f.m.holdPlace(ctx, sc, f.A, f.point.ID, start, holdOrder, it.ID, user, nil)
		f.now = now
		if err != nil {
			return err
		}
		it.HoldID = hold
		if _, err := sc.Insert(o).Exec(ctx); err != nil {
			return err
		}
		_, err = sc.Insert(it).Exec(ctx)
		return err
	})
	return o, it
}

func (f *staffFixture) send(u *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.1.1.1", Header: http.Header{}}
	if form != nil {
		req.Body = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := f.h.Send(context.Background(), f.A, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// sent are the messages of template tmpl, in order.
func (f *staffFixture) sent(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			out = append(out, m.Value)
		}
	}
	return out
}

// audited counts the audit records of action.
func (f *staffFixture) audited(action string) int {
	n := 0
	for _, a := range f.h.Host.Audits {
		if a.Value.Action == action {
			n++
		}
	}
	return n
}

func (f *staffFixture) reload(it *OrderItem) OrderItem {
	f.t.Helper()
	var out OrderItem
	f.in(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("id = ?", it.ID).Scan(ctx)
	})
	return out
}

func (f *staffFixture) request() *Reschedule {
	f.t.Helper()
	var rs []Reschedule
	f.in(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&rs).Where("order_id = ?", f.order.ID).Scan(ctx)
	})
	if len(rs) != 1 {
		f.t.Fatalf("%d requests for the order", len(rs))
	}
	return &rs[0]
}

// taken is the number of places held in the point's slot at start.
func (f *staffFixture) taken(start time.Time) int {
	f.t.Helper()
	var l []SlotLoad
	f.in(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&l).Where("point_id = ? AND starts_at = ?", f.point.ID, start.UTC()).Scan(ctx)
	})
	if len(l) == 0 {
		return 0
	}
	return l[0].Taken
}

func (f *staffFixture) holds(purpose string) []Hold {
	var hs []Hold
	f.in(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&hs).Where("purpose = ?", purpose).Order("starts_at").Scan(ctx)
	})
	return hs
}

func (f *staffFixture) ask(reasons string) *sdk.Response {
	return f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule", url.Values{"reasons": {reasons}, "preferences": {"radšej popoludní"}})
}

// offer makes the staff offer three times on Monday 7 December 2026.
func (f *staffFixture) offer(r *Reschedule) (*sdk.Response, []time.Time) {
	times := []time.Time{baTime(2026, 12, 7, 8, 0), baTime(2026, 12, 7, 8, 15), baTime(2026, 12, 7, 10, 30)}
	form := url.Values{}
	for i, x := range times {
		form.Set(fmt.Sprintf("slot%d", i+1), x.In(baZone).Format(staffDateTimeLayout))
	}
	return f.send(f.staff, "POST", "/eshop/staff/reschedules/"+r.ID+"/offer", form), times
}

func TestStaffTablesAreScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		kittest.CheckScoped(t, f.m.Module, staffModels...)
	})
}

// E7: the request must reach the lab at the latest on the 3rd Slovak working day before the
// original day — counted without weekends and the Christmas holidays.
func TestRescheduleDeadlineCountsSlovakWorkingDays(t *testing.T) {
	A := sdk.Tenant{TimeZone: "Europe/Bratislava", Country: "SK"}
	cases := []struct{ original, deadline time.Time }{
		// Thursday 3 Dec: Wed, Tue, Mon → until the end of Monday 30 Nov.
		{baTime(2026, 12, 3, 9, 0), baTime(2026, 12, 1, 0, 0)},
		// Monday 28 Dec: the 24th–26th are holidays, the 27th a Sunday → the end of Monday 21 Dec.
		{baTime(2026, 12, 28, 9, 0), baTime(2026, 12, 22, 0, 0)},
	}
	for _, c := range cases {
		if got := rescheduleDeadline(A, c.original, 3); !got.Equal(c.deadline) {
			t.Errorf("original %v: deadline %v, want %v", c.original.In(baZone), got.In(baZone), c.deadline.In(baZone))
		}
	}
	// The lab answers by the end of the next working day: a request on Friday → Monday.
	if got := endOfWorkingDaysAfter(A, baTime(2026, 11, 20, 11, 0), 1); !got.Equal(baTime(2026, 11, 24, 0, 0)) {
		t.Errorf("answer by %v", got.In(baZone))
	}
}

// E7: a request later than the rule's working day before is refused next to its field with
// nothing stored; one in time is stored and acknowledged by e-mail at once.
func TestRescheduleTooLateRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.now = baTime(2026, 12, 1, 0, 0) // Tuesday: the deadline (end of Monday) has passed
		res := f.ask("Náhla pracovná cesta")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Na zmenu tohto termínu je už neskoro.") {
			t.Fatalf("late request: %d\n%s", res.Status, res.Body)
		}
		var n int64
		f.in(func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*Reschedule)(nil)).Count(ctx)
			return err
		})
		if n != 0 || len(f.sent(tmplRescheduleReceived)) != 0 {
			t.Fatalf("late request stored (%d) or acknowledged", n)
		}
		f.now = baTime(2026, 11, 30, 23, 59) // Monday evening: still in time
		if res := f.ask("Náhla pracovná cesta"); res.Status != http.StatusSeeOther {
			t.Fatalf("request in time: %d\n%s", res.Status, res.Body)
		}
		r := f.request()
		if r.Status != resRequested || r.Reasons != "Náhla pracovná cesta" || r.Preferences != "radšej popoludní" || !r.OriginalAt.Equal(f.item.StartsAt) {
			t.Fatalf("request %+v", r)
		}
		// The answer is due by the end of the next working day (Tuesday).
		if !r.AnswerBy.Equal(baTime(2026, 12, 2, 0, 0)) {
			t.Fatalf("answer by %v", r.AnswerBy.In(baZone))
		}
		acks := f.sent(tmplRescheduleReceived)
		if len(acks) != 1 || acks[0].UserID != f.customer.ID || acks[0].Data["When"] != "3. 12. 2026 09:00" || acks[0].Data["Order"] != "2026-000001" {
			t.Fatalf("acknowledgement %+v", acks)
		}
	})
}

// E7: once per order — a second request is refused, and concurrent requests store one.
func TestRescheduleOncePerOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = f.ask(fmt.Sprintf("Dôvod %d", i)).Status
			}()
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			switch c {
			case http.StatusSeeOther:
				ok++
			case http.StatusUnprocessableEntity:
			default:
				t.Fatalf("status %d", c)
			}
		}
		if ok != 1 || len(f.sent(tmplRescheduleReceived)) != 1 {
			t.Fatalf("%d requests accepted, %d acknowledged", ok, len(f.sent(tmplRescheduleReceived)))
		}
		f.request()
		res := f.ask("Ešte raz")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "O zmenu termínu možno požiadať iba raz za objednávku.") {
			t.Fatalf("second request: %d", res.Status)
		}
		// Another customer cannot see or ask for this order.
		other := &sdk.User{ID: "c2", Email: "x@example.sk", Name: "Iný", Roles: []string{"user"}}
		if res := f.send(other, "GET", "/eshop/orders/"+f.order.ID+"/reschedule", nil); res.Status != http.StatusNotFound {
			t.Fatalf("another's order: %d", res.Status)
		}
	})
}

// E7: the staff offer three free times at the same point: each is held (the slot's places
// count it) until the offer lapses at the end of the next working day; then the job frees
// them, the original stands and the customer is told. A full time refuses the offer with
// nothing held.
func TestRescheduleOfferHoldsThreeAndLapses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		if res := f.ask("Hospitalizácia v rodine"); res.Status != http.StatusSeeOther {
			t.Fatalf("request: %d", res.Status)
		}
		r := f.request()
		// One offered time full (two other customers there): refused, nothing held.
		full := baTime(2026, 12, 7, 10, 30)
		f.paidOrder("c3", "2026-000003", full, "")
		f.paidOrder("c4", "2026-000004", full, "")
		res, times := f.offer(r)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Tento termín je už plne obsadený.") {
			t.Fatalf("offer with a full time: %d\n%s", res.Status, res.Body)
		}
		if len(f.holds(holdOffer)) != 0 || f.taken(times[0]) != 0 || f.request().Status != resRequested {
			t.Fatal("a refused offer held places or changed the request")
		}
		// The staff pick another third time.
		form := url.Values{"slot1": {times[0].In(baZone).Format(staffDateTimeLayout)}, "slot2": {times[1].In(baZone).Format(staffDateTimeLayout)},
			"slot3": {"2026-12-07T11:00"}}
		times[2] = baTime(2026, 12, 7, 11, 0)
		if res := f.send(f.staff, "POST", "/eshop/staff/reschedules/"+r.ID+"/offer", form); res.Status != http.StatusSeeOther {
			t.Fatalf("offer: %d\n%s", res.Status, res.Body)
		}
		r = f.request()
		if r.Status != resOffered || len(r.Offers()) != 3 || !r.PickBy.Time.Equal(baTime(2026, 11, 24, 0, 0)) {
			t.Fatalf("offer %+v", r)
		}
		hs := f.holds(holdOffer)
		if len(hs) != 3 {
			t.Fatalf("%d offer holds", len(hs))
		}
		for i, x := range times {
			if f.taken(x) != 1 || !hs[i].StartsAt.Equal(x) || hs[i].RefID != r.ID || !hs[i].ExpiresAt.Time.Equal(r.PickBy.Time) {
				t.Fatalf("time %v: taken %d, hold %+v", x, f.taken(x), hs[i])
			}
		}
		offers := f.sent(tmplRescheduleOffer)
		if len(offers) != 1 || !strings.Contains(offers[0].Data["Times"].(string), "7. 12. 2026 11:00") {
			t.Fatalf("offer message %+v", offers)
		}
		var lapse []sdk.Job
		for _, j := range f.h.Host.Jobs {
			if j.Value.Name == jobOfferLapse {
				lapse = append(lapse, j.Value)
			}
		}
		if len(lapse) != 1 || !lapse[0].At.Equal(r.PickBy.Time) || string(lapse[0].Payload) != r.ID {
			t.Fatalf("lapse job %+v", lapse)
		}
		if f.audited(auditRescheduleOffered) != 1 {
			t.Fatal("offer not audited")
		}
		// Before the end of Monday the job changes nothing.
		f.now = baTime(2026, 11, 23, 23, 0)
		if err := f.h.Job(context.Background(), f.A, jobOfferLapse, []byte(r.ID)); err != nil {
			t.Fatal(err)
		}
		if f.request().Status != resOffered || len(f.holds(holdOffer)) != 3 {
			t.Fatal("offer lapsed early")
		}
		// Tuesday: the job lapses it; the sweep after it finds nothing to do.
		f.now = baTime(2026, 11, 24, 0, 1)
		if err := f.h.Job(context.Background(), f.A, jobOfferLapse, []byte(r.ID)); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Job(context.Background(), f.A, jobSweepOffers, nil); err != nil {
			t.Fatal(err)
		}
		if f.request().Status != resLapsed || len(f.holds(holdOffer)) != 0 {
			t.Fatal("offer not lapsed")
		}
		for _, x := range times {
			if f.taken(x) != 0 {
				t.Fatalf("place at %v still taken", x)
			}
		}
		if it := f.reload(f.item); !it.StartsAt.Equal(baTime(2026, 12, 3, 9, 0)) || it.Rescheduled || f.taken(it.StartsAt) != 1 {
			t.Fatalf("original changed: %+v", it)
		}
		if len(f.sent(tmplRescheduleLapsed)) != 1 {
			t.Fatal("lapse not told once")
		}
		// Too late to pick.
		res = f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule/pick", url.Values{"slot": {times[0].Format(time.RFC3339)}})
		if res.Status != http.StatusUnprocessableEntity || f.reload(f.item).Rescheduled {
			t.Fatalf("pick after lapse: %d", res.Status)
		}
	})
}

// E7: the sweep lapses an offer whose job was lost.
func TestRescheduleSweepLapsesLostOffer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Operácia")
		r := f.request()
		if res, _ := f.offer(r); res.Status != http.StatusSeeOther {
			t.Fatalf("offer: %d\n%s", res.Status, res.Body)
		}
		f.now = baTime(2026, 11, 25, 8, 0)
		if err := f.h.Job(context.Background(), f.A, jobSweepOffers, nil); err != nil {
			t.Fatal(err)
		}
		if f.request().Status != resLapsed || len(f.holds(holdOffer)) != 0 {
			t.Fatal("sweep did not lapse the offer")
		}
	})
}

// E7: picking an offered time makes it binding: the item moves there with the offered place
// as its hold, the original and the two other offered places are freed, the final message
// gives the exact date and time, and a changed time cannot change again.
func TestReschedulePickFreesOriginal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Hospitalizácia v rodine")
		r := f.request()
		_, times := f.offer(r)
		f.now = baTime(2026, 11, 23, 14, 0)
		page := f.send(f.customer, "GET", "/eshop/orders/"+f.order.ID+"/reschedule", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), times[1].Format(time.RFC3339)) {
			t.Fatalf("pick page: %d\n%s", page.Status, page.Body)
		}
		// A time that was not offered is refused.
		if res := f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule/pick", url.Values{"slot": {baTime(2026, 12, 7, 9, 0).Format(time.RFC3339)}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("pick of another time: %d", res.Status)
		}
		res := f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule/pick", url.Values{"slot": {times[1].Format(time.RFC3339)}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("pick: %d\n%s", res.Status, res.Body)
		}
		it := f.reload(f.item)
		if !it.StartsAt.Equal(times[1]) || !it.Rescheduled || it.Status != itemBooked {
			t.Fatalf("item %+v", it)
		}
		var h Hold
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&h).Where("id = ?", it.HoldID).Scan(ctx)
		})
		if h.Purpose != holdOrder || h.RefID != it.ID || !h.StartsAt.Equal(times[1]) || !h.ExpiresAt.IsZero() {
			t.Fatalf("hold %+v", h)
		}
		if f.taken(baTime(2026, 12, 3, 9, 0)) != 0 || f.taken(times[0]) != 0 || f.taken(times[2]) != 0 || f.taken(times[1]) != 1 || len(f.holds(holdOffer)) != 0 {
			t.Fatal("places not freed")
		}
		if rr := f.request(); rr.Status != resAccepted || !rr.NewAt.Time.Equal(times[1]) {
			t.Fatalf("request %+v", rr)
		}
		final := f.sent(tmplRescheduleConfirmed)
		if len(final) != 1 || final[0].Data["When"] != "7. 12. 2026 08:15" || final[0].Data["Was"] != "3. 12. 2026 09:00" {
			t.Fatalf("final message %+v", final)
		}
		if f.audited(auditRescheduleMoved) != 1 {
			t.Fatal("move not audited")
		}
		// Never again: a second pick, or a new request.
		if res := f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule/pick", url.Values{"slot": {times[2].Format(time.RFC3339)}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("second pick: %d", res.Status)
		}
		if res := f.ask("Znova"); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("request after the change: %d", res.Status)
		}
		if it := f.reload(f.item); !it.StartsAt.Equal(times[1]) {
			t.Fatal("changed again")
		}
	})
}

// E7: the staff refuse unjustified reasons, with a reason the customer is told; the
// original stands.
func TestRescheduleRefusedWithReason(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Nechce sa mi")
		r := f.request()
		if res := f.send(f.staff, "POST", "/eshop/staff/reschedules/"+r.ID+"/refuse", url.Values{"refusal": {""}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("refusal without a reason: %d", res.Status)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/reschedules/"+r.ID+"/refuse", url.Values{"refusal": {"Dôvod nie je závažný."}}); res.Status != http.StatusSeeOther {
			t.Fatalf("refusal: %d", res.Status)
		}
		if rr := f.request(); rr.Status != resRefused || rr.Refusal != "Dôvod nie je závažný." || rr.DecidedBy != f.staff.ID {
			t.Fatalf("request %+v", rr)
		}
		msgs := f.sent(tmplRescheduleRefused)
		if len(msgs) != 1 || msgs[0].Data["Refusal"] != "Dôvod nie je závažný." || f.audited(auditRescheduleRefused) != 1 {
			t.Fatalf("refusal message %+v", msgs)
		}
		// Already answered: an offer now changes nothing.
		if res, _ := f.offer(r); res.Status != http.StatusSeeOther || len(f.holds(holdOffer)) != 0 {
			t.Fatalf("offer after refusal: %d", res.Status)
		}
	})
}

// E8: check-in records each check with who and when; a represented person needs the
// representative's identity and right checked; sampling then marks the item sampled.
func TestCheckInRecordsChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		child := baTime(2026, 12, 3, 9, 15)
		_, kid := f.paidOrder(f.customer.ID, "2026-000002", child, "d1")
		f.now = baTime(2026, 12, 3, 9, 20)
		day := f.send(f.staff, "GET", "/eshop/staff?point="+f.point.ID+"&day=2026-12-03", nil)
		if day.Status != 200 || !strings.Contains(string(day.Body), "Anna Nováková") || !strings.Contains(string(day.Body), "Ján Novák") {
			t.Fatalf("day list: %d\n%s", day.Status, day.Body)
		}
		all := url.Values{"identity": {"yes"}, "instructions": {"yes"}, "consent": {"yes"}}
		res := f.send(f.staff, "POST", "/eshop/staff/items/"+kid.ID+"/checkin", all)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Overte totožnosť zákonného zástupcu.") {
			t.Fatalf("child without representative: %d\n%s", res.Status, res.Body)
		}
		if f.reload(kid).Status != itemBooked {
			t.Fatal("refused check-in changed the item")
		}
		all.Set("representative", "yes")
		all.Set("representative_right", "yes")
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+kid.ID+"/checkin", all); res.Status != http.StatusSeeOther {
			t.Fatalf("check-in: %d\n%s", res.Status, res.Body)
		}
		var a Attendance
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&a).Where("item_id = ?", kid.ID).Scan(ctx)
		})
		if !a.IdentityChecked || !a.RepresentativeChecked || !a.RepresentativeRight || !a.InstructionsGiven || !a.ConsentSigned || !a.OnTime ||
			a.CheckedInBy != f.staff.ID || !a.CheckedInAt.Time.Equal(f.now) || f.reload(kid).Status != itemCheckedIn {
			t.Fatalf("attendance %+v", a)
		}
		// The consent is required for the adult too.
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/checkin", url.Values{"identity": {"yes"}, "instructions": {"yes"}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("check-in without consent: %d", res.Status)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+kid.ID+"/sampled", url.Values{}); res.Status != http.StatusSeeOther || f.reload(kid).Status != itemSampled {
			t.Fatalf("sampled: %d", res.Status)
		}
		if f.audited(auditCheckedIn) != 1 || f.audited(auditSampled) != 1 {
			t.Fatal("not audited")
		}
		// Only a checked-in item is sampled.
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/sampled", url.Values{}); res.Status != http.StatusSeeOther || f.reload(f.item).Status != itemBooked {
			t.Fatal("an item not checked in was marked sampled")
		}
	})
}

// E8: arriving outside ±30 minutes needs the staff's acceptance; refused for lateness, the
// item is late_refused and its price and fee forfeited like a no-show; a no-show is marked
// only after the arrival window.
func TestLateArrivalRefusalForfeits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.now = baTime(2026, 12, 3, 9, 25) // within the tolerance
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/late-refuse", url.Values{}); res.Status != http.StatusUnprocessableEntity || f.reload(f.item).Status != itemBooked {
			t.Fatalf("late refusal within the tolerance: %d", res.Status)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/no-show", url.Values{}); res.Status != http.StatusUnprocessableEntity || f.reload(f.item).Status != itemBooked {
			t.Fatalf("no-show within the tolerance: %d", res.Status)
		}
		f.now = baTime(2026, 12, 3, 9, 31) // 31 minutes late
		checks := url.Values{"identity": {"yes"}, "instructions": {"yes"}, "consent": {"yes"}}
		res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/checkin", checks)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "mimo tolerancie") {
			t.Fatalf("late check-in without acceptance: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/late-refuse", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("late refusal: %d", res.Status)
		}
		var a Attendance
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&a).Where("item_id = ?", f.item.ID).Scan(ctx)
		})
		if f.reload(f.item).Status != itemLateRefused || !a.Forfeited || a.Outcome != itemLateRefused || a.OutcomeBy != f.staff.ID || !a.ArrivedAt.Time.Equal(f.now) {
			t.Fatalf("attendance %+v", a)
		}
		if f.audited(auditLateRefused) != 1 {
			t.Fatal("not audited")
		}
		// A late person accepted anyway is checked in, marked not on time.
		_, other := f.paidOrder("c5", "2026-000005", baTime(2026, 12, 3, 8, 0), "")
		checks.Set("accept_late", "yes")
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+other.ID+"/checkin", checks); res.Status != http.StatusSeeOther {
			t.Fatalf("accepted late check-in: %d", res.Status)
		}
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&a).Where("item_id = ?", other.ID).Scan(ctx)
		})
		if a.OnTime || f.reload(other).Status != itemCheckedIn {
			t.Fatalf("accepted late: %+v", a)
		}
		// After the window, nobody came: no-show, forfeited.
		_, absent := f.paidOrder("c6", "2026-000006", baTime(2026, 12, 3, 8, 30), "")
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+absent.ID+"/no-show", url.Values{}); res.Status != http.StatusSeeOther || f.reload(absent).Status != itemNoShow {
			t.Fatalf("no-show: %d", res.Status)
		}
	})
}

// E8: arrival on time but outside the point's opening hours is not on time.
func TestArrivalOutsideOpeningHoursIsLate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		_, it := f.paidOrder("c7", "2026-000007", baTime(2026, 12, 3, 11, 45), "")
		var ok bool
		f.in(func(ctx context.Context, sc *store.Scope) error {
			var err error
			ok, err = f.m.onTime(ctx, sc, f.A, it, baTime(2026, 12, 3, 12, 5)) // 20 minutes after the slot, but closed at 12:00
			return err
		})
		if ok {
			t.Fatal("arrival after closing counted on time")
		}
		f.in(func(ctx context.Context, sc *store.Scope) error {
			var err error
			ok, err = f.m.onTime(ctx, sc, f.A, it, baTime(2026, 12, 3, 11, 55))
			return err
		})
		if !ok {
			t.Fatal("arrival within the tolerance and hours counted late")
		}
	})
}

// E9, E13: sampling refused for a reason of the seed's list; the lab then withdraws by a
// notice to the login e-mail, effective when sent (recorded): the order is withdrawn, for
// the customer's reasons the price and fee forfeited; once.
func TestRefusalAndWithdrawalEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.now = baTime(2026, 12, 3, 9, 5)
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/refuse", url.Values{"reason": {"coffee"}}); res.Status != http.StatusBadRequest {
			t.Fatalf("unknown reason: %d", res.Status)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/refuse", url.Values{"reason": {"intoxication"}, "note": {"zápach alkoholu"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("refusal: %d", res.Status)
		}
		var a Attendance
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&a).Where("item_id = ?", f.item.ID).Scan(ctx)
		})
		if f.reload(f.item).Status != itemRefused || a.Reason != "intoxication" || a.Note != "zápach alkoholu" || a.Forfeited {
			t.Fatalf("refusal %+v", a)
		}
		day := f.send(f.staff, "GET", "/eshop/staff?point="+f.point.ID+"&day=2026-12-03", nil)
		if !strings.Contains(string(day.Body), "Zjavne pod vplyvom alkoholu") || strings.Contains(string(day.Body), ">intoxication<") {
			t.Fatal("the reason is not shown in words")
		}
		if len(f.sent(tmplWithdrawn)) != 0 || f.audited(auditRefused) != 1 {
			t.Fatal("a refusal alone withdraws or is not audited")
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/orders/"+f.order.ID+"/withdraw", url.Values{"reason": {"refused_sampling"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("withdrawal: %d\n%s", res.Status, res.Body)
		}
		msgs := f.sent(tmplWithdrawn)
		if len(msgs) != 1 || msgs[0].UserID != f.customer.ID || msgs[0].To != "" || !strings.Contains(msgs[0].Data["Money"].(string), "nevracajú") {
			t.Fatalf("notice %+v", msgs)
		}
		var w Withdrawal
		var o Order
		f.in(func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&w).Where("order_id = ?", f.order.ID).Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&o).Where("id = ?", f.order.ID).Scan(ctx)
		})
		if o.Status != orderWithdrawn || !w.CustomerFault || w.ForfeitMinor != 4200 || w.RefundMinor != 0 || !w.NoticeSentAt.Time.Equal(f.now) || w.MessageID == "" || w.DecidedBy != f.staff.ID {
			t.Fatalf("withdrawal %+v, order %s", w, o.Status)
		}
		if f.audited(auditWithdrawn) != 1 {
			t.Fatal("not audited")
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/orders/"+f.order.ID+"/withdraw", url.Values{"reason": {"breach"}}); res.Status != http.StatusSeeOther || len(f.sent(tmplWithdrawn)) != 1 {
			t.Fatal("withdrawn twice")
		}
	})
}

// E13: the lab's own withdrawal refunds what was paid.
func TestLabWithdrawalRefunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		if res := f.send(f.staff, "POST", "/eshop/staff/orders/"+f.order.ID+"/withdraw", url.Values{"reason": {"lab"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("withdrawal: %d", res.Status)
		}
		var w Withdrawal
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&w).Where("order_id = ?", f.order.ID).Scan(ctx)
		})
		if w.CustomerFault || w.RefundMinor != 4200 || w.ForfeitMinor != 0 || f.taken(f.item.StartsAt) != 0 {
			t.Fatalf("withdrawal %+v, place taken %d", w, f.taken(f.item.StartsAt))
		}
		// The item's place is freed and it says so: released, no hold.
		if it := f.reload(f.item); it.Status != itemReleased || it.HoldID != "" {
			t.Fatalf("the withdrawn order's item: %s, hold %q", it.Status, it.HoldID)
		}
	})
}

// E8: the lab cancels a slot and holds an alternative at the same point: the item moves
// there, the original place is freed, the customer is told by e-mail; within ±2 h it counts
// as the slot kept. Without an alternative the item is cancelled_by_lab.
func TestLabCancellationOffersAlternative(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		alt := baTime(2026, 12, 3, 10, 30)
		res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/cancel", url.Values{"reason": {"Porucha centrifúgy"}, "alternative": {"2026-12-03T10:30"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d\n%s", res.Status, res.Body)
		}
		it := f.reload(f.item)
		if !it.StartsAt.Equal(alt) || it.Status != itemBooked || f.taken(baTime(2026, 12, 3, 9, 0)) != 0 || f.taken(alt) != 1 {
			t.Fatalf("item %+v", it)
		}
		var lc LabCancellation
		f.in(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&lc).Where("item_id = ?", it.ID).Scan(ctx)
		})
		if !lc.WithinTolerance || !lc.NewAt.Equal(alt) || lc.DecidedBy != f.staff.ID {
			t.Fatalf("cancellation %+v", lc)
		}
		msgs := f.sent(tmplLabCancelled)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Data["Alternative"].(string), "3. 12. 2026 10:30") {
			t.Fatalf("message %+v", msgs)
		}
		_, other := f.paidOrder("c8", "2026-000008", baTime(2026, 12, 4, 9, 0), "")
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+other.ID+"/cancel", url.Values{"reason": {""}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("cancel without a reason: %d", res.Status)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+other.ID+"/cancel", url.Values{"reason": {"Chorá sestra"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancel without alternative: %d", res.Status)
		}
		if f.reload(other).Status != itemCancelledByLab || f.taken(baTime(2026, 12, 4, 9, 0)) != 0 || f.audited(auditLabCancelled) != 2 {
			t.Fatal("cancelled_by_lab not recorded")
		}
		// The lab agrees a new slot with the customer afterwards: booked again there.
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+other.ID+"/cancel", url.Values{"reason": {"Náhradný termín po dohode"}, "alternative": {"2026-12-08T07:30"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("new slot after a cancellation: %d\n%s", res.Status, res.Body)
		}
		if it := f.reload(other); it.Status != itemBooked || !it.StartsAt.Equal(baTime(2026, 12, 8, 7, 30)) || f.taken(it.StartsAt) != 1 {
			t.Fatalf("rebooked item %+v", it)
		}
	})
}

// E13: forceMajeureDays counts the days of the recorded periods within the range, once
// where periods overlap, a started day as a day.
func TestForceMajeureDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.in(func(ctx context.Context, sc *store.Scope) error {
			for _, p := range [][2]time.Time{{baTime(2026, 12, 1, 0, 0), baTime(2026, 12, 3, 0, 0)}, {baTime(2026, 12, 2, 0, 0), baTime(2026, 12, 4, 12, 0)}, {baTime(2027, 1, 10, 0, 0), baTime(2027, 1, 11, 0, 0)}} {
				if _, err := sc.Insert(&ForceMajeure{TenantID: f.A.ID, ID: newID(), StartsAt: p[0], EndsAt: p[1], Description: "Povodeň", RecordedBy: "s1", RecordedAt: f.now, NotifyBy: p[1]}).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		cases := []struct {
			from, to time.Time
			want     int
		}{
			{baTime(2026, 11, 1, 0, 0), baTime(2026, 11, 30, 0, 0), 0},
			{baTime(2026, 11, 1, 0, 0), baTime(2026, 12, 31, 0, 0), 4},  // 1 Dec – 4 Dec 12:00: 3.5 days
			{baTime(2026, 12, 2, 0, 0), baTime(2026, 12, 3, 0, 0), 1},   // inside
			{baTime(2026, 11, 1, 0, 0), baTime(2027, 2, 1, 0, 0), 5},    // and January's day
			{baTime(2026, 12, 3, 18, 0), baTime(2026, 12, 10, 0, 0), 1}, // 18 h of the second period
		}
		for _, c := range cases {
			var got int
			f.in(func(ctx context.Context, sc *store.Scope) error {
				var err error
				got, err = f.m.forceMajeureDays(ctx, sc, c.from, c.to)
				return err
			})
			if got != c.want {
				t.Errorf("%v – %v: %d days, want %d", c.from, c.to, got, c.want)
			}
		}
	})
}

// E13: staff record a period; the customers with items in it are told by e-mail (one notice
// per order, the job and the sweep together), its deadline within 3 working days of its
// start; a period ending before it starts is refused next to its field.
func TestForceMajeureNotice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.paidOrder("c9", "2026-000009", baTime(2026, 12, 10, 9, 0), "") // outside the period
		bad := url.Values{"starts": {"2026-12-03T00:00"}, "ends": {"2026-12-02T00:00"}, "description": {"Povodeň"}}
		res := f.send(f.staff, "POST", "/eshop/staff/force-majeure", bad)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Koniec musí byť po začiatku.") {
			t.Fatalf("bad period: %d\n%s", res.Status, res.Body)
		}
		good := url.Values{"starts": {"2026-12-02T00:00"}, "ends": {"2026-12-04T00:00"}, "description": {"Povodeň v budove"}}
		if res := f.send(f.staff, "POST", "/eshop/staff/force-majeure", good); res.Status != http.StatusSeeOther {
			t.Fatalf("record: %d\n%s", res.Status, res.Body)
		}
		var ps []ForceMajeure
		f.in(func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ps).Scan(ctx) })
		if len(ps) != 1 || !ps[0].NotifyBy.Equal(baTime(2026, 12, 8, 0, 0)) { // Wed 2 Dec + 3 working days: Thu, Fri, Mon
			t.Fatalf("periods %+v", ps)
		}
		var job *sdk.Job
		for _, j := range f.h.Host.Jobs {
			if j.Value.Name == jobNotifyFM {
				job = &j.Value
			}
		}
		if job == nil || string(job.Payload) != ps[0].ID {
			t.Fatal("notice job not scheduled")
		}
		if err := f.h.Job(context.Background(), f.A, jobNotifyFM, job.Payload); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Job(context.Background(), f.A, jobSweepFM, nil); err != nil {
			t.Fatal(err)
		}
		msgs := f.sent(tmplForceMajeure)
		if len(msgs) != 1 || msgs[0].UserID != f.customer.ID || msgs[0].Data["Extension"] != "o 2 dni" || msgs[0].Data["Description"] != "Povodeň v budove" {
			t.Fatalf("notices %+v", msgs)
		}
		f.in(func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ps).Scan(ctx) })
		if ps[0].NotifiedAt.IsZero() || f.audited(auditForceMajeure) != 1 {
			t.Fatal("period not marked notified or not audited")
		}
		// The tenant's administrator records one from his own page too.
		admin := &sdk.User{ID: "a1", Email: "admin@example.sk", Name: "Správca", Roles: []string{"tenant_admin"}}
		page := f.send(admin, "GET", "/eshop/manage/force-majeure", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), `action="/eshop/manage/force-majeure"`) || strings.Contains(string(page.Body), `href="/eshop/staff/reschedules"`) {
			t.Fatalf("admin's page: %d\n%s", page.Status, page.Body)
		}
		res = f.send(admin, "POST", "/eshop/manage/force-majeure", url.Values{"starts": {"2027-01-04T08:00"}, "ends": {"2027-01-04T12:00"}, "description": {"Výpadok siete"}})
		if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/eshop/manage/force-majeure") {
			t.Fatalf("admin's record: %d %s", res.Status, res.Header.Get("Location"))
		}
	})
}

// The staff's and the customer's pages answer in fr, pl and sk, with no message id left.
func TestStaffPagesInEveryLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Hospitalizácia")
		r := f.request()
		for _, lang := range []string{"fr", "pl", "sk"} {
			f.A.Locale = lang
			for _, c := range []struct {
				u    *sdk.User
				path string
			}{{f.staff, "/eshop/staff?day=2026-12-03"}, {f.staff, "/eshop/staff/reschedules"}, {f.staff, "/eshop/staff/force-majeure"},
				{f.customer, "/eshop/orders/" + f.order.ID + "/reschedule"}} {
				res := f.send(c.u, "GET", c.path, nil)
				body := string(res.Body)
				if res.Status != 200 || strings.Contains(body, "eshop.") || strings.Contains(body, r.ID+"<") {
					t.Fatalf("%s %s: %d\n%s", lang, c.path, res.Status, body)
				}
			}
		}
	})
}

// E7: concurrent answers to one request — the staff offering twice at once, the customer
// picking twice at once — change it once: the database's guarded updates hold it.
func TestRescheduleRaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Operácia")
		r := f.request()
		var wg sync.WaitGroup
		var times []time.Time
		var mu sync.Mutex
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, ts := f.offer(r)
				if res.Status != http.StatusSeeOther && res.Status != http.StatusUnprocessableEntity {
					t.Errorf("offer: %d", res.Status)
				}
				mu.Lock()
				times = ts
				mu.Unlock()
			}()
		}
		wg.Wait()
		if n := len(f.holds(holdOffer)); n != 3 || len(f.sent(tmplRescheduleOffer)) != 1 {
			t.Fatalf("%d offer holds, %d offers sent", n, len(f.sent(tmplRescheduleOffer)))
		}
		for _, x := range times {
			if f.taken(x) != 1 {
				t.Fatalf("time %v taken %d", x, f.taken(x))
			}
		}
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.send(f.customer, "POST", "/eshop/orders/"+f.order.ID+"/reschedule/pick", url.Values{"slot": {times[i%3].Format(time.RFC3339)}})
			}()
		}
		wg.Wait()
		moved := 0
		for _, x := range times {
			moved += f.taken(x)
		}
		it := f.reload(f.item)
		if moved != 1 || !it.Rescheduled || f.taken(it.StartsAt) != 1 || f.taken(baTime(2026, 12, 3, 9, 0)) != 0 || len(f.sent(tmplRescheduleConfirmed)) != 1 {
			t.Fatalf("after racing picks: %d places held at the offered times, item %+v", moved, it)
		}
	})
}

// P11: a customer's export holds his reschedule requests; deleting his account erases what
// he wrote in them and detaches them.
func TestStaffExportAndForget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.ask("Hospitalizácia manželky")
		data, err := f.h.Export(context.Background(), f.A, f.customer.ID)
		if err != nil || !strings.Contains(string(data), "Hospitalizácia manželky") || !strings.Contains(string(data), "reschedule_requests") {
			t.Fatalf("export %s (%v)", data, err)
		}
		if err := f.h.Event(context.Background(), f.A, "user.deleted", []byte(f.customer.ID)); err != nil {
			t.Fatal(err)
		}
		r := f.request()
		if r.Reasons != "" || r.Preferences != "" || r.UserID != "" {
			t.Fatalf("request kept %+v", r)
		}
	})
}

// E13: force majeure extends the lab's deadlines by its length: a period of a day and a
// half within the answer's window moves the answer two days later.
func TestForceMajeureExtendsRescheduleDeadlines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.in(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&ForceMajeure{TenantID: f.A.ID, ID: newID(), StartsAt: baTime(2026, 11, 21, 0, 0), EndsAt: baTime(2026, 11, 22, 12, 0),
				Description: "Výpadok elektriny", RecordedBy: "s1", RecordedAt: f.now, NotifyBy: baTime(2026, 11, 25, 0, 0)}).Exec(ctx)
			return err
		})
		f.ask("Operácia")
		if r := f.request(); !r.AnswerBy.Equal(baTime(2026, 11, 26, 0, 0)) {
			t.Fatalf("answer by %v, want the end of Wednesday 25 November", r.AnswerBy.In(baZone))
		}
	})
}

// E9, E13: concurrent withdrawals of one order send one notice.
func TestWithdrawalRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if res := f.send(f.staff, "POST", "/eshop/staff/orders/"+f.order.ID+"/withdraw", url.Values{"reason": {"breach"}}); res.Status != http.StatusSeeOther {
					t.Errorf("withdrawal: %d", res.Status)
				}
			}()
		}
		wg.Wait()
		if n := len(f.sent(tmplWithdrawn)); n != 1 || f.audited(auditWithdrawn) != 1 {
			t.Fatalf("%d notices", n)
		}
	})
}

// E8: a staff form refused (a check not ticked, a cancellation without its reason) shows the
// day list of that appointment's own day and point, the message next to its field, and
// changes nothing — not today's list of the first point, where the appointment is missing.
func TestStaffFormErrorsShowOnTheItemsDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		// Another point, first by name, so "the first point" is not the item's.
		f.in(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Point{TenantID: f.A.ID, ID: newID(), Name: "Aupark", Town: "Bratislava", SlotMinutes: 15, Capacity: 2, Active: true, CreatedAt: f.now, UpdatedAt: f.now}).Exec(ctx)
			return err
		})
		back := "/eshop/staff?point=" + f.point.ID + "&day=2026-12-03"
		form := url.Values{"instructions": {"yes"}, "consent": {"yes"}, "back": {back}}
		for _, withBack := range []bool{true, false} {
			if !withBack {
				form.Del("back")
			}
			res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/checkin", form)
			body := string(res.Body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "Ján Novák") ||
				!strings.Contains(body, "Bez overenia totožnosti nemožno odber vykonať.") || !strings.Contains(body, `aria-describedby="e-identity"`) ||
				!strings.Contains(body, `<option value="`+f.point.ID+`" selected>`) || !strings.Contains(body, `value="2026-12-03"`) {
				t.Fatalf("check-in without identity (back %v): %d\n%s", withBack, res.Status, body)
			}
			if f.reload(f.item).Status != itemBooked {
				t.Fatal("a refused check-in changed the item")
			}
		}
		res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/cancel", url.Values{"reason": {" "}, "back": {back}})
		body := string(res.Body)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="lr-`+f.item.ID+`"`) || !strings.Contains(body, `<details open>`) {
			t.Fatalf("cancellation without a reason: %d\n%s", res.Status, body)
		}
		if it := f.reload(f.item); it.Status != itemBooked || len(f.sent(tmplLabCancelled)) != 0 {
			t.Fatal("a refused cancellation changed the item")
		}
	})
}

// E8: the lab's cancellation with an alternative tells the customer the new exact time, the
// point and the lab's contact; the order page's notice (labMoves) knows the slot was moved
// by the lab, from when to when.
func TestLabCancellationMailGivesTimePointContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.A.Rules = map[string]any{"tenant.contacts.support": "pomoc@unilabs.sk", "tenant.contacts.phone": "+421 2 123 456"}
		f.in(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Point)(nil)).Set("street = 'Ružinovská 10'").Where("id = ?", f.point.ID).Exec(ctx)
			return err
		})
		res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/cancel", url.Values{"reason": {"Porucha centrifúgy"}, "alternative": {"2026-12-04T10:30"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d\n%s", res.Status, res.Body)
		}
		msgs := f.sent(tmplLabCancelled)
		if len(msgs) != 1 {
			t.Fatalf("messages %+v", msgs)
		}
		alt, _ := msgs[0].Data["Alternative"].(string)
		if !strings.Contains(alt, "4. 12. 2026 10:30") || !strings.Contains(alt, "Odberné miesto Ružinov, Ružinovská 10, Bratislava") {
			t.Errorf("alternative %q", alt)
		}
		if c := msgs[0].Data["Contact"]; c != "Kontakt na laboratórium: pomoc@unilabs.sk, +421 2 123 456" {
			t.Errorf("contact %q", c)
		}
		var moves map[string]LabMove
		f.in(func(ctx context.Context, sc *store.Scope) error {
			var err error
			moves, err = labMoves(ctx, sc, f.order.ID)
			return err
		})
		if mv, ok := moves[f.item.ID]; len(moves) != 1 || !ok || !mv.Was.Equal(baTime(2026, 12, 3, 9, 0)) || !mv.At.Equal(baTime(2026, 12, 4, 10, 30)) {
			t.Fatalf("moves %+v", moves)
		}
		// The customer's order page says the lab moved the slot, from when to when.
		page := string(f.send(f.customer, "GET", "/eshop/orders/"+f.order.ID, nil).Body)
		if !strings.Contains(page, `<p class="notice" role="status">`) || !strings.Contains(page, "3. 12. 2026 09:00") || !strings.Contains(page, "4. 12. 2026 10:30") {
			t.Errorf("E8: the order page does not tell the moved slot:\n%s", page)
		}
		// Without a contact configured, no empty "contact:" line.
		f.A.Rules = nil
		_, other := f.paidOrder("c8", "2026-000008", baTime(2026, 12, 7, 9, 0), "")
		f.send(f.staff, "POST", "/eshop/staff/items/"+other.ID+"/cancel", url.Values{"reason": {"Chorá sestra"}})
		if msgs := f.sent(tmplLabCancelled); len(msgs) != 2 || msgs[1].Data["Contact"] != "" {
			t.Fatalf("messages %+v", msgs)
		}
	})
}

// E13: the force-majeure notice says the appointments in the period do not take place (the
// lab will contact the customer, or he may reschedule) — only to a customer who has one
// there — and gives the lab's contact.
func TestForceMajeureNoticeSaysAppointmentsDoNotTakePlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		f.A.Rules = map[string]any{"tenant.contacts.phone": "+421 2 123 456"}
		// Another order sampled before the period, waiting for its result while it runs.
		o2, it2 := f.paidOrder("c9", "2026-000009", baTime(2026, 12, 1, 9, 0), "")
		f.in(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemSampled).Where("id = ?", it2.ID).Exec(ctx)
			return err
		})
		if res := f.send(f.staff, "POST", "/eshop/staff/force-majeure", url.Values{"starts": {"2026-12-02T00:00"}, "ends": {"2026-12-04T00:00"}, "description": {"Povodeň"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("record: %d\n%s", res.Status, res.Body)
		}
		var ps []ForceMajeure
		f.in(func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ps).Scan(ctx) })
		if err := f.h.Job(context.Background(), f.A, jobNotifyFM, []byte(ps[0].ID)); err != nil {
			t.Fatal(err)
		}
		by := map[string]sdk.Message{}
		for _, m := range f.sent(tmplForceMajeure) {
			by[m.Data["Order"].(string)] = m
		}
		want := "Odbery objednané na toto obdobie sa neuskutočnia"
		if m, ok := by[f.order.Number]; !ok || !strings.HasPrefix(m.Data["Appointments"].(string), want) || m.Data["Contact"] != "Kontakt na laboratórium: +421 2 123 456" {
			t.Fatalf("notice with an appointment in the period: %+v", by)
		}
		if m, ok := by[o2.Number]; !ok || m.Data["Appointments"] != "" {
			t.Fatalf("notice to the order waiting for its result: %+v", by)
		}
	})
}

// addItem adds to order o another test at start at the fixture's point, its place held.
func (f *staffFixture) addItem(o *Order, start time.Time) *OrderItem {
	f.t.Helper()
	it := &OrderItem{TenantID: f.A.ID, ID: newID(), OrderID: o.ID, ItemID: "y", Kind: kindTest, Name: "Glukóza", PriceMinor: 900, VATPercent: 23, FeeMinor: 0,
		FeeVATPercent: 23, TATDays: 2, PersonName: "Ján Novák", PointID: f.point.ID, StartsAt: start, Status: itemBooked}
	f.in(func(ctx context.Context, sc *store.Scope) error {
		now := f.now
		f.now = start.Add(-24 * time.Hour)
		hold, err := f.m.holdPlace(ctx, sc, f.A, f.point.ID, start, holdOrder, it.ID, o.UserID, nil)
		f.now = now
		if err != nil {
			return err
		}
		it.HoldID = hold
		_, err = sc.Insert(it).Exec(ctx)
		return err
	})
	return it
}

func (f *staffFixture) orderStatus(o *Order) string {
	f.t.Helper()
	var x Order
	f.in(func(ctx context.Context, sc *store.Scope) error { return sc.Select(&x).Where("id = ?", o.ID).Scan(ctx) })
	return x.Status
}

// A paid order whose every item ended (no-show, refused, late_refused) or whose result is
// published becomes completed — not before its last item; the lab may still withdraw from
// it after a refusal (E9).
func TestOrderCompletedWhenEveryItemEnds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		second := f.addItem(f.order, baTime(2026, 12, 3, 9, 15))
		f.now = baTime(2026, 12, 3, 10, 0)
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+f.item.ID+"/no-show", url.Values{}); res.Status != http.StatusSeeOther || f.reload(f.item).Status != itemNoShow {
			t.Fatalf("no-show: %d", res.Status)
		}
		if s := f.orderStatus(f.order); s != orderPaid {
			t.Fatalf("order %s with an item still booked", s)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/items/"+second.ID+"/refuse", url.Values{"reason": {"intoxication"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("refuse: %d", res.Status)
		}
		if s := f.orderStatus(f.order); s != orderCompleted {
			t.Fatalf("order %s after its last item ended", s)
		}
		day := string(f.send(f.staff, "GET", "/eshop/staff?point="+f.point.ID+"&day=2026-12-03", nil).Body)
		if !strings.Contains(day, "/eshop/staff/orders/"+f.order.ID+"/withdraw") {
			t.Fatalf("no withdrawal form for the completed order after a refusal:\n%s", day)
		}
		if res := f.send(f.staff, "POST", "/eshop/staff/orders/"+f.order.ID+"/withdraw", url.Values{"reason": {"refused_sampling"}}); res.Status != http.StatusSeeOther ||
			f.orderStatus(f.order) != orderWithdrawn || len(f.sent(tmplWithdrawn)) != 1 {
			t.Fatalf("withdrawal from the completed order: %d %s", res.Status, f.orderStatus(f.order))
		}
	})
}

// The last two items of an order ended at once, in two transactions: the order is
// completed all the same (its row is locked before the check), on both databases.
func TestOrderCompletedRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := staffSetup(t, b)
		for round := 0; round < 4; round++ {
			o, first := f.paidOrder(f.customer.ID, fmt.Sprintf("2026-10%04d", round), baTime(2026, 12, 4, 8, 0).Add(time.Duration(round)*30*time.Minute), "")
			second := f.addItem(o, baTime(2026, 12, 4, 8, 15).Add(time.Duration(round)*30*time.Minute))
			var wg sync.WaitGroup
			for _, it := range []*OrderItem{first, second} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if res := f.send(f.staff, "POST", "/eshop/staff/items/"+it.ID+"/refuse", url.Values{"reason": {"cooperation"}}); res.Status != http.StatusSeeOther {
						t.Errorf("refuse: %d", res.Status)
					}
				}()
			}
			wg.Wait()
			if f.reload(first).Status != itemRefused || f.reload(second).Status != itemRefused {
				t.Fatal("items not refused")
			}
			if s := f.orderStatus(o); s != orderCompleted {
				t.Fatalf("round %d: order %s after both items ended at once", round, s)
			}
		}
	})
}
