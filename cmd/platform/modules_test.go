package main

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
	_ "modernc.org/sqlite"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// TestMain makes the test binary the platform binary: the host re-executes it as
// `<test> plugin <id>` for each module, as `platform plugin <id>` in production. The probe
// module exists only in tests: it answers what it received and what the HostAPI let it do.
func TestMain(m *testing.M) {
	builtins["probe"] = newProbe
	tenancy.KnownModules = append(tenancy.KnownModules, "probe")
	// A second platform instance in its own process (the two-instance job test).
	if len(os.Args) >= 2 && os.Args[1] == "serve" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) >= 3 && os.Args[1] == "plugin" {
		if err := servePlugin(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newProbe() sdk.Module {
	return &sdktest.Module{
		Man: sdk.Manifest{ID: "probe", Version: "1.0.0",
			// Probers answer complaints (a core permission a module may grant its staff).
			Roles: []sdk.Role{{ID: "prober", CoreGrants: []string{"admin.complaints"}}, {ID: "member", Implicit: true}},
			Permissions: []sdk.Permission{{Name: "probe.see", Grants: []string{"user"}}, {Name: "probe.staff", Grants: []string{"prober"}},
				{Name: "probe.import"}},
			Routes: []sdk.Route{{Method: "GET", Path: "/probe/echo", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/lookup/{id}", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/staff", Permission: "probe.staff"},
				{Method: "GET", Path: "/probe/page", Public: true},
				{Method: "GET", Path: "/probe/slow", Public: true},
				{Method: "POST", Path: "/probe/job", Permission: "probe.see"},
				{Method: "POST", Path: "/probe/blob", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/blob/{id}", Permission: "probe.see"},
				{Method: "POST", Path: "/probe/accept", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/terms/{doc}", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/call/{op}", Permission: "probe.see"},
				{Method: "GET", Path: "/probe/api/whoami", Permission: "probe.import", API: true},
				{Method: "POST", Path: "/probe/api/import", Permission: "probe.import", API: true},
				{Method: "GET", Path: "/probe/api/staff", Permission: "probe.staff", API: true}},
			Rules: []sdk.Rule{{Name: "probe.days", Type: "int", Default: int64(30), Min: 1, Max: 90},
				{Name: "probe.on", Type: "bool", Default: false}},
		},
		Events: func(ctx context.Context, ev *sdk.Event) error {
			return sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "probe.event", Resource: ev.Kind + "=" + string(ev.Payload)})
		},
		Jobs: func(ctx context.Context, job *sdk.Job) error {
			if strings.HasPrefix(string(job.Payload), "slow-") {
				time.Sleep(100 * time.Millisecond)
			}
			// Prove the job ran, in its tenant, through the HostAPI.
			return sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "probe.job_ran", Resource: string(job.Payload)})
		},
		Handler: func(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
			host := sdk.HostFrom(ctx)
			switch {
			case strings.HasPrefix(req.Path, "/probe/call/"):
				return probeCall(ctx, host, req)
			case strings.HasPrefix(req.Path, "/probe/api/"):
				// A machine call: it carries the client, never a user; what it records is the key's.
				q, _ := url.ParseQuery(req.Query)
				if err := host.Record(ctx, sdk.AuditRecord{Action: "probe.api_call", Subject: q.Get("subject"), Resource: req.Path}); err != nil {
					return nil, err
				}
				out, _ := json.Marshal(map[string]any{"client": map[string]string{"ID": req.ClientID, "Name": req.ClientName},
					"user": req.User, "method": req.Method, "body": string(req.Body)})
				return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: out}, nil
			case req.Path == "/probe/accept":
				a, err := host.AcceptTerms(ctx, "", req.User.ID)
				if err != nil {
					return &sdk.Response{Status: 409, Body: []byte(err.Error())}, nil
				}
				return &sdk.Response{Status: 200, Body: []byte(fmt.Sprintf("%v v%d", a.Accepted, a.Version))}, nil
			case strings.HasPrefix(req.Path, "/probe/terms/"):
				doc := strings.TrimPrefix(req.Path, "/probe/terms/")
				if doc == "own" {
					doc = ""
				}
				v, err := host.Terms(ctx, doc, req.User.ID)
				if err != nil {
					return &sdk.Response{Status: 404, Body: []byte(err.Error())}, nil
				}
				return &sdk.Response{Status: 200, Body: []byte(fmt.Sprintf("%s v%d %q accepted=%v", v.Doc, v.Version, v.Title, v.Accepted))}, nil
			case req.Path == "/probe/job":
				id, err := host.Schedule(ctx, sdk.Job{Name: "probe.job", At: time.Now(), Key: "once", Payload: []byte("payload-" + req.Tenant.Slug)})
				if err != nil {
					return nil, err
				}
				return &sdk.Response{Status: 200, Body: []byte(id)}, nil
			case req.Path == "/probe/blob" && req.Method == "POST":
				id, err := host.PutBlob(ctx, sdk.Blob{Name: "r.pdf", ContentType: "application/pdf", Data: probePDF(req.Tenant.Slug)})
				if err != nil {
					return nil, err
				}
				return &sdk.Response{Status: 200, Body: []byte(id)}, nil
			case strings.HasPrefix(req.Path, "/probe/blob/"):
				b, err := host.Blob(ctx, strings.TrimPrefix(req.Path, "/probe/blob/"))
				if err != nil {
					return &sdk.Response{Status: 404}, nil
				}
				return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {b.ContentType}}, Body: b.Data}, nil
			case req.Path == "/probe/slow":
				// A request still in the module when the test kills it.
				select {
				case <-ctx.Done():
				case <-time.After(30 * time.Second):
				}
				return &sdk.Response{Status: 200, Body: []byte("slow")}, nil
			case req.Path == "/probe/page":
				return &sdk.Response{Status: 200, Fragment: true, Title: "Probe page", Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
					Body: []byte("<p id=probe>fragment for " + req.Tenant.Slug + "</p>")}, nil
			case strings.HasPrefix(req.Path, "/probe/lookup/"):
				u, err := host.User(ctx, strings.TrimPrefix(req.Path, "/probe/lookup/"))
				if err != nil {
					return &sdk.Response{Status: 404, Body: []byte("not found")}, nil
				}
				return &sdk.Response{Status: 200, Body: []byte(u.Email)}, nil
			}
			out, _ := json.Marshal(map[string]any{"tenant": req.Tenant, "user": req.User, "path": req.Path,
				"query": req.Query, "request_id": req.RequestID, "cookie": req.Header.Get("Cookie"), "csrf": req.CSRF != ""})
			return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: out}, nil
		},
	}
}

