package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// The results browser test drives Debian's Chromium (headless) against `platform serve --demo`
// with the real module processes, as core/server/browser_test.go does for the account pages:
// it runs when a Chromium binary is found and is skipped otherwise, unless
// PLATFORM_TEST_BROWSER=require (as in CI), where a missing browser is a failure.
//
// Environment:
//   - PLATFORM_TEST_CHROMIUM: the browser binary to use; when set, nothing else is looked up.
//   - PLATFORM_TEST_BROWSER=require: fail instead of skipping when no browser is found.
//   - PLATFORM_TEST_SCREENSHOTS: where the screenshots are copied (default /tmp/results-shots).

// resultsScenarioTimeout bounds the whole scenario, browser start included.
const resultsScenarioTimeout = 90 * time.Second

// person is one person's tab in its own browser profile (a browser context: its own cookies),
// with helpers that fail the test saying where the browser was and what the page said.
type person struct {
	t    *testing.T
	who  string
	ctx  context.Context
	port string
}

// newPerson opens a tab in a new browser context of the browser of first.
func newPerson(t *testing.T, first context.Context, who, port string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(first, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: new browser context: %v", who, err)
	}
	return &person{t: t, who: who, ctx: ctx, port: port}
}

// url is the address of path on a host of the platform, as the browser reaches it.
func (b *person) url(host, path string) string {
	return "http://" + host + ":" + b.port + path
}

