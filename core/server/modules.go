package server

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
)

// PermModuleRoute marks the path space of a module in the route table: each of the module's
// manifest routes declares its own permission, checked by require once the route matched.
const PermModuleRoute = "module.route"

// ModuleHost is what the server needs of the module host.
type ModuleHost interface {
	IDs() []string
	Manifest(id string) *sdk.Manifest
	Statuses() []pluginhost.Status
	Handle(ctx context.Context, id string, sc sdk.Scope, call sdk.Call, req *sdk.Request) (*sdk.Response, error)
	OnEvent(ctx context.Context, id string, sc sdk.Scope, call sdk.Call, ev *sdk.Event) error
	RunJob(ctx context.Context, id string, sc sdk.Scope, call sdk.Call, job *sdk.Job) error
	ExportUser(ctx context.Context, id string, sc sdk.Scope, call sdk.Call, userID string) ([]byte, error)
	Restart(ctx context.Context, id string) error
}

// ModuleLauncher starts a module the host does not run yet (set by the command that knows
// how to launch each module).
type ModuleLauncher func(ctx context.Context, id string) error

// SetModuleHost connects the running modules: their routes, manifests and health.
func (s *Server) SetModuleHost(h ModuleHost, launch ModuleLauncher) {
	s.host, s.launch = h, launch
	s.Modules = func() []ModuleState {
		var out []ModuleState
		for _, st := range h.Statuses() {
			out = append(out, ModuleState{ID: st.ID, State: st.State, PID: st.PID, Restarts: st.Restarts})
		}
		return out
	}
	s.Tenants.ValidateModule = s.validateModuleRules
	s.RegistrationFields = s.moduleFields
}

func (s *Server) manifest(id string) *sdk.Manifest {
	if s.host == nil {
		return nil
	}
	return s.host.Manifest(id)
}

// validateModuleRules checks a tenant's rules for a module against the module's manifest.
func (s *Server) validateModuleRules(id string, rules map[string]any) (map[string]any, error) {
	man := s.manifest(id)
	if man == nil {
		if !tenancy.IsKnownModule(id) {
			return nil, errors.New("unknown module " + id)
		}
		// The module did not start: its rules are checked when it runs (each request
		// validates them again and falls back to the declared defaults).
		s.Log.Warn("module not running: its rules are stored unchecked", "module", id)
		return rules, nil
	}
	out, err := man.ValidateRules(rules)
	if err != nil {
		return nil, err
	}
	// Keep only what the tenant set; defaults stay in the manifest.
	for k := range out {
		if _, ok := rules[k]; !ok {
			delete(out, k)
		}
	}
	return out, nil
}

// moduleFields are the registration fields the tenant's enabled modules ask for, each with
// the portals it is limited to (registrationFields picks those of the request's portal).
func (s *Server) moduleFields(t *tenancy.Tenant) []accounts.Field {
	var out []accounts.Field
	for _, id := range t.EnabledModules() {
		if man := s.manifest(id); man != nil {
			for _, f := range man.RegistrationFields {
				out = append(out, accounts.Field{Name: f.Name, LabelKey: f.LabelKey, Type: f.Type, Required: f.Required, MaxLen: f.MaxLen,
					Portals: append([]string(nil), f.Portals...)})
			}
		}
	}
	return out
}

// registrationFields are the module fields asked on a registration through the request's
// portal (P2, R1: the professionals' portal asks other things than the patients').
func (s *Server) registrationFields(st *State) []accounts.Field {
	var out []accounts.Field
	for _, f := range s.RegistrationFields(st.Tenant) {
		if f.ForPortal(st.Portal) {
			out = append(out, f)
		}
	}
	return out
}

