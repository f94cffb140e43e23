package server_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// setRoleRule sets a tenant's rule of roles that must have a second factor (issue 11).
func (e *env) setRoleRule(slug, value string) {
	e.t.Helper()
	t := e.tenant(slug)
	if t.Settings.Rules == nil {
		t.Settings.Rules = map[string]any{}
	}
	t.Settings.Rules[tenancy.RuleSecondFactorRoles] = value
	if err := e.srv.Tenants.Save(context.Background(), t); err != nil {
		e.t.Fatal(err)
	}
}

// clock makes the accounts' time a value the test moves (TOTP steps are 30 s).
func (e *env) clock() *time.Time {
	now := time.Now().UTC()
	e.srv.Accounts.Now = func() time.Time { return now }
	return &now
}

var secretRe = regexp.MustCompile(`<code id="totp-secret" class="secret">([A-Z2-7 ]+)</code>`)

// totpSecret reads the secret shown as text on a set-up page.
func totpSecret(t *testing.T, r *response) string {
	t.Helper()
	m := secretRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no TOTP secret on the page (status %d)", r.Status)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var recoveryRe = regexp.MustCompile(`<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>`)

func (c *client) cookie(name string) string {
	u, _ := url.Parse("http://" + c.host + "/")
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// enrolAdmin signs mlab's admin in under the rule "*" through enrolment, and returns the
// client, the TOTP secret and the recovery codes shown.
func enrolAdmin(t *testing.T, e *env, now *time.Time) (*client, string, []string) {
	t.Helper()
	c := e.client("mlab.localhost")
	r := c.login("", "admin@mlab.localhost", "demo-mlab-admin")
	if r.Status != 303 || r.Location() != "/login/enrol" {
		t.Fatalf("password of an admin: %d → %q, want the enrolment", r.Status, r.Location())
	}
	secret := totpSecret(t, c.get("/login/enrol"))
	r = c.post("/login/enrol", "/login/enrol", url.Values{"code": {totpCode(t, secret, *now)}})
	if r.Status != 200 || c.cookie("sid") == "" {
		t.Fatalf("enrolment: %d, session %q", r.Status, c.cookie("sid"))
	}
	var codes []string
	for _, m := range recoveryRe.FindAllStringSubmatch(r.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	return c, secret, codes
}

// TestSecondFactorTOTPEnrolAndSignIn: an admin, whom the tenant's rule requires a second
// factor of, goes from the password to the TOTP set-up before anything else; the
// half-signed state grants nothing; a wrong code is a localized error next to the field; the
// next sign-in asks a code, refuses a replayed one, and rotates the session id (issue 11.14,
// P2).
func TestSecondFactorTOTPEnrolAndSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.setRoleRule("mlab", "*")
		e.setRule("mlab", "security.second_factor_per_account", 50) // this test makes many attempts
		now := e.clock()
		c := e.client("mlab.localhost")
		r := c.login("", "admin@mlab.localhost", "demo-mlab-admin")
		if r.Status != 303 || r.Location() != "/login/enrol" {
			t.Fatalf("password: %d → %q", r.Status, r.Location())
		}
		if c.cookie("sid") != "" {
			t.Fatal("a session cookie before the second step")
		}
		// Half-signed: nothing of the account is reachable.
		if r := c.get("/account"); r.Status == 200 {
			t.Fatal("the account page answered before the second step")
		}
		if r := c.get("/admin/users"); r.Status == 200 {
			t.Fatal("an admin page answered before the second step")
		}
		// The second-step page sends an account without a factor to the set-up.
		if r := c.get("/login/second"); r.Status != 303 || r.Location() != "/login/enrol" {
			t.Fatalf("second step without a factor: %d → %q", r.Status, r.Location())
		}
		page := c.get("/login/enrol")
		secret := totpSecret(t, page)
		mustContain(t, page, `src="data:image/png;base64,`, "Scannez ce QR code")
		r = c.post("/login/enrol", "/login/enrol", url.Values{"code": {"000000"}})
		if totpCode(t, secret, *now) == "000000" {
			t.Skip("the current code happens to be 000000")
		}
		if r.Status != 422 {
			t.Fatalf("wrong code: %d", r.Status)
		}
		mustContain(t, r, `id="e-code"`, "Ce code n’est pas valide ou a déjà servi.")
		if c.cookie("sid") != "" {
			t.Fatal("a wrong code opened a session")
		}
		code := totpCode(t, secret, *now)
		r = c.post("/login/enrol", "/login/enrol", url.Values{"code": {code}})
		if r.Status != 200 || len(recoveryRe.FindAllString(r.Body, -1)) != 10 {
			t.Fatalf("enrolment: %d\n%s", r.Status, r.Body)
		}
		mustContain(t, r, "ne seront plus jamais affichés")
		// The codes page's own forms (the language switch, sign-out) carry the new session's
		// token: switching language there does not expire (and lose the codes).
		tok := csrfRe.FindStringSubmatch(r.Body)
		if tok == nil {
			t.Fatal("no form token on the recovery codes page")
		}
		if r := c.do("POST", "/lang", url.Values{"lang": {"sk"}, "next": {"/account"}, "_csrf": {tok[1]}}); r.Status != 303 {
			t.Fatalf("language switch on the recovery codes page: %d", r.Status)
		}
		c.do("POST", "/lang", url.Values{"lang": {"fr"}, "_csrf": {tok[1]}})
		first := c.cookie("sid")
		if first == "" || c.get("/account").Status != 200 {
			t.Fatal("not signed in after the enrolment")
		}
		// The next sign-in (from this signed-in browser) asks a code.
		r = c.post("/account", "/login", url.Values{"email": {"admin@mlab.localhost"}, "password": {"demo-mlab-admin"}})
		if r.Status != 303 || r.Location() != "/login/second" {
			t.Fatalf("second sign-in: %d → %q", r.Status, r.Location())
		}
		if c.cookie("sid") != "" || c.get("/account").Status == 200 {
			t.Fatal("the earlier session still signs in during the second step")
		}
		// The code used at the enrolment is refused: same time step.
		r = c.post("/login/second", "/login/second", url.Values{"code": {code}})
		if r.Status != 422 {
			t.Fatalf("replayed code: %d", r.Status)
		}
		mustContain(t, r, "Ce code n’est pas valide ou a déjà servi.")
		*now = now.Add(30 * time.Second)
		r = c.post("/login/second", "/login/second", url.Values{"code": {totpCode(t, secret, *now)}})
		if r.Status != 303 || r.Location() != "/" {
			t.Fatalf("right code: %d → %q", r.Status, r.Location())
		}
		second := c.cookie("sid")
		if second == "" || second == first {
			t.Fatalf("session id not rotated: %q then %q", first, second)
		}
		if c.get("/account/security").Status != 200 {
			t.Fatal("not signed in after the second step")
		}
		// A code one step late (clock skew) passes once; a code two steps late does not.
		c2 := e.client("mlab.localhost")
		c2.login("", "admin@mlab.localhost", "demo-mlab-admin")
		*now = now.Add(90 * time.Second)
		if r := c2.post("/login/second", "/login/second", url.Values{"code": {totpCode(t, secret, now.Add(-60*time.Second))}}); r.Status != 422 {
			t.Fatalf("code two steps old: %d", r.Status)
		}
		if r := c2.post("/login/second", "/login/second", url.Values{"code": {totpCode(t, secret, now.Add(-30*time.Second))}}); r.Status != 303 {
			t.Fatalf("code one step old: %d", r.Status)
		}
	})
}

