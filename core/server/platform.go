package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
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
	s.get("/platform/tenants/new", authz.PermPlatformTenants, s.platformNewTenant)
	s.post("/platform/tenants/new", authz.PermPlatformTenants, s.platformCreateTenant)
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
	if _, ok := f.Values[hostField(0)]; !ok {
		for i, h := range t.Hostnames {
			f.Values[hostField(i)], f.Values[portalField(i)] = h.Hostname, h.Portal
		}
	}
	return s.render(c, status, "platform_tenant", "platform.tenants.one_title",
		map[string]any{"Subject": t, "AllLocales": all, "Modules": mods,
			"Hosts": hostRows(f, s.portalChoices(t.EnabledModules(), t))}, f)
}

// maxHostnames bounds the hostname rows of a tenant form.
const maxHostnames = 20

func hostField(i int) string   { return "hostname_" + strconv.Itoa(i) }
func portalField(i int) string { return "portal_" + strconv.Itoa(i) }

// hostRow is one hostname of a tenant form, with the portals it may serve.
type hostRow struct {
	Host, Portal string // the names of its two fields
	Choices      []string
}

// hostRows are the rows of the hostnames form: those filled in, and two empty ones to add
// hostnames.
func hostRows(f *Form, choices []string) []hostRow {
	n := 0
	for n < maxHostnames && (f.Values[hostField(n)] != "" || f.Values[portalField(n)] != "") {
		n++
	}
	n = min(n+2, maxHostnames)
	rows := make([]hostRow, n)
	for i := range rows {
		rows[i] = hostRow{Host: hostField(i), Portal: portalField(i), Choices: choices}
	}
	return rows
}

// portalChoices are the portals a hostname of a tenant may serve (issue 12.14): "" (the
// tenant's pages for everyone), and those the modules declare in their manifests. A
// module not running now keeps the portals its hostnames already have (t, nil for a new
// tenant): its manifest, unknown, cannot be asked.
func (s *Server) portalChoices(modules []string, t *tenancy.Tenant) []string {
	out := []string{""}
	add := func(p string) {
		if !contains(out, p) {
			out = append(out, p)
		}
	}
	for _, id := range modules {
		man := s.Modules.Manifest(id)
		if man == nil && t != nil {
			for _, h := range t.Hostnames {
				if h.Portal != "" && h.Portal != tenancy.KindConsole {
					add(h.Portal)
				}
			}
			continue
		}
		if man != nil {
			for _, p := range man.Portals {
				add(p)
			}
		}
	}
	sort.Strings(out[1:])
	return out
}

// readHostnames reads the hostname rows of a tenant form: each a valid, new hostname and a
// portal among choices, every error next to its field. tenantID is the tenant the hostnames
// are for ("" for a new one): another tenant's hostname is taken.
func (s *Server) readHostnames(c *fiber.Ctx, tenantID string, choices []string, f *Form) ([]tenancy.Hostname, error) {
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return nil, err
	}
	owner := map[string]string{}
	for _, t := range ts {
		for _, h := range t.Hostnames {
			owner[h.Hostname] = t.ID
		}
	}
	var hs []tenancy.Hostname
	seen := map[string]bool{}
	for i := 0; i < maxHostnames; i++ {
		hf, pf := hostField(i), portalField(i)
		raw, portal := strings.TrimSpace(c.FormValue(hf)), strings.TrimSpace(c.FormValue(pf))
		f.Values[hf], f.Values[pf] = raw, portal
		if raw == "" {
			if portal != "" && contains(choices, portal) {
				f.Errors.Add(hf, "form.required")
			}
			continue
		}
		h := tenancy.NormalizeHost(raw)
		switch {
		case !tenancy.ValidHostname(h):
			f.Errors.Add(hf, "platform.tenants.hostname_invalid")
		case seen[h]:
			f.Errors.Add(hf, "platform.tenants.hostname_twice")
		case owner[h] != "" && owner[h] != tenantID:
			f.Errors.Add(hf, "platform.tenants.hostname_taken")
		}
		// A portal is one the modules declare, chosen in the list: a word typed or
		// translated ("professionnels") would make a portal no module serves.
		if !contains(choices, portal) {
			f.Errors.Add(pf, "platform.tenants.portal_invalid")
		}
		seen[h] = true
		hs = append(hs, tenancy.Hostname{Hostname: h, Portal: portal})
	}
	if len(hs) == 0 {
		f.Errors.Add(hostField(0), "platform.tenants.hostnames_required")
	}
	return hs, nil
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
	langs, def := readLocales(c, errs)
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

