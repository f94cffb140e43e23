package server_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// TestBrowserSecondFactor walks, in a real Chromium at phone width (390 px), what a tenant
// admin does when the tenant's rule requires a second factor of admins (issue 11.14, P2):
//
//	the password leads to the TOTP set-up before anything else; the test reads the secret
//	shown as text beside the QR code (which must be a drawn image), computes the code, and
//	gets ten recovery codes, shown once; signs out and in again with a TOTP code; adds a
//	passkey from the account page with Chromium's virtual authenticator (DevTools'
//	WebAuthn domain), signs out and in again with the passkey alone.
//
// No page is wider than the phone.
func TestBrowserSecondFactor(t *testing.T) {
	execPath := browsertest.Need(t)
	e := newLiveEnv(t, dbtest.Backends()[0]) // a browser run is slow: SQLite only
	e.setRoleRule("mlab", "*")
	p := &page{t: t, ctx: browsertest.Start(t, execPath, 2*browserScenarioTimeout)}
	m := messages(t, "fr")
	shots := screenshotDir(t)
	p.do("phone viewport and a virtual authenticator",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
				Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
					Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
					IsUserVerified: true, AutomaticPresenceSimulation: true}})
			return err
		}))
	signIn := func(what string) {
		t.Helper()
		p.navigate("open the sign-in form", e.url("mlab.localhost", "/login"))
		p.do("fill the sign-in form",
			typeText(`input[name=email]`, "admin@mlab.localhost"),
			typeText(`input[name=password]`, "demo-mlab-admin"))
		p.load(what, 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	}
	signOut := func() {
		t.Helper()
		p.load("sign out", 200, chromedp.Click(chromedp.CSS(`header form[action$="/logout"] button`)))
	}
	code := func(at time.Time) string { return totpCode(t, strings.ReplaceAll(p.text("#totp-secret"), " ", ""), at) }

	// 1. The password leads to the set-up, before anything else.
	signIn("sign in with the password")
	if loc := p.location(); !strings.HasSuffix(loc, "/login/enrol") {
		p.fatal("after the password", fmt.Errorf("at %s, want the set-up", loc))
	}
	p.wantText("main h1", msg(t, m, "account.mfa.enrol_title"))
	p.fitsPhone("set-up page")
	p.screenshot(shots, "mfa-enrol-390.png", 390)
	qr, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`))
	if err != nil || qr < 100 {
		p.fatal("QR code", fmt.Errorf("drawn %d px wide (%v)", qr, err))
	}
	secret := strings.ReplaceAll(p.text("#totp-secret"), " ", "")
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		p.fatal("secret shown", fmt.Errorf("%q", secret))
	}
	enrolled := time.Now()
	p.do("type the code of the app", typeText(`input[name=code]`, code(enrolled)))
	p.load("confirm the set-up", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText("main h1", msg(t, m, "account.mfa.recovery_title"))
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#recovery-codes li").length`))
	if err != nil || n != 10 {
		p.fatal("recovery codes", fmt.Errorf("%d shown (%v)", n, err))
	}
	p.fitsPhone("recovery codes page")
	p.load("continue", 200, chromedp.Click(chromedp.CSS(`main a.button`)))
	if !strings.Contains(p.text("header"), "Admin") {
		p.fatal("signed in", fmt.Errorf("header %q", p.text("header")))
	}

	// 2. Out and in again with a TOTP code (the next step's: the set-up's own is spent).
	signOut()
	signIn("sign in again with the password")
	p.wantText("main h1", msg(t, m, "account.mfa.second_title"))
	p.fitsPhone("second step page")
	p.do("type the next code", typeText(`input[name=code]`, totpCode(t, secret, enrolled.Add(30*time.Second))))
	p.load("send the code", 200, chromedp.Click(chromedp.CSS(`main form[action$="/login/second"] button[type=submit]`)))
	if loc := p.location(); strings.Contains(loc, "/login") {
		p.fatal("TOTP sign-in", fmt.Errorf("still at %s", loc))
	}

	// 3. A passkey from the account page.
	p.navigate("open the second-factor page", e.url("mlab.localhost", "/account/security"))
	p.fitsPhone("second-factor page")
	p.screenshot(shots, "mfa-account-390.png", 390)
	p.load("add a passkey", 200, chromedp.Click(chromedp.CSS(`button[data-passkey=create]`)))
	if !strings.Contains(p.text("main"), strings.SplitN(msg(t, m, "account.mfa.passkey_added_on", "Date", ""), " le", 2)[0]) {
		p.fatal("passkey added", fmt.Errorf("page: %q", p.text("main")))
	}

	// 4. Out and in again with the passkey alone.
	signOut()
	signIn("sign in with the password, for the passkey")
	p.wantText("main h1", msg(t, m, "account.mfa.second_title"))
	p.load("use the passkey", 200, chromedp.Click(chromedp.CSS(`button[data-passkey=get]`)))
	if loc := p.location(); strings.Contains(loc, "/login") {
		p.fatal("passkey sign-in", fmt.Errorf("still at %s: %q", loc, p.text("#passkey-status")))
	}
	p.navigate("account page after the passkey", e.url("mlab.localhost", "/account/security"))
	for _, a := range []string{"account.mfa_totp_enabled", "account.mfa_passkey_added"} {
		if !hasAudit(t, e.env, "mlab", "", a) {
			t.Fatalf("%s not audited", a)
		}
	}
}