// TestSecondFactorRecoveryCodeOnce: a recovery code signs in once; the same code again is
// refused (issue 11.14, P2). The race of two uses is TestRecoveryCodeRaced (core/accounts).
func TestSecondFactorRecoveryCodeOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.setRoleRule("mlab", "*")
		now := e.clock()
		_, _, codes := enrolAdmin(t, e, now)
		c := e.client("mlab.localhost")
		c.login("", "admin@mlab.localhost", "demo-mlab-admin")
		r := c.post("/login/second", "/login/second", url.Values{"code": {strings.ToUpper(codes[3])}})
		if r.Status != 303 || c.cookie("sid") == "" {
			t.Fatalf("recovery code: %d", r.Status)
		}
		mustContain(t, c.get("/"), "Vous vous êtes connecté avec un code de secours")
		c = e.client("mlab.localhost")
		c.login("", "admin@mlab.localhost", "demo-mlab-admin")
		if r := c.post("/login/second", "/login/second", url.Values{"code": {codes[3]}}); r.Status != 422 {
			t.Fatalf("used recovery code again: %d", r.Status)
		}
		if r := c.post("/login/second", "/login/second", url.Values{"code": {codes[4]}}); r.Status != 303 {
			t.Fatalf("another recovery code: %d", r.Status)
		}
		page := c.get("/account/security")
		mustContain(t, page, "8 codes de secours non utilisés")
		if !hasAudit(t, e, "mlab", "", "account.mfa_recovery_used") {
			t.Fatal("use of a recovery code not audited")
		}
	})
}

