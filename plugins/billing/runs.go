package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Billing runs (B5): for one day, every subscription whose period starting on or before it
// has no invoice yet is invoiced, in batches; the clerk sees the progress, may stop a run and
// resume it. The daily job is a run for today.

// Run states.
const (
	runRunning = "running"
	runStopped = "stopped"
	runDone    = "done"
)

// Run is a billing run (migration 20261201100041_invoices).
type Run struct {
	bun.BaseModel `bun:"table:billing_runs,alias:run"`

	TenantID   string       `bun:"tenant_id,pk"`
	ID         string       `bun:"id,pk"`
	RunOn      Date         `bun:"run_on"`
	State      string       `bun:"state"`
	Total      int          `bun:"total"`
	Done       int          `bun:"done"`
	Invoiced   int          `bun:"invoiced"`
	Failed     int          `bun:"failed"`
	StartedBy  string       `bun:"started_by"`
	StartedAt  time.Time    `bun:"started_at"`
	FinishedAt bun.NullTime `bun:"finished_at"`
}

// RunItem is a subscription a run covers; Done once a worker claimed and invoiced it.
type RunItem struct {
	bun.BaseModel `bun:"table:billing_run_items,alias:ri"`

	TenantID       string `bun:"tenant_id,pk"`
	RunID          string `bun:"run_id,pk"`
	SubscriptionID string `bun:"subscription_id,pk"`
	Done           bool   `bun:"done"`
	Worker         string `bun:"worker"`
}

// startRun records a run of day on over every subscription that runs (active or suspended:
// the contract still runs) and had begun by then.
func (m *Module) startRun(ctx context.Context, t sdk.Tenant, on Date, by string) (*Run, error) {
	run := &Run{TenantID: t.ID, ID: newID(), RunOn: on, State: runRunning, StartedBy: by, StartedAt: m.now().UTC()}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(run).Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Tx.NewRaw(`INSERT INTO billing_run_items (tenant_id, run_id, subscription_id)
			SELECT tenant_id, ?, id FROM billing_subscriptions WHERE tenant_id = ? AND state IN (?, ?) AND starts_on <> '' AND starts_on <= ?`,
			run.ID, sc.TenantID, subActive, subSuspended, on.String()).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		run.Total = int(n)
		if run.Total == 0 {
			run.State = runDone
			run.FinishedAt.Time = run.StartedAt
		}
		_, err = sc.Update(run).Column("total", "state", "finished_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// workRun works run runID as worker until it is done or stopped: it claims a batch of the
// run's subscriptions by a guarded update (done = false → true) in the transaction that
// invoices them, so that two workers never take the same one and a failed transaction gives
// its batch back. A batch that fails is retried one subscription at a time; a subscription
// that still fails is counted as failed and logged, and the run goes on.
func (m *Module) workRun(ctx context.Context, t sdk.Tenant, runID, worker string) error {
	size := int(runBatchSize.Of(t))
	for spins := 0; ; {
		claimed, invs, state, err := m.runStep(ctx, t, runID, worker, size, nil)
		if store.IsUniqueViolation(err) && spins < 50 {
			spins++ // another run invoiced one of these periods meanwhile: take the batch again
			continue
		}
		if err != nil {
			if err = m.runOneByOne(ctx, t, runID, worker, size); err != nil {
				return err
			}
			continue
		}
		m.deliverAll(ctx, t, invs)
		if state != runRunning {
			return nil
		}
		if len(claimed) == 0 {
			done, err := m.finishRun(ctx, t, runID)
			if err != nil || done {
				return err
			}
			spins++ // another worker holds the rest: wait for its batch
			if spins > 1000 {
				return fmt.Errorf("billing run %s: no batch claimed", runID)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		spins = 0
	}
}

// runOneByOne claims the next batch's subscriptions one at a time (after the batch failed).
func (m *Module) runOneByOne(ctx context.Context, t sdk.Tenant, runID, worker string, size int) error {
	var ids []string
	if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*RunItem)(nil)).Column("ri.subscription_id").Where("ri.run_id = ? AND ri.done = ?", runID, false).
			OrderExpr("ri.subscription_id").Limit(int64(size)).Scan(ctx, &ids)
	}); err != nil {
		return err
	}
	for _, id := range ids {
		_, invs, _, err := m.runStep(ctx, t, runID, worker, 1, []string{id})
		if err != nil {
			m.Log.Error("billing run: a subscription could not be invoiced", "tenant", t.Slug, "run", runID, "subscription", id, "err", err.Error())
			if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				res, err := sc.Update((*RunItem)(nil)).Set("done = ?", true).Set("worker = ?", worker).
					Where("ri.run_id = ? AND ri.subscription_id = ? AND ri.done = ?", runID, id, false).Exec(ctx)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n == 1 {
					_, err = sc.Update((*Run)(nil)).Set("done = done + 1").Set("failed = failed + 1").Where("run.id = ?", runID).Exec(ctx)
				}
				return err
			}); err != nil {
				return err
			}
			continue
		}
		m.deliverAll(ctx, t, invs)
	}
	return nil
}

