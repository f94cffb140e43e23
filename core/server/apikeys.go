package server

import (
	"encoding/hex"
	"errors"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/apikeys"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
)

// API keys for machines (R3a): a tenant admin creates and revokes them; a module route its
// manifest marks API answers only to "Authorization: Bearer <key>" with a key of the
// request's tenant that holds the route's permission — no session, no CSRF token, no terms
// gate, and the module sees the client, never a user.

// actorAPIKey prefixes the audit actor of what a machine did with an API key.
const actorAPIKey = audit.ActorAPIKey

func (s *Server) bindAPIKeys() {
	s.get("/admin/api-keys", authz.PermAdminAPIKeys, s.apiKeysPage)
	s.post("/admin/api-keys", authz.PermAdminAPIKeys, s.createAPIKey)
	s.post("/admin/api-keys/:id/revoke", authz.PermAdminAPIKeys, s.revokeAPIKey)
}

// markAPI looks at a request to a module's path space before the session, CSRF and terms
// steps: a module the tenant does not run is a 404 at once (nothing of the tenant lives
// there); a request to an API route (R3a) skips those steps, and so does a machine's request
// (with a bearer key) while the module is down, so that it gets its 503 in JSON.
func (s *Server) markAPI(c *fiber.Ctx) error {
	st := St(c)
	id, _, _ := strings.Cut(strings.TrimPrefix(c.Path(), "/"), "/")
	if !s.Tenants.Known.Has(id) {
		return c.Next()
	}
	if !contains(st.Tenant.EnabledModules(), id) {
		return fiber.ErrNotFound
	}
	if s.Modules.Manifest(id) == nil {
		st.API = bearer(c) != ""
		return c.Next()
	}
	// The one match of the request against the module's routes: dispatch uses it.
	st.ModuleRoute, st.ModulePathFound = s.Modules.Match(id, c.Method(), modulePath(c))
	st.API = st.ModuleRoute != nil && st.ModuleRoute.API
	if st.ModuleRoute == nil && s.wantsJSON(c) {
		// A machine's request to no route of the API: its 404 or 405 in JSON, no CSRF form.
		st.API = true
	}
	return c.Next()
}

