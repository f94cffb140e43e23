package locales

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
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

// neverZero are the counted messages whose count cannot be 0, and why; every other counted
// message needs a zero form in every language.
var neverZero = map[string]string{
	"mail.closed_inactive.body":     "sent only when the tenant's inactivity rule is above 0 days",
	"mail.results.published.body":   "sent for one new result or more",
	"complaints.intro":              "complaints.answer_days is 1 at least",
	"account.login.throttled":       "the wait is rounded up to a minute at least",
	"results.home.free":             "results.retention_years is 1 at least",
	"results.mine.retention":        "results.retention_years is 1 at least",
	"results.export.kept":           "results.retention_years is 1 at least",
	"account.dependants.who":        "account.majority_age is 14 at least",
	"admin.credentials.intro":       "account.credential_change_notice_business_days is 1 at least",
	"mail.credential_password.body": "account.verification_hours is 1 at least",
}

// TestCountsHaveAZeroForm: issue 12.4, P4. French CLDR puts 0 in "one", so "Un compte attend."
// was shown when none waited. Every counted message that can count 0 has its own zero form in
// fr, pl and sk, and TN(id, 0) answers it.
func TestCountsHaveAZeroForm(t *testing.T) {
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Supported {
		names, _ := FileNames(Files, l)
		for _, name := range names {
			var part map[string]any
			if _, err := toml.DecodeFS(Files, name, &part); err != nil {
				t.Fatal(err)
			}
			for id, v := range part {
				if _, plural := v.(map[string]any); !plural {
					continue
				}
				if _, ok := neverZero[id]; ok {
					continue
				}
				if !b.HasZero(l, id) {
					t.Errorf("%s: %q counts and has no zero form (or add it to neverZero, with why)", l, id)
					continue
				}
				if got, one := b.For(l).TN(id, 0), b.For(l).TN(id, 1); got == one || strings.Contains(got, "0") {
					t.Errorf("%s: %q for 0 is %q", l, id, got)
				}
			}
		}
	}
	if got := b.For("fr").TN("results.staff.queue_count", 0); got != "Aucun compte n’attend." {
		t.Errorf("no account waiting, in French: %q", got)
	}
	if got := b.For("fr").TN("results.staff.queue_count", 1); got != "Un compte attend." {
		t.Errorf("one account waiting, in French: %q", got)
	}
}
