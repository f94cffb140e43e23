package eshop

import (
	"context"
	"fmt"
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

type ordFixture struct {
	t      *testing.T
	h      *sdktest.Harness
	m      *Module
	T, U   sdk.Tenant
	now    time.Time
	point  *Point
	item   *Item // from 10 years, VAT included
	kids   *Item // suitable from 6
	anna   *sdk.User
	boris  *sdk.User
	mu     sync.Mutex
	gaveBk []string
}

// slotAt is a slot on Thursday 3 December 2026 (the fixture's now is Tuesday the 1st).
func slotAt(hour int) time.Time { return time.Date(2026, 12, 3, hour, 0, 0, 0, time.UTC) }

func ordSetup(t *testing.T, b storetest.Backend) *ordFixture {
	m := newModule()
	f := &ordFixture{t: t, m: m, now: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		T: sdk.Tenant{ID: "unilabs", Slug: "unilabs", Name: "Unilabs", Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"},
		U: sdk.Tenant{ID: "other", Slug: "other", Name: "Other", Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"}}
	m.now = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	f.T.Rules, _ = f.h.Manifest.ValidateRules(nil)
	f.U.Rules = f.T.Rules
	f.anna = &sdk.User{ID: "u-anna", Email: "anna@example.sk", Name: "Anna Nováková", Locale: "sk", Roles: []string{"user"}, BirthDate: "1980-01-01",
		Profile: map[string]string{"mobile": "+421912345678", "address": "Hlavná 1, 811 01 Bratislava, Slovensko"}}
	f.boris = &sdk.User{ID: "u-boris", Email: "boris@example.sk", Name: "Boris Kováč", Locale: "sk", Roles: []string{"user"}, BirthDate: "1975-03-03"}
	f.h.Host.Users[f.T.ID] = []sdk.User{*f.anna, *f.boris}
	f.h.Host.Dependants[f.T.ID] = map[string][]sdk.Dependant{f.anna.ID: {
		{ID: "d-nine", FirstName: "Ema", LastName: "Nováková", BirthDate: "2016-12-04", Relationship: "parent", LegalStatus: "minor", OfAgeOn: "2034-12-04", Represented: true},
		{ID: "d-ten", FirstName: "Eva", LastName: "Nováková", BirthDate: "2016-12-03", Relationship: "parent", LegalStatus: "minor", OfAgeOn: "2034-12-03", Represented: true},
		{ID: "d-major", FirstName: "Adam", LastName: "Novák", BirthDate: "2008-12-02", Relationship: "parent", LegalStatus: "minor", OfAgeOn: "2026-12-02", Represented: true},
	}}
	giveBack = func(_ *Module, _ context.Context, _ *store.Scope, _ sdk.Tenant, orderID string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.gaveBk = append(f.gaveBk, orderID)
		return nil
	}
	t.Cleanup(func() { giveBack = (*Module).giveBackVouchers })
	now := f.now
	f.point = &Point{TenantID: f.T.ID, ID: "p-1", Name: "Odberné miesto Ružinov", Street: "Ružinovská 10", Town: "Bratislava", SlotMinutes: 15, Capacity: 1, Active: true, CreatedAt: now, UpdatedAt: now}
	f.item = &Item{TenantID: f.T.ID, ID: "i-lipid", Kind: kindTest, Name: "Lipidový profil", ConsentText: "Odber venóznej krvi.", Preparation: "Nalačno.",
		PriceMinor: 2500, VATIncluded: true, TATDays: 2, Active: true, CreatedAt: now, UpdatedAt: now}
	f.kids = &Item{TenantID: f.T.ID, ID: "i-ferritin", Kind: kindTest, Name: "Feritín", ConsentText: "Odber kapilárnej krvi.", PriceMinor: 1200,
		TATDays: 1, SuitableFrom6: true, Active: true, CreatedAt: now, UpdatedAt: now}
	err := m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
		for _, x := range []any{f.point, f.item, f.kids} {
			if _, err := sc.Insert(x).Exec(ctx); err != nil {
				return err
			}
		}
		// E3: the point is open every day from 6:00 to 20:00, so the slots on the quarter
		// hours the tests use are on its grid.
		for wd := 0; wd < 7; wd++ {
			if _, err := sc.Insert(&PointHours{TenantID: f.T.ID, PointID: f.point.ID, Weekday: wd, Opens: "06:00", Closes: "20:00"}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *ordFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *ordFixture) do(u *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	var body []byte
	if form != nil {
		body = []byte(form.Encode())
	}
	res, err := f.h.Do(context.Background(), f.T, u, method, path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// addLine puts item in u's cart for person at start.
func (f *ordFixture) addLine(u *sdk.User, item *Item, person string, start time.Time) *sdk.Response {
	return f.do(u, "POST", "/eshop/cart", url.Values{"item": {item.ID}, "person": {person}, "point": {f.point.ID}, "slot": {start.Format(time.RFC3339)}})
}

func (f *ordFixture) read(fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.Read(context.Background(), f.T, fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f *ordFixture) cartOf(u *sdk.User) []CartItem {
	var out []CartItem
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("ci.user_id = ?", u.ID).Order("ci.added_at").Scan(ctx)
	})
	return out
}

func (f *ordFixture) taken(start time.Time) int {
	var n []int
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*SlotLoad)(nil)).Column("sl.taken").Where("sl.point_id = ? AND sl.starts_at = ?", f.point.ID, start).Scan(ctx, &n)
	})
	if len(n) == 0 {
		return 0
	}
	return n[0]
}

func (f *ordFixture) order(id string) (Order, []OrderItem) {
	var o Order
	var items []OrderItem
	f.read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&o).Where("o.id = ?", id).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&items).Where("oi.order_id = ?", id).Order("oi.starts_at").Scan(ctx)
	})
	return o, items
}

