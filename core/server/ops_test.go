package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/pluginhost"
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
			Status  string              `json:"status"`
			Modules []pluginhost.Status `json:"modules"`
		}
		if err := json.Unmarshal([]byte(r.Body), &ready); err != nil || r.Status != 200 || ready.Status != "ok" || ready.Modules == nil {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
		// A module that does not run makes the platform degraded.
		e.srv.Modules.SetHost(&fakeHost{man: fakeResults(), state: pluginhost.StateFailed})
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

// TestTrustedProxies: forwarded headers count only from configured proxies: behind a trusted
// TLS-terminating proxy cookies are Secure and rate limits apply to the real client address;
// the same headers from anyone else change nothing. (A real listener: the in-memory test
// connection has no remote address.)
func TestTrustedProxies(t *testing.T) {
	serve := func(trusted string) string {
		e := newEnvWith(t, dbtest.Backends()[0], func(c *server.Config) { c.TrustedProxies = []string{trusted} })
		e.setRule("mlab", "security.login_per_ip", 1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.srv.Listen(ctx, ln); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return "http://" + ln.Addr().String()
	}
	// send makes one request as a browser behind the proxy: the proxy adds the forwarded
	// headers; the browser carries its cookies.
	send := func(base, path, forwardedFor string, form url.Values, cookies []*http.Cookie) (*http.Response, string) {
		method, body := "GET", ""
		if form != nil {
			method, body = "POST", form.Encode()
		}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Host = "mlab.localhost"
		req.Header.Set("X-Forwarded-For", forwardedFor)
		req.Header.Set("X-Forwarded-Proto", "https")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	// attempt loads the login page and submits it with a wrong password, as client ip.
	attempt := func(base, ip string) int {
		res, body := send(base, "/login", ip, nil, nil)
		tok := csrfRe.FindStringSubmatch(body)[1]
		res, _ = send(base, "/login", ip, url.Values{"_csrf": {tok}, "email": {"a@example.org"}, "password": {"wrong"}}, res.Cookies())
		return res.StatusCode
	}
	csrfSecure := func(res *http.Response) bool {
		for _, ck := range res.Cookies() {
			if ck.Name == "csrf" {
				return ck.Secure
			}
		}
		t.Fatal("no csrf cookie")
		return false
	}
	behind := serve("127.0.0.1")
	if res, _ := send(behind, "/login", "198.51.100.1", nil, nil); !csrfSecure(res) {
		t.Fatal("cookie not Secure behind a trusted TLS proxy")
	}
	// Login attempts from two clients behind the proxy are counted apart.
	if code := attempt(behind, "198.51.100.1"); code != 401 {
		t.Fatalf("first attempt: %d", code)
	}
	if code := attempt(behind, "198.51.100.2"); code != 401 {
		t.Fatalf("another client behind the proxy: %d", code)
	}
	if code := attempt(behind, "198.51.100.1"); code != 429 {
		t.Fatalf("first client's second attempt: %d", code)
	}

	untrusted := serve("192.0.2.1")
	if res, _ := send(untrusted, "/login", "198.51.100.1", nil, nil); csrfSecure(res) {
		t.Fatal("an untrusted client made the cookie Secure")
	}
}

// TestMaintenanceIsAnnounced: a platform admin plans an interruption; one longer than the
// tenant's rule (5 h) must start at least 24 business hours later, is announced by e-mail to
// every user in his language and shown as a banner (P7, B9).
func TestMaintenanceIsAnnounced(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ml := e.tenant("mlab")
		c := e.client("admin.localhost")
		c.login("", "admin@platform.localhost", "demo-platform-admin")
		loc := ml.Location()
		at := func(d time.Duration) string { return time.Now().In(loc).Add(d).Format("2006-01-02T15:04") }
		// 6 hours, starting in 2 hours: too soon.
		r := c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "start": {at(2 * time.Hour)}, "end": {at(8 * time.Hour)}})
		if r.Status != 422 || !strings.Contains(r.Body, "doit être annoncée avec le préavis de l’opérateur") {
			t.Fatalf("too soon: %d", r.Status)
		}
		if r := c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "start": {at(10 * 24 * time.Hour)}, "end": {at(9 * 24 * time.Hour)}}); r.Status != 422 {
			t.Fatalf("end before start: %d", r.Status)
		}
		// A short one needs no notice and no announcement.
		if r := c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "start": {at(time.Hour)}, "end": {at(2 * time.Hour)}}); r.Status != 303 {
			t.Fatalf("short window: %d", r.Status)
		}
		if strings.Contains(e.client("mlab.localhost").get("/").Body, `class="banner"`) {
			t.Fatal("a short window was announced")
		}
		// 6 hours, ten days ahead: accepted, announced, bannered.
		if r := c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "start": {at(10 * 24 * time.Hour)}, "end": {at(10*24*time.Hour + 6*time.Hour)}}); r.Status != 303 {
			t.Fatalf("long window: %d %s", r.Status, mainOf(r.Body))
		}
		if err := e.srv.RunJobsOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		told := 0
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.Subject, "Maintenance prévue") {
				told++
			}
		}
		if told != 2 { // the demo admin and user
			t.Fatalf("%d announcements", told)
		}
		home := e.client("mlab.localhost").get("/")
		mustContain(t, home, `class="banner"`, "Maintenance prévue")
		if strings.Contains(e.client("elekarze.localhost").get("/").Body, `class="banner"`) {
			t.Fatal("the banner shows on another tenant")
		}
	})
}

