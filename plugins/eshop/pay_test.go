package eshop

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/eshop/payment"
	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// payFixture is the module on one backend with, in tenant A, a collection point and an
// order of two tests (one with VAT, one exempt) waiting for payment.
type payFixture struct {
	t     *testing.T
	m     *Module
	h     *sdktest.Harness
	A, B  sdk.Tenant
	user  *sdk.User
	other *sdk.User
	order *Order
	now   time.Time
}

func payTenant(t *testing.T, h *sdktest.Harness, id, slug string, rules map[string]any) sdk.Tenant {
	t.Helper()
	r, err := h.Manifest.ValidateRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Tenant{ID: id, Slug: slug, Name: "Unilabs Slovensko", Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK",
		Portal: "customers", Rules: r}
}

func newPayFixture(t *testing.T, b storetest.Backend) *payFixture {
	t.Helper()
	m := newModule()
	f := &payFixture{t: t, m: m, now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	rules := map[string]any{"eshop.seller_name": "Unilabs Slovensko, s. r. o.", "eshop.seller_address": "Ľudovíta Štúra 5, 010 01 Žilina",
		"eshop.seller_registration": "12 345 678", "eshop.seller_vat_id": "SK2020123456", "eshop.payment_contact": "platby@unilabs.sk, +421 2 1234 5678"}
	f.A = payTenant(t, f.h, "tA", "a", rules)
	f.B = payTenant(t, f.h, "tB", "b", nil)
	f.user = &sdk.User{ID: "u1", Name: "Ľubomír Šťastný", Email: "lubo@example.sk", Locale: "sk", Roles: []string{"user"}}
	f.other = &sdk.User{ID: "u2", Name: "Iná Osoba", Locale: "sk", Roles: []string{"user"}}
	f.order = f.newOrder(f.A, "2026-000017")
	return f
}

// newOrder stores in tenant ten an order of the fixture's user, submitted and unpaid.
func (f *payFixture) newOrder(ten sdk.Tenant, number string) *Order {
	f.t.Helper()
	ctx := context.Background()
	o := &Order{TenantID: ten.ID, ID: newID(), Number: number, UserID: f.user.ID, Status: orderSubmitted, Locale: "sk", BuyerName: "Ľubomír Šťastný",
		Email: f.user.Email, Address: "Hlavná 1, 040 01 Košice", TermsVersion: "v1-eshop", Currency: "EUR", SubmittedAt: f.now, PayBy: f.now.Add(30 * time.Minute)}
	pt := &Point{TenantID: ten.ID, ID: newID(), Name: "Odberové miesto Žilina", Street: "Ľudovíta Štúra 5", Town: "Žilina", Postcode: "010 01",
		Building: "B", Floor: "2. poschodie", Room: "214", SlotMinutes: 15, Capacity: 2, Active: true, CreatedAt: f.now, UpdatedAt: f.now}
	items := []*OrderItem{
		{TenantID: ten.ID, ID: newID(), OrderID: o.ID, ItemID: "i1", Kind: kindTest, Name: "Krvný obraz", Preparation: "Nalačno, ráno pred 9. hodinou.",
			ConsentText: "Súhlasím s odberom venóznej krvi.", PriceMinor: 2000, VATPercent: 23, FeeMinor: 300, FeeVATPercent: 23, TATDays: 1,
			PersonName: "Ľubomír Šťastný", PointID: pt.ID, StartsAt: f.now.Add(48 * time.Hour), Status: itemBooked},
		{TenantID: ten.ID, ID: newID(), OrderID: o.ID, ItemID: "i2", Kind: kindTest, Name: "Vitamín D", PriceMinor: 1000, VATPercent: 0, FeeMinor: 300,
			FeeVATPercent: 23, TATDays: 2, PersonName: "Ľubomír Šťastný", PointID: pt.ID, StartsAt: f.now.Add(48 * time.Hour), Status: itemBooked},
	}
	for _, it := range items {
		o.TotalMinor += it.PriceMinor + it.FeeMinor
	}
	o.VoucherMinor = 500
	o.DueMinor = o.TotalMinor - o.VoucherMinor
	err := f.m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(pt).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Insert(o).Exec(ctx); err != nil {
			return err
		}
		for _, it := range items {
			if _, err := sc.Insert(it).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

func (f *payFixture) orderStatus(ten sdk.Tenant, id string) string {
	f.t.Helper()
	var o Order
	err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&o).Where("id = ?", id).Scan(ctx)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o.Status
}

func (f *payFixture) count(ten sdk.Tenant, model any, where string, args ...any) int64 {
	f.t.Helper()
	var n int64
	err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		var err error
		n, err = sc.Select(model).Where(where, args...).Count(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// sent are the messages of template tmpl sent so far.
func (f *payFixture) sent(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			out = append(out, m.Value)
		}
	}
	return out
}

// start opens a payment of the fixture's order and returns it.
func (f *payFixture) start(ten sdk.Tenant, o *Order) *Payment {
	f.t.Helper()
	ctx := context.Background()
	to, err := f.m.startPayment(ctx, ten, o.UserID, purposeOrder, o.ID, o.DueMinor)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.m.loadPayment(ctx, ten, "ref_id = ?", o.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if gatewayRule.Of(ten) == "sandbox" && to != "/eshop/sandbox/"+p.GatewayRef {
		f.t.Fatalf("redirect to %q", to)
	}
	return p
}

func (f *payFixture) notify(ten sdk.Tenant, gateway string, v url.Values) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Do(context.Background(), ten, nil, http.MethodPost, "/eshop/gateway/"+gateway+"/notify", []byte(v.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// pdftotext reads a PDF back with poppler's pdftotext, keeping the layout.
func pdftotext(t *testing.T, pdf []byte) string { return pdftest.Text(t, pdf, true) }

// lineWith is the first line of text holding every one of words, or "".
func lineWith(text string, words ...string) string { return pdftest.LineWith(text, words...) }

// The pay part's tables are tenant tables, reached only through a tenant scope.
func TestPayTablesAreScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		kittest.CheckScoped(t, f.m.Module, (*Payment)(nil), (*PaymentEvent)(nil), (*Invoice)(nil), (*InvoiceCounter)(nil))
	})
}

// E5: the same payment notification delivered 5 times at once is applied once: one payment
// event, the order paid once, one confirmation e-mail, one invoice; the sweep afterwards
// sends nothing more. The confirmation carries the items, the person, the slot, the point
// with its floor and room, the terms in force, the consent text and the preparation, with
// the invoice PDF attached.
func TestPaymentEventAppliedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		p := f.start(f.A, f.order)
		if p.AmountMinor != 3100 || p.Status != payPending || p.Gateway != "sandbox" {
			t.Fatalf("payment %+v", p)
		}
		notices, err := sandboxOf(f.A).Decide(p.GatewayRef, true)
		if err != nil || len(notices) != 1 {
			t.Fatalf("%d notices, %v", len(notices), err)
		}
		var wg sync.WaitGroup
		codes := make([]int, 5)
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = f.notify(f.A, "sandbox", notices[0]).Status
			}()
		}
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusOK {
				t.Fatalf("delivery %d: %d", i, c)
			}
		}
		if s := f.orderStatus(f.A, f.order.ID); s != orderPaid {
			t.Fatalf("order %s", s)
		}
		if n := f.count(f.A, (*PaymentEvent)(nil), "payment_id = ?", p.ID); n != 1 {
			t.Fatalf("%d payment events", n)
		}
		if n := f.count(f.A, (*Invoice)(nil), "ref_id = ?", f.order.ID); n != 1 {
			t.Fatalf("%d invoices", n)
		}
		if err := f.h.Job(context.Background(), f.A, jobPaySweep, nil); err != nil {
			t.Fatal(err)
		}
		msgs := f.sent(tmplOrderPaid)
		if len(msgs) != 1 {
			t.Fatalf("%d confirmations", len(msgs))
		}
		msg := msgs[0]
		if msg.UserID != f.user.ID || len(msg.Attachments) != 2 || msg.Attachments[0].ContentType != "application/pdf" {
			t.Fatalf("confirmation %+v", msg)
		}
		for key, want := range map[string][]string{
			"Items":       {"Krvný obraz", "Vitamín D", "Ľubomír Šťastný", "5. 12. 2026", "Odberové miesto Žilina"},
			"Points":      {"Ľudovíta Štúra 5", "010 01 Žilina", "budova B", "2. poschodie", "miestnosť 214"},
			"Consents":    {"Súhlasím s odberom venóznej krvi."},
			"Preparation": {"Nalačno, ráno pred 9. hodinou."},
			"Terms":       {"Obchodné podmienky", "verzia 1", "obchodne-podmienky-v1.pdf"},
		} {
			got := fmt.Sprint(msg.Data[key])
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("confirmation's %s lacks %q: %q", key, w, got)
				}
			}
		}
		var inv Invoice
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&inv).Where("ref_id = ?", f.order.ID).Scan(ctx)
		})
		if msg.Data["Invoice"] != inv.Number || !bytes.Equal(msg.Attachments[0].Data, inv.PDF) {
			t.Fatalf("the attachment is not invoice %s", inv.Number)
		}
		// The rendered e-mail (the host renders the template with this data) says it all.
		body := f.m.Msgs.For("sk").T("mail."+tmplOrderPaid+".body", kvOf(msg.Data)...)
		for _, w := range []string{"Krvný obraz", "miestnosť 214", "Nalačno", inv.Number, "31,00", "36,00", "5,00"} {
			if !strings.Contains(body, w) {
				t.Errorf("e-mail body lacks %q:\n%s", w, body)
			}
		}
		if text := pdftotext(t, msg.Attachments[0].Data); !strings.Contains(text, inv.Number) || !strings.Contains(text, "Krvný obraz") {
			t.Errorf("attached invoice:\n%s", text)
		}
	})
}