// checkoutForm is a complete checkout form for u's cart.
func (f *ordFixture) checkoutForm(u *sdk.User) url.Values {
	lines := f.cartOf(u)
	ids := make([]string, len(lines))
	form := url.Values{"name": {u.Name}, "address": {"Hlavná 1, 811 01 Bratislava"}, "mobile": {"0912 345 678"}, "privacy": {"on"}, "adult": {"on"},
		"third_party": {"on"}, "representative": {"on"}}
	for i, l := range lines {
		ids[i] = l.ID
		form.Set("consent_"+l.ID, "on")
	}
	form.Set("lines", strings.Join(ids, ","))
	return form
}

// submit sends u's cart as an order, with terms version v7, and returns the order's id.
func (f *ordFixture) submit(u *sdk.User) string {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), f.T, u, &sdk.Request{Method: "POST", Path: "/eshop/checkout",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(f.checkoutForm(u).Encode()), TermsVersion: "v7"})
	if err != nil {
		f.t.Fatal(err)
	}
	if res.Status != http.StatusSeeOther {
		f.t.Fatalf("checkout: %d %s", res.Status, res.Body)
	}
	var ids []string
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Order)(nil)).Column("o.id").Where("o.user_id = ?", u.ID).Order("o.submitted_at DESC").Limit(1).Scan(ctx, &ids)
	})
	if len(ids) != 1 {
		f.t.Fatal("no order stored")
	}
	// E5: the submitted order goes to its payment, on the gateway's page.
	var pays []string
	f.read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Payment)(nil)).Column("pay.id").Where("pay.ref_id = ? AND pay.purpose = ?", ids[0], purposeOrder).Scan(ctx, &pays)
	})
	if loc := res.Header.Get("Location"); len(pays) != 1 || !strings.HasSuffix(loc, "/eshop/sandbox/"+pays[0]) {
		f.t.Fatalf("checkout went to %q (payments %v)", loc, pays)
	}
	return ids[0]
}

func (f *ordFixture) job(name, payload string) {
	f.t.Helper()
	if err := f.h.Job(context.Background(), f.T, name, []byte(payload)); err != nil {
		f.t.Fatalf("job %s: %v", name, err)
	}
}

func (f *ordFixture) messages(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, x := range f.h.Host.Messages {
		if x.Value.Template == tmpl && x.Scope.TenantID == f.T.ID {
			out = append(out, x.Value)
		}
	}
	return out
}

func (f *ordFixture) scheduled(key string) *sdk.Job {
	for _, x := range f.h.Host.Jobs {
		if x.Value.Key == key && x.Scope.TenantID == f.T.ID {
			j := x.Value
			return &j
		}
	}
	return nil
}

func sk(m *Module, id string) string { return m.Msgs.For("sk").T(id) }

// TestOrdersTablesAreScoped: the orders part's own tables are tenant tables reached only
// through a scope.
func TestOrdersTablesAreScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		kittest.CheckScoped(t, f.m.Module, (*CartCode)(nil), (*OrderCounter)(nil), (*CartLapsed)(nil))
	})
}

