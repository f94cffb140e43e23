package server

import (
	"context"
	"fmt"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
)

// DemoLogin is an account created by --demo.
type DemoLogin struct {
	Tenant, Role, Email, Password string
}

// SeedDemo creates, once, a platform admin on the console and a tenant admin and a user in
// every tenant. The passwords are public: only for demonstrations.
func (s *Server) SeedDemo(ctx context.Context) ([]DemoLogin, error) {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []DemoLogin
	for _, t := range ts {
		if t.Kind == tenancy.KindConsole {
			l := DemoLogin{Tenant: t.Slug, Role: authz.RolePlatformAdmin, Email: "admin@platform.localhost", Password: "demo-platform-admin"}
			u, err := s.Accounts.CreateActive(ctx, t, l.Email, l.Password, "Platform Admin", "1980-01-01", "")
			if err != nil {
				return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
			}
			if err := s.Authz.MakePlatformAdmin(ctx, u.ID); err != nil {
				return nil, err
			}
			out = append(out, l)
			continue
		}
		if err := s.demoAccepts(ctx, t); err != nil {
			return nil, err
		}
		admin := DemoLogin{Tenant: t.Slug, Role: authz.RoleTenantAdmin, Email: "admin@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-admin"}
		if _, err := s.Accounts.CreateActive(ctx, t, admin.Email, admin.Password, "Admin "+t.Settings.Name, "1980-01-01", "", authz.RoleTenantAdmin); err != nil {
			return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		user := DemoLogin{Tenant: t.Slug, Role: authz.RoleUser, Email: "user@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-user"}
		if _, err := s.Accounts.CreateActive(ctx, t, user.Email, user.Password, "Demo User", "1990-05-17", ""); err != nil {
			return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		out = append(out, admin, user)
		if err := s.demoAccepts(ctx, t); err != nil {
			return nil, err
		}
	}
	return out, s.Tenants.BumpPolicy(ctx, "")
}

// demoAccepts records that the tenant's demo accounts accepted the account terms in force.
func (s *Server) demoAccepts(ctx context.Context, t *tenancy.Tenant) error {
	v, err := s.Terms.InForce(ctx, t.ID, terms.DocPlatform)
	if err != nil {
		return nil // no terms: nothing to accept
	}
	for _, email := range []string{"admin@" + t.Slug + ".localhost", "user@" + t.Slug + ".localhost"} {
		if u, err := s.Accounts.ByEmail(ctx, t.ID, email); err == nil {
			if err := s.Terms.AcceptNow(ctx, t.ID, u.ID, v, "", t.Settings.DefaultLocale, terms.Explicit); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeInactive closes the accounts inactive beyond the tenant's rule and tells each person.
func (s *Server) closeInactive(ctx context.Context, t *tenancy.Tenant) error {
	users, err := s.Accounts.Inactive(ctx, t)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := s.Accounts.Delete(ctx, t, u.ID, "inactivity", ""); err != nil {
			return err
		}
		s.broadcast(ctx, t, sdk.EventUserDeleted, []byte(u.ID))
		if err := s.sendMail(ctx, t, u.Email, u.Name, t.Lang(u.Locale, ""), "closed_inactive", "",
			"Count", t.IntRule("account.inactive_close_days")); err != nil {
			return err
		}
		s.Log.Info("inactive account closed", "tenant", t.Slug)
	}
	return nil
}