func kvOf(data map[string]any) []any {
	var kv []any
	for k, v := range data {
		kv = append(kv, k, v)
	}
	return kv
}

// E5: a notification is only a trigger: a forged one is refused (400) and changes nothing;
// a stale one arriving after the payment does not undo it; duplicates add nothing.
func TestForgedAndStaleNotifications(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		p := f.start(f.A, f.order)
		forged := url.Values{"ref": {p.GatewayRef}, "result": {"paid"}, "nonce": {"00"}, "sig": {strings.Repeat("ab", 32)}}
		if res := f.notify(f.A, "sandbox", forged); res.Status != http.StatusBadRequest {
			t.Fatalf("forged: %d", res.Status)
		}
		// Signed by tenant B's sandbox: not A's key.
		_, _ = sandboxOf(f.B).Start(context.Background(), payment.Request{PaymentID: p.GatewayRef, AmountMinor: 1, Currency: "EUR"})
		nb, _ := sandboxOf(f.B).Decide(p.GatewayRef, true)
		if res := f.notify(f.A, "sandbox", nb[0]); res.Status != http.StatusBadRequest {
			t.Fatalf("another tenant's signature: %d", res.Status)
		}
		if s := f.orderStatus(f.A, f.order.ID); s != orderSubmitted {
			t.Fatalf("order %s after forged notifications", s)
		}
		sb := sandboxOf(f.A)
		sb.Duplicates, sb.Stale = 2, true
		t.Cleanup(func() { sb.Duplicates, sb.Stale = 0, false })
		res, err := f.h.Do(context.Background(), f.A, f.user, http.MethodPost, "/eshop/sandbox/"+p.ID, []byte("action=pay"))
		if err != nil || res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/eshop/pay/"+p.ID+"/return" {
			t.Fatalf("sandbox page: %v %v", res, err)
		}
		if s := f.orderStatus(f.A, f.order.ID); s != orderPaid {
			t.Fatalf("order %s", s)
		}
		got, _ := f.m.loadPayment(context.Background(), f.A, "id = ?", p.ID)
		if got.Status != payPaid || len(f.sent(tmplOrderPaid)) != 1 {
			t.Fatalf("payment %s, %d confirmations", got.Status, len(f.sent(tmplOrderPaid)))
		}
	})
}

