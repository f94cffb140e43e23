package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/core/tenancy"
)

var paramRe = regexp.MustCompile(`:[a-z]+|\*`)

// concrete turns a route pattern into a path: parameters get a well-formed random id.
func concrete(pattern, id string) string {
	return paramRe.ReplaceAllString(pattern, id)
}

// TestEveryRouteDeclaresAPermission: every route the app serves is in the route table with
// an explicit permission, and the table lists nothing the app does not serve (P3).
func TestEveryRouteDeclaresAPermission(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	declared := map[string]string{}
	for _, r := range e.srv.Routes() {
		if r.Perm == "" {
			t.Errorf("%s %s has no permission", r.Method, r.Path)
		}
		declared[r.Method+" "+r.Path] = r.Perm
	}
	for _, r := range e.srv.App.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Path == "/" && len(r.Handlers) > 0 && r.Method == "USE" {
			continue
		}
		if _, ok := declared[r.Method+" "+r.Path]; !ok {
			t.Errorf("%s %s is served without a declared permission", r.Method, r.Path)
		}
	}
	if len(declared) < 30 {
		t.Fatalf("only %d routes declared", len(declared))
	}
}

// TestRoutePermissionMatrix: every non-public route refuses anonymous requests, and refuses
// a signed-in user whose roles lack its permission; platform routes exist only on the
// console (P3).
func TestRoutePermissionMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		target, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "admin@mlab.localhost")

		anon := e.client("mlab.localhost")
		anon.get("/")
		user := e.client("mlab.localhost")
		if r := user.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("user login")
		}
		admin := e.client("mlab.localhost")
		if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatal("admin login")
		}
		checked := 0
		for _, rt := range e.srv.Routes() {
			if rt.Perm == authz.PermPublic || rt.Perm == server.PermModuleRoute {
				continue // module routes: each manifest route is checked in cmd/platform's tests
			}
			path := concrete(rt.Path, target.ID)
			send := func(c *client) *response {
				if rt.Method == http.MethodGet {
					return c.get(path)
				}
				return c.post("/", path, url.Values{"role": {"user"}, "reason": {"x"}})
			}
			// Anonymous: sent to the login page (GET) or refused (POST), never served.
			r := send(anon)
			if !(r.Status == 303 && strings.Contains(r.Location(), "/login")) && r.Status != 401 && r.Status != 404 {
				t.Errorf("anonymous %s %s: %d", rt.Method, path, r.Status)
			}
			// A plain user holds only account.self.
			if rt.Perm != authz.PermAccount {
				r = send(user)
				if r.Status != 403 && r.Status != 404 {
					t.Errorf("user %s %s (%s): %d", rt.Method, path, rt.Perm, r.Status)
				}
			}
			// A tenant admin holds no platform permission, and platform routes are 404
			// outside the console.
			if strings.HasPrefix(rt.Perm, "platform.") {
				if r = send(admin); r.Status != 404 {
					t.Errorf("tenant admin %s %s: %d", rt.Method, path, r.Status)
				}
			}
			checked++
		}
		if checked < 20 {
			t.Fatalf("only %d protected routes checked", checked)
		}
		// And the allowed side of the matrix: each role reaches what it holds.
		for _, p := range []string{"/account", "/account/sessions", "/account/delete"} {
			if r := user.get(p); r.Status != 200 {
				t.Errorf("user GET %s: %d", p, r.Status)
			}
		}
		for _, p := range []string{"/admin/users", "/admin/users/" + target.ID, "/admin/roles", "/admin/mailbox"} {
			if r := admin.get(p); r.Status != 200 {
				t.Errorf("admin GET %s: %d", p, r.Status)
			}
		}
		console := e.client("admin.localhost")
		if r := console.login("", "admin@platform.localhost", "demo-platform-admin"); r.Status != 303 {
			t.Fatal("platform admin login")
		}
		for _, p := range []string{"/platform/tenants", "/platform/tenants/" + ml.ID, "/platform/users?tenant=mlab"} {
			if r := console.get(p); r.Status != 200 {
				t.Errorf("platform admin GET %s: %d", p, r.Status)
			}
		}
	})
}