// E4: adding a line holds the slot's place until the tenant's hold time runs out; then the
// durable job (or, were it lost, the sweep) removes the line and frees the place.
func TestCartHoldExpiryFreesPlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		start := slotAt(9)
		if res := f.addLine(f.anna, f.item, "self", start); res.Status != http.StatusSeeOther {
			t.Fatalf("add: %d %s", res.Status, res.Body)
		}
		lines := f.cartOf(f.anna)
		if len(lines) != 1 || lines[0].HoldID == "" {
			t.Fatalf("cart: %+v", lines)
		}
		want := f.now.Add(time.Duration(cartHoldMinutes.Of(f.T)) * time.Minute)
		if !lines[0].ExpiresAt.Equal(want) {
			t.Fatalf("hold until %v, want %v", lines[0].ExpiresAt, want)
		}
		job := f.scheduled("cart:" + lines[0].ID)
		if job == nil || job.Name != jobCartExpire || !job.At.Equal(want) {
			t.Fatalf("expiry job: %+v", job)
		}
		// The slot's only place is Anna's: Boris is told, next to the slot.
		res := f.addLine(f.boris, f.item, "self", start)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), sk(f.m, "eshop.cart.error.slot_full")) {
			t.Fatalf("full slot: %d %s", res.Status, res.Body)
		}
		// The cart shows the end of the hold in words and the countdown's script.
		page := f.do(f.anna, "GET", "/eshop/cart", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "data-countdown") || !strings.Contains(string(page.Body), "countdown.js") {
			t.Fatalf("cart page: %d %s", page.Status, page.Body)
		}
		// Early, the job changes nothing.
		f.job(jobCartExpire, lines[0].ID)
		if len(f.cartOf(f.anna)) != 1 || f.taken(start) != 1 {
			t.Fatal("the hold lapsed early")
		}
		f.advance(time.Duration(cartHoldMinutes.Of(f.T))*time.Minute + time.Second)
		f.job(jobCartExpire, lines[0].ID)
		if len(f.cartOf(f.anna)) != 0 || f.taken(start) != 0 {
			t.Fatalf("after expiry: cart %d, taken %d", len(f.cartOf(f.anna)), f.taken(start))
		}
		if res := f.addLine(f.boris, f.item, "self", start); res.Status != http.StatusSeeOther {
			t.Fatalf("freed slot: %d %s", res.Status, res.Body)
		}
		// The sweep frees a hold whose job was lost.
		f.advance(time.Duration(cartHoldMinutes.Of(f.T))*time.Minute + time.Second)
		f.job(jobOrdersSweep, "")
		if len(f.cartOf(f.boris)) != 0 || f.taken(start) != 0 {
			t.Fatal("the sweep left a lapsed hold")
		}
		// A removed line gives its place back at once.
		f.addLine(f.anna, f.item, "self", slotAt(10))
		l := f.cartOf(f.anna)[0]
		if res := f.do(f.boris, "POST", "/eshop/cart/lines/"+l.ID+"/remove", url.Values{}); res.Status != http.StatusNotFound {
			t.Fatalf("another's line removed: %d", res.Status)
		}
		if res := f.do(f.anna, "POST", "/eshop/cart/lines/"+l.ID+"/remove", url.Values{}); res.Status != http.StatusSeeOther || f.taken(slotAt(10)) != 0 {
			t.Fatalf("remove: %d, taken %d", res.Status, f.taken(slotAt(10)))
		}
	})
}

// E4: N+20 customers add the same slot of N places at once: exactly N hold it.
func TestCartHoldsRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Point)(nil)).Set("capacity = 3").Where("id = ?", f.point.ID).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var users []sdk.User
		for i := range 23 {
			users = append(users, sdk.User{ID: fmt.Sprintf("u-%d", i), Email: fmt.Sprintf("u%d@example.sk", i), Name: "U", Locale: "sk", BirthDate: "1990-01-01"})
		}
		codes := make([]int, len(users))
		var wg sync.WaitGroup
		for i := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), f.T, &users[i], "POST", "/eshop/cart",
					[]byte(url.Values{"item": {f.item.ID}, "person": {"self"}, "point": {f.point.ID}, "slot": {slotAt(9).Format(time.RFC3339)}}.Encode()))
				if err == nil {
					codes[i] = res.Status
				}
			}()
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == http.StatusSeeOther {
				ok++
			} else if c != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", c)
			}
		}
		if ok != 3 || f.taken(slotAt(9)) != 3 {
			t.Fatalf("%d lines hold a slot of 3 places (taken %d)", ok, f.taken(slotAt(9)))
		}
	})
}

// E1, E2: on the day of the slot the person must have reached the item's minimum age, and
// a person the customer represents must still be represented then; a refusal says why,
// next to the field, and holds nothing.
func TestCartAgeRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		start := slotAt(9) // 3 December 2026
		cases := []struct {
			item   *Item
			person string
			want   string
		}{
			{f.item, "d-nine", "eshop.cart.error.too_young"},        // 9 on the slot's day, the test is from 10
			{f.item, "d-major", "eshop.cart.error.not_represented"}, // of age on 2 December
			{f.item, "d-stranger", "eshop.cart.error.person"},       // not a person Anna represents
			{f.item, "self", ""},   // Anna, 46
			{f.item, "d-ten", ""},  // 10 on the slot's very day
			{f.kids, "d-nine", ""}, // suitable from 6
		}
		for _, c := range cases {
			res := f.addLine(f.anna, c.item, c.person, start)
			if c.want == "" {
				if res.Status != http.StatusSeeOther {
					t.Errorf("%s for %s: %d %s", c.item.Name, c.person, res.Status, res.Body)
				}
				f.do(f.anna, "POST", "/eshop/cart/lines/"+f.cartOf(f.anna)[0].ID+"/remove", url.Values{})
				continue
			}
			body := string(res.Body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-person"`) || !strings.Contains(body, sk(f.m, c.want)) {
				t.Errorf("%s for %s: %d, want %s next to the person", c.item.Name, c.person, res.Status, c.want)
			}
			if len(f.cartOf(f.anna)) != 0 || f.taken(start) != 0 {
				t.Fatalf("a refused line was kept")
			}
		}
		// Without a date of birth the age cannot be checked.
		nobirth := *f.boris
		nobirth.BirthDate = ""
		if res := f.addLine(&nobirth, f.item, "self", start); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), sk(f.m, "eshop.cart.error.no_birth_date")) {
			t.Fatalf("no birth date: %d", res.Status)
		}
		// Malformed input is a 422 next to the field, never a 500.
		res := f.do(f.anna, "POST", "/eshop/cart", url.Values{"item": {"nope"}, "person": {"self"}, "point": {"x"}, "slot": {"tomorrow"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-slot"`) || !strings.Contains(string(res.Body), `id="e-item"`) {
			t.Fatalf("bad input: %d", res.Status)
		}
	})
}

