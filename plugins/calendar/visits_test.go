package calendar

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

var (
	slotLinkRe  = regexp.MustCompile(`href="(/calendar/doctors/[^"]+&amp;start=(\d+))"`)
	visitPathRe = regexp.MustCompile(`^/calendar/visits/([0-9a-f-]{36})\?done=booked$`)
)

// window adds a weekly window of the fixture's doctor at its facility.
func (f *fixture) window(weekday, from, to int) {
	f.t.Helper()
	err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&Window{TenantID: f.A.ID, ID: newID(), DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
			Weekday: weekday, StartMinute: from, EndMinute: to}).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// send sends a request of u with the terms version he accepted (the core gives it, P6).
func (f *fixture) send(u *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.9.9.9", TermsVersion: "terms-v3", Header: http.Header{}}
	if form != nil {
		req.Body = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := f.h.Send(context.Background(), f.A, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// C4, C5, C9, C11, P6: a signed-in patient picks a free start of the week, books it for
// himself (a wrong PESEL or a missing consent is told next to the field, nothing stored);
// the booking keeps the terms version, the consent and the specialty; the start leaves the
// week at once and the doctor's agenda shows it confirmed; the patient sees it under his
// upcoming visits, cancels it, and the start is free again, the visit in his history.
func TestPatientBooksAndCancels(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60) // Tuesdays 9:00–10:00 in Warsaw
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"mobile": "+48601234567"}}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID + "&week=2026-12-01"
		res := f.send(u, "GET", week, nil)
		starts := slotLinkRe.FindAllStringSubmatch(string(res.Body), -1)
		if res.Status != 200 || len(starts) != 2 || !strings.Contains(string(res.Body), ">09:00<") || !strings.Contains(string(res.Body), ">09:30<") {
			t.Fatalf("week: %d, %d starts\n%s", res.Status, len(starts), res.Body)
		}
		form := url.Values{"service": {f.services[30].ID}, "start": {starts[0][2]}, "pesel": {"8503021234"}, "mobile": {"+48601234567"}}
		res = f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "11 cyfr") || !strings.Contains(string(res.Body), "Ta zgoda jest konieczna") {
			t.Fatalf("bad form: %d\n%s", res.Status, res.Body)
		}
		if n := len(f.live(f.A)); n != 0 {
			t.Fatalf("a refused form stored %d bookings", n)
		}
		// C5: a PESEL whose check digit is wrong, one whose birth date does not exist (month
		// 13), and a Warsaw landline, each refused next to its field in the page's language.
		for _, c := range []struct{ pesel, mobile, want string }{
			{"85030212345", "+48601234567", "ostatnia nie zgadza się"},
			{"85130212347", "+48601234567", "nie odpowiada żadnej możliwej dacie"},
			{"85030212344", "+48 22 123 45 67", "numer telefonu stacjonarnego"},
		} {
			bad := url.Values{"service": {f.services[30].ID}, "start": {starts[0][2]}, "pesel": {c.pesel}, "mobile": {c.mobile}, "consent_doctor": {"yes"}}
			if res := f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", bad); res.Status != http.StatusUnprocessableEntity ||
				!strings.Contains(string(res.Body), c.want) || len(f.live(f.A)) != 0 {
				t.Fatalf("%s %s: %d, want %q\n%s", c.pesel, c.mobile, res.Status, c.want, res.Body)
			}
		}
		form.Set("pesel", "85030212344")
		form.Set("consent_doctor", "yes")
		res = f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form)
		m := visitPathRe.FindStringSubmatch(res.Header.Get("Location"))
		if res.Status != http.StatusSeeOther || m == nil {
			t.Fatalf("booking: %d %s\n%s", res.Status, res.Header.Get("Location"), res.Body)
		}
		got := f.live(f.A)
		if len(got) != 1 || got[0].ID != m[1] || got[0].TermsVersion != "terms-v3" || got[0].Consents != consentDoctorController ||
			got[0].Specialty != "cardiology" || got[0].Status != statusConfirmed || got[0].UserID != "p1" || got[0].PESEL != "85030212344" {
			t.Fatalf("stored %+v", got)
		}
		// The same start, booked again: told it is gone, nothing stored.
		res = f.send(&sdk.User{ID: "p2", Name: "Ewa Lis", Roles: []string{"user"}}, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form)
		if res.Status != http.StatusConflict || len(f.live(f.A)) != 1 {
			t.Fatalf("the same start again: %d", res.Status)
		}
		if n := len(slotLinkRe.FindAllString(string(f.send(u, "GET", week, nil).Body), -1)); n != 1 {
			t.Fatalf("after booking the week offers %d starts, want 1", n)
		}
		if body := string(f.send(u, "GET", "/calendar/visits/"+m[1]+"?done=booked", nil).Body); !strings.Contains(body, "Twoja wizyta jest potwierdzona") ||
			!strings.Contains(body, "Anna Kowalska") || !strings.Contains(body, "300,00") {
			t.Fatalf("confirmation page:\n%s", body)
		}
		// The doctor's agenda.
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Doctor)(nil)).Set("user_id = ?", "doc1").Where("dr.id = ?", f.doctor.ID).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		if body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); !strings.Contains(body, "Jan Nowak") || !strings.Contains(body, "Potwierdzona") {
			t.Fatalf("agenda:\n%s", body)
		}
		// Another patient does not see it.
		if res := f.send(&sdk.User{ID: "p2", Roles: []string{"user"}}, "GET", "/calendar/visits/"+m[1], nil); res.Status != 404 {
			t.Fatalf("another patient: %d", res.Status)
		}
		body := string(f.send(u, "GET", "/calendar/visits", nil).Body)
		if !strings.Contains(body, "/calendar/visits/"+m[1]+"/cancel") {
			t.Fatalf("upcoming visits:\n%s", body)
		}
		if res := f.send(u, "POST", "/calendar/visits/"+m[1]+"/cancel", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", res.Status)
		}
		body = string(f.send(u, "GET", "/calendar/visits?done=cancelled", nil).Body)
		if !strings.Contains(body, "Odwołana przez pacjenta") || strings.Contains(body, "/cancel\"") {
			t.Fatalf("after cancelling:\n%s", body)
		}
		if n := len(slotLinkRe.FindAllString(string(f.send(u, "GET", week, nil).Body), -1)); n != 2 {
			t.Fatalf("after cancelling the week offers %d starts, want 2", n)
		}
		// A doctor who does not book online has no booking page.
		f.doctor.Bookable = false
		if err := f.m.saveDoctor(context.Background(), f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		if res := f.send(u, "GET", week, nil); res.Status != 404 {
			t.Fatalf("not bookable: %d", res.Status)
		}
	})
}

