package eshop

import (
	"slices"
	"testing"

	"carenet.dev/platform/locales"
)

// TestRegistrationFieldsE2: E2 [003 II.3] — the shop asks, on the customers' portal, the
// permanent address (street and number, town, postcode, country: each required), a
// temporary address (optional), the rodné číslo "if assigned" (optional: the core checks it
// by the tenant's country and against the date of birth), the sex and the nationality
// (required); each of a type the core checks, each labelled in fr, pl and sk.
func TestRegistrationFieldsE2(t *testing.T) {
	man := newModule().Manifest()
	want := map[string]struct {
		typ      string
		required bool
	}{
		fieldStreet: {"text", true}, fieldTown: {"text", true}, fieldPostcode: {"text", true}, fieldCountry: {"country", true},
		fieldTempStreet: {"text", false}, fieldTempTown: {"text", false}, fieldTempPostcode: {"text", false}, fieldTempCountry: {"country", false},
		fieldNationalID: {"national_id", false}, fieldSex: {"sex", true}, fieldNationality: {"country", true},
	}
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range man.RegistrationFields {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected field %s", f.Name)
			continue
		}
		seen[f.Name] = true
		if f.Type != w.typ || f.Required != w.required {
			t.Errorf("%s: type %s required %v, want %s %v", f.Name, f.Type, f.Required, w.typ, w.required)
		}
		if !slices.Equal(f.Portals, []string{"customers", ""}) {
			t.Errorf("%s: portals %v", f.Name, f.Portals)
		}
		if f.MaxLen <= 0 {
			t.Errorf("%s: no length bound", f.Name)
		}
		for _, l := range []string{"fr", "pl", "sk"} {
			if !b.Has(l, f.LabelKey) {
				t.Errorf("%s: no label %s in %s", f.Name, f.LabelKey, l)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("E2 field %s not asked", name)
		}
	}
}