// TestTenantAdminCannotGrantPlatformRights: a tenant admin assigns roles of his tenant, but
// never the platform admin role nor a platform permission (P3).
func TestTenantAdminCannotGrantPlatformRights(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")

		r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles", url.Values{"role": {authz.RolePlatformAdmin}})
		if r.Status != 403 {
			t.Fatalf("assign platform_admin: %d", r.Status)
		}
		r = admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"tenant_admin"}, "perm": {"platform.tenants"}, "on": {"1"}})
		if r.Status != 422 && r.Status != 403 {
			t.Fatalf("grant platform.tenants: %d", r.Status)
		}
		r = admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"user"}, "perm": {"*"}, "on": {"1"}})
		if r.Status != 422 && r.Status != 403 {
			t.Fatalf("grant *: %d", r.Status)
		}
		// The service refuses it too, whoever calls it.
		err := e.srv.DB.InTenant(ctx, ml.ID, func(ctx context.Context, sc *db.Scope) error {
			return e.srv.Authz.AssignRole(ctx, sc, u.ID, authz.RolePlatformAdmin)
		})
		if err != authz.ErrPlatformRight {
			t.Fatalf("AssignRole(platform_admin): %v", err)
		}
		// The user can still not reach the console's pages nor the tenant admin's.
		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.get("/admin/users"); r.Status != 403 {
			t.Fatalf("user on /admin/users: %d", r.Status)
		}

		// What a tenant admin may do: give the tenant_admin role, and withdraw it.
		r = admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles", url.Values{"role": {authz.RoleTenantAdmin}})
		if r.Status != 303 {
			t.Fatalf("assign tenant_admin: %d", r.Status)
		}
		if r := user.get("/admin/users"); r.Status != 200 {
			t.Fatalf("new tenant admin on /admin/users: %d", r.Status)
		}
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles/remove", url.Values{"role": {authz.RoleTenantAdmin}})
		if r := user.get("/admin/users"); r.Status != 403 {
			t.Fatalf("after withdrawal: %d", r.Status)
		}
		// Grants change within the tenant: give plain users the mailbox, then take it back.
		admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"user"}, "perm": {authz.PermAdminMailbox}, "on": {"1"}})
		if r := user.get("/admin/mailbox"); r.Status != 200 {
			t.Fatalf("granted mailbox: %d", r.Status)
		}
		if r := e.client("elekarze.localhost"); true {
			r.login("", "user@elekarze.localhost", "demo-elekarze-user")
			if res := r.get("/admin/mailbox"); res.Status != 403 {
				t.Fatalf("a grant in mlab leaked into elekarze: %d", res.Status)
			}
		}
		admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"user"}, "perm": {authz.PermAdminMailbox}, "on": {"0"}})
		if r := user.get("/admin/mailbox"); r.Status != 403 {
			t.Fatalf("withdrawn mailbox: %d", r.Status)
		}
		// Admins cannot lock themselves out of role management.
		r = admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"tenant_admin"}, "perm": {authz.PermAdminRoles}, "on": {"0"}})
		if r.Status != 403 {
			t.Fatalf("lockout: %d", r.Status)
		}
	})
}

// TestBlockWithReason: a tenant admin blocks an account for a stated reason; its sessions end,
// the person sees the reason at login and is told by e-mail; unblocking restores access
// (P2, R6).
func TestBlockWithReason(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")

		r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {""}})
		if r.Status != 422 {
			t.Fatalf("block without reason: %d", r.Status)
		}
		mustContain(t, r, `id="e-reason"`)
		r = admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Usage frauduleux constaté"}})
		if r.Status != 303 {
			t.Fatalf("block: %d", r.Status)
		}
		if r := user.get("/account"); r.Status != 303 {
			t.Fatalf("blocked user's session survived: %d", r.Status)
		}
		r = user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r.Status != 403 {
			t.Fatalf("blocked login: %d", r.Status)
		}
		mustContain(t, r, "Usage frauduleux constaté")
		// A wrong password does not reveal the block.
		r = user.login("", "user@mlab.localhost", "wrong password!")
		mustNotContain(t, r, "Usage frauduleux")
		ms := e.mails("mlab")
		if last := ms[len(ms)-1]; !strings.Contains(last.Text, "Usage frauduleux constaté") {
			t.Fatalf("block mail: %q", last.Text)
		}
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/unblock", nil)
		if r := user.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatalf("unblocked login: %d", r.Status)
		}
	})
}

