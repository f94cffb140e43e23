package billing

import (
	"context"
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

// RunItem is a subscription a run covers, in one of its batches.
type RunItem struct {
	bun.BaseModel `bun:"table:billing_run_items,alias:ri"`

	TenantID       string `bun:"tenant_id,pk"`
	RunID          string `bun:"run_id,pk"`
	SubscriptionID string `bun:"subscription_id,pk"`
	Batch          int    `bun:"batch"`
}

// RunBatch is a batch of a run's subscriptions; Done once a worker claimed it.
type RunBatch struct {
	bun.BaseModel `bun:"table:billing_run_batches,alias:rb"`

	TenantID string `bun:"tenant_id,pk"`
	RunID    string `bun:"run_id,pk"`
	Batch    int    `bun:"batch,pk"`
	Done     bool   `bun:"done"`
	Worker   string `bun:"worker"`
}

// startRun records a run of day on over every subscription that runs (active or suspended:
// the contract still runs) and had begun by then, cut in batches of the tenant's size.
func (m *Module) startRun(ctx context.Context, t sdk.Tenant, on Date, by string) (*Run, error) {
	run := &Run{TenantID: t.ID, ID: newID(), RunOn: on, State: runRunning, StartedBy: by, StartedAt: m.now().UTC()}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(run).Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Tx.NewRaw(`INSERT INTO billing_run_items (tenant_id, run_id, subscription_id, batch)
			SELECT tenant_id, ?, id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / ? FROM billing_subscriptions
			WHERE tenant_id = ? AND state IN (?, ?) AND starts_on <> '' AND starts_on <= ?`,
			run.ID, runBatchSize.Of(t), sc.TenantID, subActive, subSuspended, on.String()).Exec(ctx)
		if err != nil {
			return err
		}
		if _, err := sc.Tx.NewRaw(`INSERT INTO billing_run_batches (tenant_id, run_id, batch)
			SELECT DISTINCT tenant_id, run_id, batch FROM billing_run_items WHERE tenant_id = ? AND run_id = ?`, sc.TenantID, run.ID).Exec(ctx); err != nil {
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

// workRun works run runID as worker until it is done or stopped: it claims a batch by a
// guarded update (done = false → true) in the transaction that invoices its subscriptions,
// so that two workers (two instances) never take the same batch and a failed transaction
// gives its batch back. A batch that fails is taken again and invoiced one subscription at a
// time; a subscription that still fails is counted as failed and logged (the next day's run
// catches it up), and the run goes on.
func (m *Module) workRun(ctx context.Context, t sdk.Tenant, runID, worker string) error {
	for spins, retries := 0, 0; ; {
		claimed, invs, state, err := m.runStep(ctx, t, runID, worker)
		if store.IsUniqueViolation(err) && retries < 20 {
			retries++ // another run invoiced one of these periods meanwhile: take the batch again
			continue
		}
		if err != nil {
			m.Log.Error("billing run: a batch failed, taken one by one", "tenant", t.Slug, "run", runID, "err", err.Error())
			if err = m.runOneByOne(ctx, t, runID, worker); err != nil {
				return err
			}
			continue
		}
		retries = 0
		m.deliverAll(ctx, t, invs)
		if state != runRunning {
			return nil
		}
		if !claimed {
			done, err := m.finishRun(ctx, t, runID)
			if err != nil || done {
				return err
			}
			spins++ // another worker took the batch first
			if spins > 1000 {
				return fmt.Errorf("billing run %s: no batch claimed", runID)
			}
			time.Sleep(time.Duration(spins%10) * time.Millisecond)
			continue
		}
		spins = 0
	}
}

// claimBatch claims the run's first batch nobody took, by a guarded update; it returns the
// batch's subscriptions (none: no batch left, or another worker took it first).
func claimBatch(ctx context.Context, sc *store.Scope, runID, worker string) ([]string, error) {
	var batch []int
	if err := sc.Select((*RunBatch)(nil)).Column("rb.batch").Where("rb.run_id = ? AND rb.done = ?", runID, false).
		OrderExpr("rb.batch").Limit(1).Scan(ctx, &batch); err != nil || len(batch) == 0 {
		return nil, err
	}
	res, err := sc.Update((*RunBatch)(nil)).Set("done = ?", true).Set("worker = ?", worker).
		Where("rb.run_id = ? AND rb.batch = ? AND rb.done = ?", runID, batch[0], false).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, nil
	}
	var ids []string
	err = sc.Select((*RunItem)(nil)).Column("ri.subscription_id").Where("ri.run_id = ? AND ri.batch = ?", runID, batch[0]).Scan(ctx, &ids)
	return ids, err
}

// runOneByOne claims a batch on its own, then invoices its subscriptions one per
// transaction (after the batch failed as a whole).
func (m *Module) runOneByOne(ctx context.Context, t sdk.Tenant, runID, worker string) error {
	var ids []string
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) (err error) {
		ids, err = claimBatch(ctx, sc, runID, worker)
		return err
	}); err != nil {
		return err
	}
	for _, id := range ids {
		var invs []*Invoice
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			var run Run
			if err := sc.Select(&run).Where("run.id = ?", runID).Scan(ctx); err != nil {
				return err
			}
			var err error
			invs, err = m.invoiceClaimed(ctx, t, sc, &run, []string{id})
			return err
		})
		if err != nil {
			m.Log.Error("billing run: a subscription could not be invoiced", "tenant", t.Slug, "run", runID, "subscription", id, "err", err.Error())
			if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*Run)(nil)).Set("done = done + 1").Set("failed = failed + 1").Where("run.id = ?", runID).Exec(ctx)
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