// hasAudit reports whether the tenant's trail has an entry of action.
func hasAudit(t *testing.T, e *env, slug, _, action string) bool {
	t.Helper()
	rows, err := e.srv.Trail.Search(context.Background(), e.tenant(slug).ID, audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows) > 0
}

// TestSecondFactorRuleByRole: the tenant's rule, data edited like any other, decides who
// must have a second factor: "*" every role beyond the plain user, a list those roles, ""
// nobody (issue 11.14, P2).
func TestSecondFactorRuleByRole(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		to := func(email, pw string) string {
			t.Helper()
			r := e.client("mlab.localhost").login("", email, pw)
			if r.Status != 303 {
				t.Fatalf("%s: %d", email, r.Status)
			}
			return r.Location()
		}
		admin, user := "admin@mlab.localhost", "user@mlab.localhost"
		// The demo catalog turns the rule off: nobody is asked.
		if got := to(admin, "demo-mlab-admin"); got != "/" {
			t.Fatalf("rule off, admin → %q", got)
		}
		e.setRoleRule("mlab", "*")
		if got := to(admin, "demo-mlab-admin"); got != "/login/enrol" {
			t.Fatalf("rule *, admin → %q", got)
		}
		if got := to(user, "demo-mlab-user"); got != "/" {
			t.Fatalf("rule *, user → %q", got)
		}
		// Module roles (the modules do not run here): core/accounts' TestRequiresSecondFactor.
		e.setRoleRule("mlab", "results.lab_staff")
		if got := to(admin, "demo-mlab-admin"); got != "/" {
			t.Fatalf("rule lab staff only, admin → %q", got)
		}
		// The admin edits the rule on the settings page: one box per role, in words.
		e.setRoleRule("mlab", "")
		c := e.client("mlab.localhost")
		c.login("", admin, "demo-mlab-admin")
		page := c.get("/admin/settings")
		mustContain(t, page, "Rôles qui doivent utiliser une double authentification", `value="tenant_admin"`)
		form := url.Values{}
		for _, m := range regexp.MustCompile(`<input id="f-([a-z_]+)" name="([a-z_]+)" type="(?:text|number|email|color)"[^>]*value="([^"]*)"`).FindAllStringSubmatch(page.Body, -1) {
			form.Set(m[2], html.UnescapeString(m[3]))
		}
		for _, m := range regexp.MustCompile(`<select id="f-([a-z_]+)" name="([a-z_]+)">.*?<option value="([a-z]+)" selected>`).FindAllStringSubmatch(page.Body, -1) {
			form.Set(m[2], m[3])
		}
		// Every box ticked is "*" (roles a module adds later are covered too); none is "".
		for _, tc := range []struct {
			ticked []string
			want   string
		}{{[]string{"tenant_admin"}, "*"}, {nil, ""}, {[]string{"tenant_admin"}, "*"}} {
			form["rule_security_second_factor_roles_shown"] = []string{"1"}
			form["rule_security_second_factor_roles"] = tc.ticked
			if r := c.post("/admin/settings", "/admin/settings", form); r.Status != 303 {
				t.Fatalf("settings: %d\n%s", r.Status, r.Body)
			}
			if got := e.tenant("mlab").StringRule(tenancy.RuleSecondFactorRoles); got != tc.want {
				t.Fatalf("boxes %v saved as %q, want %q", tc.ticked, got, tc.want)
			}
		}
		form["rule_security_second_factor_roles"] = []string{"no_such_role"}
		if r := c.post("/admin/settings", "/admin/settings", form); r.Status != 422 {
			t.Fatalf("unknown role: %d", r.Status)
		}
		if got := to(admin, "demo-mlab-admin"); got != "/login/enrol" {
			t.Fatalf("rule tenant admin, admin → %q", got)
		}
	})
}

