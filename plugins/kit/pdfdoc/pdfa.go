package pdfdoc

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Archive is what makes a document a PDF/A-3b (ISO 19005-3, level B): its language, the
// files it carries as associated files (PDF/A-3 allows any file, each named in the catalog's
// /AF with its relationship to the document, e.g. an e-invoice's XML), and XMP metadata
// beyond the document's own (each an rdf:Description element, e.g. an extension schema and
// its properties). Fonts are embedded by New; an sRGB output intent is added here.
type Archive struct {
	Lang  string // BCP 47, e.g. "fr"
	Files []AttachedFile
	// XMP holds extra rdf:Description elements, written as they are inside rdf:RDF.
	XMP []string
}

// AttachedFile is a file a PDF/A-3 document carries.
type AttachedFile struct {
	Name         string // its file name, e.g. "factur-x.xml"
	Desc         string
	MIME         string // e.g. "text/xml"
	Relationship string // PDF/A-3 AFRelationship: Data, Source, Alternative, Supplement
	Content      []byte
	Modified     time.Time
}

// ArchiveBytes returns the finished document as a PDF/A-3b: fpdf's output rebuilt with the
// catalog's language, output intent (sRGB), XMP metadata (pdfaid part 3, conformance B, the
// same title, author, tool and dates as the document information), the attached files (in
// the catalog's /EmbeddedFiles and /AF) and a file identifier in the trailer.
func (d *Doc) ArchiveBytes(a Archive) ([]byte, error) {
	raw, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	objs, root, err := fpdfObjects(raw)
	if err != nil {
		return nil, err
	}
	pages := regexp.MustCompile(`/Pages (\d+) 0 R`).FindSubmatch(objs[root])
	if pages == nil {
		return nil, errors.New("pdfdoc: catalog without pages")
	}
	next := len(objs) // objs[0] is unused: object numbers start at 1
	add := func(body string) int {
		objs = append(objs, nil)
		n := next
		objs[n] = []byte(fmt.Sprintf("%d 0 obj\n%s\nendobj\n", n, body))
		next++
		return n
	}
	created := d.created.UTC()
	pdfDate := "D:" + created.Format("20060102150405") + "Z"

	// The sRGB output intent.
	icc := deflate(sRGBProfile())
	iccN := add(fmt.Sprintf("<< /N 3 /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(icc), icc))

	// The attached files.
	var specs, names []string
	for _, f := range a.Files {
		mod := f.Modified
		if mod.IsZero() {
			mod = created
		}
		sum := md5.Sum(f.Content)
		z := deflate(f.Content)
		ef := add(fmt.Sprintf("<< /Type /EmbeddedFile /Subtype /%s /Params << /ModDate (D:%sZ) /Size %d /CheckSum <%s> >> /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream",
			pdfName(f.MIME), mod.UTC().Format("20060102150405"), len(f.Content), hex.EncodeToString(sum[:]), len(z), z))
		rel := f.Relationship
		if rel == "" {
			rel = "Unspecified"
		}
		spec := add(fmt.Sprintf("<< /Type /Filespec /F %s /UF %s /Desc %s /AFRelationship /%s /EF << /F %d 0 R /UF %d 0 R >> >>",
			pdfText(f.Name), pdfText(f.Name), pdfText(f.Desc), pdfName(rel), ef, ef))
		specs = append(specs, fmt.Sprintf("%d 0 R", spec))
		names = append(names, fmt.Sprintf("%s %d 0 R", pdfText(f.Name), spec))
	}
	sort.Strings(names) // a name tree's keys in order

	// The metadata.
	xmp := d.xmp(a, created)
	meta := add(fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream", len(xmp), xmp))

	// The document information, with the same values as the metadata.
	objs[d.infoObj(objs)] = []byte(fmt.Sprintf("%d 0 obj\n<< /Title %s /Author %s /Creator %s /Producer %s /CreationDate (%s) /ModDate (%s) >>\nendobj\n",
		d.infoObj(objs), pdfText(d.title), pdfText(d.author), pdfText(creator), pdfText(producer), pdfDate, pdfDate))

	var cat strings.Builder
	fmt.Fprintf(&cat, "%d 0 obj\n<< /Type /Catalog /Pages %s 0 R /Metadata %d 0 R", root, pages[1], meta)
	if a.Lang != "" {
		fmt.Fprintf(&cat, " /Lang %s", pdfText(a.Lang))
	}
	fmt.Fprintf(&cat, "\n/OutputIntents [<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (sRGB IEC61966-2.1) /RegistryName (http://www.color.org) /Info (sRGB IEC61966-2.1) /DestOutputProfile %d 0 R >>]", iccN)
	if len(specs) > 0 {
		fmt.Fprintf(&cat, "\n/Names << /EmbeddedFiles << /Names [%s] >> >>\n/AF [%s]", strings.Join(names, " "), strings.Join(specs, " "))
	}
	cat.WriteString(" >>\nendobj\n")
	objs[root] = []byte(cat.String())

	// The file: header, objects, cross-reference table, trailer with the file's identifier.
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for n := 1; n < len(objs); n++ {
		offsets[n] = out.Len()
		out.Write(objs[n])
	}
	id := md5.Sum(out.Bytes())
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs))
	for n := 1; n < len(objs); n++ {
		fmt.Fprintf(&out, "%010d 00000 n \n", offsets[n])
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%x> <%x>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(objs), root, d.infoObj(objs), id, id, xref)
	return out.Bytes(), nil
}

const (
	creator  = "carenet platform"
	producer = "carenet platform (fpdf)"
)

// infoObj is the number of the document information object (fpdf writes it just before
// the output intents' streams and the catalog: found by its /Producer).
func (d *Doc) infoObj(objs [][]byte) int {
	if d.info == 0 {
		for n := 1; n < len(objs); n++ {
			if bytes.Contains(objs[n], []byte("/Producer")) && bytes.Contains(objs[n], []byte("/CreationDate")) {
				d.info = n
				break
			}
		}
	}
	return d.info
}

// fpdfObjects splits what fpdf wrote into its objects (index = object number, each from
// "n 0 obj" to "endobj"), with the catalog's number, using fpdf's cross-reference table.
func fpdfObjects(raw []byte) ([][]byte, int, error) {
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n?$`).FindSubmatch(raw)
	if m == nil {
		return nil, 0, errors.New("pdfdoc: no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if xref <= 0 || xref >= len(raw) {
		return nil, 0, errors.New("pdfdoc: bad startxref")
	}
	tail := string(raw[xref:])
	h := regexp.MustCompile(`^xref\n0 (\d+)\n`).FindStringSubmatch(tail)
	if h == nil {
		return nil, 0, errors.New("pdfdoc: no cross-reference table")
	}
	size, _ := strconv.Atoi(h[1])
	lines := strings.Split(tail[len(h[0]):], "\n")
	if len(lines) < size {
		return nil, 0, errors.New("pdfdoc: short cross-reference table")
	}
	offsets := make([]int, size)
	for n := 1; n < size; n++ {
		o, err := strconv.Atoi(strings.Fields(lines[n])[0])
		if err != nil {
			return nil, 0, err
		}
		offsets[n] = o
	}
	sorted := append([]int{xref}, offsets[1:]...)
	sort.Ints(sorted)
	objs := make([][]byte, size)
	for n := 1; n < size; n++ {
		i := sort.SearchInts(sorted, offsets[n])
		end := xref
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] > offsets[n] {
				end = sorted[j]
				break
			}
		}
		body := raw[offsets[n]:end]
		if !bytes.HasPrefix(body, []byte(strconv.Itoa(n)+" 0 obj")) {
			return nil, 0, fmt.Errorf("pdfdoc: object %d not where the table says", n)
		}
		objs[n] = body
	}
	r := regexp.MustCompile(`/Root (\d+) 0 R`).FindStringSubmatch(tail)
	if r == nil {
		return nil, 0, errors.New("pdfdoc: no root")
	}
	root, _ := strconv.Atoi(r[1])
	if root <= 0 || root >= size {
		return nil, 0, errors.New("pdfdoc: bad root")
	}
	return objs, root, nil
}

// xmp is the document's XMP packet: PDF/A identification, Dublin Core title, creator and
// language, the tool and dates, then a's own descriptions.
func (d *Doc) xmp(a Archive, created time.Time) string {
	esc := html.EscapeString
	date := created.Format("2006-01-02T15:04:05Z")
	var b strings.Builder
	b.WriteString("<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n")
	b.WriteString(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` + "\n")
	b.WriteString(`<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"><pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance></rdf:Description>` + "\n")
	fmt.Fprintf(&b, `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>application/pdf</dc:format><dc:title><rdf:Alt><rdf:li xml:lang="x-default">%s</rdf:li></rdf:Alt></dc:title><dc:creator><rdf:Seq><rdf:li>%s</rdf:li></rdf:Seq></dc:creator>`, esc(d.title), esc(d.author))
	if a.Lang != "" {
		fmt.Fprintf(&b, `<dc:language><rdf:Bag><rdf:li>%s</rdf:li></rdf:Bag></dc:language>`, esc(a.Lang))
	}
	b.WriteString("</rdf:Description>\n")
	fmt.Fprintf(&b, `<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:CreatorTool>%s</xmp:CreatorTool><xmp:CreateDate>%s</xmp:CreateDate><xmp:ModifyDate>%s</xmp:ModifyDate><xmp:MetadataDate>%s</xmp:MetadataDate></rdf:Description>`+"\n", esc(creator), date, date, date)
	fmt.Fprintf(&b, `<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"><pdf:Producer>%s</pdf:Producer></rdf:Description>`+"\n", esc(producer))
	for _, x := range a.XMP {
		b.WriteString(x)
		b.WriteString("\n")
	}
	b.WriteString("</rdf:RDF></x:xmpmeta>\n")
	b.WriteString(`<?xpacket end="w"?>`)
	return b.String()
}

// pdfText is a PDF text string: ASCII as a literal, anything else as UTF-16BE in hex.
func pdfText(s string) string {
	ascii := true
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
		return "(" + r.Replace(s) + ")"
	}
	u := utf16.Encode([]rune(s))
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, c := range u {
		fmt.Fprintf(&b, "%04X", c)
	}
	b.WriteString(">")
	return b.String()
}

// pdfName is a PDF name's characters (without its slash): "text/xml" is "text#2Fxml".
func pdfName(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < '!' || c > '~' || strings.IndexByte("#/()<>[]{}%", c) >= 0 {
			fmt.Fprintf(&b, "#%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func deflate(b []byte) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return z.Bytes()
}
