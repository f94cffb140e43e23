// Package tenancy owns tenants: their identity, legal data, locales, hostnames, modules and
// rules; importing them from tenants/<slug>/tenant.toml; and resolving the tenant of a
// request. It must not know about accounts or HTTP handlers.
package tenancy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/plugins/kit/view"
)

// Kinds of tenant.
const (
	KindTenant  = "tenant"  // an operator: lab group, telesecretariat, booking portal
	KindConsole = "console" // the platform administration console
)

// ConsoleSlug is the slug of the platform administration console.
const ConsoleSlug = "platform"

// ErrNotFound is returned when no tenant matches.
var ErrNotFound = errors.New("tenant not found")

// Legal is the tenant's legal identity, printed in every page footer.
type Legal struct {
	Company      string `toml:"company" json:"company"`
	Address      string `toml:"address" json:"address"`
	Registration string `toml:"registration" json:"registration"`
	VATID        string `toml:"vat_id" json:"vat_id"`
}

// Contacts are the tenant's public addresses.
type Contacts struct {
	Support       string `toml:"support" json:"support"`
	Complaints    string `toml:"complaints" json:"complaints"`
	DataProtector string `toml:"dpo" json:"dpo"`
	Phone         string `toml:"phone" json:"phone"`
}

// Branding is how the tenant's pages look.
type Branding struct {
	Name         string `toml:"name" json:"name"`
	PrimaryColor string `toml:"primary_color" json:"primary_color"`
	AccentColor  string `toml:"accent_color" json:"accent_color"`
	Logo         string `toml:"logo" json:"-"` // file name next to tenant.toml, read at import
}

// Settings is everything about a tenant an admin edits, stored as one JSON document.
type Settings struct {
	Name          string         `toml:"name" json:"name"`
	Country       string         `toml:"country" json:"country"`
	DefaultLocale string         `toml:"default_locale" json:"default_locale"`
	Locales       []string       `toml:"locales" json:"locales"`
	TimeZone      string         `toml:"time_zone" json:"time_zone"`
	Currency      string         `toml:"currency" json:"currency"`
	Legal         Legal          `toml:"legal" json:"legal"`
	Contacts      Contacts       `toml:"contacts" json:"contacts"`
	Branding      Branding       `toml:"branding" json:"branding"`
	Registration  *bool          `toml:"registration" json:"registration,omitempty"`
	Rules         map[string]any `toml:"rules" json:"rules"`
}

// Tenant is one operator.
type Tenant struct {
	bun.BaseModel `bun:"table:tenants,alias:t"`

	ID        string   `bun:"id,pk"`
	Slug      string   `bun:"slug"`
	Kind      string   `bun:"kind"`
	Status    string   `bun:"status"`
	Settings  Settings `bun:"settings,type:json"`
	Logo      []byte   `bun:"logo"`
	LogoType  string   `bun:"logo_type"`
	PolicyRev int64    `bun:"policy_rev"`
	// Rev moves with every change to what the tenant's pages read on every request.
	Rev       int64     `bun:"rev"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`

	Hostnames []Hostname `bun:"-"`
	Modules   []Module   `bun:"-"`
}

// Hostname maps a Host header to a tenant and the portal (audience) it serves.
type Hostname struct {
	bun.BaseModel `bun:"table:tenant_hostnames,alias:h"`

	Hostname string `bun:"hostname,pk" toml:"host"`
	TenantID string `bun:"tenant_id" toml:"-"`
	Portal   string `bun:"portal" toml:"portal"`
}

// Module is a business module switched on or off for a tenant, with the tenant's rules for it.
type Module struct {
	bun.BaseModel `bun:"table:tenant_modules,alias:m"`

	TenantID  string         `bun:"tenant_id,pk"`
	ModuleID  string         `bun:"module_id,pk"`
	Enabled   bool           `bun:"enabled"`
	Rules     map[string]any `bun:"rules,type:json"`
	UpdatedAt time.Time      `bun:"updated_at"`
}

// Location is the tenant's time zone (UTC if it cannot be loaded), read once per process.
func (t *Tenant) Location() *time.Location { return view.Zone(t.Settings.TimeZone) }

// AllowsLocale reports whether lang is one of the tenant's locales.
func (t *Tenant) AllowsLocale(lang string) bool {
	for _, l := range t.Settings.Locales {
		if l == lang {
			return true
		}
	}
	return false
}

// Lang picks the language to write to a person in: pref when the tenant allows it, else
// fallback when it allows that, else the tenant's default.
func (t *Tenant) Lang(pref, fallback string) string {
	for _, l := range []string{pref, fallback} {
		if l != "" && t.AllowsLocale(l) {
			return l
		}
	}
	return t.Settings.DefaultLocale
}

// RegistrationOpen reports whether people may create accounts themselves.
func (t *Tenant) RegistrationOpen() bool {
	if t.Kind == KindConsole {
		return false
	}
	return t.Settings.Registration == nil || *t.Settings.Registration
}

// EnabledModules lists the ids of the modules the tenant switched on, sorted.
func (t *Tenant) EnabledModules() []string {
	var out []string
	for _, m := range t.Modules {
		if m.Enabled {
			out = append(out, m.ModuleID)
		}
	}
	sort.Strings(out)
	return out
}

