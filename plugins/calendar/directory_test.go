package calendar

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

var admin = &sdk.User{ID: "adm", Email: "admin@example.org", Name: "Ada Admin", Roles: []string{"user", "tenant_admin"}}

// placed adds a doctor named last at a new facility of city with coordinates (nil: none).
func (f *fixture) placed(ten sdk.Tenant, last, city, postal string, at *point) *Doctor {
	f.t.Helper()
	ctx := context.Background()
	fa := &Facility{Name: "Gabinet " + last, City: city, PostalCode: postal, Address: "ul. Polna 1"}
	if at != nil {
		lat, lon := at.Lat, at.Lon
		fa.Latitude, fa.Longitude = &lat, &lon
	}
	if err := f.m.saveFacility(ctx, ten, fa); err != nil {
		f.t.Fatal(err)
	}
	d := &Doctor{FirstName: "Jan", LastName: last, Bookable: true, OnlineCalendar: true}
	if err := f.m.saveDoctor(ctx, ten, d, []string{"neurology"}, []string{fa.ID}); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// order is the order in which names appear in body; -1 for a name absent.
func order(body string, names ...string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = strings.Index(body, n)
	}
	return out
}

// nearFixture: neurologists in Łódź (90-001), Warszawa, Kraków and Gdańsk, and one in Łódź
// whose facility has no coordinates; a radius of 270 km (Warszawa–Kraków 252 km, Łódź–Gdańsk 293 km).
func nearFixture(t *testing.T, b storetest.Backend) *fixture {
	f := setup(t, b)
	f.A.Rules = map[string]any{"calendar.search_radius_km": int64(270)}
	f.placed(f.A, "Lodzki", "Łódź", "90-001", &point{51.7592, 19.4560})
	f.placed(f.A, "Warszawski", "Warszawa", "00-001", &point{52.2297, 21.0122})
	f.placed(f.A, "Krakowski", "Kraków", "30-001", &point{50.0647, 19.9450})
	f.placed(f.A, "Gdanski", "Gdańsk", "80-001", &point{54.3520, 18.6466})
	f.placed(f.A, "Bezmapy", "Łódź", "90-002", nil)
	return f
}

// C1: a search near a typed city (the gazetteer's, accents optional) or a postal code (the
// facilities') lists the doctors within the tenant's radius, nearest first, each with his
// distance in the reader's locale; a doctor beyond the radius or without coordinates is not
// in a distance search.
func TestSearchNearSortsByDistance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := nearFixture(t, b)
		for _, near := range []string{"lodz", "Łódź", "90-001", "90001"} {
			res := f.get(f.A, nil, "10.2.0.1", "/calendar?specialty=neurology&near="+url.QueryEscape(near))
			body := string(res.Body)
			if res.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", near, res.Status, body)
			}
			o := order(body, "Lodzki", "Warszawski", "Krakowski", "Gdanski", "Bezmapy")
			if o[0] < 0 || o[1] < o[0] || o[2] < o[1] || o[3] >= 0 || o[4] >= 0 {
				t.Fatalf("%s: order %v", near, o)
			}
			if !strings.Contains(body, " km od wskazanego miejsca") || !strings.Contains(body, "0 km od") && !strings.Contains(body, ",") {
				t.Errorf("%s: no distance shown", near)
			}
		}
		// Warszawa (the gazetteer's) is 118.7 km from the Łódź facility: the Polish page writes a decimal comma.
		body := string(f.get(f.A, nil, "10.2.0.1", "/calendar?specialty=neurology&near=Warszawa").Body)
		if o := order(body, "Warszawski", "Lodzki", "Krakowski"); o[0] < 0 || o[1] < o[0] || o[2] < o[1] {
			t.Fatalf("near Warszawa: order %v", o)
		}
		if !strings.Contains(body, "118,7 km od wskazanego miejsca") {
			t.Errorf("near Warszawa: Łódź's distance not written as 118,7 km")
		}
		// A place no one knows is said so next to its field, and lists no one.
		res := f.get(f.A, nil, "10.2.0.1", "/calendar?near=Atlantyda")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Nie znamy tego miejsca") ||
			strings.Contains(string(res.Body), "/calendar/doctors/") {
			t.Fatalf("unknown place: %d", res.Status)
		}
		// Sorting by distance without a place or position is explained, not guessed.
		res = f.get(f.A, nil, "10.2.0.1", "/calendar?specialty=neurology&sort=distance")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "wpisz nazwę miejscowości albo użyj swojej lokalizacji") {
			t.Fatalf("distance without origin: %d", res.Status)
		}
	})
}

