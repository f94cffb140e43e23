package main

import (
	"bytes"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// startSecond starts another `platform serve` process on the same database, with a data
// directory of its own (nothing on the first instance's disk is visible to it).
func startSecond(t *testing.T, tenants, dsn string) *platform {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	exe, _ := os.Executable()
	data := t.TempDir()
	cmd := exec.Command(exe, "serve", "--addr", addr, "--data", data, "--tenants", tenants, "--db", dsn)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	p := &platform{t: t, dsn: dsn, data: data, base: "http://" + addr, out: logs, logs: logs, stop: func() {}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := http.Get(p.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("second instance not ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pdftotext reads a PDF back with poppler's pdftotext, as a person's reader would.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is needed to read PDFs back")
	}
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

var mailIDRe = regexp.MustCompile(`/admin/mailbox/([0-9a-f-]{36})"`)

// TestInstancesShareFilesAndMailbox: two `platform serve` processes, each with its own data
// directory, on one PostgreSQL database. A report imported through the first instance's API
// has its PDF downloaded through the second (read back with pdftotext), byte for byte; a
// message the first writes to the development mailbox is listed and downloaded from either
// (issue 11.19, P8, R3). On SQLite there is one instance by construction (one file).
func TestInstancesShareFilesAndMailbox(t *testing.T) {
	pg := dbtest.Postgres(t)
	cfg := pg.Config(t)
	tenants := filepath.Join("..", "..", "tenants")
	a := startPlatform(t, tenants, "--db", cfg.DSN)
	a.dsn = cfg.DSN
	b := startSecond(t, tenants, cfg.DSN)

	// The LIS's key, created on A; the report, imported through A.
	adminA := a.browser("mlab.localhost")
	adminA.login("admin@mlab.localhost", "demo-mlab-admin")
	key := createKey(t, adminA, "LIS", "results.import")
	pdf := func() []byte {
		d := pdfdoc.New("Compte rendu", "MLab", time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
		d.Heading("Compte rendu d’analyses — QUILLFEATHER Zéphyrine", 14)
		d.Table([]string{"Analyse", "Résultat"}, [][]string{{"Ferritine", "9 µg/L"}}, []float64{80, 60}, false)
		raw, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}()
	report := map[string]any{"report_id": "LIS-2026-4471", "collected_at": "2026-11-25T07:45:00Z", "lab": "MLab Part-Dieu",
		"patient":    map[string]any{"lab_patient_id": "P-4471", "last_name": "QUILLFEATHER", "first_name": "Zéphyrine", "birth_name": "Quillfeather", "birth_date": "1971-04-12"},
		"prescriber": map[string]any{"register_number": "10000000001", "name": "Dr Demo"},
		"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
		"pdf_base64": base64.StdEncoding.EncodeToString(pdf), "pdf_name": "../../Quillfeather.html"}
	code, out := a.lisImport(t, "mlab.localhost", key, report)
	id, _ := out["id"].(string)
	if code != 201 || id == "" {
		t.Fatalf("import through A: %d %v", code, out)
	}

	// Lab staff on B download it: the same bytes, the same words.
	staffB := b.browser("mlab.localhost")
	staffB.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
	code, body := staffB.do("GET", "/results/staff/r/"+id+"/pdf?download=1", nil)
	if code != 200 || body != string(pdf) {
		t.Fatalf("PDF through B: %d, %d bytes (want %d)\n%s", code, len(body), len(pdf), b.logs.String())
	}
	if text := pdftotext(t, []byte(body)); !strings.Contains(text, "QUILLFEATHER Zéphyrine") || !strings.Contains(text, "Ferritine") {
		t.Fatalf("PDF text through B:\n%s", text)
	}
	h := staffB.last
	if h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || !strings.Contains(h.Get("Content-Disposition"), "Quillfeather.pdf") ||
		h.Get("Content-Security-Policy") == "" {
		t.Errorf("PDF headers: %v", h)
	}
	// Nothing of it is on either instance's disk.
	for _, dir := range []string{a.data, b.data} {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if raw, _ := os.ReadFile(path); bytes.Contains(raw, pdf[:200]) {
					t.Errorf("the PDF is on an instance's disk: %s", path)
				}
			}
			return nil
		})
	}

	// A message written by A (a password reset) is in the mailbox of both.
	anonA := a.browser("mlab.localhost")
	if code, body := anonA.post("/reset", "/reset", url.Values{"email": {"user@mlab.localhost"}}); code != 200 {
		t.Fatalf("reset on A: %d %s", code, body)
	}
	adminB := b.browser("mlab.localhost")
	adminB.login("admin@mlab.localhost", "demo-mlab-admin")
	for name, admin := range map[string]*browser{"A": adminA, "B": adminB} {
		code, page := admin.do("GET", "/admin/mailbox", nil)
		m := mailIDRe.FindStringSubmatch(page)
		if code != 200 || m == nil || !strings.Contains(page, "user@mlab.localhost") {
			t.Fatalf("mailbox on %s: %d\n%s", name, code, page)
		}
		code, raw := admin.do("GET", "/admin/mailbox/"+m[1]+"/raw", nil)
		if code != 200 || !strings.Contains(raw, "To: <user@mlab.localhost>") || admin.last.Get("Content-Type") != "message/rfc822" {
			t.Fatalf("message on %s: %d %q\n%s", name, code, admin.last.Get("Content-Type"), raw)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(a.data, "mail", "*", "*")); len(files) != 0 {
		t.Errorf("the mailbox wrote to A's disk: %v", files)
	}
}

// TestInstancesFollowTheCatalog: on two instances of one PostgreSQL database, a module a
// platform admin registers through the first and switches on for a tenant there is listed
// on the second's console and serves the tenant's page from the second too, within the
// instances' bound, without a restart (issue 11.17, 11.19, P5).
func TestInstancesFollowTheCatalog(t *testing.T) {
	pg := dbtest.Postgres(t)
	cfg := pg.Config(t)
	tenants := writeProbeTenants(t)
	a := startPlatformUntil(t, "/readyz", tenants, t.TempDir(), "--db", cfg.DSN)
	b := startSecond(t, tenants, cfg.DSN)
	exe := filepath.Join(t.TempDir(), "hello")
	sum := buildHello(t, exe, "one")

	consoleA := a.browser("admin.localhost")
	consoleA.login("admin@platform.localhost", "demo-platform-admin")
	consoleB := b.browser("admin.localhost")
	consoleB.login("admin@platform.localhost", "demo-platform-admin")
	if _, body := consoleB.do("GET", "/platform/modules", nil); strings.Contains(body, `id="module-hello"`) {
		t.Fatal("hello listed before it was registered")
	}
	if code, body := consoleA.post("/platform/modules", "/platform/modules",
		url.Values{"id": {"hello"}, "version": {"1.0.0"}, "path": {exe}, "sha256": {sum}}); code != 303 {
		t.Fatalf("register on A: %d %s", code, body)
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15 s\n%s", what, b.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	eventually("B's console lists the module registered on A", func() bool {
		_, body := consoleB.do("GET", "/platform/modules", nil)
		return strings.Contains(body, `id="module-hello"`)
	})

	// Switched on for alpha through A: B launches it and serves its page.
	_, tenantsPage := consoleA.do("GET", "/platform/tenants", nil)
	m := regexp.MustCompile(`/platform/tenants/([0-9a-f-]{36})">alpha<`).FindStringSubmatch(tenantsPage)
	if m == nil {
		t.Fatalf("no alpha on the console:\n%s", tenantsPage)
	}
	page := "/platform/tenants/" + m[1]
	if code, _ := consoleA.post(page, page+"/modules", url.Values{"modules": {"probe", "hello"}}); code != 303 {
		t.Fatalf("switch on through A: %d", code)
	}
	u := b.browser("alpha.localhost")
	u.login("user@alpha.localhost", "demo-alpha-user")
	eventually("hello's page served by B", func() bool {
		code, body := u.do("GET", "/hello", nil)
		return code == 200 && strings.Contains(body, "Ukážková verzia one")
	})
}
