package eshop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

type vfix struct {
	t     *testing.T
	m     *Module
	h     *sdktest.Harness
	A, B  sdk.Tenant
	now   time.Time
	mu    sync.Mutex
	item  *Item
	buyer *sdk.User
	other *sdk.User
}

func vtenant(id, slug string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: slug, Name: "Unilabs " + slug, Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"}
}

// vsetup starts the module on backend b with, in tenant A, a test sold as a voucher (price
// 19.90 with VAT, the default fee 3.00) and two customers; payments go through the tenant's
// sandbox gateway and invoices are the pay part's own.
func vsetup(t *testing.T, b storetest.Backend) *vfix {
	m := newModule()
	f := &vfix{t: t, m: m, A: vtenant("tA", "a"), B: vtenant("tB", "b"), now: time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	f.item = &Item{TenantID: f.A.ID, ID: newID(), Kind: kindTest, Name: "Vitamín D (25-OH)", PriceMinor: 1990, VATIncluded: true, TATDays: 2,
		VoucherSellable: true, Active: true, CreatedAt: f.now, UpdatedAt: f.now}
	f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(f.item).Exec(ctx)
		return err
	})
	f.buyer = &sdk.User{ID: "u-buyer", Email: "jana@example.sk", Name: "Jana Nováková", Locale: "sk", Roles: []string{"user"}}
	f.other = &sdk.User{ID: "u-other", Email: "peter@example.sk", Name: "Peter Horváth", Locale: "sk", Roles: []string{"user"}}
	f.h.Host.Users[f.A.ID] = []sdk.User{*f.buyer, *f.other}
	return f
}

// invoices are the invoices issued in tenant t for voucher purchases.
func (f *vfix) invoices(t sdk.Tenant) []Invoice {
	f.t.Helper()
	var out []Invoice
	f.in(t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("purpose = ?", purposeVoucher).Order("seq").Scan(ctx)
	})
	return out
}

func (f *vfix) in(t sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.In(context.Background(), t, fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f *vfix) setNow(at time.Time) {
	f.mu.Lock()
	f.now = at
	f.mu.Unlock()
}

// issue sells qty vouchers in tenant t (a test voucher of f.item when value is 0) and
// returns their codes as the confirmation would show them.
func (f *vfix) issue(t sdk.Tenant, value int64, qty int) []string {
	f.t.Helper()
	p := &VoucherPurchase{TenantID: t.ID, ID: newID(), UserID: f.buyer.ID, Quantity: qty, Currency: "EUR", Status: purchasePending,
		BuyerName: f.buyer.Name, Locale: "sk", CreatedAt: f.now}
	if value == 0 {
		pr := linePrice(t, f.item)
		p.Kind, p.ItemID, p.ItemName, p.FaceMinor = voucherTest, f.item.ID, f.item.Name, pr.Gross()
		p.PriceMinor, p.VATPercent, p.FeeMinor, p.FeeVATPercent = pr.PriceMinor, pr.VATPercent, pr.FeeMinor, pr.FeeVATPercent
	} else {
		p.Kind, p.FaceMinor = voucherValue, value
	}
	p.AmountMinor = p.FaceMinor * int64(qty)
	var codes []string
	f.in(t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(p).Exec(ctx); err != nil {
			return err
		}
		ok, err := f.m.voucherPurchasePaid(ctx, sc, t, p.ID)
		if err != nil || !ok {
			return errors.Join(err, errors.New("not issued"))
		}
		var rs []voucherReveal
		if err := sc.Select(&rs).Where("purchase_id = ?", p.ID).Scan(ctx); err != nil {
			return err
		}
		for _, r := range rs {
			codes = append(codes, r.Code)
		}
		return nil
	})
	return codes
}

// voucher reads the voucher a code names in tenant t (whatever its state).
func (f *vfix) voucher(t sdk.Tenant, code string) Voucher {
	f.t.Helper()
	var v Voucher
	f.in(t, func(ctx context.Context, sc *store.Scope) error {
		pep, err := f.m.pepper(ctx, sc, true)
		if err != nil {
			return err
		}
		return sc.Select(&v).Where("code_hash = ?", hashCode(pep, normalizeCode(code))).Scan(ctx)
	})
	return v
}

// ledgerSum adds up a voucher's ledger.
func (f *vfix) ledgerSum(t sdk.Tenant, id string) (sum int64, kinds []string) {
	f.t.Helper()
	var es []VoucherEntry
	f.in(t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&es).Where("voucher_id = ?", id).Order("at", "kind").Scan(ctx)
	})
	for _, e := range es {
		sum += e.AmountMinor
		kinds = append(kinds, e.Kind)
	}
	return sum, kinds
}

// line is an order line of f.item at its price today.
func (f *vfix) line() *OrderItem {
	pr := linePrice(f.A, f.item)
	return &OrderItem{TenantID: f.A.ID, ID: newID(), ItemID: f.item.ID, Kind: kindTest, Name: f.item.Name, PriceMinor: pr.PriceMinor,
		VATPercent: pr.VATPercent, FeeMinor: pr.FeeMinor, FeeVATPercent: pr.FeeVATPercent}
}

// redeem submits, as the orders part does, an order of lines with codes in one
// transaction, and returns what the codes covered.
func (f *vfix) redeem(t sdk.Tenant, userID string, codes []string, lines ...*OrderItem) (string, int64, error) {
	orderID := newID()
	var covered int64
	err := f.m.In(context.Background(), t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		covered, err = f.m.redeemCodes(ctx, sc, t, userID, orderID, codes, lines)
		if err != nil {
			return err
		}
		var total int64
		for _, l := range lines {
			total += l.PriceMinor + l.FeeMinor
		}
		o := &Order{TenantID: t.ID, ID: orderID, Number: orderID[:12], UserID: userID, Status: orderSubmitted, BuyerName: "x", Email: "x@example.sk",
			Currency: "EUR", TotalMinor: total, VoucherMinor: covered, DueMinor: total - covered, SubmittedAt: f.m.now(), PayBy: f.m.now().Add(30 * time.Minute)}
		_, err = sc.Insert(o).Exec(ctx)
		return err
	})
	return orderID, covered, err
}

