package billing

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store/storetest"
)

// B5, P6 (walkthrough H): a credit note's page, the clerk's and the client's, offers the
// credit note's PDF in words that say it is the credit note ("l’avoir"), not "the invoice";
// the invoice's page still offers the invoice.
func TestCreditNotePageLinksItsPDF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001")
		inv := f.invoiceFor(sub, Date{2026, 11, 26})
		if res := f.send(f.A, clerk, "POST", "/billing/manage/invoices/"+inv.ID+"/credit", url.Values{"amount": {"10"}, "reason": {"Geste"}, "confirm": {"yes"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("credit %d %s", res.Status, res.Body)
		}
		var cn *Invoice
		for _, d := range f.invoices(f.A) {
			if d.Kind == invCreditNote {
				cn = &d
			}
		}
		if cn == nil {
			t.Fatal("no credit note")
		}
		for _, p := range []struct {
			who  string
			path string
		}{{"clerk", "/billing/manage/invoices/"}, {"client", "/billing/invoices/"}} {
			u := clerk
			if p.who == "client" {
				u = client
			}
			res := f.send(f.A, u, "GET", p.path+cn.ID, nil)
			page := string(res.Body)
			if res.Status != http.StatusOK || !strings.Contains(page, "Télécharger l’avoir (PDF)") || strings.Contains(page, "Télécharger la facture") {
				t.Errorf("H: the %s's credit note page (%d) does not offer the credit note's PDF as such:\n%s", p.who, res.Status, page)
			}
			page = string(f.send(f.A, u, "GET", p.path+inv.ID, nil).Body)
			if !strings.Contains(page, "Télécharger la facture (PDF)") || strings.Contains(page, "Télécharger l’avoir") {
				t.Errorf("H: the %s's invoice page does not offer the invoice's PDF:\n%s", p.who, page)
			}
		}
	})
}

// Walkthrough N: the module's navigation counts /billing/manage/subscriptions as the
// subscriptions' place; that address answers with their list (a redirect), never a 404, for
// the clerk.
func TestNavSubscriptionsAddressAnswers(t *testing.T) {
	f := setup(t, "sqlite")
	res := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions", nil)
	if res.Status != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "/billing/manage") {
		t.Errorf("N: /billing/manage/subscriptions answers %d %q", res.Status, res.Header.Get("Location"))
	}
	// The host grants the route to the clerk's permission only (the harness does not check it).
	for _, r := range f.m.Routes() {
		if r.Method == "GET" && r.Path == "/billing/manage/subscriptions" && r.Perm != permManage {
			t.Errorf("N: the address is open to %q", r.Perm)
		}
	}
}

// Walkthrough C (B4, B6): every irreversible action's "I confirm" box — suspending and
// terminating a late client, announcing a tariff — is the same markup as the credit note's:
// the box inside its label, beside its words (field check), never a box alone above a
// separate label.
func TestConfirmationBoxesBesideTheirWords(t *testing.T) {
	f := newDunFix(t, "sqlite")
	f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
	f.now = f.now.Add(15 * 24 * time.Hour)
	dun := string(f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil).Body)
	for _, id := range []string{"confirm_q_suspend_", "confirm_q_terminate_", "confirm_l_suspend_"} {
		if !strings.Contains(dun, `<div class="field check"><label><input type="checkbox" id="`+id+f.sub.ID+`"`) {
			t.Errorf("C: the dunning box %s is not beside its words:\n%s", id, dun)
		}
	}
	if strings.Contains(dun, `<label for="confirm_`) {
		t.Errorf("C: a dunning box still has a separate label")
	}
	cat := f.seedCatalog(f.A)
	tar := string(f.send(f.A, clerk, "GET", "/billing/manage/tariffs/"+f.draftTariff(f.A, cat), nil).Body)
	if !strings.Contains(tar, `<div class="field check"><label><input type="checkbox" id="f-confirm" name="confirm"`) {
		t.Errorf("C: the tariff announcement's box is not beside its words:\n%s", tar)
	}
}
