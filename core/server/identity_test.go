package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db/dbtest"
)

// registerVerified registers a person through the form of host and opens his account with
// the verification link; it returns his browser, signed in.
func (e *env) registerVerified(host, slug, email string) *client {
	e.t.Helper()
	c := e.client(host)
	if r := c.post("/register", "/register", registerForm(email)); r.Status != 200 {
		e.t.Fatalf("register %s: %d %s", email, r.Status, mainOf(r.Body))
	}
	link := e.lastLink(slug, email)
	token := link[strings.Index(link, "token=")+6:]
	if r := c.post(pathOf(link), "/verify", url.Values{"token": {token}}); r.Status != 200 {
		e.t.Fatalf("verify %s: %d", email, r.Status)
	}
	if r := c.login("", email, "correct horse battery"); r.Status != 303 {
		e.t.Fatalf("login %s: %d", email, r.Status)
	}
	return c
}

// TestRegistrationAsksTheSecretQuestion: where the tenant's rule asks for it (mlab), the
// registration form has a secret question and answer, both required and at most 200
// characters, named next to their fields; the answer is never written back into the form
// nor stored in clear (P2, R2).
func TestRegistrationAsksTheSecretQuestion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")
		mustContain(t, c.get("/register"), `name="secret_question"`, `name="secret_answer"`, "Question secrète")
		if r := e.client("elekarze.localhost").get("/register"); strings.Contains(r.Body, `name="secret_question"`) {
			t.Fatal("a tenant without the rule asks for a secret question")
		}
		f := registerForm("anne@example.org")
		f.Set("secret_question", strings.Repeat("é", 201))
		f.Set("secret_answer", "Mon secret")
		r := c.post("/register", "/register", f)
		if r.Status != 422 {
			t.Fatalf("too long question: %d", r.Status)
		}
		mustContain(t, r, `id="e-secret_question"`, "Ce texte est trop long.")
		mustNotContain(t, r, "Mon secret")
		f.Del("secret_question")
		f.Del("secret_answer")
		r = c.post("/register", "/register", f)
		mustContain(t, r, `id="e-secret_question"`, `id="e-secret_answer"`)
		if _, err := e.srv.Accounts.ByEmail(context.Background(), e.tenant("mlab").ID, "anne@example.org"); err == nil {
			t.Fatal("an account was saved from an invalid form")
		}
		e.registerVerified("mlab.localhost", "mlab", "anne@example.org")
		u, err := e.srv.Accounts.ByEmail(context.Background(), e.tenant("mlab").ID, "anne@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if u.SecretQuestion != "Nom de mon premier chat ?" || u.Portal != "patients" ||
			!strings.HasPrefix(u.SecretAnswerHash, "$argon2id$") || strings.Contains(strings.ToLower(u.SecretAnswerHash), "phant") {
			t.Fatalf("stored: %q %q %q", u.SecretQuestion, u.Portal, u.SecretAnswerHash)
		}
	})
}

// TestResetNeedsTheSecretAnswer: the reset form of an account with a secret answer shows its
// question and asks the answer; a wrong answer is an error next to the field, leaves the link
// usable and counts in the reset limit of the address (P2, R2).
func TestResetNeedsTheSecretAnswer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.registerVerified("mlab.localhost", "mlab", "paul@example.org")
		e.setRule("mlab", "security.reset_per_ip", 3)
		c := e.client("mlab.localhost")
		c.post("/reset", "/reset", url.Values{"email": {"paul@example.org"}}) // 1st attempt of the address
		e.runJobs()
		link := e.lastLink("mlab", "paul@example.org")
		token := link[strings.Index(link, "token=")+6:]
		mustContain(t, c.get(pathOf(link)), "Nom de mon premier chat ?", `name="secret_answer"`)
		f := url.Values{"token": {token}, "password": {"brand new password"}, "password2": {"brand new password"}, "secret_answer": {"girafe"}}
		r := c.post(pathOf(link), "/reset/confirm", f) // 2nd
		if r.Status != 422 {
			t.Fatalf("wrong answer: %d", r.Status)
		}
		mustContain(t, r, `id="e-secret_answer"`, "Cette réponse ne correspond pas à votre réponse secrète.", "Nom de mon premier chat ?")
		mustNotContain(t, r, "girafe")
		c.post(pathOf(link), "/reset/confirm", f) // 3rd
		f.Set("secret_answer", "  ÉLÉPHANT ")
		if r := c.post(pathOf(link), "/reset/confirm", f); r.Status != 429 {
			t.Fatalf("over the reset limit: %d", r.Status)
		}
		// Once the window allows it again, the link still works: the wrong answers did not use it.
		e.setRule("mlab", "security.reset_per_ip", 100)
		if r := c.post(pathOf(link), "/reset/confirm", f); r.Status != 303 {
			t.Fatalf("right answer: %d %s", r.Status, mainOf(r.Body))
		}
		if r := c.login("", "paul@example.org", "brand new password"); r.Status != 303 {
			t.Fatalf("new password: %d", r.Status)
		}
	})
}

