package accounts

// A second factor (issue 11, P2): TOTP, passkeys and recovery codes, and the half-signed
// state between the password and the second step.
//
// TOTP secrets are stored as they are (base32), not encrypted: the platform has no key for
// secrets kept apart from the database (its installation secrets live in the same database).
// Recovery codes are stored as SHA-256 hashes (they are 80 random bits, like API keys);
// passkeys are public keys.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

// Errors of the second step.
var (
	// ErrChallengeInvalid: no half-signed state for this browser, or it expired or was used.
	ErrChallengeInvalid = errors.New("accounts: second step expired or unknown")
	// ErrCodeWrong: the code is not a current TOTP code nor an unused recovery code, or it
	// was already used.
	ErrCodeWrong = errors.New("accounts: wrong second-factor code")
	// ErrFactorExists: the account already has a TOTP secret.
	ErrFactorExists = errors.New("accounts: TOTP already set up")
	// ErrFactorRequired: removing this factor would leave an account that must have one
	// without any.
	ErrFactorRequired = errors.New("accounts: a second factor is required")
	// ErrPasskey: a passkey ceremony failed (expired, wrong origin, bad signature…).
	ErrPasskey = errors.New("accounts: passkey ceremony failed")
)

// SecondStepError is Login's answer when the password was right and the account must pass
// a second step before a session opens: it has a second factor, or the tenant's rule asks one
// of its roles to have one (Enrol: it has none yet and must set one up first).
type SecondStepError struct {
	User  *User
	Enrol bool
}

func (e *SecondStepError) Error() string { return "accounts: second step required" }

// TOTP parameters (RFC 6238 defaults, what every authenticator app reads).
const (
	totpPeriod   = 30
	totpDigits   = otp.DigitsSix
	recoveryN    = 10
	ceremonyLife = 5 * time.Minute
)

// TOTPSecret is an account's TOTP secret.
type TOTPSecret struct {
	bun.BaseModel `bun:"table:user_totp,alias:ot"`

	TenantID  string    `bun:"tenant_id,pk"`
	UserID    string    `bun:"user_id,pk"`
	Secret    string    `bun:"secret"`
	Confirmed bool      `bun:"confirmed"`
	LastStep  int64     `bun:"last_step"`
	CreatedAt time.Time `bun:"created_at"`
}

// Passkey is a WebAuthn credential of an account.
type Passkey struct {
	bun.BaseModel `bun:"table:user_passkeys,alias:pk"`

	TenantID     string       `bun:"tenant_id,pk"`
	ID           string       `bun:"id,pk"`
	UserID       string       `bun:"user_id"`
	CredentialID string       `bun:"credential_id"`
	Credential   string       `bun:"credential"`
	Name         string       `bun:"name"`
	CreatedAt    time.Time    `bun:"created_at"`
	LastUsedAt   bun.NullTime `bun:"last_used_at"`
}

type recoveryCode struct {
	bun.BaseModel `bun:"table:user_recovery_codes,alias:rc"`

	TenantID  string       `bun:"tenant_id,pk"`
	UserID    string       `bun:"user_id,pk"`
	CodeHash  string       `bun:"code_hash,pk"`
	CreatedAt time.Time    `bun:"created_at"`
	UsedAt    bun.NullTime `bun:"used_at"`
}

// Challenge is the half-signed state: the password was accepted, the second step is not
// done. It grants nothing; only the SHA-256 of its cookie's token is stored.
type Challenge struct {
	bun.BaseModel `bun:"table:mfa_challenges,alias:mc"`

	TenantID  string    `bun:"tenant_id,pk"`
	TokenHash string    `bun:"token_hash,pk"`
	UserID    string    `bun:"user_id"`
	Enrol     bool      `bun:"enrol"`
	Next      string    `bun:"next"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at"`
}

