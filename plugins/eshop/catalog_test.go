package eshop

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// items reads tenant ten's items by name.
func (f *catFixture) items(ten sdk.Tenant) map[string]Item {
	f.t.Helper()
	var its []Item
	if err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&its).Scan(ctx)
	}); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]Item{}
	for _, it := range its {
		out[it.Name] = it
	}
	return out
}

// saveItemAs posts the item form as the manager and wants a redirect.
func (f *catFixture) saveItemAs(id string, form url.Values) {
	f.t.Helper()
	if res := f.send(f.A, catManager, "POST", "/eshop/manage/items/"+id, form); res.Status != http.StatusSeeOther {
		f.t.Fatalf("item form: %d\n%s", res.Status, res.Body)
	}
}

// noKeys fails when a page shows a message id or an English word of the code.
func noKeys(t *testing.T, what string, body []byte) {
	t.Helper()
	if id := messageIDRe.Find(body); id != nil {
		t.Fatalf("%s shows %q\n%s", what, id, body)
	}
	for _, leak := range []string{"{{", ">test<", ">package<", "<no value>", "%!"} {
		if strings.Contains(string(body), leak) {
			t.Fatalf("%s shows %q\n%s", what, leak, body)
		}
	}
}

var messageIDRe = regexp.MustCompile(`\b(eshop|rule|module|audit)\.[a-z_]+\.[a-z_0-9.]+`)

var slotRadioRe = regexp.MustCompile(`name="slot" value="([^"]+)"`)

