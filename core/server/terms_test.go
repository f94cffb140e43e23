package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/terms"
)

// TestTermsFromTheCatalog: each tenant's terms (account and modules) are in force from the
// catalog, shown with their dates, in the reader's language (P6).
func TestTermsFromTheCatalog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		c := e.client("mlab.localhost")
		r := c.get("/terms")
		mustContain(t, r, `href="/terms/platform"`, `href="/terms/results"`, "Version 1")
		r = c.get("/terms/platform")
		if r.Status != 200 {
			t.Fatalf("platform terms: %d", r.Status)
		}
		mustContain(t, r, "<h1>", "en vigueur depuis le", "MLab")
		mustNotContain(t, r, "# ") // rendered, not raw Markdown
		c.lang = "pl"
		r = c.get("/terms/results")
		mustContain(t, r, `<html lang="pl">`, "Wersja 1")
		if r := c.get("/terms/calendar"); r.Status != 404 {
			t.Fatalf("terms of a module mlab does not run: %d", r.Status)
		}
	})
}

// TestRegistrationRecordsTermsAndConsents: registration requires the account terms and the
// data-processing consent; the acceptance (version, time, address) and the consents are
// recorded with the account (P6).
func TestRegistrationRecordsTermsAndConsents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		c := e.client("elekarze.localhost")
		f := registerForm("anna@example.org")
		f.Del("accept_terms")
		f.Del("consent_data_processing")
		r := c.post("/register", "/register", f)
		if r.Status != 422 {
			t.Fatalf("without terms: %d", r.Status)
		}
		mustContain(t, r, `id="e-accept_terms"`, `id="e-consent_data_processing"`)
		f = registerForm("anna@example.org")
		f.Set("consent_geolocation", "yes")
		if r := c.post("/register", "/register", f); r.Status != 200 {
			t.Fatalf("register: %d", r.Status)
		}
		pl := e.tenant("elekarze")
		u, err := e.srv.Accounts.ByEmail(ctx, pl.ID, "anna@example.org")
		if err != nil {
			t.Fatal(err)
		}
		acc, _ := e.srv.Terms.Acceptances(ctx, pl.ID, u.ID)
		if len(acc) != 1 || acc[0].Doc != "platform" || acc[0].Version != 1 || acc[0].How != terms.Explicit || acc[0].IP == "" {
			t.Fatalf("acceptances: %+v", acc)
		}
		cs, _ := e.srv.Terms.Consents(ctx, pl.ID, u.ID)
		if !cs[terms.ConsentDataProcessing].Granted || cs[terms.ConsentMarketing].Granted || !cs[terms.ConsentGeolocation].Granted {
			t.Fatalf("consents: %+v", cs)
		}
	})
}

// TestConsentsAreWithdrawn: a user sees his consents on his account page and withdraws one;
// every change is kept (P6).
func TestConsentsAreWithdrawn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		c := e.client("elekarze.localhost")
		c.login("", "user@elekarze.localhost", "demo-elekarze-user")
		r := c.get("/account")
		mustContain(t, r, `name="consent_marketing"`, `name="consent_geolocation"`)
		c.post("/account", "/account/consents", url.Values{"consent_marketing": {"yes"}})
		c.post("/account", "/account/consents", url.Values{})
		pl := e.tenant("elekarze")
		u, _ := e.srv.Accounts.ByEmail(ctx, pl.ID, "user@elekarze.localhost")
		cs, _ := e.srv.Terms.Consents(ctx, pl.ID, u.ID)
		if cs[terms.ConsentMarketing].Granted {
			t.Fatal("marketing consent not withdrawn")
		}
		// mlab has no calendar: no geolocation question there.
		m := e.client("mlab.localhost")
		m.login("", "user@mlab.localhost", "demo-mlab-user")
		mustNotContain(t, m.get("/account"), `name="consent_geolocation"`)
	})
}