// E4, E6, P6: the order copies the catalog's price, VAT, fee, turnaround and texts at
// submission; a later change of the catalog or of the tenant's rules does not touch it. The
// cart's places move to the order's lines without expiry, the mobile is kept in E.164, the
// terms' version with the order, and the payment time starts.
func TestOrderKeepsSubmissionPrices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		f.addLine(f.anna, f.kids, "d-nine", slotAt(10))
		id := f.submit(f.anna)
		// The catalog and the fee change after submission.
		err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Item)(nil)).Set("price_minor = 9900").Set("consent_text = 'nový text'").Where("id = ?", f.item.ID).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		o, items := f.order(id)
		fee := handlingFeeMinor.Of(f.T)
		if o.Status != orderSubmitted || o.TotalMinor != 2500+1200+2*fee || o.DueMinor != o.TotalMinor || o.Currency != "EUR" {
			t.Fatalf("order: %+v", o)
		}
		if o.TermsVersion != "v7" || o.Mobile != "+421912345678" || o.Email != f.anna.Email || !strings.HasPrefix(o.Number, "2026-") {
			t.Fatalf("order details: %+v", o)
		}
		if !o.PayBy.Equal(f.now.Add(time.Duration(paymentMinutes.Of(f.T)) * time.Minute)) {
			t.Fatalf("pay by %v", o.PayBy)
		}
		if len(items) != 2 || items[0].PriceMinor != 2500 || items[0].VATPercent != int(vatPercent.Of(f.T)) || items[0].ConsentText != "Odber venóznej krvi." ||
			items[0].FeeMinor != fee || items[0].TATDays != 2 || items[1].VATPercent != 0 || items[1].PersonName != "Ema Nováková" || items[1].Relationship != "parent" {
			t.Fatalf("items: %+v", items)
		}
		var holds []Hold
		f.read(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&holds).Order("ho.starts_at").Scan(ctx)
		})
		if len(holds) != 2 || holds[0].Purpose != holdOrder || holds[0].RefID != items[0].ID || !holds[0].ExpiresAt.IsZero() {
			t.Fatalf("holds: %+v", holds)
		}
		if len(f.cartOf(f.anna)) != 0 {
			t.Fatal("the cart was not emptied")
		}
		// An expiry job of a submitted line changes nothing.
		f.advance(time.Hour * 2)
		f.job(jobCartExpire, "whatever")
		if f.taken(slotAt(9)) != 1 {
			t.Fatal("a submitted line's place was freed")
		}
		if j := f.scheduled("overdue:" + id); j == nil || !j.At.Equal(o.PayBy) {
			t.Fatalf("overdue job: %+v", j)
		}
	})
}

// E4: the order is not made without every acceptance and a valid mobile; the form says
// which, and nothing changes.
func TestCheckoutRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.kids, "d-nine", slotAt(9))
		for _, c := range []struct{ field, value string }{
			{"consent_" + f.cartOf(f.anna)[0].ID, ""}, {"representative", ""}, {"third_party", ""}, {"adult", ""}, {"privacy", ""},
			{"mobile", "123"}, {"mobile", ""}, {"name", " "},
		} {
			form := f.checkoutForm(f.anna)
			form.Set(c.field, c.value)
			res := f.do(f.anna, "POST", "/eshop/checkout", form)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-`+c.field+`"`) {
				t.Errorf("%s=%q: %d", c.field, c.value, res.Status)
			}
		}
		var n int64
		f.read(func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*Order)(nil)).Count(ctx)
			return err
		})
		if n != 0 || len(f.cartOf(f.anna)) != 1 {
			t.Fatalf("%d orders, %d cart lines", n, len(f.cartOf(f.anna)))
		}
		// The page shows the seed's button in the customer's language.
		page := f.do(f.anna, "GET", "/eshop/checkout", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "DOKONČIŤ OBJEDNÁVKU S POVINNOSŤOU PLATBY") {
			t.Fatalf("checkout page: %d", page.Status)
		}
	})
}

// overdueOrder is Anna's order for herself at 9:00 on the 3rd, made overdue.
func (f *ordFixture) overdueOrder() string {
	f.t.Helper()
	f.addLine(f.anna, f.item, "self", slotAt(9))
	id := f.submit(f.anna)
	f.advance(time.Duration(paymentMinutes.Of(f.T))*time.Minute + time.Second)
	f.job(jobOrderOverdue, id)
	return id
}

