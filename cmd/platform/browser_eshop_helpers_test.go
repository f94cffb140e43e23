package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/mail"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
)

// The helpers of the e-shop's browser tests (issue 14 "Tests"): a customer of the demo tenant
// unilabs.localhost on a 390 px phone in Chromium, each page he reaches checked as he sees it.

const (
	eshopHost     = "unilabs.localhost"
	eshopCustomer = "user@unilabs.localhost"
	eshopPassword = "demo-unilabs-user"
	// eshopTimeout bounds a whole scenario, browser start included.
	eshopTimeout = 6 * time.Minute
)

var (
	// eshopCodeRe is a voucher's code as its e-mail writes it.
	eshopCodeRe = regexp.MustCompile(`\b[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b`)
	// eshopCountdownRe is what the cart's countdown shows: minutes and seconds left.
	eshopCountdownRe = regexp.MustCompile(`^\d{1,4}:[0-5]\d$`)
)

// domBooleanRe is a boolean attribute as a serialized document writes it.
var domBooleanRe = regexp.MustCompile(` (required|defer|async|checked|selected|disabled|hidden|readonly|multiple|autofocus|novalidate|open|inert)=""`)

// eshopRun is one scenario: the platform, the page checkers and the pages seen so far (the
// HTML as the server sent it, checked by html-validate when the scenario ends).
type eshopRun struct {
	t      *testing.T
	p      *platform
	checks *browsertest.Checks
	pages  map[string]string
	// slotsURL and slotFree are the page of the last slot put in the cart and what it said
	// of that slot's free places before.
	slotsURL, slotFree string
}

func newEshopRun(t *testing.T, p *platform, checks *browsertest.Checks) *eshopRun {
	r := &eshopRun{t: t, p: p, checks: checks, pages: map[string]string{}}
	t.Cleanup(r.validate)
	return r
}

// phone puts b's tab at 390 px wide, as a phone.
func (r *eshopRun) phone(b *person) {
	b.t.Helper()
	b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
}

// look checks the page b shows: it does not scroll sideways at 390 px, axe-core finds
// nothing serious or critical on it, and its HTML (fetched again with b's cookies, as the
// server sends it) is kept for html-validate.
func (r *eshopRun) look(b *person, name string) {
	b.t.Helper()
	r.lookAt(b, name, `fetch(location.href, {credentials: "same-origin"}).then(r => r.text())`)
}

// lookRefused is look for the answer to a refused form (a POST, not fetched again): its
// HTML is the document as the browser parsed it.
func (r *eshopRun) lookRefused(b *person, name string) {
	b.t.Helper()
	r.lookAt(b, name, `"<!doctype html>\n" + document.documentElement.outerHTML`)
}

func (r *eshopRun) lookAt(b *person, name, source string) {
	b.t.Helper()
	if w := eval[int](b, "page width", `Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`); w > phoneWidth {
		wide := eval[string](b, "what is too wide", `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > `+fmt.Sprint(phoneWidth)+`).slice(0, 5).map(e => e.tagName + "." + e.className).join(", ")`)
		b.t.Errorf("%s: %s is %d px wide on a %d px phone: it scrolls sideways (%s)", b.who, name, w, phoneWidth, wide)
	}
	vs, err := r.checks.Axe(b.ctx)
	if err != nil {
		b.fatal("axe-core on "+name, err)
	}
	for _, v := range browsertest.Serious(vs) {
		b.t.Errorf("%s: %s: axe-core: %s", b.who, name, v)
	}
	src, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](source, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatal("the source of "+name, err)
	}
	// The browser writes a boolean attribute of the parsed document as attr="": back to the
	// server's form.
	src = domBooleanRe.ReplaceAllString(src, " $1")
	r.pages[b.who+": "+name+" ("+b.at().Path+")"] = src
}

// validate runs html-validate on every page seen.
func (r *eshopRun) validate() {
	if len(r.pages) == 0 {
		return
	}
	problems, err := r.checks.ValidateHTML(r.pages)
	if err != nil {
		r.t.Error(err)
		return
	}
	for _, pr := range problems {
		r.t.Errorf("html-validate: %s", pr)
	}
	r.t.Logf("%d pages checked by html-validate, %d problems", len(r.pages), len(problems))
}

// signIn opens the login form on the phone and signs the demo customer in.
func (r *eshopRun) signIn(b *person, email, password, shown string) {
	b.t.Helper()
	r.phone(b)
	b.open("open the login form", b.url(eshopHost, "/login"), 200)
	r.look(b, "login")
	b.login(email, password, shown)
}

// click follows the link or presses the button sel and checks the page it ends on.
func (r *eshopRun) click(b *person, what, sel string, want int64) {
	b.t.Helper()
	if !b.has(sel) {
		b.fatal(what, fmt.Errorf("nothing matches %s", sel))
	}
	b.load(what, want, chromedp.Click(chromedp.CSS(sel)))
}

// hrefOf is the href attribute of the first element in sel whose text holds text when it
// is a link, or else of the first link inside it.
func hrefOf(b *person, sel, text string) string {
	b.t.Helper()
	h := eval[string](b, "find the link "+text, `(() => { const a = [...document.querySelectorAll(`+jsString(sel)+`)].find(a => a.textContent.includes(`+jsString(text)+`));
		const l = a && (a.matches("a") ? a : a.querySelector("a[href]")); return l ? l.getAttribute("href") : "" })()`)
	if h == "" {
		b.fatal("find the link", fmt.Errorf("no link %q in %s", text, sel))
	}
	return h
}

