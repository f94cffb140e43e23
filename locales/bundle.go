package locales

import (
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Bundle holds every message of every locale (go-i18n, CLDR plural rules). The core and
// every module load it from the embedded files.
type Bundle struct {
	b   *goi18n.Bundle
	ids map[string]map[string]bool // locale → message ids
	raw map[string]map[string]string
	// plain holds, per locale, the messages that are the same whatever they are given (one
	// form, no placeholder): T answers them without go-i18n's work.
	plain map[string]map[string]string
	// filled holds the messages of one form whose placeholders are all {{.Name}}: T fills
	// them in itself (TestFilledMessagesAsGoI18n holds it to go-i18n's output).
	filled map[string]map[string]filling
	// zero holds, per locale, the zero form of counted messages: CLDR gives many languages no
	// category for 0 (French puts it in "one": "Un compte attend."), so TN(id, 0) takes the
	// message's own zero form when it has one ("Aucun compte n’attend.").
	zero map[string]map[string]string

	mu      sync.Mutex
	missing map[string]bool
	locs    map[string]*Localizer
}

// Load reads the embedded message files.
func Load() (*Bundle, error) { return LoadFS(Files) }

// LoadFS reads <locale>.toml for every supported locale from fsys.
func LoadFS(fsys fs.FS) (*Bundle, error) {
	b := goi18n.NewBundle(language.French)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	out := &Bundle{b: b, ids: map[string]map[string]bool{}, raw: map[string]map[string]string{}, plain: map[string]map[string]string{}, filled: map[string]map[string]filling{},
		zero: map[string]map[string]string{}, missing: map[string]bool{}, locs: map[string]*Localizer{}}
	for _, l := range Supported {
		out.ids[l] = map[string]bool{}
		out.raw[l] = map[string]string{}
		out.plain[l] = map[string]string{}
		out.filled[l] = map[string]filling{}
		out.zero[l] = map[string]string{}
		names, err := FileNames(fsys, l)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("locale %s: %w", l, err)
			}
			mf, err := b.ParseMessageFileBytes(data, name)
			if err != nil {
				return nil, fmt.Errorf("locale %s: %w", l, err)
			}
			for _, m := range mf.Messages {
				if out.ids[l][m.ID] {
					return nil, fmt.Errorf("locale %s: %q is in two files", l, m.ID)
				}
				out.ids[l][m.ID] = true
				out.raw[l][m.ID] = m.Other
				if m.Zero != "" {
					out.zero[l][m.ID] = m.Zero
				}
				if m.Zero == "" && m.One == "" && m.Two == "" && m.Few == "" && m.Many == "" && m.LeftDelim == "" {
					if !strings.Contains(m.Other, "{{") {
						out.plain[l][m.ID] = m.Other
					} else if f, ok := parseFilling(m.Other); ok {
						out.filled[l][m.ID] = f
					}
				}
			}
		}
	}
	return out, nil
}

// FileNames lists the message files of locale l in fsys: "<l>.toml" (the core's) and then
// every "<module>.<l>.toml" (a module's own messages), sorted.
func FileNames(fsys fs.FS, l string) ([]string, error) {
	more, err := fs.Glob(fsys, "*."+l+".toml")
	if err != nil {
		return nil, err
	}
	sort.Strings(more)
	return append([]string{l + ".toml"}, more...), nil
}

