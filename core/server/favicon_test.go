package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestFaviconPerTenant: issue 12.17. Every page names an icon; the icon of a tenant is its
// logo, and the platform's own where a tenant has none (the console); one URL serves every
// tenant, so the answer varies on the Host for caches.
func TestFaviconPerTenant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		logo, err := os.ReadFile(filepath.Join("..", "..", "tenants", "mlab", "logo.svg"))
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, e.client("mlab.localhost").get("/"), `<link rel="icon" href="/favicon.ico">`)
		mustContain(t, e.client("localhost").get("/t/mlab/login"), `<link rel="icon" href="/t/mlab/favicon.ico">`)
		r := e.client("mlab.localhost").get("/favicon.ico")
		if r.Status != 200 || r.Body != string(logo) || r.Header.Get("Content-Type") != "image/svg+xml" {
			t.Fatalf("mlab's icon: %d %q %.80s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		if !strings.Contains(r.Header.Get("Vary"), "Host") || !strings.Contains(r.Header.Get("Cache-Control"), "public") {
			t.Fatalf("icon caching: Vary %q, Cache-Control %q", r.Header.Get("Vary"), r.Header.Get("Cache-Control"))
		}
		other := e.client("elekarze.localhost").get("/favicon.ico")
		if other.Status != 200 || other.Body == r.Body {
			t.Fatalf("elekarze's icon is mlab's: %d", other.Status)
		}
		console := e.client("admin.localhost").get("/favicon.ico")
		if console.Status != 200 || !strings.Contains(console.Body, "<svg") || console.Body == r.Body {
			t.Fatalf("the default icon: %d %.80s", console.Status, console.Body)
		}
		if r := e.client("mlab.localhost").do(http.MethodHead, "/favicon.ico", nil); r.Status != 200 {
			t.Fatalf("HEAD: %d", r.Status)
		}
	})
}

// TestSessionsNameBrowserAndSystem: issue 12.17. The sessions page names each session's
// browser and system in words, in the reader's language, never the raw User-Agent string.
func TestSessionsNameBrowserAndSystem(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		phone := e.client("mlab.localhost")
		phone.header = http.Header{"User-Agent": {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}}
		if r := phone.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("login")
		}
		pc := e.client("mlab.localhost")
		pc.header = http.Header{"User-Agent": {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"}}
		if r := pc.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("login")
		}
		r := pc.get("/account/sessions")
		mustContain(t, r, "Firefox sur Windows", "Safari sur iOS")
		mustNotContain(t, r, "Mozilla/5.0", "Gecko")
		pc.lang = "pl"
		pc.post("/account/sessions", "/lang", map[string][]string{"lang": {"pl"}})
		mustContain(t, pc.get("/account/sessions"), "Firefox w systemie Windows")
	})
}
