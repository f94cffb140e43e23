package natid

import (
	"errors"
	"testing"
	"time"
)

// C3, C5, C6: each country's number is checked by its own rule, and the birth date it gives
// decides whether its holder is an adult.
func TestNationalNumbers(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		country, in string
		want        error
		number      string
		born        string
	}{
		{"PL", "44051401359", nil, "44051401359", "1944-05-14"},
		{"PL", "44051401358", ErrChecksum, "", ""},
		{"PL", "4405140135", ErrFormat, "", ""},
		// The NIR of the INSEE's own example, typed with spaces; Corsica's 2A.
		{"FR", "2 69 05 49 588 157 80", nil, "269054958815780", "1969-05-31"},
		{"FR", "2 69 05 49 588 157 81", ErrChecksum, "", ""},
		{"FR", "1 85 05 2A 006 123 93", nil, "185052A00612393", "1985-05-31"},
		{"FR", "1 85 05 75 006 123 36", nil, "185057500612336", "1985-05-31"},
		{"FR", "5 85 05 75 006 123 36", ErrFormat, "", ""},
		{"FR", "1850575", ErrFormat, "", ""},
		// A woman born on 1 January 1985 (month + 50); a number of 2004.
		{"SK", "855101/1238", nil, "8551011238", "1985-01-01"},
		{"SK", "8551011234", ErrChecksum, "", ""},
		{"SK", "0451016786", nil, "0451016786", "2004-01-01"},
		{"SK", "8513011232", ErrDate, "", ""},
		{"DE", "123", ErrCountry, "", ""},
	}
	for _, c := range cases {
		id, err := Parse(c.country, c.in, now)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s %q: error %v, want %v", c.country, c.in, err, c.want)
			continue
		}
		if c.want != nil {
			continue
		}
		if id.Number != c.number || id.Born.Format(time.DateOnly) != c.born {
			t.Errorf("%s %q: %s born %s, want %s born %s", c.country, c.in, id.Number, id.Born.Format(time.DateOnly), c.number, c.born)
		}
	}
	// A NIR gives the month only: its holder is counted 18 from the month's last day on.
	young, _ := Parse("FR", "1 08 11 75 006 123 "+key("1081175006123"), now)
	if a := AgeOn(young.Born, now); a != 17 {
		t.Errorf("born in November 2008, on 25 November 2026: age %d, want 17 (the month's end counts)", a)
	}
}

func key(body string) string {
	var v uint64
	for _, r := range body {
		v = v*10 + uint64(r-'0')
	}
	k := 97 - v%97
	return string([]byte{byte('0' + k/10), byte('0' + k%10)})
}

// TestSexEncoded (E2): the sex each country's number encodes — a Slovak woman's month raised
// by 50, the PESEL's tenth digit, the NIR's first.
func TestSexEncoded(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ country, number, sex string }{
		{"SK", "8001010006", "male"}, {"SK", "8051010000", "female"},
		{"PL", "02070803628", "female"},
	} {
		id, err := Parse(c.country, c.number, now)
		if err != nil || id.Sex != c.sex {
			t.Errorf("%s %s: %q %v, want %s", c.country, c.number, id.Sex, err, c.sex)
		}
	}
}
