package accounts

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// Decisions on the appeal against a closure (R6).
const (
	AppealGranted = "granted"
	AppealRefused = "refused"
)

// Closure is what the platform keeps of an account the operator closed (P2: an account
// inactive beyond the tenant's rule) so that the person may appeal as a blocked one does
// (R6): his address, name, language and portal, to recognise his appeal and to write him the
// decision, for the tenant's appeal period (account.closed_appeal_days), and while an appeal
// he lodged within it waits for its decision. Then the row is erased (EraseClosures); the
// account itself went with the closure.
type Closure struct {
	bun.BaseModel `bun:"table:account_closures,alias:ac"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	Email       string       `bun:"email"`
	Name        string       `bun:"name"`
	Locale      string       `bun:"locale"`
	Portal      string       `bun:"portal"`
	Reason      string       `bun:"reason"`
	ClosedAt    time.Time    `bun:"closed_at"`
	AppealUntil time.Time    `bun:"appeal_until"`
	ComplaintID string       `bun:"complaint_id"`
	Decision    string       `bun:"decision"`
	DecidedAt   bun.NullTime `bun:"decided_at"`
	DecidedBy   string       `bun:"decided_by"`
}

// Close closes an account for reason ("inactivity"): it is deleted as its owner would
// delete it, and what an appeal needs is kept for appealDays (R6).
func (s *Service) Close(ctx context.Context, t *tenancy.Tenant, userID, reason string, appealDays int) (*Closure, error) {
	var cl *Closure
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		u, err := s.deleteIn(ctx, sc, t, userID, reason, "")
		if err != nil {
			return err
		}
		now := s.Now()
		cl = &Closure{TenantID: t.ID, ID: tenancy.NewID(), Email: u.Email, Name: u.Name, Locale: u.Locale, Portal: u.Portal,
			Reason: reason, ClosedAt: now, AppealUntil: now.AddDate(0, 0, appealDays)}
		_, err = sc.Insert(cl).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return cl, s.bump(ctx, t.ID)
}

// AppealClosure ties an appeal (complaint id) lodged from email to the newest closure of that
// address still open to appeal and not appealed yet; false when there is none.
func (s *Service) AppealClosure(ctx context.Context, tenantID, email, complaintID string) (bool, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return false, nil
	}
	var n int64
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var cl Closure
		err := sc.Select(&cl).Where("email = ? AND complaint_id = '' AND decided_at IS NULL AND appeal_until > ?", email, s.Now()).
			Order("closed_at DESC").Limit(1).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		res, err := sc.Update((*Closure)(nil)).Set("complaint_id = ?", complaintID).Where("id = ? AND complaint_id = ''", cl.ID).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n == 1, err
}

// ClosureOfAppeal returns the closure an appeal (complaint id) is against, or ErrNotFound.
func (s *Service) ClosureOfAppeal(ctx context.Context, tenantID, complaintID string) (*Closure, error) {
	var cl Closure
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&cl).Where("complaint_id = ?", complaintID).Limit(1).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &cl, err
}

// DecideAppeal records the decision on the appeal against closure id, once: a second
// decision (another staff member at the same time) finds ErrNotFound.
func (s *Service) DecideAppeal(ctx context.Context, tenantID, id, decision, by string) error {
	if decision != AppealGranted && decision != AppealRefused {
		return errors.New("accounts: unknown appeal decision")
	}
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*Closure)(nil)).Set("decision = ?", decision).Set("decided_at = ?", s.Now()).Set("decided_by = ?", by).
			Where("id = ? AND decided_at IS NULL AND complaint_id <> ''", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return nil
	})
}

// EraseClosures erases the closures whose appeal period ended, unless an appeal lodged in
// time still waits for its decision (P11: nothing of the person is kept longer).
func (s *Service) EraseClosures(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		// An appeal answered without a decision (through the complaint's answer form) waits
		// no more either.
		res, err := sc.Delete((*Closure)(nil)).Where("appeal_until <= ?", s.Now()).
			Where(`(complaint_id = '' OR decided_at IS NOT NULL OR NOT EXISTS (SELECT 1 FROM complaints AS c
				WHERE c.tenant_id = ac.tenant_id AND c.id = ac.complaint_id AND c.status = 'open'))`).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
