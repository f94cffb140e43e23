package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/workdays"
)

// Credential changes by the operator (P2, B10 [001 art. 3]): for technical reasons the
// operator may change an account's login address and/or reset its password, after a notice
// of the tenant's number of business days (account.credential_change_notice_business_days)
// sent to the holder at once. The change is applied on its effective day by a durable job,
// and may be cancelled until then; the row's status decides between the two (a guarded
// update), and one change waits per account at a time (a partial unique key).

// RuleCredentialNoticeDays is the notice, in business days of the tenant's country, before a
// credential change the operator makes takes effect.
const RuleCredentialNoticeDays = "account.credential_change_notice_business_days"

// States of a credential change.
const (
	ChangeScheduled = "scheduled"
	ChangeApplied   = "applied"
	ChangeCancelled = "cancelled"
	// ChangeFailed: the new address had become another account's by the effective day.
	ChangeFailed = "failed"
)

// Errors of credential changes.
var (
	// ErrChangeWaiting is returned when the account has a change waiting already.
	ErrChangeWaiting = errors.New("accounts: a credential change is already scheduled")
	// ErrNoChange is returned for a change that is not (or no longer) waiting: cancelled,
	// applied, or, for a cancellation, already due.
	ErrNoChange = errors.New("accounts: no such scheduled credential change")
)

// CredentialChange is a change of an account's credentials the operator scheduled.
type CredentialChange struct {
	bun.BaseModel `bun:"table:credential_changes,alias:cc"`

	TenantID      string       `bun:"tenant_id,pk"`
	ID            string       `bun:"id,pk"`
	UserID        string       `bun:"user_id"`
	NewEmail      string       `bun:"new_email"`
	ResetPassword bool         `bun:"reset_password"`
	Reason        string       `bun:"reason"`
	Status        string       `bun:"status"`
	NoticedAt     time.Time    `bun:"noticed_at"`
	EffectiveAt   time.Time    `bun:"effective_at"`
	CreatedBy     string       `bun:"created_by"`
	DoneAt        bun.NullTime `bun:"done_at"`
	DoneBy        string       `bun:"done_by"`
}

// Waiting reports whether the change is still to be applied.
func (c *CredentialChange) Waiting() bool { return c.Status == ChangeScheduled }

// CredentialChangeDay is when a change noticed at now takes effect: the notice runs for the
// tenant's number of whole business days (its country's calendar), the day of the notice not
// counted, and the change applies at the start of the following day, in the tenant's time
// zone. Noticed on Thursday 26 November 2026 with 3 days, the notice runs on Friday, Monday
// and Tuesday, and the change applies on Wednesday 2 December at 00:00.
func CredentialChangeDay(t *tenancy.Tenant, now time.Time) time.Time {
	loc := t.Location()
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	c := workdays.Calendar(t.Settings.Country, int(t.IntRule("business.open_hour")), int(t.IntRule("business.close_hour")))
	last := workdays.AddWorkdays(c, today, int(t.IntRule(RuleCredentialNoticeDays)))
	return time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc)
}

