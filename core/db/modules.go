package db

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
)

var moduleIDRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)

// ModuleDSN prepares the database of a module and returns its DSN and kind. On SQLite it is
// a file of its own under <data>/modules/. On PostgreSQL it is a schema of its own, owned by
// a role of its own that has no right on the core's tables (nor on any other module's): the
// DSN connects as that role with the schema as search_path.
func (d *DB) ModuleDSN(ctx context.Context, id string) (dsn string, kind Kind, err error) {
	if !moduleIDRe.MatchString(id) {
		return "", "", fmt.Errorf("module id %q", id)
	}
	if d.Kind == SQLite {
		dir := filepath.Join(d.cfg.DataDir, "modules")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", "", err
		}
		return filepath.Join(dir, id+".db"), SQLite, nil
	}
	owner, err := openPostgres(d.cfg.DSN)
	if err != nil {
		return "", "", err
	}
	defer owner.Close()
	role, schema := "platform_mod_"+id, "mod_"+id
	create := fmt.Sprintf(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN
    CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`, pgString(role), pgIdent(role))
	if _, err := owner.ExecContext(ctx, create); err != nil {
		return "", "", fmt.Errorf("module role: %w", err)
	}
	var dbname string
	if err := owner.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		return "", "", err
	}
	for _, s := range []string{
		fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s", pgIdent(schema), pgIdent(role)),
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pgIdent(dbname), pgIdent(role)),
	} {
		if err := execRetry(ctx, owner, s); err != nil {
			return "", "", fmt.Errorf("module schema: %w", err)
		}
	}
	u, err := url.Parse(d.cfg.DSN)
	if err != nil {
		return "", "", err
	}
	if pw := os.Getenv("PLATFORM_DB_MODULE_PASSWORD"); pw != "" {
		u.User = url.UserPassword(role, pw)
	} else {
		u.User = url.User(role)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), Postgres, nil
}