// E5: the return page asks the gateway again: paid before any notification came (the
// sandbox withholds them), pending while undecided, failed with the lab's contact for
// payment problems; another customer's payment is not found. The withheld notification,
// delivered later by the sweep, sends no second confirmation. Pages in fr, pl and sk.
func TestReturnPageRequeries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ctx := context.Background()
		p := f.start(f.A, f.order)
		get := func(u *sdk.User, lang string) *sdk.Response {
			ten := f.A
			ten.Locale = lang
			res, err := f.h.Do(ctx, ten, u, http.MethodGet, "/eshop/pay/"+p.ID+"/return", nil)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		for lang, want := range map[string]string{"sk": "Platbu overujeme", "pl": "Sprawdzamy płatność", "fr": "Paiement en cours de vérification"} {
			if res := get(f.user, lang); res.Status != http.StatusOK || !strings.Contains(string(res.Body), want) || !strings.Contains(string(res.Body), "platby@unilabs.sk") {
				t.Fatalf("%s pending: %d %s", lang, res.Status, res.Body)
			}
		}
		for lang, want := range map[string]string{"sk": "Testovacia platobná brána", "pl": "Testowa bramka płatnicza", "fr": "Passerelle de paiement de test"} {
			ten := f.A
			ten.Locale = lang
			res, err := f.h.Do(ctx, ten, f.user, http.MethodGet, "/eshop/sandbox/"+p.ID, nil)
			if err != nil || res.Status != http.StatusOK || !strings.Contains(string(res.Body), want) || !strings.Contains(string(res.Body), "31,00") {
				t.Fatalf("%s sandbox page: %v %s", lang, err, res.Body)
			}
		}
		if res, _ := f.h.Do(ctx, f.A, f.other, http.MethodGet, "/eshop/sandbox/"+p.ID, nil); res.Status != http.StatusNotFound {
			t.Fatalf("another's sandbox page: %d", res.Status)
		}
		if res := get(f.other, "sk"); res.Status != http.StatusNotFound {
			t.Fatalf("another's payment: %d", res.Status)
		}
		sb := sandboxOf(f.A)
		sb.Delay = time.Minute
		sb.Now = func() time.Time { return f.now }
		t.Cleanup(func() { sb.Delay, sb.Now = 0, nil })
		if ns, _ := sb.Decide(p.GatewayRef, true); len(ns) != 0 {
			t.Fatal("notifications not withheld")
		}
		if res := get(f.user, "sk"); !strings.Contains(string(res.Body), "Platba prijatá") {
			t.Fatalf("paid: %s", res.Body)
		}
		if f.orderStatus(f.A, f.order.ID) != orderPaid || len(f.sent(tmplOrderPaid)) != 1 {
			t.Fatal("the return page did not apply the payment")
		}
		f.now = f.now.Add(2 * time.Minute)
		if err := f.h.Job(ctx, f.A, jobPaySweep, nil); err != nil {
			t.Fatal(err)
		}
		if len(sb.Due()) != 0 || len(f.sent(tmplOrderPaid)) != 1 {
			t.Fatalf("%d confirmations after the late notification", len(f.sent(tmplOrderPaid)))
		}

		// A failed payment: the failure page with the contact.
		o2 := f.newOrder(f.A, "2026-000018")
		p2 := f.start(f.A, o2)
		sb.Delay = 0
		if _, err := f.h.Do(ctx, f.A, f.user, http.MethodPost, "/eshop/sandbox/"+p2.ID, []byte("action=fail")); err != nil {
			t.Fatal(err)
		}
		res, _ := f.h.Do(ctx, f.A, f.user, http.MethodGet, "/eshop/pay/"+p2.ID+"/return", nil)
		// E5: the contact is given with its links (mailto:, tel:), not a "Support" page.
		if body := html.UnescapeString(string(res.Body)); !strings.Contains(body, "Platba sa nepodarila") || !strings.Contains(body, `<a href="mailto:platby@unilabs.sk">platby@unilabs.sk</a>`) ||
			!strings.Contains(body, "<a href=\"tel:+421212345678\">+421\u00a02\u00a01234\u00a05678</a>") || strings.Contains(body, "Podpora") {
			t.Fatalf("failed page: %s", body)
		}
		// Without any contact, the page sends to the points' phones, in every language.
		bare := f.A
		bare.Rules = map[string]any{}
		for k, v := range f.A.Rules {
			if k != "eshop.payment_contact" && !strings.HasPrefix(k, "tenant.contacts.") {
				bare.Rules[k] = v
			}
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			bare.Locale = lang
			res, _ := f.h.Do(ctx, bare, f.user, http.MethodGet, "/eshop/pay/"+p2.ID+"/return", nil)
			body := string(res.Body)
			if res.Status != 200 || !strings.Contains(body, `href="/eshop/points"`) || !strings.Contains(html.UnescapeString(body), f.m.Msgs.For(lang).T("eshop.pay.contact_points")) {
				t.Fatalf("%s failed page without a contact: %d %s", lang, res.Status, body)
			}
		}
		if f.orderStatus(f.A, o2.ID) != orderSubmitted {
			t.Fatal("a failed payment changed the order")
		}
		if res, _ := f.h.Do(ctx, f.A, f.user, http.MethodPost, "/eshop/sandbox/"+p2.ID, []byte("action=steal")); res.Status != http.StatusBadRequest {
			t.Fatalf("bad action: %d", res.Status)
		}
	})
}

