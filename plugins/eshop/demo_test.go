package eshop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// demoFixture is the module on one backend with a Slovak demo tenant whose customer
// represents a daughter, as the core's --demo makes it.
type demoFixture struct {
	t   *testing.T
	m   *Module
	h   *sdktest.Harness
	A   sdk.Tenant
	now time.Time
}

func demoTenant(id, slug string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: slug, Name: "Unilabs " + slug, Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"}
}

func demoSetup(t *testing.T, b storetest.Backend) *demoFixture {
	m := newModule()
	// A Thursday morning: the fifth working day after is the next Thursday.
	f := &demoFixture{t: t, m: m, A: demoTenant("tU", "unilabs"), now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	f.A.Rules, _ = f.h.Manifest.ValidateRules(nil)
	for _, tn := range []string{"tU", "tV"} {
		f.h.Host.Users[tn] = []sdk.User{
			{ID: "u-" + tn, Email: "user@unilabs.localhost", Name: "Demo User", BirthDate: "1990-05-17", Status: "active"},
			{ID: "sm-" + tn, Email: "shop-manager@unilabs.localhost", Name: "Demo shop manager", BirthDate: "1985-06-15", Roles: []string{"eshop.shop_manager"}},
		}
		f.h.Host.Dependants[tn] = map[string][]sdk.Dependant{"u-" + tn: {{ID: "dep-" + tn, FirstName: "Ema", LastName: "User", BirthDate: "2016-03-08",
			Sex: "female", Nationality: "slovenská", Relationship: "parent", LegalStatus: "minor", OfAgeOn: "2034-03-08", Represented: true}}}
	}
	return f
}

// seed delivers platform.demo_seeded to tenant t, as `serve --demo` does at every start.
func (f *demoFixture) seed(t sdk.Tenant) {
	f.t.Helper()
	payload, _ := json.Marshal(map[string]any{"accounts": []kit.DemoAccount{
		{ID: "u-" + t.ID, Email: "user@unilabs.localhost", Name: "Demo User", Role: "user"},
		{ID: "sm-" + t.ID, Email: "shop-manager@unilabs.localhost", Name: "Demo shop manager", Role: "eshop.shop_manager"},
	}})
	if err := f.h.Event(context.Background(), t, "platform.demo_seeded", payload); err != nil {
		f.t.Fatal(err)
	}
}

// read runs fn on tenant t's scope.
func (f *demoFixture) read(t sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.Read(context.Background(), t, fn); err != nil {
		f.t.Fatal(err)
	}
}

// demoCatalogModels are the catalog's and the points' tables; demoAllModels adds what the
// demo's orders leave (places, orders, payments, invoices, vouchers, results).
func demoCatalogModels() []any {
	return []any{&[]Category{}, &[]Item{}, &[]PackageTest{}, &[]Point{}, &[]PointHours{}, &[]PointException{}}
}

func demoAllModels() []any {
	return append(demoCatalogModels(), &[]SlotLoad{}, &[]Hold{}, &[]Order{}, &[]OrderItem{}, &[]Payment{}, &[]Invoice{}, &[]InvoiceCounter{},
		&[]VoucherDenomination{}, &[]Voucher{}, &[]Result{})
}

// dump is every row the shop holds for tenant t in models (all: demoAllModels), as text, in
// a stable order.
func (f *demoFixture) dump(t sdk.Tenant, models ...any) string {
	f.t.Helper()
	if len(models) == 0 {
		models = demoAllModels()
	}
	var out []string
	f.read(t, func(ctx context.Context, sc *store.Scope) error {
		for _, model := range models {
			if err := sc.Select(model).Scan(ctx); err != nil {
				return err
			}
			b, err := json.Marshal(model)
			if err != nil {
				return err
			}
			rows := strings.Split(string(b), "},{")
			sort.Strings(rows)
			out = append(out, fmt.Sprintf("%T: %s", model, strings.Join(rows, "\n")))
		}
		return nil
	})
	return strings.Join(out, "\n\n")
}

// Issue 14.10, E1: the demo catalog is a real one — at least 30 tests and 5 packages, in
// categories, each with its description, preparation, pre-sampling information, price,
// turnaround and the flags — and packages list their tests. E3: three collection points in
// three towns, with building, floor, room, GPS, phone and directions, open Monday to Friday
// from 7:00, slots of 10 to 15 minutes for 2 to 4 people, and one day closed. Seeding on both
// engines, twice, changes nothing the second time.
func TestDemoSeedsCatalogAndPointsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		start := time.Now()
		f.seed(f.A)
		t.Logf("first seeding: %v", time.Since(start))
		first, catalog := f.dump(f.A), f.dump(f.A, demoCatalogModels()...)
		f.now = f.now.Add(3 * time.Hour) // a later start of the demo, the same day
		f.seed(f.A)
		if again := f.dump(f.A); again != first {
			t.Fatalf("seeding again changed the shop:\nbefore:\n%s\nafter:\n%s", first, again)
		}
		f.now = f.now.Add(50 * time.Hour) // on another day: the catalog stays as it is
		f.seed(f.A)
		if again := f.dump(f.A, demoCatalogModels()...); again != catalog {
			t.Fatalf("seeding on another day changed the catalog:\nbefore:\n%s\nafter:\n%s", catalog, again)
		}

		var cats []Category
		var items []Item
		var links []PackageTest
		var points []Point
		var hours []PointHours
		var closed []PointException
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			for _, q := range []error{sc.Select(&cats).Scan(ctx), sc.Select(&items).Scan(ctx), sc.Select(&links).Scan(ctx),
				sc.Select(&points).Scan(ctx), sc.Select(&hours).Scan(ctx), sc.Select(&closed).Scan(ctx)} {
				if q != nil {
					return q
				}
			}
			return nil
		})
		catOK := map[string]bool{}
		for _, c := range cats {
			catOK[c.ID] = c.Name != ""
		}
		kinds := map[string]int{}
		var vat, exempt, from6, voucher int
		byID := map[string]Item{}
		for _, it := range items {
			byID[it.ID] = it
			kinds[it.Kind]++
			if !catOK[it.CategoryID] || it.Name == "" || len(it.Description) < 40 || len(it.Preparation) < 30 || len(it.ConsentText) < 100 ||
				it.Info == "" || it.PriceMinor <= 0 || it.TATDays < 1 || !it.Active || !strings.Contains(it.SearchKey, strings.ToLower(it.Code)) {
				t.Errorf("item %s %q is incomplete: %+v", it.Code, it.Name, it)
			}
			if it.VATIncluded {
				vat++
			} else {
				exempt++
			}
			if it.SuitableFrom6 {
				from6++
			}
			if it.VoucherSellable {
				voucher++
			}
		}
		if kinds[kindTest] < 30 || kinds[kindPackage] < 5 || len(cats) < 6 {
			t.Fatalf("catalog: %v in %d categories", kinds, len(cats))
		}
		if vat == 0 || exempt == 0 || from6 == 0 || voucher == 0 || from6 == len(items) || voucher == len(items) {
			t.Errorf("flags: %d with VAT, %d exempt, %d from 6, %d as vouchers of %d", vat, exempt, from6, voucher, len(items))
		}
		for _, want := range []string{"nalačno", "ráno do 10:00", "biotín"} {
			n := 0
			for _, it := range items {
				if strings.Contains(it.Preparation, want) {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no preparation says %q", want)
			}
		}
		inPackage := map[string]int{}
		for _, l := range links {
			if byID[l.PackageID].Kind != kindPackage || byID[l.TestID].Kind != kindTest {
				t.Errorf("link %s → %s is not a package's test", byID[l.PackageID].Code, byID[l.TestID].Code)
			}
			inPackage[l.PackageID]++
		}
		for _, it := range items {
			if it.Kind == kindPackage && inPackage[it.ID] < 3 {
				t.Errorf("package %s lists %d tests", it.Code, inPackage[it.ID])
			}
		}

		towns := map[string]bool{}
		for _, p := range points {
			towns[p.Town] = true
			if p.Street == "" || p.Postcode == "" || p.Building == "" || p.Floor == "" || p.Room == "" || p.Phone == "" || p.Directions == "" ||
				p.Latitude == nil || p.Longitude == nil || *p.Latitude < 47.7 || *p.Latitude > 49.7 || *p.Longitude < 16.8 || *p.Longitude > 22.6 ||
				p.SlotMinutes < 10 || p.SlotMinutes > 15 || p.Capacity < 2 || p.Capacity > 4 || !p.Active {
				t.Errorf("point %q is incomplete: %+v", p.Name, p)
			}
			days := map[int]bool{}
			for _, h := range hours {
				if h.PointID != p.ID {
					continue
				}
				days[h.Weekday] = true
				if h.Opens == "07:00" && h.Closes != "11:00" {
					t.Errorf("%s opens %s–%s", p.Name, h.Opens, h.Closes)
				}
			}
			for d := 1; d <= 5; d++ {
				if !days[d] {
					t.Errorf("%s is closed on weekday %d", p.Name, d)
				}
			}
			if days[0] || days[6] {
				t.Errorf("%s opens at the weekend", p.Name)
			}
		}
		if len(points) != 3 || !towns["Bratislava"] || !towns["Košice"] || !towns["Žilina"] {
			t.Fatalf("points: %d in %v", len(points), towns)
		}
		// The closed day is a working day two weeks after the first seeding, with a note.
		if len(closed) != 1 || !closed[0].Closed || closed[0].Note == "" || closed[0].Day < "2026-12-10" || closed[0].Day > "2026-12-14" {
			t.Fatalf("closed days: %+v", closed)
		}
	})
}

