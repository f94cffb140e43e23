// Package apikeys owns the API keys of a tenant (R3a): the keys its admin creates for
// machines (a laboratory information system importing results), each holding some module
// permissions, and the check of a key presented with a request. Only the SHA-256 of a key's
// secret is stored; the full key is shown once, at creation. It must not know about HTTP.
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
)

// Errors the pages and the API map to refusals.
var (
	// ErrInvalid is any key that does not open the door: malformed, unknown, of another
	// tenant, revoked. The caller is not told which.
	ErrInvalid  = errors.New("apikeys: invalid key")
	ErrNotFound = errors.New("apikeys: no such key")
)

// Key is an API key of a tenant.
type Key struct {
	bun.BaseModel `bun:"table:api_keys,alias:ak"`

	TenantID string `bun:"tenant_id,pk"`
	ID       string `bun:"id,pk"`
	Name     string `bun:"name"`
	// Prefix is the start of the key, shown to tell keys apart ("pk_1a2b3c4d").
	Prefix string `bun:"prefix"`
	// SecretHash is the hex SHA-256 of the key's secret part.
	SecretHash  string       `bun:"secret_hash"`
	Permissions []string     `bun:"permissions,type:json"`
	CreatedBy   string       `bun:"created_by"`
	CreatedAt   time.Time    `bun:"created_at"`
	RevokedAt   bun.NullTime `bun:"revoked_at"`
	LastUsedAt  bun.NullTime `bun:"last_used_at"`
}

// Revoked reports whether the key was revoked.
func (k *Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Allows reports whether the key holds perm.
func (k *Key) Allows(perm string) bool {
	for _, p := range k.Permissions {
		if p == perm {
			return true
		}
	}
	return false
}

// Service creates, checks and revokes keys.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// New returns a service over d.
func New(d *db.DB) *Service {
	return &Service{DB: d, Now: func() time.Time { return time.Now().UTC() }}
}

const (
	keyPrefix = "pk_"
	idBytes   = 16 // the id: 32 hex digits
	// secretBytes is the randomness of a key's secret (256 bits).
	secretBytes = 32
)

// dummyHash is compared against when a key's id is unknown, so that an unknown id takes the
// same time as a wrong secret.
var dummyHash = hashSecret("not-a-real-secret")

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// parse splits "pk_<id>_<secret>"; ok is false for anything else.
func parse(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, keyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) != 2*idBytes || secret == "" || len(secret) > 100 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", "", false
	}
	return id, secret, true
}

// Create makes a key named name holding perms and returns it with the full key, which is
// never stored and cannot be shown again.
func (s *Service) Create(ctx context.Context, tenantID, name string, perms []string, createdBy string) (*Key, string, error) {
	errs := form.Errors{}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		errs.Add("name", "form.required")
	case utf8.RuneCountInString(name) > 100:
		errs.Add("name", "form.too_long")
	}
	if len(perms) == 0 {
		errs.Add("permissions", "admin.api_keys.permissions_required")
	}
	if len(errs) > 0 {
		return nil, "", errs
	}
	var idb [idBytes]byte
	var sb [secretBytes]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return nil, "", err
	}
	id := hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sb[:])
	k := &Key{TenantID: tenantID, ID: id, Name: name, Prefix: keyPrefix + id[:8], SecretHash: hashSecret(secret),
		Permissions: append([]string(nil), perms...), CreatedBy: createdBy, CreatedAt: s.Now()}
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Insert(k).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create api key: %w", err)
	}
	return k, keyPrefix + id + "_" + secret, nil
}

// Authenticate returns the tenant's unrevoked key that token is, and records its use; any
// other token is ErrInvalid. A key of another tenant is not found in this one. The secret is
// compared in constant time, against a dummy hash when the id is unknown, so that the answer
// takes the same time whether the id exists or not.
func (s *Service) Authenticate(ctx context.Context, tenantID, token string) (*Key, error) {
	id, secret, ok := parse(token)
	var k Key
	found := false
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		err := sc.Select(&k).Where("id = ?", id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return nil, err
	}
	want := dummyHash
	if found {
		want = k.SecretHash
	}
	same := subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(want)) == 1
	if !ok || !found || !same || k.Revoked() {
		return nil, ErrInvalid
	}
	now := s.Now()
	if k.LastUsedAt.IsZero() || now.Sub(k.LastUsedAt.Time) > time.Minute {
		k.LastUsedAt = bun.NullTime{Time: now}
		err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update(&k).Column("last_used_at").WherePK().Exec(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// List returns the tenant's keys, newest first.
func (s *Service) List(ctx context.Context, tenantID string) ([]Key, error) {
	var out []Key
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Order("created_at DESC").Limit(1000).Scan(ctx)
	})
	return out, err
}

// Get returns one key of the tenant, or ErrNotFound.
func (s *Service) Get(ctx context.Context, tenantID, id string) (*Key, error) {
	var k Key
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&k).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &k, err
}

// Revoke revokes a key of the tenant at once; revoked reports whether it was in use until
// now (revoking twice changes nothing). An unknown key is ErrNotFound.
func (s *Service) Revoke(ctx context.Context, tenantID, id string) (revoked bool, err error) {
	if _, err := s.Get(ctx, tenantID, id); err != nil {
		return false, err
	}
	err = s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*Key)(nil)).Set("revoked_at = ?", s.Now()).Where("id = ? AND revoked_at IS NULL", id).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		revoked = n == 1
		return nil
	})
	return revoked, err
}