// probeCall runs one HostAPI call named by the path (/probe/call/<op>) with the query's
// arguments, and answers its outcome as JSON (409 with the error when the host refused).
func probeCall(ctx context.Context, host *sdk.Host, req *sdk.Request) (*sdk.Response, error) {
	q, _ := url.ParseQuery(req.Query)
	var out any
	var err error
	switch strings.TrimPrefix(req.Path, "/probe/call/") {
	case "lookup":
		out, err = host.User(ctx, q.Get("id"))
	case "check":
		var match, has bool
		match, has, err = host.CheckSecret(ctx, q.Get("id"), q.Get("answer"))
		out = map[string]bool{"match": match, "has": has}
	case "role":
		err = host.SetRole(ctx, q.Get("id"), q.Get("role"), q.Get("on") == "1")
		out = "ok"
	case "audit":
		limit, _ := strconv.Atoi(q.Get("limit"))
		out, err = host.AuditTrail(ctx, q.Get("subject"), limit)
	case "record":
		err = host.Record(ctx, sdk.AuditRecord{Action: q.Get("action"), Subject: q.Get("subject"), Resource: "probe"})
		out = "ok"
	case "lodge":
		d := sdk.Complaint{Category: q.Get("category"), Body: q.Get("body"), ReplyTo: q.Get("reply_to"), UserID: q.Get("user")}
		if q.Get("due_days") != "" {
			n, _ := strconv.Atoi(q.Get("due_days"))
			d.Due = time.Now().AddDate(0, 0, n)
		}
		var rc *sdk.Complaint
		rc, err = host.Lodge(ctx, d)
		var fe sdk.FieldErrors
		if errors.As(err, &fe) {
			b, _ := json.Marshal(fe)
			return &sdk.Response{Status: 422, Body: b}, nil
		}
		out = rc
	case "blobdel":
		err = host.DeleteBlob(ctx, q.Get("id"))
		out = "ok"
	default:
		return &sdk.Response{Status: 404}, nil
	}
	if err != nil {
		return &sdk.Response{Status: 409, Body: []byte(err.Error())}, nil
	}
	b, _ := json.Marshal(out)
	return &sdk.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, nil
}

// platform is a `platform serve --demo` running in the test, on a real port.
type platform struct {
	t    *testing.T
	dsn  string
	data string
	base string
	stop func()
	out  *syncBuffer
	logs *syncBuffer
}

// startPlatformOn starts the platform on a fresh database of backend b.
func startPlatformOn(t *testing.T, b dbtest.Backend, tenantsDir string) *platform {
	cfg := b.Config(t)
	var extra []string
	if cfg.DSN != "" {
		extra = []string{"--db", cfg.DSN}
	}
	p := startPlatform(t, tenantsDir, extra...)
	p.dsn = cfg.DSN
	return p
}

func startPlatform(t *testing.T, tenantsDir string, extra ...string) *platform {
	return startPlatformData(t, tenantsDir, t.TempDir(), extra...)
}

// startPlatformData starts the platform on the data directory data.
func startPlatformData(t *testing.T, tenantsDir, data string, extra ...string) *platform {
	t.Helper()
	return startPlatformUntil(t, "/readyz", tenantsDir, data, extra...)
}

// startPlatformUntil starts the platform and waits until ready (a path) answers 200.
func startPlatformUntil(t *testing.T, ready, tenantsDir, data string, extra ...string) *platform {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p := &platform{t: t, data: data, base: "http://" + addr, out: &syncBuffer{}, logs: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		args := append([]string{"serve", "--demo", "--addr", addr, "--data", p.data, "--tenants", tenantsDir}, extra...)
		done <- run(ctx, args, p.out, p.logs)
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("platform did not stop")
			}
		})
	}
	t.Cleanup(p.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(p.base + ready)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("platform not ready: %v\n%s", err, p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type readiness struct {
	Status  string            `json:"status"`
	Modules []readinessModule `json:"modules"`
}

type readinessModule struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
}

func (p *platform) ready() readiness {
	res, err := http.Get(p.base + "/readyz")
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var r readiness
	json.NewDecoder(res.Body).Decode(&r)
	return r
}

func (p *platform) pid(id string) int {
	for _, m := range p.ready().Modules {
		if m.ID == id {
			return m.PID
		}
	}
	return 0
}

// browser is a client with cookies for one tenant host.
type browser struct {
	p    *platform
	host string
	c    *http.Client
	last http.Header // the headers of the last response
}

func (p *platform) browser(host string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{p: p, host: host, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request to the platform as if to http://<host>/path.
func (b *browser) do(method, path string, form url.Values) (int, string) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, "http://"+b.host+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// Send to the platform's address, keep the tenant's Host (and cookie domain).
	u, _ := url.Parse(b.p.base)
	b.c.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}
	res, err := b.c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b.last = res.Header
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browser) post(page, path string, form url.Values) (int, string) {
	_, body := b.do("GET", page, nil)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		b.p.t.Fatalf("no CSRF token on %s", page)
	}
	form.Set("_csrf", m[1])
	return b.do("POST", path, form)
}

