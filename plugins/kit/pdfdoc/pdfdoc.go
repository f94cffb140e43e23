// Package pdfdoc writes simple A4 documents (a heading, lines of text, tables) with an
// embedded UTF-8 TrueType font, DejaVu Sans, so that French, Polish and Slovak print as
// they are written (é, ł, ż, č, ň). It wraps codeberg.org/go-pdf/fpdf; modules use it for
// reports, invoices and vouchers. It holds no state of any module.
package pdfdoc

import (
	"bytes"
	_ "embed"
	"math"
	"strings"
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
	// what ArchiveBytes repeats in the metadata
	title, author string
	created       time.Time
	info          int
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
	return &Doc{f: f, title: title, author: author, created: created}
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

// Table writes a header row and rows. widths are in millimetres (their sum ≤ 174 for A4);
// nil sizes each column to its widest text, measured in the font it is printed in, and
// when the columns together are wider than the page the widest give way first. A cell
// longer than its column wraps onto more lines: nothing is cut. A row whose last cell is not
// empty is printed in bold (a flag: out of range) when boldIfLast.
func (d *Doc) Table(header []string, rows [][]string, widths []float64, boldIfLast bool) {
	bolds := make([]bool, len(rows))
	for i, r := range rows {
		bolds[i] = boldIfLast && len(r) > 0 && r[len(r)-1] != ""
	}
	d.TableRows(header, rows, widths, bolds)
}

// TableRows is Table with the rows to print in bold given one by one.
func (d *Doc) TableRows(header []string, rows [][]string, widths []float64, bold []bool) {
	const lineH = 4.6
	defer d.f.SetCellMargin(d.f.GetCellMargin())
	d.f.SetCellMargin(1.5)
	pad := d.f.GetCellMargin()
	if widths == nil {
		widths = d.fit(header, rows, pad)
	}
	d.f.Ln(2)
	d.f.SetFillColor(230, 236, 240)
	d.row(header, widths, "B", true, lineH+1, pad)
	for i, r := range rows {
		style := ""
		if i < len(bold) && bold[i] {
			style = "B"
		}
		d.row(r, widths, style, false, lineH, pad)
	}
	d.f.SetFont(font, "", 10)
	d.f.Ln(3)
}

// usable is the width between the margins, in millimetres.
func (d *Doc) usable() float64 {
	w, _ := d.f.GetPageSize()
	l, _, r, _ := d.f.GetMargins()
	return w - l - r
}

// fit sizes the columns to their content: each column gets its widest text (header in bold,
// cells in bold, the wider of the two fonts); when they do not fit the page, the widest
// column is narrowed down to the next widest, then both, until they fit (each keeps at least
// its longest word).
func (d *Doc) fit(header []string, rows [][]string, pad float64) []float64 {
	n := len(header)
	want, least := make([]float64, n), make([]float64, n)
	d.f.SetFont(font, "B", 9)
	measure := func(i int, s string) {
		// A hair more than the text: fpdf's line breaking rounds up.
		if w := d.f.GetStringWidth(s) + 2*pad + 0.5; w > want[i] {
			want[i] = w
		}
		for _, word := range strings.Fields(s) {
			if w := d.f.GetStringWidth(word) + 2*pad + 0.5; w > least[i] {
				least[i] = w
			}
		}
	}
	for i, h := range header {
		measure(i, h)
	}
	for _, r := range rows {
		for i := 0; i < n && i < len(r); i++ {
			measure(i, r[i])
		}
	}
	d.f.SetFont(font, "", 10)
	avail, sum := d.usable(), 0.0
	for _, w := range want {
		sum += w
	}
	for sum > avail+0.01 {
		// The widest column that can still give way narrows to the next widest (by a
		// millimetre at a time when two are as wide), never below its longest word.
		best, second := -1, 0.0
		for i := range want {
			if want[i] > least[i]+0.01 && (best < 0 || want[i] > want[best]) {
				best = i
			}
		}
		if best < 0 {
			break // every column at its longest word: the cells wrap within words
		}
		for i, w := range want {
			if i != best && w > second && w < want[best] {
				second = w
			}
		}
		target := math.Max(want[best]-(sum-avail), second)
		if target >= want[best]-0.01 || second == 0 {
			target = want[best] - math.Min(sum-avail, 1)
		}
		target = math.Max(target, least[best])
		sum -= want[best] - target
		want[best] = target
	}
	if sum > avail {
		for i := range want {
			want[i] *= avail / sum
		}
	}
	return want
}

// row writes one row of cells, each wrapped to its column; the row is as tall as its
// tallest cell, and starts on a new page when it would not fit on this one.
func (d *Doc) row(cells []string, widths []float64, style string, fill bool, lineH, pad float64) {
	d.f.SetFont(font, style, 9)
	lines := make([][]string, len(widths))
	h := 0.0
	for i := range widths {
		s := ""
		if i < len(cells) {
			s = cells[i]
		}
		lines[i] = d.f.SplitText(s, widths[i])
		if len(lines[i]) == 0 {
			lines[i] = []string{""}
		}
		h = math.Max(h, float64(len(lines[i]))*lineH+1.6)
	}
	_, pageH := d.f.GetPageSize()
	_, _, _, bottom := d.f.GetMargins()
	if d.f.GetY()+h > pageH-bottom {
		d.f.AddPage()
	}
	x0, y0 := d.f.GetXY()
	x := x0
	for i, w := range widths {
		style := "D"
		if fill {
			style = "FD"
		}
		d.f.Rect(x, y0, w, h, style)
		for j, l := range lines[i] {
			d.f.SetXY(x, y0+0.8+float64(j)*lineH)
			d.f.CellFormat(w, lineH, l, "", 0, "L", false, 0, "")
		}
		x += w
	}
	d.f.SetXY(x0, y0+h)
}

// Bytes returns the finished PDF.
func (d *Doc) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.f.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Space leaves mm millimetres of blank space before what comes next.
func (d *Doc) Space(mm float64) { d.f.Ln(mm) }
