package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/input"
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
	// Lines are the fields that may hold line breaks and tabs (text areas; for a JSON body,
	// dotted paths with "*" for a list's index). Every other text is one line.
	Lines input.Fields
	// Raw: an API route whose body is not JSON (an HL7 v2 message); the frame leaves the body
	// to the handler, which checks each text it takes from it with input.Check.
	Raw bool
	// Landing and LandingPortals: the route is a page a person lands on after signing in
	// (see sdk.Route.Landing; Route.Lands).
	Landing        int
	LandingPortals []string
}

// Lands makes the route a landing page of rank rank (1 first: the narrowest audience),
// on these portals only when any are named (see sdk.Route.Landing).
func (r Route) Lands(rank int, portals ...string) Route {
	r.Landing, r.LandingPortals = rank, portals
	return r
}

// Multiline declares the route's multi-line fields (see Route.Lines).
func (r Route) Multiline(fields ...string) Route {
	r.Lines = input.Fields{}
	for _, f := range fields {
		r.Lines[f] = true
	}
	return r
}

// RawBody declares an API route whose body is not JSON (see Route.Raw).
func (r Route) RawBody() Route {
	r.Raw = true
	return r
}

// Pattern is the route's ServeMux pattern ("GET /results/r/{id}").
func (r *Route) Pattern() string { return r.Method + " " + r.Path }