func (b *browser) login(email, password string) {
	if code, body := b.post("/login", "/login", url.Values{"email": {email}, "password": {password}}); code != 303 {
		b.p.t.Fatalf("login %s: %d %s", email, code, body)
	}
}

// TestModulesRunAsSeparateProcesses: `serve --demo` runs the four modules, each its own
// process; their routes answer for the tenants that switched them on, in the tenant's
// layout and language, and 404 elsewhere (P5).
func TestModulesRunAsSeparateProcesses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		r := p.ready()
		pids := map[int]bool{}
		for _, m := range r.Modules {
			if m.State != "running" || m.PID == 0 || m.PID == os.Getpid() || pids[m.PID] {
				t.Fatalf("module %+v", m)
			}
			pids[m.PID] = true
		}
		if len(r.Modules) != 4 {
			t.Fatalf("modules: %+v", r.Modules)
		}
		cases := []struct {
			host, path string
			status     int
			want       string
		}{
			{"mlab.localhost", "/results", 200, "Résultats d’analyses"},
			{"mlab.localhost", "/results/", 200, "MLab Laboratoires SELAS"},
			{"elekarze.localhost", "/calendar", 200, `<html lang="pl">`},
			{"unilabs.localhost", "/eshop", 200, `<html lang="sk">`},
			{"secretaires.localhost", "/billing", 200, "Les Secrétaires"},
			{"secretaires.localhost", "/calendar", 200, "Les Secrétaires"},
			{"mlab.localhost", "/calendar", 404, ""},
			{"elekarze.localhost", "/results", 404, ""},
			{"mlab.localhost", "/results/no/such/route", 404, ""},
		}
		for _, c := range cases {
			code, body := p.browser(c.host).do("GET", c.path, nil)
			if code != c.status || !strings.Contains(body, c.want) {
				t.Errorf("%s%s: %d (want %d with %q)", c.host, c.path, code, c.status, c.want)
			}
		}
		// The module's page is wrapped in the tenant's layout: navigation, switcher, footer.
		_, body := p.browser("mlab.localhost").do("GET", "/results", nil)
		for _, want := range []string{`<nav aria-label=`, `name="lang"`, "<footer>", `aria-current="page">Résultats d’analyses`} {
			if !strings.Contains(body, want) {
				t.Errorf("results page lacks %q", want)
			}
		}
		// /metrics shows the plugin calls.
		res, _ := http.Get(p.base + "/metrics")
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(data), `platform_plugin_call_duration_seconds_count{method="handle",module="results"}`) {
			t.Error("no plugin latency metric")
		}
	})
}

// TestKilledModuleAnswers503AndComesBack: kill -9 of a module while requests run: its routes
// answer a localized 503 within a second, the other modules answer 200 throughout, and it is
// back within 5 seconds with a new pid (P5).
func TestKilledModuleAnswers503AndComesBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		old := p.pid("results")
		var stop atomic.Bool
		var otherFailures atomic.Int32
		var wg sync.WaitGroup
		for _, target := range []struct{ host, path string }{{"elekarze.localhost", "/calendar"}, {"unilabs.localhost", "/eshop"}, {"mlab.localhost", "/login"}} {
			wg.Add(1)
			go func(host, path string) {
				defer wg.Done()
				b := p.browser(host)
				for !stop.Load() {
					if code, _ := b.do("GET", path, nil); code != 200 {
						otherFailures.Add(1)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}(target.host, target.path)
		}
		killed := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		b := p.browser("mlab.localhost")
		saw503 := time.Duration(0)
		for time.Since(killed) < 5*time.Second {
			code, body := b.do("GET", "/results", nil)
			if code == 503 {
				if !strings.Contains(body, "Service momentanément indisponible") {
					t.Fatalf("503 page not localized: %s", body)
				}
				if saw503 == 0 {
					saw503 = time.Since(killed)
				}
			}
			if code == 200 && p.pid("results") != old && p.pid("results") != 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		back := time.Since(killed)
		stop.Store(true)
		wg.Wait()
		if code, _ := b.do("GET", "/results", nil); code != 200 {
			t.Fatalf("results not back within 5 s (%s)", back)
		}
		if saw503 == 0 || saw503 > time.Second {
			t.Errorf("first 503 after %s", saw503)
		}
		if n := otherFailures.Load(); n != 0 {
			t.Errorf("%d failed requests to other modules and the core while results was down", n)
		}
		if np := p.pid("results"); np == old || np == 0 {
			t.Fatalf("new pid %d (old %d)", np, old)
		}
		t.Logf("first 503 after %s; back after %s", saw503, back)
	})
}

