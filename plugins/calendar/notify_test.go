package calendar

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// bookThroughPage books the first free start of the fixture's 30-minute service in the week
// of 1 December 2026 as u, through the booking page (Tuesdays 9:00–10:00 in Warsaw), and
// returns the booking's id.
func (f *fixture) bookThroughPage(u *sdk.User, pesel string) string {
	f.t.Helper()
	week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID + "&week=2026-12-01"
	starts := slotLinkRe.FindAllStringSubmatch(string(f.send(u, "GET", week, nil).Body), -1)
	if len(starts) == 0 {
		f.t.Fatal("no free start in the week")
	}
	form := url.Values{"service": {f.services[30].ID}, "start": {starts[0][2]}, "pesel": {pesel}, "mobile": {"+48601234567"}, "consent_doctor": {"yes"}}
	res := f.send(u, "POST", "/calendar/doctors/"+f.doctor.ID+"/book", form)
	m := visitPathRe.FindStringSubmatch(res.Header.Get("Location"))
	if res.Status != http.StatusSeeOther || m == nil {
		f.t.Fatalf("booking: %d %s\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	return m[1]
}

// sent are the messages of template tmpl the module sent, in order.
func (f *fixture) sent(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			out = append(out, m.Value)
		}
	}
	return out
}

// stored reads one booking of tenant A.
func (f *fixture) stored(id string) Booking {
	f.t.Helper()
	var b Booking
	if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&b).Where("bk.id = ?", id).Scan(ctx)
	}); err != nil {
		f.t.Fatal(err)
	}
	return b
}

// parseICS reads an iCalendar file with an independent parser (emersion/go-ical).
func parseICS(t *testing.T, data []byte) *goical.Calendar {
	t.Helper()
	cal, err := goical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot read the file: %v\n%s", err, data)
	}
	return cal
}

// checkVisitICS checks the visit's event as a calendar program reads it (C7, C11): the
// tenant's zone (a VTIMEZONE named by DTSTART's TZID), the start and end instants, the
// summary (service and doctor) and the location (the facility's address).
func checkVisitICS(t *testing.T, data []byte, b Booking, summary string) {
	t.Helper()
	cal := parseICS(t, data)
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events\n%s", len(evs), data)
	}
	ev := evs[0]
	var tzids []string
	for _, c := range cal.Children {
		if c.Name == goical.CompTimezone {
			tzids = append(tzids, c.Props.Get(goical.PropTimezoneID).Value)
		}
	}
	dtstart := ev.Props.Get(goical.PropDateTimeStart)
	if len(tzids) != 1 || tzids[0] != "Europe/Warsaw" || dtstart.Params.Get(goical.ParamTimezoneID) != "Europe/Warsaw" {
		t.Fatalf("zones %v, DTSTART %+v\n%s", tzids, dtstart, data)
	}
	start, err := ev.DateTimeStart(nil)
	if err != nil || !start.Equal(b.StartsAt) {
		t.Fatalf("start %v (%v), want %v", start, err, b.StartsAt)
	}
	end, err := ev.DateTimeEnd(nil)
	if err != nil || !end.Equal(b.EndsAt) {
		t.Fatalf("end %v (%v), want %v", end, err, b.EndsAt)
	}
	if got, _ := ev.Props.Text(goical.PropSummary); got != summary {
		t.Fatalf("summary %q, want %q", got, summary)
	}
	if got, _ := ev.Props.Text(goical.PropLocation); got != "Przychodnia Centrum, ul. Długa 5, 00-950 Łódź" {
		t.Fatalf("location %q", got)
	}
	if got := ev.Props.Get(goical.PropMethod); got != nil {
		t.Fatal("METHOD inside the event")
	}
	if m := cal.Props.Get(goical.PropMethod); m == nil || m.Value != "PUBLISH" {
		t.Fatalf("METHOD %+v", m)
	}
}

