package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/plugins/kit/store"
	"github.com/uptrace/bun"
)

// TestClaimDueRacesAcrossTenants: runners racing in real goroutines claim the due jobs of
// every tenant without naming a tenant, each due job exactly once, none that is not due yet;
// every job comes back loaded in its own tenant's scope (its payload names its tenant)
// (issue 11.18, P8).
func TestClaimDueRacesAcrossTenants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		base := jobs.NewStore(d)
		const tenants, perTenant = 6, 10
		due := map[string]string{} // job id → tenant
		var tids []string
		for i := 0; i < tenants; i++ {
			tid := tenant(t, d, fmt.Sprintf("t%d", i))
			tids = append(tids, tid)
			for k := 0; k < perTenant; k++ {
				id, err := base.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "work", Key: fmt.Sprint(k),
					At: time.Now().Add(-time.Minute), Payload: []byte(tid)})
				if err != nil {
					t.Fatal(err)
				}
				due[id] = tid
			}
			// Not due yet: never claimed.
			if _, err := base.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "later", Key: "later",
				At: time.Now().Add(time.Hour), Payload: []byte(tid)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < 4; w++ {
			st := jobs.NewStore(d) // its own instance id
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					got, err := st.ClaimDue(ctx, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, j := range got {
						mu.Lock()
						if prev, dup := seen[j.ID]; dup {
							t.Errorf("job %s claimed by %s and %s", j.ID, prev, st.Instance)
						}
						seen[j.ID] = st.Instance
						mu.Unlock()
						if owner, ok := due[j.ID]; !ok || j.Name != "work" {
							t.Errorf("claimed a job that was not due: %+v", j)
						} else if j.TenantID != owner || string(j.Payload) != owner || j.Status != jobs.Running || j.ClaimedBy != st.Instance {
							t.Errorf("job of %s loaded as %s (payload %s, %s by %s)", owner, j.TenantID, j.Payload, j.Status, j.ClaimedBy)
						}
						if err := st.Finish(ctx, j, nil); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(seen) != tenants*perTenant {
			t.Fatalf("%d of %d due jobs claimed", len(seen), tenants*perTenant)
		}
		for _, tid := range tids {
			if done, _ := base.List(ctx, tid, jobs.Done, 100); len(done) != perTenant {
				t.Fatalf("tenant %s: %d jobs done", tid, len(done))
			}
			if pending, _ := base.List(ctx, tid, jobs.Pending, 100); len(pending) != 1 || pending[0].Name != "later" {
				t.Fatalf("tenant %s: pending %+v", tid, pending)
			}
		}
	})
}

// TestClaimDueTakesLapsedLeases: a job claimed by an instance that died is claimed again by
// another once its lease ran out, with its attempts counted, and the dead instance cannot
// finish it any more (issue 11.18, P8).
func TestClaimDueTakesLapsedLeases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		now := time.Now().UTC()
		dead, alive := jobs.NewStore(d), jobs.NewStore(d)
		dead.Now = func() time.Time { return now }
		alive.Now = func() time.Time { return now.Add(time.Minute) }
		dead.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "w", Key: "k", At: now})
		got, err := dead.ClaimDue(ctx, 5)
		if err != nil || len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if again, _ := alive.ClaimDue(ctx, 5); len(again) != 0 {
			t.Fatal("a job under lease was claimed again")
		}
		alive.Now = func() time.Time { return now.Add(6 * time.Minute) }
		again, err := alive.ClaimDue(ctx, 5)
		if err != nil || len(again) != 1 || again[0].ID != got[0].ID || again[0].Attempts != 2 {
			t.Fatalf("lapsed lease not reclaimed: %+v %v", again, err)
		}
		dead.Finish(ctx, got[0], fmt.Errorf("late"))
		alive.Finish(ctx, again[0], nil)
		if j, _ := alive.Get(ctx, tid, got[0].ID); j.Status != jobs.Done {
			t.Fatalf("status %s: the dead instance overwrote the outcome", j.Status)
		}
	})
}

// TestClaimDueStaysTenantSafe: the cross-tenant claim gives the runtime role nothing but
// tenant and id; the runtime role still reads no other tenant's job rows, neither with no
// tenant set nor with another tenant set, and cannot change them (issue 11.18, P1, P8).
func TestClaimDueStaysTenantSafe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		a, other := tenant(t, d, "lab"), tenant(t, d, "other")
		s := jobs.NewStore(d)
		for _, tid := range []string{a, other} {
			if _, err := s.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "w", Key: "k", At: time.Now().Add(time.Hour),
				Payload: []byte("secret of " + tid)}); err != nil {
				t.Fatal(err)
			}
		}
		// The code-level scope: a tenant's scope sees its own jobs only.
		var n int64
		err := d.ReadTenant(ctx, a, func(ctx context.Context, sc *db.Scope) error {
			c, err := sc.Select((*jobs.Job)(nil)).Count(ctx)
			n = int64(c)
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("tenant scope sees %d jobs (%v)", n, err)
		}
		if d.Kind != db.Postgres {
			return // no row-level security on SQLite: the scope above is the guard
		}
		// The runtime role, by hand, outside any scope: row-level security hides every row.
		if err := d.Bun.QueryRowContext(ctx, "SELECT count(*) FROM jobs").Scan(&n); err != nil || n != 0 {
			t.Fatalf("runtime role reads %d job rows with no tenant set (%v)", n, err)
		}
		err = d.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.Tx.ExecContext(ctx, "SELECT set_config($1, $2, true)", store.TenantSetting, a); err != nil {
				return err
			}
			if err := tx.Tx.QueryRowContext(ctx, "SELECT count(*) FROM jobs WHERE tenant_id = $1", other).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("runtime role in tenant %s reads %d rows of %s", a, n, other)
			}
			res, err := tx.Tx.ExecContext(ctx, "UPDATE jobs SET run_at = now() WHERE tenant_id = $1", other)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 0 {
				t.Errorf("runtime role in tenant %s changed %d rows of %s", a, k, other)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The claim function answers with tenant and id only.
		rows, err := d.Bun.QueryContext(ctx, "SELECT * FROM claim_due_jobs('probe', now() + interval '2 hours', now() + interval '3 hours', 10)")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		got := 0
		for rows.Next() {
			got++
		}
		rows.Close()
		if len(cols) != 2 || cols[0] != "job_tenant" || cols[1] != "job_id" || got != 2 {
			t.Fatalf("claim_due_jobs answered columns %v, %d rows", cols, got)
		}
		// And the runtime role cannot define a function of its own to do more.
		if _, err := d.Bun.ExecContext(ctx, "CREATE FUNCTION peek() RETURNS SETOF jobs LANGUAGE sql SECURITY DEFINER AS 'SELECT * FROM jobs'"); err == nil {
			t.Fatal("the runtime role could create a function")
		}
	})
}
