package billing

import (
	"sort"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"carenet.dev/platform/plugins/kit/country"
)

// Countries in words (walkthrough 18): a client's country is stored as its ISO 3166-1
// alpha-2 code and shown by its name in the reader's language, from the list the core's
// "country" registration field offers too (kit/country).

// validCountry: code is one of the codes the country field offers.
func validCountry(code string) bool { return country.Valid(code) }

// countryWords is the name of the country of code in the language lang; the code itself when
// it names no country.
func countryWords(lang, code string) string {
	if n := country.Name(lang, code); n != "" {
		return n
	}
	return code
}

// countryChoice is one option of a country select.
type countryChoice struct{ Code, Name string }

// countryChoices are the countries by name in lang's order, first the tenant's own.
func countryChoices(lang, first string) []countryChoice {
	codes := country.Codes("")
	out := make([]countryChoice, 0, len(codes))
	for _, c := range codes {
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
