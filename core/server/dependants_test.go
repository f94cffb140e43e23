package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk/host"
)

// childForm is a complete "person I represent" form for a child.
func childForm() url.Values {
	return url.Values{"first_name": {"Léa"}, "last_name": {"Martin"}, "birth_date": {"2015-04-09"}, "relationship": {"parent"},
		"legal_status": {"minor"}, "sex": {"female"}, "nationality": {"française"}, "permanent_address": {"3 rue des Lilas, 69003 Lyon"},
		"national_id": {""}, "consent": {"yes"}}
}

// errorNextTo reports the message shown next to field, or "".
func errorNextTo(body, field string) string {
	m := regexp.MustCompile(`<p class="error" id="e-` + field + `">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestDependantsOnTheAccountPage (P2 "sub-accounts for third persons for whom the user is
// the legal representative, with the relationship recorded and consent given as
// representative", issue 12.9): the account page's "People I represent" adds, changes and
// removes a child; bad input is refused with the message next to each field and nothing
// saved; an adult is represented only under a protection measure; each change is audited
// with the holder as subject; another account of the tenant reaches none of it; the data
// export carries them.
func TestDependantsOnTheAccountPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		holder := newHolder(t, e, ml)
		c := e.client("mlab.localhost")
		if r := c.login("", "jeanne.martin@example.org", "correct horse battery"); r.Status != 303 {
			t.Fatalf("login: %d", r.Status)
		}
		r := c.get("/account")
		mustContain(t, r, "Personnes que je représente", "Vous n’avez déclaré aucune personne que vous représentez.", `href="/account/dependants/new"`)

		// Missing fields: each says so next to it; nothing saved.
		r = c.post("/account/dependants/new", "/account/dependants", url.Values{"first_name": {"Léa"}})
		if r.Status != 422 {
			t.Fatalf("incomplete form: %d", r.Status)
		}
		for field, want := range map[string]string{"last_name": "Ce champ est obligatoire.", "birth_date": "Ce champ est obligatoire.",
			"relationship": "Ce champ est obligatoire.", "legal_status": "Ce champ est obligatoire.",
			"consent": "Cochez cette case : seul son représentant légal peut enregistrer une personne."} {
			if got := errorNextTo(r.Body, field); got != want {
				t.Errorf("next to %s: %q, want %q", field, got, want)
			}
		}
		mustContain(t, r, `value="Léa"`)
		// An adult as a minor, a child under guardianship, an unknown choice.
		bad := childForm()
		bad.Set("birth_date", "1990-01-01")
		r = c.post("/account/dependants/new", "/account/dependants", bad)
		if got := errorNextTo(r.Body, "birth_date"); r.Status != 422 || !strings.Contains(got, "majeure") {
			t.Errorf("adult as a minor: %d %q", r.Status, got)
		}
		bad = childForm()
		bad.Set("legal_status", "deprived")
		bad.Set("relationship", "neighbour")
		r = c.post("/account/dependants/new", "/account/dependants", bad)
		if r.Status != 422 || !strings.Contains(errorNextTo(r.Body, "legal_status"), "mineure") ||
			errorNextTo(r.Body, "relationship") != "Ce choix n’est pas proposé." {
			t.Errorf("child under guardianship, unknown relationship: %d %s", r.Status, mainOf(r.Body))
		}
		if list, _ := e.srv.Accounts.Dependants(ctx, ml.ID, holder.ID); len(list) != 0 {
			t.Fatalf("refused forms saved %d dependants", len(list))
		}
		// A control character: the form again, the message next to its field (issue 11.3);
		// the address keeps its line break.
		bad = childForm()
		bad.Set("first_name", "Léa\x00")
		bad.Set("permanent_address", "3 rue des Lilas\n69003 Lyon")
		r = c.post("/account/dependants/new", "/account/dependants", bad)
		if r.Status != 422 || errorNextTo(r.Body, "first_name") == "" || errorNextTo(r.Body, "permanent_address") != "" ||
			!strings.Contains(r.Body, "<h1>Ajouter une personne que je représente</h1>") {
			t.Errorf("a control character: %d %s", r.Status, mainOf(r.Body))
		}
		// Without the form's CSRF token, nothing is saved either.
		if r := c.do("POST", "/account/dependants", childForm()); r.Status == 303 {
			t.Fatalf("a form without its CSRF token was accepted")
		}

		// Added: listed on the account page with what the holder is to her and until when.
		r = c.post("/account/dependants/new", "/account/dependants", childForm())
		if r.Status != 303 || r.Location() != "/account#dependants" {
			t.Fatalf("add: %d %s %s", r.Status, r.Location(), mainOf(r.Body))
		}
		list, _ := e.srv.Accounts.Dependants(ctx, ml.ID, holder.ID)
		if len(list) != 1 || list[0].Name() != "Léa Martin" || list[0].ConsentAt.IsZero() || list[0].Address != "3 rue des Lilas, 69003 Lyon" {
			t.Fatalf("saved: %+v", list)
		}
		child := list[0]
		r = c.get("/account")
		mustContain(t, r, "Léa Martin", "09/04/2015", "Parent", "Mineur", "Représenté jusqu’à sa majorité, le 09/04/2033.")
		mustNotContain(t, r, child.ID+"<", "minor<", ">parent")

		// Changed: the form comes filled; a new value is saved.
		r = c.get("/account/dependants/" + child.ID)
		mustContain(t, r, `value="Léa"`, `value="2015-04-09"`, `<option value="parent" selected>`)
		edit := childForm()
		edit.Set("first_name", "Léa Rose")
		if r := c.post("/account/dependants/"+child.ID, "/account/dependants/"+child.ID, edit); r.Status != 303 {
			t.Fatalf("edit: %d %s", r.Status, mainOf(r.Body))
		}
		if d, _ := e.srv.Accounts.Dependant(ctx, ml.ID, holder.ID, child.ID); d == nil || d.FirstName != "Léa Rose" {
			t.Fatalf("edit not saved: %+v", d)
		}

		// Another account of the tenant neither sees, changes nor removes her.
		other := e.client("mlab.localhost")
		if r := other.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatalf("other login: %d", r.Status)
		}
		if r := other.get("/account/dependants/" + child.ID); r.Status != 404 {
			t.Errorf("another account reads her: %d", r.Status)
		}
		if r := other.post("/account/dependants/new", "/account/dependants/"+child.ID+"/delete", nil); r.Status != 404 {
			t.Errorf("another account removes her: %d", r.Status)
		}
		if r := other.post("/account/dependants/new", "/account/dependants/not-an-id", childForm()); r.Status != 404 {
			t.Errorf("a malformed id: %d", r.Status)
		}

		// Removed.
		if r := c.post("/account/dependants/"+child.ID, "/account/dependants/"+child.ID+"/delete", nil); r.Status != 303 {
			t.Fatalf("remove: %d", r.Status)
		}
		if list, _ := e.srv.Accounts.Dependants(ctx, ml.ID, holder.ID); len(list) != 0 {
			t.Fatalf("after removal: %+v", list)
		}
		mustContain(t, c.get("/account"), "Vous n’avez déclaré aucune personne que vous représentez.")

		// Audited, the holder as subject, no identity of the child in the record.
		for _, act := range []string{"account.dependant_added", "account.dependant_changed", "account.dependant_removed"} {
			got, err := e.srv.Trail.Search(ctx, ml.ID, audit.Filter{Action: act, Subject: holder.ID})
			if err != nil || len(got) != 1 || got[0].Actor != holder.ID || got[0].Detail["dependant"] != child.ID {
				t.Errorf("%s: %v %+v", act, err, got)
			}
			for _, x := range got {
				if strings.Contains(string(mustJSON(t, x.Detail)), "Léa") {
					t.Errorf("%s names the child: %v", act, x.Detail)
				}
			}
		}
		// The form speaks the person's language (P4): its labels and messages in pl and sk.
		for lang, want := range map[string][]string{
			"pl": {"Dodaj osobę, którą reprezentuję", "Imię (imiona)", "Zaznacz to pole: osobę może dodać tylko jej przedstawiciel ustawowy."},
			"sk": {"Pridať osobu, ktorú zastupujem", "Meno (mená)", "Začiarknite toto pole: osobu môže pridať len jej zákonný zástupca."},
		} {
			if r := c.post("/account", "/lang", url.Values{"lang": {lang}, "next": {"/account"}}); r.Status != 303 {
				t.Fatalf("switch to %s: %d", lang, r.Status)
			}
			mustContain(t, c.post("/account/dependants/new", "/account/dependants", url.Values{"first_name": {"Ala"}}), want...)
		}
		// The audit page reads the actions in words.
		admin := other
		mustContain(t, admin.get("/admin/audit?action=account.dependant"), "Personne représentée ajoutée", "Personne représentée retirée")
	})
}

// TestDependantComesOfAge (P2, issue 12.9): a minor is represented until the tenant's age
// of majority (a rule, 18 by default, read at each use): the day he comes of age the account
// page says the representation ended; a tenant whose majority is 19 represents him a year
// more. An adult under guardianship stays represented.
func TestDependantComesOfAge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		holder, err := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 30, 22, 30, 0, 0, time.UTC) // 23:30 in Lyon, the eve of his birthday
		e.srv.Accounts.Now = func() time.Time { return now }
		son, err := e.srv.Accounts.AddDependant(ctx, ml, holder.ID, accounts.DependantInput{FirstName: "Hugo", LastName: "Martin",
			BirthDate: "2008-12-01", Relationship: "parent", LegalStatus: accounts.LegalMinor, Consent: true})
		if err != nil {
			t.Fatal(err)
		}
		ward, err := e.srv.Accounts.AddDependant(ctx, ml, holder.ID, accounts.DependantInput{FirstName: "Paul", LastName: "Martin",
			BirthDate: "1950-03-02", Relationship: "guardian", LegalStatus: accounts.LegalDeprived, Consent: true})
		if err != nil {
			t.Fatal(err)
		}
		if !son.Represented(ml, now) || son.OfAgeOn(ml) != "2026-12-01" {
			t.Fatalf("the eve of his 18th birthday: represented %v until %s", son.Represented(ml, now), son.OfAgeOn(ml))
		}
		c := e.client("mlab.localhost")
		if r := c.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatalf("login: %d", r.Status)
		}
		mustContain(t, c.get("/account"), "Représenté jusqu’à sa majorité, le 01/12/2026.")

		now = now.Add(time.Hour) // midnight in Lyon: 18
		if son.Represented(ml, now) || !ward.Represented(ml, now) {
			t.Fatalf("on his 18th birthday: son %v, ward %v", son.Represented(ml, now), ward.Represented(ml, now))
		}
		mustContain(t, c.get("/account"), "Majeur depuis le 01/12/2026 : vous ne le représentez plus")

		e.setRule("mlab", "account.majority_age", 19)
		ml = e.tenant("mlab")
		if !son.Represented(ml, now) || son.OfAgeOn(ml) != "2027-12-01" {
			t.Fatalf("majority at 19: represented %v until %s", son.Represented(ml, now), son.OfAgeOn(ml))
		}
		mustContain(t, c.get("/account"), "Représenté jusqu’à sa majorité, le 01/12/2027.")
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostAPIGivesDependants (P2, issue 12.9): a module reads through the HostAPI the people
// a user represents, with the day a minor comes of age under the tenant's rule read at each
// call and whether he is represented today; the user himself, the tenant's admin and its
// jobs read them, another plain user does not, and another tenant's scope finds none.
func TestHostAPIGivesDependants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml, pl := e.tenant("mlab"), e.tenant("elekarze")
		holder := newHolder(t, e, ml)
		stranger, _ := e.srv.Accounts.CreateActive(ctx, ml, "voisin@example.org", "long enough password", "Voisin Curieux", "1970-01-01", "fr")
		now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
		e.srv.Accounts.Now = func() time.Time { return now }
		if _, err := e.srv.Accounts.AddDependant(ctx, ml, holder.ID, accounts.DependantInput{FirstName: "Hugo", LastName: "Martin",
			BirthName: "Durand", BirthDate: "2008-12-01", Relationship: "parent", LegalStatus: accounts.LegalMinor, Sex: "male",
			NationalID: "1 08 12 75 056 123 93", Consent: true}); err != nil {
			t.Fatal(err)
		}
		users := e.srv.Modules.Services().Users
		self := host.Scope{TenantID: ml.ID, ModuleID: "results", UserID: holder.ID}
		got, err := users.Dependants(ctx, self, holder.ID)
		if err != nil || len(got) != 1 {
			t.Fatalf("own: %v %+v", err, got)
		}
		d := got[0]
		if d.FirstName != "Hugo" || d.BirthName != "Durand" || d.BirthDate != "2008-12-01" || d.NationalID != "108127505612393" || d.Sex != "male" ||
			d.Relationship != "parent" || d.LegalStatus != "minor" || d.ConsentAt.IsZero() || d.OfAgeOn != "2026-12-01" || !d.Represented {
			t.Fatalf("as the module sees him: %+v", d)
		}
		if !d.RepresentedOn("2026-11-30") || d.RepresentedOn("2026-12-01") {
			t.Errorf("RepresentedOn around his birthday")
		}
		// The rule is read at each call.
		e.setRule("mlab", "account.majority_age", 16)
		if got, _ := users.Dependants(ctx, self, holder.ID); len(got) != 1 || got[0].Represented || got[0].OfAgeOn != "2024-12-01" {
			t.Errorf("majority at 16: %+v", got)
		}
		if got, err := users.Dependants(ctx, host.Scope{TenantID: ml.ID, ModuleID: "results"}, holder.ID); err != nil || len(got) != 1 {
			t.Errorf("a job of the tenant: %v %d", err, len(got))
		}
		if got, err := users.Dependants(ctx, host.Scope{TenantID: ml.ID, ModuleID: "results", UserID: stranger.ID}, holder.ID); err == nil {
			t.Errorf("another plain user read them: %+v", got)
		}
		admin, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "admin@mlab.localhost")
		if got, err := users.Dependants(ctx, host.Scope{TenantID: ml.ID, ModuleID: "results", UserID: admin.ID}, holder.ID); err != nil || len(got) != 1 {
			t.Errorf("the tenant's admin: %v %d", err, len(got))
		}
		if got, err := users.Dependants(ctx, host.Scope{TenantID: pl.ID, ModuleID: "calendar"}, holder.ID); err != nil || len(got) != 0 {
			t.Errorf("another tenant's scope: %v %+v", err, got)
		}
	})
}

// newHolder is an active account of the tenant that represents nobody yet and accepted the
// terms in force (jeanne.martin@example.org, "correct horse battery").
func newHolder(t *testing.T, e *env, tn *tenancy.Tenant) *accounts.User {
	t.Helper()
	ctx := context.Background()
	u, err := e.srv.Accounts.CreateActive(ctx, tn, "jeanne.martin@example.org", "correct horse battery", "Jeanne Martin", "1984-02-02", "fr")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.srv.Terms.InForce(ctx, tn.ID, "platform")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Terms.AcceptNow(ctx, tn.ID, u.ID, v, "127.0.0.1", "fr", "registration"); err != nil {
		t.Fatal(err)
	}
	return u
}
