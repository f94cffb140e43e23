// Package natid reads the national identification numbers of the platform's countries: the
// Polish PESEL, the French NIR (numéro d'inscription au répertoire, the social security
// number that is also the patient's national health identifier, INS) and the Slovak rodné
// číslo. A module recognises a patient by it where the operator's terms say so (the visit
// calendar: C8, C12, C13), checks it where a person types it, and reads the birth date it
// encodes (an adult books alone, C6).
package natid

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/plugins/kit/pesel"
)

// Why a number was refused; a caller maps each to a localized message with errors.Is.
var (
	// ErrFormat: not the number's length or characters.
	ErrFormat = errors.New("natid: not the number's length or characters")
	// ErrChecksum: the check digits do not match the rest.
	ErrChecksum = errors.New("natid: the check digits do not match")
	// ErrDate: the birth date it encodes does not exist or is still to come.
	ErrDate = errors.New("natid: the birth date it encodes does not exist or is to come")
	// ErrCountry: the platform knows no national number of this country.
	ErrCountry = errors.New("natid: no national number known for this country")
)

// ID is a valid number, as Normalize writes it, with what it says of its holder.
type ID struct {
	Number string
	// Born is the birth date the number encodes; when it gives only the month (the NIR),
	// the month's last day, so that an age read from it is never too high.
	Born time.Time
	// Sex is the sex the number encodes, "female" or "male" ("" when it encodes none).
	Sex string
}

// Known reports whether the platform reads the national numbers of country ("PL", "FR",
// "SK").
func Known(country string) bool { return country == "PL" || country == "FR" || country == "SK" }

// Normalize is s without the spaces, dots, dashes and slashes people type in it, upper case.
func Normalize(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "\u00a0", "", ".", "", "-", "", "/", "").Replace(strings.TrimSpace(s)))
}

// Parse checks s as a national number of country on the day now and returns it normalized.
func Parse(country, s string, now time.Time) (ID, error) {
	n := Normalize(s)
	switch country {
	case "PL":
		p, err := pesel.Parse(n, now)
		switch {
		case err == nil:
			sex := "male"
			if p.Sex == pesel.Female {
				sex = "female"
			}
			return ID{Number: p.Number, Born: p.BirthDate, Sex: sex}, nil
		case errors.Is(err, pesel.ErrChecksum):
			return ID{}, ErrChecksum
		case errors.Is(err, pesel.ErrDate):
			return ID{}, ErrDate
		}
		return ID{}, ErrFormat
	case "FR":
		return nir(n, now)
	case "SK":
		return rodneCislo(n, now)
	}
	return ID{}, ErrCountry
}

// nir reads a French NIR: sex (1, 2, or 3, 4, 7, 8 for provisional numbers), year, month
// (01–12, or 20–42 and 50–99 when unknown), department (two digits, 2A or 2B for Corsica),
// commune, order number, then the key: 97 minus the first thirteen digits modulo 97, where
// Corsica's 2A and 2B count as 19 and 18.
func nir(n string, now time.Time) (ID, error) {
	if len(n) != 15 {
		return ID{}, ErrFormat
	}
	body := n[:13]
	switch n[5:7] {
	case "2A":
		body = n[:5] + "19" + n[7:13]
	case "2B":
		body = n[:5] + "18" + n[7:13]
	}
	if !digits(body) || !digits(n[13:]) || !strings.ContainsRune("123478", rune(n[0])) {
		return ID{}, ErrFormat
	}
	v, _ := strconv.ParseUint(body, 10, 64)
	key, _ := strconv.Atoi(n[13:])
	if int(97-v%97) != key {
		return ID{}, ErrChecksum
	}
	yy, _ := strconv.Atoi(n[1:3])
	mm, _ := strconv.Atoi(n[3:5])
	year := 1900 + yy
	if year+100 <= now.Year() { // the century is not written: the latest that is not to come
		year += 100
	}
	if year > now.Year() {
		year -= 100
	}
	if mm < 1 || mm > 12 { // month unknown: the year's last day
		mm = 12
	}
	born := time.Date(year, time.Month(mm)+1, 0, 0, 0, 0, 0, now.Location())
	if time.Date(year, time.Month(mm), 1, 0, 0, 0, 0, now.Location()).After(now) {
		return ID{}, ErrDate
	}
	// 1, 3, 7: a man; 2, 4, 8: a woman (3–8 on provisional numbers).
	sex := "male"
	if strings.ContainsRune("248", rune(n[0])) {
		sex = "female"
	}
	return ID{Number: n, Born: born, Sex: sex}, nil
}

// rodneCislo reads a Slovak birth number: YYMMDD, then three digits (numbers given before
// 1954) or four, the ten-digit number divisible by 11 (or its first nine digits giving 10
// modulo 11 and the last digit 0); women's months are raised by 50, and from 2004 either
// may be raised by a further 20.
func rodneCislo(n string, now time.Time) (ID, error) {
	if (len(n) != 9 && len(n) != 10) || !digits(n) {
		return ID{}, ErrFormat
	}
	if len(n) == 10 {
		v, _ := strconv.ParseUint(n, 10, 64)
		first, _ := strconv.ParseUint(n[:9], 10, 64)
		if v%11 != 0 && !(first%11 == 10 && n[9] == '0') {
			return ID{}, ErrChecksum
		}
	}
	yy, _ := strconv.Atoi(n[0:2])
	mm, _ := strconv.Atoi(n[2:4])
	dd, _ := strconv.Atoi(n[4:6])
	// A woman's month is raised by 50 (or 70 when the day's numbers ran out).
	sex := "male"
	if mm > 50 {
		sex = "female"
	}
	switch {
	case mm > 70:
		mm -= 70
	case mm > 50:
		mm -= 50
	case mm > 20:
		mm -= 20
	}
	year := 1900 + yy
	if len(n) == 10 && yy < 54 {
		year += 100
	}
	born := time.Date(year, time.Month(mm), dd, 0, 0, 0, 0, now.Location())
	if mm < 1 || mm > 12 || born.Day() != dd || born.Month() != time.Month(mm) || born.After(now) {
		return ID{}, ErrDate
	}
	return ID{Number: n, Born: born, Sex: sex}, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Check is s as a national number of country on day now, or the id of the message saying
// why it is refused: "form.natid.<country>.invalid", ".checksum" or ".date" (each in the
// locale files).
func Check(country, s string, now time.Time) (ID, string) {
	id, err := Parse(country, s, now)
	switch {
	case err == nil:
		return id, ""
	case errors.Is(err, ErrChecksum):
		return ID{}, "form.natid." + country + ".checksum"
	case errors.Is(err, ErrDate):
		return ID{}, "form.natid." + country + ".date"
	}
	return ID{}, "form.natid." + country + ".invalid"
}

// AgeOn is the age in whole years on day now of someone born on born.
func AgeOn(born, now time.Time) int {
	y := now.Year() - born.Year()
	if now.Month() < born.Month() || (now.Month() == born.Month() && now.Day() < born.Day()) {
		y--
	}
	return y
}