// E5: with Besteron, a correctly signed notification saying OK does not make the order
// paid while Besteron's status query says the payment was not received; once received, it
// does. Besteron's side is a local server playing its documented messages.
func TestBesteronNotificationIsOnlyATrigger(t *testing.T) {
	received := map[string]bool{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("Cid") != "4242" || q.Get("ApiKey") != "api" {
			_ = json.NewEncoder(w).Encode(map[string]any{"resultCode": "ERR"})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		payments := []any{}
		if received[q.Get("Vs")] {
			payments = append(payments, map[string]any{"vs": q.Get("Vs")})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"resultCode": "OK", "payments": payments})
	}))
	t.Cleanup(srv.Close)
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	gw := &payment.Besteron{CID: "4242", Key: key, APIKey: "api", PayURL: "https://pay.example/", StatusURL: srv.URL, Client: srv.Client()}
	old := besteron
	besteron = func() (payment.Gateway, error) { return gw, nil }
	t.Cleanup(func() { besteron = old })
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		r, _ := f.h.Manifest.ValidateRules(map[string]any{"eshop.gateway": "besteron"})
		f.A.Rules = r
		if _, err := f.m.startPayment(context.Background(), f.A, f.user.ID, purposeOrder, f.order.ID, f.order.DueMinor); err == nil {
			t.Fatal("Besteron started without the shop's public address to come back to")
		}
		r, _ = f.h.Manifest.ValidateRules(map[string]any{"eshop.gateway": "besteron", "eshop.site_url": "https://eshop.unilabs.sk"})
		f.A.Rules = r
		p := f.start(f.A, f.order)
		if p.Gateway != "besteron" || len(p.GatewayRef) != 10 {
			t.Fatalf("payment %+v", p)
		}
		amnt := payment.Amount(p.AmountMinor)
		sign, _ := gw.Sign("4242" + amnt + "978" + p.GatewayRef + "OK")
		q := url.Values{"AMNT": {amnt}, "CURR": {"978"}, "VS": {p.GatewayRef}, "RESULT": {"OK"}, "SIGN": {sign}}
		res, err := f.h.Do(context.Background(), f.A, nil, http.MethodGet, "/eshop/gateway/besteron/notify?"+q.Encode(), nil)
		if err != nil || res.Status != http.StatusOK {
			t.Fatalf("notification: %v %v", res, err)
		}
		if s := f.orderStatus(f.A, f.order.ID); s != orderSubmitted {
			t.Fatalf("order %s on a notification alone", s)
		}
		mu.Lock()
		received[p.GatewayRef] = true
		mu.Unlock()
		res, _ = f.h.Do(context.Background(), f.A, nil, http.MethodGet, "/eshop/gateway/besteron/notify?"+q.Encode(), nil)
		if s := f.orderStatus(f.A, f.order.ID); res.Status != http.StatusOK || s != orderPaid {
			t.Fatalf("order %s once received (%d)", s, res.Status)
		}
		// The customer comes back from a failed payment: the return's signed result says so.
		o2 := f.newOrder(f.A, "2026-000019")
		p2 := f.start(f.A, o2)
		failSign, _ := gw.Sign("4242" + payment.Amount(p2.AmountMinor) + "978" + p2.GatewayRef + "FAIL")
		back := url.Values{"AMNT": {payment.Amount(p2.AmountMinor)}, "CURR": {"978"}, "VS": {p2.GatewayRef}, "RESULT": {"FAIL"}, "SIGN": {failSign}}
		res, _ = f.h.Do(context.Background(), f.A, f.user, http.MethodGet, "/eshop/pay/"+p2.ID+"/return?"+back.Encode(), nil)
		if !strings.Contains(string(res.Body), "Platba sa nepodarila") {
			t.Fatalf("failed return: %s", res.Body)
		}
		back.Set("RESULT", "OK")
		res, _ = f.h.Do(context.Background(), f.A, f.user, http.MethodGet, "/eshop/pay/"+p2.ID+"/return?"+back.Encode(), nil)
		if !strings.Contains(string(res.Body), "Platbu overujeme") || f.orderStatus(f.A, o2.ID) != orderSubmitted {
			t.Fatalf("a forged return: %s", res.Body)
		}
		q.Set("AMNT", "0.01")
		if res, _ := f.h.Do(context.Background(), f.A, nil, http.MethodGet, "/eshop/gateway/besteron/notify?"+q.Encode(), nil); res.Status != http.StatusBadRequest {
			t.Fatalf("tampered notification: %d", res.Status)
		}
	})
}