func (r *Route) manifest() sdk.Route {
	return sdk.Route{Method: r.Method, Path: r.Path, Public: r.Public, Permission: r.Perm, API: r.API, Terms: r.Terms,
		Landing: r.Landing, LandingPortals: r.LandingPortals}
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

// FieldErrors is a refused API body: each field at fault (its dotted path) with the id of
// its message. The frame answers it as a 422 in the API's error shape.
type FieldErrors map[string]string

func (e FieldErrors) Error() string { return "invalid fields: " + fmt.Sprint(map[string]string(e)) }

// Ctx is one request to a route.
type Ctx struct {
	W     http.ResponseWriter
	R     *http.Request
	Req   *sdk.Request
	m     *Module
	route *Route
	// The fields whose text the frame refused, what the form held otherwise, and whether a
	// page showed them (checkInput).
	inputErrs  map[string]string
	inputVals  map[string]string
	inputShown bool
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
	v := &View{Values: map[string]string{}, Errors: map[string]string{}, Data: map[string]any{}, user: c.Req.User, Country: t.Country}
	for k, val := range c.inputVals {
		v.Values[k] = val
	}
	for k, id := range c.inputErrs {
		v.Errors[k] = id
	}
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
	// Country is the tenant's country ("PL"): whose national number a form asks, whose
	// words a label takes.
	Country string
	user    *sdk.User
}

// User is the signed-in user.
func (v *View) User() *sdk.User { return v.user }

// Render answers the page template name with v, in the tenant's layout.
func (c *Ctx) Render(status int, name string, v *View) error {
	if c.inputErrs != nil && !c.inputShown {
		c.inputShown = true
		if status < 400 {
			status = http.StatusUnprocessableEntity
		}
	}
	var b bytes.Buffer
	if err := c.m.pages.For(c.Req.Tenant.Locale).ExecuteTemplate(&b, name, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	out := b.Bytes()
	for f := range c.inputErrs {
		if !bytes.Contains(out, []byte(`id="e-`+f+`"`)) {
			// A refused field the page has no place for: the person is told all the same.
			out = append([]byte(`<p class="error" role="alert">`+template.HTMLEscapeString(v.T("form.text.invalid_form"))+"</p>\n"), out...)
			break
		}
	}
	return c.fragment(status, v.Title, append(c.nav(), out...))
}

// NavLink is a link of a module's own navigation: a path of the tenant and the message id of
// its words.
type NavLink struct {
	Path, LabelKey string
	// Also are other paths whose pages belong to the link (the catalog's item pages).
	Also []string
}

// Can reports whether the request's person holds permission perm of the module: one of the
// roles it is granted to ("user": anyone signed in).
func (c *Ctx) Can(perm string) bool {
	u := c.User()
	if u == nil {
		return false
	}
	for _, p := range c.m.spec.Permissions {
		if p.Name != perm {
			continue
		}
		for _, g := range p.Grants {
			if g == "user" || u.HasRole(g) {
				return true
			}
		}
	}
	return false
}

// nav is the module's navigation for this request, as HTML: the link whose path is the
// longest prefix of the page's marked current — the module's home only on itself, not on
// every page below it.
func (c *Ctx) nav() []byte {
	if c.m.spec.Nav == nil {
		return nil
	}
	links := c.m.spec.Nav(c)
	if len(links) < 2 {
		return nil
	}
	cur, best := c.R.URL.Path, -1
	for i, l := range links {
		below := l.Path != "/"+c.m.spec.ID && strings.HasPrefix(cur, l.Path+"/")
		for _, p := range l.Also {
			below = below || cur == p || strings.HasPrefix(cur, p+"/")
		}
		if (cur == l.Path || below) && (best < 0 || len(l.Path) > len(links[best].Path)) {
			best = i
		}
	}
	var b bytes.Buffer
	b.WriteString(`<nav class="module-nav" aria-label="` + template.HTMLEscapeString(c.T("module."+c.m.spec.ID+".name")) + `"><ul>`)
	for i, l := range links {
		b.WriteString(`<li><a href="` + template.HTMLEscapeString(c.Req.Tenant.Base+l.Path) + `"`)
		if i == best {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`>` + template.HTMLEscapeString(c.T(l.LabelKey)) + `</a></li>`)
	}
	b.WriteString("</ul></nav>\n")
	return b.Bytes()
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
		if r.Method != "" {
			if err := m.checkInput(c); err != nil {
				m.fail(c, err)
				return
			}
		}
		if err := r.Handle(c); err != nil {
			m.fail(c, err)
		}
	}
}

// DecodeJSON reads the request's JSON body into v: a body that is not JSON is a bad request
// (400), a value of the wrong type a 422 naming its field. (The frame already refused any
// string in it that is not text.)
func (c *Ctx) DecodeJSON(v any) error {
	if err := json.Unmarshal(c.Req.Body, v); err != nil {
		if f := input.TypeField(c.Req.Body, err); f != "" {
			return FieldErrors{f: input.MessageType}
		}
		return ErrBadRequest
	}
	return nil
}

// checkInput is the one check of the text a module receives, before any handler: every
// query value, form field and file name, and every string of a JSON body (input.Check). An
// API request with such text gets a 422 naming the fields; a page's query loses the bad
// values and the page shows the message next to their fields (422); a form posted with
// them gets the page it is on again, each message next to its field, nothing changed.
func (m *Module) checkInput(c *Ctx) error {
	hr, r := c.R, c.route
	query := input.Values(hr.URL.Query(), r.Lines)
	posted := map[string][]string{}
	var errs map[string]string
	ct := hr.Header.Get("Content-Type")
	switch {
	case hr.Method == http.MethodGet || hr.Method == http.MethodHead || len(c.Req.Body) == 0:
	case r.API && r.Raw:
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		vals, err := url.ParseQuery(string(c.Req.Body))
		if err != nil {
			return ErrBadRequest
		}
		posted = vals
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := hr.ParseMultipartForm(32 << 20); err != nil {
			return ErrBadRequest
		}
		for k, vs := range hr.MultipartForm.Value {
			posted[k] = append(posted[k], vs...)
		}
		for k, fs := range hr.MultipartForm.File {
			for _, f := range fs {
				posted[k] = append(posted[k], f.Filename)
			}
		}
	case r.API || strings.HasPrefix(ct, "application/json"):
		var err error
		if errs, err = input.JSON(c.Req.Body, r.Lines); err != nil {
			return ErrBadRequest
		}
	}
	if errs == nil {
		errs = input.Values(posted, r.Lines)
	}
	for k, v := range query {
		if errs == nil {
			errs = map[string]string{}
		}
		errs[k] = v
	}
	if len(errs) == 0 {
		return nil
	}
	m.Log.Info("input refused", "request_id", c.Req.RequestID, "tenant", c.Req.Tenant.Slug, "module", m.spec.ID,
		"method", hr.Method, "path", hr.URL.Path, "fields", fmt.Sprint(errs))
	if r.API {
		return FieldErrors(errs)
	}
	c.inputErrs, c.inputVals = errs, map[string]string{}
	for k, vs := range posted {
		if _, bad := errs[k]; !bad && len(vs) > 0 && k != "_csrf" && !strings.Contains(k, "password") && !strings.Contains(k, "answer") {
			c.inputVals[k] = vs[0]
		}
	}
	var err error
	if hr.Method == http.MethodGet || hr.Method == http.MethodHead {
		q := hr.URL.Query()
		for k := range query {
			q.Del(k)
		}
		hr.URL.RawQuery = q.Encode()
		err = r.Handle(c)
	} else if page := m.formPage(r.Path); page != nil {
		get := hr.Clone(hr.Context())
		get.Method = http.MethodGet
		pc := &Ctx{W: c.W, R: get, Req: c.Req, m: m, route: page, inputErrs: c.inputErrs, inputVals: c.inputVals}
		err = page.Handle(pc)
		c.inputShown = pc.inputShown
	}
	if err != nil {
		return err
	}
	if !c.inputShown {
		return FieldErrors(errs)
	}
	return errHandled
}

// errHandled: the frame answered the request itself.
var errHandled = errors.New("handled")

// formPage is the GET route of the page a form posted to path is on: the route of the same
// path, or of the nearest shorter one.
func (m *Module) formPage(path string) *Route {
	for path != "" && path != "/" {
		for i := range m.spec.Routes {
			if r := &m.spec.Routes[i]; r.Method == http.MethodGet && r.Path == path {
				return r
			}
		}
		i := strings.LastIndexByte(path, '/')
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return nil
}

// fail is the one place a handler's error becomes what the person (or machine) sees: a
// form again with its errors (422), a localized 404 or 400, or — for anything else, logged
// with the request id, tenant, module and cause — the localized 500.
func (m *Module) fail(c *Ctx, err error) {
	if errors.Is(err, errHandled) {
		return
	}
	var fe FieldErrors
	if errors.As(err, &fe) {
		m.refuseFields(c, fe)
		return
	}
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
		c.LogFailure(err)
	}
	loc := c.Loc()
	text := m.message(loc, m.spec.ID+".error."+code, coreErrorText[code])
	if c.route != nil && c.route.API {
		_ = c.JSON(status, APIError{Error: code, Message: text, Fields: map[string]string{}})
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

// LogFailure logs the cause of a request that failed (a 500), with the request id, tenant and
// module: for a handler that answers such a failure in its own shape (an HL7 ACK, a FHIR
// OperationOutcome) instead of returning it.
func (c *Ctx) LogFailure(err error) {
	c.m.Log.Error("module request failed", "request_id", c.Req.RequestID, "tenant", c.Req.Tenant.Slug, "module", c.m.spec.ID,
		"method", c.R.Method, "path", c.R.URL.Path, "err", err.Error())
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

// APIError is what an API answers when it refuses a request, the same shape as the core's
// for every status: a stable code, a sentence in the tenant's language, and a sentence per
// field at fault (none: an empty object).
type APIError struct {
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// APIInvalid answers a 422 in the API's shape: code, and for each field the message id of
// what is wrong with it, translated.
func (c *Ctx) APIInvalid(code string, fields map[string]string) error {
	loc := c.Loc()
	out := APIError{Error: code, Message: loc.T("error.invalid.text"), Fields: map[string]string{}}
	for f, id := range fields {
		out.Fields[f] = c.m.message(loc, id, "error.invalid.text")
	}
	return c.JSON(http.StatusUnprocessableEntity, out)
}

// refuseFields answers fields whose input was refused: a 422 in the API's shape on an API
// route; on a page, the generic sentence (no page of the form was found to show them on).
func (m *Module) refuseFields(c *Ctx, fe FieldErrors) {
	if c.route != nil && c.route.API {
		_ = c.APIInvalid("invalid", fe)
		return
	}
	loc := c.Loc()
	v := c.View("error.invalid.title")
	v.Data["Message"], v.Data["Back"], v.Data["Home"] = loc.T("form.text.invalid_form"), m.message(loc, m.spec.ID+".back", "error.back_home"), v.URL("/"+m.spec.ID)
	var b bytes.Buffer
	if err := errorPage.Execute(&b, v); err != nil {
		m.Log.Error("module error page", "module", m.spec.ID, "err", err.Error())
	}
	_ = c.fragment(http.StatusUnprocessableEntity, v.Title, b.Bytes())
}
