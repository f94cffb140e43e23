package results

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// pdftotext reads a PDF back with poppler's pdftotext, keeping the layout (a table's row
// on one line), as a person's reader shows it.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is needed to read PDFs back")
	}
	cmd := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// lineWith is the first line of text holding every one of words, or "".
func lineWith(text string, words ...string) string {
	for _, l := range strings.Split(text, "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all {
			return l
		}
	}
	return ""
}

// TestPrintedReportInTheReadersLanguage: beside the lab's signed original, the module
// prints the stored report in the reader's language: its words, dates, numbers and file
// name; every column as wide as its content (a row reads whole on one line); the same flags
// as the page, "normal" included; the lab's validating biologist (issue 12.6, R4).
func TestPrintedReportInTheReadersLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		in := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		in.ValidatedBy = &IncomingValidator{Name: "Dr Claire Moreau", Qualification: "biologiste médicale"}
		in.Values = append(in.Values, IncomingValue{Code: "CRP", Label: "Protéine C réactive", Value: "<0.5", Unit: "mg/L",
			RefText: "inférieur à 5 chez l’adulte", Flag: "N"})
		if res, out := f.api(f.A, in); res.Status != 201 {
			t.Fatalf("import: %d %v", res.Status, out)
		}
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		id := f.reportIDs(f.A)[0]
		want := map[string]struct{ title, normal, high, date, file string }{
			"fr": {"Compte rendu d’analyses", "Normal", "Élevé", "19/11/2026 08:30", "compte-rendu-19-11-2026.pdf"},
			"pl": {"Sprawozdanie z badań", "W normie", "Wysoki", "19.11.2026 08:30", "sprawozdanie-19-11-2026.pdf"},
			"sk": {"Výsledkový list", "V norme", "Vysoký", "19. 11. 2026 08:30", "vysledkovy-list-19-11-2026.pdf"},
		}
		for lang, w := range want {
			ten := f.A
			ten.Locale = lang
			res := f.get(ten, marie, "/results/r/"+id+"/print?download=1")
			if res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
				!strings.Contains(res.Header.Get("Content-Disposition"), w.file) {
				t.Fatalf("%s printout: %d %v", lang, res.Status, res.Header)
			}
			text := pdftotext(t, res.Body)
			for _, s := range []string{w.title, w.date, "DURAND Marie", "Dr Claire Moreau, biologiste médicale"} {
				if !strings.Contains(text, s) {
					t.Errorf("%s printout lacks %q:\n%s", lang, s, text)
				}
			}
			// One row, one line: the value in the reader's numbers, the whole range, the flag.
			if l := lineWith(text, "Hémoglobine", "13,9", "g/dL", "12 – 16", w.normal); l == "" {
				t.Errorf("%s: no whole line for Hémoglobine 13,9 g/dL 12 – 16 %s:\n%s", lang, w.normal, text)
			}
			if l := lineWith(text, "Glycémie", "6,4", "3,9 – 6,1", w.high); l == "" {
				t.Errorf("%s: no whole line for Glycémie 6,4 3,9 – 6,1 %s:\n%s", lang, w.high, text)
			}
			if l := lineWith(text, "Protéine C réactive", "<0.5", "inférieur à 5 chez l’adulte", w.normal); l == "" {
				t.Errorf("%s: the text range is cut:\n%s", lang, text)
			}
			if strings.Contains(text, "13.9") {
				t.Errorf("%s: a value in another language's numbers:\n%s", lang, text)
			}
			// The page offers both documents, and names the lab's as its signed original.
			page := string(f.get(ten, marie, "/results/r/"+id).Body)
			for _, s := range []string{"/results/r/" + id + "/print", "/results/r/" + id + "/pdf",
				f.m.Msgs.For(lang).T("results.report.original"), "Dr Claire Moreau", "13,9", ">" + w.normal + "<"} {
				if !strings.Contains(page, s) {
					t.Errorf("%s report page lacks %q", lang, s)
				}
			}
		}
		// Each printout read is recorded as the lab's PDF is (R9).
		if n := f.audits("results.download"); n != 3 {
			t.Fatalf("%d download records for 3 printouts", n)
		}
		f.noMissingMessages()
	})
}

