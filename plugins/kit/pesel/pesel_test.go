package pesel

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"
)

var today = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// withCheck completes ten digits with their check digit.
func withCheck(first10 string) string { return first10 + strconv.Itoa(CheckDigit(first10)) }

// C5, C6 (issue 13.3): published PESEL examples are read with their birth date and sex.
func TestParsePublishedExamples(t *testing.T) {
	cases := []struct {
		source, number string
		birth          time.Time
		sex            string
	}{
		// The Polish Ministry of the Interior's description of the check digit
		// (mswia.gov.pl, "Sposób obliczania liczby kontrolnej w numerze ewidencyjnym PESEL"):
		// "0207080362" + 8, a woman born on 8 July 1902.
		{"MSWiA", "02070803628", date(1902, time.July, 8), Female},
		// English Wikipedia, article "PESEL", section "Checksum calculation": a man born on
		// 14 May 1944.
		{"Wikipedia", "44051401359", date(1944, time.May, 14), Male},
	}
	for _, c := range cases {
		p, err := Parse(c.number, today)
		if err != nil {
			t.Fatalf("%s example %s: %v", c.source, c.number, err)
		}
		if !p.BirthDate.Equal(c.birth) || p.Sex != c.sex || p.Number != c.number {
			t.Errorf("%s example %s = %+v, want born %s, sex %s", c.source, c.number, p, c.birth, c.sex)
		}
	}
}

// C5, C6 (issue 13.3): every century the month encodes, checked on constructed numbers.
func TestParseCenturies(t *testing.T) {
	cases := []struct {
		first10 string
		birth   time.Time
	}{
		{"9981310001", date(1899, time.January, 31)}, // 1800s: month + 80
		{"9912310001", date(1999, time.December, 31)},
		{"0021010001", date(2000, time.January, 1)}, // 2000s: month + 20
		{"2431290002", date(2024, time.November, 29)},
		{"2631250002", date(2026, time.November, 25)}, // born today: accepted
	}
	for _, c := range cases {
		n := withCheck(c.first10)
		p, err := Parse(n, today)
		if err != nil {
			t.Errorf("Parse(%s): %v", n, err)
			continue
		}
		if !p.BirthDate.Equal(c.birth) {
			t.Errorf("Parse(%s) born %s, want %s", n, p.BirthDate, c.birth)
		}
	}
}

// C5, C6 (issue 13.3): each kind of wrong number is refused with its own error, so the form
// can say what is wrong.
func TestParseRefusals(t *testing.T) {
	cases := []struct {
		in   string
		want Error
	}{
		{"", ErrLength},
		{"4405140135", ErrLength},
		{"440514013599", ErrLength},
		{"4405140135a", ErrDigits},
		{"44051 01359", ErrDigits},
		{"４４０５１４０１３５９", ErrLength}, // full-width digits are not 11 bytes of ASCII
		{"-4405140135", ErrDigits},
		// MSWiA's own example of a mistake: the first two digits swapped.
		{"20070803628", ErrChecksum},
		{"44051401358", ErrChecksum},
		{"44051401395", ErrChecksum},       // two digits swapped
		{withCheck("0102290001"), ErrDate}, // 29 February 1901: not a leap year
		{withCheck("0004310001"), ErrDate}, // 31 April
		{withCheck("0013010001"), ErrDate}, // month 13
		{withCheck("0000010001"), ErrDate}, // month 0
		{withCheck("0001000001"), ErrDate}, // day 0
		{withCheck("0093010001"), ErrDate}, // encoded month 93
		{withCheck("2631260001"), ErrDate}, // tomorrow
		{withCheck("0041010001"), ErrDate}, // 2100: future
		{withCheck("0061010001"), ErrDate}, // 2200: future
	}
	for _, c := range cases {
		_, err := Parse(c.in, today)
		if !errors.Is(err, c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.in, err, c.want)
		}
		var typed Error
		if !errors.As(err, &typed) || typed.Error() == "" {
			t.Errorf("Parse(%q): error %v is not a pesel.Error", c.in, err)
		}
	}
	// 29 February of a leap year exists (2000, 1924); the 2100s and 2200s are read once they are past.
	for _, n := range []string{withCheck("0022290001"), withCheck("2402290001")} {
		if _, err := Parse(n, today); err != nil {
			t.Errorf("Parse(%s): %v", n, err)
		}
	}
	if p, err := Parse(withCheck("0141010001"), date(2201, 1, 2)); err != nil || !p.BirthDate.Equal(date(2101, 1, 1)) {
		t.Errorf("2101: %+v %v", p, err)
	}
	if p, err := Parse(withCheck("9972310001"), date(2300, 1, 1)); err != nil || !p.BirthDate.Equal(date(2299, 12, 31)) {
		t.Errorf("2299: %+v %v", p, err)
	}
	if p, err := Parse("  44051401359\n", today); err != nil || p.Number != "44051401359" {
		t.Errorf("surrounding spaces: %+v %v", p, err)
	}
}

