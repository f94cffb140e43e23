package accounts_test

import (
	"context"
	"errors"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
)

// C3: a registration field of Type "national_id" (the calendar's) is checked by the core as
// the number of the tenant's country — a PESEL in Poland: a missing one, one of the wrong
// length, one whose check digit is wrong and one whose birth date cannot exist are each
// refused next to the field, nothing saved; a valid one is kept. In France the same field is
// a NIR: a PESEL is refused there, a NIR typed with spaces kept.
func TestRegistrationRefusesBadNationalID(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		tn.Settings.Country = "PL"
		extra := []accounts.Field{{Name: "pesel", LabelKey: "calendar.field.pesel", Type: "national_id", Required: true, MaxLen: 24}}
		for i, c := range []struct{ pesel, want string }{
			{"", "form.required"},
			{"8503021234", "form.natid.PL.invalid"},
			{"8503021234x", "form.natid.PL.invalid"},
			{"85030212345", "form.natid.PL.checksum"},
			{"85130212347", "form.natid.PL.date"},
		} {
			in := input("p@example.org")
			in.Extra = map[string]string{"pesel": c.pesel}
			_, _, _, err := s.Register(context.Background(), tn, in, extra, nil)
			var ferr form.Errors
			if !errors.As(err, &ferr) || ferr["pesel"] != c.want {
				t.Fatalf("case %d %q: %v, want %s", i, c.pesel, err, c.want)
			}
		}
		if _, err := s.ByEmail(context.Background(), tn.ID, "p@example.org"); err == nil {
			t.Fatal("a refused registration saved an account")
		}
		in := input("p@example.org")
		in.BirthDate = "1985-03-02" // E2: the date the number encodes
		in.Extra = map[string]string{"pesel": " 85030212344 "}
		u, _, _, err := s.Register(context.Background(), tn, in, extra, nil)
		if err != nil || u.Profile["pesel"] != "85030212344" {
			t.Fatalf("a valid PESEL: %v %+v", err, u)
		}
		tn.Settings.Country = "FR"
		in = input("q@example.org")
		in.Extra = map[string]string{"pesel": "85030212344"}
		if _, _, _, err := s.Register(context.Background(), tn, in, extra, nil); err == nil {
			t.Fatal("a PESEL passed as a French NIR")
		}
		in = input("q@example.org")
		in.BirthDate = "1969-05-20" // E2: the NIR encodes the year and month
		in.Extra = map[string]string{"pesel": "2 69 05 49 588 157 80"}
		if u, _, _, err := s.Register(context.Background(), tn, in, extra, nil); err != nil || u.Profile["pesel"] != "269054958815780" {
			t.Fatalf("a valid NIR: %v %+v", err, u)
		}
	})
}
