package modules

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// manifests is a module host that runs nothing but knows manifests.
type manifests map[string]*sdk.Manifest

func (m manifests) IDs() []string {
	var out []string
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
func (m manifests) Manifest(id string) *sdk.Manifest      { return m[id] }
func (m manifests) Router(id string) *host.Router         { return host.NewRouter(m[id].Routes) }
func (m manifests) Statuses() []pluginhost.Status         { return nil }
func (m manifests) Restart(context.Context, string) error { return nil }
func (m manifests) CallTimeout() time.Duration            { return time.Second }
func (m manifests) Handle(context.Context, string, host.Call, *sdk.Request) (*sdk.Response, error) {
	return nil, ErrUnavailable
}
func (m manifests) OnEvent(context.Context, string, host.Call, *sdk.Event) error {
	return ErrUnavailable
}
func (m manifests) RunJob(context.Context, string, host.Call, *sdk.Job) error { return ErrUnavailable }
func (m manifests) ExportUser(context.Context, string, host.Call, string) ([]byte, error) {
	return nil, ErrUnavailable
}

func labModules() manifests {
	return manifests{
		"results": {ID: "results", Roles: []sdk.Role{{ID: "lab_staff", CoreGrants: []string{"admin.users"}}, {ID: "professional"}},
			Permissions: []sdk.Permission{{Name: "results.manage", Grants: []string{"lab_staff"}}, {Name: "results.read_own", Grants: []string{"user"}}}},
		"eshop": {ID: "eshop", Roles: []sdk.Role{{ID: "lab_staff"}, {ID: "clerk", Shared: true}},
			Permissions: []sdk.Permission{{Name: "eshop.sampling", Grants: []string{"lab_staff"}}, {Name: "eshop.till", Grants: []string{"clerk"}}}},
	}
}

func rules(t *testing.T, d *db.DB, tenantID string) (grants map[string]map[string]bool, held map[string][]string) {
	t.Helper()
	az := authz.NewService(d)
	err := d.InTenant(context.Background(), tenantID, func(ctx context.Context, sc *db.Scope) (err error) {
		if grants, err = az.Grants(ctx, sc); err != nil {
			return err
		}
		held, err = az.RoleMembers(ctx, sc)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return grants, held
}

// TestModuleRolesAreTheirOwn: two modules of one tenant that both declare "lab_staff" have
// two roles, each granting its module's permissions only; a role declared shared is the
// tenant's one role of that name; each module sees a person's roles by its own ids and never
// another module's. Assignments and grants of the names used before roles were the modules'
// own move to the modules' roles, nothing lost (P3).
func TestModuleRolesAreTheirOwn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		ts := &tenancy.Store{DB: d}
		f := &tenancy.File{Slug: "lab", Settings: tenancy.Settings{Name: "Lab", DefaultLocale: "fr", Locales: []string{"fr"},
			TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: "lab.localhost"}},
			Modules: map[string]tenancy.ModuleConfig{"results": {Enabled: true}, "eshop": {Enabled: true}}}
		if _, err := ts.Import(ctx, f, nil, ""); err != nil {
			t.Fatal(err)
		}
		tn, err := ts.BySlug(ctx, "lab")
		if err != nil {
			t.Fatal(err)
		}
		az := authz.NewService(d)
		// Before: one "lab_staff" role with both modules' grants, held by u1, and a grant a
		// tenant admin added to it.
		err = d.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			if err := az.InstallGrants(ctx, sc, []authz.Grant{{Role: "lab_staff", Permission: "results.manage"},
				{Role: "lab_staff", Permission: "eshop.sampling"}, {Role: "lab_staff", Permission: "admin.mailbox"}}); err != nil {
				return err
			}
			return az.AssignRole(ctx, sc, "u1", "lab_staff")
		})
		if err != nil {
			t.Fatal(err)
		}
		s := &Service{DB: d, Tenants: ts, Authz: az, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		s.SetHost(labModules())
		if err := s.InstallGrants(ctx); err != nil {
			t.Fatal(err)
		}
		grants, held := rules(t, d, tn.ID)
		if !grants["results.lab_staff"]["results.manage"] || grants["results.lab_staff"]["eshop.sampling"] ||
			!grants["eshop.lab_staff"]["eshop.sampling"] || grants["eshop.lab_staff"]["results.manage"] {
			t.Fatalf("each module's lab staff holds its module's permissions only: %v", grants)
		}
		if !grants["results.lab_staff"]["admin.users"] || grants["eshop.lab_staff"]["admin.users"] {
			t.Fatalf("core grants: %v", grants)
		}
		if !grants["results.lab_staff"]["admin.mailbox"] || !grants["eshop.lab_staff"]["admin.mailbox"] {
			t.Fatalf("the tenant admin's own grant was lost: %v", grants)
		}
		if !grants["clerk"]["eshop.till"] || grants["eshop.clerk"] != nil {
			t.Fatalf("a shared role keeps its name: %v", grants)
		}
		if _, ok := grants["lab_staff"]; ok {
			t.Fatalf("the old role stays: %v", grants)
		}
		if got := strings.Join(held["u1"], ","); got != "eshop.lab_staff,results.lab_staff" {
			t.Fatalf("u1 holds %s", got)
		}
		// Running again changes nothing.
		if err := s.InstallGrants(ctx); err != nil {
			t.Fatal(err)
		}
		if g2, h2 := rules(t, d, tn.ID); len(g2) != len(grants) || strings.Join(h2["u1"], ",") != "eshop.lab_staff,results.lab_staff" {
			t.Fatalf("second run: %v %v", g2, h2)
		}
		// What each module sees of a person's roles.
		roles := []string{"user", "results.lab_staff", "eshop.lab_staff", "clerk", "results.professional"}
		if got := strings.Join(s.ModuleRoles("results", roles), ","); got != "user,lab_staff,professional" {
			t.Fatalf("results sees %s", got)
		}
		if got := strings.Join(s.ModuleRoles("eshop", roles), ","); got != "user,lab_staff,clerk" {
			t.Fatalf("eshop sees %s", got)
		}
	})
}

// TestHostAPICallsUseTheTenantOfTheirCall: a HostAPI call acts on the tenant its host call
// resolved, without reading it again; an unknown or expired token has no scope.
func TestHostAPICallsUseTheTenantOfTheirCall(t *testing.T) {
	s := &Service{} // no database: a read would fail
	ten := &tenancy.Tenant{ID: "t1", Slug: "lab"}
	tok := s.calls.open(&scope{Scope: host.Scope{TenantID: "t1", ModuleID: "results", UserID: "u1"}, tenant: ten, until: time.Now().Add(time.Minute)})
	ctx, sc, ok := s.resolve(context.Background(), tok)
	if !ok || sc.TenantID != "t1" || sc.UserID != "u1" {
		t.Fatalf("scope: %+v %v", sc, ok)
	}
	got, err := s.tenantOf(ctx, sc)
	if err != nil || got != ten {
		t.Fatalf("tenant: %v %v", got, err)
	}
	s.calls.close(tok)
	if _, _, ok := s.resolve(context.Background(), tok); ok {
		t.Fatal("a closed call still has a scope")
	}
	old := s.calls.open(&scope{Scope: host.Scope{TenantID: "t1"}, tenant: ten, until: time.Now().Add(-time.Second)})
	if _, _, ok := s.resolve(context.Background(), old); ok {
		t.Fatal("an expired call still has a scope")
	}
}