// C1: the browser's position counts only with the geolocation consent: without the box
// ticked the search says why next to it and lists no one; with it, doctors near the
// position come nearest first. A malformed position is refused in words (422, not 500).
func TestPositionNeedsConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := nearFixture(t, b)
		krakow := "lat=50.06&lon=19.94"
		res := f.get(f.A, nil, "10.2.0.2", "/calendar?"+krakow)
		body := string(res.Body)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "zaznacz zgodę na jej użycie") ||
			strings.Contains(body, "/calendar/doctors/") || !strings.Contains(body, `id="e-geo"`) {
			t.Fatalf("position without consent: %d", res.Status)
		}
		res = f.get(f.A, nil, "10.2.0.2", "/calendar?"+krakow+"&geo=1")
		if o := order(string(res.Body), "Krakowski", "Lodzki", "Warszawski"); res.Status != 200 || o[0] < 0 || o[1] < o[0] || o[2] < o[1] {
			t.Fatalf("position with consent: %d %v", res.Status, o)
		}
		for _, bad := range []string{"lat=abc&lon=19&geo=1", "lat=91&lon=19&geo=1", "lat=NaN&lon=1&geo=1"} {
			if res := f.get(f.A, nil, "10.2.0.2", "/calendar?"+bad); res.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d", bad, res.Status)
			}
		}
	})
}

// C1: a typed place beats the position: with both, the distances count from the place.
func TestTypedPlaceBeatsPosition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := nearFixture(t, b)
		// The position is in Kraków; the typed place is Warszawa.
		res := f.get(f.A, nil, "10.2.0.3", "/calendar?near=Warszawa&lat=50.06&lon=19.94&geo=1")
		if o := order(string(res.Body), "Warszawski", "Lodzki", "Krakowski"); res.Status != 200 || o[0] < 0 || o[1] < o[0] || o[2] < o[1] {
			t.Fatalf("place and position: %d %v", res.Status, o)
		}
		if strings.Contains(string(res.Body), `name="lat" value="50.06"`) {
			t.Error("the form keeps the position the typed place overrode")
		}
	})
}

// C1: sorting by first free slot orders the page's doctors by the slots engine's first free
// start (the one with none last), and says the date in the reader's words.
func TestSortByFirstFreeSlot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := nearFixture(t, b)
		var lodz, krakow string
		err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			var ds []Doctor
			if err := sc.Select(&ds).Scan(ctx); err != nil {
				return err
			}
			for _, d := range ds {
				switch d.LastName {
				case "Lodzki":
					lodz = d.ID
				case "Krakowski":
					krakow = d.ID
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, id := range []string{lodz, krakow} {
			var fid string
			_ = f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				return sc.Tx.NewRaw("SELECT facility_id FROM calendar_doctor_facilities WHERE tenant_id = ? AND doctor_id = ?", f.A.ID, id).Scan(ctx, &fid)
			})
			if err := f.m.saveService(ctx, f.A, &Service{DoctorID: id, FacilityID: fid, Name: "Wizyta", DurationMinutes: 20, PriceMinor: 100, Active: true}); err != nil {
				t.Fatal(err)
			}
		}
		soon := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		asked := map[string]bool{}
		f.m.freeSlots = func(_ context.Context, _ sdk.Tenant, q slotQuery) ([]time.Time, error) {
			asked[q.DoctorID] = true
			switch q.DoctorID {
			case krakow:
				return []time.Time{soon}, nil
			case lodz:
				return []time.Time{soon.Add(72 * time.Hour)}, nil
			}
			return nil, nil
		}
		res := f.get(f.A, nil, "10.2.0.4", "/calendar?specialty=neurology&sort=slot")
		body := string(res.Body)
		o := order(body, "Krakowski", "Lodzki", "Bezmapy")
		if res.Status != 200 || o[0] < 0 || o[1] < o[0] || o[2] < o[1] {
			t.Fatalf("slot order: %d %v", res.Status, o)
		}
		if !strings.Contains(body, "Najbliższy wolny termin: 23.11.2026") {
			t.Errorf("the first slot is not in the reader's words")
		}
		if len(asked) != 2 {
			t.Errorf("the slots engine was asked for %d doctors, want the 2 with services", len(asked))
		}
	})
}

