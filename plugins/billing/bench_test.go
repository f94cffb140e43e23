package billing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// BenchmarkBillingRun (B5, scale): 10,000 subscriptions, each with an invoiced first period
// and 30 calls in it, invoiced by one billing run for the next anniversary; then, in the same
// benchmark, the same number of invoice and line rows stored by a plain bulk insert in
// batches of the same size. It reports the run's time over the insert's (target ≤ 2×), summed
// over its iterations, on SQLite and, with PLATFORM_TEST_POSTGRES, on PostgreSQL:
//
//	go test -run '^$' -bench BillingRun -benchtime 5x ./plugins/billing
func BenchmarkBillingRun(b *testing.B) {
	const subs, events = 10000, 30
	for _, be := range storetest.Backends() {
		b.Run(string(be), func(b *testing.B) {
			m := newModule()
			now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			m.now = func() time.Time { return now }
			env := storetest.Env(b, be, "billing")
			sdktest.New(b, m, env)
			ctx := context.Background()
			var runs, bulks time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ten := frTenant(fmt.Sprint("run", i), "fr")
				if err := benchSeed(ctx, m, ten, subs, events, now); err != nil {
					b.Fatal(err)
				}
				settle(b, env)
				b.StartTimer()
				t0 := time.Now()
				run, err := m.startRun(ctx, ten, Date{2026, 11, 26}, "bench")
				if err == nil {
					err = m.workRun(ctx, ten, run.ID, "bench")
				}
				runTook := time.Since(t0)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				// The same rows, stored plainly under another tenant.
				var invs []*Invoice
				if err := m.Read(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
					var all []Invoice
					if err := sc.Select(&all).Where("inv.run_id = ?", run.ID).Scan(ctx); err != nil {
						return err
					}
					var lines []InvoiceLine
					if err := sc.Select(&lines).Where("line.invoice_id IN (?)", sc.Select((*Invoice)(nil)).Column("inv.id").Where("inv.run_id = ?", run.ID)).Scan(ctx); err != nil {
						return err
					}
					byID := map[string]*Invoice{}
					for j := range all {
						byID[all[j].ID] = &all[j]
						invs = append(invs, &all[j])
					}
					for _, l := range lines {
						byID[l.InvoiceID].Lines = append(byID[l.InvoiceID].Lines, l)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if len(invs) != subs {
					b.Fatalf("B5: the run made %d invoices", len(invs))
				}
				other := frTenant(fmt.Sprint("bulk", i), "fr")
				for _, inv := range invs {
					inv.TenantID, inv.ID = other.ID, newID()
					for j := range inv.Lines {
						inv.Lines[j].TenantID, inv.Lines[j].InvoiceID = other.ID, inv.ID
					}
				}
				settle(b, env)
				size := int(runBatchSize.Of(ten))
				t1 := time.Now()
				for lo := 0; lo < len(invs); lo += size {
					batch := invs[lo:min(lo+size, len(invs))]
					if err := m.In(ctx, other, func(ctx context.Context, sc *store.Scope) error { return insertInvoices(ctx, sc, batch) }); err != nil {
						b.Fatal(err)
					}
				}
				bulkTook := time.Since(t1)
				runs, bulks = runs+runTook, bulks+bulkTook
				b.Logf("%s: run of %d subscriptions %v, bulk insert of the same rows %v, ratio %.2f (target ≤ 2)", be, subs, runTook, bulkTook, float64(runTook)/float64(bulkTook))
				b.StartTimer()
			}
			b.ReportMetric(float64(runs.Milliseconds())/float64(b.N), "run-ms")
			b.ReportMetric(float64(bulks.Milliseconds())/float64(b.N), "bulk-ms")
			b.ReportMetric(float64(runs)/float64(bulks), "run/bulk")
		})
	}
}

// benchSeed stores the fixture's catalog, n subscriptions started on 26 October 2026 with
// events calls each in their first period, and that period's invoice (so that the run
// invoices the second period, with the first one's usage).
func benchSeed(ctx context.Context, m *Module, ten sdk.Tenant, n, events int, now time.Time) error {
	cat, err := seedCatalogIn(ctx, m, ten, now)
	if err != nil {
		return err
	}
	ids, err := seedSubscriptions(ctx, m, ten, cat.Products["ESSENTIEL"], n, Date{2026, 10, 26}, events, now)
	if err != nil {
		return err
	}
	for lo := 0; lo < n; lo += 1000 {
		hi := min(lo+1000, n)
		if err := m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
			invs := make([]*Invoice, 0, hi-lo)
			for i := lo; i < hi; i++ {
				seq, y, num := int64(i+1), 2026, fmt.Sprintf("FA-2026-%06d", i+1)
				invs = append(invs, &Invoice{TenantID: ten.ID, ID: newID(), Kind: invInvoice, SubscriptionID: ids[i], State: invIssued, Number: &num, Year: &y, Seq: &seq,
					PeriodStart: Date{2026, 10, 26}, PeriodEnd: Date{2026, 11, 25}, IssuedOn: Date{2026, 10, 26}, DueOn: Date{2026, 11, 5}, Currency: "EUR", Locale: "fr", CreatedAt: now})
			}
			return insertInvoices(ctx, sc, invs)
		}); err != nil {
			return err
		}
	}
	return m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
		_, err := takeNumbers(ctx, sc, 2026, n)
		return err
	})
}

// settle writes SQLite's log back into the database file, so that neither timing pays for
// what the one before it wrote; on PostgreSQL it runs ANALYZE as the server's administrator
// (what autovacuum does in production after a bulk load).
func settle(b *testing.B, env sdk.Env) {
	ctx := context.Background()
	if env.DBKind != "sqlite" {
		db := store.OpenPostgres(storetest.AdminDSN(env), 1)
		defer db.Close()
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		return
	}
	db, err := store.OpenSQLite(env.DSN)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
}
