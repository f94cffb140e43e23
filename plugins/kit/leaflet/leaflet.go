// Package leaflet serves the Leaflet map library (1.9.4, the dist folder of its npm
// package, unchanged, BSD-2-Clause: dist/LICENSE) from the binary, for every module that
// draws a map (the calendar's directory, the e-shop's collection points), beside each
// module's own script and stylesheet.
package leaflet

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"carenet.dev/platform/plugins/kit"
)

//go:embed dist
var dist embed.FS

// types are the media types of the files served.
var types = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}

// File returns a file of Leaflet ("leaflet.js", "leaflet.css", "images/marker-icon.png")
// and its media type; ok is false for any other name.
func File(name string) (data []byte, contentType string, ok bool) {
	ct, known := types[path.Ext(name)]
	if !known || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, "", false
	}
	b, err := dist.ReadFile("dist/" + name)
	if err != nil {
		return nil, "", false
	}
	return b, ct, true
}

// Handler serves, on routes "…/{name}" and "…/{dir}/{name}", Leaflet's files and the
// module's own ones (own: its files at the root of the FS, only those named), cached for a
// year: their addresses carry the module's version.
func Handler(own fs.FS, ownNames ...string) kit.Handler {
	mine := map[string]bool{}
	for _, n := range ownNames {
		mine[n] = true
	}
	return func(c *kit.Ctx) error {
		name := c.Param("name")
		if dir := c.Param("dir"); dir != "" {
			if dir != "images" {
				return kit.ErrNotFound
			}
			name = "images/" + name
		}
		var b []byte
		var ct string
		if mine[name] {
			var ok bool
			if ct, ok = types[path.Ext(name)]; !ok {
				return kit.ErrNotFound
			}
			var err error
			if b, err = fs.ReadFile(own, name); err != nil {
				return kit.ErrNotFound
			}
		} else {
			var ok bool
			if b, ct, ok = File(name); !ok {
				return kit.ErrNotFound
			}
		}
		h := c.W.Header()
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		c.W.WriteHeader(http.StatusOK)
		_, err := c.W.Write(b)
		return err
	}
}
