package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/apikeys"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// fakeHost stands in for the module host: one "results" module with the manifest the test
// gives, which answers what it received as JSON and records the events it is told.
type fakeHost struct {
	man *sdk.Manifest
	hs  host.Services
	// down makes the module look crashed: no manifest.
	down bool
	// state is the module's state as the host reports it ("running" when empty).
	state string

	mu     sync.Mutex
	events []string // "<tenant slug> <kind> <payload>"
	last   *sdk.Request
}

func (f *fakeHost) IDs() []string { return []string{f.man.ID} }
func (f *fakeHost) Manifest(id string) *sdk.Manifest {
	if id == f.man.ID && !f.down {
		return f.man
	}
	return nil
}
func (f *fakeHost) Router(id string) *host.Router {
	if f.Manifest(id) == nil {
		return nil
	}
	return host.NewRouter(f.man.Routes)
}
func (f *fakeHost) Statuses() []pluginhost.Status {
	state := f.state
	if state == "" {
		state = pluginhost.StateRunning
	}
	return []pluginhost.Status{{ID: f.man.ID, State: state, Restarts: 3}}
}
func (f *fakeHost) CallTimeout() time.Duration { return 5 * time.Second }
func (f *fakeHost) Handle(ctx context.Context, id string, call host.Call, req *sdk.Request) (*sdk.Response, error) {
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	ctx, sc, ok := f.hs.Resolve(ctx, call.Token)
	if !ok {
		return nil, errors.New("the call has no scope")
	}
	if strings.HasPrefix(req.Path, "/results/api/") {
		// What a machine does is recorded as the key's doing.
		if err := f.hs.Audit.Record(ctx, sc, sdk.AuditRecord{Action: "results.imported", Subject: req.Query, Resource: "import"}); err != nil {
			return nil, err
		}
	}
	var client any
	if req.ClientID != "" {
		client = map[string]string{"ID": req.ClientID, "Name": req.ClientName}
	}
	out, _ := json.Marshal(map[string]any{"user": req.User, "client": client, "scope_client": sc.ClientID, "scope_user": sc.UserID})
	return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: out}, nil
}
func (f *fakeHost) OnEvent(ctx context.Context, id string, call host.Call, ev *sdk.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev.Tenant.Slug+" "+ev.Kind+" "+string(ev.Payload))
	return nil
}
func (f *fakeHost) RunJob(context.Context, string, host.Call, *sdk.Job) error { return nil }
func (f *fakeHost) ExportUser(context.Context, string, host.Call, string) ([]byte, error) {
	return []byte("{}"), nil
}
func (f *fakeHost) Restart(context.Context, string) error { return nil }

func (f *fakeHost) eventLog() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.events, "\n")
}

// fakeResults is a results module with API routes, module roles, core grants (one a module
// may not give), and registration fields, one of them for the professionals' portal only.
func fakeResults() *sdk.Manifest {
	return &sdk.Manifest{ID: "results", Version: "test",
		Roles: []sdk.Role{{ID: "lab_staff", CoreGrants: []string{"admin.complaints", "admin.settings"}}, {ID: "professional"}},
		Permissions: []sdk.Permission{{Name: "results.read_own", Grants: []string{"user", "professional"}}, {Name: "results.manage", Grants: []string{"lab_staff"}},
			{Name: "results.support"}},
		Routes: []sdk.Route{{Method: "GET", Path: "/results/echo", Permission: "results.read_own"},
			{Method: "POST", Path: "/results/echo", Permission: "results.read_own"},
			{Method: "POST", Path: "/results/api/import", Permission: "results.manage", API: true},
			{Method: "GET", Path: "/results/api/support", Permission: "results.support", API: true}},
		Portals: []string{"patients", "professionals"},
		RegistrationFields: []sdk.Field{{Name: "address", LabelKey: "legal.address", Type: "text", Required: true, MaxLen: 200},
			{Name: "pro_number", LabelKey: "legal.registration", Type: "text", Required: true, MaxLen: 20, Portals: []string{"professionals"}}},
	}
}

