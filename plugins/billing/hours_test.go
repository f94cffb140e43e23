package billing

import (
	"testing"
	"time"
)

// B2: the full service's hours are the tenant's rule (the firm's default: Monday to Friday
// 08:00–20:00, Saturday 08:00–13:00); a tenant may set its own; a value that cannot be read
// gives the default; an empty subscription's hours are the tenant's full service.
func TestFullServiceHoursAreATenantRuleB2(t *testing.T) {
	ten := frTenant("tA", "fr")
	def := fullHours(ten)
	if len(def.Days) != 6 || def.Days[0] != (HoursDay{1, "08:00", "20:00"}) || def.Days[5] != (HoursDay{6, "08:00", "13:00"}) || def.Profile != hoursFull {
		t.Fatalf("default full service: %+v", def)
	}
	own := withRules(ten, "billing.full_service_hours", "1-4 07:30-19:00; 5 07:30-12:00")
	h, err := parseHours(own, "")
	if err != nil || len(h.Days) != 5 || h.Days[4] != (HoursDay{5, "07:30", "12:00"}) {
		t.Fatalf("the tenant's full service: %v %+v", err, h)
	}
	paris := time.FixedZone("CET", 3600)
	if h.Answers(time.Date(2026, 11, 27, 13, 0, 0, 0, paris), paris) || !h.Answers(time.Date(2026, 11, 26, 18, 0, 0, 0, paris), paris) {
		t.Fatal("the tenant's hours are not the ones answered")
	}
	for _, bad := range []string{"lundi 8-20", "1-5 20:00-08:00", "8 08:00-20:00", ""} {
		if got := fullHours(withRules(ten, "billing.full_service_hours", bad)); len(got.Days) != 6 {
			t.Errorf("%q: %+v, want the default", bad, got)
		}
	}
}