// Issue 14.10, E4–E6, E10: the demo customer has a paid order to come — for himself and for
// the daughter he represents, at the catalog's prices with the handling fee, their places
// held in one slot of the Bratislava point on a working day — and a completed order whose
// result is published. Seeding again holds no second place.
func TestDemoCustomerOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seed(f.A)
		f.seed(f.A)
		var orders []Order
		var lines []OrderItem
		var holds []Hold
		var loads []SlotLoad
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			// The demo customer's orders (the staff's days are other people's: TestDemoStaffDays).
			mine := sc.Select((*Order)(nil)).Column("id").Where("user_id = 'u-tU'")
			for _, q := range []error{sc.Select(&orders).Where("user_id = 'u-tU'").Order("o.number").Scan(ctx), sc.Select(&lines).Where("order_id IN (?)", mine).Scan(ctx),
				sc.Select(&holds).Where("ref_id IN (?)", sc.Select((*OrderItem)(nil)).Column("id").Where("order_id IN (?)", mine)).Scan(ctx),
				sc.Select(&loads).Where("EXISTS (SELECT 1 FROM eshop_holds AS h WHERE h.tenant_id = sl.tenant_id AND h.point_id = sl.point_id AND h.starts_at = sl.starts_at AND h.ref_id IN (?))",
					sc.Select((*OrderItem)(nil)).Column("id").Where("order_id IN (?)", mine)).Scan(ctx)} {
				if q != nil {
					return q
				}
			}
			return nil
		})
		if len(orders) != 2 || orders[0].Status != orderCompleted || orders[1].Status != orderPaid {
			t.Fatalf("orders: %+v", orders)
		}
		done, paid := orders[0], orders[1]
		var mine, hers *OrderItem
		fee := handlingFeeMinor.Of(f.A)
		var total int64
		for i := range lines {
			l := &lines[i]
			if l.OrderID == done.ID {
				if l.Status != itemPublished || l.PersonName != "Demo User" || !l.StartsAt.Before(f.now) || l.HoldID != "" {
					t.Errorf("completed order's line: %+v", l)
				}
				continue
			}
			total += l.PriceMinor + l.FeeMinor
			if l.FeeMinor != fee || l.FeeVATPercent != int(vatPercent.Of(f.A)) || l.PriceMinor <= 0 || l.Preparation == "" || l.ConsentText == "" {
				t.Errorf("paid line's price and texts: %+v", l)
			}
			if l.DependantID == "" {
				mine = l
			} else {
				hers = l
			}
		}
		if mine == nil || hers == nil || hers.DependantID != "dep-tU" || hers.PersonName != "Ema User" || hers.Relationship != "parent" ||
			hers.PersonBirthDate != "2016-03-08" || mine.PersonBirthDate != "1990-05-17" {
			t.Fatalf("paid order's lines: %+v", lines)
		}
		if paid.UserID != "u-tU" || paid.Email != "user@unilabs.localhost" || paid.PaidAt.IsZero() || paid.TotalMinor != total ||
			paid.DueMinor != total || paid.Currency != "EUR" || done.PaidAt.IsZero() {
			t.Errorf("paid order: %+v (lines total %d)", paid, total)
		}
		loc := demoZone(f.A)
		at := mine.StartsAt.In(loc)
		if !workdays.Calendar("SK", 7, 15).IsWorkday(at) || at.Hour() < 7 || at.Hour() >= 11 || !at.After(f.now) || !hers.StartsAt.Equal(mine.StartsAt) {
			t.Errorf("the paid order's slot %v is not a morning slot to come", at)
		}
		if len(holds) != 2 || len(loads) != 1 || loads[0].Taken != 2 || loads[0].Capacity != 4 || !loads[0].StartsAt.Equal(mine.StartsAt) {
			t.Fatalf("places: holds %+v, loads %+v", holds, loads)
		}
		for _, h := range holds {
			if h.Purpose != holdOrder || (h.ID != mine.HoldID && h.ID != hers.HoldID) || !h.ExpiresAt.IsZero() {
				t.Errorf("hold %+v", h)
			}
		}
	})
}

