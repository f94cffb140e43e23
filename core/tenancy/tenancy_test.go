package tenancy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

const good = `slug = "lab"
name = "Lab"
default_locale = "sk"
locales = ["sk", "pl"]
time_zone = "Europe/Bratislava"
currency = "EUR"
[[hostnames]]
host = "Lab.Example.org"
[rules]
"account.verification_hours" = 48
[modules.eshop]
enabled = true
`

func writeTenant(t *testing.T, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lab")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "tenant.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTenantFileValidation: a tenant file is refused with a clear reason when a locale,
// currency, time zone, hostname, module or rule is wrong (P1).
func TestTenantFileValidation(t *testing.T) {
	f, _, _, err := tenancy.LoadFile(writeTenant(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if f.Hostnames[0].Hostname != "lab.example.org" {
		t.Fatalf("hostname not normalised: %q", f.Hostnames[0].Hostname)
	}
	bad := map[string][2]string{
		"unknown locale":    {`locales = ["sk", "pl"]`, `locales = ["sk", "en"]`},
		"default not in":    {`default_locale = "sk"`, `default_locale = "fr"`},
		"currency":          {`currency = "EUR"`, `currency = "USD"`},
		"time zone":         {`time_zone = "Europe/Bratislava"`, `time_zone = "Mars/Olympus"`},
		"hostname":          {`host = "Lab.Example.org"`, `host = "lab example"`},
		"module id":         {`[modules.eshop]`, `[modules."Casino!"]`},
		"unknown rule":      {`"account.verification_hours" = 48`, `"account.nope" = 48`},
		"rule out of range": {`"account.verification_hours" = 48`, `"account.verification_hours" = 0`},
		"rule type":         {`"account.verification_hours" = 48`, `"account.verification_hours" = "soon"`},
		"unknown key":       {`currency = "EUR"`, "currency = \"EUR\"\ncolour = \"red\""},
		"slug":              {`slug = "lab"`, `slug = "Lab Two"`},
	}
	for name, r := range bad {
		body := strings.Replace(good, r[0], r[1], 1)
		if body == good {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, _, _, err := tenancy.LoadFile(writeTenant(t, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRulesAreData: a rule's value comes from the tenant, its declared default otherwise (P2).
func TestRulesAreData(t *testing.T) {
	f, _, _, err := tenancy.LoadFile(writeTenant(t, good))
	if err != nil {
		t.Fatal(err)
	}
	tn := &tenancy.Tenant{Settings: f.Settings}
	if got := tn.IntRule("account.verification_hours"); got != 48 {
		t.Fatalf("tenant value: %d", got)
	}
	if got := tn.IntRule("account.min_age"); got != 18 {
		t.Fatalf("default: %d", got)
	}
}

// TestImportOnceThenDatabaseRules: importing twice creates the tenant once; an admin's later
// edit is not overwritten by a re-import (P1).
func TestImportOnceThenDatabaseRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		s := &tenancy.Store{DB: d}
		ctx := context.Background()
		dir := writeTenant(t, good)
		root := filepath.Dir(dir)
		if res, err := s.ImportDir(ctx, root); err != nil || len(res) != 1 || !res[0].Created {
			t.Fatalf("first import: %v %v", res, err)
		}
		tn, _ := s.BySlug(ctx, "lab")
		tn.Settings.Name = "Edited by admin"
		if err := s.Save(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if res, err := s.ImportDir(ctx, root); err != nil || res[0].Created {
			t.Fatalf("second import: %v %v", res, err)
		}
		tn, _ = s.BySlug(ctx, "lab")
		if tn.Settings.Name != "Edited by admin" {
			t.Fatalf("re-import overwrote the admin's edit: %q", tn.Settings.Name)
		}
		if got, _, err := s.ByHost(ctx, "LAB.example.org:8443"); err != nil || got.ID != tn.ID {
			t.Fatalf("by host: %v", err)
		}
		if _, _, err := s.ByHost(ctx, "other.example.org"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Fatalf("unknown host: %v", err)
		}
		if mods := tn.EnabledModules(); len(mods) != 1 || mods[0] != "eshop" {
			t.Fatalf("modules: %v", mods)
		}
	})
}

// TestImportKnowsRegisteredModules: a tenant file may switch on a built-in or a module of
// the platform's catalog, any other id is refused (issue 11.17, P5).
func TestImportKnowsRegisteredModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		s := &tenancy.Store{DB: d}
		ctx := context.Background()
		root := filepath.Dir(writeTenant(t, strings.Replace(good, "[modules.eshop]", "[modules.casino]", 1)))
		if _, err := s.ImportDir(ctx, root); err == nil || !strings.Contains(err.Error(), "casino") {
			t.Fatalf("unknown module imported: %v", err)
		}
		if _, err := s.BySlug(ctx, "lab"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Fatalf("tenant of a refused file stored: %v", err)
		}
		s.Known.Add("casino")
		if res, err := s.ImportDir(ctx, root); err != nil || len(res) != 1 || !res[0].Created {
			t.Fatalf("registered module refused: %v %v", res, err)
		}
		tn, _ := s.BySlug(ctx, "lab")
		if mods := tn.EnabledModules(); len(mods) != 1 || mods[0] != "casino" {
			t.Fatalf("modules: %v", mods)
		}
		if ids := s.Known.IDs(); len(ids) != len(tenancy.KnownModules)+1 || ids[len(ids)-1] != "casino" {
			t.Fatalf("known: %v", ids)
		}
	})
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{"MLab.localhost:8080": "mlab.localhost", "mlab.localhost.": "mlab.localhost",
		"[::1]:8080": "[::1]", " a.b ": "a.b"} {
		if got := tenancy.NormalizeHost(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
