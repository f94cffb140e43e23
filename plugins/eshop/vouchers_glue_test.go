package eshop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// Tests of the glue between the orders, the payments and the vouchers (E4, E5, E14).

// eur is an amount as pdftotext reads it back (plain spaces).
func eur(minor int64) string {
	return strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(locales.FormatMoney("sk", minor, "EUR"))
}

// flat is text with its white space made single spaces (a PDF's lines wrap).
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// issueCodes sells and issues, in f's tenant, qty vouchers bought by Boris — test vouchers
// of item when value is 0, else value vouchers of value — and returns their codes.
func (f *ordFixture) issueCodes(item *Item, value int64, qty int) []string {
	f.t.Helper()
	p := &VoucherPurchase{TenantID: f.T.ID, ID: newID(), UserID: f.boris.ID, Quantity: qty, Currency: "EUR", Status: purchasePending,
		BuyerName: f.boris.Name, Locale: "sk", CreatedAt: f.m.now()}
	if value == 0 {
		pr := linePrice(f.T, item)
		p.Kind, p.ItemID, p.ItemName, p.FaceMinor = voucherTest, item.ID, item.Name, pr.Gross()
		p.PriceMinor, p.VATPercent, p.FeeMinor, p.FeeVATPercent = pr.PriceMinor, pr.VATPercent, pr.FeeMinor, pr.FeeVATPercent
	} else {
		p.Kind, p.FaceMinor = voucherValue, value
	}
	p.AmountMinor = p.FaceMinor * int64(qty)
	var codes []string
	err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(p).Exec(ctx); err != nil {
			return err
		}
		if ok, err := f.m.voucherPurchasePaid(ctx, sc, f.T, p.ID); err != nil || !ok {
			return errors.Join(err, errors.New("not issued"))
		}
		return sc.Select((*voucherReveal)(nil)).Column("vr.code").Where("vr.purchase_id = ?", p.ID).Scan(ctx, &codes)
	})
	if err != nil || len(codes) != qty {
		f.t.Fatalf("issue: %v %v", codes, err)
	}
	return codes
}

// addCodeFrom types code in u's cart from the address ip.
func (f *ordFixture) addCodeFrom(u *sdk.User, ip, code string) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), f.T, u, &sdk.Request{Method: "POST", Path: "/eshop/cart/codes", RemoteIP: ip,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(url.Values{"code": {code}}.Encode())})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *ordFixture) cartCodes(u *sdk.User) []string {
	var out []string
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*CartCode)(nil)).Column("cc.code").Where("cc.user_id = ?", u.ID).Order("cc.code").Scan(ctx, &out)
	})
	return out
}

// TestCartCodesPreviewAndTries (E14.e): a code typed in the cart is counted against the
// account's and the address's budget of tries a minute (then every code, good or not, gets
// the one generic message and is not kept); a code that does not apply is refused with that
// message; the cart shows under the field what each code covers, a value voucher's balance
// left and its last day, and what remains to pay.
func TestCartCodesPreviewAndTries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		if res := f.addLine(f.anna, f.item, "", slotAt(9)); res.Status != http.StatusSeeOther {
			t.Fatalf("add line: %d %s", res.Status, res.Body)
		}
		value := f.issueCodes(nil, 5000, 1)[0]
		other := f.issueCodes(f.kids, 0, 1)[0] // a test voucher of a test not in the cart
		test := f.issueCodes(f.item, 0, 1)[0]
		generic := sk(f.m, msgCodeRefused)

		if res := f.addCodeFrom(f.anna, "10.0.0.1", value); res.Status != http.StatusSeeOther {
			t.Fatalf("a good code: %d %s", res.Status, res.Body)
		}
		page := f.do(f.anna, "GET", "/eshop/cart", nil)
		body := string(page.Body)
		var v Voucher
		f.read(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&v).Where("vo.kind = ?", voucherValue).Scan(ctx)
		})
		gross := linePrice(f.T, f.item).Gross()
		for _, w := range []string{"pokrýva", locales.FormatMoney("sk", gross, "EUR"), locales.FormatMoney("sk", 5000-gross, "EUR"),
			locales.FormatDate("sk", v.LastDay(), zone(f.T)), "zostáva zaplatiť " + locales.FormatMoney("sk", 0, "EUR")} {
			if !strings.Contains(body, w) {
				t.Errorf("E14.e: the cart's preview lacks %q", w)
			}
		}
		if v.BalanceMinor != 5000 {
			t.Errorf("the preview spent the voucher: %d", v.BalanceMinor)
		}
		// A code that covers nothing in the cart: the generic message, not kept.
		res := f.addCodeFrom(f.anna, "10.0.0.1", other)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), generic) {
			t.Errorf("E14.e: a code covering nothing: %d", res.Status)
		}
		// 8 more wrong tries (10 in the minute), then the good test code is refused too.
		for i := range 8 {
			if res := f.addCodeFrom(f.anna, "10.0.0.1", "WRONG-CODE-"+string(rune('A'+i))+"2345-67890"); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong code %d: %d", i, res.Status)
			}
		}
		res = f.addCodeFrom(f.anna, "10.0.0.1", test)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), generic) {
			t.Errorf("E14.e: the 11th try in a minute: %d", res.Status)
		}
		// The address's budget is spent too: another account from it is refused; from
		// another address it is not.
		if res := f.addCodeFrom(f.boris, "10.0.0.1", test); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("E14.e: another account from a spent address: %d", res.Status)
		}
		if res := f.addCodeFrom(f.boris, "10.0.0.2", test); res.Status != http.StatusSeeOther {
			t.Errorf("another account from another address: %d %s", res.Status, res.Body)
		}
		if got := f.cartCodes(f.anna); len(got) != 1 || got[0] != normCode(value) {
			t.Errorf("E14.e: anna's cart keeps %v", got)
		}
		// The next minute, the test code is taken, and covers the line in full.
		f.advance(61e9)
		if res := f.addCodeFrom(f.anna, "10.0.0.1", test); res.Status != http.StatusSeeOther {
			t.Fatalf("the next minute: %d %s", res.Status, res.Body)
		}
		body = string(f.do(f.anna, "GET", "/eshop/cart", nil).Body)
		if !strings.Contains(body, f.item.Name+" v plnej výške") {
			t.Errorf("E14.e: the test voucher's cover is not shown")
		}
		// The preview in French and Polish: no key, no English.
		for lang, want := range map[string]string{"fr": "couvre", "pl": "pokrywa"} {
			ten := f.T
			ten.Locale = lang
			res, err := f.h.Do(context.Background(), ten, f.anna, "GET", "/eshop/cart", nil)
			if err != nil || res.Status != http.StatusOK || !strings.Contains(string(res.Body), want) || strings.Contains(string(res.Body), "eshop.") {
				t.Errorf("E14.e: the cart's preview in %s: %v %d", lang, err, res.Status)
			}
		}
	})
}