// C4: the weekly windows keep their wall-clock hours across both daylight-saving changes
// in the tenant's zone (Warsaw: 29 March and 25 October 2026 are Sundays), and a public
// holiday of the tenant's country closes the day (1 November, All Saints' Day in Poland).
func TestSlotsAcrossDaylightSaving(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(7, 9*60, 10*60)
		f.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		waw, _ := time.LoadLocation("Europe/Warsaw")
		for _, c := range []struct {
			day  time.Time
			utcH int
			n    int
		}{{time.Date(2026, 3, 22, 0, 0, 0, 0, waw), 8, 3}, {time.Date(2026, 3, 29, 0, 0, 0, 0, waw), 7, 3},
			{time.Date(2026, 10, 25, 0, 0, 0, 0, waw), 8, 3}, {time.Date(2026, 11, 1, 0, 0, 0, 0, waw), 0, 0},
			{time.Date(2026, 11, 8, 0, 0, 0, 0, waw), 8, 3}} {
			got, err := f.m.freeSlots(context.Background(), f.A, slotQuery{DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
				Duration: 20 * time.Minute, From: c.day, To: c.day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.n {
				t.Errorf("%s: %d slots %v, want %d", c.day.Format(time.DateOnly), len(got), got, c.n)
				continue
			}
			if c.n > 0 && (got[0].Hour() != c.utcH || got[0].In(waw).Hour() != 9 || got[2].In(waw).Format("15:04") != "09:40") {
				t.Errorf("%s: %v", c.day.Format(time.DateOnly), got)
			}
		}
	})
}

