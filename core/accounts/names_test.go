package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
)

// TestRegistrationSplitsTheName: C3 — where the tenant's rule account.split_name is on,
// registration asks the first name and the last name: each is required and bounded, told
// next to its own field, nothing saved on an error; the profile keeps both as typed
// ("Anna Maria" stays the first name) and the account's name is made of them. With the rule
// off, the one name field is asked and the profile holds no names.
func TestRegistrationSplitsTheName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		off, _, _, err := s.Register(ctx, tn, input("one@example.org"), nil, nil)
		if err != nil || off.Name != "Anna" || off.Profile[accounts.ProfileFirstName] != "" || off.Profile[accounts.ProfileLastName] != "" {
			t.Fatalf("rule off: %v %+v", err, off)
		}
		tn.Settings.Rules = map[string]any{accounts.RuleSplitName: true}
		in := input("anna@example.org")
		in.Name = ""
		in.FirstName, in.LastName = "  Anna   Maria ", ""
		_, _, _, err = s.Register(ctx, tn, in, nil, nil)
		var ferr form.Errors
		if !errors.As(err, &ferr) || ferr["last_name"] != "form.required" || ferr["first_name"] != "" || ferr["name"] != "" {
			t.Fatalf("no last name: %v", err)
		}
		in.LastName = strings.Repeat("ż", 101)
		if _, _, _, err = s.Register(ctx, tn, in, nil, nil); !errors.As(err, &ferr) || ferr["last_name"] != "form.too_long" {
			t.Fatalf("a last name too long: %v", err)
		}
		if _, err := s.ByEmail(ctx, tn.ID, "anna@example.org"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("an invalid registration saved an account: %v", err)
		}
		in.LastName = "Kowalska-Nowak"
		u, _, _, err := s.Register(ctx, tn, in, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ByEmail(ctx, tn.ID, "anna@example.org")
		if err != nil || got.ID != u.ID {
			t.Fatal(err)
		}
		if got.Name != "Anna Maria Kowalska-Nowak" || got.Profile[accounts.ProfileFirstName] != "Anna Maria" ||
			got.Profile[accounts.ProfileLastName] != "Kowalska-Nowak" {
			t.Fatalf("stored: %q %v", got.Name, got.Profile)
		}
	})
}