// E1, E14.f: the manager builds the catalog — a category, tests, a package of them — and a
// bad price or a package without tests is told next to its field, nothing stored. The public
// catalog lists them with the price and its VAT mark or exemption, finds an item typed
// without its accents, filters a category; the item's page shows the texts, the handling fee
// with its VAT, the turnaround in working days, the minimum age (the lower one for an item
// suitable from 6), the package's tests, the gift-voucher link only when voucher-sellable,
// and the slot picker (E3, E4) whose slots are the point's free ones; pages answer in fr, pl
// and sk with no message id.
func TestCatalogAndItemPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		// Categories.
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/categories", url.Values{"cat_name": {""}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Toto pole je povinné.") {
			t.Fatalf("an empty category: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/categories", url.Values{"cat_name": {"Vitamíny a minerály"}, "cat_position": {"1"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("a category: %d\n%s", res.Status, res.Body)
		}
		var cats []Category
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&cats).Scan(ctx) }); err != nil || len(cats) != 1 {
			t.Fatalf("categories: %v %v", cats, err)
		}
		vit := url.Values{"kind": {"test"}, "name": {"Vitamín D (25-OH)"}, "code": {"VITD"}, "category": {cats[0].ID}, "description": {"Hladina vitamínu D v krvi."},
			"preparation": {"Nalačno, ráno do 9:00."}, "info": {"Výsledok do 2 pracovných dní."}, "consent_text": {"Beriem na vedomie poučenie pred odberom."},
			"price": {"19,90"}, "tat_days": {"2"}, "vat_included": {"on"}, "voucher_sellable": {"on"}}
		// E1: a bad price and turnaround are refused next to their fields, nothing stored.
		bad := url.Values{}
		for k, v := range vit {
			bad[k] = v
		}
		bad.Set("price", "devätnásť")
		bad.Set("tat_days", "-1")
		res := f.send(f.A, catManager, "POST", "/eshop/manage/items/new", bad)
		if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "Zadajte cenu v eurách") ||
			!strings.Contains(body, `id="e-price"`) || !strings.Contains(body, `id="e-tat_days"`) {
			t.Fatalf("a bad price: %d\n%s", res.Status, body)
		}
		if n := len(f.items(f.A)); n != 0 {
			t.Fatalf("a refused form stored %d items", n)
		}
		f.saveItemAs("new", vit)
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"Železo (Fe)"}, "price": {"4.50"}, "tat_days": {"1"}, "suitable_from_6": {"on"}})
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"Krvný obraz"}, "price": {"6"}, "tat_days": {"1"}})
		its := f.items(f.A)
		if it := its["Vitamín D (25-OH)"]; it.PriceMinor != 1990 || !it.VATIncluded || it.TATDays != 2 || !it.VoucherSellable || it.CategoryID != cats[0].ID ||
			it.ConsentText != "Beriem na vedomie poučenie pred odberom." || it.Kind != kindTest {
			t.Fatalf("stored: %+v", it)
		}
		// A package without tests is refused; with two, it lists them.
		pkg := url.Values{"kind": {"package"}, "name": {"Balík Únava"}, "price": {"22"}, "tat_days": {"3"}}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/items/new", pkg); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Vyberte aspoň jedno vyšetrenie balíka.") {
			t.Fatalf("a package without tests: %d\n%s", res.Status, res.Body)
		}
		pkg["tests"] = []string{its["Železo (Fe)"].ID, its["Vitamín D (25-OH)"].ID}
		f.saveItemAs("new", pkg)
		// A test the form did not offer (another tenant's, or made up) is a bad request.
		odd := url.Values{"kind": {"package"}, "name": {"Iný"}, "price": {"1"}, "tat_days": {"1"}, "tests": {"nope"}}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/items/new", odd); res.Status != http.StatusBadRequest {
			t.Fatalf("an unknown test: %d", res.Status)
		}
		// Only the manager keeps the catalog: the core lets a route of the manager's pages run
		// for a holder of the manager's permission only, as the manifest declares it.
		customer := &sdk.User{ID: "c1", Name: "Ján Zákazník", Roles: []string{"user"}}
		managed := 0
		for _, r := range f.h.Manifest.Routes {
			if strings.HasPrefix(r.Path, "/eshop/manage") {
				managed++
				if r.Permission != permManage || r.Public {
					t.Fatalf("%s %s is not the manager's", r.Method, r.Path)
				}
			}
		}
		if managed < 15 {
			t.Fatalf("%d manager routes", managed)
		}
		// The public catalog.
		res = f.send(f.A, nil, "GET", "/eshop", nil)
		body := string(res.Body)
		if res.Status != 200 || !strings.Contains(body, "Vitamín D (25-OH)") || !strings.Contains(body, "Balík Únava") || !strings.Contains(body, "19,90") ||
			!strings.Contains(body, "vrátane DPH 23") || !strings.Contains(body, "oslobodené od DPH") || !strings.Contains(body, "4 vyšetrenia") {
			t.Fatalf("catalog: %d\n%s", res.Status, body)
		}
		noKeys(t, "catalog", res.Body)
		// Search without accents, case or the word order mattering.
		res = f.send(f.A, nil, "GET", "/eshop?q=VITAMIN", nil)
		if body := string(res.Body); !strings.Contains(body, "Vitamín D") || strings.Contains(body, "Železo") || !strings.Contains(body, "Jedno vyšetrenie") {
			t.Fatalf("search 'VITAMIN':\n%s", body)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop?q=zelezo", nil).Body); !strings.Contains(body, "Železo (Fe)") || strings.Contains(body, "Vitamín D (25") {
			t.Fatalf("search 'zelezo':\n%s", body)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop?q=100%25_", nil).Body); !strings.Contains(body, "Vášmu hľadaniu nezodpovedá žiadne vyšetrenie.") {
			t.Fatalf("a search of LIKE's wildcards matches:\n%s", body)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop?category="+cats[0].ID, nil).Body); !strings.Contains(body, "Vitamín D") || strings.Contains(body, "Krvný obraz") {
			t.Fatalf("a category:\n%s", body)
		}
		// Tenants never leak: tenant B's catalog is empty.
		if body := string(f.send(f.B, nil, "GET", "/eshop", nil).Body); strings.Contains(body, "Vitamín") {
			t.Fatalf("tenant B sees A's catalog")
		}
		if res := f.send(f.B, nil, "GET", "/eshop/items/"+its["Vitamín D (25-OH)"].ID, nil); res.Status != 404 {
			t.Fatalf("tenant B opens A's item: %d", res.Status)
		}
		// The item page, with a point open on weekdays 7:00–9:00 in 20-minute slots of 2.
		p := f.point(f.A, "Odberové miesto Kramáre", 20, 2, weekdays("07:00", "09:00")...)
		f.point(f.A, "Odberové miesto Nitra", 30, 1, weekdays("08:00", "09:00")...)
		id := its["Vitamín D (25-OH)"].ID
		res = f.send(f.A, nil, "GET", "/eshop/items/"+id+"?point="+p.ID, nil)
		body = string(res.Body)
		for _, want := range []string{"Hladina vitamínu D v krvi.", "Nalačno, ráno do 9:00.", "Výsledok do 2 pracovných dní.", "19,90", "vrátane DPH 23",
			"k cene sa pripočítava 3,00", "22,90", "výsledok do 2 pracovných dní", "od 10 rokov", "/eshop/vouchers/buy?item=" + id,
			`action="/eshop/cart"`, `name="item" value="` + id + `"`, `name="point" value="` + p.ID + `"`, `name="person"`, `value="self"`, "Pre mňa"} {
			if !strings.Contains(body, want) {
				t.Fatalf("item page lacks %q\n%s", want, body)
			}
		}
		noKeys(t, "item page", res.Body)
		// The slots offered are the point's free ones of the first day that has them: Monday
		// 23 November 7:00, 7:20, … 8:40 (Friday 20th's are past).
		radios := slotRadioRe.FindAllStringSubmatch(body, -1)
		if len(radios) != 6 || radios[0][1] != "2026-11-23T06:00:00Z" || radios[5][1] != "2026-11-23T07:40:00Z" {
			t.Fatalf("slots offered: %v", radios)
		}
		// A full slot is not offered; another day is chosen by a link, without a script.
		for range 2 {
			if _, err := f.hold(f.A, p.ID, time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), "x"); err != nil {
				t.Fatal(err)
			}
		}
		body = string(f.send(f.A, nil, "GET", "/eshop/items/"+id+"?point="+p.ID, nil).Body)
		if radios := slotRadioRe.FindAllStringSubmatch(body, -1); len(radios) != 5 || radios[0][1] != "2026-11-23T06:20:00Z" {
			t.Fatalf("a full slot offered: %v", radios)
		}
		if !strings.Contains(body, "/eshop/items/"+id+"?point="+p.ID+"&amp;day=2026-11-24") {
			t.Fatalf("no link to the next day\n%s", body)
		}
		body = string(f.send(f.A, nil, "GET", "/eshop/items/"+id+"?point="+p.ID+"&day=2026-11-24", nil).Body)
		if radios := slotRadioRe.FindAllStringSubmatch(body, -1); len(radios) != 6 || radios[0][1] != "2026-11-24T06:00:00Z" {
			t.Fatalf("Tuesday's slots: %v", radios)
		}
		// The signed-in customer may order for the people he represents.
		f.h.Host.Dependants[f.A.ID] = map[string][]sdk.Dependant{"c1": {{ID: "dep-1", FirstName: "Eva", LastName: "Zákazníková", BirthDate: "2015-03-01"}}}
		body = string(f.send(f.A, customer, "GET", "/eshop/items/"+id, nil).Body)
		if !strings.Contains(body, `value="dep-1"`) || !strings.Contains(body, "Eva Zákazníková") {
			t.Fatalf("dependants not offered\n%s", body)
		}
		// E1: an item suitable from 6 shows the lower age; one not voucher-sellable has no
		// voucher link; a package lists its tests.
		body = string(f.send(f.A, nil, "GET", "/eshop/items/"+its["Železo (Fe)"].ID, nil).Body)
		if !strings.Contains(body, "od 6 rokov") || strings.Contains(body, "/eshop/vouchers/buy") || !strings.Contains(body, "oslobodené od DPH") || !strings.Contains(body, "výsledok do jedného pracovného dňa") {
			t.Fatalf("an item suitable from 6\n%s", body)
		}
		pk := f.items(f.A)["Balík Únava"]
		body = string(f.send(f.A, nil, "GET", "/eshop/items/"+pk.ID, nil).Body)
		if !strings.Contains(body, "Vyšetrenia v balíku") || !strings.Contains(body, "Železo (Fe)") || !strings.Contains(body, "Vitamín D (25-OH)") {
			t.Fatalf("a package's tests\n%s", body)
		}
		// The pages answer in French and Polish too, with their own words and no message id.
		for loc, words := range map[string][]string{"fr": {"Analyses de laboratoire", "TVA de 23", "Ajouter au panier", "dès 10 ans"}, "pl": {"Badania laboratoryjne", "zawiera VAT 23", "Dodaj do koszyka", "od 10 lat"}} {
			ten := f.A
			ten.Locale = loc
			for _, path := range []string{"/eshop", "/eshop/items/" + id, "/eshop/points", "/eshop/points/" + p.ID} {
				res := f.send(ten, nil, "GET", path, nil)
				if res.Status != 200 {
					t.Fatalf("%s %s: %d", loc, path, res.Status)
				}
				noKeys(t, loc+" "+path, res.Body)
			}
			body := string(f.send(ten, nil, "GET", "/eshop", nil).Body) + string(f.send(ten, nil, "GET", "/eshop/items/"+id, nil).Body)
			for _, w := range words {
				if !strings.Contains(body, w) {
					t.Fatalf("%s lacks %q\n%s", loc, w, body)
				}
			}
		}
		// Manager pages render in the three languages.
		for _, loc := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = loc
			for _, path := range []string{"/eshop/manage", "/eshop/manage/items/" + id, "/eshop/manage/items/new", "/eshop/manage/items/new?kind=package", "/eshop/manage/points", "/eshop/manage/points/" + p.ID, "/eshop/manage/points/new"} {
				res := f.send(ten, catManager, "GET", path, nil)
				if res.Status != 200 {
					t.Fatalf("%s %s: %d\n%s", loc, path, res.Status, res.Body)
				}
				noKeys(t, loc+" "+path, res.Body)
			}
		}
	})
}

