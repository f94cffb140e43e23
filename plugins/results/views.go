package results

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/modbase"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"list2": func(a, b any) []any { return []any{a, b} },
	"list4": func(a, b, c, d any) []any { return []any{a, b, c, d} },
	"list5": func(a, b, c, d, e any) []any { return []any{a, b, c, d, e} },
}).ParseFS(templateFS, "templates/*.html"))

// view is what every page template gets: the request's language, tenant and user, the
// form's values and errors, and the page's data.
type view struct {
	m      *Module
	req    *sdk.Request
	loc    *locales.Localizer
	Title  string
	Values map[string]string
	Errors map[string]string // field → message id
	Flash  string
	Data   map[string]any
}

func (m *Module) view(r *http.Request, titleKey string) *view {
	req := sdk.RequestFrom(r)
	v := &view{m: m, req: req, loc: m.Msgs.For(req.Tenant.Locale), Values: map[string]string{}, Errors: map[string]string{}, Data: map[string]any{}}
	v.Title = v.T(titleKey)
	if f := r.URL.Query().Get("done"); f != "" && flashes[f] {
		v.Flash = "results.flash." + f
	}
	return v
}

// flashes are the confirmations a redirect may ask for (?done=…).
var flashes = map[string]bool{"linked": true, "unlinked": true, "activated": true, "suspended": true, "imported": true, "duplicate": true}

// T translates a message id.
func (v *view) T(id string, kv ...any) string { return v.loc.T(id, kv...) }

// TN translates a message id with a count (plural forms).
func (v *view) TN(id string, n any, kv ...any) string {
	switch x := n.(type) {
	case int:
		return v.loc.TN(id, x, kv...)
	case int64:
		return v.loc.TN(id, int(x), kv...)
	}
	return v.loc.TN(id, 0, kv...)
}

// URL is a path of the tenant (with its base prefix).
func (v *view) URL(p string) string { return v.req.Tenant.Base + p }

// CSRF is the token forms carry.
func (v *view) CSRF() string { return v.req.Header.Get(sdk.CSRFHeader) }

// User is the signed-in user.
func (v *view) User() *sdk.User { return v.req.User }

func (v *view) tz() *time.Location {
	if l, err := time.LoadLocation(v.req.Tenant.TimeZone); err == nil {
		return l
	}
	return time.UTC
}

// Day formats a date in the tenant's time zone and the request's language.
func (v *view) Day(t time.Time) string { return locales.FormatDate(v.req.Tenant.Locale, t, v.tz()) }

// When formats a date and time.
func (v *view) When(t time.Time) string {
	return locales.FormatDateTime(v.req.Tenant.Locale, t, v.tz())
}

// BirthDay formats a "2006-01-02" date of birth.
func (v *view) BirthDay(s string) string {
	if d, ok := parseDay(s); ok {
		return locales.FormatDate(v.req.Tenant.Locale, d, time.UTC)
	}
	return s
}

// Num formats a number as the three languages write it: a decimal comma, no trailing zeros.
func (v *view) Num(f float64) string { return decimal(f) }

func decimal(f float64) string {
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
	return strings.ReplaceAll(s, ".", ",")
}

// V is a form value; E is the translated error of a field, if any.
func (v *view) V(name string) string { return v.Values[name] }

// E is the translated error of a field, or "".
func (v *view) E(name string) string {
	if code, ok := v.Errors[name]; ok {
		return v.T("results.err." + code)
	}
	return ""
}

// HasErrors reports whether the form has errors.
func (v *view) HasErrors() bool { return len(v.Errors) > 0 }

func (v *view) render(w http.ResponseWriter, status int, name string) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, v); err != nil {
		slog.Error("render", "template", name, "err", err)
		modbase.Page(w, http.StatusInternalServerError, v.T("error.generic.title"),
			template.HTML("<p>"+template.HTMLEscapeString(v.T("error.generic.text"))+"</p>"))
		return
	}
	modbase.Page(w, status, v.Title, template.HTML(b.String()))
}

// fail answers a status with a short localized page.
func (m *Module) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := m.view(r, "results.error.title")
	v.Data["Message"] = key
	v.render(w, status, "error")
}
