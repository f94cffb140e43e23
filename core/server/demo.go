package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
)

// DemoLogin is an account created by --demo: its tenant, the role it was made for, its
// login, and its id and name (sent to the modules with EventDemoSeeded).
type DemoLogin struct {
	Tenant, Role, Email, Password string
	ID, Name                      string
}

// SeedDemo creates, once, a platform admin on the console and, in every tenant, a tenant
// admin, a user, and one account per assignable role of each module the tenant runs
// (lab-staff@mlab.localhost). The passwords are public: only for demonstrations.
func (s *Server) SeedDemo(ctx context.Context) ([]DemoLogin, error) {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []DemoLogin
	for _, t := range ts {
		if t.Kind == tenancy.KindConsole {
			l := DemoLogin{Tenant: t.Slug, Role: authz.RolePlatformAdmin, Email: "admin@platform.localhost", Password: "demo-platform-admin", Name: "Platform Admin"}
			u, err := s.Accounts.CreateActive(ctx, t, l.Email, l.Password, l.Name, "1980-01-01", "")
			if err != nil {
				return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
			}
			if err := s.Authz.MakePlatformAdmin(ctx, u.ID); err != nil {
				return nil, err
			}
			l.ID = u.ID
			out = append(out, l)
			continue
		}
		logins := []DemoLogin{
			{Tenant: t.Slug, Role: authz.RoleTenantAdmin, Email: "admin@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-admin", Name: "Admin " + t.Settings.Name},
			{Tenant: t.Slug, Role: authz.RoleUser, Email: "user@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-user", Name: "Demo User"},
		}
		roles, err := s.demoModuleRoles(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, role := range roles {
			logins = append(logins, DemoLogin{Tenant: t.Slug, Role: role, Email: strings.ReplaceAll(role, "_", "-") + "@" + t.Slug + ".localhost",
				Password: "demo-" + t.Slug + "-" + role, Name: "Demo " + strings.ReplaceAll(role, "_", " ")})
		}
		for i := range logins {
			l := &logins[i]
			birth, extra := "1985-06-15", []string{l.Role}
			switch l.Role {
			case authz.RoleTenantAdmin:
				birth = "1980-01-01"
			case authz.RoleUser:
				birth, extra = "1990-05-17", nil
			}
			u, err := s.Accounts.CreateActive(ctx, t, l.Email, l.Password, l.Name, birth, "", extra...)
			if err != nil {
				return nil, fmt.Errorf("demo %s %s: %w", t.Slug, l.Role, err)
			}
			l.ID, l.Name = u.ID, u.Name
		}
		if err := s.demoAccepts(ctx, t, logins); err != nil {
			return nil, err
		}
		out = append(out, logins...)
	}
	return out, s.Tenants.BumpPolicy(ctx, "")
}

// demoModuleRoles are the roles a tenant admin assigns in the modules the tenant runs (not
// the implicit ones every user holds), each once, in manifest order; a role without any grant
// in the tenant cannot be given and is left out.
func (s *Server) demoModuleRoles(ctx context.Context, t *tenancy.Tenant) ([]string, error) {
	var known []string
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		known, err = s.Authz.TenantRoles(ctx, sc)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range t.EnabledModules() {
		man := s.manifest(id)
		if man == nil {
			continue
		}
		for _, r := range man.Roles {
			if r.Implicit || contains(out, r.ID) || r.ID == authz.RoleTenantAdmin || r.ID == authz.RoleUser {
				continue
			}
			if !contains(known, r.ID) {
				s.Log.Warn("demo: role without grants, no account made", "tenant", t.Slug, "module", id, "role", r.ID)
				continue
			}
			out = append(out, r.ID)
		}
	}
	return out, nil
}

// demoAccepts records that the tenant's demo accounts accepted the account terms in force.
func (s *Server) demoAccepts(ctx context.Context, t *tenancy.Tenant, logins []DemoLogin) error {
	v, err := s.Terms.InForce(ctx, t.ID, terms.DocPlatform)
	if err != nil {
		return nil // no terms: nothing to accept
	}
	for _, l := range logins {
		if err := s.Terms.AcceptNow(ctx, t.ID, l.ID, v, "", t.Settings.DefaultLocale, terms.Explicit); err != nil {
			return err
		}
	}
	return nil
}

// AnnounceDemo tells every module of every tenant, once the modules run, which demo accounts
// the tenant has (EventDemoSeeded), so that each may create its demonstration data for them.
// Only `serve --demo` calls it; modules make it idempotent, so it runs at every start.
func (s *Server) AnnounceDemo(ctx context.Context, logins []DemoLogin) error {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Kind == tenancy.KindConsole {
			continue
		}
		seed := sdk.DemoSeed{Accounts: []sdk.DemoAccount{}}
		for _, l := range logins {
			if l.Tenant == t.Slug {
				seed.Accounts = append(seed.Accounts, sdk.DemoAccount{ID: l.ID, Email: l.Email, Name: l.Name, Role: l.Role})
			}
		}
		payload, err := json.Marshal(seed)
		if err != nil {
			return err
		}
		s.broadcast(ctx, t, sdk.EventDemoSeeded, payload)
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