func isRefusal(err error) bool {
	var fe sdk.FieldErrors
	return errors.As(err, &fe) && fe["code"] == msgCodeRefused && len(fe) == 1
}

func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

// TestVoucherTablesScoped: the part's tables are reached only through a tenant scope, and
// the ledger is append-only — the database refuses to change or delete an entry (E14).
func TestVoucherTablesScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		kittest.CheckScoped(t, f.m.Module, voucherModels...)
		codes := f.issue(f.A, 5000, 1)
		v := f.voucher(f.A, codes[0])
		err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*VoucherEntry)(nil)).Set("amount_minor = 999999").Where("voucher_id = ?", v.ID).Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("E14: a ledger entry was changed")
		}
		err = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*VoucherEntry)(nil)).Where("voucher_id = ?", v.ID).Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("E14: a ledger entry was deleted")
		}
		// The balance can never be set below zero, whatever the code does.
		err = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Voucher)(nil)).Set("balance_minor = -1").Where("id = ?", v.ID).Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("E14.b: a balance below zero was stored")
		}
		if sum, kinds := f.ledgerSum(f.A, v.ID); sum != 5000 || len(kinds) != 1 || kinds[0] != entryIssue {
			t.Errorf("ledger after the refused changes: %d %v", sum, kinds)
		}
	})
}

// TestVoucherCodes: a code has 100 random bits (20 characters of 5 bits), reads back however
// it is typed, and only its keyed hash is stored (E14.d).
func TestVoucherCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c := newCode()
		n := normalizeCode(c)
		if len(n) != codeLen || seen[n] {
			t.Fatalf("code %q: normalized %q, seen %v", c, n, seen[n])
		}
		seen[n] = true
		if normalizeCode(strings.ToLower(strings.ReplaceAll(c, "-", " "))) != n {
			t.Fatalf("%q typed in lower case with spaces is another code", c)
		}
	}
	if codeLen*5 < 80 {
		t.Fatal("E14: fewer than 80 bits")
	}
	if normalizeCode("O1IL-") != "" || normalizeCode("ABCDE-FGHJK-MNPQR-STVWX") != "ABCDEFGHJKMNPQRSTVWX" || normalizeCode("ABCDE-FGHJK-MNPQR-STVWU") != "" {
		t.Error("normalization")
	}
	if hashCode("p1", "X") == hashCode("p2", "X") {
		t.Error("the pepper does not change the hash")
	}
}

