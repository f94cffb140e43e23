package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/pesel"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// peselBorn is a valid PESEL of a person born on y-m-d (serial 4 digits).
func peselBorn(y, m, d, serial int) string {
	mm := m
	if y >= 2000 {
		mm += 20
	}
	first := fmt.Sprintf("%02d%02d%02d%04d", y%100, mm, d, serial)
	return first + strconv.Itoa(pesel.CheckDigit(first))
}

// guestForm is a complete anonymous booking form for start.
func (f *fixture) guestForm(start, pesel, email string) url.Values {
	return url.Values{"service": {f.services[30].ID}, "start": {start}, "first_name": {"Jan"}, "last_name": {"Nowak"},
		"pesel": {pesel}, "email": {email}, "mobile": {"601 234 567"}, "consent_terms": {"yes"}, "consent_doctor": {"yes"}}
}

// firstStart is the first free start the anonymous week offers on Tuesday 1 December.
func (f *fixture) firstStart(action string) string {
	f.t.Helper()
	res := f.send(nil, "GET", "/calendar/doctors/"+f.doctor.ID+"/"+action+"?service="+f.services[30].ID+"&week=2026-12-01", nil)
	starts := slotLinkRe.FindAllStringSubmatch(string(res.Body), -1)
	if res.Status != 200 || len(starts) == 0 {
		f.t.Fatalf("%s week: %d\n%s", action, res.Status, res.Body)
	}
	return starts[0][2]
}

// guestBook books start anonymously and returns the booking and the token of its link.
func (f *fixture) guestBook(start, pesel, email string) (Booking, string) {
	f.t.Helper()
	before := len(f.h.Host.Messages)
	res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(start, pesel, email))
	if res.Status != 200 || !strings.Contains(string(res.Body), "Sprawdź skrzynkę e-mail") {
		f.t.Fatalf("anonymous booking: %d\n%s", res.Status, res.Body)
	}
	if len(f.h.Host.Messages) != before+1 {
		f.t.Fatalf("%d messages sent", len(f.h.Host.Messages)-before)
	}
	msg := f.h.Host.Messages[before].Value
	token, ok := strings.CutPrefix(msg.Link, "/calendar/confirm/")
	if msg.Template != tmplConfirmBooking || msg.To != email || msg.UserID != "" || !ok || !tokenRe.MatchString(token) {
		f.t.Fatalf("message %+v", msg)
	}
	var ct confirmToken
	if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&ct).Where("ct.token_hash = ?", hashToken(token)).Scan(ctx)
	}); err != nil {
		f.t.Fatal(err)
	}
	return f.bookingByID(ct.BookingID), token
}