// E5, E14.d: invoice numbers are given without gaps per tenant and year under concurrency
// (30 invoices at once give 1…30), the same thing issued 5 times at once gets one invoice
// (and takes one number), and another tenant counts on its own.
func TestInvoiceNumbersWithoutGaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ctx := context.Background()
		line := []InvoiceLine{{Name: "Krvný obraz", Quantity: 1, GrossMinor: 2000, VATPercent: 23}}
		var wg sync.WaitGroup
		numbers := make([]string, 35)
		errs := make([]error, 35)
		for i := range 35 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref := fmt.Sprintf("order-%d", i)
				if i >= 30 {
					ref = "order-same"
				}
				numbers[i], _, errs[i] = f.m.issueInvoice(ctx, f.A, invoiceFor{Purpose: purposeOrder, RefID: ref, UserID: f.user.ID, BuyerName: "Ján Novák", Lines: line})
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, n := range numbers {
			if errs[i] != nil {
				t.Fatalf("invoice %d: %v", i, errs[i])
			}
			if i < 30 && seen[n] {
				t.Fatalf("number %s given twice", n)
			}
			seen[n] = true
		}
		for i := 31; i < 35; i++ {
			if numbers[i] != numbers[30] {
				t.Fatalf("the same order got invoices %s and %s", numbers[30], numbers[i])
			}
		}
		if len(seen) != 31 {
			t.Fatalf("%d numbers for 31 invoices", len(seen))
		}
		for k := 1; k <= 31; k++ {
			if n := fmt.Sprintf("2026%06d", k); !seen[n] {
				t.Fatalf("number %s missing: a gap (%v)", n, seen)
			}
		}
		if n := f.count(f.A, (*Invoice)(nil), "1 = 1"); n != 31 {
			t.Fatalf("%d invoices stored", n)
		}
		nb, _, err := f.m.issueInvoice(ctx, f.B, invoiceFor{Purpose: purposeOrder, RefID: "order-b", UserID: "x", BuyerName: "B", Lines: line})
		if err != nil || nb != "2026000001" {
			t.Fatalf("tenant B's first invoice %q, %v", nb, err)
		}
		f.now = time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
		if n, _, _ := f.m.issueInvoice(ctx, f.A, invoiceFor{Purpose: purposeOrder, RefID: "order-2027", UserID: "x", BuyerName: "B", Lines: line}); n != "2027000001" {
			t.Fatalf("first invoice of 2027: %q", n)
		}
	})
}

