package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/web"
	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Views holds, per page, its template set (the layout, the partials and the page) once per
// language, the words that never change already translated in it (view.Sets).
type Views struct{ pages map[string]*view.Sets }

// LoadViews parses every page under web.Templates.
func LoadViews(msgs *i18n.Bundle) (*Views, error) {
	pages, err := fs.Glob(web.Templates, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	v := &Views{pages: map[string]*view.Sets{}}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		sets, err := view.NewSets(msgs, func() (*template.Template, error) {
			return template.New(name).ParseFS(web.Templates, "templates/layout.html", "templates/partials/*.html", p)
		})
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		v.pages[name] = sets
	}
	return v, nil
}

// Page is the data of every page: the request state, the page's own data and its form.
type Page struct {
	*State
	Title  string
	Data   any
	Form   *Form
	Flash  string
	Status int
	Nav    []NavItem
	Langs  []LangItem
	// Bare pages belong to no tenant (unknown host).
	Bare bool
	// Maintenance is the tenant's next planned interruption, shown as a banner.
	Maintenance *Maintenance

	can func(perm string) bool
	h   view.Helpers
	// word is a module's name or summary in the page's language (catalog.go).
	word func(id, what string) string
}

// Form is a submitted form: its values and, per field, what is wrong.
type Form struct {
	Values map[string]string
	Errors form.Errors
}

// NavItem is a link of the tenant's navigation.
type NavItem struct {
	Label, Href string
	Current     bool
}

// LangItem is a choice of the language switcher.
type LangItem struct {
	Code, Name string
	Current    bool
}

// The helpers a page prints with are the ones module pages print with (plugins/kit/view):
// Page only hands them the request's language, zone, prefix and form.

// T translates a message id in the request's language.
func (p *Page) T(id string, kv ...any) string { return p.h.T(id, kv...) }

// TN translates a message id in the plural form for n.
func (p *Page) TN(id string, n int, kv ...any) string { return p.h.TN(id, n, kv...) }

// V returns a submitted form value.
func (p *Page) V(field string) string { return p.h.V(field) }

// E returns the translated error of a field, or "".
func (p *Page) E(field string) string { return p.h.E(field) }

// HasErrors reports whether the form came back with errors.
func (p *Page) HasErrors() bool { return p.h.HasErrors() }

// Date formats a date in the tenant's time zone and the page's language.
func (p *Page) Date(t time.Time) string { return p.h.Date(t) }

// DateTime formats a date and time in the tenant's time zone and the page's language.
func (p *Page) DateTime(t time.Time) string { return p.h.DateTime(t) }

// Clock formats a time of day in the tenant's time zone.
func (p *Page) Clock(t time.Time) string { return p.h.Clock(t) }

// Day formats a calendar date stored as YYYY-MM-DD (a birth date) in the page's language.
func (p *Page) Day(iso string) string { return p.h.Day(iso) }

// Money formats an amount in minor units of a currency in the page's language.
func (p *Page) Money(minor int64, currency string) string { return p.h.Money(minor, currency) }

// Can reports whether the signed-in user holds a permission here (to show a link).
func (p *Page) Can(perm string) bool {
	return p.can != nil && p.can(perm)
}

// render writes a page in the tenant's layout, titled by a message id.
func (s *Server) render(c *fiber.Ctx, status int, name, titleKey string, data any, f *Form) error {
	return s.renderPage(c, status, name, s.loc(c).T(titleKey), data, f)
}

// loc is the request's localizer: for a request that belongs to no tenant, the language
// its browser asks for.
func (s *Server) loc(c *fiber.Ctx) *i18n.Localizer {
	st := St(c)
	if st.Loc == nil {
		st.Lang = i18n.Negotiate(locales.Supported, "", "", c.Get("Accept-Language"), "fr")
		st.Loc = s.I18n.For(st.Lang)
	}
	return st.Loc
}

// renderKept writes a page whose content, for an anonymous visitor, depends only on the
// tenant (its revision) and the language: it is rendered once and kept (frame.go).
func (s *Server) renderKept(c *fiber.Ctx, name, titleKey string, data any) error {
	return s.page(c, fiber.StatusOK, name, s.loc(c).T(titleKey), data, nil, St(c).User == nil)
}

// renderPage writes a page in the tenant's layout with a title already in the page's language.
func (s *Server) renderPage(c *fiber.Ctx, status int, name, title string, data any, f *Form) error {
	return s.page(c, status, name, title, data, f, false)
}