// E5: unpaid at its deadline, the order becomes overdue: its slots are released, it stays
// binding, and the customer is invited by e-mail and SMS to pay by the invitation's deadline;
// the job run twice invites once.
func TestOverdueReleasesSlotsAndInvites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		id := f.submit(f.anna)
		f.job(jobOrderOverdue, id) // too early
		if o, _ := f.order(id); o.Status != orderSubmitted || f.taken(slotAt(9)) != 1 {
			t.Fatal("overdue before the deadline")
		}
		f.advance(time.Duration(paymentMinutes.Of(f.T))*time.Minute + time.Second)
		f.job(jobOrderOverdue, id)
		f.job(jobOrderOverdue, id)
		o, items := f.order(id)
		if o.Status != orderOverdue || !o.InviteDeadline.Time.Equal(f.now.Add(time.Duration(invitationHours.Of(f.T))*time.Hour)) {
			t.Fatalf("order: %+v", o)
		}
		if items[0].Status != itemReleased || items[0].HoldID != "" || f.taken(slotAt(9)) != 0 {
			t.Fatalf("item %+v, taken %d", items[0], f.taken(slotAt(9)))
		}
		msgs := f.messages(tmplOrderOverdue)
		if len(msgs) != 2 {
			t.Fatalf("%d invitations", len(msgs))
		}
		var mail, sms *sdk.Message
		for i := range msgs {
			if msgs[i].Channel == "sms" {
				sms = &msgs[i]
			} else {
				mail = &msgs[i]
			}
		}
		if mail == nil || mail.UserID != f.anna.ID || mail.Link != "/eshop/orders/"+id+"/pay" || mail.Data["Number"] != o.Number || mail.Data["Deadline"] == "" {
			t.Fatalf("e-mail: %+v", mail)
		}
		if sms == nil || sms.To != "+421912345678" || sms.Link != mail.Link {
			t.Fatalf("SMS: %+v", sms)
		}
		if j := f.scheduled("cancel:" + id); j == nil || !j.At.Equal(o.InviteDeadline.Time) {
			t.Fatalf("cancellation job: %+v", j)
		}
		// The message's texts exist in every language.
		for _, lang := range []string{"fr", "pl", "sk"} {
			for _, k := range []string{"mail.eshop.order_overdue.subject", "mail.eshop.order_overdue.body", "sms.eshop.order_overdue", "mail.eshop.order_cancelled.body"} {
				if !f.m.Msgs.Has(lang, k) {
					t.Errorf("%s: no %s", lang, k)
				}
			}
		}
		// The sweep makes overdue an order whose job was lost.
		f.addLine(f.boris, f.item, "self", slotAt(11))
		id2 := f.submit(f.boris)
		f.advance(time.Duration(paymentMinutes.Of(f.T))*time.Minute + time.Second)
		f.job(jobOrdersSweep, "")
		if o2, _ := f.order(id2); o2.Status != orderOverdue || f.taken(slotAt(11)) != 0 {
			t.Fatalf("sweep: %s", o2.Status)
		}
	})
}

// E5: following the invitation while the original slot is still free takes it again and
// goes to payment; paid, the order's contract exists.
func TestPayAfterInvitationSlotFree(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		id := f.overdueOrder()
		res := f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("pay: %d %s", res.Status, res.Body)
		}
		_, items := f.order(id)
		if items[0].Status != itemBooked || items[0].HoldID == "" || f.taken(slotAt(9)) != 1 {
			t.Fatalf("not held again: %+v", items[0])
		}
		// Following it twice holds once.
		f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil)
		if f.taken(slotAt(9)) != 1 {
			t.Fatal("held twice")
		}
		var changed, again bool
		err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			var err error
			if changed, err = f.m.orderPaid(ctx, sc, f.T, id, f.now); err != nil {
				return err
			}
			again, err = f.m.orderPaid(ctx, sc, f.T, id, f.now)
			return err
		})
		if err != nil || !changed || again {
			t.Fatalf("orderPaid: %v %v %v", changed, again, err)
		}
		if o, _ := f.order(id); o.Status != orderPaid || o.PaidAt.IsZero() {
			t.Fatalf("order %+v", o)
		}
		// A paid order is not cancelled at the invitation's deadline.
		f.advance(time.Duration(invitationHours.Of(f.T))*time.Hour + time.Second)
		f.job(jobOrderCancel, id)
		if o, _ := f.order(id); o.Status != orderPaid || f.taken(slotAt(9)) != 1 {
			t.Fatalf("paid order cancelled: %s", o.Status)
		}
	})
}

// E5: when the original slot was taken meanwhile, the invitation's link asks for a new slot
// for that line, takes it, and goes to payment.
func TestPayAfterInvitationSlotTaken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		id := f.overdueOrder()
		if res := f.addLine(f.boris, f.item, "self", slotAt(9)); res.Status != http.StatusSeeOther {
			t.Fatalf("Boris: %d", res.Status)
		}
		res := f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "/eshop/orders/"+id+"/pay") {
			t.Fatalf("repick page: %d %s", res.Status, res.Body)
		}
		_, items := f.order(id)
		field := "slot_" + items[0].ID
		// The taken slot again is refused next to the line.
		res = f.do(f.anna, "POST", "/eshop/orders/"+id+"/pay", url.Values{field: {slotAt(9).Format(time.RFC3339)}})
		if res.Status == http.StatusSeeOther || !strings.Contains(string(res.Body), `id="e-`+field+`"`) {
			t.Fatalf("taken slot accepted: %d", res.Status)
		}
		res = f.do(f.anna, "POST", "/eshop/orders/"+id+"/pay", url.Values{field: {slotAt(13).Format(time.RFC3339)}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("new slot: %d %s", res.Status, res.Body)
		}
		_, items = f.order(id)
		if items[0].Status != itemBooked || !items[0].StartsAt.Equal(slotAt(13)) || f.taken(slotAt(13)) != 1 || f.taken(slotAt(9)) != 1 {
			t.Fatalf("item %+v", items[0])
		}
	})
}