// TestMaintenanceKindsFollowTheTenantsRules: a maintenance interrupts the service or restricts
// it ("mode restreint"); only an interruption longer than the tenant's rule needs the
// tenant's notice in business hours, both rules read from the tenant at run time; the
// announcement says what happens in the reader's language, and, where the tenant's terms say
// so, that no compensation is owed (B9, P7 [001 art. 7]).
func TestMaintenanceKindsFollowTheTenantsRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		sec := e.tenant("secretaires")
		u, err := e.srv.Accounts.ByEmail(ctx, sec.ID, "user@secretaires.localhost")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Accounts.SetLocale(ctx, sec.ID, u.ID, "pl"); err != nil {
			t.Fatal(err)
		}
		c := e.client("admin.localhost")
		c.login("", "admin@platform.localhost", "demo-platform-admin")
		loc := sec.Location()
		at := func(d time.Duration) string { return time.Now().In(loc).Add(d).Format("2006-01-02T15:04") }
		plan := func(kind string, from, to time.Duration) *response {
			return c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {sec.ID}, "kind": {kind},
				"start": {at(from)}, "end": {at(to)}})
		}
		// The page shows each tenant's rules.
		mustContain(t, c.get("/platform/maintenance"), "Service restreint (mode restreint)", "Préavis (heures ouvrées)", ">24</td>", ">5</td>")
		if r := plan("shutdown", 10*24*time.Hour, 10*24*time.Hour+time.Hour); r.Status != 422 {
			t.Fatalf("an unknown kind: %d", r.Status)
		}
		// A 6-hour interruption in 2 hours: too soon (24 business hours).
		if r := plan("interruption", 2*time.Hour, 8*time.Hour); r.Status != 422 {
			t.Fatalf("an interruption too soon: %d", r.Status)
		}
		// The tenant's rules, changed, are read at once: over 8 hours only, 6 hours need no notice.
		e.setRule("secretaires", "maintenance.announce_over_hours", 8)
		if r := plan("interruption", 2*time.Hour, 8*time.Hour); r.Status != 303 {
			t.Fatalf("6 hours under an 8-hour rule: %d %s", r.Status, mainOf(r.Body))
		}
		e.setRule("secretaires", "maintenance.announce_over_hours", 5)
		e.setRule("secretaires", "maintenance.notice_business_hours", 0)
		if r := plan("interruption", 3*time.Hour, 9*time.Hour); r.Status != 303 {
			t.Fatalf("no notice required by the tenant: %d %s", r.Status, mainOf(r.Body))
		}
		e.setRule("secretaires", "maintenance.notice_business_hours", 24)
		// A restricted service as long, as soon: no notice needed, announced all the same.
		if r := plan("restricted", 2*time.Hour, 8*time.Hour); r.Status != 303 {
			t.Fatalf("a restricted service: %d %s", r.Status, mainOf(r.Body))
		}
		e.runJobs()
		var fr, pl int
		for _, m := range e.mails("secretaires") {
			switch {
			case strings.Contains(m.Text, "mode restreint") && strings.Contains(m.Text, "aucune indemnité"):
				fr++
			case strings.Contains(m.Text, "trybie ograniczonym") && strings.Contains(m.Text, "odszkodowanie"):
				pl++
			}
		}
		if fr == 0 || pl != 1 {
			t.Fatalf("restricted-service announcements: %d in French, %d in Polish", fr, pl)
		}
		// The other announced window (interruption, 6 hours) said it is an interruption.
		var interrupted int
		for _, m := range e.mails("secretaires") {
			if strings.Contains(m.Text, "Serwis będzie niedostępny") && strings.Contains(m.Text, "odszkodowanie") {
				interrupted++
			}
		}
		if interrupted != 1 {
			t.Fatalf("interruption announcements in Polish: %d", interrupted)
		}
		// mlab's terms say nothing of compensation: its announcement does not either.
		ml := e.tenant("mlab")
		if r := c.post("/platform/maintenance", "/platform/maintenance", url.Values{"tenant": {ml.ID}, "kind": {"restricted"},
			"start": {at(10 * 24 * time.Hour)}, "end": {at(10*24*time.Hour + 6*time.Hour)}}); r.Status != 303 {
			t.Fatalf("mlab: %d", r.Status)
		}
		e.runJobs()
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.Text, "indemnité") {
				t.Fatalf("mlab's announcement speaks of compensation: %s", m.Text)
			}
		}
		mustContain(t, e.client("mlab.localhost").get("/"), "le service fonctionnera en mode restreint")
	})
}