// E5, E14.d: the invoice PDF, read back with pdftotext: the seller's legal block and the
// buyer with Slovak letters intact, each test and its handling fee on lines of their own,
// the VAT breakdown per rate with the exempt line stated as exempt, the totals and the
// voucher applied. The customer downloads it; another customer cannot.
func TestInvoicePDF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ctx := context.Background()
		var items []OrderItem
		_ = f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&items).Where("order_id = ?", f.order.ID).Order("name").Scan(ctx)
		})
		in := orderInvoice(f.m.Msgs.For("sk"), f.order, items, nil)
		if len(in.Lines) != 4 {
			t.Fatalf("%d lines: each test and its fee are separate lines", len(in.Lines))
		}
		number, pdf, err := f.m.issueInvoice(ctx, f.A, in)
		if err != nil {
			t.Fatal(err)
		}
		text := pdftotext(t, pdf)
		for _, w := range []string{"Faktúra – daňový doklad č. " + number, "Unilabs Slovensko, s. r. o.", "Ľudovíta Štúra 5, 010 01 Žilina", "SK2020123456",
			"Ľubomír Šťastný", "Hlavná 1, 040 01 Košice", "2026-000017", "Rekapitulácia DPH"} {
			if !strings.Contains(text, w) {
				t.Errorf("invoice lacks %q:\n%s", w, text)
			}
		}
		checks := [][]string{
			{"Krvný obraz", "23 %", "20,00"},
			{"Manipulačný poplatok – Krvný obraz", "23 %", "3,00"},
			{"Vitamín D", "oslobodené od DPH", "10,00"},
			{"Manipulačný poplatok – Vitamín D", "23 %", "3,00"},
			// 23 %: 26,00 gross includes 4,86 VAT on a base of 21,14; exempt: 10,00.
			{"23 %", "21,14", "4,86", "26,00"},
			{"oslobodené od DPH", "10,00", "oslobodené od DPH", "10,00"},
			{"Celkom:", "36,00"},
			{"Uhradené darčekovou poukážkou:", "-5,00"},
			{"Uhradené cez platobnú bránu:", "31,00"},
		}
		for _, c := range checks {
			if lineWith(text, c...) == "" {
				t.Errorf("no line with %q:\n%s", c, text)
			}
		}
		// In the order's language: a French order's invoice is French.
		fr, err := f.m.invoicePDF(f.A, "fr", orderInvoice(f.m.Msgs.For("fr"), f.order, items, nil), "2026000099", f.now)
		if err != nil {
			t.Fatal(err)
		}
		frText := pdftotext(t, fr)
		for _, c := range [][]string{{"Facture n° 2026000099"}, {"Vitamín D", "exonéré de TVA", "10,00"}, {"Frais de traitement — Krvný obraz", "23", "3,00"}, {"Payé par bon cadeau", "-5,00"}} {
			if lineWith(frText, c...) == "" {
				t.Errorf("French invoice: no line with %q:\n%s", c, frText)
			}
		}
		var inv Invoice
		_ = f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&inv).Where("number = ?", number).Scan(ctx)
		})
		res, err := f.h.Do(ctx, f.A, f.user, http.MethodGet, invoicePath(inv.ID), nil)
		if err != nil || res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !bytes.Equal(res.Body, pdf) {
			t.Fatalf("download: %v %v", res.Status, err)
		}
		for _, path := range []string{invoicePath(inv.ID), "/eshop/invoices/" + inv.ID} {
			if res, _ := f.h.Do(ctx, f.A, f.other, http.MethodGet, path, nil); res.Status != http.StatusNotFound {
				t.Fatalf("%s by another: %d", path, res.Status)
			}
		}
		if res, _ := f.h.Do(ctx, f.B, f.user, http.MethodGet, invoicePath(inv.ID), nil); res.Status != http.StatusNotFound {
			t.Fatalf("from another tenant: %d", res.Status)
		}
		if _, err := strconv.Atoi(number); err != nil {
			t.Fatalf("number %q", number)
		}
	})
}