// Store reads and writes tenants.
type Store struct {
	DB *db.DB
	// ValidateModule checks a tenant's rules for a module against the module's declaration
	// (its manifest) and returns them normalised. Nil until the modules run: then only the
	// known module ids are checked.
	ValidateModule func(id string, rules map[string]any) (map[string]any, error)
	// Bound is how long a change made on another instance may go unseen (DefaultBound when
	// zero); see cache.go.
	Bound time.Duration
	// Known are the module ids a tenant may switch on: the built-ins and the registered
	// external modules.
	Known ModuleSet
	// Moved, when set, is told (in a goroutine of its own) the tenants whose revision moved
	// since the last reading: changes made through another instance, which this one follows.
	Moved func(tenantIDs []string)

	cache cache
}

// NewID returns a random, time-ordered id (UUIDv7) for rows exposed in URLs.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ByID reads a tenant with its hostnames and modules from the database: a copy of one's own,
// to edit and Save.
func (s *Store) ByID(ctx context.Context, id string) (*Tenant, error) {
	var t Tenant
	err := s.DB.GlobalRead().Select(&t).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tenant by id: %w", err)
	}
	return &t, s.load(ctx, &t)
}

func (s *Store) load(ctx context.Context, t *Tenant) error {
	if err := s.DB.GlobalRead().Select(&t.Hostnames).Where("tenant_id = ?", t.ID).Order("hostname").Scan(ctx); err != nil {
		return fmt.Errorf("tenant hostnames: %w", err)
	}
	return s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&t.Modules).Order("module_id").Scan(ctx)
	})
}

// Save writes the tenant's settings (validated by the caller) and bumps updated_at.
func (s *Store) Save(ctx context.Context, t *Tenant) error {
	t.UpdatedAt = time.Now().UTC()
	_, err := s.DB.Global().Update(t).Column("settings", "status", "updated_at").Set("rev = rev + 1").WherePK().Exec(ctx)
	s.invalidate(t.ID)
	return err
}

// SetHostnames replaces the tenant's hostnames; a hostname taken by another tenant fails.
func (s *Store) SetHostnames(ctx context.Context, tenantID string, hs []Hostname) error {
	defer s.invalidate(tenantID)
	return s.DB.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		g := db.GlobalTx(tx)
		if err := touchIn(ctx, g, tenantID); err != nil {
			return err
		}
		if _, err := g.Delete((*Hostname)(nil)).Where("tenant_id = ?", tenantID).Exec(ctx); err != nil {
			return err
		}
		for i := range hs {
			hs[i].TenantID = tenantID
			hs[i].Hostname = NormalizeHost(hs[i].Hostname)
		}
		if len(hs) == 0 {
			return nil
		}
		_, err := g.Insert(&hs).Exec(ctx)
		return err
	})
}

// SetModule switches a module on or off for a tenant, keeping its rules.
func (s *Store) SetModule(ctx context.Context, tenantID, moduleID string, enabled bool) error {
	defer s.invalidate(tenantID)
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		m := &Module{TenantID: tenantID, ModuleID: moduleID, Enabled: enabled, Rules: map[string]any{}, UpdatedAt: time.Now().UTC()}
		_, err := sc.Insert(m).On("CONFLICT (tenant_id, module_id) DO UPDATE").
			Set("enabled = EXCLUDED.enabled").Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
		if err != nil {
			return err
		}
		return touchIn(ctx, db.GlobalTx(sc.Tx), tenantID)
	})
}

// SetModuleRules stores a tenant's rules of a module (validated by the caller).
func (s *Store) SetModuleRules(ctx context.Context, tenantID, moduleID string, rules map[string]any) error {
	defer s.invalidate(tenantID)
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		b, err := json.Marshal(rules)
		if err != nil {
			return err
		}
		_, err = sc.Update((*Module)(nil)).Set("rules = ?", string(b)).Set("updated_at = ?", time.Now().UTC()).
			Where("module_id = ?", moduleID).Exec(ctx)
		if err != nil {
			return err
		}
		return touchIn(ctx, db.GlobalTx(sc.Tx), tenantID)
	})
}

// BumpPolicy increments the tenant's policy revision so every instance reloads its
// permission rules. An empty id bumps every tenant (a platform-wide rule changed).
func (s *Store) BumpPolicy(ctx context.Context, tenantID string) error {
	q := s.DB.Global().Update((*Tenant)(nil)).Set("policy_rev = policy_rev + 1")
	if tenantID != "" {
		q = q.Where("id = ?", tenantID)
	} else {
		q = q.Where("1 = 1")
	}
	_, err := q.Exec(ctx)
	s.invalidate(tenantID)
	return err
}

// IDs lists the ids of every tenant, for work that visits each tenant in its own scope.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.DB.GlobalRead().Select((*Tenant)(nil)).Column("id").Order("slug").Scan(ctx, &ids)
	return ids, err
}

// NormalizeHost lower-cases a Host header and strips the port.
func NormalizeHost(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if strings.HasPrefix(host, "[") {
		if i := strings.Index(host, "]"); i > 0 {
			return host[:i+1]
		}
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}