// TestSecondFactorAttemptsLimited: code attempts count per account in the tenant's window
// (issue 11.14, P2).
func TestSecondFactorAttemptsLimited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		e.setRoleRule("mlab", "*")
		now := e.clock()
		_, secret, _ := enrolAdmin(t, e, now)
		limit := int(e.tenant("mlab").IntRule("security.second_factor_per_account"))
		// Right codes use up nothing: more sign-ins than the limit in one window, each with a
		// right code, all go through (the enrolment's code did not count either).
		for i := 0; i < limit+2; i++ {
			*now = now.Add(30 * time.Second)
			c := e.client("mlab.localhost")
			c.login("", "admin@mlab.localhost", "demo-mlab-admin")
			if r := c.post("/login/second", "/login/second", url.Values{"code": {totpCode(t, secret, *now)}}); r.Status != 303 {
				t.Fatalf("sign-in %d with a right code: %d", i+1, r.Status)
			}
		}
		// Wrong codes do: after the limit, even the right one is refused.
		*now = now.Add(30 * time.Second)
		c := e.client("mlab.localhost")
		c.login("", "admin@mlab.localhost", "demo-mlab-admin")
		right := totpCode(t, secret, *now)
		wrong := "123456"
		if wrong == right {
			wrong = "654321"
		}
		for i := 0; i < limit; i++ {
			if r := c.post("/login/second", "/login/second", url.Values{"code": {wrong}}); r.Status != 422 {
				t.Fatalf("attempt %d: %d", i+1, r.Status)
			}
		}
		r := c.post("/login/second", "/login/second", url.Values{"code": {right}})
		if r.Status != 429 || c.cookie("sid") != "" {
			t.Fatalf("over the limit, even the right code: %d", r.Status)
		}
		mustContain(t, r, "Trop d’essais de code")
	})
}

