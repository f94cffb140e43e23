package country

import "testing"

// E2, B1: a country is offered by its code and named in the reader's language; the tenant's
// country comes first; a code that is no country has no name.
func TestNamesAndOrder(t *testing.T) {
	if Name("sk", "SK") != "Slovensko" || Name("fr", "DE") != "Allemagne" || Name("pl", "ZZ") != "" || Name("fr", "") != "" {
		t.Fatal("country names")
	}
	if got := Codes("SK"); got[0] != "SK" || len(got) < 240 {
		t.Fatalf("countries: %d, first %s", len(got), got[0])
	}
	if got := Codes("ZZ"); got[0] != "AD" {
		t.Fatalf("an unknown first country is not put first: %s", got[0])
	}
	if !Valid("FR") || Valid("fr") || Valid("") {
		t.Fatal("validity")
	}
}