// TestAccountPageChangesTheSecret: the person changes his question and answer, confirmed by
// his password; the change is audited (P2).
func TestAccountPageChangesTheSecret(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.registerVerified("mlab.localhost", "mlab", "lea@example.org")
		mustContain(t, c.get("/account"), `value="Nom de mon premier chat ?"`, `action="/account/secret"`)
		r := c.post("/account", "/account/secret", url.Values{"secret_question": {"Ville natale ?"}, "secret_answer": {"Lyon"},
			"secret_current": {"wrong password"}})
		if r.Status != 422 {
			t.Fatalf("wrong password: %d", r.Status)
		}
		mustContain(t, r, `id="e-secret_current"`, "Le mot de passe actuel est incorrect.")
		r = c.post("/account", "/account/secret", url.Values{"secret_question": {"Ville natale ?"}, "secret_answer": {"Lyon"},
			"secret_current": {"correct horse battery"}})
		if r.Status != 303 {
			t.Fatalf("change: %d %s", r.Status, mainOf(r.Body))
		}
		mustContain(t, c.get("/account"), "Votre question et votre réponse secrètes ont été enregistrées.", `value="Ville natale ?"`)
		u, _ := e.srv.Accounts.ByEmail(context.Background(), e.tenant("mlab").ID, "lea@example.org")
		if match, _, _ := e.srv.Accounts.CheckSecret(context.Background(), e.tenant("mlab").ID, u.ID, "lyon"); !match {
			t.Fatal("new answer not stored")
		}
		entries, _ := e.srv.Trail.Search(context.Background(), e.tenant("mlab").ID, audit.Filter{Subject: u.ID, Action: "account.secret_changed"})
		if len(entries) != 1 {
			t.Fatalf("%d audit records of the change", len(entries))
		}
	})
}

// TestStaffChecksTheSecretAnswer: the tenant admin's user page shows the person's question
// and checks an answer given on the phone — match or no match, never the answer — and each
// check is audited with its outcome (P2, R2).
func TestStaffChecksTheSecretAnswer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.registerVerified("mlab.localhost", "mlab", "marc@example.org")
		ctx := context.Background()
		tn := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, tn.ID, "marc@example.org")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		page := "/admin/users/" + u.ID
		mustContain(t, admin.get(page), "Nom de mon premier chat ?", "Vérifier la réponse secrète")
		r := admin.post(page, page+"/secret", url.Values{"secret_answer": {"girafe"}})
		if r.Status != 200 {
			t.Fatalf("check: %d", r.Status)
		}
		mustContain(t, r, "La réponse ne correspond pas.")
		r = admin.post(page, page+"/secret", url.Values{"secret_answer": {" elephant"}})
		mustContain(t, r, "La réponse correspond.")
		mustNotContain(t, r, "girafe", "lephant")
		if r := admin.post(page, page+"/secret", url.Values{"secret_answer": {""}}); r.Status != 422 {
			t.Fatalf("empty answer: %d", r.Status)
		}
		// A failed check is recorded as failed, never as verified (issue 12.3); newest first.
		entries, _ := e.srv.Trail.Search(ctx, tn.ID, audit.Filter{Subject: u.ID, Action: "account.secret_check"})
		if len(entries) != 2 || entries[0].Detail["match"] != true || entries[1].Detail["match"] != false ||
			entries[0].Action != "account.secret_checked" || entries[1].Action != "account.secret_check_failed" {
			t.Fatalf("audit: %+v", entries)
		}
		// A user without a secret: no check form.
		demo, _ := e.srv.Accounts.ByEmail(ctx, tn.ID, "user@mlab.localhost")
		r = admin.get("/admin/users/" + demo.ID)
		mustContain(t, r, "Aucune question secrète")
		mustNotContain(t, r, `/secret"`)
		// A user of another tenant is not found from here.
		other, _ := e.srv.Accounts.ByEmail(ctx, e.tenant("elekarze").ID, "user@elekarze.localhost")
		if r := admin.post(page, "/admin/users/"+other.ID+"/secret", url.Values{"secret_answer": {"x"}}); r.Status != 404 {
			t.Fatalf("another tenant's user: %d", r.Status)
		}
	})
}

