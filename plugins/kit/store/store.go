// Package store opens a module's own database (the SQLite file or PostgreSQL schema the host
// gives it) with bun and runs the module's migrations. It holds no module state.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"

	"carenet.dev/platform/plugins/sdk"
)

// Open opens the module's database from env and applies the migrations found in
// migrations/<kind>/ of fsys (bun's NNN_name.up.sql files), recording them in
// <module>_migrations.
func Open(ctx context.Context, module string, env sdk.Env, fsys fs.FS) (*bun.DB, error) {
	var db *bun.DB
	switch env.DBKind {
	case "sqlite":
		sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+env.DSN+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		sqldb.SetMaxOpenConns(4)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	case "postgres":
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(env.DSN), pgdriver.WithTimeout(10*time.Second)))
		sqldb.SetMaxOpenConns(8)
		db = bun.NewDB(sqldb, pgdialect.New())
	default:
		return nil, fmt.Errorf("store: unknown database kind %q", env.DBKind)
	}
	sub, err := fs.Sub(fsys, "migrations/"+env.DBKind)
	if err != nil {
		db.Close()
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	prefix := strings.ReplaceAll(module, "-", "_")
	m := migrate.NewMigrator(db, ms, migrate.WithTableName(prefix+"_migrations"),
		migrate.WithLocksTableName(prefix+"_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init migrations: %w", err)
	}
	for i := 0; ; i++ {
		if err = m.Lock(ctx); err == nil {
			break
		}
		if i > 100 {
			db.Close()
			return nil, fmt.Errorf("store: lock: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer m.Unlock(ctx) //nolint:errcheck
	if _, err := m.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return db, nil
}