// submitCovered submits u's cart, which vouchers pay in full, and returns the order's id.
func (f *ordFixture) submitCovered(u *sdk.User) string {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), f.T, u, &sdk.Request{Method: "POST", Path: "/eshop/checkout",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(f.checkoutForm(u).Encode()), TermsVersion: "v7"})
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []string
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Order)(nil)).Column("o.id").Where("o.user_id = ?", u.ID).Scan(ctx, &ids)
	})
	if res.Status != http.StatusSeeOther || len(ids) != 1 || !strings.Contains(res.Header.Get("Location"), "/eshop/orders/"+ids[0]) {
		f.t.Fatalf("checkout: %d %s %v", res.Status, res.Header.Get("Location"), ids)
	}
	return ids[0]
}

// TestVoucherPaidOrderConfirmed (E5, E14.e): an order vouchers pay in full is paid at its
// submission and gets the same confirmation e-mail with the invoice as one paid through the
// gateway, once (the sweeps after it send nothing more); no payment is opened. Its invoice
// shows the line a test voucher paid as paid by voucher, without VAT charged again (E14: the
// VAT was invoiced at the voucher's sale).
func TestVoucherPaidOrderConfirmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "", slotAt(9))
		code := f.issueCodes(f.item, 0, 1)[0]
		if res := f.addCodeFrom(f.anna, "10.0.0.1", code); res.Status != http.StatusSeeOther {
			t.Fatalf("code: %d", res.Status)
		}
		id := f.submitCovered(f.anna)
		o, _ := f.order(id)
		gross := linePrice(f.T, f.item).Gross()
		if o.Status != orderPaid || o.VoucherMinor != gross || o.DueMinor != 0 {
			t.Fatalf("order %+v", o)
		}
		f.job(jobPaySweep, "")
		f.job(jobOrdersSweep, "")
		msgs := f.messages(tmplOrderPaid)
		if len(msgs) != 1 {
			t.Fatalf("E5: %d confirmations of an order vouchers paid", len(msgs))
		}
		msg := msgs[0]
		var pays int64
		var inv Invoice
		f.read(func(ctx context.Context, sc *store.Scope) error {
			n, err := sc.Select((*Payment)(nil)).Where("pay.ref_id = ?", id).Count(ctx)
			pays = n
			if err != nil {
				return err
			}
			return sc.Select(&inv).Where("inv.ref_id = ?", id).Scan(ctx)
		})
		if pays != 0 || msg.UserID != f.anna.ID || msg.Data["Invoice"] != inv.Number || len(msg.Attachments) != 2 ||
			string(msg.Attachments[0].Data) != string(inv.PDF) || inv.TotalMinor != 0 {
			t.Fatalf("E5: payments %d, confirmation %+v, invoice %s total %d", pays, msg.Data, inv.Number, inv.TotalMinor)
		}
		for _, w := range []string{f.item.Name, "Nalačno.", "Odberné miesto Ružinov"} {
			if !strings.Contains(msg.Data["Items"].(string)+msg.Data["Preparation"].(string), w) {
				t.Errorf("the confirmation lacks %q", w)
			}
		}
		text := pdftotext(t, msg.Attachments[0].Data)
		paidBy := sk(f.m, "eshop.pay.invoice.voucher_paid")
		if lineWith(text, f.item.Name, paidBy) == "" || lineWith(text, "23 %") != "" ||
			lineWith(text, sk(f.m, "eshop.pay.invoice.voucher_paid_total"), eur(gross)) == "" ||
			lineWith(text, sk(f.m, "eshop.pay.invoice.total"), eur(0)) == "" || !strings.Contains(flat(text), flat(sk(f.m, "eshop.pay.invoice.voucher_paid_note"))) {
			t.Errorf("E14: the invoice of an order a test voucher paid:\n%s", text)
		}
	})
}

