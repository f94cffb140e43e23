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

// TestTableColumnsFitTheirContent: without widths, each column is as wide as its widest
// text, so that every cell reads on one line; a table wider than the page keeps to the page,
// its widest column wrapping, and loses no word (issue 12.6: a truncated range column).
func TestTableColumnsFitTheirContent(t *testing.T) {
	d := New("t", "t", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	header := []string{"Analyse", "Résultat", "Unité", "Valeurs de référence", "Indicateur"}
	rows := [][]string{{"Hémoglobine", "13,9", "g/dL", "12 – 16", "Normal"},
		{"Protéine C réactive", "<0,5", "mg/L", "inférieur à 5 chez l’adulte", "Très élevé"}}
	w := d.fit(header, rows, 1.5)
	d.f.SetFont(font, "B", 9)
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			if n := len(d.f.SplitText(c, w[i])); n != 1 {
				t.Errorf("%q takes %d lines in a column of %.1f mm", c, n, w[i])
			}
		}
	}
	long := strings.Repeat("valeur de référence selon l’âge et le sexe ", 8)
	rows = append(rows, []string{"Ferritine", "12", "µg/L", long, "Bas"})
	w = d.fit(header, rows, 1.5)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	if sum > d.usable()+0.01 {
		t.Fatalf("columns %.1f mm wide on a page of %.1f mm", sum, d.usable())
	}
	d.Table(header, rows, nil, true)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(Text(t, b)), " ")
	if !strings.Contains(text, strings.Join(strings.Fields(long), " ")) || !strings.Contains(text, "Très élevé") {
		t.Fatalf("a wrapped cell lost words:\n%s", text)
	}
}
