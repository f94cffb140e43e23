package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk/host"
)

// coreJob is a job of the core itself, run per tenant.
type coreJob struct {
	Cron string // empty for a one-off job (enqueued by the core itself)
	Run  func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error
}

// coreJobs are the core's schedules (P2, P8). Their timings are the tenants' rules; the cron
// specs only say how often the core looks.
var coreJobs = map[string]coreJob{
	"core.remove_unverified": {Cron: "*/5 * * * *", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		n, err := s.Accounts.SweepUnverified(ctx, t)
		if n > 0 {
			s.Log.Info("unverified accounts removed", "tenant", t.Slug, "count", n)
		}
		return err
	}},
	"core.close_inactive": {Cron: "17 3 * * *", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		return s.closeInactive(ctx, t)
	}},
	"core.forget_rate_limits": {Cron: "@hourly", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		return s.SweepRateLimits(ctx, t.ID)
	}},
	// A signed checkpoint of the tenant's audit chain, at the tenant's interval (P9).
	"core.audit_checkpoint": {Cron: "*/5 * * * *", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		return s.checkpointAudit(ctx, t)
	}},
	"core.deliver": {Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.Mail.Deliver(ctx, t, string(payload))
	}},
	"core.maintenance_notify": {Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.notifyMaintenance(ctx, t, string(payload))
	}},
	"core.terms_notify": {Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.notifyTerms(ctx, t, string(payload))
	}},
}

// CoreEventKinds are the core events a module is told of through a durable job (its name is
// "event:<kind>").
var CoreEventKinds = []string{host.EventUserVerified, host.EventUserDeleted, host.EventUserBlocked, host.EventRulesChanged, host.EventDemoSeeded}

// CoreJobNames lists the core's jobs, scheduled and one-off.
func CoreJobNames() []string {
	out := make([]string, 0, len(coreJobs))
	for name := range coreJobs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// JobNameKey is the message that names a job in words (issue 12.13): "job.<name>" for the
// core's and a module's own ("core.remove_unverified", "results.retention"), kept in the
// core's or the module's message files; "job.event.<kind>" for a core event carried to a
// module; "job.<module>.<name>" for a module's job named without its prefix.
func JobNameKey(module, name string) string {
	if kind, ok := strings.CutPrefix(name, "event:"); ok {
		return "job.event." + kind
	}
	if strings.HasPrefix(name, module+".") {
		return "job." + name
	}
	return "job." + module + "." + name
}

// JobName is a job in the page's language; a job of an external module that brings no
// words keeps its own name.
func (p *Page) JobName(module, name string) string {
	if k := JobNameKey(module, name); p.Loc.Has(k) {
		return p.T(k)
	}
	return name
}

// JobOwner is who runs a job, in words: the platform, or the module by its name.
func (p *Page) JobOwner(module string) string {
	if module == jobs.CoreModule {
		return p.T("admin.jobs.platform")
	}
	return p.ModuleName(module)
}

// RunJobs runs the durable jobs until ctx ends: every tick it enqueues what the schedules
// say is due (the core's and the enabled modules'), then claims the due jobs of every tenant
// at once and runs each in its own tenant's scope.
func (s *Server) RunJobs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.RunJobsOnce(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunJobsOnce does one round of scheduling and running. Schedules are kept per tenant in
// memory (a tick that finds nothing new costs no statement); claiming does not visit the
// tenants: one statement claims due jobs of any tenant (jobs.ClaimDue), and each job is
// loaded and run inside its tenant's scope.
func (s *Server) RunJobsOnce(ctx context.Context) error {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.enqueueSchedules(ctx, t); err != nil {
			return err
		}
	}
	for {
		claimed, err := s.Jobs.ClaimDue(ctx, 20)
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			return nil
		}
		for _, j := range claimed {
			var runErr error
			t, err := s.Tenants.Cached(ctx, j.TenantID)
			if err != nil {
				runErr = fmt.Errorf("tenant of the job: %w", err)
			} else {
				runErr = s.runJob(ctx, t, j)
			}
			if runErr != nil {
				slug := j.TenantID
				if t != nil {
					slug = t.Slug
				}
				s.Log.Warn("job failed", "tenant", slug, "module", j.Module, "job", j.Name, "attempt", j.Attempts, "err", runErr)
			}
			if err := s.Jobs.Finish(ctx, j, runErr); err != nil {
				return err
			}
		}
	}
}

func (s *Server) enqueueSchedules(ctx context.Context, t *tenancy.Tenant) error {
	const lookback = 26 * time.Hour
	loc := t.Location()
	for name, cj := range coreJobs {
		if cj.Cron == "" {
			continue
		}
		if err := s.Jobs.EnqueueDue(ctx, t.ID, jobs.Schedule{Module: jobs.CoreModule, Name: name, Cron: cj.Cron}, loc, lookback); err != nil {
			return err
		}
	}
	for _, id := range t.EnabledModules() {
		man := s.Modules.Manifest(id)
		if man == nil {
			continue
		}
		for _, sj := range man.Jobs {
			if err := s.Jobs.EnqueueDue(ctx, t.ID, jobs.Schedule{Module: id, Name: sj.Name, Cron: sj.Cron}, loc, lookback); err != nil {
				s.Log.Error("module schedule", "module", id, "job", sj.Name, "err", err)
			}
		}
	}
	return nil
}

