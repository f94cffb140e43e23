package kit_test

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

//go:embed testdata
var testdata embed.FS

// note is the test module's one table.
type note struct {
	TenantID string `bun:"tenant_id,pk"`
	ID       string `bun:"id,pk"`
	Body     string `bun:"body"`
}

func (note) table() string { return "kittest_notes AS note" }

var days = kit.Int("kittest.days", 30, 1, 90, "T1")

// probe is a module on the frame, with the failures a real one meets.
type probe struct {
	*kit.Module
	logs     *syncBuffer
	deleted  map[string]int
	verified []string
	demo     []kit.DemoAccount
	fail     bool
	mu       sync.Mutex
}

func newProbe(t *testing.T) *probe {
	migrations, _ := fs.Sub(testdata, "testdata")
	p := &probe{logs: &syncBuffer{}, deleted: map[string]int{}}
	p.Module = kit.New(kit.Spec{ID: "kittest", Version: "1",
		Migrations: migrations, Templates: migrations, Pattern: "templates/*.html",
		Roles:       []sdk.Role{{ID: "clerk"}},
		Permissions: []sdk.Permission{{Name: "kittest.use", Grants: []string{"user", "clerk"}}},
		Rules:       []kit.Rule{days, kit.Bool("kittest.on", true, "T2"), kit.String("kittest.mode", "a", []string{"a", "b"}, "T3")},
		Routes: []kit.Route{
			kit.Perm("GET /kittest/notes/{id}", "kittest.use", p.show),
			kit.Perm("POST /kittest/notes", "kittest.use", p.add),
			kit.Perm("GET /kittest/boom", "kittest.use", func(c *kit.Ctx) error { return errors.New("the database exploded") }),
			kit.API("GET /kittest/api/boom", "kittest.use", func(c *kit.Ctx) error { return errors.New("the database exploded") }),
			kit.API("GET /kittest/api/notes/{id}", "kittest.use", p.show),
			kit.API("POST /kittest/api/echo", "kittest.use", echo),
			kit.API("POST /kittest/api/raw", "kittest.use", echo).RawBody(),
			kit.Perm("GET /kittest/files/{rest...}", "kittest.use", func(c *kit.Ctx) error { return kit.ErrBadRequest }),
		},
		OnUserVerified: func(ctx context.Context, _ sdk.Tenant, userID string) error {
			p.verified = append(p.verified, userID)
			return nil
		},
		OnDemo: func(ctx context.Context, _ sdk.Tenant, accounts []kit.DemoAccount) error {
			p.demo = accounts
			return nil
		},
		OnUserDeleted: func(ctx context.Context, _ sdk.Tenant, userID string) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.fail {
				return errors.New("not now")
			}
			p.deleted[userID]++
			return nil
		},
	})
	p.Log = slog.New(slog.NewJSONHandler(p.logs, nil))
	return p
}

func (p *probe) show(c *kit.Ctx) error {
	n := &note{}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(n).ModelTableExpr(n.table()).Where("id = ?", c.Param("id")).Scan(ctx)
	})
	if err != nil {
		return kit.ErrNotFound
	}
	v := c.View("nav.home")
	v.Data["Body"], v.Data["At"], v.Data["Count"] = n.Body, time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC), 0
	return c.Render(200, "note", v)
}

func (p *probe) add(c *kit.Ctx) error {
	v := c.View("nav.home")
	v.Values["body"] = strings.TrimSpace(c.Form("body"))
	if v.Values["body"] == "" {
		v.Errors["body"] = "form.required"
		return kit.Invalid("form", v)
	}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&note{TenantID: c.Tenant().ID, ID: c.Form("id"), Body: v.Values["body"]}).ModelTableExpr("kittest_notes").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Redirect("/kittest/notes/"+c.Form("id"), "")
}

// echo answers the body it was given.
func echo(c *kit.Ctx) error {
	c.W.Header().Set("Content-Type", "text/plain")
	_, err := c.W.Write(c.Req.Body)
	return err
}