// E1, E6: a price change applies to the catalog from now on and never touches an order:
// its items keep the price they copied. The change is audited.
func TestPriceChangeKeepsOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"Glukóza"}, "price": {"3,20"}, "tat_days": {"1"}, "vat_included": {"on"}})
		it := f.items(f.A)["Glukóza"]
		ctx := context.Background()
		price := linePrice(f.A, &it)
		oi := &OrderItem{ID: newID(), OrderID: "o1", ItemID: it.ID, Kind: it.Kind, Name: it.Name, PriceMinor: price.PriceMinor, VATPercent: price.VATPercent,
			FeeMinor: price.FeeMinor, FeeVATPercent: price.FeeVATPercent, TATDays: it.TATDays, PersonName: "Ján Zákazník", PointID: "p1",
			StartsAt: f.now.Add(72 * time.Hour), Status: itemBooked}
		if err := f.m.In(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			oi.TenantID = sc.TenantID
			_, err := sc.Insert(oi).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.saveItemAs(it.ID, url.Values{"kind": {"test"}, "name": {"Glukóza nalačno"}, "price": {"4,10"}, "tat_days": {"2"}})
		changed := f.items(f.A)["Glukóza nalačno"]
		if changed.ID != it.ID || changed.PriceMinor != 410 || changed.VATIncluded || changed.TATDays != 2 || !strings.Contains(changed.SearchKey, "glukoza nalacno") {
			t.Fatalf("the change: %+v", changed)
		}
		var got OrderItem
		if err := f.m.Read(ctx, f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&got).Where("oi.id = ?", oi.ID).Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if got.PriceMinor != 320 || got.VATPercent != 23 || got.Name != "Glukóza" || got.TATDays != 1 {
			t.Fatalf("the order's item changed with the catalog: %+v", got)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop/items/"+it.ID, nil).Body); !strings.Contains(body, "4,10") || strings.Contains(body, "3,20") {
			t.Fatalf("the item page shows the former price\n%s", body)
		}
		var audited bool
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "eshop.item_saved" && a.Value.Resource == it.ID && a.Value.Detail["former_price"] == "3.20" && a.Scope.TenantID == f.A.ID {
				audited = true
			}
		}
		if !audited {
			t.Fatalf("the price change is not audited: %+v", f.h.Host.Audits)
		}
	})
}

