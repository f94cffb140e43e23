package main

import (
	"testing"
)

// recordPages (R3, issue 12.1, 12.2) gives the staff pages of the records queue at phone
// width: a lab record no account holds (the accounts it may be attached to, each with the
// person's e-mail, phone and secret question; the records it may be merged with), and the
// earlier version of an amended report. The LIS sends a partial report for a second
// record of the demo's Marie Durand (born the same day as her waiting record and as the
// account phoneData registers), then its final version.
func recordPages(t *testing.T, p *platform) (recordPath, versionPath string) {
	t.Helper()
	admin := p.browser("mlab.localhost")
	admin.login("admin@mlab.localhost", "demo-mlab-admin")
	key := createKey(t, admin, "Laboratory system (versions)", "results.import")
	report := map[string]any{"report_id": "LIS-2026-0099", "collected_at": "2026-11-20T07:45:00Z", "lab": "MLab Part-Dieu", "status": "partial",
		"patient":    map[string]any{"lab_patient_id": "P-991", "last_name": "DURAND", "first_name": "Marie Claire", "birth_name": "Martin", "birth_date": "1985-03-02"},
		"prescriber": map[string]any{"register_number": "10101010101", "name": "Dr Paul Martin"},
		"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
		"pdf_base64": samplePDF(t, "DURAND Marie Claire")}
	if code, out := p.lisImport(t, "mlab.localhost", key, report); code != 201 || out["status"] != "created" {
		t.Fatalf("partial report: %d %v", code, out)
	}
	report["status"] = "final"
	report["values"] = []map[string]any{{"code": "FER", "label": "Ferritine", "value": "11", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}}
	code, out := p.lisImport(t, "mlab.localhost", key, report)
	if code != 200 || out["status"] != "amended" {
		t.Fatalf("final version: %d %v", code, out)
	}
	id, _ := out["id"].(string)
	staff := p.browser("mlab.localhost")
	staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
	_, body := staff.do("GET", "/results/staff/r/"+id, nil)
	m := recordRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the staff's report page links no record:\n%s", body)
	}
	return "/results/staff/patients/" + m[1], "/results/staff/r/" + id + "/v/1"
}