// TestSecondFactorAccountPage: a person sets up TOTP from the account page, removes it and
// renews recovery codes with the current password; each change is audited; an account the
// rule covers cannot remove its last factor; a tenant admin resets a user's second factor
// (audited); erasing the account removes its factors (issue 11.14, P2, P9, P11).
func TestSecondFactorAccountPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		now := e.clock()
		c := e.client("mlab.localhost")
		if r := c.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 || r.Location() != "/" {
			t.Fatalf("user: %d → %q", r.Status, r.Location())
		}
		mustContain(t, c.get("/account/security"), "Désactivée")
		secret := totpSecret(t, c.get("/account/security/totp"))
		// The page again shows the same secret until it is confirmed.
		if again := totpSecret(t, c.get("/account/security/totp")); again != secret {
			t.Fatal("the secret changed before it was confirmed")
		}
		r := c.post("/account/security/totp", "/account/security/totp", url.Values{"code": {totpCode(t, secret, *now)}})
		if r.Status != 200 || len(recoveryRe.FindAllString(r.Body, -1)) != 10 {
			t.Fatalf("confirm: %d", r.Status)
		}
		mustContain(t, c.get("/account/security"), "Activée", "10 codes de secours non utilisés")
		// Renewing the codes asks for the password.
		if r := c.post("/account/security", "/account/security/recovery", url.Values{"recovery_password": {"wrong"}}); r.Status != 422 {
			t.Fatalf("renew with a wrong password: %d", r.Status)
		}
		r = c.post("/account/security", "/account/security/recovery", url.Values{"recovery_password": {"demo-mlab-user"}})
		if r.Status != 200 || len(recoveryRe.FindAllString(r.Body, -1)) != 10 {
			t.Fatalf("renew: %d", r.Status)
		}
		// The next sign-in asks for a code.
		c2 := e.client("mlab.localhost")
		if r := c2.login("", "user@mlab.localhost", "demo-mlab-user"); r.Location() != "/login/second" {
			t.Fatalf("user with TOTP → %q", r.Location())
		}
		if r := c.post("/account/security", "/account/security/totp/remove", url.Values{"totp_password": {"wrong"}}); r.Status != 422 {
			t.Fatalf("remove with a wrong password: %d", r.Status)
		}
		if r := c.post("/account/security", "/account/security/totp/remove", url.Values{"totp_password": {"demo-mlab-user"}}); r.Status != 303 {
			t.Fatalf("remove: %d", r.Status)
		}
		if r := e.client("mlab.localhost").login("", "user@mlab.localhost", "demo-mlab-user"); r.Location() != "/" {
			t.Fatalf("user without TOTP → %q", r.Location())
		}
		for _, a := range []string{"account.mfa_totp_enabled", "account.mfa_recovery_renewed", "account.mfa_totp_removed"} {
			if !hasAudit(t, e, "mlab", "", a) {
				t.Fatalf("%s not audited", a)
			}
		}

		// An admin the rule covers keeps at least one factor.
		e.setRoleRule("mlab", "*")
		admin, _, _ := enrolAdmin(t, e, now)
		// The page does not offer what would be refused: it says why instead.
		page := admin.get("/account/security")
		mustNotContain(t, page, `action="/account/security/totp/remove"`)
		mustContain(t, page, "ajoutez une autre méthode")
		r = admin.post("/account/security", "/account/security/totp/remove", url.Values{"totp_password": {"demo-mlab-admin"}})
		if r.Status != 422 {
			t.Fatalf("last factor of a covered admin removed: %d", r.Status)
		}
		mustContain(t, r, "ajoutez une autre méthode")

		// The tenant admin resets a user's second factor.
		ctx := context.Background()
		tn := e.tenant("mlab")
		staff, err := e.srv.Accounts.ByEmail(ctx, tn.ID, "user@mlab.localhost")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.BeginTOTP(ctx, tn, staff); err != nil {
			t.Fatal(err)
		}
		if n := count(t, e, tn.ID, "user_totp", staff.ID); n != 1 {
			t.Fatalf("%d secrets", n)
		}
		path := "/admin/users/" + staff.ID
		if r := admin.post(path, path+"/second-factor/reset", nil); r.Status != 303 {
			t.Fatalf("reset: %d", r.Status)
		}
		if n := count(t, e, tn.ID, "user_totp", staff.ID); n != 0 {
			t.Fatal("reset left the secret")
		}
		if !hasAudit(t, e, "mlab", "", "admin.mfa_reset") {
			t.Fatal("reset not audited")
		}
		// A user may not reset anyone's.
		if r := c.post("/account/security", path+"/second-factor/reset", nil); r.Status != 403 {
			t.Fatalf("reset by a user: %d", r.Status)
		}

		// Erasure removes the factors.
		adminUser, err := e.srv.Accounts.ByEmail(ctx, tn.ID, "admin@mlab.localhost")
		if err != nil {
			t.Fatal(err)
		}
		if count(t, e, tn.ID, "user_totp", adminUser.ID) != 1 || count(t, e, tn.ID, "user_recovery_codes", adminUser.ID) != 10 {
			t.Fatal("the admin's factors are not there")
		}
		if err := e.srv.Accounts.Delete(ctx, tn, adminUser.ID, "self", ""); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"user_totp", "user_recovery_codes", "user_passkeys", "mfa_challenges", "webauthn_ceremonies"} {
			if n := count(t, e, tn.ID, table, adminUser.ID); n != 0 {
				t.Fatalf("%s: %d rows left after erasure", table, n)
			}
		}
	})
}

func count(t *testing.T, e *env, tenantID, table, userID string) int {
	t.Helper()
	var n int
	err := e.srv.DB.InTenant(context.Background(), tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Tx.NewRaw("SELECT COUNT(*) FROM "+table+" WHERE tenant_id = ? AND user_id = ?", tenantID, userID).Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
