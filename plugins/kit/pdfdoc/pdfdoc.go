// Package pdfdoc writes simple A4 documents (a heading, lines of text, tables) with an
// embedded UTF-8 TrueType font, DejaVu Sans, so that French, Polish and Slovak print as
// they are written (é, ł, ż, č, ň). It wraps codeberg.org/go-pdf/fpdf; modules use it for
// reports, invoices and vouchers. It holds no state of any module.
package pdfdoc

import (
	"bytes"
	_ "embed"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

//go:embed fonts/DejaVuSans.ttf
var regular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var bold []byte

const font = "DejaVu"

// Doc is a document being written.
type Doc struct {
	f *fpdf.Fpdf
}

// New starts an A4 portrait document with title as its metadata title, its creation date
// set to created (so that the same content gives the same bytes).
func New(title, author string, created time.Time) *Doc {
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes(font, "", regular)
	f.AddUTF8FontFromBytes(font, "B", bold)
	f.SetTitle(title, true)
	f.SetAuthor(author, true)
	f.SetCreator("carenet platform", true)
	f.SetCreationDate(created)
	f.SetModificationDate(created)
	f.SetMargins(18, 18, 18)
	f.SetAutoPageBreak(true, 18)
	f.AddPage()
	f.SetFont(font, "", 10)
	return &Doc{f: f}
}

// Heading writes a bold line of size pt.
func (d *Doc) Heading(s string, pt float64) {
	d.f.SetFont(font, "B", pt)
	d.f.MultiCell(0, pt*0.5, s, "", "L", false)
	d.f.Ln(2)
	d.f.SetFont(font, "", 10)
}

// Text writes a paragraph, wrapped to the page width.
func (d *Doc) Text(s string) {
	d.f.MultiCell(0, 5, s, "", "L", false)
	d.f.Ln(1)
}

// Pair writes "label: value" with the label in bold.
func (d *Doc) Pair(label, value string) {
	d.f.SetFont(font, "B", 10)
	w := d.f.GetStringWidth(label+" ") + 1
	d.f.CellFormat(w, 5, label, "", 0, "L", false, 0, "")
	d.f.SetFont(font, "", 10)
	d.f.MultiCell(0, 5, value, "", "L", false)
}

// Table writes a header row and rows; widths are in millimetres (their sum ≤ 174 for A4).
// A row whose last cell is not empty is printed in bold (a flag: out of range).
func (d *Doc) Table(header []string, rows [][]string, widths []float64, boldIfLast bool) {
	d.f.Ln(2)
	d.f.SetFont(font, "B", 9)
	d.f.SetFillColor(230, 236, 240)
	for i, h := range header {
		d.f.CellFormat(widths[i], 7, h, "1", 0, "L", true, 0, "")
	}
	d.f.Ln(-1)
	for _, r := range rows {
		style := ""
		if boldIfLast && len(r) > 0 && r[len(r)-1] != "" {
			style = "B"
		}
		d.f.SetFont(font, style, 9)
		for i, c := range r {
			d.f.CellFormat(widths[i], 6, c, "1", 0, "L", false, 0, "")
		}
		d.f.Ln(-1)
	}
	d.f.SetFont(font, "", 10)
	d.f.Ln(3)
}

// Bytes returns the finished PDF.
func (d *Doc) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.f.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