// TestVoucherPurchaseIssuesOnce (E14.d): buying as a gift voucher records a purchase and
// goes to the gateway (the tenant's sandbox, for real); the payment's notification delivered
// 5 times at once issues the vouchers once; the codes go once by a secret e-mail with the
// invoice PDF (read back), the return page sends the customer to the purchase's page, which
// shows the codes once, and they are not kept afterwards — the list shows only their tails.
func TestVoucherPurchaseIssuesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		res, err := f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/vouchers/buy", form("item", f.item.ID, "quantity", "2", "gift", "yes"))
		if err != nil || res.Status != http.StatusSeeOther {
			t.Fatalf("buy: %v %+v", err, res)
		}
		var p VoucherPurchase
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&p).Where("user_id = ?", f.buyer.ID).Scan(ctx)
		})
		pay, err := f.m.loadPayment(ctx, f.A, "purpose = ? AND ref_id = ?", purposeVoucher, p.ID)
		if err != nil || pay.AmountMinor != 4580 || pay.Status != payPending || pay.Gateway != "sandbox" {
			t.Fatalf("payment %+v %v", pay, err)
		}
		if loc := res.Header.Get("Location"); !strings.HasSuffix(loc, "/eshop/sandbox/"+pay.GatewayRef) {
			t.Errorf("not sent to the gateway: %q", loc)
		}
		if p.Status != purchasePending || p.Quantity != 2 || p.FaceMinor != 2290 || p.AmountMinor != 4580 || p.Kind != voucherTest {
			t.Fatalf("purchase %+v", p)
		}
		// The customer pays on the gateway's page; its notification comes 5 times at once.
		notices, err := sandboxOf(f.A).Decide(pay.GatewayRef, true)
		if err != nil || len(notices) != 1 {
			t.Fatalf("%d notices, %v", len(notices), err)
		}
		var wg sync.WaitGroup
		statuses := make([]int, 5)
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.h.Do(ctx, f.A, nil, http.MethodPost, "/eshop/gateway/sandbox/notify", []byte(notices[0].Encode()))
				if err == nil {
					statuses[i] = r.Status
				}
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != http.StatusOK {
				t.Fatalf("delivery %d: %d", i, st)
			}
		}
		var vs []Voucher
		var events int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			if err := sc.Select(&vs).Where("purchase_id = ?", p.ID).Scan(ctx); err != nil {
				return err
			}
			events, err = sc.Select((*PaymentEvent)(nil)).Where("payment_id = ?", pay.ID).Count(ctx)
			return err
		})
		if len(vs) != 2 || events != 1 {
			t.Fatalf("E14.d: %d vouchers, %d payment events", len(vs), events)
		}
		for _, v := range vs {
			if v.Kind != voucherTest || v.ValueMinor != 2290 || v.ItemID != f.item.ID || v.Status != voucherActive {
				t.Errorf("voucher %+v", v)
			}
			// E14.a: 3 months from purchase (10 Dec → through 10 Mar, Bratislava time).
			if want := time.Date(2027, 3, 11, 0, 0, 0, 0, time.FixedZone("CET", 3600)); !v.ExpiresAt.Equal(want) {
				t.Errorf("expires %v, want %v", v.ExpiresAt, want)
			}
		}
		// The e-mail goes once (the sweeps run afterwards add nothing).
		for _, job := range []string{jobSweepVoucherMail, jobPaySweep, jobSweepVoucherMail} {
			if err := f.h.Job(ctx, f.A, job, nil); err != nil {
				t.Fatal(err)
			}
		}
		var mails []sdk.Message
		for _, s := range f.h.Host.Messages {
			if s.Value.Template == tmplVoucherIssued {
				mails = append(mails, s.Value)
			}
		}
		invs := f.invoices(f.A)
		if len(mails) != 1 || len(invs) != 1 {
			t.Fatalf("E14.d: %d e-mails, %d invoices", len(mails), len(invs))
		}
		mail := mails[0]
		if !mail.Secret || mail.UserID != f.buyer.ID || len(mail.Attachments) != 1 || mail.Attachments[0].ContentType != "application/pdf" ||
			mail.Data["Invoice"] != invs[0].Number || string(mail.Attachments[0].Data) != string(invs[0].PDF) {
			t.Errorf("e-mail %+v", mail)
		}
		// The attachment is named as an order's invoice is; the sentence of what was bought
		// has its verb and the number of vouchers.
		if want := "faktura-" + invs[0].Number + ".pdf"; mail.Attachments[0].Name != want {
			t.Errorf("attachment %q, want %q", mail.Attachments[0].Name, want)
		}
		if what, _ := mail.Data["What"].(string); !strings.HasPrefix(what, "Kúpili ste 2 poukážky na vyšetrenie "+f.item.Name) {
			t.Errorf("what was bought: %q", what)
		}
		codes, _ := mail.Data["Codes"].(string)
		list := strings.Split(codes, "\n")
		if len(list) != 2 || normalizeCode(list[0]) == "" || normalizeCode(list[1]) == "" {
			t.Fatalf("codes in the e-mail: %q", codes)
		}
		// A test voucher is invoiced with its test's and fee's VAT (single-purpose voucher):
		// the PDF, read back, has both lines at 23 % and the whole amount.
		text := pdftotext(t, mail.Attachments[0].Data)
		if !strings.Contains(text, invs[0].Number) || lineWith(text, "Vitamín D", "23 %", "39,80") == "" || lineWith(text, "23 %", "6,00") == "" ||
			!strings.Contains(text, "45,80") || strings.Contains(text, sk(f.m, "eshop.pay.invoice.not_subject")) {
			t.Errorf("E14.d: the invoice read back:\n%s", text)
		}
		// The gateway sends the customer back: to the purchase's page.
		ret, err := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/pay/"+pay.ID+"/return", nil)
		if err != nil || ret.Status != http.StatusSeeOther || !strings.HasSuffix(ret.Header.Get("Location"), "/eshop/vouchers/purchases/"+p.ID) {
			t.Fatalf("return page: %v %+v", err, ret)
		}
		// Shown once on the confirmation page, never to another customer.
		if res, _ := f.h.Do(ctx, f.A, f.other, "GET", "/eshop/vouchers/purchases/"+p.ID, nil); res.Status != http.StatusNotFound {
			t.Errorf("another customer sees the purchase: %d", res.Status)
		}
		page, err := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/purchases/"+p.ID, nil)
		if err != nil || page.Status != 200 || !strings.Contains(string(page.Body), list[0]) || !strings.Contains(string(page.Body), list[1]) {
			t.Fatalf("confirmation: %v %d %s", err, page.Status, page.Body)
		}
		again, _ := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/purchases/"+p.ID, nil)
		mine, _ := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/mine", nil)
		for _, c := range list {
			if strings.Contains(string(again.Body), c) || strings.Contains(string(mine.Body), c) {
				t.Errorf("E14.d: code %s shown again", c)
			}
			if !strings.Contains(string(mine.Body), normalizeCode(c)[codeLen-4:]) {
				t.Errorf("the list does not tell the voucher …%s", normalizeCode(c)[codeLen-4:])
			}
		}
		// Nothing in the database holds a code any longer.
		var left int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			left, err = sc.Select((*voucherReveal)(nil)).Count(ctx)
			return err
		})
		for _, v := range vs {
			for _, c := range list {
				if strings.Contains(v.CodeHash, normalizeCode(c)) {
					t.Error("E14.d: the code is stored")
				}
			}
		}
		if left != 0 {
			t.Errorf("E14.d: %d codes still kept after they were shown and sent", left)
		}
		// Each code redeems its voucher.
		if _, covered, err := f.redeem(f.A, f.other.ID, list[:1], f.line()); err != nil || covered != 2290 {
			t.Errorf("redeem a bought code: %d %v", covered, err)
		}
	})
}

// TestVoucherValueRace (E14.b, E14.e): 100 orders redeeming one value voucher at once never
// spend more than its balance, and its ledger adds up to what is left.
func TestVoucherValueRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		code := f.issue(f.A, 5000, 1)[0]
		const n = 100
		covered := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, covered[i], errs[i] = f.redeem(f.A, f.other.ID, []string{code}, f.line()) // 22.90 each
			}()
		}
		wg.Wait()
		var sum int64
		ok := 0
		for i := range n {
			if errs[i] != nil {
				if !isRefusal(errs[i]) {
					t.Fatalf("redemption %d: %v", i, errs[i])
				}
				continue
			}
			ok++
			sum += covered[i]
		}
		v := f.voucher(f.A, code)
		ledger, _ := f.ledgerSum(f.A, v.ID)
		if sum != 5000 || v.BalanceMinor != 0 || ledger != 0 {
			t.Errorf("E14.b: spent %d of 5000 in %d orders, balance %d, ledger %d", sum, ok, v.BalanceMinor, ledger)
		}
		if ok != 3 { // 22.90 + 22.90 + 4.20
			t.Errorf("%d orders used the voucher, want 3", ok)
		}
	})
}

