package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/locales"
)

// TestTenantAdminSeesHisMaintenance: the platform admin plans maintenance windows; the tenant
// admin reads his tenant's current and coming ones on /admin/maintenance, read only, each with
// its kind and its dates in words in his language and whether his users were told — never
// another tenant's; a user without the admin's rights is refused (P7, B9 [001 art. 7]).
func TestTenantAdminSeesHisMaintenance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		sec := e.tenant("secretaires")
		admin := e.client("secretaires.localhost")
		admin.login("", "admin@secretaires.localhost", "demo-secretaires-admin")
		r := admin.get("/admin/maintenance")
		mustContain(t, r, "Aucune maintenance n’est prévue pour votre service.")
		mustContain(t, admin.get("/admin/users"), `href="/admin/maintenance"`)

		p := e.client("admin.localhost")
		p.login("", "admin@platform.localhost", "demo-platform-admin")
		loc := sec.Location()
		day := time.Now().In(loc).AddDate(0, 0, 10)
		start := time.Date(day.Year(), day.Month(), day.Day(), 20, 0, 0, 0, loc)
		plan := func(tenant, kind string, from, to time.Time) {
			t.Helper()
			if r := p.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {tenant}, "kind": {kind},
				"start": {from.Format("2006-01-02T15:04")}, "end": {to.Format("2006-01-02T15:04")}}); r.Status != 303 {
				t.Fatalf("plan %s: %d %s", kind, r.Status, mainOf(r.Body))
			}
		}
		// A 6-hour interruption (announced) and a 1-hour restriction the next day (not).
		plan(sec.ID, "interruption", start, start.Add(6*time.Hour))
		plan(sec.ID, "restricted", start.Add(24*time.Hour), start.Add(25*time.Hour))
		// Another tenant's window never shows here.
		ml := e.tenant("mlab")
		other := time.Date(day.Year(), day.Month(), day.Day(), 3, 17, 0, 0, ml.Location())
		plan(ml.ID, "interruption", other, other.Add(time.Hour))

		fr := func(at time.Time) string { return locales.FormatDateTime("fr", at, loc) }
		r = admin.get("/admin/maintenance")
		mustContain(t, r, "Interruption du service", "Service restreint (mode restreint)",
			"Le service sera interrompu pour maintenance du "+fr(start)+" au "+fr(start.Add(6*time.Hour))+".",
			"mode restreint pour maintenance du "+fr(start.Add(24*time.Hour))+" au "+fr(start.Add(25*time.Hour)),
			"Annoncée à vos utilisateurs par e-mail et par le bandeau.",
			"Courte : elle n’est pas annoncée à vos utilisateurs.")
		mustNotContain(t, r, fr(other), "interruption<", "restricted", "Aucune maintenance n’est prévue")
		if strings.Index(r.Body, "Interruption du service") > strings.Index(r.Body, "Service restreint (mode restreint)") {
			t.Fatal("the windows are not in the order they come")
		}
		// Read only: no form on the page, nothing to post.
		if strings.Contains(mainOf(r.Body), "<form") {
			t.Fatal("the tenant admin's maintenance page has a form")
		}
		if r := admin.post("/admin/maintenance", "/admin/maintenance", url.Values{"tenant": {sec.ID}}); r.Status < 400 || r.Status >= 500 {
			t.Fatalf("posting to the read-only page: %d", r.Status)
		}
		// In the admin's language: Polish words, Polish dates.
		u, err := e.srv.Accounts.ByEmail(ctx, sec.ID, "admin@secretaires.localhost")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Accounts.SetLocale(ctx, sec.ID, u.ID, "pl"); err != nil {
			t.Fatal(err)
		}
		pl := admin.get("/admin/maintenance")
		mustContain(t, pl, "Przerwa w działaniu serwisu",
			"od "+locales.FormatDateTime("pl", start, loc)+" do "+locales.FormatDateTime("pl", start.Add(6*time.Hour), loc))
		// A user without the admin's rights is refused.
		user := e.client("secretaires.localhost")
		user.login("", "user@secretaires.localhost", "demo-secretaires-user")
		if r := user.get("/admin/maintenance"); r.Status != 403 {
			t.Fatalf("a user on the admin's maintenance page: %d", r.Status)
		}
	})
}
