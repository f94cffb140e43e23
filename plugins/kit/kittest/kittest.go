// Package kittest checks that a module built on the frame holds the frame's promises: every
// route of its manifest reaches its handler and the host matches it the same way, its tables
// are reachable only through a tenant scope, and on PostgreSQL its runtime role is held by
// row-level security it cannot switch off. Every module's tests call it.
package kittest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

var param = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// concrete is a path a pattern matches: each parameter gets a value.
func concrete(pattern string) string {
	return param.ReplaceAllStringFunc(pattern, func(p string) string {
		if strings.HasSuffix(p, "...}") {
			return "x1/x2"
		}
		return "x1"
	})
}

// CheckRoutes: every route of the manifest reaches its own handler in the module's router,
// the host's router (built from the manifest, as the core builds it) picks the same route,
// and every route of the module's table is in the manifest.
func CheckRoutes(t *testing.T, m *kit.Module) {
	t.Helper()
	man := m.Manifest()
	if err := man.Check(); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	r := host.NewRouter(man.Routes)
	declared := map[string]bool{}
	for _, rt := range man.Routes {
		pattern := rt.Method + " " + rt.Path
		declared[pattern] = true
		path := concrete(rt.Path)
		if got := m.Pattern(rt.Method, path); got != pattern {
			t.Errorf("%s %s reaches %q in the module, not its own handler %q", rt.Method, path, got, pattern)
		}
		hr, _ := r.Match(rt.Method, path)
		if hr == nil || hr.Method != rt.Method || hr.Path != rt.Path {
			t.Errorf("%s %s: the host matches %+v, the module %q", rt.Method, path, hr, pattern)
		}
	}
	routes := m.Routes()
	if len(routes) != len(man.Routes) {
		t.Errorf("%d routes in the table, %d in the manifest", len(routes), len(man.Routes))
	}
	for _, rt := range routes {
		if !declared[rt.Pattern()] {
			t.Errorf("route %s has a handler but is not in the manifest", rt.Pattern())
		}
		if rt.Handle == nil {
			t.Errorf("route %s has no handler", rt.Pattern())
		}
	}
}

// CheckScoped: each model is a tenant table of the module, and a query on it outside a
// tenant scope is refused.
func CheckScoped(t *testing.T, m *kit.Module, models ...any) {
	t.Helper()
	ctx := context.Background()
	for _, model := range models {
		if !m.Store.IsTenantTable(model) {
			t.Errorf("%T is not a tenant table (tenant_id first in its primary key)", model)
		}
		if err := m.Store.Global().Select(model).Limit(1).Scan(ctx); !errors.Is(err, store.ErrUnscoped) {
			t.Errorf("an unscoped SELECT on %T: %v", model, err)
		}
		if _, err := m.Store.Global().Delete(model).Where("1 = 1").Exec(ctx); !errors.Is(err, store.ErrUnscoped) {
			t.Errorf("an unscoped DELETE on %T: %v", model, err)
		}
		if _, err := m.Store.Global().Update(model).Set("tenant_id = tenant_id").Where("1 = 1").Exec(ctx); !errors.Is(err, store.ErrUnscoped) {
			t.Errorf("an unscoped UPDATE on %T: %v", model, err)
		}
	}
}

