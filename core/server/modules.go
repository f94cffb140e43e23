package server

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// PermModuleRoute marks the path space of a module in the route table: each of the module's
// manifest routes declares its own permission, checked by require once the route matched.
const PermModuleRoute = "module.route"

// ModuleLauncher starts a module the host does not run yet (set by the command that knows
// how to launch each module).
type ModuleLauncher func(ctx context.Context, id string) error

// registrationFields are the module fields asked on a registration through the request's
// portal (P2, R1: the professionals' portal asks other things than the patients').
func (s *Server) registrationFields(st *State) []accounts.Field {
	var out []accounts.Field
	for _, f := range s.Modules.RegistrationFields(st.Tenant) {
		if !f.ForPortal(st.Portal) {
			continue
		}
		if f.Type == "national_id" {
			// The national number is the tenant's country's, labelled so; a country whose
			// number the platform does not read asks none (C3).
			c := st.Tenant.Settings.Country
			if !natid.Known(c) {
				continue
			}
			f.LabelKey = "form.natid." + c + ".label"
		}
		out = append(out, f)
	}
	return out
}

// ModuleRoutes lists the manifest routes of the running modules with their permissions.
func (s *Server) ModuleRoutes() []Route {
	var out []Route
	for _, id := range s.Modules.IDs() {
		if man := s.Modules.Manifest(id); man != nil {
			for _, r := range man.Routes {
				perm := r.Permission
				if r.Public {
					perm = authz.PermPublic
				}
				out = append(out, Route{Method: r.Method, Path: r.Path, Perm: perm})
			}
		}
	}
	return out
}

// bindModules reserves each module's path space; dispatch forwards to the route markAPI
// matched.
func (s *Server) bindModules() {
	for _, id := range tenancy.KnownModules {
		h := s.dispatch(id)
		for _, p := range []string{"/" + id, "/" + id + "/*"} {
			s.route(fiber.MethodGet, p, PermModuleRoute, h)
			s.route(fiber.MethodPost, p, PermModuleRoute, h)
		}
	}
	s.App.Use(s.externalModule)
	s.get("/admin/modules/:module", authz.PermAdminSettings, s.moduleRulesPage)
	s.post("/admin/modules/:module", authz.PermAdminSettings, s.saveModuleRules)
	s.get("/platform/modules", authz.PermPlatformModules, s.platformModules)
	s.post("/platform/modules", authz.PermPlatformModules, s.platformRegisterModule)
	s.post("/platform/modules/:module/restart", authz.PermPlatformModules, s.platformRestartModule)
}

// modulePath is a request's path as a module's routes know it: "/results/" is "/results".
func modulePath(c *fiber.Ctx) string {
	path := c.Path()
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return path
}

// dispatch forwards a request to a module: only for a tenant that switched it on, only on a
// route its manifest declares (markAPI matched it, once), after the route's permission
// check, to a running process.
func (s *Server) dispatch(id string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st := St(c)
		if !contains(st.Tenant.EnabledModules(), id) {
			return fiber.ErrNotFound
		}
		if s.Modules.Manifest(id) == nil {
			if st.API {
				return s.apiError(c, fiber.StatusServiceUnavailable, "unavailable", s.moduleDownText(id))
			}
			return s.moduleDown(c, id)
		}
		route := st.ModuleRoute
		if route == nil {
			if st.ModulePathFound {
				return fiber.ErrMethodNotAllowed
			}
			return fiber.ErrNotFound
		}
		if route.API {
			return s.dispatchAPI(c, id, route)
		}
		perm := route.Permission
		if route.Public {
			perm = authz.PermPublic
		}
		if refused, err := s.require(c, perm); refused || err != nil {
			return err
		}
		version, done, err := s.routeTerms(c, route)
		if done || err != nil {
			return err
		}
		return s.forward(c, id, "", "", version)
	}
}

func (s *Server) moduleDown(c *fiber.Ctx, id string) error {
	return s.render(c, fiber.StatusServiceUnavailable, "error", "error.module_down.title", errorData{Message: s.moduleDownText(id)}, nil)
}

// moduleDownText says the truth about a module that does not answer (issue 12.14): the host
// relaunches one that is starting or crashed within its restart budget ("down"); one that
// failed past it, was refused (checksum, protocol) or stopped waits for a platform admin to
// restart it, and the page does not promise it comes back by itself.
func (s *Server) moduleDownText(id string) string {
	for _, st := range s.Modules.Statuses() {
		if st.ID == id {
			switch st.State {
			case pluginhost.StateDown, pluginhost.StateStarting, pluginhost.StateRunning:
				return "error.module_down.text"
			}
		}
	}
	return "error.module_stopped.text"
}

