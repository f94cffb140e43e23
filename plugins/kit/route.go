package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Handler answers one request; what it returns is mapped in one place (see Module.fail).
type Handler func(c *Ctx) error

// Route is one route of a module, declared once: the manifest's entry and the router's
// pattern both come from it.
type Route struct {
	Method, Path string
	Perm         string
	Public, API  bool
	// Terms is the module's terms document a signed-in user must have accepted, in its
	// version in force, before the route runs (RequireTerms).
	Terms  string
	Handle Handler
}

// Pattern is the route's ServeMux pattern ("GET /results/r/{id}").
func (r *Route) Pattern() string { return r.Method + " " + r.Path }

func (r *Route) manifest() sdk.Route {
	return sdk.Route{Method: r.Method, Path: r.Path, Public: r.Public, Permission: r.Perm, API: r.API, Terms: r.Terms}
}

func split(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, path
}

// Public is a route anyone may call ("GET /results").
func Public(pattern string, h Handler) Route {
	m, p := split(pattern)
	return Route{Method: m, Path: p, Public: true, Handle: h}
}

// Perm is a route for a signed-in user holding perm.
func Perm(pattern, perm string, h Handler) Route {
	m, p := split(pattern)
	return Route{Method: m, Path: p, Perm: perm, Handle: h}
}

// API is a route for machines holding an API key with perm.
func API(pattern, perm string, h Handler) Route {
	m, p := split(pattern)
	return Route{Method: m, Path: p, Perm: perm, API: true, Handle: h}
}

// RequireTerms marks routes for signed-in users (Perm) as needing the module's terms doc
// (its id): the core sends a user who has not accepted their version in force to accept it,
// then back; the handler reads the version accepted with Ctx.TermsVersion and keeps it with
// the record it makes — a booking, an order (P6).
func RequireTerms(doc string, routes ...Route) []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		r.Terms = doc
		out[i] = r
	}
	return out
}

// Errors a handler returns to say what the person should see.
var (
	// ErrNotFound: the thing does not exist, or is not the person's (a page never tells
	// which): 404.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the request cannot be read (a broken upload): 400.
	ErrBadRequest = errors.New("bad request")
)

// invalid is a form that came back with errors: its page again, with status 422 and each
// message next to its field.
type invalid struct {
	template string
	view     *View
}

func (e *invalid) Error() string { return "invalid form: " + fmt.Sprint(e.view.Errors) }

// Invalid is the error that shows the form of template again with v's errors (422).
func Invalid(template string, v *View) error { return &invalid{template, v} }

// Ctx is one request to a route.
type Ctx struct {
	W     http.ResponseWriter
	R     *http.Request
	Req   *sdk.Request
	m     *Module
	route *Route
}

// Context is the request's context: its deadline, and the scope of its HostAPI calls.
func (c *Ctx) Context() context.Context { return c.R.Context() }

// Tenant is the request's tenant, with the module's rules.
func (c *Ctx) Tenant() sdk.Tenant { return c.Req.Tenant }

// User is the signed-in user, nil for an anonymous or API request.
func (c *Ctx) User() *sdk.User { return c.Req.User }

// Host is the HostAPI, in the request's scope.
func (c *Ctx) Host() *sdk.Host { return sdk.HostFrom(c.R.Context()) }

// TermsVersion is, on a route that requires terms (RequireTerms), the id of their version in
// force that the user accepted: keep it with what the request makes. "" elsewhere, or when
// the tenant published no such terms.
func (c *Ctx) TermsVersion() string { return c.Req.TermsVersion }

// Param is a path parameter of the route's pattern.
func (c *Ctx) Param(name string) string { return c.R.PathValue(name) }

// Query is a query parameter.
func (c *Ctx) Query(name string) string { return c.R.URL.Query().Get(name) }

// Form is a field of the submitted form.
func (c *Ctx) Form(name string) string { return c.R.FormValue(name) }

// Loc translates into the request's language.
func (c *Ctx) Loc() *locales.Localizer { return c.m.Msgs.For(c.Req.Tenant.Locale) }

// T translates a message id into the request's language.
func (c *Ctx) T(id string, kv ...any) string { return c.Loc().T(id, kv...) }

// In runs fn in a write transaction scoped to the request's tenant.
func (c *Ctx) In(fn func(ctx context.Context, sc *store.Scope) error) error {
	return c.m.In(c.Context(), c.Req.Tenant, fn)
}

// Read runs fn in the request's read transaction, scoped to its tenant (it never takes
// SQLite's write lock; every read of the request shares it).
func (c *Ctx) Read(fn func(ctx context.Context, sc *store.Scope) error) error {
	return c.m.Read(c.Context(), c.Req.Tenant, fn)
}