// TestRequestInFlightWhenModuleDies: issue 11.8 (P5). A request that is in the module when
// its process is killed gets the localized 503 page (never a bad gateway), and once the
// module is failed /readyz shows no pid of a dead process.
func TestRequestInFlightWhenModuleDies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		b := p.browser("alpha.localhost")
		for i := 1; i <= 3; i++ {
			var pid int
			deadline := time.Now().Add(10 * time.Second)
			for pid = p.pid("probe"); pid == 0 || !processAlive(pid); pid = p.pid("probe") {
				if time.Now().After(deadline) {
					t.Fatalf("kill %d: probe not running: %+v", i, p.ready())
				}
				time.Sleep(20 * time.Millisecond)
			}
			type answer struct {
				code int
				body string
			}
			done := make(chan answer, 1)
			go func() { c, body := b.do("GET", "/probe/slow", nil); done <- answer{c, body} }()
			time.Sleep(500 * time.Millisecond) // the request is in the module now
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case a := <-done:
				// alpha's language is Slovak.
				if a.code != 503 || !strings.Contains(a.body, "Služba je dočasne nedostupná") {
					t.Fatalf("kill %d: request in flight got %d, want the localized 503: %.400s", i, a.code, a.body)
				}
			case <-time.After(8 * time.Second):
				t.Fatalf("kill %d: the request in flight did not end", i)
			}
			if i < 3 {
				deadline := time.Now().Add(10 * time.Second)
				for np := p.pid("probe"); np == 0 || np == pid; np = p.pid("probe") {
					if time.Now().After(deadline) {
						t.Fatalf("kill %d: probe not relaunched: %+v", i, p.ready())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		// Three failures within the window: failed, and no pid of a dead process.
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := p.ready()
			var st *readinessModule
			for i := range r.Modules {
				if r.Modules[i].ID == "probe" {
					st = &r.Modules[i]
				}
			}
			if st != nil && st.State == "failed" {
				if st.PID != 0 {
					t.Fatalf("failed module shows pid %d (alive: %v)", st.PID, processAlive(st.PID))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe not failed: %+v", r)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code, body := b.do("GET", "/probe/page", nil); code != 503 || !strings.Contains(body, "Služba je dočasne nedostupná") {
			t.Fatalf("failed module's route: %d", code)
		}
		// The console says it in words; the cause (a Go error, in English) is in the log only.
		c := p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")
		_, page := c.do("GET", "/platform/modules", nil)
		if !strings.Contains(page, "Le module s’est arrêté de façon inattendue") {
			t.Fatalf("console does not say the module stopped:\n%s", page)
		}
		for _, raw := range []string{"plugin exited", "exit status", "rpc error", "connection"} {
			if strings.Contains(page, raw) {
				t.Fatalf("console shows the raw cause %q", raw)
			}
		}
	})
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func writeProbeTenants(t *testing.T) string {
	dir := t.TempDir()
	for _, slug := range []string{"alpha", "beta"} {
		os.MkdirAll(filepath.Join(dir, slug, "terms"), 0o755)
		for _, l := range []string{"fr", "pl", "sk"} {
			os.WriteFile(filepath.Join(dir, slug, "terms", "probe."+l+".md"), []byte("# Probe terms "+slug+" "+l+"\n\nText."), 0o644)
			os.WriteFile(filepath.Join(dir, slug, "terms", "platform."+l+".md"), []byte("# Account terms "+slug+" "+l+"\n\nText."), 0o644)
		}
	}
	for _, tn := range []struct{ slug, locale, rules string }{
		{"alpha", "sk", "[modules.probe.rules]\n\"probe.days\" = 7\n"},
		{"beta", "pl", ""},
	} {
		os.MkdirAll(filepath.Join(dir, tn.slug), 0o755)
		body := fmt.Sprintf(`slug = %q
name = "Tenant %s"
country = "SK"
default_locale = %q
locales = ["fr", "pl", "sk"]
time_zone = "Europe/Bratislava"
currency = "EUR"
[legal]
company = "%s s.r.o."
[rules]
"security.second_factor_roles" = ""  # as the demo catalog: admins sign in with a password alone
[[hostnames]]
host = "%s.localhost"
portal = "patients"
[modules.probe]
enabled = true
%s`, tn.slug, tn.slug, tn.locale, tn.slug, tn.slug, tn.rules)
		if err := os.WriteFile(filepath.Join(dir, tn.slug, "tenant.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestModuleRequestCarriesItsContext: a module's request carries the right tenant (with its
// rules for the module), user, roles and language, and never the browser's cookies; its
// HostAPI reaches users of its tenant only; the route's permission is checked by the core
// before the module sees anything (P3, P5).
func TestModuleRequestCarriesItsContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		b := p.browser("alpha.localhost")
		// Anonymous: the core refuses before the module.
		if code, _ := b.do("GET", "/probe/echo", nil); code != 303 {
			t.Fatalf("anonymous on a signed-in route: %d", code)
		}
		if code, body := b.do("GET", "/probe/page", nil); code != 200 || !strings.Contains(body, "fragment for alpha") || !strings.Contains(body, "<footer>") {
			t.Fatalf("public fragment: %d", code)
		}
		b.login("user@alpha.localhost", "demo-alpha-user")
		code, body := b.do("GET", "/probe/echo?x=1", nil)
		if code != 200 {
			t.Fatalf("echo: %d %s", code, body)
		}
		var got struct {
			Tenant sdk.Tenant
			User   *sdk.User
			Path   string
			Query  string
			Cookie string
			CSRF   bool
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if got.Tenant.Slug != "alpha" || got.Tenant.Locale != "sk" || got.Tenant.Currency != "EUR" || got.Tenant.TimeZone != "Europe/Bratislava" ||
			got.Tenant.Portal != "patients" || got.Path != "/probe/echo" || got.Query != "x=1" {
			t.Fatalf("tenant/path: %+v", got)
		}
		if got.Tenant.Rules["probe.days"] != float64(7) || got.Tenant.Rules["probe.on"] != false {
			t.Fatalf("rules: %v", got.Tenant.Rules)
		}
		if got.User == nil || got.User.Email != "user@alpha.localhost" || strings.Join(got.User.Roles, ",") != "user" {
			t.Fatalf("user: %+v", got.User)
		}
		if got.Cookie != "" || !got.CSRF {
			t.Fatalf("cookie %q reached the module, or no CSRF token (%v)", got.Cookie, got.CSRF)
		}
		// Another tenant gets its own rules (defaults) and language.
		pb := p.browser("beta.localhost")
		pb.login("user@beta.localhost", "demo-beta-user")
		_, body = pb.do("GET", "/probe/echo", nil)
		json.Unmarshal([]byte(body), &got)
		if got.Tenant.Slug != "beta" || got.Tenant.Locale != "pl" || got.Tenant.Rules["probe.days"] != float64(30) {
			t.Fatalf("beta: %+v", got.Tenant)
		}
		// A permission held by a role the user lacks: refused by the core.
		if code, _ := b.do("GET", "/probe/staff", nil); code != 403 {
			t.Fatalf("staff route as a plain user: %d", code)
		}
		// HostAPI: a user of the same tenant is found; one of another tenant is not.
		_, echo := b.do("GET", "/probe/echo", nil)
		json.Unmarshal([]byte(echo), &got)
		own := got.User.ID
		_, betaEcho := pb.do("GET", "/probe/echo", nil)
		json.Unmarshal([]byte(betaEcho), &got)
		foreign := got.User.ID
		if code, body := b.do("GET", "/probe/lookup/"+own, nil); code != 200 || body != "user@alpha.localhost" {
			t.Fatalf("own tenant lookup: %d %s", code, body)
		}
		if code, _ := b.do("GET", "/probe/lookup/"+foreign, nil); code != 404 {
			t.Fatalf("a module reached a user of another tenant: %d", code)
		}
	})
}

// TestTenantAdminEditsModuleRules: module rules are edited on an admin page, validated as
// the manifest declares them, and the next request carries them (P12).
func TestTenantAdminEditsModuleRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		admin := p.browser("alpha.localhost")
		admin.login("admin@alpha.localhost", "demo-alpha-admin")
		code, body := admin.post("/admin/modules/probe", "/admin/modules/probe", url.Values{"rule_probe_days": {"500"}, "rule_probe_on": {"true"}})
		if code != 422 || !strings.Contains(body, `id="e-rule_probe_days"`) {
			t.Fatalf("out of range: %d", code)
		}
		code, _ = admin.post("/admin/modules/probe", "/admin/modules/probe", url.Values{"rule_probe_days": {"12"}, "rule_probe_on": {"true"}})
		if code != 303 {
			t.Fatalf("save: %d", code)
		}
		_, body = admin.do("GET", "/probe/echo", nil)
		if !strings.Contains(body, `"probe.days":12`) || !strings.Contains(body, `"probe.on":true`) {
			t.Fatalf("rules not applied: %s", body)
		}
		// Another tenant is unaffected.
		other := p.browser("beta.localhost")
		other.login("user@beta.localhost", "demo-beta-user")
		if _, body := other.do("GET", "/probe/echo", nil); !strings.Contains(body, `"probe.days":30`) {
			t.Fatalf("beta changed: %s", body)
		}
		// A plain user cannot reach the page.
		user := p.browser("alpha.localhost")
		user.login("user@alpha.localhost", "demo-alpha-user")
		if code, _ := user.do("GET", "/admin/modules/probe", nil); code != 403 {
			t.Fatalf("user on module rules: %d", code)
		}
	})
}

// TestPlatformAdminSeesAndRestartsModules: the console lists each module's state, pid and
// restarts, and restarts one (P12).
func TestPlatformAdminSeesAndRestartsModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		c := p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")
		old := p.pid("eshop")
		code, body := c.do("GET", "/platform/modules", nil)
		if code != 200 || !strings.Contains(body, fmt.Sprint(old)) || !strings.Contains(body, "En service") {
			t.Fatalf("modules page: %d", code)
		}
		if code, _ := c.post("/platform/modules", "/platform/modules/eshop/restart", url.Values{}); code != 303 {
			t.Fatalf("restart: %d", code)
		}
		if np := p.pid("eshop"); np == old || np == 0 {
			t.Fatalf("pid after restart: %d (was %d)", np, old)
		}
	})
}

