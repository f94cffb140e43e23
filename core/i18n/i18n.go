// Package i18n picks the language of a request and gives the core the message bundle of
// package locales. It must not know about HTTP frameworks: Negotiate takes plain strings.
package i18n

import (
	"golang.org/x/text/language"

	"carenet.dev/platform/locales"
)

// Bundle holds every message of every locale.
type Bundle = locales.Bundle

// Localizer translates into one language.
type Localizer = locales.Localizer

// Load reads the embedded message files.
func Load() (*Bundle, error) { return locales.Load() }

// Negotiate picks the language of a request among allowed, in this order: the user's saved
// preference, an explicit choice (switcher cookie), the Accept-Language header, and the
// tenant's default.
func Negotiate(allowed []string, userPref, cookie, acceptLanguage, tenantDefault string) string {
	in := func(l string) bool {
		for _, a := range allowed {
			if a == l {
				return true
			}
		}
		return false
	}
	if userPref != "" && in(userPref) {
		return userPref
	}
	if cookie != "" && in(cookie) {
		return cookie
	}
	if acceptLanguage != "" && len(allowed) > 0 {
		tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil && len(tags) > 0 {
			supported := make([]language.Tag, len(allowed))
			for i, a := range allowed {
				supported[i] = language.Make(a)
			}
			m := language.NewMatcher(supported)
			_, idx, conf := m.Match(tags...)
			if conf > language.No {
				return allowed[idx]
			}
		}
	}
	if in(tenantDefault) {
		return tenantDefault
	}
	if len(allowed) > 0 {
		return allowed[0]
	}
	return "fr"
}
