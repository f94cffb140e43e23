package tenancy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/locales"
)

// File is the shape of tenants/<slug>/tenant.toml.
type File struct {
	Slug string `toml:"slug"`
	Settings
	Hostnames []Hostname              `toml:"hostnames"`
	Modules   map[string]ModuleConfig `toml:"modules"`
	// Terms are read from terms/<doc>.<locale>.md next to tenant.toml: doc → locale → text.
	Terms map[string]map[string]TermsText `toml:"-"`
}

// TermsText is a terms document from the catalog: its first "# " line is the title.
type TermsText struct{ Title, Body string }

// ModuleConfig is a module's entry in tenant.toml.
type ModuleConfig struct {
	Enabled bool           `toml:"enabled"`
	Rules   map[string]any `toml:"rules"`
}

// KnownModules are the built-in business modules of this platform (compiled into the
// platform binary). External modules join them through the module catalog (Store.Known).
var KnownModules = []string{"results", "calendar", "eshop", "billing"}

// IsKnownModule reports whether id is one of the built-in KnownModules.
func IsKnownModule(id string) bool {
	for _, k := range KnownModules {
		if k == id {
			return true
		}
	}
	return false
}

var slugRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)
var hostRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
var colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidSlug reports whether slug can name a new tenant: 2 to 31 lower-case letters, digits
// and dashes, starting with a letter, and not the console's.
func ValidSlug(slug string) bool { return slugRe.MatchString(slug) && slug != ConsoleSlug }

// ValidColor reports whether c is a #rrggbb colour.
func ValidColor(c string) bool { return colorRe.MatchString(c) }

// ErrInvalid wraps every validation failure of a tenant file or an admin edit.
var ErrInvalid = errors.New("invalid tenant")

// Validate checks the settings an admin or a tenant file gives.
func (s *Settings) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if s.Name == "" {
		return bad("name is required")
	}
	if len(s.Locales) == 0 {
		return bad("at least one locale is required")
	}
	for _, l := range s.Locales {
		if !locales.IsSupported(l) {
			return bad("locale %q is not one of %v", l, locales.Supported)
		}
	}
	found := false
	for _, l := range s.Locales {
		found = found || l == s.DefaultLocale
	}
	if !found {
		return bad("default locale %q is not among the locales %v", s.DefaultLocale, s.Locales)
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" {
		return bad("time zone %q is unknown", s.TimeZone)
	}
	if s.Currency != "EUR" && s.Currency != "PLN" {
		return bad("currency %q is not EUR or PLN", s.Currency)
	}
	for _, c := range []string{s.Branding.PrimaryColor, s.Branding.AccentColor} {
		if c != "" && !colorRe.MatchString(c) {
			return bad("colour %q is not #rrggbb", c)
		}
	}
	rules, err := ValidateRules(CoreRules, s.Rules)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s.Rules = rules
	return nil
}

// ValidHostname reports whether h is a plain DNS name (no port, no scheme).
func ValidHostname(h string) bool { return len(h) <= 253 && hostRe.MatchString(h) }

// LoadFile reads and validates one tenant directory.
func LoadFile(dir string) (*File, []byte, string, error) {
	f, logo, logoType, err := LoadFS(os.DirFS(dir), ".")
	if err != nil {
		// The directory's own path, not "./tenant.toml", in the message.
		return nil, nil, "", fmt.Errorf("%s: %w", dir, err)
	}
	return f, logo, logoType, nil
}