// bearer is the token of an "Authorization: Bearer <token>" header, or "".
func bearer(c *fiber.Ctx) string {
	scheme, token, _ := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// APIError is what an API answers when it refuses a request, the same for every status and
// for the core and the modules alike: a stable code, a sentence in the request's language,
// and a sentence per field at fault (none: an empty object).
type APIError struct {
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// apiError answers a machine in JSON (APIError).
func (s *Server) apiError(c *fiber.Ctx, status int, code, msg string) error {
	st := St(c)
	text := s.loc(c).T(msg)
	if status == fiber.StatusUnauthorized {
		realm := "platform"
		if st.Tenant != nil {
			realm = st.Tenant.Slug
		}
		challenge := `Bearer realm="` + realm + `"`
		if code == "invalid_token" {
			challenge += `, error="invalid_token"`
		}
		c.Set(fiber.HeaderWWWAuthenticate, challenge)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(APIError{Error: code, Message: text, Fields: map[string]string{}})
}

// apiErrorCode is the code and message of an error status in an API answer, and its status
// (a server error is a 500, whatever it was).
func apiErrorCode(status int) (int, string, string) {
	switch status {
	case fiber.StatusBadRequest:
		return status, "bad_request", "error.bad_request.text"
	case fiber.StatusUnauthorized:
		return status, "unauthorized", "error.api.key_missing"
	case fiber.StatusForbidden:
		return status, "forbidden", "error.forbidden.text"
	case fiber.StatusNotFound:
		return status, "not_found", "error.not_found.text"
	case fiber.StatusMethodNotAllowed:
		return status, "method_not_allowed", "error.method.text"
	case fiber.StatusRequestEntityTooLarge:
		return status, "too_large", "error.too_large.text"
	case fiber.StatusUnprocessableEntity:
		return status, "invalid", "error.invalid.text"
	case fiber.StatusTooManyRequests:
		return status, "rate_limited", "error.rate_limited.text"
	case fiber.StatusServiceUnavailable:
		return status, "unavailable", "error.unavailable.text"
	}
	if status >= 400 && status < 500 {
		return fiber.StatusBadRequest, "bad_request", "error.bad_request.text"
	}
	return fiber.StatusInternalServerError, "internal", "error.generic.text"
}

// wantsJSON reports whether a request goes to a module's API: it matched an API route, or
// it is in a module's path space under "api/" or with a bearer key. Its errors are JSON
// (APIError), even those raised before the request reached a tenant (a body too large).
func (s *Server) wantsJSON(c *fiber.Ctx) bool {
	st := St(c)
	if st.API {
		return true
	}
	path := c.Path()
	if st.Tenant == nil {
		if m := prefixRe.FindStringSubmatch(path); m != nil {
			path = m[2]
		}
	}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 3)
	if !tenancy.IsKnownModule(parts[0]) {
		return false
	}
	return bearer(c) != "" || (len(parts) > 1 && parts[1] == "api")
}

// dispatchAPI checks the API key of a request to an API route and forwards it with the key
// as the client.
func (s *Server) dispatchAPI(c *fiber.Ctx, id string, route *sdk.Route) error {
	st := St(c)
	st.Perm = route.Permission
	token := bearer(c)
	if token == "" {
		return s.apiError(c, fiber.StatusUnauthorized, "missing_token", "error.api.key_missing")
	}
	k, err := s.APIKeys.Authenticate(c.UserContext(), st.Tenant.ID, token)
	if errors.Is(err, apikeys.ErrInvalid) {
		return s.apiError(c, fiber.StatusUnauthorized, "invalid_token", "error.api.key_invalid")
	}
	if err != nil {
		return err
	}
	if !k.Allows(route.Permission) {
		return s.apiError(c, fiber.StatusForbidden, "insufficient_scope", "error.api.key_forbidden")
	}
	return s.forward(c, id, k.ID, k.Name, "")
}

// apiPermissions are the permissions an API key of the tenant may hold: those of the API
// routes of the modules it switched on.
func (s *Server) apiPermissions(t *tenancy.Tenant) []string { return s.Modules.APIPermissions(t) }

// apiKeyView is a key on the admin page, with its creator's name.
type apiKeyView struct {
	apikeys.Key
	CreatorName string
}

func (s *Server) renderAPIKeys(c *fiber.Ctx, status int, f *Form, created string) error {
	st := St(c)
	keys, err := s.APIKeys.List(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	views := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		n, ok := names[k.CreatedBy]
		if !ok {
			if u, err := s.Accounts.ByID(c.UserContext(), st.Tenant.ID, k.CreatedBy); err == nil {
				n = u.Name
			}
			names[k.CreatedBy] = n
		}
		views = append(views, apiKeyView{Key: k, CreatorName: n})
	}
	if f == nil {
		f = &Form{Values: map[string]string{}}
	}
	return s.render(c, status, "admin_api_keys", "admin.api_keys.title", map[string]any{"Keys": views,
		"Perms": s.apiPermissions(st.Tenant), "Checked": checkedPerms(c), "Created": created}, f)
}

// checkedPerms are the permission boxes ticked in a sent form.
func checkedPerms(c *fiber.Ctx) map[string]bool {
	out := map[string]bool{}
	if c.Method() != fiber.MethodPost {
		return out
	}
	for _, p := range c.Context().PostArgs().PeekMulti("permissions") {
		out[string(p)] = true
	}
	if mf, err := c.MultipartForm(); err == nil {
		for _, p := range mf.Value["permissions"] {
			out[p] = true
		}
	}
	return out
}

func (s *Server) apiKeysPage(c *fiber.Ctx) error { return s.renderAPIKeys(c, fiber.StatusOK, nil, "") }

// createAPIKey makes a key and shows it, once: only its hash is kept.
func (s *Server) createAPIKey(c *fiber.Ctx) error {
	st := St(c)
	allowed := s.apiPermissions(st.Tenant)
	var perms []string
	errs := form.Errors{}
	for p := range checkedPerms(c) {
		if !contains(allowed, p) {
			errs.Add("permissions", "form.invalid_choice")
			continue
		}
		perms = append(perms, p)
	}
	sort.Strings(perms)
	f := &Form{Values: values(c, "name"), Errors: errs}
	if len(errs) > 0 {
		return s.renderAPIKeys(c, fiber.StatusUnprocessableEntity, f, "")
	}
	k, full, err := s.APIKeys.Create(c.UserContext(), st.Tenant.ID, c.FormValue("name"), perms, st.User.ID)
	var ferr form.Errors
	if errors.As(err, &ferr) {
		f.Errors = ferr
		return s.renderAPIKeys(c, fiber.StatusUnprocessableEntity, f, "")
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActAPIKeyCreated, "", "api_key:"+k.ID, map[string]any{"name": k.Name, "permissions": k.Permissions}); err != nil {
		return err
	}
	// The full key appears in this answer only (the page is never cached: Cache-Control no-store).
	return s.renderAPIKeys(c, fiber.StatusOK, nil, full)
}

func (s *Server) revokeAPIKey(c *fiber.Ctx) error {
	st := St(c)
	id := c.Params("id")
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return fiber.ErrNotFound
	}
	revoked, err := s.APIKeys.Revoke(c.UserContext(), st.Tenant.ID, id)
	if errors.Is(err, apikeys.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	if revoked {
		if err := s.record(c, "", ActAPIKeyRevoked, "", "api_key:"+id, nil); err != nil {
			return err
		}
	}
	s.flash(c, "admin.api_keys.revoked")
	return c.Redirect(st.URL("/admin/api-keys"), fiber.StatusSeeOther)
}
