package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// TestMigrateAndImportAreIdempotent: `migrate` and `tenants import` can run any number of
// times; a second import leaves existing tenants as they are (P1).
func TestMigrateAndImportAreIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		cfg := b.Config(t)
		args := []string{"--data", cfg.DataDir, "--db", cfg.DSN, "--tenants", filepath.Join("..", "..", "tenants")}
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			var out bytes.Buffer
			if err := run(ctx, append([]string{"migrate"}, args...), &out, &out); err != nil {
				t.Fatalf("migrate #%d: %v\n%s", i+1, err, out.String())
			}
		}
		var out bytes.Buffer
		if err := run(ctx, append([]string{"tenants", "import"}, args...), &out, &out); err != nil {
			t.Fatalf("import: %v\n%s", err, out.String())
		}
		if strings.Count(out.String(), "created") != 4 {
			t.Fatalf("first import:\n%s", out.String())
		}
		out.Reset()
		if err := run(ctx, append([]string{"tenants", "import"}, args...), &out, &out); err != nil {
			t.Fatalf("second import: %v", err)
		}
		if strings.Count(out.String(), "left unchanged") != 4 || strings.Contains(out.String(), "created") {
			t.Fatalf("second import:\n%s", out.String())
		}
	})
}

// TestServeDemoAndCleanShutdown: `serve --demo` imports the demo tenants, prints their URLs
// and logins, serves them, and stops cleanly when its context ends (SIGINT/SIGTERM). It is
// started from a directory with no tenants/ in it and no --tenants: the demonstration
// catalog is built into the binary (issue 12.19).
func TestServeDemoAndCleanShutdown(t *testing.T) {
	t.Chdir(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", addr, "--data", t.TempDir()}, &out, &errOut)
	}()
	var res *http.Response
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = "elekarze.localhost"
		if res, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server did not answer: %v\n%s", err, errOut.String())
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Language") != "pl" {
		t.Fatalf("elekarze home: %d %s", res.StatusCode, res.Header.Get("Content-Language"))
	}
	for _, want := range []string{"http://mlab.localhost:", "http://pro.mlab.localhost:", "admin@mlab.localhost", "demo-mlab-admin",
		"admin@platform.localhost", "user@unilabs.localhost", "/t/secretaires/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no clean shutdown")
	}
}

// TestTenantsFlagOverridesTheBuiltInCatalog: without --tenants, `tenants import` started
// anywhere imports the catalog built into the binary; --tenants DIR imports DIR's tenants
// alone, and a --tenants that does not exist is an error, not a silent empty catalog
// (issue 12.19).
func TestTenantsFlagOverridesTheBuiltInCatalog(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", "..", "tenants"))
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		t.Chdir(t.TempDir())
		ctx := context.Background()
		// One tenant of the catalog copied into a directory of its own.
		own := filepath.Join(t.TempDir(), "catalog")
		if err := os.CopyFS(filepath.Join(own, "elekarze"), os.DirFS(filepath.Join(repo, "elekarze"))); err != nil {
			t.Fatal(err)
		}
		cfg := b.Config(t)
		var out bytes.Buffer
		args := []string{"tenants", "import", "--data", cfg.DataDir, "--db", cfg.DSN}
		if err := run(ctx, append(args, "--tenants", own), &out, &out); err != nil {
			t.Fatalf("import --tenants: %v\n%s", err, out.String())
		}
		if strings.Count(out.String(), "created") != 1 || !strings.Contains(out.String(), "elekarze") {
			t.Fatalf("--tenants DIR imports DIR's tenants alone:\n%s", out.String())
		}
		out.Reset()
		if err := run(ctx, args, &out, &out); err != nil {
			t.Fatalf("import of the built-in catalog: %v\n%s", err, out.String())
		}
		if strings.Count(out.String(), "created") != 3 || strings.Count(out.String(), "left unchanged") != 1 {
			t.Fatalf("built-in catalog from another directory:\n%s", out.String())
		}
		if err := run(ctx, append(args, "--tenants", filepath.Join(t.TempDir(), "none")), &out, &out); err == nil {
			t.Fatal("a --tenants directory that does not exist was accepted")
		}
	})
}

