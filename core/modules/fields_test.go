package modules

import (
	"testing"

	"carenet.dev/platform/core/accounts"
)

// C3, R1: a registration field two modules ask through the same portals is asked once:
// results asks "mobile" optionally, the calendar requires it, so one required field;
// a field of another type or other portals stays apart.
func TestRegistrationFieldAskedOnce(t *testing.T) {
	patients := []string{"patients", ""}
	var fields []accounts.Field
	fields = mergeField(fields, accounts.Field{Name: "mobile", LabelKey: "results.field.mobile", Type: "tel", MaxLen: 32, Portals: patients})
	fields = mergeField(fields, accounts.Field{Name: "pesel", LabelKey: "calendar.field.pesel", Type: "pesel", Required: true, MaxLen: 11, Portals: patients})
	fields = mergeField(fields, accounts.Field{Name: "mobile", LabelKey: "calendar.field.mobile", Type: "tel", Required: true, MaxLen: 20, Portals: patients})
	if len(fields) != 2 || fields[0].Name != "mobile" || !fields[0].Required || fields[0].MaxLen != 32 || fields[0].LabelKey != "results.field.mobile" {
		t.Fatalf("merged: %+v", fields)
	}
	fields = mergeField(fields, accounts.Field{Name: "mobile", Type: "tel", Portals: []string{"pros"}})
	fields = mergeField(fields, accounts.Field{Name: "pesel", Type: "text", Portals: patients})
	if len(fields) != 4 {
		t.Fatalf("fields of other portals or types were merged: %+v", fields)
	}
}
