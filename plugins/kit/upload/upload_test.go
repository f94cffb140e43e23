package upload

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// RealPDF is a one-page PDF written by pdfdoc.
func realPDF(t *testing.T) []byte {
	t.Helper()
	d := pdfdoc.New("Test", "Test", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	d.Text("Ferritine 12 µg/L")
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func realPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func realJPEG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCheckAcceptsOnlyWhatTheBytesAre: a PDF must parse, an image must decode, text must be
// text; an SVG with a script, HTML behind a "%PDF-" header, a truncated PNG and markup
// disguised as text are refused, whatever their name (issue 11.9, P11/C security of uploads).
func TestCheckAcceptsOnlyWhatTheBytesAre(t *testing.T) {
	all := []Kind{PDF, PNG, JPEG}
	pdf, pngb, jpg := realPDF(t), realPNG(t), realJPEG(t)
	good := map[string]struct {
		data []byte
		want Kind
	}{
		"pdf":  {pdf, PDF},
		"png":  {pngb, PNG},
		"jpeg": {jpg, JPEG},
	}
	for name, c := range good {
		k, err := Check(c.data, all...)
		if err != nil || k != c.want {
			t.Errorf("%s: got %v, %v; want %v", name, k, err, c.want)
		}
	}
	bad := map[string][]byte{
		"svg with script":     []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`),
		"xml svg":             []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`),
		"html after %PDF-":    []byte("%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>"),
		"fake pdf skeleton":   []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
		"html":                []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"),
		"truncated png":       pngb[:len(pngb)/2],
		"png header and html": append([]byte("\x89PNG\r\n\x1a\n"), []byte("<script>alert(1)</script>")...),
		"jpeg header only":    []byte("\xff\xd8\xff\xe0<script>alert(1)</script>"),
		"binary":              {0, 1, 2, 3, 0xff, 0xfe},
		"plain text":          []byte("Bonjour, <b>"),
		"empty":               {},
	}
	for name, data := range bad {
		if k, err := Check(data, all...); err == nil {
			t.Errorf("%s: accepted as %v", name, k)
		}
	}
	// A PDF is not an image where only images are allowed.
	if _, err := Check(pdf, PNG, JPEG); err == nil {
		t.Error("a PDF was accepted as an image")
	}
}

// TestNamesAndHeaders: the person's file name is display metadata only; a stored file is
// served with its detected type, nosniff, as a download (inline only for a PDF) and under a
// policy that runs nothing (issue 11.9).
func TestNamesAndHeaders(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":            "passwd",
		`C:\Users\x\evil.svg`:         "evil.svg",
		"a\"b\r\nContent-Type: x.pdf": "a_bContent-Type_ x.pdf",
		"\u202eexe.pdf":               "exe.pdf",
		"compte-rendu Durand é.pdf":   "compte-rendu Durand é.pdf",
		"...":                         "",
	} {
		if got := DisplayName(in); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := DownloadName("rapport.html", "fichier", PDF); got != "rapport.pdf" {
		t.Errorf("DownloadName = %q", got)
	}
	if got := DownloadName("", "fichier", PNG); got != "fichier.png" {
		t.Errorf("DownloadName = %q", got)
	}
	h := http.Header{}
	Serve(h.Set, PNG, "logo é.png", true)
	if h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Content-Disposition") != `attachment; filename*=utf-8''logo%20%C3%A9.png` ||
		h.Get("Content-Security-Policy") != "default-src 'none'; sandbox; frame-ancestors 'none'" {
		t.Errorf("image headers: %v", h)
	}
	h = http.Header{}
	Serve(h.Set, PDF, "cr.pdf", true)
	if h.Get("Content-Type") != "application/pdf" || h.Get("Content-Disposition") != `inline; filename=cr.pdf` ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") == "" {
		t.Errorf("pdf headers: %v", h)
	}
}
