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
)

// registerForm is a complete registration; the secret question and answer count only where
// the tenant asks for them (mlab, R2).
func registerForm(email string) url.Values {
	return url.Values{"email": {email}, "password": {"correct horse battery"}, "password2": {"correct horse battery"},
		"name": {"Jeanne Martin"}, "first_name": {"Jeanne"}, "last_name": {"Martin"}, "birth_date": {"1985-03-14"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"},
		"secret_question": {"Nom de mon premier chat ?"}, "secret_answer": {"Éléphant"}}
}

// TestAccountLifecycle walks P2 end to end: registration → verification e-mail → login →
// reset by e-mail → password change → sessions → deletion.
func TestAccountLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")

		r := c.post("/register", "/register", registerForm("jeanne@example.org"))
		if r.Status != 200 {
			t.Fatalf("register: %d", r.Status)
		}
		mustContain(t, r, "Vérifiez votre boîte e-mail")

		// Not verified yet: login refused with the verification hint.
		r = c.login("", "jeanne@example.org", "correct horse battery")
		if r.Status != 403 {
			t.Fatalf("login before verification: %d", r.Status)
		}
		mustContain(t, r, "Confirmez d’abord votre adresse e-mail")

		link := e.lastLink("mlab", "jeanne@example.org")
		if !strings.HasPrefix(link, "http://mlab.localhost:8080/verify?token=") {
			t.Fatalf("verification link %q is not on the tenant's host", link)
		}
		r = c.get(pathOf(link))
		token := strings.TrimPrefix(pathOf(link), "/verify?token=")
		r = c.post(pathOf(link), "/verify", url.Values{"token": {token}})
		if r.Status != 200 {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		mustContain(t, r, "Compte activé")
		// The link is single-use.
		r = c.post(pathOf(link), "/verify", url.Values{"token": {token}})
		if r.Status != 400 {
			t.Fatalf("second use of the verification link: %d", r.Status)
		}

		r = c.login("", "jeanne@example.org", "correct horse battery")
		if r.Status != 303 || r.Location() != "/" {
			t.Fatalf("login: %d → %q", r.Status, r.Location())
		}
		r = c.get("/account")
		if r.Status != 200 {
			t.Fatalf("account: %d", r.Status)
		}
		mustContain(t, r, "jeanne@example.org", "Jeanne Martin", "14/03/1985")

		// Reset by e-mail, from another browser.
		other := e.client("mlab.localhost")
		r = other.post("/reset", "/reset", url.Values{"email": {"jeanne@example.org"}})
		e.runJobs()
		mustContain(t, r, "Si un compte existe pour cette adresse")
		link = e.lastLink("mlab", "jeanne@example.org")
		if !strings.Contains(link, "/reset/confirm?token=") {
			t.Fatalf("reset link %q", link)
		}
		token = link[strings.Index(link, "token=")+6:]
		r = other.post(pathOf(link), "/reset/confirm", url.Values{"token": {token}, "password": {"new password 2026"}, "password2": {"new password 2026"},
			"secret_answer": {"elephant"}})
		if r.Status != 303 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		// The reset ended every session: the first browser is signed out.
		if r = c.get("/account"); r.Status != 303 {
			t.Fatalf("old session after reset: %d", r.Status)
		}
		if r = c.login("", "jeanne@example.org", "correct horse battery"); r.Status != 401 {
			t.Fatalf("old password after reset: %d", r.Status)
		}
		if r = c.login("", "jeanne@example.org", "new password 2026"); r.Status != 303 {
			t.Fatalf("new password: %d", r.Status)
		}

		// Password change keeps this session and ends the others.
		if r = other.login("", "jeanne@example.org", "new password 2026"); r.Status != 303 {
			t.Fatal("second session")
		}
		r = c.get("/account/sessions")
		mustContain(t, r, "2 sessions ouvertes")
		r = c.post("/account", "/account/password", url.Values{"current": {"new password 2026"}, "password": {"third password!"}, "password2": {"third password!"}})
		if r.Status != 303 {
			t.Fatalf("change password: %d %s", r.Status, r.Body)
		}
		if r = other.get("/account"); r.Status != 303 {
			t.Fatalf("other session survived password change: %d", r.Status)
		}
		if r = c.get("/account"); r.Status != 200 {
			t.Fatalf("own session ended by password change: %d", r.Status)
		}

		// Deletion with a reason: the account and its sessions are gone.
		r = c.post("/account/delete", "/account/delete", url.Values{"reason": {"je n'en ai plus besoin"}, "password": {"third password!"}})
		if r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		mustContain(t, r, "Compte supprimé")
		if r = c.get("/account"); r.Status != 303 {
			t.Fatalf("session after deletion: %d", r.Status)
		}
		if r = c.login("", "jeanne@example.org", "third password!"); r.Status != 401 {
			t.Fatalf("login after deletion: %d", r.Status)
		}
		if _, err := e.srv.Accounts.ByEmail(context.Background(), e.tenant("mlab").ID, "jeanne@example.org"); err != accounts.ErrNotFound {
			t.Fatalf("account still stored: %v", err)
		}
	})
}