// withFakeResults connects the fake module host to the platform and installs its grants.
func (e *env) withFakeResults() *fakeHost {
	e.t.Helper()
	f := &fakeHost{man: fakeResults(), hs: e.srv.Modules.Services()}
	e.srv.Modules.SetHost(f)
	if err := e.srv.InstallModuleGrants(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// api sends a machine's request with an optional bearer key.
func (e *env) api(method, host, path, key string) *response {
	e.t.Helper()
	req := httptest.NewRequest(method, "http://"+host+path, strings.NewReader("payload"))
	req.Host = host
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.srv.App.Test(req, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Body: string(b), Header: res.Header}
}

var newKeyRe = regexp.MustCompile(`id="new-key">(pk_[A-Za-z0-9_-]+)</code>`)

// TestAPIKeysOpenOnlyAPIRoutes: the tenant admin creates a key with the permissions of the API
// routes of the tenant's modules and sees it once; only its hash is stored. With it a machine
// calls an API route — no session, no CSRF token — and is refused once the key is revoked,
// with another tenant's key, or without the route's permission; a key on any other route
// changes nothing: the CSRF token is still required (R3a).
func TestAPIKeysOpenOnlyAPIRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		r := admin.get("/admin/api-keys")
		mustContain(t, r, "Clés d’API", `value="results.manage"`, `value="results.support"`, "Aucune clé pour l’instant.")
		mustNotContain(t, r, `value="results.read_own"`)
		// Words only: a permission's label without its id beside it; the introduction fits
		// any tenant's trade (no laboratory's or secretariat's system named).
		mustContain(t, r, "un système de votre organisation d’appeler les API des modules activés")
		mustNotContain(t, r, "<code>results.", "> results.", "système d’information de laboratoire", "plateforme de téléphonie")
		mustContain(t, admin.get("/admin/users"), `href="/admin/api-keys"`)
		// A key needs a name and a permission of an API route.
		if r := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {""}, "permissions": {"results.read_own"}}); r.Status != 422 {
			t.Fatalf("bad key form: %d", r.Status)
		}
		r = admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"  "}})
		mustContain(t, r, `id="e-name"`, `id="e-permissions"`, "Cochez au moins un droit.")
		r = admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"SIL du labo"}, "permissions": {"results.manage"}})
		m := newKeyRe.FindStringSubmatch(r.Body)
		if r.Status != 200 || m == nil {
			t.Fatalf("create: %d %s", r.Status, mainOf(r.Body))
		}
		key := m[1]
		id, secret, _ := strings.Cut(strings.TrimPrefix(key, "pk_"), "_")
		if len(secret) < 43 {
			t.Fatalf("secret of %d characters", len(secret))
		}
		// Shown once: the list shows its start only.
		if r := admin.get("/admin/api-keys"); strings.Contains(r.Body, secret) || !strings.Contains(r.Body, "SIL du labo") || !strings.Contains(r.Body, "pk_"+id[:8]) {
			t.Fatal("the list shows the secret, or not the key")
		}
		mlab := e.tenant("mlab")
		var rows []apikeys.Key
		e.srv.DB.InTenant(ctx, mlab.ID, func(ctx context.Context, sc *db.Scope) error { return sc.Select(&rows).Scan(ctx) })
		if len(rows) != 1 || strings.Contains(rows[0].SecretHash, secret) || strings.Contains(rows[0].Prefix, secret) || rows[0].SecretHash == "" {
			t.Fatalf("stored key: %+v", rows)
		}

		// The machine's call: no cookie, no CSRF token; the module sees the client only.
		r = e.api("POST", "mlab.localhost", "/results/api/import?subject-x", key)
		if r.Status != 200 || !strings.Contains(r.Body, `"client":{"ID":"`+id+`","Name":"SIL du labo"}`) || !strings.Contains(r.Body, `"user":null`) ||
			!strings.Contains(r.Body, `"scope_client":"`+id+`"`) {
			t.Fatalf("API call: %d %s", r.Status, r.Body)
		}
		mustNotContain(t, admin.get("/admin/api-keys"), "Jamais utilisée")
		// A signed-in browser without a key gets no further: API routes take keys only.
		if r := admin.do("POST", "/results/api/import", url.Values{}); r.Status != 401 {
			t.Fatalf("session on an API route: %d", r.Status)
		}
		for name, k := range map[string]string{"none": "", "garbage": "pk_nope", "wrong secret": "pk_" + id + "_" + strings.Repeat("A", 43)} {
			r := e.api("POST", "mlab.localhost", "/results/api/import", k)
			if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(r.Body, `"error":"`) {
				t.Fatalf("%s: %d %v %s", name, r.Status, r.Header, r.Body)
			}
		}
		if r := e.api("GET", "mlab.localhost", "/results/api/support", key); r.Status != 403 || !strings.Contains(r.Body, "insufficient_scope") {
			t.Fatalf("without the route's permission: %d %s", r.Status, r.Body)
		}
		// Another tenant's key opens nothing here, even for a tenant running the same module.
		other, full, err := e.srv.APIKeys.Create(ctx, e.tenant("elekarze").ID, "other", []string{"results.manage"}, "")
		if err != nil || other == nil {
			t.Fatal(err)
		}
		if r := e.api("POST", "mlab.localhost", "/results/api/import", full); r.Status != 401 {
			t.Fatalf("another tenant's key: %d", r.Status)
		}
		// A tenant that does not run the module has nothing there, key or not.
		if r := e.api("POST", "unilabs.localhost", "/results/api/import", key); r.Status != 404 {
			t.Fatalf("module the tenant does not run: %d", r.Status)
		}
		// A key on a route that is not an API route changes nothing: CSRF still applies.
		if r := e.api("POST", "mlab.localhost", "/results/echo", key); r.Status != 403 || !strings.Contains(r.Body, "<html") {
			t.Fatalf("key on a browser route: %d %s", r.Status, r.Body)
		}
		// What the machine did is the key's doing in the audit trail.
		entries, _ := e.srv.Trail.Search(ctx, mlab.ID, auditFilter("results.imported"))
		if len(entries) != 1 || entries[0].Actor != "apikey:"+id {
			t.Fatalf("audit of the machine call: %+v", entries)
		}
		mustContain(t, admin.get("/admin/audit?action=results."), "Clé d’API « SIL du labo »")
		// While the module is down, a machine learns it in JSON (and may retry).
		f.down = true
		if r := e.api("POST", "mlab.localhost", "/results/api/import", key); r.Status != 503 || !strings.Contains(r.Body, `"error":"unavailable"`) {
			t.Fatalf("module down: %d %s", r.Status, r.Body)
		}
		f.down = false
		// Revoked: refused at once, and shown so.
		if r := admin.post("/admin/api-keys", "/admin/api-keys/"+id+"/revoke", url.Values{}); r.Status != 303 {
			t.Fatalf("revoke: %d", r.Status)
		}
		if r := e.api("POST", "mlab.localhost", "/results/api/import", key); r.Status != 401 {
			t.Fatalf("revoked key: %d", r.Status)
		}
		mustContain(t, admin.get("/admin/api-keys"), "La clé a été révoquée", "Révoquée")
		if r := admin.post("/admin/api-keys", "/admin/api-keys/"+other.ID+"/revoke", url.Values{}); r.Status != 404 {
			t.Fatalf("revoking another tenant's key: %d", r.Status)
		}
		for _, act := range []string{"admin.api_key_created", "admin.api_key_revoked"} {
			if entries, _ := e.srv.Trail.Search(ctx, mlab.ID, auditFilter(act)); len(entries) != 1 {
				t.Fatalf("%s: %d records", act, len(entries))
			}
		}
		// A user without admin.api_keys does not reach the page.
		u := e.client("mlab.localhost")
		u.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := u.get("/admin/api-keys"); r.Status != 403 {
			t.Fatalf("plain user on the key page: %d", r.Status)
		}
	})
}

func auditFilter(action string) audit.Filter { return audit.Filter{Action: action} }
