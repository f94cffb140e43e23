package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/locales"
)

// buildHello builds the example module (plugins/hello, a main package on the SDK alone) to
// path with the given build label, and returns its SHA-256 in hex.
func buildHello(t *testing.T, path, label string) string {
	t.Helper()
	tmp := path + ".build"
	cmd := exec.Command("go", "build", "-ldflags", "-X main.build="+label, "-o", tmp, "carenet.dev/platform/plugins/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	// A new file takes the old one's place (the running executable stays busy otherwise).
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// refusedLine returns the log line in which the host refused module id's executable.
func refusedLine(logs, id string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "does not have the registered SHA-256") && strings.Contains(l, "module="+id+" ") {
			return l
		}
	}
	return ""
}

func waitState(t *testing.T, p *platform, id, state string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range p.ready().Modules {
			if m.ID == id && m.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("module %s never %s: %+v\n%s", id, state, p.ready(), p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExternalModuleCatalog: a platform admin registers an external module (built here from
// its own main package against the SDK only) on Platform → Modules; an invalid registration
// gets a localized message next to its field and stores nothing; the module is stored in the
// catalog with who registered it, a tenant switches it on, its page answers through a real
// plugin process, and on PostgreSQL it gets its own roles and schema. Its executable swapped
// for another build is refused at the relaunch after a crash, at the admin's restart and at
// the next start of the platform: the module is failed and the log line names it with the
// registered and the found checksum (issue 11.17, P5).
func TestExternalModuleCatalog(t *testing.T) {
	msgs, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	fr := msgs.For("fr")
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		ctx := context.Background()
		dir := t.TempDir()
		exe := filepath.Join(dir, "hello")
		sum := buildHello(t, exe, "one")
		cfg := be.Config(t)
		var extra []string
		if cfg.DSN != "" {
			extra = []string{"--db", cfg.DSN}
		}
		tenants := writeProbeTenants(t)
		data := t.TempDir()
		p := startPlatformUntil(t, "/readyz", tenants, data, extra...)
		p.dsn = cfg.DSN
		c := p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")

		// Invalid registrations: the message next to the field, nothing stored.
		other := filepath.Join(dir, "other")
		if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		good := url.Values{"id": {"hello"}, "version": {"1.0.0"}, "path": {exe}, "sha256": {sum}}
		with := func(k, v string) url.Values {
			f := url.Values{}
			for kk, vv := range good {
				f[kk] = vv
			}
			f.Set(k, v)
			return f
		}
		bad := []struct {
			name, field, key string
			form             url.Values
		}{
			{"bad id", "id", "platform.modules.id_invalid", with("id", "Hello-World")},
			{"built-in id", "id", "platform.modules.id_builtin", with("id", "probe")},
			{"core route prefix", "id", "platform.modules.id_reserved", with("id", "login")},
			{"no version", "version", "form.required", with("version", "")},
			{"missing file", "path", "platform.modules.path_missing", with("path", filepath.Join(dir, "nothing-here"))},
			{"relative path", "path", "platform.modules.path_absolute", with("path", "hello")},
			{"not a checksum", "sha256", "platform.modules.sha256_invalid", with("sha256", "abc")},
			{"checksum mismatch", "sha256", "platform.modules.sha256_mismatch", with("path", other)},
		}
		for _, tc := range bad {
			code, body := c.post("/platform/modules", "/platform/modules", tc.form)
			want := `<p class="error" id="e-` + tc.field + `">` + html.EscapeString(fr.T(tc.key)) + `</p>`
			if code != 422 || !strings.Contains(body, want) {
				t.Errorf("%s: %d, want 422 with %s", tc.name, code, want)
			}
		}
		d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		count := func() int {
			var n int
			if err := d.Bun.NewRaw("SELECT count(*) FROM module_catalog").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 0 {
			t.Fatalf("invalid registrations stored %d modules", n)
		}

		// The registration, as a platform admin makes it.
		if code, body := c.post("/platform/modules", "/platform/modules", good); code != 303 {
			t.Fatalf("register: %d %s", code, body)
		}
		var by, stored string
		var at time.Time
		if err := d.Bun.NewRaw("SELECT registered_by_email, sha256, registered_at FROM module_catalog WHERE id = 'hello'").Scan(ctx, &by, &stored, &at); err != nil {
			t.Fatal(err)
		}
		if by != "admin@platform.localhost" || stored != sum || time.Since(at) > time.Minute {
			t.Fatalf("catalog entry: by %q sum %q at %v", by, stored, at)
		}
		if code, body := c.post("/platform/modules", "/platform/modules", good); code != 422 && code != 409 ||
			!strings.Contains(body, html.EscapeString(fr.T("platform.modules.id_taken"))) {
			t.Fatalf("duplicate: %d", code)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d modules after a duplicate", n)
		}
		console, err := (&tenancy.Store{DB: d}).BySlug(ctx, tenancy.ConsoleSlug)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := audit.New(d).Search(ctx, console.ID, audit.Filter{Action: "platform.module_registered"})
		if err != nil || len(recs) != 1 || recs[0].Resource != "module:hello" || recs[0].Actor == "" {
			t.Fatalf("registration audit: %+v (%v)", recs, err)
		}

		// A tenant switches it on; its page answers through its own process.
		alpha, err := (&tenancy.Store{DB: d}).BySlug(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		page := "/platform/tenants/" + alpha.ID
		if code, body := c.do("GET", page, nil); code != 200 || !strings.Contains(body, `value="hello"`) {
			t.Fatalf("tenant page does not offer the module: %d", code)
		}
		if code, _ := c.post(page, page+"/modules", url.Values{"modules": {"probe", "hello"}}); code != 303 {
			t.Fatalf("switch on: %d", code)
		}
		pid := p.pid("hello")
		if pid == 0 {
			t.Fatalf("hello not launched:\n%s", p.logs.String())
		}
		if real, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || real != exe {
			t.Fatalf("process %d runs %q (%v), not the registered executable", pid, real, err)
		}
		u := p.browser("alpha.localhost")
		u.login("user@alpha.localhost", "demo-alpha-user")
		code, body := u.do("GET", "/hello", nil)
		if code != 200 || !strings.Contains(body, "Dobrý deň, ") || !strings.Contains(body, "Ukážková verzia one") {
			t.Fatalf("hello page: %d %s", code, body)
		}
		// Its name comes from its manifest (the platform has no words for it): in the
		// navigation of the tenant, in the tenant's language.
		if !strings.Contains(body, ">Dobrý deň</a>") {
			t.Errorf("navigation lacks the module's own name:\n%s", body)
		}
		// Its rule is the tenant's: the tenant admin reads it by the module's own label and sets it.
		a := p.browser("alpha.localhost")
		a.login("admin@alpha.localhost", "demo-alpha-admin")
		if code, body := a.do("GET", "/admin/modules/hello", nil); code != 200 || !strings.Contains(body, "Počet pozdravov na stránke") {
			t.Fatalf("rules page of hello: %d %s", code, body)
		}
		if code, body := a.do("GET", "/admin/roles", nil); code != 200 || !strings.Contains(body, "Dostať pozdrav") {
			t.Fatalf("roles page lacks hello's permission by its label: %d", code)
		}
		if code, _ := a.post("/admin/modules/hello", "/admin/modules/hello", url.Values{"rule_hello_repeat": {"3"}}); code != 303 {
			t.Fatalf("set hello.repeat: %d", code)
		}
		if _, body := u.do("GET", "/hello", nil); strings.Count(body, "Dobrý deň, ") != 3 {
			t.Fatalf("hello.repeat = 3 not applied:\n%s", body)
		}
		if code, _ := p.browser("beta.localhost").do("GET", "/hello", nil); code != 404 {
			t.Fatalf("hello for beta, who did not switch it on: %d", code)
		}
		// The console lists it: state, version, abbreviated checksum, the tenant using it.
		_, body = c.do("GET", "/platform/modules", nil)
		row := regexp.MustCompile(`(?s)<tr id="module-hello">.*?</tr>`).FindString(body)
		for _, want := range []string{"Bonjour", fr.T("platform.modules.state.running"), "1.0.0", sum[:12] + "…", "Tenant alpha", strconv.Itoa(pid)} {
			if !strings.Contains(row, html.EscapeString(want)) {
				t.Errorf("console row lacks %q:\n%s", want, row)
			}
		}
		if strings.Contains(row, sum[12:]) && !strings.Contains(row, `title="`+sum+`"`) {
			t.Errorf("checksum shown in full: %s", row)
		}
		if be.Name == "postgres" {
			owner := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(cfg.DSN)))
			defer owner.Close()
			var schemaOwner string
			if err := owner.QueryRow("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'mod_hello'").Scan(&schemaOwner); err != nil || schemaOwner != "platform_mod_hello" {
				t.Fatalf("schema mod_hello: owner %q (%v)", schemaOwner, err)
			}
			var super, bypass bool
			if err := owner.QueryRow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'platform_mod_hello_app'").Scan(&super, &bypass); err != nil || super || bypass {
				t.Fatalf("runtime role of hello: super=%v bypassrls=%v (%v)", super, bypass, err)
			}
		}

		// Another build takes the executable's place, then the module crashes: the relaunch
		// checks the checksum again and refuses it.
		found := buildHello(t, exe, "two")
		if found == sum {
			t.Fatal("the second build has the same checksum")
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitState(t, p, "hello", "failed")
		line := refusedLine(p.logs.String(), "hello")
		for _, want := range []string{"expected_sha256=" + sum, "found_sha256=" + found} {
			if !strings.Contains(line, want) {
				t.Fatalf("refusal after the crash: log line %q lacks %q\n%s", line, want, p.logs.String())
			}
		}
		if code, body := u.do("GET", "/hello", nil); code != 503 || !strings.Contains(body, msgs.For("sk").T("error.module_stopped.text")) { // issue 12.14: a failed module waits for an admin
			t.Fatalf("page of the refused module: %d", code)
		}
		// The admin's restart checks it too.
		if code, _ := c.post("/platform/modules", "/platform/modules/hello/restart", url.Values{}); code != 303 {
			t.Fatalf("restart: %d", code)
		}
		_, body = c.do("GET", "/platform/modules", nil)
		row = regexp.MustCompile(`(?s)<tr id="module-hello">.*?</tr>`).FindString(body)
		if !strings.Contains(row, html.EscapeString(fr.T("platform.modules.state.failed"))) || !strings.Contains(row, html.EscapeString(fr.T("platform.modules.checksum_refused"))) {
			t.Fatalf("console after a refused restart:\n%s", row)
		}

		// The next start of the platform refuses it as well; the platform serves the rest.
		p.stop()
		p = startPlatformUntil(t, "/healthz", tenants, data, extra...)
		waitState(t, p, "hello", "failed")
		if line := refusedLine(p.logs.String(), "hello"); !strings.Contains(line, "expected_sha256="+sum) || !strings.Contains(line, "found_sha256="+found) {
			t.Fatalf("refusal at start: %q\n%s", line, p.logs.String())
		}
		waitState(t, p, "probe", "running")

		// The registered build back in place: the admin's restart starts it.
		if again := buildHello(t, exe, "one"); again != sum {
			t.Skipf("the build is not reproducible here (%s, %s): the last step cannot be checked", again, sum)
		}
		c = p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")
		if code, _ := c.post("/platform/modules", "/platform/modules/hello/restart", url.Values{}); code != 303 {
			t.Fatalf("restart: %d", code)
		}
		waitState(t, p, "hello", "running")
		u = p.browser("alpha.localhost")
		u.login("user@alpha.localhost", "demo-alpha-user")
		if code, body := u.do("GET", "/hello", nil); code != 200 || !strings.Contains(body, "Ukážková verzia one") {
			t.Fatalf("hello after its build came back: %d", code)
		}
	})
}

// TestModulesFlagPreRegisters: --modules <id>=<path>:<sha256> stores the module in the
// catalog at start (any valid id, not only a built-in's), and a malformed entry stops the
// platform with a clear error (issue 11.17, P5).
func TestModulesFlagPreRegisters(t *testing.T) {
	if err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--modules", "Hello=/x:" + strings.Repeat("a", 64)}, &syncBuffer{}, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "--modules") {
		t.Fatalf("malformed id accepted: %v", err)
	}
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		dir := t.TempDir()
		exe := filepath.Join(dir, "hello")
		sum := buildHello(t, exe, "flag")
		cfg := be.Config(t)
		extra := []string{"--modules", "hello=" + exe + ":" + sum}
		if cfg.DSN != "" {
			extra = append(extra, "--db", cfg.DSN)
		}
		tenants := writeProbeTenants(t)
		// beta's file switches the module on: the catalog knows it before the import.
		f := filepath.Join(tenants, "beta", "tenant.toml")
		b, _ := os.ReadFile(f)
		os.WriteFile(f, append(b, []byte("[modules.hello]\nenabled = true\n")...), 0o644)
		p := startPlatformUntil(t, "/readyz", tenants, t.TempDir(), extra...)
		if p.pid("hello") == 0 {
			t.Fatalf("hello not running:\n%s", p.logs.String())
		}
		u := p.browser("beta.localhost")
		u.login("user@beta.localhost", "demo-beta-user")
		if code, body := u.do("GET", "/hello", nil); code != 200 || !strings.Contains(body, "Dzień dobry, ") {
			t.Fatalf("hello for beta: %d %s", code, body)
		}
		c := p.browser("admin.localhost")
		c.login("admin@platform.localhost", "demo-platform-admin")
		_, body := c.do("GET", "/platform/modules", nil)
		if row := regexp.MustCompile(`(?s)<tr id="module-hello">.*?</tr>`).FindString(body); !strings.Contains(row, sum[:12]) || !strings.Contains(row, "Tenant beta") {
			t.Fatalf("console row: %s", row)
		}
	})
}

// TestHelloUsesTheSDKOnly: the example external module is built against the SDK alone:
// nothing of the module frame, of the core or of another module (issue 11.17, P5).
func TestHelloUsesTheSDKOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "carenet.dev/platform/plugins/hello").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	sdk := false
	for _, pkg := range strings.Fields(string(out)) {
		rest, ours := strings.CutPrefix(pkg, "carenet.dev/platform/")
		if !ours || rest == "plugins/hello" {
			continue
		}
		if !strings.HasPrefix(rest, "plugins/sdk") {
			t.Errorf("hello depends on %s", pkg)
		}
		sdk = sdk || rest == "plugins/sdk"
	}
	if !sdk {
		t.Fatalf("hello does not use the SDK: %s", out)
	}
}
