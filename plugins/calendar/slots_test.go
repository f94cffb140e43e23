package calendar

import (
	"context"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

// C4: the buffer a doctor keeps at a facility leaves time free on both sides of every
// booking: without it the free starts touch the booked visit; with 15 minutes, no start
// comes within 15 minutes of it, and the booking page's week offers no such start.
func TestBufferKeepsTimeFreeAroundABooking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 12*60) // Tuesdays 9:00–12:00 in Warsaw
		ctx := context.Background()
		booked := f.booking(f.services[30], tuesday, "85030212344") // 10:00–10:30 in Warsaw
		if err := f.m.reserve(ctx, f.A, booked); err != nil {
			t.Fatal(err)
		}
		day := time.Date(2026, 12, 1, 0, 0, 0, 0, tenantZone(f.A))
		free := func() []time.Time {
			got, err := f.m.freeSlots(ctx, f.A, slotQuery{DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
				Duration: 30 * time.Minute, From: day, To: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		has := func(got []time.Time, at time.Time) bool {
			for _, s := range got {
				if s.Equal(at) {
					return true
				}
			}
			return false
		}
		got := free()
		if !has(got, booked.StartsAt.Add(-30*time.Minute)) || !has(got, booked.EndsAt) {
			t.Fatalf("without a buffer the starts next to the booking are free: %v", got)
		}
		if err := f.m.setBuffer(ctx, f.A, f.doctor.ID, f.facility.ID, 15); err != nil {
			t.Fatal(err)
		}
		got = free()
		if len(got) == 0 {
			t.Fatal("no free start with a buffer")
		}
		for _, s := range got {
			if s.Before(booked.EndsAt.Add(15*time.Minute)) && booked.StartsAt.Add(-15*time.Minute).Before(s.Add(30*time.Minute)) {
				t.Fatalf("start %v comes within the 15-minute buffer of the booking %v–%v", s, booked.StartsAt, booked.EndsAt)
			}
		}
		// The buffer is the facility's: another facility of his keeps none.
		var n int64
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*DoctorFacility)(nil)).Where("df.buffer_minutes = 15").Count(ctx)
			return err
		}); err != nil || n != 1 {
			t.Fatalf("buffers stored: %d %v", n, err)
		}
	})
}