// post sends a form.
func (f *fixture) post(ten sdk.Tenant, u *sdk.User, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Do(context.Background(), ten, u, "POST", path, []byte(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// doctorsByRef are the tenant's doctors by owner_ref (the import's) or last name.
func (f *fixture) doctors(ten sdk.Tenant) map[string]Doctor {
	f.t.Helper()
	out := map[string]Doctor{}
	err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		var ds []Doctor
		if err := sc.Select(&ds).Scan(ctx); err != nil {
			return err
		}
		for _, d := range ds {
			out[d.LastName] = d
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

const importHead = "reference,title,first_name,last_name,licence_number,specialties,languages,online_booking,facility_reference,facility_name,address,postal_code,city,latitude,longitude,phone\n"

// C1: the administrator's import creates the records it does not own yet and updates those
// it owns (by source and reference), never touches the operator's records (a doctor of the
// operator with the same licence number is refused on his line), reports each refused line
// in words, and lists a doctor without an online calendar as not bookable.
func TestDirectoryImport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b) // the operator's Anna Kowalska, licence 1234567
		csv := importHead +
			"D1,lek.,Piotr,Zieliński,7654321,Neurologia|cardiology,pl,nie,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,51.76,19.45,+48 42 111 11 11\n" +
			"D1,lek.,Piotr,Zieliński,7654321,neurology,pl,nie,F2,Przychodnia Bałuty,ul. Zgierska 9,91-100,Łódź,,,\n" +
			"D2,dr,Ewa,Nowicka,1111111,dermatology,pl,tak,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,51.76,19.45,\n" +
			"D3,dr,Anna,Podróbka,1234567,cardiology,pl,tak,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,51.76,19.45,\n" +
			"D4,dr,Jan,Bezspecjalizacji,2222222,astrologia,pl,tak,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,,,\n" +
			"D5,dr,Jan,Zlewspolrzedne,3333333,neurology,pl,tak,F3,Gabinet,ul. A 1,90-100,Łódź,95,19,\n"
		res := f.multipart(admin, "/calendar/admin/import", url.Values{"source": {"RejestrX"}}, "file", []byte(csv))
		body := string(res.Body)
		if res.Status != http.StatusOK {
			t.Fatalf("import: %d %s", res.Status, body)
		}
		for _, w := range []string{"Dodano 2 lekarzy.", "Nie zaktualizowano żadnego lekarza.", "3 wiersze nie zostały przyjęte:",
			"Wiersz 5: lekarz o tym numerze prawa wykonywania zawodu jest już w katalogu", "Wiersz 6: nieznana specjalizacja.", "Wiersz 7: błędne współrzędne placówki."} {
			if !strings.Contains(body, w) {
				t.Errorf("the report lacks %q", w)
			}
		}
		ds := f.doctors(f.A)
		zi, op := ds["Zieliński"], ds["Kowalska"]
		if zi.OwnerKind != ownerImport || zi.OwnerRef != "RejestrX:D1" || zi.Bookable || ds["Nowicka"].Bookable != true {
			t.Fatalf("imported doctors: %+v %+v", zi, ds["Nowicka"])
		}
		if _, ok := ds["Podróbka"]; ok {
			t.Fatal("an import took the licence number of the operator's doctor")
		}
		if op.LastName != "Kowalska" || op.OwnerKind != ownerOperator || !op.UpdatedAt.Equal(f.doctor.UpdatedAt) && op.UpdatedAt.After(f.now) {
			t.Fatalf("the operator's record changed: %+v", op)
		}
		page := string(f.get(f.A, nil, "10.2.0.5", "/calendar/doctors/"+zi.ID).Body)
		for _, w := range []string{"Centrum Medyczne Zdrowie", "Przychodnia Bałuty", "Ten lekarz nie prowadzi zapisów online.", "Neurologia", "Kardiologia"} {
			if !strings.Contains(page, w) {
				t.Errorf("the imported doctor's page lacks %q", w)
			}
		}
		// The same file again, with a new name for D1: updated, not created.
		res = f.multipart(admin, "/calendar/admin/import", url.Values{"source": {"RejestrX"}}, "file",
			[]byte(importHead+"D1,lek.,Piotr,Zieliński-Nowak,7654321,neurology,pl,nie,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,51.76,19.45,\n"))
		if body := string(res.Body); !strings.Contains(body, "Nie dodano żadnego lekarza.") || !strings.Contains(body, "Zaktualizowano 1 lekarza.") {
			t.Fatalf("re-import: %s", body)
		}
		ds = f.doctors(f.A)
		if d, ok := ds["Zieliński-Nowak"]; !ok || d.ID != zi.ID {
			t.Fatalf("re-import did not update the record it owns: %+v", ds)
		}
		// A doctor the administrator removed stays removed when his source sends him again.
		if res := f.post(f.A, admin, "/calendar/admin/doctors/"+zi.ID+"/remove", nil); res.Status != http.StatusSeeOther {
			t.Fatalf("remove: %d", res.Status)
		}
		f.multipart(admin, "/calendar/admin/import", url.Values{"source": {"RejestrX"}}, "file",
			[]byte(importHead+"D1,lek.,Piotr,Zieliński,7654321,neurology,pl,tak,F1,Centrum Medyczne Zdrowie,ul. Lipowa 3,90-100,Łódź,51.76,19.45,\n"))
		if d := f.doctors(f.A)["Zieliński"]; d.ID != zi.ID || d.RemovedAt.IsZero() || d.Bookable {
			t.Fatalf("a removed doctor came back with the import: %+v", d)
		}
		// Another source's D1 is another record.
		f.multipart(admin, "/calendar/admin/import", url.Values{"source": {"RejestrY"}}, "file",
			[]byte(importHead+"D1,,Maria,Inna,,neurology,,,F1,Gabinet Y,,,Kraków,,,\n"))
		if d := f.doctors(f.A)["Inna"]; d.OwnerRef != "RejestrY:D1" {
			t.Fatalf("another source's record: %+v", d)
		}
		if len(f.h.Host.Audits) == 0 || f.h.Host.Audits[0].Value.Action != "calendar.directory_imported" {
			t.Error("the import is not audited")
		}
		// A file that is not the import's CSV, and no source: in words next to the fields.
		res = f.multipart(admin, "/calendar/admin/import", url.Values{"source": {""}}, "file", []byte("hello"))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Podaj nazwę źródła") {
			t.Fatalf("bad import: %d", res.Status)
		}
		res = f.multipart(admin, "/calendar/admin/import", url.Values{"source": {"S"}}, "file", []byte("a,b\n1,2\n"))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "To nie jest plik CSV z wymaganymi kolumnami") {
			t.Fatalf("not the import's CSV: %d", res.Status)
		}
	})
}

