// Package jobs owns the durable job store (P8): one-off jobs with a run-at time, an
// idempotency key, a lease, attempts and backoff, per tenant and module; and cron schedules
// turned into jobs whose key is the fire time, so that any number of core instances enqueue
// each run once. Claiming holds across instances: FOR UPDATE SKIP LOCKED on PostgreSQL, an
// immediate write transaction on SQLite, and a guarded update on both. It must not know
// about HTTP or modules: the runner hands claimed jobs to a function.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
)

// Job states.
const (
	Pending   = "pending"
	Running   = "running"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// CoreModule is the module name of the core's own jobs.
const CoreModule = "core"

// Job is a job of a module (or of the core) in a tenant.
type Job struct {
	bun.BaseModel `bun:"table:jobs,alias:j"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	Module         string       `bun:"module"`
	Name           string       `bun:"name"`
	IdempotencyKey string       `bun:"idempotency_key"`
	Payload        []byte       `bun:"payload"`
	RunAt          time.Time    `bun:"run_at"`
	Status         string       `bun:"status"`
	Attempts       int          `bun:"attempts"`
	LeaseUntil     bun.NullTime `bun:"lease_until"`
	LastError      string       `bun:"last_error"`
	CreatedAt      time.Time    `bun:"created_at"`
	DoneAt         bun.NullTime `bun:"done_at"`
	ClaimedBy      string       `bun:"claimed_by"`
}

// Spec is a job to enqueue.
type Spec struct {
	Module, Name, Key string
	At                time.Time
	Payload           []byte
}

// Store reads and writes jobs.
type Store struct {
	DB *db.DB
	// Instance names this core instance in the jobs it claims.
	Instance string
	// MaxAttempts is how many times a job is tried before it is failed (default 8).
	MaxAttempts int
	// Forever, when set, names the jobs that are never failed, only retried with backoff
	// until they succeed (a core event a module must acknowledge).
	Forever func(j Job) bool
	// Lease is how long a claimed job is reserved for its instance (default 5 min).
	Lease time.Duration
	Now   func() time.Time

	// enqueued remembers the last fire time this instance enqueued per schedule, so that a
	// tick that finds nothing new does not touch the database (the key dedups anyway).
	enqueued sync.Map
}

// NewStore returns a store for this instance.
func NewStore(d *db.DB) *Store {
	return &Store{DB: d, Instance: uuid.Must(uuid.NewV7()).String(), MaxAttempts: 8, Lease: 5 * time.Minute,
		Now: func() time.Time { return time.Now().UTC() }}
}

// ErrNotFound is returned for a job the tenant does not have.
var ErrNotFound = errors.New("jobs: not found")

// Enqueue adds a job unless the tenant's module already has one with the same key; it
// returns the job's id either way.
func (s *Store) Enqueue(ctx context.Context, tenantID string, sp Spec) (string, error) {
	var id string
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) (err error) {
		id, err = s.EnqueueIn(ctx, sc, sp)
		return err
	})
	return id, err
}

// EnqueueIn is Enqueue inside the caller's transaction: the job exists if and only if what
// the transaction did is committed (an account deletion and the event that tells the
// modules).
func (s *Store) EnqueueIn(ctx context.Context, sc *db.Scope, sp Spec) (string, error) {
	if sp.Name == "" || sp.Key == "" || sp.Module == "" {
		return "", errors.New("jobs: module, name and key are required")
	}
	j := &Job{TenantID: sc.TenantID, ID: uuid.Must(uuid.NewV7()).String(), Module: sp.Module, Name: sp.Name,
		IdempotencyKey: sp.Key, Payload: sp.Payload, RunAt: sp.At.UTC(), Status: Pending, CreatedAt: s.Now()}
	if _, err := sc.Insert(j).On("CONFLICT (tenant_id, module, idempotency_key) DO NOTHING").Exec(ctx); err != nil {
		return "", err
	}
	var id string
	err := sc.Select((*Job)(nil)).Column("id").Where("module = ? AND idempotency_key = ?", sp.Module, sp.Key).Scan(ctx, &id)
	return id, err
}

// DueNow makes the tenant's pending jobs of module whose name starts with prefix due now
// (the module is back: what waited for it need not wait for its backoff).
func (s *Store) DueNow(ctx context.Context, tenantID, module, prefix string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update((*Job)(nil)).Set("run_at = ?", s.Now()).
			Where("module = ? AND name LIKE ? AND status = ? AND run_at > ?", module, prefix+"%", Pending, s.Now()).Exec(ctx)
		return err
	})
}

// Cancel cancels the tenant's pending job of module with key, if any.
func (s *Store) Cancel(ctx context.Context, tenantID, module, key string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update((*Job)(nil)).Set("status = ?", Cancelled).
			Where("module = ? AND idempotency_key = ? AND status = ?", module, key, Pending).Exec(ctx)
		return err
	})
}

// Claim reserves up to limit due jobs of the tenant for this instance. Jobs whose lease ran
// out (their instance died) are due again first.
func (s *Store) Claim(ctx context.Context, tenantID string, limit int) ([]Job, error) {
	return s.ClaimNamed(ctx, tenantID, "", limit)
}

// ClaimNamed is Claim for the jobs whose name starts with prefix.
func (s *Store) ClaimNamed(ctx context.Context, tenantID, prefix string, limit int) ([]Job, error) {
	now := s.Now()
	var claimed []Job
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Update((*Job)(nil)).Set("status = ?", Pending).
			Where("status = ? AND lease_until < ?", Running, now).Exec(ctx); err != nil {
			return err
		}
		q := sc.Select(&claimed).Where("status = ? AND run_at <= ?", Pending, now).Order("run_at").Limit(int64(limit))
		if prefix != "" {
			q = q.Where("name LIKE ?", prefix+"%")
		}
		if s.DB.Kind == db.Postgres {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		if len(claimed) == 0 {
			return nil
		}
		ids := make([]string, len(claimed))
		for i := range claimed {
			ids[i] = claimed[i].ID
		}
		res, err := sc.Update((*Job)(nil)).Set("status = ?", Running).Set("lease_until = ?", now.Add(s.Lease)).
			Set("attempts = attempts + 1").Set("claimed_by = ?", s.Instance).
			Where("id IN (?) AND status = ?", bun.In(ids), Pending).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); int(n) != len(ids) {
			return fmt.Errorf("jobs: claimed %d of %d", n, len(ids))
		}
		for i := range claimed {
			claimed[i].Attempts++
		}
		return nil
	})
	return claimed, err
}

// ClaimDue reserves up to limit due jobs of any tenant for this instance, without visiting
// the tenants one by one: one statement finds and marks them (jobs whose lease ran out
// first), then each job is loaded inside its own tenant's scope (one read per tenant of the
// batch). On PostgreSQL the first statement is claim_due_jobs, a narrow SECURITY DEFINER
// function that returns only the tenant and id of what it claimed: the runtime role still
// reads no other tenant's job rows. On SQLite (no row-level security) it is an immediate
// write transaction. Either way a job is claimed by one caller only (SKIP LOCKED and the
// guarded update on PostgreSQL, the write lock on SQLite).
func (s *Store) ClaimDue(ctx context.Context, limit int) ([]Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.Now()
	var keys []jobKey
	var err error
	if s.DB.Kind == db.Postgres {
		keys, err = s.claimDuePostgres(ctx, now, limit)
	} else {
		keys, err = s.claimDueSQLite(ctx, now, limit)
	}
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	byTenant := map[string][]string{}
	var order []string
	for _, k := range keys {
		if _, ok := byTenant[k.tenant]; !ok {
			order = append(order, k.tenant)
		}
		byTenant[k.tenant] = append(byTenant[k.tenant], k.id)
	}
	out := make([]Job, 0, len(keys))
	for _, tid := range order {
		var got []Job
		err := s.DB.ReadTenant(ctx, tid, func(ctx context.Context, sc *db.Scope) error {
			return sc.Select(&got).Where("id IN (?)", bun.In(byTenant[tid])).Where("claimed_by = ?", s.Instance).Scan(ctx)
		})
		if err != nil {
			return out, fmt.Errorf("jobs: load claimed jobs: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

type jobKey struct{ tenant, id string }

func (s *Store) claimDuePostgres(ctx context.Context, now time.Time, limit int) ([]jobKey, error) {
	rows, err := s.DB.Bun.QueryContext(ctx, "SELECT job_tenant, job_id FROM claim_due_jobs(?, ?, ?, ?)",
		s.Instance, now, now.Add(s.Lease), limit)
	if err != nil {
		return nil, fmt.Errorf("jobs: claim due: %w", err)
	}
	defer rows.Close()
	var keys []jobKey
	for rows.Next() {
		var k jobKey
		if err := rows.Scan(&k.tenant, &k.id); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// claimDueSQLite is the cross-tenant claim on SQLite: the only statements of the core that
// read the jobs table outside a tenant scope, and they return tenant and id only.
func (s *Store) claimDueSQLite(ctx context.Context, now time.Time, limit int) ([]jobKey, error) {
	var keys []jobKey
	err := s.DB.Bun.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		// One statement each: the write lock is held from BEGIN, so no other runner picks
		// the same rows in between.
		pick := func(where string, order string, n int) error {
			var rows []struct {
				TenantID string `bun:"tenant_id"`
				ID       string `bun:"id"`
			}
			err := tx.NewRaw("UPDATE jobs SET status = ?, lease_until = ?, attempts = attempts + 1, claimed_by = ? "+
				"WHERE rowid IN (SELECT rowid FROM jobs WHERE "+where+" ORDER BY "+order+" LIMIT ?) RETURNING tenant_id, id",
				Running, now.Add(s.Lease), s.Instance, now, n).Scan(ctx, &rows)
			for _, r := range rows {
				keys = append(keys, jobKey{r.TenantID, r.ID})
			}
			return err
		}
		if err := pick("status = '"+Running+"' AND lease_until < ?", "lease_until", limit); err != nil {
			return err
		}
		if len(keys) < limit {
			return pick("status = '"+Pending+"' AND run_at <= ?", "run_at", limit-len(keys))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: claim due: %w", err)
	}
	return keys, nil
}

// Backoff is the wait before the next attempt of a job that failed attempts times.
func Backoff(attempts int) time.Duration {
	if attempts > 12 {
		attempts = 12
	}
	return time.Duration(1<<attempts) * time.Second
}

// Finish records the outcome of a claimed job: done, retried later with backoff, or failed
// for good after MaxAttempts. Only the instance that holds the job's lease may finish it.
func (s *Store) Finish(ctx context.Context, j Job, runErr error) error {
	return s.DB.InTenant(ctx, j.TenantID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Update((*Job)(nil)).Where("id = ? AND status = ? AND claimed_by = ?", j.ID, Running, s.Instance)
		switch {
		case runErr == nil:
			q = q.Set("status = ?", Done).Set("done_at = ?", s.Now()).Set("last_error = ''")
		case j.Attempts >= s.MaxAttempts && (s.Forever == nil || !s.Forever(j)):
			q = q.Set("status = ?", Failed).Set("last_error = ?", runErr.Error())
		default:
			q = q.Set("status = ?", Pending).Set("run_at = ?", s.Now().Add(Backoff(j.Attempts))).Set("last_error = ?", runErr.Error())
		}
		_, err := q.Exec(ctx)
		return err
	})
}

// List returns the tenant's most recent jobs, only those in status when it is set.
func (s *Store) List(ctx context.Context, tenantID string, status string, limit int) ([]Job, error) {
	var out []Job
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Select(&out).Order("created_at DESC").Limit(int64(limit))
		if status != "" {
			q = q.Where("status = ?", status)
		}
		return q.Scan(ctx)
	})
	return out, err
}

// Retry makes a failed job of the tenant pending again, now, with a fresh attempt budget.
func (s *Store) Retry(ctx context.Context, tenantID, id string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*Job)(nil)).Set("status = ?", Pending).Set("run_at = ?", s.Now()).Set("attempts = 0").
			Where("id = ? AND status = ?", id, Failed).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return nil
	})
}

// Get returns one job of the tenant.
func (s *Store) Get(ctx context.Context, tenantID, id string) (*Job, error) {
	var j Job
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&j).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &j, err
}

// Schedule is a cron schedule of a module's job, run for one tenant.
type Schedule struct {
	Module, Name, Cron string
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron checks a cron spec ("*/5 * * * *", "@daily").
func ParseCron(spec string) error {
	_, err := parser.Parse(spec)
	return err
}

// EnqueueDue enqueues the latest fire time of sc at or before now (within lookback) for the
// tenant. The fire time is in the job's key: every instance enqueues the same key, so the
// run happens once; a run missed while the platform was down runs when it is back.
func (s *Store) EnqueueDue(ctx context.Context, tenantID string, sc Schedule, loc *time.Location, lookback time.Duration) (err error) {
	sched, err := parser.Parse(sc.Cron)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", sc.Name, err)
	}
	now := s.Now().In(loc)
	var last time.Time
	for t := sched.Next(now.Add(-lookback)); !t.After(now); t = sched.Next(t) {
		last = t
	}
	if last.IsZero() {
		return nil
	}
	memo := tenantID + "|" + sc.Module + "|" + sc.Name
	if prev, ok := s.enqueued.Load(memo); ok && prev.(time.Time).Equal(last) {
		return nil
	}
	defer func() {
		if err == nil {
			s.enqueued.Store(memo, last)
		}
	}()
	_, err = s.Enqueue(ctx, tenantID, Spec{Module: sc.Module, Name: sc.Name, Key: "cron:" + sc.Name + ":" + last.UTC().Format(time.RFC3339), At: last})
	return err
}