// TestPlatformAdminEditsTenants: the console lists tenants with hostnames, locales and
// modules, and edits them with validation; the change takes effect at once (P12).
func TestPlatformAdminEditsTenants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ml := e.tenant("mlab")
		c := e.client("admin.localhost")
		if r := c.login("", "admin@platform.localhost", "demo-platform-admin"); r.Status != 303 {
			t.Fatal("login")
		}
		r := c.get("/platform/tenants")
		mustContain(t, r, "mlab", "pro.mlab.localhost", "elekarze.localhost", "unilabs", "secretaires")
		// A tenant's state in words, not its internal value.
		mustContain(t, r, `data-label="État">Actif</td>`)
		mustNotContain(t, r, `>active</td>`)
		// A hostname's portal in words too.
		mustContain(t, r, "pro.mlab.localhost (professionnels)")
		mustNotContain(t, r, "(professionals)")
		page := "/platform/tenants/" + ml.ID
		r = c.post(page, page, url.Values{"name": {"MLab"}, "locales": {"pl"}, "default_locale": {"fr"}, "status": {"active"}})
		if r.Status != 422 {
			t.Fatalf("default locale outside the locales: %d", r.Status)
		}
		mustContain(t, r, `La langue par défaut doit faire partie des langues choisies.`)
		r = c.post(page, page, url.Values{"name": {"MLab"}, "locales": {"fr", "sk"}, "default_locale": {"sk"}, "status": {"active"}})
		if r.Status != 303 {
			t.Fatalf("save: %d %s", r.Status, mainOf(r.Body))
		}
		if r := e.client("mlab.localhost").get("/"); !strings.Contains(r.Body, `<html lang="sk">`) {
			t.Fatal("new default locale not applied")
		}
		// Hostnames: an invalid one or one of another tenant is refused, next to its field.
		fr := e.srv.I18n.For("fr")
		r = c.post(page, page+"/hostnames", url.Values{"hostname_0": {"not a host!"}})
		if r.Status != 422 {
			t.Fatalf("bad hostname: %d", r.Status)
		}
		mustContain(t, r, `<p class="error" id="e-hostname_0">`+html.EscapeString(fr.T("platform.tenants.hostname_invalid")))
		r = c.post(page, page+"/hostnames", url.Values{"hostname_0": {"mlab.localhost"}, "portal_0": {"patients"}, "hostname_1": {"elekarze.localhost"}})
		if r.Status != 422 {
			t.Fatalf("hostname of another tenant: %d", r.Status)
		}
		mustContain(t, r, `<p class="error" id="e-hostname_1">`+html.EscapeString(fr.T("platform.tenants.hostname_taken")))
		// Issue 12.14: the portal is one the tenant's modules declare, chosen in a list of
		// their names; a word typed or translated ("professionnels") is refused next to the
		// field, where it once silently made a patients' portal.
		r = c.get(page)
		mustContain(t, r, `<select id="f-portal_1" name="portal_1">`, `<option value="professionals" selected>professionnels</option>`)
		r = c.post(page, page+"/hostnames", url.Values{"hostname_0": {"mlab.localhost"}, "portal_0": {"patients"},
			"hostname_1": {"labo.localhost"}, "portal_1": {"professionnels"}})
		if r.Status != 422 {
			t.Fatalf("a portal no module declares: %d", r.Status)
		}
		mustContain(t, r, `<p class="error" id="e-portal_1">`+html.EscapeString(fr.T("platform.tenants.portal_invalid")))
		if r := e.client("pro.mlab.localhost").get("/"); r.Status != 200 {
			t.Fatal("a refused edit changed the hostnames")
		}
		r = c.post(page, page+"/hostnames", url.Values{"hostname_0": {"mlab.localhost"}, "portal_0": {"patients"},
			"hostname_1": {"labo.localhost"}, "portal_1": {"professionals"}})
		if r.Status != 303 {
			t.Fatalf("hostnames: %d %s", r.Status, mainOf(r.Body))
		}
		if h := e.tenant("mlab").Hostnames; len(h) != 2 || h[0].Hostname != "labo.localhost" || h[0].Portal != "professionals" {
			t.Fatalf("hostnames saved: %+v", h)
		}
		if r := e.client("labo.localhost").get("/"); r.Status != 200 {
			t.Fatalf("new hostname: %d", r.Status)
		}
		if r := e.client("pro.mlab.localhost").get("/"); r.Status != 404 {
			t.Fatalf("removed hostname: %d", r.Status)
		}
		// Modules: switch eshop on for mlab.
		r = c.post(page, page+"/modules", url.Values{"modules": {"results", "eshop"}})
		if r.Status != 303 {
			t.Fatalf("modules: %d", r.Status)
		}
		if r := e.client("mlab.localhost").get("/"); !strings.Contains(r.Body, `href="/eshop"`) {
			t.Fatal("module switched on is not in the navigation")
		}
		if r := c.post(page, page+"/modules", url.Values{"modules": {"nope"}}); r.Status != 400 {
			t.Fatalf("unknown module: %d", r.Status)
		}
	})
}

