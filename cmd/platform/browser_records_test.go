package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
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

// TestBrowserStaffAttachesARecord (R3, issue 12.1–12.3): lab staff, on a 390 px phone in
// Chromium, find in the queue the record the LIS sent for nobody's account, open it, read
// the candidate's e-mail, phone and secret question to check her identity on the phone,
// attach the record to her account, and read the earlier version of its amended report.
func TestBrowserStaffAttachesARecord(t *testing.T) {
	execPath := browsertest.Need(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	phoneData(t, p) // registers Marie Durant, born 1985-03-02, secret question "Ville natale ?"
	recordPath, versionPath := recordPages(t, p)

	first := browsertest.Start(t, execPath, phoneTablesTimeout)
	staff := newPerson(t, first, "lab staff", base.Port())
	staff.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	staff.open("open the login form", staff.url("mlab.localhost", "/login"), 200)
	staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff", "Demo lab staff")
	staff.open("the queue", staff.url("mlab.localhost", "/results/staff/queue"), 200)
	staff.wantIn("main", "Dossiers sans compte", "P-991", "Aucun compte ne correspond", "marie.durant@example.org", "Ville natale ?")
	staff.load("open the waiting record", 200, chromedp.Click(chromedp.CSS(`main a[href="`+recordPath+`"]`)))
	staff.wantIn("main", "Rattacher à un compte", "Marie Durant", "marie.durant@example.org", "Ville natale ?")
	if !eval[bool](staff, "Marie Durant's attach button", `(() => {
		const b = [...document.querySelectorAll('main form[action$="/attach"] button')].find(x => x.textContent.includes("Marie Durant"));
		if (!b) return false;
		b.id = "attach-marie";
		return true;
	})()`) {
		staff.fatal("attach", fmt.Errorf("no attach button for Marie Durant"))
	}
	staff.load("attach the record", 200, chromedp.Click(chromedp.CSS("#attach-marie")))
	staff.wantIn("main", "Le compte est rattaché au dossier du laboratoire.", "Marie Durant <marie.durant@example.org>")
	staff.wantNotIn("main", "Rattacher à un compte")
	staff.open("an earlier version", staff.url("mlab.localhost", versionPath), 200)
	staff.wantIn("main", "Version précédente du compte rendu", "Version 1", "Partiel", "9")
}