var appealLinkRe = regexp.MustCompile(`http://mlab\.localhost:8080/complaints/new\?category=appeal`)

// TestBlockedPersonAppeals: a blocked person learns the reason and finds the appeal form —
// in the block notice and on the refused login — with the appeal chosen; staff see beside the
// appeal who lodged it (identity, state, reason, secret question and the answer check) and a
// link to unblock him (P2, R6).
func TestBlockedPersonAppeals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.registerVerified("mlab.localhost", "mlab", "zoe@example.org")
		ctx := context.Background()
		tn := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, tn.ID, "zoe@example.org")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		if r := admin.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/block", url.Values{"reason": {"Usage frauduleux"}}); r.Status != 303 {
			t.Fatalf("block: %d", r.Status)
		}
		ms := e.mails("mlab")
		last := ms[len(ms)-1]
		if !strings.Contains(last.To, "zoe@example.org") || !strings.Contains(last.Text, "Usage frauduleux") || !appealLinkRe.MatchString(last.Text) ||
			!strings.Contains(last.HTML, "Contester le blocage") {
			t.Fatalf("block notice: %+v", last)
		}
		c := e.client("mlab.localhost")
		r := c.login("", "zoe@example.org", "correct horse battery")
		if r.Status != 403 {
			t.Fatalf("blocked login: %d", r.Status)
		}
		mustContain(t, r, "Usage frauduleux", `href="/complaints/new?category=appeal"`, "Contester ce blocage")
		r = c.get("/complaints/new?category=appeal")
		mustContain(t, r, `<option value="appeal" selected>`)
		if r := c.get("/complaints/new?category=nonsense"); strings.Contains(r.Body, "selected>") && strings.Contains(r.Body, `value="nonsense"`) {
			t.Fatal("an unknown category was offered")
		}
		r = c.postMultipart("/complaints/new?category=appeal", "/complaints", url.Values{"module": {"platform"}, "category": {"appeal"},
			"body": {"Je conteste ce blocage."}, "reply_to": {"Zoe@Example.org"}}, nil)
		if r.Status != 200 {
			t.Fatalf("appeal: %d %s", r.Status, mainOf(r.Body))
		}
		queue := admin.get("/admin/complaints")
		m := regexp.MustCompile(`href="(/admin/complaints/[0-9a-f-]{36})"`).FindStringSubmatch(queue.Body)
		if m == nil {
			t.Fatal("appeal not in the queue")
		}
		r = admin.get(m[1])
		mustContain(t, r, "Contestation d’un blocage ou d’un refus d’accès", "Identité de la personne", "Jeanne Martin", "zoe@example.org",
			"14/03/1985", "Bloqué", "Usage frauduleux", "Nom de mon premier chat ?", `href="/admin/users/`+u.ID+`"`, "Vérifier la réponse secrète")
		r = admin.post(m[1], m[1]+"/secret", url.Values{"secret_answer": {"Éléphant"}})
		mustContain(t, r, "La réponse correspond.", "Identité de la personne")
		entries, _ := e.srv.Trail.Search(ctx, tn.ID, audit.Filter{Subject: u.ID, Action: "account.secret_checked"})
		if len(entries) != 1 {
			t.Fatalf("check from the complaint page not audited: %d", len(entries))
		}
		// A complaint from an address without an account has no identity panel.
		c2 := e.client("mlab.localhost")
		c2.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"platform"}, "category": {"support"},
			"body": {"Question"}, "reply_to": {"stranger@example.org"}}, nil)
		for _, href := range regexp.MustCompile(`href="(/admin/complaints/[0-9a-f-]{36})"`).FindAllStringSubmatch(admin.get("/admin/complaints").Body, -1) {
			if p := admin.get(href[1]); strings.Contains(p.Body, "stranger@example.org") {
				mustNotContain(t, p, "Identité de la personne")
				if r := admin.post(href[1], href[1]+"/secret", url.Values{"secret_answer": {"x"}}); r.Status != 404 {
					t.Fatalf("check without a person: %d", r.Status)
				}
			}
		}
	})
}