// View starts the data of a page titled by a message id. A redirect that asked for a
// confirmation (?done=linked) shows the module's message "<module>.flash.linked".
func (c *Ctx) View(titleKey string) *View {
	t := c.Req.Tenant
	v := &View{Values: map[string]string{}, Errors: map[string]string{}, Data: map[string]any{}, user: c.Req.User}
	v.Helpers = view.New(c.Loc(), view.Zone(t.TimeZone), t.Base, c.Req.CSRF).WithForm(v.Values, v.Errors)
	v.Title = v.T(titleKey)
	if done := c.Query("done"); done != "" {
		if id := c.m.spec.ID + ".flash." + done; c.m.Msgs.Has(c.Loc().Lang, id) {
			v.Flash = v.T(id)
		}
	}
	return v
}

// View is the data of a module page: the shared page helpers, the title, a confirmation,
// the form's values and errors (message ids by field), and the page's own data.
type View struct {
	view.Helpers
	Title  string
	Flash  string
	Values map[string]string
	Errors map[string]string
	Data   map[string]any
	user   *sdk.User
}

// User is the signed-in user.
func (v *View) User() *sdk.User { return v.user }

// Render answers the page template name with v, in the tenant's layout.
func (c *Ctx) Render(status int, name string, v *View) error {
	var b bytes.Buffer
	if err := c.m.pages.For(c.Req.Tenant.Locale).ExecuteTemplate(&b, name, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.fragment(status, v.Title, b.Bytes())
}

func (c *Ctx) fragment(status int, title string, body []byte) error {
	c.W.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.W.Header().Set(fragmentHeader, title)
	c.W.WriteHeader(status)
	_, err := c.W.Write(body)
	return err
}

// Redirect answers 303 to a path of the tenant; done, when set, asks the page for its
// confirmation ("<module>.flash.<done>").
func (c *Ctx) Redirect(path, done string) error {
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "done=" + done
	}
	http.Redirect(c.W, c.R, c.Req.Tenant.Base+path, http.StatusSeeOther)
	return nil
}

// JSON answers v as JSON, never cached.
func (c *Ctx) JSON(status int, v any) error {
	c.W.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.W.Header().Set("Cache-Control", "no-store")
	c.W.WriteHeader(status)
	return json.NewEncoder(c.W).Encode(v)
}

func (m *Module) serve(r *Route) http.HandlerFunc {
	return func(w http.ResponseWriter, hr *http.Request) {
		req, _ := hr.Context().Value(requestKey{}).(*sdk.Request)
		c := &Ctx{W: w, R: hr, Req: req, m: m, route: r}
		if err := r.Handle(c); err != nil {
			m.fail(c, err)
		}
	}
}

// fail is the one place a handler's error becomes what the person (or machine) sees: a
// form again with its errors (422), a localized 404 or 400, or — for anything else, logged
// with the request id, tenant, module and cause — the localized 500.
func (m *Module) fail(c *Ctx, err error) {
	var inv *invalid
	if errors.As(err, &inv) {
		if rerr := c.Render(http.StatusUnprocessableEntity, inv.template, inv.view); rerr == nil {
			return
		} else {
			err = rerr
		}
	}
	status, code := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, ErrBadRequest):
		status, code = http.StatusBadRequest, "bad_request"
	default:
		m.Log.Error("module request failed", "request_id", c.Req.RequestID, "tenant", c.Req.Tenant.Slug, "module", m.spec.ID,
			"method", c.R.Method, "path", c.R.URL.Path, "err", err.Error())
	}
	loc := c.Loc()
	text := m.message(loc, m.spec.ID+".error."+code, coreErrorText[code])
	if c.route != nil && c.route.API {
		_ = c.JSON(status, map[string]string{"error": code, "message": text})
		return
	}
	v := c.View(m.spec.ID + ".error.title")
	if !m.Msgs.Has(loc.Lang, m.spec.ID+".error.title") {
		v.Title = loc.T("error.generic.title")
	}
	v.Data["Message"], v.Data["Back"], v.Data["Home"] = text, m.message(loc, m.spec.ID+".back", "error.back_home"), v.URL("/"+m.spec.ID)
	var b bytes.Buffer
	if err := errorPage.Execute(&b, v); err != nil {
		m.Log.Error("module error page", "module", m.spec.ID, "err", err.Error())
	}
	_ = c.fragment(status, v.Title, b.Bytes())
}

// coreErrorText are the core's sentences for what a module has no sentence of its own for.
var coreErrorText = map[string]string{"internal": "error.generic.text", "not_found": "error.not_found.text", "bad_request": "error.bad_request.text"}

var errorPage = template.Must(template.New("error").Parse(`<h1>{{.Title}}</h1>
<p>{{.Data.Message}}</p>
<p><a href="{{.Data.Home}}">{{.Data.Back}}</a></p>`))

// message translates the first of ids the language has.
func (m *Module) message(loc *locales.Localizer, ids ...string) string {
	for _, id := range ids {
		if loc.Has(id) {
			return loc.T(id)
		}
	}
	return loc.T(ids[len(ids)-1])
}
