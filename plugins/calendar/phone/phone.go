// Package phone checks the mobile numbers a booking asks for (REQUIREMENTS C3, C5, C6): the
// number must be a valid one and reach a mobile phone, since reminders may go out by SMS (C7).
// It uses libphonenumber's metadata (github.com/nyaruka/phonenumbers).
package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Error is why a number was refused. A caller maps each value to a localized message with
// errors.Is or a type switch; Error() is an English sentence for logs only.
type Error int

// The reasons a number is refused.
const (
	// ErrInvalid: not a phone number that exists in its country's numbering plan.
	ErrInvalid Error = iota + 1
	// ErrNotMobile: a valid number, but a landline, a toll-free, premium or other service line.
	ErrNotMobile
)

func (e Error) Error() string {
	if e == ErrNotMobile {
		return "phone: not a mobile number"
	}
	return "phone: not a valid phone number"
}

// Mobile checks s and returns it in E.164 form ("+48512345678"). A number written in
// national form ("512 345 678", "06 12 34 56 78") is read in region, an ISO 3166 country
// code such as the tenant's ("PL", "FR", "SK"); a number written with its country code
// ("+33 6…", "0048 5…") is read as such whatever region is. Numbers with an extension are
// refused. Mobile numbers and the numbers a country does not tell apart from them
// (fixed-line-or-mobile, as in the United States) are accepted.
func Mobile(s, region string) (e164 string, err error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	num, err := phonenumbers.Parse(s, region)
	if err != nil || num.GetExtension() != "" || !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalid
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return phonenumbers.Format(num, phonenumbers.E164), nil
	}
	return "", ErrNotMobile
}
