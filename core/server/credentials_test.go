package server_test

import (
	"context"
	"errors"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/workdays"
)

// TestCredentialChangeDayCountsBusinessDays: the notice runs for the tenant's number of whole
// business days of its country, the day of the notice not counted; the change applies at the
// start of the next day, in the tenant's time zone (B10, P2 [001 art. 3]).
func TestCredentialChangeDayCountsBusinessDays(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tn := &tenancy.Tenant{Settings: tenancy.Settings{Country: "FR", TimeZone: "Europe/Paris", Rules: map[string]any{}}}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		noticed string
		days    int64
		want    string
	}{
		// Thursday: Friday, Monday, Tuesday; from Wednesday.
		{"2026-11-26 15:00", 3, "2026-12-02 00:00"},
		// Late on a Friday evening still counts Monday to Wednesday.
		{"2026-11-27 23:30", 3, "2026-12-03 00:00"},
		// Christmas Day (a French holiday) is not a business day: Thursday 24, Monday 28, Tuesday 29.
		{"2026-12-23 10:00", 3, "2026-12-30 00:00"},
		// Noticed on a Saturday: Monday, Tuesday, Wednesday.
		{"2026-11-28 09:00", 3, "2026-12-03 00:00"},
		// The rule is the tenant's: 5 business days.
		{"2026-11-26 15:00", 5, "2026-12-04 00:00"},
	} {
		tn.Settings.Rules[accounts.RuleCredentialNoticeDays] = c.days
		got := accounts.CredentialChangeDay(tn, at(c.noticed).UTC())
		if !got.Equal(at(c.want)) {
			t.Errorf("noticed %s with %d days: %s, want %s", c.noticed, c.days, got.In(paris), c.want)
		}
	}
}

// wholeBusinessDays counts the business days of the country strictly between two days.
func wholeBusinessDays(country string, from, to time.Time, loc *time.Location) int {
	c := workdays.Calendar(country, 8, 18)
	f, e := from.In(loc), to.In(loc)
	n := 0
	for d := time.Date(f.Year(), f.Month(), f.Day()+1, 12, 0, 0, 0, loc); d.Before(time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, loc)); d = d.AddDate(0, 0, 1) {
		if c.IsWorkday(d) {
			n++
		}
	}
	return n
}