// C7: a confirmed booking sends the confirmation in the patient's language — his
// account's (French here, on a Polish tenant; a patient without an account reads the
// tenant's, see TestReminderSentOnceNotForCancelled) — with the doctor, the facility and its address, the date and time in his
// language and the tenant's zone, the service and its gross price, the cancel link, and
// the visit's ICS attached (read back by go-ical); its reminder is scheduled the tenant's
// hours before the visit.
func TestConfirmationEmailInPatientsLanguageWithICS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		f.h.Host.Users[f.A.ID] = append(f.h.Host.Users[f.A.ID], sdk.User{ID: "p1", Name: "Jean Martin", Locale: "fr", Roles: []string{"user"}})
		u := &sdk.User{ID: "p1", Email: "jean@example.org", Name: "Jean Martin", Locale: "fr", Roles: []string{"user"}}
		id := f.bookThroughPage(u, "85030212344")
		bk := f.stored(id)
		msgs := f.sent(tmplBooked)
		if len(msgs) != 1 {
			t.Fatalf("%d confirmations", len(msgs))
		}
		msg := msgs[0]
		if msg.UserID != "p1" || msg.To != "" || !strings.HasPrefix(msg.Link, "/calendar/cancel/") || !msg.Secret {
			t.Fatalf("message %+v", msg)
		}
		zone := tenantZone(f.A)
		want := map[string]any{"Doctor": "dr n. med. Anna Kowalska", "Facility": "Przychodnia Centrum", "Address": "ul. Długa 5, 00-950 Łódź",
			"When": locales.FormatDateTime("fr", bk.StartsAt, zone), "Service": "Konsultacja 30 min", "Price": locales.FormatMoney("fr", 30000, "PLN")}
		for k, v := range want {
			if msg.Data[k] != v {
				t.Fatalf("Data[%s] = %v, want %v", k, msg.Data[k], v)
			}
		}
		if want["When"] != "01/12/2026 09:00" {
			t.Fatalf("the visit is at 9:00 in Warsaw, written %v", want["When"])
		}
		// The host renders the module's template in the patient's language: the French text.
		var kv []any
		for k, v := range msg.Data {
			kv = append(kv, k, v)
		}
		body := f.m.Msgs.For("fr").T("mail."+tmplBooked+".body", kv...)
		for _, s := range []string{"Votre rendez-vous est confirmé", "dr n. med. Anna Kowalska", "01/12/2026 09:00", "ul. Długa 5, 00-950 Łódź", "300,00", "annulez"} {
			if !strings.Contains(body, s) {
				t.Fatalf("body lacks %q:\n%s", s, body)
			}
		}
		if len(msg.Attachments) != 1 || !strings.HasPrefix(msg.Attachments[0].ContentType, "text/calendar") || msg.Attachments[0].Name != "rendez-vous.ics" {
			t.Fatalf("attachments %+v", msg.Attachments)
		}
		checkVisitICS(t, msg.Attachments[0].Data, bk, "Konsultacja 30 min – dr n. med. Anna Kowalska")

		var jobs []sdk.Job
		for _, j := range f.h.Host.Jobs {
			if j.Value.Name == jobRemind {
				jobs = append(jobs, j.Value)
			}
		}
		if len(jobs) != 1 || jobs[0].Key != "remind:"+id || !jobs[0].At.Equal(bk.StartsAt.Add(-24*time.Hour)) || string(jobs[0].Payload) != id {
			t.Fatalf("reminder jobs %+v", jobs)
		}

	})
}

// cancelToken is the token of the last confirmation's cancel link.
func (f *fixture) cancelToken() string {
	f.t.Helper()
	msgs := f.sent(tmplBooked)
	if len(msgs) == 0 {
		f.t.Fatal("no confirmation sent")
	}
	return strings.TrimPrefix(msgs[len(msgs)-1].Link, "/calendar/cancel/")
}