type ceremony struct {
	bun.BaseModel `bun:"table:webauthn_ceremonies,alias:wc"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	UserID    string    `bun:"user_id"`
	Kind      string    `bun:"kind"`
	Data      string    `bun:"data"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// Factors is what second factor an account has.
type Factors struct {
	TOTP     bool
	Passkeys []Passkey
	// RecoveryLeft is the number of unused recovery codes.
	RecoveryLeft int
}

// Any reports whether the account has a second factor (recovery codes alone are none).
func (f *Factors) Any() bool { return f.TOTP || len(f.Passkeys) > 0 }

// RequiresSecondFactor reports whether the tenant's rule asks a person holding roles to
// have a second factor. The rule lists role ids separated by commas; "*" is every role
// beyond the plain user role (the platform's own role aside: the console holds no health
// data); "" is none.
func RequiresSecondFactor(t *tenancy.Tenant, roles []string) bool {
	for _, want := range strings.Split(t.StringRule(tenancy.RuleSecondFactorRoles), ",") {
		want = strings.TrimSpace(want)
		for _, r := range roles {
			switch {
			case want == "":
			case want == "*" && r != authz.RoleUser && r != authz.RolePlatformAdmin:
				return true
			case want == r:
				return true
			}
		}
	}
	return false
}

// secondStep is Login's hook after the password check: nil to open a session now, or a
// *SecondStepError.
func (s *Service) secondStep(ctx context.Context, t *tenancy.Tenant, u *User) error {
	f, err := s.Factors(ctx, t.ID, u.ID)
	if err != nil {
		return err
	}
	if f.Any() {
		return &SecondStepError{User: u}
	}
	must, err := s.MustHaveSecondFactor(ctx, t, u.ID)
	if err != nil {
		return err
	}
	if must {
		return &SecondStepError{User: u, Enrol: true}
	}
	return nil
}

// MustHaveSecondFactor reports whether the tenant's rule asks the account to have one.
func (s *Service) MustHaveSecondFactor(ctx context.Context, t *tenancy.Tenant, userID string) (bool, error) {
	roles, err := s.Authz.Roles(ctx, t.ID, t.PolicyRev, userID)
	if err != nil {
		return false, err
	}
	return RequiresSecondFactor(t, roles), nil
}

// Factors reads the second factors of an account.
func (s *Service) Factors(ctx context.Context, tenantID, userID string) (*Factors, error) {
	f := &Factors{}
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		n, err := sc.Select((*TOTPSecret)(nil)).Where("user_id = ? AND confirmed = ?", userID, true).Count(ctx)
		if err != nil {
			return err
		}
		f.TOTP = n > 0
		if err := sc.Select(&f.Passkeys).Where("user_id = ?", userID).Order("created_at").Scan(ctx); err != nil {
			return err
		}
		left, err := sc.Select((*recoveryCode)(nil)).Where("user_id = ? AND used_at IS NULL", userID).Count(ctx)
		f.RecoveryLeft = int(left)
		return err
	})
	return f, err
}

// StartChallenge opens the half-signed state of an account whose password was accepted, for
// the tenant's rule of minutes. next is where the person goes once signed in.
func (s *Service) StartChallenge(ctx context.Context, t *tenancy.Tenant, userID string, enrol bool, next string) (token string, ch *Challenge, err error) {
	token, th := NewToken()
	now := s.Now()
	if len(next) > 500 {
		next = ""
	}
	ch = &Challenge{TenantID: t.ID, TokenHash: th, UserID: userID, Enrol: enrol, Next: next, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(t.IntRule("account.second_step_minutes")) * time.Minute)}
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		// The account's older, unfinished second steps end: one at a time.
		if _, err := sc.Delete((*Challenge)(nil)).Where("user_id = ? OR expires_at <= ?", userID, now).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(ch).Exec(ctx)
		return err
	})
	return token, ch, err
}

