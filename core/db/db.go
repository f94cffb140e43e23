// Package db owns the core's database: opening SQLite or PostgreSQL through bun, the core's
// migrations, the PostgreSQL runtime role and row-level security, and the scoped query
// helper that every repository uses. It must not know about HTTP or any domain rule.
package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit/store"
)

// Kind names the database engine behind a DB.
type Kind = store.Kind

// The engines.
const (
	SQLite   = store.SQLite
	Postgres = store.Postgres
)

// DefaultAppRole is the PostgreSQL role the platform runs as: no superuser, no BYPASSRLS,
// owner of nothing. Migrations run as the role named in the DSN, which owns the tables.
const DefaultAppRole = "platform_app"

//go:embed migrations
var migrationFiles embed.FS

// Config says where the data lives.
type Config struct {
	// DSN is empty for the embedded SQLite default, or a postgres:// URL.
	DSN string
	// DataDir holds platform.db (SQLite) and every other file the platform writes.
	DataDir string
	// AppRole is the PostgreSQL runtime role; DefaultAppRole when empty.
	AppRole string
	// AppPassword is the runtime role's password, when the server asks for one.
	AppPassword string
}

// DB is the core database. Bun is the runtime handle (on PostgreSQL it connects as the
// runtime role); repositories reach it only through InTenant, InPlatform and Global.
type DB struct {
	Bun  *bun.DB
	Kind Kind
	cfg  Config
	st   *store.DB
}

// Open migrates the database (as its owner) and returns the runtime handle.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.AppRole == "" {
		cfg.AppRole = DefaultAppRole
	}
	if cfg.DSN == "" || !store.IsPostgres(cfg.DSN) {
		return openSQLite(ctx, cfg)
	}
	owner := store.OpenPostgres(cfg.DSN, 4)
	if err := migrateDB(ctx, owner, Postgres); err != nil {
		owner.Close()
		return nil, err
	}
	if err := ensureAppRole(ctx, owner, cfg); err != nil {
		owner.Close()
		return nil, err
	}
	owner.Close()
	appDSN, err := withUser(cfg.DSN, cfg.AppRole, cfg.AppPassword)
	if err != nil {
		return nil, err
	}
	rt := store.OpenPostgres(appDSN, 20)
	d := &DB{Bun: rt, Kind: Postgres, cfg: cfg, st: store.New(rt, Postgres)}
	if err := store.CheckRuntimeRole(ctx, rt, "public"); err != nil {
		rt.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the connections.
func (d *DB) Close() error { return d.st.Close() }

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.Bun.PingContext(ctx) }

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	path := cfg.DSN
	if path == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		path = filepath.Join(cfg.DataDir, "platform.db")
	}
	b, err := store.OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	if err := migrateDB(ctx, b, SQLite); err != nil {
		b.Close()
		return nil, err
	}
	r, err := store.OpenSQLiteReader(path)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &DB{Bun: b, Kind: SQLite, cfg: cfg, st: store.NewSplit(b, r, SQLite)}, nil
}

func migrateDB(ctx context.Context, b *bun.DB, kind Kind) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(kind))
	if err != nil {
		return err
	}
	return store.Migrate(ctx, b, sub, "core")
}

// ensureAppRole creates the runtime role when missing and grants it data access (never
// ownership) on this database. Roles are cluster-wide, so a concurrent creation by another
// database's migration is tolerated.
func ensureAppRole(ctx context.Context, owner *bun.DB, cfg Config) error {
	role := store.PgIdent(cfg.AppRole)
	if err := store.CreateRole(ctx, owner, cfg.AppRole); err != nil {
		return err
	}
	if cfg.AppPassword != "" {
		if _, err := owner.ExecContext(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", role, store.PgString(cfg.AppPassword))); err != nil {
			return fmt.Errorf("set runtime role password: %w", err)
		}
	}
	var dbname string
	if err := owner.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", store.PgIdent(dbname), role),
		fmt.Sprintf("GRANT USAGE ON SCHEMA public TO %s", role),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s", role),
		fmt.Sprintf("REVOKE ALL ON core_migrations, core_migration_locks FROM %s", role),
		// The audit trail is append-only for the running platform.
		fmt.Sprintf("REVOKE UPDATE, DELETE ON audit_log FROM %s", role),
		fmt.Sprintf("REVOKE DELETE ON audit_heads FROM %s", role),
		fmt.Sprintf("REVOKE UPDATE, DELETE ON audit_checkpoints FROM %s", role),
		// The job runner's one cross-tenant statement: it returns tenant and id only.
		fmt.Sprintf("GRANT EXECUTE ON FUNCTION claim_due_jobs(TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER) TO %s", role),
	}
	for _, s := range stmts {
		if err := store.ExecRetry(ctx, owner, s); err != nil {
			return fmt.Errorf("grant runtime role: %w", err)
		}
	}
	return nil
}

func withUser(dsn, user, password string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure on either engine.
func IsUniqueViolation(err error) bool { return store.IsUniqueViolation(err) }
