package locales

import (
	"testing"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// TestFilledMessagesAsGoI18n: every message T answers without go-i18n (one form, no
// placeholder or only {{.Name}} ones) reads exactly as go-i18n writes it, with every value
// given, with one missing, and in every locale.
func TestFilledMessagesAsGoI18n(t *testing.T) {
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, l := range Supported {
		loc := b.For(l)
		for _, id := range b.IDs(l) {
			f, filled := b.filled[l][id]
			_, plain := b.plain[l][id]
			if !filled && !plain {
				continue
			}
			var kvs [][]any
			kvs = append(kvs, nil)
			if filled {
				all, some := []any{}, []any{}
				for i := 1; i < len(f); i += 2 {
					all = append(all, f[i], "<b>"+f[i]+" & 12</b>")
					if i > 1 {
						some = append(some, f[i], 42)
					}
				}
				kvs = append(kvs, all, some)
			}
			for _, kv := range kvs {
				data := map[string]any{}
				for i := 0; i+1 < len(kv); i += 2 {
					data[kv[i].(string)] = kv[i+1]
				}
				want, err := loc.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
				if err != nil {
					t.Fatalf("%s %s: %v", l, id, err)
				}
				if got := loc.T(id, kv...); got != want {
					t.Errorf("%s %s %v: %q, go-i18n writes %q", l, id, kv, got, want)
				}
				checked++
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d messages checked", checked)
	}
}
