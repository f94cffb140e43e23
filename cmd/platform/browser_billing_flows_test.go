package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// The demo's clients these scenarios act on (plugins/billing/demo.go: demoClients).
const (
	// Two of this month's drafts the clerk reviews; he issues the first (no one else
	// touches them).
	billingDraftA = "Cabinet Dupont"         // ESSENTIEL, no option: 89 € + 20 % VAT
	billingDraftB = "Centre médical Mercier" // INTEGRAL + agenda
	// Two clients whose drafts the clerk's run makes, in the order of their periods (the
	// 14th, then the 17th).
	billingRunA       = "Cabinet de cardiologie Lambert"
	billingRunB       = "Cabinet de kinésithérapie Roux"
	billingDraftAMail = "cabinet11@secretaires.localhost"
	// The late client without a formal notice, and the one whose notice is 17 days old.
	billingLate       = "Cabinet Girard"
	billingLateMail   = "cabinet08@secretaires.localhost"
	billingQualifying = "Maison de santé des Tilleuls"
	// The demo user's practice: his last invoice is late too.
	billingOwn = "Cabinet médical du Parc"
)

// TestBrowserBilling (issue 15 "Tests") in Chromium against `serve --demo`, on the demo tenant
// secretaires.localhost, every page on a 390 px phone: it does not scroll sideways, axe-core
// finds nothing serious on it, html-validate finds nothing in the HTML the server sent, and
// it shows no message id and no state in the database's English.
//   - B5: the clerk reviews this month's drafts, checks a draft's lines and totals, issues two
//     of them: each gets the next number of the one sequence, its state in words, and its
//     client the invoice by e-mail; last month's run shows its invoices.
//   - B5, B12: the client reads his invoices, opens his unpaid one, downloads its PDF (his
//     practice, the number, the total), reads his consumption and his messages, and sees the
//     notice that the service gives no medical advice.
//   - B6: on the dunning page the clerk sends the formal notice to the late client who has
//     none (the e-mail with the notice's PDF), suspends the client whose notice went
//     unanswered for 15 days, and the demo client; the client's portal says his service is
//     suspended; recording his payment restores it.
func TestBrowserBilling(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	port := base.Port()
	first := browsertest.Start(t, execPath, billingTimeout)

	t.Run("B5_clerk_reviews_and_issues_the_drafts", func(t *testing.T) {
		r := newBillingRun(t, p, checks)
		// Two clients' drafts of this month are not made yet: the clerk's run makes them.
		if n := billingTakeBackDrafts(t, p, billingRunA, billingRunB); n != 2 {
			t.Fatalf("%d drafts taken back, want 2", n)
		}
		c := newPerson(t, first, "clerk", port)
		r.signIn(c, billingClerk, billingClerkPassword, billingClerkName)
		c.wantAt(billingHost, "/billing/manage")

		// The invoices, filtered on the drafts: this month's, waiting for the clerk.
		r.click(c, "the invoices", `nav.module-nav a[href="/billing/manage/invoices"]`, 200)
		r.look(c, "invoices")
		choose(c, "f-state", "Brouillon")
		r.click(c, "filter the drafts", `main form.filters button[type=submit]`, 200)
		c.wantIn("main", billingDraftA, billingDraftB, "Brouillon (sans numéro)")
		c.wantNotIn("main tbody", "Payée", "Émise, à payer", billingRunA, billingRunB)
		r.look(c, "drafts")
		last := r.lastNumber(c)

		// B5: the clerk opens a draft, checks its lines (the plan for the period ahead), its
		// VAT, its total and the late-payment terms, and issues it.
		c.open("the drafts", c.url(billingHost, "/billing/manage/invoices?state=draft"), 200)
		r.click(c, "the draft of "+billingDraftA, `main a[href="`+hrefOf(c, "main tbody tr", billingDraftA)+`"]`, 200)
		c.wantIn("main", "Brouillon (sans numéro)", billingDraftA, "Total HT", "89,00 €", "TVA", "17,80 €", "Total TTC", "106,80 €")
		c.wantIn("main table", "Forfait Essentiel, du ", "1", "20 %")
		c.wantIn("main", "2 fois le taux d’intérêt légal", "40,00 €", "L441-10")
		r.look(c, "draft")
		n := len(r.mailsTo(billingSlug, billingDraftAMail))
		r.click(c, "issue the draft", `main form[action$="/issue"] button[type=submit]`, 200)
		c.wantIn("main dl.facts", "Émise, à payer", "Date d’émission", "Échéance")
		c.wantNotIn("main", "Brouillon")
		numA := billingNumberRe.FindString(c.text("main dl.facts"))
		if want := fmt.Sprintf("%06d", last+1); !strings.HasSuffix(numA, want) {
			t.Errorf("B5: after invoice %d the clerk's invoice got number %q, want the next one (…%s)", last, numA, want)
		}
		r.look(c, "issued invoice")
		// The client gets his invoice by e-mail, its PDF attached.
		text, pdfs := r.mailAfter(billingDraftAMail, n, numA)
		if len(pdfs) == 0 {
			t.Errorf("B5: the e-mail of invoice %s carries no PDF:\n%s", numA, text)
		} else {
			billingWant(t, "the e-mailed invoice "+numA, pdftotext(t, pdfs[0].Body), numA, billingDraftA, "106,80 €")
		}

		// The runs: a day to come is refused next to the field, nothing starts.
		c.open("the invoices", c.url(billingHost, "/billing/manage/invoices"), 200)
		r.click(c, "the runs", `main a[href="/billing/manage/runs"]`, 200)
		c.wantIn("main", "Terminé", "12 abonnements traités sur 12")
		r.look(c, "runs")
		runs := p.count(t, "billing", `SELECT COUNT(*) FROM billing_runs`)
		today := eval[string](c, "the day proposed", `document.getElementById("f-day").value`)
		c.do("a day to come", chromedp.SetValue(chromedp.CSS("#f-day"), "2099-01-01"))
		r.click(c, "start a run for a day to come", `main form[action="/billing/manage/runs"] button[type=submit]`, 422)
		if !c.has(`#f-day[aria-invalid=true]`) || c.text("#e-day") == "" {
			t.Errorf("B5: a run for a day to come is refused without a message next to the day: %q", c.text("main"))
		}
		r.lookRefused(c, "run refused")
		if got := p.count(t, "billing", `SELECT COUNT(*) FROM billing_runs`); got != runs {
			t.Errorf("a refused run started %d runs", got-runs)
		}
		// Today's run makes the two missing drafts; the clerk issues them all.
		c.do("today", chromedp.SetValue(chromedp.CSS("#f-day"), today))
		r.click(c, "start today's run", `main form[action="/billing/manage/runs"] button[type=submit]`, 200)
		deadline := time.Now().Add(40 * time.Second)
		for !strings.Contains(c.text("main dl.facts"), "Terminé") {
			if time.Now().After(deadline) {
				c.fatal("B5: the run", errorString("it does not finish"))
			}
			time.Sleep(500 * time.Millisecond)
			c.open("the run", c.at().String(), 200)
		}
		c.wantIn("main", "12 abonnements traités sur 12")
		c.wantIn("main dl.facts", "Factures établies 2")
		r.look(c, "run done")
		// Irreversible: the clerk confirms issuing them all (walkthrough 12).
		c.do("confirm issuing all", chromedp.Click(chromedp.CSS(`main form[action$="/issue"] input[name=confirm]`)))
		r.click(c, "issue all the run's drafts", `main form[action$="/issue"] button[type=submit]`, 200)
		if c.has(`main form[action$="/issue"]`) {
			t.Errorf("B5: the run still offers drafts to issue after issuing them all")
		}
		r.look(c, "run issued")
		c.open("the invoices", c.url(billingHost, "/billing/manage/invoices"), 200)
		// B5: the run's invoices, in the order of their periods, take the next numbers.
		for i, client := range []string{billingRunA, billingRunB} {
			row := eval[string](c, "the row of "+client, `[...document.querySelectorAll("main tbody tr")].find(tr => tr.textContent.includes(`+jsString(client)+`)).innerText`)
			if want := fmt.Sprintf("%06d", last+2+i); !strings.Contains(row, want) || !strings.Contains(row, "Émise, à payer") {
				t.Errorf("B5: the run's invoice of %s: %q, want number …%s, issued", client, squash(row), want)
			}
		}
		c.wantIn("main", numA)
		r.look(c, "invoices after issue")
	})

	t.Run("B5_B12_client_reads_and_downloads_his_invoice", func(t *testing.T) {
		r := newBillingRun(t, p, checks)
		u := newPerson(t, first, "client", port)
		r.signIn(u, billingClient, billingClientPass, billingClientName)
		u.wantAt(billingHost, "/billing/portal")
		// B12: the portal says the service is no medical advice.
		u.wantIn("main", "Pas de conseil médical", "ne constituent en aucun cas un diagnostic médical", "Essentiel", "Actif")

		r.click(u, "his invoices", `nav.module-nav a[href="/billing/invoices"]`, 200)
		u.wantIn("main", "Émise, à payer", "Payée", "148,80 €")
		r.look(u, "my invoices")
		number := billingNumberRe.FindString(u.text("main tbody tr"))
		if number == "" {
			u.fatal("his newest invoice", errorString("no number in the first row"))
		}
		r.click(u, "his invoice "+number, `main a[href="`+hrefOf(u, "main tbody tr", number)+`"]`, 200)
		u.wantIn("main", number, "Émise, à payer", billingOwn, "Forfait Essentiel", "Total TTC", "148,80 €", "Échéance")
		r.look(u, "my invoice")
		pdf := pdftotext(t, fetchPDF(u, eval[string](u, "the PDF's link", `document.querySelector('main a[href$="/pdf"]').getAttribute("href")`)))
		billingWant(t, "B5: the downloaded invoice", pdf, "Facture n° "+number, billingOwn, "12 rue du Parc", "Total TTC", "148,80 €", "L441-10")

		// His consumption: the period's calls and SMS beyond his allowance.
		r.click(u, "his consumption", `nav.module-nav a[href="/billing/usage"]`, 200)
		u.wantIn("main", "195 appels", "150 appels", "45 appels", "68 SMS", "27,00 €", "29,70 €")
		r.look(u, "my consumption")
		r.click(u, "his messages", `nav.module-nav a[href="/billing/messages"]`, 200)
		u.wantIn("main", "Mme Durand", "Souhaite décaler son rendez-vous")
		r.look(u, "my messages")
		// B12: also on the public offers.
		u.open("the offers", u.url(billingHost, "/billing/offers"), 200)
		u.wantIn("main", "aucun conseil médical")
		r.look(u, "offers")
	})

	t.Run("B6_notice_suspension_and_reactivation", func(t *testing.T) {
		r := newBillingRun(t, p, checks)
		c := newPerson(t, first, "clerk", port)
		r.signIn(c, billingClerk, billingClerkPassword, billingClerkName)
		r.click(c, "the dunning page", `nav.module-nav a[href="/billing/manage/dunning"]`, 200)
		c.wantIn("#q-h + p", "15 jours")
		c.wantIn("main", billingLate, billingQualifying, billingOwn, "Aucune mise en demeure envoyée.")
		r.look(c, "dunning")

		// B6: the formal notice to the late client who has none: an e-mail with its PDF.
		lateNumbers := billingNumberRe.FindAllString(eval[string](c, "the late invoices", `[...document.querySelectorAll("main article.card")].find(a => a.textContent.includes(`+jsString(billingLate)+`)).innerText`), -1)
		if len(lateNumbers) != 2 {
			t.Fatalf("B6: the late client's card lists invoices %v, want his two late ones", lateNumbers)
		}
		n := len(r.mailsTo(billingSlug, billingLateMail))
		notice := mustCardAttr(c, "main article.card", billingLate, `form[action$="/notice"]`, "action")
		// Sent at once and for good: the clerk confirms it first (walkthrough K).
		c.do("confirm the notice", chromedp.Click(chromedp.CSS(`main form[action="`+notice+`"] input[name=confirm]`)))
		r.click(c, "send the formal notice", `main form[action="`+notice+`"] button`, 200)
		if card := eval[string](c, "the late client's card", `[...document.querySelectorAll("main article.card")].find(a => a.textContent.includes(`+jsString(billingLate)+`)).innerText`); !strings.Contains(card, "Mise en demeure envoyée le") {
			t.Errorf("B6: after the notice the late client's card says: %s", squash(card))
		}
		r.look(c, "dunning after the notice")
		text, pdfs := r.mailAfter(billingLateMail, n, "mise en demeure")
		if len(pdfs) != 1 {
			t.Errorf("B6: the formal notice's e-mail carries %d PDFs, want the notice:\n%s", len(pdfs), text)
		} else {
			billingWant(t, "B6: the formal notice", pdftotext(t, pdfs[0].Body), append([]string{billingLate, "Mise en demeure"}, lateNumbers...)...)
		}

		// B6: the client whose notice went unanswered for 15 days is listed as such; the clerk
		// suspends him.
		c.wantIn("#q-h ~ ul", billingQualifying)
		suspend := mustCardAttr(c, "#q-h ~ ul li", billingQualifying, `form[action$="/suspend"]`, "action")
		c.do("confirm the suspension", chromedp.Click(chromedp.CSS(`main form[action="`+suspend+`"] input[name=confirm]`)))
		r.click(c, "suspend the qualifying client", `main form[action="`+suspend+`"] button`, 200)
		c.wantIn("main", "Le service du client est suspendu")
		r.look(c, "dunning after the suspension")
		subID := strings.Split(suspend, "/")[4]
		c.open("the suspended client's subscription", c.url(billingHost, "/billing/manage/subscriptions/"+subID), 200)
		c.wantIn("main", billingQualifying, "Suspendu")
		r.look(c, "suspended subscription")

		// The demo client is late too: the firm may suspend its services (B6).
		c.open("the dunning page", c.url(billingHost, "/billing/manage/dunning"), 200)
		own := mustCardAttr(c, "main article.card", billingOwn, `form[action$="/suspend"]`, "action")
		mails := len(r.mailsTo(billingSlug, billingClient))
		c.do("confirm the suspension", chromedp.Click(chromedp.CSS(`main form[action="`+own+`"] input[name=confirm]`)))
		r.click(c, "suspend the demo client", `main form[action="`+own+`"] button`, 200)
		c.wantIn("main", "Le service du client est suspendu")

		u := newPerson(t, first, "suspended client", port)
		r.signIn(u, billingClient, billingClientPass, billingClientName)
		u.open("his portal", u.url(billingHost, "/billing/portal"), 200)
		u.wantIn("main", "Suspendu", "service suspendu depuis le", "faute de paiement des factures échues")
		u.wantNotIn("main", "Actif")
		r.look(u, "portal, suspended")
		r.mailAfter(billingClient, mails, "nous suspendons nos prestations")

		// His payment, received by transfer, restores the service.
		ownSub := strings.Split(own, "/")[4]
		c.open("his payments", c.url(billingHost, "/billing/manage/payments?sub="+ownSub), 200)
		r.look(c, "payments of the demo client")
		invoice := eval[string](c, "the unpaid invoice", `document.querySelector("#f-invoice option").text`)
		amount := strings.TrimSuffix(strings.TrimSpace(invoice[strings.Index(invoice, "reste ")+len("reste "):strings.Index(invoice, "€")]), " ")
		c.do("paid by transfer", chromedp.Click(chromedp.CSS(`main input[name=method][value=transfer]`)))
		c.fill("f-reference", "Virement reçu du Cabinet médical du Parc")
		c.fill("f-amount", amount)
		r.click(c, "record the payment", `main form[action="/billing/manage/payments"] button[type=submit]`, 200)
		r.look(c, "payment recorded")
		r.mailAfter(billingClient, mails, "nos prestations reprennent")

		u.open("his portal", u.url(billingHost, "/billing/portal"), 200)
		u.wantIn("main", "Actif")
		u.wantNotIn("main", "Suspendu")
		r.look(u, "portal, reactivated")
		u.open("his invoices", u.url(billingHost, "/billing/invoices"), 200)
		u.wantNotIn("main", "Émise, à payer")
	})

	// The pages a client and the clerk read, in Polish and in Slovak (the tenant's other
	// languages): every one checked, none showing a message id.
	t.Run("B5_B6_B12_pages_in_polish_and_slovak", func(t *testing.T) {
		r := newBillingRun(t, p, checks)
		u := newPerson(t, first, "client", port)
		r.signIn(u, billingClient, billingClientPass, billingClientName)
		c := newPerson(t, first, "clerk", port)
		r.signIn(c, billingClerk, billingClerkPassword, billingClerkName)
		for _, lang := range []string{"pl", "sk"} {
			for _, b := range []*person{u, c} {
				b.load("switch to "+lang, 200, chromedp.Click(chromedp.CSS(`form.langs button[value=`+lang+`]`)))
				if got := eval[string](b, "the page's language", `document.documentElement.lang`); got != lang {
					b.fatal("switch to "+lang, errorString("the page is in "+got))
				}
			}
			for _, path := range []string{"/billing/portal", "/billing/invoices", "/billing/usage", "/billing/messages", "/billing/contract", "/billing/offers"} {
				u.open(path, u.url(billingHost, path), 200)
				r.look(u, lang+" "+path)
			}
			u.open("his invoices", u.url(billingHost, "/billing/invoices"), 200)
			r.click(u, "his newest invoice", `main tbody tr a`, 200)
			r.look(u, lang+" invoice")
			for _, path := range []string{"/billing/manage", "/billing/manage/invoices", "/billing/manage/runs", "/billing/manage/payments", "/billing/manage/dunning"} {
				c.open(path, c.url(billingHost, path), 200)
				r.look(c, lang+" "+path)
			}
			c.open("the drafts", c.url(billingHost, "/billing/manage/invoices?state=draft"), 200)
			r.click(c, "a draft", `main tbody tr a`, 200)
			r.look(c, lang+" draft")
		}
	})
}

// lastNumber is the highest invoice number's sequence the clerk's invoice list shows.
func (r *billingRun) lastNumber(b *person) int {
	b.t.Helper()
	b.open("the issued invoices", b.url(billingHost, "/billing/manage/invoices"), 200)
	last := 0
	for _, m := range billingNumberRe.FindAllStringSubmatch(b.text("main"), -1) {
		if n, _ := strconv.Atoi(m[1]); n > last {
			last = n
		}
	}
	if last == 0 {
		b.fatal("the last number", errorString("no issued invoice"))
	}
	return last
}