// C1: anyone reports wrong data about a doctor from his page (a report that cannot be read
// comes back with the messages, nothing stored); the administrator's queue shows it, and he
// resolves it once (a second resolution changes nothing), audited; "removed" removes the
// doctor from the directory.
func TestReportFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		path := "/calendar/doctors/" + f.doctor.ID + "/report"
		res := f.post(f.A, nil, path, url.Values{"what": {"nonsense"}, "details": {"krótko"}, "email": {"nie-email"}})
		body := string(res.Body)
		if res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad report: %d", res.Status)
		}
		for _, w := range []string{"Wybierz, czego dotyczy zgłoszenie.", "Opisz problem w 10 do 2000 znaków.", "Wpisz poprawny adres e-mail", `aria-invalid="true"`} {
			if !strings.Contains(body, w) {
				t.Errorf("the refused report lacks %q", w)
			}
		}
		if q := string(f.get(f.A, admin, "10.2.0.6", "/calendar/admin/reports").Body); !strings.Contains(q, "Brak zgłoszeń do rozpatrzenia.") {
			t.Fatal("a refused report reached the queue")
		}
		res = f.post(f.A, nil, path, url.Values{"what": {"wrong_data"}, "details": {"Gabinet przeniesiono na ul. Krótką 2."}, "email": {"pacjent@example.org"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("report: %d %s", res.Status, res.Body)
		}
		q := string(f.get(f.A, admin, "10.2.0.6", "/calendar/admin/reports").Body)
		for _, w := range []string{"dr n. med. Anna Kowalska", "Błędne dane", "Gabinet przeniesiono na ul. Krótką 2.", "pacjent@example.org"} {
			if !strings.Contains(q, w) {
				t.Errorf("the queue lacks %q", w)
			}
		}
		var reps []Report
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&reps).Scan(ctx) })
		if len(reps) != 1 {
			t.Fatalf("%d reports stored", len(reps))
		}
		// Another tenant's administrator does not see it.
		if q := string(f.get(f.B, admin, "10.2.0.6", "/calendar/admin/reports").Body); strings.Contains(q, "Krótką") {
			t.Fatal("a report leaked to another tenant")
		}
		resolve := "/calendar/admin/reports/" + reps[0].ID + "/resolve"
		if res := f.post(f.A, admin, resolve, url.Values{"resolution": {"bogus"}}); res.Status != http.StatusBadRequest {
			t.Fatalf("bad resolution: %d", res.Status)
		}
		res = f.post(f.A, admin, resolve, url.Values{"resolution": {"removed"}, "note": {"Lekarz nie pracuje już w tej placówce."}})
		if res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=report_resolved") {
			t.Fatalf("resolve: %d %v", res.Status, res.Header)
		}
		res = f.post(f.A, admin, resolve, url.Values{"resolution": {"dismissed"}})
		if !strings.Contains(res.Header.Get("Location"), "done=report_done_before") {
			t.Fatalf("second resolution: %v", res.Header)
		}
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&reps).Scan(ctx) })
		if reps[0].Status != "resolved" || reps[0].Resolution != "removed" || reps[0].ResolvedBy != admin.ID {
			t.Fatalf("the report: %+v", reps[0])
		}
		if res := f.get(f.A, nil, "10.2.0.7", "/calendar/doctors/"+f.doctor.ID); res.Status != http.StatusNotFound {
			t.Fatalf("the removed doctor's page: %d", res.Status)
		}
		var actions []string
		for _, a := range f.h.Host.Audits {
			actions = append(actions, a.Value.Action)
		}
		if strings.Join(actions, ",") != "calendar.report_resolved,calendar.doctor_removed" {
			t.Fatalf("audited: %v", actions)
		}
	})
}

