package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// TestLayoutFrameIsTheLayout: a page drawn in the kept frame (its top and bottom rendered once
// per tenant, language and navigation) is byte for byte the page the whole layout renders —
// anonymous or signed in, in each language, under a path prefix, for an admin, with a name
// that needs escaping, with a flash message and a maintenance banner (issue 10).
func TestLayoutFrameIsTheLayout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		same := func(c *client, path string, before func()) {
			t.Helper()
			if before != nil {
				before()
			}
			kept := c.get(path)
			server.RenderFramesOff(e.srv, true)
			defer server.RenderFramesOff(e.srv, false)
			if before != nil {
				before()
			}
			whole := c.get(path)
			if kept.Status != whole.Status || kept.Body != whole.Body {
				t.Errorf("%s%s: the kept frame (%d) differs from the layout (%d):\n--- kept\n%s\n--- layout\n%s", c.host, path, kept.Status, whole.Status, kept.Body, whole.Body)
			}
			if !strings.Contains(kept.Body, "</footer>") && kept.Status == 200 {
				t.Errorf("%s%s: no footer", c.host, path)
			}
		}
		anon := e.client("mlab.localhost")
		for _, p := range []string{"/", "/login", "/register", "/terms", "/legal", "/complaints/new", "/nowhere"} {
			same(anon, p, nil)
		}
		for _, lang := range []string{"pl", "sk"} {
			c := e.client("elekarze.localhost")
			c.lang = lang
			same(c, "/", nil)
			same(c, "/login", nil)
		}
		prefixed := e.client("localhost")
		same(prefixed, "/t/secretaires/", nil)
		same(prefixed, "/t/secretaires/login", nil)

		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.post("/account", "/account", url.Values{"name": {`Zoé <b>"O'Neil" + & co</b>`}, "locale": {""}}); r.Status != 303 {
			t.Fatalf("rename: %d %s", r.Status, r.Body)
		}
		user.get("/account") // shows the flash message once
		for _, p := range []string{"/", "/account", "/account/sessions", "/account/access", "/terms"} {
			same(user, p, nil)
		}
		// A flash message, shown once after a change.
		same(user, "/account", func() {
			user.post("/account", "/account", url.Values{"name": {`Zoé <b>"O'Neil" + & co</b>`}, "locale": {""}})
		})
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		same(admin, "/admin/users", nil)
		same(admin, "/admin/settings", nil)

		// A maintenance banner (a long window is announced, then shown).
		ml := e.tenant("mlab")
		ops := e.client("admin.localhost")
		ops.login("", "admin@platform.localhost", "demo-platform-admin")
		at := func(d time.Duration) string { return time.Now().In(ml.Location()).Add(d).Format("2006-01-02T15:04") }
		if r := ops.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "start": {at(10 * 24 * time.Hour)}, "end": {at(10*24*time.Hour + 6*time.Hour)}}); r.Status != 303 {
			t.Fatalf("maintenance: %d", r.Status)
		}
		ops.get("/platform/maintenance")
		if err := e.srv.RunJobsOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		same(anon, "/", nil)
		same(user, "/account", nil)
		same(ops, "/platform/tenants", nil)
		if r := anon.get("/"); !strings.Contains(r.Body, `class="banner"`) {
			t.Errorf("no maintenance banner:\n%s", r.Body)
		}
	})
}