// TestRawBodyReachesItsHandler: an API route's JSON body is checked by the frame (400 when
// it is not JSON); a route declared RawBody — an HL7 v2 message — gets its body as sent,
// its handler checking what it takes from it (issue 12.12).
func TestRawBodyReachesItsHandler(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		p := newProbe(t)
		h := sdktest.New(t, p, storetest.Env(t, b, "kittest"))
		msg := []byte("MSH|^~\\&|LIS|LAB\rPID|1||P-1\r")
		res, _ := h.Send(context.Background(), tenantA, nil, &sdk.Request{Method: "POST", Path: "/kittest/api/echo", Body: msg, ClientID: "k1",
			Header: http.Header{"Content-Type": {"text/plain"}}})
		if res.Status != 400 {
			t.Fatalf("a JSON route took a body that is not JSON: %d %s", res.Status, res.Body)
		}
		res, _ = h.Send(context.Background(), tenantA, nil, &sdk.Request{Method: "POST", Path: "/kittest/api/raw", Body: msg, ClientID: "k1",
			Header: http.Header{"Content-Type": {"text/plain"}}})
		if res.Status != 200 || !bytes.Equal(res.Body, msg) {
			t.Fatalf("raw: %d %q", res.Status, res.Body)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	tenantA = sdk.Tenant{ID: "tA", Slug: "alpha", Locale: "fr", TimeZone: "Europe/Paris", Base: "/t/alpha"}
	tenantB = sdk.Tenant{ID: "tB", Slug: "beta", Locale: "pl", TimeZone: "Europe/Warsaw"}
	user    = &sdk.User{ID: "u1", Roles: []string{"user"}}
)

// TestErrorsAreMappedInOnePlace: a handler's error becomes a localized page (JSON on an API
// route): a missing thing a 404, an unreadable request a 400, a form's errors a 422 with the
// message next to its field and nothing stored, and anything else a 500 whose cause is in
// the log with the request id, tenant and module, never on the page.
func TestErrorsAreMappedInOnePlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		p := newProbe(t)
		h := sdktest.New(t, p, storetest.Env(t, b, "kittest"))
		ctx := context.Background()
		fr := p.Msgs.For("fr")

		res, _ := h.Do(ctx, tenantA, user, "GET", "/kittest/notes/none", nil)
		if res.Status != 404 || !res.Fragment || !strings.Contains(string(res.Body), fr.T("error.not_found.text")) ||
			!strings.Contains(string(res.Body), `href="/t/alpha/kittest"`) {
			t.Fatalf("not found: %d %q", res.Status, res.Body)
		}
		// A path the module does not declare: the same localized page, never a bare 404.
		res, _ = h.Do(ctx, tenantA, user, "GET", "/kittest/nothing/here", nil)
		if res.Status != 404 || !res.Fragment || !strings.Contains(string(res.Body), fr.T("error.not_found.text")) {
			t.Fatalf("undeclared path: %d %q", res.Status, res.Body)
		}
		res, _ = h.Do(ctx, tenantA, user, "GET", "/kittest/files/a/b", nil)
		if res.Status != 400 || !strings.Contains(string(res.Body), fr.T("error.bad_request.text")) {
			t.Fatalf("bad request: %d %q", res.Status, res.Body)
		}

		res, _ = h.Send(ctx, tenantA, user, &sdk.Request{Method: "GET", Path: "/kittest/boom", RequestID: "ignored"})
		body := string(res.Body)
		if res.Status != 500 || !strings.Contains(body, fr.T("error.generic.text")) || strings.Contains(body, "exploded") {
			t.Fatalf("internal: %d %q", res.Status, body)
		}
		var logged map[string]any
		for _, line := range strings.Split(strings.TrimSpace(p.logs.String()), "\n") {
			if strings.Contains(line, "exploded") {
				_ = json.Unmarshal([]byte(line), &logged)
			}
		}
		if logged == nil || logged["tenant"] != "alpha" || logged["module"] != "kittest" || logged["err"] != "the database exploded" ||
			!strings.HasPrefix(logged["request_id"].(string), "req-") || logged["path"] != "/kittest/boom" {
			t.Fatalf("the cause is not in the log with its request: %s", p.logs.String())
		}

		res, _ = h.Send(ctx, tenantB, nil, &sdk.Request{Method: "GET", Path: "/kittest/api/boom", ClientID: "k1"})
		var api map[string]any // the API error shape: error, message, fields
		if res.Status != 500 || json.Unmarshal(res.Body, &api) != nil || api["error"] != "internal" || api["message"] != p.Msgs.For("pl").T("error.generic.text") {
			t.Fatalf("API internal: %d %s", res.Status, res.Body)
		}
		res, _ = h.Send(ctx, tenantB, nil, &sdk.Request{Method: "GET", Path: "/kittest/api/notes/none", ClientID: "k1"})
		if res.Status != 404 || json.Unmarshal(res.Body, &api) != nil || api["error"] != "not_found" {
			t.Fatalf("API not found: %d %s", res.Status, res.Body)
		}

		res, _ = h.Do(ctx, tenantA, user, "POST", "/kittest/notes", []byte(url.Values{"id": {"n1"}, "body": {"  "}}.Encode()))
		if res.Status != 422 || !strings.Contains(string(res.Body), `<p class="error" id="e-body">`+fr.T("form.required")) ||
			!strings.Contains(string(res.Body), `name="_csrf" value="csrf-`) {
			t.Fatalf("invalid form: %d %s", res.Status, res.Body)
		}
		if res, _ := h.Do(ctx, tenantA, user, "GET", "/kittest/notes/n1", nil); res.Status != 404 {
			t.Fatal("an invalid form stored something")
		}
		res, _ = h.Do(ctx, tenantA, user, "POST", "/kittest/notes", []byte(url.Values{"id": {"n1"}, "body": {"Hello"}}.Encode()))
		if res.Status != 303 || res.Header.Get("Location") != "/t/alpha/kittest/notes/n1" {
			t.Fatalf("add: %d %v", res.Status, res.Header)
		}
		// The page helpers: the date in the tenant's zone and the reader's language, a
		// plural with its zero form.
		res, _ = h.Do(ctx, tenantA, user, "GET", "/kittest/notes/n1", nil)
		if body := string(res.Body); res.Status != 200 || !strings.Contains(body, `<p id="body">Hello</p>`) ||
			!strings.Contains(body, `<p id="when">26/11/2026</p>`) || !strings.Contains(body, `<p id="n">`+fr.TN("admin.users.count", 0)+`</p>`) {
			t.Fatalf("note: %d %s", res.Status, res.Body)
		}
		// Another tenant does not see it.
		if res, _ := h.Do(ctx, tenantB, user, "GET", "/kittest/notes/n1", nil); res.Status != 404 {
			t.Fatalf("tenant B reads tenant A's note: %d", res.Status)
		}
		kittest.CheckRoutes(t, p.Module)
		kittest.CheckScoped(t, p.Module, (*note)(nil))
		if err := h.Event(ctx, tenantA, host.EventUserBlocked, []byte("u1")); err != nil {
			t.Fatal(err)
		}
		kittest.CheckIsolation(t, "kittest", h.Env, tenantA, tenantB)
	})
}