// C1: the administrator removes a doctor from the directory: out of search and his page,
// no longer bookable, his bookings kept with him as their controller; and a facility: out of
// its doctors' pages. Both audited; the buttons show to the administrator only.
func TestAdminRemoval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		bk := f.booking(f.services[30], time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), "90010112345")
		if err := f.m.reserve(context.Background(), f.A, bk); err != nil {
			t.Fatal(err)
		}
		if page := string(f.get(f.A, nil, "10.2.0.8", "/calendar/doctors/"+f.doctor.ID).Body); strings.Contains(page, "Usuń lekarza z katalogu") {
			t.Fatal("an anonymous visitor sees the removal button")
		}
		if page := string(f.get(f.A, admin, "10.2.0.8", "/calendar/doctors/"+f.doctor.ID).Body); !strings.Contains(page, "Usuń lekarza z katalogu") {
			t.Fatal("the administrator does not see the removal button")
		}
		second := &Facility{Name: "Filia Widzew", City: "Łódź"}
		if err := f.m.saveFacility(context.Background(), f.A, second); err != nil {
			t.Fatal(err)
		}
		if err := f.m.saveDoctor(context.Background(), f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID, second.ID}); err != nil {
			t.Fatal(err)
		}
		res := f.post(f.A, admin, "/calendar/admin/facilities/"+second.ID+"/remove", url.Values{"doctor": {f.doctor.ID}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("remove facility: %d", res.Status)
		}
		if page := string(f.get(f.A, nil, "10.2.0.8", "/calendar/doctors/"+f.doctor.ID).Body); strings.Contains(page, "Filia Widzew") || !strings.Contains(page, "Przychodnia Centrum") {
			t.Fatal("the removed facility still shows, or the other one went")
		}
		res = f.post(f.A, admin, "/calendar/admin/doctors/"+f.doctor.ID+"/remove", nil)
		if res.Status != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "/calendar?done=doctor_removed") {
			t.Fatalf("remove doctor: %d %v", res.Status, res.Header)
		}
		if body := string(f.get(f.A, admin, "10.2.0.8", "/calendar?done=doctor_removed").Body); !strings.Contains(body, "Lekarz został usunięty z katalogu.") ||
			!strings.Contains(body, `href="/calendar/admin/reports"`) {
			t.Fatal("the administrator is not told, or has no way to his queue")
		}
		if body := string(f.get(f.A, nil, "10.2.0.8", "/calendar?q=kowalska").Body); strings.Contains(body, "Kowalska") {
			t.Fatal("the removed doctor is still found")
		}
		if res := f.get(f.A, nil, "10.2.0.8", "/calendar/doctors/"+f.doctor.ID); res.Status != http.StatusNotFound {
			t.Fatalf("the removed doctor's page: %d", res.Status)
		}
		if res := f.post(f.A, admin, "/calendar/admin/doctors/"+f.doctor.ID+"/remove", nil); res.Status != http.StatusNotFound {
			t.Fatalf("removing twice: %d", res.Status)
		}
		if live := f.live(f.A); len(live) != 1 || live[0].ID != bk.ID {
			t.Fatalf("the doctor's bookings after his removal: %+v", live)
		}
		if d := f.doctors(f.A)["Kowalska"]; d.Bookable || d.RemovedAt.IsZero() {
			t.Fatalf("removed doctor: %+v", d)
		}
		// Another tenant cannot remove him (not found there).
		if res := f.post(f.B, admin, "/calendar/admin/doctors/"+f.doctor.ID+"/remove", nil); res.Status != http.StatusNotFound {
			t.Fatalf("another tenant's removal: %d", res.Status)
		}
		var actions []string
		for _, a := range f.h.Host.Audits {
			actions = append(actions, a.Value.Action)
		}
		if strings.Join(actions, ",") != "calendar.facility_removed,calendar.doctor_removed" {
			t.Fatalf("audited: %v", actions)
		}
	})
}

