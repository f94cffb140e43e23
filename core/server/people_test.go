package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
)

// TestRegistrationDeclarationsE2: on unilabs (account.majority_by_marriage_age 16,
// account.capacity_declaration on), the form asks both declarations in sk, fr and pl; a
// 17-year-old who does not declare his marriage, or anyone who does not declare his full
// capacity, is refused next to the box, nothing saved; a 17-year-old who declares both has his
// account, with both declarations recorded.
func TestRegistrationDeclarationsE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		un := e.tenant("unilabs")
		c := e.client("unilabs.localhost")
		for lang, want := range map[string]string{"sk": "uzavretím manželstva", "fr": "majeur(e) par le mariage", "pl": "przez zawarcie małżeństwa"} {
			c.lang = lang
			r := c.get("/register")
			mustContain(t, r, `name="declare_marriage"`, `name="declare_capacity"`, want)
		}
		c.lang = "sk"
		seventeen := time.Now().UTC().AddDate(-17, 0, -10).Format("2006-01-02")
		form := registerForm("mlady@example.org")
		form.Set("birth_date", seventeen)
		r := c.post("/register", "/register", form)
		if r.Status != 422 || errorNextTo(r.Body, "declare_marriage") == "" || errorNextTo(r.Body, "declare_capacity") == "" {
			t.Fatalf("no declarations: %d marriage %q capacity %q", r.Status, errorNextTo(r.Body, "declare_marriage"), errorNextTo(r.Body, "declare_capacity"))
		}
		form.Set("declare_marriage", "yes")
		form.Set("declare_capacity", "yes")
		if r := c.post("/register", "/register", form); r.Status != 200 {
			t.Fatalf("declared: %d %s", r.Status, mainOf(r.Body))
		}
		u, err := e.srv.Accounts.ByEmail(ctx, un.ID, "mlady@example.org")
		if err != nil {
			t.Fatalf("account not made: %v", err)
		}
		got, err := e.srv.Terms.Consents(ctx, un.ID, u.ID)
		if err != nil || !got[accounts.DeclarationMarriage].Granted || !got[accounts.DeclarationCapacity].Granted || !got["data_processing"].Granted {
			t.Fatalf("declarations recorded: %v %+v", err, got)
		}
	})
}

// TestLoginEmailChangeByLinkE2: the account page changes the login e-mail: the password is
// confirmed; a link goes to the new address and nothing changes until it is followed; then
// the new address signs in, the old one no longer, and the old address is told.
func TestLoginEmailChangeByLinkE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.registerVerified("mlab.localhost", "mlab", "avant@example.org")
		r := c.post("/account", "/account/email", url.Values{"new_email": {"apres@example.org"}, "email_password": {"wrong one"}})
		if r.Status != 422 || errorNextTo(r.Body, "email_password") == "" {
			t.Fatalf("wrong password: %d", r.Status)
		}
		if r := c.post("/account", "/account/email", url.Values{"new_email": {"apres@example.org"}, "email_password": {"correct horse battery"}}); r.Status != 303 {
			t.Fatalf("ask: %d", r.Status)
		}
		mustContain(t, c.get("/account"), "apres@example.org", "avant@example.org")
		link := e.lastLink("mlab", "apres@example.org")
		if !strings.Contains(link, "/account/email/confirm?token=") {
			t.Fatalf("link %s", link)
		}
		// Opening the link changes nothing by itself.
		mustContain(t, c.get(pathOf(link)), "Confirmer la nouvelle adresse")
		other := e.client("mlab.localhost")
		if r := other.login("", "apres@example.org", "correct horse battery"); r.Status == 303 {
			t.Fatal("the new address signs in before the link was followed")
		}
		token := link[strings.Index(link, "token=")+6:]
		if r := e.client("mlab.localhost").post(pathOf(link), "/account/email/confirm", url.Values{"token": {token}}); r.Status != 200 {
			t.Fatalf("confirm: %d %s", r.Status, mainOf(r.Body))
		}
		if r := e.client("mlab.localhost").post(pathOf(link), "/account/email/confirm", url.Values{"token": {token}}); r.Status != 400 {
			t.Fatalf("a link used twice: %d", r.Status)
		}
		if r := e.client("mlab.localhost").login("", "apres@example.org", "correct horse battery"); r.Status != 303 {
			t.Fatalf("the new address: %d", r.Status)
		}
		if r := e.client("mlab.localhost").login("", "avant@example.org", "correct horse battery"); r.Status == 303 {
			t.Fatal("the old address still signs in")
		}
		told := false
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.To, "avant@example.org") && strings.Contains(m.Text, "apres@example.org") {
				told = true
			}
		}
		if !told {
			t.Fatal("the old address was not told")
		}
	})
}