// E1, E14.f: a withdrawn item leaves the catalog and its page, keeps its record with the
// time of its withdrawal (the vouchers part reads it), and a second withdrawal changes
// nothing; a category holding items is not deleted, an empty one is.
func TestWithdrawItemAndCategories(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		f.send(f.A, catManager, "POST", "/eshop/manage/categories", url.Values{"cat_name": {"Hormóny"}})
		var cats []Category
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&cats).Scan(ctx) }); err != nil || len(cats) != 1 {
			t.Fatal(err)
		}
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"TSH"}, "category": {cats[0].ID}, "price": {"7"}, "tat_days": {"1"}, "voucher_sellable": {"on"}})
		it := f.items(f.A)["TSH"]
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/categories/"+cats[0].ID+"/delete", url.Values{}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Táto kategória ešte obsahuje vyšetrenia") {
			t.Fatalf("deleting a used category: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/items/"+it.ID+"/withdraw", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("withdraw: %d", res.Status)
		}
		w := f.items(f.A)["TSH"]
		if !w.WithdrawnAt.Time.Equal(f.now) || w.Active {
			t.Fatalf("withdrawn: %+v", w)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop", nil).Body); strings.Contains(body, "TSH") {
			t.Fatalf("a withdrawn item in the catalog")
		}
		if res := f.send(f.A, nil, "GET", "/eshop/items/"+it.ID, nil); res.Status != 404 {
			t.Fatalf("a withdrawn item's page: %d", res.Status)
		}
		f.now = f.now.Add(time.Hour)
		f.send(f.A, catManager, "POST", "/eshop/manage/items/"+it.ID+"/withdraw", url.Values{})
		if w2 := f.items(f.A)["TSH"]; !w2.WithdrawnAt.Time.Equal(w.WithdrawnAt.Time) {
			t.Fatalf("a second withdrawal moved the time: %s", w2.WithdrawnAt.Time)
		}
		// Editing the withdrawn item does not bring it back.
		f.saveItemAs(it.ID, url.Values{"kind": {"test"}, "name": {"TSH"}, "price": {"8"}, "tat_days": {"1"}})
		if w3 := f.items(f.A)["TSH"]; w3.WithdrawnAt.Time.IsZero() || w3.Active {
			t.Fatalf("an edit brought the item back: %+v", w3)
		}
		n := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "eshop.item_withdrawn" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d withdrawals audited", n)
		}
		// Once the item left the category (it was edited without one), the category goes.
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/categories/"+cats[0].ID+"/delete", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("deleting an empty category: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/items/nope/withdraw", url.Values{}); res.Status != 404 {
			t.Fatalf("withdrawing an unknown item: %d", res.Status)
		}
	})
}