// Issue 14.10: what the shop manager changed in the demo stays after the next start, and a
// second Slovak tenant gets its own shop while a tenant of another country gets none.
func TestDemoKeepsTheManagersChangesAndTenantsApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seed(f.A)
		err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Item)(nil)).Set("price_minor = 4242").Where("code = 'TSH'").Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.seed(f.A)
		var price int64
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select((*Item)(nil)).Column("price_minor").Where("code = 'TSH'").Scan(ctx, &price)
		})
		if price != 4242 {
			t.Fatalf("the manager's price became %d", price)
		}

		V := demoTenant("tV", "unilabs2")
		F := demoTenant("tF", "fr")
		F.Country, F.Locale = "FR", "fr"
		f.seed(V)
		f.seed(F)
		count := func(tn sdk.Tenant, model any) int {
			var n int
			f.read(tn, func(ctx context.Context, sc *store.Scope) error {
				c, err := sc.Select(model).Count(ctx)
				n = int(c)
				return err
			})
			return n
		}
		var ordersV int
		f.read(V, func(ctx context.Context, sc *store.Scope) error {
			n, err := sc.Select((*Order)(nil)).Where("user_id = 'u-tV'").Count(ctx)
			ordersV = int(n)
			return err
		})
		if count(V, (*Point)(nil)) != 3 || count(V, (*Item)(nil)) != count(f.A, (*Item)(nil)) || ordersV != 2 {
			t.Errorf("the second tenant's shop: %d points, %d items, %d orders of its customer", count(V, (*Point)(nil)), count(V, (*Item)(nil)), ordersV)
		}
		if count(F, (*Item)(nil)) != 0 || count(F, (*Point)(nil)) != 0 {
			t.Errorf("a French tenant got the Slovak catalog")
		}
	})
}

