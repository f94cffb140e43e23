// Package country names the countries a form offers: the ISO 3166-1 alpha-2 codes, and each
// country's name in the reader's language (CLDR, golang.org/x/text). The core's country field
// and the modules' addresses share it. It holds no state.
package country

import (
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// codes are the ISO 3166-1 alpha-2 codes a country field offers.
var codes = strings.Fields(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA
SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY
UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW`)

// Valid reports whether code is one of the countries offered.
func Valid(code string) bool { return slices.Contains(codes, code) }

// Name is the name of the country of code in the language lang ("" for a code that is not
// one of the countries offered).
func Name(lang, code string) string {
	if !Valid(code) {
		return ""
	}
	r, err := language.ParseRegion(code)
	if err != nil {
		return ""
	}
	tag, err := language.Parse(lang)
	if err != nil {
		tag = language.English
	}
	return display.Regions(tag).Name(r)
}

// Choice is one option of a country select: the code stored, the name read.
type Choice struct{ Code, Name string }

// Choices are the countries offered as a select shows them: by name in lang's alphabetical
// order, the country first (the tenant's) when it is one of them.
func Choices(lang, first string) []Choice {
	out := make([]Choice, 0, len(codes))
	for _, c := range codes {
		if c != first {
			out = append(out, Choice{c, Name(lang, c)})
		}
	}
	col := collate.New(language.Make(lang))
	sort.SliceStable(out, func(i, j int) bool { return col.CompareString(out[i].Name, out[j].Name) < 0 })
	if Valid(first) {
		out = append([]Choice{{first, Name(lang, first)}}, out...)
	}
	return out
}
