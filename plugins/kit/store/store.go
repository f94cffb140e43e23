// Package store is the data discipline of the platform, one implementation for the core and
// for every module: it opens SQLite or PostgreSQL through bun with one set of settings, runs
// migrations with one routine, and scopes every query on a tenant table to one tenant twice:
// in code (a Scope adds tenant_id to every query built from it and refuses rows of another
// tenant; Global refuses tenant tables) and, on PostgreSQL, by row-level security keyed on
// app.tenant_id, which InTenant sets at the start of each transaction.
//
// A tenant table is one whose primary key starts with tenant_id (ARCHITECTURE "Data"); the
// rule is read from the bun model, so no model has to say it twice.
//
// It holds no state of the core or of a module, and imports nothing of either.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"
	"github.com/uptrace/bun/schema"
)

// Kind names a database engine.
type Kind string

// The engines the platform runs on.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// TenantSetting is the PostgreSQL setting that row-level security policies compare
// tenant_id with; InTenant sets it with set_config(…, true), which lasts one transaction.
const TenantSetting = "app.tenant_id"

// PlatformDomain is the scope of platform-wide rows (the core's Casbin rules of the
// platform admin).
const PlatformDomain = "*"

// ErrUnscoped is returned by a query on a tenant table that was not built through a Scope.
var ErrUnscoped = errors.New("store: query on a tenant table outside a tenant scope")

// ErrTenantMismatch is returned when a row handed to a Scope belongs to another tenant.
var ErrTenantMismatch = errors.New("store: row belongs to another tenant")

// OpenSQLite opens a SQLite file with the platform's settings: write-ahead log, a busy
// timeout instead of "database is locked", foreign keys on, and write transactions that take
// the lock when they begin (so that two writers never deadlock on an upgrade).
func OpenSQLite(path string) (*bun.DB, error) {
	return openSQLite(path, "&_txlock=immediate", 4)
}

// OpenSQLiteReader opens the read side of a SQLite file: its transactions begin deferred, so
// reads never queue behind the write lock (WAL lets them read while a write goes on), and
// its connections refuse to write.
func OpenSQLiteReader(path string) (*bun.DB, error) {
	return openSQLite(path, "&_txlock=deferred&_pragma=query_only(1)", 16)
}

func openSQLite(path, extra string, conns int) (*bun.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" + extra
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	b := bun.NewDB(sqldb, sqlitedialect.New())
	b.AddQueryHook(counter{})
	return b, nil
}

