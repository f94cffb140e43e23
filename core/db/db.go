// Package db owns the core's database: opening SQLite or PostgreSQL through bun, the core's
// migrations, the PostgreSQL runtime role and row-level security, and the scoped query
// helper that every repository uses. It must not know about HTTP or any domain rule.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"
)

// Kind names the database engine behind a DB.
type Kind string

const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
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
}

// Open migrates the database (as its owner) and returns the runtime handle.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.AppRole == "" {
		cfg.AppRole = DefaultAppRole
	}
	if cfg.DSN == "" || !isPostgres(cfg.DSN) {
		return openSQLite(ctx, cfg)
	}
	owner, err := openPostgres(cfg.DSN)
	if err != nil {
		return nil, err
	}
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
	rt, err := openPostgres(appDSN)
	if err != nil {
		return nil, err
	}
	d := &DB{Bun: rt, Kind: Postgres, cfg: cfg}
	if err := d.checkRuntimeRole(ctx); err != nil {
		rt.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the connections.
func (d *DB) Close() error { return d.Bun.Close() }

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.Bun.PingContext(ctx) }

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	path := cfg.DSN
	if path == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		path = filepath.Join(cfg.DataDir, "platform.db")
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writer at a time is SQLite's rule; a few connections let readers run beside it.
	sqldb.SetMaxOpenConns(8)
	b := bun.NewDB(sqldb, sqlitedialect.New())
	if err := migrateDB(ctx, b, SQLite); err != nil {
		b.Close()
		return nil, err
	}
	return &DB{Bun: b, Kind: SQLite, cfg: cfg}, nil
}

func openPostgres(dsn string) (*bun.DB, error) {
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn), pgdriver.WithTimeout(10*time.Second)))
	sqldb.SetMaxOpenConns(20)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

func migrateDB(ctx context.Context, b *bun.DB, kind Kind) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(kind))
	if err != nil {
		return err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return fmt.Errorf("migrate: discover: %w", err)
	}
	m := migrate.NewMigrator(b, ms, migrate.WithTableName("core_migrations"),
		migrate.WithLocksTableName("core_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate: init: %w", err)
	}
	// Several instances may start together: the lock table lets one migrate at a time.
	for i := 0; ; i++ {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if i > 100 {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer m.Unlock(ctx) //nolint:errcheck
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// ensureAppRole creates the runtime role when missing and grants it data access (never
// ownership) on this database. Roles are cluster-wide, so a concurrent creation by another
// database's migration is tolerated.
func ensureAppRole(ctx context.Context, owner *bun.DB, cfg Config) error {
	role := pgIdent(cfg.AppRole)
	create := fmt.Sprintf(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN
    CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`, pgString(cfg.AppRole), role)
	if _, err := owner.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create runtime role: %w", err)
	}
	if cfg.AppPassword != "" {
		if _, err := owner.ExecContext(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", role, pgString(cfg.AppPassword))); err != nil {
			return fmt.Errorf("set runtime role password: %w", err)
		}
	}
	var dbname string
	if err := owner.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pgIdent(dbname), role),
		fmt.Sprintf("GRANT USAGE ON SCHEMA public TO %s", role),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s", role),
		fmt.Sprintf("REVOKE ALL ON core_migrations, core_migration_locks FROM %s", role),
		// The audit trail is append-only for the running platform.
		fmt.Sprintf("REVOKE UPDATE, DELETE ON audit_log FROM %s", role),
		fmt.Sprintf("REVOKE DELETE ON audit_heads FROM %s", role),
	}
	for _, s := range stmts {
		if err := execRetry(ctx, owner, s); err != nil {
			return fmt.Errorf("grant runtime role: %w", err)
		}
	}
	return nil
}

// execRetry runs a catalog statement that may collide with the same statement run by
// another database's migration at the same moment ("tuple concurrently updated").
func execRetry(ctx context.Context, b *bun.DB, stmt string) error {
	var err error
	for i := 0; i < 20; i++ {
		if _, err = b.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "concurrently") {
			return err
		}
		time.Sleep(time.Duration(20*(i+1)) * time.Millisecond)
	}
	return err
}

// checkRuntimeRole refuses to run as a role that row-level security would not hold.
func (d *DB) checkRuntimeRole(ctx context.Context) error {
	var super, bypass bool
	var user string
	err := d.Bun.QueryRowContext(ctx,
		"SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&user, &super, &bypass)
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if super || bypass {
		return fmt.Errorf("runtime role %q is superuser or has BYPASSRLS: row-level security would not hold", user)
	}
	var owned int
	err = d.Bun.QueryRowContext(ctx,
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user").Scan(&owned)
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if owned > 0 {
		return fmt.Errorf("runtime role %q owns %d tables: row-level security would not hold", user, owned)
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

func pgIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func pgString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// IsUniqueViolation reports whether err is a unique-constraint failure on either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == "23505"
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE")
}
