package server

import (
	"context"
	"fmt"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
)

// RunJobs runs the modules' one-off jobs when they are due, until ctx ends. A job is claimed
// with a guarded update (pending → running with a lease), so two instances never run the same
// job; a failed job is retried with exponential backoff; a job whose lease ran out (its
// instance died) becomes pending again. The durable job service will replace this loop.
func (s *Server) RunJobs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.runDueJobs(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("jobs", "err", err)
		}
	}
}

const maxJobAttempts = 10

func (s *Server) runDueJobs(ctx context.Context) error {
	if s.host == nil {
		return nil
	}
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		var due []JobRow
		now := time.Now().UTC()
		err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			if _, err := sc.Update((*JobRow)(nil)).Set("status = 'pending'").
				Where("status = 'running' AND lease_until < ?", now).Exec(ctx); err != nil {
				return err
			}
			return sc.Select(&due).Where("status = 'pending' AND run_at <= ?", now).Order("run_at").Limit(50).Scan(ctx)
		})
		if err != nil {
			return err
		}
		for _, j := range due {
			if err := s.runJob(ctx, t, j); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) runJob(ctx context.Context, t *tenancy.Tenant, j JobRow) error {
	lease := time.Now().UTC().Add(5 * time.Minute)
	claimed := false
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*JobRow)(nil)).Set("status = 'running'").Set("lease_until = ?", lease).
			Set("attempts = attempts + 1").Where("id = ? AND status = 'pending'", j.ID).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		claimed = n == 1
		return nil
	})
	if err != nil || !claimed {
		return err
	}
	man := s.manifest(j.Module)
	var runErr error
	if man == nil {
		runErr = fmt.Errorf("module %s is not running", j.Module)
	} else {
		ten := s.sdkTenant(nil, t, j.Module, man)
		runErr = s.host.RunJob(ctx, j.Module, sdk.Scope{TenantID: t.ID}, sdk.Call{Tenant: ten},
			&sdk.Job{ID: j.ID, Name: j.Name, Payload: j.Payload, Tenant: ten})
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Update((*JobRow)(nil)).Where("id = ?", j.ID)
		switch {
		case runErr == nil:
			q = q.Set("status = 'done'").Set("done_at = ?", time.Now().UTC()).Set("last_error = ''")
		case j.Attempts+1 >= maxJobAttempts:
			s.Log.Error("job failed for good", "tenant", t.Slug, "module", j.Module, "job", j.Name, "err", runErr)
			q = q.Set("status = 'failed'").Set("last_error = ?", runErr.Error())
		default:
			backoff := time.Duration(1<<min(j.Attempts+1, 12)) * time.Second
			s.Log.Warn("job failed, will retry", "tenant", t.Slug, "module", j.Module, "job", j.Name, "in", backoff.String(), "err", runErr)
			q = q.Set("status = 'pending'").Set("run_at = ?", time.Now().UTC().Add(backoff)).Set("last_error = ?", runErr.Error())
		}
		_, err := q.Exec(ctx)
		return err
	})
}