// CheckIsolation, on PostgreSQL: every table of the module with a tenant_id column has
// row-level security enabled and forced; connected as the module's runtime role, a raw
// SELECT with tenant b's setting (or none) sees no row of tenant a, while a's setting sees
// all of a's rows; the runtime role cannot write a row of a in b's scope, cannot switch
// row-level security off or stop forcing it, and cannot read around it. Tenant a must have
// rows in at least one table (the check would prove nothing otherwise). On SQLite it does
// nothing: the scoped store is the one guard there (CheckScoped).
func CheckIsolation(t *testing.T, module string, env sdk.Env, a, b sdk.Tenant) {
	t.Helper()
	if env.DBKind != "postgres" {
		return
	}
	ctx := context.Background()
	admin := store.OpenPostgres(storetest.AdminDSN(env), 2)
	defer admin.Close()
	rt := store.OpenPostgres(env.DSN, 2)
	defer rt.Close()
	schema := store.ModuleSchema(module)
	var tables []struct {
		Name  string `bun:"relname"`
		RLS   bool   `bun:"relrowsecurity"`
		Force bool   `bun:"relforcerowsecurity"`
	}
	err := admin.NewRaw(`SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class AS c
		JOIN pg_namespace AS n ON n.oid = c.relnamespace
		WHERE n.nspname = ? AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_attribute AS a
		WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) ORDER BY 1`, schema).Scan(ctx, &tables)
	if err != nil || len(tables) == 0 {
		t.Fatalf("tenant tables of %s: %v (%d)", schema, err, len(tables))
	}
	rowsOfA := 0
	for _, tb := range tables {
		if !tb.RLS || !tb.Force {
			t.Errorf("%s: row-level security enabled %v, forced %v", tb.Name, tb.RLS, tb.Force)
		}
		q := fmt.Sprintf("SELECT count(*) FROM %s.%s WHERE tenant_id = ?", store.PgIdent(schema), store.PgIdent(tb.Name))
		var truth, asB, asA, unset int
		if err := admin.QueryRowContext(ctx, q, a.ID).Scan(&truth); err != nil {
			t.Fatal(err)
		}
		rowsOfA += truth
		count := func(setting string, into *int) {
			err := rt.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if setting != "" {
					if _, err := tx.ExecContext(ctx, "SELECT set_config(?, ?, true)", store.TenantSetting, setting); err != nil {
						return err
					}
				}
				return tx.QueryRowContext(ctx, q, a.ID).Scan(into)
			})
			if err != nil {
				t.Fatalf("%s as the runtime role: %v", tb.Name, err)
			}
		}
		count(b.ID, &asB)
		count(a.ID, &asA)
		count("", &unset)
		if asB != 0 || unset != 0 {
			t.Errorf("%s: the runtime role sees %d rows of tenant %s in tenant %s's scope, %d with no scope", tb.Name, asB, a.ID, b.ID, unset)
		}
		if asA != truth {
			t.Errorf("%s: the runtime role sees %d of tenant %s's %d rows in its own scope", tb.Name, asA, a.ID, truth)
		}
		for _, stmt := range []string{"ALTER TABLE %s.%s DISABLE ROW LEVEL SECURITY", "ALTER TABLE %s.%s NO FORCE ROW LEVEL SECURITY",
			"DROP POLICY tenant_isolation ON %s.%s"} {
			if _, err := rt.ExecContext(ctx, fmt.Sprintf(stmt, store.PgIdent(schema), store.PgIdent(tb.Name))); err == nil {
				t.Errorf("the runtime role ran %q", fmt.Sprintf(stmt, schema, tb.Name))
			}
		}
		err := rt.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SET LOCAL row_security = off"); err != nil {
				return err
			}
			var n int
			return tx.QueryRowContext(ctx, q, a.ID).Scan(&n)
		})
		if err == nil {
			t.Errorf("%s: the runtime role read with row_security off", tb.Name)
		}
	}
	if rowsOfA == 0 {
		t.Fatalf("tenant %s has no row in any table of %s: the check proves nothing", a.ID, schema)
	}
	// A row of a written in b's scope is refused by the policy's check.
	events := fmt.Sprintf("%s.%s", store.PgIdent(schema), store.PgIdent(module+"_events"))
	err = rt.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config(?, ?, true)", store.TenantSetting, b.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO "+events+" (tenant_id, id, kind, payload, received_at) VALUES (?, 'x', 'k', '', now())", a.ID)
		return err
	})
	if err == nil {
		t.Error("the runtime role wrote a row of another tenant")
	}
}

// Check runs the frame's checks on a module on every backend the machine has: its routes,
// its tables (each model given, and the events table), and, with a row of tenant A in its
// events, the isolation of its runtime role on PostgreSQL; its public pages without
// parameters answer in every language with no message missing.
func Check(t *testing.T, newModule func() *kit.Module, models ...any) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		m := newModule()
		h := sdktest.New(t, m, storetest.Env(t, b, m.ID()))
		CheckRoutes(t, m)
		CheckScoped(t, m, append(models, (*kit.Event)(nil))...)
		a := sdk.Tenant{ID: "tenant-a", Slug: "a", Locale: "fr", TimeZone: "Europe/Paris", Currency: "EUR", Country: "FR"}
		other := sdk.Tenant{ID: "tenant-b", Slug: "b", Locale: "pl", TimeZone: "Europe/Warsaw", Currency: "PLN", Country: "PL"}
		ctx := context.Background()
		if err := h.Event(ctx, a, host.EventUserBlocked, []byte("user-1")); err != nil {
			t.Fatal(err)
		}
		for _, rt := range m.Manifest().Routes {
			if !rt.Public || rt.Method != "GET" || strings.Contains(rt.Path, "{") {
				continue
			}
			for _, lang := range []string{"fr", "pl", "sk"} {
				ten := a
				ten.Locale = lang
				res, err := h.Do(ctx, ten, nil, "GET", rt.Path, nil)
				if err != nil || res.Status != 200 {
					t.Errorf("%s %s in %s: %v %+v", rt.Method, rt.Path, lang, err, res)
				}
			}
		}
		// Each audit action has its words in every language: the pages that show who did
		// what never show an action's code (issue 12.5).
		for _, a := range m.Manifest().AuditActions {
			for _, lang := range []string{"fr", "pl", "sk"} {
				if !m.Msgs.Has(lang, "audit.action."+a) {
					t.Errorf("audit action %s has no words in %s (audit.action.%s)", a, lang, a)
				}
			}
		}
		if miss := m.Msgs.Missing(); len(miss) > 0 {
			t.Errorf("messages asked for but missing: %v", miss)
		}
		CheckIsolation(t, m.ID(), h.Env, a, other)
	})
}
