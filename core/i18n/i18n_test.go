package i18n_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/web"
	"carenet.dev/platform/locales"
)

// pluralForms are the CLDR plural categories of each language (P4): a plural message must
// give every one of them.
var pluralForms = map[string][]string{
	"fr": {"one", "many", "other"},
	"pl": {"one", "few", "many", "other"},
	"sk": {"one", "few", "many", "other"},
}

func loadRaw(t *testing.T, lang string) map[string]any {
	t.Helper()
	names, err := locales.FileNames(locales.Files, lang)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for _, name := range names {
		var part map[string]any
		if _, err := toml.DecodeFS(locales.Files, name, &part); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range part {
			if _, dup := m[k]; dup {
				t.Errorf("%s: %q is in two files", name, k)
			}
			m[k] = v
		}
	}
	return m
}

// TestEveryLocaleHasEveryMessage: the three message files have the same keys, plural
// messages carry every CLDR form of their language, and placeholders agree (P4).
func TestEveryLocaleHasEveryMessage(t *testing.T) {
	ref := loadRaw(t, "fr")
	ph := regexp.MustCompile(`\{\{\.[A-Za-z]+\}\}`)
	for _, lang := range locales.Supported {
		m := loadRaw(t, lang)
		for k := range ref {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for k, v := range m {
			rv, ok := ref[k]
			if !ok {
				t.Errorf("%s has %q, which fr lacks", lang, k)
				continue
			}
			switch v := v.(type) {
			case map[string]any:
				var forms []string
				for f := range v {
					// A zero form is a message's own answer for 0, whatever CLDR says
					// (TestCountsHaveAZeroForm in locales says which need one).
					if f != "zero" {
						forms = append(forms, f)
					}
				}
				sort.Strings(forms)
				want := append([]string(nil), pluralForms[lang]...)
				sort.Strings(want)
				if strings.Join(forms, ",") != strings.Join(want, ",") {
					t.Errorf("%s %q: plural forms %v, want %v", lang, k, forms, want)
				}
			case string:
				rs, _ := rv.(string)
				a, b := ph.FindAllString(v, -1), ph.FindAllString(rs, -1)
				sort.Strings(a)
				sort.Strings(b)
				if strings.Join(a, ",") != strings.Join(b, ",") {
					t.Errorf("%s %q: placeholders %v, fr has %v", lang, k, a, b)
				}
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s %q is empty", lang, k)
				}
			}
		}
	}
}

// TestPluralsFollowCLDR: counts pick the right form in each language (P4).
func TestPluralsFollowCLDR(t *testing.T) {
	b, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		lang string
		n    int
		want string
	}{
		{"fr", 1, "1 session ouverte"}, {"fr", 0, "Aucune session ouverte"}, {"fr", 2, "2 sessions ouvertes"},
		{"pl", 1, "1 "}, {"pl", 2, "2 "}, {"pl", 5, "5 "}, {"pl", 22, "22 "},
		{"sk", 1, "1 "}, {"sk", 3, "3 "}, {"sk", 5, "5 "},
	}
	for _, c := range cases {
		got := b.For(c.lang).TN("account.sessions.count", c.n)
		if !strings.HasPrefix(got, c.want) || got == "account.sessions.count" {
			t.Errorf("%s %d: %q", c.lang, c.n, got)
		}
	}
	// Polish: 2 and 5 take different forms, 2 and 22 the same; Slovak: 3 and 5 differ.
	pl := b.For("pl")
	if strip(pl.TN("account.sessions.count", 2)) == strip(pl.TN("account.sessions.count", 5)) {
		t.Error("pl: few and many are the same")
	}
	if strip(pl.TN("account.sessions.count", 2)) != strip(pl.TN("account.sessions.count", 22)) {
		t.Error("pl: 2 and 22 differ")
	}
	sk := b.For("sk")
	if strip(sk.TN("account.sessions.count", 3)) == strip(sk.TN("account.sessions.count", 5)) {
		t.Error("sk: few and other are the same")
	}
	if m := b.Missing(); len(m) > 0 {
		t.Fatalf("missing: %v", m)
	}
}

func strip(s string) string { return strings.TrimLeft(s, "0123456789 ") }

var (
	tmplKeyRe = regexp.MustCompile(`\.T(?:N)?\s+"([a-z0-9_.]+)"`)
	fKeyRe    = regexp.MustCompile(`\.F\s+"[a-z0-9_]+"\s+"([a-z0-9_.]+)"`)
	goKeyRe   = regexp.MustCompile(`"((?:account|admin|platform|form|error|nav|home|legal|layout|footer|mail|module|perm|role)\.[a-z0-9_.]+)"`)
)

