package db

import (
	"context"
	"os"

	"carenet.dev/platform/plugins/kit/store"
)

// ModuleDSN prepares the database of a module and returns the DSN it runs with, the DSN it
// migrates with (PostgreSQL only) and the kind. On SQLite it is a file of its own under
// <data>/modules/. On PostgreSQL it is a schema of its own, owned by a role of its own, and
// the module runs as a second role that owns nothing: neither role has a right on the
// core's tables or on another module's (plugins/kit/store).
func (d *DB) ModuleDSN(ctx context.Context, id string) (dsn, ownerDSN string, kind Kind, err error) {
	if d.Kind == SQLite {
		path, err := store.ProvisionSQLite(d.cfg.DataDir, id)
		return path, "", SQLite, err
	}
	admin := store.OpenPostgres(d.cfg.DSN, 2)
	defer admin.Close()
	dsn, ownerDSN, err = store.ProvisionPostgres(ctx, admin, d.cfg.DSN, id, os.Getenv("PLATFORM_DB_MODULE_PASSWORD"))
	return dsn, ownerDSN, Postgres, err
}
