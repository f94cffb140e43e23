package calendar

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// pngOf is a w×h PNG image.
func pngOf(t *testing.T, w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts a file as the multipart field name.
func (f *fixture) upload(u *sdk.User, path, name string, data []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile(name, "photo.png")
	fw.Write(data)
	mw.Close()
	req := &sdk.Request{Method: "POST", Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}, Body: body.Bytes()}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := f.h.Send(context.Background(), f.A, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// C2, C4: the doctor and his facility keep his profile and calendar; each form refuses bad
// input with a message next to its field and changes nothing; a doctor of another facility
// is not theirs.
func TestManageProfileAndCalendar(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, _ := agendaFixture(t, b)
		ctx := context.Background()
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		fac := &sdk.User{ID: "fac1", Name: "Przychodnia", Roles: []string{"facility"}}
		base := "/calendar/manage/" + f.doctor.ID
		// Someone else's doctor: another facility's account and another doctor see nothing.
		elsewhere := &Facility{Name: "Inna", City: "Kraków", UserID: "fac2"}
		if err := f.m.saveFacility(ctx, f.A, elsewhere); err != nil {
			t.Fatal(err)
		}
		for _, u := range []*sdk.User{{ID: "fac2", Roles: []string{"facility"}}, {ID: "doc9", Roles: []string{"doctor"}}} {
			if res := f.send(u, "GET", base, nil); res.Status != 404 {
				t.Fatalf("%s opens the doctor: %d", u.ID, res.Status)
			}
			if res := f.send(u, "POST", base+"/buffer", url.Values{"buf_facility": {f.facility.ID}, "buffer": {"10"}}); res.Status != 404 {
				t.Fatalf("%s sets a buffer: %d", u.ID, res.Status)
			}
		}
		// Profile.
		res := f.send(doc, "POST", base+"/profile", url.Values{"description": {strings.Repeat("a", maxDescription+1)}, "competences": {"nadciśnienie"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Ten tekst jest za długi") || !strings.Contains(string(res.Body), `aria-invalid="true"`) {
			t.Fatalf("a description too long: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(doc, "POST", base+"/profile", url.Values{"description": {"Kardiolog"}, "languages": {"pl", "xx"}}); res.Status != 400 {
			t.Fatalf("an unknown language: %d", res.Status)
		}
		res = f.send(doc, "POST", base+"/profile", url.Values{"description": {"Kardiolog z 20-letnim doświadczeniem"}, "competences": {"nadciśnienie, arytmia"}, "languages": {"pl", "en"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("profile: %d\n%s", res.Status, res.Body)
		}
		var d Doctor
		read := func() {
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				return sc.Select(&d).Where("dr.id = ?", f.doctor.ID).Scan(ctx)
			}); err != nil {
				t.Fatal(err)
			}
		}
		read()
		if d.Description != "Kardiolog z 20-letnim doświadczeniem" || d.Languages != "pl,en" || !strings.Contains(d.SearchKey, "arytmia") || d.UserID != "doc1" {
			t.Fatalf("profile stored: %+v", d)
		}
		// A service: a bad price and length are refused; a good one is stored in minor units.
		bad := url.Values{"svc_facility": {f.facility.ID}, "svc_name": {"USG serca"}, "svc_specialty": {"cardiology"}, "svc_duration": {"33"}, "svc_price": {"sto"}}
		res = f.send(fac, "POST", base+"/services", bad)
		if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "Podaj cenę jako kwotę") || !strings.Contains(body, "w krokach co 5 minut") {
			t.Fatalf("a bad service: %d\n%s", res.Status, body)
		}
		count := func(model any) int64 {
			var n int64
			if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				var err error
				n, err = sc.Select(model).Count(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		services := count((*Service)(nil))
		good := url.Values{"svc_facility": {f.facility.ID}, "svc_name": {"USG serca"}, "svc_specialty": {"cardiology"}, "svc_duration": {"40"}, "svc_price": {"250,50"}}
		if res := f.send(fac, "POST", base+"/services", good); res.Status != http.StatusSeeOther || count((*Service)(nil)) != services+1 {
			t.Fatalf("a service: %d", res.Status)
		}
		var svc Service
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&svc).Where("sv.name = 'USG serca'").Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if svc.PriceMinor != 25050 || svc.Currency != "PLN" || !svc.VATIncluded || svc.DurationMinutes != 40 || svc.DoctorID != f.doctor.ID {
			t.Fatalf("service stored: %+v", svc)
		}
		if body := string(f.send(doc, "GET", base, nil).Body); !strings.Contains(body, "USG serca") || !strings.Contains(body, "250,50") {
			t.Fatalf("the page lacks the service:\n%s", body)
		}
		if res := f.send(doc, "POST", base+"/services", url.Values{"svc_facility": {elsewhere.ID}, "svc_name": {"X"}, "svc_specialty": {"cardiology"}, "svc_duration": {"30"}, "svc_price": {"1"}}); res.Status != 400 {
			t.Fatalf("a service at a facility he does not work at: %d", res.Status)
		}
		// A weekly window, then an absence over it.
		if res := f.send(doc, "POST", base+"/windows", url.Values{"win_facility": {f.facility.ID}, "win_weekday": {"4"}, "win_from": {"12:00"}, "win_to": {"11:00"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Koniec musi być późniejszy") || count((*Window)(nil)) != 0 {
			t.Fatalf("a window ending before it starts: %d", res.Status)
		}
		if res := f.send(doc, "POST", base+"/windows", url.Values{"win_facility": {f.facility.ID}, "win_weekday": {"4"}, "win_from": {"09:00"}, "win_to": {"11:00"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("a window: %d\n%s", res.Status, res.Body)
		}
		thursday := time.Date(2026, 12, 3, 0, 0, 0, 0, tenantZone(f.A))
		free := func() int {
			got, err := f.m.freeSlots(ctx, f.A, slotQuery{DoctorID: f.doctor.ID, FacilityID: f.facility.ID, Duration: 30 * time.Minute, From: thursday, To: thursday.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		if n := free(); n != 4 {
			t.Fatalf("Thursday offers %d starts, want 4", n)
		}
		if res := f.send(doc, "POST", base+"/absences", url.Values{"abs_from": {"2026-12-03T10:00"}, "abs_to": {"2026-12-03T09:00"}}); res.Status != http.StatusUnprocessableEntity ||
			count((*Exception)(nil)) != 0 {
			t.Fatalf("an absence ending before it starts: %d", res.Status)
		}
		if res := f.send(doc, "POST", base+"/absences", url.Values{"abs_from": {"2026-12-03T10:00"}, "abs_to": {"2026-12-03T11:00"}, "abs_note": {"szkolenie"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("an absence: %d\n%s", res.Status, res.Body)
		}
		if n := free(); n != 2 {
			t.Fatalf("with the absence Thursday offers %d starts, want 2", n)
		}
		// The buffer's form.
		if res := f.send(doc, "POST", base+"/buffer", url.Values{"buf_facility": {f.facility.ID}, "buffer": {"150"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "od 0 do 120") {
			t.Fatalf("a buffer too long: %d", res.Status)
		}
		if res := f.send(fac, "POST", base+"/buffer", url.Values{"buf_facility": {f.facility.ID}, "buffer": {"10"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("a buffer: %d", res.Status)
		}
		if n := free(); n != 1 { // 9:00–9:30, then 10 minutes free before the absence
			t.Fatalf("with a buffer Thursday offers %d starts, want 1", n)
		}
	})
}

// C1, C2: the doctor's photo is a PNG or JPEG that decodes, of sensible size; anything
// else is refused next to the field; the photo is served from his page's address.
func TestManagePhoto(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, _ := agendaFixture(t, b)
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		path := "/calendar/manage/" + f.doctor.ID + "/photo"
		for _, c := range []struct {
			data []byte
			want string
		}{{[]byte("<svg onload=alert(1)>"), "To nie jest zdjęcie PNG ani JPEG"}, {pngOf(t, 50, 50), "od 100 do 4000 pikseli"}} {
			if res := f.upload(doc, path, "photo", c.data); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), c.want) {
				t.Fatalf("want %q: %d\n%s", c.want, res.Status, res.Body)
			}
		}
		if len(f.h.Host.Blobs) != 0 {
			t.Fatal("a refused photo was stored")
		}
		if res := f.get(f.A, nil, "10.0.0.1", "/calendar/doctors/"+f.doctor.ID+"/photo"); res.Status != 404 {
			t.Fatalf("no photo yet: %d", res.Status)
		}
		img := pngOf(t, 200, 240)
		if res := f.upload(doc, path, "photo", img); res.Status != http.StatusSeeOther {
			t.Fatalf("photo: %d\n%s", res.Status, res.Body)
		}
		res := f.get(f.A, nil, "10.0.0.1", "/calendar/doctors/"+f.doctor.ID+"/photo")
		if res.Status != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(res.Body, img) || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("served photo: %d %v", res.Status, res.Header)
		}
		if body := string(f.get(f.A, nil, "10.0.0.1", "/calendar/doctors/"+f.doctor.ID).Body); !strings.Contains(body, `src="/calendar/doctors/`+f.doctor.ID+`/photo"`) {
			t.Fatalf("the doctor's page shows no photo:\n%s", body)
		}
		// A second photo replaces the first, whose blob is deleted.
		if res := f.upload(doc, path, "photo", pngOf(t, 300, 300)); res.Status != http.StatusSeeOther || len(f.h.Host.Blobs) != 1 {
			t.Fatalf("second photo: %d, %d blobs", res.Status, len(f.h.Host.Blobs))
		}
	})
}

// C2: a facility keeps a doctor's calendar at its own facility only: when he also works
// elsewhere, that facility's services, windows and absences are not its to change, and
// only the doctor himself is absent from all his facilities at once.
func TestFacilityKeepsOnlyItsOwnCalendar(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, _ := agendaFixture(t, b)
		ctx := context.Background()
		other := &Facility{Name: "Inna Przychodnia", City: "Kraków", UserID: "fac2"}
		if err := f.m.saveFacility(ctx, f.A, other); err != nil {
			t.Fatal(err)
		}
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID, other.ID}); err != nil {
			t.Fatal(err)
		}
		fac2 := &sdk.User{ID: "fac2", Roles: []string{"facility"}}
		doc := &sdk.User{ID: "doc1", Roles: []string{"doctor"}}
		base := "/calendar/manage/" + f.doctor.ID
		body := string(f.send(fac2, "GET", base, nil).Body)
		if !strings.Contains(body, "Inna Przychodnia") || strings.Contains(body, "Przychodnia Centrum") {
			t.Fatalf("the other facility's page:\n%s", body)
		}
		window := url.Values{"win_facility": {f.facility.ID}, "win_weekday": {"1"}, "win_from": {"09:00"}, "win_to": {"10:00"}}
		if res := f.send(fac2, "POST", base+"/windows", window); res.Status != 400 {
			t.Fatalf("a window at another facility: %d", res.Status)
		}
		if res := f.send(fac2, "POST", base+"/absences", url.Values{"abs_facility": {""}, "abs_from": {"2026-12-03T10:00"}, "abs_to": {"2026-12-03T11:00"}}); res.Status != 400 {
			t.Fatalf("a facility's absence everywhere: %d", res.Status)
		}
		// The doctor's own window at Przychodnia Centrum cannot be removed by the other facility.
		if res := f.send(doc, "POST", base+"/windows", window); res.Status != http.StatusSeeOther {
			t.Fatalf("the doctor's window: %d", res.Status)
		}
		var w Window
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&w).Scan(ctx) }); err != nil {
			t.Fatal(err)
		}
		if res := f.send(fac2, "POST", base+"/windows/"+w.ID+"/remove", url.Values{}); res.Status != 404 {
			t.Fatalf("the other facility removes his window: %d", res.Status)
		}
		if res := f.send(&sdk.User{ID: "fac1", Roles: []string{"facility"}}, "POST", base+"/windows/"+w.ID+"/remove", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("his facility removes his window: %d", res.Status)
		}
		if res := f.send(fac2, "POST", base+"/windows", url.Values{"win_facility": {other.ID}, "win_weekday": {"1"}, "win_from": {"09:00"}, "win_to": {"10:00"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("a window at its own facility: %d", res.Status)
		}
	})
}
