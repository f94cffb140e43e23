package calendar

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// The defects a tester found walking the demo (issue 13 review), each with the requirement
// it breaks.

// noticeRe is a page's notice box.
var noticeRe = regexp.MustCompile(`(?s)<div class="notice" role="alert">.*?</div>`)

// windows counts the fixture doctor's weekly windows.
func (f *fixture) windows() int64 {
	f.t.Helper()
	var n int64
	if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		var err error
		n, err = sc.Select((*Window)(nil)).Where("wi.doctor_id = ?", f.doctor.ID).Count(ctx)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// C4: a weekly window overlapping another of the same day at the facility is refused next
// to its hours (the slots engine would otherwise drop the whole day), touching windows are
// taken; overlapping windows kept from before are logged with the doctor when a week is
// computed, and the doctor's manage page names their weekday. Overlapping windows added at
// once: the database lets one in.
func TestC4OverlappingWindowRefusedAndShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, _, _, _, _ := agendaFixture(t, b)
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		base := "/calendar/manage/" + f.doctor.ID
		form := func(from, to string) url.Values {
			return url.Values{"win_facility": {f.facility.ID}, "win_weekday": {"1"}, "win_from": {from}, "win_to": {to}}
		}
		if res := f.send(doc, "POST", base+"/windows", form("08:00", "14:00")); res.Status != http.StatusSeeOther {
			t.Fatalf("Monday 8–14: %d\n%s", res.Status, res.Body)
		}
		for _, w := range [][2]string{{"09:00", "10:00"}, {"07:00", "08:05"}, {"13:55", "15:00"}, {"06:00", "20:00"}} {
			res := f.send(doc, "POST", base+"/windows", form(w[0], w[1]))
			body := string(res.Body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "nakładają się na inne godziny przyjęć") ||
				!strings.Contains(body, `id="e-win_from"`) || !strings.Contains(body, `aria-invalid="true"`) {
				t.Fatalf("Monday %s–%s over 8–14: %d\n%s", w[0], w[1], res.Status, body)
			}
			if n := f.windows(); n != 1 {
				t.Fatalf("an overlapping window stored: %d windows", n)
			}
		}
		// Touching windows do not overlap; another weekday is another day.
		if res := f.send(doc, "POST", base+"/windows", form("14:00", "16:00")); res.Status != http.StatusSeeOther {
			t.Fatalf("Monday 14–16 after 8–14: %d\n%s", res.Status, res.Body)
		}
		tue := form("09:00", "10:00")
		tue.Set("win_weekday", "2")
		if res := f.send(doc, "POST", base+"/windows", tue); res.Status != http.StatusSeeOther || f.windows() != 3 {
			t.Fatalf("Tuesday 9–10: %d, %d windows", res.Status, f.windows())
		}
		// Overlapping windows added at once on Wednesday: the database lets one in, round
		// after round.
		for round := range 10 {
			errs := make([]error, 12)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = f.m.insertWindow(context.Background(), f.A, &Window{DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
						Weekday: 3, StartMinute: 8*60 + 5*(i%4), EndMinute: 10 * 60})
				}()
			}
			wg.Wait()
			added := 0
			for i, err := range errs {
				if err == nil {
					added++
				} else if !errors.Is(err, errWindowOverlap) {
					t.Fatalf("round %d, window %d: %v", round, i, err)
				}
			}
			if added != 1 || f.windows() != 4 {
				t.Fatalf("round %d: %d of %d overlapping windows added at once, %d windows stored", round, added, len(errs), f.windows())
			}
			if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Delete((*Window)(nil)).Where("wi.weekday = 3").Exec(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if notice := noticeRe.FindString(string(f.send(doc, "GET", base, nil).Body)); notice != "" {
			t.Fatalf("a notice without overlapping windows: %s", notice)
		}

		// Windows kept from before the check: Tuesday 9–10 and 9:30–11 overlap.
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Window{TenantID: f.A.ID, ID: newID(), DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
				Weekday: 2, StartMinute: 9*60 + 30, EndMinute: 11 * 60}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var logged bytes.Buffer
		f.m.Log = slog.New(slog.NewTextHandler(&logged, nil))
		got, err := f.m.windowSlots(context.Background(), f.A, slotQuery{DoctorID: f.doctor.ID, FacilityID: f.facility.ID,
			Duration: 30 * time.Minute, From: tuesday.Add(-10 * time.Hour), To: tuesday.Add(14 * time.Hour)}) // Tuesday in Warsaw
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("the engine offers %v on a day it refuses", got)
		}
		if l := logged.String(); !strings.Contains(l, "doctor="+f.doctor.ID) || !strings.Contains(l, "day=2026-12-01") || !strings.Contains(l, "overlaps") {
			t.Fatalf("the refused day is not logged with the doctor: %q", l)
		}
		notice := noticeRe.FindString(string(f.send(doc, "GET", base, nil).Body))
		if !strings.Contains(notice, "nakładają się na siebie") || !strings.Contains(notice, "wtorek") || strings.Contains(notice, "poniedziałek") {
			t.Fatalf("the manage page's notice: %q", notice)
		}
		// A window valid only on days the other is not does not clash.
		if days := clashingWeekdays([]Window{{Weekday: 3, StartMinute: 540, EndMinute: 600, ValidUntil: "2026-12-01"},
			{Weekday: 3, StartMinute: 540, EndMinute: 600, ValidFrom: "2026-12-02"}}, tenantZone(f.A)); len(days) != 0 {
			t.Fatalf("windows valid on different days clash on %v", days)
		}
	})
}