// E1, E3: malformed requests get a 4xx, never a 500, and change nothing: a kind or a
// category the form does not offer, unknown items, categories and points, a weekday that is
// not a number, a plan asked of a point without one, a multipart body that is not one.
func TestCatalogMalformedRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		p := f.point(f.A, "Odberové miesto Žilina", 15, 2, weekdays("07:00", "09:00")...)
		for _, c := range []struct {
			method, path string
			form         url.Values
			want         int
		}{
			{"POST", "/eshop/manage/items/new", url.Values{"kind": {"vaccine"}, "name": {"X"}, "price": {"1"}, "tat_days": {"1"}}, 400},
			{"POST", "/eshop/manage/items/new", url.Values{"kind": {"test"}, "name": {"X"}, "price": {"1"}, "tat_days": {"1"}, "category": {"nope"}}, 400},
			{"POST", "/eshop/manage/items/nope", url.Values{"kind": {"test"}, "name": {"X"}, "price": {"1"}, "tat_days": {"1"}}, 404},
			{"GET", "/eshop/manage/items/nope", nil, 404},
			{"POST", "/eshop/manage/categories/nope", url.Values{"cat_name": {"X"}}, 404},
			{"POST", "/eshop/manage/categories/nope/delete", url.Values{}, 404},
			{"GET", "/eshop/items/nope", nil, 404},
			{"GET", "/eshop/points/nope", nil, 404},
			{"GET", "/eshop/points/" + p.ID + "/plan", nil, 404},
			{"GET", "/eshop/manage/points/nope", nil, 404},
			{"POST", "/eshop/manage/points/nope", url.Values{"name": {"X"}, "slot_minutes": {"15"}, "capacity": {"1"}}, 404},
			{"POST", "/eshop/manage/points/" + p.ID + "/hours/delete", url.Values{"weekday": {"pondelok"}, "opens": {"07:00"}}, 400},
			{"POST", "/eshop/manage/points/nope/exceptions", url.Values{"ex_day": {"2026-12-01"}, "ex_closed": {"on"}}, 404},
			{"POST", "/eshop/manage/points/" + p.ID + "/exceptions", url.Values{"ex_day": {"2026-02-30"}, "ex_closed": {"on"}}, 422},
			{"POST", "/eshop/manage/items/new", url.Values{"kind": {"test"}, "name": {"X"}, "price": {"1e9"}, "tat_days": {"1"}}, 422},
			{"POST", "/eshop/manage/items/new", url.Values{"kind": {"test"}, "name": {"X"}, "price": {"99999999"}, "tat_days": {"1"}}, 422},
			{"POST", "/eshop/manage/categories", url.Values{"cat_name": {"X"}, "cat_position": {"-3"}}, 422},
		} {
			if res := f.send(f.A, catManager, c.method, c.path, c.form); res.Status != c.want {
				t.Fatalf("%s %s %v: %d, want %d\n%s", c.method, c.path, c.form, res.Status, c.want, res.Body)
			}
		}
		req := &sdk.Request{Method: "POST", Path: "/eshop/manage/points/" + p.ID + "/plan", Header: http.Header{"Content-Type": {"multipart/form-data; boundary=zzz"}}, Body: []byte("--zzz\r\nbroken")}
		res, err := f.h.Send(context.Background(), f.A, catManager, req)
		if err != nil || res.Status >= 500 || res.Status < 400 {
			t.Fatalf("a broken multipart body: %v %d", err, res.Status)
		}
		if n := len(f.items(f.A)); n != 0 {
			t.Fatalf("%d items stored by malformed requests", n)
		}
	})
}

