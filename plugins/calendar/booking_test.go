package calendar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/pesel"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

type fixture struct {
	t        *testing.T
	h        *sdktest.Harness
	m        *Module
	A, B     sdk.Tenant
	now      time.Time
	doctor   *Doctor
	facility *Facility
	services map[int]*Service // by duration in minutes
}

func tenant(id, slug string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: slug, Name: "eLekarze " + slug, Locale: "pl", TimeZone: "Europe/Warsaw", Currency: "PLN", Country: "PL", Portal: "patients"}
}

// setup starts the module on backend b with, in tenant A, a doctor at a facility giving
// visits of 15, 20, 30 and 45 minutes.
func setup(t *testing.T, b storetest.Backend) *fixture {
	m := newModule()
	f := &fixture{t: t, m: m, A: tenant("tA", "a"), B: tenant("tB", "b"), now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		services: map[int]*Service{}}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "calendar"))
	ctx := context.Background()
	f.facility = &Facility{Name: "Przychodnia Centrum", Address: "ul. Długa 5", PostalCode: "00-950", City: "Łódź"}
	if err := m.saveFacility(ctx, f.A, f.facility); err != nil {
		t.Fatal(err)
	}
	f.doctor = &Doctor{Title: "dr n. med.", FirstName: "Anna", LastName: "Kowalska", LicenceNumber: "1234567", Bookable: true, OnlineCalendar: true}
	if err := m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{15, 20, 30, 45} {
		s := &Service{DoctorID: f.doctor.ID, FacilityID: f.facility.ID, Name: fmt.Sprintf("Konsultacja %d min", d), Specialty: "cardiology",
			DurationMinutes: d, PriceMinor: int64(d) * 1000, VATIncluded: true, Active: true}
		if err := m.saveService(ctx, f.A, s); err != nil {
			t.Fatal(err)
		}
		f.services[d] = s
	}
	return f
}

// booking is a booking of service s at start for the patient with pesel.
func (f *fixture) booking(s *Service, start time.Time, pesel string) *Booking {
	return &Booking{DoctorID: s.DoctorID, FacilityID: s.FacilityID, ServiceID: s.ID, ServiceName: s.Name, Specialty: s.Specialty,
		PriceMinor: s.PriceMinor, Currency: s.Currency, StartsAt: start, EndsAt: start.Add(time.Duration(s.DurationMinutes) * time.Minute),
		Status: statusConfirmed, PatientFirstName: "Jan", PatientLastName: "Nowak", PESEL: pesel, Email: "jan@example.org",
		Mobile: "+48601234567", TermsVersion: "v1", Consents: "data_processing,doctor_controller", CreatedAt: f.now}
}

// live are the live bookings of the fixture's doctor in tenant t.
func (f *fixture) live(t sdk.Tenant) []Booking {
	f.t.Helper()
	var out []Booking
	err := f.m.Read(context.Background(), t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("bk.doctor_id = ?", f.doctor.ID).Where("bk.status IN (?)", bunIn(liveStatuses)).
			Order("bk.starts_at").Scan(ctx)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// race runs n bookings at once and returns how many were stored; each refusal must be
// one of allowed.
func (f *fixture) race(n int, mk func(i int) *Booking, allowed ...error) int {
	f.t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.m.reserve(context.Background(), f.A, mk(i))
		}()
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		ok := err == nil
		for _, a := range allowed {
			ok = ok || errors.Is(err, a)
		}
		if !ok {
			f.t.Fatalf("booking %d: %v", i, err)
		}
		if err == nil {
			stored++
		}
	}
	return stored
}

var tuesday = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) // 10:00 in Warsaw

// testPESEL is the i-th valid PESEL of people born on 1 January 1990.
func testPESEL(i int) string {
	first := fmt.Sprintf("900101%04d", i)
	return first + strconv.Itoa(pesel.CheckDigit(first))
}

// C9: 100 patients book the same slot at once: exactly one holds it, the others are told
// it is taken; on both databases, held by the database's own constraint.
func TestSameSlotIsHeldOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		s := f.services[30]
		if n := f.race(100, func(i int) *Booking { return f.booking(s, tuesday, testPESEL(i)) }, errSlotTaken); n != 1 {
			t.Fatalf("%d bookings hold the same slot, want 1", n)
		}
		if got := f.live(f.A); len(got) != 1 {
			t.Fatalf("%d live bookings stored", len(got))
		}
	})
}

