package modules

import (
	"context"
	"strings"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk/host"
)

// InstallGrants installs the default grants of every running module's permissions in every
// tenant that switched the module on (a module's role by its tenant id, "<module>.<role>"),
// after moving the assignments and grants of roles named before roles were the modules'
// own.
func (s *Service) InstallGrants(ctx context.Context) error {
	if s.host == nil {
		return nil
	}
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.InstallGrantsFor(ctx, t); err != nil {
			return err
		}
	}
	return s.Tenants.BumpPolicy(ctx, "")
}

// InstallGrantsFor installs the modules' grants in one tenant.
func (s *Service) InstallGrantsFor(ctx context.Context, t *tenancy.Tenant) error {
	var grants []authz.Grant
	legacy := map[string]map[string]string{} // old role → module → new role
	for _, id := range t.EnabledModules() {
		man := s.Manifest(id)
		if man == nil {
			continue
		}
		for _, r := range man.Roles {
			if !r.Shared {
				if legacy[r.ID] == nil {
					legacy[r.ID] = map[string]string{}
				}
				legacy[r.ID][id] = RoleID(id, r)
			}
			// Core permissions for the module's staff roles (lab staff answer complaints):
			// only the staff work a module may grant, never settings, roles or platform rights.
			for _, p := range r.CoreGrants {
				if !host.CoreGrantable[p] {
					s.Log.Warn("module core grant refused", "module", id, "tenant", t.Slug, "role", r.ID, "permission", p)
					continue
				}
				grants = append(grants, authz.Grant{Role: RoleID(id, r), Permission: p})
			}
		}
		for _, p := range man.Permissions {
			for _, g := range p.Grants {
				role := g
				for _, r := range man.Roles {
					if r.ID == g {
						role = RoleID(id, r)
					}
				}
				grants = append(grants, authz.Grant{Role: role, Permission: p.Name})
			}
		}
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		for old, to := range legacy {
			if err := s.Authz.SplitRole(ctx, sc, old, func(perm string) []string {
				if module, _, ok := strings.Cut(perm, "."); ok && to[module] != "" {
					return []string{to[module]}
				}
				var all []string
				for _, r := range to {
					all = append(all, r)
				}
				return all
			}); err != nil {
				return err
			}
		}
		return s.Authz.InstallGrants(ctx, sc, grants)
	})
}
