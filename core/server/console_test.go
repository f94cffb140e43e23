package server_test

import (
	"context"
	"html"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/pluginhost"
)

// consoleAdmin is the demo platform admin signed in on the console.
func (e *env) consoleAdmin() *client {
	e.t.Helper()
	c := e.client("admin.localhost")
	if r := c.login("", "admin@platform.localhost", "demo-platform-admin"); r.Status != 303 {
		e.t.Fatalf("console login: %d", r.Status)
	}
	return c
}

// TestPlatformAdminCreatesTenant: issue 12.14. A platform admin creates a tenant on the
// console (slug, name, country, languages, default language, hostnames with their portals
// chosen among the modules', modules); every bad value is refused next to its field and
// nothing is created; the creation is audited and the tenant serves at once: its home page
// in its language, and an account of it signs in.
func TestPlatformAdminCreatesTenant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.withFakeResults() // the results module runs and declares its portals
		c := e.consoleAdmin()
		fr := e.srv.I18n.For("fr")
		list := c.get("/platform/tenants")
		mustContain(t, list, `href="/platform/tenants/new"`)
		r := c.get("/platform/tenants/new")
		if r.Status != 200 {
			t.Fatalf("form: %d", r.Status)
		}
		mustContain(t, r, `<option value="professionals">professionnels</option>`, `name="slug"`, `name="hostname_0"`)

		bad := url.Values{"slug": {"Mlab Bis!"}, "name": {""}, "country": {"DE"}, "default_locale": {"sk"},
			"hostname_0": {"elekarze.localhost"}, "hostname_1": {"nova.localhost"}, "portal_1": {"professionnels"}, "modules": {"results"}}
		r = c.post("/platform/tenants/new", "/platform/tenants/new", bad)
		if r.Status != 422 {
			t.Fatalf("bad form: %d", r.Status)
		}
		for field, key := range map[string]string{"slug": "platform.tenants.slug_invalid", "name": "form.required",
			"country": "form.invalid_choice", "hostname_0": "platform.tenants.hostname_taken", "portal_1": "platform.tenants.portal_invalid"} {
			mustContain(t, r, `<p class="error" id="e-`+field+`">`+html.EscapeString(fr.T(key)))
		}
		mustContain(t, r, html.EscapeString(fr.T("platform.tenants.locales_required")), `value="nova.localhost"`)
		bad = url.Values{"slug": {"mlab"}, "name": {"X"}, "country": {"FR"}, "locales": {"fr"}, "default_locale": {"fr"}, "hostname_0": {"x.localhost"}}
		r = c.post("/platform/tenants/new", "/platform/tenants/new", bad)
		mustContain(t, r, `<p class="error" id="e-slug">`+html.EscapeString(fr.T("platform.tenants.slug_taken")))
		if r := e.client("nova.localhost").get("/"); r.Status != 404 {
			t.Fatalf("a refused form made a tenant: %d", r.Status)
		}

		good := url.Values{"slug": {"novalab"}, "name": {"NovaLab Bratislava"}, "country": {"SK"}, "locales": {"sk", "pl"},
			"default_locale": {"sk"}, "hostname_0": {"nova.localhost"}, "portal_0": {"patients"},
			"hostname_1": {"pro.nova.localhost"}, "portal_1": {"professionals"}, "modules": {"results"}}
		r = c.post("/platform/tenants/new", "/platform/tenants/new", good)
		if r.Status != 303 {
			t.Fatalf("create: %d %s", r.Status, mainOf(r.Body))
		}
		nova := e.tenant("novalab")
		if nova.Settings.TimeZone != "Europe/Bratislava" || nova.Settings.Currency != "EUR" || len(nova.Hostnames) != 2 ||
			strings.Join(nova.EnabledModules(), ",") != "results" {
			t.Fatalf("created: %+v %+v %v", nova.Settings, nova.Hostnames, nova.EnabledModules())
		}
		mustContain(t, c.get(r.Location()), html.EscapeString(fr.T("platform.tenants.created")))
		home := e.client("nova.localhost").get("/")
		if home.Status != 200 {
			t.Fatalf("new tenant's home: %d", home.Status)
		}
		mustContain(t, home, `<html lang="sk">`, "NovaLab Bratislava")
		if r := e.client("pro.nova.localhost").get("/login"); r.Status != 200 {
			t.Fatalf("professionals' portal: %d", r.Status)
		}
		ctx := context.Background()
		if _, err := e.srv.Accounts.CreateActive(ctx, nova, "eva@nova.localhost", "a long password 1", "Eva Nová", "1990-02-03", "sk"); err != nil {
			t.Fatal(err)
		}
		u := e.client("nova.localhost")
		if r := u.login("", "eva@nova.localhost", "a long password 1"); r.Status != 303 {
			t.Fatalf("sign-in on the new tenant: %d %s", r.Status, mainOf(r.Body))
		}
		if r := u.get("/account"); r.Status != 200 || !strings.Contains(r.Body, "Eva Nová") {
			t.Fatalf("account page on the new tenant: %d", r.Status)
		}
		recs, err := e.srv.Trail.Search(ctx, nova.ID, audit.Filter{Action: "platform.tenant_created"})
		if err != nil || len(recs) != 1 || recs[0].Resource != "tenant:novalab" || !strings.HasPrefix(recs[0].Actor, "platform:") {
			t.Fatalf("audit of the creation: %v %+v", err, recs)
		}
	})
}