// TestTypedRulesAreDeclaredOnce: a rule's declaration gives the manifest its entry (default,
// bounds, requirement) and reads the tenant's value, or the default (Rules are data).
func TestTypedRulesAreDeclaredOnce(t *testing.T) {
	man := newProbe(t).Manifest()
	if len(man.Rules) != 3 || man.Rules[0].Name != "kittest.days" || man.Rules[0].Default != int64(30) || man.Rules[0].Max != 90 || man.Rules[0].Ref != "T1" {
		t.Fatalf("manifest rules: %+v", man.Rules)
	}
	if _, err := man.ValidateRules(map[string]any{"kittest.mode": "c"}); err == nil {
		t.Fatal("a choice outside the declared ones was accepted")
	}
	for _, c := range []struct {
		rules map[string]any
		want  int64
	}{{nil, 30}, {map[string]any{"kittest.days": float64(7)}, 7}, {map[string]any{"kittest.days": int64(12)}, 12}} {
		if got := days.Of(sdk.Tenant{Rules: c.rules}); got != c.want {
			t.Errorf("%v: %d, want %d", c.rules, got, c.want)
		}
	}
}

// TestEventsAreHandledOnceInEffect: a core event delivered twice (the host retries until the
// module acknowledges) runs its hook once; one whose hook failed runs again at the next
// delivery; an erasure leaves no event naming the person (P11).
func TestEventsAreHandledOnceInEffect(t *testing.T) {
	p := newProbe(t)
	h := sdktest.New(t, p, storetest.Env(t, "sqlite", "kittest"))
	ctx := context.Background()
	ev := sdk.Event{ID: "ev-1", Kind: host.EventUserDeleted, Payload: []byte("u9")}
	if err := h.Event(ctx, tenantA, host.EventUserBlocked, []byte("u9")); err != nil {
		t.Fatal(err)
	}
	p.fail = true
	if err := h.Deliver(ctx, tenantA, ev); err == nil {
		t.Fatal("a failed hook was acknowledged")
	}
	p.fail = false
	for i := 0; i < 3; i++ {
		if err := h.Deliver(ctx, tenantA, ev); err != nil {
			t.Fatal(err)
		}
	}
	if p.deleted["u9"] != 1 {
		t.Fatalf("the erasure ran %d times", p.deleted["u9"])
	}
	evs, err := p.Events(ctx, tenantA)
	if err != nil || len(evs) != 1 || evs[0].ID != "ev-1" || evs[0].Payload != "" {
		t.Fatalf("remembered: %+v %v", evs, err)
	}
	// Another tenant's event with the same id is another event.
	if err := h.Deliver(ctx, tenantB, ev); err != nil || p.deleted["u9"] != 2 {
		t.Fatalf("tenant B: %v %d", err, p.deleted["u9"])
	}
}

// TestEventKindsAreTheHosts: the frame dispatches the host's event kinds to the module's
// hooks, and reads the host's demo payload.
func TestEventKindsAreTheHosts(t *testing.T) {
	p := newProbe(t)
	h := sdktest.New(t, p, storetest.Env(t, "sqlite", "kittest"))
	ctx := context.Background()
	if err := h.Event(ctx, tenantA, host.EventUserVerified, []byte("u7")); err != nil || len(p.verified) != 1 || p.verified[0] != "u7" {
		t.Fatalf("verified: %v %v", err, p.verified)
	}
	b, _ := json.Marshal(host.DemoSeed{Accounts: []host.DemoAccount{{ID: "1", Email: "e", Name: "n", Role: "clerk"}}})
	if err := h.Event(ctx, tenantA, host.EventDemoSeeded, b); err != nil || len(p.demo) != 1 ||
		p.demo[0] != (kit.DemoAccount{ID: "1", Email: "e", Name: "n", Role: "clerk"}) {
		t.Fatalf("demo: %v %+v", err, p.demo)
	}
}