// forwardedHeaders are the request headers a module sees: never the cookies.
var forwardedHeaders = []string{"Accept", "Accept-Language", "Content-Type", "User-Agent", "If-None-Match", "If-Modified-Since"}

// returnedHeaders are the response headers a module may set.
var returnedHeaders = []string{"Content-Type", "Content-Disposition", "Cache-Control", "ETag", "Last-Modified", "Location"}

// forward passes the request to the module: with the signed-in user, or, for an API route,
// with the machine client that presented an API key (never both).
// termsVersion is the version of the route's terms the user accepted (routeTerms).
func (s *Server) forward(c *fiber.Ctx, id, clientID, clientName, termsVersion string) error {
	st := St(c)
	hdr := http.Header{}
	for _, k := range forwardedHeaders {
		if v := c.Get(k); v != "" {
			hdr.Set(k, v)
		}
	}
	req := &sdk.Request{Method: c.Method(), Path: modulePath(c), Query: string(c.Request().URI().QueryString()), Header: hdr,
		Body: append([]byte(nil), c.Body()...), TermsVersion: termsVersion}
	who := modules.Caller{User: st.User, Roles: st.Roles, ClientID: clientID, ClientName: clientName, RequestID: st.RequestID,
		IP: c.IP(), Lang: st.Lang, Portal: st.Portal, Base: st.Base}
	if clientID == "" {
		// The module prints the CSRF token in its forms; the core checks it.
		req.CSRF = st.CSRF
	}
	res, err := s.Modules.Forward(c.UserContext(), st.Tenant, id, who, req)
	if errors.Is(err, pluginhost.ErrUnavailable) {
		s.Log.Warn("module unavailable", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "module", id, "err", err)
		if clientID != "" {
			return s.apiError(c, fiber.StatusServiceUnavailable, "unavailable", s.moduleDownText(id))
		}
		return s.moduleDown(c, id)
	}
	if err != nil {
		s.Log.Error("module call failed", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "module", id, "err", err)
		if clientID != "" {
			return s.apiError(c, fiber.StatusBadGateway, "module_error", "error.generic.text")
		}
		return s.render(c, fiber.StatusBadGateway, "error", "error.generic.title", errorData{Message: "error.generic.text"}, nil)
	}
	st.ModuleStatements = res.Statements
	if res.Fragment {
		if origin := mapTileOrigin(s.Modules.Tenant(st.Tenant, id, s.Modules.Manifest(id), st.Lang, st.Portal, st.Base).Rules); origin != "" {
			c.Set("Content-Security-Policy", contentPolicy(origin))
		}
		return s.renderFragment(c, res.Status, res.Title, template.HTML(res.Body)) //nolint:gosec // modules are trusted code, registered by checksum
	}
	for _, k := range returnedHeaders {
		if v := res.Header.Get(k); v != "" {
			if k == "Location" && (!strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//")) {
				continue // a module redirects within the tenant only
			}
			c.Set(k, v)
		}
	}
	return c.Status(res.Status).Send(res.Body)
}

// tileHostRe is a tile server's host as a CSP source may name it: a name, a "*." for the
// "{s}" subdomains of a tile URL, a port.
var tileHostRe = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

// mapTileOrigin is the origin of the map tiles a module's pages show, from the tenant's
// value of the module's rule "<module>.map_tile_url" (the calendar's, issue 13.1): the
// module's pages may load images from it. "" when the module has no such rule, or its URL is
// not an https URL of a plain host.
func mapTileOrigin(rules map[string]any) string {
	for name, v := range rules {
		raw, ok := v.(string)
		if !ok || !strings.HasSuffix(name, ".map_tile_url") {
			continue
		}
		u, err := url.Parse(strings.ReplaceAll(raw, "{s}.", "sub."))
		if err != nil || u.Scheme != "https" || u.User != nil {
			return ""
		}
		host := strings.ToLower(u.Host)
		if strings.HasPrefix(raw, "https://{s}.") {
			host = "*." + strings.TrimPrefix(host, "sub.")
		}
		if !tileHostRe.MatchString(host) {
			return ""
		}
		return "https://" + host
	}
	return ""
}

// renderFragment wraps a module's HTML in the tenant's layout.
func (s *Server) renderFragment(c *fiber.Ctx, status int, title string, body template.HTML) error {
	return s.renderPage(c, status, "module", title, map[string]any{"HTML": body}, nil)
}

