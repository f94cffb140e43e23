package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	coremail "carenet.dev/platform/core/mail"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// mailbox returns the e-mails the development mailbox holds for a tenant, oldest first, read
// from the platform's database (where every instance reads them) through a connection of
// its own.
func (p *platform) mailbox(t *testing.T, slug string) [][]byte {
	t.Helper()
	d, ten := p.tenantDB(t, slug)
	defer d.Close()
	var rows []coremail.Entry
	err := d.ReadTenant(context.Background(), ten.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&rows).Where("channel = 'email' AND status = 'written'").Order("id").Scan(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range rows {
		out = append(out, r.Raw)
	}
	return out
}

// mailTexts returns the decoded text of every message written for a tenant, oldest first,
// with its subject and recipient on the first lines.
func (p *platform) mailTexts(t *testing.T, slug string) []string {
	t.Helper()
	var out []string
	for _, raw := range p.mailbox(t, slug) {
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		text := "To: " + msg.Header.Get("To") + "\nSubject: " + subject + "\n"
		mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(msg.Body, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(part)
				text += string(b) + "\n"
			}
		} else {
			b, _ := io.ReadAll(msg.Body)
			text += string(b)
		}
		out = append(out, text)
	}
	return out
}

var (
	linkRe   = regexp.MustCompile(`https?://[^\s"<>]+`)
	apiKeyRe = regexp.MustCompile(`pk_[A-Za-z0-9_-]{20,}`)
	reportRe = regexp.MustCompile(`/results/r/([0-9a-f-]{36})"`)
)