// TestModuleMessagesExist: every role, permission and rule a built-in module declares, and
// its landing page, has its message in fr, pl and sk (P4); so have its jobs and message
// templates (with their SMS wordings), by the names the jobs and messages pages show, and
// its portals, by the names the console offers (issue 12.13, 12.14).
func TestModuleMessagesExist(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	for id, mk := range builtins {
		if id == "probe" {
			continue
		}
		man := mk().Manifest()
		if err := man.Check(); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		keys := []string{"module." + id + ".name", "module." + id + ".summary", "module." + id + ".intro"}
		for _, r := range man.Roles {
			keys = append(keys, kit.RoleMessage(id, r))
		}
		for _, p := range man.Permissions {
			keys = append(keys, "perm."+p.Name)
		}
		for _, r := range man.Rules {
			keys = append(keys, "rule."+r.Name)
			// A rule's choices are shown in words on the admin's page (the e-shop's gateway).
			for _, c := range r.Choices {
				keys = append(keys, "rule."+r.Name+"."+c)
			}
		}
		// Every audit action the module records has its words (issue 12.5).
		for _, a := range man.AuditActions {
			keys = append(keys, "audit.action."+a)
		}
		for _, j := range man.Jobs {
			keys = append(keys, server.JobNameKey(id, j.Name))
		}
		for _, tmpl := range man.Templates {
			keys = append(keys, server.TemplateNameKey(tmpl), server.TemplateNameKey("sms."+tmpl))
		}
		for _, p := range man.Portals {
			keys = append(keys, "portal."+p)
		}
		for _, k := range keys {
			for _, l := range locales.Supported {
				if !b.Has(l, k) {
					t.Errorf("%s: %q missing in %s", id, k, l)
				}
			}
		}
	}
}

// TestPortalNamesAreDistinct: issue 12.14. The console offers a hostname's portal by its
// name: two portals the modules declare never share a name in a language (French once
// called both the e-shop's customers and the secretariat's clients "clients").
func TestPortalNamesAreDistinct(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	portals := map[string]bool{}
	for id, mk := range builtins {
		if id != "probe" {
			for _, p := range mk().Manifest().Portals {
				portals[p] = true
			}
		}
	}
	if len(portals) < 4 {
		t.Fatalf("the modules declare %d portals", len(portals))
	}
	for _, l := range locales.Supported {
		seen := map[string]string{}
		for p := range portals {
			name := b.For(l).T("portal." + p)
			if other, ok := seen[name]; ok {
				t.Errorf("%s: portals %s and %s are both %q", l, p, other, name)
			}
			seen[name] = p
		}
	}
}