// E1, P4: the catalog, the manager's list and the points list are in the reader's alphabet,
// not the bytes': in Slovak "Štítna žľaza" comes after "Sodík" and "Únava" after
// "Tyreoglobulín" (not after "Zinok"), and "Základné" before "Zinok".
func TestListsInTheReadersAlphabet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		names := []string{"Zinok", "Únava balík", "Základné vyšetrenie", "Štítna žľaza", "Sodík", "Tyreoglobulín", "Vitamín D"}
		want := []string{"Sodík", "Štítna žľaza", "Tyreoglobulín", "Únava balík", "Vitamín D", "Základné vyšetrenie", "Zinok"}
		err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			for i, n := range names {
				it := &Item{TenantID: f.A.ID, ID: "i" + strconv.Itoa(i), Kind: kindTest, Name: n, PriceMinor: 500, TATDays: 1, Active: true, CreatedAt: f.now, UpdatedAt: f.now}
				if _, err := sc.Insert(it).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Categories of one position are in the alphabet's order too.
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			for i, n := range []string{"Zrážanlivosť", "Šport a výživa", "Srdce"} {
				if _, err := sc.Insert(&Category{TenantID: f.A.ID, ID: "c" + strconv.Itoa(i), Name: n, Position: 1}).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, town := range []string{"Žilina", "Zvolen", "Šaľa", "Senica"} {
			f.point(f.A, "Odber "+town, 15, 1)
			err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Update((*Point)(nil)).Set("town = ?", town).Where("name = ?", "Odber "+town).Exec(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		inOrder := func(what, body string, want []string) {
			t.Helper()
			last := -1
			for _, n := range want {
				i := strings.Index(body, n)
				if i < 0 || i < last {
					t.Fatalf("%s: %q out of the alphabet's order %v\n%s", what, n, want, body)
				}
				last = i
			}
		}
		inOrder("catalog", string(f.send(f.A, nil, "GET", "/eshop", nil).Body), want)
		inOrder("categories", string(f.send(f.A, nil, "GET", "/eshop", nil).Body), []string{"Srdce", "Šport a výživa", "Zrážanlivosť"})
		inOrder("manager's list", string(f.send(f.A, catManager, "GET", "/eshop/manage", nil).Body), want)
		inOrder("points", string(f.send(f.A, nil, "GET", "/eshop/points", nil).Body), []string{"Odber Senica", "Odber Šaľa", "Odber Zvolen", "Odber Žilina"})
		inOrder("manager's points", string(f.send(f.A, catManager, "GET", "/eshop/manage/points", nil).Body), []string{"Odber Senica", "Odber Šaľa", "Odber Zvolen", "Odber Žilina"})
	})
}

// E1: the item form shows a stored price with the reader's decimal comma ("7,90" in fr, pl
// and sk) and takes it back as typed; a price of 0 and a turnaround of 0 days are refused
// next to their fields, in every language, nothing stored.
func TestItemFormPriceInTheReadersNotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"TSH"}, "price": {"7,90"}, "tat_days": {"2"}})
		it := f.items(f.A)["TSH"]
		if it.PriceMinor != 790 || it.TATDays != 2 {
			t.Fatalf("stored %+v", it)
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			body := string(f.send(ten, catManager, "GET", "/eshop/manage/items/"+it.ID, nil).Body)
			if !strings.Contains(body, `name="price" type="text" inputmode="decimal" maxlength="12" required value="7,90"`) {
				t.Fatalf("%s: the price is not shown as 7,90: %s", lang, body)
			}
			msgs := f.m.Msgs.For(lang)
			for _, c := range []struct{ price, tat, field, msg string }{
				{"0", "2", "price", "eshop.manage.err.price_zero"},
				{"0,00", "2", "price", "eshop.manage.err.price_zero"},
				{"5", "0", "tat_days", "eshop.manage.err.tat"},
			} {
				res := f.send(ten, catManager, "POST", "/eshop/manage/items/new", url.Values{"kind": {"test"}, "name": {"Nič"}, "price": {c.price}, "tat_days": {c.tat}})
				body := html.UnescapeString(string(res.Body))
				if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-`+c.field+`"`) || !strings.Contains(body, msgs.T(c.msg)) {
					t.Fatalf("%s: price %q, %q days: %d\n%s", lang, c.price, c.tat, res.Status, body)
				}
			}
		}
		if _, ok := f.items(f.A)["Nič"]; ok {
			t.Fatal("a refused item was stored")
		}
		// Saved back as shown, the price stays.
		f.saveItemAs(it.ID, url.Values{"kind": {"test"}, "name": {"TSH"}, "price": {"7,90"}, "tat_days": {"2"}})
		if got := f.items(f.A)["TSH"].PriceMinor; got != 790 {
			t.Fatalf("price %d", got)
		}
	})
}

