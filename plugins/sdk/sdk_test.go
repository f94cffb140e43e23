package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// echo is a module routed by a plain net/http ServeMux through sdk.HTTPHandler.
type echo struct {
	sdk.Base
	saved chan context.Context
}

func newEcho() *echo {
	e := &echo{saved: make(chan context.Context, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo/hello", func(w http.ResponseWriter, r *http.Request) {
		req := sdk.RequestFrom(r)
		name := "anonymous"
		if req.User != nil {
			name = req.User.Name + " " + strings.Join(req.User.Roles, ",")
		}
		w.Header().Set(sdk.FragmentHeader, "Hello")
		fmt.Fprintf(w, "<p>%s|%s|%s|%d</p>", req.Tenant.Slug, req.Tenant.Locale, name, req.Tenant.IntRule("echo.days", -1))
	})
	mux.HandleFunc("POST /echo/audit", func(w http.ResponseWriter, r *http.Request) {
		host := sdk.HostFrom(r.Context())
		if err := host.Audit.Record(r.Context(), sdk.AuditRecord{Action: "echo.view", Resource: "thing:1"}); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		u, err := host.Users.Lookup(r.Context(), r.FormValue("id"))
		if err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		select {
		case e.saved <- r.Context():
		default:
		}
		fmt.Fprint(w, u.Email)
	})
	mux.HandleFunc("GET /echo/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.4"))
	})
	e.Man = sdk.Manifest{ID: "echo", Version: "1.0.0",
		Roles:       []sdk.Role{{ID: "echo_staff"}},
		Permissions: []sdk.Permission{{Name: "echo.use", Grants: []string{"echo_staff"}}},
		Routes: []sdk.Route{{Method: "GET", Path: "/echo/hello", Public: true},
			{Method: "POST", Path: "/echo/audit", Permission: "echo.use"}, {Method: "GET", Path: "/echo/pdf", Permission: "echo.use"}},
		Rules: []sdk.Rule{{Name: "echo.days", Type: sdk.RuleInt, Default: int64(30), Min: 1, Max: 90}},
	}
	e.Handler = sdk.HTTPHandler(mux)
	return e
}

// TestModuleOverGRPC: a module served over a real gRPC connection gets the tenant with its
// rules, the language, the user with his roles; HTML comes back as a fragment and other
// content passes through (P5).
func TestModuleOverGRPC(t *testing.T) {
	h := sdktest.New(t, newEcho(), sdk.Env{})
	ctx := context.Background()
	if h.Manifest.ID != "echo" || len(h.Manifest.Routes) != 3 {
		t.Fatalf("manifest: %+v", h.Manifest)
	}
	ten := sdk.Tenant{ID: "t1", Slug: "mlab", Locale: "pl"}
	res, err := h.Do(ctx, ten, &sdk.User{ID: "u1", Name: "Ala", Roles: []string{"user", "echo_staff"}}, "GET", "/echo/hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fragment || res.Title != "Hello" || string(res.Body) != "<p>mlab|pl|Ala user,echo_staff|30</p>" {
		t.Fatalf("response: %+v %q", res, res.Body)
	}
	ten.Rules = map[string]any{"echo.days": int64(7)}
	res, _ = h.Do(ctx, ten, nil, "GET", "/echo/hello", nil)
	if string(res.Body) != "<p>mlab|pl|anonymous|7</p>" {
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
	e := newEcho()
	h := sdktest.New(t, e, sdk.Env{})
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
	old := <-e.saved
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = old
	host := sdk.HostFrom(old)
	if err := host.Audit.Record(withValues(cctx, old), sdk.AuditRecord{Action: "echo.view"}); err == nil {
		t.Fatal("a HostAPI call outside any call was accepted")
	}
	// And a context that never came from the host has no HostAPI at all.
	if sdk.HostFrom(context.Background()) != nil {
		t.Fatal("HostAPI outside a call")
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
	good := newEcho().Man
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	bad := []func(m *sdk.Manifest){
		func(m *sdk.Manifest) { m.ID = "Echo!" },
		func(m *sdk.Manifest) { m.Routes[0].Path = "/other/x" },
		func(m *sdk.Manifest) { m.Routes[1].Permission = "echo.nope" },
		func(m *sdk.Manifest) { m.Routes[0].Public = false },
		func(m *sdk.Manifest) { m.Permissions[0].Grants = []string{"platform_admin"} },
		func(m *sdk.Manifest) { m.Permissions[0].Name = "other.use" },
		func(m *sdk.Manifest) { m.Rules[0].Default = int64(200) },
	}
	for i, f := range bad {
		m := newEcho().Man
		f(&m)
		if err := m.Check(); err == nil {
			t.Errorf("bad manifest %d accepted", i)
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
