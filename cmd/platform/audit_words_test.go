package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// identifierRe finds an internal identifier a person should never read: "analyte:HB",
// "result:<uuid>", "patient:DEMO-P-0001", "user:<uuid>", "role:…"…
var identifierRe = regexp.MustCompile(`\b(analyte|result|patient|labpatient|user|role|complaint|module|api_key|apikey|permission|tenant|template|terms|job|maintenance|platform):[A-Za-z0-9_-]`)

// mainPart is the page's main content: what the person reads.
func mainPart(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if j := strings.Index(body, "</main>"); j >= 0 {
		body = body[:j]
	}
	return body
}

// TestAccessPagesNameWhatWasReadInWords (issue 12.5, R9, P9): after the patient, the lab's
// staff and the admin read and changed things, "who accessed my results" (the module's page)
// and "access to my data" (the core's) name each access in words in French, Polish and
// Slovak (the report by its collection date, the trend by its analyte, the actor by name and
// role or as "you"), and neither page, nor the admin's audit page, shows an identifier.
func TestAccessPagesNameWhatWasReadInWords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		user := p.browser("mlab.localhost")
		user.login("user@mlab.localhost", "demo-mlab-user")
		report, trend := demoReport(t, user)
		for _, path := range []string{report + "/pdf?download=1", report + "/pdf"} {
			if code, _ := user.do("GET", "/results/r/"+path, nil); code != 200 {
				t.Fatalf("%s: %d", path, code)
			}
		}
		if code, _ := user.do("GET", trend, nil); code != 200 {
			t.Fatalf("%s: %d", trend, code)
		}
		staff := p.browser("mlab.localhost")
		staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
		if code, _ := staff.do("GET", "/results/staff/r/"+report, nil); code != 200 {
			t.Fatalf("staff read: %d", code)
		}
		admin := p.browser("mlab.localhost")
		admin.login("admin@mlab.localhost", "demo-mlab-admin")
		_, list := admin.do("GET", "/admin/users?q=user%40mlab.localhost", nil)
		um := regexp.MustCompile(`/admin/users/([0-9a-f-]{36})"`).FindStringSubmatch(list)
		if um == nil {
			t.Fatalf("the admin does not find the demo user:\n%s", mainPart(list))
		}
		uid := um[1]
		if code, body := admin.post("/admin/users/"+uid, "/admin/users/"+uid+"/roles", url.Values{"role": {"results.professional"}}); code != 303 {
			t.Fatalf("assign a role: %d %s", code, mainPart(body))
		}

		for lang, want := range map[string]struct{ report, role, you, staff string }{
			"fr": {"Compte rendu du ", "Rôle : Professionnel de santé", "Vous", "Personnel du laboratoire"},
			"pl": {"Wyniki z dnia ", "Rola: ", "Ty", "Demo lab staff"},
			"sk": {"Výsledky zo dňa ", "Rola: ", "Vy", "Demo lab staff"},
		} {
			for _, b := range []*browser{user, admin} {
				b.c.Jar.SetCookies(&url.URL{Scheme: "http", Host: "mlab.localhost"}, []*http.Cookie{{Name: "lang", Value: lang, Path: "/"}})
			}
			_, mod := user.do("GET", "/results/access", nil)
			_, core := user.do("GET", "/account/access", nil)
			_, audit := admin.do("GET", "/admin/audit", nil)
			for name, page := range map[string]string{"results access": mod, "account access": core, "admin audit": audit} {
				page = mainPart(page)
				if id := identifierRe.FindString(page); id != "" {
					t.Errorf("%s, %s: shows the identifier %q", lang, name, id)
				}
			}
			for name, c := range map[string]struct {
				page  string
				wants []string
			}{
				"results access": {mod, []string{want.report, want.you, want.staff}},
				"account access": {core, []string{want.report, want.role, want.you, want.staff}},
			} {
				for _, w := range c.wants {
					if !strings.Contains(c.page, w) {
						t.Errorf("%s, %s: %q missing:\n%s", lang, name, w, mainPart(c.page))
					}
				}
			}
			if lang == "fr" {
				t.Run("valid HTML", func(t *testing.T) {
					problems, err := browsertest.NeedChecks(t).ValidateHTML(map[string]string{"results access": mod, "account access": core, "admin audit": audit})
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range problems {
						t.Error(p)
					}
				})
			}
			if strings.Contains(audit, "début du nom") || strings.Contains(audit, "początek nazwy") || strings.Contains(audit, "začiatok názvu") {
				t.Errorf("%s: the audit search still asks for the start of an action's name", lang)
			}
		}
	})
}