// ScheduleCredentialChange checks and records a change of the account userID's credentials
// (a new login address, a password reset, or both) with its reason, effective on
// CredentialChangeDay; enqueue, when set, schedules what applies it in the same
// transaction. A second change while one waits gives ErrChangeWaiting.
func (s *Service) ScheduleCredentialChange(ctx context.Context, t *tenancy.Tenant, u *User, newEmail string, resetPassword bool,
	reason, by string, enqueue func(ctx context.Context, sc *db.Scope, ch *CredentialChange) error) (*CredentialChange, error) {
	errs := form.Errors{}
	norm := ""
	if strings.TrimSpace(newEmail) != "" {
		norm = NormalizeEmail(newEmail)
		switch {
		case norm == "":
			errs.Add("new_email", "form.email.invalid")
		case norm == u.Email:
			errs.Add("new_email", "account.email.same")
		}
	}
	if strings.TrimSpace(newEmail) == "" && !resetPassword {
		errs.Add("new_email", "admin.credentials.nothing")
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		errs.Add("change_reason", "form.required")
	case utf8.RuneCountInString(reason) > 1000:
		errs.Add("change_reason", "form.too_long")
	}
	if norm != "" && !errs.Has("new_email") {
		if _, err := s.ByEmail(ctx, t.ID, norm); err == nil {
			errs.Add("new_email", "admin.credentials.email_taken")
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	now := s.Now()
	ch := &CredentialChange{TenantID: t.ID, ID: tenancy.NewID(), UserID: u.ID, NewEmail: norm, ResetPassword: resetPassword,
		Reason: reason, Status: ChangeScheduled, NoticedAt: now, EffectiveAt: CredentialChangeDay(t, now).UTC(), CreatedBy: by}
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(ch).Exec(ctx); err != nil {
			if db.IsUniqueViolation(err) {
				return ErrChangeWaiting
			}
			return err
		}
		if enqueue != nil {
			return enqueue(ctx, sc, ch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// CancelCredentialChange cancels the account's waiting change id before its effective day;
// a change applied, cancelled or already due gives ErrNoChange.
func (s *Service) CancelCredentialChange(ctx context.Context, t *tenancy.Tenant, userID, id, by string) (*CredentialChange, error) {
	var ch CredentialChange
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		now := s.Now()
		res, err := sc.Update((*CredentialChange)(nil)).Set("status = ?", ChangeCancelled).Set("done_at = ?", now).Set("done_by = ?", by).
			Where("id = ? AND user_id = ? AND status = ? AND effective_at > ?", id, userID, ChangeScheduled, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoChange
		}
		return sc.Select(&ch).Where("id = ?", id).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// AppliedChange is a credential change as applied: the account after it, its address before,
// and, for a password reset, the token of the link that lets the holder set a new one.
type AppliedChange struct {
	Change   *CredentialChange
	User     *User
	OldEmail string
	Token    string
}

// ApplyCredentialChange applies the waiting change id once its day has come: the new login
// address replaces the old one; a password reset makes the old password unusable, ends every
// session and returns the token of a set-password link valid for the tenant's verification
// period. A change cancelled, applied or not yet due gives ErrNoChange; a new address that
// became another account's meanwhile marks the change failed and gives ErrEmailTaken.
func (s *Service) ApplyCredentialChange(ctx context.Context, t *tenancy.Tenant, id string) (*AppliedChange, error) {
	var out AppliedChange
	var unusable string
	now := s.Now()
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		// The guarded update claims the change against a cancellation at the same moment.
		res, err := sc.Update((*CredentialChange)(nil)).Set("status = ?", ChangeApplied).Set("done_at = ?", now).
			Where("id = ? AND status = ? AND effective_at <= ?", id, ChangeScheduled, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoChange
		}
		var ch CredentialChange
		if err := sc.Select(&ch).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		var u User
		if err := sc.Select(&u).Where("id = ?", ch.UserID).Scan(ctx); err != nil {
			return err
		}
		out.Change, out.OldEmail = &ch, u.Email
		if ch.NewEmail != "" {
			_, err := sc.Update((*User)(nil)).Set("email = ?", ch.NewEmail).Where("id = ?", u.ID).Exec(ctx)
			if db.IsUniqueViolation(err) {
				return ErrEmailTaken
			}
			if err != nil {
				return err
			}
			u.Email = ch.NewEmail
			// A change the holder asked for himself would undo the operator's.
			if _, err := sc.Delete((*Token)(nil)).Where("user_id = ? AND purpose = ? AND used_at IS NULL", u.ID, PurposeEmailChange).Exec(ctx); err != nil {
				return err
			}
		}
		if ch.ResetPassword {
			if unusable == "" {
				if unusable, err = unusableHash(); err != nil {
					return err
				}
			}
			if _, err := sc.Update((*User)(nil)).Set("password_hash = ?", unusable).Where("id = ?", u.ID).Exec(ctx); err != nil {
				return err
			}
			u.PasswordHash = unusable
			if err := revokeAllSessions(ctx, sc, u.ID, ""); err != nil {
				return err
			}
			token, th := NewToken()
			tok := &Token{TenantID: t.ID, TokenHash: th, UserID: u.ID, Purpose: PurposeReset, CreatedAt: now,
				ExpiresAt: now.Add(time.Duration(t.IntRule("account.verification_hours")) * time.Hour)}
			if _, err := sc.Insert(tok).Exec(ctx); err != nil {
				return err
			}
			out.Token = token
		}
		out.User = &u
		return nil
	})
	if errors.Is(err, ErrEmailTaken) {
		// Nothing was changed; the change is marked failed outside the rolled-back transaction.
		if ferr := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*CredentialChange)(nil)).Set("status = ?", ChangeFailed).Set("done_at = ?", now).
				Where("id = ? AND status = ?", id, ChangeScheduled).Exec(ctx)
			return err
		}); ferr != nil {
			return nil, ferr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// unusableHash is the hash of a random secret nobody knows: a password reset by the operator
// leaves the account with it, so that signing in takes as long as with any other password
// and fails until the holder sets a new one.
func unusableHash() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return argon2id.CreateHash(base64.RawURLEncoding.EncodeToString(b), Params)
}

// CredentialChanges lists the account's credential changes, newest first.
func (s *Service) CredentialChanges(ctx context.Context, tenantID, userID string) ([]CredentialChange, error) {
	var out []CredentialChange
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("user_id = ?", userID).Order("noticed_at DESC").Limit(50).Scan(ctx)
	})
	return out, err
}

// CredentialChangesDue lists the tenant's waiting changes whose day has come (the sweep that
// applies any whose job was lost).
func (s *Service) CredentialChangesDue(ctx context.Context, tenantID string) ([]CredentialChange, error) {
	var out []CredentialChange
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("status = ? AND effective_at <= ?", ChangeScheduled, s.Now()).Order("effective_at").Scan(ctx)
	})
	return out, err
}
