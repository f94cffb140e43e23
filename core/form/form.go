// Package form carries validation results from the domain packages to the pages: for each
// field, the message key of what is wrong with it. It holds no translation and no HTTP.
package form

import (
	"sort"
	"strings"

	"carenet.dev/platform/plugins/kit/input"
)

// Errors maps a field name to the message key explaining what is wrong with it.
// It is an error when it is not empty.
type Errors map[string]string

// Add records key for field unless the field already has an error.
func (e Errors) Add(field, key string) {
	if _, ok := e[field]; !ok {
		e[field] = key
	}
}

// Has reports whether field has an error.
func (e Errors) Has(field string) bool { _, ok := e[field]; return ok }

// Err returns nil when there is no error, else e as an error.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Error lists the failing fields and keys, for logs.
func (e Errors) Error() string {
	parts := make([]string, 0, len(e))
	for f, k := range e {
		parts = append(parts, f+": "+k)
	}
	sort.Strings(parts)
	return "invalid input: " + strings.Join(parts, "; ")
}

// Text checks every name and value of a submitted form or query (input.Check: no control
// character, valid UTF-8, no bidirectional override; line breaks only in the multi-line
// fields lines names): field → message key. Every page form and query of the core passes
// through it before its handler runs.
func Text(vals map[string][]string, lines input.Fields) Errors {
	return Errors(input.Values(vals, lines))
}
