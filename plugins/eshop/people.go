package eshop

import (
	"strings"

	"carenet.dev/platform/plugins/kit/country"
	"carenet.dev/platform/plugins/sdk"
)

// peoplePart: what the shop asks at registration (E2) and the people a customer represents
// (the core's dependants, P2).
//
// E2 [003 II.3]: the customer gives his permanent address (street and number, town,
// postcode, country), a temporary address if he has one, his rodné číslo if one was
// assigned — the core checks it against the tenant's country and against the date of birth
// typed; without it the date of birth stands —, his sex and his nationality. The core asks
// the rest: login e-mail, password and its confirmation, the given and family names, the
// date of birth, the consent to the processing of data, and, by the tenant's rules, the
// declarations of majority by marriage and of full legal capacity (recorded with the
// account). The fields are asked on the customers' portal (and on a hostname without
// portal).
func (m *Module) peoplePart() part {
	return part{RegistrationFields: registrationFields()}
}

// Registration field names (kept in the account's profile under these names).
const (
	fieldStreet        = "address_street"
	fieldTown          = "address_town"
	fieldPostcode      = "address_postcode"
	fieldCountry       = "address_country"
	fieldTempStreet    = "temp_address_street"
	fieldTempTown      = "temp_address_town"
	fieldTempPostcode  = "temp_address_postcode"
	fieldTempCountry   = "temp_address_country"
	fieldNationalID    = "birth_number"
	fieldSex           = "sex"
	fieldNationality   = "nationality"
	registrationPortal = "customers"
)

func registrationFields() []sdk.Field {
	portals := []string{registrationPortal, ""}
	f := func(name, typ string, required bool, maxLen int) sdk.Field {
		return sdk.Field{Name: name, LabelKey: "eshop.people.field." + name, Type: typ, Required: required, MaxLen: maxLen,
			Portals: portals}
	}
	return []sdk.Field{
		f(fieldStreet, "text", true, 200),
		f(fieldTown, "text", true, 100),
		f(fieldPostcode, "text", true, 16),
		f(fieldCountry, "country", true, 2),
		// The temporary address, when the customer has one: optional, each part.
		f(fieldTempStreet, "text", false, 200),
		f(fieldTempTown, "text", false, 100),
		f(fieldTempPostcode, "text", false, 16),
		f(fieldTempCountry, "country", false, 2),
		// The rodné číslo "if assigned": the core labels it by the tenant's country.
		f(fieldNationalID, "national_id", false, 24),
		f(fieldSex, "sex", true, 16),
		f(fieldNationality, "country", true, 2),
	}
}

// profileAddress is the permanent address the customer registered with, as one line in the
// reader's language ("Lipová 12, 811 01 Bratislava, Slovensko"), for the checkout to start
// from (E4); the single address a profile holds on a tenant without these fields; or "".
func profileAddress(u *sdk.User, lang string) string {
	if u == nil {
		return ""
	}
	street, town := strings.TrimSpace(u.Profile[fieldStreet]), strings.TrimSpace(u.Profile[fieldTown])
	if street == "" && town == "" {
		return strings.TrimSpace(u.Profile["address"])
	}
	parts := []string{}
	if street != "" {
		parts = append(parts, street)
	}
	if place := strings.TrimSpace(strings.TrimSpace(u.Profile[fieldPostcode]) + " " + town); place != "" {
		parts = append(parts, place)
	}
	if cc := strings.TrimSpace(u.Profile[fieldCountry]); cc != "" {
		name := cc
		if n := country.Name(lang, cc); n != "" {
			name = n
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, ", ")
}

// profileNationalID is the national number the customer registered with ("" when none was
// assigned).
func profileNationalID(u *sdk.User) string {
	if id := u.Profile[fieldNationalID]; id != "" {
		return id
	}
	return u.Profile["national_id"]
}
