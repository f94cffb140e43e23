package modules

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// The module catalog: the external modules of the platform (a platform admin registered
// them on the console, or the command line pre-registered them), each with the executable
// the host launches and the SHA-256 that executable must have at every start. It belongs to
// no tenant; a tenant switches a registered module on like a built-in.

// CatalogEntry is one registered external module.
type CatalogEntry struct {
	bun.BaseModel `bun:"table:module_catalog,alias:mc"`

	ID      string `bun:"id,pk"`
	Version string `bun:"version"`
	// Path is the absolute path of the module's executable.
	Path string `bun:"path"`
	// SHA256 is the executable's checksum, 64 lowercase hex digits.
	SHA256 string `bun:"sha256"`
	// RegisteredBy is the console account of the platform admin who registered it ("" when
	// the command line did).
	RegisteredBy      string    `bun:"registered_by"`
	RegisteredByEmail string    `bun:"registered_by_email"`
	RegisteredAt      time.Time `bun:"registered_at"`
}

// Sum returns the entry's checksum as bytes.
func (e *CatalogEntry) Sum() []byte {
	b, _ := hex.DecodeString(e.SHA256)
	return b
}

// ErrDuplicate is returned when a module id is registered twice.
var ErrDuplicate = errors.New("module already registered")

// Catalog reads and writes the module catalog.
type Catalog struct{ DB *db.DB }

// List returns every registered module, by id.
func (c *Catalog) List(ctx context.Context) ([]CatalogEntry, error) {
	var out []CatalogEntry
	err := c.DB.Global().Select(&out).OrderExpr("id").Scan(ctx)
	return out, err
}

// Get returns the entry of id, or nil when id is not registered.
func (c *Catalog) Get(ctx context.Context, id string) (*CatalogEntry, error) {
	var e CatalogEntry
	err := c.DB.Global().Select(&e).Where("id = ?", id).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Add registers a module; an id registered already (by anyone, at the same moment too) is
// ErrDuplicate: the primary key holds it.
func (c *Catalog) Add(ctx context.Context, e *CatalogEntry) error {
	_, err := c.DB.Global().Insert(e).Exec(ctx)
	if db.IsUniqueViolation(err) {
		return ErrDuplicate
	}
	return err
}

// Put registers a module or replaces its executable and checksum (the command line's
// pre-registration, which the operator may change between two starts); an entry that says
// the same already is left as it is.
func (c *Catalog) Put(ctx context.Context, e *CatalogEntry) error {
	old, err := c.Get(ctx, e.ID)
	if err != nil {
		return err
	}
	if old != nil && old.Path == e.Path && old.SHA256 == e.SHA256 && old.Version == e.Version {
		return nil
	}
	_, err = c.DB.Global().Insert(e).
		On("CONFLICT (id) DO UPDATE").
		Set("version = EXCLUDED.version, path = EXCLUDED.path, sha256 = EXCLUDED.sha256").
		Set("registered_by = EXCLUDED.registered_by, registered_by_email = EXCLUDED.registered_by_email, registered_at = EXCLUDED.registered_at").
		Exec(ctx)
	return err
}

// Load makes every registered module known to the tenants store (a tenant may switch it
// on) and returns the entries.
func (c *Catalog) Load(ctx context.Context, known *tenancy.ModuleSet) ([]CatalogEntry, error) {
	es, err := c.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("module catalog: %w", err)
	}
	for _, e := range es {
		known.Add(e.ID)
	}
	return es, nil
}

var (
	versionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$`)
	sumRe     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidVersion reports whether v is a version a module may be registered with ("1.2.0").
func ValidVersion(v string) bool { return versionRe.MatchString(v) }

// NormalizeSum lowercases a hex SHA-256 and reports whether it is one (64 hex digits).
func NormalizeSum(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	return s, sumRe.MatchString(s)
}

// ErrNotExecutable is returned by FileSum for a path that is no executable file.
var ErrNotExecutable = errors.New("not an executable file")

// FileSum returns the SHA-256 (hex) of the executable at path, which must be absolute.
func FileSum(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%s: %w", path, ErrNotExecutable)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s: %w", path, ErrNotExecutable)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