// ChallengeUser resolves the token of a half-signed state to it and its (active) account.
func (s *Service) ChallengeUser(ctx context.Context, t *tenancy.Tenant, token string) (*Challenge, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrChallengeInvalid
	}
	var ch Challenge
	var u User
	err := s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&ch).Where("token_hash = ? AND expires_at > ?", HashToken(token), s.Now()).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&u).Where("id = ?", ch.UserID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrChallengeInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Status != StatusActive {
		return nil, nil, ErrChallengeInvalid
	}
	return &ch, &u, nil
}

// CompleteChallenge ends the half-signed state once its second step succeeded and opens the
// session (a new id). The guarded delete lets one completion through.
func (s *Service) CompleteChallenge(ctx context.Context, t *tenancy.Tenant, token string, u *User, ip, ua string) (*LoginResult, error) {
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Delete((*Challenge)(nil)).Where("token_hash = ? AND user_id = ? AND expires_at > ?", HashToken(token), u.ID, s.Now()).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrChallengeInvalid
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.openSession(ctx, t, u, ip, ua)
}

// CancelChallenge forgets a half-signed state (the person went back to the sign-in form).
func (s *Service) CancelChallenge(ctx context.Context, tenantID, token string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Delete((*Challenge)(nil)).Where("token_hash = ?", HashToken(token)).Exec(ctx)
		return err
	})
}

// TOTPKey is a TOTP secret being set up: the secret as text and the otpauth:// URL its QR
// code carries.
type TOTPKey struct{ Secret, URL string }

func totpKey(t *tenancy.Tenant, u *User, secret string) (*TOTPKey, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil, err
	}
	issuer := t.Settings.Branding.Name
	if issuer == "" {
		issuer = t.Settings.Name
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Email, Secret: raw, Period: totpPeriod, Digits: totpDigits})
	if err != nil {
		return nil, err
	}
	return &TOTPKey{Secret: k.Secret(), URL: k.URL()}, nil
}

// BeginTOTP returns the TOTP secret the account is setting up: the one not yet confirmed, or
// a new one. ErrFactorExists when it has a confirmed one.
func (s *Service) BeginTOTP(ctx context.Context, t *tenancy.Tenant, u *User) (*TOTPKey, error) {
	var row TOTPSecret
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		err := sc.Select(&row).Where("user_id = ?", u.ID).Scan(ctx)
		if err == nil {
			if row.Confirmed {
				return ErrFactorExists
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		row = TOTPSecret{TenantID: t.ID, UserID: u.ID, Secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]),
			CreatedAt: s.Now()}
		_, err = sc.Insert(&row).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return totpKey(t, u, row.Secret)
}

// normalizeCode keeps the digits and letters of a typed code, lower-cased.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') {
			b.WriteRune(r)
		}
		if b.Len() > 64 {
			break
		}
	}
	return b.String()
}

// totpStep returns the 30-second step of now (±1, for clocks a little apart) whose code is
// code, or 0.
func totpStep(secret, code string, now time.Time) int64 {
	if len(code) != totpDigits.Length() {
		return 0
	}
	cur := now.Unix() / totpPeriod
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0).UTC(),
			totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step
		}
	}
	return 0
}

// useStep accepts a TOTP code of the account's secret (confirmed or, with confirm, the one
// being set up) once: the guarded update refuses a step not later than the last one used, so
// a replayed code, even raced, is refused.
func (s *Service) useStep(ctx context.Context, sc *db.Scope, userID, code string, confirm bool) error {
	var row TOTPSecret
	err := sc.Select(&row).Where("user_id = ? AND confirmed = ?", userID, !confirm).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrCodeWrong
	}
	if err != nil {
		return err
	}
	step := totpStep(row.Secret, normalizeCode(code), s.Now())
	if step == 0 {
		return ErrCodeWrong
	}
	res, err := sc.Update((*TOTPSecret)(nil)).Set("last_step = ?", step).Set("confirmed = ?", true).
		Where("user_id = ? AND confirmed = ? AND last_step < ?", userID, !confirm, step).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrCodeWrong
	}
	return nil
}