// Issue 14.10: the embedded catalog holds together, and the check that says so fails on a
// package naming a test the catalog does not have or an unknown preparation.
func TestDemoCatalogHoldsTogether(t *testing.T) {
	c, err := demoData()
	if err != nil {
		t.Fatal(err)
	}
	broken := *c
	broken.Packages = append([]demoItem(nil), c.Packages...)
	broken.Packages[0].Tests = append([]string{"NOPE"}, broken.Packages[0].Tests...)
	if broken.check() == nil {
		t.Error("a package naming an unknown test passed")
	}
	broken = *c
	broken.Tests = append([]demoItem(nil), c.Tests...)
	broken.Tests[0].Prep = []string{"unknown"}
	if broken.check() == nil {
		t.Error("an unknown preparation passed")
	}
}

// write runs fn on tenant t's scope in a transaction.
func (f *demoFixture) write(t sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.In(context.Background(), t, fn); err != nil {
		f.t.Fatal(err)
	}
}

// get sends a GET as u (nil: anonymous) to tenant ten.
func (f *demoFixture) get(ten sdk.Tenant, u *sdk.User, path string) *sdk.Response {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), ten, u, &sdk.Request{Method: "GET", Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

var (
	demoCustomer = &sdk.User{ID: "u-tU", Email: "user@unilabs.localhost", Name: "Demo User", Roles: []string{"user"}}
	demoStranger = &sdk.User{ID: "u-other", Email: "other@unilabs.localhost", Name: "Iná Osoba", Roles: []string{"user"}}
	demoLabStaff = &sdk.User{ID: "ls-tU", Email: "lab-staff@unilabs.localhost", Name: "Demo lab staff", Roles: []string{"lab_staff"}}
)

// seedWithStaff seeds tenant t as serve --demo does, with the lab staff's login among the
// accounts.
func (f *demoFixture) seedWithStaff(t sdk.Tenant) {
	f.t.Helper()
	payload, _ := json.Marshal(map[string]any{"accounts": []kit.DemoAccount{
		{ID: "u-" + t.ID, Email: "user@unilabs.localhost", Name: "Demo User", Role: "user"},
		{ID: "ls-" + t.ID, Email: "lab-staff@unilabs.localhost", Name: "Demo lab staff", Role: demoStaffRole},
	}})
	if err := f.h.Event(context.Background(), t, "platform.demo_seeded", payload); err != nil {
		f.t.Fatal(err)
	}
}

var hrefRe = regexp.MustCompile(`href="([^"]+)"`)

// link is the href of the page's link whose address contains part, or "".
func link(body []byte, part string) string {
	for _, m := range hrefRe.FindAllSubmatch(body, -1) {
		if strings.Contains(string(m[1]), part) {
			return html.UnescapeString(string(m[1]))
		}
	}
	return ""
}

// Issue 14.10, E5, E10, E14: the demo's paid orders have their payment (paid, fulfilled, of
// the amount due) and their invoice, one each however often the demo starts; the customer
// has a voucher of each kind; the completed order's result is published with a real PDF —
// a lipid-profile report in Slovak with the person, the values and the limits — which the
// customer opens from his results and the lab's staff from theirs, while another customer
// cannot.
func TestDemoPaperwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seedWithStaff(f.A)
		f.seedWithStaff(f.A)
		var orders []Order
		var pays []Payment
		var invs []Invoice
		var vouchers []Voucher
		var results []Result
		var lines []OrderItem
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			for _, q := range []error{sc.Select(&orders).Where("user_id = 'u-tU'").Order("o.number").Scan(ctx), sc.Select(&pays).Scan(ctx),
				sc.Select(&invs).Order("number").Scan(ctx), sc.Select(&vouchers).Scan(ctx), sc.Select(&results).Scan(ctx),
				sc.Select(&lines).Where("status = ?", itemPublished).Scan(ctx)} {
				if q != nil {
					return q
				}
			}
			return nil
		})
		if len(orders) != 2 || len(pays) != 2 || len(invs) != 2 {
			t.Fatalf("%d orders, payments %+v, invoices %d", len(orders), pays, len(invs))
		}
		byOrder := map[string]Order{}
		for _, o := range orders {
			byOrder[o.ID] = o
		}
		for _, p := range pays {
			o, ok := byOrder[p.RefID]
			if !ok || p.Purpose != purposeOrder || p.Status != payPaid || p.AmountMinor != o.DueMinor || p.UserID != "u-tU" || p.FulfilledAt.IsZero() || !p.PaidAt.Time.Equal(o.PaidAt.Time) {
				t.Errorf("payment %+v of order %+v", p, o)
			}
		}
		for i, inv := range invs {
			o, ok := byOrder[inv.RefID]
			if !ok || inv.Purpose != purposeOrder || inv.UserID != "u-tU" || inv.TotalMinor != o.TotalMinor || inv.Number != fmt.Sprintf("2026%06d", i+1) {
				t.Errorf("invoice %s for %s: %d, of %s", inv.Number, inv.RefID, inv.TotalMinor, inv.UserID)
			}
			if txt, err := pdfdoc.ExtractText(inv.PDF); err != nil || !strings.Contains(txt, o.Number) {
				t.Errorf("invoice %s's PDF does not name order %s: %v", inv.Number, o.Number, err)
			}
		}
		kinds := map[string]int{}
		for _, v := range vouchers {
			if v.PurchaserID == "u-tU" && v.Status == voucherActive {
				kinds[v.Kind]++
			}
		}
		if kinds[voucherValue] != 1 || kinds[voucherTest] != 1 {
			t.Errorf("the demo customer's vouchers: %v", kinds)
		}
		if len(results) != 1 || len(lines) != 1 || results[0].ItemID != lines[0].ID || results[0].PublishedAt.IsZero() || results[0].UserID != "u-tU" ||
			results[0].RegisteredBy != "ls-tU" || results[0].Late || results[0].DueOn == "" {
			t.Fatalf("results %+v for %+v", results, lines)
		}
		r := results[0]
		blob, ok := f.h.Host.Blobs[r.BlobID]
		if !ok {
			t.Fatalf("the result's PDF %q is not stored", r.BlobID)
		}
		if len(f.h.Host.Blobs) != 1 {
			t.Errorf("%d PDFs stored for one result", len(f.h.Host.Blobs))
		}
		txt, err := pdfdoc.ExtractText(blob.Value.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Výsledok laboratórneho vyšetrenia", "Demo User", "17. 5. 1990", "DEMO-1000", "Lipidový profil", "Cholesterol celkový", "5,62", "mmol/l", "< 5,0", "zvýšené", "HDL cholesterol", "> 1,0"} {
			if !strings.Contains(txt, want) {
				t.Errorf("the result PDF does not say %q:\n%s", want, txt)
			}
		}
		// The customer opens it from his results; the lab's staff from theirs; another
		// customer is not found.
		if res := f.get(f.A, demoCustomer, "/eshop/results"); res.Status != 200 || link(res.Body, "/eshop/results/"+r.ItemID) == "" {
			t.Fatalf("the customer's results: %d\n%s", res.Status, res.Body)
		}
		for _, c := range []struct {
			u    *sdk.User
			path string
		}{{demoCustomer, "/eshop/results/" + r.ItemID + "/pdf"}, {demoLabStaff, "/eshop/lab/results/" + r.ItemID + "/pdf"}} {
			res := f.get(f.A, c.u, c.path)
			if res.Status != 200 || !strings.HasPrefix(string(res.Body), "%PDF") {
				t.Errorf("%s: %d", c.path, res.Status)
			}
		}
		if res := f.get(f.A, demoStranger, "/eshop/results/"+r.ItemID+"/pdf"); res.Status != http.StatusNotFound {
			t.Errorf("another customer opened the result: %d", res.Status)
		}
	})
}