func (b *person) fatal(what string, err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body || {innerText: ""}).innerText`))
	if text = squash(text); len(text) > 800 {
		text = text[:800] + "…"
	}
	b.t.Fatalf("%s: %s: %v\n  at %s\n  page: %s", b.who, what, err, loc, text)
}

func (b *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fatal(what, err)
	}
}

// open goes to an address and checks the status of the page it ends on.
func (b *person) open(what, u string, want int64) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.fatal(what, err)
	}
	if resp.Status != want {
		b.fatal(what, fmt.Errorf("status %d, want %d", resp.Status, want))
	}
}

// load runs steps that end in a navigation (a link, a form) and checks the final status.
func (b *person) load(what string, want int64, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err == nil && resp == nil {
		err = fmt.Errorf("no response")
	}
	if err != nil {
		b.fatal(what, err)
	}
	if resp.Status != want {
		b.fatal(what, fmt.Errorf("status %d, want %d", resp.Status, want))
	}
}

// eval evaluates a JavaScript expression in b's page.
func eval[T any](b *person, what, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatal(what, err)
	}
	return v
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// text is what the first element matching sel shows, white space folded; "" when none does.
func (b *person) text(sel string) string {
	b.t.Helper()
	return squash(eval[string](b, "read "+sel, `(document.querySelector(`+jsString(sel)+`) || {innerText: ""}).innerText`))
}

func (b *person) has(sel string) bool {
	b.t.Helper()
	return eval[bool](b, "look for "+sel, `document.querySelector(`+jsString(sel)+`) !== null`)
}

// wantIn checks that the element sel shows each of wants.
func (b *person) wantIn(sel string, wants ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range wants {
		if !strings.Contains(got, squash(w)) {
			b.fatal("check "+sel, fmt.Errorf("it lacks %q; it shows %q", w, got))
		}
	}
}

// wantNotIn checks that the element sel shows none of bads.
func (b *person) wantNotIn(sel string, bads ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range bads {
		if strings.Contains(got, w) {
			b.fatal("check "+sel, fmt.Errorf("it shows %q: %q", w, got))
		}
	}
}

// at is the browser's address, parsed.
func (b *person) at() *url.URL {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fatal("location", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.fatal("location", err)
	}
	return u
}

// wantAt checks the host and path the browser is at.
func (b *person) wantAt(host, path string) {
	b.t.Helper()
	u := b.at()
	if u.Host != host+":"+b.port || u.Path != path {
		b.fatal("location", fmt.Errorf("at %s, want http://%s:%s%s", u, host, b.port, path))
	}
}

// fill types a value into the field with this id, after checking that a label names it (the
// person finds it by its label). <input type=date> takes its value as yyyy-mm-dd whatever
// the display; text goes through Input.insertText, as an input method types it (SendKeys
// drops the letters its keyboard table lacks, such as è).
func (b *person) fill(id, value string) {
	b.t.Helper()
	sel := "#" + id
	label := eval[string](b, "label of "+sel, `(document.querySelector('label[for=`+jsString(id)+`]') || {innerText: ""}).innerText`)
	if strings.TrimSpace(label) == "" {
		b.fatal("fill "+sel, fmt.Errorf("no label names the field"))
	}
	if eval[string](b, "type of "+sel, `(document.querySelector(`+jsString(sel)+`) || {type: ""}).type`) == "date" {
		b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
		return
	}
	b.do("fill "+sel, chromedp.Focus(chromedp.CSS(sel)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: value})
		return err
	}))
}

// login signs in through the login form the browser is on, and checks who is signed in.
func (b *person) login(email, password, name string) {
	b.t.Helper()
	b.fill("f-email", email)
	b.fill("f-password", password)
	b.load("sign in", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.wantIn("header .who", name)
}

// register fills the registration form the browser is on with fields (id → value), ticks
// the terms and the data-processing consent, sends it and checks the "check your e-mail"
// page; then it opens the link of the verification e-mail and confirms.
func (b *person) register(p *platform, host string, fields [][2]string, email string) {
	b.t.Helper()
	for _, f := range fields {
		b.fill(f[0], f[1])
	}
	b.do("tick the terms and the consent",
		chromedp.Click(chromedp.CSS(`main input[name=accept_terms]`)),
		chromedp.Click(chromedp.CSS(`main input[name=consent_data_processing]`)))
	b.load("send the registration form", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.wantIn("main h1", "Vérifiez votre boîte e-mail")

	link := linkRe.FindString(p.lastMailTo(b.t, "mlab", email))
	if want := b.url(host, "/verify?token="); !strings.HasPrefix(link, want) {
		b.t.Fatalf("%s: verification link %q does not start with %q", b.who, link, want)
	}
	b.open("open the verification link", link, 200)
	b.load("confirm the address", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.wantIn("main h1", "Compte activé")
}

// screenshots keeps PNGs of the whole page, desktop (1280 wide) then phone (390 wide), in
// dir, and copies them to keep (for a person to look at). A phone view reloads the page;
// the browser is back at desktop width afterwards. The test checks the pages' text, not
// their pixels: the image sizes are logged.
func (b *person) screenshots(dir, keep, name string) {
	b.t.Helper()
	shoot := func(file string) {
		buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			b.fatal("screenshot "+file, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(buf))
		if err != nil {
			b.t.Fatalf("screenshot %s is not a PNG (%d bytes): %v", file, len(buf), err)
		}
		for _, d := range []string{dir, keep} {
			if err := os.WriteFile(filepath.Join(d, file), buf, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
		b.t.Logf("screenshot %s (%dx%d, %d bytes)", filepath.Join(keep, file), cfg.Width, cfg.Height, len(buf))
	}
	shoot(name + "-desktop.png")
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Reload())
	shoot(name + "-phone.png")
	// Logged, not asserted (the test checks text): a page wider than the phone pans sideways.
	if w := eval[int](b, "page width", `document.documentElement.scrollWidth`); w > 390 {
		b.t.Logf("note: %s is %d px wide on a 390 px phone: it scrolls sideways", name, w)
	}
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 900), chromedp.Reload())
}

// squash folds runs of white space, no-break spaces included, as a browser's rendering does.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

var (
	patientReportPath = regexp.MustCompile(`^/results/r/([0-9a-f-]{36})$`)
	proReportPath     = regexp.MustCompile(`^/results/pro/r/([0-9a-f-]{36})$`)
)

// TestBrowserResults walks the person-facing parts of TestResultsEndToEnd in Chromium, on the
// demo tenant mlab, against `serve --demo` with the real module processes:
//
//	R1: the patients' portal (mlab.localhost) and the professionals' (pro.mlab.localhost),
//	    each with its own registration form;
//	R2: a patient registers (legal name, birth name, date of birth, e-mail, secret question
//	    and answer, terms and consent), confirms her address from the e-mail, signs in;
//	R3: the LIS's report (sent over HTTP with the tenant's API key) links itself to her;
//	R10: she is told by an e-mail with no health data, whose link brings her, once signed
//	    in, to her results;
//	R4: she sees the result in her list, opens it (values with the "Bas" flag) and downloads
//	    its PDF through the browser's download;
//	R9: her access log shows her own accesses, one for one, and later her prescriber's;
//	R5: a professional registers, waits for the lab (refused, then the waiting message),
//	    is activated by lab staff in the browser, then sees his patient's result and not
//	    the demo patient's, whose result page is not found for him.
//
// It keeps desktop and phone screenshots of the results list and of a result page.
func TestBrowserResults(t *testing.T) {
	execPath := browsertest.Need(t)
	started := time.Now()
	sqlite := dbtest.Backends()[0] // a browser run is slow: SQLite only
	p := startPlatformOn(t, sqlite, filepath.Join("..", "..", "tenants"))
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	port := base.Port()
	const (
		patients = "mlab.localhost"
		pros     = "pro.mlab.localhost"
	)
	shots, keep := t.TempDir(), os.Getenv("PLATFORM_TEST_SCREENSHOTS")
	if keep == "" {
		keep = "/tmp/results-shots"
	}
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}

	// 1. Over HTTP: the tenant admin creates the LIS's key (R3).
	admin := p.browser(patients)
	admin.login("admin@mlab.localhost", "demo-mlab-admin")
	code, body := admin.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"LIS"}, "permissions": {"results.import"}})
	key := apiKeyRe.FindString(body)
	if code != 200 || key == "" {
		t.Fatalf("create the LIS key: %d\n%s", code, body)
	}

	first := browsertest.Start(t, execPath, resultsScenarioTimeout)
	claire := &person{t: t, who: "Claire", ctx: first, port: port}

	// 2. R1, R2: Claire registers on the patients' portal, confirms her address from the
	// e-mail and signs in through the login form.
	const claireMail, clairePass = "claire@example.org", "Correct-Horse-42"
	claire.open("open the registration form", claire.url(patients, "/register"), 200)
	if !claire.has("#f-birth_name") || claire.has("#f-professional_number") {
		claire.fatal("patients' registration form", fmt.Errorf("want the birth name and no professional number"))
	}
	claire.register(p, patients, [][2]string{
		{"f-email", claireMail}, {"f-password", clairePass}, {"f-password2", clairePass},
		{"f-name", "Claire Lefèvre"}, {"f-birth_date", "1979-04-12"}, {"f-birth_name", "Moreau"},
		{"f-secret_question", "Nom de mon premier chat ?"}, {"f-secret_answer", "Félix"},
	}, claireMail)
	claire.load("open the login form", 200, chromedp.Click(chromedp.CSS(`main a[href$="/login"]`)))
	claire.login(claireMail, clairePass, "Claire Lefèvre")
	// Her first visit to the results: their terms first, then back (P6).
	claire.open("her first visit to the results", claire.url(patients, "/results/mine"), 200)
	claire.wantAt(patients, "/terms/accept")
	claire.do("tick the results terms", chromedp.Click(chromedp.CSS(`main input[name=accept]`)))
	claire.load("accept the results terms", 200, chromedp.Click(chromedp.CSS(`main form[action$="/terms/accept"] button[type=submit]`)))
	claire.wantAt(patients, "/results/mine")
	claire.wantIn("main", "Nous n’avons pas encore trouvé votre dossier")
	// She signs out: the e-mail finds her later, signed out.
	claire.load("sign out", 200, chromedp.Click(chromedp.CSS(`header .session form button[type=submit]`)))
	if claire.has("header .who") {
		claire.fatal("sign out", fmt.Errorf("still signed in"))
	}

	// 3. Over HTTP: the LIS sends her report (R3): she is linked and told (R10).
	report := map[string]any{"report_id": "LIS-2026-0001", "collected_at": "2026-11-20T07:45:00Z", "lab": "MLab Part-Dieu",
		"patient":    map[string]any{"lab_patient_id": "P-778", "last_name": "LEFEVRE", "first_name": "Claire", "birth_name": "Moreau", "birth_date": "1979-04-12"},
		"prescriber": map[string]any{"register_number": "10101010101", "name": "Dr Paul Martin"},
		"values":     []map[string]any{{"code": "FER", "label": "Ferritine", "value": "9", "unit": "µg/L", "low": 15, "high": 150, "flag": "L"}},
		"pdf_base64": samplePDF(t, "LEFÈVRE Claire")}
	if code, out := p.lisImport(t, patients, key, report); code != 201 || out["linked"] != true {
		t.Fatalf("import: %d %v", code, out)
	}
	note := p.lastMailTo(t, "mlab", claireMail)
	wantLink := claire.url(patients, "/login?next=/results/mine")
	links := linkRe.FindAllString(note, -1)
	found := false
	for _, l := range links {
		found = found || l == wantLink
	}
	if !strings.Contains(note, "Nouveaux résultats") || !found {
		t.Fatalf("notification: want the subject and the link %s; links %q\n%s", wantLink, links, note)
	}
	for _, health := range []string{"Ferritine", "FER", "µg/L", "LIS-2026-0001", "Dr Paul Martin"} {
		if strings.Contains(note, health) {
			t.Fatalf("notification carries health data %q:\n%s", health, note)
		}
	}

	// 4. R10, R4: the e-mail's link asks her to sign in, then brings her to her results.
	claire.open("open the e-mail's link", wantLink, 200)
	claire.wantAt(patients, "/login")
	claire.login(claireMail, clairePass, "Claire Lefèvre")
	claire.wantAt(patients, "/results/mine")
	claire.wantIn("main h1", "Mes résultats")
	if n := eval[int](claire, "count rows", `document.querySelectorAll("main tbody tr").length`); n != 1 {
		claire.fatal("her results", fmt.Errorf("%d rows, want 1", n))
	}
	claire.wantIn("main tbody tr", "20/11/2026", "MLab Part-Dieu", "Dr Paul Martin", "Complet")
	claire.screenshots(shots, keep, "results-list")

	claire.load("open her result", 200, chromedp.Click(chromedp.CSS(`main tbody tr a[href*="/results/r/"]`)))
	m := patientReportPath.FindStringSubmatch(claire.at().Path)
	if m == nil {
		claire.fatal("open her result", fmt.Errorf("not on a result page"))
	}
	id := m[1]
	claire.wantIn("main h1", "Compte rendu")
	claire.wantIn("main dl", "LEFEVRE Claire", "Moreau", "MLab Part-Dieu", "Dr Paul Martin")
	claire.wantIn("main", "Une valeur est en dehors des valeurs de référence.")
	claire.wantIn("main table thead", "Analyse", "Résultat", "Unité", "Valeurs de référence", "Indicateur")
	claire.wantIn("main table tbody tr", "Ferritine", "9", "µg/L", "15 – 150", "Bas")

	// The PDF through the browser's download (R4): the link has the download attribute and
	// the answer is an attachment; the browser saves it under its GUID in dl.
	dl := t.TempDir()
	dctx, cancelDL := context.WithTimeout(claire.ctx, 20*time.Second)
	defer cancelDL()
	begin := chromedp.Events(dctx, cdpbrowser.DownloadWillBegin)
	progress := chromedp.Events(dctx, cdpbrowser.DownloadProgress)
	events := true
	claire.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: &events})
		return err
	}))
	// (The lab's signed original; its printout in her language is the other download.)
	claire.wantIn(`main a[download][href$="/pdf?download=1"]`, "Télécharger le PDF")
	claire.do("download the PDF", chromedp.Click(chromedp.CSS(`main a[download][href$="/pdf?download=1"]`)))
	var suggested string
	for ev, err := range begin {
		if err != nil {
			claire.fatal("download", err)
		}
		suggested = ev.SuggestedFilename
		break
	}
	var saved string
	for ev, err := range progress {
		if err != nil {
			claire.fatal("download", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			claire.fatal("download", fmt.Errorf("canceled"))
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			saved = filepath.Join(dl, ev.GUID)
			break
		}
	}
	pdf, err := os.ReadFile(saved)
	if err != nil {
		t.Fatalf("downloaded file: %v", err)
	}
	text, err := pdfdoc.ExtractText(pdf)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || err != nil || !strings.Contains(text, "LEFÈVRE Claire") {
		t.Fatalf("downloaded %q (%d bytes) is not her report: %v\n%s", suggested, len(pdf), err, text)
	}
	if suggested != "LIS-2026-0001.pdf" {
		t.Errorf("the download is named %q, want LIS-2026-0001.pdf", suggested)
	}
	// Still on the result page: a download does not navigate.
	claire.wantAt(patients, "/results/r/"+id)

	// R9: her access log shows her two accesses, one record each, both hers.
	claire.open("her access log", claire.url(patients, "/results/access"), 200)
	claire.wantIn("main h1", "Qui a consulté mes résultats")
	rows := eval[[]string](claire, "access rows", `[...document.querySelectorAll("main tbody tr")].map(r => r.innerText.replace(/\s+/g, " ").trim())`)
	var views, downloads int
	for _, r := range rows {
		if !strings.Contains(r, "Vous") || !strings.Contains(r, "20/11/2026") {
			claire.fatal("access log", fmt.Errorf("row %q is not hers, on her result", r))
		}
		views += strings.Count(r, "Consultation d’un résultat")
		downloads += strings.Count(r, "Téléchargement du compte rendu PDF")
	}
	if len(rows) != 2 || views != 1 || downloads != 1 {
		claire.fatal("access log", fmt.Errorf("want one view and one download, got %q", rows))
	}

	claire.open("back to her result", claire.url(patients, "/results/r/"+id), 200)
	claire.screenshots(shots, keep, "result-page")

	// 5. R1, R5: a professional registers on his portal, which asks his register number and
	// not a birth name.
	paul := newPerson(t, first, "Paul", port)
	const paulMail, paulPass = "paul.martin@example.org", "Correct-Horse-43"
	paul.open("open the professionals' registration form", paul.url(pros, "/register"), 200)
	if paul.has("#f-birth_name") || paul.has(`[name=birth_name]`) || !paul.has("#f-professional_number") {
		paul.fatal("professionals' registration form", fmt.Errorf("want the register number and no birth name"))
	}
	paul.register(p, pros, [][2]string{
		{"f-email", paulMail}, {"f-password", paulPass}, {"f-password2", paulPass},
		{"f-name", "Paul Martin"}, {"f-birth_date", "1970-02-02"}, {"f-professional_number", "10101010101"},
		{"f-secret_question", "Ville natale ?"}, {"f-secret_answer", "Lyon"},
	}, paulMail)
	paul.load("open the login form", 200, chromedp.Click(chromedp.CSS(`main a[href$="/login"]`)))
	paul.login(paulMail, paulPass, "Paul Martin")
	// Not yet activated: his patients' results are refused, and the module says he waits.
	paul.open("his patients' results before activation", paul.url(pros, "/results/pro"), 403)
	paul.wantIn("main", "Accès refusé")
	paul.open("the module's page before activation", paul.url(pros, "/results"), 200)
	paul.wantIn("main", "Votre compte professionnel attend la vérification du laboratoire.")

	// Lab staff check his number and activate him, in the browser.
	staff := newPerson(t, first, "lab staff", port)
	staff.open("open the login form", staff.url(patients, "/login"), 200)
	staff.login("lab-staff@mlab.localhost", "demo-mlab-lab_staff", "Demo lab staff")
	staff.open("professionals to check", staff.url(patients, "/results/staff/professionals"), 200)
	action := eval[string](staff, "Paul's row", `(() => {
		const row = [...document.querySelectorAll("main tbody tr")].find(r => r.innerText.includes("Paul Martin"));
		const form = row && row.querySelector("form");
		return form ? form.getAttribute("action") : "";
	})()`)
	if !strings.HasSuffix(action, "/activate") {
		staff.fatal("professionals to check", fmt.Errorf("no activation form for Paul Martin (%q)", action))
	}
	form := `main form[action=` + jsString(action) + `]`
	staff.wantIn("main", "10101010101")
	// The field comes filled with the declared number; the staff types the number they checked.
	numberID := eval[string](staff, "number field", `(() => {
		const f = document.querySelector(`+jsString(form+` input[name=register_number]`)+`);
		if (!f) return "";
		f.value = "";
		return f.id;
	})()`)
	if numberID == "" {
		staff.fatal("activation form", fmt.Errorf("no register_number field"))
	}
	staff.fill(numberID, "10101010101")
	staff.load("activate", 200, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
	staff.wantIn("main", "Le compte professionnel est activé.")

	// R5: the module's page now brings him to his patients' results: the one he prescribed,
	// and not the demo patient's (another prescriber's).
	paul.open("the module's page once activated", paul.url(pros, "/results"), 200)
	paul.wantAt(pros, "/results/pro")
	paul.wantIn("main", "Résultats de mes patients", "n° 10101010101")
	if n := eval[int](paul, "count rows", `document.querySelectorAll("main tbody tr").length`); n != 1 {
		paul.fatal("his patients' results", fmt.Errorf("%d rows, want 1", n))
	}
	paul.wantIn("main tbody tr", "LEFEVRE Claire", "12/04/1979", "MLab Part-Dieu")
	paul.wantNotIn("main", "User Demo", "Durand")
	paul.load("open Claire's result", 200, chromedp.Click(chromedp.CSS(`main tbody tr a[href*="/results/pro/r/"]`)))
	if m := proReportPath.FindStringSubmatch(paul.at().Path); m == nil || m[1] != id {
		paul.fatal("open Claire's result", fmt.Errorf("want /results/pro/r/%s", id))
	}
	paul.wantIn("main table tbody tr", "Ferritine", "Bas")

	// The demo patient's result (prescribed by 10000000001): not found for him.
	demo := p.browser(patients)
	demo.login("user@mlab.localhost", "demo-mlab-user")
	_, body = demo.do("GET", "/results/mine", nil)
	demoIDs := reportRe.FindAllStringSubmatch(body, -1)
	if len(demoIDs) == 0 {
		t.Fatalf("the demo patient has no result:\n%s", body)
	}
	paul.open("the demo patient's result", paul.url(pros, "/results/pro/r/"+demoIDs[0][1]), 404)
	paul.wantIn("main", "Ce résultat n’existe pas ou ne vous est pas accessible.")
	paul.wantNotIn("main", "Glucose", "User Demo")

	// R9: Claire sees that her prescriber read her result.
	claire.open("her access log", claire.url(patients, "/results/access"), 200)
	claire.wantIn("main tbody", "Paul Martin")

	t.Logf("scenario ran in %s", time.Since(started).Round(time.Millisecond))
}