// runStep claims (the given subscriptions, or the next size of the run's) and invoices them
// in one transaction; it returns what it claimed, the invoices it issued, and the run's state.
func (m *Module) runStep(ctx context.Context, t sdk.Tenant, runID, worker string, size int, only []string) (claimed []string, issued []*Invoice, state string, err error) {
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		claimed, issued = nil, nil
		var run Run
		if err := sc.Select(&run).Where("run.id = ?", runID).Scan(ctx); err != nil {
			return err
		}
		if state = run.State; state != runRunning {
			return nil
		}
		pick := sc.Select((*RunItem)(nil)).Column("ri.subscription_id").Where("ri.run_id = ? AND ri.done = ?", runID, false).
			OrderExpr("ri.subscription_id").Limit(int64(size))
		if only != nil {
			pick = pick.Where("ri.subscription_id IN (?)", bun.In(only))
		}
		if err := sc.Update((*RunItem)(nil)).Set("done = ?", true).Set("worker = ?", worker).
			Where("ri.run_id = ? AND ri.done = ? AND ri.subscription_id IN (?)", runID, false, pick).
			Returning("subscription_id").Scan(ctx, &claimed); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if len(claimed) == 0 {
			return nil
		}
		var subs []Subscription
		if err := sc.Select(&subs).Where("sub.id IN (?) AND sub.state IN (?, ?)", bun.In(claimed), subActive, subSuspended).
			OrderExpr("sub.reference").Scan(ctx); err != nil {
			return err
		}
		invs, err := m.invoiceSubs(ctx, t, sc, subs, run.RunOn, runID)
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.State == invIssued {
				issued = append(issued, inv)
			}
		}
		_, err = sc.Update((*Run)(nil)).Set("done = done + ?", len(claimed)).Set("invoiced = invoiced + ?", len(invs)).
			Where("run.id = ?", runID).Exec(ctx)
		return err
	})
	return claimed, issued, state, err
}

// finishRun marks the run done once none of its subscriptions is left; it reports whether
// the run is over (done, or no longer running).
func (m *Module) finishRun(ctx context.Context, t sdk.Tenant, runID string) (bool, error) {
	over := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		left, err := sc.Select((*RunItem)(nil)).Where("ri.run_id = ? AND ri.done = ?", runID, false).Count(ctx)
		if err != nil || left > 0 {
			return err
		}
		over = true
		_, err = sc.Update((*Run)(nil)).Set("state = ?", runDone).Set("finished_at = ?", m.now().UTC()).
			Where("run.id = ? AND run.state = ?", runID, runRunning).Exec(ctx)
		return err
	})
	return over, err
}

// deliverAll sends each issued invoice (its document, the e-mail) after its transaction
// committed; a failure is logged (the invoice stands; its document is made on download).
func (m *Module) deliverAll(ctx context.Context, t sdk.Tenant, invs []*Invoice) {
	if sdk.HostFrom(ctx) == nil {
		return
	}
	ids := make([]string, len(invs))
	for i, inv := range invs {
		ids[i] = inv.SubscriptionID
	}
	subs := map[string]*Subscription{}
	if len(invs) > 0 {
		var list []Subscription
		if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&list).Where("sub.id IN (?)", bun.In(ids)).Scan(ctx)
		}); err != nil {
			m.Log.Error("billing: issued invoices could not be delivered", "tenant", t.Slug, "err", err.Error())
			return
		}
		for i := range list {
			subs[list[i].ID] = &list[i]
		}
	}
	for _, inv := range invs {
		blob, err := m.deliver(ctx, t, inv, subs[inv.SubscriptionID])
		if err == nil && blob != "" {
			inv.PDFBlob = blob
			err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update(inv).Column("pdf_blob").WherePK().Exec(ctx)
				return err
			})
		}
		if err != nil {
			m.Log.Error("billing: an issued invoice could not be delivered", "tenant", t.Slug, "invoice", inv.ID, "err", err.Error())
		}
	}
}

