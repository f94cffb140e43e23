// Package accounts owns people's accounts in a tenant: registration, e-mail verification,
// passwords, sessions, reset, blocking and deletion. Every query runs in the account's
// tenant scope. It must not know about HTTP or templates; it returns form.Errors with
// message keys and sentinel errors that the pages map to localized sentences.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

// Account states.
const (
	StatusUnverified = "unverified"
	StatusActive     = "active"
	StatusBlocked    = "blocked"
)

// Token purposes.
const (
	PurposeVerify = "verify"
	PurposeReset  = "reset"
)

// Errors the pages turn into sentences.
var (
	ErrBadCredentials = errors.New("accounts: wrong e-mail or password")
	// ErrBadEmail refuses an invitation to an address that is not one.
	ErrBadEmail     = errors.New("accounts: not an e-mail address")
	ErrUnverified   = errors.New("accounts: e-mail not verified yet")
	ErrTokenInvalid = errors.New("accounts: link invalid, used or expired")
	ErrNotFound     = errors.New("accounts: no such account")
	ErrNoSession    = errors.New("accounts: no such session of the user")
)

// BlockedError is returned at login for a blocked account; Reason is shown to the user.
type BlockedError struct{ Reason string }

func (e *BlockedError) Error() string { return "accounts: account blocked" }

// Params are the argon2id parameters the requirements fix: m=19 MiB, t=2, p=1.
var Params = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// User is an account in one tenant.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	TenantID     string            `bun:"tenant_id,pk"`
	ID           string            `bun:"id,pk"`
	Email        string            `bun:"email"`
	PasswordHash string            `bun:"password_hash"`
	Name         string            `bun:"name"`
	BirthDate    string            `bun:"birth_date"`
	Locale       string            `bun:"locale"`
	Status       string            `bun:"status"`
	BlockReason  string            `bun:"block_reason"`
	Profile      map[string]string `bun:"profile,type:json"`
	// Portal is the portal (audience) of the hostname the account registered through.
	Portal string `bun:"portal"`
	// SecretQuestion is the person's secret question (P2, R2); SecretAnswerHash the argon2id
	// hash of the normalized answer (NormalizeSecret) — the answer itself is never stored.
	SecretQuestion   string       `bun:"secret_question"`
	SecretAnswerHash string       `bun:"secret_answer_hash"`
	CreatedAt        time.Time    `bun:"created_at"`
	VerifiedAt       bun.NullTime `bun:"verified_at"`
	LastLoginAt      bun.NullTime `bun:"last_login_at"`
	// AcceptedRev moves with every terms acceptance of the account (terms.Accept): what the
	// person accepted is read again only when it moved.
	AcceptedRev int64 `bun:"accepted_rev"`
	// ClosingAt is when the account closes because its holder withdrew his consent to the
	// processing of his data (E2, withdrawal.go); null when no withdrawal is pending.
	ClosingAt bun.NullTime `bun:"closing_at"`
}

// Session is a signed-in browser. Only the SHA-256 of its token is stored.
type Session struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	TokenHash  string    `bun:"token_hash"`
	UserID     string    `bun:"user_id"`
	CreatedAt  time.Time `bun:"created_at"`
	LastSeenAt time.Time `bun:"last_seen_at"`
	ExpiresAt  time.Time `bun:"expires_at"`
	IP         string    `bun:"ip"`
	UserAgent  string    `bun:"user_agent"`

	// User is the account, read with the session in one statement (SessionUser).
	User *User `bun:"rel:belongs-to,join:tenant_id=tenant_id,join:user_id=id" json:"-"`
}

// Token is a single-use link token (verification, reset). Only its SHA-256 is stored.
type Token struct {
	bun.BaseModel `bun:"table:user_tokens,alias:ut"`

	TenantID  string       `bun:"tenant_id,pk"`
	TokenHash string       `bun:"token_hash,pk"`
	UserID    string       `bun:"user_id"`
	Purpose   string       `bun:"purpose"`
	CreatedAt time.Time    `bun:"created_at"`
	ExpiresAt time.Time    `bun:"expires_at"`
	UsedAt    bun.NullTime `bun:"used_at"`
	// NewEmail is the address a login e-mail change link confirms (PurposeEmailChange).
	NewEmail string `bun:"new_email"`
}

