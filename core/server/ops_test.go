package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// TestOperations: /healthz answers while serving; /readyz reports the database and the
// modules as JSON; /metrics counts requests by tenant, route and status, with latency.
func TestOperations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("anything.example")
		if r := c.get("/healthz"); r.Status != 200 || r.Body != "ok" {
			t.Fatalf("healthz: %d %q", r.Status, r.Body)
		}
		r := c.get("/readyz")
		var ready struct {
			Status  string               `json:"status"`
			Modules []server.ModuleState `json:"modules"`
		}
		if err := json.Unmarshal([]byte(r.Body), &ready); err != nil || r.Status != 200 || ready.Status != "ok" || ready.Modules == nil {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
		// A module that does not run makes the platform degraded.
		e.srv.Modules = func() []server.ModuleState {
			return []server.ModuleState{{ID: "results", State: "failed", Restarts: 3}}
		}
		r = c.get("/readyz")
		if r.Status != 503 || !strings.Contains(r.Body, `"status":"degraded"`) || !strings.Contains(r.Body, `"id":"results"`) {
			t.Fatalf("readyz with a failed module: %d %s", r.Status, r.Body)
		}
		e.client("mlab.localhost").get("/login")
		e.client("mlab.localhost").get("/no/such/page")
		r = c.get("/metrics")
		mustContain(t, r, `platform_http_requests_total{method="GET",route="/login",status="200",tenant="mlab"} 1`,
			`status="404",tenant="mlab"`, "platform_http_request_duration_seconds_bucket")
		// A request id on every response.
		if r.Header.Get("X-Request-Id") == "" {
			t.Fatal("no request id")
		}
		// Malformed requests are 4xx, never 500.
		for _, bad := range []struct{ method, path string }{
			{"GET", "/account/sessions/not-an-id/revoke"},
			{"PUT", "/login"},
		} {
			r := e.client("mlab.localhost").do(bad.method, bad.path, nil)
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("%s %s: %d", bad.method, bad.path, r.Status)
			}
		}
	})
}
