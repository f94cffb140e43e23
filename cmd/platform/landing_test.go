package main

import (
	"net/url"
	"path/filepath"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestLoginLandsWhereThePersonWorks (issue 12.11): once signed in with no page asked for, a
// patient lands on his results, a professional on his patients' results, lab staff on their
// queue (the landing pages the results module declares in its manifest); a safe page asked
// for still wins, and an unsafe one is never followed.
func TestLoginLandsWhereThePersonWorks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		land := func(host, email, password, next string) string {
			t.Helper()
			b := p.browser(host)
			form := url.Values{"email": {email}, "password": {password}}
			if next != "" {
				form.Set("next", next)
			}
			code, body := b.post("/login", "/login", form)
			if code != 303 {
				t.Fatalf("login %s: %d %s", email, code, body)
			}
			return b.last.Get("Location")
		}
		for _, c := range []struct{ host, email, password, next, want string }{
			{"mlab.localhost", "user@mlab.localhost", "demo-mlab-user", "", "/results/mine"},
			{"pro.mlab.localhost", "professional@mlab.localhost", "demo-mlab-professional", "", "/results/pro"},
			{"mlab.localhost", "professional@mlab.localhost", "demo-mlab-professional", "", "/results/pro"},
			{"mlab.localhost", "lab-staff@mlab.localhost", "demo-mlab-lab_staff", "", "/results/staff/queue"},
			// An explicit safe page wins; a page on another site is not followed.
			{"mlab.localhost", "lab-staff@mlab.localhost", "demo-mlab-lab_staff", "/account", "/account"},
			{"mlab.localhost", "user@mlab.localhost", "demo-mlab-user", "//evil.example/x", "/results/mine"},
		} {
			if got := land(c.host, c.email, c.password, c.next); got != c.want {
				t.Errorf("%s on %s (next %q) lands on %q, want %q", c.email, c.host, c.next, got, c.want)
			}
		}
	})
}