// C6 (issue 13.3): "today" is the caller's calendar day in its own zone: a child born on
// 26 November in Warsaw is accepted at 00:30 Warsaw time, while it is still the 25th in UTC.
func TestParseTodayInCallersZone(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	n := withCheck("2631260001")
	if _, err := Parse(n, time.Date(2026, 11, 26, 0, 30, 0, 0, warsaw)); err != nil {
		t.Errorf("born today in Warsaw: %v", err)
	}
	if _, err := Parse(n, time.Date(2026, 11, 25, 23, 30, 0, 0, warsaw)); !errors.Is(err, ErrDate) {
		t.Errorf("born tomorrow in Warsaw: %v", err)
	}
}

// C6 (issue 13.3): an anonymous booking is for adults only; the age counts whole years, from
// the birthday on.
func TestAgeAndMajority(t *testing.T) {
	p, err := Parse(withCheck("0828250001"), today) // born 25 August 2008
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		day   time.Time
		age   int
		adult bool
	}{
		{date(2026, time.August, 24), 17, false},
		{date(2026, time.August, 25), 18, true},
		{date(2008, time.August, 25), 0, false},
		{date(2030, time.January, 1), 21, true},
	}
	for _, c := range cases {
		if got := p.AgeOn(c.day); got != c.age {
			t.Errorf("AgeOn(%s) = %d, want %d", c.day.Format(time.DateOnly), got, c.age)
		}
		if got := p.AdultOn(c.day, 18); got != c.adult {
			t.Errorf("AdultOn(%s, 18) = %v, want %v", c.day.Format(time.DateOnly), got, c.adult)
		}
	}
	if p.AdultOn(date(2026, time.August, 25), 19) {
		t.Error("majority is the caller's rule: 19 years not reached at 18")
	}
	leap, err := Parse(withCheck("0422290002"), today) // born 29 February 2004
	if err != nil {
		t.Fatal(err)
	}
	if got := leap.AgeOn(date(2022, time.February, 28)); got != 17 {
		t.Errorf("29 February child on 28 February 2022: %d, want 17", got)
	}
	if got := leap.AgeOn(date(2022, time.March, 1)); got != 18 {
		t.Errorf("29 February child on 1 March 2022: %d, want 18", got)
	}
	if got := leap.AgeOn(date(2024, time.February, 29)); got != 20 {
		t.Errorf("29 February child on 29 February 2024: %d, want 20", got)
	}
}

// C5, C6 (issue 13.3): whatever is typed, Parse never panics, and what it accepts is
// consistent: 11 digits, a valid check digit, a past date that re-encodes to the number's
// first six digits, the sex of the tenth digit.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"02070803628", "44051401359", "20070803628", "", "abc", withCheck("0022290001"), withCheck("9981310001")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s, today)
		if err != nil {
			var typed Error
			if !errors.As(err, &typed) {
				t.Fatalf("Parse(%q): untyped error %v", s, err)
			}
			return
		}
		if len(p.Number) != 11 || int(p.Number[10]-'0') != CheckDigit(p.Number) {
			t.Fatalf("Parse(%q) accepted %q", s, p.Number)
		}
		if p.BirthDate.After(today) {
			t.Fatalf("Parse(%q): future birth date %s", s, p.BirthDate)
		}
		y, m, d := p.BirthDate.Date()
		offset := map[int]int{1800: 80, 1900: 0, 2000: 20, 2100: 40, 2200: 60}[y/100*100]
		if enc := fmt.Sprintf("%02d%02d%02d", y%100, int(m)+offset, d); enc != p.Number[:6] {
			t.Fatalf("Parse(%q): birth date %s encodes as %s", s, p.BirthDate, enc)
		}
		if want := map[bool]string{true: Female, false: Male}[(p.Number[9]-'0')%2 == 0]; p.Sex != want {
			t.Fatalf("Parse(%q): sex %s", s, p.Sex)
		}
	})
}