// TestTestVoucherLineOnGatewayInvoice (E5, E14): in an order of two tests, one paid by a test
// voucher and the other through the gateway, the invoice shows the first as paid by voucher
// without VAT and charges VAT on the second only; its total is what the gateway took.
func TestTestVoucherLineOnGatewayInvoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "", slotAt(9))
		f.addLine(f.anna, f.kids, "", slotAt(10))
		code := f.issueCodes(f.item, 0, 1)[0]
		if res := f.addCodeFrom(f.anna, "10.0.0.1", code); res.Status != http.StatusSeeOther {
			t.Fatalf("code: %d", res.Status)
		}
		id := f.submit(f.anna)
		o, _ := f.order(id)
		kids := linePrice(f.T, f.kids)
		if o.DueMinor != kids.Gross() {
			t.Fatalf("due %d, want %d", o.DueMinor, kids.Gross())
		}
		p, err := f.m.loadPayment(context.Background(), f.T, "ref_id = ?", id)
		if err != nil {
			t.Fatal(err)
		}
		notices, err := sandboxOf(f.T).Decide(p.GatewayRef, true)
		if err != nil {
			t.Fatal(err)
		}
		if res := f.do(nil, "POST", "/eshop/gateway/sandbox/notify", notices[0]); res.Status != http.StatusOK {
			t.Fatalf("notify: %d", res.Status)
		}
		msgs := f.messages(tmplOrderPaid)
		if len(msgs) != 1 {
			t.Fatalf("%d confirmations", len(msgs))
		}
		text := pdftotext(t, msgs[0].Attachments[0].Data)
		paidBy := sk(f.m, "eshop.pay.invoice.voucher_paid")
		// The exempt test and its fee at 23 % are in the VAT breakdown; the voucher's lines are not.
		if lineWith(text, f.item.Name, paidBy) == "" || lineWith(text, f.kids.Name, paidBy) != "" || lineWith(text, f.kids.Name, sk(f.m, "eshop.pay.invoice.exempt")) == "" ||
			lineWith(text, "23 %", eur(kids.FeeMinor)) == "" || lineWith(text, "23 %", eur(300+kids.FeeMinor)) != "" ||
			lineWith(text, sk(f.m, "eshop.pay.invoice.total"), eur(kids.Gross())) == "" ||
			lineWith(text, sk(f.m, "eshop.pay.invoice.paid_online"), eur(kids.Gross())) == "" ||
			!strings.Contains(flat(text), flat(sk(f.m, "eshop.pay.invoice.voucher_paid_note"))) {
			t.Errorf("E14: the invoice:\n%s", text)
		}
	})
}