// ModuleRoutes lists the manifest routes of the running modules with their permissions.
func (s *Server) ModuleRoutes() []Route {
	var out []Route
	if s.host == nil {
		return out
	}
	for _, id := range s.host.IDs() {
		if man := s.host.Manifest(id); man != nil {
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

// bindModules reserves each module's path space; dispatch matches the manifest routes.
func (s *Server) bindModules() {
	for _, id := range tenancy.KnownModules {
		h := s.dispatch(id)
		for _, p := range []string{"/" + id, "/" + id + "/*"} {
			s.route(fiber.MethodGet, p, PermModuleRoute, h)
			s.route(fiber.MethodPost, p, PermModuleRoute, h)
		}
	}
	s.get("/admin/modules/:module", authz.PermAdminSettings, s.moduleRulesPage)
	s.post("/admin/modules/:module", authz.PermAdminSettings, s.saveModuleRules)
	s.get("/platform/modules", authz.PermPlatformModules, s.platformModules)
	s.post("/platform/modules/:module/restart", authz.PermPlatformModules, s.platformRestartModule)
}

// matchRoute finds the manifest route of method and path. Patterns use ":name" for one
// segment and a final "*" for the rest.
func matchRoute(man *sdk.Manifest, method, path string) (route *sdk.Route, pathFound bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range man.Routes {
		r := &man.Routes[i]
		ps := strings.Split(strings.Trim(r.Path, "/"), "/")
		ok := true
		for j, p := range ps {
			if p == "*" {
				ok = j < len(segs) || j == len(segs)
				break
			}
			if j >= len(segs) || (!strings.HasPrefix(p, ":") && p != segs[j]) || (strings.HasPrefix(p, ":") && segs[j] == "") {
				ok = false
				break
			}
			if j == len(ps)-1 && len(segs) != len(ps) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		pathFound = true
		if r.Method == method {
			return r, true
		}
	}
	return nil, pathFound
}

// dispatch forwards a request to a module: only for a tenant that switched it on, only on a
// route its manifest declares, after the route's permission check, to a running process.
func (s *Server) dispatch(id string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st := St(c)
		if !contains(st.Tenant.EnabledModules(), id) {
			return fiber.ErrNotFound
		}
		man := s.manifest(id)
		if man == nil {
			if st.API {
				return s.apiError(c, fiber.StatusServiceUnavailable, "unavailable", "error.module_down.text")
			}
			return s.moduleDown(c)
		}
		route, found := matchRoute(man, c.Method(), c.Path())
		if route == nil {
			if found {
				return fiber.ErrMethodNotAllowed
			}
			return fiber.ErrNotFound
		}
		if route.API {
			return s.dispatchAPI(c, id, man, route)
		}
		perm := route.Permission
		if route.Public {
			perm = authz.PermPublic
		}
		if refused, err := s.require(c, perm); refused || err != nil {
			return err
		}
		return s.forward(c, id, man, nil)
	}
}

func (s *Server) moduleDown(c *fiber.Ctx) error {
	return s.render(c, fiber.StatusServiceUnavailable, "error", "error.module_down.title", errorData{Message: "error.module_down.text"}, nil)
}

// sdkTenant is the tenant as a module sees it, with the module's rules (declared defaults
// overridden by the tenant's values).
func (s *Server) sdkTenant(st *State, t *tenancy.Tenant, id string, man *sdk.Manifest) sdk.Tenant {
	var stored map[string]any
	for _, m := range t.Modules {
		if m.ModuleID == id {
			stored = m.Rules
		}
	}
	rules, err := man.ValidateRules(stored)
	if err != nil {
		s.Log.Warn("stored module rules no longer valid: defaults apply", "tenant", t.Slug, "module", id, "err", err)
		rules, _ = man.ValidateRules(nil)
	}
	out := sdk.Tenant{ID: t.ID, Slug: t.Slug, Name: t.Settings.Name, Locale: t.Settings.DefaultLocale,
		TimeZone: t.Settings.TimeZone, Currency: t.Settings.Currency, Country: t.Settings.Country, Rules: rules}
	if st != nil {
		out.Locale, out.Portal, out.Base = st.Lang, st.Portal, st.Base
	}
	return out
}

// forwardedHeaders are the request headers a module sees: never the cookies.
var forwardedHeaders = []string{"Accept", "Accept-Language", "Content-Type", "User-Agent", "If-None-Match", "If-Modified-Since"}

// returnedHeaders are the response headers a module may set.
var returnedHeaders = []string{"Content-Type", "Content-Disposition", "Cache-Control", "ETag", "Last-Modified", "Location"}

// forward passes the request to the module: with the signed-in user, or, for an API route,
// with the machine client that presented an API key (never both).
func (s *Server) forward(c *fiber.Ctx, id string, man *sdk.Manifest, client *sdk.Client) error {
	st := St(c)
	ten := s.sdkTenant(st, st.Tenant, id, man)
	var user *sdk.User
	if st.User != nil && client == nil {
		user = sdkUser(st.User, st.Roles)
	}
	hdr := http.Header{}
	for _, k := range forwardedHeaders {
		if v := c.Get(k); v != "" {
			hdr.Set(k, v)
		}
	}
	// The module prints the CSRF token in its forms; the core checks it.
	if client == nil {
		hdr.Set(sdk.CSRFHeader, st.CSRF)
	}
	path := c.Path()
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/") // "/results/" is "/results", as the core routes it
	}
	req := &sdk.Request{Method: c.Method(), Path: path, Query: string(c.Request().URI().QueryString()), Header: hdr,
		Body: append([]byte(nil), c.Body()...), RemoteIP: c.IP(), RequestID: st.RequestID, Tenant: ten, User: user, Client: client}
	sc := sdk.Scope{TenantID: st.Tenant.ID, RequestID: st.RequestID, IP: c.IP()}
	if user != nil {
		sc.UserID = user.ID
	}
	if client != nil {
		sc.ClientID = client.ID
	}
	res, err := s.host.Handle(c.UserContext(), id, sc, sdk.Call{RequestID: st.RequestID, Tenant: ten, User: user, Client: client}, req)
	if errors.Is(err, pluginhost.ErrUnavailable) {
		if client != nil {
			return s.apiError(c, fiber.StatusServiceUnavailable, "unavailable", "error.module_down.text")
		}
		return s.moduleDown(c)
	}
	if err != nil {
		s.Log.Error("module call failed", "request_id", st.RequestID, "module", id, "err", err)
		if client != nil {
			return s.apiError(c, fiber.StatusBadGateway, "module_error", "error.generic.text")
		}
		return s.render(c, fiber.StatusBadGateway, "error", "error.generic.title", errorData{Message: "error.generic.text"}, nil)
	}
	if res.Fragment {
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
	man := s.manifest(id)
	if man == nil {
		return "", nil, fiber.ErrServiceUnavailable
	}
	return id, man, nil
}

func (s *Server) renderModuleRules(c *fiber.Ctx, status int, id string, man *sdk.Manifest, values map[string]string, errs form.Errors) error {
	st := St(c)
	current := s.sdkTenant(st, st.Tenant, id, man).Rules
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
		case sdk.RuleInt:
			n, perr := strconv.ParseInt(raw, 10, 64)
			if perr != nil {
				errs.Add(field, "form.number.invalid")
				continue
			}
			v = n
		case sdk.RuleBool:
			v = raw == "true"
		}
		nv, verr := r.Validate(v)
		if verr != nil {
			key := "form.invalid"
			if r.Type == sdk.RuleInt {
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
	err = s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update((*tenancy.Module)(nil)).Set("rules = ?", jsonValue(rules)).Set("updated_at = ?", nowUTC()).
			Where("module_id = ?", id).Exec(ctx)
		return err
	})
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
	s.notifyModule(c.UserContext(), t, id, sdk.EventRulesChanged, nil)
	s.flash(c, "admin.settings.saved")
	return c.Redirect(st.URL("/admin/modules/"+id), fiber.StatusSeeOther)
}

// notifyModule delivers a core event to a module for a tenant; a module that is down misses
// it (events are advisory until the durable job service carries them).
func (s *Server) notifyModule(ctx context.Context, t *tenancy.Tenant, id, kind string, payload []byte) {
	man := s.manifest(id)
	if man == nil {
		return
	}
	ten := s.sdkTenant(nil, t, id, man)
	err := s.host.OnEvent(ctx, id, sdk.Scope{TenantID: t.ID}, sdk.Call{Tenant: ten}, &sdk.Event{Kind: kind, Payload: payload, Tenant: ten})
	if err != nil {
		s.Log.Warn("module event not delivered", "module", id, "tenant", t.Slug, "event", kind, "err", err)
	}
}

// broadcast delivers a core event to every module the tenant switched on.
func (s *Server) broadcast(ctx context.Context, t *tenancy.Tenant, kind string, payload []byte) {
	if s.host == nil {
		return
	}
	for _, id := range t.EnabledModules() {
		s.notifyModule(ctx, t, id, kind, payload)
	}
}

// InstallModuleGrants installs the default grants of every running module's permissions in
// every tenant that switched the module on.
func (s *Server) InstallModuleGrants(ctx context.Context) error {
	if s.host == nil {
		return nil
	}
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.installGrantsFor(ctx, t); err != nil {
			return err
		}
	}
	return s.Tenants.BumpPolicy(ctx, "")
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func nowUTC() time.Time { return time.Now().UTC() }

func (s *Server) installGrantsFor(ctx context.Context, t *tenancy.Tenant) error {
	var grants []authz.Grant
	for _, id := range t.EnabledModules() {
		man := s.manifest(id)
		if man == nil {
			continue
		}
		for _, p := range man.Permissions {
			for _, role := range p.Grants {
				grants = append(grants, authz.Grant{Role: role, Permission: p.Name})
			}
		}
		// Core permissions for the module's staff roles (lab staff answer complaints):
		// only the staff work a module may grant, never settings, roles or platform rights.
		for _, g := range man.CoreGrants {
			if !sdk.CoreGrantable[g.Permission] {
				s.Log.Warn("module core grant refused", "module", id, "tenant", t.Slug, "role", g.Role, "permission", g.Permission)
				continue
			}
			grants = append(grants, authz.Grant{Role: g.Role, Permission: g.Permission})
		}
	}
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return s.Authz.InstallGrants(ctx, sc, grants)
	})
}

func (s *Server) platformModules(c *fiber.Ctx) error {
	var states []pluginhost.Status
	if s.host != nil {
		states = s.host.Statuses()
	}
	sort.Slice(states, func(i, j int) bool { return states[i].ID < states[j].ID })
	return s.render(c, fiber.StatusOK, "platform_modules", "platform.modules.title", map[string]any{"Modules": states}, nil)
}

func (s *Server) platformRestartModule(c *fiber.Ctx) error {
	st := St(c)
	id := c.Params("module")
	if s.host == nil || s.host.Manifest(id) == nil && !contains(s.host.IDs(), id) {
		return fiber.ErrNotFound
	}
	if err := s.record(c, "", ActModuleRestarted, "", "module:"+id, nil); err != nil {
		return err
	}
	if err := s.host.Restart(c.UserContext(), id); err != nil {
		s.Log.Error("module restart failed", "module", id, "err", err)
		s.flash(c, "platform.modules.restart_failed")
	} else {
		s.flash(c, "platform.modules.restarted")
	}
	return c.Redirect(st.URL("/platform/modules"), fiber.StatusSeeOther)
}