// invoiceSubs invoices, on day on, every period of subs starting on or before on (and before
// the subscription's end) that has no invoice yet: catch-up after downtime. It reads what it
// needs in a few statements for the whole batch, numbers the invoices in one update of the
// counter (unless drafts are reviewed) and stores them in two statements.
func (m *Module) invoiceSubs(ctx context.Context, t sdk.Tenant, sc *store.Scope, subs []Subscription, on Date, runID string) ([]*Invoice, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(subs))
	for i := range subs {
		ids[i] = subs[i].ID
	}
	var lasts []struct {
		SubscriptionID string `bun:"subscription_id"`
		Last           Date   `bun:"last"`
	}
	if err := sc.Select((*Invoice)(nil)).Column("inv.subscription_id").ColumnExpr("MAX(inv.period_start) AS last").
		Where("inv.subscription_id IN (?) AND inv.kind = ? AND inv.final = ?", bun.In(ids), invInvoice, false).
		Group("inv.subscription_id").Scan(ctx, &lasts); err != nil {
		return nil, err
	}
	last := map[string]Date{}
	for _, l := range lasts {
		last[l.SubscriptionID] = l.Last
	}
	type job struct {
		sub   *Subscription
		start Date
		k     int
	}
	var jobs []job
	usageSpans := map[[2]Date][]string{}
	for i := range subs {
		s := &subs[i]
		k := 0
		if l, ok := last[s.ID]; ok {
			k, _, _ = periodAt(s.StartsOn, l)
			k++
		}
		for ; ; k++ {
			start := periodStart(s.StartsOn, k)
			if start.After(on) || (!s.EndsOn.IsZero() && !start.Before(s.EndsOn)) {
				break
			}
			jobs = append(jobs, job{s, start, k})
			if k > 0 {
				span := [2]Date{periodStart(s.StartsOn, k-1), start.AddDays(-1)}
				usageSpans[span] = append(usageSpans[span], s.ID)
			}
		}
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	b, err := m.newBiller(ctx, t, sc, jobs[0].sub, on)
	if err != nil {
		return nil, err
	}
	var opts []SubscriptionOption
	if err := sc.Select(&opts).Where("sopt.subscription_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	options := map[string][]string{}
	for _, o := range opts {
		options[o.SubscriptionID] = append(options[o.SubscriptionID], o.ProductID)
	}
	used := map[[2]Date]map[string][2]int64{}
	for span, who := range usageSpans {
		got, err := usageCountsMany(ctx, sc, t, who, span[0], span[1])
		if err != nil {
			return nil, err
		}
		used[span] = got
	}
	invs := make([]*Invoice, 0, len(jobs))
	for _, j := range jobs {
		var c [2]int64
		if j.k > 0 {
			c = used[[2]Date{periodStart(j.sub.StartsOn, j.k-1), j.start.AddDays(-1)}][j.sub.ID]
		}
		inv, err := b.build(j.sub, append([]string(nil), options[j.sub.ID]...), j.start, c[0], c[1], false)
		if err != nil {
			return nil, err
		}
		inv.RunID = runID
		invs = append(invs, inv)
	}
	sort.SliceStable(invs, func(i, j int) bool { return invs[i].PeriodStart.Before(invs[j].PeriodStart) })
	if !b.review {
		seq, err := takeNumbers(ctx, sc, on.Y, len(invs))
		if err != nil {
			return nil, err
		}
		for i, inv := range invs {
			number(inv, t, on, seq+int64(i))
		}
	}
	return invs, insertInvoices(ctx, sc, invs)
}

// usageCountsMany counts, for each of subIDs, its calls and SMS from the first day to the last
// (both included, in the tenant's zone): one statement for them all.
func usageCountsMany(ctx context.Context, sc *store.Scope, t sdk.Tenant, subIDs []string, first, last Date) (map[string][2]int64, error) {
	from, to := first.In(zone(t)).UTC(), last.AddDays(1).In(zone(t)).UTC()
	var rows []struct {
		SubscriptionID string `bun:"subscription_id"`
		Kind           string `bun:"kind"`
		N              int64  `bun:"n"`
	}
	if err := sc.Select((*Usage)(nil)).Column("use.subscription_id", "use.kind").ColumnExpr("COUNT(*) AS n").
		Where("use.subscription_id IN (?) AND use.occurred_at >= ? AND use.occurred_at < ?", bun.In(subIDs), from, to).
		Group("use.subscription_id", "use.kind").Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[string][2]int64, len(subIDs))
	for _, r := range rows {
		c := out[r.SubscriptionID]
		switch r.Kind {
		case usageCall:
			c[0] = r.N
		case usageSMS:
			c[1] = r.N
		}
		out[r.SubscriptionID] = c
	}
	return out, nil
}

// runJob works the run its payload names (scheduled when a clerk starts or resumes it).
func (m *Module) runJob(ctx context.Context, job *sdk.Job) error {
	return m.workRun(ctx, job.Tenant, string(job.Payload), "job-"+job.ID)
}

// invoiceDueJob is the daily run: today's periods, and any an outage left behind.
func (m *Module) invoiceDueJob(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	run, err := m.startRun(ctx, t, m.today(t), "")
	if err != nil {
		return err
	}
	return m.workRun(ctx, t, run.ID, "daily-"+run.ID)
}

// scheduleRun asks the host to work run in a job now.
func (m *Module) scheduleRun(ctx context.Context, t sdk.Tenant, runID string) error {
	h := sdk.HostFrom(ctx)
	_, err := h.Schedule(ctx, sdk.Job{Name: jobRun, At: m.now(), Key: "billing.run:" + runID + ":" + newID(), Payload: []byte(runID)})
	return err
}
