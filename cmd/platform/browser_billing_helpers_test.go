package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/browsertest"
)

// The helpers of the billing module's browser tests (issue 15 "Tests"): Les Secrétaires'
// clerk and a client doctor of the demo tenant secretaires.localhost on a 390 px phone in
// Chromium, each page they reach checked as they see it (the e-shop's checks: no sideways
// scroll, axe-core, html-validate) and read for what a person must never see.

const (
	billingHost          = "secretaires.localhost"
	billingSlug          = "secretaires"
	billingClerk         = "billing-clerk@secretaires.localhost"
	billingClerkPassword = "demo-secretaires-billing_clerk"
	billingClerkName     = "Demo billing clerk"
	billingClient        = "user@secretaires.localhost"
	billingClientPass    = "demo-secretaires-user"
	billingClientName    = "Demo User"
	// billingTimeout bounds the whole run, browser start included.
	billingTimeout = 4 * time.Minute
)

var (
	// billingNumberRe is an issued invoice's number as the demo tenant writes it (its rule
	// billing.invoice_prefix, the year, six digits).
	billingNumberRe = regexp.MustCompile(`\bFA-\d{4}-(\d{6})\b`)
	// billingKeyRe is a message id left untranslated on a page ("billing.runs.state.done").
	billingKeyRe = regexp.MustCompile(`\b(billing|rule|mail|audit|job)\.[a-z_]+\.[a-z_.]+\b`)
	// billingEnglishRe is a state as the database writes it, shown as such.
	billingEnglishRe = regexp.MustCompile(`\b(draft|issued|paid|credited|suspended|terminated|running|stopped|done|pending|late|overdue)\b`)
)

// billingRun is one scenario: the e-shop's page checks (look, click, html-validate at the
// end) on the billing demo tenant.
type billingRun struct {
	*eshopRun
}

func newBillingRun(t *testing.T, p *platform, checks *browsertest.Checks) *billingRun {
	return &billingRun{newEshopRun(t, p, checks)}
}

// look checks the page b shows as eshopRun.look does, and that its text names no message
// id and no state in the database's English.
func (r *billingRun) look(b *person, name string) {
	b.t.Helper()
	r.eshopRun.look(b, name)
	text := b.text("body")
	if k := billingKeyRe.FindString(text); k != "" {
		b.t.Errorf("%s: %s shows the message id %q", b.who, name, k)
	}
	if w := billingEnglishRe.FindString(text); w != "" {
		b.t.Errorf("%s: %s shows the English state %q", b.who, name, w)
	}
}

// signIn opens the login form on the phone and signs email in; the page he lands on is
// checked.
func (r *billingRun) signIn(b *person, email, password, shown string) {
	b.t.Helper()
	r.phone(b)
	b.open("open the login form", b.url(billingHost, "/login"), 200)
	r.look(b, "login")
	b.login(email, password, shown)
	r.look(b, "landing")
}

// mailAfter waits for a message of the demo tenant to addr, after its first n ones, whose
// text holds has; it returns the message's text parts and its PDF attachments.
func (r *billingRun) mailAfter(addr string, n int, has string) (text string, pdfs []mailPart) {
	r.t.Helper()
	return r.mailOf(billingSlug, addr, n, has)
}

// cardAttr is the attribute attr of the first element matching inner inside the first
// element matching outer whose text holds text ("" when there is none).
func cardAttr(b *person, outer, text, inner, attr string) string {
	b.t.Helper()
	return eval[string](b, "find "+inner+" of "+text, `(() => { const c = [...document.querySelectorAll(`+jsString(outer)+`)].find(c => c.textContent.includes(`+jsString(text)+`));
		const e = c && c.querySelector(`+jsString(inner)+`); return e ? e.getAttribute(`+jsString(attr)+`) : "" })()`)
}

// mustCardAttr is cardAttr, failing when there is no such element.
func mustCardAttr(b *person, outer, text, inner, attr string) string {
	b.t.Helper()
	v := cardAttr(b, outer, text, inner, attr)
	if v == "" {
		b.fatal("find "+inner, fmt.Errorf("no %s in a %s showing %q", inner, outer, text))
	}
	return v
}

// billingWant checks that a document's text (a PDF read back, an e-mail) shows each of
// wants, white space folded.
func billingWant(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	flat := squash(text)
	for _, w := range wants {
		if !strings.Contains(flat, squash(w)) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// billingTakeBackDrafts deletes the drafts, and their lines, that the demo made this month
// for the clients named, as if the daily catch-up had not made them yet: the clerk's run
// makes them again. It returns how many drafts went.
func billingTakeBackDrafts(t *testing.T, p *platform, clients ...string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(p.data, "modules", "billing.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n := 0
	for _, client := range clients {
		const drafts = `SELECT inv.id FROM billing_invoices inv JOIN billing_subscriptions s ON s.tenant_id = inv.tenant_id AND s.id = inv.subscription_id
			WHERE s.client_name = ? AND inv.state = 'draft'`
		if _, err := d.Exec(`DELETE FROM billing_invoice_lines WHERE invoice_id IN (`+drafts+`)`, client); err != nil {
			t.Fatal(err)
		}
		res, err := d.Exec(`DELETE FROM billing_invoices WHERE id IN (`+drafts+`)`, client)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n
}
