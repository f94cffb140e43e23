package eshop

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// catFixture is the catalog part's test fixture: the module on one backend, two Slovak
// tenants, a clock the test sets.
type catFixture struct {
	t    *testing.T
	m    *Module
	h    *sdktest.Harness
	A, B sdk.Tenant
	now  time.Time
}

// catTenant is a Slovak tenant of the e-shop in locale loc.
func catTenant(id, loc string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: id, Name: "Lab " + id, Locale: loc, TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"}
}

// catSetup starts the module on b; the clock is Friday 20 November 2026, 10:00 UTC.
func catSetup(t *testing.T, b storetest.Backend) *catFixture {
	m := newModule()
	f := &catFixture{t: t, m: m, A: catTenant("tA", "sk"), B: catTenant("tB", "sk"), now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	return f
}

var catManager = &sdk.User{ID: "mgr1", Name: "Mária Vedúca", Roles: []string{"shop_manager"}}

// send sends a request as u (nil: anonymous) to tenant ten; form, when set, is the body.
func (f *catFixture) send(ten sdk.Tenant, u *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}}
	if form != nil {
		req.Body = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := f.h.Send(context.Background(), ten, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// point stores an active point of tenant ten with capacity places per slot of slot minutes,
// and its weekly hours.
func (f *catFixture) point(ten sdk.Tenant, name string, slot, capacity int, hours ...PointHours) *Point {
	f.t.Helper()
	lat, lon := 48.1486, 17.1077
	p := &Point{Name: name, Street: "Mickiewiczova 13", Town: "Bratislava", Postcode: "811 07", Building: "Pavilón B", Floor: "2", Room: "214",
		Latitude: &lat, Longitude: &lon, Phone: "+421 2 1234 5678", Directions: "Električkou č. 4 na zastávku Americké námestie.",
		SlotMinutes: slot, Capacity: capacity, Active: true}
	ctx := context.Background()
	if err := f.m.savePoint(ctx, ten, p); err != nil {
		f.t.Fatal(err)
	}
	if err := f.m.setPointHours(ctx, ten, p.ID, hours); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// weekdays are opening hours from opens to closes on Monday to Friday.
func weekdays(opens, closes string) []PointHours {
	var out []PointHours
	for wd := 1; wd <= 5; wd++ {
		out = append(out, PointHours{Weekday: wd, Opens: opens, Closes: closes})
	}
	return out
}

// capacityAt is slotCapacity in its own transaction.
func (f *catFixture) capacityAt(ten sdk.Tenant, pointID string, at time.Time) (int, error) {
	var n int
	err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		var err error
		n, err = f.m.slotCapacity(ctx, sc, ten, pointID, at)
		return err
	})
	return n, err
}

// slots is openSlots in its own transaction.
func (f *catFixture) slots(ten sdk.Tenant, pointID string, from, to time.Time) []Slot {
	f.t.Helper()
	var out []Slot
	if err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		var err error
		out, err = f.m.openSlots(ctx, sc, ten, pointID, from, to)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// hold is holdPlace for a cart in its own transaction.
func (f *catFixture) hold(ten sdk.Tenant, pointID string, at time.Time, ref string) (string, error) {
	var id string
	err := f.m.In(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		var err error
		exp := f.now.Add(30 * time.Minute)
		id, err = f.m.holdPlace(ctx, sc, ten, pointID, at, holdCart, ref, "u1", &exp)
		return err
	})
	return id, err
}

// load is the slot's row (taken, capacity), zero when it has none.
func (f *catFixture) load(ten sdk.Tenant, pointID string, at time.Time) SlotLoad {
	f.t.Helper()
	var l SlotLoad
	if err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&l).Where("sl.point_id = ? AND sl.starts_at = ?", pointID, at.UTC()).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return l
}

// bratislava is a local time in the tenant's zone.
func bratislava(y int, mo time.Month, d, h, mi int) time.Time {
	loc, err := time.LoadLocation("Europe/Bratislava")
	if err != nil {
		panic(err)
	}
	return time.Date(y, mo, d, h, mi, 0, 0, loc)
}