// TestVoucherTestOnceRace (E14.a): a test voucher is used exactly once under concurrency, and
// covers its test and fee in full whatever the price is then.
func TestVoucherTestOnceRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		code := f.issue(f.A, 0, 1)[0]
		// The price went up since the purchase.
		f.item.PriceMinor = 2590
		const n = 30
		errs := make([]error, n)
		covered := make([]int64, n)
		lines := make([]*OrderItem, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lines[i] = f.line()
				_, covered[i], errs[i] = f.redeem(f.A, f.other.ID, []string{code}, lines[i], f.line())
			}()
		}
		wg.Wait()
		ok := 0
		for i := range n {
			if errs[i] == nil {
				ok++
				if covered[i] != 2890 || lines[i].VoucherMinor != 2890 {
					t.Errorf("E14.a: covered %d (line %d), want the price then and the fee, 28.90", covered[i], lines[i].VoucherMinor)
				}
			} else if !isRefusal(errs[i]) {
				t.Fatal(errs[i])
			}
		}
		if v := f.voucher(f.A, code); ok != 1 || v.Status != voucherUsed {
			t.Errorf("E14.a: used %d times, status %s", ok, v.Status)
		}
	})
}

// TestVoucherGiveBack (E5, E14): vouchers redeemed on an order whose payment then fails —
// the order cancelled unpaid — are given back once: the value voucher's balance returns, the
// test voucher is usable again; a value voucher that expired meanwhile loses it at once.
func TestVoucherGiveBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		value := f.issue(f.A, 3000, 1)[0]
		test := f.issue(f.A, 0, 1)[0]
		orderID, covered, err := f.redeem(f.A, f.buyer.ID, []string{value, test}, f.line(), f.line())
		if err != nil || covered != 2290+2290 {
			t.Fatalf("redeem: %d %v", covered, err)
		}
		if v := f.voucher(f.A, value); v.BalanceMinor != 3000-2290 {
			t.Fatalf("balance %d", v.BalanceMinor)
		}
		// The payment fails and the order is cancelled: five concurrent cancellations.
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
					if _, err := sc.Update((*Order)(nil)).Set("status = ?", orderCancelled).Where("id = ?", orderID).Exec(ctx); err != nil {
						return err
					}
					return f.m.giveBackVouchers(ctx, sc, f.A, orderID)
				})
			}()
		}
		wg.Wait()
		vv, tv := f.voucher(f.A, value), f.voucher(f.A, test)
		sum, kinds := f.ledgerSum(f.A, vv.ID)
		if vv.BalanceMinor != 3000 || sum != 3000 || tv.Status != voucherActive || tv.UsedOrderID != "" {
			t.Fatalf("given back: balance %d ledger %d %v, test voucher %s", vv.BalanceMinor, sum, kinds, tv.Status)
		}
		// Both work again on a new order.
		if _, covered, err := f.redeem(f.A, f.buyer.ID, []string{test, value}, f.line(), f.line()); err != nil || covered != 2290+2290 {
			t.Fatalf("after give-back: %d %v", covered, err)
		}
		// A value voucher given back after its expiry keeps nothing: what was left at expiry
		// and what comes back later are both lost, each with its entry.
		late := f.issue(f.A, 5000, 1)[0]
		o2, _, err := f.redeem(f.A, f.buyer.ID, []string{late}, f.line())
		if err != nil {
			t.Fatal(err)
		}
		f.setNow(time.Date(2027, 7, 1, 9, 0, 0, 0, time.UTC))
		if _, err := f.m.expireVouchers(context.Background(), f.A); err != nil {
			t.Fatal(err)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return f.m.giveBackVouchers(ctx, sc, f.A, o2) })
		lv := f.voucher(f.A, late)
		if sum, kinds := f.ledgerSum(f.A, lv.ID); lv.BalanceMinor != 0 || sum != 0 || lv.Status != voucherExpired ||
			strings.Count(strings.Join(kinds, ","), entryExpiry) != 2 {
			t.Errorf("E14.b: given back after expiry: balance %d, ledger %d %v", lv.BalanceMinor, sum, kinds)
		}
	})
}