// E5: unpaid by the invitation's deadline, the order is cancelled: the vouchers it used go
// back, the customer is told by e-mail, and it can no longer be paid.
func TestCancelAfterInvitationDeadline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		id := f.overdueOrder()
		f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil) // takes the slot again, then does not pay
		f.job(jobOrderCancel, id)                            // too early
		if o, _ := f.order(id); o.Status != orderOverdue {
			t.Fatal("cancelled early")
		}
		f.advance(time.Duration(invitationHours.Of(f.T))*time.Hour + time.Second)
		f.job(jobOrderCancel, id)
		f.job(jobOrdersSweep, "")
		o, items := f.order(id)
		if o.Status != orderCancelled || o.CancelledAt.IsZero() || items[0].HoldID != "" || f.taken(slotAt(9)) != 0 {
			t.Fatalf("order %+v, item %+v", o, items[0])
		}
		if len(f.gaveBk) != 1 || f.gaveBk[0] != id {
			t.Fatalf("vouchers given back for %v", f.gaveBk)
		}
		if msgs := f.messages(tmplOrderCancelled); len(msgs) != 1 || msgs[0].UserID != f.anna.ID {
			t.Fatalf("cancellation e-mails: %+v", msgs)
		}
		if res := f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil); res.Status != http.StatusSeeOther || strings.HasSuffix(res.Header.Get("Location"), "/pay") {
			t.Fatalf("pay after cancellation: %d", res.Status)
		}
		var changed bool
		_ = f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			changed, _ = f.m.orderPaid(ctx, sc, f.T, id, f.now)
			return nil
		})
		if changed {
			t.Fatal("a cancelled order became paid")
		}
	})
}

// E4: a customer sees only his own orders: another's is a 404, in another tenant too.
func TestOrdersAreTheOwners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		id := f.submit(f.anna)
		for _, p := range []string{"/eshop/orders/" + id, "/eshop/orders/" + id + "/pay"} {
			if res := f.do(f.boris, "GET", p, nil); res.Status != http.StatusNotFound {
				t.Errorf("Boris GET %s: %d", p, res.Status)
			}
			res, err := f.h.Do(context.Background(), f.U, f.anna, "GET", p, nil)
			if err != nil || res.Status != http.StatusNotFound {
				t.Errorf("other tenant GET %s: %v %d", p, err, res.Status)
			}
		}
		if res := f.do(f.boris, "POST", "/eshop/orders/"+id+"/pay", url.Values{}); res.Status != http.StatusNotFound {
			t.Errorf("Boris POST pay: %d", res.Status)
		}
		if res := f.do(f.boris, "GET", "/eshop/orders", nil); res.Status != 200 || strings.Contains(string(res.Body), id) {
			t.Errorf("Boris's list shows Anna's order")
		}
		if res := f.do(f.anna, "GET", "/eshop/orders", nil); res.Status != 200 || !strings.Contains(string(res.Body), id) {
			t.Errorf("Anna's list: %d", res.Status)
		}
	})
}

// E4: order numbers are unique per tenant and year, held by the database under concurrency.
func TestOrderNumbersUnique(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		const n = 20
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
					var err error
					got[i], err = f.m.nextOrderNumber(ctx, sc, 2026)
					return err
				})
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, s := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if seen[s] {
				t.Fatalf("number %s given twice", s)
			}
			seen[s] = true
		}
		if !seen[fmt.Sprintf("2026-%06d", n)] {
			t.Fatalf("numbers %v", got)
		}
	})
}

// P4: the orders pages answer in fr, pl and sk with no message missing and no key shown.
func TestOrdersPagesInEveryLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.kids, "d-nine", slotAt(9))
		f.addLine(f.boris, f.item, "self", slotAt(11))
		id := f.submit(f.boris)
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.T
			ten.Locale = lang
			for _, c := range []struct {
				u    *sdk.User
				path string
			}{{f.anna, "/eshop/cart"}, {f.anna, "/eshop/cart?item=" + f.item.ID + "&point=" + f.point.ID}, {f.anna, "/eshop/checkout"},
				{f.boris, "/eshop/orders"}, {f.boris, "/eshop/orders/" + id}} {
				res, err := f.h.Do(context.Background(), ten, c.u, "GET", c.path, nil)
				if err != nil || res.Status != 200 {
					t.Fatalf("%s %s: %v %+v", lang, c.path, err, res)
				}
				if body := string(res.Body); strings.Contains(body, "eshop.") || strings.Contains(body, "submitted<") {
					t.Errorf("%s %s shows a key: %s", lang, c.path, body)
				}
			}
		}
		if miss := f.m.Msgs.Missing(); len(miss) > 0 {
			t.Fatalf("missing messages: %v", miss)
		}
	})
}

