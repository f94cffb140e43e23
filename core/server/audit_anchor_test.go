package server_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// TestAuditCheckpointsSignedAndDownloaded: the durable job signs each tenant's chain head
// with the configured key; the tenant admin downloads, from the audit page, a file of the
// tenant's own checkpoints with the public keys, and that file verifies the trail (what a
// rebuilt trail does against it: core/audit) (issue 11.13, P9).
func TestAuditCheckpointsSignedAndDownloaded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		path := filepath.Join(t.TempDir(), "audit-key.pem")
		if _, err := audit.EnsureKeyFile(path); err != nil {
			t.Fatal(err)
		}
		keys, err := audit.LoadKeyring(path)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, b, func(c *server.Config) { c.AuditKeys = keys })
		ctx := context.Background()
		ml, el := e.tenant("mlab"), e.tenant("elekarze")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		u, err := e.srv.Accounts.CreateActive(ctx, ml, "someone@mlab.localhost", "a long password 1", "Someone", "", "")
		if err != nil {
			t.Fatal(err)
		}
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Fraude"}})
		if err := e.srv.RunJobsOnce(ctx); err != nil {
			t.Fatal(err)
		}
		cps, err := e.srv.Trail.Checkpoints(ctx, ml.ID)
		if err != nil || len(cps) != 1 || cps[0].KeyID != keys.Keys[0].ID {
			t.Fatalf("mlab checkpoints: %+v %v", cps, err)
		}

		page := admin.get("/admin/audit")
		mustContain(t, page, "Télécharger les points de contrôle signés", "/admin/audit/checkpoints.json")
		r := admin.get("/admin/audit/checkpoints.json")
		if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "audit-checkpoints-mlab-") {
			t.Fatalf("download: %d %s", r.Status, r.Header.Get("Content-Disposition"))
		}
		exp, fileKeys, err := audit.ParseExport([]byte(r.Body))
		if err != nil || exp.TenantID != ml.ID || len(exp.Checkpoints) != 1 || len(fileKeys.Keys) != 1 || fileKeys.Keys[0].Private != nil {
			t.Fatalf("file: %+v %v", exp, err)
		}
		if strings.Contains(r.Body, "PRIVATE") {
			t.Fatal("the file carries a private key")
		}
		if got, err := e.srv.Trail.VerifyAnchored(ctx, ml.ID, fileKeys, exp.Checkpoints); err != nil || got.Checkpoints != 2 {
			t.Fatalf("verify with the file: %+v %v", got, err)
		}
		// Another tenant's file has none of mlab's checkpoints.
		other := e.client("elekarze.localhost")
		other.login("", "admin@elekarze.localhost", "demo-elekarze-admin")
		if r := other.get("/admin/audit/checkpoints.json"); r.Status != 200 || strings.Contains(r.Body, ml.ID) || !strings.Contains(r.Body, el.ID) {
			t.Fatalf("other tenant's file: %d %s", r.Status, r.Body)
		}
		// A user without the audit permission gets no file.
		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("user not signed in: %d", r.Status)
		}
		if r := user.get("/admin/audit/checkpoints.json"); r.Status == 200 {
			t.Fatal("a user downloaded the checkpoints")
		}
	})
}
