// Package textfold compares what people type regardless of case, accents and spacing: a
// secret answer read out on the phone, a name typed without its accents.
package textfold

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Plain returns s trimmed, lower-cased, without accents (NFD, combining marks dropped) and
// with inner runs of spaces made one: "  Éléphant  Rose " is "elephant rose".
func Plain(s string) string {
	// A chain holds state: one per call, so that Plain is safe for concurrent use.
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.Join(strings.Fields(strings.ToLower(out)), " ")
}