// TestModulesOnPostgres: on PostgreSQL each module runs its migrations in a schema of its
// own and serves its tenants (P5).
func TestModulesOnPostgres(t *testing.T) {
	pg := dbtest.Postgres(t)
	cfg := pg.Config(t)
	p := startPlatform(t, filepath.Join("..", "..", "tenants"), "--db", cfg.DSN)
	if r := p.ready(); r.Status != "ok" || len(r.Modules) != 4 {
		t.Fatalf("readyz: %+v", r)
	}
	if code, body := p.browser("mlab.localhost").do("GET", "/results", nil); code != 200 || !strings.Contains(body, "Résultats d’analyses") {
		t.Fatalf("results on postgres: %d", code)
	}
	owner := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(cfg.DSN)))
	defer owner.Close()
	for _, m := range []string{"results", "calendar", "eshop", "billing"} {
		var n int
		err := owner.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2", "mod_"+m, m+"_events").Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("module %s: its migration did not run in its schema (%v)", m, err)
		}
	}
}

// TestModuleJobsAndBlobs: a module schedules a one-off job through the HostAPI (once per
// idempotency key) and the host runs it for the right tenant; a module stores a file and
// reads it back, and a file of another tenant is not found (P5).
func TestModuleJobsAndBlobs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		dir := writeProbeTenants(t)
		p := startPlatformOn(t, be, dir)
		a := p.browser("alpha.localhost")
		a.login("user@alpha.localhost", "demo-alpha-user")
		_, id1 := a.post("/probe/page", "/probe/job", url.Values{})
		_, id2 := a.post("/probe/page", "/probe/job", url.Values{})
		if id1 == "" || id1 != id2 {
			t.Fatalf("idempotency: %q %q", id1, id2)
		}
		code, blobID := a.post("/probe/page", "/probe/blob", url.Values{})
		if code != 200 {
			t.Fatalf("put blob: %d %s", code, blobID)
		}
		if code, body := a.do("GET", "/probe/blob/"+blobID, nil); code != 200 || !strings.Contains(pdftotext(t, []byte(body)), "probe file of alpha") {
			t.Fatalf("get blob: %d %q", code, body)
		}
		b := p.browser("beta.localhost")
		b.login("user@beta.localhost", "demo-beta-user")
		if code, _ := b.do("GET", "/probe/blob/"+blobID, nil); code != 404 {
			t.Fatalf("another tenant read the blob: %d", code)
		}
		// The job runs within a few seconds and records, in alpha's audit trail only.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if strings.Contains(p.auditActions(t, "alpha"), "probe.job_ran:payload-alpha") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job did not run: %s", p.auditActions(t, "alpha"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		if strings.Contains(p.auditActions(t, "beta"), "probe.job_ran") {
			t.Fatal("the job ran in another tenant")
		}
	})
}

// auditActions lists "action:resource" of a tenant's audit trail, read through a second
// connection to the platform's database.
func (p *platform) auditActions(t *testing.T, slug string) string {
	var out []string
	for _, r := range p.auditEntries(t, slug) {
		out = append(out, r.Action+":"+r.Resource)
	}
	return strings.Join(out, " ")
}

// TestModulesHearOfDeletedAndBlockedUsers: when an account is deleted or blocked, every module
// the tenant switched on is told, in that tenant (P11 erasure reaches the modules).
func TestModulesHearOfDeletedAndBlockedUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		u := p.browser("alpha.localhost")
		u.login("user@alpha.localhost", "demo-alpha-user")
		_, echo := u.do("GET", "/probe/echo", nil)
		var got struct{ User *sdk.User }
		json.Unmarshal([]byte(echo), &got)
		if code, _ := u.post("/account/delete", "/account/delete", url.Values{"password": {"demo-alpha-user"}}); code != 200 {
			t.Fatalf("delete: %d", code)
		}
		if !strings.Contains(p.auditActions(t, "alpha"), "probe.event:user.deleted="+got.User.ID) {
			t.Fatalf("module not told of the deletion: %s", p.auditActions(t, "alpha"))
		}
		if strings.Contains(p.auditActions(t, "beta"), "probe.event:user.deleted") {
			t.Fatal("another tenant's module instance was told")
		}
		b := p.browser("beta.localhost")
		b.login("admin@beta.localhost", "demo-beta-admin")
		pb := p.browser("beta.localhost")
		pb.login("user@beta.localhost", "demo-beta-user")
		_, becho := pb.do("GET", "/probe/echo", nil)
		json.Unmarshal([]byte(becho), &got)
		if code, _ := b.post("/admin/users/"+got.User.ID, "/admin/users/"+got.User.ID+"/block", url.Values{"reason": {"test"}}); code != 303 {
			t.Fatalf("block: %d", code)
		}
		if !strings.Contains(p.auditActions(t, "beta"), "probe.event:user.blocked="+got.User.ID) {
			t.Fatalf("module not told of the block: %s", p.auditActions(t, "beta"))
		}
	})
}

