package main

import (
	"archive/zip"
	"context"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// tenantDB opens the platform's database through a connection of its own, which the caller
// closes, and reads the tenant slug names.
func (p *platform) tenantDB(t *testing.T, slug string) (*db.DB, *tenancy.Tenant) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
	if err != nil {
		t.Fatal(err)
	}
	ten, err := (&tenancy.Store{DB: d}).BySlug(ctx, slug)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	return d, ten
}

// auditEntries reads a tenant's audit trail, oldest first.
func (p *platform) auditEntries(t *testing.T, slug string) []audit.Entry {
	t.Helper()
	d, ten := p.tenantDB(t, slug)
	defer d.Close()
	var rows []audit.Entry
	if err := d.InTenant(context.Background(), ten.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&rows).Order("at").Scan(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestFamilyResultsEndToEnd (P2, P3, R4, R9, issue 12.9) through the running platform on mlab:
// a patient declares his son on his account page, the lab's system sends the boy's report,
// the father finds it under the boy's name on his results page, reads and downloads it —
// each access recorded as the father's, about the boy's record — and his data export lists
// the boy; once he removes the boy from his account, the report is out of his reach.
func TestFamilyResultsEndToEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		key := p.lisKey(t, "mlab")

		father := p.browser("mlab.localhost")
		father.login("user@mlab.localhost", "demo-mlab-user")
		son := url.Values{"first_name": {"Léo"}, "last_name": {"Bernard"}, "birth_date": {"2016-05-05"}, "relationship": {"parent"},
			"legal_status": {"minor"}, "sex": {"male"}, "nationality": {"française"}, "permanent_address": {"5 quai Perrache, 69002 Lyon"}}
		if code, page := father.post("/account/dependants/new", "/account/dependants", son); code != 422 ||
			!strings.Contains(page, `id="e-consent"`) {
			t.Fatalf("without the representative's consent: %d", code)
		}
		son.Set("consent", "yes")
		if code, page := father.post("/account/dependants/new", "/account/dependants", son); code != 303 {
			t.Fatalf("add his son: %d\n%s", code, page)
		}
		if _, page := father.do("GET", "/results/mine", nil); !strings.Contains(page, "Léo Bernard") ||
			!strings.Contains(page, "Aucun dossier du laboratoire ne porte encore son identité") {
			t.Fatalf("before the boy's report:\n%s", page)
		}

		report := map[string]any{"report_id": "LIS-2026-FAM-1", "collected_at": "2026-11-20T07:45:00Z", "lab": "MLab Part-Dieu",
			"patient":    map[string]any{"lab_patient_id": "P-LEO", "last_name": "BERNARD", "first_name": "Léo", "birth_date": "2016-05-05"},
			"prescriber": map[string]any{"register_number": "10101010101", "name": "Dr Paul Martin"},
			"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
			"pdf_base64": samplePDF(t, "BERNARD Léo")}
		if code, out := p.lisImport(t, "mlab.localhost", key, report); code != 201 || out["linked"] != false {
			t.Fatalf("import: %d %v", code, out)
		}

		_, page := father.do("GET", "/results/mine", nil)
		// His own demo daughter's comes first: the boy's is in his section.
		m := familyReportRe.FindStringSubmatch(page[max(strings.Index(page, "Léo Bernard"), 0):])
		if m == nil || !strings.Contains(page, "Léo Bernard") || !strings.Contains(page, "Accès jusqu’à sa majorité, le 05/05/2034.") {
			t.Fatalf("the boy's report is not on his father's page:\n%s", page)
		}
		id := m[1]
		if code, page := father.do("GET", "/results/family/r/"+id, nil); code != 200 || !strings.Contains(page, "Ferritine") ||
			!strings.Contains(page, "BERNARD Léo") {
			t.Fatalf("view: %d\n%s", code, page)
		}
		code, pdf := father.do("GET", "/results/family/r/"+id+"/pdf?download=1", nil)
		if text, err := pdfdoc.ExtractText([]byte(pdf)); code != 200 || err != nil || !strings.Contains(text, "BERNARD Léo") {
			t.Fatalf("PDF: %d %v\n%s", code, err, text)
		}
		if code, _ := father.do("GET", "/results/r/"+id, nil); code != 404 {
			t.Errorf("the boy's report through the patient's own route: %d", code)
		}
		other := p.browser("mlab.localhost")
		other.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
		if code, _ := other.do("GET", "/results/family/r/"+id, nil); code != 404 && code != 403 {
			t.Errorf("someone who represents nobody: %d", code)
		}

		// Each access is the father's, about the boy's record, never about the father.
		var fatherID string
		n := 0
		for _, e := range p.auditEntries(t, "mlab") {
			if e.Action == "account.dependant_added" {
				fatherID = e.Actor
			}
			if e.Resource != "result:"+id || (e.Action != "results.view" && e.Action != "results.download") {
				continue
			}
			n++
			if e.Actor == "" || e.Actor != fatherID || !strings.HasPrefix(e.Subject, "labpatient:") {
				t.Errorf("access recorded as %s by %q about %q", e.Action, e.Actor, e.Subject)
			}
		}
		if n != 2 {
			t.Errorf("%d records for 2 accesses", n)
		}

		// His data export lists the boy.
		code, body := father.do("GET", "/account/export", nil)
		zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
		if code != 200 || err != nil {
			t.Fatalf("export: %d %v", code, err)
		}
		found := false
		for _, f := range zr.File {
			if f.Name == "dependants.json" {
				rc, _ := f.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				found = strings.Contains(string(b), "Léo") && strings.Contains(string(b), "5 quai Perrache")
			}
		}
		if !found {
			t.Errorf("the export has no dependants.json naming the boy")
		}

		// Removed from his account: out of reach at once.
		_, acc := father.do("GET", "/account", nil)
		dm := regexp.MustCompile(`href="/account/dependants/([0-9a-f-]{36})">[^<]*Léo Bernard`).FindStringSubmatch(acc)
		if dm == nil {
			t.Fatalf("no link to the boy on the account page:\n%s", acc)
		}
		if code, _ := father.post("/account/dependants/"+dm[1], "/account/dependants/"+dm[1]+"/delete", url.Values{}); code != 303 {
			t.Fatalf("remove: %d", code)
		}
		if code, _ := father.do("GET", "/results/family/r/"+id, nil); code != 404 {
			t.Errorf("the boy's report after his removal: %d", code)
		}
	})
}
