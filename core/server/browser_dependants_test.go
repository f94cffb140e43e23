package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// TestBrowserPeopleIRepresent walks, in a real Chromium at phone width (390 px), what a
// parent does on his account page (P2, issue 12.9): "People I represent" → add → the form
// sent incomplete comes back with each message next to its field, nothing saved → filled in,
// the representative's consent ticked → back on the account page, his daughter listed with
// the day he stops representing her. No page is wider than the phone, and axe-core finds
// nothing serious on the form, with its errors, nor on the account page.
func TestBrowserPeopleIRepresent(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	e := newLiveEnv(t, dbtest.Backends()[0]) // a browser run is slow: SQLite only
	p := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}
	m := messages(t, "fr")
	shots := screenshotDir(t)
	p.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	checkPage := func(what string) {
		t.Helper()
		p.fitsPhone(what)
		vs, err := checks.Axe(p.ctx)
		if err != nil {
			p.fatal("axe-core on "+what, err)
		}
		for _, v := range browsertest.Serious(vs) {
			t.Errorf("%s: axe-core: %s", what, v)
		}
	}

	newHolder(t, e.env, e.tenant("mlab"))
	p.navigate("open the sign-in form", e.url("mlab.localhost", "/login"))
	p.do("fill the sign-in form",
		typeText(`input[name=email]`, "jeanne.martin@example.org"),
		typeText(`input[name=password]`, "correct horse battery"))
	p.load("sign in", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.navigate("open the account page", e.url("mlab.localhost", "/account"))
	p.wantText("#dependants h2", msg(t, m, "account.dependants.title"))
	p.load("open the form", 200, chromedp.Click(chromedp.CSS(`#dependants a.button`)))
	p.wantText("main h1", msg(t, m, "account.dependants.add"))

	// Sent with the first name alone: each missing field says so next to it.
	p.do("type a first name", typeText(`#f-first_name`, "Élise"))
	p.load("send the incomplete form", 422, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText("#e-last_name", msg(t, m, "form.required"))
	p.wantText("#e-birth_date", msg(t, m, "form.required"))
	p.wantText("#e-legal_status", msg(t, m, "form.required"))
	p.wantText("#e-consent", msg(t, m, "account.dependants.consent_required"))
	if v, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.CSS(`#f-first_name`))); err != nil || v != "Élise" {
		p.fatal("the first name kept", fmt.Errorf("%q %v", v, err))
	}
	checkPage("the form with its errors")
	p.screenshot(shots, "dependant-errors-390.png", 390)

	p.do("complete the form",
		typeText(`#f-last_name`, "Lefèvre"),
		chromedp.SetValue(chromedp.CSS(`#f-birth_date`), "2014-09-21"),
		chromedp.SetValue(chromedp.CSS(`#f-legal_status`), "minor"),
		chromedp.SetValue(chromedp.CSS(`#f-relationship`), "parent"),
		chromedp.SetValue(chromedp.CSS(`#f-sex`), "female"),
		typeText(`#f-nationality`, "française"),
		typeText(`#f-permanent_address`, "8 place Bellecour, 69002 Lyon"),
		chromedp.Click(chromedp.CSS(`input[name=consent]`)),
	)
	p.load("save", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	if loc := p.location(); !strings.HasSuffix(loc, "/account#dependants") {
		p.fatal("after saving", fmt.Errorf("at %s, want the account page", loc))
	}
	p.wantText(".flash", msg(t, m, "account.dependants.added"))
	p.wantText("#dependants li h3", "Élise Lefèvre")
	if got := p.text("#dependants li"); !strings.Contains(got, msg(t, m, "account.dependants.until", "Date", "21/09/2032")) {
		p.fatal("the day her representation ends", fmt.Errorf("card: %q", got))
	}
	checkPage("the account page")
	p.screenshot(shots, "dependants-account-390.png", 390)
}