// TestCredentialChangeGivesNotice: a tenant admin schedules, on a user's page, a new login
// address and a password reset with a reason; the person is told at once by e-mail and SMS,
// in his language, of what changes, why and from which day (3 business days later); nothing
// changes before that day; on it, the job applies the change, both addresses are told, and
// the person sets a new password from the link he is sent. A change can be cancelled before
// its day; bad input changes nothing (B10, P2 [001 art. 3]).
func TestCredentialChangeGivesNotice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		st := e.tenant("secretaires")
		st.Settings.Rules["notifications.sms"] = true
		if err := e.srv.Tenants.Save(ctx, st); err != nil {
			t.Fatal(err)
		}
		u, err := e.srv.Accounts.ByEmail(ctx, st.ID, "user@secretaires.localhost")
		if err != nil {
			t.Fatal(err)
		}
		// The person gave a mobile number and reads Polish.
		err = e.srv.DB.InTenant(ctx, st.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*accounts.User)(nil)).Set("profile = ?", `{"mobile":"06 12 34 56 78"}`).Set("locale = 'pl'").Where("id = ?", u.ID).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := e.client("secretaires.localhost")
		if r := admin.login("", "admin@secretaires.localhost", "demo-secretaires-admin"); r.Status != 303 {
			t.Fatalf("admin login: %d", r.Status)
		}
		page := "/admin/users/" + u.ID
		r := admin.get(page)
		mustContain(t, r, `id="credentials"`, "3 jours ouvrés de préavis")
		changes := func() []accounts.CredentialChange {
			l, err := e.srv.Accounts.CredentialChanges(ctx, st.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}

		// Bad input: a message next to the field, nothing recorded, nobody told.
		before := len(e.mails("secretaires"))
		for _, c := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"change_reason": {"Migration"}}, "Indiquez une nouvelle adresse ou cochez la réinitialisation"},
			{url.Values{"new_email": {"pas une adresse"}, "change_reason": {"Migration"}}, "Saisissez une adresse e-mail valide"},
			{url.Values{"new_email": {"admin@secretaires.localhost"}, "change_reason": {"Migration"}}, "déjà celle d’un autre compte"},
			{url.Values{"reset_password": {"1"}}, `id="e-change_reason"`},
			{url.Values{"reset_password": {"1"}, "change_reason": {strings.Repeat("x", 1001)}}, `id="e-change_reason"`},
		} {
			r := admin.post(page, page+"/credentials", c.form)
			if r.Status != 422 {
				t.Fatalf("%v: %d", c.form, r.Status)
			}
			mustContain(t, r, c.want)
		}
		if len(changes()) != 0 || len(e.mails("secretaires")) != before {
			t.Fatal("bad input changed something")
		}

		// Scheduled: the person is told at once, in Polish, by e-mail and SMS.
		r = admin.post(page, page+"/credentials", url.Values{"new_email": {"Nouvelle@Example.org"}, "reset_password": {"1"},
			"change_reason": {"Przenosimy serwis na nową platformę"}})
		if r.Status != 303 {
			t.Fatalf("schedule: %d %s", r.Status, mainOf(r.Body))
		}
		l := changes()
		if len(l) != 1 || l[0].Status != accounts.ChangeScheduled || l[0].NewEmail != "nouvelle@example.org" || !l[0].ResetPassword {
			t.Fatalf("recorded: %+v", l)
		}
		ch := l[0]
		loc := st.Location()
		if n := wholeBusinessDays("FR", ch.NoticedAt, ch.EffectiveAt, loc); n != 3 {
			t.Fatalf("%d whole business days of notice (noticed %s, effective %s)", n, ch.NoticedAt.In(loc), ch.EffectiveAt.In(loc))
		}
		if eff := ch.EffectiveAt.In(loc); eff.Hour() != 0 || eff.Minute() != 0 {
			t.Fatalf("effective at %s, not at the start of a day", eff)
		}
		day := ch.EffectiveAt.In(loc).Format("02.01.2006")
		ms := e.mails("secretaires")
		notice := ms[len(ms)-1]
		if !strings.Contains(notice.To, "user@secretaires.localhost") || notice.Lang != "pl" || !strings.Contains(notice.Subject, day) ||
			!strings.Contains(notice.Text, "Przenosimy serwis na nową platformę") || !strings.Contains(notice.Text, "nouvelle@example.org") ||
			!strings.Contains(notice.Text, "zresetowane") {
			t.Fatalf("notice: %+v", notice)
		}
		var sms []mail.Entry
		err = e.srv.DB.ReadTenant(ctx, st.ID, func(ctx context.Context, sc *db.Scope) error {
			return sc.Select(&sms).Where("channel = 'sms'").Scan(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(sms) != 1 || sms[0].Recipient != "+33612345678" || !strings.Contains(string(sms[0].Raw)+sms[0].TextBody, day) || sms[0].Locale != "pl" {
			t.Fatalf("SMS: %+v", sms)
		}
		// Audited; listed on the page with its day; a second one waits for this one.
		if got, _ := e.srv.Trail.Search(ctx, st.ID, audit.Filter{Action: "admin.credential_change_scheduled", Subject: u.ID}); len(got) != 1 {
			t.Fatalf("audit: %d", len(got))
		}
		mustContain(t, admin.get(page), "nouvelle@example.org", "Prévu", ch.EffectiveAt.In(loc).Format("02/01/2006"), "/credentials/"+ch.ID+"/cancel")
		if r := admin.post(page, page+"/credentials", url.Values{"reset_password": {"1"}, "change_reason": {"Encore"}}); r.Status != 409 {
			t.Fatalf("a second change: %d", r.Status)
		}

		// Nothing changes before the day.
		e.runJobs()
		if u2, _ := e.srv.Accounts.ByID(ctx, st.ID, u.ID); u2.Email != "user@secretaires.localhost" {
			t.Fatalf("changed before the day: %s", u2.Email)
		}
		person := e.client("secretaires.localhost")
		if r := person.login("", "user@secretaires.localhost", "demo-secretaires-user"); r.Status != 303 {
			t.Fatalf("the person's login before the day: %d", r.Status)
		}

		// The day comes: the job applies it.
		later := ch.EffectiveAt.Add(time.Minute)
		e.srv.Accounts.Now = func() time.Time { return later }
		e.srv.Jobs.Now = func() time.Time { return later }
		e.runJobs()
		u2, _ := e.srv.Accounts.ByID(ctx, st.ID, u.ID)
		if u2.Email != "nouvelle@example.org" {
			t.Fatalf("not applied: %s", u2.Email)
		}
		if l := changes(); l[0].Status != accounts.ChangeApplied {
			t.Fatalf("state: %s", l[0].Status)
		}
		// His session ended with the password reset; the old password no longer opens it.
		if r := person.get("/account"); r.Status != 303 {
			t.Fatalf("session after the reset: %d", r.Status)
		}
		if r := person.login("", "nouvelle@example.org", "demo-secretaires-user"); r.Status != 401 {
			t.Fatalf("old password after the reset: %d", r.Status)
		}
		told := map[string]bool{}
		for _, m := range e.mails("secretaires") {
			if strings.Contains(m.Subject, "adres logowania") && strings.Contains(m.Text, "nouvelle@example.org") {
				a, err := netmail.ParseAddress(m.To)
				if err != nil {
					t.Fatal(err)
				}
				told[a.Address] = true
			}
		}
		if len(told) != 2 {
			t.Fatalf("both addresses told: %v", told)
		}
		link := e.lastLink("secretaires", "nouvelle@example.org")
		token := link[strings.Index(link, "token=")+6:]
		if r := person.post(pathOf(link), "/reset/confirm", url.Values{"token": {token}, "password": {"new password 2026"},
			"password2": {"new password 2026"}}); r.Status != 303 {
			t.Fatalf("set the new password: %d", r.Status)
		}
		if r := person.login("", "nouvelle@example.org", "new password 2026"); r.Status != 303 {
			t.Fatalf("login with the new credentials: %d", r.Status)
		}
		if got, _ := e.srv.Trail.Search(ctx, st.ID, audit.Filter{Action: "account.credential_change_applied", Subject: u.ID}); len(got) != 1 {
			t.Fatalf("audit of the change applied: %d", len(got))
		}
		e.srv.Accounts.Now = func() time.Time { return time.Now().UTC() }
		e.srv.Jobs.Now = func() time.Time { return time.Now().UTC() }

		// Cancelled before its day: the person is told, and the day passes without it.
		r = admin.post(page, page+"/credentials", url.Values{"new_email": {"autre@example.org"}, "change_reason": {"Changement de domaine"}})
		if r.Status != 303 {
			t.Fatalf("schedule again: %d", r.Status)
		}
		ch2 := changes()[0]
		if r := admin.post(page, page+"/credentials/"+ch2.ID+"/cancel", nil); r.Status != 303 {
			t.Fatalf("cancel: %d", r.Status)
		}
		ms = e.mails("secretaires")
		if last := ms[len(ms)-1]; !strings.Contains(last.To, "nouvelle@example.org") || !strings.Contains(last.Text, "anulowana") {
			t.Fatalf("cancellation notice: %+v", last)
		}
		if r := admin.post(page, page+"/credentials/"+ch2.ID+"/cancel", nil); r.Status != 303 {
			t.Fatalf("cancel twice: %d", r.Status)
		}
		mustContain(t, admin.get(page), "Ce changement ne peut plus être annulé.", "Annulé")
		later = ch2.EffectiveAt.Add(time.Hour)
		e.srv.Accounts.Now = func() time.Time { return later }
		e.srv.Jobs.Now = func() time.Time { return later }
		e.runJobs()
		if _, err := e.srv.Accounts.ApplyCredentialChange(ctx, st, ch2.ID); !errors.Is(err, accounts.ErrNoChange) {
			t.Fatalf("a cancelled change applied: %v", err)
		}
		if u3, _ := e.srv.Accounts.ByID(ctx, st.ID, u.ID); u3.Email != "nouvelle@example.org" {
			t.Fatalf("a cancelled change was applied: %s", u3.Email)
		}

		// Another tenant's admin cannot reach the account.
		other := e.client("elekarze.localhost")
		other.login("", "admin@elekarze.localhost", "demo-elekarze-admin")
		if r := other.post("/admin/users", "/admin/users/"+u.ID+"/credentials", url.Values{"reset_password": {"1"}, "change_reason": {"x"}}); r.Status != 404 {
			t.Fatalf("another tenant: %d", r.Status)
		}
	})
}

