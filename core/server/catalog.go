package server

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
)

// The module catalog on the console (Platform → Modules): every module with its state,
// version, checksum and the tenants using it, and the form a platform admin registers an
// external module with (id, version, path of its executable, SHA-256). A registered module
// is stored in the catalog (module_catalog) with who registered it and when, audited, and
// from then on a tenant may switch it on like a built-in; the host checks its checksum at
// every start.

// ActModuleRegistered is the audit action of a module registration (on the console).
const ActModuleRegistered = "platform.module_registered"

func init() { CoreAuditActions = append(CoreAuditActions, ActModuleRegistered) }

// Catalog is the module catalog of the server's database.
func (s *Server) Catalog() *modules.Catalog { return &modules.Catalog{DB: s.DB} }

// loadCatalog makes the registered modules known: tenants may name them, their path space is
// theirs.
func (s *Server) loadCatalog(ctx context.Context) error {
	_, err := s.Catalog().Load(ctx, &s.Tenants.Known)
	return err
}

// externalModule forwards a request in the path space of a registered external module (the
// built-ins have their routes in the route table; an external module registered while the
// platform runs cannot add routes to it). Anything else goes on.
func (s *Server) externalModule(c *fiber.Ctx) error {
	id, _, _ := strings.Cut(strings.TrimPrefix(c.Path(), "/"), "/")
	if tenancy.IsKnownModule(id) || !s.Tenants.Known.Has(id) {
		return c.Next()
	}
	if m := c.Method(); m != fiber.MethodGet && m != fiber.MethodPost {
		return fiber.ErrMethodNotAllowed
	}
	if refused, err := s.require(c, PermModuleRoute); refused || err != nil {
		return err
	}
	return s.dispatch(id)(c)
}

// reservedModuleID reports whether id is the first segment of a core route ("admin",
// "login"…): a module there would shadow the core's pages or be shadowed by them.
func (s *Server) reservedModuleID(id string) bool {
	switch id {
	case "t", "static", "api", "platform", "admin", "account":
		return true
	}
	for _, r := range s.App.GetRoutes(true) {
		first, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
		if first == "" || strings.HasPrefix(first, ":") || strings.HasPrefix(first, "*") {
			continue
		}
		// "/favicon.ico", "/admin/audit.csv": the name before any dot counts.
		if first == id || strings.SplitN(first, ".", 2)[0] == id {
			return true
		}
	}
	return false
}

// catalogRow is one module as the console lists it.
type catalogRow struct {
	ID, Name, State, Version, Sum, FullSum, Error string
	PID, Restarts                                 int
	BuiltIn, Refused                              bool
	Tenants                                       []string
	RegisteredBy                                  string
	RegisteredAt                                  time.Time
}

func (s *Server) renderCatalog(c *fiber.Ctx, status int, f *Form) error {
	ctx := c.UserContext()
	st := St(c)
	entries, err := s.Catalog().List(ctx)
	if err != nil {
		return err
	}
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		return err
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Slug < ts[j].Slug })
	statuses := map[string]pluginhost.Status{}
	for _, m := range s.Modules.Statuses() {
		statuses[m.ID] = m
	}
	byID := map[string]modules.CatalogEntry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	ids := s.Tenants.Known.IDs()
	for id := range statuses {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var rows []catalogRow
	for _, id := range ids {
		r := catalogRow{ID: id, Name: s.moduleName(st, id), State: "idle", BuiltIn: true}
		if m, ok := statuses[id]; ok {
			r.State, r.PID, r.Restarts, r.Error = m.State, m.PID, m.Restarts, m.Error
			r.Refused = m.State == pluginhost.StateFailed && strings.Contains(m.Error, "SHA-256")
		}
		if man := s.Modules.Manifest(id); man != nil {
			r.Version = man.Version
		}
		if e, ok := byID[id]; ok {
			r.BuiltIn = false
			if r.Version == "" {
				r.Version = e.Version
			}
			r.FullSum, r.Sum = e.SHA256, e.SHA256[:12]+"…"
			r.RegisteredBy, r.RegisteredAt = e.RegisteredByEmail, e.RegisteredAt
		}
		for _, t := range ts {
			if t.Kind != tenancy.KindConsole && contains(t.EnabledModules(), id) {
				r.Tenants = append(r.Tenants, t.Settings.Name)
			}
		}
		rows = append(rows, r)
	}
	if f == nil {
		f = &Form{Values: map[string]string{}}
	}
	return s.render(c, status, "platform_modules", "platform.modules.title", map[string]any{"Modules": rows}, f)
}

