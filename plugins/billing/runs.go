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

// RunBatch is a batch of a run's subscriptions: those whose ids run from FirstID to LastID
// (both included, in the database's order), Subs of them when the run started; Done once a
// worker claimed it (migrations 20261201100041_invoices, 20261201100043_run_ranges).
type RunBatch struct {
	bun.BaseModel `bun:"table:billing_run_batches,alias:rb"`

	TenantID string `bun:"tenant_id,pk"`
	RunID    string `bun:"run_id,pk"`
	Batch    int    `bun:"batch,pk"`
	FirstID  string `bun:"first_id"`
	LastID   string `bun:"last_id"`
	Subs     int    `bun:"subs"`
	Done     bool   `bun:"done"`
	Worker   string `bun:"worker"`
}

// runnable is the condition on a subscription (alias sub) that a run of a day covers, with
// its arguments after the day: it runs (active or suspended: the contract still runs) and had
// begun by that day.
const runnable = "sub.state IN (?, ?) AND sub.starts_on <> '' AND sub.starts_on <= ?"

// startRun records a run of day on over every subscription that runs and had begun by then,
// cut in batches of the tenant's size: ranges of ids, each with its number of subscriptions.
func (m *Module) startRun(ctx context.Context, t sdk.Tenant, on Date, by string) (*Run, error) {
	run := &Run{TenantID: t.ID, ID: newID(), RunOn: on, State: runRunning, StartedBy: by, StartedAt: m.now().UTC()}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(run).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Tx.NewRaw(`INSERT INTO billing_run_batches (tenant_id, run_id, batch, first_id, last_id, subs)
			SELECT tenant_id, ?, batch, MIN(id), MAX(id), COUNT(*) FROM (
				SELECT sub.tenant_id, sub.id, (ROW_NUMBER() OVER (ORDER BY sub.id) - 1) / ? AS batch FROM billing_subscriptions AS sub
				WHERE sub.tenant_id = ? AND `+runnable+`) AS cut
			GROUP BY tenant_id, batch`,
			run.ID, runBatchSize.Of(t), sc.TenantID, subActive, subSuspended, on.String()).Exec(ctx); err != nil {
			return err
		}
		var total []int
		if err := sc.Select((*RunBatch)(nil)).ColumnExpr("COALESCE(SUM(rb.subs), 0)").Where("rb.run_id = ?", run.ID).Scan(ctx, &total); err != nil {
			return err
		}
		run.Total = total[0]
		if run.Total == 0 {
			run.State = runDone
			run.FinishedAt.Time = run.StartedAt
		}
		_, err := sc.Update(run).Column("total", "state", "finished_at").WherePK().Exec(ctx)
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

// claimBatch claims the run's first batch nobody took, by a guarded update, and counts its
// subscriptions done; it returns the batch (nil: no batch left, or another worker took it
// first).
func claimBatch(ctx context.Context, sc *store.Scope, runID, worker string) (*RunBatch, error) {
	var batch RunBatch
	if err := sc.Select(&batch).Where("rb.run_id = ? AND rb.done = ?", runID, false).
		OrderExpr("rb.batch").Limit(1).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	res, err := sc.Update((*RunBatch)(nil)).Set("done = ?", true).Set("worker = ?", worker).
		Where("rb.run_id = ? AND rb.batch = ? AND rb.done = ?", runID, batch.Batch, false).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, nil
	}
	_, err = sc.Update((*Run)(nil)).Set("done = done + ?", batch.Subs).Where("run.id = ?", runID).Exec(ctx)
	return &batch, err
}

// runSub is a subscription a run invoices, with the first day of its last invoiced period
// (none: never invoiced; final invoices aside).
type runSub struct {
	Subscription `bun:",extend"`
	LastInvoiced Date `bun:"last_invoiced"`
}

// batchSubs reads what invoicing needs of the subscriptions of a batch that a run of day on
// still covers, by a range of the primary key, each with its last invoiced period (from the
// index billing_invoices_last).
func batchSubs(ctx context.Context, sc *store.Scope, b *RunBatch, on Date) ([]runSub, error) {
	var subs []runSub
	err := sc.Select(&subs).Column(subColumns...).
		ColumnExpr(`(SELECT MAX(inv.period_start) FROM billing_invoices AS inv WHERE inv.tenant_id = sub.tenant_id AND inv.subscription_id = sub.id
			AND inv.kind = 'invoice' AND NOT inv.final) AS last_invoiced`).
		Where("sub.id >= ? AND sub.id <= ?", b.FirstID, b.LastID).
		Where(runnable, subActive, subSuspended, on.String()).OrderExpr("sub.reference").Scan(ctx)
	return subs, err
}

