package server

// The tenant's rule of which roles must have a second factor (issue 11), on the settings
// page: one box per role of the tenant, in words.

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// roleChoice is a role of the tenant and whether the rule names it.
type roleChoice struct {
	ID string
	On bool
}

// ruleRoles lists the roles a rule of roles can name: those with a grant in the tenant,
// the plain user role aside.
func (s *Server) ruleRoles(ctx context.Context, tenantID string) ([]string, error) {
	var roles []string
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		all, err := s.Authz.TenantRoles(ctx, sc)
		for _, r := range all {
			if r != authz.RoleUser && r != authz.RolePlatformAdmin {
				roles = append(roles, r)
			}
		}
		return err
	})
	return roles, err
}

// roleChoices are the boxes of the rule's value ("*": every role).
func (s *Server) roleChoices(c *fiber.Ctx, value string) ([]roleChoice, error) {
	roles, err := s.ruleRoles(c.UserContext(), St(c).Tenant.ID)
	if err != nil {
		return nil, err
	}
	named := map[string]bool{}
	for _, r := range strings.Split(value, ",") {
		named[strings.TrimSpace(r)] = true
	}
	out := make([]roleChoice, 0, len(roles))
	for _, r := range roles {
		out = append(out, roleChoice{ID: r, On: named["*"] || named[r]})
	}
	return out, nil
}

var errUnknownRole = errors.New("unknown role")

// rolesFromForm reads the ticked boxes of a rule of roles: "*" when every role is ticked
// (roles a module adds later are then covered too), the ids otherwise. A form without the
// field keeps the tenant's value.
func (s *Server) rolesFromForm(c *fiber.Ctx, field string) (string, error) {
	st := St(c)
	sent := c.Request().PostArgs().PeekMulti(field)
	// The page sends <field>_shown with the boxes: with no box ticked, it still says the
	// list was on the form (and so means "nobody").
	if len(sent) == 0 && len(c.Request().PostArgs().Peek(field+"_shown")) == 0 {
		return st.Tenant.StringRule(tenancy.RuleSecondFactorRoles), nil
	}
	roles, err := s.ruleRoles(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return "", err
	}
	known := map[string]bool{}
	for _, r := range roles {
		known[r] = true
	}
	ticked := map[string]bool{}
	for _, v := range sent {
		switch r := string(v); {
		case known[r]:
			ticked[r] = true
		default:
			return "", errUnknownRole
		}
	}
	if len(roles) > 0 && len(ticked) == len(roles) {
		return "*", nil
	}
	var out []string
	for _, r := range roles {
		if ticked[r] {
			out = append(out, r)
		}
	}
	return strings.Join(out, ","), nil
}
