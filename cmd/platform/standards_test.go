package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// lisSend posts body to path of host as the lab's system does, with key and content type.
func (p *platform) lisSend(t *testing.T, host, key, path, contentType string, body []byte) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.base+path, bytes.NewReader(body))
	req.Host = host
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

// TestStandardImportsEndToEnd: through the running platform, the LIS's key sends a
// published HL7 v2.5.1 ORU^R01 (acknowledged AA, then AA again with nothing new) and a FHIR
// R4 specification example Bundle (201, then 200); lab staff find both patients' records;
// without a key the core refuses before the module (R3, issue 12.12).
func TestStandardImportsEndToEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		admin := p.browser("mlab.localhost")
		admin.login("admin@mlab.localhost", "demo-mlab-admin")
		code, page := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"LIS"}, "permissions": {"results.import"}})
		key := apiKeyRe.FindString(page)
		if code != 200 || key == "" {
			t.Fatalf("create key: %d\n%s", code, page)
		}
		testdata := filepath.Join("..", "..", "plugins", "results", "testdata")

		// HL7: the NIST test message, with the report's PDF in an ED segment (it has none).
		raw, err := os.ReadFile(filepath.Join(testdata, "nist-oru-r01-2.5.1-case1.hl7"))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte(strings.TrimRight(string(raw), "\r\n") + "\rOBX|2|ED|PDF^Report^L||^application^pdf^Base64^" + samplePDF(t, "JOHNSON Philip") + "||||||F\r")
		if code, _, _ := p.lisSend(t, "mlab.localhost", "", "/results/api/hl7", "x-application/hl7-v2+er7", msg); code != 401 {
			t.Fatalf("HL7 without a key: %d", code)
		}
		for i, want := range []int{201, 200} {
			code, ct, ack := p.lisSend(t, "mlab.localhost", key, "/results/api/hl7", "x-application/hl7-v2+er7", msg)
			if code != want || !strings.HasPrefix(ct, "x-application/hl7-v2+er7") || !strings.Contains(string(ack), "\rMSA|AA|NIST-100929110701660|") {
				t.Fatalf("HL7 #%d: %d %s %q", i+1, code, ct, ack)
			}
		}

		// FHIR: the specification's lipid profile, with the example Patient and a PDF added.
		var bundle, patient map[string]any
		for file, v := range map[string]*map[string]any{"diagnosticreport-example-lipids.json": &bundle, "patient-example.json": &patient} {
			raw, err := os.ReadFile(filepath.Join(testdata, file))
			if err != nil || json.Unmarshal(raw, v) != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
		patient["id"] = "pat2"
		entries := bundle["entry"].([]any)
		entries[0].(map[string]any)["resource"].(map[string]any)["presentedForm"] = []any{map[string]any{"contentType": "application/pdf",
			"data": samplePDF(t, "CHALMERS Peter")}}
		bundle["entry"] = append(entries, map[string]any{"fullUrl": "https://example.com/base/Patient/pat2", "resource": patient})
		body, _ := json.Marshal(bundle)
		for i, want := range []int{201, 200} {
			code, _, out := p.lisSend(t, "mlab.localhost", key, "/results/api/fhir", "application/fhir+json", body)
			if code != want || !strings.Contains(string(out), `"transaction-response"`) {
				t.Fatalf("FHIR #%d: %d %s", i+1, code, out)
			}
		}

		staff := p.browser("mlab.localhost")
		staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff")
		for _, name := range []string{"Johnson", "Chalmers"} {
			if _, page := staff.do("GET", "/results/staff/patients?q="+name, nil); !recordRe.MatchString(page) {
				t.Fatalf("no record of %s:\n%s", name, page)
			}
		}
	})
}
