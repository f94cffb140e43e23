package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
)

// TestTenantAsksItsConsents: the optional consents a tenant asks are its configuration
// (P6): eLekarze's catalog also asks the consent to pass data to its partners, in the
// reader's language, and records the answer; MLab, which does not list it, does not ask it.
func TestTenantAsksItsConsents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		c := e.client("elekarze.localhost")
		c.lang = "pl"
		mustContain(t, c.get("/register"), `name="consent_partners"`, "przekazanie moich danych partnerom", `name="consent_marketing"`)
		mustNotContain(t, e.client("mlab.localhost").get("/register"), `name="consent_partners"`)
		f := registerForm("ola@example.org")
		f.Set("consent_partners", "yes")
		if r := c.post("/register", "/register", f); r.Status != 200 {
			t.Fatalf("register: %d\n%s", r.Status, r.Body)
		}
		pl := e.tenant("elekarze")
		u, err := e.srv.Accounts.ByEmail(ctx, pl.ID, "ola@example.org")
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := e.srv.Terms.Consents(ctx, pl.ID, u.ID)
		if !cs[terms.ConsentPartners].Granted || cs[terms.ConsentMarketing].Granted {
			t.Fatalf("consents: %+v", cs)
		}
		// MLab's admin ticks the partners' consent on the settings page: its registration
		// asks it from then on; a kind the platform does not know is refused.
		admin := e.client("mlab.localhost")
		if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatalf("login: %d", r.Status)
		}
		r := admin.get("/admin/settings")
		mustContain(t, r, `name="rule_account_optional_consents" value="partners"`)
		form := url.Values{}
		for _, m := range regexp.MustCompile(`<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"`).FindAllStringSubmatch(r.Body, -1) {
			if m[1] != "_csrf" && m[1] != "lang" && m[1] != "rule_account_optional_consents" && !strings.HasPrefix(m[1], "rule_security_second_factor_roles") {
				form.Set(m[1], m[2])
			}
		}
		for _, r := range tenancy.CoreRules {
			if r.Type == "bool" {
				form.Set("rule_"+strings.ReplaceAll(r.Name, ".", "_"), strconv.FormatBool(e.tenant("mlab").BoolRule(r.Name)))
			}
		}
		form["rule_account_optional_consents"] = []string{"marketing", "spam"}
		if r := admin.post("/admin/settings", "/admin/settings", form); r.Status != 422 {
			t.Fatalf("an unknown consent: %d", r.Status)
		}
		form["rule_account_optional_consents"] = []string{"marketing", "partners"}
		if r := admin.post("/admin/settings", "/admin/settings", form); r.Status != 303 {
			t.Fatalf("save: %d %s", r.Status, mainOf(r.Body))
		}
		if got := e.tenant("mlab").StringRule(tenancy.RuleOptionalConsents); got != "marketing,partners" {
			t.Fatalf("rule %q", got)
		}
		mustContain(t, e.client("mlab.localhost").get("/register"), `name="consent_partners"`)
	})
}
