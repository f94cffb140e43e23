package billing

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// payFix is the fixture with, in tenant A, the catalog, one active subscription and what
// the payments tests add.
type payFix struct {
	*fixture
	sub *Subscription
	seq int64
}

func newPayFix(t *testing.T, b storetest.Backend) *payFix {
	f := &payFix{fixture: setup(t, b)}
	f.sub = f.subscribe(f.A, client, "plan", Date{2026, 9, 14}, "+33140000017")
	return f
}

// invoice stores, straight in the table, an issued invoice of sub numbered number, of total
// cents, due on due (the invoices part makes them in the module).
func (f *payFix) invoice(sub *Subscription, number string, total int64, due Date) *Invoice {
	f.t.Helper()
	f.seq++
	n, y, seq := number, due.Y, f.seq
	inv := &Invoice{TenantID: f.A.ID, ID: newID(), Kind: invInvoice, SubscriptionID: sub.ID, State: invIssued, Number: &n, Year: &y, Seq: &seq,
		PeriodStart: due.AddDays(-4), PeriodEnd: due.AddDays(25), IssuedOn: due.AddDays(-4), DueOn: due, Currency: "EUR", Locale: "fr",
		NetMinor: total * 100 / 120, VATMinor: total - total*100/120, TotalMinor: total, CreatedAt: f.now}
	f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(inv).Exec(ctx)
		return err
	})
	return inv
}

// reload reads an invoice again.
func (f *payFix) reload(id string) Invoice {
	f.t.Helper()
	var inv Invoice
	f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&inv).Where("inv.id = ?", id).Scan(ctx)
	})
	return inv
}

func (f *payFix) subNow() Subscription {
	f.t.Helper()
	return *f.fixture.reload(f.A, f.sub.ID)
}

// pay posts the payment form.
func (f *payFix) pay(inv *Invoice, method, ref, amount, on string) *sdk.Response {
	f.t.Helper()
	return f.send(f.A, clerk, "POST", "/billing/manage/payments", url.Values{"sub": {f.sub.ID}, "invoice": {inv.ID}, "method": {method},
		"reference": {ref}, "amount": {amount}, "received_on": {on}})
}

