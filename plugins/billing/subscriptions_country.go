package billing

import (
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// Countries in words (walkthrough 18): a client's country is stored as its ISO 3166-1
// alpha-2 code and shown by its name in the reader's language, as the core's "country"
// registration field does (core/accounts/fields.go, whose list this is: a module does not
// import the core).

var countryCodes = strings.Fields(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA
SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY
UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW`)

// validCountry: code is one of the codes the country field offers.
func validCountry(code string) bool { return slices.Contains(countryCodes, code) }

// countryWords is the name of the country of code in the language lang (countryName,
// shared with the invoice PDF); the code itself when it names no country.
func countryWords(lang, code string) string {
	if n := countryName(lang, code); n != "" && validCountry(code) {
		return n
	}
	return code
}

// countryChoice is one option of a country select.
type countryChoice struct{ Code, Name string }

// countryChoices are the countries by name in lang's order, first the tenant's own.
func countryChoices(lang, first string) []countryChoice {
	out := make([]countryChoice, 0, len(countryCodes))
	for _, c := range countryCodes {
		if c != first {
			out = append(out, countryChoice{c, countryWords(lang, c)})
		}
	}
	tag, err := language.Parse(lang)
	if err != nil {
		tag = language.French
	}
	col := collate.New(tag)
	sort.SliceStable(out, func(i, j int) bool { return col.CompareString(out[i].Name, out[j].Name) < 0 })
	if validCountry(first) {
		out = append([]countryChoice{{first, countryWords(lang, first)}}, out...)
	}
	return out
}