// LoadFS reads and validates the tenant directory dir of fsys (a directory on disk, or the
// catalog built into the binary).
func LoadFS(fsys fs.FS, dir string) (*File, []byte, string, error) {
	var f File
	path := pathpkg.Join(dir, "tenant.toml")
	md, err := toml.DecodeFS(fsys, path, &f)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, nil, "", fmt.Errorf("%s: %w: unknown keys %v", path, ErrInvalid, und)
	}
	if !ValidSlug(f.Slug) {
		return nil, nil, "", fmt.Errorf("%s: %w: slug %q", path, ErrInvalid, f.Slug)
	}
	if err := f.Settings.Validate(); err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Hostnames) == 0 {
		return nil, nil, "", fmt.Errorf("%s: %w: no hostname", path, ErrInvalid)
	}
	for i, h := range f.Hostnames {
		f.Hostnames[i].Hostname = NormalizeHost(h.Hostname)
		if !ValidHostname(f.Hostnames[i].Hostname) {
			return nil, nil, "", fmt.Errorf("%s: %w: hostname %q", path, ErrInvalid, h.Hostname)
		}
	}
	for id := range f.Modules {
		// Whether the platform knows the module is the store's to say (Store.Known).
		if !ValidModuleID(id) {
			return nil, nil, "", fmt.Errorf("%s: %w: module id %q", path, ErrInvalid, id)
		}
	}
	var logo []byte
	var logoType string
	if f.Branding.Logo != "" {
		logo, err = fs.ReadFile(fsys, pathpkg.Join(dir, pathpkg.Base(f.Branding.Logo)))
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: logo: %w", path, err)
		}
		logoType = mime.TypeByExtension(filepath.Ext(f.Branding.Logo))
	}
	if f.Terms, err = loadTerms(fsys, pathpkg.Join(dir, "terms"), f.Locales); err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return &f, logo, logoType, nil
}

// loadTerms reads terms/<doc>.<locale>.md files.
func loadTerms(fsys fs.FS, dir string, allowed []string) (map[string]map[string]TermsText, error) {
	out := map[string]map[string]TermsText{}
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".md") {
			continue
		}
		doc, locale, ok := strings.Cut(strings.TrimSuffix(name, ".md"), ".")
		if !ok || !locales.IsSupported(locale) {
			return nil, fmt.Errorf("%w: terms file %q: want <doc>.<fr|pl|sk>.md", ErrInvalid, name)
		}
		if doc != "platform" && !ValidModuleID(doc) {
			return nil, fmt.Errorf("%w: terms file %q: unknown document %q", ErrInvalid, name, doc)
		}
		raw, err := fs.ReadFile(fsys, pathpkg.Join(dir, name))
		if err != nil {
			return nil, err
		}
		text := strings.TrimSpace(string(raw))
		title, body, _ := strings.Cut(text, "\n")
		if !strings.HasPrefix(title, "# ") {
			return nil, fmt.Errorf("%w: terms file %q must start with a \"# \" title", ErrInvalid, name)
		}
		if out[doc] == nil {
			out[doc] = map[string]TermsText{}
		}
		out[doc][locale] = TermsText{Title: strings.TrimSpace(strings.TrimPrefix(title, "# ")), Body: strings.TrimSpace(body)}
	}
	return out, nil
}

// ImportResult says what an import did with one tenant.
type ImportResult struct {
	Slug    string
	Created bool
	File    *File
}

// ImportDir imports every tenants/<slug>/tenant.toml under root. A tenant that already
// exists is left as it is: after import the database is the source of truth.
func (s *Store) ImportDir(ctx context.Context, root string) ([]ImportResult, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("import tenants: %w", err)
	}
	return s.ImportFS(ctx, os.DirFS(root), root)
}

// ImportFS imports every <slug>/tenant.toml of fsys (a catalog on disk, or the one built
// into the binary); where names the catalog in error messages.
func (s *Store) ImportFS(ctx context.Context, fsys fs.FS, where string) ([]ImportResult, error) {
	dirs, err := CatalogDirs(fsys)
	if err != nil {
		return nil, fmt.Errorf("import tenants: %w", err)
	}
	var out []ImportResult
	for _, d := range dirs {
		file := filepath.Join(where, d, "tenant.toml")
		f, logo, logoType, err := LoadFS(fsys, d)
		if err != nil {
			return out, fmt.Errorf("%s: %w", where, err)
		}
		if err := s.knownModules(f); err != nil {
			return out, fmt.Errorf("%s: %w", file, err)
		}
		if err := s.validateModules(f); err != nil {
			return out, fmt.Errorf("%s: %w", file, err)
		}
		created, err := s.Import(ctx, f, logo, logoType)
		if err != nil {
			return out, fmt.Errorf("import %s: %w", f.Slug, err)
		}
		out = append(out, ImportResult{Slug: f.Slug, Created: created, File: f})
	}
	return out, nil
}