// TestPaymentsPartialFullOverpay: partial payments accumulate in PaidMinor, more than what
// remains is refused next to the amount with nothing changed, and the payment that completes
// the total makes the invoice paid on the day it was received (B5); only money received is
// recorded, never a deduction (B6).
func TestPaymentsPartialFullOverpay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})

		res := f.send(f.A, clerk, "GET", "/billing/manage/payments?sub="+f.sub.ID, nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "F2026-0017") {
			t.Fatalf("payments page: %d\n%s", res.Status, res.Body)
		}
		if res := f.pay(inv, payTransfer, "VIR 123", "50,00", "2026-11-20"); res.Status != http.StatusSeeOther {
			t.Fatalf("partial payment: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(inv.ID); got.PaidMinor != 5000 || got.State != invIssued || !got.PaidOn.IsZero() {
			t.Fatalf("after a partial payment: paid %d, state %s, paid on %v", got.PaidMinor, got.State, got.PaidOn)
		}
		// More than the 56,80 € that remain: refused next to the amount, nothing recorded.
		res = f.pay(inv, payCheque, "1234567", "56,81", "2026-11-21")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-amount"`) ||
			!strings.Contains(string(res.Body), "dépasse ce qui reste dû") {
			t.Fatalf("over-payment: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(inv.ID); got.PaidMinor != 5000 || f.countRows(f.A, (*Payment)(nil)) != 1 {
			t.Fatalf("an over-payment changed something: paid %d", got.PaidMinor)
		}
		// A cheque without its number, a day to come, an amount that is not one.
		for _, bad := range [][4]string{{payCheque, "", "10,00", "2026-11-21"}, {payTransfer, "VIR", "10,00", "2026-11-27"}, {payTransfer, "VIR", "dix", "2026-11-21"}, {"cash", "x", "1", "2026-11-21"}} {
			if res := f.pay(inv, bad[0], bad[1], bad[2], bad[3]); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("%v accepted: %d", bad, res.Status)
			}
		}
		if res := f.pay(inv, payCheque, "1234567", "56,80", "2026-11-21"); res.Status != http.StatusSeeOther {
			t.Fatalf("payment of the rest: %d\n%s", res.Status, res.Body)
		}
		got := f.reload(inv.ID)
		if got.PaidMinor != 10680 || got.State != invPaid || got.PaidOn != (Date{2026, 11, 21}) {
			t.Fatalf("after the full payment: paid %d, state %s, paid on %v", got.PaidMinor, got.State, got.PaidOn)
		}
		if res := f.pay(inv, payTransfer, "VIR 9", "0,01", "2026-11-21"); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("a paid invoice took another payment: %d", res.Status)
		}
		if len(f.audits(auditPaymentRecorded)) != 2 {
			t.Fatalf("audit records: %d", len(f.audits(auditPaymentRecorded)))
		}
		// A direct debit carries the subscription's mandate, whatever was typed.
		inv2 := f.invoice(f.sub, "F2026-0018", 2000, Date{2026, 12, 5})
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("mandate_ref = ?", "RUM-SEC-0042").Where("id = ?", f.sub.ID).Exec(ctx)
			return err
		})
		if res := f.pay(inv2, payDebit, "", "20", "2026-11-26"); res.Status != http.StatusSeeOther {
			t.Fatalf("debit: %d\n%s", res.Status, res.Body)
		}
		var p Payment
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&p).Where("pay.invoice_id = ?", inv2.ID).Scan(ctx)
		})
		if p.Reference != "RUM-SEC-0042" || p.Method != payDebit {
			t.Fatalf("debit recorded as %+v", p)
		}
		// Another tenant's clerk cannot reach the subscription.
		if res := f.send(f.B, clerk, "GET", "/billing/manage/payments?sub="+f.sub.ID, nil); res.Status != http.StatusNotFound {
			t.Fatalf("tenant B sees tenant A's subscription: %d", res.Status)
		}
	})
}

// TestPaymentsConcurrentNeverOverpay: payments recorded at once against one invoice never
// take it beyond its total: the guarded update lets exactly as many through as fit (B5).
func TestPaymentsConcurrentNeverOverpay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0020", 10000, Date{2026, 11, 5})
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
					_, err := f.m.recordPayment(ctx, f.A, sc, paymentIn{InvoiceID: inv.ID, Method: payTransfer, Amount: 3000, On: Date{2026, 11, 20}, Reference: "VIR"})
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, errOverpay) || errors.Is(err, errNotPayable):
					refused++
				default:
					t.Errorf("payment: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		got := f.reload(inv.ID)
		if ok != 3 || refused != n-3 || got.PaidMinor != 9000 || f.countRows(f.A, (*Payment)(nil)) != 3 {
			t.Fatalf("%d recorded, %d refused, paid %d, %d payment rows; want 3, %d, 9000, 3", ok, refused, got.PaidMinor, f.countRows(f.A, (*Payment)(nil)), n-3)
		}
	})
}

// upload posts a statement file to the import page.
func (f *payFix) upload(name string, data []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("statement", name)
	if err != nil {
		f.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	req := &sdk.Request{Method: "POST", Path: "/billing/manage/payments/import", RemoteIP: "10.9.9.9", Header: http.Header{}, Body: body.Bytes()}
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := f.h.Send(context.Background(), f.A, clerk, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *payFix) openLines() []BankLine {
	var out []BankLine
	f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("bl.state = ?", lineOpen).OrderExpr("bl.amount_minor DESC").Scan(ctx)
	})
	return out
}