// TestPaymentMustMatchDue (E5): a payment the gateway confirmed for another amount than the
// order's due pays nothing — the order waits still, no confirmation goes, and the payment is
// recorded as unmatched for the staff; the payment of the amount due pays it.
func TestPaymentMustMatchDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ctx := context.Background()
		pay := func(amount int64) *Payment {
			if _, err := f.m.startPayment(ctx, f.A, f.user.ID, purposeOrder, f.order.ID, amount); err != nil {
				t.Fatal(err)
			}
			p, err := f.m.loadPayment(ctx, f.A, "ref_id = ? AND status = ?", f.order.ID, payPending)
			if err != nil || p.AmountMinor != amount {
				t.Fatalf("payment %+v %v", p, err)
			}
			notices, err := sandboxOf(f.A).Decide(p.GatewayRef, true)
			if err != nil {
				t.Fatal(err)
			}
			if res := f.notify(f.A, "sandbox", notices[0]); res.Status != http.StatusOK {
				t.Fatalf("notify: %d", res.Status)
			}
			return p
		}
		audits := func(action string) int {
			n := 0
			for _, a := range f.h.Host.Audits {
				if a.Value.Action == action {
					n++
				}
			}
			return n
		}
		short := pay(f.order.DueMinor - 100)
		if s := f.orderStatus(f.A, f.order.ID); s != orderSubmitted {
			t.Fatalf("E5: an order paid by %d of %d: %s", f.order.DueMinor-100, f.order.DueMinor, s)
		}
		if len(f.sent(tmplOrderPaid)) != 0 || audits(auditPaidUnmatched) != 1 || audits(auditPaid) != 0 {
			t.Fatalf("E5: unmatched payment: %d confirmations, audits %v", len(f.sent(tmplOrderPaid)), f.h.Host.Audits)
		}
		if err := f.h.Job(ctx, f.A, jobPaySweep, nil); err != nil {
			t.Fatal(err)
		}
		pay(f.order.DueMinor)
		if s := f.orderStatus(f.A, f.order.ID); s != orderPaid || len(f.sent(tmplOrderPaid)) != 1 || audits(auditPaid) != 1 || audits(auditPaidUnmatched) != 1 {
			t.Fatalf("E5: the full payment: %s, %d confirmations", s, len(f.sent(tmplOrderPaid)))
		}
		// The unmatched payment delivered again records nothing more.
		if _, err := f.m.settle(ctx, f.A, short); err != nil || audits(auditPaidUnmatched) != 1 {
			t.Errorf("the unmatched payment again: %v, %d records", err, audits(auditPaidUnmatched))
		}
	})
}

// TestStartPaymentReused (E5): while the order's payment is pending, starting it again — the
// pay button and the invitation's link followed twice, or five times at once — reuses it:
// one pending payment, the same gateway page. A payment that failed, or that its gateway no
// longer knows, gives way to a new one.
func TestStartPaymentReused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ctx := context.Background()
		pending := func() int64 {
			return f.count(f.A, (*Payment)(nil), "ref_id = ? AND status = ?", f.order.ID, payPending)
		}
		var wg sync.WaitGroup
		urls := make([]string, 5)
		errs := make([]error, 5)
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				urls[i], errs[i] = f.m.startPayment(ctx, f.A, f.user.ID, purposeOrder, f.order.ID, f.order.DueMinor)
			}()
		}
		wg.Wait()
		for i := range urls {
			if errs[i] != nil || urls[i] != urls[0] {
				t.Fatalf("E5: start %d: %q %v (first %q)", i, urls[i], errs[i], urls[0])
			}
		}
		if n := f.count(f.A, (*Payment)(nil), "ref_id = ?", f.order.ID); n != 1 {
			t.Fatalf("E5: %d payments for one order", n)
		}
		// The pay link followed twice: the same gateway page.
		for range 2 {
			res, err := f.h.Do(ctx, f.A, f.user, "GET", "/eshop/orders/"+f.order.ID+"/pay", nil)
			if err != nil || res.Status != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), urls[0]) {
				t.Fatalf("E5: pay link: %v %+v", err, res)
			}
		}
		if n := f.count(f.A, (*Payment)(nil), "ref_id = ?", f.order.ID); n != 1 {
			t.Fatalf("E5: %d payments after the pay link", n)
		}
		// Failed at the gateway: a new payment.
		p, _ := f.m.loadPayment(ctx, f.A, "ref_id = ?", f.order.ID)
		if _, err := sandboxOf(f.A).Decide(p.GatewayRef, false); err != nil {
			t.Fatal(err)
		}
		again, err := f.m.startPayment(ctx, f.A, f.user.ID, purposeOrder, f.order.ID, f.order.DueMinor)
		if err != nil || again == urls[0] || pending() != 1 || f.count(f.A, (*Payment)(nil), "ref_id = ?", f.order.ID) != 2 {
			t.Fatalf("after a failure: %q %v, %d pending", again, err, pending())
		}
		// The gateway forgot it (a sandbox of a process that ended): a new payment.
		sandboxes.Delete(f.A.ID)
		third, err := f.m.startPayment(ctx, f.A, f.user.ID, purposeOrder, f.order.ID, f.order.DueMinor)
		if err != nil || third == again || pending() != 1 {
			t.Fatalf("after the gateway forgot: %q %v, %d pending", third, err, pending())
		}
		// The database holds one pending payment per order whatever the code does.
		err = f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Payment{TenantID: f.A.ID, ID: newID(), Purpose: purposeOrder, RefID: f.order.ID, UserID: f.user.ID, AmountMinor: 1,
				Currency: "EUR", Status: payPending, Gateway: "sandbox", GatewayRef: newID(), CreatedAt: f.now}).Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("E5: a second pending payment was stored")
		}
	})
}