// platformRegisterModule registers an external module: every field is checked (the file
// exists, is executable and has the SHA-256 given) before anything is stored.
func (s *Server) platformRegisterModule(c *fiber.Ctx) error {
	st := St(c)
	ctx := c.UserContext()
	id := strings.TrimSpace(c.FormValue("id"))
	version := strings.TrimSpace(c.FormValue("version"))
	path := strings.TrimSpace(c.FormValue("path"))
	sum, sumOK := modules.NormalizeSum(c.FormValue("sha256"))
	f := &Form{Values: map[string]string{"id": id, "version": version, "path": path, "sha256": strings.TrimSpace(c.FormValue("sha256"))},
		Errors: form.Errors{}}
	switch {
	case id == "":
		f.Errors.Add("id", "form.required")
	case !tenancy.ValidModuleID(id):
		f.Errors.Add("id", "platform.modules.id_invalid")
	case tenancy.IsKnownModule(id):
		f.Errors.Add("id", "platform.modules.id_builtin")
	case s.reservedModuleID(id):
		f.Errors.Add("id", "platform.modules.id_reserved")
	case s.Tenants.Known.Has(id):
		f.Errors.Add("id", "platform.modules.id_taken")
	}
	switch {
	case version == "":
		f.Errors.Add("version", "form.required")
	case !modules.ValidVersion(version):
		f.Errors.Add("version", "platform.modules.version_invalid")
	}
	found := ""
	switch {
	case path == "":
		f.Errors.Add("path", "form.required")
	case len(path) > 1024 || !filepath.IsAbs(path):
		f.Errors.Add("path", "platform.modules.path_absolute")
	default:
		path = filepath.Clean(path)
		var err error
		if found, err = modules.FileSum(path); err != nil {
			f.Errors.Add("path", "platform.modules.path_missing")
		}
	}
	switch {
	case f.Values["sha256"] == "":
		f.Errors.Add("sha256", "form.required")
	case !sumOK:
		f.Errors.Add("sha256", "platform.modules.sha256_invalid")
	case found != "" && found != sum:
		f.Errors.Add("sha256", "platform.modules.sha256_mismatch")
	}
	if len(f.Errors) > 0 {
		return s.renderCatalog(c, fiber.StatusUnprocessableEntity, f)
	}
	e := &modules.CatalogEntry{ID: id, Version: version, Path: path, SHA256: sum, RegisteredAt: time.Now().UTC()}
	if st.User != nil {
		e.RegisteredBy, e.RegisteredByEmail = st.User.ID, st.User.Email
	}
	err := s.Catalog().Add(ctx, e)
	if errors.Is(err, modules.ErrDuplicate) {
		f.Errors.Add("id", "platform.modules.id_taken")
		return s.renderCatalog(c, fiber.StatusConflict, f)
	}
	if err != nil {
		return err
	}
	s.Tenants.Known.Add(id)
	// The console's revision moves: the other instances see it within their bound and read
	// the catalog again (FollowModules).
	if err := s.Tenants.Touch(ctx, st.Tenant.ID); err != nil {
		return err
	}
	if err := s.record(c, "", ActModuleRegistered, "", "module:"+id, map[string]any{"version": version, "path": path, "sha256": sum}); err != nil {
		return err
	}
	s.Log.Info("module registered", "request_id", st.RequestID, "module", id, "version", version, "path", path, "sha256", sum)
	s.flash(c, "platform.modules.registered")
	return c.Redirect(st.URL("/platform/modules"), fiber.StatusSeeOther)
}

// moduleName is a module's name in the request's language: the core's message
// "module.<id>.name" for the modules it knows the words of, else the name the module's
// manifest gives in that language (an external module brings its own), else its id.
func (s *Server) moduleName(st *State, id string) string {
	return s.moduleWord(st, id, "name")
}

func (s *Server) moduleWord(st *State, id, what string) string {
	if what == "perm" {
		// id is a permission "<module>.<name>": its label in the module's manifest.
		module, _, _ := strings.Cut(id, ".")
		if man := s.Modules.Manifest(module); man != nil {
			for _, p := range man.Permissions {
				if p.Name == id {
					return p.Label[st.Lang]
				}
			}
		}
		return ""
	}
	key := "module." + id + "." + what
	if st.Loc != nil && st.Loc.Has(key) {
		return st.Loc.T(key)
	}
	if man := s.Modules.Manifest(id); man != nil {
		words := man.Name
		if what == "summary" {
			words = man.Summary
		}
		if w := words[st.Lang]; w != "" {
			return w
		}
		if what == "name" {
			for _, l := range []string{"fr", "pl", "sk"} {
				if w := words[l]; w != "" {
					return w
				}
			}
		}
	}
	if what == "name" {
		return id
	}
	return ""
}

// FollowModules brings this instance up to what another one changed (issue 11.17, 11.19):
// called with the tenants whose revision moved, it reads the module catalog again (a
// registration moves the console's revision) and launches every module those tenants have
// switched on that runs nowhere here yet. A module switched on through another instance
// thus serves from this one too, and the console here lists a module registered there.
func (s *Server) FollowModules(ctx context.Context, tenantIDs []string) {
	if _, err := s.Catalog().Load(ctx, &s.Tenants.Known); err != nil {
		s.Log.Error("module catalog: read again after a change elsewhere", "err", err)
		return
	}
	if s.Launch == nil {
		return
	}
	for _, tid := range tenantIDs {
		t, err := s.Tenants.ByID(ctx, tid)
		if err != nil {
			continue // gone since
		}
		for _, id := range t.EnabledModules() {
			if s.Modules.Manifest(id) != nil {
				continue
			}
			if err := s.Launch(ctx, id); err != nil {
				s.Log.Error("module launch failed", "module", id, "tenant", t.Slug, "err", err)
			}
		}
	}
}