// TestVoucherRefusals (E14.c, E14.e): wrong, expired, used, another tenant's code — one
// generic error, and nothing spent; a signed-out customer, an order already made, or a
// second redemption on one order are refused the same way.
func TestVoucherRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		good := f.issue(f.A, 2000, 1)[0]
		used := f.issue(f.A, 0, 1)[0]
		if _, _, err := f.redeem(f.A, f.buyer.ID, []string{used}, f.line()); err != nil {
			t.Fatal(err)
		}
		foreign := f.issue(f.B, 2000, 1)[0]
		expired := f.issue(f.A, 1000, 1)[0]
		f.setNow(f.now.AddDate(0, 7, 0))
		fresh := f.issue(f.A, 1000, 1)[0]
		if _, err := f.m.expireVouchers(context.Background(), f.A); err != nil {
			t.Fatal(err)
		}
		for name, code := range map[string]string{"wrong": "ABCDE-FGHJK-MNPQR-STVWX", "garbage": "hello", "used": used, "foreign": foreign, "expired": expired, "good expired": good} {
			if _, _, err := f.redeem(f.A, f.buyer.ID, []string{fresh, code}, f.line()); !isRefusal(err) {
				t.Errorf("E14.e: %s code: %v", name, err)
			}
		}
		if v := f.voucher(f.A, fresh); v.BalanceMinor != 1000 {
			t.Errorf("a refused order spent %d", 1000-v.BalanceMinor)
		}
		if _, _, err := f.redeem(f.A, "", []string{fresh}, f.line()); !isRefusal(err) {
			t.Errorf("E14.e: redeemed signed out: %v", err)
		}
		// E14.c: not on an order already made.
		orderID, _, err := f.redeem(f.A, f.buyer.ID, nil, f.line())
		if err != nil {
			t.Fatal(err)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Order)(nil)).Set("status = ?", orderPaid).Where("id = ?", orderID).Exec(ctx)
			return err
		})
		err = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.redeemCodes(ctx, sc, f.A, f.buyer.ID, orderID, []string{fresh}, []*OrderItem{f.line()})
			return err
		})
		if !isRefusal(err) {
			t.Errorf("E14.c: redeemed on an order already paid: %v", err)
		}
		if v := f.voucher(f.A, fresh); v.BalanceMinor != 1000 {
			t.Errorf("E14.c: spent %d on an order already made", 1000-v.BalanceMinor)
		}
		// A test voucher whose test is not in the order covers nothing: refused.
		other := f.line()
		other.ItemID = "another-test"
		if _, _, err := f.redeem(f.A, f.buyer.ID, []string{f.issue(f.A, 0, 1)[0]}, other); !isRefusal(err) {
			t.Errorf("a test voucher applied to another test: %v", err)
		}
	})
}

// TestVoucherRateLimit (E14.e): at most the rule's tries of a code a minute per account and
// per address, then the one generic error even for a good code; the next minute it works.
func TestVoucherRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		good := f.issue(f.A, 2000, 1)[0]
		check := func(u *sdk.User, ip, code string) *sdk.Response {
			res, err := f.h.Send(ctx, f.A, u, &sdk.Request{Method: "POST", Path: "/eshop/vouchers/check", RemoteIP: ip,
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: form("code", code)})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		refusal := f.m.Msgs.For("sk").T(msgCodeRefused)
		for i := range 9 {
			if res := check(f.buyer, "192.0.2.1", "ABCDE-FGHJK-MNPQR-STVWX"); res.Status != 422 || !strings.Contains(string(res.Body), refusal) {
				t.Fatalf("wrong code %d: %d", i, res.Status)
			}
		}
		if res := check(f.buyer, "192.0.2.1", good); res.Status != 200 || !strings.Contains(string(res.Body), "20,00") {
			t.Fatalf("10th try with the good code: %d %s", res.Status, res.Body)
		}
		res := check(f.buyer, "192.0.2.1", good)
		if res.Status != 422 || !strings.Contains(string(res.Body), refusal) || strings.Contains(string(res.Body), "20,00") {
			t.Errorf("E14.e: 11th try in the minute: %d", res.Status)
		}
		// The same account from another address, another account from the same address.
		if res := check(f.buyer, "198.51.100.7", good); res.Status != 422 {
			t.Errorf("E14.e: the account's budget is per account: %d", res.Status)
		}
		if res := check(f.other, "192.0.2.1", good); res.Status != 422 {
			t.Errorf("E14.e: the address's budget is per address: %d", res.Status)
		}
		if res := check(f.other, "198.51.100.8", good); res.Status != 200 {
			t.Errorf("another account from another address: %d", res.Status)
		}
		f.setNow(f.now.Add(time.Minute))
		if res := check(f.buyer, "192.0.2.1", good); res.Status != 200 {
			t.Errorf("the next minute: %d", res.Status)
		}
		// The rule is the tenant's.
		if err := f.m.tryCodes(ctx, sdk.Tenant{ID: f.A.ID, Rules: map[string]any{"eshop.voucher_tries_per_minute": 1}}, "u-x", "", 2); !isRefusal(err) {
			t.Errorf("rule of 1 try, 2 tries: %v", err)
		}
	})
}

// TestVoucherExpiry (E14.b): value left at expiry is lost with a ledger entry, once, and the
// voucher no longer applies.
func TestVoucherExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		code := f.issue(f.A, 5000, 1)[0]
		if _, _, err := f.redeem(f.A, f.buyer.ID, []string{code}, f.line()); err != nil {
			t.Fatal(err)
		}
		v := f.voucher(f.A, code)
		// 6 months: valid through 10 June 2027, gone on the 11th.
		f.setNow(time.Date(2027, 6, 10, 21, 0, 0, 0, time.UTC)) // 23:00 in Bratislava
		if n, err := f.m.expireVouchers(context.Background(), f.A); err != nil || n != 0 {
			t.Fatalf("expired %d on the last day: %v", n, err)
		}
		f.setNow(time.Date(2027, 6, 10, 22, 30, 0, 0, time.UTC))
		for range 2 {
			if err := f.h.Job(context.Background(), f.A, jobExpireVouchers, nil); err != nil {
				t.Fatal(err)
			}
		}
		v = f.voucher(f.A, code)
		sum, kinds := f.ledgerSum(f.A, v.ID)
		if v.Status != voucherExpired || v.BalanceMinor != 0 || sum != 0 || strings.Count(strings.Join(kinds, ","), entryExpiry) != 1 {
			t.Errorf("E14.b: after expiry %s %d, ledger %d %v", v.Status, v.BalanceMinor, sum, kinds)
		}
		if _, _, err := f.redeem(f.A, f.buyer.ID, []string{code}, f.line()); !isRefusal(err) {
			t.Errorf("E14.b: an expired voucher applied: %v", err)
		}
	})
}