// TestAdminLeadsToTheAdministration: issue 12.14. /admin (and /platform) were a 404: they
// lead to the first administration page the person may open; someone who may open none
// keeps the 404.
func TestAdminLeadsToTheAdministration(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	admin := e.client("mlab.localhost")
	if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
		t.Fatal("login")
	}
	if r := admin.get("/admin"); r.Status != 303 || r.Location() != "/admin/users" {
		t.Fatalf("tenant admin's /admin: %d %q", r.Status, r.Location())
	}
	c := e.consoleAdmin()
	for _, p := range []string{"/admin", "/platform"} {
		if r := c.get(p); r.Status != 303 || r.Location() != "/platform/tenants" {
			t.Fatalf("platform admin's %s: %d %q", p, r.Status, r.Location())
		}
	}
	user := e.client("mlab.localhost")
	if r := user.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
		t.Fatal("login")
	}
	if r := user.get("/admin"); r.Status != 404 {
		t.Fatalf("a patient's /admin: %d", r.Status)
	}
}

// TestConsoleRowLeadsSomewhere: issue 12.14. The console's own row of the tenants list
// linked to a 404; it leads to the console's accounts, the platform admins.
func TestConsoleRowLeadsSomewhere(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	c := e.consoleAdmin()
	r := c.get("/platform/tenants")
	console := e.tenant("platform")
	mustNotContain(t, r, `href="/platform/tenants/`+console.ID+`"`)
	mustContain(t, r, `href="/platform/users?tenant=platform"`)
	if r := c.get("/platform/users?tenant=platform"); r.Status != 200 || !strings.Contains(r.Body, "admin@platform.localhost") {
		t.Fatalf("the console's row: %d", r.Status)
	}
}

// TestModuleDownSaysTheTruth: issue 12.14. A module the host is relaunching says it comes
// back by itself; one that failed past its restart budget (or was refused) says an admin
// must restart it, on the page and in the API's answer, in the reader's language.
func TestModuleDownSaysTheTruth(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	f := e.withFakeResults()
	f.down = true
	user := e.client("mlab.localhost")
	if r := user.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
		t.Fatal("login")
	}
	for state, key := range map[string]string{pluginhost.StateDown: "error.module_down.text", pluginhost.StateFailed: "error.module_stopped.text",
		pluginhost.StateStopped: "error.module_stopped.text"} {
		f.state = state
		for _, lang := range []string{"fr", "pl", "sk"} {
			user.post("/", "/lang", url.Values{"lang": {lang}})
			r := user.get("/results/echo")
			want := html.EscapeString(e.srv.I18n.For(lang).T(key))
			if r.Status != 503 || !strings.Contains(r.Body, want) {
				t.Errorf("%s, %s: %d, want %q in %s", state, lang, r.Status, want, mainOf(r.Body))
			}
		}
	}
}
