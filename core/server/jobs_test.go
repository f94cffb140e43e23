package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/store"
)

// TestRunnerClaimsWithoutVisitingTenants: a runner's tick that finds nothing due costs the
// same few statements however many tenants there are (it used to claim tenant by tenant:
// two statements each), and a due job of any tenant is run in its own tenant by the next
// tick (issue 11.18, P8).
func TestRunnerClaimsWithoutVisitingTenants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		for i := 0; i < 12; i++ {
			f := &tenancy.File{Slug: fmt.Sprintf("extra%d", i), Settings: tenancy.Settings{Name: "Extra", DefaultLocale: "fr",
				Locales: []string{"fr"}, TimeZone: "Europe/Paris", Currency: "EUR"},
				Hostnames: []tenancy.Hostname{{Hostname: fmt.Sprintf("extra%d.localhost", i)}}}
			if _, err := e.srv.Tenants.Import(ctx, f, nil, ""); err != nil {
				t.Fatal(err)
			}
		}
		ts, err := e.srv.Tenants.List(ctx)
		if err != nil || len(ts) < 15 {
			t.Fatalf("%d tenants (%v)", len(ts), err)
		}
		// The first ticks enqueue every schedule and run what is due.
		for i := 0; i < 2; i++ {
			if err := e.srv.RunJobsOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rctx, r := store.WithRequest(ctx)
		if err := e.srv.RunJobsOnce(rctx); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if n := r.Statements(); n > 2 {
			t.Fatalf("an idle tick over %d tenants ran %d statements", len(ts), n)
		}
		// A due job of the last tenant runs at the next tick, in that tenant.
		last := ts[len(ts)-2] // the console is listed last
		id, err := e.srv.Jobs.Enqueue(ctx, last.ID, jobs.Spec{Module: jobs.CoreModule, Name: "core.forget_rate_limits",
			Key: "probe", At: time.Now().Add(-time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.RunJobsOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if j, err := e.srv.Jobs.Get(ctx, last.ID, id); err != nil || j.Status != jobs.Done {
			t.Fatalf("job of %s: %+v %v", last.Slug, j, err)
		}
	})
}