// TestVoucherCompensation (E14.a): when the lab stops a test, the holder of a voucher for it
// who asks before expiry gets, once, a value voucher worth the original price, valid the
// rule's months, used like a value voucher; while the test is performed he gets none.
func TestVoucherCompensation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		code := f.issue(f.A, 0, 1)[0]
		old := f.voucher(f.A, code)
		ask := func(u *sdk.User, body []byte) *sdk.Response {
			res, err := f.h.Do(ctx, f.A, u, "POST", "/eshop/vouchers/"+old.ID+"/compensate", body)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := ask(f.buyer, nil); res.Status != 422 {
			t.Fatalf("compensated while the test is performed: %d", res.Status)
		}
		offered := func() bool {
			res, _ := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/mine", nil)
			return strings.Contains(string(res.Body), "/eshop/vouchers/"+old.ID+"/compensate")
		}
		if offered() {
			t.Error("compensation offered while the test is performed")
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Item)(nil)).Set("withdrawn_at = ?", f.now).Set("price_minor = 100").Where("id = ?", f.item.ID).Exec(ctx)
			return err
		})
		if !offered() {
			t.Error("E14.a: compensation not offered to the purchaser once the test is withdrawn")
		}
		// Someone without the code, and who did not buy it, is not its holder.
		if res := ask(f.other, form("code", "ABCDE-FGHJK-MNPQR-STVWX")); res.Status != http.StatusNotFound {
			t.Fatalf("a stranger asked: %d", res.Status)
		}
		// The holder with the code (the voucher was a gift).
		res := ask(f.other, form("code", code))
		if res.Status != 200 {
			t.Fatalf("compensation: %d %s", res.Status, res.Body)
		}
		var nv Voucher
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&nv).Where("compensates_id = ?", old.ID).Scan(ctx)
		})
		if nv.Kind != voucherValue || nv.ValueMinor != 2290 || nv.BalanceMinor != 2290 || nv.PurchaserID != f.other.ID ||
			!nv.ExpiresAt.Equal(expiryAfter(f.A, f.now, 3)) {
			t.Errorf("E14.a: compensation voucher %+v", nv)
		}
		var newCode string
		for _, s := range f.h.Host.Messages {
			if s.Value.Template == tmplVoucherCompensated && s.Value.Secret && s.Value.UserID == f.other.ID {
				newCode, _ = s.Value.Data["Code"].(string)
			}
		}
		if newCode == "" || !strings.Contains(string(res.Body), newCode) {
			t.Fatalf("the new code is neither sent nor shown")
		}
		if f.voucher(f.A, code).Status != voucherCompensated {
			t.Error("the test voucher still applies")
		}
		if res := ask(f.buyer, nil); res.Status != 422 {
			t.Errorf("E14.a: compensated twice: %d", res.Status)
		}
		// Used like a value voucher, on another test.
		other := f.line()
		other.ItemID = "another-test"
		if _, covered, err := f.redeem(f.A, f.other.ID, []string{newCode}, other); err != nil || covered != 2290 {
			t.Errorf("E14.a: compensation voucher covered %d: %v", covered, err)
		}
		// After expiry, no compensation.
		code2 := f.issue(f.A, 0, 1)[0]
		v2 := f.voucher(f.A, code2)
		f.setNow(f.now.AddDate(0, 4, 0))
		if res, _ := f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/vouchers/"+v2.ID+"/compensate", nil); res.Status != 422 {
			t.Errorf("E14.a: compensated after expiry: %d", res.Status)
		}
	})
}

// TestVoucherDenominations (E14.f): the shop manager offers and withdraws value
// denominations; a bad amount is refused next to its field with nothing changed; the
// category page and the purchase follow the offer, and a voucher sold keeps its value.
func TestVoucherDenominations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		mgr := &sdk.User{ID: "u-mgr", Name: "Vedúca", Locale: "sk", Roles: []string{"shop_manager"}}
		for _, bad := range []string{"abc", "0", "-5", "12,345", ""} {
			res, _ := f.h.Do(ctx, f.A, mgr, "POST", "/eshop/manage/vouchers", form("value", bad))
			if res.Status != 422 || !strings.Contains(string(res.Body), `id="e-value"`) {
				t.Errorf("value %q: %d", bad, res.Status)
			}
		}
		if res, _ := f.h.Do(ctx, f.A, mgr, "POST", "/eshop/manage/vouchers", form("value", "25,50")); res.Status != http.StatusSeeOther {
			t.Fatalf("add: %d", res.Status)
		}
		var ds []VoucherDenomination
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ds).Scan(ctx) })
		if len(ds) != 1 || ds[0].ValueMinor != 2550 || !ds[0].Active {
			t.Fatalf("denominations %+v", ds)
		}
		page, _ := f.h.Do(ctx, f.A, nil, "GET", "/eshop/vouchers", nil)
		if !strings.Contains(string(page.Body), "value=2550") || !strings.Contains(string(page.Body), "item="+f.item.ID) {
			t.Errorf("the category page does not offer them: %s", page.Body)
		}
		if res, _ := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/buy?value=2550", nil); res.Status != 200 {
			t.Errorf("buy form: %d", res.Status)
		}
		code := f.issue(f.A, 2550, 1)[0]
		if res, _ := f.h.Do(ctx, f.A, mgr, "POST", "/eshop/manage/vouchers/"+ds[0].ID+"/toggle", nil); res.Status != http.StatusSeeOther {
			t.Fatalf("withdraw: %d", res.Status)
		}
		if res, _ := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/buy?value=2550", nil); res.Status != http.StatusNotFound {
			t.Errorf("a withdrawn denomination is sold: %d", res.Status)
		}
		if res, _ := f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/vouchers/buy", form("value", "2550", "quantity", "1", "gift", "yes")); res.Status != 422 {
			t.Errorf("a withdrawn denomination is bought: %d", res.Status)
		}
		if v := f.voucher(f.A, code); v.ValueMinor != 2550 || v.BalanceMinor != 2550 || v.Status != voucherActive {
			t.Errorf("E14.f: the sold voucher changed: %+v", v)
		}
		// A bad quantity or no gift type: refused, nothing recorded.
		for _, body := range [][]byte{form("item", f.item.ID, "quantity", "0", "gift", "yes"), form("item", f.item.ID, "quantity", "99", "gift", "yes"),
			form("item", f.item.ID, "quantity", "1")} {
			if res, _ := f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/vouchers/buy", body); res.Status != 422 {
				t.Errorf("%s: %d", body, res.Status)
			}
		}
		var n int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			n, err = sc.Select((*VoucherPurchase)(nil)).Where("user_id = ?", f.buyer.ID).Count(ctx)
			return err
		})
		if n != 1 { // the one issued above
			t.Errorf("%d purchases recorded", n)
		}
	})
}