// E3, E4: a slot starts on the point's grid — an opening range's start plus k slot lengths,
// ending by the closing — on a day the point is open: not a weekend it has no hours for, not
// a Slovak public holiday, not a day its exception closes, at an exception's own hours on a
// day that has them, never in the past; a day may have several ranges. Another tenant's
// point has no slot.
func TestSlotGridHolidaysAndExceptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		hours := append(weekdays("07:00", "10:00"), PointHours{Weekday: 3, Opens: "14:00", Closes: "15:30"})
		p := f.point(f.A, "Odberové miesto Kramáre", 15, 3, hours...)
		for _, c := range []struct {
			at   time.Time
			want bool
			why  string
		}{
			{bratislava(2026, 11, 23, 7, 0), true, "Monday's opening"},
			{bratislava(2026, 11, 23, 9, 45), true, "the last slot, ending at the closing"},
			{bratislava(2026, 11, 23, 7, 5), false, "off the 15-minute grid"},
			{bratislava(2026, 11, 23, 10, 0), false, "at the closing"},
			{bratislava(2026, 11, 23, 6, 45), false, "before the opening"},
			{bratislava(2026, 11, 25, 14, 15), true, "Wednesday's second range"},
			{bratislava(2026, 11, 24, 14, 15), false, "Tuesday has no second range"},
			{bratislava(2026, 11, 28, 8, 0), false, "a Saturday without hours"},
			{bratislava(2026, 12, 24, 8, 0), false, "Christmas Eve, a Slovak public holiday"},
			{bratislava(2027, 1, 6, 8, 0), false, "Epiphany, a Slovak public holiday"},
			{bratislava(2026, 11, 20, 7, 0), false, "today, already past"},
			{bratislava(2026, 11, 16, 8, 0), false, "last week"},
		} {
			n, err := f.capacityAt(f.A, p.ID, c.at)
			if c.want && (err != nil || n != 3) {
				t.Fatalf("%s: %d, %v", c.why, n, err)
			}
			if !c.want && !errors.Is(err, errNoSlot) {
				t.Fatalf("%s: %d, %v, want errNoSlot", c.why, n, err)
			}
		}
		// Exceptions: Tuesday 1 December closed, Thursday 3 December open 12:00–13:00 only.
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			for _, e := range []PointException{{Day: "2026-12-01", Closed: true, Note: "Sanitárny deň"}, {Day: "2026-12-03", Opens: "12:00", Closes: "13:00"}} {
				e.TenantID, e.PointID = sc.TenantID, p.ID
				if _, err := sc.Insert(&e).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.capacityAt(f.A, p.ID, bratislava(2026, 12, 1, 8, 0)); !errors.Is(err, errNoSlot) {
			t.Fatalf("a closed exception day: %v", err)
		}
		if _, err := f.capacityAt(f.A, p.ID, bratislava(2026, 12, 3, 8, 0)); !errors.Is(err, errNoSlot) {
			t.Fatalf("a weekday's hours on a day with its own hours: %v", err)
		}
		if n, err := f.capacityAt(f.A, p.ID, bratislava(2026, 12, 3, 12, 45)); err != nil || n != 3 {
			t.Fatalf("an exception's own hours: %d, %v", n, err)
		}
		// openSlots walks the same days: Monday 23 November has 12 slots, the week of 30
		// November has Monday's 12, Wednesday's 12 + 6, Thursday's 4 and Friday's 12; the
		// closed Tuesday none.
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 23, 0, 0), bratislava(2026, 11, 24, 0, 0)); len(got) != 12 || !got[0].Start.Equal(bratislava(2026, 11, 23, 7, 0)) || got[0].Free != 3 {
			t.Fatalf("Monday: %+v", got)
		}
		week := f.slots(f.A, p.ID, bratislava(2026, 11, 30, 0, 0), bratislava(2026, 12, 5, 0, 0))
		if len(week) != 12+18+4+12 {
			t.Fatalf("the week of 30 November: %d slots", len(week))
		}
		for i, s := range week {
			if i > 0 && !s.Start.After(week[i-1].Start) {
				t.Fatalf("slots out of order at %d", i)
			}
			if _, err := f.capacityAt(f.A, p.ID, s.Start); err != nil {
				t.Fatalf("openSlots lists %s, slotCapacity refuses it: %v", s.Start, err)
			}
			if s.Start.In(time.UTC).Format("2006-01-02") == "2026-12-01" {
				t.Fatalf("a slot on the closed day: %s", s.Start)
			}
		}
		// The past is never offered: from this morning, today's slots are those after 10:00 UTC.
		for _, s := range f.slots(f.A, p.ID, bratislava(2026, 11, 20, 0, 0), bratislava(2026, 11, 21, 0, 0)) {
			if !s.Start.After(f.now) {
				t.Fatalf("a past slot offered: %s", s.Start)
			}
		}
		// Tenants never leak: tenant B sees no slot of A's point.
		if _, err := f.capacityAt(f.B, p.ID, bratislava(2026, 11, 23, 7, 0)); !errors.Is(err, errNoSlot) {
			t.Fatalf("another tenant's point: %v", err)
		}
		if got := f.slots(f.B, p.ID, bratislava(2026, 11, 23, 0, 0), bratislava(2026, 11, 24, 0, 0)); len(got) != 0 {
			t.Fatalf("another tenant's point lists %d slots", len(got))
		}
	})
}

