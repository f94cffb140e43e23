package jobs_test

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/plugins/kit/store"
)

// BenchmarkClaimAtScale measures what claiming costs with 10,000 tenants of three jobs each
// (one due, two due tomorrow) on PostgreSQL, in one process: the per-tenant visit the runner
// used to make (Claim, tenant by tenant) against ClaimDue (one statement for a batch of any
// tenants' due jobs, then each job loaded in its tenant's scope). Each sub-benchmark claims
// all 10,000 due jobs per iteration and reports the time and statements per claimed job,
// then the cost of one idle round (nothing due any more). Statements are those the
// platform's counter sees (a transaction's BEGIN, COMMIT and tenant setting aside) (issue
// 11.18, P8):
//
//	PLATFORM_TEST_POSTGRES=postgres://… go test -run '^$' -bench ClaimAtScale -benchtime 1x ./core/jobs
func BenchmarkClaimAtScale(b *testing.B) {
	if dbtest.PostgresDSN() == "" {
		b.Skip("PLATFORM_TEST_POSTGRES is not set: the benchmark runs on PostgreSQL")
	}
	const tenants = 10000
	var be dbtest.Backend
	for _, x := range dbtest.Backends() {
		if x.Name == "postgres" {
			be = x
		}
	}
	cfg := be.Config(b)
	ctx := context.Background()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	owner := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(cfg.DSN)))
	defer owner.Close()
	setup := []string{
		`INSERT INTO tenants (id, slug, settings, created_at, updated_at)
		 SELECT 'bench-' || i, 'bench' || i, '{}', now(), now() FROM generate_series(1, 10000) AS i`,
		`INSERT INTO jobs (tenant_id, id, module, name, idempotency_key, run_at, status, created_at)
		 SELECT 'bench-' || i, 'job-' || i || '-' || k, 'm', 'work', 'k' || k,
		        CASE WHEN k = 1 THEN now() - interval '1 minute' ELSE now() + interval '1 day' END, 'pending', now()
		 FROM generate_series(1, 10000) AS i, generate_series(1, 3) AS k`,
		`ANALYZE tenants`, `ANALYZE jobs`,
	}
	for _, q := range setup {
		if _, err := owner.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	rearm := func(b *testing.B) {
		if _, err := owner.ExecContext(ctx, `UPDATE jobs SET status = 'pending', lease_until = NULL, attempts = 0, claimed_by = ''
			WHERE run_at < now()`); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i+1)
	}
	rounds := map[string]func(ctx context.Context, s *jobs.Store) (int, error){
		"per-tenant-visit": func(ctx context.Context, s *jobs.Store) (int, error) {
			n := 0
			for _, tid := range ids {
				got, err := s.Claim(ctx, tid, 20)
				if err != nil {
					return n, err
				}
				n += len(got)
			}
			return n, nil
		},
		"claim-due": func(ctx context.Context, s *jobs.Store) (int, error) {
			n := 0
			for {
				got, err := s.ClaimDue(ctx, 20)
				if err != nil {
					return n, err
				}
				if len(got) == 0 {
					return n, nil
				}
				n += len(got)
			}
		},
	}
	for _, name := range []string{"per-tenant-visit", "claim-due"} {
		round := rounds[name]
		b.Run(name, func(b *testing.B) {
			s := jobs.NewStore(d)
			var claimed int
			var stmts int64
			var spent time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rearm(b)
				rctx, r := store.WithRequest(ctx)
				b.StartTimer()
				start := time.Now()
				n, err := round(rctx, s)
				spent += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if n != tenants {
					b.Fatalf("claimed %d of %d due jobs", n, tenants)
				}
				claimed += n
				stmts += r.Statements()
				r.Close()
			}
			b.StopTimer()
			// One idle round: nothing is due any more.
			rctx, r := store.WithRequest(ctx)
			start := time.Now()
			if n, err := round(rctx, s); err != nil || n != 0 {
				b.Fatalf("idle round claimed %d (%v)", n, err)
			}
			idle := time.Since(start)
			r.Close()
			b.ReportMetric(float64(spent.Microseconds())/float64(claimed), "µs/claim")
			b.ReportMetric(float64(stmts)/float64(claimed), "stmts/claim")
			b.ReportMetric(float64(idle.Microseconds())/1000, "ms/idle-round")
			b.ReportMetric(float64(r.Statements()), "stmts/idle-round")
		})
	}
}