// C4, C5: the booking week loads the calendar's stylesheet (its starts a wrapping row of
// buttons, no bullets), says its dates in its heading with each day's weekday, and leaves
// out the days of the current week already over; next week's page says next week's dates.
func TestC5WeekPageDatesWeekdaysAndStyle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(5, 14*60, 15*60) // Fridays 14:00–15:00; now is Friday 20 November, 11:00 in Warsaw
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID
		body := string(f.send(u, "GET", week, nil).Body)
		for _, s := range []string{"Wolne terminy od 16.11.2026 do 22.11.2026", "<h3>20.11.2026, piątek</h3>", "<h3>22.11.2026, niedziela</h3>",
			`href="/calendar/assets/calendar.css?v=`} {
			if !strings.Contains(body, s) {
				t.Fatalf("the week lacks %q:\n%s", s, body)
			}
		}
		for _, day := range []string{"16.11.2026", "17.11.2026", "18.11.2026", "19.11.2026"} {
			if strings.Contains(body, "<h3>"+day) {
				t.Fatalf("a past day %s is shown:\n%s", day, body)
			}
		}
		if len(slotLinkRe.FindAllString(body, -1)) != 2 {
			t.Fatalf("Friday's two starts are not offered:\n%s", body)
		}
		next := string(f.send(u, "GET", week+"&week=2026-11-23", nil).Body)
		if !strings.Contains(next, "Wolne terminy od 23.11.2026 do 29.11.2026") || !strings.Contains(next, "<h3>23.11.2026, poniedziałek</h3>") ||
			strings.Contains(next, "w tym tygodniu") {
			t.Fatalf("next week's page:\n%s", next)
		}
		// The stylesheet the page links lays the starts out in a wrapping row, no bullets.
		css := f.send(nil, "GET", "/calendar/assets/calendar.css", nil)
		rule := regexp.MustCompile(`ul\.slots \{[^}]*\}`).FindString(string(css.Body))
		if css.Status != 200 || !strings.Contains(rule, "list-style: none") || !strings.Contains(rule, "flex-wrap: wrap") {
			t.Fatalf("the slots' style: %d %q", css.Status, rule)
		}
	})
}

// C1: the import page loads the stylesheet that lets its column list break at the page's
// edge (390 px wide: no sideways scrolling).
func TestC1ImportColumnsBreak(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		body := string(f.send(admin, "GET", "/calendar/admin/import", nil).Body)
		if !strings.Contains(body, `href="/calendar/assets/calendar.css?v=`) || !strings.Contains(body, `<code class="wrap">`) {
			t.Fatalf("the import page:\n%s", body)
		}
		css := string(f.send(nil, "GET", "/calendar/assets/calendar.css", nil).Body)
		if !regexp.MustCompile(`code\.wrap[^{]*\{[^}]*overflow-wrap: anywhere`).MatchString(css) {
			t.Fatalf("code.wrap does not break:\n%s", css)
		}
	})
}

// C1, P4: only the tenant's facilities' places are known, so an unknown place suggests a
// city's name, not a postal code, in every language.
func TestC1UnknownPlaceSuggestsCityName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		res := f.send(nil, "GET", "/calendar?near=00-001", nil)
		said := regexp.MustCompile(`(?s)id="e-near"[^>]*>(.*?)<`).FindStringSubmatch(string(res.Body))
		if res.Status != http.StatusUnprocessableEntity || said == nil || !strings.Contains(said[1], "wpisz nazwę miasta") || strings.Contains(said[1], "kod pocztowy") {
			t.Fatalf("near an unknown code: %d %q\n%s", res.Status, said, res.Body)
		}
		// Nor does any other hint about the place, in any language.
		for lang, postal := range map[string]string{"fr": "code postal", "sk": "PSČ", "pl": "kod pocztowy"} {
			for _, id := range []string{"calendar.search.err.place_unknown", "calendar.search.locate_failed", "calendar.search.err.position", "calendar.search.err.sort_distance"} {
				if s := f.m.Msgs.For(lang).T(id); strings.Contains(s, postal) {
					t.Fatalf("%s %s suggests a postal code: %s", lang, id, s)
				}
			}
		}
	})
}