// ConfirmTOTP finishes setting up TOTP with a first code from the new secret. The account
// gets fresh recovery codes (returned, to be shown once) if it has none left.
func (s *Service) ConfirmTOTP(ctx context.Context, t *tenancy.Tenant, userID, code string) ([]string, error) {
	var codes []string
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if err := s.useStep(ctx, sc, userID, code, true); err != nil {
			if errors.Is(err, ErrCodeWrong) {
				return form.Errors{"code": "account.mfa.code_wrong"}
			}
			return err
		}
		var err error
		codes, err = s.recoveryIfNone(ctx, sc, t.ID, userID)
		return err
	})
	return codes, err
}

// CheckCode accepts a current TOTP code or an unused recovery code of the account, once.
// recovery tells which one it was.
func (s *Service) CheckCode(ctx context.Context, t *tenancy.Tenant, userID, code string) (recovery bool, err error) {
	c := normalizeCode(code)
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if len(c) == totpDigits.Length() {
			return s.useStep(ctx, sc, userID, c, false)
		}
		recovery = true
		return useRecovery(ctx, sc, userID, c, s.Now())
	})
	return recovery, err
}

// useRecovery marks an unused recovery code used; the guarded update lets one of two
// concurrent uses of the same code through.
func useRecovery(ctx context.Context, sc *db.Scope, userID, code string, now time.Time) error {
	if len(code) != 16 {
		return ErrCodeWrong
	}
	res, err := sc.Update((*recoveryCode)(nil)).Set("used_at = ?", now).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, HashToken(code)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrCodeWrong
	}
	return nil
}

// recoveryAlphabet leaves out letters read for digits (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

func newRecoveryCode() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	out := make([]byte, 0, 19)
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, recoveryAlphabet[int(x)%len(recoveryAlphabet)])
	}
	return string(out)
}

func (s *Service) replaceRecovery(ctx context.Context, sc *db.Scope, tenantID, userID string) ([]string, error) {
	if _, err := sc.Delete((*recoveryCode)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
		return nil, err
	}
	now := s.Now()
	codes := make([]string, recoveryN)
	rows := make([]recoveryCode, recoveryN)
	for i := range codes {
		codes[i] = newRecoveryCode()
		rows[i] = recoveryCode{TenantID: tenantID, UserID: userID, CodeHash: HashToken(normalizeCode(codes[i])), CreatedAt: now}
	}
	_, err := sc.Insert(&rows).Exec(ctx)
	return codes, err
}

func (s *Service) recoveryIfNone(ctx context.Context, sc *db.Scope, tenantID, userID string) ([]string, error) {
	n, err := sc.Select((*recoveryCode)(nil)).Where("user_id = ? AND used_at IS NULL", userID).Count(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	return s.replaceRecovery(ctx, sc, tenantID, userID)
}

// NewRecoveryCodes replaces the account's recovery codes with new ones, returned to be shown
// once.
func (s *Service) NewRecoveryCodes(ctx context.Context, t *tenancy.Tenant, userID string) ([]string, error) {
	var codes []string
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		codes, err = s.replaceRecovery(ctx, sc, t.ID, userID)
		return err
	})
	return codes, err
}

// stillCovered refuses to leave without any factor an account the rule asks to have one.
// must is MustHaveSecondFactor, read before the transaction.
func stillCovered(ctx context.Context, sc *db.Scope, must bool, userID string) error {
	n, err := sc.Select((*TOTPSecret)(nil)).Where("user_id = ? AND confirmed = ?", userID, true).Count(ctx)
	if err != nil {
		return err
	}
	m, err := sc.Select((*Passkey)(nil)).Where("user_id = ?", userID).Count(ctx)
	if err != nil || n+m > 0 {
		return err
	}
	if must {
		return ErrFactorRequired
	}
	_, err = sc.Delete((*recoveryCode)(nil)).Where("user_id = ?", userID).Exec(ctx)
	return err
}