// C9: 100 patients book services of different lengths at starts 5 minutes apart, all
// overlapping some others: the live bookings stored never overlap, and the time is used.
func TestOverlappingServicesNeverOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		lengths := []int{15, 20, 30, 45}
		n := f.race(100, func(i int) *Booking {
			return f.booking(f.services[lengths[i%4]], tuesday.Add(time.Duration(i%24)*5*time.Minute), testPESEL(i))
		}, errSlotTaken)
		got := f.live(f.A)
		if n == 0 || len(got) != n {
			t.Fatalf("%d stored, %d live", n, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].StartsAt.Before(got[i-1].EndsAt) {
				t.Fatalf("overlap: %v–%v and %v–%v", got[i-1].StartsAt, got[i-1].EndsAt, got[i].StartsAt, got[i].EndsAt)
			}
		}
	})
}

// C9: a cancelled or expired booking frees its time at once; a booking released twice is
// released once.
func TestReleasedSlotIsFree(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		first := f.booking(f.services[30], tuesday, testPESEL(1))
		if err := f.m.reserve(ctx, f.A, first); err != nil {
			t.Fatal(err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(f.services[15], tuesday.Add(15*time.Minute), testPESEL(2))); !errors.Is(err, errSlotTaken) {
			t.Fatalf("overlapping booking: %v", err)
		}
		if err := f.m.release(ctx, f.A, first.ID, statusCancelledPatient, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.m.release(ctx, f.A, first.ID, statusCancelledDoctor, "x"); !errors.Is(err, errNotLive) {
			t.Fatalf("second release: %v", err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(f.services[15], tuesday.Add(15*time.Minute), testPESEL(2))); err != nil {
			t.Fatalf("booking the freed time: %v", err)
		}
		// An expiry ends only a booking awaiting confirmation (C6).
		held := f.booking(f.services[15], tuesday.Add(time.Hour), testPESEL(3))
		held.Status = statusAwaiting
		if err := f.m.reserve(ctx, f.A, held); err != nil {
			t.Fatal(err)
		}
		if err := f.m.release(ctx, f.A, f.live(f.A)[0].ID, statusExpired, "", statusAwaiting); !errors.Is(err, errNotLive) {
			t.Fatalf("expiring a confirmed booking: %v", err)
		}
		if err := f.m.release(ctx, f.A, held.ID, statusExpired, "", statusAwaiting); err != nil {
			t.Fatal(err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(f.services[15], tuesday.Add(time.Hour), testPESEL(4))); err != nil {
			t.Fatalf("booking an expired hold's time: %v", err)
		}
		// Another tenant's doctor time is its own: the same instants are free there.
		if got := f.live(f.B); len(got) != 0 {
			t.Fatalf("tenant B sees %d bookings", len(got))
		}
	})
}

// C8: one patient (one PESEL) books 100 distinct slots with the doctor on one day at once:
// exactly the tenant's limit (2) are stored; cancelled and expired ones do not count; the
// next day has its own limit; the limit is the tenant's rule.
func TestDayLimitPerPatientAndDoctor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		s := f.services[15]
		at := func(i int) time.Time { return tuesday.Add(time.Duration(i) * 15 * time.Minute) }
		if n := f.race(100, func(i int) *Booking { return f.booking(s, at(i%40), testPESEL(7)) }, errDayLimit, errSlotTaken); n != 2 {
			t.Fatalf("%d bookings of one patient on one day, want 2", n)
		}
		got := f.live(f.A)
		if err := f.m.release(ctx, f.A, got[0].ID, statusCancelledPatient, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, at(50), testPESEL(7))); err != nil {
			t.Fatalf("after a cancellation: %v", err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, at(51), testPESEL(7))); !errors.Is(err, errDayLimit) {
			t.Fatalf("a third booking: %v", err)
		}
		// Another patient, or the same patient the next day, has room.
		if err := f.m.reserve(ctx, f.A, f.booking(s, at(52), testPESEL(8))); err != nil {
			t.Fatal(err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, at(0).Add(24*time.Hour), testPESEL(7))); err != nil {
			t.Fatal(err)
		}
		// A tenant whose rule allows 3.
		three := f.A
		three.Rules = map[string]any{maxBookingsPerDoctorDay.Rule().Name: int64(3)}
		if err := f.m.reserve(ctx, three, f.booking(s, at(53), testPESEL(7))); err != nil {
			t.Fatalf("limit 3: %v", err)
		}
	})
}

// C8: the visit day is the tenant's: 23:30 UTC on 30 November is 1 December in Warsaw.
func TestVisitDayIsTheTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		bk := f.booking(f.services[15], time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), testPESEL(1))
		if err := f.m.reserve(context.Background(), f.A, bk); err != nil {
			t.Fatal(err)
		}
		if bk.VisitDay != "2026-12-01" {
			t.Fatalf("visit day %s", bk.VisitDay)
		}
	})
}
