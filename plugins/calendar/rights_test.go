package calendar

import (
	"context"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk/host"
)

// C16, P11: the account's export holds its bookings; when the account is deleted, its
// upcoming visit is cancelled and its time free, while the booking data the doctor keeps as
// controller stays, detached from the account.
func TestErasureLeavesTheDoctorsBookingData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		past := f.booking(f.services[30], f.now.Add(-48*time.Hour), "85030212344")
		past.UserID, past.BookedBy, past.Status = "p1", "p1", statusCompleted
		next := f.booking(f.services[30], tuesday, "85030212344")
		next.UserID, next.BookedBy = "p1", "p1"
		for _, bk := range []*Booking{past, next} {
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := f.h.Export(ctx, f.A, "p1")
		if err != nil || !strings.Contains(string(raw), "85030212344") || strings.Count(string(raw), "Konsultacja 30 min") != 2 {
			t.Fatalf("export: %v %s", err, raw)
		}
		if err := f.h.Event(ctx, f.A, host.EventUserDeleted, []byte("p1")); err != nil {
			t.Fatal(err)
		}
		var all []Booking
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&all).Order("bk.starts_at").Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].UserID != "" || all[0].BookedBy != "" || all[0].PESEL != "85030212344" || all[0].Status != statusCompleted ||
			all[1].Status != statusCancelledPatient || all[1].UserID != "" {
			t.Fatalf("after erasure: %+v", all)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(f.services[30], tuesday, testPESEL(2))); err != nil {
			t.Fatalf("the erased account's time: %v", err)
		}
		raw, _ = f.h.Export(ctx, f.A, "p1")
		if strings.Contains(string(raw), "85030212344") {
			t.Fatalf("export after erasure: %s", raw)
		}
	})
}