// TestCredentialChangeRaces: two admins scheduling at once make one change; two runs of the
// job at once apply it once (B10: the database decides).
func TestCredentialChangeRaces(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		st := e.tenant("secretaires")
		u, err := e.srv.Accounts.ByEmail(ctx, st.ID, "user@secretaires.localhost")
		if err != nil {
			t.Fatal(err)
		}
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.srv.Accounts.ScheduleCredentialChange(ctx, st, u, "", true, "Migration", "admin", nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, accounts.ErrChangeWaiting):
				t.Fatalf("schedule: %v", err)
			}
		}
		l, _ := e.srv.Accounts.CredentialChanges(ctx, st.ID, u.ID)
		if ok != 1 || len(l) != 1 {
			t.Fatalf("%d scheduled, %d rows", ok, len(l))
		}
		later := l[0].EffectiveAt.Add(time.Second)
		e.srv.Accounts.Now = func() time.Time { return later }
		applied := 0
		var mu sync.Mutex
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.srv.Accounts.ApplyCredentialChange(ctx, st, l[0].ID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					applied++
				case !errors.Is(err, accounts.ErrNoChange):
					t.Errorf("apply: %v", err)
				}
			}()
		}
		wg.Wait()
		var tokens int64
		err = e.srv.DB.ReadTenant(ctx, st.ID, func(ctx context.Context, sc *db.Scope) error {
			var err error
			tokens, err = sc.Select((*accounts.Token)(nil)).Where("user_id = ? AND purpose = ?", u.ID, accounts.PurposeReset).Count(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if applied != 1 || tokens != 1 {
			t.Fatalf("applied %d times, %d set-password links", applied, tokens)
		}
	})
}