// TestRegistrationValidation: missing or bad fields are named next to the field, in the
// tenant's language, and nothing is saved (P2).
func TestRegistrationValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")
		r := c.post("/register", "/register", url.Values{"email": {"not-an-address"}, "password": {"short"}, "password2": {"short"}})
		if r.Status != 422 {
			t.Fatalf("status %d", r.Status)
		}
		mustContain(t, r, `id="e-email"`, "Saisissez une adresse e-mail valide", `id="e-password"`,
			"au moins 10 caractères", `id="e-name"`, `id="e-birth_date"`, `aria-invalid="true"`, `value="not-an-address"`)
		mustNotContain(t, r, `value="short"`)

		// Under the tenant's minimum age (P2: 18).
		f := registerForm("young@example.org")
		f.Set("birth_date", "2015-01-01")
		r = c.post("/register", "/register", f)
		if r.Status != 422 {
			t.Fatalf("under age: %d", r.Status)
		}
		mustContain(t, r, "l’âge minimum requis")
		if len(e.mails("mlab")) != 0 {
			t.Fatal("a mail was sent for an invalid registration")
		}
		users, _ := e.srv.Accounts.List(context.Background(), e.tenant("mlab").ID, "young", 10)
		if len(users) != 0 {
			t.Fatal("an invalid registration was saved")
		}

		// The minimum age is the tenant's rule, read at run time.
		e.setRule("mlab", "account.min_age", 10)
		r = c.post("/register", "/register", f)
		if r.Status != 200 {
			t.Fatalf("registration at the tenant's lowered minimum age: %d", r.Status)
		}
	})
}

// TestSameAnswerWhetherEmailExists: registration and reset answer the same way for a known
// and an unknown address (P2); the owner of a known address is told by e-mail.
func TestSameAnswerWhetherEmailExists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")
		known := c.post("/register", "/register", registerForm("user@mlab.localhost"))
		unknown := c.post("/register", "/register", registerForm("nobody@example.org"))
		if known.Status != unknown.Status || mainOf(known.Body) != mainOf(unknown.Body) {
			t.Fatalf("registration answers differ:\n%s\n---\n%s", mainOf(known.Body), mainOf(unknown.Body))
		}
		ms := e.mails("mlab")
		if len(ms) != 2 || !strings.Contains(ms[0].Subject+ms[1].Subject, "Tentative d’inscription") {
			t.Fatalf("the owner of the known address was not told (%d mails)", len(ms))
		}
		// The mailbox says each message's state in words, not its internal value.
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		box := admin.get("/admin/mailbox")
		mustContain(t, box, ">Dans la boîte de développement (non envoyé)</td>")
		mustNotContain(t, box, ">written</td>")
		known = c.post("/reset", "/reset", url.Values{"email": {"user@mlab.localhost"}})
		unknown = c.post("/reset", "/reset", url.Values{"email": {"nobody2@example.org"}})
		if known.Status != unknown.Status || mainOf(known.Body) != mainOf(unknown.Body) {
			t.Fatal("reset answers differ")
		}
	})
}

func mainOf(body string) string {
	i, j := strings.Index(body, "<main"), strings.Index(body, "</main>")
	if i < 0 || j < 0 {
		return body
	}
	return body[i:j]
}

