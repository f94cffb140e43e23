package locales

import (
	"fmt"
	"io/fs"
	"log/slog"
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
	out := &Bundle{b: b, ids: map[string]map[string]bool{}, raw: map[string]map[string]string{}, plain: map[string]map[string]string{}, missing: map[string]bool{}, locs: map[string]*Localizer{}}
	for _, l := range Supported {
		out.ids[l] = map[string]bool{}
		out.raw[l] = map[string]string{}
		out.plain[l] = map[string]string{}
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
				if m.Zero == "" && m.One == "" && m.Two == "" && m.Few == "" && m.Many == "" && m.LeftDelim == "" && !strings.Contains(m.Other, "{{") {
					out.plain[l][m.ID] = m.Other
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
}

// For returns the localizer of lang (a supported locale).
func (b *Bundle) For(lang string) *Localizer {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.locs[lang]; ok {
		return l
	}
	l := &Localizer{Lang: lang, bundle: b, l: goi18n.NewLocalizer(b.b, lang), plain: b.plain[lang]}
	b.locs[lang] = l
	return l
}

// T translates id with optional template data given as key/value pairs.
func (l *Localizer) T(id string, kv ...any) string { return l.tr(id, nil, kv) }

// TN translates id in the plural form CLDR gives for n in this language; n is also passed
// to the message as {{.Count}}.
func (l *Localizer) TN(id string, n int, kv ...any) string { return l.tr(id, n, kv) }

func (l *Localizer) tr(id string, count any, kv []any) string {
	if s, ok := l.plain[id]; ok && count == nil {
		return s
	}
	data := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[fmt.Sprint(kv[i])] = kv[i+1]
	}
	if count != nil {
		data["Count"] = count
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