// IDs lists the message ids of a locale, sorted.
func (b *Bundle) IDs(locale string) []string {
	var out []string
	for id := range b.ids[locale] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Has reports whether locale has a message id.
func (b *Bundle) Has(locale, id string) bool { return b.ids[locale][id] }

// Missing lists the ids asked for that some locale lacks (tests assert it stays empty).
func (b *Bundle) Missing() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.missing {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Localizer translates into one language.
type Localizer struct {
	Lang   string
	bundle *Bundle
	l      *goi18n.Localizer
	plain  map[string]string
	filled map[string]filling
}

// For returns the localizer of lang (a supported locale).
func (b *Bundle) For(lang string) *Localizer {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.locs[lang]; ok {
		return l
	}
	l := &Localizer{Lang: lang, bundle: b, l: goi18n.NewLocalizer(b.b, lang), plain: b.plain[lang], filled: b.filled[lang]}
	b.locs[lang] = l
	return l
}

// T translates id with optional template data given as key/value pairs.
func (l *Localizer) T(id string, kv ...any) string { return l.tr(id, nil, kv) }

// TN translates id in the plural form CLDR gives for n in this language; n is also passed
// to the message as {{.Count}}.
func (l *Localizer) TN(id string, n int, kv ...any) string { return l.tr(id, n, kv) }

func (l *Localizer) tr(id string, count any, kv []any) string {
	if count == nil {
		if s, ok := l.plain[id]; ok {
			return s
		}
		if f, ok := l.filled[id]; ok {
			if s, ok := f.fill(kv); ok {
				return s
			}
		}
	}
	data := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[fmt.Sprint(kv[i])] = kv[i+1]
	}
	if count != nil {
		data["Count"] = count
		if n, ok := count.(int); ok && n == 0 {
			if z, ok := l.bundle.zero[l.Lang][id]; ok {
				return fillZero(z, data)
			}
		}
	}
	if !l.bundle.ids[l.Lang][id] {
		l.bundle.mu.Lock()
		l.bundle.missing[l.Lang+":"+id] = true
		l.bundle.mu.Unlock()
		slog.Warn("missing message", "locale", l.Lang, "id", id)
		return id
	}
	s, err := l.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		slog.Warn("localize", "locale", l.Lang, "id", id, "err", err)
		return id
	}
	return s
}

// Raw returns a message's source text (its "other" form), placeholders unfilled.
func (l *Localizer) Raw(id string) string {
	if m, ok := l.bundle.raw[l.Lang][id]; ok {
		return m
	}
	return ""
}

// Has reports whether this language has a message id.
func (l *Localizer) Has(id string) bool { return l.bundle.ids[l.Lang][id] }

// filling is a message cut at its placeholders: text, name, text, name, …, text.
type filling []string

var placeholder = regexp.MustCompile(`\{\{\.([A-Za-z][A-Za-z0-9_]*)\}\}`)

// parseFilling cuts text at its placeholders when every one is {{.Name}}.
func parseFilling(text string) (filling, bool) {
	var f filling
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(text, -1) {
		f = append(f, text[last:m[0]], text[m[2]:m[3]])
		last = m[1]
	}
	f = append(f, text[last:])
	for i := 0; i < len(f); i += 2 {
		if strings.Contains(f[i], "{{") || strings.Contains(f[i], "}}") {
			return nil, false
		}
	}
	return f, true
}

// fill puts the values of kv (name, value, name, value…) in the placeholders, printed the way
// a Go template prints them; it declines a value other than a string or a number.
func (f filling) fill(kv []any) (string, bool) {
	var b strings.Builder
	for i, part := range f {
		if i%2 == 0 {
			b.WriteString(part)
			continue
		}
		var v any // a name not given prints as a template prints a missing key
		for j := 0; j+1 < len(kv); j += 2 {
			if k, ok := kv[j].(string); ok && k == part {
				v = kv[j+1]
			}
		}
		switch v := v.(type) {
		case nil:
			b.WriteString("<no value>")
		case string:
			b.WriteString(v)
		case int, int64, int32, uint, uint64, float64:
			fmt.Fprint(&b, v)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// HasZero reports whether a counted message has its own zero form in locale.
func (b *Bundle) HasZero(locale, id string) bool { _, ok := b.zero[locale][id]; return ok }

// fillZero fills a zero form's {{.Name}} placeholders; a form that is no such simple text
// comes back as it is.
func fillZero(z string, data map[string]any) string {
	if !strings.Contains(z, "{{") {
		return z
	}
	f, ok := parseFilling(z)
	if !ok {
		return z
	}
	var kv []any
	for k, v := range data {
		kv = append(kv, k, v)
	}
	if s, ok := f.fill(kv); ok {
		return s
	}
	return z
}
