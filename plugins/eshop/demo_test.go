package eshop

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
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

// dump is every row the shop holds for tenant t, as text, in a stable order.
func (f *demoFixture) dump(t sdk.Tenant) string {
	f.t.Helper()
	var out []string
	f.read(t, func(ctx context.Context, sc *store.Scope) error {
		for _, model := range []any{&[]Category{}, &[]Item{}, &[]PackageTest{}, &[]Point{}, &[]PointHours{}, &[]PointException{},
			&[]SlotLoad{}, &[]Hold{}, &[]Order{}, &[]OrderItem{}} {
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
		first := f.dump(f.A)
		f.now = f.now.Add(50 * time.Hour) // a later start of the demo, on another day
		f.seed(f.A)
		if again := f.dump(f.A); again != first {
			t.Fatalf("seeding again changed the shop:\nbefore:\n%s\nafter:\n%s", first, again)
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
			for _, q := range []error{sc.Select(&orders).Order("o.number").Scan(ctx), sc.Select(&lines).Scan(ctx),
				sc.Select(&holds).Scan(ctx), sc.Select(&loads).Scan(ctx)} {
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
		if count(V, (*Point)(nil)) != 3 || count(V, (*Item)(nil)) != count(f.A, (*Item)(nil)) || count(V, (*Order)(nil)) != 2 {
			t.Errorf("the second tenant's shop: %d points, %d items, %d orders", count(V, (*Point)(nil)), count(V, (*Item)(nil)), count(V, (*Order)(nil)))
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