// TestVoucherPreview: what codes would cover, without spending (the cart's field, E14.e).
func TestVoucherPreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		value := f.issue(f.A, 3000, 1)[0]
		test := f.issue(f.A, 0, 1)[0]
		lines := []*OrderItem{f.line(), f.line()}
		covers, total, err := f.m.previewCodes(context.Background(), f.A, f.buyer.ID, []string{value, test}, lines)
		if err != nil || total != 4580 || len(covers) != 2 || covers[0].Kind != voucherTest || covers[1].BalanceMinor != 3000-2290 {
			t.Fatalf("preview %+v %d %v", covers, total, err)
		}
		if lines[0].VoucherMinor != 0 || f.voucher(f.A, value).BalanceMinor != 3000 || f.voucher(f.A, test).Status != voucherActive {
			t.Error("the preview spent or changed the lines")
		}
		// When the test vouchers cover everything, a value voucher typed too is kept whole.
		one := []*OrderItem{f.line()}
		_, covered, err := f.redeem(f.A, f.buyer.ID, []string{value, test}, one...)
		if err != nil || covered != 2290 || f.voucher(f.A, value).BalanceMinor != 3000 {
			t.Errorf("value voucher with nothing to cover: %d %v, balance %d", covered, err, f.voucher(f.A, value).BalanceMinor)
		}
	})
}

// TestVoucherPages: the part's pages answer in fr, pl and sk without an English word or an
// internal key.
func TestVoucherPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		f.issue(f.A, 2000, 1)
		mgr := &sdk.User{ID: "u-mgr", Name: "M", Roles: []string{"shop_manager"}}
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			for _, p := range []struct {
				u    *sdk.User
				path string
			}{{nil, "/eshop/vouchers"}, {f.buyer, "/eshop/vouchers/buy?item=" + f.item.ID}, {f.buyer, "/eshop/vouchers/mine"},
				{f.buyer, "/eshop/vouchers/check"}, {mgr, "/eshop/manage/vouchers"}} {
				res, err := f.h.Do(ctx, ten, p.u, "GET", p.path, nil)
				if err != nil || res.Status != 200 {
					t.Fatalf("%s %s: %v %+v", lang, p.path, err, res)
				}
				body := string(res.Body)
				for _, bad := range []string{"eshop.", "active", "value", "Voucher", "<no value>"} {
					if strings.Contains(strings.ReplaceAll(body, `value="`, ""), ">"+bad) || strings.Contains(body, "eshop.voucher") {
						t.Errorf("%s %s shows %q", lang, p.path, bad)
					}
				}
			}
		}
	})
}

// TestVoucherMailRetry (E14.d): when the invoice or the sending fails, the codes are not lost:
// the sweep sends them later, once; codes e-mailed but never looked at on the confirmation
// page are dropped after the rule's hours. A value voucher's sale is invoiced as not subject
// to VAT (it is due when the voucher is used), in words, read back from the PDF.
func TestVoucherMailRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		// The invoice cannot be stored: the year's next number is taken by a row the
		// database keeps unique.
		year := f.now.In(zone(f.A)).Year()
		block := &Invoice{TenantID: f.A.ID, ID: newID(), Number: "block", Year: year, Seq: 1, Purpose: purposeOrder, RefID: "block", UserID: "x",
			Locale: "sk", Currency: "EUR", PDF: []byte("x"), IssuedAt: f.now}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(block).Exec(ctx)
			return err
		})
		f.issue(f.A, 2000, 1)
		if err := f.h.Job(ctx, f.A, jobSweepVoucherMail, nil); err == nil {
			t.Fatal("the failure is not reported")
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete(block).WherePK().Exec(ctx)
			return err
		})
		if err := f.h.Job(ctx, f.A, jobSweepVoucherMail, nil); err != nil {
			t.Fatal(err)
		}
		var mails []sdk.Message
		for _, s := range f.h.Host.Messages {
			if s.Value.Template == tmplVoucherIssued {
				mails = append(mails, s.Value)
				if v, _ := s.Value.Data["What"].(string); !strings.Contains(v, "20,00") {
					t.Errorf("what the e-mail says: %q", v)
				}
			}
		}
		invs := f.invoices(f.A)
		if len(mails) != 1 || len(invs) != 1 {
			t.Fatalf("E14.d: %d e-mails, %d invoices", len(mails), len(invs))
		}
		for _, lang := range []string{"sk", "fr", "pl"} {
			loc := f.m.Msgs.For(lang)
			p := &VoucherPurchase{Kind: voucherValue, Quantity: 1, FaceMinor: 2000}
			pdf, err := f.m.invoicePDF(f.A, lang, invoiceFor{Purpose: purposeVoucher, RefID: "r", BuyerName: f.buyer.Name,
				Lines: p.invoiceLines(loc.T("eshop.voucher.kind.value"), loc.T("eshop.voucher.invoice.fee"))}, "2026000042", f.now)
			if lang == "sk" {
				pdf = mails[0].Attachments[0].Data
			}
			if err != nil {
				t.Fatal(err)
			}
			text := pdftotext(t, pdf)
			// The line and the breakdown say "not subject to VAT", with no VAT amount and
			// no "exempt"; the note says when VAT is due.
			ns := loc.T("eshop.pay.invoice.not_subject")
			if lineWith(text, ns, "20,00") == "" || strings.Contains(text, loc.T("eshop.pay.invoice.exempt")) ||
				!strings.Contains(strings.Join(strings.Fields(text), " "), strings.Join(strings.Fields(loc.T("eshop.pay.invoice.not_subject_note")), " ")[:30]) {
				t.Errorf("E14.d %s: a value voucher's invoice:\n%s", lang, text)
			}
		}
		count := func() (n int64) {
			f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
				n, err = sc.Select((*voucherReveal)(nil)).Count(ctx)
				return err
			})
			return n
		}
		if count() != 1 {
			t.Fatal("the code waits for its confirmation page")
		}
		f.setNow(f.now.Add(25 * time.Hour))
		if err := f.h.Job(ctx, f.A, jobSweepVoucherMail, nil); err != nil {
			t.Fatal(err)
		}
		if count() != 0 {
			t.Error("E14.d: a code kept past the rule's hours")
		}
	})
}

