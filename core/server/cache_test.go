package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// second starts another instance of the platform on e's database and data, whose caches
// may miss a change made elsewhere for at most bound.
func (e *env) second(t *testing.T, bound time.Duration) *env {
	t.Helper()
	cfg := server.Config{DataDir: e.dataDir, ConsoleHost: "admin.localhost", PublicURL: "http://localhost:8080", Dev: true}
	srv, err := server.New(context.Background(), cfg, e.srv.DB, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Tenants.Bound = bound
	return &env{t: t, srv: srv, dataDir: e.dataDir}
}

// within polls check until it holds, and fails when it took longer than bound (plus what two
// requests take on a loaded machine).
func within(t *testing.T, what string, bound time.Duration, check func() bool) {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > bound+time.Second {
			t.Fatalf("%s: still not seen after %s (bound %s)", what, time.Since(start).Round(time.Millisecond), bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took > bound+500*time.Millisecond {
		t.Errorf("%s: seen after %s, bound %s", what, took.Round(time.Millisecond), bound)
	}
}

var revokeRe = regexp.MustCompile(`/account/sessions/([0-9a-f-]{36})/revoke`)

// TestCachesHoldAcrossInstances: two instances on one database. What one changes in a tenant
// (its settings, its permission rules) the other shows within its bound and never later; a
// revoked session or a blocked account is refused by the other on the very next request,
// with no bound at all (issue 10).
func TestCachesHoldAcrossInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		one := newEnv(t, b)
		const bound = 400 * time.Millisecond
		two := one.second(t, bound)
		ctx := context.Background()

		// A tenant's settings: the branding shown on every page.
		visitor := two.client("mlab.localhost")
		if r := visitor.get("/"); r.Status != 200 || strings.Contains(r.Body, "Laboratoires Rive Gauche") {
			t.Fatalf("home on the second instance: %d", r.Status)
		}
		ml := one.tenant("mlab")
		changed := *ml
		changed.Settings.Branding.Name = "Laboratoires Rive Gauche"
		if err := one.srv.Tenants.Save(ctx, &changed); err != nil {
			t.Fatal(err)
		}
		within(t, "a tenant's new name on the other instance", bound, func() bool {
			return strings.Contains(visitor.get("/").Body, "Laboratoires Rive Gauche")
		})

		// Permission rules: a role granted on one instance opens the page on the other.
		u, err := one.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		if err != nil {
			t.Fatal(err)
		}
		user := two.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.get("/admin/users"); r.Status != 403 {
			t.Fatalf("admin page before the role: %d", r.Status)
		}
		admin := one.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		if r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles", url.Values{"role": {"tenant_admin"}}); r.Status != 303 {
			t.Fatalf("grant: %d", r.Status)
		}
		within(t, "a role granted on the other instance", bound, func() bool { return user.get("/admin/users").Status == 200 })
		if r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles/remove", url.Values{"role": {"tenant_admin"}}); r.Status != 303 {
			t.Fatalf("withdraw: %d", r.Status)
		}
		within(t, "a role withdrawn on the other instance", bound, func() bool { return user.get("/admin/users").Status == 403 })

		// Terms: a new version in force that must be accepted stops the user on the other
		// instance within the bound; accepted on one instance, it lets him through on the
		// other at the very next request.
		e := one
		e.setRule("mlab", "terms.notice_days", 15)
		rules := e.tenant("mlab")
		rules.Settings.Rules["terms.explicit_reacceptance"] = true
		if err := e.srv.Tenants.Save(ctx, rules); err != nil {
			t.Fatal(err)
		}
		form := url.Values{}
		for _, l := range []string{"fr", "pl", "sk"} {
			form.Set("title_"+l, "Conditions v2 "+l)
			form.Set("body_"+l, "Texte "+l)
		}
		form.Set("effective", time.Now().In(ml.Location()).AddDate(0, 0, 15).Format("2006-01-02"))
		if r := admin.post("/admin/terms/platform/new", "/admin/terms/platform", form); r.Status != 303 {
			t.Fatalf("publish: %d", r.Status)
		}
		later := func() time.Time { return time.Now().UTC().AddDate(0, 0, 16) }
		one.srv.Terms.Now, two.srv.Terms.Now = later, later
		within(t, "new terms in force on the other instance", bound, func() bool {
			r := user.get("/account")
			return r.Status == 303 && strings.Contains(r.Location(), "/terms/accept")
		})
		desk := one.client("mlab.localhost")
		desk.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := desk.post("/terms/accept?next=/account", "/terms/accept", url.Values{"next": {"/account"}, "accept": {"yes"}}); r.Status != 303 {
			t.Fatalf("accept: %d", r.Status)
		}
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("terms accepted on one instance, the other's very next request: %d %s", r.Status, r.Location())
		}
		if r := admin.post("/terms/accept?next=/admin/users", "/terms/accept", url.Values{"next": {"/admin/users"}, "accept": {"yes"}}); r.Status != 303 {
			t.Fatalf("the admin accepts: %d", r.Status)
		}

		// A session revoked from another device, on the first instance: the very next
		// request on the second is not signed in.
		phone := one.client("mlab.localhost")
		phone.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("account before the revocation: %d", r.Status)
		}
		var other string
		page := phone.get("/account/sessions")
		for _, m := range revokeRe.FindAllStringSubmatch(page.Body, -1) {
			other = m[1] // the phone's own session has no button: the one there is user's
		}
		if other == "" {
			t.Fatalf("no other session to revoke:\n%s", page.Body)
		}
		if r := phone.post("/account/sessions", "/account/sessions/"+other+"/revoke", url.Values{}); r.Status != 303 {
			t.Fatalf("revoke: %d", r.Status)
		}
		if r := user.get("/account"); r.Status != 303 || !strings.Contains(r.Location(), "/login") {
			t.Fatalf("a revoked session on the very next request of the other instance: %d %s", r.Status, r.Location())
		}

		// An account blocked on the first instance: its session on the second ends at once.
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("account after signing in again: %d", r.Status)
		}
		if r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Usage frauduleux constaté"}}); r.Status != 303 {
			t.Fatalf("block: %d", r.Status)
		}
		if r := user.get("/account"); r.Status != 303 {
			t.Fatalf("a blocked account on the very next request of the other instance: %d", r.Status)
		}
	})
}
