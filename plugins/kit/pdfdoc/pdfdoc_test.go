package pdfdoc

import (
	"strings"
	"testing"
	"time"
)

// TestLettersOfEveryLocalePrint writes French, Polish and Slovak text and reads it back with
// a PDF reader (P4: PDFs in fr, pl and sk).
func TestLettersOfEveryLocalePrint(t *testing.T) {
	d := New("Compte rendu", "MLab", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	d.Heading("Compte rendu d’analyses — Hémoglobine", 14)
	d.Pair("Pacjent:", "Zażółć gęślą jaźń")
	d.Text("Slovensky: Kŕdeľ ďatľov učí koňa žrať kôru.")
	d.Table([]string{"Analyse", "Valeur"}, [][]string{{"Glycémie", "5,4 mmol/L"}, {"Ferritine", "12 µg/L"}}, []float64{90, 60}, false)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	text := Text(t, b)
	for _, want := range []string{"Hémoglobine", "Zażółć gęślą jaźń", "Kŕdeľ ďatľov učí koňa žrať kôru", "Glycémie", "5,4 mmol/L"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}

// Text reads back the text of a PDF, failing the test on error.
func Text(t testing.TB, b []byte) string {
	t.Helper()
	s, err := ExtractText(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
