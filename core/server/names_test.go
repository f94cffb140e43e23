package server_test

import (
	"context"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
)

// TestRegistrationAsksFirstAndLastName: C3 — eLekarze's rule account.split_name makes its
// registration form ask the first name and the last name, labelled in the reader's
// language, in place of the one name field that other tenants keep; a missing last name is
// told next to its field (aria-invalid), the typed first name stays and nothing is saved;
// the account then holds both names in its profile and its name is made of them.
func TestRegistrationAsksFirstAndLastName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		pl := e.tenant("elekarze")
		mustNotContain(t, e.client("mlab.localhost").get("/register"), `name="first_name"`, `name="last_name"`)
		mustContain(t, e.client("mlab.localhost").get("/register"), `name="name"`)
		for lang, labels := range map[string][]string{"pl": {">Imię <", ">Nazwisko <"}, "fr": {">Prénom <", ">Nom de famille <"}, "sk": {">Meno <", ">Priezvisko <"}} {
			c := e.client("elekarze.localhost")
			c.lang = lang
			r := c.get("/register")
			mustContain(t, r, append(labels, `name="first_name"`, `autocomplete="given-name"`, `name="last_name"`, `autocomplete="family-name"`)...)
			mustNotContain(t, r, `name="name"`)
		}
		c := e.client("elekarze.localhost")
		c.lang = "pl"
		f := registerForm("anna@example.org")
		f.Del("name")
		f.Set("first_name", "Anna Maria")
		f.Del("last_name")
		r := c.post("/register", "/register", f)
		if r.Status != 422 {
			t.Fatalf("no last name: %d", r.Status)
		}
		mustContain(t, r, `id="e-last_name"`, `aria-describedby="e-last_name"`, `aria-invalid="true"`, "To pole jest wymagane.", `value="Anna Maria"`)
		mustNotContain(t, r, `id="e-first_name"`)
		e.runJobs()
		if _, err := e.srv.Accounts.ByEmail(ctx, pl.ID, "anna@example.org"); err == nil {
			t.Fatal("an account was saved without a last name")
		}
		f.Set("last_name", "Kowalska")
		if r := c.post("/register", "/register", f); r.Status != 200 {
			t.Fatalf("register: %d %s", r.Status, mainOf(r.Body))
		}
		e.runJobs()
		u, err := e.srv.Accounts.ByEmail(ctx, pl.ID, "anna@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Anna Maria Kowalska" || u.Profile[accounts.ProfileFirstName] != "Anna Maria" || u.Profile[accounts.ProfileLastName] != "Kowalska" {
			t.Fatalf("stored: %q %v", u.Name, u.Profile)
		}
	})
}