// TestImportCSV: a French bank's CSV export (date;libellé;montant, decimal comma, Windows-1252)
// — the credit naming an issued invoice for its amount due is recorded as its payment, a
// credit naming none is listed for the clerk, debits are left out; importing the same file
// again adds nothing; a malformed file is refused next to the field with nothing stored (B5).
func TestImportCSV(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})
		other := f.invoice(f.sub, "F2026-0021", 5000, Date{2026, 12, 5})
		csv := "Date;Libellé;Montant;Devise\r\n" +
			"20/11/2026;VIR SEPA CABINET DR MARTIN FACT F2026-0017;106,80;EUR\r\n" +
			"21/11/2026;VIR SEPA INCONNU REGLEMENT;1 250,00;EUR\r\n" +
			"22/11/2026;PRLV SEPA URSSAF;-320,00;EUR\r\n" +
			"23/11/2026;VIR CABINET MARTIN F2026-0021 ACOMPTE;20,00;EUR\r\n"
		// Windows-1252, as the bank exports it ("Libellé" with é as one byte).
		raw := bytes.ReplaceAll([]byte(csv), []byte("é"), []byte{0xe9})
		res := f.upload("releve.csv", raw)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("import: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(inv.ID); got.State != invPaid || got.PaidMinor != 10680 || got.PaidOn != (Date{2026, 11, 20}) {
			t.Fatalf("matched invoice: %+v", got)
		}
		if got := f.reload(other.ID); got.PaidMinor != 0 {
			t.Fatalf("a line for less than the amount due was recorded: %d", got.PaidMinor)
		}
		open := f.openLines()
		if len(open) != 2 || open[0].AmountMinor != 125000 || open[1].AmountMinor != 2000 {
			t.Fatalf("unmatched lines: %+v", open)
		}
		page := f.send(f.A, clerk, "GET", "/billing/manage/payments/import?done=payments_imported&matched=1&unmatched=2&known=0", nil)
		if !strings.Contains(string(page.Body), "VIR SEPA INCONNU REGLEMENT") || !strings.Contains(string(page.Body), "1 opération rapprochée") {
			t.Fatalf("import page:\n%s", page.Body)
		}
		// The same statement again adds nothing.
		if res := f.upload("releve.csv", raw); res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "known=3") {
			t.Fatalf("re-import: %d %s", res.Status, res.Header.Get("Location"))
		}
		if f.countRows(f.A, (*Payment)(nil)) != 1 || f.countRows(f.A, (*BankLine)(nil)) != 2 {
			t.Fatalf("re-import added: %d payments, %d lines", f.countRows(f.A, (*Payment)(nil)), f.countRows(f.A, (*BankLine)(nil)))
		}
		// The clerk assigns the deposit by hand to its invoice, and sets the other aside.
		var dep, unk BankLine
		for _, l := range open {
			if l.AmountMinor == 2000 {
				dep = l
			} else {
				unk = l
			}
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/payments/import/lines/"+dep.ID+"/assign", url.Values{"number": {"F2026-9999"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), `id="e-number_`+dep.ID+`"`) {
			t.Fatalf("unknown number: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/payments/import/lines/"+dep.ID+"/assign", url.Values{"number": {"F2026-0021"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("assign: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(other.ID); got.PaidMinor != 2000 || got.State != invIssued {
			t.Fatalf("assigned line: %+v", got)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/payments/import/lines/"+unk.ID+"/ignore", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("ignore: %d", res.Status)
		}
		if len(f.openLines()) != 0 {
			t.Fatalf("lines still open: %+v", f.openLines())
		}
		// Still nothing new on a third import, now that the lines were dealt with.
		f.upload("releve.csv", raw)
		if f.countRows(f.A, (*Payment)(nil)) != 2 || f.countRows(f.A, (*BankLine)(nil)) != 2 {
			t.Fatalf("third import added: %d payments, %d lines", f.countRows(f.A, (*Payment)(nil)), f.countRows(f.A, (*BankLine)(nil)))
		}
		// Malformed: a line with a date that is none; nothing stored.
		bad := "20/11/2026;VIR F2026-0021;30,00\n31/02/2026;VIR;abc\n"
		res = f.upload("bad.csv", []byte(bad))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-statement"`) || !strings.Contains(string(res.Body), "Ligne en cause : 2") {
			t.Fatalf("malformed file: %d\n%s", res.Status, res.Body)
		}
		if f.countRows(f.A, (*Payment)(nil)) != 2 || f.reload(other.ID).PaidMinor != 2000 {
			t.Fatal("a malformed file stored something")
		}
	})
}

