package billing

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// B5: a credit note the firm issues against an invoice lowers that invoice's amount due: a
// payment of the rest (by hand or a bank line quoting the invoice) settles it — "paid",
// since something was paid —, a payment of the whole total is refused as an overpayment;
// a partly paid invoice credited for its rest is "paid" too, and its page (clerk's and
// client's) lists the payments received and what is still due.
func TestCreditNoteLowersAmountDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001", cat.Products["RDV"])
		inv := f.invoiceFor(sub, Date{2026, 11, 26})
		if inv.TotalMinor != 12480 {
			t.Fatalf("total %d", inv.TotalMinor)
		}
		path := "/billing/manage/invoices/" + inv.ID + "/credit"
		if res := f.send(f.A, clerk, "POST", path, url.Values{"amount": {"12,50"}, "reason": {"Geste"}, "confirm": {"yes"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("credit %d %s", res.Status, res.Body)
		}
		got := f.invoices(f.A)[0]
		if got.CreditedMinor != 1500 || due(&got) != 10980 || got.State != invIssued {
			t.Fatalf("B5: after a 15 € TTC credit note: credited %d, due %d, %s", got.CreditedMinor, due(&got), got.State)
		}
		// A bank line of the amount due quoting the invoice is matched; the old total is not.
		if matchInvoice([]Invoice{got}, "VIR "+*got.Number, got.TotalMinor) != nil {
			t.Errorf("B5: a bank line of the whole total matched a credited invoice")
		}
		if matchInvoice([]Invoice{got}, "VIR "+*got.Number, 10980) == nil {
			t.Errorf("B5: a bank line of the amount due was not matched")
		}
		// The credit note itself is never due.
		for _, d := range f.invoices(f.A) {
			if d.Kind == invCreditNote && due(&d) != 0 {
				t.Errorf("B5: a credit note is due %d", due(&d))
			}
		}
		var err error
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err = f.m.recordPayment(ctx, f.A, sc, paymentIn{InvoiceID: inv.ID, Method: payTransfer, Amount: 12480, On: Date{2026, 12, 5}, By: clerk.ID})
			return nil
		})
		if !errors.Is(err, errOverpay) {
			t.Errorf("B5: paying the whole total of a credited invoice: %v", err)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.recordPayment(ctx, f.A, sc, paymentIn{InvoiceID: inv.ID, Method: payTransfer, Amount: 10980, On: Date{2026, 12, 5}, By: clerk.ID})
			return err
		})
		if got := f.invoices(f.A)[0]; got.State != invPaid || due(&got) != 0 {
			t.Errorf("B5: paid the amount due: %s, due %d", got.State, due(&got))
		}

		// A second invoice, partly paid, then credited for its rest: paid.
		var inv2 *Invoice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			inv2, err = f.m.invoicePeriod(ctx, f.A, sc, sub, Date{2026, 12, 26})
			if err != nil {
				return err
			}
			_, err = f.m.recordPayment(ctx, f.A, sc, paymentIn{InvoiceID: inv2.ID, Method: payCheque, Amount: 6000, On: Date{2026, 12, 27}, By: clerk.ID})
			return err
		})
		page := string(f.send(f.A, client, "GET", "/billing/invoices/"+inv2.ID, nil).Body)
		if !strings.Contains(page, "Paiement reçu le 27/12/2026") || !strings.Contains(page, "Reste à payer") || !strings.Contains(page, "64,80") {
			t.Errorf("B5: the client's page of a partly paid invoice: %s", page)
		}
		// At 390 px each stacked line cell keeps its column's name; the totals are a list.
		for _, col := range []string{"Quantité", "Prix unitaire HT", "TVA", "Montant HT"} {
			if !strings.Contains(page, `data-label="`+col+`"`) {
				t.Errorf("walkthrough 24: no cell labelled %q", col)
			}
		}
		if strings.Contains(page, "<tfoot>") {
			t.Errorf("walkthrough 24: the totals are still a table footer")
		}
		// an empty amount (the whole rest) is refused on a partly paid invoice
		path2 := "/billing/manage/invoices/" + inv2.ID + "/credit"
		if res := f.send(f.A, clerk, "POST", path2, url.Values{"amount": {""}, "reason": {"x"}, "confirm": {"yes"}}); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("B5: whole credit of a partly paid invoice %d", res.Status)
		}
		// more than is due is refused (60,00 net = 72,00 TTC > 64,80)
		if res := f.send(f.A, clerk, "POST", path2, url.Values{"amount": {"60"}, "reason": {"x"}, "confirm": {"yes"}}); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("B5: a credit beyond the amount due %d", res.Status)
		}
		if res := f.send(f.A, clerk, "POST", path2, url.Values{"amount": {"54"}, "reason": {"Geste"}, "confirm": {"yes"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("B5: credit of the rest %d %s", res.Status, res.Body)
		}
		var got2 Invoice
		for _, d := range f.invoices(f.A) {
			if d.ID == inv2.ID {
				got2 = d
			}
		}
		if got2.State != invPaid || got2.CreditedMinor != 6480 || due(&got2) != 0 {
			t.Errorf("B5: partly paid then credited: %s credited %d due %d", got2.State, got2.CreditedMinor, due(&got2))
		}
	})
}