// TestVoucherDemo: the demo's denominations and its two vouchers, seeded twice, are there
// once, and their codes redeem (issue 14.10).
func TestVoucherDemo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		for range 2 {
			if err := f.m.seedDemoVouchers(context.Background(), f.A, f.buyer.ID); err != nil {
				t.Fatal(err)
			}
		}
		var nv, nd int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			if nv, err = sc.Select((*Voucher)(nil)).Count(ctx); err != nil {
				return err
			}
			nd, err = sc.Select((*VoucherDenomination)(nil)).Count(ctx)
			return err
		})
		if nv != 2 || nd != int64(len(demoDenominations)) {
			t.Fatalf("%d vouchers, %d denominations", nv, nd)
		}
		if _, covered, err := f.redeem(f.A, f.buyer.ID, []string{demoTestVoucherCode, demoValueVoucherCode}, f.line(), f.line()); err != nil || covered != 2290+2290 {
			t.Errorf("demo codes: %d %v", covered, err)
		}
	})
}

// E14.a, E14.e: a value voucher spent to its last cent is shown as used up on "My vouchers",
// not as valid beside a zero balance, in fr, pl and sk.
func TestSpentValueVoucherShownUsedUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		codes := f.issue(f.A, 2000, 1)
		page := func(lang string) string {
			ten := f.A
			ten.Locale = lang
			res, err := f.h.Do(context.Background(), ten, f.buyer, "GET", "/eshop/vouchers/mine", nil)
			if err != nil || res.Status != 200 {
				t.Fatalf("%s: %v %+v", lang, err, res)
			}
			return string(res.Body)
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			msgs := f.m.Msgs.For(lang)
			if body := page(lang); !strings.Contains(body, msgs.T("eshop.voucher.status.active")) || strings.Contains(body, msgs.T("eshop.voucher.status.spent")) {
				t.Fatalf("%s: a new voucher: %s", lang, body)
			}
		}
		if _, covered, err := f.redeem(f.A, f.buyer.ID, codes, f.line()); err != nil || covered != 2000 {
			t.Fatalf("redeem: %d %v", covered, err)
		}
		if v := f.voucher(f.A, codes[0]); v.BalanceMinor != 0 {
			t.Fatalf("balance %d", v.BalanceMinor)
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			msgs := f.m.Msgs.For(lang)
			body := page(lang)
			if strings.Contains(body, ">"+msgs.T("eshop.voucher.status.active")+" ") || !strings.Contains(body, msgs.T("eshop.voucher.status.spent")) {
				t.Fatalf("%s: a spent voucher: %s", lang, body)
			}
		}
	})
}

// E14.d: the purchase form's one choice ("as a gift voucher") is ticked already; a voucher
// payment that failed links "My vouchers", not the orders.
func TestVoucherBuyFormAndFailedPaymentLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := vsetup(t, b)
		ctx := context.Background()
		res, err := f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/vouchers/buy?item="+f.item.ID, nil)
		if err != nil || res.Status != 200 || !strings.Contains(string(res.Body), `name="gift" value="yes" checked`) {
			t.Fatalf("buy form: %v %+v", err, res)
		}
		res, err = f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/vouchers/buy", form("item", f.item.ID, "quantity", "1", "gift", "yes"))
		if err != nil || res.Status != http.StatusSeeOther {
			t.Fatalf("buy: %v %+v", err, res)
		}
		var pays []Payment
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&pays).Where("purpose = ?", purposeVoucher).Scan(ctx)
		})
		if len(pays) != 1 {
			t.Fatalf("%d payments", len(pays))
		}
		if _, err := f.h.Do(ctx, f.A, f.buyer, "POST", "/eshop/sandbox/"+pays[0].ID, []byte("action=fail")); err != nil {
			t.Fatal(err)
		}
		res, _ = f.h.Do(ctx, f.A, f.buyer, "GET", "/eshop/pay/"+pays[0].ID+"/return", nil)
		if body := withoutNav(string(res.Body)); res.Status != 200 || !strings.Contains(body, `href="/eshop/vouchers/mine"`) || strings.Contains(body, `href="/eshop/orders"`) {
			t.Fatalf("failed voucher payment: %d %s", res.Status, body)
		}
	})
}
