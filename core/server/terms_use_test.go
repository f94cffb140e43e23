package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
)

// newPatient registers and verifies an account on host (the module's registration fields
// filled in) and signs it in.
func (e *env) newPatient(host, email string, extra url.Values) *client {
	e.t.Helper()
	c := e.client(host)
	form := registerForm(email)
	for k, v := range extra {
		form[k] = v
	}
	if r := c.post("/register", "/register", form); r.Status != 200 {
		e.t.Fatalf("register %s: %d %s", email, r.Status, mainOf(r.Body))
	}
	link := e.lastLink("mlab", email)
	c.post(pathOf(link), "/verify", url.Values{"token": {link[strings.Index(link, "token=")+6:]}})
	if r := c.login("", email, "correct horse battery"); r.Status != 303 {
		e.t.Fatalf("login %s: %d", email, r.Status)
	}
	return c
}

// TestModuleRouteRequiresItsTerms: a module route that names its terms sends a user who has
// not accepted their version in force to the acceptance page (the text in his language),
// then back; the module is told the version he accepted, to keep with its record; a form
// sent without acceptance is refused; a new version requires acceptance again once its
// notice period ran out (with the tenant's rule of explicit re-acceptance), and the version
// told to the module follows (issue 11.16, P6).
func TestModuleRouteRequiresItsTerms(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		f.man.Routes = append(f.man.Routes, sdk.Route{Method: "GET", Path: "/results/book", Permission: "results.read_own", Terms: "results"},
			sdk.Route{Method: "POST", Path: "/results/book", Permission: "results.read_own", Terms: "results"})
		ctx := context.Background()
		ml := e.tenant("mlab")
		v1, err := e.srv.Terms.InForce(ctx, ml.ID, "results")
		if err != nil {
			t.Fatal(err)
		}
		c := e.newPatient("mlab.localhost", "booker@example.org", url.Values{"address": {"1 rue du Port"}})
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "booker@example.org")
		if err := e.srv.Accounts.SetLocale(ctx, ml.ID, u.ID, "pl"); err != nil {
			t.Fatal(err)
		}
		// A route without terms runs at once; the one with terms does not.
		if r := c.get("/results/echo"); r.Status != 200 || f.last.TermsVersion != "" {
			t.Fatalf("route without terms: %d %q", r.Status, f.last.TermsVersion)
		}
		f.last = nil
		r := c.get("/results/book?slot=9")
		if r.Status != 303 || !strings.HasPrefix(r.Location(), "/terms/accept?doc=results&next=") || f.last != nil {
			t.Fatalf("unaccepted: %d %s (module reached: %v)", r.Status, r.Location(), f.last != nil)
		}
		if r := c.post("/account", "/results/book", url.Values{}); r.Status != 403 || f.last != nil {
			t.Fatalf("a form without acceptance: %d", r.Status)
		}
		page := c.get(r.Location())
		mustContain(t, page, `name="doc" value="results"`, "Regulamin") // the results terms, in Polish
		next, _ := url.QueryUnescape(r.Location()[strings.Index(r.Location(), "next=")+5:])
		acc := c.post(r.Location(), "/terms/accept", url.Values{"next": {next}, "doc": {"results"}, "accept": {"yes"}})
		if acc.Status != 303 || acc.Location() != "/results/book?slot=9" {
			t.Fatalf("accept: %d %s (next %q)", acc.Status, acc.Location(), next)
		}
		if r := c.get("/results/book?slot=9"); r.Status != 200 || f.last.TermsVersion != v1.ID {
			t.Fatalf("after accepting: %d, module told %q want %q", r.Status, f.last.TermsVersion, v1.ID)
		}
		as, _ := e.srv.Terms.Acceptances(ctx, ml.ID, u.ID)
		if len(as) == 0 || as[0].Doc != "results" || as[0].VersionID != v1.ID || as[0].How != terms.Explicit || as[0].IP == "" || as[0].Locale != "pl" {
			t.Fatalf("acceptance recorded: %+v", as)
		}

		// A new version: in force only after its notice period; then accepted again.
		e.setRule("mlab", "terms.notice_days", 10)
		t2 := e.tenant("mlab")
		t2.Settings.Rules["terms.explicit_reacceptance"] = true
		e.srv.Tenants.Save(ctx, t2)
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		form := url.Values{"effective": {time.Now().In(ml.Location()).AddDate(0, 0, 10).Format("2006-01-02")}}
		for _, l := range []string{"fr", "pl", "sk"} {
			form.Set("title_"+l, "Résultats v2 "+l)
			form.Set("body_"+l, "Texte v2 "+l)
		}
		if r := admin.post("/admin/terms/results/new", "/admin/terms/results", form); r.Status != 303 {
			t.Fatalf("publish v2: %d %s", r.Status, mainOf(r.Body))
		}
		if r := c.get("/results/book"); r.Status != 200 || f.last.TermsVersion != v1.ID {
			t.Fatalf("before v2 is in force: %d %q", r.Status, f.last.TermsVersion)
		}
		later := time.Now().UTC().AddDate(0, 0, 11)
		e.srv.Terms.Now = func() time.Time { return later }
		defer func() { e.srv.Terms.Now = func() time.Time { return time.Now().UTC() } }()
		r = c.get("/results/book")
		if r.Status != 303 || !strings.Contains(r.Location(), "/terms/accept") {
			t.Fatalf("v2 in force, not accepted: %d %s", r.Status, r.Location())
		}
		mustContain(t, c.get(r.Location()), "Résultats v2 pl")
		c.post(r.Location(), "/terms/accept", url.Values{"next": {"/results/book"}, "doc": {"results"}, "accept": {"yes"}})
		v2, _ := e.srv.Terms.InForce(ctx, ml.ID, "results")
		if r := c.get("/results/book"); r.Status != 200 || v2.Version != 2 || f.last.TermsVersion != v2.ID {
			t.Fatalf("after accepting v2: %d, module told %q want %q", r.Status, f.last.TermsVersion, v2.ID)
		}
		// A document that is not one of the tenant's modules' is never offered.
		mustNotContain(t, c.get("/terms/accept?doc=calendar&next=/"), `value="calendar"`)
	})
}

