package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// newEcho is a module that answers what it received and what the HostAPI let it do.
func newEcho(saved chan context.Context) *sdktest.Module {
	return &sdktest.Module{
		Man: sdk.Manifest{ID: "echo", Version: "1.0.0",
			Roles:       []sdk.Role{{ID: "echo_staff", CoreGrants: []string{"admin.complaints"}}},
			Permissions: []sdk.Permission{{Name: "echo.use", Grants: []string{"echo_staff"}}},
			Routes: []sdk.Route{{Method: "GET", Path: "/echo/hello", Public: true},
				{Method: "POST", Path: "/echo/audit", Permission: "echo.use"}, {Method: "GET", Path: "/echo/pdf", Permission: "echo.use", Landing: 1},
				{Method: "GET", Path: "/echo/r/{id}", Permission: "echo.use"}},
			Rules: []sdk.Rule{{Name: "echo.days", Type: "int", Default: int64(30), Min: 1, Max: 90}},
		},
		Handler: func(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
			switch req.Path {
			case "/echo/hello":
				name := "anonymous"
				if req.User != nil {
					name = req.User.Name + " " + strings.Join(req.User.Roles, ",")
				}
				return &sdk.Response{Status: 200, Fragment: true, Title: "Hello",
					Body: []byte(fmt.Sprintf("<p>%s|%s|%s|%v|%t</p>", req.Tenant.Slug, req.Tenant.Locale, name, req.Tenant.Rules["echo.days"], req.CSRF != ""))}, nil
			case "/echo/audit":
				h := sdk.HostFrom(ctx)
				if err := h.Record(ctx, sdk.AuditRecord{Action: "echo.view", Resource: "thing:1"}); err != nil {
					return nil, err
				}
				form, _ := url.ParseQuery(string(req.Body))
				u, err := h.User(ctx, form.Get("id"))
				if err != nil {
					return &sdk.Response{Status: 404, Body: []byte(err.Error())}, nil
				}
				select {
				case saved <- ctx:
				default:
				}
				return &sdk.Response{Status: 200, Body: []byte(u.Email)}, nil
			case "/echo/pdf":
				return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {"application/pdf"}}, Body: []byte("%PDF-1.4")}, nil
			}
			return &sdk.Response{Status: 404}, nil
		},
	}
}

// TestModuleOverGRPC: a module served over a real gRPC connection gets the tenant with its
// rules, the language, the user with his roles and the CSRF token; HTML comes back as a
// fragment and other content passes through (P5).
func TestModuleOverGRPC(t *testing.T) {
	h := sdktest.New(t, newEcho(nil), sdk.Env{})
	ctx := context.Background()
	if h.Manifest.ID != "echo" || len(h.Manifest.Routes) != 4 {
		t.Fatalf("manifest: %+v", h.Manifest)
	}
	ten := sdk.Tenant{ID: "t1", Slug: "mlab", Locale: "pl"}
	res, err := h.Do(ctx, ten, &sdk.User{ID: "u1", Name: "Ala", Roles: []string{"user", "echo_staff"}}, "GET", "/echo/hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fragment || res.Title != "Hello" || string(res.Body) != "<p>mlab|pl|Ala user,echo_staff|30|true</p>" {
		t.Fatalf("response: %+v %q", res, res.Body)
	}
	ten.Rules = map[string]any{"echo.days": int64(7)}
	res, _ = h.Do(ctx, ten, nil, "GET", "/echo/hello", nil)
	if string(res.Body) != "<p>mlab|pl|anonymous|7|true</p>" {
		t.Fatalf("anonymous with a tenant rule: %q", res.Body)
	}
	res, _ = h.Do(ctx, ten, nil, "GET", "/echo/pdf", nil)
	if res.Fragment || res.Header.Get("Content-Type") != "application/pdf" || string(res.Body) != "%PDF-1.4" {
		t.Fatalf("pdf: %+v", res)
	}
}

// TestHostAPIIsScopedToTheCall: HostAPI calls act in the tenant of the call that caused them;
// a user of another tenant is not found, and once the call is over its scope is gone (P5).
func TestHostAPIIsScopedToTheCall(t *testing.T) {
	saved := make(chan context.Context, 1)
	h := sdktest.New(t, newEcho(saved), sdk.Env{})
	h.Host.Users["t1"] = []sdk.User{{ID: "p1", Email: "p1@t1.example"}}
	h.Host.Users["t2"] = []sdk.User{{ID: "p2", Email: "p2@t2.example"}}
	ctx := context.Background()
	staff := &sdk.User{ID: "s", Roles: []string{"echo_staff"}}
	res, err := h.Do(ctx, sdk.Tenant{ID: "t1"}, staff, "POST", "/echo/audit", []byte("id=p1"))
	if err != nil || res.Status != 200 || string(res.Body) != "p1@t1.example" {
		t.Fatalf("own tenant: %v %+v", err, res)
	}
	res, _ = h.Do(ctx, sdk.Tenant{ID: "t1"}, staff, "POST", "/echo/audit", []byte("id=p2"))
	if res.Status != 404 {
		t.Fatalf("user of another tenant: %d %s", res.Status, res.Body)
	}
	if len(h.Host.Audits) != 2 || h.Host.Audits[0].Scope.TenantID != "t1" || h.Host.Audits[0].Scope.UserID != "s" {
		t.Fatalf("audits: %+v", h.Host.Audits)
	}
	// The context of a finished call can no longer reach the host.
	old := <-saved
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sdk.HostFrom(old).Record(withValues(cctx, old), sdk.AuditRecord{Action: "echo.view"}); err == nil {
		t.Fatal("a HostAPI call outside any call was accepted")
	}
	// And a context that never came from the host has no HostAPI at all.
	if sdk.HostFrom(context.Background()) != nil {
		t.Fatal("HostAPI outside a call")
	}
	if err := sdk.HostFrom(context.Background()).Record(ctx, sdk.AuditRecord{Action: "echo.view"}); err == nil {
		t.Fatal("a nil host recorded")
	}
}