// TestImportRule: cmd → core → plugins/sdk; a module imports only plugins/sdk, plugins/kit
// and locales; plugins/kit and locales import nothing of core or of a module
// (ARCHITECTURE "Layout").
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "carenet.dev/platform/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "carenet.dev/platform/"
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		pkgs++
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			bad := false
			switch {
			case pkg == "locales" || strings.HasPrefix(pkg, "locales/"):
				bad = true
			case strings.HasPrefix(pkg, "plugins/kit"):
				bad = strings.HasPrefix(dep, "core") || (strings.HasPrefix(dep, "plugins/") &&
					!strings.HasPrefix(dep, "plugins/kit") && !strings.HasPrefix(dep, "plugins/sdk"))
			case strings.HasPrefix(pkg, "plugins/sdk"):
				bad = strings.HasPrefix(dep, "core") || (strings.HasPrefix(dep, "plugins/") && !strings.HasPrefix(dep, "plugins/sdk"))
			case strings.HasPrefix(pkg, "plugins/"):
				module := strings.SplitN(pkg, "/", 3)[1]
				bad = !(strings.HasPrefix(dep, "plugins/sdk") || strings.HasPrefix(dep, "plugins/kit") ||
					dep == "locales" || strings.HasPrefix(dep, "plugins/"+module))
			case strings.HasPrefix(pkg, "core"):
				// The core uses the SDK and the modules' shared libraries (working days),
				// never a module.
				bad = strings.HasPrefix(dep, "cmd") || (strings.HasPrefix(dep, "plugins/") &&
					!strings.HasPrefix(dep, "plugins/sdk") && !strings.HasPrefix(dep, "plugins/kit"))
			}
			if bad {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
	if pkgs < 8 {
		t.Fatalf("only %d packages listed", pkgs)
	}
}

// TestCreatePlatformAdmin: `admins create` makes a console account that holds the platform
// admin role, with a generated password shown once (P3, P12).
func TestCreatePlatformAdmin(t *testing.T) {
	b := dbtest.Backends()[0]
	cfg := b.Config(t)
	var out bytes.Buffer
	ctx := context.Background()
	err := run(ctx, []string{"admins", "create", "--data", cfg.DataDir, "--email", "ops@example.org", "--name", "Ops"}, &out, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "password (shown once): ") {
		t.Fatalf("output: %s", out.String())
	}
	if err := run(ctx, []string{"admins", "create", "--data", cfg.DataDir, "--email", "ops@example.org", "--name", "Ops"}, &out, &out); err == nil {
		t.Fatal("a second admin with the same e-mail was created")
	}
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	console, _ := (&tenancy.Store{DB: d}).BySlug(ctx, tenancy.ConsoleSlug)
	u, err := accounts.NewService(d, authz.NewService(d)).ByEmail(ctx, console.ID, "ops@example.org")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := authz.NewService(d).Allowed(ctx, console.ID, console.PolicyRev, u.ID, authz.PermPlatformTenants)
	if err != nil || !ok {
		t.Fatalf("the new admin does not hold platform rights: %v %v", ok, err)
	}
	if err := run(ctx, []string{"admins", "create", "--data", cfg.DataDir, "--email", "bad", "--name", "Ops"}, &out, &out); err == nil {
		t.Fatal("an invalid e-mail was accepted")
	}
}

// TestAuditVerifyCommand: `platform audit verify` passes on an untouched trail and fails,
// naming the record, once a record was edited (P9).
func TestAuditVerifyCommand(t *testing.T) {
	cfg := dbtest.Backends()[0].Config(t)
	ctx := context.Background()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	store := &tenancy.Store{DB: d}
	if _, err := store.ImportDir(ctx, filepath.Join("..", "..", "tenants")); err != nil {
		t.Fatal(err)
	}
	ml, _ := store.BySlug(ctx, "mlab")
	tr := audit.New(d)
	for i := 0; i < 3; i++ {
		if err := tr.Append(ctx, ml.ID, audit.Entry{Action: "results.view", Subject: "p", Resource: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"audit", "verify", "--data", cfg.DataDir}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "mlab         ok, 3 records") {
		t.Fatalf("output:\n%s", out.String())
	}
	if _, err := d.Bun.ExecContext(ctx, "UPDATE audit_log SET subject = 'someone else' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify", "--data", cfg.DataDir}, &out, &out); err == nil {
		t.Fatalf("a changed record passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "record 2 was changed") {
		t.Fatalf("output:\n%s", out.String())
	}
}
