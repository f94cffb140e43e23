package server

import (
	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
)

// State is what the middleware chain resolved for one request: tenant, portal, user,
// language. Handlers (and, with the module host, plugins) read it; they never resolve it
// themselves.
type State struct {
	RequestID string
	Tenant    *tenancy.Tenant
	Portal    string
	// Base is the path prefix of the tenant ("/t/mlab" in the development fallback, "" when
	// resolved by Host). Every link a page prints goes through URL.
	Base    string
	Session *accounts.Session
	User    *accounts.User
	// Token is the raw session cookie (to log out).
	Token string
	Roles []string
	Lang  string
	Loc   *i18n.Localizer
	CSRF  string
	// Perm is the permission the matched route declared.
	Perm string
	// API is set when the request goes to a module's API route (R3a): a machine with an API
	// key, no session, no CSRF token, no terms gate.
	API bool
	// ModuleRoute is the module route the request matched (nil: none); ModulePathFound
	// tells a path of another method (405) from an unknown one (404).
	ModuleRoute     *sdk.Route
	ModulePathFound bool
	// ModuleStatements is what the request cost the module's database.
	ModuleStatements int
	// InputErrors are the fields whose text was refused (checkText), InputValues what the
	// form held otherwise: the page shows them (422). inputShown: a page did.
	InputErrors form.Errors
	InputValues map[string]string
	inputShown  bool
}

const stateKey = "core:state"

// St returns the request's state (never nil).
func St(c *fiber.Ctx) *State {
	if s, ok := c.Locals(stateKey).(*State); ok {
		return s
	}
	s := &State{}
	c.Locals(stateKey, s)
	return s
}

// URL prefixes an absolute path with the tenant's base.
func (s *State) URL(path string) string { return s.Base + path }

// HasRole reports whether the signed-in user holds role here.
func (s *State) HasRole(role string) bool {
	for _, r := range s.Roles {
		if r == role {
			return true
		}
	}
	return false
}
