package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/terms"
)

// screenshotDir is the directory the screenshots go to: PLATFORM_TEST_SCREENSHOTS, or a
// temporary directory removed after the test (as in TestBrowserAccountJourney).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PLATFORM_TEST_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantPath checks the path (and, when query is not nil, the query) the browser is at.
func (p *page) wantPath(host string, e *liveEnv, path string, query url.Values) {
	p.t.Helper()
	loc := p.location()
	u, err := url.Parse(loc)
	if err != nil {
		p.t.Fatalf("browser location %q: %v", loc, err)
	}
	if want := e.url(host, ""); u.Scheme+"://"+u.Host != want {
		p.t.Fatalf("browser is at %s, want host %s", loc, want)
	}
	if u.Path != path {
		p.fatal("location", fmt.Errorf("path %q, want %q", u.Path, path))
	}
	if query != nil && u.Query().Encode() != query.Encode() {
		p.fatal("location", fmt.Errorf("query %q, want %q", u.RawQuery, query.Encode()))
	}
}

// evalIn evaluates a JavaScript expression in the page and decodes its value.
func evalIn[T any](p *page, what, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fatal(what, err)
	}
	return v
}

// TestBrowserTermsAcceptance walks, in a real browser, the publication of a new version of
// the account terms and its explicit acceptance (P6), on mlab, whose rule
// terms.explicit_reacceptance is true:
//
//	P6: the tenant admin opens Administration → terms, publishes a new version of the account
//	    document from the prefilled form (texts of the version in force, effective date at the
//	    earliest the notice period allows), with a new French title;
//	P6: once that version is in force, the user who logs in is stopped on the acceptance page,
//	    which shows the new version; without the box ticked he is told to tick it; with it, he
//	    reaches the page he asked for and his acceptance is recorded.
func TestBrowserTermsAcceptance(t *testing.T) {
	execPath := browsertest.Need(t)
	sqlite := dbtest.Backends()[0] // a browser run is slow: SQLite only
	e := newLiveEnv(t, sqlite)
	const host = "mlab.localhost"
	fr := messages(t, "fr")

	// The terms' clock: real time until the new version has to be in force. It is installed
	// before the browser sends anything and then moved with an atomic, so the handlers that
	// read it never race with the test.
	var shift atomic.Int64
	e.srv.Terms.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(shift.Load())) }
	ml := e.tenant("mlab")
	if !ml.BoolRule("terms.explicit_reacceptance") {
		t.Fatal("mlab's rule terms.explicit_reacceptance is not true: this scenario needs it")
	}
	notice := int(ml.IntRule("terms.notice_days"))
	earliest := time.Now().In(ml.Location()).AddDate(0, 0, notice).Format("2006-01-02")
	const newTitle = "Conditions d’utilisation du compte — version 2 (test navigateur)"

	// 1. P6: the admin publishes a new version of the account terms.
	admin := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}
	admin.navigate("login page", e.url(host, "/login"))
	admin.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS("#f-email"), "admin@mlab.localhost"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "demo-mlab-admin"),
	)
	admin.load("log in as admin", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	admin.wantText(`header nav a[href$="/admin/users"]`, msg(t, fr, "nav.admin"))
	admin.load("open Administration", 200, chromedp.Click(chromedp.CSS(`header nav a[href$="/admin/users"]`)))
	admin.wantText(`main nav.sub a[href$="/admin/terms"]`, msg(t, fr, "admin.terms.title"))
	admin.load("open the terms administration", 200, chromedp.Click(chromedp.CSS(`main nav.sub a[href$="/admin/terms"]`)))
	admin.wantPath(host, e, "/admin/terms", nil)
	admin.wantText("main h1", msg(t, fr, "admin.terms.title"))
	admin.wantText(`main a[href$="/admin/terms/platform/new"]`, msg(t, fr, "admin.terms.new"))
	admin.load("open the new-version form", 200, chromedp.Click(chromedp.CSS(`main a[href$="/admin/terms/platform/new"]`)))
	admin.wantPath(host, e, "/admin/terms/platform/new", nil)

	// The form is prefilled: the texts of the version in force in every language, and the
	// earliest effective date the notice period allows, which the admin keeps.
	eff, err := chromedp.Run(admin.ctx, chromedp.Value(chromedp.CSS("#f-effective")))
	if err != nil {
		admin.fatal("read the effective date", err)
	}
	if eff != earliest {
		t.Fatalf("effective date prefilled with %q, want today + %d days = %q", eff, notice, earliest)
	}
	for _, l := range ml.Settings.Locales {
		for _, f := range []string{"title_", "body_"} {
			v, err := chromedp.Run(admin.ctx, chromedp.Value(chromedp.CSS("#f-"+f+l)))
			if err != nil {
				admin.fatal("read #f-"+f+l, err)
			}
			if strings.TrimSpace(v) == "" {
				t.Fatalf("#f-%s%s is not prefilled with the text in force", f, l)
			}
		}
	}
	admin.do("change the French title",
		chromedp.Clear(chromedp.CSS("#f-title_fr")),
		typeText(chromedp.CSS("#f-title_fr"), newTitle),
	)
	admin.load("publish", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	admin.wantPath(host, e, "/admin/terms", nil)
	admin.wantText("main p.flash", msg(t, fr, "admin.terms.published_flash"))
	// The new version heads the account document's table (its first section).
	admin.wantText("main section:first-of-type tbody tr:first-child td:first-child", "2")

	// 2. P6: the new version comes into force — the terms' clock moves past its effective
	// date (the date is midnight, tenant time, of today + notice days).
	shift.Store(int64(time.Duration(notice+5) * 24 * time.Hour))
	if v, err := e.srv.Terms.InForce(context.Background(), ml.ID, terms.DocPlatform); err != nil || v.Version != 2 {
		t.Fatalf("after moving the clock the version in force is %+v (%v), want version 2", v, err)
	}

	// 3. P6: the user, in a fresh browser, asks for his account page, logs in, and is stopped
	// on the acceptance page first.
	user := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}
	user.navigate("open the account page signed out", e.url(host, "/account"))
	user.wantPath(host, e, "/login", url.Values{"next": {"/account"}})
	user.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS("#f-email"), "user@mlab.localhost"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "demo-mlab-user"),
	)
	user.load("log in as the user", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	user.wantPath(host, e, "/terms/accept", url.Values{"next": {"/account"}})
	user.wantLang("fr")
	user.wantText("main h1", msg(t, fr, "terms.accept.title"))
	if got := norm(evalIn[string](user, "read the documents",
		`[...document.querySelectorAll("main section > h2")].map(h => h.innerText).join(" | ")`)); got != norm(newTitle) {
		t.Fatalf("acceptance page shows %q, want the new version %q", got, newTitle)
	}
	// Its header line names the document and the new version.
	if got, want := user.text("main section p.detail"), msg(t, fr, "terms.doc.platform")+" · "+msg(t, fr, "terms.version", "Version", "2")+" · "; !strings.HasPrefix(got, want) {
		t.Errorf("document line %q, want it to start with %q", got, want)
	}

	// Without the box ticked: refused, with the message next to the box.
	user.load("accept without the box", 422, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	user.wantPath(host, e, "/terms/accept", nil)
	user.wantText("#e-accept", msg(t, fr, "terms.accept.required"))
	user.wantText("main section > h2", newTitle)

	// With it: on to the page he asked for.
	user.do("tick the box", chromedp.Click(chromedp.CSS(`input[name=accept]`)))
	user.load("accept", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	user.wantPath(host, e, "/account", url.Values{})
	user.wantText("main h1", msg(t, fr, "account.title"))
	// The account page now loads normally: no detour by the acceptance page.
	user.load("reload the account page", 200, chromedp.Reload())
	user.wantPath(host, e, "/account", url.Values{})
	user.wantText("main h1", msg(t, fr, "account.title"))

	u, err := e.srv.Accounts.ByEmail(context.Background(), ml.ID, "user@mlab.localhost")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.srv.Terms.Acceptances(context.Background(), ml.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) == 0 || acc[0].Doc != terms.DocPlatform || acc[0].Version != 2 || acc[0].How != terms.Explicit {
		t.Fatalf("explicit acceptance of version 2 not recorded: %+v", acc)
	}
}

// TestBrowserMailbox: a person registers on elekarze through the browser; the tenant admin
// finds the verification message in the mailbox (Administration → outbox) and reads it as
// the person received it: recipient, subject, and the HTML version in a sandboxed frame (P7).
func TestBrowserMailbox(t *testing.T) {
	execPath := browsertest.Need(t)
	shots := screenshotDir(t)
	sqlite := dbtest.Backends()[0] // a browser run is slow: SQLite only
	e := newLiveEnv(t, sqlite)
	const (
		host     = "elekarze.localhost"
		email    = "lucja@example.org"
		name     = "Łucja Żądło"
		password = "correct horse battery"
	)
	pl := messages(t, "pl")
	brand := e.tenant("elekarze").Settings.Branding.Name
	if brand != "eLekarze" {
		t.Fatalf("elekarze's branding name is %q, want eLekarze", brand)
	}
	subject := msg(t, pl, "mail.verify.subject", "Tenant", brand)

	p := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}

	// 1. Registration through the form (P2, P6: the two boxes the person must tick).
	p.navigate("registration form", e.url(host, "/register"))
	p.wantLang("pl")
	p.do("fill the registration form",
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
		chromedp.SendKeys(chromedp.CSS("#f-password2"), password),
		typeName(name, true), // C3: eLekarze asks the first and the last name
		chromedp.SetValue(chromedp.CSS("#f-birth_date"), "1985-03-14"),
		chromedp.Click(chromedp.CSS(`input[name=accept_terms]`)),
		chromedp.Click(chromedp.CSS(`input[name=consent_data_processing]`)),
	)
	p.load("submit the registration form", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText("main h1", msg(t, pl, "account.register.done_title"))
	link := e.lastLink("elekarze", email)

	// 2. P7: the admin opens Administration → mailbox (the registration left no session).
	p.navigate("login page", e.url(host, "/login"))
	p.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS("#f-email"), "admin@elekarze.localhost"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "demo-elekarze-admin"),
	)
	p.load("log in as admin", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText(`header nav a[href$="/admin/users"]`, msg(t, pl, "nav.admin"))
	p.load("open Administration", 200, chromedp.Click(chromedp.CSS(`header nav a[href$="/admin/users"]`)))
	p.wantText(`main nav.sub a[href$="/admin/mailbox"]`, msg(t, pl, "admin.mailbox.title"))
	p.load("open the mailbox", 200, chromedp.Click(chromedp.CSS(`main nav.sub a[href$="/admin/mailbox"]`)))
	p.wantPath(host, e, "/admin/mailbox", nil)
	p.wantText("main h1", msg(t, pl, "admin.mailbox.title"))

	// The verification message is listed, with its recipient and its Polish subject.
	type row struct {
		To, Subject, Href string
	}
	rows := evalIn[[]row](p, "read the mailbox", `[...document.querySelectorAll("main table tbody tr")].map(tr => ({
		To: tr.cells[1].innerText, Subject: tr.cells[2].innerText,
		Href: (tr.cells[2].querySelector("a") || {getAttribute: () => ""}).getAttribute("href") || ""}))`)
	var href string
	for _, r := range rows {
		if strings.Contains(r.To, email) && norm(r.Subject) == norm(subject) {
			if href != "" {
				t.Fatalf("two verification messages to %s in the mailbox: %+v", email, rows)
			}
			href = r.Href
		}
	}
	if href == "" || strings.ContainsAny(href, `"\`) {
		t.Fatalf("no message %q to %s in the mailbox (link %q); rows: %+v", subject, email, href, rows)
	}

	// 3. P7: the message, as the person received it.
	p.load("open the message", 200, chromedp.Click(chromedp.CSS(fmt.Sprintf(`main table a[href=%q]`, href))))
	p.wantPath(host, e, href, nil)
	p.wantText("main h1", msg(t, pl, "admin.mailbox.one_title"))
	facts := evalIn[map[string]string](p, "read the message's facts", `Object.fromEntries([...document.querySelectorAll("main dl.facts dt")].map(dt => [dt.innerText.trim(), dt.nextElementSibling ? dt.nextElementSibling.innerText : ""]))`)
	if got := facts[msg(t, pl, "admin.mailbox.to")]; !strings.Contains(got, email) {
		t.Errorf("recipient shown as %q, want %s (facts %v)", got, email, facts)
	}
	if got := facts[msg(t, pl, "admin.mailbox.subject")]; norm(got) != norm(subject) {
		t.Errorf("subject shown as %q, want %q", got, subject)
	}
	// The text version is on the page too, with the link.
	if got := p.text("main pre.mail"); !strings.Contains(got, link) {
		t.Errorf("text version lacks the link %s: %q", link, got)
	}

	// The HTML version is in a sandboxed frame: sandbox with no permission at all.
	sb, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS("iframe.mail"), "sandbox"))
	if err != nil {
		p.fatal("read the frame's sandbox", err)
	}
	if !sb.Exists || sb.Value != "" {
		t.Errorf("iframe.mail sandbox=%q (present %v), want a bare sandbox", sb.Value, sb.Exists)
	}
	src, err := chromedp.Run(p.ctx, chromedp.JavascriptAttribute[string](chromedp.CSS("iframe.mail"), "src"))
	if err != nil {
		p.fatal("read the frame's src", err)
	}
	if want := e.url(host, href+"/html"); src != want {
		t.Fatalf("iframe.mail src=%q, want %q", src, want)
	}
	// The frame loaded that document. Chromium isolates sandboxed frames in a process of
	// their own (then the frame is a target of type "iframe", out of the page's frame tree);
	// without that isolation it is a child of the page's frame tree, in an opaque origin.
	loaded := ""
	deadline := time.Now().Add(10 * time.Second)
	for loaded == "" {
		tree, err := chromedp.Call(p.ctx, cdppage.GetFrameTree, cdp.Empty{})
		if err != nil {
			p.fatal("read the frame tree", err)
		}
		for _, c := range tree.FrameTree.ChildFrames {
			if f := c.Frame; f.URL == src && f.UnreachableURL == "" {
				if f.SecurityOrigin == e.url(host, "") {
					t.Errorf("mail frame runs in the page's origin %s, want an opaque (sandboxed) one", f.SecurityOrigin)
				}
				loaded = "in-process frame, origin " + f.SecurityOrigin
			}
		}
		targets, err := chromedp.Targets(p.ctx)
		if err != nil {
			p.fatal("list the targets", err)
		}
		for _, ti := range targets {
			if ti.Type == "iframe" && ti.URL == src {
				loaded = "isolated iframe target " + string(ti.TargetID)
			}
		}
		if loaded == "" {
			if time.Now().After(deadline) {
				p.fatal("wait for the mail frame", errors.New("no frame loaded "+src))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("mail frame: %s", loaded)
	p.screenshot(shots, "elekarze-admin-mail-pl-desktop.png", 1280)

	// The frame's document itself, opened in the same browser: the greeting and the
	// activation link.
	p.navigate("open the mail's HTML", src)
	p.wantLang("pl")
	if got := p.text("body p:first-child"); got != norm(msg(t, pl, "mail.greeting", "Name", name)) {
		t.Errorf("HTML greeting %q, want %q", got, msg(t, pl, "mail.greeting", "Name", name))
	}
	a, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS(`body a`), "href"))
	if err != nil {
		p.fatal("read the activation link", err)
	}
	if a.Value != link {
		t.Errorf("HTML activation link %q, want %q", a.Value, link)
	}
	if got := p.text("body a"); got != norm(msg(t, pl, "mail.verify.action")) {
		t.Errorf("HTML link text %q, want %q", got, msg(t, pl, "mail.verify.action"))
	}
	body := p.text("body")
	if !strings.Contains(body, norm(msg(t, pl, "mail.signature", "Tenant", brand))) {
		t.Errorf("HTML lacks the signature: %q", body)
	}
}