// C7: the confirmation's cancel link shows the visit with a button; the POST cancels it as
// the patient's cancellation and frees the slot; the link works once (of ten clicks at once,
// one cancels, the others are shown the visit cancelled or the link used), is refused once the visit has started, and an unknown link is not found.
// Only the token's hash is stored.
func TestCancelLinkSingleUseUntilTheVisit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		id := f.bookThroughPage(u, "85030212344")
		token := f.cancelToken()
		var links []CancelLink
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&links).Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0].TokenHash == token || links[0].TokenHash != hashToken(token) || !links[0].ExpiresAt.Equal(f.stored(id).StartsAt) {
			t.Fatalf("links %+v", links)
		}
		// Anyone holding the link (no sign-in) sees the visit and the button.
		res := f.send(nil, "GET", "/calendar/cancel/"+token, nil)
		if body := string(res.Body); res.Status != 200 || !strings.Contains(body, "Anna Kowalska") || !strings.Contains(body, `action="/calendar/cancel/`+token+`"`) {
			t.Fatalf("link page: %d\n%s", res.Status, body)
		}
		if res := f.send(nil, "GET", "/calendar/cancel/"+strings.Repeat("x", 43), nil); res.Status != 404 || !strings.Contains(string(res.Body), "nie prowadzi do żadnej wizyty") {
			t.Fatalf("unknown link: %d\n%s", res.Status, res.Body)
		}
		// Ten clicks at once: one cancels, the others are told the link was used.
		var wg sync.WaitGroup
		codes := make([]int, 10)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Send(context.Background(), f.A, nil, &sdk.Request{Method: "POST", Path: "/calendar/cancel/" + token,
					Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
				if err != nil {
					t.Error(err)
					return
				}
				codes[i] = res.Status
			}()
		}
		wg.Wait()
		// The other clicks are shown that the visit is cancelled, or, when one reads between
		// the link's use and the release, that the link was used: never a second cancellation.
		var done, shown int
		for _, c := range codes {
			switch c {
			case http.StatusSeeOther:
				done++
			case http.StatusOK, http.StatusGone:
				shown++
			}
		}
		if done != 1 || shown != 9 {
			t.Fatalf("ten clicks: %v", codes)
		}
		if got := f.stored(id); got.Status != statusCancelledPatient {
			t.Fatalf("status %s", got.Status)
		}
		if len(f.live(f.A)) != 0 {
			t.Fatal("the slot is still held")
		}
		if body := string(f.send(nil, "GET", "/calendar/cancel/"+token+"?done=cancelled", nil).Body); !strings.Contains(body, "Wizyta została odwołana") || strings.Contains(body, "<form") {
			t.Fatalf("after the cancellation:\n%s", body)
		}
		// The slot is free again: booked anew, by another patient.
		id2 := f.bookThroughPage(&sdk.User{ID: "p2", Email: "ewa@example.org", Name: "Ewa Lis", Roles: []string{"user"}}, testPESEL(4))
		token2 := f.cancelToken()
		// Once the visit has started the link no longer cancels.
		f.now = f.stored(id2).StartsAt
		if res := f.send(nil, "GET", "/calendar/cancel/"+token2, nil); res.Status != http.StatusGone || !strings.Contains(string(res.Body), "wygasł") {
			t.Fatalf("at the start: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(nil, "POST", "/calendar/cancel/"+token2, url.Values{}); res.Status != http.StatusGone {
			t.Fatalf("POST at the start: %d", res.Status)
		}
		if got := f.stored(id2); got.Status != statusConfirmed {
			t.Fatalf("cancelled after its start: %s", got.Status)
		}
	})
}

// C7: the reminder goes once — the durable job and the sweep, run again or at once, send
// one e-mail and one SMS (the SMS names only the time: no health data) — and never for a
// visit cancelled meanwhile; the sweep sends the reminder a lost job did not, but none for a
// visit confirmed within the reminder's hours.
func TestReminderSentOnceNotForCancelled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		mk := func(start time.Time, pesel string, confirmed time.Time) *Booking {
			bk := f.booking(f.services[30], start, pesel)
			bk.ConfirmedAt.Time = confirmed
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
			return bk
		}
		kept := mk(tuesday, testPESEL(1), f.now)
		cancelled := mk(tuesday.Add(time.Hour), testPESEL(2), f.now)
		lost := mk(tuesday.Add(2*time.Hour), testPESEL(3), f.now)
		late := mk(tuesday.Add(3*time.Hour), testPESEL(4), tuesday.Add(-2*time.Hour))
		if err := f.m.release(ctx, f.A, cancelled.ID, statusCancelledPatient, ""); err != nil {
			t.Fatal(err)
		}
		f.now = tuesday.Add(-24 * time.Hour) // the reminders are due
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f.h.Job(ctx, f.A, jobRemind, []byte(kept.ID)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if err := f.h.Job(ctx, f.A, jobRemind, []byte(cancelled.ID)); err != nil {
			t.Fatal(err)
		}
		count := func(id, channel string) int {
			n := 0
			for _, m := range f.sent(tmplReminder) {
				if (m.Channel == channel || channel == "email" && m.Channel == "") && m.Data["When"] == locales.FormatDateTime("pl", f.stored(id).StartsAt, tenantZone(f.A)) {
					n++
				}
			}
			return n
		}
		if count(kept.ID, "email") != 1 || count(kept.ID, "sms") != 1 || count(cancelled.ID, "email") != 0 || count(cancelled.ID, "sms") != 0 {
			t.Fatalf("reminders: %+v", f.sent(tmplReminder))
		}
		for _, m := range f.sent(tmplReminder) {
			if m.Channel == "sms" && (len(m.Data) != 1 || m.To != "+48601234567") {
				t.Fatalf("SMS data %+v", m)
			}
			// A patient without an account: to the address he gave, in the tenant's language.
			if m.Channel == "" && (m.To != "jan@example.org" || m.UserID != "") {
				t.Fatalf("e-mail %+v", m)
			}
		}
		// The sweep: the lost job's reminder goes, once; none for the late confirmation, and
		// none again for the one sent.
		f.now = tuesday.Add(-20 * time.Hour)
		for range 2 {
			if err := f.h.Job(ctx, f.A, jobSweepReminders, nil); err != nil {
				t.Fatal(err)
			}
		}
		if count(lost.ID, "email") != 1 || count(kept.ID, "email") != 1 || count(late.ID, "email") != 0 {
			t.Fatalf("after the sweep: %+v", f.sent(tmplReminder))
		}
	})
}

