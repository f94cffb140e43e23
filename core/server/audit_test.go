package server_test

import (
	"context"
	"encoding/csv"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestAdminActionsAreAudited: admin actions land in the tenant's audit trail, which the
// tenant admin searches and exports as CSV, and the person concerned sees them on his
// account; the chain verifies; another tenant sees none of it (P9).
func TestAdminActionsAreAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Fraude"}})
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/unblock", nil)
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles", url.Values{"role": {"tenant_admin"}})
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles/remove", url.Values{"role": {"tenant_admin"}})
		admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"user"}, "perm": {"admin.mailbox"}, "on": {"1"}})

		r := admin.get("/admin/audit?subject=user%40mlab.localhost")
		if r.Status != 200 {
			t.Fatalf("audit page: %d", r.Status)
		}
		mustContain(t, r, "Compte bloqué", "Compte débloqué", "Rôle attribué", "Rôle retiré", "Admin MLab Laboratoires")
		if strings.Contains(tableOf(r.Body), "Droit modifié") { // not about this person (the search form lists every action)
			t.Fatal("a record about no one shown in the person's search")
		}
		if r := admin.get("/admin/audit?from=yesterday"); r.Status != 422 || !strings.Contains(r.Body, `id="e-from"`) {
			t.Fatalf("bad date: %d", r.Status)
		}
		if r := admin.get("/admin/audit?actor=nobody%40example.org"); r.Status != 422 {
			t.Fatalf("unknown actor: %d", r.Status)
		}

		r = admin.get("/admin/audit.csv?action=admin.")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil || len(rows) != 6 || rows[0][4] != "action" {
			t.Fatalf("csv rows: %d %v", len(rows), err)
		}

		// The person sees what was done to his account.
		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		r = user.get("/account/access")
		mustContain(t, r, "Compte bloqué", "Rôle attribué")
		mustNotContain(t, r, "Droit modifié")

		// Another tenant's admin sees nothing of it.
		other := e.client("elekarze.localhost")
		other.login("", "admin@elekarze.localhost", "demo-elekarze-admin")
		r = other.get("/admin/audit")
		mustNotContain(t, r, "mlab.localhost")
		if n, err := e.srv.Trail.Verify(ctx, ml.ID); err != nil || n != 5 {
			t.Fatalf("chain: %d %v", n, err)
		}
		// A plain user cannot read the trail.
		if r := user.get("/admin/audit"); r.Status != 403 {
			t.Fatalf("user on audit: %d", r.Status)
		}
	})
}

// tableOf is the first table of a page: the records, without the search form.
func tableOf(body string) string {
	if i := strings.Index(body, "<table"); i >= 0 {
		body = body[i:]
		if j := strings.Index(body, "</table>"); j >= 0 {
			return body[:j]
		}
	}
	return ""
}

var csvLinkRe = regexp.MustCompile(`href="([^"]*/admin/audit\.csv[^"]*)"`)

// TestAuditExportKeepsFilters: issue 11.7 (P9). The export link of a filtered audit page,
// followed as the page shows it, returns only the rows the page shows.
func TestAuditExportKeepsFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Fraude"}})
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/unblock", nil)
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/roles", url.Values{"role": {"tenant_admin"}})
		admin.post("/admin/roles", "/admin/roles", url.Values{"role": {"user"}, "perm": {"admin.mailbox"}, "on": {"1"}})

		page := admin.get("/admin/audit?action=admin.user_blocked&subject=user%40mlab.localhost&from=&to=")
		if page.Status != 200 {
			t.Fatalf("audit page: %d", page.Status)
		}
		m := csvLinkRe.FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatal("no export link on the page")
		}
		link := html.UnescapeString(m[1])
		r := admin.get(link)
		if r.Status != 200 {
			t.Fatalf("export %s: %d", link, r.Status)
		}
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("export %s: %d rows, want the header and the one block: %v", link, len(rows), rows)
		}
		if rows[1][4] != "admin.user_blocked" || rows[1][5] != u.ID {
			t.Fatalf("export %s: row %v", link, rows[1])
		}
		// Unfiltered, the link exports everything.
		m = csvLinkRe.FindStringSubmatch(admin.get("/admin/audit").Body)
		if m == nil || html.UnescapeString(m[1]) != "/admin/audit.csv" {
			t.Fatalf("unfiltered export link: %v", m)
		}
	})
}
