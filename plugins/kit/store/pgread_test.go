package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

// TestPostgresReadsCarryTheirTenant: on PostgreSQL a tenant read runs without a transaction
// of its own, each statement carrying the tenant (issue 10). Row-level security still
// filters a statement that forgets tenant_id, a read cannot write, and nothing of the tenant
// stays on the connection for the next statement.
func TestPostgresReadsCarryTheirTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		if b != "postgres" {
			t.Skip("PostgreSQL only")
		}
		ctx := context.Background()
		env := storetest.Env(t, b, "boundtest")
		d, err := store.Open(ctx, "boundtest", env, migrations("TIMESTAMPTZ"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for _, tenant := range []string{"a", "b", "c"} {
			if err := d.InTenant(ctx, tenant, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Insert(&person{TenantID: tenant, ID: "p1", Name: tenant}).Exec(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		// One connection: the next statement runs where the read ran.
		one := store.OpenPostgres(env.DSN, 1)
		defer one.Close()
		d1 := store.New(one, store.Postgres)
		var names []string
		err = d1.ReadTenant(ctx, "b", func(ctx context.Context, sc *store.Scope) error {
			// No tenant_id in the statement: row-level security alone filters it.
			return sc.Tx.NewRaw("SELECT name FROM bound_people ORDER BY name").Scan(ctx, &names)
		})
		if err != nil || strings.Join(names, ",") != "b" {
			t.Fatalf("a read of b saw %v (%v)", names, err)
		}
		var setting sql.NullString
		if err := one.QueryRowContext(ctx, "SELECT current_setting('"+store.TenantSetting+"', true)").Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting.String != "" {
			t.Fatalf("the tenant stayed on the connection: %q", setting.String)
		}
		var n int
		if err := one.QueryRowContext(ctx, "SELECT count(*) FROM bound_people").Scan(&n); err != nil || n != 0 {
			t.Fatalf("a statement after the read saw %d rows (%v)", n, err)
		}
		err = d1.ReadTenant(ctx, "b", func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&person{TenantID: "b", ID: "p2", Name: "intruder"}).Exec(ctx)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("a read wrote: %v", err)
		}
		// A failed read leaves the connection usable and clean.
		_ = d1.ReadTenant(ctx, "b", func(ctx context.Context, sc *store.Scope) error {
			return sc.Tx.NewRaw("SELECT 1/0").Scan(ctx, &n)
		})
		if err := d1.ReadTenant(ctx, "c", func(ctx context.Context, sc *store.Scope) error {
			return sc.Tx.NewRaw("SELECT name FROM bound_people").Scan(ctx, &names)
		}); err != nil || strings.Join(names, ",") != "c" {
			t.Fatalf("after a failed read, a read of c saw %v (%v)", names, err)
		}
	})
}