// Issue 14.10, E5, E7, E10: the page of a paid order links the invoice (which downloads the
// order's PDF, and only for its customer) and the reschedule; a completed order's page links
// each published result. The pages answer in fr, pl and sk without a message id or a state's
// code. A paid order whose invoice was not issued yet (its confirmation still to go) gets it
// from the link, once.
func TestOrderPageLinksInvoiceRescheduleAndResults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seedWithStaff(f.A)
		paid, done := demoID(f.A.ID, "order/DEMO-1001"), demoID(f.A.ID, "order/DEMO-1000")
		item := demoID(f.A.ID, "order/DEMO-1000/0")
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			res := f.get(ten, demoCustomer, "/eshop/orders/"+paid)
			if res.Status != 200 || link(res.Body, "/eshop/orders/"+paid+"/invoice") == "" || link(res.Body, "/eshop/orders/"+paid+"/reschedule") == "" {
				t.Fatalf("%s: the paid order's page: %d\n%s", lang, res.Status, res.Body)
			}
			noKeys(t, lang+" paid order", res.Body)
			res = f.get(ten, demoCustomer, "/eshop/orders/"+done)
			if res.Status != 200 || link(res.Body, "/eshop/results/"+item) == "" || link(res.Body, "/eshop/orders/"+done+"/invoice") == "" ||
				link(res.Body, "/reschedule") != "" {
				t.Fatalf("%s: the completed order's page: %d\n%s", lang, res.Status, res.Body)
			}
			noKeys(t, lang+" completed order", res.Body)
		}
		// A paid order with nothing booked any more has nothing to reschedule.
		f.write(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemSampled).Where("order_id = ?", paid).Exec(ctx)
			return err
		})
		if res := f.get(f.A, demoCustomer, "/eshop/orders/"+paid); res.Status != 200 || link(res.Body, "/reschedule") != "" || link(res.Body, "/invoice") == "" {
			t.Fatalf("a paid order without a booked item: %d\n%s", res.Status, res.Body)
		}
		// The invoice link leads to the order's invoice.
		res := f.get(f.A, demoCustomer, "/eshop/orders/"+paid+"/invoice")
		to := res.Header.Get("Location")
		var inv Invoice
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&inv).Where("purpose = ? AND ref_id = ?", purposeOrder, paid).Scan(ctx)
		})
		if res.Status != http.StatusSeeOther || !strings.HasSuffix(to, invoicePath(inv.ID)) {
			t.Fatalf("invoice link: %d → %q (invoice %s)", res.Status, to, inv.ID)
		}
		if res := f.get(f.A, demoCustomer, invoicePath(inv.ID)); res.Status != 200 || !bytes.Equal(res.Body, inv.PDF) {
			t.Fatalf("invoice download: %d", res.Status)
		}
		if res := f.get(f.A, demoStranger, "/eshop/orders/"+paid+"/invoice"); res.Status != http.StatusNotFound {
			t.Errorf("another customer's invoice link: %d", res.Status)
		}
		if res := f.get(f.A, demoCustomer, "/eshop/orders/nonexistent/invoice"); res.Status != http.StatusNotFound {
			t.Errorf("an unknown order's invoice: %d", res.Status)
		}
		// An invoice not issued yet is issued by the link, once; an unpaid order has none.
		var n1, n2 int
		f.write(f.A, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Delete((*Invoice)(nil)).Where("ref_id = ?", paid).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Update((*Order)(nil)).Set("status = ?", orderSubmitted).Set("paid_at = NULL").Where("id = ?", done).Exec(ctx)
			return err
		})
		if res := f.get(f.A, demoCustomer, "/eshop/orders/"+paid+"/invoice"); res.Status != http.StatusSeeOther {
			t.Fatalf("invoice issued by the link: %d\n%s", res.Status, res.Body)
		}
		f.get(f.A, demoCustomer, "/eshop/orders/"+paid+"/invoice")
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			a, err := sc.Select((*Invoice)(nil)).Where("ref_id = ?", paid).Count(ctx)
			if err != nil {
				return err
			}
			b, err := sc.Select((*Invoice)(nil)).Where("ref_id = ?", done).Count(ctx)
			n1, n2 = int(a), int(b)
			return err
		})
		if n1 != 1 {
			t.Errorf("%d invoices for the paid order after two clicks", n1)
		}
		if res := f.get(f.A, demoCustomer, "/eshop/orders/"+done+"/invoice"); res.Status != http.StatusNotFound || n2 != 1 {
			t.Errorf("an unpaid order's invoice link: %d", res.Status)
		}
	})
}

