package phone

import (
	"errors"
	"testing"
)

// C3, C5, C6 (issue 13.3): mobile numbers as Polish, French and Slovak patients type them,
// in national or international form, come back in E.164.
func TestMobileAccepts(t *testing.T) {
	cases := []struct{ in, region, want string }{
		{"+48 512 345 678", "PL", "+48512345678"},
		{"512-345-678", "PL", "+48512345678"},
		{"0048 601 234 567", "PL", "+48601234567"},
		{"(+48) 791 234 567", "pl", "+48791234567"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"07.81.23.45.67", "FR", "+33781234567"},
		{"+33 6 12 34 56 78", "FR", "+33612345678"},
		{"0905 123 456", "SK", "+421905123456"},
		{"+421 949 123 456", "SK", "+421949123456"},
		// A French mobile given on a Polish tenant, with its country code.
		{"+33 6 12 34 56 78", "PL", "+33612345678"},
		// Written with the country code, the region does not matter.
		{"+421905123456", "", "+421905123456"},
	}
	for _, c := range cases {
		got, err := Mobile(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("Mobile(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
}

// C3, C5, C6 (issue 13.3): landlines and service numbers are refused as not mobile, so the
// SMS reminder (C7) has a phone to reach; malformed numbers are refused as invalid.
func TestMobileRefuses(t *testing.T) {
	cases := []struct {
		in, region string
		want       Error
	}{
		{"+48 22 123 45 67", "PL", ErrNotMobile}, // Warsaw landline
		{"12 345 67 89", "PL", ErrNotMobile},     // Kraków landline
		{"01 42 68 53 00", "FR", ErrNotMobile},   // Paris landline
		{"0800 123 456", "FR", ErrNotMobile},     // toll-free
		{"02 5930 1111", "SK", ErrNotMobile},     // Bratislava landline
		{"055 123 4567", "SK", ErrNotMobile},     // Košice landline
		{"", "PL", ErrInvalid},
		{"abc", "PL", ErrInvalid},
		{"123", "PL", ErrInvalid},
		{"+48 512 345", "PL", ErrInvalid},      // too short
		{"+48 512 345 6789", "PL", ErrInvalid}, // too long
		{"06 12 34 56 78", "PL", ErrInvalid},   // a French national number is no Polish one
		{"512 345 678", "", ErrInvalid},        // national form without a region
		{"512 345 678", "XX", ErrInvalid},      // unknown region
		{"+48 512 345 678 ext. 12", "PL", ErrInvalid},
	}
	for _, c := range cases {
		got, err := Mobile(c.in, c.region)
		if !errors.Is(err, c.want) || got != "" {
			t.Errorf("Mobile(%q, %q) = %q, %v; want %v", c.in, c.region, got, err, c.want)
		}
	}
	if ErrInvalid.Error() == ErrNotMobile.Error() {
		t.Error("the two refusals read the same in logs")
	}
}

// C5, C6 (issue 13.3): whatever is typed, Mobile never panics and returns either an E.164
// number or a typed refusal.
func FuzzMobile(f *testing.F) {
	for _, s := range []string{"+48 512 345 678", "06 12 34 56 78", "0905 123 456", "", "+", "++48"} {
		f.Add(s, "PL")
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		got, err := Mobile(s, region)
		if err != nil {
			var typed Error
			if !errors.As(err, &typed) || got != "" {
				t.Fatalf("Mobile(%q, %q) = %q, %v", s, region, got, err)
			}
			return
		}
		if len(got) < 8 || got[0] != '+' {
			t.Fatalf("Mobile(%q, %q) = %q: not E.164", s, region, got)
		}
		if again, err := Mobile(got, ""); err != nil || again != got {
			t.Fatalf("Mobile(%q) = %q, %v: E.164 does not read back", got, again, err)
		}
	})
}
