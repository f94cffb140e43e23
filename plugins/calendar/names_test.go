package calendar

import (
	"net/http"
	"net/url"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// C3: a booking takes the first and the last name the account registered with (kept in its
// profile where the tenant asks them apart), not a cut of its name at the first space; a
// name changed since, or an account without them, gives its last word as the last name.
func TestAccountNames(t *testing.T) {
	for _, c := range []struct {
		name, first, last   string
		wantFirst, wantLast string
	}{
		{"Anna Maria Kowalska", "Anna Maria", "Kowalska", "Anna Maria", "Kowalska"},
		{"Jan Maria Rokita Nowak", "Jan Maria", "Rokita Nowak", "Jan Maria", "Rokita Nowak"}, // a two-word last name
		{"Anna Maria Kowalska", "", "", "Anna Maria", "Kowalska"},                            // registered with one name
		{"Anna Nowak", "Anna Maria", "Kowalska", "Anna", "Nowak"},                            // renamed since
		{"Zofia", "", "", "Zofia", ""},
	} {
		u := &sdk.User{Name: c.name, Profile: map[string]string{}}
		if c.first != "" {
			u.Profile[profileFirstName], u.Profile[profileLastName] = c.first, c.last
		}
		if first, last := accountNames(u); first != c.wantFirst || last != c.wantLast {
			t.Errorf("%q (%q, %q): %q, %q, want %q, %q", c.name, c.first, c.last, first, last, c.wantFirst, c.wantLast)
		}
	}
}

// C3, C5: Jan Maria Rokita Nowak registered with the first name "Jan Maria" and the last name
// "Rokita Nowak": the visit he books for himself keeps them so.
func TestBookingKeepsTheRegisteredNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60) // Tuesdays 9:00–10:00 in Warsaw
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Maria Rokita Nowak", Roles: []string{"user"},
			Profile: map[string]string{profileFirstName: "Jan Maria", profileLastName: "Rokita Nowak"}}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID + "&week=2026-12-01"
		starts := slotLinkRe.FindAllStringSubmatch(string(f.send(u, "GET", week, nil).Body), -1)
		if len(starts) == 0 {
			t.Fatal("no free start")
		}
		form := url.Values{"service": {f.services[30].ID}, "start": {starts[0][2]}, "pesel": {"85030212344"},
			"mobile": {"+48601234567"}, "consent_doctor": {"yes"}}
		if res := f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form); res.Status != http.StatusSeeOther {
			t.Fatalf("booking: %d\n%s", res.Status, res.Body)
		}
		got := f.live(f.A)
		if len(got) != 1 || got[0].PatientFirstName != "Jan Maria" || got[0].PatientLastName != "Rokita Nowak" {
			t.Fatalf("stored %+v", got)
		}
	})
}
