package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
)

// tenantsWithSMS copies the tenant catalog with mlab's SMS switched on.
func tenantsWithSMS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tenants")
	if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "tenants"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copy tenants: %v %s", err, out)
	}
	p := filepath.Join(dir, "mlab", "tenant.toml")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), "[rules]\n", "[rules]\n\"notifications.sms\" = true\n", 1)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestResultsTermsAtFirstVisitAndSMS, with the real results module in its own process: a
// new patient's first visit to /results takes her to the module's terms (their text in her
// language), then back; later visits go straight in, and her account in the module keeps
// the version she accepted. She gave her mobile number at registration (typed the French
// way, kept in E.164); when the lab's system sends her report, an SMS goes to the SMS
// provider's HTTP API — refused once with a 503, delivered by the outbox's retry — to her
// number, in French, without any health data (issue 11.15, 11.16, P6, P7, R10).
func TestResultsTermsAtFirstVisitAndSMS(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		var mu sync.Mutex
		var sms []url.Values
		fails := 1
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Path != "/sms.do" || r.Header.Get("Authorization") != "Bearer sms-token" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if fails > 0 {
				fails--
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			r.ParseForm()
			sms = append(sms, r.PostForm)
			fmt.Fprintf(w, `{"count":1,"list":[{"id":"sms-%d","number":%q,"status":"QUEUED"}]}`, len(sms), r.PostForm.Get("to"))
		}))
		defer gw.Close()
		t.Setenv("PLATFORM_SMS_TOKEN", "sms-token")
		cfg := be.Config(t)
		args := []string{"--sms-url", gw.URL + "/sms.do", "--sms-sender", "MLab"}
		if cfg.DSN != "" {
			args = append(args, "--db", cfg.DSN)
		}
		p := startPlatform(t, tenantsWithSMS(t), args...)
		p.dsn = cfg.DSN

		admin := p.browser("mlab.localhost")
		admin.login("admin@mlab.localhost", "demo-mlab-admin")
		_, page := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"LIS"}, "permissions": {"results.import"}})
		key := apiKeyRe.FindString(page)

		pat := p.browser("mlab.localhost")
		code, page := pat.post("/register", "/register", url.Values{"email": {"lea@example.org"}, "password": {"Correct-Horse-42"},
			"password2": {"Correct-Horse-42"}, "name": {"Léa Girard"}, "birth_date": {"1988-09-30"}, "birth_name": {"Girard"},
			"mobile": {"06 12 34 56 78"}, "secret_question": {"Ville natale ?"}, "secret_answer": {"Nantes"}, "accept_terms": {"yes"},
			"consent_data_processing": {"yes"}})
		if code != 200 {
			t.Fatalf("register: %d\n%s", code, page)
		}
		verify, _ := url.Parse(linkRe.FindString(p.lastMailTo(t, "mlab", "lea@example.org")))
		if code, _ := pat.post(verify.RequestURI(), "/verify", url.Values{"token": {verify.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify: %d", code)
		}
		pat.login("lea@example.org", "Correct-Horse-42")

		// First visit: the module's terms, then back.
		if code, _ := pat.do("GET", "/results", nil); code != 303 || pat.last.Get("Location") != "/results/mine" {
			t.Fatalf("/results: %d %s", code, pat.last.Get("Location"))
		}
		code, _ = pat.do("GET", "/results/mine", nil)
		accept := pat.last.Get("Location")
		if code != 303 || accept != "/terms/accept?doc=results&next=%2Fresults%2Fmine" {
			t.Fatalf("first visit: %d %q", code, accept)
		}
		if code, page := pat.do("GET", accept, nil); code != 200 || !strings.Contains(page, "service de consultation des résultats") {
			t.Fatalf("acceptance page: %d\n%s", code, page)
		}
		code, _ = pat.post(accept, "/terms/accept", url.Values{"next": {"/results/mine"}, "doc": {"results"}, "accept": {"yes"}})
		if code != 303 || pat.last.Get("Location") != "/results/mine" {
			t.Fatalf("accept: %d %s", code, pat.last.Get("Location"))
		}
		if code, page := pat.do("GET", "/results/mine", nil); code != 200 || !strings.Contains(page, "Nous n’avons pas encore trouvé votre dossier") {
			t.Fatalf("after accepting: %d\n%s", code, page)
		}
		if code, _ := pat.do("GET", "/results/mine", nil); code != 200 {
			t.Fatalf("a later visit: %d", code)
		}
		if n := p.count(t, "results", "SELECT count(*) FROM results_accounts WHERE name = ? AND terms_version_id <> ''", "Léa Girard"); n != 1 {
			t.Fatalf("the module's account keeps no terms version (%d)", n)
		}

		// Her report arrives: an SMS, through the provider, after one 503.
		report := map[string]any{"report_id": "LIS-2026-0777", "collected_at": "2026-11-20T07:45:00Z", "lab": "MLab Part-Dieu",
			"patient":    map[string]any{"lab_patient_id": "P-901", "last_name": "GIRARD", "first_name": "Léa", "birth_name": "Girard", "birth_date": "1988-09-30"},
			"prescriber": map[string]any{"register_number": "10101010101", "name": "Dr Paul Martin"},
			"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
			"pdf_base64": samplePDF(t, "GIRARD Léa")}
		if code, out := p.lisImport(t, "mlab.localhost", key, report); code != 201 || out["linked"] != true {
			t.Fatalf("import: %d %v", code, out)
		}
		deadline := time.Now().Add(45 * time.Second)
		for {
			mu.Lock()
			n := len(sms)
			mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no SMS delivered\n%s", p.logs.String())
			}
			time.Sleep(250 * time.Millisecond)
		}
		mu.Lock()
		got := sms[0]
		mu.Unlock()
		text := got.Get("message")
		if got.Get("to") != "33612345678" || got.Get("from") != "MLab" || !strings.HasPrefix(text, "Un nouveau résultat vous attend") ||
			strings.Contains(text, "Ferritine") || strings.Contains(text, "LIS-2026") || !strings.Contains(text, "http://mlab.localhost") {
			t.Fatalf("SMS: %v", got)
		}
	})
}

