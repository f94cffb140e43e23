package server

import (
	"context"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
)

// pendingAt is pendingTerms plus, when doc names one of the tenant's module documents, its
// version in force if the user has not accepted it: what a module's route asks him to
// accept at the point of use (a booking, an order, the first visit) (P6).
func (s *Server) pendingAt(ctx context.Context, st *State, doc string) ([]*terms.Version, error) {
	pending, err := s.pendingTerms(ctx, st)
	if err != nil || doc == "" || doc == terms.DocPlatform || !contains(st.Tenant.EnabledModules(), doc) {
		return pending, err
	}
	for _, v := range pending {
		if v.Doc == doc {
			return pending, nil
		}
	}
	v, accepted, err := s.termsAtUse(ctx, st, doc)
	if err != nil || v == nil || accepted {
		return pending, err
	}
	return append(pending, v), nil
}

// termsAtUse returns the version of doc in force now (nil when the tenant published none) and
// whether the signed-in user accepted it. Both come from what every request already holds:
// the versions cached per tenant revision, the acceptances per account revision.
func (s *Server) termsAtUse(ctx context.Context, st *State, doc string) (*terms.Version, bool, error) {
	current, err := s.inForce(ctx, st.Tenant)
	if err != nil {
		return nil, false, err
	}
	v := current[doc]
	if v == nil {
		return nil, false, nil
	}
	_, accepted, err := s.accepted.get(st.Tenant.ID, st.User, func() (map[string]bool, map[string]bool, error) {
		return s.Terms.AcceptedBy(ctx, st.Tenant.ID, st.User.ID)
	})
	if err != nil {
		return nil, false, err
	}
	return v, accepted[v.ID], nil
}

// routeTerms holds a module route that names its terms (sdk.Route.Terms) until the signed-in
// user accepted their version in force: a page asked for goes to the acceptance page, which
// brings him back; a form sent meanwhile is refused with the gate's page. It returns the
// version accepted, which the module keeps with what the request makes (P6).
func (s *Server) routeTerms(c *fiber.Ctx, route *sdk.Route) (version string, done bool, err error) {
	st := St(c)
	if route.Terms == "" || st.User == nil {
		return "", false, nil
	}
	v, accepted, err := s.termsAtUse(c.UserContext(), st, route.Terms)
	if err != nil || v == nil {
		return "", false, err
	}
	if accepted {
		return v.ID, false, nil
	}
	if c.Method() == fiber.MethodGet {
		next := c.Path() // with the tenant's base, if any
		if q := c.Request().URI().QueryString(); len(q) > 0 {
			next += "?" + string(q)
		}
		return "", true, c.Redirect(st.URL("/terms/accept?doc="+url.QueryEscape(route.Terms)+"&next="+url.QueryEscape(next)), fiber.StatusSeeOther)
	}
	return "", true, s.render(c, fiber.StatusForbidden, "error", "terms.gate.title", errorData{Message: "terms.gate.text"}, nil)
}