// E4: a cart holds at most the tenant's number of lines, so that no account holds a point's
// day; the refusal is said next to the test's field and holds nothing.
func TestCartLineLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.T.Rules["eshop.cart_max_lines"] = int64(2)
		for _, h := range []int{9, 10} {
			if res := f.addLine(f.anna, f.item, "self", slotAt(h)); res.Status != http.StatusSeeOther {
				t.Fatalf("line at %d: %d", h, res.Status)
			}
		}
		res := f.addLine(f.anna, f.item, "self", slotAt(11))
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), sk(f.m, "eshop.cart.error.too_many")) || f.taken(slotAt(11)) != 0 {
			t.Fatalf("third line: %d, taken %d", res.Status, f.taken(slotAt(11)))
		}
	})
}

// E5: a payment that comes in after the order's slot went to another still makes the order
// paid; its line keeps no place, and the customer picks a new slot from the order's page.
func TestPaidLateLinePicksNewSlot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		id := f.overdueOrder()
		f.addLine(f.boris, f.item, "self", slotAt(9))
		err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.orderPaid(ctx, sc, f.T, id, f.now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		o, items := f.order(id)
		if o.Status != orderPaid || items[0].Status != itemReleased || f.taken(slotAt(9)) != 1 {
			t.Fatalf("order %s, item %s, taken %d", o.Status, items[0].Status, f.taken(slotAt(9)))
		}
		page := f.do(f.anna, "GET", "/eshop/orders/"+id, nil)
		if !strings.Contains(string(page.Body), sk(f.m, "eshop.order.pick_button")) {
			t.Fatal("the order's page does not offer a new slot")
		}
		if res := f.do(f.anna, "GET", "/eshop/orders/"+id+"/pay", nil); res.Status != http.StatusOK {
			t.Fatalf("repick page: %d", res.Status)
		}
		res := f.do(f.anna, "POST", "/eshop/orders/"+id+"/pay", url.Values{"slot_" + items[0].ID: {slotAt(14).Format(time.RFC3339)}})
		if res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "/eshop/orders/"+id+"?done=slots_taken") {
			t.Fatalf("new slot: %d %s", res.Status, res.Header.Get("Location"))
		}
		if _, items = f.order(id); items[0].Status != itemBooked || !items[0].StartsAt.Equal(slotAt(14)) || f.taken(slotAt(14)) != 1 {
			t.Fatalf("item %+v", items[0])
		}
	})
}

// P11: a deleted account's cart is emptied and its places given back.
func TestForgetEmptiesCart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		f.do(f.anna, "POST", "/eshop/cart/codes", url.Values{"code": {"gift-1234"}})
		if err := f.m.forgetCart(context.Background(), f.T, f.anna.ID); err != nil {
			t.Fatal(err)
		}
		var codes int64
		f.read(func(ctx context.Context, sc *store.Scope) error {
			var err error
			codes, err = sc.Select((*CartCode)(nil)).Count(ctx)
			return err
		})
		if len(f.cartOf(f.anna)) != 0 || f.taken(slotAt(9)) != 0 || codes != 0 {
			t.Fatalf("cart %d, taken %d, codes %d", len(f.cartOf(f.anna)), f.taken(slotAt(9)), codes)
		}
	})
}

// E4: the same cart submitted five times at once makes one order: each cart line is taken
// once, by a guarded delete in the submitting transaction.
func TestCartSubmittedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		f.addLine(f.anna, f.kids, "d-nine", slotAt(10))
		body := []byte(f.checkoutForm(f.anna).Encode())
		codes := make([]int, 5)
		wents := make([]string, 5)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), f.T, f.anna, "POST", "/eshop/checkout", body)
				if err == nil {
					codes[i], wents[i] = res.Status, res.Header.Get("Location")
				}
			}()
		}
		wg.Wait()
		made := 0
		for i, c := range codes {
			switch {
			case c == http.StatusSeeOther && strings.Contains(wents[i], "/eshop/sandbox/"):
				made++
			case c == http.StatusSeeOther && strings.Contains(wents[i], "/eshop/cart"): // the cart was already empty
			case c == http.StatusConflict: // the cart changed under it
			default:
				t.Fatalf("status %d to %q", c, wents[i])
			}
		}
		var orders, items int64
		f.read(func(ctx context.Context, sc *store.Scope) error {
			var err error
			if orders, err = sc.Select((*Order)(nil)).Count(ctx); err != nil {
				return err
			}
			items, err = sc.Select((*OrderItem)(nil)).Count(ctx)
			return err
		})
		if made != 1 || orders != 1 || items != 2 || f.taken(slotAt(9)) != 1 || f.taken(slotAt(10)) != 1 {
			t.Fatalf("%d submissions made %d orders of %d lines", made, orders, items)
		}
	})
}

// E2: no guest checkout: every route of the orders part but the countdown's script is for a
// signed-in customer holding the order permission.
func TestNoGuestCheckout(t *testing.T) {
	for _, r := range newModule().ordersPart().Routes {
		if r.Path == "/eshop/cart/countdown.js" {
			continue
		}
		if r.Public || r.Perm != permOrder {
			t.Errorf("%s %s is open to guests", r.Method, r.Path)
		}
		if strings.HasPrefix(r.Path, "/eshop/checkout") && r.Terms != "eshop" {
			t.Errorf("%s %s does not require the shop's terms (P6)", r.Method, r.Path)
		}
	}
}

