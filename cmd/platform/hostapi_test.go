package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/sdk"
)

// api sends a machine's request to the platform as if to http://<host>/path, with an API key
// when key is not empty.
func (p *platform) api(host, method, path, key string, body io.Reader) (int, http.Header, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, "http://"+host+path, body)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	u, _ := url.Parse(p.base)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}}
	res, err := c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(data)
}

var newKeyRe = regexp.MustCompile(`id="new-key">(pk_[A-Za-z0-9_-]+)</code>`)

// createKey makes an API key on the tenant admin's page and returns it as shown, once.
func createKey(t *testing.T, admin *browser, name string, perms ...string) string {
	t.Helper()
	code, body := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {name}, "permissions": perms})
	m := newKeyRe.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("create key: %d %s", code, body)
	}
	return m[1]
}

// userID is the id of the signed-in user, as the probe module sees it.
func userID(t *testing.T, b *browser) string {
	t.Helper()
	_, echo := b.do("GET", "/probe/echo", nil)
	var got struct{ User *sdk.User }
	if err := json.Unmarshal([]byte(echo), &got); err != nil || got.User == nil {
		t.Fatalf("echo: %s", echo)
	}
	return got.User.ID
}

// TestDemoAccountsForModuleRolesAreToldToModules: `serve --demo` makes one account per
// assignable role of each module a tenant runs, with that role and the core grants the
// module gives it, and tells each module of the tenant's demo accounts — its own tenant's
// only (P3, P5).
func TestDemoAccountsForModuleRolesAreToldToModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		demoAccountsForModuleRoles(t, startPlatformOn(t, be, writeProbeTenants(t)))
	})
}

func demoAccountsForModuleRoles(t *testing.T, p *platform) {
	alpha := p.auditActions(t, "alpha")
	for _, want := range []string{"probe.event:platform.demo_seeded=",
		`"email":"prober@alpha.localhost","name":"Demo prober","role":"prober"`,
		`"email":"admin@alpha.localhost","name":"Admin Tenant alpha","role":"tenant_admin"`,
		`"email":"user@alpha.localhost","name":"Demo User","role":"user"`} {
		if !strings.Contains(alpha, want) {
			t.Fatalf("alpha's module was not told %q: %s", want, alpha)
		}
	}
	if strings.Contains(alpha, "beta.localhost") || strings.Contains(alpha, "member@") {
		t.Fatalf("alpha was told of another tenant's account or of an implicit role: %s", alpha)
	}
	if !strings.Contains(p.out.String(), "prober@alpha.localhost") || !strings.Contains(p.out.String(), "demo-alpha-prober") {
		t.Fatalf("the demo logins do not list the role account:\n%s", p.out.String())
	}
	pr := p.browser("alpha.localhost")
	pr.login("prober@alpha.localhost", "demo-alpha-prober")
	if code, _ := pr.do("GET", "/probe/staff", nil); code != 200 {
		t.Fatalf("the prober demo account lacks its role: %d", code)
	}
	// The module's core grant: probers answer complaints, and nothing more of the admin.
	if code, _ := pr.do("GET", "/admin/complaints", nil); code != 200 {
		t.Fatalf("core grant of the module role: %d", code)
	}
	if code, _ := pr.do("GET", "/admin/settings", nil); code != 403 {
		t.Fatalf("a module role reached the settings: %d", code)
	}
}

