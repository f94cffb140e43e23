package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// TestPageFormRefusesWhatIsNotText: issue 11.3 (E4). A page form posted with a NUL, a
// control character, a bidi override or invalid UTF-8 gets its page again, 422, the message
// next to the field and nothing changed; a query with one shows the page without it and the
// message next to its field. Text areas keep their line breaks.
func TestPageFormRefusesWhatIsNotText(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		msg := e.srv.I18n.For("fr").T("form.text.invalid")
		nextTo := func(r *response, field string) {
			t.Helper()
			m := regexp.MustCompile(`<p class="error" id="e-` + field + `">([^<]*)</p>`).FindStringSubmatch(r.Body)
			if r.Status != 422 || m == nil || !strings.Contains(r.Body, msg) {
				t.Fatalf("%s: status %d, no message next to it: %s", field, r.Status, mainOf(r.Body))
			}
		}
		// Registration: nothing created, the other fields kept, the password not echoed.
		anon := e.client("mlab.localhost")
		for _, bad := range []string{"Claire\x00Lefèvre", "Claire \u202eLefèvre", "Claire\xffLefèvre", "Claire\nLefèvre"} {
			r := anon.post("/register", "/register", url.Values{"email": {"claire@example.org"}, "password": {"Correct-Horse-42"},
				"password2": {"Correct-Horse-42"}, "name": {bad}, "birth_date": {"1979-04-12"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})
			nextTo(r, "name")
			mustContain(t, r, `value="claire@example.org"`)
			mustNotContain(t, r, "Correct-Horse-42")
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, ml.ID, "claire@example.org"); err != accounts.ErrNotFound {
			t.Fatalf("a refused registration created an account: %v", err)
		}
		// A form whose page is another path's (/admin/users/:id/block is on /admin/users/:id).
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		nextTo(admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Fraude\x00"}}), "reason")
		if u, _ := e.srv.Accounts.ByID(ctx, ml.ID, u.ID); u.Status == accounts.StatusBlocked {
			t.Fatal("a refused form blocked the account")
		}
		// A text area keeps its line breaks.
		if r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Fraude\r\n\tavérée"}}); r.Status != 303 {
			t.Fatalf("multi-line reason: %d %s", r.Status, mainOf(r.Body))
		}
		// A query: the page without the bad value, the message next to its field.
		nextTo(admin.get("/admin/audit?action=admin.%00"), "action")
		// A form with no page of its own: a page that says so, nothing changed.
		r := admin.post("/account", "/lang", url.Values{"lang": {"pl\u2066"}})
		if r.Status != 422 || !strings.Contains(r.Body, e.srv.I18n.For("fr").T("form.text.invalid_form")) {
			t.Fatalf("/lang: %d %s", r.Status, mainOf(r.Body))
		}
	})
}

// TestAPIErrorsHaveOneShape: issue 11.3 (E4, R3a). Every refusal of an API request, by the
// core (key missing, wrong, without the permission; unknown route or method under the API;
// body too large; module down), is JSON of one shape: {"error": code, "message": a sentence
// in the tenant's language, "fields": {}}.
func TestAPIErrorsHaveOneShape(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		ml := e.tenant("mlab")
		_, key, err := e.srv.APIKeys.Create(ctx, ml.ID, "LIS", []string{"results.manage"}, "")
		if err != nil {
			t.Fatal(err)
		}
		fr := e.srv.I18n.For("fr")
		check := func(name string, r *response, status int, code, msgKey string) {
			t.Helper()
			var out map[string]any
			if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
				t.Errorf("%s: not JSON (%d): %.200s", name, r.Status, r.Body)
				return
			}
			keys := make([]string, 0, len(out))
			for k := range out {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fields, isObj := out["fields"].(map[string]any)
			if r.Status != status || strings.Join(keys, ",") != "error,fields,message" || out["error"] != code ||
				out["message"] != fr.T(msgKey) || !isObj || len(fields) != 0 ||
				!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: %d %s, want %d %s %q", name, r.Status, r.Body, status, code, fr.T(msgKey))
			}
		}
		check("no key", e.api("POST", "mlab.localhost", "/results/api/import", ""), 401, "missing_token", "error.api.key_missing")
		check("wrong key", e.api("POST", "mlab.localhost", "/results/api/import", "pk_nope"), 401, "invalid_token", "error.api.key_invalid")
		check("no permission", e.api("GET", "mlab.localhost", "/results/api/support", key), 403, "insufficient_scope", "error.api.key_forbidden")
		check("unknown route", e.api("POST", "mlab.localhost", "/results/api/nothing", key), 404, "not_found", "error.not_found.text")
		check("unknown route, no key", e.api("GET", "mlab.localhost", "/results/api/nothing", ""), 404, "not_found", "error.not_found.text")
		check("wrong method", e.api("GET", "mlab.localhost", "/results/api/import", key), 405, "method_not_allowed", "error.method.text")
		// More than the body limit, refused before anything else runs (a real listener: the
		// limit is the server's; the client announces the size and is answered at once).
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.listen(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /results/api/import HTTP/1.1\r\nHost: mlab.localhost\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"x\": \"", key, 27<<20)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		check("too large", &response{Status: res.StatusCode, Body: string(body), Header: res.Header}, 413, "too_large", "error.too_large.text")
		f.down = true
		check("module down", e.api("POST", "mlab.localhost", "/results/api/import", key), 503, "unavailable", "error.module_down.text")
		f.down = false
		// A page of the module is still a page.
		if r := e.client("mlab.localhost").get("/results/nothing"); r.Status != 404 || !strings.Contains(r.Body, "<html") {
			t.Fatalf("page 404: %d %.100s", r.Status, r.Body)
		}
	})
}

// TestMultilineFieldsMatchTheTemplates: the core's text areas are the fields the input check
// lets hold line breaks (issue 11.3): every "textarea" field of a core template is declared.
func TestMultilineFieldsMatchTheTemplates(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "web", "templates", "pages", "*.html"))
	re := regexp.MustCompile(`\.F (?:\(printf )?"([a-z_%]+)"[^)]*\)? "[^"]*" "textarea"`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			n++
			name := strings.ReplaceAll(m[1], "%s", "fr")
			if !server.MultilineField(name) {
				t.Errorf("%s: text area %q is not declared multi-line", filepath.Base(f), m[1])
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d text areas found: the pattern no longer matches the templates", n)
	}
}