// Deletion records that an account was deleted, and why, without any personal data.
type Deletion struct {
	bun.BaseModel `bun:"table:account_deletions,alias:ad"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	DeletedAt time.Time `bun:"deleted_at"`
	Initiator string    `bun:"initiator"`
	Reason    string    `bun:"reason"`
}

// Field is an extra registration field a module asks for (through its manifest).
type Field struct {
	Name     string
	LabelKey string
	// Type is "text", "date", "tel" (a mobile number, stored in E.164), "national_id" (the
	// national number of the tenant's country, natid, that must encode the date of birth
	// typed), "sex" (one of Sexes) or "country" (an ISO 3166-1 alpha-2 code, Countries).
	Type     string
	Required bool
	MaxLen   int
	// Portals limits the field to registrations through these portals; empty: every portal.
	Portals []string
}

// ForPortal reports whether the field is asked on registrations through portal.
func (f Field) ForPortal(portal string) bool {
	if len(f.Portals) == 0 {
		return true
	}
	for _, p := range f.Portals {
		if p == portal {
			return true
		}
	}
	return false
}

// Service runs account operations.
type Service struct {
	DB    *db.DB
	Authz *authz.Service
	// Tenants is the tenant store whose cache a change of roles invalidates at once (the
	// server's); other instances see it within their cache bound.
	Tenants *tenancy.Store
	Now     func() time.Time
	// Changed, when set, is told in the same transaction when an account becomes active,
	// is deleted or is blocked (kind "user.verified", "user.deleted", "user.blocked"): what it
	// records (the events for the modules) exists if and only if the change does.
	Changed func(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, kind, userID string) error
	// Sleep waits before a sign-in attempt is evaluated (the throttle's delay); tests give
	// one that advances their clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Erase, when set, removes in the transaction of a deletion what the other core tables
	// hold of the person (messages to him, his complaints…), before his row goes (P11).
	Erase func(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, u *User) error
	// dummyHash is compared against when an e-mail is unknown, so that a login answers in
	// the same time whether the account exists or not.
	dummyHash string
}

// NewService returns a Service.
func NewService(d *db.DB, az *authz.Service) *Service {
	h, err := argon2id.CreateHash("not-a-real-password", Params)
	if err != nil {
		panic(err) // only fails if the system's random source fails
	}
	return &Service{DB: d, Authz: az, Tenants: &tenancy.Store{DB: d}, Now: func() time.Time { return time.Now().UTC() }, Sleep: sleep, dummyHash: h}
}

// NewToken returns a random URL-safe token and the hash stored for it.
func NewToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// NormalizeEmail validates an address and returns it lower-cased, or "" if invalid.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return ""
	}
	return strings.ToLower(s)
}

// CheckPassword returns the message key of what is wrong with a new password, or "".
func CheckPassword(pw, repeat string) (field, key string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < 10:
		return "password", "form.password.too_short"
	case n > 128:
		return "password", "form.password.too_long"
	case pw != repeat:
		return "password2", "form.password.mismatch"
	}
	return "", ""
}

// RegisterInput is what the registration form sends.
type RegisterInput struct {
	Email, Password, Password2, Name, BirthDate, Locale string
	// FirstName and LastName are asked instead of Name when the tenant's rule
	// account.split_name is on (C3); Name is then made of them.
	FirstName, LastName string
	Extra               map[string]string
	// Portal is the portal of the hostname the form was sent through.
	Portal string
	// SecretQuestion and SecretAnswer are asked when the tenant's rule
	// account.secret_question is on (P2, R2); ignored otherwise.
	SecretQuestion, SecretAnswer string
	// MarriageDeclared: the person declares he came of age earlier by marriage (asked when
	// the tenant's rule account.majority_by_marriage_age is above 0; E2).
	// CapacityDeclared: he declares his full legal capacity (asked when the tenant's rule
	// account.capacity_declaration is on; E2).
	MarriageDeclared, CapacityDeclared bool
}

// Age is the number of whole years from birth to the day of now.
func Age(birth, now time.Time) int {
	years := now.Year() - birth.Year()
	if now.Month() < birth.Month() || (now.Month() == birth.Month() && now.Day() < birth.Day()) {
		years--
	}
	return years
}

// birthAge reads a date of birth typed in a form's field: required, a real date, not in the
// future, not before 1900. It returns the age on the tenant's today, or false with the
// field's error added.
func (s *Service) birthAge(t *tenancy.Tenant, errs form.Errors, field, v string) (int64, bool) {
	if v == "" {
		errs.Add(field, "form.required")
		return 0, false
	}
	b, err := time.Parse("2006-01-02", v)
	today := s.Now().In(t.Location())
	if err != nil || b.After(today) || b.Year() < 1900 {
		errs.Add(field, "form.date.invalid")
		return 0, false
	}
	return int64(Age(b, today)), true
}

// ValidateRegistration checks every field and returns all problems at once.
func (s *Service) ValidateRegistration(t *tenancy.Tenant, in *RegisterInput, extra []Field) form.Errors {
	errs := form.Errors{}
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	if in.Email == "" {
		errs.Add("email", "form.required")
	} else if NormalizeEmail(in.Email) == "" {
		errs.Add("email", "form.email.invalid")
	}
	if f, k := CheckPassword(in.Password, in.Password2); f != "" {
		errs.Add(f, k)
	}
	if t.BoolRule(RuleSplitName) {
		// C3: the given name and the family name, each next to its field; the account's
		// name is made of them.
		in.FirstName, in.LastName = strings.Join(strings.Fields(in.FirstName), " "), strings.Join(strings.Fields(in.LastName), " ")
		for _, f := range [][2]string{{"first_name", in.FirstName}, {"last_name", in.LastName}} {
			switch {
			case f[1] == "":
				errs.Add(f[0], "form.required")
			case utf8.RuneCountInString(f[1]) > maxNamePartLen:
				errs.Add(f[0], "form.too_long")
			}
		}
		in.Name = strings.TrimSpace(in.FirstName + " " + in.LastName)
	} else {
		switch {
		case in.Name == "":
			errs.Add("name", "form.required")
		case utf8.RuneCountInString(in.Name) > 200:
			errs.Add("name", "form.too_long")
		}
	}
	if age, ok := s.birthAge(t, errs, "birth_date", in.BirthDate); ok {
		checkAge(t, errs, age, in)
	}
	checkCapacity(t, errs, in)
	for _, f := range extra {
		v := strings.TrimSpace(in.Extra[f.Name])
		switch {
		case f.Required && v == "":
			errs.Add(f.Name, "form.required")
		case f.MaxLen > 0 && utf8.RuneCountInString(v) > f.MaxLen:
			errs.Add(f.Name, "form.too_long")
		case f.Type == "tel" && v != "":
			// A mobile number, kept in E.164 whatever way it was typed; the tenant's
			// country is the default for one without its country code (P7).
			if e164, key := NormalizeMobile(v, t.Settings.Country); key != "" {
				errs.Add(f.Name, key)
			} else {
				in.Extra[f.Name] = e164
			}
		case f.Type == "national_id" && v != "":
			// The national number of the tenant's country: its check digits and the birth
			// date it encodes (C3), which must be the date of birth typed (E2); kept as
			// natid writes it.
			if n, key := checkNationalID(t, v, in.BirthDate, s.Now().In(t.Location())); key != "" {
				errs.Add(f.Name, key)
			} else {
				in.Extra[f.Name] = n
			}
		case (f.Type == FieldSex || f.Type == FieldCountry) && v != "":
			if key := checkChoice(f.Type, v); key != "" {
				errs.Add(f.Name, key)
			} else {
				in.Extra[f.Name] = v
			}
		}
	}
	// E2: the sex chosen is the one the national number encodes.
	var idField, sexField string
	for _, f := range extra {
		switch f.Type {
		case "national_id":
			idField = f.Name
		case FieldSex:
			sexField = f.Name
		}
	}
	_, badID := errs[idField]
	_, badSex := errs[sexField]
	if idField != "" && sexField != "" && !badID && !badSex {
		number, sex := in.Extra[idField], in.Extra[sexField]
		if key := nationalIDSexError(t, number, sex, s.Now().In(t.Location())); key != "" {
			errs.Add(idField, key)
		}
	}
	if t.BoolRule(RuleSecretQuestion) {
		in.SecretQuestion = strings.TrimSpace(in.SecretQuestion)
		validateSecret(errs, in.SecretQuestion, in.SecretAnswer)
	}
	return errs
}

// Register creates an unverified account and returns it with its verification token. When
// the e-mail already has an account, it returns (existing, "", nil): the caller answers the
// same way, and tells the owner by e-mail instead of revealing the account.
// after, when set, runs in the same transaction once the account exists (to record the terms
// it accepted and its consents): if it fails, nothing is saved.
func (s *Service) Register(ctx context.Context, t *tenancy.Tenant, in RegisterInput, extra []Field,
	after func(ctx context.Context, sc *db.Scope, userID string) error) (u *User, token string, created bool, err error) {
	if errs := s.ValidateRegistration(t, &in, extra); len(errs) > 0 {
		return nil, "", false, errs
	}
	p, err := s.Prepare(t, in, extra)
	if err != nil {
		return nil, "", false, err
	}
	return s.Create(ctx, t, p, after)
}

// Pending is a registration checked (ValidateRegistration) and hashed, as it waits for the
// account to be made: nothing in it is the password or the secret answer in clear.
type Pending struct {
	Email, Name, BirthDate, Locale, Portal string
	Profile                                map[string]string
	PasswordHash                           string
	SecretQuestion, SecretAnswerHash       string
	// At is when the person sent the form.
	At time.Time
}

// Prepare hashes a checked registration: the same work whatever the address (P2).
func (s *Service) Prepare(t *tenancy.Tenant, in RegisterInput, extra []Field) (*Pending, error) {
	hash, err := argon2id.CreateHash(in.Password, Params)
	if err != nil {
		return nil, fmt.Errorf("register: hash: %w", err)
	}
	question, answerHash := "", ""
	if t.BoolRule(RuleSecretQuestion) {
		question = in.SecretQuestion
		if answerHash, err = hashSecret(in.SecretAnswer); err != nil {
			return nil, fmt.Errorf("register: hash: %w", err)
		}
	}
	profile := map[string]string{}
	for _, f := range extra {
		if v := strings.TrimSpace(in.Extra[f.Name]); v != "" {
			profile[f.Name] = v
		}
	}
	name := in.Name
	if t.BoolRule(RuleSplitName) {
		// C3: the given and family names as the person typed them; the name of both.
		profile[ProfileFirstName], profile[ProfileLastName] = in.FirstName, in.LastName
		name = strings.TrimSpace(in.FirstName + " " + in.LastName)
	}
	return &Pending{Email: NormalizeEmail(in.Email), Name: name, BirthDate: in.BirthDate, Locale: in.Locale,
		Portal: in.Portal, Profile: profile, PasswordHash: hash, SecretQuestion: question, SecretAnswerHash: answerHash,
		At: s.Now()}, nil
}

// Create makes the unverified account of a pending registration with its verification
// token, and after records in the same transaction what the person accepted. An address
// that has an account already returns that account with created false: nothing is made.
func (s *Service) Create(ctx context.Context, t *tenancy.Tenant, p *Pending,
	after func(ctx context.Context, sc *db.Scope, userID string) error) (u *User, token string, created bool, err error) {
	now := s.Now()
	u = &User{TenantID: t.ID, ID: tenancy.NewID(), Email: p.Email, PasswordHash: p.PasswordHash,
		Name: p.Name, BirthDate: p.BirthDate, Locale: p.Locale, Status: StatusUnverified,
		Profile: p.Profile, Portal: p.Portal, SecretQuestion: p.SecretQuestion, SecretAnswerHash: p.SecretAnswerHash, CreatedAt: now}
	token, th := NewToken()
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(u).Exec(ctx); err != nil {
			return err
		}
		tok := &Token{TenantID: t.ID, TokenHash: th, UserID: u.ID, Purpose: PurposeVerify, CreatedAt: now,
			ExpiresAt: now.Add(time.Duration(t.IntRule("account.verification_hours")) * time.Hour)}
		if _, err := sc.Insert(tok).Exec(ctx); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, sc, u.ID)
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		existing, ferr := s.ByEmail(ctx, t.ID, p.Email)
		if ferr != nil {
			return nil, "", false, ferr
		}
		return existing, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("register: %w", err)
	}
	return u, token, true, nil
}

// ByEmail finds an account of the tenant by e-mail.
func (s *Service) ByEmail(ctx context.Context, tenantID, email string) (*User, error) {
	var u User
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&u).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &u, err
}

// ByID finds an account of the tenant by id.
func (s *Service) ByID(ctx context.Context, tenantID, id string) (*User, error) {
	var u User
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&u).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &u, err
}

// consumeToken marks a valid token used, once: a guarded update lets exactly one of two
// concurrent uses through.
func consumeToken(ctx context.Context, sc *db.Scope, token, purpose string, now time.Time) (*Token, error) {
	var tok Token
	err := sc.Select(&tok).Where("token_hash = ? AND purpose = ?", HashToken(token), purpose).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	res, err := sc.Update((*Token)(nil)).Set("used_at = ?", now).
		Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", tok.TokenHash, now).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrTokenInvalid
	}
	return &tok, nil
}

// Verify activates the account of a verification token and gives it the user role.
func (s *Service) Verify(ctx context.Context, t *tenancy.Tenant, token string) (*User, error) {
	var u User
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		tok, err := consumeToken(ctx, sc, token, PurposeVerify, s.Now())
		if err != nil {
			return err
		}
		if err := sc.Select(&u).Where("id = ?", tok.UserID).Scan(ctx); err != nil {
			return err
		}
		if u.Status == StatusUnverified {
			u.Status = StatusActive
			u.VerifiedAt = bun.NullTime{Time: s.Now()}
			if _, err := sc.Update(&u).Column("status", "verified_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			if err := s.changed(ctx, sc, t, EventVerified, u.ID); err != nil {
				return err
			}
		}
		return s.Authz.AssignRole(ctx, sc, u.ID, authz.RoleUser)
	})
	if err != nil {
		return nil, err
	}
	return &u, s.bump(ctx, t.ID)
}

// Changes of an account that the modules are told of (Service.Changed).
const (
	EventVerified = "user.verified"
	EventDeleted  = "user.deleted"
	EventBlocked  = "user.blocked"
)

func (s *Service) changed(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, kind, userID string) error {
	if s.Changed == nil {
		return nil
	}
	return s.Changed(ctx, sc, t, kind, userID)
}

func (s *Service) bump(ctx context.Context, tenantID string) error {
	return s.Tenants.BumpPolicy(ctx, tenantID)
}

// LoginResult is a new session.
type LoginResult struct {
	User    *User
	Session *Session
	Token   string
}

// Login checks the password and opens a new session (a new id every time: the session id
// rotates at login). Unknown e-mails take the same time and the same statements as wrong
// passwords. Attempts are throttled (throttle.go): an address that failed too often for the
// account gets a ThrottledError, and each failure on the account delays the next attempt.
func (s *Service) Login(ctx context.Context, t *tenancy.Tenant, email, password, ip, ua string) (*LoginResult, error) {
	account, addr := throttleKeys(email, ip)
	wait, err := s.gate(ctx, t, account, addr)
	if err != nil {
		return nil, err
	}
	if err := s.Sleep(ctx, wait); err != nil {
		return nil, err
	}
	u, err := s.ByEmail(ctx, t.ID, email)
	hash := s.dummyHash
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	ok, cerr := argon2id.ComparePasswordAndHash(password, hash)
	if u == nil || cerr != nil || !ok {
		if err := s.failed(ctx, t, account); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if err := s.succeeded(ctx, t, account, addr); err != nil {
		return nil, err
	}
	switch u.Status {
	case StatusBlocked:
		return nil, &BlockedError{Reason: u.BlockReason}
	case StatusUnverified:
		return nil, ErrUnverified
	}
	// issue 11: an account with a second factor, or that must have one, passes a second step
	// before any session opens (*SecondStepError; mfa.go).
	if err := s.secondStep(ctx, t, u); err != nil {
		return nil, err
	}
	return s.openSession(ctx, t, u, ip, ua)
}

func (s *Service) openSession(ctx context.Context, t *tenancy.Tenant, u *User, ip, ua string) (*LoginResult, error) {
	now := s.Now()
	token, th := NewToken()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	sess := &Session{TenantID: t.ID, ID: tenancy.NewID(), TokenHash: th, UserID: u.ID, CreatedAt: now,
		LastSeenAt: now, ExpiresAt: now.Add(time.Duration(t.IntRule("account.session_days")) * 24 * time.Hour),
		IP: ip, UserAgent: ua}
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(sess).Exec(ctx); err != nil {
			return err
		}
		u.LastLoginAt = bun.NullTime{Time: now}
		_, err := sc.Update(u).Column("last_login_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &LoginResult{User: u, Session: sess, Token: token}, nil
}

// SessionUser resolves a session cookie to its session and active user, or (nil, nil, nil).
func (s *Service) SessionUser(ctx context.Context, tenantID, token string) (*Session, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, nil
	}
	var row Session
	now := s.Now()
	// One read: the session and its account (a revoked session or a blocked account is
	// refused on the very next request).
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.SelectBound(&row, HashToken(token), now).Relation("User").
			Where("s.token_hash = ? AND s.expires_at > ?", db.Arg, db.Arg).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && row.User == nil) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	sess, u := row, row.User
	sess.User = nil
	if u.Status != StatusActive {
		return nil, nil, nil
	}
	// Seen at most once a minute: a page that reads does not write on every request.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		sess.LastSeenAt = now
		err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update(&sess).Column("last_seen_at").WherePK().Exec(ctx)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return &sess, u, nil
}

// Logout ends the session of a token.
func (s *Service) Logout(ctx context.Context, tenantID, token string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Delete((*Session)(nil)).Where("token_hash = ?", HashToken(token)).Exec(ctx)
		return err
	})
}

// Sessions lists a user's open sessions, newest first.
func (s *Service) Sessions(ctx context.Context, tenantID, userID string) ([]Session, error) {
	var out []Session
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("user_id = ? AND expires_at > ?", userID, s.Now()).Order("last_seen_at DESC").Scan(ctx)
	})
	return out, err
}

// RevokeSession ends one of the user's own sessions; another user's session id does nothing.
func (s *Service) RevokeSession(ctx context.Context, tenantID, userID, sessionID string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Delete((*Session)(nil)).Where("id = ? AND user_id = ?", sessionID, userID).Exec(ctx)
		if err != nil {
			return err
		}
		// Another person's session, or another tenant's, is not the user's to end.
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return ErrNoSession
		}
		return nil
	})
}

func revokeAllSessions(ctx context.Context, sc *db.Scope, userID, except string) error {
	q := sc.Delete((*Session)(nil)).Where("user_id = ?", userID)
	if except != "" {
		q = q.Where("id <> ?", except)
	}
	_, err := q.Exec(ctx)
	return err
}

// RequestReset returns a reset token for the e-mail's account, or ErrNotFound. The caller
// answers the same way in both cases.
func (s *Service) RequestReset(ctx context.Context, t *tenancy.Tenant, email string) (*User, string, error) {
	u, err := s.ByEmail(ctx, t.ID, email)
	if err != nil {
		return nil, "", err
	}
	return s.resetToken(ctx, t, u)
}

// ResetToken returns a reset token for the account userID, or ErrNotFound.
func (s *Service) ResetToken(ctx context.Context, t *tenancy.Tenant, userID string) (*User, string, error) {
	u, err := s.ByID(ctx, t.ID, userID)
	if err != nil {
		return nil, "", err
	}
	return s.resetToken(ctx, t, u)
}

func (s *Service) resetToken(ctx context.Context, t *tenancy.Tenant, u *User) (*User, string, error) {
	token, th := NewToken()
	now := s.Now()
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		tok := &Token{TenantID: t.ID, TokenHash: th, UserID: u.ID, Purpose: PurposeReset, CreatedAt: now,
			ExpiresAt: now.Add(time.Duration(t.IntRule("account.reset_link_minutes")) * time.Minute)}
		_, err := sc.Insert(tok).Exec(ctx)
		return err
	})
	return u, token, err
}

// ResetPassword sets a new password from a reset token, verifies the e-mail (the link proved
// it) and ends every session of the account. When the tenant asks for secret answers and the
// account has one, answer must match it (P2, R2): a wrong answer is a field error and leaves
// the token unused.
func (s *Service) ResetPassword(ctx context.Context, t *tenancy.Tenant, token, pw, pw2, answer string) (*User, error) {
	errs := form.Errors{}
	if f, k := CheckPassword(pw, pw2); f != "" {
		errs.Add(f, k)
	}
	// A first look at the token (nothing is written): the account it opens, and whether that
	// account must give its secret answer.
	tok, holder, err := s.peekToken(ctx, t.ID, token, PurposeReset)
	if err != nil {
		return nil, err
	}
	if t.BoolRule(RuleSecretQuestion) && holder.SecretAnswerHash != "" {
		if ok, err := argon2id.ComparePasswordAndHash(NormalizeSecret(answer), holder.SecretAnswerHash); err != nil || !ok {
			errs.Add("secret_answer", "account.secret.wrong")
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	hash, err := argon2id.CreateHash(pw, Params)
	if err != nil {
		return nil, err
	}
	var u User
	verified := false
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		// The guarded update lets one use of the token through, even against a concurrent one.
		if _, err := consumeToken(ctx, sc, token, PurposeReset, s.Now()); err != nil {
			return err
		}
		if err := sc.Select(&u).Where("id = ?", tok.UserID).Scan(ctx); err != nil {
			return err
		}
		u.PasswordHash = hash
		cols := []string{"password_hash"}
		if u.Status == StatusUnverified {
			u.Status, u.VerifiedAt, verified = StatusActive, bun.NullTime{Time: s.Now()}, true
			cols = append(cols, "status", "verified_at")
			if err := s.Authz.AssignRole(ctx, sc, u.ID, authz.RoleUser); err != nil {
				return err
			}
		}
		if _, err := sc.Update(&u).Column(cols...).WherePK().Exec(ctx); err != nil {
			return err
		}
		return revokeAllSessions(ctx, sc, u.ID, "")
	})
	if err != nil {
		return nil, err
	}
	if verified {
		err = s.bump(ctx, t.ID)
	}
	return &u, err
}

// ChangePassword checks the current password, sets the new one and ends the user's other
// sessions.
func (s *Service) ChangePassword(ctx context.Context, t *tenancy.Tenant, u *User, sessionID, current, pw, pw2 string) error {
	errs := form.Errors{}
	if ok, err := argon2id.ComparePasswordAndHash(current, u.PasswordHash); err != nil || !ok {
		errs.Add("current", "account.password.current_wrong")
	}
	if f, k := CheckPassword(pw, pw2); f != "" {
		errs.Add(f, k)
	}
	if len(errs) > 0 {
		return errs
	}
	hash, err := argon2id.CreateHash(pw, Params)
	if err != nil {
		return err
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		u.PasswordHash = hash
		if _, err := sc.Update(u).Column("password_hash").WherePK().Exec(ctx); err != nil {
			return err
		}
		return revokeAllSessions(ctx, sc, u.ID, sessionID)
	})
}

// UpdateProfile changes the user's name and preferred language.
func (s *Service) UpdateProfile(ctx context.Context, t *tenancy.Tenant, u *User, name, locale string) error {
	errs := form.Errors{}
	name = strings.TrimSpace(name)
	if name == "" {
		errs.Add("name", "form.required")
	} else if utf8.RuneCountInString(name) > 200 {
		errs.Add("name", "form.too_long")
	}
	if locale != "" && !t.AllowsLocale(locale) {
		errs.Add("locale", "form.invalid_choice")
	}
	if len(errs) > 0 {
		return errs
	}
	u.Name, u.Locale = name, locale
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update(u).Column("name", "locale").WherePK().Exec(ctx)
		return err
	})
}

// SetLocale records the user's preferred language.
func (s *Service) SetLocale(ctx context.Context, tenantID, userID, locale string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update((*User)(nil)).Set("locale = ?", locale).Where("id = ?", userID).Exec(ctx)
		return err
	})
}

// Delete erases an account: what Erase removes elsewhere, the user row and, by cascade, its
// sessions, tokens, terms acceptances and consents; its role rules. A deletion record keeps
// the date, who asked and the optional reason — no identity.
func (s *Service) Delete(ctx context.Context, t *tenancy.Tenant, userID, initiator, reason string) error {
	if utf8.RuneCountInString(reason) > 2000 {
		return form.Errors{"reason": "form.too_long"}
	}
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := s.deleteIn(ctx, sc, t, userID, initiator, reason)
		return err
	})
	if err != nil {
		return err
	}
	return s.bump(ctx, t.ID)
}

// deleteIn deletes an account in the transaction of sc: what the core's other tables hold of
// the person (Erase), the account with its rows, its roles, and records the deletion (no
// identity) and the event that tells the modules. It returns the account as it was.
func (s *Service) deleteIn(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, userID, initiator, reason string) (*User, error) {
	var u User
	if err := sc.Select(&u).Where("id = ?", userID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if s.Erase != nil {
		if err := s.Erase(ctx, sc, t, &u); err != nil {
			return nil, err
		}
	}
	res, err := sc.Delete((*User)(nil)).Where("id = ?", userID).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrNotFound
	}
	if err := s.Authz.RevokeAll(ctx, sc, userID); err != nil {
		return nil, err
	}
	d := &Deletion{TenantID: t.ID, ID: tenancy.NewID(), DeletedAt: s.Now(), Initiator: initiator, Reason: strings.TrimSpace(reason)}
	if _, err = sc.Insert(d).Exec(ctx); err != nil {
		return nil, err
	}
	return &u, s.changed(ctx, sc, t, EventDeleted, userID)
}

// Block suspends an account for a stated reason and ends its sessions.
func (s *Service) Block(ctx context.Context, t *tenancy.Tenant, userID, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return form.Errors{"reason": "form.required"}
	}
	if utf8.RuneCountInString(reason) > 1000 {
		return form.Errors{"reason": "form.too_long"}
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*User)(nil)).Set("status = ?", StatusBlocked).Set("block_reason = ?", reason).
			Where("id = ? AND status = ?", userID, StatusActive).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		if err := revokeAllSessions(ctx, sc, userID, ""); err != nil {
			return err
		}
		return s.changed(ctx, sc, t, EventBlocked, userID)
	})
}

// Unblock lifts a block.
func (s *Service) Unblock(ctx context.Context, t *tenancy.Tenant, userID string) error {
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*User)(nil)).Set("status = ?", StatusActive).Set("block_reason = ''").
			Where("id = ? AND status = ?", userID, StatusBlocked).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return nil
	})
}

// List returns the tenant's accounts matching q (e-mail or name), sorted by e-mail.
func (s *Service) List(ctx context.Context, tenantID, q string, limit int) ([]User, error) {
	var out []User
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		sel := sc.Select(&out).Order("email").Limit(int64(limit))
		if q = strings.TrimSpace(strings.ToLower(q)); q != "" {
			like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
			sel = sel.Where("(email LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\')", like, like)
		}
		return sel.Scan(ctx)
	})
	return out, err
}

// SweepUnverified deletes the tenant's accounts not verified within the verification rule.
func (s *Service) SweepUnverified(ctx context.Context, t *tenancy.Tenant) (int64, error) {
	cutoff := s.Now().Add(-time.Duration(t.IntRule("account.verification_hours")) * time.Hour)
	var n int64
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if s.Erase != nil {
			// The verification mail and anything else sent to them goes too (P11).
			var gone []User
			if err := sc.Select(&gone).Where("status = ? AND created_at < ?", StatusUnverified, cutoff).Scan(ctx); err != nil {
				return err
			}
			for i := range gone {
				if err := s.Erase(ctx, sc, t, &gone[i]); err != nil {
					return err
				}
			}
		}
		res, err := sc.Delete((*User)(nil)).Where("status = ? AND created_at < ?", StatusUnverified, cutoff).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		// A registration its job never acted on (it failed for good) is not kept either.
		_, err = sc.Tx.NewDelete().Table("registrations").Where("tenant_id = ? AND created_at < ?", sc.TenantID, cutoff).Exec(ctx)
		return err
	})
	return n, err
}

// Inactive lists the tenant's verified accounts whose last sign-in (or verification, if they
// never signed in) is older than the tenant's inactivity rule; none when the rule is 0.
func (s *Service) Inactive(ctx context.Context, t *tenancy.Tenant) ([]User, error) {
	days := t.IntRule("account.inactive_close_days")
	if days <= 0 {
		return nil, nil
	}
	cutoff := s.Now().Add(-time.Duration(days) * 24 * time.Hour)
	var out []User
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("status <> ?", StatusUnverified).
			Where("COALESCE(last_login_at, verified_at, created_at) < ?", cutoff).Order("email").Scan(ctx)
	})
	return out, err
}

// Invite opens an account that staff assign a person (P2, B1: the firm opens the client's
// login at subscription): verified (the contract names the address), active, with no password
// he could know — he chooses one through the reset token returned, valid for the tenant's
// account.invite_link_hours. An account that already exists for the address is returned with
// created false and no token.
func (s *Service) Invite(ctx context.Context, t *tenancy.Tenant, email, name, locale string) (u *User, token string, created bool, err error) {
	email = NormalizeEmail(email)
	if email == "" {
		return nil, "", false, ErrBadEmail
	}
	if u, err := s.ByEmail(ctx, t.ID, email); err == nil {
		return u, "", false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, "", false, err
	}
	// The password is random and never told: the account opens only through the link.
	unknown, _ := NewToken()
	hash, err := argon2id.CreateHash(unknown, Params)
	if err != nil {
		return nil, "", false, err
	}
	if !slices.Contains(t.Settings.Locales, locale) {
		locale = ""
	}
	now := s.Now()
	u = &User{TenantID: t.ID, ID: tenancy.NewID(), Email: email, PasswordHash: hash, Name: strings.TrimSpace(name), Locale: locale,
		Status: StatusActive, Profile: map[string]string{}, CreatedAt: now, VerifiedAt: bun.NullTime{Time: now}}
	token, th := NewToken()
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(u).Exec(ctx); err != nil {
			return err
		}
		if err := s.Authz.AssignRole(ctx, sc, u.ID, authz.RoleUser); err != nil {
			return err
		}
		tok := &Token{TenantID: t.ID, TokenHash: th, UserID: u.ID, Purpose: PurposeReset, CreatedAt: now,
			ExpiresAt: now.Add(time.Duration(t.IntRule("account.invite_link_hours")) * time.Hour)}
		_, err := sc.Insert(tok).Exec(ctx)
		return err
	})
	if err != nil {
		if db.IsUniqueViolation(err) { // the same address invited twice at once: the other won
			u, err := s.ByEmail(ctx, t.ID, email)
			return u, "", false, err
		}
		return nil, "", false, err
	}
	return u, token, true, s.bump(ctx, t.ID)
}

// CreateActive creates a verified account directly (demo seeding and the admin CLI).
func (s *Service) CreateActive(ctx context.Context, t *tenancy.Tenant, email, password, name, birth, locale string, roles ...string) (*User, error) {
	if u, err := s.ByEmail(ctx, t.ID, email); err == nil {
		return u, nil
	}
	hash, err := argon2id.CreateHash(password, Params)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	u := &User{TenantID: t.ID, ID: tenancy.NewID(), Email: strings.ToLower(email), PasswordHash: hash, Name: name,
		BirthDate: birth, Locale: locale, Status: StatusActive, Profile: map[string]string{}, CreatedAt: now,
		VerifiedAt: bun.NullTime{Time: now}}
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(u).Exec(ctx); err != nil {
			return err
		}
		for _, r := range append([]string{authz.RoleUser}, roles...) {
			if r == authz.RolePlatformAdmin {
				continue
			}
			if err := s.Authz.AssignRole(ctx, sc, u.ID, r); err != nil {
				return fmt.Errorf("role %s: %w", r, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, s.bump(ctx, t.ID)
}