// C1 (issue 13's known defect): the doctors' search words are built at save time; when the
// locale files' synonyms change, the job rebuilds them (the stored hash of the synonym data
// differs), and once rebuilt it changes nothing until the data changes again.
func TestStaleSearchWordsRebuilt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		if n, err := f.m.refreshSearchWords(ctx, f.A); err != nil || n != 0 {
			t.Fatalf("first run: %d %v (words built at save time are current)", n, err)
		}
		// As if the words had been built from an older synonym list that lacked "serce".
		err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Update((*Doctor)(nil)).Set("search_key = ' anna kowalska '").Where("dr.id = ?", f.doctor.ID).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Update((*directoryState)(nil)).Set("words_hash = 'older'").Where("1 = 1").Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if body := string(f.get(f.A, nil, "10.2.0.9", "/calendar?q=serce").Body); strings.Contains(body, "Kowalska") {
			t.Fatal("the stale words still find her: the test proves nothing")
		}
		if err := f.h.Job(ctx, f.A, jobRefreshSearchWords, nil); err != nil {
			t.Fatal(err)
		}
		if body := string(f.get(f.A, nil, "10.2.0.9", "/calendar?q=serce").Body); !strings.Contains(body, "Kowalska") {
			t.Fatal("the job did not rebuild the stale words")
		}
		// Same data: nothing to do, even if a key was changed by hand.
		_ = f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Doctor)(nil)).Set("search_key = ' x '").Where("dr.id = ?", f.doctor.ID).Exec(ctx)
			return err
		})
		if n, err := f.m.refreshSearchWords(ctx, f.A); err != nil || n != 0 {
			t.Fatalf("run with current hash: %d %v", n, err)
		}
		// Another tenant keeps its own state.
		if n, err := f.m.refreshSearchWords(ctx, f.B); err != nil || n != 0 {
			t.Fatalf("tenant B: %d %v", n, err)
		}
	})
}