// E1, E3: the item's page says the minimum age next to the person's choice (whether the
// person is old enough is checked for the slot's day, when the line is added), and promises
// a site plan only for a point that has one; in fr, pl and sk.
func TestItemPagePersonAgeAndPlanLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		p := f.point(f.A, "Odber Ružinov", 15, 1, weekdays("07:00", "08:30")...)
		f.saveItemAs("new", url.Values{"kind": {"test"}, "name": {"TSH"}, "price": {"7"}, "tat_days": {"1"}})
		id := f.items(f.A)["TSH"].ID
		customer := &sdk.User{ID: "c1", Name: "Ján Zákazník", Roles: []string{"user"}}
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			msgs := f.m.Msgs.For(lang)
			body := html.UnescapeString(string(f.send(ten, customer, "GET", "/eshop/items/"+id+"?point="+p.ID+"&day=2026-11-23", nil).Body))
			age := msgs.TN("eshop.item.person_age", int(minAge(f.A, &Item{})))
			if !strings.Contains(body, `aria-describedby="h-person"`) || !strings.Contains(body, age) {
				t.Fatalf("%s: no minimum age at the person's choice %q\n%s", lang, age, body)
			}
			if strings.Contains(body, msgs.T("eshop.item.point_details")) || !strings.Contains(body, msgs.T("eshop.item.point_details_noplan")) {
				t.Fatalf("%s: a plan promised for a point without one\n%s", lang, body)
			}
			// The cart's add form says it too, before any refusal.
			cart := html.UnescapeString(string(f.send(ten, customer, "GET", "/eshop/cart?item="+id+"&point="+p.ID, nil).Body))
			if !strings.Contains(cart, msgs.TN("eshop.cart.min_age", int(minAge(f.A, &Item{})))) {
				t.Fatalf("%s: the cart's form says no minimum age\n%s", lang, cart)
			}
		}
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Point)(nil)).Set("site_plan = ?", "blob-1").Where("id = ?", p.ID).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		body := string(f.send(f.A, customer, "GET", "/eshop/items/"+id+"?point="+p.ID+"&day=2026-11-23", nil).Body)
		if !strings.Contains(body, f.m.Msgs.For("sk").T("eshop.item.point_details")) {
			t.Fatalf("a point with a plan: %s", body)
		}
	})
}