// TestTemplatesAndCodeUseKnownKeys: every message id a template or the core's Go code names
// exists in every locale, and so do the ids built at run time (statuses, modules,
// permissions, roles, mail templates) (P4).
func TestTemplatesAndCodeUseKnownKeys(t *testing.T) {
	b, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	err = fs.WalkDir(web.Templates, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(web.Templates, p)
		for _, re := range []*regexp.Regexp{tmplKeyRe, fKeyRe} {
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				used[m[1]] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Strings in Go code that look like ids but are not messages: permission and rule names,
	// and the error bases the error page suffixes with ".title" and ".text".
	notMessages := map[string]bool{authz.PermPlatformTenants: true, authz.PermPlatformUsers: true, authz.PermPlatformModules: true,
		"platform.db": true, "account.json": true, "module.route": true, "terms.notice_days": true, "terms.explicit_reacceptance": true, "admin.module_rules": true, authz.PermPlatformJobs: true}
	for _, g := range authz.CoreGrants {
		notMessages[g.Permission] = true
	}
	for _, r := range tenancy.CoreRules {
		notMessages[r.Name] = true
	}
	for _, a := range server.CoreAuditActions {
		notMessages[a] = true
	}
	errorCodes := []string{"generic", "not_found", "method", "too_large", "bad_request", "unavailable", "rate_limited", "csrf", "unauthorized", "forbidden", "module_down"}
	for _, code := range errorCodes {
		notMessages["error."+code] = true
	}
	core := filepath.Join("..")
	err = filepath.WalkDir(core, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, m := range goKeyRe.FindAllStringSubmatch(string(data), -1) {
			if !strings.HasSuffix(m[1], ".") && !notMessages[m[1]] {
				used[m[1]] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ids assembled at run time.
	for _, s := range []string{"active", "blocked", "unverified"} {
		used["account.status."+s] = "admin pages"
	}
	for _, m := range tenancy.KnownModules {
		used["module."+m+".name"], used["module."+m+".summary"] = "nav", "home"
	}
	for _, g := range authz.CoreGrants {
		used["perm."+g.Permission] = "admin roles"
		used["role."+g.Role] = "admin roles"
	}
	used["role."+authz.RolePlatformAdmin] = "admin roles"
	for _, r := range tenancy.CoreRules {
		used["rule."+r.Name] = "admin settings"
	}
	for _, st := range []string{"starting", "running", "down", "failed", "stopped", "idle"} {
		used["platform.modules.state."+st] = "platform modules"
	}
	for _, a := range server.CoreAuditActions {
		used["audit.action."+a] = "audit"
	}
	for _, k := range []string{"granted", "refused"} { // decisions on appeals against a closure (R6)
		used["admin.complaints.appeal."+k] = "admin complaint"
	}
	used["admin.complaints.closure_reason.inactivity"] = "admin complaint"
	for _, k := range server.Countries { // the console's new-tenant form (issue 12.14)
		used["country."+k.Code] = "platform tenants"
	}
	for _, k := range complaints.Categories { // support (R8) and appeal (P2, R6) among them
		used["complaints.category."+k] = "complaints"
	}
	for _, k := range []string{"data_processing", "marketing", "geolocation"} {
		used["consent."+k] = "consents"
	}
	for _, st := range []string{"pending", "running", "done", "failed", "cancelled"} {
		used["admin.jobs.state."+st] = "admin jobs"
	}
	for _, tmpl := range []string{"verify", "exists", "reset", "deleted", "blocked", "closed_inactive", "terms_published", "maintenance", "complaint_received", "complaint_answer",
		"closure_appeal_granted", "closure_appeal_refused"} {
		for _, part := range []string{"subject", "body", "action"} {
			used["mail."+tmpl+"."+part] = "mail"
		}
	}
	for _, code := range errorCodes {
		used["error."+code+".title"], used["error."+code+".text"] = "errors", "errors"
	}
	if len(used) < 150 {
		t.Fatalf("only %d ids found: the scan is broken", len(used))
	}
	for id, where := range used {
		for _, lang := range locales.Supported {
			if !b.Has(lang, id) {
				t.Errorf("%s: %q missing in %s", where, id, lang)
			}
		}
	}
}
