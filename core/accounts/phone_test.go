package accounts_test

import (
	"testing"

	"carenet.dev/platform/core/accounts"
)

// TestNormalizeMobile: mobile numbers of the tenants' countries, typed the local way or
// with their country code, come out in E.164; a landline or what is no number gets its
// message key (issue 11.15, P7).
func TestNormalizeMobile(t *testing.T) {
	for _, c := range []struct{ raw, region, want, key string }{
		{"06 12 34 56 78", "FR", "+33612345678", ""},
		{"+33 6 12 34 56 78", "PL", "+33612345678", ""},
		{"512 345 678", "PL", "+48512345678", ""},
		{"0912 345 678", "SK", "+421912345678", ""},
		{"00421 912 345 678", "FR", "+421912345678", ""},
		{"01 42 68 53 00", "FR", "", "form.phone.not_mobile"},
		{"22 123 45 67", "PL", "", "form.phone.not_mobile"},
		{"12", "FR", "", "form.phone.invalid"},
		{"abc", "SK", "", "form.phone.invalid"},
		{"", "FR", "", "form.phone.invalid"},
	} {
		got, key := accounts.NormalizeMobile(c.raw, c.region)
		if got != c.want || key != c.key {
			t.Errorf("%q in %s: %q %q, want %q %q", c.raw, c.region, got, key, c.want, c.key)
		}
	}
}