// readLocales reads a tenant form's languages and default language, each error next to its
// field.
func readLocales(c *fiber.Ctx, errs form.Errors) (langs []string, def string) {
	for _, l := range c.Context().PostArgs().PeekMulti("locales") {
		if locales.IsSupported(string(l)) && !contains(langs, string(l)) {
			langs = append(langs, string(l))
		}
	}
	if len(langs) == 0 {
		errs.Add("locales", "platform.tenants.locales_required")
	}
	def = c.FormValue("default_locale")
	if !contains(langs, def) {
		errs.Add("default_locale", "platform.tenants.default_not_allowed")
	}
	return langs, def
}

// launchModules starts the process of each module of ids that no tenant used before.
func (s *Server) launchModules(ctx context.Context, ids []string, tenant string) {
	for _, id := range ids {
		if s.Launch != nil && s.Modules.Manifest(id) == nil {
			if err := s.Launch(ctx, id); err != nil {
				s.Log.Error("module launch failed", "module", id, "tenant", tenant, "err", err)
			}
		}
	}
}

func (s *Server) platformSaveHostnames(c *fiber.Ctx) error {
	t, err := s.platformSubject(c)
	if err != nil {
		return err
	}
	f := &Form{Values: map[string]string{}, Errors: form.Errors{}}
	hs, err := s.readHostnames(c, t.ID, s.portalChoices(t.EnabledModules(), t), f)
	if err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		return s.renderTenant(c, fiber.StatusUnprocessableEntity, t, f)
	}
	err = s.Tenants.SetHostnames(c.UserContext(), t.ID, hs)
	if db.IsUniqueViolation(err) {
		// Taken by another tenant between the check and the write.
		f.Errors.Add(hostField(0), "platform.tenants.hostnames_taken")
		return s.renderTenant(c, fiber.StatusConflict, t, f)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActHostnamesChanged, "", "tenant:"+t.Slug, map[string]any{"hostnames": hostnamesDetail(hs)}); err != nil {
		return err
	}
	s.flash(c, "platform.tenants.saved")
	return c.Redirect(St(c).URL("/platform/tenants/"+t.ID), fiber.StatusSeeOther)
}

// hostnamesDetail is the audit record's account of hostnames: "host portal" lines.
func hostnamesDetail(hs []tenancy.Hostname) string {
	var lines []string
	for _, h := range hs {
		lines = append(lines, strings.TrimSpace(h.Hostname+" "+h.Portal))
	}
	return strings.Join(lines, "\n")
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
	}
	// A module no tenant used before gets its process now.
	s.launchModules(c.UserContext(), on, t.Slug)
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

// ActTenantCreated is a platform admin's creation of a tenant on the console (issue 12.14).
const ActTenantCreated = "platform.tenant_created"

func init() { CoreAuditActions = append(CoreAuditActions, ActTenantCreated) }

// Countries are the countries a tenant may be in, with the time zone and the currency its
// pages and prices use (a tenant admin changes neither afterwards: the console does).
var Countries = []struct{ Code, TimeZone, Currency string }{
	{"FR", "Europe/Paris", "EUR"},
	{"PL", "Europe/Warsaw", "PLN"},
	{"SK", "Europe/Bratislava", "EUR"},
}

func (s *Server) platformNewTenant(c *fiber.Ctx) error {
	return s.renderNewTenant(c, fiber.StatusOK, &Form{Values: map[string]string{}})
}

func (s *Server) renderNewTenant(c *fiber.Ctx, status int, f *Form) error {
	args := c.Context().PostArgs()
	var all []LangItem
	for _, l := range locales.Supported {
		checked := false
		for _, v := range args.PeekMulti("locales") {
			checked = checked || string(v) == l
		}
		all = append(all, LangItem{Code: l, Name: locales.NativeName(l), Current: checked})
	}
	var mods []moduleChoice
	for _, id := range s.Tenants.Known.IDs() {
		on := false
		for _, v := range args.PeekMulti("modules") {
			on = on || string(v) == id
		}
		mods = append(mods, moduleChoice{ID: id, Enabled: on})
	}
	var codes []string
	for _, k := range Countries {
		codes = append(codes, k.Code)
	}
	return s.render(c, status, "platform_tenant_new", "platform.tenants.new_title", map[string]any{
		"AllLocales": all, "Modules": mods, "Countries": codes,
		"Hosts": hostRows(f, s.portalChoices(s.Tenants.Known.IDs(), nil))}, f)
}