// RemoveTOTP removes the account's TOTP secret; ErrFactorRequired if it was the last factor
// of an account that must have one.
func (s *Service) RemoveTOTP(ctx context.Context, t *tenancy.Tenant, userID string) error {
	must, err := s.MustHaveSecondFactor(ctx, t, userID)
	if err != nil {
		return err
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Delete((*TOTPSecret)(nil)).Where("user_id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return stillCovered(ctx, sc, must, userID)
	})
}

// ResetSecondFactor removes every second factor of an account (a tenant admin's reset): its
// TOTP secret, passkeys, recovery codes and half-signed states.
func (s *Service) ResetSecondFactor(ctx context.Context, t *tenancy.Tenant, userID string) error {
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		n, err := sc.Select((*User)(nil)).Where("id = ?", userID).Count(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return ErrNotFound
		}
		for _, m := range []any{(*TOTPSecret)(nil), (*Passkey)(nil), (*recoveryCode)(nil), (*Challenge)(nil), (*ceremony)(nil)} {
			if _, err := sc.Delete(m).Where("user_id = ?", userID).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// RP is the WebAuthn relying party of a request: the tenant's host and the request's origin.
type RP struct{ ID, Origin, Name string }

func (rp RP) webAuthn() (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: rp.Name, RPOrigins: []string{rp.Origin},
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred}})
}

// webUser is an account as go-webauthn sees it.
type webUser struct {
	u     *User
	creds []webauthn.Credential
}

func (w *webUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *webUser) WebAuthnName() string                       { return w.u.Email }
func (w *webUser) WebAuthnDisplayName() string                { return w.u.Name }
func (w *webUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (s *Service) webUser(ctx context.Context, sc *db.Scope, u *User) (*webUser, []Passkey, error) {
	var keys []Passkey
	if err := sc.Select(&keys).Where("user_id = ?", u.ID).Order("created_at").Scan(ctx); err != nil {
		return nil, nil, err
	}
	w := &webUser{u: u}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(k.Credential), &c); err != nil {
			return nil, nil, fmt.Errorf("passkey %s: %w", k.ID, err)
		}
		w.creds = append(w.creds, c)
	}
	return w, keys, nil
}

func (s *Service) saveCeremony(ctx context.Context, sc *db.Scope, userID, kind string, sd *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	now := s.Now()
	if _, err := sc.Delete((*ceremony)(nil)).Where("user_id = ? OR expires_at <= ?", userID, now).Exec(ctx); err != nil {
		return "", err
	}
	c := &ceremony{TenantID: sc.TenantID, ID: tenancy.NewID(), UserID: userID, Kind: kind, Data: string(data), ExpiresAt: now.Add(ceremonyLife)}
	_, err = sc.Insert(c).Exec(ctx)
	return c.ID, err
}

// takeCeremony reads and deletes a ceremony of the user (once: guarded delete).
func (s *Service) takeCeremony(ctx context.Context, sc *db.Scope, userID, kind, id string) (*webauthn.SessionData, error) {
	var c ceremony
	err := sc.Select(&c).Where("id = ? AND user_id = ? AND kind = ? AND expires_at > ?", id, userID, kind, s.Now()).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrPasskey
	}
	if err != nil {
		return nil, err
	}
	res, err := sc.Delete((*ceremony)(nil)).Where("id = ?", c.ID).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrPasskey
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(c.Data), &sd); err != nil {
		return nil, err
	}
	return &sd, nil
}

// Ceremony kinds.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// BeginPasskey starts adding a passkey to an account: the options for the browser's
// navigator.credentials.create (JSON) and the ceremony's id.
func (s *Service) BeginPasskey(ctx context.Context, t *tenancy.Tenant, u *User, rp RP) (options []byte, id string, err error) {
	wa, err := rp.webAuthn()
	if err != nil {
		return nil, "", err
	}
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		w, _, err := s.webUser(ctx, sc, u)
		if err != nil {
			return err
		}
		var excl []protocol.CredentialDescriptor
		for _, c := range w.creds {
			excl = append(excl, c.Descriptor())
		}
		creation, sd, err := wa.BeginRegistration(w, webauthn.WithExclusions(excl))
		if err != nil {
			return err
		}
		if options, err = json.Marshal(creation); err != nil {
			return err
		}
		id, err = s.saveCeremony(ctx, sc, u.ID, ceremonyRegister, sd)
		return err
	})
	return options, id, err
}