// C5, C10, C11: "My visits" names the person a visit was booked for; the doctor's reason
// reaches the patient in his language, in the e-mail and on the visit's page; a cancelled
// visit offers no calendar file, a live one does.
func TestC10ReasonAndPersonShownToPatient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(ctx, f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		doc := &sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}
		f.h.Host.Users[f.A.ID] = append(f.h.Host.Users[f.A.ID], sdk.User{ID: "p2", Name: "Jean Martin", Locale: "fr", Roles: []string{"user"}})
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		other := f.booking(f.services[30], tuesday, testPESEL(1))
		other.ForOther, other.BookedBy, other.PatientFirstName, other.PatientLastName, other.Email = true, "p1", "Zofia", "Wiśniewska", "zofia@example.org"
		own := f.booking(f.services[30], tuesday.Add(time.Hour), testPESEL(2))
		own.UserID, own.BookedBy = "p1", "p1"
		french := f.booking(f.services[30], tuesday.Add(2*time.Hour), testPESEL(3))
		french.UserID, french.BookedBy = "p2", "p2"
		for _, bk := range []*Booking{other, own, french} {
			if err := f.m.reserve(ctx, f.A, bk); err != nil {
				t.Fatal(err)
			}
		}
		list := string(f.send(u, "GET", "/calendar/visits", nil).Body)
		if strings.Count(list, "dla: ") != 1 || !strings.Contains(list, "dla: Zofia Wiśniewska") {
			t.Fatalf("My visits does not name the other person once:\n%s", list)
		}
		if page := string(f.send(u, "GET", "/calendar/visits/"+other.ID, nil).Body); !strings.Contains(page, "/calendar/visits/"+other.ID+"/visit.ics") {
			t.Fatalf("a live visit offers no calendar file:\n%s", page)
		}
		for _, bk := range []*Booking{other, french} {
			if res := f.send(doc, "POST", "/calendar/agenda/"+bk.ID+"/cancel", url.Values{"reason": {"emergency"}}); res.Status != http.StatusSeeOther {
				t.Fatalf("cancel: %d", res.Status)
			}
		}
		msgs := f.sent(tmplCancelledByDoctor)
		if len(msgs) != 2 || msgs[0].Data["Reason"] != "nagły wypadek" || msgs[1].Data["Reason"] != "urgence" {
			t.Fatalf("the reasons sent: %+v", msgs)
		}
		for i, want := range map[int]string{0: "Powód: nagły wypadek.", 1: "Motif\u00a0: urgence."} {
			lang := []string{"pl", "fr"}[i]
			var kv []any
			for k, v := range msgs[i].Data {
				kv = append(kv, k, v)
			}
			if body := f.m.Msgs.For(lang).T("mail."+tmplCancelledByDoctor+".body", kv...); !strings.Contains(body, want) {
				t.Fatalf("the %s e-mail lacks %q: %s", lang, want, body)
			}
		}
		page := string(f.send(u, "GET", "/calendar/visits/"+other.ID, nil).Body)
		if !strings.Contains(page, "Odwołana przez lekarza. Powód: nagły wypadek") || strings.Contains(page, "visit.ics") {
			t.Fatalf("the cancelled visit's page:\n%s", page)
		}
		if page := string(f.send(u, "GET", "/calendar/visits/"+own.ID, nil).Body); !strings.Contains(page, "visit.ics") {
			t.Fatalf("the live visit lost its calendar file:\n%s", page)
		}
	})
}