// E5: a tenant that left the shop's seller rules empty still issues invoices naming it as
// its operator declared it (its legal block, which the host passes with the rules), and its
// payment problem page gives its support address and phone.
func TestInvoiceSellerFromTheTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		ten := f.B
		ten.Rules = map[string]any{}
		for k, v := range f.B.Rules {
			ten.Rules[k] = v
		}
		for k, v := range map[string]string{"tenant.legal.company": "Laboratórium Šaca, s. r. o.", "tenant.legal.address": "Železničná 3, 040 15 Košice",
			"tenant.legal.registration": "OR SR Košice I, vložka 77", "tenant.legal.vat_id": "SK2020999888",
			"tenant.contacts.support": "podpora@saca.example", "tenant.contacts.phone": "+421 55 000 0000"} {
			ten.Rules[k] = v
		}
		o := f.newOrder(ten, "2026-000031")
		var items []OrderItem
		_ = f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&items).Where("order_id = ?", o.ID).Scan(ctx)
		})
		pdf, err := f.m.invoicePDF(ten, "sk", orderInvoice(f.m.Msgs.For("sk"), o, items, nil), "2026000031", f.now)
		if err != nil {
			t.Fatal(err)
		}
		text := pdftotext(t, pdf)
		for _, want := range []string{"Laboratórium Šaca, s. r. o.", "Železničná 3, 040 15 Košice", "OR SR Košice I, vložka 77", "SK2020999888"} {
			if !strings.Contains(text, want) {
				t.Errorf("the invoice does not name %q:\n%s", want, text)
			}
		}
		if got := payContact(ten); got != "podpora@saca.example, +421 55 000 0000" {
			t.Errorf("payment contact %q", got)
		}
		// The module's own rule, when set, wins.
		if got := payContact(f.A); !strings.Contains(got, "platby@unilabs.sk") {
			t.Errorf("payment contact from the rule: %q", got)
		}
	})
}