// B5 (walkthrough 23): the seller's country is written once on the invoice, also when its
// one-line legal address already ends with it; the buyer's country is still written.
func TestInvoicePDFCountryOnce(t *testing.T) {
	m := newModule()
	p := docParties(payTransfer)
	p.Seller = Party{Name: "Les Secrétaires SARL", Street: "12 rue de Rivoli, 75004 Paris, France", Country: "FR", Registration: "RCS Paris 812 345 678"}
	b, err := m.invoiceDocument(docTenant("fr"), docInvoice("fr"), p)
	if err != nil {
		t.Fatal(err)
	}
	text := flat(pdftest.Text(t, b, false))
	if n := strings.Count(text, "France"); n != 2 { // the seller's address, the buyer's
		t.Errorf("B5: \"France\" written %d times:\n%s", n, text)
	}
}

// B5 (walkthrough 13): a run whose day's periods already had their drafts (made by the daily
// job) makes none; its page says so and leads to those drafts, instead of a bare
// "Factures établies 0".
func TestRunThatMadeNothingSaysWhy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := withRules(f.A, "billing.review_drafts", true)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001")
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.invoicePeriod(ctx, ten, sc, sub, Date{2026, 11, 26})
			return err
		})
		res := f.send(ten, clerk, "POST", "/billing/manage/runs", url.Values{"day": {"2026-11-26"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("start run: %d %s", res.Status, res.Body)
		}
		runPath := strings.SplitN(strings.TrimPrefix(res.Header.Get("Location"), f.A.Base), "?", 2)[0]
		if err := f.h.Job(context.Background(), ten, jobRun, []byte(strings.TrimPrefix(runPath, "/billing/manage/runs/"))); err != nil {
			t.Fatal(err)
		}
		page := string(f.send(ten, clerk, "GET", runPath, nil).Body)
		if !strings.Contains(page, "aucune nouvelle facture") || !strings.Contains(page, `href="/billing/manage/invoices?state=draft"`) {
			t.Errorf("B5: the page of a run that made nothing: %s", page)
		}
	})
}

// TestCreditNoteMailToAClientWithoutAccount: a client with no account is written to at his
// contract's address; the e-mail's data then name him (the contract's contact), so that the
// host greets him by name instead of a bare "Bonjour," (walkthrough J); and a credit note's
// e-mail says its amount positive, in words of a credit (walkthrough I, B5).
func TestCreditNoteMailToAClientWithoutAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001", cat.Products["RDV"])
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("user_id = ''").Where("id = ?", sub.ID).Exec(ctx)
			return err
		})
		sub.UserID = ""
		inv := f.invoiceFor(sub, Date{2026, 11, 26})
		if res := f.send(f.A, clerk, "POST", "/billing/manage/invoices/"+inv.ID+"/credit", url.Values{"amount": {"12,50"}, "reason": {"Geste"}, "confirm": {"yes"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("credit %d %s", res.Status, res.Body)
		}
		var credit *sdk.Message
		for _, msg := range f.h.Host.Messages {
			if msg.Value.Template == tmplInvoiceIssued && msg.Value.Data["Credit"] == true {
				m := msg.Value
				credit = &m
			}
		}
		if credit == nil {
			t.Fatal("no credit note e-mail")
		}
		if credit.UserID != "" || credit.To != sub.Email || credit.Data["Name"] != sub.ContactName || sub.ContactName == "" {
			t.Errorf("J: credit note e-mail to %q/%q named %q, want %q", credit.UserID, credit.To, credit.Data["Name"], sub.ContactName)
		}
		text := strings.ReplaceAll(f.mailText("fr", *credit), "\u00a0", " ")
		if !strings.Contains(text, "un avoir de 15,00 € TTC") || strings.Contains(text, "-15") || strings.Contains(text, "−15") {
			t.Errorf("I: credit note e-mail: %s", text)
		}
		// Every billing e-mail is made by letter: without a contact the client's name; with an
		// account, the host's own name of the account (no "Name" in the data).
		noContact := *sub
		noContact.ContactName = ""
		if msg := letter(&noContact, tmplSuspended, "/billing/invoices", nil); msg.To != sub.Email || msg.Data["Name"] != sub.ClientName {
			t.Errorf("J: without a contact: %+v", msg)
		}
		withAccount := *sub
		withAccount.UserID = client.ID
		if msg := letter(&withAccount, tmplSuspended, "/billing/invoices", map[string]any{"End": "x"}); msg.UserID != client.ID || msg.Data["Name"] != nil {
			t.Errorf("J: with an account: %+v", msg)
		}
	})
}