// CatalogDirs lists the tenant directories of a catalog: those holding a tenant.toml, in
// name order.
func CatalogDirs(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := fs.Stat(fsys, pathpkg.Join(e.Name(), "tenant.toml")); err == nil {
				dirs = append(dirs, e.Name())
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// knownModules checks that every module f names (switched on, or with terms) is a built-in
// or a registered module.
func (s *Store) knownModules(f *File) error {
	for id := range f.Modules {
		if !s.Known.Has(id) {
			return fmt.Errorf("%w: unknown module %q", ErrInvalid, id)
		}
	}
	for doc := range f.Terms {
		if doc != "platform" && !s.Known.Has(doc) {
			return fmt.Errorf("%w: terms of an unknown document %q", ErrInvalid, doc)
		}
	}
	return nil
}

// validateModules checks every module's rules of f against the module's declaration.
func (s *Store) validateModules(f *File) error {
	if s.ValidateModule == nil {
		return nil
	}
	for id, mc := range f.Modules {
		rules, err := s.ValidateModule(id, mc.Rules)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		mc.Rules = rules
		f.Modules[id] = mc
	}
	return nil
}

// Import creates the tenant of f unless a tenant with its slug exists. It reports whether
// it created one. Concurrent imports of the same file create it once (unique slug).
func (s *Store) Import(ctx context.Context, f *File, logo []byte, logoType string) (bool, error) {
	defer s.invalidate("")
	if _, err := s.BySlug(ctx, f.Slug); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	now := time.Now().UTC()
	t := &Tenant{ID: NewID(), Slug: f.Slug, Kind: KindTenant, Status: "active", Settings: f.Settings,
		Logo: logo, LogoType: logoType, PolicyRev: 1, CreatedAt: now, UpdatedAt: now}
	err := s.DB.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		g := db.GlobalTx(tx)
		if _, err := g.Insert(t).Exec(ctx); err != nil {
			return err
		}
		hs := append([]Hostname(nil), f.Hostnames...)
		for i := range hs {
			hs[i].TenantID = t.ID
		}
		if _, err := g.Insert(&hs).Exec(ctx); err != nil {
			return fmt.Errorf("hostnames: %w", err)
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ids := make([]string, 0, len(f.Modules))
	for id := range f.Modules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err = s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		for _, id := range ids {
			mc := f.Modules[id]
			rules := mc.Rules
			if rules == nil {
				rules = map[string]any{}
			}
			m := &Module{TenantID: t.ID, ModuleID: id, Enabled: mc.Enabled, Rules: rules, UpdatedAt: now}
			if _, err := sc.Insert(m).Exec(ctx); err != nil {
				return fmt.Errorf("module %s: %w", id, err)
			}
		}
		return nil
	})
	return err == nil, err
}

// EnsureConsole creates the platform administration console tenant on hostname if it does
// not exist yet, and makes sure hostname points to it.
func (s *Store) EnsureConsole(ctx context.Context, hostname, defaultLocale string) (*Tenant, error) {
	defer s.invalidate("")
	t, err := s.BySlug(ctx, ConsoleSlug)
	if errors.Is(err, ErrNotFound) {
		now := time.Now().UTC()
		no := false
		t = &Tenant{ID: NewID(), Slug: ConsoleSlug, Kind: KindConsole, Status: "active", PolicyRev: 1,
			CreatedAt: now, UpdatedAt: now, Settings: Settings{
				Name: "Platform", DefaultLocale: defaultLocale, Locales: append([]string(nil), locales.Supported...),
				TimeZone: "UTC", Currency: "EUR", Registration: &no, Rules: map[string]any{},
				Branding: Branding{Name: "Platform", PrimaryColor: "#1f2937", AccentColor: "#2563eb"},
			}}
		if _, err := s.DB.Global().Insert(t).Exec(ctx); err != nil && !db.IsUniqueViolation(err) {
			return nil, fmt.Errorf("create console: %w", err)
		}
		s.invalidate("")
		if t, err = s.BySlug(ctx, ConsoleSlug); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if hostname != "" {
		h := &Hostname{Hostname: NormalizeHost(hostname), TenantID: t.ID, Portal: "console"}
		if _, err := s.DB.Global().Insert(h).On("CONFLICT (hostname) DO NOTHING").Exec(ctx); err != nil {
			return nil, fmt.Errorf("console hostname: %w", err)
		}
		if err := s.Touch(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	return s.BySlug(ctx, ConsoleSlug)
}