// TestNewTermsVersion: a tenant admin publishes a new version no earlier than the notice
// period allows; the people concerned are told by e-mail; once in force, continued use counts
// as acceptance, or — when the tenant's rule says so — the user must accept it first (P6).
func TestNewTermsVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.setRule("mlab", "terms.notice_days", 15)
		t0 := e.tenant("mlab")
		t0.Settings.Rules["terms.explicit_reacceptance"] = false // continued use first
		e.srv.Tenants.Save(ctx, t0)
		ml := e.tenant("mlab")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		form := url.Values{}
		for _, l := range []string{"fr", "pl", "sk"} {
			form.Set("title_"+l, "Conditions v2 "+l)
			form.Set("body_"+l, "## Article\n\nTexte **nouveau** <script>alert(1)</script> "+l)
		}
		form.Set("effective", time.Now().In(ml.Location()).AddDate(0, 0, 3).Format("2006-01-02"))
		r := admin.post("/admin/terms/platform/new", "/admin/terms/platform", form)
		if r.Status != 422 {
			t.Fatalf("too early: %d", r.Status)
		}
		mustContain(t, r, `id="e-effective"`, "préavis")
		form.Del("body_sk")
		form.Set("effective", time.Now().In(ml.Location()).AddDate(0, 0, 15).Format("2006-01-02"))
		if r := admin.post("/admin/terms/platform/new", "/admin/terms/platform", form); r.Status != 422 || !strings.Contains(r.Body, `id="e-body_sk"`) {
			t.Fatalf("missing language: %d", r.Status)
		}
		form.Set("body_sk", "## Článok\n\nNový text sk")
		if r := admin.post("/admin/terms/platform/new", "/admin/terms/platform", form); r.Status != 303 {
			t.Fatalf("publish: %d %s", r.Status, mainOf(r.Body))
		}
		// The people concerned are told, in their language (a job).
		if err := e.srv.RunJobsOnce(ctx); err != nil {
			t.Fatal(err)
		}
		told := false
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.To, "user@mlab.localhost") && strings.Contains(m.Subject, "Nouvelles conditions") {
				told = true
			}
		}
		if !told {
			t.Fatal("users not told of the new version")
		}
		// Before the effective date: version 1 in force, version 2 announced.
		user := e.client("mlab.localhost")
		user.login("", "user@mlab.localhost", "demo-mlab-user")
		r = user.get("/terms/platform")
		mustContain(t, r, "Une nouvelle version (2)")
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("before the date: %d", r.Status)
		}

		// After it: continued use counts (the default rule).
		later := time.Now().UTC().AddDate(0, 0, 16)
		e.srv.Terms.Now = func() time.Time { return later }
		defer func() { e.srv.Terms.Now = func() time.Time { return time.Now().UTC() } }()
		if r := user.get("/account"); r.Status != 200 {
			t.Fatalf("continued use: %d", r.Status)
		}
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		acc, _ := e.srv.Terms.Acceptances(ctx, ml.ID, u.ID)
		if len(acc) == 0 || acc[0].Version != 2 || acc[0].How != terms.ContinuedUse {
			t.Fatalf("continued use not recorded: %+v", acc)
		}
		r = user.get("/terms/platform")
		mustContain(t, r, "Conditions v2 fr", "<strong>nouveau</strong>")
		mustNotContain(t, r, "<script>alert")

		// With explicit re-acceptance, the admin (who never accepted v2) is stopped.
		t2 := e.tenant("mlab")
		t2.Settings.Rules["terms.explicit_reacceptance"] = true
		e.srv.Tenants.Save(ctx, t2)
		r = admin.get("/admin/users")
		if r.Status != 303 || !strings.Contains(r.Location(), "/terms/accept") {
			t.Fatalf("gate: %d %s", r.Status, r.Location())
		}
		// The acceptance page keeps its styles while the gate is closed.
		if r := admin.get("/branding.css"); r.Status != 200 {
			t.Fatalf("branding.css behind the gate: %d", r.Status)
		}
		if r := admin.post("/terms/accept?next=/admin/users", "/terms/accept", url.Values{"next": {"/admin/users"}}); r.Status != 422 ||
			strings.Index(r.Body, "Cochez la case pour accepter") > strings.Index(r.Body, `<article class="terms">`) {
			// The error comes before the text, which may be screens long: a phone opens on it.
			t.Fatalf("accept without the box: %d", r.Status)
		}
		r = admin.post("/terms/accept?next=/admin/users", "/terms/accept", url.Values{"next": {"/admin/users"}, "accept": {"yes"}})
		if r.Status != 303 || r.Location() != "/admin/users" {
			t.Fatalf("accept: %d %s", r.Status, r.Location())
		}
		if r := admin.get("/admin/users"); r.Status != 200 {
			t.Fatalf("after accepting: %d", r.Status)
		}
	})
}