// TestUnverifiedAccountsRemoved: an account not verified within the tenant's window (24 h) is
// deleted by the sweep (P2).
func TestUnverifiedAccountsRemoved(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("elekarze.localhost")
		c.post("/register", "/register", registerForm("late@example.org"))
		ctx := context.Background()
		tid := e.tenant("elekarze").ID
		u, err := e.srv.Accounts.ByEmail(ctx, tid, "late@example.org")
		if err != nil {
			t.Fatal(err)
		}
		// 25 hours later, someone else registers; then the sweep runs.
		e.srv.Accounts.Now = func() time.Time { return u.CreatedAt.Add(25 * time.Hour) }
		defer func() { e.srv.Accounts.Now = func() time.Time { return time.Now().UTC() } }()
		c.post("/register", "/register", registerForm("fresh@example.org"))
		// A registration its job never acted on (failed for good), 25 hours old, and one
		// that just came: the sweep takes the old one only.
		waiting := func() (n int) {
			e.srv.DB.ReadTenant(ctx, tid, func(ctx context.Context, sc *db.Scope) error {
				return sc.Tx.NewRaw("SELECT COUNT(*) FROM registrations WHERE tenant_id = ?", tid).Scan(ctx, &n)
			})
			return n
		}
		if err := e.srv.DB.InTenant(ctx, tid, func(ctx context.Context, sc *db.Scope) error {
			for id, at := range map[string]time.Time{"stale": u.CreatedAt.Add(-time.Hour), "recent": u.CreatedAt.Add(24 * time.Hour)} {
				if _, err := sc.Tx.NewRaw("INSERT INTO registrations (tenant_id, id, data, created_at) VALUES (?, ?, '{}', ?)", tid, id, at).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := waiting(); n != 1 {
			t.Fatalf("%d registrations left after the sweep, want the recent one only", n)
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, tid, "late@example.org"); err != accounts.ErrNotFound {
			t.Fatalf("unverified account older than 24 h kept: %v", err)
		}
		// Demo users are verified: never swept.
		if _, err := e.srv.Accounts.ByEmail(ctx, tid, "user@elekarze.localhost"); err != nil {
			t.Fatalf("verified account swept: %v", err)
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, tid, "fresh@example.org"); err != nil {
			t.Fatalf("account within its 24 h swept: %v", err)
		}
	})
}

// TestInactiveAccountsClosed: where the tenant's rule is set (unilabs: 365 days, 003 II.11),
// accounts unused for longer are closed and told so in their language; where it is 0
// (mlab), nothing is closed (P2).
func TestInactiveAccountsClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		c := e.client("unilabs.localhost")
		if r := c.login("", "user@unilabs.localhost", "demo-unilabs-user"); r.Status != 303 {
			t.Fatal("login")
		}
		e.srv.Accounts.Now = func() time.Time { return time.Now().UTC().Add(364 * 24 * time.Hour) }
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, e.tenant("unilabs").ID, "user@unilabs.localhost"); err != nil {
			t.Fatal("closed before the rule's 365 days")
		}
		e.srv.Accounts.Now = func() time.Time { return time.Now().UTC().Add(366 * 24 * time.Hour) }
		defer func() { e.srv.Accounts.Now = func() time.Time { return time.Now().UTC() } }()
		// The notice leaves through a real SMTP server: once delivered, the outbox forgets it
		// (nothing of the erased person stays, issue 11.12).
		smtpd := startSMTP(t)
		e.srv.Mail.Email = smtpd.transport()
		defer func() { e.srv.Mail.Email = nil }()
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, e.tenant("unilabs").ID, "user@unilabs.localhost"); err != accounts.ErrNotFound {
			t.Fatalf("inactive account kept: %v", err)
		}
		var found bool
		for _, m := range smtpd.messages(t) {
			if strings.Contains(m.To, "user@unilabs.localhost") && strings.Contains(m.Text, "viac ako 365 dní") {
				found = true
			}
		}
		if !found {
			t.Fatal("no closure notice in Slovak")
		}
		if left, _ := e.srv.Mail.ListTo(ctx, e.tenant("unilabs").ID, "user@unilabs.localhost"); len(left) != 0 {
			t.Fatalf("the outbox still holds %d messages to the erased person", len(left))
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, e.tenant("mlab").ID, "user@mlab.localhost"); err != nil {
			t.Fatal("an account of a tenant without the rule was closed")
		}
	})
}