const camtSample = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-20261124</MsgId><CreDtTm>2026-11-24T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-20261124-1</Id>
   <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></Acct>
   <Ntry>
    <NtryRef>N1</NtryRef>
    <Amt Ccy="EUR">106.80</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd>
    <Sts>BOOK</Sts>
    <BookgDt><Dt>2026-11-23</Dt></BookgDt>
    <ValDt><Dt>2026-11-23</Dt></ValDt>
    <AcctSvcrRef>2026112300017</AcctSvcrRef>
    <NtryDtls><TxDtls><RmtInf><Ustrd>Cabinet Dr Martin</Ustrd><Ustrd>facture F2026-0017</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <NtryRef>N2</NtryRef>
    <Amt Ccy="EUR">42.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd>
    <BookgDt><Dt>2026-11-23</Dt></BookgDt>
    <NtryDtls><TxDtls><RmtInf><Ustrd>DON ASSOCIATION</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">15.00</Amt>
    <CdtDbtInd>DBIT</CdtDbtInd>
    <BookgDt><Dt>2026-11-23</Dt></BookgDt>
    <AcctSvcrRef>FRAIS-11</AcctSvcrRef>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>`

// TestImportCAMT053: a camt.053 statement — the credit entry whose remittance text names an
// issued invoice for its amount due is recorded (source: the bank's AcctSvcrRef), the other
// credit is listed, the debit left out; importing it again adds nothing; a file that is not
// one is refused (B5).
func TestImportCAMT053(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})
		if res := f.upload("releve.xml", []byte(camtSample)); res.Status != http.StatusSeeOther {
			t.Fatalf("import: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(inv.ID); got.State != invPaid || got.PaidOn != (Date{2026, 11, 23}) {
			t.Fatalf("matched invoice: %+v", got)
		}
		var p Payment
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&p).Scan(ctx) })
		if p.Reference != "2026112300017" || p.SourceKey == nil || p.Method != payTransfer {
			t.Fatalf("payment: %+v", p)
		}
		if open := f.openLines(); len(open) != 1 || open[0].AmountMinor != 4200 || open[0].Label != "DON ASSOCIATION" || open[0].Reference != "N2" {
			t.Fatalf("unmatched: %+v", open)
		}
		f.upload("releve.xml", []byte(camtSample))
		if f.countRows(f.A, (*Payment)(nil)) != 1 || f.countRows(f.A, (*BankLine)(nil)) != 1 {
			t.Fatal("re-import added lines")
		}
		for _, bad := range []string{"<Document><BkToCstmrStmt>", `<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy="EUR">1,5</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-11-23</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt></Document>`} {
			if res := f.upload("x.xml", []byte(bad)); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("malformed CAMT accepted: %d", res.Status)
			}
		}
		if f.countRows(f.A, (*BankLine)(nil)) != 1 {
			t.Fatal("a malformed file stored something")
		}
	})
}

// TestMatchInvoiceWholeNumber: an invoice number is matched as a whole word (F2026-1 is not
// found in F2026-12), and only for the amount still due.
func TestMatchInvoiceWholeNumber(t *testing.T) {
	n1, n12 := "F2026-1", "F2026-12"
	invs := []Invoice{{ID: "a", Number: &n1, TotalMinor: 1000}, {ID: "b", Number: &n12, TotalMinor: 1000, PaidMinor: 400}}
	for _, c := range []struct {
		text   string
		amount int64
		want   string
	}{{"VIR F2026-12", 600, "b"}, {"VIR F2026-12", 1000, ""}, {"vir f2026-1 merci", 1000, "a"}, {"VIR F2026-123", 600, ""}, {"F2026-1/F2026-12", 1000, "a"}} {
		got := matchInvoice(invs, c.text, c.amount)
		if (got == nil && c.want != "") || (got != nil && got.ID != c.want) {
			t.Errorf("%q %d: got %v, want %q", c.text, c.amount, got, c.want)
		}
	}
}

// creditNote stores an issued credit note of sub for total cents.
func (f *payFix) creditNote(sub *Subscription, number string, total int64) *Invoice {
	f.t.Helper()
	f.seq++
	n, y, seq := number, 2026, f.seq
	cn := &Invoice{TenantID: f.A.ID, ID: newID(), Kind: invCreditNote, SubscriptionID: sub.ID, State: invIssued, Number: &n, Year: &y, Seq: &seq,
		PeriodStart: Date{2026, 11, 1}, PeriodEnd: Date{2026, 11, 30}, IssuedOn: Date{2026, 11, 20}, Currency: "EUR", Locale: "fr",
		TotalMinor: total, CreatedAt: f.now}
	f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(cn).Exec(ctx)
		return err
	})
	return cn
}

// TestSetOffOnlyWhenAgreed: a credit note is set against an invoice only for a subscription
// whose special conditions agree to set-off in writing; never more than the credit note holds,
// even by two set-offs at once (B6).
func TestSetOffOnlyWhenAgreed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})
		cn := f.creditNote(f.sub, "A2026-0001", -2000)
		post := func(amount string) *sdk.Response {
			return f.send(f.A, clerk, "POST", "/billing/manage/payments/setoff", url.Values{"sub": {f.sub.ID}, "credit_note": {cn.ID},
				"setoff_invoice": {inv.ID}, "setoff_amount": {amount}})
		}
		res := post("15,00")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-credit_note"`) || !strings.Contains(string(res.Body), "pas acceptée par écrit") {
			t.Fatalf("set-off without agreement: %d\n%s", res.Status, res.Body)
		}
		if f.reload(inv.ID).PaidMinor != 0 || f.countRows(f.A, (*SetOff)(nil)) != 0 {
			t.Fatal("a set-off without agreement changed the invoice")
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("set_off_agreed = TRUE").Where("id = ?", f.sub.ID).Exec(ctx)
			return err
		})
		if page := string(f.send(f.A, clerk, "GET", "/billing/manage/payments?sub="+f.sub.ID, nil).Body); !strings.Contains(page, "A2026-0001") {
			t.Fatalf("the credit note is not offered:\n%s", page)
		}
		if res := post("15,00"); res.Status != http.StatusSeeOther {
			t.Fatalf("set-off: %d\n%s", res.Status, res.Body)
		}
		if got := f.reload(inv.ID); got.PaidMinor != 1500 || got.State != invIssued {
			t.Fatalf("after the set-off: %+v", got)
		}
		if res := post("5,01"); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-credit_note"`) {
			t.Fatalf("more than the credit note holds: %d", res.Status)
		}
		// Two set-offs at once of 5 € each, with 5 € left: one goes through.
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		sub := f.subNow()
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
					_, err := f.m.setOff(ctx, f.A, sc, &sub, cn.ID, inv.ID, 500, "clerk1")
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if !errors.Is(err, errCreditUsed) {
					t.Errorf("set-off: %v", err)
				}
			}()
		}
		wg.Wait()
		if got := f.reload(inv.ID); ok != 1 || got.PaidMinor != 2000 || f.countRows(f.A, (*SetOff)(nil)) != 2 {
			t.Fatalf("%d concurrent set-offs went through, paid %d", ok, got.PaidMinor)
		}
	})
}

