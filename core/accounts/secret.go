package accounts

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/textfold"
)

// RuleSecretQuestion is the tenant rule that makes registration ask a secret question and
// answer, used for identity checks by support and for account recovery (P2, R2).
const RuleSecretQuestion = "account.secret_question"

// RuleSplitName is the tenant rule that makes registration ask the given name and the
// family name in two fields (C3): they are kept in the profile (ProfileFirstName,
// ProfileLastName) and make up the account's name.
const RuleSplitName = "account.split_name"

// The profile fields of the given and family names when RuleSplitName is on.
const (
	ProfileFirstName = "first_name"
	ProfileLastName  = "last_name"
)

// maxNamePartLen bounds the given name and the family name, in characters.
const maxNamePartLen = 100

// maxSecretLen bounds the question and the answer, in characters.
const maxSecretLen = 200

// NormalizeSecret is the form of a secret answer that is hashed and compared: trimmed,
// lower-cased, without accents (NFD, combining marks dropped), inner spaces collapsed — so
// that "  Éléphant " read out on the phone matches "elephant".
func NormalizeSecret(s string) string { return textfold.Plain(s) }

// hashSecret is the stored form of an answer: argon2id of its normalized form, with the
// password parameters.
func hashSecret(answer string) (string, error) {
	return argon2id.CreateHash(NormalizeSecret(answer), Params)
}

// validateSecret adds what is wrong with a secret question and answer to errs.
func validateSecret(errs form.Errors, question, answer string) {
	switch {
	case strings.TrimSpace(question) == "":
		errs.Add("secret_question", "form.required")
	case utf8.RuneCountInString(strings.TrimSpace(question)) > maxSecretLen:
		errs.Add("secret_question", "form.too_long")
	}
	switch {
	case NormalizeSecret(answer) == "":
		errs.Add("secret_answer", "form.required")
	case utf8.RuneCountInString(strings.TrimSpace(answer)) > maxSecretLen:
		errs.Add("secret_answer", "form.too_long")
	}
}

// CheckSecret reports whether answer is the secret answer of the tenant's user userID, and
// whether the user has one at all. An unknown user is ErrNotFound. A user without an answer
// costs the same time as one with (a comparison against a dummy hash).
func (s *Service) CheckSecret(ctx context.Context, tenantID, userID, answer string) (match, hasSecret bool, err error) {
	u, err := s.ByID(ctx, tenantID, userID)
	if err != nil {
		return false, false, err
	}
	if u.SecretAnswerHash == "" {
		_, _ = argon2id.ComparePasswordAndHash(NormalizeSecret(answer), s.dummyHash)
		return false, false, nil
	}
	ok, err := argon2id.ComparePasswordAndHash(NormalizeSecret(answer), u.SecretAnswerHash)
	if err != nil {
		return false, true, err
	}
	return ok, true, nil
}

// SetSecret changes the user's secret question and answer, confirmed by his current password.
func (s *Service) SetSecret(ctx context.Context, t *tenancy.Tenant, u *User, current, question, answer string) error {
	errs := form.Errors{}
	if ok, err := argon2id.ComparePasswordAndHash(current, u.PasswordHash); err != nil || !ok {
		errs.Add("secret_current", "account.password.current_wrong")
	}
	question = strings.TrimSpace(question)
	validateSecret(errs, question, answer)
	if len(errs) > 0 {
		return errs
	}
	hash, err := hashSecret(answer)
	if err != nil {
		return err
	}
	u.SecretQuestion, u.SecretAnswerHash = question, hash
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update(u).Column("secret_question", "secret_answer_hash").WherePK().Exec(ctx)
		return err
	})
}

// ResetQuestion returns the secret question the holder of a valid reset token must answer,
// or "" when there is none (the tenant does not ask, the account has no answer, or the token
// is not valid — the form then says so when it is sent).
func (s *Service) ResetQuestion(ctx context.Context, t *tenancy.Tenant, token string) (string, error) {
	if !t.BoolRule(RuleSecretQuestion) || token == "" {
		return "", nil
	}
	_, u, err := s.peekToken(ctx, t.ID, token, PurposeReset)
	if errors.Is(err, ErrTokenInvalid) {
		return "", nil
	}
	if err != nil || u.SecretAnswerHash == "" {
		return "", err
	}
	return u.SecretQuestion, nil
}

// peekToken returns a valid (unused, unexpired) token and its account, without using it.
func (s *Service) peekToken(ctx context.Context, tenantID, token, purpose string) (*Token, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrTokenInvalid
	}
	var tok Token
	var u User
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		err := sc.Select(&tok).Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			HashToken(token), purpose, s.Now()).Scan(ctx)
		if err != nil {
			return err
		}
		return sc.Select(&u).Where("id = ?", tok.UserID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	return &tok, &u, nil
}
