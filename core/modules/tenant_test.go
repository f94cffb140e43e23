package modules

import (
	"log/slog"
	"testing"

	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
)

// TestTenantCarriesItsIdentity (E5, P1): a module sees the tenant's legal identity and public
// contacts beside its rules, as the operator declared them — an invoice names its seller —
// and the rules it declared, defaults included.
func TestTenantCarriesItsIdentity(t *testing.T) {
	s := &Service{Log: slog.Default()}
	ten := &tenancy.Tenant{ID: "t1", Slug: "unilabs"}
	ten.Settings.Legal = tenancy.Legal{Company: "Unilabs Slovensko, s. r. o.", Address: "Ukážková 1, 811 01 Bratislava", VATID: "SK0000000001"}
	ten.Settings.Contacts = tenancy.Contacts{Support: "podpora@unilabs.localhost", Phone: "+421 2 0000 0001"}
	man := &sdk.Manifest{ID: "eshop", Rules: []sdk.Rule{{Name: "eshop.payment_minutes", Type: "int", Default: 30, Min: 5, Max: 1440}}}
	got := s.Tenant(ten, "eshop", man, "sk", "customers", "").Rules
	for k, want := range map[string]any{"tenant.legal.company": "Unilabs Slovensko, s. r. o.", "tenant.legal.address": "Ukážková 1, 811 01 Bratislava",
		"tenant.legal.vat_id": "SK0000000001", "tenant.contacts.support": "podpora@unilabs.localhost", "tenant.contacts.phone": "+421 2 0000 0001"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["tenant.legal.registration"]; ok {
		t.Error("an identity field the operator left empty is passed")
	}
	if got["eshop.payment_minutes"] == nil {
		t.Error("the module's rules are gone")
	}
}