// E4: the slots keep their local hours across the changes of time (summer time starts on
// 29 March 2026 and ends on 25 October 2026 in Bratislava): 08:00 local is 07:00 UTC
// before and 06:00 UTC after the spring change, and again 07:00 UTC after the autumn one.
func TestSlotsAcrossDST(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		f.now = time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
		p := f.point(f.A, "Odberové miesto Ružinov", 30, 2, PointHours{Weekday: 1, Opens: "08:00", Closes: "09:00"})
		got := f.slots(f.A, p.ID, f.now, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
		want := []time.Time{
			time.Date(2026, 3, 23, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 23, 7, 30, 0, 0, time.UTC),
			time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 6, 30, 0, 0, time.UTC),
		}
		if len(got) != len(want) {
			t.Fatalf("spring: %+v", got)
		}
		for i := range want {
			if !got[i].Start.Equal(want[i]) {
				t.Fatalf("spring slot %d: %s, want %s", i, got[i].Start, want[i])
			}
		}
		if _, err := f.capacityAt(f.A, p.ID, time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)); !errors.Is(err, errNoSlot) {
			t.Fatalf("07:00 UTC on 30 March is 09:00 local, the closing: %v", err)
		}
		if n, err := f.capacityAt(f.A, p.ID, time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC)); err != nil || n != 2 {
			t.Fatalf("08:00 local on 30 March: %d, %v", n, err)
		}
		// Easter Monday (6 April 2026) is a Slovak public holiday.
		if got := f.slots(f.A, p.ID, time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)); len(got) != 0 {
			t.Fatalf("Easter Monday: %+v", got)
		}
		// Hours that overlap on a day are refused, the former ones kept.
		if err := f.m.setPointHours(context.Background(), f.A, p.ID, []PointHours{{Weekday: 1, Opens: "08:00", Closes: "10:00"}, {Weekday: 1, Opens: "09:30", Closes: "11:00"}}); !errors.Is(err, errOverlap) {
			t.Fatalf("overlapping hours: %v", err)
		}
		f.now = time.Date(2026, 10, 20, 10, 0, 0, 0, time.UTC)
		got = f.slots(f.A, p.ID, f.now, time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC))
		if len(got) != 2 || !got[0].Start.Equal(time.Date(2026, 10, 26, 7, 0, 0, 0, time.UTC)) {
			t.Fatalf("autumn: %+v", got)
		}
	})
}