// multipartPost posts fields (and a PDF when pdf is not nil) as the upload form does.
func (f *fixture) multipartPost(ten sdk.Tenant, u *sdk.User, path string, fields map[string]string, pdf []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if pdf != nil {
		fw, _ := mw.CreateFormFile("pdf", "cr.pdf")
		fw.Write(pdf)
	}
	mw.Close()
	res, err := f.h.Send(context.Background(), ten, u, &sdk.Request{Method: "POST", Path: path,
		Header: http.Header{"Content-Type": {mw.FormDataContentType()}}, Body: body.Bytes()})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// TestUploadFormTakesValuesPerRow: the staff upload form takes the values one row per
// analyte, with more rows on request and no script; numbers are read and shown in the
// page's language; an empty required cell says "required" next to it; a collection given
// as a day is shown without a time (issue 12.8, R3).
func TestUploadFormTakesValuesPerRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		form := string(f.get(f.A, staff, "/results/staff/upload").Body)
		if !strings.Contains(form, `name="code.3"`) || strings.Contains(form, `name="code.4"`) || strings.Contains(form, "<textarea") {
			t.Fatalf("the form does not offer four rows of cells:\n%s", form)
		}
		// More rows: what was typed stays, nothing is stored.
		more := f.multipartPost(f.A, staff, "/results/staff/upload", map[string]string{"rows": "4", "more": "1", "code.0": "FER", "last_name": "Durand"}, nil)
		if page := string(more.Body); more.Status != 200 || !strings.Contains(page, `name="code.7"`) || !strings.Contains(page, `value="FER"`) ||
			!strings.Contains(page, `value="Durand"`) || strings.Contains(page, `class="error"`) {
			t.Fatalf("more rows: %d\n%s", more.Status, page)
		}
		pdf := f.incoming("U-1", "P-9", "Durand", "Marie", "Martin", "1985-03-02", "").PDF
		fields := map[string]string{"rows": "4", "report_id": "U-1", "lab_patient_id": "P-9", "first_name": "Marie",
			"birth_date": "1985-03-02", "collected_at": "2026-11-19", "status": "final",
			"code.0": "FER", "low.1": "abc", "code.1": "HB", "label.1": "Hémoglobine", "value.1": "14.1"}
		bad := f.multipartPost(f.A, staff, "/results/staff/upload", fields, pdf)
		required := f.m.Msgs.For("fr").T("results.err.required")
		page := string(bad.Body)
		for _, id := range []string{"e-last_name", "e-label-0", "e-value-0", "e-low-1"} {
			if !strings.Contains(page, `id="`+id+`"`) {
				t.Errorf("no error %s:\n%s", id, page)
			}
		}
		if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="error" id="e-label-0">`+required+`</p>`) ||
			!strings.Contains(page, f.m.Msgs.For("fr").T("results.err.invalid_number")) || len(f.reportIDs(f.A)) != 0 {
			t.Fatalf("refused upload: %d\n%s", bad.Status, page)
		}
		fields["last_name"], fields["label.0"], fields["value.0"], fields["unit.0"] = "Durand", "Ferritine", "12,5", "µg/L"
		fields["low.0"], fields["high.0"], fields["flag.0"], fields["low.1"], fields["high.1"] = "15", "150,5", "L", "12", "16"
		if ok := f.multipartPost(f.A, staff, "/results/staff/upload", fields, pdf); ok.Status != http.StatusSeeOther {
			t.Fatalf("upload: %d\n%s", ok.Status, ok.Body)
		}
		ids := f.reportIDs(f.A)
		if len(ids) != 1 {
			t.Fatalf("%d reports", len(ids))
		}
		rep := f.report(f.A, ids[0])
		if len(rep.Values) != 2 || !rep.Values[0].RefHigh.Valid || rep.Values[0].RefHigh.Float64 != 150.5 || !rep.TimeUnknown {
			t.Fatalf("stored: %+v", rep)
		}
		for lang, want := range map[string][]string{"fr": {"12,5", "14,1", "15 – 150,5", ">19/11/2026<"}, "pl": {"12,5", "14,1", ">19.11.2026<"},
			"sk": {"12,5", "14,1", ">19. 11. 2026<"}} {
			ten := f.A
			ten.Locale = lang
			page := string(f.get(ten, staff, "/results/staff/r/"+ids[0]).Body)
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("%s report page lacks %q", lang, w)
				}
			}
			if strings.Contains(page, "14.1") || strings.Contains(page, "00:00") {
				t.Errorf("%s report page shows 14.1 or a time the lab did not give:\n%s", lang, page)
			}
		}
		f.noMissingMessages()
	})
}