// E5, P4: each choice of the shop's choice rules (the payment gateway: "sandbox",
// "besteron") has its words in fr, pl and sk ("rule.<name>.<choice>"), for the rules page to
// show instead of the raw value.
func TestRuleChoicesNamed(t *testing.T) {
	m := newModule()
	choices := 0
	for _, r := range m.Manifest().Rules {
		for _, ch := range r.Choices {
			choices++
			for _, lang := range []string{"fr", "pl", "sk"} {
				id := "rule." + r.Name + "." + ch
				if !m.Msgs.For(lang).Has(id) || strings.EqualFold(m.Msgs.For(lang).T(id), ch) {
					t.Errorf("%s: no words for the choice %q of %s", lang, ch, r.Name)
				}
			}
		}
	}
	if choices < 2 {
		t.Fatalf("%d choices: the gateway rule's are gone", choices)
	}
}

// E5, E14.b: an order a value voucher paid in full is invoiced with what the voucher paid and
// no line of a gateway payment that did not happen.
func TestInvoiceOfAnOrderPaidByAValueVoucher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		var items []OrderItem
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&items).Where("order_id = ?", f.order.ID).Scan(ctx)
		})
		o := *f.order
		o.VoucherMinor, o.DueMinor = o.TotalMinor, 0
		pdf, err := f.m.invoicePDF(f.A, "sk", orderInvoice(f.m.Msgs.For("sk"), &o, items, nil), "2026000077", f.now)
		if err != nil {
			t.Fatal(err)
		}
		text := pdftotext(t, pdf)
		if lineWith(text, "Uhradené darčekovou poukážkou:", "-36,00") == "" || strings.Contains(text, "Uhradené cez platobnú bránu") {
			t.Errorf("the invoice of an order a value voucher paid:\n%s", text)
		}
	})
}