// choose selects, in the select box id, the option whose text holds text.
func choose(b *person, id, text string) {
	b.t.Helper()
	label := eval[string](b, "label of #"+id, `(document.querySelector('label[for=`+jsString(id)+`]') || {innerText: ""}).innerText`)
	if strings.TrimSpace(label) == "" {
		b.fatal("choose in #"+id, fmt.Errorf("no label names the field"))
	}
	ok := eval[bool](b, "choose "+text, `(() => { const s = document.getElementById(`+jsString(id)+`); if (!s) return false;
		const o = [...s.options].find(o => o.text.includes(`+jsString(text)+`)); if (!o) return false;
		s.value = o.value; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`)
	if !ok {
		b.fatal("choose in #"+id, fmt.Errorf("no option %q", text))
	}
}

// tickAll ticks every check box of the page's main form that is not ticked yet, one click
// each, as a person does.
func tickAll(b *person) int {
	b.t.Helper()
	n := 0
	for b.has(`main form input[type=checkbox]:not(:checked)`) {
		b.do("tick a declaration", chromedp.Click(chromedp.CSS(`main form input[type=checkbox]:not(:checked)`)))
		if n++; n > 30 {
			b.fatal("tick the declarations", fmt.Errorf("a box does not stay ticked"))
		}
	}
	return n
}

// mailsTo is the raw messages written to addr for slug, oldest first.
func (r *eshopRun) mailsTo(slug, addr string) [][]byte {
	var out [][]byte
	for _, raw := range r.p.mailbox(r.t, slug) {
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			r.t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(msg.Header.Get("To")), strings.ToLower(addr)) {
			out = append(out, raw)
		}
	}
	return out
}

// mailAfter waits for a message to addr, after the first n ones, whose text holds has, and
// returns its text parts and its PDF attachments.
func (r *eshopRun) mailAfter(addr string, n int, has string) (text string, pdfs []mailPart) {
	r.t.Helper()
	return r.mailOf("unilabs", addr, n, has)
}

// mailOf is mailAfter for the messages of the tenant slug.
func (r *eshopRun) mailOf(slug, addr string, n int, has string) (text string, pdfs []mailPart) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ms := r.mailsTo(slug, addr)
		for i := n; i < len(ms); i++ {
			text, pdfs = "", nil
			for _, part := range mailParts(r.t, ms[i]) {
				switch part.Type {
				case "text/plain":
					text += string(part.Body) + "\n"
				case "application/pdf":
					pdfs = append(pdfs, part)
				}
			}
			if strings.Contains(squash(text), squash(has)) {
				return text, pdfs
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no new e-mail to %s saying %q (%d new ones)", addr, has, len(ms)-n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetchPDF downloads path with b's cookies, as the browser does, and checks it is a PDF.
func fetchPDF(b *person, path string) []byte {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(`+jsString(path)+`, {credentials: "same-origin"}).then(async r => {
		if (!r.ok) return "status " + r.status;
		const buf = new Uint8Array(await r.arrayBuffer()); let s = "";
		for (let i = 0; i < buf.length; i++) s += String.fromCharCode(buf[i]);
		return "ok:" + (r.headers.get("Content-Type") || "") + ":" + btoa(s) })`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatal("download "+path, err)
	}
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] != "ok" || !strings.HasPrefix(parts[1], "application/pdf") {
		b.fatal("download "+path, fmt.Errorf("not a PDF: %.80s", s))
	}
	pdf, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		b.fatal("download "+path, err)
	}
	return pdf
}

// The hold of a cart line ends soon, as eshopExpire does, in two steps: the line's end
// (eshopCartEnds, at a moment written as the module writes it), then its job
// (eshopCartJobDue).
const (
	eshopCartEnds   = `UPDATE eshop_cart_items SET expires_at = ? WHERE id = ?`
	eshopCartJobDue = `UPDATE jobs SET run_at = created_at WHERE module = 'eshop' AND idempotency_key = 'cart:' || ? AND status = 'pending'`
)

// eshopExpireInvitation makes overdue order id's invitation end now, as eshopExpire does.
func eshopExpireInvitation(t *testing.T, p *platform, orderID string) {
	t.Helper()
	eshopChange(t, p, orderID,
		`UPDATE eshop_orders SET invite_deadline = overdue_at WHERE id = ? AND status = 'overdue'`,
		`UPDATE jobs SET run_at = created_at WHERE module = 'eshop' AND idempotency_key = 'cancel:' || ? AND status = 'pending'`)
}

// eshopExpire makes order id's payment time end now, as if the tenant's hours had passed:
// its deadline becomes its submission, a moment already gone, written by the module itself,
// and its deadline's job, which the platform keeps, becomes due.
func eshopExpire(t *testing.T, p *platform, orderID string) {
	t.Helper()
	eshopChange(t, p, orderID,
		`UPDATE eshop_orders SET pay_by = submitted_at WHERE id = ? AND status = 'submitted'`,
		`UPDATE jobs SET run_at = created_at WHERE module = 'eshop' AND idempotency_key = 'overdue:' || ? AND status = 'pending'`)
}

// eshopChange runs order, on the e-shop's database, then job, on the platform's, each
// changing one row of order id.
func eshopChange(t *testing.T, p *platform, orderID, order, job string) {
	t.Helper()
	eshopExec(t, filepath.Join(p.data, "modules", "eshop.db"), order, orderID)
	eshopExec(t, filepath.Join(p.data, "platform.db"), job, orderID)
}

// eshopExec runs query with args on the SQLite database file and checks it changed one row.
func eshopExec(t *testing.T, file, query string, args ...any) {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := d.Exec(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d rows changed by %s", n, query)
	}
}