// TestHostAPIIdentitySecretAndRoles: a module reads the identity a person gave (birth date,
// secret question, state), checks a secret answer without ever seeing it (the check is
// audited), and gives or takes away its own assignable roles only (P2, P3, R2, R6).
func TestHostAPIIdentitySecretAndRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		u := p.browser("alpha.localhost")
		u.login("user@alpha.localhost", "demo-alpha-user")
		uid := userID(t, u)
		if code, body := u.post("/account", "/account/secret", url.Values{"secret_question": {"Animal préféré ?"},
			"secret_answer": {"Éléphant Rose"}, "secret_current": {"demo-alpha-user"}}); code != 303 {
			t.Fatalf("set secret: %d %s", code, body)
		}
		code, body := u.do("GET", "/probe/call/lookup?id="+uid, nil)
		var usr sdk.User
		if err := json.Unmarshal([]byte(body), &usr); code != 200 || err != nil {
			t.Fatalf("lookup: %d %s", code, body)
		}
		if usr.BirthDate != "1990-05-17" || usr.SecretQuestion != "Animal préféré ?" || usr.Status != "active" {
			t.Fatalf("identity: %+v", usr)
		}
		if strings.Contains(body, "argon2") || strings.Contains(strings.ToLower(body), "rose") {
			t.Fatalf("the answer or its hash reached the module: %s", body)
		}
		for answer, want := range map[string]string{"  elephant   ROSE ": `{"has":true,"match":true}`, "girafe": `{"has":true,"match":false}`} {
			if code, body := u.do("GET", "/probe/call/check?id="+uid+"&answer="+url.QueryEscape(answer), nil); code != 200 || body != want {
				t.Fatalf("check %q: %d %s", answer, code, body)
			}
		}
		// The matching answer is recorded as verified, the other as failed (issue 12.3).
		checks := p.auditActions(t, "alpha")
		if n, failed := strings.Count(checks, "account.secret_checked:user:"+uid), strings.Count(checks, "account.secret_check_failed:user:"+uid); n != 1 || failed != 1 {
			t.Fatalf("%d verified and %d failed checks audited", n, failed)
		}
		// Roles: the module's own assignable role only, and only in its tenant.
		if code, body := u.do("GET", "/probe/call/role?on=1&role=prober&id="+uid, nil); code != 200 {
			t.Fatalf("set role: %d %s", code, body)
		}
		if code, _ := u.do("GET", "/probe/staff", nil); code != 200 {
			t.Fatalf("the role given by the module does not open its route: %d", code)
		}
		pb := p.browser("beta.localhost")
		pb.login("user@beta.localhost", "demo-beta-user")
		foreign := userID(t, pb)
		for _, q := range []string{"role=tenant_admin&id=" + uid, "role=member&id=" + uid, "role=user&id=" + uid, "role=prober&id=" + foreign} {
			if code, _ := u.do("GET", "/probe/call/role?on=1&"+q, nil); code != 409 {
				t.Fatalf("role %s: %d", q, code)
			}
		}
		if code, _ := u.do("GET", "/probe/call/role?on=0&role=prober&id="+uid, nil); code != 200 {
			t.Fatalf("take role: %d", code)
		}
		if code, _ := u.do("GET", "/probe/staff", nil); code != 403 {
			t.Fatalf("the role taken away still opens the route: %d", code)
		}
		acts := p.auditActions(t, "alpha")
		// The module's role is its own in the tenant: "probe.prober".
		if !strings.Contains(acts, "admin.role_assigned:role:probe.prober") || !strings.Contains(acts, "admin.role_removed:role:probe.prober") {
			t.Fatalf("role changes not audited: %s", acts)
		}
		if code, _ := u.do("GET", "/probe/call/check?answer=x&id="+foreign, nil); code != 409 {
			t.Fatalf("secret check of another tenant's user: %d", code)
		}
	})
}

// TestAPIKeysForMachines: a tenant admin creates a key holding some API permissions and sees
// it once; a machine calls an API route with it — no session, no CSRF token, the module sees
// the client and what it records names the key; no key, another tenant's key, a revoked key
// get 401 and a key without the route's permission 403 (R3a, R9).
func TestAPIKeysForMachines(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		admin := p.browser("alpha.localhost")
		admin.login("admin@alpha.localhost", "demo-alpha-admin")
		if code, body := admin.do("GET", "/admin/api-keys", nil); code != 200 || !strings.Contains(body, `value="probe.import"`) ||
			strings.Contains(body, `value="probe.see"`) {
			t.Fatalf("key page: %d", code)
		}
		key := createKey(t, admin, "LIS", "probe.import")
		u := p.browser("alpha.localhost")
		u.login("user@alpha.localhost", "demo-alpha-user")
		uid := userID(t, u)

		code, _, body := p.api("alpha.localhost", "GET", "/probe/api/whoami?subject="+uid, key, nil)
		var got struct {
			Client struct{ ID, Name string }
			User   *sdk.User
		}
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Client.ID == "" || got.Client.Name != "LIS" || got.User != nil {
			t.Fatalf("API call: %d %s", code, body)
		}
		// A state-changing API call needs no CSRF token.
		if code, _, body := p.api("alpha.localhost", "POST", "/probe/api/import", key, strings.NewReader("HL7")); code != 200 || !strings.Contains(body, `"body":"HL7"`) {
			t.Fatalf("API POST: %d %s", code, body)
		}
		code, hdr, body := p.api("alpha.localhost", "GET", "/probe/api/whoami", "", nil)
		if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, `"error"`) {
			t.Fatalf("no key: %d %v %s", code, hdr, body)
		}
		if code, _, _ := p.api("alpha.localhost", "GET", "/probe/api/staff", key, nil); code != 403 {
			t.Fatalf("key without the route's permission: %d", code)
		}
		betaAdmin := p.browser("beta.localhost")
		betaAdmin.login("admin@beta.localhost", "demo-beta-admin")
		betaKey := createKey(t, betaAdmin, "Beta LIS", "probe.import")
		if code, _, _ := p.api("alpha.localhost", "GET", "/probe/api/whoami", betaKey, nil); code != 401 {
			t.Fatalf("another tenant's key: %d", code)
		}
		if code, _, _ := p.api("beta.localhost", "GET", "/probe/api/whoami", betaKey, nil); code != 200 {
			t.Fatalf("beta's own key: %d", code)
		}
		// What the machine did shows to the person it concerned, as the key's doing.
		if code, body := u.do("GET", "/probe/call/record?action=probe.viewed&subject="+uid, nil); code != 200 {
			t.Fatalf("record: %d %s", code, body)
		}
		_, body = u.do("GET", "/probe/call/audit?subject="+uid, nil)
		var entries []sdk.AuditRecord
		if err := json.Unmarshal([]byte(body), &entries); err != nil || len(entries) != 2 {
			t.Fatalf("audit list: %s", body)
		}
		if e := entries[0]; e.Action != "probe.viewed" || e.ActorKind != "user" || e.ActorName != "Demo User" || strings.Join(e.ActorRoles, ",") != "user" {
			t.Fatalf("newest entry: %+v", e)
		}
		if e := entries[1]; e.Action != "probe.api_call" || e.ActorKind != "client" || e.ActorName != "LIS" || e.ActorID != "apikey:"+got.Client.ID {
			t.Fatalf("machine entry: %+v", e)
		}
		if _, body = u.do("GET", "/probe/call/audit?limit=1&subject="+uid, nil); strings.Count(body, `"Action"`) != 1 {
			t.Fatalf("limit: %s", body)
		}
		// Revoked: refused at once.
		id := strings.SplitN(strings.TrimPrefix(key, "pk_"), "_", 2)[0]
		if code, _ := admin.post("/admin/api-keys", "/admin/api-keys/"+id+"/revoke", url.Values{}); code != 303 {
			t.Fatalf("revoke: %d", code)
		}
		if code, _, _ := p.api("alpha.localhost", "GET", "/probe/api/whoami", key, nil); code != 401 {
			t.Fatalf("revoked key: %d", code)
		}
		acts := p.auditActions(t, "alpha")
		if !strings.Contains(acts, "admin.api_key_created:api_key:"+id) || !strings.Contains(acts, "admin.api_key_revoked:api_key:"+id) {
			t.Fatalf("key changes not audited: %s", acts)
		}
	})
}

