package pdfdoc

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

// TestOutputIntentIsSRGB: the ICC profile of the output intent, taken out of the PDF by qpdf,
// is read by LittleCMS (transicc, Debian liblcms2-utils) as sRGB: converted to LittleCMS's
// own sRGB, pure red, mid grey and white come out as they went in, and white is L* 100.
func TestOutputIntentIsSRGB(t *testing.T) {
	for _, tool := range []string{"qpdf", "transicc"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("PLATFORM_TEST_EINVOICE") == "require" {
				t.Fatalf("%s is required (PLATFORM_TEST_EINVOICE=require): .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	d := New("t", "t", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	d.Text("x")
	b, err := d.ArchiveBytes(Archive{Lang: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "a.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qpdf", "--json", "--json-key=qpdf", "--json-stream-data=inline", pdf).Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		QPDF []json.RawMessage `json:"qpdf"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.QPDF) < 2 {
		t.Fatalf("qpdf json: %v", err)
	}
	var objs map[string]struct {
		Value  map[string]any `json:"value"`
		Stream *struct {
			Dict map[string]any `json:"dict"`
			Data []byte         `json:"data"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(doc.QPDF[1], &objs); err != nil {
		t.Fatal(err)
	}
	var intent string
	for _, o := range objs {
		if cat := o.Value; cat != nil && cat["/Type"] == "/Catalog" {
			ois, _ := cat["/OutputIntents"].([]any)
			if len(ois) != 1 {
				t.Fatalf("catalog output intents: %v", cat["/OutputIntents"])
			}
			oi, _ := ois[0].(map[string]any)
			if oi["/S"] != "/GTS_PDFA1" {
				t.Errorf("output intent %v", oi)
			}
			intent, _ = oi["/DestOutputProfile"].(string)
		}
	}
	o, ok := objs["obj:"+intent]
	if !ok || o.Stream == nil {
		t.Fatalf("no output profile stream %q", intent)
	}
	icc := filepath.Join(dir, "p.icc")
	if err := os.WriteFile(icc, o.Stream.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	conv := func(to string, rgb string) []float64 {
		t.Helper()
		cmd := exec.Command("transicc", "-i"+icc, "-o"+to, "-n")
		cmd.Stdin = strings.NewReader(strings.ReplaceAll(rgb, " ", "\n") + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("transicc: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var v []float64
		for _, f := range strings.Fields(lines[len(lines)-1]) {
			x, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("transicc says %q", out)
			}
			v = append(v, x)
		}
		return v
	}
	near := func(got []float64, want ...float64) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 0.6 {
				return false
			}
		}
		return true
	}
	for _, rgb := range []string{"255 0 0", "0 255 0", "0 0 255", "128 128 128", "255 255 255"} {
		var want []float64
		for _, f := range strings.Fields(rgb) {
			x, _ := strconv.ParseFloat(f, 64)
			want = append(want, x)
		}
		if got := conv("*sRGB", rgb); !near(got, want...) {
			t.Errorf("%s through the profile is %v in sRGB", rgb, got)
		}
	}
	if got := conv("*Lab", "255 255 255"); !near(got, 100, 0, 0) {
		t.Errorf("white is %v in L*a*b*", got)
	}
}