// TestNoticePeriodPerKindOfChange: general changes, new fees and closing the service each
// take the notice period of their own tenant rule; the version keeps its kind (issue 11.16,
// P6).
func TestNoticePeriodPerKindOfChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.setRule("mlab", "terms.notice_days", 5)
		e.setRule("mlab", "terms.notice_days_fees", 20)
		e.setRule("mlab", "terms.notice_days_closing", 40)
		ml := e.tenant("mlab")
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		mustContain(t, admin.get("/admin/terms/platform/new"), "Nouveaux tarifs — préavis de 20 jours", "Fermeture du service — préavis de 40 jours",
			"Modification des conditions — préavis de 5 jours")
		day := func(n int) string { return time.Now().In(ml.Location()).AddDate(0, 0, n).Format("2006-01-02") }
		publish := func(change, effective string) *response {
			form := url.Values{"change": {change}, "effective": {effective}}
			for _, l := range []string{"fr", "pl", "sk"} {
				form.Set("title_"+l, "Conditions "+change+" "+l)
				form.Set("body_"+l, "Texte "+l)
			}
			return admin.post("/admin/terms/platform/new", "/admin/terms/platform", form)
		}
		for _, c := range []struct {
			change   string
			days     int
			accepted bool
		}{
			{terms.ChangeFees, 6, false}, {terms.ChangeFees, 20, true},
			{terms.ChangeClosing, 39, false}, {terms.ChangeClosing, 40, true},
			{terms.ChangeGeneral, 5, true},
		} {
			r := publish(c.change, day(c.days))
			if c.accepted != (r.Status == 303) {
				t.Fatalf("%s in %d days: %d %s", c.change, c.days, r.Status, mainOf(r.Body))
			}
			if !c.accepted {
				mustContain(t, r, `id="e-effective"`)
			}
		}
		if r := publish("whatever", day(60)); r.Status != 422 || !strings.Contains(r.Body, `id="e-change"`) {
			t.Fatalf("unknown kind: %d", r.Status)
		}
		vs, _ := e.srv.Terms.Versions(ctx, ml.ID, "platform")
		var kinds []string
		for _, v := range vs {
			kinds = append(kinds, v.Change)
		}
		if strings.Join(kinds, ",") != "general,closing,fees,general" {
			t.Fatalf("kinds kept: %v", kinds)
		}
	})
}