// TestTenantAdminEditsRulesAndBranding: a tenant admin changes branding, contacts and rules
// with validation next to each field; a rule takes effect at once (P12, rules are data).
func TestTenantAdminEditsRulesAndBranding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		admin := e.client("unilabs.localhost")
		if r := admin.login("", "admin@unilabs.localhost", "demo-unilabs-admin"); r.Status != 303 {
			t.Fatal("login")
		}
		r := admin.get("/admin/settings")
		if r.Status != 200 {
			t.Fatalf("settings: %d", r.Status)
		}
		mustContain(t, r, `name="rule_account_min_age"`, `value="18"`, `value="365"`)
		form := url.Values{}
		for _, m := range regexp.MustCompile(`name="([a-z_]+)"[^>]*value="([^"]*)"`).FindAllStringSubmatch(r.Body, -1) {
			if m[1] != "_csrf" && m[1] != "lang" {
				form.Set(m[1], m[2])
			}
		}
		for _, r := range tenancy.CoreRules { // yes/no rules are selects, not inputs
			if r.Type == "bool" {
				form.Set("rule_"+strings.ReplaceAll(r.Name, ".", "_"), "false")
			}
		}
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("primary_color", "red")
		bad.Set("rule_account_min_age", "200")
		bad.Set("support", "nope")
		r = admin.post("/admin/settings", "/admin/settings", bad)
		if r.Status != 422 {
			t.Fatalf("invalid settings: %d", r.Status)
		}
		mustContain(t, r, `id="e-primary_color"`, `id="e-rule_account_min_age"`, `id="e-support"`, "Zadajte číslo od 0 do 120.")
		if e.tenant("unilabs").IntRule("account.min_age") != 18 {
			t.Fatal("an invalid form changed a rule")
		}
		form.Set("rule_account_min_age", "21")
		form.Set("branding_name", "Unilabs Shop")
		form.Set("primary_color", "#112233")
		r = admin.post("/admin/settings", "/admin/settings", form)
		if r.Status != 303 {
			t.Fatalf("save: %d %s", r.Status, mainOf(r.Body))
		}
		if e.tenant("unilabs").IntRule("account.min_age") != 21 {
			t.Fatal("rule not saved")
		}
		home := e.client("unilabs.localhost").get("/")
		mustContain(t, home, "Unilabs Shop")
		css := e.client("unilabs.localhost").get("/branding.css")
		mustContain(t, css, "#112233")
		// The new minimum age applies to registration at once.
		f := registerForm("twenty@example.org")
		f.Set("birth_date", time.Now().AddDate(-20, 0, 0).Format("2006-01-02"))
		if r := e.client("unilabs.localhost").post("/register", "/register", f); r.Status != 422 {
			t.Fatalf("registration under the new minimum age: %d", r.Status)
		}
	})
}
