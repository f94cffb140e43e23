// Package pesel reads a Polish PESEL number (the national identification number): its
// checksum, the birth date it encodes and the sex it records. A booking for another person
// and an anonymous booking carry a PESEL (REQUIREMENTS C5, C6); the birth date tells whether
// an anonymous patient is an adult, and the number recognises a patient across bookings (C8).
//
// The format, as the Ministry of the Interior describes it: YYMMDDZZZXQ, where YYMMDD is the
// birth date with the century in the month (1800–1899: month + 80, 1900–1999: + 0,
// 2000–2099: + 20, 2100–2199: + 40, 2200–2299: + 60), X is even for a woman and odd for a man,
// and Q is the check digit: the weights 1 3 7 9 1 3 7 9 1 3 applied to the first ten digits,
// Q = (10 − sum mod 10) mod 10.
package pesel

import (
	"strings"
	"time"
)

// Error is why a PESEL was refused. A caller maps each value to a localized message with
// errors.Is or a type switch; Error() is an English sentence for logs only.
type Error int

// The reasons a PESEL is refused, checked in this order.
const (
	// ErrLength: not 11 characters (surrounding spaces are ignored).
	ErrLength Error = iota + 1
	// ErrDigits: 11 characters, not all of them digits 0–9.
	ErrDigits
	// ErrChecksum: the check digit does not match the first ten digits.
	ErrChecksum
	// ErrDate: the birth date it encodes does not exist or is after today.
	ErrDate
)

func (e Error) Error() string {
	switch e {
	case ErrLength:
		return "pesel: not 11 digits long"
	case ErrDigits:
		return "pesel: not only digits"
	case ErrChecksum:
		return "pesel: wrong check digit"
	case ErrDate:
		return "pesel: the birth date does not exist or is in the future"
	}
	return "pesel: invalid"
}

// Sex values, as the PESEL records them.
const (
	Female = "F"
	Male   = "M"
)

// PESEL is a checked number and what it encodes.
type PESEL struct {
	Number    string    // the 11 digits
	BirthDate time.Time // midnight UTC of the birth date
	Sex       string    // Female or Male
}

var weights = [10]int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}

// CheckDigit returns the check digit of the first ten digits of a PESEL (digits only).
func CheckDigit(first10 string) int {
	sum := 0
	for i := 0; i < 10; i++ {
		sum += int(first10[i]-'0') * weights[i]
	}
	return (10 - sum%10) % 10
}

// centuries maps the tens of the encoded month (0–8, even) to the century's first year.
var centuries = map[int]int{8: 1800, 0: 1900, 2: 2000, 4: 2100, 6: 2200}

// Parse checks s (surrounding spaces ignored) and returns what it encodes. The birth date must
// exist and not be after now's calendar day (in now's location).
func Parse(s string, now time.Time) (PESEL, error) {
	s = strings.TrimSpace(s)
	if len(s) != 11 {
		return PESEL{}, ErrLength
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return PESEL{}, ErrDigits
		}
	}
	if int(s[10]-'0') != CheckDigit(s) {
		return PESEL{}, ErrChecksum
	}
	d := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	yy, mm, dd := d(0), d(2), d(4)
	century, ok := centuries[mm/20*2]
	if !ok {
		return PESEL{}, ErrDate
	}
	month := mm % 20
	year := century + yy
	if month < 1 || month > 12 || dd < 1 {
		return PESEL{}, ErrDate
	}
	birth := time.Date(year, time.Month(month), dd, 0, 0, 0, 0, time.UTC)
	if birth.Day() != dd { // 31 April, 29 February of a common year…
		return PESEL{}, ErrDate
	}
	ny, nm, nd := now.Date()
	if birth.After(time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)) {
		return PESEL{}, ErrDate
	}
	sex := Male
	if (s[9]-'0')%2 == 0 {
		sex = Female
	}
	return PESEL{Number: s, BirthDate: birth, Sex: sex}, nil
}

// AgeOn returns the age in full years on day's calendar date (in day's location). A person
// is a year older from his birthday on; one born on 29 February, from 1 March in a common
// year.
func (p PESEL) AgeOn(day time.Time) int {
	y, m, d := day.Date()
	by, bm, bd := p.BirthDate.Date()
	age := y - by
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age
}

// AdultOn tells whether the person has reached majority (years, a tenant rule) on day.
func (p PESEL) AdultOn(day time.Time, majority int) bool {
	return p.AgeOn(day) >= majority
}