// withValues keeps the values of old (its call scope) on a live context.
func withValues(live, old context.Context) context.Context { return valuesCtx{live, old} }

type valuesCtx struct {
	context.Context
	old context.Context
}

func (v valuesCtx) Value(k any) any { return v.old.Value(k) }

// TestManifestCheck: the host refuses manifests that break the rules of the protocol.
func TestManifestCheck(t *testing.T) {
	good := newEcho(nil).Man
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(m *sdk.Manifest){
		"id":                      func(m *sdk.Manifest) { m.ID = "Echo!" },
		"route outside":           func(m *sdk.Manifest) { m.Routes[0].Path = "/other/x" },
		"old route syntax":        func(m *sdk.Manifest) { m.Routes[3].Path = "/echo/r/:id" },
		"undeclared permission":   func(m *sdk.Manifest) { m.Routes[1].Permission = "echo.nope" },
		"neither public nor perm": func(m *sdk.Manifest) { m.Routes[0].Public = false },
		"platform grant":          func(m *sdk.Manifest) { m.Permissions[0].Grants = []string{"platform_admin"} },
		"foreign permission":      func(m *sdk.Manifest) { m.Permissions[0].Name = "other.use" },
		"default out of bounds":   func(m *sdk.Manifest) { m.Rules[0].Default = int64(200) },
		"core role as own":        func(m *sdk.Manifest) { m.Roles[0].ID = "tenant_admin" },
		"settings core grant":     func(m *sdk.Manifest) { m.Roles[0].CoreGrants = []string{"admin.settings"} },
		"route twice":             func(m *sdk.Manifest) { m.Routes = append(m.Routes, m.Routes[0]) },
		// issue 12.11: a landing page is a page of the module a signed-in person may open.
		"landing rank below 1":    func(m *sdk.Manifest) { m.Routes[2].Landing = -1 },
		"portals of no landing":   func(m *sdk.Manifest) { m.Routes[0].LandingPortals = []string{"patients"} },
		"landing with parameters": func(m *sdk.Manifest) { m.Routes[3].Landing = 2 },
		"landing public":          func(m *sdk.Manifest) { m.Routes[0].Landing = 2 },
		"landing a POST":          func(m *sdk.Manifest) { m.Routes[1].Landing = 2 },
		"routes that conflict": func(m *sdk.Manifest) {
			m.Routes = append(m.Routes, sdk.Route{Method: "GET", Path: "/echo/{x}/pdf", Permission: "echo.use"},
				sdk.Route{Method: "GET", Path: "/echo/r/{y}", Permission: "echo.use"})
		},
	}
	for name, f := range bad {
		m := newEcho(nil).Man
		f(&m)
		if err := m.Check(); err == nil {
			t.Errorf("bad manifest (%s) accepted", name)
		}
	}
	if _, err := good.ValidateRules(map[string]any{"echo.days": int64(91)}); err == nil {
		t.Error("rule out of bounds accepted")
	}
	if _, err := good.ValidateRules(map[string]any{"echo.other": int64(1)}); err == nil {
		t.Error("unknown rule accepted")
	}
	r, err := good.ValidateRules(nil)
	if err != nil || r["echo.days"] != int64(30) {
		t.Errorf("defaults: %v %v", r, err)
	}
}

// TestRouterMatchesAsTheModuleDoes: the host's router picks the most specific of a module's
// routes, as the module's ServeMux does, and tells a path with another method (405) from an
// unknown one (404).
func TestRouterMatchesAsTheModuleDoes(t *testing.T) {
	r := host.NewRouter([]sdk.Route{
		{Method: "GET", Path: "/m/r/{id}", Permission: "m.read"},
		{Method: "GET", Path: "/m/r/new", Permission: "m.write"},
		{Method: "POST", Path: "/m/r/{id}/x", Permission: "m.write"},
		{Method: "GET", Path: "/m/files/{rest...}", Public: true},
	})
	for _, c := range []struct {
		method, path, perm string
		found              bool
	}{
		{"GET", "/m/r/42", "m.read", true},
		{"GET", "/m/r/new", "m.write", true},
		{"POST", "/m/r/42/x", "m.write", true},
		{"GET", "/m/r/42/x", "", true},
		{"GET", "/m/files/a/b", "", true},
		{"GET", "/m/nothing", "", false},
		{"GET", "/m/r", "", false},
	} {
		route, found := r.Match(c.method, c.path)
		got := ""
		if route != nil {
			got = route.Permission
			if route.Public {
				got = ""
			}
		}
		if got != c.perm || found != c.found {
			t.Errorf("%s %s: route %q found %v, want %q %v", c.method, c.path, got, found, c.perm, c.found)
		}
	}
}
