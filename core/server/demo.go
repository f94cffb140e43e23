package server

import (
	"context"
	"fmt"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/tenancy"
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
		admin := DemoLogin{Tenant: t.Slug, Role: authz.RoleTenantAdmin, Email: "admin@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-admin"}
		if _, err := s.Accounts.CreateActive(ctx, t, admin.Email, admin.Password, "Admin "+t.Settings.Name, "1980-01-01", "", authz.RoleTenantAdmin); err != nil {
			return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		user := DemoLogin{Tenant: t.Slug, Role: authz.RoleUser, Email: "user@" + t.Slug + ".localhost", Password: "demo-" + t.Slug + "-user"}
		if _, err := s.Accounts.CreateActive(ctx, t, user.Email, user.Password, "Demo User", "1990-05-17", ""); err != nil {
			return nil, fmt.Errorf("demo %s: %w", t.Slug, err)
		}
		out = append(out, admin, user)
	}
	return out, s.Tenants.BumpPolicy(ctx, "")
}

// Sweep does the housekeeping of every tenant: unverified accounts past the verification
// window are deleted (P2) and old rate-limit windows are forgotten.
func (s *Server) Sweep(ctx context.Context) error {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		n, err := s.Accounts.SweepUnverified(ctx, t)
		if err != nil {
			return fmt.Errorf("sweep %s: %w", t.Slug, err)
		}
		if n > 0 {
			s.Log.Info("unverified accounts removed", "tenant", t.Slug, "count", n)
		}
		if err := s.SweepRateLimits(ctx, t.ID); err != nil {
			return fmt.Errorf("sweep %s: %w", t.Slug, err)
		}
	}
	return nil
}
