package country

import "testing"

// E2, B1: a country is offered by its code and named in the reader's language; the tenant's
// country comes first; a code that is no country has no name.
func TestNamesAndOrder(t *testing.T) {
	if Name("sk", "SK") != "Slovensko" || Name("fr", "DE") != "Allemagne" || Name("pl", "ZZ") != "" || Name("fr", "") != "" {
		t.Fatal("country names")
	}
	if got := Choices("sk", "SK"); got[0] != (Choice{"SK", "Slovensko"}) || len(got) < 240 {
		t.Fatalf("countries: %d, first %+v", len(got), got[0])
	}
	if !Valid("FR") || Valid("fr") || Valid("") {
		t.Fatal("validity")
	}
}

// E2, B1: a country select lists every country once by its name, in the reader's
// alphabetical order (Allemagne before Autriche before Émirats arabes unis in French, accents
// aside), the tenant's country first.
func TestChoicesByNameTenantFirst(t *testing.T) {
	got := Choices("fr", "FR")
	if len(got) != len(codes) || got[0] != (Choice{"FR", "France"}) {
		t.Fatalf("%d choices, first %+v", len(got), got[0])
	}
	at := map[string]int{}
	for i, c := range got {
		if _, dup := at[c.Code]; dup || c.Name == "" {
			t.Fatalf("choice %d %+v", i, c)
		}
		at[c.Code] = i
	}
	if !(at["DE"] < at["AT"] && at["AT"] < at["AE"] && at["AE"] < at["ES"]) {
		t.Errorf("not by name: Allemagne %d, Autriche %d, Émirats arabes unis %d, Espagne %d", at["DE"], at["AT"], at["AE"], at["ES"])
	}
	if got := Choices("pl", "ZZ"); len(got) != len(codes) || got[0].Code == "ZZ" {
		t.Errorf("an unknown first country: %d choices, first %+v", len(got), got[0])
	}
}
