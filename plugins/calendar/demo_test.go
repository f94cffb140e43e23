package calendar

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// Issue 13.11: the demonstration directory is there once, however often it is seeded, and
// a search finds its doctors by city.
func TestDemoDirectory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		for range 2 {
			if err := f.m.seedDemo(ctx, f.A, nil); err != nil {
				t.Fatal(err)
			}
		}
		res := f.get(f.A, nil, "10.0.0.9", "/calendar?city=krakow")
		if res.Status != http.StatusOK || strings.Count(string(res.Body), "/calendar/doctors/") != 3 {
			t.Fatalf("Kraków: %d\n%s", res.Status, res.Body)
		}
	})
}

// Issue 13.11, C6: the demo doctor's agenda shows, this week, a visit booked without an
// account that awaits its confirmation; seeding it sends no message and leaves no link.
func TestDemoAgendaHasAVisitAwaitingConfirmation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		for range 2 {
			if err := f.m.seedDemo(ctx, f.A, []kit.DemoAccount{{ID: "dd", Role: "doctor"}}); err != nil {
				t.Fatal(err)
			}
		}
		body := string(f.send(&sdk.User{ID: "dd", Roles: []string{"doctor"}}, "GET", "/calendar/agenda", nil).Body)
		if strings.Count(body, "Oczekuje na potwierdzenie") != 1 || !strings.Contains(body, "Sobczak") {
			t.Fatalf("the demo doctor's week:\n%s", body)
		}
		if len(f.h.Host.Messages) != 0 {
			t.Fatalf("the demo sent messages: %+v", f.h.Host.Messages)
		}
		var links int64
		err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			links, err = sc.Select((*confirmToken)(nil)).Count(ctx)
			return err
		})
		if err != nil || links != 0 {
			t.Fatalf("confirmation links: %d %v", links, err)
		}
	})
}

// demoThisWeek stays in the week of now, on a weekday at noon while one is still to come.
func TestDemoThisWeek(t *testing.T) {
	loc := tenantZone(tenant("tA", "a"))
	for _, c := range []struct{ now, want string }{
		{"2026-11-20 10:00", "2026-11-20 12:00"}, // Friday morning: today
		{"2026-11-19 13:00", "2026-11-20 12:00"}, // Thursday afternoon: Friday
		{"2026-11-20 15:00", "2026-11-20 16:00"}, // Friday afternoon: the next hour
		{"2026-11-22 23:30", "2026-11-22 23:35"}, // late on Sunday: still Sunday
	} {
		now, _ := time.ParseInLocation("2006-01-02 15:04", c.now, loc)
		if got := demoThisWeek(now, loc).Format("2006-01-02 15:04"); got != c.want {
			t.Errorf("at %s: %s, want %s", c.now, got, c.want)
		}
	}
}
