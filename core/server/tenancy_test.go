package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestTenantResolution: by Host (port ignored, any case), with /t/{slug}/ as the fallback;
// an unknown host gets a 404 that belongs to no tenant (P1).
func TestTenantResolution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		cases := []struct {
			name, host, path string
			status           int
			want, notWant    []string
		}{
			{"host", "mlab.localhost", "/", 200, []string{`<html lang="fr">`, "MLab Résultats", "MLab Laboratoires SELAS"}, nil},
			{"host with port and capitals", "MLab.Localhost:8080", "/", 200, []string{"MLab Résultats"}, nil},
			{"second portal of a tenant", "pro.mlab.localhost", "/", 200, []string{"MLab Résultats"}, nil},
			{"polish tenant", "elekarze.localhost", "/", 200, []string{`<html lang="pl">`, "eLekarze sp. z o.o."}, []string{"MLab"}},
			{"slovak tenant", "unilabs.localhost", "/", 200, []string{`<html lang="sk">`, "Unilabs Slovensko, s. r. o."}, nil},
			{"path fallback", "localhost", "/t/secretaires/", 200, []string{"Les Secrétaires SAS", `href="/t/secretaires/login"`}, nil},
			{"path fallback subpage", "127.0.0.1:8080", "/t/elekarze/login", 200, []string{`action="/t/elekarze/login"`}, nil},
			{"unknown host", "evil.example", "/", 404, nil, []string{"MLab", "eLekarze", "Unilabs", "Secrétaires", "<footer>"}},
			{"unknown slug", "localhost", "/t/nobody/", 404, nil, []string{"<footer>"}},
			{"no fallback on a tenant host", "mlab.localhost", "/t/elekarze/", 404, []string{"MLab"}, []string{"eLekarze sp."}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.client(tc.host).get(tc.path)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d", r.Status, tc.status)
				}
				mustContain(t, r, tc.want...)
				mustNotContain(t, r, tc.notWant...)
			})
		}
	})
}

// TestModulesFollowTheTenant: a tenant's navigation shows the modules it switched on; the
// path of a module it did not switch on is a 404 (P1, P5).
func TestModulesFollowTheTenant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		r := e.client("secretaires.localhost").get("/")
		mustContain(t, r, `href="/billing"`, `href="/calendar"`)
		mustNotContain(t, r, `href="/results"`, `href="/eshop"`)
		if r := e.client("secretaires.localhost").get("/results/"); r.Status != 404 {
			t.Fatalf("module not enabled: %d", r.Status)
		}
		// Enabled but its process is not running yet: the localized 503 of a module that is down.
		r = e.client("mlab.localhost").get("/results/")
		if r.Status != 503 {
			t.Fatalf("enabled module without a process: %d", r.Status)
		}
		mustContain(t, r, "Service momentanément indisponible")
	})
}

// TestCSRFRefused: a state-changing form without the token, or with the token of another
// session or tenant, is refused and changes nothing.
func TestCSRFRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")
		c.get("/login")
		r := c.do("POST", "/login", url.Values{"email": {"user@mlab.localhost"}, "password": {"demo-mlab-user"}})
		if r.Status != 403 {
			t.Fatalf("login without token: %d", r.Status)
		}
		mustContain(t, r, "Formulaire expiré")

		// A token issued to another browser.
		thief := e.client("mlab.localhost")
		tok := csrfRe.FindStringSubmatch(thief.get("/login").Body)[1]
		r = c.do("POST", "/login", url.Values{"email": {"user@mlab.localhost"}, "password": {"demo-mlab-user"}, "_csrf": {tok}})
		if r.Status != 403 {
			t.Fatalf("login with another browser's token: %d", r.Status)
		}

		// A signed-in user's deletion form without a valid token deletes nothing.
		if r := c.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatalf("login %d", r.Status)
		}
		r = c.do("POST", "/account/delete", url.Values{"password": {"demo-mlab-user"}, "_csrf": {tok}})
		if r.Status != 403 {
			t.Fatalf("delete with a stale token: %d", r.Status)
		}
		if _, err := e.srv.Accounts.ByEmail(context.Background(), e.tenant("mlab").ID, "user@mlab.localhost"); err != nil {
			t.Fatal("account deleted without a valid CSRF token")
		}
	})
}

// TestLoginRateLimited: attempts beyond the tenant's rule are refused with 429 per address
// (the throttle per account is TestLoginThrottleLetsTheOwnerIn); the limit is held in the
// database (P2).
func TestLoginRateLimited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.setRule("elekarze", "security.login_per_ip", 2)
		p := e.client("elekarze.localhost") // every in-memory request comes from one address
		for i := 1; i <= 2; i++ {
			p.login("", "nobody@example.org", "x")
		}
		if r := p.login("", "user@elekarze.localhost", "demo-elekarze-user"); r.Status != 429 {
			t.Fatalf("3rd attempt from one address: %d", r.Status)
		}
		// Registration is limited per address too.
		e.setRule("elekarze", "security.registration_per_ip", 1)
		p.post("/register", "/register", registerForm("a1@example.org"))
		if r := p.post("/register", "/register", registerForm("a2@example.org")); r.Status != 429 {
			t.Fatalf("2nd registration from one address: %d", r.Status)
		}
	})
}

// TestLanguageNegotiation: user preference → explicit choice (switcher cookie) →
// Accept-Language → tenant default; <html lang> follows (P4).
func TestLanguageNegotiation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		lang := func(r *response) string {
			i := strings.Index(r.Body, `<html lang="`)
			return r.Body[i+12 : i+14]
		}
		c := e.client("mlab.localhost")
		if l := lang(c.get("/")); l != "fr" {
			t.Fatalf("tenant default: %s", l)
		}
		c.lang = "pl-PL,pl;q=0.9,en;q=0.5"
		if l := lang(c.get("/")); l != "pl" {
			t.Fatalf("Accept-Language: %s", l)
		}
		c.lang = "de-DE,en;q=0.8"
		if l := lang(c.get("/")); l != "fr" {
			t.Fatalf("unsupported Accept-Language falls back to the tenant default: %s", l)
		}
		c.lang = "pl"
		r := c.post("/", "/lang", url.Values{"lang": {"sk"}})
		if r.Status != 303 {
			t.Fatalf("switch: %d", r.Status)
		}
		r = c.get("/login")
		if l := lang(r); l != "sk" {
			t.Fatalf("explicit choice beats Accept-Language: %s", l)
		}
		if r.Header.Get("Content-Language") != "sk" {
			t.Fatalf("Content-Language %q", r.Header.Get("Content-Language"))
		}
		// A signed-in user's saved preference beats the cookie.
		if r := c.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("login")
		}
		c.post("/account", "/account", url.Values{"name": {"Demo User"}, "locale": {"pl"}})
		c.jar.SetCookies(mustURL("http://mlab.localhost/"), []*httpCookie{{Name: "lang", Value: "fr", Path: "/"}})
		if l := lang(c.get("/account")); l != "pl" {
			t.Fatalf("user preference: %s", l)
		}
		// A language the tenant does not allow is refused.
		if r := c.post("/", "/lang", url.Values{"lang": {"en"}}); r.Status != 400 {
			t.Fatalf("unknown language: %d", r.Status)
		}
	})
}