// lastMailTo is the text of the newest message to addr, waiting a few seconds for it (a
// registration's mail leaves with its job, which the runner takes within a second).
func (p *platform) lastMailTo(t *testing.T, slug, addr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms := p.mailTexts(t, slug)
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(strings.SplitN(ms[i], "\n", 2)[0], addr) {
				return ms[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lisImport posts a report to the import API with key, as the lab's system does.
func (p *platform) lisImport(t *testing.T, host, key string, report map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(report)
	req, _ := http.NewRequest("POST", p.base+"/results/api/reports", bytes.NewReader(body))
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// lisKey is a new API key of the tenant for the lab's system (results.import), created by
// its demo admin on the API keys page (R3a).
func (p *platform) lisKey(t *testing.T, slug string) string {
	t.Helper()
	admin := p.browser(slug + ".localhost")
	admin.login("admin@"+slug+".localhost", "demo-"+slug+"-admin")
	code, page := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"LIS"}, "permissions": {"results.import"}})
	key := apiKeyRe.FindString(page)
	if code != 200 || key == "" {
		t.Fatalf("create key: %d\n%s", code, page)
	}
	return key
}

func samplePDF(t *testing.T, name string) string {
	d := pdfdoc.New("Compte rendu", "MLab", time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	d.Heading("Compte rendu d’analyses — "+name, 14)
	d.Table([]string{"Analyse", "Résultat"}, [][]string{{"Ferritine", "9 µg/L"}}, []float64{80, 60}, false)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestResultsEndToEnd walks R1–R10 through the running platform on the demo tenant mlab: the
// LIS's API key, a patient who registers (birth name, secret question), is linked when his
// report arrives, is told by e-mail, reads and downloads it — each access audited once — and
// a professional activated by lab staff who sees his own patients' results only.
func TestResultsEndToEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))

		// The tenant admin creates the LIS's key (R3a).
		key := p.lisKey(t, "mlab")
		var code int
		var page string

		// A patient registers on the patients' portal (R2).
		pat := p.browser("mlab.localhost")
		code, page = pat.post("/register", "/register", url.Values{"email": {"claire@example.org"}, "password": {"Correct-Horse-42"},
			"password2": {"Correct-Horse-42"}, "name": {"Claire Lefèvre"}, "birth_date": {"1979-04-12"}, "birth_name": {"Moreau"},
			"secret_question": {"Nom de mon premier chat ?"}, "secret_answer": {"Félix"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})
		if code != 200 {
			t.Fatalf("register: %d\n%s", code, page)
		}
		verify := linkRe.FindString(p.lastMailTo(t, "mlab", "claire@example.org"))
		u, _ := url.Parse(verify)
		if code, page := pat.post(u.RequestURI(), "/verify", url.Values{"token": {u.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify: %d\n%s", code, page)
		}
		pat.login("claire@example.org", "Correct-Horse-42")
		pat.acceptModuleTerms("results", "/results/mine")
		if _, page := pat.do("GET", "/results/mine", nil); !strings.Contains(page, "Nous n’avons pas encore trouvé votre dossier") {
			t.Fatalf("before the record arrives:\n%s", page)
		}

		// The LIS sends her report: she is linked (R3) and told, with no health data (R10).
		report := map[string]any{"report_id": "LIS-2026-0001", "collected_at": "2026-11-20T07:45:00Z", "lab": "MLab Part-Dieu",
			"patient":    map[string]any{"lab_patient_id": "P-778", "last_name": "LEFEVRE", "first_name": "Claire", "birth_name": "Moreau", "birth_date": "1979-04-12"},
			"prescriber": map[string]any{"register_number": "10101010101", "name": "Dr Paul Martin"},
			"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
			"pdf_base64": samplePDF(t, "LEFÈVRE Claire")}
		if code, out := p.lisImport(t, "mlab.localhost", "", report); code != 401 {
			t.Fatalf("without a key: %d %v", code, out)
		}
		if code, out := p.lisImport(t, "mlab.localhost", key+"x", report); code != 401 {
			t.Fatalf("with a wrong key: %d %v", code, out)
		}
		code, out := p.lisImport(t, "mlab.localhost", key, report)
		if code != 201 || out["linked"] != true {
			t.Fatalf("import: %d %v", code, out)
		}
		if code, out := p.lisImport(t, "mlab.localhost", key, report); code != 200 || out["status"] != "unchanged" {
			t.Fatalf("import again: %d %v", code, out)
		}
		note := p.lastMailTo(t, "mlab", "claire@example.org")
		if !strings.Contains(note, "Nouveaux résultats") || strings.Contains(note, "Ferritine") || strings.Contains(note, "LIS-2026") ||
			!strings.Contains(note, "http://mlab.localhost") {
			t.Fatalf("notification:\n%s", note)
		}

		// She reads it, opens the PDF, downloads it: three accesses, three audit records (R9).
		_, page = pat.do("GET", "/results/mine", nil)
		m := reportRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no result listed:\n%s", page)
		}
		id := m[1]
		if code, page := pat.do("GET", "/results/r/"+id, nil); code != 200 || !strings.Contains(page, "Ferritine") || !strings.Contains(page, "Bas") {
			t.Fatalf("view: %d\n%s", code, page)
		}
		for _, q := range []string{"", "?download=1"} {
			code, pdf := pat.do("GET", "/results/r/"+id+"/pdf"+q, nil)
			text, err := pdfdoc.ExtractText([]byte(pdf))
			if code != 200 || err != nil || !strings.Contains(text, "LEFÈVRE Claire") {
				t.Fatalf("PDF%s: %d %v\n%s", q, code, err, text)
			}
		}
		accesses := 0
		for _, a := range strings.Fields(p.auditActions(t, "mlab")) {
			for _, act := range []string{"results.view:", "results.view_pdf:", "results.download:"} {
				if strings.HasPrefix(a, act) && strings.HasSuffix(a, "result:"+id) {
					accesses++
				}
			}
		}
		if accesses != 3 {
			t.Fatalf("%d audit records for 3 accesses: %s", accesses, p.auditActions(t, "mlab"))
		}
		if _, page := pat.do("GET", "/results/access", nil); strings.Count(page, "Vous") < 3 {
			t.Fatalf("access log:\n%s", page)
		}
		// Without a session, nothing: the login page.
		anon := p.browser("mlab.localhost")
		if code, _ := anon.do("GET", "/results/r/"+id+"/pdf", nil); code == 200 {
			t.Fatal("a result PDF without a session")
		}

		// A professional registers on his portal (R1) and waits for the lab.
		pro := p.browser("pro.mlab.localhost")
		code, page = pro.post("/register", "/register", url.Values{"email": {"paul.martin@example.org"}, "password": {"Correct-Horse-43"},
			"password2": {"Correct-Horse-43"}, "name": {"Paul Martin"}, "birth_date": {"1970-02-02"}, "professional_number": {"10101010101"},
			"secret_question": {"Ville natale ?"}, "secret_answer": {"Lyon"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})
		if code != 200 || strings.Contains(page, `name="birth_name"`) {
			t.Fatalf("professional registration: %d\n%s", code, page)
		}
		verify = linkRe.FindString(p.lastMailTo(t, "mlab", "paul.martin@example.org"))
		u, _ = url.Parse(verify)
		if code, _ := pro.post(u.RequestURI(), "/verify", url.Values{"token": {u.Query().Get("token")}}); code != 200 {
			t.Fatalf("professional verify: %d", code)
		}
		pro.login("paul.martin@example.org", "Correct-Horse-43")
		if code, _ := pro.do("GET", "/results/pro", nil); code == 200 {
			t.Fatal("a professional sees results before the lab activated him")
		}
		staff := p.browser("mlab.localhost")
		staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
		_, page = staff.do("GET", "/results/staff/professionals", nil)
		am := regexp.MustCompile(`/results/staff/professionals/([0-9a-f-]{36})/activate`).FindStringSubmatch(page)
		if am == nil || !strings.Contains(page, "Paul Martin") {
			t.Fatalf("professionals to check:\n%s", page)
		}
		if code, _ := staff.post("/results/staff/professionals", "/results/staff/professionals/"+am[1]+"/activate",
			url.Values{"register_number": {"10101010101"}}); code != 303 {
			t.Fatalf("activate: %d", code)
		}
		// He sees Claire's result, which he prescribed, and not the demo patient's (R5).
		code, page = pro.do("GET", "/results/pro", nil)
		if code != 200 || !strings.Contains(page, id) || !strings.Contains(page, "LEFEVRE") || strings.Contains(page, "User Demo") {
			t.Fatalf("professional list: %d\n%s", code, page)
		}
		if code, _ := pro.do("GET", "/results/pro/r/"+id, nil); code != 200 {
			t.Fatalf("professional view: %d", code)
		}
		demo := p.browser("mlab.localhost")
		demo.login("user@mlab.localhost", "demo-mlab-user")
		_, page = demo.do("GET", "/results/mine", nil)
		demoIDs := reportRe.FindAllStringSubmatch(page, -1)
		if len(demoIDs) != 4 {
			t.Fatalf("demo patient has %d results:\n%s", len(demoIDs), page)
		}
		if code, _ := pro.do("GET", "/results/pro/r/"+demoIDs[0][1], nil); code != 404 {
			t.Fatalf("another prescriber's result: %d", code)
		}
		if code, _ := demo.do("GET", "/results/r/"+id, nil); code != 404 {
			t.Fatalf("another patient's result: %d", code)
		}
		// Claire sees that her prescriber read it.
		if _, page := pat.do("GET", "/results/access", nil); !strings.Contains(page, "Paul Martin") {
			t.Fatalf("access log lacks the professional:\n%s", page)
		}
		// Another tenant's host does not know the module, nor the key.
		if code, _ := p.lisImport(t, "elekarze.localhost", key, report); code != 404 && code != 401 {
			t.Fatalf("key used on another tenant: %d", code)
		}
	})
}