// C6, P6: a person without an account books a free start for himself: the slot is held as
// awaiting confirmation (the doctor's agenda says so) for the tenant's 30 minutes, with the
// terms version in force and the consents given; the e-mail's link (only its hash is
// stored) opens a page that does not confirm by itself; its button confirms, once, and
// offers registration; a durable expiry job was scheduled for the hold's end.
func TestAnonymousBookingConfirmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		start := f.firstStart("guest")
		// A form with every field wrong changes nothing and says why next to each field.
		res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", url.Values{"service": {f.services[30].ID}, "start": {start},
			"pesel": {"85030212345"}, "email": {"jan@"}, "mobile": {"+48 22 123 45 67"}})
		body := string(res.Body)
		for _, want := range []string{"To pole jest wymagane", "ostatnia nie zgadza się", "prawidłowy adres e-mail", "numer telefonu stacjonarnego",
			"Ta zgoda jest konieczna", `aria-invalid="true"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("bad form: %d, want %q\n%s", res.Status, want, body)
			}
		}
		if res.Status != http.StatusUnprocessableEntity || len(f.live(f.A)) != 0 || len(f.h.Host.Messages) != 0 {
			t.Fatalf("a refused form: %d, %d bookings", res.Status, len(f.live(f.A)))
		}
		bk, token := f.guestBook(start, testPESEL(1), "Jan.Nowak@Example.org")
		if bk.Status != statusAwaiting || !bk.HoldExpiresAt.Time.Equal(f.now.Add(30*time.Minute)) || bk.UserID != "" || bk.ForOther ||
			bk.TermsVersion != "v1-calendar" || bk.Consents != "terms,doctor_controller" || bk.Mobile != "+48601234567" || bk.PESEL != testPESEL(1) {
			t.Fatalf("stored %+v", bk)
		}
		var jobs []sdk.Job
		for _, j := range f.h.Host.Jobs {
			jobs = append(jobs, j.Value)
		}
		if len(jobs) != 1 || jobs[0].Name != jobExpireHold || jobs[0].Key != "expire:"+bk.ID || !jobs[0].At.Equal(bk.HoldExpiresAt.Time) || string(jobs[0].Payload) != bk.ID {
			t.Fatalf("jobs %+v", jobs)
		}
		// The start left the week at once (C9); the doctor sees the visit awaiting confirmation.
		if n := len(slotLinkRe.FindAllString(string(f.send(nil, "GET", "/calendar/doctors/"+f.doctor.ID+"/guest?service="+f.services[30].ID+"&week=2026-12-01", nil).Body), -1)); n != 1 {
			t.Fatalf("the week offers %d starts, want 1", n)
		}
		f.ownDoctor("doc1")
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		if body := string(f.send(doc, "GET", "/calendar/agenda?from=2026-11-30", nil).Body); !strings.Contains(body, "Oczekuje na potwierdzenie") {
			t.Fatalf("agenda:\n%s", body)
		}
		// Following the link (a GET, as a mail scanner would) shows a button, confirms nothing.
		res = f.send(nil, "GET", "/calendar/confirm/"+token, nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), "Potwierdzam wizytę") || f.bookingByID(bk.ID).Status != statusAwaiting {
			t.Fatalf("link page: %d\n%s", res.Status, res.Body)
		}
		f.now = f.now.Add(29 * time.Minute)
		res = f.send(nil, "POST", "/calendar/confirm/"+token, url.Values{})
		if res.Status != 200 || !strings.Contains(string(res.Body), "Twoja wizyta jest potwierdzona") || !strings.Contains(string(res.Body), `href="/register"`) {
			t.Fatalf("confirming: %d\n%s", res.Status, res.Body)
		}
		if got := f.bookingByID(bk.ID); got.Status != statusConfirmed || !got.ConfirmedAt.Time.Equal(f.now) {
			t.Fatalf("after confirming: %+v", got)
		}
		// The expiry job is gone; the confirmed visit's reminder (C7) is what stays.
		for _, j := range f.h.Host.Jobs {
			if j.Value.Name == jobExpireHold {
				t.Fatalf("the expiry job is still pending: %+v", f.h.Host.Jobs)
			}
		}
		// The link is used: again, it says so and changes nothing; the job, had it run, too.
		res = f.send(nil, "POST", "/calendar/confirm/"+token, url.Values{})
		if res.Status != 200 || !strings.Contains(string(res.Body), "link działa tylko raz") {
			t.Fatalf("second use: %d\n%s", res.Status, res.Body)
		}
		f.now = f.now.Add(time.Hour)
		if err := f.h.Job(context.Background(), f.A, jobExpireHold, []byte(bk.ID)); err != nil || f.bookingByID(bk.ID).Status != statusConfirmed {
			t.Fatalf("the job after confirmation: %v %s", err, f.bookingByID(bk.ID).Status)
		}
		// A made-up link, or a malformed one: a clear page, never a 500.
		for _, bad := range []string{strings.Repeat("A", 43), "x", "..%2F..%2Fetc"} {
			if res := f.send(nil, "GET", "/calendar/confirm/"+bad, nil); res.Status != 404 || !strings.Contains(string(res.Body), "link jest nieprawidłowy") {
				t.Fatalf("link %q: %d\n%s", bad, res.Status, res.Body)
			}
		}
		if res := f.send(nil, "POST", "/calendar/confirm/"+strings.Repeat("A", 43), url.Values{}); res.Status != 404 {
			t.Fatalf("confirming a made-up link: %d", res.Status)
		}
		// The token itself is stored nowhere.
		var n int
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			c, err := sc.Select((*confirmToken)(nil)).Where("ct.token_hash = ?", token).Count(ctx)
			n = int(c)
			return err
		}); err != nil || n != 0 {
			t.Fatalf("token stored in clear: %v %d", err, n)
		}
	})
}

// ownDoctor makes the fixture's doctor the account userID's.
func (f *fixture) ownDoctor(userID string) {
	f.t.Helper()
	if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Doctor)(nil)).Set("user_id = ?", userID).Where("dr.id = ?", f.doctor.ID).Exec(ctx)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
}

// C6: only an adult books without an account: a PESEL saying the person is 17 is refused
// next to the field, nothing stored; the age is the tenant's rule.
func TestAnonymousMinorIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		start := f.firstStart("guest")
		minor := peselBorn(2009, 1, 5, 1234) // 17 on 20 November 2026
		res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(start, minor, "ola@example.org"))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "tylko osoba pełnoletnia: według tego numeru identyfikacyjnego") ||
			len(f.live(f.A)) != 0 || len(f.h.Host.Messages) != 0 {
			t.Fatalf("a minor: %d\n%s", res.Status, res.Body)
		}
		// 18 since yesterday: booked.
		if _, _ = f.guestBook(start, peselBorn(2008, 11, 19, 1234), "ola@example.org"); len(f.live(f.A)) != 1 {
			t.Fatal("an adult's booking was not stored")
		}
		// A tenant whose rule says 21 refuses the same person for another start.
		f.A.Rules = map[string]any{anonymousMinAge.Rule().Name: int64(21)}
		res = f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(strconv.FormatInt(tuesday.Add(-30*time.Minute).Unix(), 10), peselBorn(2006, 1, 5, 1234), "ola@example.org"))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "osoba pełnoletnia") {
			t.Fatalf("rule 21: %d\n%s", res.Status, res.Body)
		}
	})
}

// C6, C9: a hold not confirmed in time is expired by its job (the slot is free again and
// offered on the week), the link then says it expired (410); a hold whose job was lost is
// expired by the sweep; neither touches a hold still running.
func TestAnonymousHoldExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		ctx := context.Background()
		start := f.firstStart("guest")
		bk, token := f.guestBook(start, testPESEL(1), "jan@example.org")
		f.now = f.now.Add(29 * time.Minute)
		if err := f.h.Job(ctx, f.A, jobExpireHold, []byte(bk.ID)); err != nil || f.bookingByID(bk.ID).Status != statusAwaiting {
			t.Fatalf("a job run early expired the hold: %v", err)
		}
		f.now = f.now.Add(time.Minute)
		if err := f.h.Job(ctx, f.A, jobExpireHold, []byte(bk.ID)); err != nil {
			t.Fatal(err)
		}
		if got := f.bookingByID(bk.ID); got.Status != statusExpired || len(f.live(f.A)) != 0 {
			t.Fatalf("after the job: %s, %d live", got.Status, len(f.live(f.A)))
		}
		if f.firstStart("guest") != start {
			t.Fatal("the expired hold's start is not offered again")
		}
		for _, method := range []string{"GET", "POST"} {
			res := f.send(nil, method, "/calendar/confirm/"+token, url.Values{})
			if res.Status != http.StatusGone || !strings.Contains(string(res.Body), "Ten link wygasł") || f.bookingByID(bk.ID).Status != statusExpired {
				t.Fatalf("%s an expired link: %d\n%s", method, res.Status, res.Body)
			}
		}
		// Another person books the freed start; his hold's job is lost: the sweep expires it
		// once it ended, not before.
		other, _ := f.guestBook(start, testPESEL(2), "ewa@example.org")
		if err := f.h.Job(ctx, f.A, jobSweepHolds, nil); err != nil || f.bookingByID(other.ID).Status != statusAwaiting {
			t.Fatalf("the sweep expired a running hold: %v", err)
		}
		f.now = f.now.Add(31 * time.Minute)
		if err := f.h.Job(ctx, f.A, jobSweepHolds, nil); err != nil || f.bookingByID(other.ID).Status != statusExpired {
			t.Fatalf("the sweep: %v %s", err, f.bookingByID(other.ID).Status)
		}
		// A link followed after the hold ended, before any job ran, expires the hold at once.
		third, link := f.guestBook(start, testPESEL(3), "ola@example.org")
		f.now = f.now.Add(30 * time.Minute)
		if res := f.send(nil, "GET", "/calendar/confirm/"+link, nil); res.Status != http.StatusGone || f.bookingByID(third.ID).Status != statusExpired {
			t.Fatalf("a late link: %d %s", res.Status, f.bookingByID(third.ID).Status)
		}
		if f.firstStart("guest") != start {
			t.Fatal("the late link did not free the start")
		}
	})
}

// C6: two clicks on the link at once confirm the booking once.
func TestAnonymousLinkConfirmsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		bk, token := f.guestBook(f.firstStart("guest"), testPESEL(1), "jan@example.org")
		const n = 8
		bodies := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Send(context.Background(), f.A, nil, &sdk.Request{Method: "POST", Path: "/calendar/confirm/" + token,
					Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
				if err != nil {
					bodies[i] = err.Error()
					return
				}
				bodies[i] = fmt.Sprintf("%d %s", res.Status, res.Body)
			}()
		}
		wg.Wait()
		confirmed := 0
		for _, body := range bodies {
			switch {
			case strings.HasPrefix(body, "200 ") && strings.Contains(body, "Dziękujemy, Twoja wizyta jest potwierdzona"):
				confirmed++
			case strings.HasPrefix(body, "200 ") && strings.Contains(body, "link działa tylko raz"):
			default:
				t.Fatalf("a click: %.300s", body)
			}
		}
		if confirmed != 1 || f.bookingByID(bk.ID).Status != statusConfirmed {
			t.Fatalf("%d clicks confirmed", confirmed)
		}
		// The database holds it, not the page's read before: 50 confirmations of one fresh
		// link released at once, none of them reading first, make one.
		other, link := f.guestBook(f.firstStart("guest"), testPESEL(2), "ewa@example.org")
		errs := make([]error, 50)
		gate := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				errs[i] = f.m.confirmHold(context.Background(), f.A, link, other.ID, f.now)
			}()
		}
		close(gate)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errLinkUsed):
			default:
				t.Fatalf("a confirmation: %v", err)
			}
		}
		if ok != 1 || f.bookingByID(other.ID).Status != statusConfirmed {
			t.Fatalf("%d of 50 confirmations succeeded", ok)
		}
	})
}

// C6: a patient with an account (PESEL and e-mail of his registration) finds the visit he
// booked without signing in under his upcoming visits, whatever the case of the e-mail, and
// cancels it like his own; someone with the same e-mail and another PESEL does not see it.
func TestAccountHolderFindsAnonymousBooking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		bk, token := f.guestBook(f.firstStart("guest"), testPESEL(1), "Jan.Nowak@Example.org")
		if res := f.send(nil, "POST", "/calendar/confirm/"+token, url.Values{}); res.Status != 200 {
			t.Fatalf("confirming: %d", res.Status)
		}
		stranger := &sdk.User{ID: "p9", Email: "jan.nowak@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": testPESEL(2)}}
		if body := string(f.send(stranger, "GET", "/calendar/visits", nil).Body); strings.Contains(body, "Anna Kowalska") {
			t.Fatalf("another PESEL sees the visit:\n%s", body)
		}
		if res := f.send(stranger, "POST", "/calendar/visits/"+bk.ID+"/cancel", url.Values{}); res.Status != 404 {
			t.Fatalf("another PESEL cancels: %d", res.Status)
		}
		u := &sdk.User{ID: "p1", Email: "jan.nowak@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": testPESEL(1)}}
		if body := string(f.send(u, "GET", "/calendar/visits", nil).Body); !strings.Contains(body, "Anna Kowalska") || !strings.Contains(body, bk.ID) {
			t.Fatalf("his visits:\n%s", body)
		}
		res := f.send(u, "POST", "/calendar/visits/"+bk.ID+"/cancel", url.Values{})
		if res.Status != http.StatusSeeOther || f.bookingByID(bk.ID).Status != statusCancelledPatient {
			t.Fatalf("cancelling: %d %s", res.Status, f.bookingByID(bk.ID).Status)
		}
	})
}

// C5, C8, P6: a signed-in patient books for another person: the form asks that person's
// name, PESEL, e-mail and mobile, his consent and the declaration of authority, each
// refused next to its field when wrong or missing; the booking is stored for that person
// (for_other, booked_by, the consents), visible to the booker; and it counts in that
// person's day: he then books once more himself, and a third booking that day is refused.
func TestBookingForAnotherPerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 11*60)
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}, Profile: map[string]string{"pesel": testPESEL(1), "mobile": "+48601234567"}}
		start := f.firstStart("book")
		path := "/calendar/doctors/" + f.doctor.ID + "/book"
		res := f.send(u, "GET", path+"?service="+f.services[30].ID+"&start="+start+"&for=other", nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), "Oświadczam, że jestem upoważniony") || !strings.Contains(string(res.Body), `name="first_name"`) {
			t.Fatalf("form for another person: %d\n%s", res.Status, res.Body)
		}
		other := testPESEL(5)
		form := url.Values{"for": {"other"}, "service": {f.services[30].ID}, "start": {start}, "first_name": {"Ewa"}, "last_name": {""},
			"pesel": {"85130212347"}, "email": {"ewa@"}, "mobile": {"601234567"}, "consent_doctor": {"yes"}}
		res = f.send(u, "POST", path, form)
		body := string(res.Body)
		for _, want := range []string{"To pole jest wymagane", "nie odpowiada żadnej możliwej dacie", "prawidłowy adres e-mail", "Ta zgoda jest konieczna"} {
			if !strings.Contains(body, want) {
				t.Fatalf("bad form: %d, want %q\n%s", res.Status, want, body)
			}
		}
		if res.Status != http.StatusUnprocessableEntity || len(f.live(f.A)) != 0 || strings.Count(body, "Ta zgoda jest konieczna") != 2 {
			t.Fatalf("bad form: %d, %d stored", res.Status, len(f.live(f.A)))
		}
		form.Set("last_name", "Lis")
		form.Set("pesel", other)
		form.Set("email", "ewa@example.org")
		form.Set("consent_person_consent", "yes")
		form.Set("consent_authority", "yes")
		res = f.send(u, "POST", path, form)
		m := visitPathRe.FindStringSubmatch(res.Header.Get("Location"))
		if res.Status != http.StatusSeeOther || m == nil {
			t.Fatalf("booking: %d\n%s", res.Status, res.Body)
		}
		got := f.bookingByID(m[1])
		if !got.ForOther || got.BookedBy != "p1" || got.UserID != "" || got.PESEL != other || got.PatientFirstName != "Ewa" || got.PatientLastName != "Lis" ||
			got.Email != "ewa@example.org" || got.Mobile != "+48601234567" || got.Consents != "doctor_controller,person_consent,authority" ||
			got.TermsVersion != "terms-v3" || got.Status != statusConfirmed {
			t.Fatalf("stored %+v", got)
		}
		if body := string(f.send(u, "GET", "/calendar/visits", nil).Body); !strings.Contains(body, m[1]) {
			t.Fatalf("the booker's visits:\n%s", body)
		}
		// C8: a second one for her that day, by him; then she, signed in, is at the limit.
		form.Set("start", strconv.FormatInt(tuesday.Add(-30*time.Minute).Unix(), 10)) // 9:30 in Warsaw
		if res := f.send(u, "POST", path, form); res.Status != http.StatusSeeOther {
			t.Fatalf("second booking for her: %d\n%s", res.Status, res.Body)
		}
		ewa := &sdk.User{ID: "p2", Email: "ewa@example.org", Name: "Ewa Lis", Roles: []string{"user"}}
		own := url.Values{"service": {f.services[30].ID}, "start": {strconv.FormatInt(tuesday.Unix(), 10)}, "pesel": {other}, "mobile": {"+48601234568"}, "consent_doctor": {"yes"}}
		res = f.send(ewa, "POST", path, own)
		if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "to maksimum") {
			t.Fatalf("her third booking that day: %d\n%s", res.Status, res.Body)
		}
		// She, with the PESEL and e-mail of her account, sees the visits made for her.
		ewa.Profile = map[string]string{"pesel": other}
		if body := string(f.send(ewa, "GET", "/calendar/visits", nil).Body); !strings.Contains(body, m[1]) {
			t.Fatalf("her visits:\n%s", body)
		}
	})
}

// C5: the people an account represents (the core's dependants) are offered on the form; the
// name and PESEL come from the core's record, a PESEL that differs from it is refused.
func TestBookingForADependant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		child := peselBorn(2015, 3, 4, 2345)
		f.h.Host.Dependants[f.A.ID] = map[string][]sdk.Dependant{"p1": {{ID: "dep1", FirstName: "Zosia", LastName: "Nowak", NationalID: child,
			BirthDate: "2015-03-04", LegalStatus: "minor", OfAgeOn: "2033-03-04", Represented: true}}}
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		start := f.firstStart("book")
		path := "/calendar/doctors/" + f.doctor.ID + "/book"
		res := f.send(u, "GET", path+"?service="+f.services[30].ID+"&start="+start, nil)
		if !strings.Contains(string(res.Body), "for=dep1") || !strings.Contains(string(res.Body), "Zosia Nowak") {
			t.Fatalf("the form does not offer the dependant:\n%s", res.Body)
		}
		res = f.send(u, "GET", path+"?service="+f.services[30].ID+"&start="+start+"&for=dep1", nil)
		if !strings.Contains(string(res.Body), `value="`+child+`"`) || !strings.Contains(string(res.Body), `value="Zosia"`) {
			t.Fatalf("the form is not filled from the dependant:\n%s", res.Body)
		}
		if res := f.send(u, "GET", path+"?service="+f.services[30].ID+"&start="+start+"&for=nobody", nil); res.Status != 404 {
			t.Fatalf("an unknown person: %d", res.Status)
		}
		form := url.Values{"for": {"dep1"}, "service": {f.services[30].ID}, "start": {start}, "first_name": {"Zosia"}, "last_name": {"Nowak"},
			"pesel": {testPESEL(3)}, "email": {"jan@example.org"}, "mobile": {"601234567"}, "consent_doctor": {"yes"},
			"consent_person_consent": {"yes"}, "consent_authority": {"yes"}}
		if res := f.send(u, "POST", path, form); res.Status != http.StatusUnprocessableEntity || len(f.live(f.A)) != 0 {
			t.Fatalf("another PESEL than the dependant's: %d", res.Status)
		}
		form.Set("pesel", child)
		form.Set("first_name", "Someone")
		if res := f.send(u, "POST", path, form); res.Status != http.StatusSeeOther {
			t.Fatalf("booking for the dependant: %d\n%s", res.Status, res.Body)
		}
		if got := f.live(f.A); len(got) != 1 || got[0].PESEL != child || got[0].PatientFirstName != "Zosia" || !got[0].ForOther {
			t.Fatalf("stored %+v", got)
		}
	})
}

// P6, C5, C6: the booking forms ask the optional consents the tenant's rule lists (those with
// words; an unknown kind is not asked), beside the required doctor-as-controller one; the
// consents given are stored on the booking, a consent not given is not.
func TestBookingAsksTenantConsents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		f.A.Rules = map[string]any{bookingConsents.Rule().Name: "partners, nonsense"}
		start := f.firstStart("guest")
		res := f.send(nil, "GET", "/calendar/doctors/"+f.doctor.ID+"/guest?service="+f.services[30].ID+"&start="+start, nil)
		if body := string(res.Body); !strings.Contains(body, `name="consent_partners"`) || !strings.Contains(body, "partnerom serwisu") ||
			strings.Contains(body, "consent_nonsense") || !strings.Contains(body, `name="consent_doctor"`) {
			t.Fatalf("anonymous form:\n%s", body)
		}
		form := f.guestForm(start, testPESEL(1), "jan@example.org")
		form.Set("consent_partners", "yes")
		form.Set("consent_nonsense", "yes")
		res = f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", form)
		if got := f.live(f.A); res.Status != 200 || len(got) != 1 || got[0].Consents != "terms,doctor_controller,partners" {
			t.Fatalf("anonymous booking: %d %+v", res.Status, got)
		}
		u := &sdk.User{ID: "p1", Email: "ewa@example.org", Name: "Ewa Lis", Roles: []string{"user"}}
		start = f.firstStart("book")
		res = f.send(u, "GET", "/calendar/doctors/"+f.doctor.ID+"/book?service="+f.services[30].ID+"&start="+start, nil)
		if !strings.Contains(string(res.Body), `name="consent_partners"`) {
			t.Fatalf("signed-in form:\n%s", res.Body)
		}
		res = f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", url.Values{"service": {f.services[30].ID}, "start": {start},
			"pesel": {testPESEL(2)}, "mobile": {"601234568"}, "consent_doctor": {"yes"}})
		m := visitPathRe.FindStringSubmatch(res.Header.Get("Location"))
		if res.Status != http.StatusSeeOther || m == nil || f.bookingByID(m[1]).Consents != "doctor_controller" {
			t.Fatalf("signed-in booking without the optional consent: %d", res.Status)
		}
	})
}

// C6: one address makes at most the tenant's number of anonymous bookings in a window (each
// holds a slot and e-mails an address nobody checked): the next is refused with 429, nothing
// held, nothing sent; another address still books.
func TestAnonymousBookingsPerAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 17*60)
		f.A.Rules = map[string]any{anonymousPerIP.Rule().Name: int64(2)}
		for i := 1; i <= 2; i++ {
			f.guestBook(f.firstStart("guest"), testPESEL(i), fmt.Sprintf("p%d@example.org", i))
		}
		res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(f.firstStart("guest"), testPESEL(3), "p3@example.org"))
		if res.Status != http.StatusTooManyRequests || len(f.live(f.A)) != 2 || len(f.h.Host.Messages) != 2 {
			t.Fatalf("third booking from one address: %d, %d live, %d messages", res.Status, len(f.live(f.A)), len(f.h.Host.Messages))
		}
		req := &sdk.Request{Method: "POST", Path: "/calendar/doctors/" + f.doctor.ID + "/guest", RemoteIP: "10.1.1.1",
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:   []byte(f.guestForm(f.firstStart("guest"), testPESEL(3), "p3@example.org").Encode())}
		res, err := f.h.Send(context.Background(), f.A, nil, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 200 || len(f.live(f.A)) != 3 {
			t.Fatalf("from another address: %d, %d live", res.Status, len(f.live(f.A)))
		}
	})
}

// C5, C6, C8: the patient's number is the tenant's country's. On a French tenant it is the
// NIR (the social security number, France's national health identifier), asked and checked
// as such — a PESEL is refused with the French rule's words — and stored as typed without
// its spaces, so that the day's limit counts the same person however he types it.
func TestNationalNumberIsTheTenantsCountrys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.A.Country = "FR"
		f.window(2, 9*60, 10*60)
		start := f.firstStart("guest")
		form := f.guestForm(start, "85030212344", "ola@example.org")
		form.Set("mobile", "+33 6 12 34 56 78")
		res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", form)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Francuski numer ubezpieczenia społecznego ma 15 znaków") || len(f.live(f.A)) != 0 {
			t.Fatalf("a PESEL on a French tenant: %d\n%s", res.Status, res.Body)
		}
		form.Set("pesel", "2 69 05 49 588 157 80")
		if res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", form); res.Status != http.StatusOK {
			t.Fatalf("a NIR: %d\n%s", res.Status, res.Body)
		}
		if live := f.live(f.A); len(live) != 1 || live[0].PESEL != "269054958815780" {
			t.Fatalf("stored: %+v", live)
		}
	})
}
