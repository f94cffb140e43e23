// Package view holds the helpers every page of the platform prints with, the core's pages
// and the modules' alike: translation with plural forms, dates in the tenant's time zone and
// the reader's language, numbers and money as the language writes them, links under the
// tenant's path prefix, the CSRF field, and a form's values and errors next to its fields.
// It has no state beyond one page's, and imports nothing of the core or of a module.
package view

import (
	"html/template"
	"sync"
	"time"

	"carenet.dev/platform/locales"
)

// Helpers are what a page template calls to print words, dates, numbers and form fields. A
// page's data embeds them.
type Helpers struct {
	loc    *locales.Localizer
	zone   *time.Location
	base   string
	csrf   string
	values map[string]string
	errors map[string]string
}

// New returns the helpers of a page in loc's language, for a tenant in zone whose pages are
// under base ("" or "/t/<slug>"), whose forms carry the token csrf.
func New(loc *locales.Localizer, zone *time.Location, base, csrf string) Helpers {
	if zone == nil {
		zone = time.UTC
	}
	return Helpers{loc: loc, zone: zone, base: base, csrf: csrf}
}

// WithForm returns h showing a submitted form: its values, and per field the message id of
// what is wrong with it.
func (h Helpers) WithForm(values, errors map[string]string) Helpers {
	h.values, h.errors = values, errors
	return h
}

// Lang is the page's language.
func (h Helpers) Lang() string { return h.loc.Lang }

// T translates a message id, with template data as key/value pairs.
func (h Helpers) T(id string, kv ...any) string { return h.loc.T(id, kv...) }

// TN translates a message id in the plural form the language gives for n (CLDR rules; the
// message receives n as {{.Count}}).
func (h Helpers) TN(id string, n any, kv ...any) string {
	switch x := n.(type) {
	case int:
		return h.loc.TN(id, x, kv...)
	case int64:
		return h.loc.TN(id, int(x), kv...)
	case float64:
		return h.loc.TN(id, int(x), kv...)
	}
	return h.loc.TN(id, 0, kv...)
}

// Date formats t's calendar date in the tenant's time zone the way the language writes it.
func (h Helpers) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return locales.FormatDate(h.loc.Lang, t, h.zone)
}

// DateTime formats t's date and time of day in the tenant's time zone.
func (h Helpers) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return locales.FormatDateTime(h.loc.Lang, t, h.zone)
}

// Clock formats t's time of day in the tenant's time zone.
func (h Helpers) Clock(t time.Time) string { return t.In(h.zone).Format("15:04") }

// Day formats a calendar date stored as YYYY-MM-DD (a birth date): no time zone applies, a
// calendar date is the same day everywhere. Anything else is printed as it is.
func (h Helpers) Day(iso string) string {
	d, err := time.Parse("2006-01-02", iso)
	if err != nil {
		return iso
	}
	return locales.FormatDate(h.loc.Lang, d, nil)
}

// Num formats a measured value the way the language writes decimals: "5,4", no trailing
// zeros, at most three decimals.
func (h Helpers) Num(f float64) string { return locales.FormatMeasure(h.loc.Lang, f) }

// Int formats a whole number with the language's digit grouping: "1 234".
func (h Helpers) Int(n int64) string { return locales.FormatInt(h.loc.Lang, n) }

// Money formats an amount in minor units of currency: "1 234,56 €".
func (h Helpers) Money(minor int64, currency string) string {
	return locales.FormatMoney(h.loc.Lang, minor, currency)
}

// URL is a path of the tenant's site, with its prefix.
func (h Helpers) URL(path string) string { return h.base + path }

// CSRFField is the hidden field every state-changing form carries.
func (h Helpers) CSRFField() template.HTML {
	return template.HTML(`<input type="hidden" name="_csrf" value="` + template.HTMLEscapeString(h.csrf) + `">`) //nolint:gosec // escaped above
}

// V is the submitted value of a form field.
func (h Helpers) V(field string) string { return h.values[field] }

// E is what is wrong with a form field, in the page's language, or "".
func (h Helpers) E(field string) string {
	if id, ok := h.errors[field]; ok {
		return h.loc.T(id)
	}
	return ""
}

// HasErrors reports whether the form came back with errors.
func (h Helpers) HasErrors() bool { return len(h.errors) > 0 }

var zones sync.Map

// Zone returns the time zone of that name, read once per process (loading a zone reads the
// system's zone files), or UTC for an unknown name.
func Zone(name string) *time.Location {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location)
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		z = time.UTC
	}
	zones.Store(name, z)
	return z
}