// FinishPasskey checks the browser's answer to BeginPasskey and stores the passkey.
func (s *Service) FinishPasskey(ctx context.Context, t *tenancy.Tenant, u *User, rp RP, id string, body []byte) error {
	wa, err := rp.webAuthn()
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		sd, err := s.takeCeremony(ctx, sc, u.ID, ceremonyRegister, id)
		if err != nil {
			return err
		}
		w, _, err := s.webUser(ctx, sc, u)
		if err != nil {
			return err
		}
		cred, err := wa.CreateCredential(w, *sd, parsed)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		data, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		k := &Passkey{TenantID: t.ID, ID: tenancy.NewID(), UserID: u.ID, CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID),
			Credential: string(data), CreatedAt: s.Now()}
		if _, err := sc.Insert(k).Exec(ctx); err != nil {
			if db.IsUniqueViolation(err) {
				return ErrPasskey
			}
			return err
		}
		return nil
	})
}

// BeginPasskeyLogin starts the second step with a passkey: the options for the browser's
// navigator.credentials.get (JSON) and the ceremony's id. ErrPasskey if the account has none.
func (s *Service) BeginPasskeyLogin(ctx context.Context, t *tenancy.Tenant, u *User, rp RP) (options []byte, id string, err error) {
	wa, err := rp.webAuthn()
	if err != nil {
		return nil, "", err
	}
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		w, _, err := s.webUser(ctx, sc, u)
		if err != nil {
			return err
		}
		if len(w.creds) == 0 {
			return ErrPasskey
		}
		assertion, sd, err := wa.BeginLogin(w)
		if err != nil {
			return err
		}
		if options, err = json.Marshal(assertion); err != nil {
			return err
		}
		id, err = s.saveCeremony(ctx, sc, u.ID, ceremonyLogin, sd)
		return err
	})
	return options, id, err
}

// FinishPasskeyLogin checks the browser's answer to BeginPasskeyLogin and records the
// passkey's use (its signature counter).
func (s *Service) FinishPasskeyLogin(ctx context.Context, t *tenancy.Tenant, u *User, rp RP, id string, body []byte) error {
	wa, err := rp.webAuthn()
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		sd, err := s.takeCeremony(ctx, sc, u.ID, ceremonyLogin, id)
		if err != nil {
			return err
		}
		w, keys, err := s.webUser(ctx, sc, u)
		if err != nil {
			return err
		}
		cred, err := wa.ValidateLogin(w, *sd, parsed)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		if cred.Authenticator.CloneWarning {
			return fmt.Errorf("%w: signature counter went back", ErrPasskey)
		}
		cid := base64.RawURLEncoding.EncodeToString(cred.ID)
		for _, k := range keys {
			if k.CredentialID != cid {
				continue
			}
			data, err := json.Marshal(cred)
			if err != nil {
				return err
			}
			_, err = sc.Update((*Passkey)(nil)).Set("credential = ?", string(data)).Set("last_used_at = ?", s.Now()).
				Where("id = ?", k.ID).Exec(ctx)
			return err
		}
		return ErrPasskey
	})
}

// RemovePasskey removes one passkey of the account; ErrFactorRequired if it was the last
// factor of an account that must have one.
func (s *Service) RemovePasskey(ctx context.Context, t *tenancy.Tenant, userID, id string) error {
	must, err := s.MustHaveSecondFactor(ctx, t, userID)
	if err != nil {
		return err
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Delete((*Passkey)(nil)).Where("id = ? AND user_id = ?", id, userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return stillCovered(ctx, sc, must, userID)
	})
}
