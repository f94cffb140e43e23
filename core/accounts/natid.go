package accounts

import (
	"time"

	"carenet.dev/platform/plugins/kit/natid"
)

// NationalIDError is the message id saying why a registration field of Type "national_id"
// is refused on a tenant of country (C3): the number of that country (the PESEL in Poland,
// the NIR in France, the rodné číslo in Slovakia) with a wrong length or characters, wrong
// check digits, or a birth date that does not exist or is still to come; "" when valid.
func NationalIDError(country, s string, now time.Time) string {
	_, id := natid.Check(country, s, now)
	return id
}
