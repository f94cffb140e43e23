package calendar

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// get sends a GET from client address ip.
func (f *fixture) get(ten sdk.Tenant, u *sdk.User, ip, path string) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), ten, u, &sdk.Request{Method: "GET", Path: path, RemoteIP: ip})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// addDoctors adds n doctors in city with specialty, each at a new facility.
func (f *fixture) addDoctors(ten sdk.Tenant, n int, city, specialty string) []*Doctor {
	f.t.Helper()
	ctx := context.Background()
	var out []*Doctor
	for i := range n {
		fa := &Facility{Name: fmt.Sprintf("Gabinet %s %d", city, i), City: city, Address: "ul. Polna 1"}
		if err := f.m.saveFacility(ctx, ten, fa); err != nil {
			f.t.Fatal(err)
		}
		d := &Doctor{FirstName: "Jan", LastName: fmt.Sprintf("Lekarz%03d", i), Bookable: true, OnlineCalendar: true}
		if err := f.m.saveDoctor(ctx, ten, d, []string{specialty}, []string{fa.ID}); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// C1: a keyword finds doctors by their specialty's words in any language, without accents
// or with them; by name; by specialty; by city (accent-insensitive); nothing of another
// tenant; and an empty search lists no one (no bulk listing).
func TestDirectorySearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b) // Anna Kowalska, cardiology, Łódź
		derm := &Doctor{FirstName: "Zofia", LastName: "Wiśniewska", Competences: "leczenie trądziku", Bookable: false, OnlineCalendar: true}
		if err := f.m.saveDoctor(context.Background(), f.A, derm, []string{"dermatology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		f.addDoctors(f.B, 1, "Łódź", "cardiology") // another tenant's cardiologist in Łódź
		for _, c := range []struct {
			query string
			want  []string
			not   []string
		}{
			{"q=serce", []string{"Kowalska"}, []string{"Wiśniewska"}},
			{"q=c%C5%93ur", []string{"Kowalska"}, nil}, // cœur: French words too
			{"q=KARDIOLOG", []string{"Kowalska"}, nil},
			{"q=wisniewska", []string{"Wiśniewska"}, []string{"Kowalska"}},
			{"q=tradzik", []string{"Wiśniewska"}, nil},
			{"specialty=dermatology", []string{"Wiśniewska"}, []string{"Kowalska"}},
			{"city=lodz", []string{"Kowalska", "Wiśniewska"}, []string{"Lekarz000"}},
			{"q=serce&city=Krak%C3%B3w", nil, []string{"Kowalska"}},
		} {
			res := f.get(f.A, nil, "10.0.0.1", "/calendar?"+c.query)
			if res.Status != http.StatusOK {
				t.Fatalf("%s: %d", c.query, res.Status)
			}
			body := string(res.Body)
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: %s not found", c.query, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(body, n) {
					t.Errorf("%s: %s found", c.query, n)
				}
			}
		}
		// No criterion: the form, no doctor (C1: no bulk listing).
		if body := string(f.get(f.A, nil, "10.0.0.1", "/calendar").Body); strings.Contains(body, "Kowalska") || !strings.Contains(body, `name="q"`) {
			t.Fatalf("empty search lists doctors or has no form")
		}
		// The doctor who does not book online is listed, marked so.
		if body := string(f.get(f.A, nil, "10.0.0.1", "/calendar?q=wisniewska").Body); !strings.Contains(body, "nie prowadzi zapisów online") {
			t.Error("a doctor without an online calendar is not marked")
		}
		// A specialty outside the list: the field's message, no listing, 422.
		res := f.get(f.A, nil, "10.0.0.1", "/calendar?specialty=astrology")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Wybierz specjalizację z listy") {
			t.Fatalf("unknown specialty: %d", res.Status)
		}
		if res := f.get(f.A, nil, "10.0.0.1", "/calendar?q=serce&page=x"); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad page: %d", res.Status)
		}
	})
}