// E5: a paid order's page says what was paid online and no longer shows an amount due, in
// fr, pl and sk; an unpaid one shows the amount due.
func TestPaidOrderShowsNoAmountDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.boris, f.item, "self", slotAt(11))
		id := f.submit(f.boris)
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.T
			ten.Locale = lang
			res, err := f.h.Do(context.Background(), ten, f.boris, "GET", "/eshop/orders/"+id, nil)
			if err != nil || res.Status != 200 {
				t.Fatalf("%s: %v %+v", lang, err, res)
			}
			if due := f.m.Msgs.For(lang).T("eshop.order.due"); !strings.Contains(string(res.Body), due) {
				t.Fatalf("%s: unpaid order without %q", lang, due)
			}
		}
		err := f.m.In(context.Background(), f.T, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.orderPaid(ctx, sc, f.T, id, f.now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.T
			ten.Locale = lang
			res, err := f.h.Do(context.Background(), ten, f.boris, "GET", "/eshop/orders/"+id, nil)
			if err != nil || res.Status != 200 {
				t.Fatalf("%s: %v %+v", lang, err, res)
			}
			body, msgs := string(res.Body), f.m.Msgs.For(lang)
			if strings.Contains(body, msgs.T("eshop.order.due")) || !strings.Contains(body, msgs.T("eshop.order.paid_gateway")) {
				t.Fatalf("%s: paid order page: %s", lang, body)
			}
		}
	})
}

// E4: a line whose hold ran out is not removed silently: the next cart view names it, in fr,
// pl and sk, whether the job removed it or the view finds it lapsed; the view after says
// nothing more.
func TestCartSaysWhichLinesLapsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		hold := time.Duration(cartHoldMinutes.Of(f.T))*time.Minute + time.Second
		for i, lang := range []string{"fr", "pl", "sk"} {
			ten := f.T
			ten.Locale = lang
			start := slotAt(9 + i)
			if res := f.addLine(f.anna, f.kids, "d-nine", start); res.Status != http.StatusSeeOther {
				t.Fatalf("add: %d %s", res.Status, res.Body)
			}
			lines := f.cartOf(f.anna)
			f.advance(hold)
			if i == 0 {
				f.job(jobCartExpire, lines[0].ID) // the job removed it; otherwise the view does
			}
			msg := f.m.Msgs.For(lang).TN("eshop.cart.lapsed", 1)
			res, err := f.h.Do(context.Background(), ten, f.anna, "GET", "/eshop/cart", nil)
			if err != nil || res.Status != 200 {
				t.Fatalf("%s: %v %+v", lang, err, res)
			}
			body := string(res.Body)
			if !strings.Contains(body, msg) || !strings.Contains(body, f.kids.Name) || !strings.Contains(body, "Ema Nováková") {
				t.Fatalf("%s: no notice of the lapsed line: %s", lang, body)
			}
			if len(f.cartOf(f.anna)) != 0 || f.taken(start) != 0 {
				t.Fatalf("%s: the lapsed line stayed", lang)
			}
			res, _ = f.h.Do(context.Background(), ten, f.anna, "GET", "/eshop/cart", nil)
			if strings.Contains(string(res.Body), msg) {
				t.Fatalf("%s: the notice is said twice", lang)
			}
		}
		// A notice nobody came back to see goes after the rule's days (the sweep).
		f.addLine(f.anna, f.item, "self", slotAt(15))
		f.advance(hold)
		f.job(jobOrdersSweep, "")
		count := func() int64 {
			var n int64
			f.read(func(ctx context.Context, sc *store.Scope) (err error) {
				n, err = sc.Select((*CartLapsed)(nil)).Count(ctx)
				return err
			})
			return n
		}
		if count() != 1 {
			t.Fatalf("the sweep kept no notice: %d", count())
		}
		f.advance(time.Duration(lapsedNoticeDays.Of(f.T))*24*time.Hour + time.Second)
		f.job(jobOrdersSweep, "")
		if count() != 0 {
			t.Fatal("an old notice stayed")
		}
	})
}

// E4, E15: the checkout's privacy checkbox links what it asks to have read — the shop's
// data page and the e-shop's terms — in fr, pl and sk.
func TestCheckoutLinksPrivacy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		f.addLine(f.anna, f.item, "self", slotAt(9))
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.T
			ten.Locale = lang
			res, err := f.h.Do(context.Background(), ten, f.anna, "GET", "/eshop/checkout", nil)
			if err != nil || res.Status != 200 {
				t.Fatalf("%s: %v %+v", lang, err, res)
			}
			body := string(res.Body)
			privacy := strings.Index(body, `name="privacy"`)
			data, terms := strings.Index(body, `href="/eshop/data"`), strings.Index(body, `href="/terms/eshop"`)
			if privacy < 0 || data < privacy || terms < privacy || !strings.Contains(body, f.m.Msgs.For(lang).T("eshop.checkout.privacy_data")) {
				t.Fatalf("%s: the privacy checkbox links nothing: %s", lang, body)
			}
		}
	})
}
