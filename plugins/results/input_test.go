package results

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// TestImportAPIRefusesWhatIsNotText: issue 11.3 (E4, R3a). A NUL, another control
// character, a bidirectional override, invalid UTF-8 or a value of the wrong type in any
// field of an import is a 422 in the API's one error shape, naming each field with a
// sentence in the tenant's language, and nothing is stored — on SQLite and PostgreSQL.
func TestImportAPIRefusesWhatIsNotText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		good := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101")
		good.PDFBase64 = base64.StdEncoding.EncodeToString(good.PDF)
		send := func(body []byte) (*sdk.Response, map[string]any) {
			t.Helper()
			res, err := f.h.Send(context.Background(), f.A, nil, &sdk.Request{Method: "POST", Path: "/results/api/reports", Body: body,
				Header: http.Header{"Content-Type": {"application/json"}}, ClientID: f.lis, ClientName: "LIS"})
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := json.Unmarshal(res.Body, &out); err != nil {
				t.Fatalf("not JSON (%d): %s", res.Status, res.Body)
			}
			return res, out
		}
		// body is the good report with some fields replaced by raw JSON.
		body := func(repl map[string]string) []byte {
			t.Helper()
			b, _ := json.Marshal(good)
			for k, v := range repl {
				if !bytes.Contains(b, []byte(k)) {
					t.Fatalf("no %s in %s", k, b[:200])
				}
				b = bytes.Replace(b, []byte(k), []byte(v), 1)
			}
			return b
		}
		text := f.m.Msgs.For("fr").T("form.text.invalid")
		for name, tc := range map[string]struct {
			repl   map[string]string
			fields []string
			msg    string
		}{
			"nul": {map[string]string{`"Durand"`: `"Dur\u0000and"`, `"Glycémie"`: `"Gly\u0000"`},
				[]string{"patient.last_name", "values.0.label"}, text},
			"control": {map[string]string{`"Marie"`: `"Ma\u0007rie"`, `"Site Part-Dieu"`: `"Site\nPart-Dieu"`},
				[]string{"patient.first_name", "lab"}, text},
			"bidi": {map[string]string{`"Dr Jean Petit"`: `"Dr \u202eJean"`, `"mmol/L"`: `"mmol\u2066/L"`},
				[]string{"prescriber.name", "values.0.unit"}, text},
			"invalid utf-8": {map[string]string{`"Martin"`: "\"Mar\xfftin\"", `"R-1"`: "\"R-\xc3\x28\""},
				[]string{"patient.birth_name", "report_id"}, text},
			"key":                  {map[string]string{`"lab":`: `"la\u0000b":`}, []string{"lab"}, text},
			"wrong type":           {map[string]string{`"Durand"`: `12`}, []string{"patient.last_name"}, f.m.Msgs.For("fr").T("form.type.invalid")},
			"wrong type in a list": {map[string]string{`"6,4"`: `{"x":1}`}, []string{"values.0.value"}, f.m.Msgs.For("fr").T("form.type.invalid")},
		} {
			res, out := send(body(tc.repl))
			fields, _ := out["fields"].(map[string]any)
			if res.Status != http.StatusUnprocessableEntity || out["error"] == nil || out["message"] == "" || fields == nil {
				t.Errorf("%s: %d %s", name, res.Status, res.Body)
				continue
			}
			for _, fl := range tc.fields {
				if fields[fl] != tc.msg {
					t.Errorf("%s: field %s: %v, want %q (all: %v)", name, fl, fields[fl], tc.msg, fields)
				}
			}
		}
		// Line-wrapped base64 is still a PDF (the one multi-line string of the import).
		wrapped := body(map[string]string{good.PDFBase64[:40]: good.PDFBase64[:40] + `\r\n`})
		if res, _ := send(wrapped); res.Status != http.StatusCreated {
			t.Fatalf("wrapped base64: %d %s", res.Status, res.Body)
		}
		if n := len(f.reportIDs(f.A)); n != 1 || len(f.h.Host.Blobs) != 1 {
			t.Fatalf("refused imports stored something: %d reports, %d blobs", n, len(f.h.Host.Blobs))
		}
		// Not JSON at all: 400 in the same shape.
		res, out := send([]byte(`{"report_id": `))
		if res.Status != http.StatusBadRequest || out["error"] != "bad_request" || out["message"] == "" || out["fields"] == nil {
			t.Fatalf("malformed: %d %s", res.Status, res.Body)
		}
	})
}

// TestModuleFormRefusesWhatIsNotText: issue 11.3 (E4). A module form posted with a NUL (or
// a bidi override) gets its page again, 422, the message next to the field, nothing done;
// a page's query with one loses it and says so next to the field.
func TestModuleFormRefusesWhatIsNotText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		msg := f.m.Msgs.For("fr").T("form.text.invalid")
		whole := f.m.Msgs.For("fr").T("form.text.invalid_form")
		for _, bad := range []string{"Bonjour\x00", "Bonjour \u202etxt.exe", "Bon\xffjour"} {
			res := f.post(f.A, marie, "/results/support", url.Values{"body": {bad}})
			page := string(res.Body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(page, `id="e-body"`) || !strings.Contains(page, msg) ||
				!strings.Contains(page, `name="body"`) {
				t.Fatalf("%q: %d %s", bad, res.Status, page)
			}
		}
		if len(f.h.Host.Complaints) != 0 {
			t.Fatal("a refused form lodged a complaint")
		}
		// A text area keeps its line breaks.
		if res := f.post(f.A, marie, "/results/support", url.Values{"body": {"Bonjour,\r\n\tmerci."}}); res.Status != 200 || len(f.h.Host.Complaints) != 1 {
			t.Fatalf("multi-line body: %d", res.Status)
		}
		// A staff search with a NUL: the page, the message next to the field.
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		res := f.get(f.A, staff, "/results/staff/patients?q=Dur%00and")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), whole) {
			t.Fatalf("search with a NUL: %d %s", res.Status, res.Body)
		}
	})
}
