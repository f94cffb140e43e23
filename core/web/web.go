// Package web holds the core's page templates and static assets, embedded in the binary so
// that no front-end build step is needed. It has no Go logic.
package web

import "embed"

// Templates holds templates/layout.html, templates/partials/*.html, templates/pages/*.html.
//
//go:embed templates
var Templates embed.FS

// Static holds the stylesheet and other assets served under /static/.
//
//go:embed static
var Static embed.FS