// E4: a slot of N places held by N + 50 customers at once gives exactly N holds, the others
// told the slot is full, on both databases; the slot's count says N; the slot then lists no
// free place. Releasing one hold twice at once gives its place back once.
func TestSlotPlacesHeldByTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		const n = 4
		p := f.point(f.A, "Odberové miesto Petržalka", 15, n, weekdays("07:00", "11:00")...)
		at := bratislava(2026, 11, 23, 8, 0)
		ids := make([]string, n+50)
		errs := make([]error, n+50)
		var wg sync.WaitGroup
		for i := range n + 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i], errs[i] = f.hold(f.A, p.ID, at, "cart-item")
			}()
		}
		wg.Wait()
		var held []string
		for i, err := range errs {
			switch {
			case err == nil:
				held = append(held, ids[i])
			case !errors.Is(err, errSlotFull):
				t.Fatalf("hold %d: %v", i, err)
			}
		}
		if len(held) != n {
			t.Fatalf("%d holds on a slot of %d places", len(held), n)
		}
		if l := f.load(f.A, p.ID, at); l.Taken != n || l.Capacity != n {
			t.Fatalf("the slot's row: %+v", l)
		}
		for _, s := range f.slots(f.A, p.ID, at, at.Add(time.Minute)) {
			if s.Free != 0 {
				t.Fatalf("a full slot lists %d free places", s.Free)
			}
		}
		// Two releases of the same hold at once: one gives the place back.
		var released [2]bool
		var rerr [2]error
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rerr[i] = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
					var err error
					released[i], err = f.m.releaseHold(ctx, sc, held[0])
					return err
				})
			}()
		}
		wg.Wait()
		if rerr[0] != nil || rerr[1] != nil || released[0] == released[1] {
			t.Fatalf("two releases: %v %v, errors %v %v", released[0], released[1], rerr[0], rerr[1])
		}
		if l := f.load(f.A, p.ID, at); l.Taken != n-1 {
			t.Fatalf("after one release the slot counts %d", l.Taken)
		}
		if got := f.slots(f.A, p.ID, at, at.Add(time.Minute)); len(got) != 1 || got[0].Free != 1 {
			t.Fatalf("after one release: %+v", got)
		}
		// The manager raises the capacity: the full slot takes more people, as far as the new
		// capacity.
		p.Capacity = n + 2
		if err := f.m.savePoint(context.Background(), f.A, p); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := f.hold(f.A, p.ID, at, "more"); err != nil {
				t.Fatalf("hold %d after the capacity rose: %v", i, err)
			}
		}
		if _, err := f.hold(f.A, p.ID, at, "one too many"); !errors.Is(err, errSlotFull) {
			t.Fatalf("beyond the new capacity: %v", err)
		}
		// The manager lowers it below the places held: they stay, no new one is taken until
		// enough are released.
		p.Capacity = 2
		if err := f.m.savePoint(context.Background(), f.A, p); err != nil {
			t.Fatal(err)
		}
		for _, id := range held[1:3] {
			if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := f.m.releaseHold(ctx, sc, id)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.hold(f.A, p.ID, at, "after lowering"); !errors.Is(err, errSlotFull) {
			t.Fatalf("a hold beyond the lowered capacity: %v", err)
		}
		if l := f.load(f.A, p.ID, at); l.Taken != n {
			t.Fatalf("the places held changed: %+v", l)
		}
		if got := f.slots(f.A, p.ID, at, at.Add(time.Minute)); len(got) != 1 || got[0].Free != 0 {
			t.Fatalf("after lowering: %+v", got)
		}
		// A time that is not a slot is refused without a row.
		if _, err := f.hold(f.A, p.ID, at.Add(5*time.Minute), "off grid"); !errors.Is(err, errNoSlot) {
			t.Fatalf("off the grid: %v", err)
		}
	})
}