// OpenPostgres opens a PostgreSQL database with the platform's settings.
func OpenPostgres(dsn string, maxConns int) *bun.DB {
	sqldb := sql.OpenDB(tenantConnector{pgdriver.NewConnector(pgdriver.WithDSN(dsn), pgdriver.WithTimeout(10*time.Second))})
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	b := bun.NewDB(sqldb, pgdialect.New())
	b.AddQueryHook(counter{})
	return b
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Migrate applies the migrations of fsys (bun's NNN_name.up.sql files, "--bun:split"
// between statements) that b has not applied yet, recording them in <prefix>_migrations.
// Several processes may start together: a lock table lets one migrate at a time.
func Migrate(ctx context.Context, b *bun.DB, fsys fs.FS, prefix string) error {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return fmt.Errorf("migrate %s: discover: %w", prefix, err)
	}
	m := migrate.NewMigrator(b, ms, migrate.WithTableName(prefix+"_migrations"),
		migrate.WithLocksTableName(prefix+"_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate %s: init: %w", prefix, err)
	}
	for i := 0; ; i++ {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if i > 100 {
			return fmt.Errorf("migrate %s: lock: %w", prefix, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer m.Unlock(ctx) //nolint:errcheck
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", prefix, err)
	}
	return nil
}

// DB is a database with the platform's discipline: tenant tables are reached only through
// InTenant and ReadTenant (or, for the tables of no tenant, through Global).
type DB struct {
	b    *bun.DB // writes, and everything on PostgreSQL
	r    *bun.DB // reads: on SQLite deferred, query-only connections
	kind Kind
	// ws and rs are the reads prepared on each pool (SelectBound).
	ws, rs stmts
}

// New wraps an opened database: reads and writes share its connections.
func New(b *bun.DB, kind Kind) *DB { return &DB{b: b, r: b, kind: kind} }

// NewSplit wraps a database whose reads go through their own connections (SQLite: reader
// connections never take the write lock).
func NewSplit(writer, reader *bun.DB, kind Kind) *DB { return &DB{b: writer, r: reader, kind: kind} }

// Kind is the engine behind the database.
func (d *DB) Kind() Kind { return d.kind }

// Close releases the connections.
func (d *DB) Close() error {
	d.ws.close()
	d.rs.close()
	if d.r != d.b {
		_ = d.r.Close()
	}
	return d.b.Close()
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.b.PingContext(ctx) }

// Scope is a tenant's view of the database. Every query built from it is filtered on
// tenant_id, rows handed to it must carry its tenant, and on PostgreSQL row-level security
// filters again (app.tenant_id). Tx runs the scope's statements — a transaction, or on
// PostgreSQL for a read the pool itself, each statement carrying the tenant — and is there
// for the rare statement a builder cannot express; such a statement filters on tenant_id
// itself and runs with the context fn was given.
type Scope struct {
	Tx       bun.IDB
	TenantID string

	db    *DB    // where the statements go (nil: a scope made by hand)
	write bool   // the writer's pool
	raw   runner // Tx without bun: what a bound read runs on
}

// runner is a *sql.Tx or a *sql.DB.
type runner interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTenant runs fn in a write transaction scoped to tenantID (on SQLite it takes the write
// lock when it begins); fn's error rolls it back. The reads of the request after it see what
// it wrote.
func (d *DB) InTenant(ctx context.Context, tenantID string, fn func(ctx context.Context, s *Scope) error) error {
	if tenantID == "" {
		return ErrUnscoped
	}
	if r := requestOf(ctx); r != nil {
		r.endRead()
	}
	ctx = context.WithValue(ctx, pgReadKey{}, "") // a write inside a read is a write
	return d.b.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if err := d.setTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		return fn(ctx, &Scope{Tx: tx, TenantID: tenantID, db: d, write: true, raw: tx.Tx})
	})
}

// setTenant sets the tenant row-level security filters on, for the transaction (PostgreSQL).
// It is the transaction's bookkeeping, like BEGIN: not counted as a statement of the request.
func (d *DB) setTenant(ctx context.Context, tx bun.Tx, tenantID string) error {
	if d.kind != Postgres {
		return nil
	}
	if _, err := tx.Tx.ExecContext(ctx, "SELECT set_config($1, $2, true)", TenantSetting, tenantID); err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}
	return nil
}

// ReadTenant runs fn reading tenantID's rows, never writing (fn must not write: the reads
// refuse to). On SQLite it is a read-only transaction on the reader connections, which never
// takes the write lock; within a request (Request) every read of one tenant shares one such
// transaction until the request writes. On PostgreSQL each statement carries the tenant and
// runs read-only on its own (pgread.go): no transaction round trips at all.
func (d *DB) ReadTenant(ctx context.Context, tenantID string, fn func(ctx context.Context, s *Scope) error) error {
	if tenantID == "" {
		return ErrUnscoped
	}
	if d.kind == Postgres {
		return fn(pgRead(ctx, tenantID), &Scope{Tx: d.r, TenantID: tenantID, db: d, raw: d.r.DB})
	}
	r := requestOf(ctx)
	if r == nil {
		return d.r.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
			return fn(ctx, &Scope{Tx: tx, TenantID: tenantID, db: d, write: d.r == d.b, raw: tx.Tx})
		})
	}
	tx, err := r.readTx(ctx, d, tenantID)
	if err != nil {
		return err
	}
	err = fn(ctx, &Scope{Tx: tx, TenantID: tenantID, db: d, write: d.r == d.b, raw: tx.Tx})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		// A failed statement may have aborted the transaction: the next read begins anew.
		r.endRead()
	}
	return err
}

// Select starts a SELECT on model filtered to this tenant.
func (s *Scope) Select(model any) *bun.SelectQuery {
	return s.Tx.NewSelect().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
}

// Update starts an UPDATE on model filtered to this tenant.
func (s *Scope) Update(model any) *bun.UpdateQuery {
	q := s.Tx.NewUpdate().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
	if err := s.checkRows(model); err != nil {
		q = q.Err(err)
	}
	return q
}

// Delete starts a DELETE on model filtered to this tenant.
func (s *Scope) Delete(model any) *bun.DeleteQuery {
	return s.Tx.NewDelete().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
}

// Insert starts an INSERT of model, which must carry this tenant's id in every row.
func (s *Scope) Insert(model any) *bun.InsertQuery {
	q := s.Tx.NewInsert().Model(model)
	if err := s.checkRows(model); err != nil {
		q = q.Err(err)
	}
	return q
}

