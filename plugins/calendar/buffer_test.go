package calendar

import (
	"context"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

// setBuffer sets the buffer the fixture's doctor keeps at its facility (C4).
func (f *fixture) setBuffer(minutes int) {
	f.t.Helper()
	err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*DoctorFacility)(nil)).Set("buffer_minutes = ?", minutes).
			Where("df.doctor_id = ? AND df.facility_id = ?", f.doctor.ID, f.facility.ID).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// C9 with C4: with a 15-minute buffer, 50 patients book 30-minute visits at once at starts
// 5 minutes apart, each within the buffer of its neighbours: the database stores some, and
// no two live bookings of the doctor come closer than the buffer; each holds its time and
// the buffer after it.
func TestBufferIsHeldByTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.setBuffer(15)
		s := f.services[30]
		n := f.race(50, func(i int) *Booking {
			return f.booking(s, tuesday.Add(time.Duration(i)*5*time.Minute), testPESEL(i))
		}, errSlotTaken)
		got := f.live(f.A)
		if n < 2 || len(got) != n {
			t.Fatalf("%d stored, %d live", n, len(got))
		}
		for i, bk := range got {
			if want := bk.EndsAt.Add(15 * time.Minute); !bk.HeldUntil.Equal(want) {
				t.Fatalf("booking %v–%v holds until %v, want %v", bk.StartsAt, bk.EndsAt, bk.HeldUntil, want)
			}
			if i > 0 && got[i].StartsAt.Before(got[i-1].EndsAt.Add(15*time.Minute)) {
				t.Fatalf("bookings %v–%v and %v–%v are closer than the 15-minute buffer",
					got[i-1].StartsAt, got[i-1].EndsAt, got[i].StartsAt, got[i].EndsAt)
			}
		}
	})
}

// C9 with C4: the buffer is kept on both sides: after a booking, a visit may start only once
// the buffer has passed; before it, a visit must end the buffer before it starts. Without a
// buffer, visits touch.
func TestBufferRefusesNeighbours(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		s := f.services[30]
		if err := f.m.reserve(ctx, f.A, f.booking(s, tuesday, testPESEL(1))); err != nil {
			t.Fatal(err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, tuesday.Add(30*time.Minute), testPESEL(2))); err != nil {
			t.Fatalf("without a buffer a visit starts when the last ends: %v", err)
		}
		f.setBuffer(10)
		later := tuesday.Add(2 * time.Hour)
		if err := f.m.reserve(ctx, f.A, f.booking(s, later, testPESEL(3))); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{later.Add(30 * time.Minute), later.Add(35 * time.Minute), later.Add(-35 * time.Minute)} {
			if err := f.m.reserve(ctx, f.A, f.booking(s, at, testPESEL(4))); err != errSlotTaken {
				t.Fatalf("a visit at %v, within the buffer of %v: %v", at, later, err)
			}
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, later.Add(40*time.Minute), testPESEL(5))); err != nil {
			t.Fatalf("a visit once the buffer has passed: %v", err)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(s, later.Add(-40*time.Minute), testPESEL(6))); err != nil {
			t.Fatalf("a visit ending the buffer before: %v", err)
		}
	})
}
