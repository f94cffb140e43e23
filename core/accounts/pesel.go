package accounts

import (
	"errors"
	"time"

	"carenet.dev/platform/plugins/kit/pesel"
)

// PESELError is the message id saying why a registration field of Type "pesel" is refused
// (C3): not 11 digits, a wrong check digit, or a birth date that does not exist or is still
// to come; "" when the number is valid.
func PESELError(s string, now time.Time) string {
	_, err := pesel.Parse(s, now)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, pesel.ErrChecksum):
		return "form.pesel.checksum"
	case errors.Is(err, pesel.ErrDate):
		return "form.pesel.date"
	}
	return "form.pesel.invalid"
}
