package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/server"
)

// The browser tests drive Debian's Chromium (headless, started by core/browsertest, which
// says when they are skipped) against a real HTTP server on a loopback port.
//
// Environment, besides core/browsertest's:
//   - PLATFORM_TEST_SCREENSHOTS: a directory to keep the screenshots in (default: a
//     temporary directory removed after the test).

// browserScenarioTimeout bounds one tenant's scenario, browser start included.
const browserScenarioTimeout = 90 * time.Second

// liveEnv is an env served over real HTTP on 127.0.0.1:port. Chromium resolves every
// *.localhost name to loopback, so http://<tenant>.localhost:port/ reaches it.
type liveEnv struct {
	*env
	port int
}

// url returns the address of path on a host of the platform, as the browser reaches it.
func (e *liveEnv) url(host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, e.port, path)
}

// newLiveEnv builds the platform as newEnv does, with the demo tenants and users, but serves
// it on a real listener. PublicURL carries the port, so e-mailed links point at this server.
func newLiveEnv(t *testing.T, b dbtest.Backend) *liveEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	d := b.Open(t)
	ctx := context.Background()
	dataDir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PLATFORM_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := server.New(ctx, server.Config{DataDir: dataDir, ConsoleHost: "admin.localhost",
		PublicURL: fmt.Sprintf("http://localhost:%d", port), Dev: true}, d, log, nil)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if _, err := srv.ImportTenants(ctx, filepath.Join("..", "..", "tenants")); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if err := srv.Prepare(ctx, "fr"); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if _, err := srv.SeedDemo(ctx); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Listen(sctx, ln) }()
	// The job runner, as a serving platform runs it (registrations, resets…).
	jobsDone := make(chan struct{})
	go func() { srv.RunJobs(sctx, 100*time.Millisecond); close(jobsDone) }()
	// Registered after b.Open's cleanup, so it runs first: the server stops before its
	// database closes.
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down within 15 s")
		}
		<-jobsDone
	})
	return &liveEnv{env: &env{t: t, srv: srv, dataDir: dataDir}, port: port}
}

// messages reads the message file of a language (locales/<lang>.toml): flat dotted keys,
// plural messages as tables.
func messages(t *testing.T, lang string) map[string]string {
	t.Helper()
	var raw map[string]any
	if _, err := toml.DecodeFile(filepath.Join("..", "..", "locales", lang+".toml"), &raw); err != nil {
		t.Fatalf("locale %s: %v", lang, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// msg returns a message of a language with its {{.Name}}-style fields filled in.
func msg(t *testing.T, m map[string]string, key string, kv ...string) string {
	t.Helper()
	s, ok := m[key]
	if !ok || s == "" {
		t.Fatalf("message %q missing", key)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{{."+kv[i]+"}}", kv[i+1])
	}
	if strings.Contains(s, "{{") {
		t.Fatalf("message %q still has template fields: %q", key, s)
	}
	return s
}

// norm folds runs of white space, no-break spaces included, as a browser's rendering does.
func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

// page is the browser tab of one scenario, with helpers that fail the test with context.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.fatal(what, err)
	}
}

// load runs steps that end in a navigation (a link, a form) and checks the final status.
func (p *page) load(what string, want int64, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	p.t.Helper()
	resp, err := chromedp.RunResponse(p.ctx, steps...)
	if err != nil {
		p.fatal(what, err)
	}
	if resp == nil {
		p.fatal(what, errors.New("no response"))
	}
	if resp.Status != want {
		p.fatal(what, fmt.Errorf("status %d, want %d", resp.Status, want))
	}
	return resp
}

func (p *page) navigate(what, url string) {
	p.t.Helper()
	resp, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		p.fatal(what, err)
	}
	if resp.Status != 200 {
		p.fatal(what, fmt.Errorf("status %d", resp.Status))
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.fatal("read "+sel, err)
	}
	return norm(s)
}

func (p *page) lang() string {
	p.t.Helper()
	a, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS("html"), "lang", chromedp.NodeReady))
	if err != nil {
		p.fatal("read <html lang>", err)
	}
	return a.Value
}

func (p *page) location() string {
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	return loc
}