// checkRows refuses rows of another tenant (or rows that left their tenant id empty).
func (s *Scope) checkRows(model any) error {
	t := tenantTable(s.Tx.Dialect().Tables(), model)
	if t == nil {
		return nil
	}
	v := reflect.ValueOf(model)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	check := func(x reflect.Value) error {
		for x.Kind() == reflect.Pointer {
			if x.IsNil() {
				return nil
			}
			x = x.Elem()
		}
		if got := t.PKs[0].Value(x).String(); got != s.TenantID {
			return fmt.Errorf("%w: %q in scope %q", ErrTenantMismatch, got, s.TenantID)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := check(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return check(v)
	}
	return nil
}

// tenantTable returns the bun table of model when it is a tenant table (its primary key
// starts with tenant_id), else nil.
func tenantTable(tables *schema.Tables, model any) *schema.Table {
	typ := reflect.TypeOf(model)
	for typ != nil && (typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice) {
		typ = typ.Elem()
	}
	if typ == nil || typ.Kind() != reflect.Struct {
		return nil
	}
	t := tables.Get(typ)
	if t == nil || len(t.PKs) == 0 || t.PKs[0].Name != "tenant_id" {
		return nil
	}
	return t
}

// IsTenantTable reports whether model is stored in a tenant table.
func (d *DB) IsTenantTable(model any) bool { return tenantTable(d.b.Dialect().Tables(), model) != nil }

// Global is the handle for tables that belong to no tenant (the core's tenants, hostnames,
// secrets). It refuses any tenant table with ErrUnscoped.
type Global struct{ db bun.IDB }

// Global returns the handle for the tables of no tenant.
func (d *DB) Global() *Global { return &Global{db: d.b} }

// GlobalRead returns the handle for reading the tables of no tenant, on the read
// connections.
func (d *DB) GlobalRead() *Global { return &Global{db: d.r} }

// GlobalTx returns the Global handle inside an existing transaction.
func GlobalTx(tx bun.IDB) *Global { return &Global{db: tx} }

func (g *Global) owned(model any) bool { return tenantTable(g.db.Dialect().Tables(), model) != nil }

// Select starts a SELECT on a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Select(model any) *bun.SelectQuery {
	q := g.db.NewSelect().Model(model)
	if g.owned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Insert starts an INSERT into a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Insert(model any) *bun.InsertQuery {
	q := g.db.NewInsert().Model(model)
	if g.owned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Update starts an UPDATE of a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Update(model any) *bun.UpdateQuery {
	q := g.db.NewUpdate().Model(model)
	if g.owned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Delete starts a DELETE on a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Delete(model any) *bun.DeleteQuery {
	q := g.db.NewDelete().Model(model)
	if g.owned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

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

// IsExclusionViolation reports whether err is PostgreSQL's refusal of a row an exclusion
// constraint excludes (two overlapping ranges of one key); SQLite has no such constraint.
func IsExclusionViolation(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "23P01"
}

// IsDeadlock reports whether PostgreSQL aborted the transaction to break a deadlock (two
// inserts waiting on each other's rows, as an exclusion constraint may make them): the
// transaction may run again, and then meets the other one's committed rows.
func IsDeadlock(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "40P01"
}

// PgIdent quotes a PostgreSQL identifier.
func PgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// PgString quotes a PostgreSQL string literal.
func PgString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// ExecRetry runs a catalog statement that may collide with the same statement run by
// another process at the same moment ("tuple concurrently updated").
func ExecRetry(ctx context.Context, b bun.IDB, stmt string) error {
	var err error
	for i := 0; i < 20; i++ {
		if _, err = b.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "concurrently") {
			return err
		}
		time.Sleep(time.Duration(20*(i+1)) * time.Millisecond)
	}
	return err
}

// CreateRole creates a login role with no special right (not superuser, no BYPASSRLS, no
// database or role creation) unless it exists. Roles are cluster-wide, so a concurrent
// creation by another process is tolerated.
func CreateRole(ctx context.Context, b bun.IDB, role string) error {
	stmt := fmt.Sprintf(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN
    CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`, PgString(role), PgIdent(role))
	if _, err := b.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("create role %s: %w", role, err)
	}
	return nil
}

// CheckRuntimeRole refuses to run as a role that row-level security would not hold: a
// superuser, a role with BYPASSRLS, or the owner of any table of schema.
func CheckRuntimeRole(ctx context.Context, b bun.IDB, schema string) error {
	var super, bypass bool
	var user string
	err := b.QueryRowContext(ctx,
		"SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&user, &super, &bypass)
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if super || bypass {
		return fmt.Errorf("runtime role %q is superuser or has BYPASSRLS: row-level security would not hold", user)
	}
	var owned int
	err = b.QueryRowContext(ctx,
		"SELECT count(*) FROM pg_tables WHERE schemaname = ? AND tableowner = current_user", schema).Scan(&owned)
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if owned > 0 {
		return fmt.Errorf("runtime role %q owns %d tables: row-level security would not hold", user, owned)
	}
	return nil
}
