package billing

import (
	"net/http"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
)

// B5 (walkthrough M): the bank-import help shows a statement line naming an invoice by a
// number of the form the tenant's invoices carry (the rule billing.invoice_prefix, then the
// year and the sequence: FA-2026-000017), and a statement holding such a line, or a bank's
// own wording around such a number, pays that invoice.
func TestImportExampleNamesTenantNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/payments/import", nil).Body)
		i, j := strings.Index(page, "<code>"), strings.Index(page, "</code>")
		if i < 0 || j < i {
			t.Fatalf("M: no example line on the import page:\n%s", page)
		}
		example := page[i+len("<code>") : j]
		if !strings.Contains(example, "FA-2026-000017") || strings.Contains(example, "FACTURE") {
			t.Fatalf("M: the example does not name a number of the tenant's form: %q", example)
		}
		inv := f.invoice(f.sub, "FA-2026-000017", 10680, Date{2026, 12, 5})
		other := f.invoice(f.sub, "FA-2026-000018", 5000, Date{2027, 1, 5})
		csv := "Date;Libellé;Montant\r\n" + example + "\r\n" +
			"27/11/2026;VIR INST DR MARTIN REF:FA-2026-000018/NOV;50,00\r\n"
		if res := f.upload("releve.csv", []byte(csv)); res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "matched=2") {
			t.Fatalf("M: import %d %s\n%s", res.Status, res.Header.Get("Location"), res.Body)
		}
		for _, x := range []*Invoice{inv, other} {
			if got := f.reload(x.ID); got.State != invPaid || got.PaidMinor != x.TotalMinor {
				t.Errorf("M: %s not paid by the line naming it: %+v", *x.Number, got)
			}
		}

		// Another prefix, another example: the help follows the rule.
		f.A = withRules(f.A, "billing.invoice_prefix", "LS")
		page = string(f.send(f.A, clerk, "GET", "/billing/manage/payments/import", nil).Body)
		if !strings.Contains(page, "LS-2026-000017") || strings.Contains(page, "FA-2026-000017") {
			t.Errorf("M: with the prefix LS the example does not follow the rule:\n%s", page)
		}
	})
}
