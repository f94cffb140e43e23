package billing

import "carenet.dev/platform/plugins/kit/country"

// Countries in words (walkthrough 18): a client's country is stored as its ISO 3166-1
// alpha-2 code and shown by its name in the reader's language, from the list the core's
// "country" registration field offers too (kit/country).

// countryWords is the name of the country of code in the language lang; the code itself when
// it names no country.
func countryWords(lang, code string) string {
	if n := country.Name(lang, code); n != "" {
		return n
	}
	return code
}
