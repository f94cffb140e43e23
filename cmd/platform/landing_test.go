package main

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"carenet.dev/platform/core/db/dbtest"
)

// TestLoginLandsWhereThePersonWorks (issue 12.11): once signed in with no page asked for, a
// patient lands on his results, a professional on his patients' results, lab staff on their
// queue (the landing pages the results module declares in its manifest); a safe page asked
// for still wins, and an unsafe one is never followed.
func TestLoginLandsWhereThePersonWorks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		land := func(host, email, password, next string) string {
			t.Helper()
			b := p.browser(host)
			form := url.Values{"email": {email}, "password": {password}}
			if next != "" {
				form.Set("next", next)
			}
			code, body := b.post("/login", "/login", form)
			if code != 303 {
				t.Fatalf("login %s: %d %s", email, code, body)
			}
			return b.last.Get("Location")
		}
		for _, c := range []struct{ host, email, password, next, want string }{
			{"mlab.localhost", "user@mlab.localhost", "demo-mlab-user", "", "/results/mine"},
			{"pro.mlab.localhost", "professional@mlab.localhost", "demo-mlab-professional", "", "/results/pro"},
			{"mlab.localhost", "professional@mlab.localhost", "demo-mlab-professional", "", "/results/pro"},
			{"mlab.localhost", "lab-staff@mlab.localhost", "demo-mlab-lab_staff", "", "/results/staff/queue"},
			// An explicit safe page wins; a page on another site is not followed.
			{"mlab.localhost", "lab-staff@mlab.localhost", "demo-mlab-lab_staff", "/account", "/account"},
			{"mlab.localhost", "user@mlab.localhost", "demo-mlab-user", "//evil.example/x", "/results/mine"},
			// Nothing of the results for a person on the professionals' portal who is not one
			// (yet): home.
			{"pro.mlab.localhost", "user@mlab.localhost", "demo-mlab-user", "", "/"},
			// Billing (issue 15): on the clients' portal a client lands on his portal, the
			// clerk on the subscriptions.
			{"secretaires.localhost", "user@secretaires.localhost", "demo-secretaires-user", "", "/billing/portal"},
			{"secretaires.localhost", "billing-clerk@secretaires.localhost", "demo-secretaires-billing_clerk", "", "/billing/manage"},
		} {
			if got := land(c.host, c.email, c.password, c.next); got != c.want {
				t.Errorf("%s on %s (next %q) lands on %q, want %q", c.email, c.host, c.next, got, c.want)
			}
		}
	})
}

var totpSecretRe = regexp.MustCompile(`<code id="totp-secret" class="secret">([A-Z2-7 ]+)</code>`)

// TestSecondFactorSignInLandsWhereThePersonWorks (issue 12.11): where the tenant requires a
// second factor, the sign-in ends after it, and so does the landing: lab staff setting up
// their authenticator at their first sign-in are sent on to their queue, not home — nor to
// billing's client portal, which mlab runs too here (copyTenants).
func TestSecondFactorSignInLandsWhereThePersonWorks(t *testing.T) {
	dir := copyTenants(t)
	toml := filepath.Join(dir, "mlab", "tenant.toml")
	b, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	const off = `"security.second_factor_roles" = ""`
	if !strings.Contains(string(b), off) {
		t.Fatalf("mlab's tenant.toml no longer says %s", off)
	}
	if err := os.WriteFile(toml, []byte(strings.Replace(string(b), off, `"security.second_factor_roles" = "*"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPlatform(t, dir)
	staff := p.browser("mlab.localhost")
	code, _ := staff.post("/login", "/login", url.Values{"email": {"lab-staff@mlab.localhost"}, "password": {"demo-mlab-lab_staff"}})
	if code != 303 || staff.last.Get("Location") != "/login/enrol" {
		t.Fatalf("password of lab staff: %d → %q, want the enrolment", code, staff.last.Get("Location"))
	}
	_, page := staff.do("GET", "/login/enrol", nil)
	m := totpSecretRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no TOTP secret on the enrolment page:\n%s", mainPart(page))
	}
	otpCode, err := totp.GenerateCodeCustom(strings.ReplaceAll(m[1], " ", ""), time.Now(),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	code, page = staff.post("/login/enrol", "/login/enrol", url.Values{"code": {otpCode}})
	if code != 200 || !strings.Contains(page, `class="button" href="/results/staff/queue"`) {
		t.Fatalf("after the second factor: %d, want the way on to the queue:\n%s", code, mainPart(page))
	}
}
