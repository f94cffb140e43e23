package results

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// fhirExample reads a Bundle of the FHIR R4 specification's examples (testdata/README.md)
// as JSON to add to. The published examples hold no Patient resource (their subject is
// "Patient/pat2") and no PDF: the test adds the specification's example Patient under that
// id, and a PDF in the report's presentedForm — the files stay as published.
func (f *fixture) fhirExample(name string) map[string]any {
	f.t.Helper()
	var b, p map[string]any
	for file, v := range map[string]*map[string]any{name: &b, "patient-example.json": &p} {
		raw, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			f.t.Fatal(err)
		}
	}
	p["id"] = "pat2"
	pdf, err := f.m.reportPDF(f.A, "fr", &Incoming{ReportID: "FHIR", Patient: IncomingPatient{LastName: "Chalmers", FirstName: "Peter"}})
	if err != nil {
		f.t.Fatal(err)
	}
	dr := fhirEntry(b, "DiagnosticReport")
	dr["presentedForm"] = []any{map[string]any{"contentType": "application/pdf", "title": "compte-rendu.pdf",
		"data": base64.StdEncoding.EncodeToString(pdf)}}
	b["entry"] = append(b["entry"].([]any), map[string]any{"fullUrl": "https://example.com/base/Patient/pat2", "resource": p})
	return b
}

// fhirEntry is the first resource of type typ in bundle b.
func fhirEntry(b map[string]any, typ string) map[string]any {
	for _, e := range b["entry"].([]any) {
		if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == typ {
			return r
		}
	}
	return nil
}

func (f *fixture) fhir(ten sdk.Tenant, body any) (*sdk.Response, map[string]any) {
	f.t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		raw, _ = json.Marshal(body)
	}
	res, err := f.h.Send(context.Background(), ten, nil, &sdk.Request{Method: "POST", Path: "/results/api/fhir", Body: raw,
		Header: http.Header{"Content-Type": {"application/fhir+json"}}, ClientID: f.lis, ClientName: "LIS"})
	if err != nil {
		f.t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(res.Body, &out)
	return res, out
}