// C1, C4: the doctor's page shows his specialties, his facility with its address, his
// services with their gross price in the tenant's currency and language; another tenant's
// doctor, or an id that is no one's, is not found.
func TestDoctorPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		res := f.get(f.A, nil, "10.0.0.2", "/calendar/doctors/"+f.doctor.ID)
		body := string(res.Body)
		if res.Status != http.StatusOK {
			t.Fatalf("status %d", res.Status)
		}
		for _, w := range []string{"dr n. med. Anna Kowalska", "Kardiologia", "Przychodnia Centrum", "ul. Długa 5", "Konsultacja 30 min", "300,00", "zł", "brutto"} {
			if !strings.Contains(body, w) {
				t.Errorf("doctor page lacks %q", w)
			}
		}
		if strings.Contains(body, f.doctor.ID+"<") || strings.Contains(body, "cardiology") {
			t.Error("the page shows an internal id or code")
		}
		other := f.addDoctors(f.B, 1, "Kraków", "cardiology")[0]
		for _, id := range []string{other.ID, "00000000-0000-0000-0000-000000000001", "1"} {
			if res := f.get(f.A, nil, "10.0.0.2", "/calendar/doctors/"+id); res.Status != http.StatusNotFound {
				t.Errorf("doctor %s: %d", id, res.Status)
			}
		}
	})
}

// C1: a scraper paging through a search stops at the tenant's cap of pages, and a loop of
// requests from one address is cut off (429) once it used up its budget, while another
// address still searches; a signed-in account has its own budget across addresses.
func TestScraperIsCutOff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.addDoctors(f.A, 70, "Gdańsk", "neurology")
		seen := map[string]bool{}
		page := 1
		for ; page < 20; page++ {
			body := string(f.get(f.A, nil, "10.0.0.3", fmt.Sprintf("/calendar?specialty=neurology&page=%d", page)).Body)
			n := strings.Count(body, "/calendar/doctors/")
			for i := range 70 {
				if strings.Contains(body, fmt.Sprintf("Lekarz%03d", i)) {
					seen[fmt.Sprint(i)] = true
				}
			}
			if n == 0 {
				if !strings.Contains(body, "Pokazujemy tylko pierwszych 5 stron") {
					t.Fatalf("page %d: no doctor and no word of the cap", page)
				}
				break
			}
			if page == 5 && strings.Contains(body, `rel="next"`) {
				t.Fatal("the last page within the cap links to a next one")
			}
		}
		if page != 6 || len(seen) != 50 {
			t.Fatalf("a scraper read %d doctors over %d pages, want 50 over 5", len(seen), page-1)
		}
		// The loop goes on with other queries: cut off once the address's budget is used.
		limit := int(directoryPerIP.Of(f.A))
		cut := 0
		for i := 0; i < limit+5; i++ {
			res := f.get(f.A, nil, "10.0.0.3", fmt.Sprintf("/calendar?q=lekarz%03d", i%70))
			if res.Status == http.StatusTooManyRequests {
				cut = i
				if !strings.Contains(string(res.Body), "Spróbuj ponownie za kilka minut") {
					t.Fatal("the refusal is not in the person's words")
				}
				break
			}
		}
		if cut == 0 || cut+page-1 > limit {
			t.Fatalf("cut off after %d requests, budget %d", cut+page-1, limit)
		}
		if res := f.get(f.A, nil, "10.0.0.3", "/calendar/doctors/"+f.doctor.ID); res.Status != http.StatusTooManyRequests {
			t.Fatalf("the doctor's page after the cut: %d", res.Status)
		}
		if res := f.get(f.A, nil, "10.0.0.4", "/calendar?q=serce"); res.Status != http.StatusOK {
			t.Fatalf("another address: %d", res.Status)
		}
		// An account moving across addresses is held by its own budget.
		u := &sdk.User{ID: "u1", Email: "u1@example.org", Roles: []string{"user"}}
		per := int(directoryPerAccount.Of(f.A))
		for i := 0; i <= per; i++ {
			res := f.get(f.A, u, fmt.Sprintf("10.1.%d.%d", i/250, i%250), "/calendar?q=serce")
			if i < per && res.Status != http.StatusOK {
				t.Fatalf("account request %d: %d", i, res.Status)
			}
			if i == per && res.Status != http.StatusTooManyRequests {
				t.Fatalf("account over its budget: %d", res.Status)
			}
		}
	})
}