// TestConsentWithdrawalByNoticeE2: on the account page the holder withdraws his consent to the
// processing of his data (password confirmed): an e-mail gives the day the account closes
// (account.consent_withdrawal_notice_days, 30 on unilabs); he may give it again before; left
// withdrawn, the durable job closes the account on that day through the core's closure.
func TestConsentWithdrawalByNoticeE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		un := e.tenant("unilabs")
		c := e.client("unilabs.localhost")
		if r := c.login("", "user@unilabs.localhost", "demo-unilabs-user"); r.Status != 303 {
			t.Fatal("login")
		}
		mustContain(t, c.get("/account"), `action="/account/consent/withdraw"`, `action="/account/email"`)
		// The sections read in each of the tenant's languages.
		for lang, want := range map[string][]string{"sk": {"Odvolanie súhlasu", "Prihlasovací e-mail", "Údaje, ktoré uchovávame"},
			"fr": {"Retirer mon consentement", "Adresse e-mail de connexion", "Les données que nous gardons"},
			"pl": {"Wycofanie zgody", "Adres e-mail do logowania", "Dane, które przechowujemy"}} {
			if r := c.post("/account", "/lang", url.Values{"lang": {lang}, "next": {"/account"}}); r.Status != 303 {
				t.Fatalf("switch to %s: %d", lang, r.Status)
			}
			mustContain(t, c.get("/account"), append(want, `lang="`+lang+`"`)...)
		}
		c.post("/account", "/lang", url.Values{"lang": {"sk"}, "next": {"/account"}})
		if r := c.post("/account", "/account/consent/withdraw", url.Values{"withdraw_password": {"nope"}}); r.Status != 422 || errorNextTo(r.Body, "withdraw_password") == "" {
			t.Fatalf("wrong password: %d", r.Status)
		}
		if r := c.post("/account", "/account/consent/withdraw", url.Values{"withdraw_password": {"demo-unilabs-user"}}); r.Status != 303 {
			t.Fatalf("withdraw: %d", r.Status)
		}
		u, err := e.srv.Accounts.ByEmail(ctx, un.ID, "user@unilabs.localhost")
		if err != nil || u.ClosingAt.IsZero() {
			t.Fatalf("closing day: %v %+v", err, u)
		}
		days := u.ClosingAt.Time.Sub(time.Now()).Hours() / 24
		if days < 29.9 || days > 30.1 {
			t.Fatalf("closing in %.1f days, the rule says 30", days)
		}
		notice := false
		for _, m := range e.mails("unilabs") {
			if strings.Contains(m.To, "user@unilabs.localhost") && strings.Contains(m.Subject, "bude zrušený") {
				notice = true
			}
		}
		if !notice {
			t.Fatal("no notice with the closing day")
		}
		mustContain(t, c.get("/account"), `action="/account/consent/restore"`)
		// Given again: the closing is cancelled.
		if r := c.post("/account", "/account/consent/restore", url.Values{}); r.Status != 303 {
			t.Fatalf("restore: %d", r.Status)
		}
		if u, _ := e.srv.Accounts.ByID(ctx, un.ID, u.ID); !u.ClosingAt.IsZero() {
			t.Fatal("still closing after the consent was given again")
		}
		// Withdrawn again and left: the job is not due before the day, and closes on it.
		if r := c.post("/account", "/account/consent/withdraw", url.Values{"withdraw_password": {"demo-unilabs-user"}}); r.Status != 303 {
			t.Fatalf("withdraw again: %d", r.Status)
		}
		e.runJobs()
		if _, err := e.srv.Accounts.ByID(ctx, un.ID, u.ID); err != nil {
			t.Fatalf("closed before the day: %v", err)
		}
		later := time.Now().UTC().AddDate(0, 0, 31)
		e.srv.Accounts.Now = func() time.Time { return later }
		e.srv.Jobs.Now = func() time.Time { return later }
		defer func() {
			e.srv.Accounts.Now = func() time.Time { return time.Now().UTC() }
			e.srv.Jobs.Now = func() time.Time { return time.Now().UTC() }
		}()
		e.runJobs()
		if _, err := e.srv.Accounts.ByID(ctx, un.ID, u.ID); err != accounts.ErrNotFound {
			t.Fatalf("not closed on the day: %v", err)
		}
		var done int64
		err = e.srv.DB.ReadTenant(ctx, un.ID, func(ctx context.Context, sc *db.Scope) error {
			n, err := sc.Select((*jobs.Job)(nil)).Where("name = ? AND status = ?", "core.close_withdrawn", jobs.Done).Count(ctx)
			done = n
			return err
		})
		if err != nil || done < 1 {
			t.Fatalf("the closing job: %v %d", err, done)
		}
	})
}