// TestFHIRBundleImportsThroughTheOneImportPath: a laboratory system sends the FHIR R4
// specification's own example reports (the lipid profile, the general health panel with
// its panels of results) as a Bundle; each is stored as the import API stores a report —
// identity matched to the patient's account, values with units, ranges and flags, the
// PDF —, answered in FHIR; sending it again changes nothing (R3, issue 12.12).
func TestFHIRBundleImportsThroughTheOneImportPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		// The example Patient's maiden name is Windsor: his birth name.
		peter := f.patient(f.A, "u-peter", "Peter James Chalmers", "Windsor", "1974-12-25")

		lipids := f.fhirExample("diagnosticreport-example-lipids.json")
		res, out := f.fhir(f.A, lipids)
		if res.Status != http.StatusCreated || out["resourceType"] != "Bundle" || out["type"] != "transaction-response" {
			t.Fatalf("lipids: %d %s", res.Status, res.Body)
		}
		entry := out["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)
		ids := f.reportIDs(f.A)
		if len(ids) != 1 || entry["status"] != "201 Created" || entry["location"] != "DiagnosticReport/"+ids[0] {
			t.Fatalf("response %v, reports %v", entry, ids)
		}
		rep := f.report(f.A, ids[0])
		// The lab's identifier is the report id; the effective time (+11:00) the collection.
		if rep.ReportID != "5234342" || rep.Status != "final" || rep.LabSite != "Acme Laboratory, Inc" ||
			!rep.CollectedAt.Equal(time.Date(2011, 3, 3, 21, 30, 0, 0, time.UTC)) {
			t.Fatalf("report %+v", rep)
		}
		// The Patient's MR identifier and name: matched to Peter's account, which is linked.
		if rep.Patient.LabPatientID != "12345" || rep.Patient.LastName != "Chalmers" || rep.Patient.FirstName != "Peter James" ||
			rep.Patient.BirthName != "Windsor" || rep.Patient.BirthDate != "1974-12-25" || rep.Patient.UserID != peter.ID {
			t.Fatalf("patient %+v", rep.Patient)
		}
		if len(rep.Values) != 4 {
			t.Fatalf("values %+v", rep.Values)
		}
		chol, hdl := rep.Values[0], rep.Values[2]
		if chol.Code != "35200-5" || chol.Label != "Cholesterol" || chol.Value != "6.3" || chol.Unit != "mmol/L" ||
			chol.RefLow.Valid || !chol.RefHigh.Valid || chol.RefHigh.Float64 != 4.5 || !chol.Numeric.Valid {
			t.Fatalf("cholesterol %+v", chol)
		}
		if hdl.Code != "2085-9" || !hdl.RefLow.Valid || hdl.RefLow.Float64 != 1.5 || hdl.RefHigh.Valid {
			t.Fatalf("HDL %+v", hdl)
		}
		if len(f.h.Host.Blobs) != 1 || f.audits("results.imported") != 1 {
			t.Fatalf("blobs %d, audits %d", len(f.h.Host.Blobs), f.audits("results.imported"))
		}

		// The same Bundle again: 200, nothing new.
		res, out = f.fhir(f.A, lipids)
		entry = out["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)
		if res.Status != http.StatusOK || entry["status"] != "200 OK" || entry["location"] != "DiagnosticReport/"+ids[0] {
			t.Fatalf("again: %d %s", res.Status, res.Body)
		}
		if len(f.reportIDs(f.A)) != 1 || len(f.h.Host.Blobs) != 1 || f.audits("results.imported") != 1 {
			t.Fatal("a Bundle sent twice was stored twice")
		}

		// The general health panel, sent as a transaction: its results are panels whose
		// members are the values, some flagged; a preliminary report is stored as partial.
		ghp := f.fhirExample("diagnosticreport-example-ghp.json")
		ghp["type"] = "transaction"
		fhirEntry(ghp, "DiagnosticReport")["status"] = "preliminary"
		if res, _ := f.fhir(f.A, ghp); res.Status != http.StatusCreated {
			t.Fatalf("ghp: %d %s", res.Status, res.Body)
		}
		var rep2 *Report
		for _, id := range f.reportIDs(f.A) {
			if id != ids[0] {
				rep2 = f.report(f.A, id)
			}
		}
		if rep2.ReportID != "ghp-example" || rep2.Status != "partial" || rep2.PatientID != rep.PatientID {
			t.Fatalf("ghp report %+v", rep2)
		}
		byCode := map[string]Value{}
		for _, v := range rep2.Values {
			byCode[v.Code] = v
		}
		// 17 blood count results, 22 chemistry, 9 urine — the panels themselves are no value.
		if len(rep2.Values) != 48 {
			t.Fatalf("%d values", len(rep2.Values))
		}
		hb := byCode["718-7"]
		if hb.Label != "Haemoglobin" || hb.Value != "176" || hb.Unit != "g/L" || hb.RefLow.Float64 != 135 || hb.RefHigh.Float64 != 180 {
			t.Fatalf("haemoglobin %+v", hb)
		}
		for code, flag := range map[string]string{"718-7": "", "4544-3": "H", "751-8": "LL", "731-0": "L", "711-2": "HH"} {
			if byCode[code].Flag != flag {
				t.Errorf("%s: flag %q, want %q", code, byCode[code].Flag, flag)
			}
		}
		if v := byCode["2887-8"]; v.Value != "Negative" {
			t.Errorf("coded answer: %+v", v)
		}

		// The lab then sends the same report as final: a new version of it, which replaces
		// the preliminary one, not a second report nor an "unchanged" (R3, issue 12.2).
		fhirEntry(ghp, "DiagnosticReport")["status"] = "final"
		res, out = f.fhir(f.A, ghp)
		entry = out["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)
		if res.Status != http.StatusOK || entry["location"] != "DiagnosticReport/"+rep2.ID ||
			!strings.Contains(string(res.Body), f.m.Msgs.For("fr").T("results.lis.amended")) {
			t.Fatalf("final after preliminary: %d %s", res.Status, res.Body)
		}
		if amended := f.report(f.A, rep2.ID); amended.Status != "final" || amended.Version != 2 || len(f.reportIDs(f.A)) != 2 {
			t.Fatalf("amended report %+v", amended)
		}
	})
}