// C15: when the doctor stops his online calendar, his patients' later visits show only
// their date and time with the note, and he takes no online booking; restarted, all is
// back.
func TestDoctorStopsOnlineCalendar(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		ctx := context.Background()
		bk := f.booking(f.services[30], tuesday, "85030212344")
		bk.UserID = "p1"
		if err := f.m.reserve(ctx, f.A, bk); err != nil {
			t.Fatal(err)
		}
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		u := &sdk.User{ID: "p1", Name: "Jan Nowak", Roles: []string{"user"}}
		if res := f.send(doc, "POST", "/calendar/agenda/online", url.Values{"online": {"off"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("stop: %d", res.Status)
		}
		for _, path := range []string{"/calendar/visits", "/calendar/visits/" + bk.ID} {
			body := string(f.send(u, "GET", path, nil).Body)
			if !strings.Contains(body, "Lekarz nie prowadzi już kalendarza online") || strings.Contains(body, "Kowalska") || !strings.Contains(body, "01.12.2026") {
				t.Fatalf("%s after the stop:\n%s", path, body)
			}
		}
		if res := f.send(u, "GET", "/calendar/doctors/"+f.doctor.ID+"/book", nil); res.Status != 404 {
			t.Fatalf("booking page after the stop: %d", res.Status)
		}
		if body := string(f.get(f.A, nil, "10.0.0.1", "/calendar/doctors/"+f.doctor.ID).Body); !strings.Contains(body, "nie prowadzi zapisów online") {
			t.Fatal("the doctor's page does not say he takes no online booking")
		}
		f.send(doc, "POST", "/calendar/agenda/online", url.Values{"online": {"on"}})
		if body := string(f.send(u, "GET", "/calendar/visits/"+bk.ID, nil).Body); !strings.Contains(body, "Kowalska") {
			t.Fatalf("after the restart:\n%s", body)
		}
		if res := f.send(doc, "POST", "/calendar/agenda/online", url.Values{"online": {"maybe"}}); res.Status != 400 {
			t.Fatalf("a bad switch: %d", res.Status)
		}
	})
}

// C10: the doctor cancels a visit to come with a reason: it leaves his calendar, its time
// is free, the patient gets the e-mail (to his account, or to the address given at
// booking) and reads the reason in his history; another doctor cannot cancel it.
func TestDoctorCancelsAVisit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		mine := f.booking(f.services[30], tuesday, "85030212344")
		mine.UserID = "p1"
		// The patient reads French, the doctor's page is Polish: the e-mail's date is his.
		f.h.Host.Users[f.A.ID] = append(f.h.Host.Users[f.A.ID], sdk.User{ID: "p1", Name: "Jean Martin", Locale: "fr", Roles: []string{"user"}})
		anon := f.booking(f.services[30], tuesday.Add(time.Hour), "90010112349")
		anon.Email = "ewa@example.org"
		for _, bk := range []*Booking{mine, anon} {
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
		}
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		other := &sdk.User{ID: "doc2", Name: "Inny Lekarz", Roles: []string{"doctor"}}
		if res := f.send(other, "POST", "/calendar/agenda/"+mine.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != 404 {
			t.Fatalf("another doctor: %d", res.Status)
		}
		if res := f.send(doc, "POST", "/calendar/agenda/"+mine.ID+"/cancel", url.Values{"reason": {"whim"}}); res.Status != 400 {
			t.Fatalf("unknown reason: %d", res.Status)
		}
		if body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); strings.Count(body, "/cancel\"") != 2 {
			t.Fatalf("agenda offers %d cancellations", strings.Count(body, "/cancel\""))
		}
		for _, bk := range []*Booking{mine, anon} {
			if res := f.send(doc, "POST", "/calendar/agenda/"+bk.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("cancel: %d", res.Status)
			}
		}
		if n := len(f.live(f.A)); n != 0 {
			t.Fatalf("%d live bookings after the doctor's cancellations", n)
		}
		var toUser, toAddress bool
		for _, m := range f.h.Host.Messages {
			if m.Value.Template != tmplCancelledByDoctor || m.Value.Data["Doctor"] != "dr n. med. Anna Kowalska" {
				continue
			}
			toUser = toUser || m.Value.UserID == "p1" && m.Value.Data["When"] == locales.FormatDateTime("fr", tuesday, tenantZone(f.A))
			toAddress = toAddress || m.Value.To == "ewa@example.org" && m.Value.Data["When"] == locales.FormatDateTime(f.A.Locale, anon.StartsAt, tenantZone(f.A))
		}
		if !toUser || !toAddress {
			t.Fatalf("messages: %+v", f.h.Host.Messages)
		}
		if body := string(f.send(&sdk.User{ID: "p1", Roles: []string{"user"}}, "GET", "/calendar/visits", nil).Body); !strings.Contains(body, "Odwołana przez lekarza (nagły wypadek)") {
			t.Fatalf("patient's history:\n%s", body)
		}
		if err := f.m.reserve(ctx, f.A, f.booking(f.services[30], tuesday, testPESEL(5))); err != nil {
			t.Fatalf("the freed time: %v", err)
		}
	})
}
