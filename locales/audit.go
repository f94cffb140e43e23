package locales

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var placeholderRe = regexp.MustCompile(`\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// AuditWhat names in words what an audit record of action was about, from the words its
// detail recorded when it happened (issue 12.5): the message "audit.what.<action>" (the
// core's, or the module's in its locale file) filled with the detail, where a value under a
// key ending in "_date" ("2006-01-02") is written as the language writes dates. It is ""
// when the language has no such message or the record lacks one of the words it names
// (a record older than its message): never a placeholder, never an identifier.
func (l *Localizer) AuditWhat(action string, detail map[string]any) string {
	id := "audit.what." + action
	if !l.Has(id) {
		return ""
	}
	var kv []any
	for _, m := range placeholderRe.FindAllStringSubmatch(l.Raw(id), -1) {
		v, ok := detail[m[1]]
		s := strings.TrimSpace(fmt.Sprint(v))
		if !ok || v == nil || s == "" {
			return ""
		}
		if strings.HasSuffix(m[1], "_date") {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return ""
			}
			s = FormatDate(l.Lang, d, nil)
		}
		kv = append(kv, m[1], s)
	}
	return l.T(id, kv...)
}