// E7–E10, E13: every state an order's item can be in, and every state of its order, is told
// in words on the customer's order page and on the staff's day list, in fr, pl and sk —
// never its code (a cancelled_by_lab item, a withdrawn order…).
func TestPagesTellEveryState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seed(f.A)
		paid := demoID(f.A.ID, "order/DEMO-1001")
		item := demoID(f.A.ID, "order/DEMO-1001/0")
		var day string
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			var it OrderItem
			err := sc.Select(&it).Where("id = ?", item).Scan(ctx)
			day = it.StartsAt.In(demoZone(f.A)).Format(time.DateOnly)
			return err
		})
		check := func(what, lang string, res *sdk.Response, key, code string) {
			t.Helper()
			word := f.m.Msgs.For(lang).T(key)
			if res.Status != 200 || word == "" || word == key || !strings.Contains(string(res.Body), html.EscapeString(word)) ||
				strings.Contains(string(res.Body), ">"+code+"<") {
				t.Fatalf("%s in %s, state %s: %d, wants %q\n%s", what, lang, code, res.Status, word, res.Body)
			}
			noKeys(t, lang+" "+what+" "+code, res.Body)
		}
		states := []string{itemBooked, itemCheckedIn, itemSampled, itemPublished, itemNoShow, itemRefused, itemLateRefused, itemCancelledByLab, itemReleased}
		for _, st := range states {
			f.write(f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*OrderItem)(nil)).Set("status = ?", st).Where("id = ?", item).Exec(ctx)
				return err
			})
			for _, lang := range []string{"fr", "pl", "sk"} {
				ten := f.A
				ten.Locale = lang
				check("order page", lang, f.get(ten, demoCustomer, "/eshop/orders/"+paid), "eshop.item.status."+st, st)
				check("day list", lang, f.get(ten, demoLabStaff, "/eshop/staff?day="+day), "eshop.staff.status."+st, st)
			}
		}
		for _, st := range []string{orderWithdrawn, orderCompleted, orderPaid} {
			f.write(f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*Order)(nil)).Set("status = ?", st).Where("id = ?", paid).Exec(ctx)
				return err
			})
			for _, lang := range []string{"fr", "pl", "sk"} {
				ten := f.A
				ten.Locale = lang
				check("order page", lang, f.get(ten, demoCustomer, "/eshop/orders/"+paid), "eshop.order.status."+st, st)
				check("order list", lang, f.get(ten, demoCustomer, "/eshop/orders"), "eshop.order.status."+st, st)
				if st != orderPaid {
					check("day list", lang, f.get(ten, demoLabStaff, "/eshop/staff?day="+day), "eshop.staff.order_status."+st, st)
				}
			}
		}
	})
}

