package db_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
)

type tenantRow struct {
	bun.BaseModel `bun:"table:tenants,alias:t"`
	ID            string    `bun:"id,pk"`
	Slug          string    `bun:"slug"`
	Kind          string    `bun:"kind"`
	Status        string    `bun:"status"`
	Settings      string    `bun:"settings"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`
	TenantID      string    `bun:"tenant_id,pk"`
	ID            string    `bun:"id,pk"`
	Email         string    `bun:"email"`
	PasswordHash  string    `bun:"password_hash"`
	Name          string    `bun:"name"`
	Status        string    `bun:"status"`
	CreatedAt     time.Time `bun:"created_at"`
}

func (u *userRow) OwnerTenant() string { return u.TenantID }

func seed(t *testing.T, d *db.DB) (a, b string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for _, s := range []string{"a", "b"} {
		tr := &tenantRow{ID: "tenant-" + s, Slug: s + "lab", Kind: "tenant", Status: "active", Settings: "{}", CreatedAt: now, UpdatedAt: now}
		if _, err := d.Global().Insert(tr).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		err := d.InTenant(ctx, tr.ID, func(ctx context.Context, sc *db.Scope) error {
			u := &userRow{TenantID: tr.ID, ID: "user-" + s, Email: s + "@example.org", Name: s, Status: "active", CreatedAt: now}
			_, err := sc.Insert(u).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return "tenant-a", "tenant-b"
}

// TestScopedQueries: a tenant table is only reachable through a tenant scope, which filters
// every query on tenant_id and refuses rows of another tenant (P1).
func TestScopedQueries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		ta, tb := seed(t, d)

		var all []userRow
		err := d.Global().Select(&all).Scan(ctx)
		if !errors.Is(err, db.ErrUnscoped) {
			t.Fatalf("unscoped select on a tenant table: %v", err)
		}
		if _, err := d.Global().Delete((*userRow)(nil)).Where("1 = 1").Exec(ctx); !errors.Is(err, db.ErrUnscoped) {
			t.Fatalf("unscoped delete on a tenant table: %v", err)
		}
		if _, err := d.Global().Update((*userRow)(nil)).Set("name = 'x'").Where("1 = 1").Exec(ctx); !errors.Is(err, db.ErrUnscoped) {
			t.Fatalf("unscoped update on a tenant table: %v", err)
		}

		err = d.InTenant(ctx, ta, func(ctx context.Context, sc *db.Scope) error {
			var us []userRow
			if err := sc.Select(&us).Scan(ctx); err != nil {
				return err
			}
			if len(us) != 1 || us[0].TenantID != ta {
				t.Fatalf("scope a sees %+v", us)
			}
			// Even naming b's row by id finds nothing.
			n, err := sc.Select((*userRow)(nil)).Where("id = ?", "user-b").Count(ctx)
			if err != nil || n != 0 {
				t.Fatalf("scope a counts b's row: %d %v", n, err)
			}
			// Updating and deleting b's row by id touch nothing.
			res, err := sc.Update((*userRow)(nil)).Set("name = 'hacked'").Where("id = ?", "user-b").Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Fatalf("scope a updated b's row")
			}
			// Inserting a row for b from a's scope is refused.
			_, err = sc.Insert(&userRow{TenantID: tb, ID: "intruder", Email: "i@example.org", Status: "active", CreatedAt: time.Now()}).Exec(ctx)
			if !errors.Is(err, db.ErrTenantMismatch) {
				t.Fatalf("insert for another tenant: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = d.InTenant(ctx, tb, func(ctx context.Context, sc *db.Scope) error {
			var u userRow
			if err := sc.Select(&u).Where("id = ?", "user-b").Scan(ctx); err != nil {
				return err
			}
			if u.Name != "b" {
				t.Fatalf("b's row changed: %q", u.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.InTenant(ctx, "", func(context.Context, *db.Scope) error { return nil }); !errors.Is(err, db.ErrUnscoped) {
			t.Fatalf("empty tenant scope: %v", err)
		}
	})
}

// TestTenantIDFirstInPrimaryKey: every table with a tenant_id column has it as the first
// column of its primary key (ARCHITECTURE "Data").
func TestTenantIDFirstInPrimaryKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		type col struct{ table, column string }
		var firsts []col
		var tables []string
		if d.Kind == db.SQLite {
			rows, err := d.Bun.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
				WHERE m.type = 'table' AND p.pk = 1`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var c col
				rows.Scan(&c.table, &c.column)
				firsts = append(firsts, c)
			}
			rows.Close()
			err = d.Bun.NewRaw(`SELECT DISTINCT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
				WHERE m.type = 'table' AND p.name = 'tenant_id'`).Scan(ctx, &tables)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			rows, err := d.Bun.QueryContext(ctx, `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
				WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' AND kcu.ordinal_position = 1`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var c col
				rows.Scan(&c.table, &c.column)
				firsts = append(firsts, c)
			}
			rows.Close()
			err = d.Bun.NewRaw(`SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id'`).Scan(ctx, &tables)
			if err != nil {
				t.Fatal(err)
			}
		}
		first := map[string]string{}
		for _, c := range firsts {
			first[c.table] = c.column
		}
		if len(tables) < 7 {
			t.Fatalf("only %d tenant tables found: %v", len(tables), tables)
		}
		for _, tb := range tables {
			if tb == "tenant_hostnames" {
				continue // a hostname is globally unique: its key is the hostname itself
			}
			if first[tb] != "tenant_id" {
				t.Errorf("%s: first primary key column is %q", tb, first[tb])
			}
		}
	})
}

// TestRowLevelSecurity: on PostgreSQL the runtime role is no superuser, has no BYPASSRLS,
// owns no table, and row-level security hides other tenants' rows even from a raw query
// that forgets the tenant filter (ARCHITECTURE "Data").
func TestRowLevelSecurity(t *testing.T) {
	pg := dbtest.Postgres(t)
	d := pg.Open(t)
	ctx := context.Background()
	ta, tb := seed(t, d)

	var super, bypass bool
	if err := d.Bun.QueryRowContext(ctx, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("runtime role: superuser=%v bypassrls=%v", super, bypass)
	}
	var notForced int
	d.Bun.QueryRowContext(ctx, `SELECT count(*) FROM pg_class c JOIN information_schema.columns col ON col.table_name = c.relname
		WHERE col.table_schema = 'public' AND col.column_name = 'tenant_id' AND c.relname <> 'tenant_hostnames'
		AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`).Scan(&notForced)
	if notForced != 0 {
		t.Fatalf("%d tenant tables without forced row-level security", notForced)
	}

	// Outside any tenant scope, a raw query sees no tenant rows at all.
	var n int
	if err := d.Bun.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 0 {
		t.Fatalf("raw count outside a scope: %d %v", n, err)
	}
	// In a's scope, a raw query without a tenant filter still sees only a's rows, and cannot
	// write b's.
	err := d.InTenant(ctx, ta, func(ctx context.Context, sc *db.Scope) error {
		var ids []string
		if err := sc.Tx.NewRaw("SELECT id FROM users").Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] != "user-a" {
			t.Fatalf("raw select in scope a: %v", ids)
		}
		res, err := sc.Tx.ExecContext(ctx, "UPDATE users SET name = 'hacked' WHERE id = 'user-b'")
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 0 {
			t.Fatal("raw update reached b's row")
		}
		_, err = sc.Tx.ExecContext(ctx, "INSERT INTO users (tenant_id, id, email, password_hash, name, status, created_at) VALUES (?, 'x', 'x@example.org', '', 'x', 'active', now())", tb)
		if err == nil {
			t.Fatal("raw insert of b's row from a's scope was accepted")
		}
		return errSkipCommit
	})
	if !errors.Is(err, errSkipCommit) {
		t.Fatal(err)
	}
	// The audit trail is append-only for the runtime role.
	err = d.InTenant(ctx, ta, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.ExecContext(ctx, "DELETE FROM audit_log")
		return err
	})
	if err == nil {
		t.Fatal("runtime role could delete audit records")
	}
	// The runtime role cannot switch row-level security off.
	if _, err := d.Bun.ExecContext(ctx, "ALTER TABLE users DISABLE ROW LEVEL SECURITY"); err == nil {
		t.Fatal("runtime role could disable row-level security")
	}
}

