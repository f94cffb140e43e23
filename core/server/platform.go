package server

import (
	"errors"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/locales"
)

// bindPlatform mounts the platform admin's pages, served on the console only.
func (s *Server) bindPlatform() {
	s.get("/platform/tenants", authz.PermPlatformTenants, s.platformTenants)
	s.get("/platform/tenants/:id", authz.PermPlatformTenants, s.platformTenant)
	s.post("/platform/tenants/:id", authz.PermPlatformTenants, s.platformSaveTenant)
	s.post("/platform/tenants/:id/hostnames", authz.PermPlatformTenants, s.platformSaveHostnames)
	s.post("/platform/tenants/:id/modules", authz.PermPlatformTenants, s.platformSaveModules)
	s.get("/platform/users", authz.PermPlatformUsers, s.platformUsers)
}

func (s *Server) platformTenants(c *fiber.Ctx) error {
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "platform_tenants", "platform.tenants.title", map[string]any{"Tenants": ts}, nil)
}

func (s *Server) platformSubject(c *fiber.Ctx) (*tenancy.Tenant, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	t, err := s.Tenants.ByID(c.UserContext(), id)
	if errors.Is(err, tenancy.ErrNotFound) || (err == nil && t.Kind == tenancy.KindConsole) {
		return nil, fiber.ErrNotFound
	}
	return t, err
}

type moduleChoice struct {
	ID      string
	Enabled bool
}

func (s *Server) renderTenant(c *fiber.Ctx, status int, t *tenancy.Tenant, f *Form) error {
	var all []LangItem
	for _, l := range locales.Supported {
		all = append(all, LangItem{Code: l, Name: locales.NativeName(l), Current: t.AllowsLocale(l)})
	}
	var mods []moduleChoice
	for _, id := range s.Tenants.Known.IDs() {
		mods = append(mods, moduleChoice{ID: id, Enabled: contains(t.EnabledModules(), id)})
	}
	if f == nil {
		f = &Form{Values: map[string]string{}}
	}
	if _, ok := f.Values["name"]; !ok {
		f.Values["name"] = t.Settings.Name
	}
	if _, ok := f.Values["hostnames"]; !ok {
		var hs []string
		for _, h := range t.Hostnames {
			line := h.Hostname
			if h.Portal != "" {
				line += " " + h.Portal
			}
			hs = append(hs, line)
		}
		f.Values["hostnames"] = strings.Join(hs, "\n")
	}
	return s.render(c, status, "platform_tenant", "platform.tenants.one_title",
		map[string]any{"Subject": t, "AllLocales": all, "Modules": mods}, f)
}

func (s *Server) platformTenant(c *fiber.Ctx) error {
	t, err := s.platformSubject(c)
	if err != nil {
		return err
	}
	return s.renderTenant(c, fiber.StatusOK, t, nil)
}

func (s *Server) platformSaveTenant(c *fiber.Ctx) error {
	t, err := s.platformSubject(c)
	if err != nil {
		return err
	}
	errs := form.Errors{}
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" {
		errs.Add("name", "form.required")
	} else if len(name) > 200 {
		errs.Add("name", "form.too_long")
	}
	var langs []string
	for _, l := range c.Context().PostArgs().PeekMulti("locales") {
		if locales.IsSupported(string(l)) && !contains(langs, string(l)) {
			langs = append(langs, string(l))
		}
	}
	if len(langs) == 0 {
		errs.Add("locales", "platform.tenants.locales_required")
	}
	def := c.FormValue("default_locale")
	if !contains(langs, def) {
		errs.Add("default_locale", "platform.tenants.default_not_allowed")
	}
	status := c.FormValue("status")
	if status != "active" && status != "suspended" {
		errs.Add("status", "form.invalid_choice")
	}
	if len(errs) > 0 {
		return s.renderTenant(c, fiber.StatusUnprocessableEntity, t, &Form{Values: values(c, "name"), Errors: errs})
	}
	t.Settings.Name, t.Settings.Locales, t.Settings.DefaultLocale, t.Status = name, langs, def, status
	if err := t.Settings.Validate(); err != nil {
		return s.renderTenant(c, fiber.StatusUnprocessableEntity, t, &Form{Values: values(c, "name"), Errors: form.Errors{"name": "form.invalid"}})
	}
	if err := s.Tenants.Save(c.UserContext(), t); err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActTenantChanged, "", "tenant:"+t.Slug, map[string]any{"name": name, "locales": langs, "default_locale": def, "status": status}); err != nil {
		return err
	}
	s.flash(c, "platform.tenants.saved")
	return c.Redirect(St(c).URL("/platform/tenants/"+t.ID), fiber.StatusSeeOther)
}