// runOneByOne claims a batch on its own, then invoices its subscriptions one per
// transaction (after the batch failed as a whole), each read again in its transaction.
func (m *Module) runOneByOne(ctx context.Context, t sdk.Tenant, runID, worker string) error {
	var subs []runSub
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var run Run
		if err := sc.Select(&run).Where("run.id = ?", runID).Scan(ctx); err != nil {
			return err
		}
		b, err := claimBatch(ctx, sc, runID, worker)
		if err != nil || b == nil {
			return err
		}
		subs, err = batchSubs(ctx, sc, b, run.RunOn)
		return err
	}); err != nil {
		return err
	}
	for i := range subs {
		var invs []*Invoice
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			var run Run
			if err := sc.Select(&run).Where("run.id = ?", runID).Scan(ctx); err != nil {
				return err
			}
			id := subs[i].ID
			one, err := batchSubs(ctx, sc, &RunBatch{FirstID: id, LastID: id}, run.RunOn)
			if err != nil {
				return err
			}
			invs, err = m.invoiceBatch(ctx, t, sc, &run, one)
			return err
		})
		if err != nil {
			m.Log.Error("billing run: a subscription could not be invoiced", "tenant", t.Slug, "run", runID, "subscription", subs[i].ID, "err", err.Error())
			if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*Run)(nil)).Set("failed = failed + 1").Where("run.id = ?", runID).Exec(ctx)
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
		b, err := claimBatch(ctx, sc, runID, worker)
		if err != nil || b == nil {
			return err
		}
		claimed = true
		subs, err := batchSubs(ctx, sc, b, run.RunOn)
		if err != nil {
			return err
		}
		issued, err = m.invoiceBatch(ctx, t, sc, &run, subs)
		return err
	})
	return claimed, issued, state, err
}

// invoiceBatch invoices subs, claimed by run, and counts the invoices it made; it returns
// those it issued.
func (m *Module) invoiceBatch(ctx context.Context, t sdk.Tenant, sc *store.Scope, run *Run, subs []runSub) ([]*Invoice, error) {
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
	if len(invs) > 0 {
		_, err = sc.Update((*Run)(nil)).Set("invoiced = invoiced + ?", len(invs)).Where("run.id = ?", run.ID).Exec(ctx)
	}
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
func (m *Module) invoiceSubs(ctx context.Context, t sdk.Tenant, sc *store.Scope, subs []runSub, on Date, runID string) ([]*Invoice, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(subs))
	for i := range subs {
		ids[i] = subs[i].ID
	}
	type job struct {
		sub   *Subscription
		start Date
		k     int
	}
	var jobs []job
	var used []*Subscription // with a period before the one invoiced: its usage is billed
	var usedFrom, usedTo Date
	for i := range subs {
		s := &subs[i].Subscription
		k := 0
		if l := subs[i].LastInvoiced; !l.IsZero() {
			k, _, _ = periodAt(s.StartsOn, l)
			k++
		}
		for ; ; k++ {
			start := periodStart(s.StartsOn, k)
			if start.After(on) || (!s.EndsOn.IsZero() && !start.Before(s.EndsOn)) {
				break
			}
			jobs = append(jobs, job{s, start, k})
			if k == 0 {
				continue
			}
			prev := periodStart(s.StartsOn, k-1)
			if len(used) == 0 || used[len(used)-1] != s {
				used = append(used, s)
			}
			if usedFrom.IsZero() || prev.Before(usedFrom) {
				usedFrom = prev
			}
			if prev.After(usedTo) {
				usedTo = prev
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
	usage, err := periodUsage(ctx, sc, t, used, usedFrom, usedTo)
	if err != nil {
		return nil, err
	}
	invs := make([]*Invoice, 0, len(jobs))
	for _, j := range jobs {
		var c [2]int64
		if j.k > 0 {
			c = usage[j.sub.ID][periodStart(j.sub.StartsOn, j.k-1)]
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
