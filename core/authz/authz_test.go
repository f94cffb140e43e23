package authz_test

import (
	"context"
	"testing"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// TestMayActOn: issue 11.4, P3. The rule itself, on roles a tenant can make: the actor may act
// on an account only if every permission it holds, he holds too; a platform admin acts on
// anyone and only a platform admin acts on one; whoever manages grants holds every permission
// of the tenant in effect; a role a module gives or takes is left out of the target's.
func TestMayActOn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		store := &tenancy.Store{DB: d}
		f := &tenancy.File{Slug: "lab", Settings: tenancy.Settings{Name: "Lab", DefaultLocale: "fr", Locales: []string{"fr"},
			TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: "lab.localhost"}}}
		if _, err := store.Import(ctx, f, nil, ""); err != nil {
			t.Fatal(err)
		}
		tn, err := store.BySlug(ctx, "lab")
		if err != nil {
			t.Fatal(err)
		}
		az := authz.NewService(d)
		if err := az.InstallPlatformRules(ctx); err != nil {
			t.Fatal(err)
		}
		if err := az.MakePlatformAdmin(ctx, "root"); err != nil {
			t.Fatal(err)
		}
		grants := append([]authz.Grant{
			{Role: "staff", Permission: authz.PermAdminUsers}, {Role: "staff", Permission: "mod.manage"},
			{Role: authz.RoleUser, Permission: "mod.own"}, {Role: "pro", Permission: "mod.prescribed"},
			{Role: "clerk", Permission: authz.PermAdminUsers}}, authz.CoreGrants...)
		holders := map[string][]string{"admin": {authz.RoleUser, authz.RoleTenantAdmin}, "staff": {authz.RoleUser, "staff"},
			"staff2": {authz.RoleUser, "staff"}, "patient": {authz.RoleUser}, "pro": {authz.RoleUser, "pro"}, "clerk": {"clerk"}}
		err = d.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			if err := az.InstallGrants(ctx, sc, grants); err != nil {
				return err
			}
			for u, roles := range holders {
				for _, r := range roles {
					if err := az.AssignRole(ctx, sc, u, r); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			actor, target, except string
			want                  bool
		}{
			{"root", "admin", "", true}, {"admin", "root", "", false}, // the platform admin
			{"admin", "staff", "", true}, {"admin", "pro", "", true}, {"admin", "admin", "", true},
			{"staff", "admin", "", false}, {"staff", "patient", "", true}, {"staff", "staff2", "", true},
			{"staff", "pro", "", false},     // the professional's own right
			{"staff", "pro", "pro", true},   // …left out when the module changes that very role
			{"staff", "clerk", "", true},    // admin.users only: the staff hold it too
			{"clerk", "patient", "", false}, // mod.own, which the clerk lacks
			{"patient", "patient", "", true}, {"patient", "staff", "", false},
			{"staff", "nobody", "", true}, {"", "patient", "", false},
		} {
			var got bool
			err := d.ReadTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
				var err error
				got, err = az.MayActOn(ctx, sc, c.actor, c.target, c.except)
				return err
			})
			if err != nil || got != c.want {
				t.Errorf("%s on %s (except %q): %v %v, want %v", c.actor, c.target, c.except, got, err, c.want)
			}
		}
	})
}
