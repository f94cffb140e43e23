package calendar

import (
	"strings"

	"carenet.dev/platform/plugins/sdk"
)

// The profile fields in which the core keeps the first and the last name an account
// registered with, where the tenant asks them apart (the core rule account.split_name, C3).
const (
	profileFirstName = "first_name"
	profileLastName  = "last_name"
)

// accountNames are the first and the last name of an account, as a booking keeps them (C3,
// C5): those it registered with, while its name is still made of them; otherwise its name,
// its last word as the last name ("Anna Maria Kowalska": Anna Maria, Kowalska).
func accountNames(u *sdk.User) (first, last string) {
	name := strings.Join(strings.Fields(u.Name), " ")
	first, last = strings.TrimSpace(u.Profile[profileFirstName]), strings.TrimSpace(u.Profile[profileLastName])
	if first != "" && last != "" && strings.Join(strings.Fields(first+" "+last), " ") == name {
		return first, last
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}