// C11: the patient downloads his visit as an ICS file; another patient's visit is not found.
func TestVisitICSDownloadOwnOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 10*60)
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		id := f.bookThroughPage(u, "85030212344")
		res := f.send(u, "GET", "/calendar/visits/"+id+"/visit.ics", nil)
		if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/calendar") || !strings.Contains(res.Header.Get("Content-Disposition"), "wizyta.ics") {
			t.Fatalf("download: %d %v", res.Status, res.Header)
		}
		checkVisitICS(t, res.Body, f.stored(id), "Konsultacja 30 min – dr n. med. Anna Kowalska")
		if body := string(f.send(u, "GET", "/calendar/visits/"+id, nil).Body); !strings.Contains(body, "/calendar/visits/"+id+"/visit.ics") {
			t.Fatal("the visit's page has no download link")
		}
		other := &sdk.User{ID: "p2", Name: "Ewa Lis", Roles: []string{"user"}}
		if res := f.send(other, "GET", "/calendar/visits/"+id+"/visit.ics", nil); res.Status != 404 {
			t.Fatalf("another patient: %d", res.Status)
		}
		// Another tenant's patient with the same account id finds nothing either.
		res, err := f.h.Send(context.Background(), f.B, u, &sdk.Request{Method: "GET", Path: "/calendar/visits/" + id + "/visit.ics"})
		if err != nil || res.Status != 404 {
			t.Fatalf("other tenant: %v %v", res, err)
		}
	})
}

var feedPathRe = regexp.MustCompile(`href="(/calendar/feed/[A-Za-z0-9_-]{43}/agenda\.ics)"`)