// runStep claims a batch of the run and invoices it in one transaction; it reports whether
// it claimed one, the invoices it issued, and the run's state.
func (m *Module) runStep(ctx context.Context, t sdk.Tenant, runID, worker string) (claimed bool, issued []*Invoice, state string, err error) {
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		claimed, issued = false, nil
		var run Run
		if err := sc.Select(&run).Where("run.id = ?", runID).Scan(ctx); err != nil {
			return err
		}
		if state = run.State; state != runRunning {
			return nil
		}
		ids, err := claimBatch(ctx, sc, runID, worker)
		if err != nil || len(ids) == 0 {
			return err
		}
		claimed = true
		issued, err = m.invoiceClaimed(ctx, t, sc, &run, ids)
		return err
	})
	return claimed, issued, state, err
}

// invoiceClaimed invoices the claimed subscriptions ids of run (those still running) and
// counts them done; it returns the invoices it issued.
func (m *Module) invoiceClaimed(ctx context.Context, t sdk.Tenant, sc *store.Scope, run *Run, ids []string) ([]*Invoice, error) {
	var subs []Subscription
	if err := sc.Select(&subs).Column(subColumns...).Where("sub.id IN (?) AND sub.state IN (?, ?)", bun.In(ids), subActive, subSuspended).
		OrderExpr("sub.reference").Scan(ctx); err != nil {
		return nil, err
	}
	invs, err := m.invoiceSubs(ctx, t, sc, subs, run.RunOn, run.ID)
	if err != nil {
		return nil, err
	}
	var issued []*Invoice
	for _, inv := range invs {
		if inv.State == invIssued {
			issued = append(issued, inv)
		}
	}
	_, err = sc.Update((*Run)(nil)).Set("done = done + ?", len(ids)).Set("invoiced = invoiced + ?", len(invs)).
		Where("run.id = ?", run.ID).Exec(ctx)
	return issued, err
}

// subColumns are what invoicing reads of a subscription.
var subColumns = []string{"tenant_id", "id", "reference", "client_name", "contact_name", "email", "locale", "legal_id", "vat_id",
	"street", "postcode", "city", "country", "plan_id", "payment_method", "mandate_ref", "starts_on", "ends_on"}

// finishRun marks the run done once none of its batches is left; it reports whether the run
// is over (done, or no longer running).
func (m *Module) finishRun(ctx context.Context, t sdk.Tenant, runID string) (bool, error) {
	over := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		left, err := sc.Select((*RunBatch)(nil)).Where("rb.run_id = ? AND rb.done = ?", runID, false).Count(ctx)
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
	// The tenant's tariff in force prices the batch (B4), except for a client who refused a
	// tariff: he keeps the old one, so his invoice gets a biller of its own.
	b, err := m.newBiller(ctx, t, sc, nil, on)
	if err != nil {
		return nil, err
	}
	var refusing []string
	if err := sc.Select((*TariffRefusal)(nil)).Column("tr.subscription_id").Where("tr.subscription_id IN (?) AND tr.withdrawn_at IS NULL", bun.In(ids)).
		Scan(ctx, &refusing); err != nil {
		return nil, err
	}
	own := map[string]*biller{}
	for _, id := range refusing {
		for _, j := range jobs {
			if j.sub.ID == id && own[id] == nil {
				if own[id], err = m.newBiller(ctx, t, sc, j.sub, on); err != nil {
					return nil, err
				}
			}
		}
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
		bj := b
		if o := own[j.sub.ID]; o != nil {
			bj = o
		}
		inv, err := bj.build(j.sub, append([]string(nil), options[j.sub.ID]...), j.start, c[0], c[1], false)
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
			number(inv, t, on, seq+int64(i), b.now)
		}
	}
	return invs, insertInvoices(ctx, sc, invs)
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
