package results

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
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