// acceptModuleTerms: the first visit of path sends the signed-in person to the terms of its
// module (issue 11.16), which she accepts; she is sent back to path.
func (b *browser) acceptModuleTerms(doc, path string) {
	b.p.t.Helper()
	code, _ := b.do("GET", path, nil)
	accept := b.last.Get("Location")
	if code != 303 || !strings.HasPrefix(accept, "/terms/accept?doc="+doc+"&") {
		b.p.t.Fatalf("first visit of %s: %d %q, want the terms of %s", path, code, accept, doc)
	}
	if code, _ := b.post(accept, "/terms/accept", url.Values{"next": {path}, "doc": {doc}, "accept": {"yes"}}); code != 303 || b.last.Get("Location") != path {
		b.p.t.Fatalf("accept the terms of %s: %d %s", doc, code, b.last.Get("Location"))
	}
}

// newAccount registers an account on host (a tenant without the secret question), verifies
// it and signs it in.
func (p *platform) newAccount(host, slug, email string) *browser {
	p.t.Helper()
	b := p.browser(host)
	if code, page := b.post("/register", "/register", url.Values{"email": {email}, "password": {"Correct-Horse-42"},
		"password2": {"Correct-Horse-42"}, "name": {"Nova Tester"}, "birth_date": {"1980-01-01"}, "accept_terms": {"yes"},
		"consent_data_processing": {"yes"}}); code != 200 {
		p.t.Fatalf("register %s: %d\n%s", email, code, page)
	}
	verify, _ := url.Parse(linkRe.FindString(p.lastMailTo(p.t, slug, email)))
	if code, _ := b.post(verify.RequestURI(), "/verify", url.Values{"token": {verify.Query().Get("token")}}); code != 200 {
		p.t.Fatalf("verify %s: %d", email, code)
	}
	b.login(email, "Correct-Horse-42")
	return b
}