func (s *Server) runJob(ctx context.Context, t *tenancy.Tenant, j jobs.Job) error {
	if j.Module == jobs.CoreModule {
		cj, ok := coreJobs[j.Name]
		if !ok {
			return fmt.Errorf("no core job %q", j.Name)
		}
		return cj.Run(ctx, s, t, j.Payload)
	}
	if err := s.Modules.RunJob(ctx, t, j); err != nil {
		return fmt.Errorf("module %s: %w", j.Module, err)
	}
	return nil
}

// maxDeliveries is how many times a message is tried before it is marked failed.
const maxDeliveries = 8

// retryMessage schedules the next delivery attempt of a message, with backoff.
func (s *Server) retryMessage(ctx context.Context, tenantID, id string, attempts int) error {
	if attempts >= maxDeliveries {
		s.Log.Error("message not delivered, giving up", "tenant", tenantID, "message", id, "attempts", attempts)
		return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*mail.Entry)(nil)).Set("status = 'failed'").Where("id = ?", id).Exec(ctx)
			return err
		})
	}
	_, err := s.Jobs.Enqueue(ctx, tenantID, jobs.Spec{Module: jobs.CoreModule, Name: "core.deliver",
		Key: fmt.Sprintf("deliver:%s:%d", id, attempts), At: time.Now().Add(jobs.Backoff(attempts) * 5), Payload: []byte(id)})
	return err
}

// Sweep runs the core's housekeeping jobs for every tenant now (tests and the CLI).
func (s *Server) Sweep(ctx context.Context) error {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		for name, cj := range coreJobs {
			if cj.Cron == "" {
				continue // one-off jobs carry a payload
			}
			if err := cj.Run(ctx, s, t, nil); err != nil {
				return fmt.Errorf("%s %s: %w", name, t.Slug, err)
			}
		}
	}
	return nil
}

func (s *Server) bindJobs() {
	s.get("/admin/jobs", authz.PermAdminJobs, s.adminJobs)
	s.post("/admin/jobs/:id/retry", authz.PermAdminJobs, s.adminRetryJob)
	s.get("/platform/jobs", authz.PermPlatformJobs, s.platformJobs)
	s.post("/platform/jobs/:tenant/:id/retry", authz.PermPlatformJobs, s.platformRetryJob)
}

func (s *Server) adminJobs(c *fiber.Ctx) error {
	st := St(c)
	status := c.Query("status")
	switch status {
	case "", jobs.Pending, jobs.Running, jobs.Done, jobs.Failed, jobs.Cancelled:
	default:
		return fiber.ErrBadRequest
	}
	list, err := s.Jobs.List(c.UserContext(), st.Tenant.ID, status, 200)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "admin_jobs", "admin.jobs.title", map[string]any{"Jobs": list, "Status": status,
		"States": []string{jobs.Pending, jobs.Running, jobs.Done, jobs.Failed, jobs.Cancelled}}, nil)
}

func (s *Server) adminRetryJob(c *fiber.Ctx) error {
	st := St(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.Jobs.Retry(c.UserContext(), st.Tenant.ID, id); errors.Is(err, jobs.ErrNotFound) {
		return fiber.ErrNotFound
	} else if err != nil {
		return err
	}
	if err := s.record(c, "", ActJobRetried, "", "job:"+id, nil); err != nil {
		return err
	}
	s.flash(c, "admin.jobs.retried")
	return c.Redirect(st.URL("/admin/jobs?status=failed"), fiber.StatusSeeOther)
}

type tenantJob struct {
	Tenant *tenancy.Tenant
	Job    jobs.Job
}

// platformJobs lists the failed jobs of every tenant, each read in its tenant's scope.
func (s *Server) platformJobs(c *fiber.Ctx) error {
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return err
	}
	var out []tenantJob
	for _, t := range ts {
		list, err := s.Jobs.List(c.UserContext(), t.ID, jobs.Failed, 100)
		if err != nil {
			return err
		}
		for _, j := range list {
			out = append(out, tenantJob{Tenant: t, Job: j})
		}
	}
	return s.render(c, fiber.StatusOK, "platform_jobs", "platform.jobs.title", map[string]any{"Jobs": out}, nil)
}

func (s *Server) platformRetryJob(c *fiber.Ctx) error {
	st := St(c)
	t, err := s.Tenants.ByID(c.UserContext(), c.Params("tenant"))
	if err != nil {
		return fiber.ErrNotFound
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.Jobs.Retry(c.UserContext(), t.ID, id); errors.Is(err, jobs.ErrNotFound) {
		return fiber.ErrNotFound
	} else if err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActJobRetried, "", "job:"+id, nil); err != nil {
		return err
	}
	s.flash(c, "admin.jobs.retried")
	return c.Redirect(st.URL("/platform/jobs"), fiber.StatusSeeOther)
}