var errSkipCommit = errors.New("rollback")

// TestModuleDatabase: each module gets a database of its own: a file on SQLite; on
// PostgreSQL a schema owned by a role of its own, which it migrates with, and a second role
// it runs as, which owns nothing; neither can read the core's tables or another module's.
func TestModuleDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		dsn, ownerDSN, kind, err := d.ModuleDSN(ctx, "results")
		if err != nil {
			t.Fatal(err)
		}
		if kind == db.SQLite {
			if !strings.HasSuffix(dsn, "/modules/results.db") || ownerDSN != "" {
				t.Fatalf("dsn %q %q", dsn, ownerDSN)
			}
			return
		}
		if _, _, _, err := d.ModuleDSN(ctx, "results"); err != nil {
			t.Fatalf("second call: %v", err)
		}
		owner := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(ownerDSN)))
		defer owner.Close()
		if _, err := owner.ExecContext(ctx, "CREATE TABLE things (id TEXT PRIMARY KEY)"); err != nil {
			t.Fatalf("the owner cannot create in its schema: %v", err)
		}
		var schema string
		owner.QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'things'").Scan(&schema)
		if schema != "mod_results" {
			t.Fatalf("table created in %q", schema)
		}
		rt := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
		defer rt.Close()
		if _, err := rt.ExecContext(ctx, "CREATE TABLE more_things (id TEXT PRIMARY KEY)"); err == nil {
			t.Fatal("the runtime role created a table")
		}
		for _, c := range []*sql.DB{owner, rt} {
			if _, err := c.ExecContext(ctx, "SELECT count(*) FROM public.users"); err == nil {
				t.Fatal("a module read the core's users table")
			}
		}
		other, _, _, _ := d.ModuleDSN(ctx, "calendar")
		oc := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(other)))
		defer oc.Close()
		if _, err := oc.ExecContext(ctx, "SELECT count(*) FROM mod_results.things"); err == nil {
			t.Fatal("a module read another module's table")
		}
	})
}