// TestParseCSVLines: a quoted label may hold a semicolon; a heading and debits are left out;
// the same operation twice in one statement is two lines with two keys, the same on every
// import (B5).
func TestParseCSVLines(t *testing.T) {
	csv := "Date opération;Libellé;Montant\n" +
		`20/11/2026;"REMISE CHQ; CABINET MARTIN";89,00` + "\n" +
		"20/11/2026;REMISE CHQ;89,00\n20/11/2026;REMISE CHQ;89,00\n" +
		"2026-11-21;FRAIS;-3,50\n"
	lines, err := parseStatement([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0].Label != "REMISE CHQ; CABINET MARTIN" || lines[0].Amount != 8900 || lines[1].Key == lines[2].Key {
		t.Fatalf("lines: %+v", lines)
	}
	again, _ := parseStatement([]byte(csv))
	for i := range lines {
		if again[i].Key != lines[i].Key {
			t.Fatal("a line's key changes between imports")
		}
	}
	if methodOf(lines[0].Label) != payCheque || methodOf("PRLV SEPA CABINET") != payDebit || methodOf("VIR SEPA") != payTransfer {
		t.Fatal("methods read from labels")
	}
	for _, bad := range []string{"", "20/11/2026;VIR\n", "20/11/2026;VIR;12,345\n", "32/11/2026;VIR;12,00\n20/11/2026;VIR;1,00\n"} {
		if _, err := parseStatement([]byte(bad)); err == nil {
			t.Errorf("%q read", bad)
		}
	}
	usd := strings.Replace(camtSample, `<Amt Ccy="EUR">106.80</Amt>`, `<Amt Ccy="USD">106.80</Amt>`, 1)
	lines, err = parseStatement([]byte(usd))
	if err != nil || len(lines) != 2 || lines[0].Currency != "USD" {
		t.Fatalf("CAMT in USD: %v %+v", err, lines)
	}
}

// TestImportTwiceAtOnce: the same statement imported twice at the same moment records each
// line once — the source key is unique — and neither import fails (B5).
func TestImportTwiceAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		inv := f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})
		lines, err := parseStatement([]byte("20/11/2026;VIR F2026-0017;106,80\n21/11/2026;VIR INCONNU;5,00\n"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.m.importStatement(context.Background(), f.A, lines, "clerk1"); err != nil {
					t.Errorf("import: %v", err)
				}
			}()
		}
		wg.Wait()
		if got := f.reload(inv.ID); got.PaidMinor != 10680 || f.countRows(f.A, (*Payment)(nil)) != 1 || f.countRows(f.A, (*BankLine)(nil)) != 1 {
			t.Fatalf("paid %d, %d payments, %d lines", got.PaidMinor, f.countRows(f.A, (*Payment)(nil)), f.countRows(f.A, (*BankLine)(nil)))
		}
	})
}