// platformCreateTenant creates a tenant from the console (issue 12.14): its slug, name,
// country, languages, hostnames with their portals and modules, each checked next to its
// field. The tenant serves at once: core grants, module grants and processes, as an
// imported one.
func (s *Server) platformCreateTenant(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := &Form{Values: values(c, "slug", "name", "country", "default_locale"), Errors: form.Errors{}}
	slug := strings.ToLower(strings.TrimSpace(f.Values["slug"]))
	f.Values["slug"] = slug
	switch {
	case slug == "":
		f.Errors.Add("slug", "form.required")
	case !tenancy.ValidSlug(slug):
		f.Errors.Add("slug", "platform.tenants.slug_invalid")
	default:
		if _, err := s.Tenants.BySlug(ctx, slug); err == nil {
			f.Errors.Add("slug", "platform.tenants.slug_taken")
		} else if !errors.Is(err, tenancy.ErrNotFound) {
			return err
		}
	}
	name := strings.TrimSpace(f.Values["name"])
	if name == "" {
		f.Errors.Add("name", "form.required")
	} else if len(name) > 200 {
		f.Errors.Add("name", "form.too_long")
	}
	var set tenancy.Settings
	for _, k := range Countries {
		if k.Code == f.Values["country"] {
			set.Country, set.TimeZone, set.Currency = k.Code, k.TimeZone, k.Currency
		}
	}
	if set.Country == "" {
		f.Errors.Add("country", "form.invalid_choice")
	}
	langs, def := readLocales(c, f.Errors)
	var mods []string
	for _, m := range c.Context().PostArgs().PeekMulti("modules") {
		if !s.Tenants.Known.Has(string(m)) {
			return fiber.NewError(fiber.StatusBadRequest, "unknown module")
		}
		if !contains(mods, string(m)) {
			mods = append(mods, string(m))
		}
	}
	hs, err := s.readHostnames(c, "", s.portalChoices(mods, nil), f)
	if err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		return s.renderNewTenant(c, fiber.StatusUnprocessableEntity, f)
	}
	set.Name, set.Locales, set.DefaultLocale = name, langs, def
	set.Legal.Company, set.Branding.Name = name, name
	if err := set.Validate(); err != nil {
		return err // every field was checked above: a bug, logged as such
	}
	file := &tenancy.File{Slug: slug, Settings: set, Hostnames: hs, Modules: map[string]tenancy.ModuleConfig{}}
	for _, m := range mods {
		file.Modules[m] = tenancy.ModuleConfig{Enabled: true}
	}
	created, err := s.Tenants.Import(ctx, file, nil, "")
	if err != nil {
		return err
	}
	if !created {
		// Another admin took the slug or a hostname in between.
		f.Errors.Add("slug", "platform.tenants.slug_taken")
		return s.renderNewTenant(c, fiber.StatusConflict, f)
	}
	t, err := s.Tenants.BySlug(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return s.Authz.InstallGrants(ctx, sc, authz.CoreGrants)
	}); err != nil {
		return fmt.Errorf("core grants of a new tenant: %w", err)
	}
	s.launchModules(ctx, mods, slug)
	if err := s.Modules.InstallGrantsFor(ctx, t); err != nil {
		return err
	}
	if err := s.Tenants.BumpPolicy(ctx, t.ID); err != nil {
		return err
	}
	if err := s.record(c, t.ID, ActTenantCreated, "", "tenant:"+t.Slug, map[string]any{"name": name, "country": set.Country,
		"locales": langs, "default_locale": def, "hostnames": hostnamesDetail(hs), "modules": mods}); err != nil {
		return err
	}
	s.flash(c, "platform.tenants.created")
	return c.Redirect(St(c).URL("/platform/tenants/"+t.ID), fiber.StatusSeeOther)
}
