package accounts

import (
	"context"
	"errors"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// Withdrawing the consent to the processing of data ends the account, after a notice (E2
// [003 II.1–3]): the consent is the condition of the account, so its withdrawal sets the day
// the account closes (the tenant's rule account.consent_withdrawal_notice_days); until then
// the holder may give it again, which cancels the closing. On the day, the account closes by
// the core's closure (Close: deleted as its holder would delete it, the modules told, what an
// appeal needs kept for the appeal period). The users row holds the pending day, so that the
// closing and a consent given again are decided by the database: whichever comes first.

// RuleWithdrawalNoticeDays is the notice, in days, between the withdrawal of the consent to
// the processing of data and the closing of the account.
const RuleWithdrawalNoticeDays = "account.consent_withdrawal_notice_days"

// ReasonConsentWithdrawn is the reason of a closure after the consent was withdrawn.
const ReasonConsentWithdrawn = "consent_withdrawn"

// ConsentDataProcessing is the kind of the consent to the processing of data (as the terms
// package writes it).
const ConsentDataProcessing = "data_processing"

// ErrNoWithdrawal is returned when no withdrawal is pending (none made, cancelled, or the
// account closed already), and, at a withdrawal, when one is pending already.
var ErrNoWithdrawal = errors.New("accounts: no withdrawal pending")

// WithdrawConsent records the withdrawal of the consent to the processing of data and the
// day the account closes; record, when set, records the consent's history and schedules the
// closing in the same transaction (at is the closing day). It returns that day.
func (s *Service) WithdrawConsent(ctx context.Context, t *tenancy.Tenant, userID string,
	record func(ctx context.Context, sc *db.Scope, at time.Time) error) (time.Time, error) {
	at := s.Now().AddDate(0, 0, int(t.IntRule(RuleWithdrawalNoticeDays)))
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*User)(nil)).Set("closing_at = ?", at).
			Where("id = ? AND closing_at IS NULL AND status = ?", userID, StatusActive).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoWithdrawal
		}
		if record != nil {
			return record(ctx, sc, at)
		}
		return nil
	})
	return at, err
}

// RestoreConsent cancels a pending closing: the holder gave his consent again before the
// day. record, when set, records it in the same transaction.
func (s *Service) RestoreConsent(ctx context.Context, t *tenancy.Tenant, userID string,
	record func(ctx context.Context, sc *db.Scope) error) error {
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*User)(nil)).Set("closing_at = NULL").
			Where("id = ? AND closing_at IS NOT NULL AND closing_at > ?", userID, s.Now()).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoWithdrawal
		}
		if record != nil {
			return record(ctx, sc)
		}
		return nil
	})
}

// ClosingDue lists the accounts whose closing day after a withdrawal has come.
func (s *Service) ClosingDue(ctx context.Context, tenantID string) ([]User, error) {
	var out []User
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("closing_at IS NOT NULL AND closing_at <= ?", s.Now()).Order("closing_at").Scan(ctx)
	})
	return out, err
}

// CloseWithdrawn closes the account userID if its closing day after a withdrawal has come and
// the withdrawal still stands: the guarded update that claims the row decides against a
// consent given again at the same moment. It returns the closure and the account as it was,
// or ErrNoWithdrawal (cancelled, not due yet, or closed already).
func (s *Service) CloseWithdrawn(ctx context.Context, t *tenancy.Tenant, userID string, appealDays int) (*Closure, *User, error) {
	var cl *Closure
	var gone *User
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		now := s.Now()
		res, err := sc.Update((*User)(nil)).Set("closing_at = closing_at").
			Where("id = ? AND closing_at IS NOT NULL AND closing_at <= ?", userID, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoWithdrawal
		}
		u, err := s.deleteIn(ctx, sc, t, userID, ReasonConsentWithdrawn, "")
		if err != nil {
			return err
		}
		gone = u
		cl = &Closure{TenantID: t.ID, ID: tenancy.NewID(), Email: u.Email, Name: u.Name, Locale: u.Locale, Portal: u.Portal,
			Reason: ReasonConsentWithdrawn, ClosedAt: now, AppealUntil: now.AddDate(0, 0, appealDays)}
		_, err = sc.Insert(cl).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return cl, gone, s.bump(ctx, t.ID)
}
