// Package upload decides what an uploaded file really is, for the core and the modules
// alike: one function (Check) says whether the bytes are a PDF that parses, a PNG or JPEG
// image that decodes, and nothing else (no SVG, no HTML, no text a browser could take for
// markup, nothing a browser would run). A stored file is named by what it is (a server-chosen name with the
// extension of its detected type); the name the person gave is kept at most as display
// metadata, cleaned by DisplayName, and never used as a path or a served type. Serve sets the
// headers a stored file is sent with. It imports nothing of the core.
package upload

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func init() {
	// pdfcpu would otherwise read and write a configuration directory under the user's home:
	// validation needs none.
	model.ConfigPath = "disable"
}

// Kind is a type of file the platform accepts.
type Kind struct {
	// ContentType is the type a stored file of this kind is served with.
	ContentType string
	// Ext is the extension of a stored file's name, with its dot.
	Ext string
}

// The kinds of files the platform accepts.
var (
	PDF  = Kind{"application/pdf", ".pdf"}
	PNG  = Kind{"image/png", ".png"}
	JPEG = Kind{"image/jpeg", ".jpg"}
)

// Kinds lists every kind by its content type without parameters (as tenant rules name them).
var Kinds = map[string]Kind{"application/pdf": PDF, "image/png": PNG, "image/jpeg": JPEG}

// Errors of Check; the caller shows a localized sentence next to the field.
var (
	ErrEmpty = errors.New("upload: empty file")
	// ErrType: the bytes are none of the allowed kinds (or claim to be one and are not).
	ErrType = errors.New("upload: not an accepted type of file")
)

// Check says which of the allowed kinds data is, by parsing it: a PDF must be read and
// validated by pdfcpu and have a page, an image must decode entirely with Go's decoder. The
// browser's or the sender's claimed type and the file name play no part.
func Check(data []byte, allowed ...Kind) (Kind, error) {
	if len(data) == 0 {
		return Kind{}, ErrEmpty
	}
	for _, k := range allowed {
		var ok bool
		switch k {
		case PDF:
			ok = isPDF(data)
		case PNG:
			ok = bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) && decodes(func() error { _, err := png.Decode(bytes.NewReader(data)); return err })
		case JPEG:
			ok = bytes.HasPrefix(data, []byte("\xff\xd8\xff")) && decodes(func() error { _, err := jpeg.Decode(bytes.NewReader(data)); return err })
		}
		if ok {
			return k, nil
		}
	}
	return Kind{}, ErrType
}

func decodes(f func() error) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f() == nil
}

func isPDF(data []byte) (ok bool) {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return false
	}
	defer func() {
		if recover() != nil { // a parser's panic on hostile input is a refusal, not a crash
			ok = false
		}
	}()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadContext(bytes.NewReader(data), conf)
	if err != nil {
		return false
	}
	if err := api.ValidateContext(ctx); err != nil {
		return false
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return false
	}
	return ctx.PageCount > 0
}

// DisplayName cleans the name a person gave a file into display metadata: the last path
// element only, without control or format characters, quotes or slashes, at most 100
// characters. It is shown and offered as a download name, never used as a path.
func DisplayName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		case r == '"' || r == '/' || r == '\\' || r == ':' || r == '<' || r == '>' || r == '|' || r == '*' || r == '?':
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(strings.TrimSpace(name), ".")
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	return name
}

// StoredName is the name a stored file is given: the server's id with the extension of its
// detected kind.
func StoredName(id string, k Kind) string { return id + k.Ext }

// DownloadName is the name offered for download: the cleaned display name with its
// extension replaced by the detected kind's (a "report.html" that is a PDF downloads as
// "report.pdf"), or fallback when none is left.
func DownloadName(display, fallback string, k Kind) string {
	name := DisplayName(display)
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if name == "" {
		name = fallback
	}
	return name + k.Ext
}

// Serve sets the headers of a stored file sent to a browser: the detected type, no sniffing,
// a download (a PDF may be shown inline), a policy under which nothing in it runs, and the
// download name in both ASCII and UTF-8 forms.
func Serve(set func(key, value string), k Kind, name string, inline bool) {
	set("Content-Type", k.ContentType)
	set("X-Content-Type-Options", "nosniff")
	disp := "attachment"
	if inline && k == PDF {
		disp = "inline"
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); v != "" {
		set("Content-Disposition", v)
	} else {
		set("Content-Disposition", fmt.Sprintf("%s; filename=%q", disp, asciiName(name)))
	}
	if disp == "inline" {
		// The browser's PDF viewer does not run in a sandboxed document; a PDF has nothing to
		// load from anywhere, and may be framed only by the platform's own pages.
		set("Content-Security-Policy", "default-src 'none'; object-src 'self'; frame-ancestors 'self'")
		return
	}
	set("Content-Security-Policy", "default-src 'none'; sandbox; frame-ancestors 'none'")
}

// Of returns the kind of a stored content type (with or without parameters), or false.
func Of(contentType string) (Kind, bool) {
	t, _, _ := strings.Cut(contentType, ";")
	k, ok := Kinds[strings.TrimSpace(strings.ToLower(t))]
	return k, ok
}

func asciiName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}