// Issue 14.10, E8: the lab's staff have a day to work on — the people who come to the
// Bratislava point on the day the demo starts (those whose time passed already sampled, the
// others with their places held) and on the next working day — on their day list, its
// default page. Another start the same day adds nothing; a start on another day adds that
// day's and the next working day's.
func TestDemoStaffDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b) // Thursday 26 November 2026, 10:00 in Bratislava
		f.seedWithStaff(f.A)
		res := f.get(f.A, demoLabStaff, "/eshop/staff")
		body := string(res.Body)
		if res.Status != 200 {
			t.Fatalf("the staff's day: %d\n%s", res.Status, body)
		}
		for _, name := range []string{"Jana Kováčová", "Peter Horváth", "Lucia Nováková"} {
			if !strings.Contains(body, name) {
				t.Errorf("today's list lacks %s", name)
			}
		}
		if strings.Contains(body, "Martin Baláž") {
			t.Error("tomorrow's visitor on today's list")
		}
		res = f.get(f.A, demoLabStaff, "/eshop/staff?day=2026-11-27")
		for _, name := range []string{"Martin Baláž", "Zuzana Tóthová", "Michal Varga"} {
			if !strings.Contains(string(res.Body), name) {
				t.Errorf("the next working day's list lacks %s", name)
			}
		}
		var lines []OrderItem
		var holds int
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&lines).Where("order_id IN (?)", sc.Select((*Order)(nil)).Column("id").Where("user_id = ''")).Order("starts_at").Scan(ctx); err != nil {
				return err
			}
			n, err := sc.Select((*Hold)(nil)).Where("ref_id IN (?)", sc.Select((*OrderItem)(nil)).Column("id").Where("order_id IN (?)", sc.Select((*Order)(nil)).Column("id").Where("user_id = ''"))).Count(ctx)
			holds = int(n)
			return err
		})
		booked := 0
		for _, l := range lines {
			switch {
			case l.StartsAt.After(f.now) && l.Status == itemBooked && l.HoldID != "":
				booked++
			case !l.StartsAt.After(f.now) && l.Status == itemSampled && l.HoldID == "":
			default:
				t.Errorf("line %s at %v: %s, hold %q", l.PersonName, l.StartsAt, l.Status, l.HoldID)
			}
		}
		if len(lines) != 6 || booked != holds || booked < 3 {
			t.Fatalf("%d lines, %d booked, %d places held", len(lines), booked, holds)
		}
		before := f.dump(f.A)
		f.now = f.now.Add(2 * time.Hour)
		f.seedWithStaff(f.A)
		if after := f.dump(f.A); after != before {
			t.Fatal("a second start the same day changed the shop")
		}
		// Saturday: not a working day; Monday's visitors come.
		f.now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		f.seedWithStaff(f.A)
		res = f.get(f.A, demoLabStaff, "/eshop/staff?day=2026-11-30")
		if !strings.Contains(string(res.Body), "Michal Varga") {
			t.Errorf("Monday's list:\n%s", res.Body)
		}
		var n int
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			c, err := sc.Select((*Order)(nil)).Where("user_id = ''").Count(ctx)
			n = int(c)
			return err
		})
		if n != 9 {
			t.Errorf("%d visitors' orders after a Saturday start, want 6 + Monday's 3", n)
		}
	})
}