func (s *Server) page(c *fiber.Ctx, status int, name, title string, data any, f *Form, keep bool) error {
	st := St(c)
	if st.InputErrors != nil && !st.inputShown {
		// The text of some fields was refused (checkText): this page shows them, each
		// message next to its field, with what else was typed.
		st.inputShown, keep = true, false
		if f == nil {
			f = &Form{}
		}
		if f.Values == nil {
			f.Values = map[string]string{}
		}
		if f.Errors == nil {
			f.Errors = form.Errors{}
		}
		for k, v := range st.InputValues {
			f.Values[k] = v
		}
		for k, v := range st.InputErrors {
			f.Values[k] = ""
			f.Errors[k] = v
		}
		if status < 400 {
			status = fiber.StatusUnprocessableEntity
		}
	}
	p := &Page{State: st, Title: title, Data: data, Form: f, Status: status, Bare: st.Tenant == nil,
		can: func(perm string) bool { return s.can(c, perm) }, word: func(id, what string) string { return s.moduleWord(st, id, what) }}
	zone := time.UTC
	if st.Tenant != nil {
		zone = st.Tenant.Location()
	}
	p.h = view.New(s.loc(c), zone, st.Base, st.CSRF)
	if f != nil {
		p.h = p.h.WithForm(f.Values, f.Errors)
	}
	if flash := c.Cookies("flash"); flash != "" && s.I18n.Has(st.Lang, flash) {
		p.Flash = st.Loc.T(flash)
		s.clearCookie(c, "flash")
	}
	if st.Tenant != nil {
		if m, err := s.upcomingMaintenance(c.UserContext(), st.Tenant, true); err == nil && m != nil {
			p.Maintenance = m
		}
		p.Nav = s.nav(c, st)
		for _, l := range st.Tenant.Settings.Locales {
			p.Langs = append(p.Langs, LangItem{Code: l, Name: locales.NativeName(l), Current: l == st.Lang})
		}
	}
	sets, ok := s.Views.pages[name]
	if !ok {
		return fmt.Errorf("render: no page %q", name)
	}
	t := sets.For(st.Lang)
	var buf bytes.Buffer
	var err error
	if p.Bare || s.noFrames {
		err = t.ExecuteTemplate(&buf, "layout", p)
	} else {
		var f *frame
		if f, err = s.frames.get(t, p); err == nil {
			err = f.write(&buf, t, p, func() error {
				if keep {
					h, err := s.frames.content(t, p, name)
					h.write(&buf, p)
					return err
				}
				return t.ExecuteTemplate(&buf, "content", p)
			})
		}
	}
	if err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(buf.Bytes())
}

// nav builds the tenant's navigation: home, its enabled modules, and what the user may reach.
func (s *Server) nav(c *fiber.Ctx, st *State) []NavItem {
	cur := c.Path()
	item := func(key, href string) NavItem {
		return NavItem{Label: st.Loc.T(key), Href: st.URL(href), Current: cur == href || (href != "/" && strings.HasPrefix(cur, href))}
	}
	items := []NavItem{item("nav.home", "/")}
	for _, m := range st.Tenant.EnabledModules() {
		it := item("nav.home", "/"+m)
		it.Label = s.moduleName(st, m)
		items = append(items, it)
	}
	if st.User != nil {
		items = append(items, item("nav.account", "/account"))
		if s.can(c, authz.PermAdminUsers) {
			items = append(items, item("nav.admin", "/admin/users"))
		}
		if st.Tenant.Kind == "console" && s.can(c, authz.PermPlatformTenants) {
			items = append(items, item("nav.platform", "/platform/tenants"))
		}
	}
	return items
}

// FieldView is what the "field" partial renders: label, input, and the error next to it.
type FieldView struct {
	Name, Label, Type, Value, Error, Autocomplete string
	Required                                      bool
}

// F describes a form field for the "field" partial.
func (p *Page) F(name, labelKey, typ, autocomplete string, required bool) FieldView {
	return FieldView{Name: name, Label: p.T(labelKey), Type: typ, Value: p.V(name), Error: p.E(name),
		Autocomplete: autocomplete, Required: required}
}

// ModuleName is a module's name in the page's language: the platform's words for it, or
// the name its manifest gives (an external module).
func (p *Page) ModuleName(id string) string {
	if p.word == nil {
		return id
	}
	return p.word(id, "name")
}

// ModuleSummary is a module's one line about itself in the page's language ("" when it has
// none).
func (p *Page) ModuleSummary(id string) string {
	if p.word == nil {
		return ""
	}
	return p.word(id, "summary")
}

// PortalName is a hostname's portal in the page's language ("portal.<name>": patients,
// professionals…), or the name the operator gave it when the platform has no words for it.
func (p *Page) PortalName(portal string) string {
	if p.Loc.Has("portal." + portal) {
		return p.T("portal." + portal)
	}
	return portal
}

// RuleChoice is one of a rule's choices in the page's language ("rule.<name>.<choice>": the
// payment gateway "sandbox" is the test gateway), or the choice itself when it has no words.
func (p *Page) RuleChoice(rule, choice string) string {
	if id := "rule." + rule + "." + choice; p.Loc.Has(id) {
		return p.T(id)
	}
	return choice
}

// PermName is what a permission lets a person do, in the page's language: the platform's
// words ("perm.<name>"), or the label the module's manifest gives it, or its name.
func (p *Page) PermName(perm string) string {
	if p.Loc.Has("perm." + perm) {
		return p.T("perm." + perm)
	}
	if p.word != nil {
		if w := p.word(perm, "perm"); w != "" {
			return w
		}
	}
	return perm
}

// RuleName is a rule's name in the page's language: the platform's words ("rule.<name>"),
// or the label the module's manifest gives it, or its name.
func (p *Page) RuleName(r sdk.Rule) string {
	if p.Loc.Has("rule." + r.Name) {
		return p.T("rule." + r.Name)
	}
	if w := r.Label[p.Lang]; w != "" {
		return w
	}
	return r.Name
}

// RoleName is the translated name of a role ("role.<id>"), or its id when it has none.
func (p *Page) RoleName(role string) string {
	if p.Loc.Has("role." + role) {
		return p.T("role." + role)
	}
	return role
}

func formatDay(lang string, t time.Time, tn *tenancy.Tenant) string {
	return locales.FormatDate(lang, t, tn.Location())
}
