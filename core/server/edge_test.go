package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// listen serves e's platform on a real loopback listener (the in-memory test connection has
// no remote address and no kept-alive buffers) and returns its base URL.
func (e *env) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.srv.Listen(ctx, ln); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// roundTrip sends one request to base with the Host and headers given.
func roundTrip(t *testing.T, base, method, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func cookieSecure(t *testing.T, res *http.Response, name string) bool {
	t.Helper()
	for _, ck := range res.Cookies() {
		if ck.Name == name {
			return ck.Secure
		}
	}
	t.Fatalf("no %s cookie", name)
	return false
}

// TestForwardedHeadersOnlyFromProxies: issue 11.1 (P1, E1). Without --trusted-proxies a
// client's X-Forwarded-Host does not pick the tenant and its X-Forwarded-Proto does not make
// a cookie Secure; with proxies configured, only a request from a proxy's address may set
// them. Public cacheable answers vary on the host, so that a shared cache keeps tenants apart.
func TestForwardedHeadersOnlyFromProxies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		forged := map[string]string{"X-Forwarded-Host": "admin.localhost", "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
		check := func(name, base string, believed bool) {
			t.Helper()
			res, body := roundTrip(t, base, "GET", "mlab.localhost", "/login", forged)
			console := strings.Contains(body, "admin.localhost") || !strings.Contains(body, "MLab")
			if res.StatusCode != 200 || console != believed {
				t.Errorf("%s: X-Forwarded-Host believed=%v, want %v (status %d)", name, console, believed, res.StatusCode)
			}
			if secure := cookieSecure(t, res, "csrf"); secure != believed {
				t.Errorf("%s: X-Forwarded-Proto believed=%v, want %v", name, secure, believed)
			}
			if hsts := res.Header.Get("Strict-Transport-Security") != ""; hsts != believed {
				t.Errorf("%s: HSTS sent=%v, want %v", name, hsts, believed)
			}
		}
		// No proxy configured: nobody's forwarded headers count.
		check("no proxies", newEnv(t, b).listen(), false)
		// A proxy configured elsewhere: this client is not it.
		check("untrusted client", newEnvWith(t, b, func(c *server.Config) { c.TrustedProxies = []string{"192.0.2.1"} }).listen(), false)
		// The proxy itself (loopback here) is believed.
		check("trusted proxy", newEnvWith(t, b, func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }).listen(), true)

		// The branding of a tenant is public and cacheable: it varies on the host.
		e := newEnv(t, b)
		base := e.listen()
		for _, p := range []string{"/branding.css", "/"} {
			res, _ := roundTrip(t, base, "GET", "mlab.localhost", p, nil)
			if !strings.Contains(res.Header.Get("Vary"), "Host") {
				t.Errorf("%s: Vary %q lacks Host (Cache-Control %q)", p, res.Header.Get("Vary"), res.Header.Get("Cache-Control"))
			}
		}
		// A forged forwarded host does not change what a tenant answers.
		_, body := roundTrip(t, base, "GET", "mlab.localhost", "/branding.css", forged)
		_, mlab := roundTrip(t, base, "GET", "mlab.localhost", "/branding.css", nil)
		if body != mlab {
			t.Errorf("forged forwarded host changed the branding:\n%s\n%s", body, mlab)
		}
	})
}

// TestMetricsAfterConcurrentRequests: issue 11.2 (E3). Mixed methods and paths, sent
// concurrently on kept-alive connections, then /metrics: it answers 200, parses as
// Prometheus text, and its method labels are exactly the methods sent (no string kept from
// a reused request buffer).
func TestMetricsAfterConcurrentRequests(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		base := e.listen()
		methods := []string{"GET", "POST", "DELETE", "PUT", "PATCH"}
		paths := []string{"/login", "/", "/no/such/page", "/legal", "/register", "/results", "/t/mlab/legal", "/healthz"}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				defer cl.CloseIdleConnections()
				for i := 0; i < 60; i++ {
					m, p := methods[(i+w)%len(methods)], paths[(i*3+w)%len(paths)]
					req, _ := http.NewRequest(m, base+p+fmt.Sprintf("?n=%d", i), strings.NewReader(url.Values{"x": {strings.Repeat("y", i)}}.Encode()))
					req.Host = "mlab.localhost"
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					res, err := cl.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}(w)
		}
		wg.Wait()
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("/metrics: %d %s", res.StatusCode, body)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		fam := fams["platform_http_requests_total"]
		if fam == nil {
			t.Fatal("no platform_http_requests_total")
		}
		seen := map[string]bool{}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					seen[l.GetValue()] = true
				}
			}
		}
		for _, m := range methods {
			if !seen[m] {
				t.Errorf("method %s missing from /metrics", m)
			}
			delete(seen, m)
		}
		if len(seen) > 0 {
			t.Errorf("method labels nobody sent: %v", seen)
		}
	})
}

// TestHeadAnswersAsGet: HEAD on a page, a tenant's style sheet, a static file and the health
// check answers as GET does, without a body (RFC 9110 §9.3.2); before, every one was a 405.
func TestHeadAnswersAsGet(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	base := e.listen()
	for _, path := range []string{"/", "/login", "/branding.css", "/static/style.css", "/healthz"} {
		get, getBody := roundTrip(t, base, "GET", "mlab.localhost", path, nil)
		head, headBody := roundTrip(t, base, "HEAD", "mlab.localhost", path, nil)
		if get.StatusCode != 200 || head.StatusCode != 200 {
			t.Errorf("%s: GET %d, HEAD %d", path, get.StatusCode, head.StatusCode)
			continue
		}
		if head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || headBody != "" || getBody == "" {
			t.Errorf("%s: HEAD %q (%d bytes), GET %q", path, head.Header.Get("Content-Type"), len(headBody), get.Header.Get("Content-Type"))
		}
	}
	// A form's POST route is not a GET: HEAD there stays refused.
	if r, _ := roundTrip(t, base, "HEAD", "mlab.localhost", "/logout", nil); r.StatusCode != 405 && r.StatusCode != 404 {
		t.Errorf("HEAD /logout: %d", r.StatusCode)
	}
}
