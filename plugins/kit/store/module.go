package store

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/sdk"
)

// A module's database. On SQLite it is a file of its own. On PostgreSQL it is a schema of
// its own, owned by a role of its own that migrates it (the owner); the module runs as a
// second role (the runtime role) that may read and write the schema's tables but owns none,
// is neither superuser nor BYPASSRLS, and so stays under the row-level security that the
// owner forces on every table that has a tenant_id column. Neither role has any right on
// the core's tables or another module's.

var moduleIDRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)

// ModuleRoles are the PostgreSQL roles of a module: the schema's owner and the runtime role.
func ModuleRoles(id string) (owner, runtime string) {
	return "platform_mod_" + id, "platform_mod_" + id + "_app"
}

// ModuleSchema is the PostgreSQL schema of a module.
func ModuleSchema(id string) string { return "mod_" + id }

// ProvisionSQLite returns the file of module id's database under dataDir/modules.
func ProvisionSQLite(dataDir, id string) (string, error) {
	if !moduleIDRe.MatchString(id) {
		return "", fmt.Errorf("module id %q", id)
	}
	dir := filepath.Join(dataDir, "modules")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	return filepath.Join(dir, id+".db"), nil
}

// ProvisionPostgres prepares module id's schema and roles in the database admin is connected
// to (admin may create roles), and returns the DSNs the module runs and migrates with: the
// runtime role's and the owner's, both with the schema as search_path. password, when set,
// is the password both roles log in with (the operator sets it on the roles).
func ProvisionPostgres(ctx context.Context, admin *bun.DB, adminDSN, id, password string) (runtimeDSN, ownerDSN string, err error) {
	if !moduleIDRe.MatchString(id) {
		return "", "", fmt.Errorf("module id %q", id)
	}
	owner, runtime := ModuleRoles(id)
	schema := ModuleSchema(id)
	for _, r := range []string{owner, runtime} {
		if err := CreateRole(ctx, admin, r); err != nil {
			return "", "", err
		}
	}
	var dbname string
	if err := admin.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		return "", "", err
	}
	for _, s := range []string{
		fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s", PgIdent(schema), PgIdent(owner)),
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s, %s", PgIdent(dbname), PgIdent(owner), PgIdent(runtime)),
		// A module's owner may not create extensions; btree_gist lets a module's migration
		// hold "never two overlapping rows for one key" in an exclusion constraint (the
		// calendar's slots, C9). Where the server lacks it, nothing is created, and only a
		// migration that needs it fails, naming it.
		"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist') THEN " +
			"CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public; END IF; " +
			"EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL; END $$",
	} {
		if err := ExecRetry(ctx, admin, s); err != nil {
			return "", "", fmt.Errorf("module schema: %w", err)
		}
	}
	if runtimeDSN, err = roleDSN(adminDSN, runtime, password, schema); err != nil {
		return "", "", err
	}
	ownerDSN, err = roleDSN(adminDSN, owner, password, schema)
	return runtimeDSN, ownerDSN, err
}

func roleDSN(dsn, role, password, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	if password != "" {
		u.User = url.UserPassword(role, password)
	} else {
		u.User = url.User(role)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Open opens module's own database as env gives it and applies the migrations found in
// migrations/<kind>/ of fsys, recorded in <module>_migrations. On PostgreSQL it migrates as
// the schema's owner, then forces row-level security on every table with a tenant_id column
// and grants the runtime role the use of the tables (never their ownership), and returns a
// handle connected as the runtime role, after checking that role is one RLS holds.
func Open(ctx context.Context, module string, env sdk.Env, fsys fs.FS) (*DB, error) {
	sub, err := fs.Sub(fsys, "migrations/"+env.DBKind)
	if err != nil {
		return nil, err
	}
	switch Kind(env.DBKind) {
	case SQLite:
		b, err := OpenSQLite(env.DSN)
		if err != nil {
			return nil, err
		}
		if err := Migrate(ctx, b, sub, module); err != nil {
			b.Close()
			return nil, err
		}
		r, err := OpenSQLiteReader(env.DSN)
		if err != nil {
			b.Close()
			return nil, err
		}
		return NewSplit(b, r, SQLite), nil
	case Postgres:
		if env.OwnerDSN == "" {
			return nil, fmt.Errorf("store %s: no owner DSN to migrate with: row-level security cannot be set up", module)
		}
		u, err := url.Parse(env.DSN)
		if err != nil || u.User == nil {
			return nil, fmt.Errorf("store %s: the runtime DSN names no role", module)
		}
		owner := OpenPostgres(env.OwnerDSN, 2)
		err = Migrate(ctx, owner, sub, module)
		var schema string
		if err == nil {
			schema, err = secure(ctx, owner, module, u.User.Username())
		}
		owner.Close()
		if err != nil {
			return nil, err
		}
		rt := OpenPostgres(env.DSN, 8)
		if err := CheckRuntimeRole(ctx, rt, schema); err != nil {
			rt.Close()
			return nil, err
		}
		return New(rt, Postgres), nil
	}
	return nil, fmt.Errorf("store: unknown database kind %q", env.DBKind)
}

// secure runs as the schema's owner after the migrations: every table with a tenant_id
// column gets row-level security, enabled and forced, keyed on TenantSetting; the runtime
// role may use every table but the migrations' own. It returns the schema's name.
func secure(ctx context.Context, owner *bun.DB, module, runtime string) (string, error) {
	var schema string
	if err := owner.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("store %s: schema: %w", module, err)
	}
	var tables []string
	err := owner.NewRaw(`SELECT c.table_name FROM information_schema.columns AS c
		JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = ? AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' ORDER BY 1`, schema).Scan(ctx, &tables)
	if err != nil {
		return "", fmt.Errorf("store %s: tenant tables: %w", module, err)
	}
	rt, sc := PgIdent(runtime), PgIdent(schema)
	stmts := []string{
		fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", sc, rt),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s", sc, rt),
		fmt.Sprintf("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s", sc, rt),
		fmt.Sprintf("REVOKE ALL ON %s, %s FROM %s", PgIdent(module+"_migrations"), PgIdent(module+"_migration_locks"), rt),
	}
	policy := fmt.Sprintf("tenant_id = current_setting(%s, true)", PgString(TenantSetting))
	for _, t := range tables {
		ti := sc + "." + PgIdent(t)
		// Another instance of the module may be starting too: a policy it just created is fine.
		stmts = append(stmts, "ALTER TABLE "+ti+" ENABLE ROW LEVEL SECURITY", "ALTER TABLE "+ti+" FORCE ROW LEVEL SECURITY",
			fmt.Sprintf("DO $$ BEGIN CREATE POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s); "+
				"EXCEPTION WHEN duplicate_object THEN NULL; END $$", ti, policy, policy))
	}
	for _, s := range stmts {
		if err := ExecRetry(ctx, owner, s); err != nil {
			return "", fmt.Errorf("store %s: %w", module, err)
		}
	}
	return schema, nil
}