// fitsPhone fails the scenario when the page is wider than a 390 px phone (it scrolls
// sideways).
func (p *page) fitsPhone(what string) {
	p.t.Helper()
	w, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		p.fatal(what, err)
	}
	if w > 390 {
		p.fatal(what, fmt.Errorf("page is %d px wide on a 390 px phone", w))
	}
}

// fatal stops the scenario, saying where the browser was and what the page said.
func (p *page) fatal(what string, err error) {
	p.t.Helper()
	loc := p.location()
	h1, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body || {innerText: ""}).innerText`))
	if len(h1) > 600 {
		h1 = h1[:600] + "…"
	}
	p.t.Fatalf("%s: %v\n  at %s\n  page: %s", what, err, loc, norm(h1))
}

// typeText types text into a field as an input method does. SendKeys drops the characters
// its keyboard table lacks (the ą of a Polish name), so names go through Input.insertText.
// typeName types a person's name in the registration form: in its one name field, or, where
// the tenant asks them apart (account.split_name, C3), the first name and the last name.
func typeName(name string, split bool) chromedp.Action[chromedp.Void] {
	if !split {
		return typeText(chromedp.CSS("#f-name"), name)
	}
	first, last, _ := strings.Cut(name, " ")
	return chromedp.Steps(typeText(chromedp.CSS("#f-first_name"), first), typeText(chromedp.CSS("#f-last_name"), last))
}

func typeText(sel chromedp.CSS, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(sel),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
}

// wantText checks that an element shows the expected text.
func (p *page) wantText(sel, want string) {
	p.t.Helper()
	if got := p.text(sel); got != norm(want) {
		p.t.Fatalf("%s shows %q, want %q (at %s)", sel, got, norm(want), p.location())
	}
}

// wantLang checks the page's <html lang>.
func (p *page) wantLang(want string) {
	p.t.Helper()
	if got := p.lang(); got != want {
		p.t.Fatalf("<html lang=%q>, want %q (at %s)", got, want, p.location())
	}
}

// screenshot takes a PNG of the whole page into dir and checks it is a real image of the
// expected width.
func (p *page) screenshot(dir, name string, width int) string {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		p.fatal("screenshot "+name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		p.t.Fatalf("screenshot %s is not a PNG (%d bytes): %v", name, len(buf), err)
	}
	if cfg.Width != width || cfg.Height < 100 {
		p.t.Errorf("screenshot %s is %dx%d, want width %d", name, cfg.Width, cfg.Height, width)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		p.t.Fatalf("screenshot %s is empty: %v", path, err)
	}
	p.t.Logf("screenshot %s (%dx%d, %d bytes)", path, cfg.Width, cfg.Height, len(buf))
	return path
}

// TestBrowserAccountJourney walks, in a real browser, the path a new user takes on two
// tenants with different default languages:
//
//	P4: the first page is in the tenant's default language (the browser asks for a language
//	    the tenant doesn't offer);
//	P2: registration → "check your e-mail" → the one-time link from the e-mail → "account
//	    activated" → login, with the user's name in the header;
//	P4: the language switcher changes the language of the page and of the user's next pages;
//
// and keeps a desktop and a mobile screenshot of the account page in the new language.
func TestBrowserAccountJourney(t *testing.T) {
	execPath := browsertest.Need(t)
	shots := screenshotDir(t)
	sqlite := dbtest.Backends()[0] // a browser run is slow: SQLite only
	for _, tc := range []struct {
		slug, host, lang, switchTo, name, email string
		secret                                  bool
	}{
		{slug: "mlab", host: "mlab.localhost", lang: "fr", switchTo: "sk", name: "Héloïse Martin", email: "heloise@example.org", secret: true},
		{slug: "elekarze", host: "elekarze.localhost", lang: "pl", switchTo: "fr", name: "Zofia Wąsowska", email: "zofia@example.org"},
	} {
		t.Run(tc.slug, func(t *testing.T) {
			e := newLiveEnv(t, sqlite)
			p := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}
			m := messages(t, tc.lang)
			const password = "correct horse battery"

			// a. P4: the home page comes in the tenant's default language.
			p.navigate("home page", e.url(tc.host, "/"))
			p.wantLang(tc.lang)

			// b. P2: register through the form linked from the header.
			p.load("open the registration form", 200, chromedp.Click(chromedp.CSS(`header .session a[href$="/register"]`)))
			p.wantLang(tc.lang)
			p.do("fill the registration form",
				chromedp.SendKeys(chromedp.CSS("#f-email"), tc.email),
				chromedp.SendKeys(chromedp.CSS("#f-password"), password),
				chromedp.SendKeys(chromedp.CSS("#f-password2"), password),
				typeName(tc.name, tc.slug == "elekarze"),
				// <input type=date>: its value is always yyyy-mm-dd, whatever the display.
				chromedp.SetValue(chromedp.CSS("#f-birth_date"), "1985-03-14"),
				// P6: the account terms and the data-processing consent, ticked by the person.
				chromedp.Click(chromedp.CSS(`input[name=accept_terms]`)),
				chromedp.Click(chromedp.CSS(`input[name=consent_data_processing]`)),
			)
			if tc.secret {
				// R2: MLab asks a secret question and its answer.
				p.do("fill the secret question",
					typeText(chromedp.CSS("#f-secret_question"), "Nom de mon premier chat ?"),
					typeText(chromedp.CSS("#f-secret_answer"), "Éléphant"),
				)
			}
			p.load("submit the registration form", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
			p.wantText("main h1", msg(t, m, "account.register.done_title"))

			// c. P2: the one-time link of the verification e-mail, then its confirm button.
			link := e.lastLink(tc.slug, tc.email)
			if want := e.url(tc.host, "/verify?token="); !strings.HasPrefix(link, want) {
				t.Fatalf("verification link %q does not start with %q", link, want)
			}
			p.navigate("open the verification link", link)
			p.load("confirm the address", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
			p.wantText("main h1", msg(t, m, "account.verify.done_title"))

			// d. P2: log in through the login form (linked from the "activated" page).
			p.load("open the login form", 200, chromedp.Click(chromedp.CSS(`main a[href$="/login"]`)))
			p.do("fill the login form",
				chromedp.SendKeys(chromedp.CSS("#f-email"), tc.email),
				chromedp.SendKeys(chromedp.CSS("#f-password"), password),
			)
			p.load("log in", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
			p.wantText("header .who", msg(t, m, "layout.signed_in_as", "Name", tc.name))
			p.wantLang(tc.lang)

			// e. P4: switch language from the account page; the switcher brings the user back
			// to the same page, now in the chosen language.
			p.load("open the account page", 200, chromedp.Click(chromedp.CSS(`header nav a[href$="/account"]`)))
			p.load("switch to "+tc.switchTo, 200,
				chromedp.Click(chromedp.CSS(fmt.Sprintf(`header form.langs button[name=lang][value=%s]`, tc.switchTo))))
			if loc := p.location(); loc != e.url(tc.host, "/account") {
				t.Errorf("after the language switch the browser is at %s, want the account page", loc)
			}
			p.wantLang(tc.switchTo)
			n := messages(t, tc.switchTo)
			p.wantText(`header nav a[href$="/account"]`, msg(t, n, "nav.account"))
			p.wantText(`header .session button`, msg(t, n, "nav.logout"))
			p.wantText("header .who", msg(t, n, "layout.signed_in_as", "Name", tc.name))
			// The choice holds for the session: on the next page too (issue 12.15: the account's
			// preference, its e-mails' language, changes on the account page alone).
			p.load("open the home page", 200, chromedp.Click(chromedp.CSS(`header .brand a`)))
			p.wantLang(tc.switchTo)
			p.load("back to the account page", 200, chromedp.Click(chromedp.CSS(`header nav a[href$="/account"]`)))
			p.wantText("main h1", msg(t, n, "account.title"))

			// f. Screenshots of the account page in the new language, desktop and phone.
			p.screenshot(shots, fmt.Sprintf("%s-account-%s-desktop.png", tc.slug, tc.switchTo), 1280)
			p.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Reload())
			p.wantLang(tc.switchTo)
			p.screenshot(shots, fmt.Sprintf("%s-account-%s-mobile.png", tc.slug, tc.switchTo), 390)
		})
	}
}