// TestFHIRRefusesWhatItCannotImport: a body that is no Bundle the module reads is a 400, a
// report with fields at fault a 422, each answered as an OperationOutcome in the tenant's
// language naming where the problem is; nothing is stored (R3, issue 12.12).
func TestFHIRRefusesWhatItCannotImport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		fr := f.m.Msgs.For("fr")
		issue := func(out map[string]any) map[string]any {
			if out["resourceType"] != "OperationOutcome" {
				t.Fatalf("not an OperationOutcome: %v", out)
			}
			return out["issue"].([]any)[0].(map[string]any)
		}
		searchset := f.fhirExample("diagnosticreport-example-lipids.json")
		searchset["type"] = "searchset"
		noReport := f.fhirExample("diagnosticreport-example-lipids.json")
		noReport["entry"] = noReport["entry"].([]any)[1:]
		for name, c := range map[string]struct {
			body any
			text string
		}{
			"not JSON":   {[]byte("{"), "results.lis.fhir_not_bundle"},
			"a Patient":  {[]byte(`{"resourceType":"Patient"}`), "results.lis.fhir_not_bundle"},
			"searchset":  {searchset, "results.lis.fhir_not_bundle"},
			"no report":  {noReport, "results.lis.fhir_one_report"},
			"bad status": {[]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"DiagnosticReport","status":"done"}}]}`), "results.lis.fhir_unreadable"},
		} {
			res, out := f.fhir(f.A, c.body)
			if res.Status != http.StatusBadRequest || issue(out)["diagnostics"] != fr.T(c.text) {
				t.Errorf("%s: %d %s", name, res.Status, res.Body)
			}
		}

		// Fields at fault: all named at once, where they are in the Bundle.
		bad := f.fhirExample("diagnosticreport-example-lipids.json")
		fhirEntry(bad, "Patient")["birthDate"] = "1974-13"
		fhirEntry(bad, "DiagnosticReport")["status"] = "cancelled"
		bad["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)["code"] = map[string]any{"text": "Cholesterol"}
		res, out := f.fhir(f.A, bad)
		if res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("fields at fault: %d %s", res.Status, res.Body)
		}
		got := map[string]string{}
		for _, i := range out["issue"].([]any) {
			is := i.(map[string]any)
			got[is["expression"].([]any)[0].(string)] = is["diagnostics"].(string)
		}
		want := map[string]string{"Patient.birthDate": "invalid_date", "DiagnosticReport.status": "invalid_choice",
			"Bundle.entry[1].resource": "required"}
		for path, code := range want {
			if got[path] != fr.T(errKey(code)) {
				t.Errorf("%s: %q, want %q (all %v)", path, got[path], fr.T(errKey(code)), got)
			}
		}

		// A PDF given as a link is not fetched.
		link := f.fhirExample("diagnosticreport-example-lipids.json")
		fhirEntry(link, "DiagnosticReport")["presentedForm"] = []any{map[string]any{"contentType": "application/pdf", "url": "https://lis.example/r.pdf"}}
		if res, out := f.fhir(f.A, link); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), fr.T(errKey("link_not_accepted"))) || issue(out)["expression"] == nil {
			t.Fatalf("link: %d %s", res.Status, res.Body)
		}
		f.storedNothing("/results/api/fhir", []byte("{}"))
	})
}

// TestFHIRTransactionReferencesByFullURL: in a transaction Bundle as a LIS builds one, the
// resources have no id yet and refer to each other by their entries' "urn:uuid:" fullUrls;
// each is found all the same, Observations without an id each one value (R3, issue 12.12).
func TestFHIRTransactionReferencesByFullURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		bundle := f.fhirExample("diagnosticreport-example-lipids.json")
		bundle["type"] = "transaction"
		urls := map[string]string{}
		for i, e := range bundle["entry"].([]any) {
			entry := e.(map[string]any)
			r := entry["resource"].(map[string]any)
			u := fmt.Sprintf("urn:uuid:6a79bb01-6289-4665-a23c-f0f0704dd9d%d", i)
			urls[r["resourceType"].(string)+"/"+r["id"].(string)] = u
			delete(r, "id")
			entry["fullUrl"] = u
			entry["request"] = map[string]any{"method": "POST", "url": r["resourceType"]}
		}
		dr := fhirEntry(bundle, "DiagnosticReport")
		dr["subject"].(map[string]any)["reference"] = urls["Patient/pat2"]
		for _, ref := range dr["result"].([]any) {
			ref.(map[string]any)["reference"] = urls[ref.(map[string]any)["reference"].(string)]
		}
		raw, _ := json.Marshal(bundle)
		in, _, pre, problem := readFHIR(raw)
		if problem != "" || len(pre) != 0 || in.Patient.LastName != "Chalmers" || len(in.Values) != 4 || in.Values[3].Code != "13457-7" {
			t.Fatalf("%s %v %+v", problem, pre, in)
		}
		if res, _ := f.fhir(f.A, bundle); res.Status != http.StatusCreated {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
	})
}

// storedNothing checks that the refused requests of a test stored no report and no PDF, that
// path answers a signed-in person (no API client) 401 with body, and that every message
// asked for exists.
func (f *fixture) storedNothing(path string, body []byte) {
	f.t.Helper()
	if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 {
		f.t.Fatal("a refused import stored something")
	}
	res, _ := f.h.Send(context.Background(), f.A, &sdk.User{ID: "u"}, &sdk.Request{Method: "POST", Path: path, Body: body})
	if res.Status != http.StatusUnauthorized {
		f.t.Fatalf("without a client: %d", res.Status)
	}
	f.noMissingMessages()
}