type moduleRuleField struct {
	Rule  sdk.Rule
	Field string
	Value string
	Error string
}

func (s *Server) moduleSubject(c *fiber.Ctx) (string, *sdk.Manifest, error) {
	id := c.Params("module")
	if !contains(St(c).Tenant.EnabledModules(), id) {
		return "", nil, fiber.ErrNotFound
	}
	man := s.Modules.Manifest(id)
	if man == nil {
		return "", nil, fiber.ErrServiceUnavailable
	}
	return id, man, nil
}

func (s *Server) renderModuleRules(c *fiber.Ctx, status int, id string, man *sdk.Manifest, values map[string]string, errs form.Errors) error {
	st := St(c)
	current := s.Modules.Tenant(st.Tenant, id, man, st.Lang, st.Portal, st.Base).Rules
	var fields []moduleRuleField
	for _, r := range man.Rules {
		f := moduleRuleField{Rule: r, Field: ruleField(r.Name)}
		if v, ok := values[f.Field]; ok {
			f.Value = v
		} else {
			f.Value = formatRule(current[r.Name])
		}
		if errs.Has(f.Field) {
			f.Error = st.Loc.T(errs[f.Field], "Min", r.Min, "Max", r.Max)
		}
		fields = append(fields, f)
	}
	return s.render(c, status, "admin_module", "admin.modules.title", map[string]any{"Module": id, "Fields": fields},
		&Form{Values: values, Errors: errs})
}

func formatRule(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return ""
}

func (s *Server) moduleRulesPage(c *fiber.Ctx) error {
	id, man, err := s.moduleSubject(c)
	if err != nil {
		return err
	}
	return s.renderModuleRules(c, fiber.StatusOK, id, man, map[string]string{}, form.Errors{})
}

// saveModuleRules validates every rule of the module as its manifest declares it and saves
// all or nothing; the module is told its rules changed.
func (s *Server) saveModuleRules(c *fiber.Ctx) error {
	st := St(c)
	id, man, err := s.moduleSubject(c)
	if err != nil {
		return err
	}
	values, errs := map[string]string{}, form.Errors{}
	rules := map[string]any{}
	for _, r := range man.Rules {
		field := ruleField(r.Name)
		raw := strings.TrimSpace(c.FormValue(field))
		values[field] = raw
		var v any = raw
		switch r.Type {
		case "int":
			n, perr := strconv.ParseInt(raw, 10, 64)
			if perr != nil {
				errs.Add(field, "form.number.invalid")
				continue
			}
			v = n
		case "bool":
			v = raw == "true"
		}
		nv, verr := r.Validate(v)
		if verr != nil {
			key := "form.invalid"
			if r.Type == "int" {
				key = "form.number.range"
			}
			errs.Add(field, key)
			continue
		}
		rules[r.Name] = nv
	}
	if len(errs) > 0 {
		return s.renderModuleRules(c, fiber.StatusUnprocessableEntity, id, man, values, errs)
	}
	err = s.Tenants.SetModuleRules(c.UserContext(), st.Tenant.ID, id, rules)
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActModuleRules, "", "module:"+id, map[string]any{"rules": rules}); err != nil {
		return err
	}
	t, err := s.Tenants.ByID(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return err
	}
	if err := s.Modules.Notify(c.UserContext(), t, id, host.EventRulesChanged, nil); err != nil {
		return err
	}
	s.flash(c, "admin.settings.saved")
	return c.Redirect(st.URL("/admin/modules/"+id), fiber.StatusSeeOther)
}

func (s *Server) platformModules(c *fiber.Ctx) error {
	return s.renderCatalog(c, fiber.StatusOK, nil)
}

func (s *Server) platformRestartModule(c *fiber.Ctx) error {
	st := St(c)
	id := c.Params("module")
	if !contains(s.Modules.IDs(), id) {
		return fiber.ErrNotFound
	}
	if err := s.record(c, "", ActModuleRestarted, "", "module:"+id, nil); err != nil {
		return err
	}
	if err := s.Modules.Restart(c.UserContext(), id); err != nil {
		s.Log.Error("module restart failed", "module", id, "err", err)
		s.flash(c, "platform.modules.restart_failed")
	} else {
		s.flash(c, "platform.modules.restarted")
	}
	return c.Redirect(st.URL("/platform/modules"), fiber.StatusSeeOther)
}