// TestSwitchingOnAModuleLaunchesIt: a platform admin switches on a module no tenant used: its
// process starts, its grants are installed, and its routes answer for that tenant (P5, P12).
func TestSwitchingOnAModuleLaunchesIt(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, writeProbeTenants(t))
		if p.pid("results") != 0 {
			t.Fatal("results runs although no tenant switched it on")
		}
		c := p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		alpha, err := (&tenancy.Store{DB: d}).BySlug(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		page := "/platform/tenants/" + alpha.ID
		if code, _ := c.post(page, page+"/modules", url.Values{"modules": {"probe", "results"}}); code != 303 {
			t.Fatalf("switch on: %d", code)
		}
		if p.pid("results") == 0 {
			t.Fatalf("results not launched\n%s", p.logs.String())
		}
		u := p.browser("alpha.localhost")
		if code, body := u.do("GET", "/results", nil); code != 200 || !strings.Contains(body, "<h1>") {
			t.Fatalf("results for alpha: %d", code)
		}
		if code, _ := p.browser("beta.localhost").do("GET", "/results", nil); code != 404 {
			t.Fatalf("results for beta: %d", code)
		}
	})
}

// TestJobsRunOnceAcrossTwoInstances: two `platform serve` processes on one PostgreSQL run
// each job exactly once (P8).
func TestJobsRunOnceAcrossTwoInstances(t *testing.T) {
	pg := dbtest.Postgres(t)
	cfg := pg.Config(t)
	tenants := writeProbeTenants(t)
	// The first instance runs in this process; the second is another process.
	p := startPlatform(t, tenants, "--db", cfg.DSN)
	p.dsn = cfg.DSN
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr2 := ln.Addr().String()
	ln.Close()
	exe, _ := os.Executable()
	second := exec.Command(exe, "serve", "--addr", addr2, "--data", t.TempDir(), "--tenants", tenants, "--db", cfg.DSN)
	logs2 := &syncBuffer{}
	second.Stdout, second.Stderr = logs2, logs2
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Process.Signal(syscall.SIGTERM); second.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get("http://" + addr2 + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("second instance not ready:\n%s", logs2.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DSN: cfg.DSN, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	alpha, _ := (&tenancy.Store{DB: d}).BySlug(ctx, "alpha")
	store := jobs.NewStore(d)
	const n = 30
	for i := 0; i < n; i++ {
		if _, err := store.Enqueue(ctx, alpha.ID, jobs.Spec{Module: "probe", Name: "probe.job", Key: fmt.Sprintf("k%d", i),
			At: time.Now(), Payload: []byte(fmt.Sprintf("slow-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		done, _ := store.List(ctx, alpha.ID, jobs.Done, 1000)
		probes := 0
		for _, j := range done {
			if j.Module == "probe" && j.Name == "probe.job" {
				probes++
			}
		}
		if probes >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs done", len(done), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	actions := strings.Fields(p.auditActions(t, "alpha"))
	count := map[string]int{}
	for _, a := range actions {
		if strings.HasPrefix(a, "probe.job_ran:slow-") {
			count[a]++
		}
	}
	if len(count) != n {
		t.Fatalf("%d distinct jobs ran, want %d", len(count), n)
	}
	for k, c := range count {
		if c != 1 {
			t.Errorf("%s ran %d times", k, c)
		}
	}
	done, _ := store.List(ctx, alpha.ID, jobs.Done, 1000)
	by := map[string]int{}
	for _, j := range done {
		if j.Module == "probe" && j.Name == "probe.job" {
			by[j.ClaimedBy]++
		}
	}
	t.Logf("jobs per instance: %v", by)
	if len(by) != 2 {
		t.Fatalf("the jobs were not shared by the two instances: %v", by)
	}
}

// TestJobsSurviveARestart: a job scheduled before the platform stops runs after it starts
// again (P8).
func TestJobsSurviveARestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		cfg := be.Config(t)
		tenants := writeProbeTenants(t)
		extra := []string{}
		if cfg.DSN != "" {
			extra = []string{"--db", cfg.DSN}
		}
		data := t.TempDir()
		first := startPlatformData(t, tenants, data, extra...)
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DSN: cfg.DSN, DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		alpha, _ := (&tenancy.Store{DB: d}).BySlug(ctx, "alpha")
		if _, err := jobs.NewStore(d).Enqueue(ctx, alpha.ID, jobs.Spec{Module: "probe", Name: "probe.job", Key: "later",
			At: time.Now().Add(3 * time.Second), Payload: []byte("after-restart")}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		first.stop()
		second := startPlatformData(t, tenants, data, extra...)
		second.dsn = cfg.DSN
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(second.auditActions(t, "alpha"), "probe.job_ran:after-restart") {
			if time.Now().After(deadline) {
				t.Fatal("job scheduled before the restart did not run after it")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// TestModuleTermsThroughHostAPI: a module reads its own terms and the account's in force
// and records a user's acceptance of its own; it cannot record the account's (P6).
func TestModuleTermsThroughHostAPI(t *testing.T) {
	p := startPlatform(t, writeProbeTenants(t))
	// A new account (the demo accounts accepted every document in force when they were made).
	u := p.newAccount("alpha.localhost", "alpha", "nova@example.org")
	if code, body := u.do("GET", "/probe/terms/own", nil); code != 200 || body != `probe v1 "Probe terms alpha sk" accepted=false` {
		t.Fatalf("own terms: %d %s", code, body)
	}
	// The account's terms count as accepted by continued use (the tenant's default rule).
	if code, body := u.do("GET", "/probe/terms/platform", nil); code != 200 || !strings.Contains(body, "accepted=true") {
		t.Fatalf("account terms: %d %s", code, body)
	}
	if code, body := u.post("/probe/page", "/probe/accept", url.Values{}); code != 200 || body != "true v1" {
		t.Fatalf("accept: %d %s", code, body)
	}
	if _, body := u.do("GET", "/probe/terms/own", nil); !strings.HasSuffix(body, "accepted=true") {
		t.Fatalf("after accepting: %s", body)
	}
	if code, _ := u.do("GET", "/probe/terms/results", nil); code != 404 {
		t.Fatalf("another module's terms: %d", code)
	}
}

// moduleRowsNaming counts the rows of a module's events table that name a user (SQLite).
func moduleRowsNaming(t *testing.T, data, module, userID string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(data, "modules", module+".db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM "+module+"_events WHERE payload = ?", userID).Scan(&n); err != nil {
		t.Fatalf("%s: %v", module, err)
	}
	return n
}

// TestDataExportAndErasureReachEveryModule: a person downloads all his data, the core's and
// every module's, as a ZIP of JSON files; deleting his account erases what every module held
// of him (P11).
func TestDataExportAndErasureReachEveryModule(t *testing.T) {
	p := startPlatform(t, filepath.Join("..", "..", "tenants"))
	for _, tc := range []struct{ slug string }{{"secretaires"}, {"mlab"}, {"unilabs"}} {
		host := tc.slug + ".localhost"
		admin := p.browser(host)
		admin.login("admin@"+tc.slug+".localhost", "demo-"+tc.slug+"-admin")
		user := p.browser(host)
		user.login("user@"+tc.slug+".localhost", "demo-"+tc.slug+"-user")
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		ten, _ := (&tenancy.Store{DB: d}).BySlug(ctx, tc.slug)
		u, err := accounts.NewService(d, authz.NewService(d)).ByEmail(ctx, ten.ID, "user@"+tc.slug+".localhost")
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A block and an unblock: every module records the events naming the person.
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"test"}})
		admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/unblock", url.Values{})
		user.login("user@"+tc.slug+".localhost", "demo-"+tc.slug+"-user")
		for _, m := range ten.EnabledModules() {
			if n := moduleRowsNaming(t, p.data, m, u.ID); n == 0 {
				t.Fatalf("%s/%s: no record naming the user before deletion", tc.slug, m)
			}
		}
		code, body := user.do("GET", "/account/export", nil)
		if code != 200 {
			t.Fatalf("%s export: %d", tc.slug, code)
		}
		zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, f := range zr.File {
			// Each entry carries the export's date, not zip's 1980 (issue 12.16).
			if time.Since(f.Modified) > time.Hour || f.Modified.Year() < 2000 {
				t.Errorf("%s dated %v", f.Name, f.Modified)
			}
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			// JSON, but for the modules' files: a report's PDFs (issue 12.16).
			if strings.HasSuffix(f.Name, ".pdf") {
				if !bytes.HasPrefix(b, []byte("%PDF-")) {
					t.Errorf("%s is not a PDF", f.Name)
				}
			} else if !json.Valid(b) {
				t.Errorf("%s is not JSON", f.Name)
			}
			names[f.Name] = string(b)
		}
		for _, want := range []string{"account.json", "sessions.json", "terms_acceptances.json", "consents.json", "access_log.json", "complaints.json", "messages.json", "kept_after_erasure.json"} {
			if _, ok := names[want]; !ok {
				t.Errorf("%s: export lacks %s", tc.slug, want)
			}
		}
		if !strings.Contains(names["account.json"], "user@"+tc.slug+".localhost") || !strings.Contains(names["access_log.json"], "admin.user_blocked") {
			t.Errorf("%s: export content", tc.slug)
		}
		// What an erasure keeps, and why, in the person's language (issue 11.12, P11, P9).
		var keptNotes []struct{ What, Why string }
		if err := json.Unmarshal([]byte(names["kept_after_erasure.json"]), &keptNotes); err != nil || len(keptNotes) != 2 ||
			keptNotes[0].What == "" || keptNotes[0].Why == "" || strings.Contains(keptNotes[0].Why, "privacy.") {
			t.Errorf("%s: what an erasure keeps: %v %s", tc.slug, err, names["kept_after_erasure.json"])
		}
		// The results module's reports come with their PDFs: the lab's original and the
		// printout in the person's language, each named in the module's JSON (issue 12.16).
		if tc.slug == "mlab" {
			var pdfs []string
			for n := range names {
				if strings.HasPrefix(n, "modules/results/reports/") && strings.HasSuffix(n, ".pdf") {
					pdfs = append(pdfs, n)
					if !strings.Contains(names["modules/results.json"], strings.TrimPrefix(n, "modules/results/")) {
						t.Errorf("%s not named in the module's JSON", n)
					}
				}
			}
			if len(pdfs) < 8 {
				t.Errorf("mlab export: %d report PDFs, want the lab's and the printout of each of 4 reports: %v", len(pdfs), pdfs)
			}
			for _, n := range pdfs {
				text := pdftotext(t, []byte(names[n]))
				if !strings.Contains(text, "Compte rendu d’analyses") && !strings.Contains(text, "Sprawozdanie z badań") &&
					!strings.Contains(text, "Výsledkový list") {
					t.Errorf("%s does not read as a report:\n%s", n, text)
				}
			}
		}
		for _, m := range ten.EnabledModules() {
			if !strings.Contains(names["modules/"+m+".json"], "user.blocked") {
				t.Errorf("%s: module %s export: %s", tc.slug, m, names["modules/"+m+".json"])
			}
		}
		if code, _ := user.post("/account/delete", "/account/delete", url.Values{"password": {"demo-" + tc.slug + "-user"}}); code != 200 {
			t.Fatalf("%s delete: %d", tc.slug, code)
		}
		for _, m := range ten.EnabledModules() {
			if n := moduleRowsNaming(t, p.data, m, u.ID); n != 0 {
				t.Errorf("%s/%s: %d records still name the deleted user", tc.slug, m, n)
			}
		}
	}
}

// probePDF is the probe module's file of a tenant: a real PDF, as the host stores only files
// that are what they say (issue 11.9). Two processes may write different bytes for it (the
// font subset's order): compare what it says.
func probePDF(slug string) []byte {
	d := pdfdoc.New("Probe "+slug, "probe", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	d.Text("probe file of " + slug)
	b, err := d.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}