// C1: the map's files come from the binary with a long cache; the search page carries the
// tenant's tile URL and attribution (rules) and no inline script; an unknown file is a 404.
func TestMapAssetsAndTiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		for path, ct := range map[string]string{"/calendar/assets/leaflet.js": "text/javascript", "/calendar/assets/leaflet.css": "text/css",
			"/calendar/assets/map.js": "text/javascript", "/calendar/assets/calendar.css": "text/css", "/calendar/assets/images/marker-icon.png": "image/png"} {
			res := f.get(f.A, nil, "10.2.1.1", path+"?v=1")
			if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) || !strings.Contains(res.Header.Get("Cache-Control"), "max-age=31536000") || len(res.Body) < 100 {
				t.Errorf("%s: %d %v", path, res.Status, res.Header)
			}
		}
		for _, path := range []string{"/calendar/assets/nothing.js", "/calendar/assets/x/marker-icon.png", "/calendar/assets/LICENSE"} {
			if res := f.get(f.A, nil, "10.2.1.1", path); res.Status != http.StatusNotFound {
				t.Errorf("%s: %d", path, res.Status)
			}
		}
		lat, lon := 51.77, 19.46
		f.facility.Latitude, f.facility.Longitude = &lat, &lon
		if err := f.m.saveFacility(context.Background(), f.A, f.facility); err != nil {
			t.Fatal(err)
		}
		body := string(f.get(f.A, nil, "10.2.1.1", "/calendar?q=serce").Body)
		for _, w := range []string{`data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"`, `data-attribution="© OpenStreetMap contributors"`,
			`data-lat="51.77"`, `data-lon="19.46"`, `src="/calendar/assets/leaflet.js?v=`, `src="/calendar/assets/map.js?v=`} {
			if !strings.Contains(body, w) {
				t.Errorf("the result page lacks %s", w)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
			t.Error("inline script or style on the page (CSP)")
		}
		other := f.A
		other.Rules = map[string]any{"calendar.map_tile_url": "https://tiles.example.org/{z}/{x}/{y}.png", "calendar.map_attribution": "© Mapy"}
		body = string(f.get(other, nil, "10.2.1.2", "/calendar?q=serce").Body)
		if !strings.Contains(body, `data-tiles="https://tiles.example.org/{z}/{x}/{y}.png"`) || !strings.Contains(body, `data-attribution="© Mapy"`) {
			t.Error("the tenant's tile rule is not used")
		}
	})
}
