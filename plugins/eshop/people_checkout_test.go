package eshop

import (
	"testing"

	"carenet.dev/platform/plugins/sdk"
)

// E2, E4: the checkout starts from the permanent address the customer registered with, the
// country in the reader's words, and an order line for himself keeps his rodné číslo.
func TestCheckoutStartsFromTheRegisteredAddress(t *testing.T) {
	u := &sdk.User{Profile: map[string]string{fieldStreet: "Lipová 12", fieldPostcode: "811 01", fieldTown: "Bratislava", fieldCountry: "SK",
		fieldNationalID: "8001011234"}}
	for lang, want := range map[string]string{"sk": "Lipová 12, 811 01 Bratislava, Slovensko", "fr": "Lipová 12, 811 01 Bratislava, Slovaquie",
		"pl": "Lipová 12, 811 01 Bratislava, Słowacja"} {
		if got := profileAddress(u, lang); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := profileNationalID(u); got != "8001011234" {
		t.Errorf("national number %q", got)
	}
	// A tenant whose profile holds one address line (the calendar's), and none at all.
	if got := profileAddress(&sdk.User{Profile: map[string]string{"address": "Hlavná 1, Košice"}}, "sk"); got != "Hlavná 1, Košice" {
		t.Errorf("single line %q", got)
	}
	if got := profileAddress(&sdk.User{Profile: map[string]string{}}, "sk"); got != "" {
		t.Errorf("no address %q", got)
	}
}
