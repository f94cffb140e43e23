package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
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
		for _, r := range roles {
			logins = append(logins, DemoLogin{Tenant: t.Slug, Role: r.role, Email: strings.ReplaceAll(r.name, "_", "-") + "@" + t.Slug + ".localhost",
				Password: "demo-" + t.Slug + "-" + r.name, Name: "Demo " + strings.ReplaceAll(r.name, "_", " ")})
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
		if err := s.demoChild(ctx, t, logins); err != nil {
			return nil, err
		}
		out = append(out, logins...)
	}
	return out, s.Tenants.BumpPolicy(ctx, "")
}

type demoRole struct {
	role string // the tenant's role ("results.lab_staff")
	name string // what the demo login is named after ("lab_staff")
}

// demoModuleRoles are the roles a tenant admin assigns in the modules the tenant runs (not
// the implicit ones every user holds), each once, in manifest order; a role without any grant
// in the tenant cannot be given and is left out. A login is named after the module's id of
// the role (lab-staff@mlab.localhost), or after the module and the role when two modules of
// the tenant have roles of the same name.
func (s *Server) demoModuleRoles(ctx context.Context, t *tenancy.Tenant) ([]demoRole, error) {
	var known []string
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		known, err = s.Authz.TenantRoles(ctx, sc)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []demoRole
	names := map[string]int{}
	for _, id := range t.EnabledModules() {
		man := s.Modules.Manifest(id)
		if man == nil {
			continue
		}
		for _, r := range man.Roles {
			role := modules.RoleID(id, r)
			seen := false
			for _, o := range out {
				seen = seen || o.role == role
			}
			if r.Implicit || seen {
				continue
			}
			if !contains(known, role) {
				s.Log.Warn("demo: role without grants, no account made", "tenant", t.Slug, "module", id, "role", role)
				continue
			}
			names[r.ID]++
			out = append(out, demoRole{role: role, name: r.ID})
		}
	}
	for i := range out {
		if names[out[i].name] > 1 {
			out[i].name = strings.ReplaceAll(out[i].role, ".", "_")
		}
	}
	return out, nil
}

// demoAccepts records that the tenant's demo accounts accepted the terms in force: the
// account's and its modules' (which a new account accepts at its first visit to a module).
func (s *Server) demoAccepts(ctx context.Context, t *tenancy.Tenant, logins []DemoLogin) error {
	for _, doc := range termsDocs(t) {
		v, err := s.Terms.InForce(ctx, t.ID, doc)
		if errors.Is(err, terms.ErrNotFound) {
			continue // no terms: nothing to accept
		}
		if err != nil {
			return err
		}
		for _, l := range logins {
			if err := s.Terms.AcceptNow(ctx, t.ID, l.ID, v, "", t.Settings.DefaultLocale, terms.Explicit); err != nil {
				return err
			}
		}
	}
	return nil
}

// AnnounceDemo tells every module of every tenant, once the modules run, which demo accounts
// the tenant has (platform.demo_seeded), so that each may create its demonstration data for
// them. Only `serve --demo` calls it; modules make it idempotent, so it runs at every start.
func (s *Server) AnnounceDemo(ctx context.Context, logins []DemoLogin) error {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Kind == tenancy.KindConsole {
			continue
		}
		var accounts []modules.DemoAccount
		for _, l := range logins {
			if l.Tenant == t.Slug {
				accounts = append(accounts, modules.DemoAccount{ID: l.ID, Email: l.Email, Name: l.Name, Role: l.Role})
			}
		}
		if err := s.Modules.AnnounceDemo(ctx, t, accounts); err != nil {
			return err
		}
	}
	return nil
}

// closeInactive closes the accounts inactive beyond the tenant's rule and tells each person,
// with the way to appeal until the end of the tenant's appeal period (R6); it first erases
// what was kept of the closures whose appeal period ended.
func (s *Server) closeInactive(ctx context.Context, t *tenancy.Tenant) error {
	if n, err := s.Accounts.EraseClosures(ctx, t.ID); err != nil {
		return fmt.Errorf("erase closures: %w", err)
	} else if n > 0 {
		s.Log.Info("closures erased after their appeal period", "tenant", t.Slug, "count", n)
	}
	users, err := s.Accounts.Inactive(ctx, t)
	if err != nil {
		return err
	}
	for _, u := range users {
		cl, err := s.Accounts.Close(ctx, t, u.ID, "inactivity", int(t.IntRule("account.closed_appeal_days")))
		if err != nil {
			return err
		}
		s.Modules.Deliver(ctx, t)
		lang := t.Lang(u.Locale, "")
		if err := s.sendMail(ctx, t, u.Email, u.Name, lang, "closed_inactive", s.absLink(t, u.Portal, appealPath),
			"Count", t.IntRule("account.inactive_close_days"), "Until", formatDay(lang, cl.AppealUntil, t)); err != nil {
			return err
		}
		s.Log.Info("inactive account closed", "tenant", t.Slug)
	}
	return nil
}

// demoAddress is where the demo user and his daughter live, in the tenant's country.
var demoAddress = map[string][2]string{
	"FR": {"française", "12 rue des Lilas, 69003 Lyon"},
	"PL": {"polska", "ul. Lipowa 12, 00-316 Warszawa"},
	"SK": {"slovenská", "Lipová 12, 811 01 Bratislava"},
}

// demoChild gives the demo user of a tenant a daughter he represents (P2, issue 12.9), once:
// the modules find her with the HostAPI (the results module seeds a report of hers).
func (s *Server) demoChild(ctx context.Context, t *tenancy.Tenant, logins []DemoLogin) error {
	for _, l := range logins {
		if l.Role != authz.RoleUser {
			continue
		}
		have, err := s.Accounts.Dependants(ctx, t.ID, l.ID)
		if err != nil || len(have) > 0 {
			return err
		}
		where := demoAddress[t.Settings.Country]
		_, err = s.Accounts.AddDependant(ctx, t, l.ID, accounts.DependantInput{FirstName: "Chloé", LastName: "User",
			BirthDate: "2016-03-08", Sex: "female", Nationality: where[0], Address: where[1], Relationship: "parent",
			LegalStatus: accounts.LegalMinor, Consent: true})
		return err
	}
	return nil
}