// C6, C7: a guest is told to confirm by a deadline with its date when it is not today, and
// his confirmation tells him to cancel with the link, not on a "My visits" page he does not
// have; a patient with an account is told both.
func TestC6GuestDeadlineDateAndCancelWording(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.window(2, 9*60, 12*60)
		zone := tenantZone(f.A)
		post := func(pesel, email string) string {
			res := f.send(nil, "POST", "/calendar/doctors/"+f.doctor.ID+"/guest", f.guestForm(f.firstStart("guest"), pesel, email))
			if res.Status != 200 {
				t.Fatalf("guest booking: %d\n%s", res.Status, res.Body)
			}
			return string(res.Body)
		}
		// 11:00 in Warsaw: the deadline is today, its time is enough.
		body := post("85030212344", "jan@example.org")
		if want := "do godziny " + f.now.Add(30*time.Minute).In(zone).Format("15:04"); !strings.Contains(body, want) {
			t.Fatalf("today's deadline: lacks %q\n%s", want, body)
		}
		// 23:50 in Warsaw: the deadline is tomorrow, with its date.
		f.now = time.Date(2026, 11, 20, 22, 50, 0, 0, time.UTC)
		body = post("90010112349", "ewa@example.org")
		until := locales.FormatDateTime("pl", f.now.Add(30*time.Minute), zone)
		if !strings.Contains(body, "potwierdź wizytę do "+until) || strings.Contains(body, "do godziny") || !strings.HasPrefix(until, "21.11.2026") {
			t.Fatalf("tomorrow's deadline %s:\n%s", until, body)
		}
		// The guest confirms: his confirmation names the link only.
		confirm := f.sent(tmplConfirmBooking)
		token := strings.TrimPrefix(confirm[len(confirm)-1].Link, "/calendar/confirm/")
		if res := f.send(nil, "POST", "/calendar/confirm/"+token, url.Values{}); res.Status != 200 {
			t.Fatalf("confirm: %d\n%s", res.Status, res.Body)
		}
		render := func(msg sdk.Message) string {
			var kv []any
			for k, v := range msg.Data {
				kv = append(kv, k, v)
			}
			return f.m.Msgs.For("pl").T("mail."+tmplBooked+".body", kv...)
		}
		booked := f.sent(tmplBooked)
		if len(booked) != 1 || booked[0].UserID != "" {
			t.Fatalf("the guest's confirmation: %+v", booked)
		}
		if mail := render(booked[0]); strings.Contains(mail, "Moje wizyty") || !strings.Contains(mail, "linkiem poniżej (działa jeden raz).") {
			t.Fatalf("the guest's confirmation:\n%s", mail)
		}
		f.now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		f.bookThroughPage(&sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}, "85030212344")
		booked = f.sent(tmplBooked)
		if mail := render(booked[len(booked)-1]); !strings.Contains(mail, "„Moje wizyty”") {
			t.Fatalf("the account holder's confirmation:\n%s", mail)
		}
	})
}

// P4: French puts a non-breaking space before ":" — the booking form has no hard-coded
// colon, and a page's labels and title take the language's own; no French message has a
// plain space before a colon or inside « ».
func TestP4FrenchColons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.A.Locale = "fr"
		f.window(2, 9*60, 10*60)
		f.doctor.UserID = "doc1"
		if err := f.m.saveDoctor(context.Background(), f.A, f.doctor, []string{"cardiology"}, []string{f.facility.ID}); err != nil {
			t.Fatal(err)
		}
		u := &sdk.User{ID: "p1", Email: "jan@example.org", Name: "Jan Nowak", Roles: []string{"user"}}
		week := "/calendar/doctors/" + f.doctor.ID + "/book?service=" + f.services[30].ID + "&week=2026-12-01"
		starts := slotLinkRe.FindAllStringSubmatch(string(f.send(u, "GET", week, nil).Body), -1)
		if len(starts) == 0 {
			t.Fatal("no start")
		}
		tags := regexp.MustCompile(`(?s)<[^>]*>`)
		bad := regexp.MustCompile(`\p{L}:|[ \t]:`)
		for _, page := range []struct {
			u    *sdk.User
			path string
		}{{u, week + "&start=" + starts[0][2]}, {&sdk.User{ID: "doc1", Name: "Anna Kowalska", Roles: []string{"doctor"}}, "/calendar/manage/" + f.doctor.ID}} {
			res := f.send(page.u, "GET", page.path, nil)
			text := tags.ReplaceAllString(string(res.Body), " ")
			if res.Status != 200 || bad.MatchString(text) {
				t.Fatalf("%s: %d, a colon without its non-breaking space: %q", page.path, res.Status, bad.FindString(text))
			}
		}
		for _, s := range []string{" :", "« ", " »"} {
			if ids := frenchWith(t, s); len(ids) > 0 {
				t.Fatalf("French messages with %q: %v", s, ids)
			}
		}
	})
}

// frenchWith are the calendar's French messages whose text holds s.
func frenchWith(t *testing.T, s string) []string {
	msgs, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	loc := msgs.For("fr")
	for _, id := range msgs.IDs("fr") {
		if strings.HasPrefix(id, "calendar.") || strings.HasPrefix(id, "mail.calendar.") {
			if strings.Contains(loc.Raw(id), s) {
				out = append(out, id)
			}
		}
	}
	return out
}

// P4: Slovak "Stiahnuť" reads as "download"; withdrawing a service, its button and its
// message, says what it does.
func TestP4SlovakWithdrawService(t *testing.T) {
	msgs, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	loc := msgs.For("sk")
	if s := loc.T("calendar.manage.withdraw"); strings.Contains(strings.ToLower(s), "stiahn") || !strings.Contains(s, "služb") {
		t.Fatalf("sk calendar.manage.withdraw = %q", s)
	}
	if s := loc.T("calendar.flash.service_withdrawn"); strings.Contains(strings.ToLower(s), "stiahn") {
		t.Fatalf("sk calendar.flash.service_withdrawn = %q", s)
	}
}
