package accounts

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/alexedwards/argon2id"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

// Login e-mail change (E2): the holder asks for a new address, confirming with his password;
// a link goes to the new address, and only once it is followed does the new address replace
// the old one (which is then told). The address stays unique in the tenant: the users
// table's unique key decides between two accounts claiming it.

// PurposeEmailChange is the purpose of an e-mail change link's token.
const PurposeEmailChange = "email_change"

// ErrEmailTaken is returned when the new address belongs to another account of the tenant
// (at the request, or by the time the link is followed).
var ErrEmailTaken = errors.New("accounts: the address belongs to another account")

// EmailChange is a confirmed change of login address.
type EmailChange struct {
	User     *User
	OldEmail string
}

// RequestEmailChange checks the holder's password and the new address and returns the token
// of the link to send there. The address of another account gives ErrEmailTaken (the caller
// answers the person as if the link were sent, and tells that address's owner instead); the
// link is valid for the tenant's verification period.
func (s *Service) RequestEmailChange(ctx context.Context, t *tenancy.Tenant, u *User, password, newEmail string) (string, error) {
	errs := form.Errors{}
	if ok, err := argon2id.ComparePasswordAndHash(password, u.PasswordHash); err != nil || !ok {
		errs.Add("email_password", "account.password.current_wrong")
	}
	norm := NormalizeEmail(newEmail)
	switch {
	case newEmail == "":
		errs.Add("new_email", "form.required")
	case norm == "":
		errs.Add("new_email", "form.email.invalid")
	case norm == u.Email:
		errs.Add("new_email", "account.email.same")
	}
	if len(errs) > 0 {
		return "", errs
	}
	if _, err := s.ByEmail(ctx, t.ID, norm); err == nil {
		return "", ErrEmailTaken
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	token, th := NewToken()
	now := s.Now()
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		// One pending change at a time: an earlier link stops working.
		if _, err := sc.Delete((*Token)(nil)).Where("user_id = ? AND purpose = ? AND used_at IS NULL", u.ID, PurposeEmailChange).Exec(ctx); err != nil {
			return err
		}
		tok := &Token{TenantID: t.ID, TokenHash: th, UserID: u.ID, Purpose: PurposeEmailChange, CreatedAt: now,
			ExpiresAt: now.Add(time.Duration(t.IntRule("account.verification_hours")) * time.Hour), NewEmail: norm}
		_, err := sc.Insert(tok).Exec(ctx)
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// PendingEmail is the address a change link waits to confirm for the account ("" when none).
func (s *Service) PendingEmail(ctx context.Context, tenantID, userID string) (string, error) {
	var tok Token
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&tok).Where("user_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", userID, PurposeEmailChange, s.Now()).
			Order("created_at DESC").Limit(1).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return tok.NewEmail, err
}

// ConfirmEmailChange follows a change link: once, while valid, the new address replaces the
// old one. An address another account took meanwhile gives ErrEmailTaken and changes
// nothing (the link stays used).
func (s *Service) ConfirmEmailChange(ctx context.Context, t *tenancy.Tenant, token string) (*EmailChange, error) {
	var out *EmailChange
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		tok, err := consumeToken(ctx, sc, token, PurposeEmailChange, s.Now())
		if err != nil {
			return err
		}
		var u User
		if err := sc.Select(&u).Where("id = ?", tok.UserID).Scan(ctx); err != nil {
			return err
		}
		old := u.Email
		res, err := sc.Update((*User)(nil)).Set("email = ?", tok.NewEmail).Where("id = ? AND email = ?", u.ID, old).Exec(ctx)
		if db.IsUniqueViolation(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrTokenInvalid // the address changed meanwhile
		}
		u.Email = tok.NewEmail
		out = &EmailChange{User: &u, OldEmail: old}
		return nil
	})
	if errors.Is(err, ErrEmailTaken) {
		// The link is spent all the same: mark it used outside the failed transaction.
		if derr := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*Token)(nil)).Set("used_at = ?", s.Now()).Where("token_hash = ? AND used_at IS NULL", HashToken(token)).Exec(ctx)
			return err
		}); derr != nil {
			return nil, derr
		}
	}
	return out, err
}
