package accounts

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// NormalizeMobile reads a mobile number as a person types it ("06 12 34 56 78", "+48 512
// 345 678"), with region (the tenant's country, ISO 3166 "FR") for a number written without
// its country code, and returns it in E.164 ("+33612345678"). A number that is not valid
// gives the message key "form.phone.invalid"; a valid number that cannot receive SMS (a
// landline) gives "form.phone.not_mobile".
func NormalizeMobile(raw, region string) (e164, key string) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 40 {
		return "", "form.phone.invalid"
	}
	n, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", "form.phone.invalid"
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", "form.phone.not_mobile"
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}