// B6: a credit note the firm issued against an invoice already lowered that invoice; it is
// never offered, nor taken, to be set off a second time against another invoice, even where
// set-off is agreed.
func TestSetOffNeverCountsACreditTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("set_off_agreed = TRUE").Where("id = ?", f.sub.ID).Exec(ctx)
			return err
		})
		first := f.invoice(f.sub, "F2026-0031", 10680, Date{2026, 11, 5})
		other := f.invoice(f.sub, "F2026-0032", 10680, Date{2026, 12, 5})
		cn := f.creditNote(f.sub, "A2026-0009", -2000)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Update((*Invoice)(nil)).Set("credits_id = ?", first.ID).Where("id = ?", cn.ID).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Update((*Invoice)(nil)).Set("credited_minor = 2000").Where("id = ?", first.ID).Exec(ctx)
			return err
		})
		if page := string(f.send(f.A, clerk, "GET", "/billing/manage/payments?sub="+f.sub.ID, nil).Body); strings.Contains(page, `value="`+cn.ID+`"`) {
			t.Fatal("a credit note already deducted from its invoice is offered for set-off")
		}
		sub := f.subNow()
		err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.setOff(ctx, f.A, sc, &sub, cn.ID, other.ID, 2000, "clerk1")
			return err
		})
		if !errors.Is(err, errCreditUsed) || f.reload(other.ID).PaidMinor != 0 {
			t.Fatalf("the credit was set off twice: %v, paid %d", err, f.reload(other.ID).PaidMinor)
		}
	})
}