// TestModuleLodgesComplaintsAndDeletesBlobs: a module lodges a support request in the core's
// queue with the tenant's rules or its own due date, the receipt goes out as for the core's
// form, and what breaks the rules comes back as field errors; a module deletes its own files
// of its own tenant only (P10, R8, R4).
func TestModuleLodgesComplaintsAndDeletesBlobs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		lodgeAndDeleteBlobs(t, startPlatformOn(t, be, writeProbeTenants(t)))
	})
}

func lodgeAndDeleteBlobs(t *testing.T, p *platform) {
	u := p.browser("alpha.localhost")
	u.login("user@alpha.localhost", "demo-alpha-user")
	uid := userID(t, u)
	code, body := u.do("GET", "/probe/call/lodge?category=support&body=Aide&reply_to=user@alpha.localhost&user="+uid, nil)
	var rc sdk.Complaint
	if err := json.Unmarshal([]byte(body), &rc); code != 200 || err != nil || !strings.HasPrefix(rc.Reference, "C-") {
		t.Fatalf("lodge: %d %s", code, body)
	}
	if d := time.Until(rc.Due); d < 13*24*time.Hour || d > 16*24*time.Hour {
		t.Fatalf("due by the tenant's rule (14 days): %s", rc.Due)
	}
	_, body = u.do("GET", "/probe/call/lodge?category=appeal&body=Erreur&reply_to=user@alpha.localhost&due_days=3", nil)
	json.Unmarshal([]byte(body), &rc)
	if d := time.Until(rc.Due); d < 2*24*time.Hour || d > 4*24*time.Hour {
		t.Fatalf("due by the module's date: %s", rc.Due)
	}
	if code, body := u.do("GET", "/probe/call/lodge?category=nope&body=&reply_to=x", nil); code != 422 ||
		!strings.Contains(body, `"category":"form.invalid_choice"`) || !strings.Contains(body, `"body":"form.required"`) ||
		!strings.Contains(body, `"reply_to":"form.email.invalid"`) {
		t.Fatalf("invalid draft: %d %s", code, body)
	}
	found := false
	for _, b := range p.mailbox(t, "alpha") {
		if strings.Contains(string(b), rc.Reference) {
			found = true
		}
	}
	if !found {
		t.Fatal("no receipt mailed")
	}
	admin := p.browser("alpha.localhost")
	admin.login("admin@alpha.localhost", "demo-alpha-admin")
	if _, body := admin.do("GET", "/admin/complaints", nil); !strings.Contains(body, rc.Reference) {
		t.Fatal("the module's complaint is not in the staff queue")
	}

	// Blobs: another tenant's module instance cannot delete alpha's file.
	_, id := u.post("/probe/page", "/probe/blob", url.Values{})
	pb := p.browser("beta.localhost")
	pb.login("user@beta.localhost", "demo-beta-user")
	if code, _ := pb.do("GET", "/probe/call/blobdel?id="+id, nil); code != 200 {
		t.Fatalf("delete of an unknown id: %d", code)
	}
	if code, _ := u.do("GET", "/probe/blob/"+id, nil); code != 200 {
		t.Fatal("another tenant deleted alpha's file")
	}
	if code, _ := u.do("GET", "/probe/call/blobdel?id="+id, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := u.do("GET", "/probe/blob/"+id, nil); code != 404 {
		t.Fatalf("deleted file still served: %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(p.data, "blobs", "*", "probe", id))
	if len(files) != 0 {
		t.Fatalf("file left on disk: %v", files)
	}
}