// E11: the catalog and each test's page link the tenant's consultation partner when the rule
// names one, and not otherwise; the demo tenant names the seed's partner (diagnose.me).
func TestCatalogShowsConsultationPartner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seed(f.A)
		item := "/eshop/items/" + demoID(f.A.ID, "item/LIP")
		for _, p := range []string{"/eshop", item} {
			if res := f.get(f.A, nil, p); res.Status != 200 || strings.Contains(string(res.Body), `class="consult"`) {
				t.Errorf("%s without a partner: %d\n%s", p, res.Status, res.Body)
			}
		}
		rules, err := f.h.Manifest.ValidateRules(map[string]any{"eshop.consultation_url": "https://poradna.example.sk/"})
		if err != nil {
			t.Fatal(err)
		}
		ten := f.A
		ten.Rules = rules
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten.Locale = lang
			for _, p := range []string{"/eshop", item} {
				res := f.get(ten, nil, p)
				if res.Status != 200 || !strings.Contains(string(res.Body), `class="consult"`) || link(res.Body, "https://poradna.example.sk/") == "" {
					t.Errorf("%s %s with a partner: %d\n%s", lang, p, res.Status, res.Body)
				}
				noKeys(t, lang+" "+p, res.Body)
			}
		}
	})
	// The demo tenant's file names the partner, and its rules hold.
	var file struct {
		Modules map[string]struct {
			Rules map[string]any `toml:"rules"`
		} `toml:"modules"`
	}
	if _, err := toml.DecodeFile("../../tenants/unilabs/tenant.toml", &file); err != nil {
		t.Fatal(err)
	}
	man := newModule().Manifest()
	rules, err := man.ValidateRules(file.Modules["eshop"].Rules)
	if err != nil {
		t.Fatalf("the demo tenant's shop rules: %v", err)
	}
	if got := consultationURL.Of(sdk.Tenant{Rules: rules}); !strings.HasPrefix(got, "https://") || !strings.Contains(got, "diagnose.me") {
		t.Errorf("the demo's consultation partner: %q", got)
	}
}

// The lab's staff land on their day list, the shop manager on the catalog he manages, a
// customer on his orders: the core takes the first landing page by rank whose permission
// the person holds (core/server landing).
func TestLandingPages(t *testing.T) {
	man := newModule().Manifest()
	var lands []sdk.Route
	for _, r := range man.Routes {
		if r.Landing > 0 {
			lands = append(lands, r)
		}
	}
	sort.SliceStable(lands, func(i, j int) bool { return lands[i].Landing < lands[j].Landing })
	first := func(perms ...string) string {
		for _, r := range lands {
			for _, p := range perms {
				if r.Permission == p {
					return r.Path
				}
			}
		}
		return ""
	}
	// Staff and managers are users too: they hold the customer's permission as well.
	for _, c := range []struct {
		perms []string
		want  string
	}{{[]string{permOrder, permSampling}, "/eshop/staff"}, {[]string{permOrder, permManage}, "/eshop/manage"},
		{[]string{permOrder, permManage, permSampling}, "/eshop/staff"}, {[]string{permOrder}, "/eshop/orders"}} {
		if got := first(c.perms...); got != c.want {
			t.Errorf("%v lands on %s, want %s", c.perms, got, c.want)
		}
	}
}

// Issue 14.10, E8, E13: the staff's actions work on a demo visitor's order, which has no
// account: a lab cancellation and a withdrawal reach the order's e-mail.
func TestDemoVisitorsReachable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := demoSetup(t, b)
		f.seedWithStaff(f.A)
		var o Order
		var it OrderItem
		f.read(f.A, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&o).Where("number = ?", "DEMO-261127-1").Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&it).Where("order_id = ?", o.ID).Scan(ctx)
		})
		send := func(path string, form url.Values) *sdk.Response {
			req := &sdk.Request{Method: "POST", Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}, Body: []byte(form.Encode())}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := f.h.Send(context.Background(), f.A, demoLabStaff, req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := send("/eshop/staff/items/"+it.ID+"/cancel", url.Values{"reason": {"Porucha analyzátora"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("lab cancellation: %d\n%s", res.Status, res.Body)
		}
		if res := send("/eshop/staff/orders/"+o.ID+"/withdraw", url.Values{"reason": {"lab"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("withdrawal: %d\n%s", res.Status, res.Body)
		}
		n := 0
		for _, msg := range f.h.Host.Messages {
			if msg.Value.To == "martin.balaz@example.sk" && msg.Value.UserID == "" && (msg.Value.Template == tmplLabCancelled || msg.Value.Template == tmplWithdrawn) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d messages to the visitor's e-mail, want the cancellation and the withdrawal", n)
		}
	})
}
