package results

import (
	"sort"
	"strings"
	"unicode"

	"carenet.dev/platform/plugins/kit/textfold"
)

// Identity matching (R3): an account is linked to a lab record when the identities match
// exactly once case, accents, hyphens, apostrophes and the order of the names are set
// aside — "Marie-Hélène DURAND" is "durand marie helene". Nothing else is tolerated: a typo
// is not a match, it goes to the staff queue.

// fold lower-cases s, removes accents and turns every run of non-letters into one space.
func fold(s string) string {
	t := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, textfold.Plain(s))
	return strings.Join(strings.Fields(t), " ")
}

// nameTokens are the folded words of a name, sorted: the order of given and family names
// does not matter.
func nameTokens(s string) string {
	f := strings.Fields(fold(s))
	sort.Strings(f)
	return strings.Join(f, " ")
}

// matchKey is the identity a match compares: every name of the person (given and current
// family names), the birth name and the date of birth.
func matchKey(fullName, birthName, birthDate string) string {
	return nameTokens(fullName) + "|" + fold(birthName) + "|" + strings.TrimSpace(birthDate)
}

// labKey is the match key of a lab record; a record without a birth name has its family
// name as birth name.
func labKey(lastName, firstName, birthName, birthDate string) string {
	if strings.TrimSpace(birthName) == "" {
		birthName = lastName
	}
	return matchKey(firstName+" "+lastName, birthName, birthDate)
}