func (s *Server) platformSaveHostnames(c *fiber.Ctx) error {
	t, err := s.platformSubject(c)
	if err != nil {
		return err
	}
	var hs []tenancy.Hostname
	seen := map[string]bool{}
	bad := false
	for _, line := range strings.Split(c.FormValue("hostnames"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		h := tenancy.NormalizeHost(fields[0])
		if !tenancy.ValidHostname(h) || seen[h] || len(fields) > 2 {
			bad = true
			break
		}
		seen[h] = true
		portal := ""
		if len(fields) == 2 {
			portal = fields[1]
		}
		hs = append(hs, tenancy.Hostname{Hostname: h, Portal: portal})
	}
	f := &Form{Values: values(c, "hostnames"), Errors: form.Errors{}}
	if bad || len(hs) == 0 {
		f.Errors.Add("hostnames", "platform.tenants.hostnames_invalid")
		return s.renderTenant(c, fiber.StatusUnprocessableEntity, t, f)
	}
	err = s.Tenants.SetHostnames(c.UserContext(), t.ID, hs)
	if db.IsUniqueViolation(err) {
		f.Errors.Add("hostnames", "platform.tenants.hostnames_taken")
		return s.renderTenant(c, fiber.StatusConflict, t, f)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActHostnamesChanged, "", "tenant:"+t.Slug, map[string]any{"hostnames": c.FormValue("hostnames")}); err != nil {
		return err
	}
	s.flash(c, "platform.tenants.saved")
	return c.Redirect(St(c).URL("/platform/tenants/"+t.ID), fiber.StatusSeeOther)
}

func (s *Server) platformSaveModules(c *fiber.Ctx) error {
	t, err := s.platformSubject(c)
	if err != nil {
		return err
	}
	var on []string
	for _, m := range c.Context().PostArgs().PeekMulti("modules") {
		on = append(on, string(m))
	}
	for _, id := range on {
		if !s.Tenants.Known.Has(id) {
			return fiber.NewError(fiber.StatusBadRequest, "unknown module")
		}
	}
	for _, id := range s.Tenants.Known.IDs() {
		if err := s.Tenants.SetModule(c.UserContext(), t.ID, id, contains(on, id)); err != nil {
			return err
		}
		// A module no tenant used before gets its process now.
		if contains(on, id) && s.Launch != nil && s.Modules.Manifest(id) == nil {
			if err := s.Launch(c.UserContext(), id); err != nil {
				s.Log.Error("module launch failed", "module", id, "err", err)
			}
		}
	}
	// A module switched on brings its default grants into the tenant.
	if t, err = s.Tenants.ByID(c.UserContext(), t.ID); err != nil {
		return err
	}
	if err := s.Modules.InstallGrantsFor(c.UserContext(), t); err != nil {
		return err
	}
	if err := s.Tenants.BumpPolicy(c.UserContext(), t.ID); err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActModulesChanged, "", "tenant:"+t.Slug, map[string]any{"enabled": on}); err != nil {
		return err
	}
	s.flash(c, "platform.tenants.saved")
	return c.Redirect(St(c).URL("/platform/tenants/"+t.ID), fiber.StatusSeeOther)
}

// platformUsers lists the users of one tenant at a time: each tenant is read in its own
// scope, as row-level security demands.
func (s *Server) platformUsers(c *fiber.Ctx) error {
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return err
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Slug < ts[j].Slug })
	sel := c.Query("tenant")
	var chosen *tenancy.Tenant
	for _, t := range ts {
		if t.Slug == sel || (sel == "" && chosen == nil) {
			chosen = t
		}
	}
	if chosen == nil {
		return fiber.ErrNotFound
	}
	q := c.Query("q")
	if len(q) > 200 {
		q = q[:200]
	}
	users, err := s.Accounts.List(c.UserContext(), chosen.ID, q, 500)
	if err != nil {
		return err
	}
	roles, err := s.roleMembers(c.UserContext(), chosen.ID)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "platform_users", "platform.users.title", map[string]any{
		"Tenants": ts, "Selected": chosen.Slug, "Query": q, "Users": users, "Roles": roles,
	}, nil)
}
