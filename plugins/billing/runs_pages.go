package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The runs' pages (B5): the clerk starts a run for a day, follows its progress, stops and
// resumes it, and issues the drafts of a run when the tenant reviews them.

func (m *Module) runRoutes() []kit.Route {
	return []kit.Route{
		kit.Perm("GET /billing/manage/runs", permManage, m.runsPage),
		kit.Perm("POST /billing/manage/runs", permManage, m.startRunPost),
		kit.Perm("GET /billing/manage/runs/{id}", permManage, m.runPage),
		kit.Perm("POST /billing/manage/runs/{id}/stop", permManage, m.stopRun),
		kit.Perm("POST /billing/manage/runs/{id}/resume", permManage, m.resumeRun),
		kit.Perm("POST /billing/manage/runs/{id}/issue", permManage, m.issueRun),
	}
}

func (m *Module) runsPage(c *kit.Ctx) error {
	v := c.View("billing.runs.title")
	if _, ok := v.Values["day"]; !ok {
		v.Values["day"] = m.today(c.Tenant()).String()
	}
	return m.renderRuns(c, v, http.StatusOK)
}

func (m *Module) renderRuns(c *kit.Ctx, v *kit.View, status int) error {
	var runs []Run
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&runs).OrderExpr("run.started_at DESC").Limit(50).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Runs"] = runs
	if status != http.StatusOK {
		return kit.Invalid("runs_list", v)
	}
	return c.Render(status, "runs_list", v)
}

// startRunPost starts a run for the day the clerk chose (today or earlier: a period is never
// invoiced ahead of its day) and has it worked by a job.
func (m *Module) startRunPost(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("billing.runs.title")
	raw := strings.TrimSpace(c.Form("day"))
	v.Values["day"] = raw
	day, err := ParseDate(raw)
	switch {
	case err != nil:
		v.Errors["day"] = "billing.runs.err.day"
	case day.After(m.today(t)):
		v.Errors["day"] = "billing.runs.err.future"
	}
	if len(v.Errors) > 0 {
		return m.renderRuns(c, v, http.StatusUnprocessableEntity)
	}
	run, err := m.startRun(c.Context(), t, day, c.User().ID)
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditRunStarted, Resource: "billing/run/" + run.ID,
		Detail: map[string]any{"day": day.String(), "total": run.Total}}); err != nil {
		c.LogFailure(err)
	}
	if run.State == runRunning {
		if err := m.scheduleRun(c.Context(), t, run.ID); err != nil {
			return err
		}
	}
	return c.Redirect("/billing/manage/runs/"+run.ID, "run_started")
}

// runPage shows a run's progress and the invoices it made, each linked; a run that made none
// says why (the periods had theirs already) and leads to the drafts made elsewhere (the
// daily job's, the demo's). While it runs the page reloads itself.
func (m *Module) runPage(c *kit.Ctx) error {
	return m.showRun(c, c.View("billing.runs.run.title"), http.StatusOK)
}

func (m *Module) showRun(c *kit.Ctx, v *kit.View, status int) error {
	var run Run
	var drafts int
	var invs []invoiceRow
	var others int64
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&run).Where("run.id = ?", c.Param("id")).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		n, err := sc.Select((*Invoice)(nil)).Where("inv.run_id = ? AND inv.state = ?", run.ID, invDraft).Count(ctx)
		if err != nil {
			return err
		}
		drafts = int(n)
		if others, err = sc.Select((*Invoice)(nil)).Where("inv.state = ? AND inv.run_id <> ?", invDraft, run.ID).Count(ctx); err != nil {
			return err
		}
		return sc.Select(&invs).ColumnExpr("inv.*").ColumnExpr("sub.client_name").
			Join("JOIN billing_subscriptions AS sub ON sub.tenant_id = inv.tenant_id AND sub.id = inv.subscription_id").
			Where("inv.run_id = ?", run.ID).OrderExpr("sub.client_name, inv.period_start").Limit(1000).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Run"], v.Data["Drafts"], v.Data["Invoices"], v.Data["OtherDrafts"] = run, drafts, invs, others
	if status != http.StatusOK {
		return kit.Invalid("runs_run", v)
	}
	return c.Render(status, "runs_run", v)
}

// stopRun stops a running run after its current batch.
func (m *Module) stopRun(c *kit.Ctx) error {
	return m.setRunState(c, runRunning, runStopped, "run_stopped")
}

// resumeRun resumes a stopped run where it stopped.
func (m *Module) resumeRun(c *kit.Ctx) error {
	return m.setRunState(c, runStopped, runRunning, "run_resumed")
}

func (m *Module) setRunState(c *kit.Ctx, from, to, done string) error {
	id := c.Param("id")
	changed := false
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Run)(nil)).Where("run.id = ?", id).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return kit.ErrNotFound
		}
		res, err := sc.Update((*Run)(nil)).Set("state = ?", to).Where("run.id = ? AND run.state = ?", id, from).Exec(ctx)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		changed = k == 1
		return nil
	}); err != nil {
		return err
	}
	if !changed {
		return c.Redirect("/billing/manage/runs/"+id, "run_unchanged")
	}
	if to == runRunning {
		if err := m.scheduleRun(c.Context(), c.Tenant(), id); err != nil {
			return err
		}
	}
	return c.Redirect("/billing/manage/runs/"+id, done)
}

// issueRun issues every draft of a run (the clerk checked them and confirmed), each in its own
// transaction with its own number.
func (m *Module) issueRun(c *kit.Ctx) error {
	t := c.Tenant()
	id := c.Param("id")
	if c.Form("confirm") != "yes" {
		v := c.View("billing.runs.run.title")
		v.Errors["confirm"] = "billing.runs.err.confirm"
		return m.showRun(c, v, http.StatusUnprocessableEntity)
	}
	var ids []string
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Run)(nil)).Where("run.id = ?", id).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return kit.ErrNotFound
		}
		return sc.Select((*Invoice)(nil)).Column("inv.id").Where("inv.run_id = ? AND inv.state = ?", id, invDraft).
			OrderExpr("inv.period_start, inv.id").Scan(ctx, &ids)
	}); err != nil {
		return err
	}
	for _, invID := range ids {
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			var inv Invoice
			if err := sc.Select(&inv).Where("inv.id = ? AND inv.state = ?", invID, invDraft).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
				return nil // issued meanwhile
			} else if err != nil {
				return err
			}
			return m.issue(ctx, t, sc, &inv, m.today(t))
		})
		if err != nil && !errors.Is(err, errAlreadyIssued) {
			return err
		}
	}
	return c.Redirect("/billing/manage/runs/"+id, "run_issued")
}