// C9, issue 13.6: the doctor's agenda feed behind a secret address: his live visits from 30
// days back to 180 ahead, each with its service and patient's name and nothing more (no
// PESEL, no phone); replacing the address makes the old one not found; an account that is
// no doctor gets none; beyond the hour's budget, 429; the account's erasure ends it.
func TestAgendaFeedRotate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		in := f.booking(f.services[30], tuesday, testPESEL(1))
		old := f.booking(f.services[30], f.now.AddDate(0, 0, -40), testPESEL(2))
		far := f.booking(f.services[30], f.now.AddDate(0, 0, 200), testPESEL(3))
		gone := f.booking(f.services[30], tuesday.Add(time.Hour), testPESEL(4))
		for _, bk := range []*Booking{in, old, far, gone} {
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.m.release(ctx, f.A, gone.ID, statusCancelledPatient, ""); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		if body := string(f.send(doc, "GET", "/calendar/agenda", nil).Body); !strings.Contains(body, `href="/calendar/agenda/feed"`) {
			t.Fatal("the agenda has no link to its feed")
		}
		if body := string(f.send(doc, "GET", "/calendar/agenda/feed", nil).Body); !strings.Contains(body, "Nie masz jeszcze adresu") {
			t.Fatalf("feed page:\n%s", body)
		}
		if res := f.send(&sdk.User{ID: "nobody", Roles: []string{"doctor"}}, "POST", "/calendar/agenda/feed", url.Values{}); res.Status != 404 {
			t.Fatalf("an account that is no doctor: %d", res.Status)
		}
		rotate := func() string {
			res := f.send(doc, "POST", "/calendar/agenda/feed", url.Values{})
			m := feedPathRe.FindStringSubmatch(string(res.Body))
			if res.Status != 200 || m == nil {
				t.Fatalf("rotate: %d\n%s", res.Status, res.Body)
			}
			return m[1]
		}
		first := rotate()
		res := f.send(nil, "GET", first, nil)
		if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/calendar") {
			t.Fatalf("feed: %d %v", res.Status, res.Header)
		}
		evs := parseICS(t, res.Body).Events()
		if len(evs) != 1 {
			t.Fatalf("%d events, want the one live visit in range\n%s", len(evs), res.Body)
		}
		if s, _ := evs[0].Props.Text(goical.PropSummary); s != "Konsultacja 30 min – Jan Nowak" {
			t.Fatalf("summary %q", s)
		}
		if start, _ := evs[0].DateTimeStart(nil); !start.Equal(in.StartsAt) {
			t.Fatalf("start %v", start)
		}
		for _, s := range []string{in.PESEL, "601234567", "jan@example.org"} {
			if bytes.Contains(res.Body, []byte(s)) {
				t.Fatalf("the feed shows %q", s)
			}
		}
		second := rotate()
		if res := f.send(nil, "GET", first, nil); res.Status != 404 {
			t.Fatalf("the replaced address: %d", res.Status)
		}
		if res := f.send(nil, "GET", second, nil); res.Status != 200 {
			t.Fatalf("the new address: %d", res.Status)
		}
		if body := string(f.send(doc, "GET", "/calendar/agenda/feed", nil).Body); strings.Contains(body, "/calendar/feed/") || !strings.Contains(body, "działa od") {
			t.Fatalf("the address is shown once only:\n%s", body)
		}
		// The hour's budget (a tenant rule of 3): the 4th request is refused.
		limited := f.A
		limited.Rules = map[string]any{"calendar.feed_requests_per_hour": float64(3)}
		codes := []int{}
		for range 4 {
			res, err := f.h.Send(ctx, limited, nil, &sdk.Request{Method: "GET", Path: second, RemoteIP: "10.1.1.1"})
			if err != nil {
				t.Fatal(err)
			}
			codes = append(codes, res.Status)
		}
		if codes[3] != http.StatusTooManyRequests {
			t.Fatalf("budget: %v", codes)
		}
		// The doctor's account erased (P11): its address goes with it.
		if err := f.h.Event(ctx, f.A, "user.deleted", []byte("doc1")); err != nil {
			t.Fatal(err)
		}
		if res := f.send(nil, "GET", second, nil); res.Status != 404 {
			t.Fatalf("after the erasure: %d", res.Status)
		}
	})
}

// C10, issue 13.4: the doctor's cancellation e-mail carries the visit's ICS cancelled — the
// confirmation's UID with a later SEQUENCE, STATUS:CANCELLED — as a CANCEL from the
// facility's address when it has one, else as a PUBLISH (read back by go-ical).
func TestDoctorCancellationCarriesICSCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		for i, email := range []string{"rejestracja@centrum.example", ""} {
			if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*Facility)(nil)).Set("email = ?", email).Where("fa.id = ?", f.facility.ID).Exec(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			bk := f.booking(f.services[30], tuesday.Add(time.Duration(i)*time.Hour), testPESEL(i+1))
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
			if res := f.send(doc, "POST", "/calendar/agenda/"+bk.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("cancel: %d", res.Status)
			}
			msgs := f.sent(tmplCancelledByDoctor)
			msg := msgs[len(msgs)-1]
			if len(msg.Attachments) != 1 {
				t.Fatalf("attachments %+v", msg.Attachments)
			}
			cal := parseICS(t, msg.Attachments[0].Data)
			ev := cal.Events()[0]
			method := cal.Props.Get(goical.PropMethod).Value
			uid, _ := ev.Props.Text(goical.PropUID)
			status, _ := ev.Props.Text(goical.PropStatus)
			seq := ev.Props.Get(goical.PropSequence).Value
			want := "CANCEL"
			if email == "" {
				want = "PUBLISH"
			} else if org := ev.Props.Get(goical.PropOrganizer); org == nil || org.Value != "mailto:"+email {
				t.Fatalf("organizer %+v", org)
			}
			if method != want || uid != bk.ID+"@calendar.a" || status != "CANCELLED" || seq != "1" {
				t.Fatalf("facility %q: method %s uid %s status %s sequence %s", email, method, uid, status, seq)
			}
			if start, _ := ev.DateTimeStart(nil); !start.Equal(bk.StartsAt) {
				t.Fatalf("start %v", start)
			}
		}
	})
}
