package pdfdoc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestArchiveIsPDFA3WithItsFile: ArchiveBytes gives a file that tools we did not write read
// as sound (qpdf --check), whose attached file comes back out as it went in (qpdf and
// poppler's pdfdetach), whose fonts are all embedded (pdffonts), whose catalog names the
// file in /AF with its relationship and has an sRGB output intent, and whose XMP metadata
// (well-formed for xmllint) declares PDF/A-3 level B with the document's title.
func TestArchiveIsPDFA3WithItsFile(t *testing.T) {
	for _, tool := range []string{"qpdf", "pdfdetach", "pdffonts", "xmllint"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	d := New("Facture n° F-2026-000001 — Zażółć", "Les Secrétaires", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	d.Heading("Facture — Kŕdeľ ďatľov", 14)
	d.Table([]string{"Désignation", "Montant"}, [][]string{{"Forfait", "89,00 €"}}, nil, false)
	xml := []byte(`<?xml version="1.0" encoding="UTF-8"?><a>é</a>`)
	b, err := d.ArchiveBytes(Archive{Lang: "fr", Files: []AttachedFile{{Name: "factur-x.xml", Desc: "Factur-X", MIME: "text/xml", Relationship: "Data", Content: xml}},
		XMP: []string{`<rdf:Description rdf:about="" xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"><fx:DocumentType>INVOICE</fx:DocumentType></rdf:Description>`}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "a.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	if out := run("qpdf", "--check", pdf); !strings.Contains(out, "No syntax or stream encoding errors") {
		t.Fatalf("qpdf --check:\n%s", out)
	}
	if got := run("qpdf", "--show-attachment=factur-x.xml", pdf); got != string(xml) {
		t.Fatalf("qpdf gives back %q", got)
	}
	run("pdfdetach", "-savefile", "factur-x.xml", "-o", filepath.Join(dir, "x.xml"), pdf)
	if got, _ := os.ReadFile(filepath.Join(dir, "x.xml")); !bytes.Equal(got, xml) {
		t.Fatalf("pdfdetach gives back %q", got)
	}
	fonts := run("pdffonts", pdf)
	lines := strings.Split(strings.TrimSpace(fonts), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no font:\n%s", fonts)
	}
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) < 5 || f[len(f)-5] != "yes" {
			t.Errorf("a font is not embedded: %s", l)
		}
	}
	js := run("qpdf", "--json", "--json-key=qpdf", pdf)
	for _, want := range []string{`"/AFRelationship": "/Data"`, `"/Subtype": "/text/xml"`, `"/S": "/GTS_PDFA1"`, `"/OutputConditionIdentifier": "u:sRGB IEC61966-2.1"`, `"/Lang": "u:fr"`, `"/AF": [`} {
		if !strings.Contains(strings.ToLower(js), strings.ToLower(want)) {
			t.Errorf("the objects lack %s", want)
		}
	}
	if !regexp.MustCompile(`"/ID": \[\s*"b:[0-9a-f]{32}",\s*"b:[0-9a-f]{32}"`).MatchString(run("qpdf", "--json", "--json-key=qpdf", pdf)) {
		t.Errorf("the trailer has no file identifier")
	}
	meta := regexp.MustCompile(`(?s)<\?xpacket begin.*?<\?xpacket end="w"\?>`).Find(b)
	if meta == nil {
		t.Fatal("no XMP packet")
	}
	if err := os.WriteFile(filepath.Join(dir, "m.xml"), meta, 0o600); err != nil {
		t.Fatal(err)
	}
	x := func(path string) string {
		return strings.TrimSpace(run("xmllint", "--xpath", path, filepath.Join(dir, "m.xml")))
	}
	if x("string(//*[local-name()='part'])") != "3" || x("string(//*[local-name()='conformance'])") != "B" {
		t.Error("the XMP does not declare PDF/A-3b")
	}
	if got := x("string(//*[local-name()='title']//*[local-name()='li'])"); got != "Facture n° F-2026-000001 — Zażółć" {
		t.Errorf("XMP title %q", got)
	}
	if x("string(//*[local-name()='DocumentType'])") != "INVOICE" {
		t.Error("the extra XMP description is missing")
	}
	if text := Text(t, b); !strings.Contains(text, "Kŕdeľ ďatľov") {
		t.Errorf("the page reads %q", text)
	}
}
