package eshop

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/leaflet"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/textfold"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// The catalog's rules (E1, E3, E4): the map's tile server and attribution (the core's CSP
// lets the tile host's images in), how far ahead the slot picker looks, and how many days
// with free slots it lists at once.
var (
	mapTileURL      = kit.String("eshop.map_tile_url", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", nil, "E3")
	mapAttribution  = kit.String("eshop.map_attribution", "© OpenStreetMap contributors", nil, "E3")
	slotHorizonDays = kit.Int("eshop.slot_horizon_days", 60, 1, 92, "E4")
	slotDaysShown   = kit.Int("eshop.slot_days_shown", 10, 1, 31, "E4")
	catalogRules    = []kit.Rule{mapTileURL, mapAttribution, slotHorizonDays, slotDaysShown, sitePlanMaxKB, exceptionShowDays, defaultSlotMinutes, defaultCapacity}
)

// Limits of the item forms (characters), and the largest price (minor units).
const (
	maxItemName     = 200
	maxItemCode     = 40
	maxItemText     = 5000
	maxCategoryName = 120
	maxPriceMinor   = 10_000_000
	maxTATDays      = 365
	maxSearchWords  = 8
)

// catalogPart: the catalog, its search and the shop manager's pages (E1, E14.f), the
// collection points and their hours (E3, points.go), the slots (slots.go).
func (m *Module) catalogPart() part {
	assets := leaflet.Handler(ownAssets, "map.js", "eshop.css")
	return part{
		Routes: []kit.Route{
			kit.Public("GET /eshop", m.catalogPage),
			kit.Public("GET /eshop/items/{id}", m.itemPage),
			kit.Public("GET /eshop/points", m.pointsPage),
			kit.Public("GET /eshop/points/{id}", m.pointPage),
			kit.Public("GET /eshop/points/{id}/plan", m.sitePlan),
			kit.Public("GET /eshop/assets/{name}", assets),
			kit.Public("GET /eshop/assets/{dir}/{name}", assets),
			kit.Perm("GET /eshop/manage", permManage, m.manageItems).Lands(2),
			kit.Perm("GET /eshop/manage/items/{id}", permManage, m.manageItem),
			kit.Perm("POST /eshop/manage/items/{id}", permManage, m.saveItemForm).Multiline("description", "preparation", "info", "consent_text"),
			kit.Perm("POST /eshop/manage/items/{id}/withdraw", permManage, m.withdrawItem),
			kit.Perm("POST /eshop/manage/categories", permManage, m.addCategory),
			kit.Perm("POST /eshop/manage/categories/{id}", permManage, m.saveCategory),
			kit.Perm("POST /eshop/manage/categories/{id}/delete", permManage, m.deleteCategory),
			kit.Perm("GET /eshop/manage/points", permManage, m.managePoints),
			kit.Perm("GET /eshop/manage/points/{id}", permManage, m.managePoint),
			kit.Perm("POST /eshop/manage/points/{id}", permManage, m.savePointForm).Multiline("directions"),
			kit.Perm("POST /eshop/manage/points/{id}/hours", permManage, m.addHours),
			kit.Perm("POST /eshop/manage/points/{id}/hours/delete", permManage, m.removeHours),
			kit.Perm("POST /eshop/manage/points/{id}/exceptions", permManage, m.addException),
			kit.Perm("POST /eshop/manage/points/{id}/exceptions/delete", permManage, m.removeException),
			kit.Perm("POST /eshop/manage/points/{id}/plan", permManage, m.uploadPlan),
		},
		Rules: catalogRules,
		AuditActions: []string{"eshop.item_saved", "eshop.item_withdrawn", "eshop.category_saved", "eshop.category_deleted",
			"eshop.point_saved", "eshop.point_hours_changed", "eshop.point_exception_saved"},
	}
}

// assetURL is the address of a map file, with the module's version so that a new release
// is fetched anew despite the long cache.
func (m *Module) assetURL(name string) string {
	return "/eshop/assets/" + name + "?v=" + m.Manifest().Version
}

// itemSearchKey is what the catalog search matches an item by: its name, code, description
// and information, lower-cased without accents (E1: "vitamin" finds "Vitamín").
func itemSearchKey(it *Item) string {
	return textfold.Plain(strings.Join([]string{it.Name, it.Code, it.Description, it.Info}, " "))
}

// likeEscape escapes a word for LIKE … ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// catalogEntry is an item as the catalog lists it, with its price today.
type catalogEntry struct {
	Item  Item
	Price Price
}

// catalogPage is the public catalog (E1): the categories, a search (accents and case do not
// matter), and the items offered with their price, VAT mark and turnaround.
func (m *Module) catalogPage(c *kit.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(q) > maxItemName {
		q = string([]rune(q)[:maxItemName])
	}
	cat := c.Query("category")
	var cats []Category
	var items []Item
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&cats).Order("cat.position", "cat.name").Scan(ctx); err != nil {
			return err
		}
		sortCategories(c.Loc().Lang, cats)
		sel := sc.Select(&items).Where("it.active AND it.withdrawn_at IS NULL")
		if cat != "" {
			sel = sel.Where("it.category_id = ?", cat)
		}
		words := strings.Fields(textfold.Plain(q))
		if len(words) > maxSearchWords {
			words = words[:maxSearchWords]
		}
		for _, w := range words {
			sel = sel.Where(`it.search_key LIKE ? ESCAPE '\'`, "%"+likeEscape(w)+"%")
		}
		return sel.Order("it.name").Limit(500).Scan(ctx)
	}); err != nil {
		return err
	}
	t := c.Tenant()
	sortItems(c.Loc().Lang, items, false)
	entries := make([]catalogEntry, len(items))
	for i := range items {
		entries[i] = catalogEntry{Item: items[i], Price: linePrice(t, &items[i])}
	}
	v := c.View("eshop.catalog.title")
	v.Values["q"] = q
	v.Data["Categories"], v.Data["Items"], v.Data["Category"], v.Data["Currency"] = cats, entries, cat, t.Currency
	v.Data["Searched"] = q != "" || cat != ""
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	v.Data["Consult"] = consultationURL.Of(t) // E11: the partner for expert advice
	return c.Render(http.StatusOK, "catalog", v)
}

// slotDay is a day of the slot picker: its date and its free slots.
type slotDay struct {
	Day   string // "2006-01-02", the tenant's local date
	Slots []Slot
}

// personChoice is a person an item can be ordered for (the customer or his dependant).
type personChoice struct {
	Value, Name string
}

// itemPage is an item's page (E1): its texts, price with VAT or exempt, the handling fee,
// turnaround in working days, minimum age, a package's tests, and the form that adds it to
// the cart with a person, a point and a free slot — the slot picker works day by day
// without a script (E3, E4); a voucher-sellable item links to buying it as a gift (E14.f).
func (m *Module) itemPage(c *kit.Ctx) error {
	t := c.Tenant()
	loc := view.Zone(t.TimeZone)
	var it Item
	var tests []Item
	var points []Point
	var cat Category
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&it).Where("it.id = ? AND it.active AND it.withdrawn_at IS NULL", c.Param("id")).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		}
		if err != nil {
			return err
		}
		if it.CategoryID != "" {
			if err := sc.Select(&cat).Where("cat.id = ?", it.CategoryID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if it.Kind == kindPackage {
			if err := sc.Select(&tests).Where("it.id IN (SELECT pt.test_id FROM eshop_package_tests AS pt WHERE pt.tenant_id = ? AND pt.package_id = ?)", sc.TenantID, it.ID).
				Order("it.name").Scan(ctx); err != nil {
				return err
			}
		}
		return sc.Select(&points).Where("pn.active").Order("pn.town", "pn.name").Scan(ctx)
	}); err != nil {
		return err
	}
	sortItems(c.Loc().Lang, tests, false)
	sortPoints(c.Loc().Lang, points)
	v := c.View("eshop.catalog.title")
	v.Title = it.Name
	v.Data["Item"], v.Data["Tests"], v.Data["Category"], v.Data["Price"], v.Data["Currency"] = it, tests, cat, linePrice(t, &it), t.Currency
	v.Data["MinAge"], v.Data["Points"], v.Data["Map"] = minAge(t, &it), points, m.mapData(t)
	// The chosen point: the one asked for, else the first.
	var point *Point
	for i := range points {
		if points[i].ID == c.Query("point") || (point == nil && i == 0) {
			point = &points[i]
		}
	}
	if point != nil {
		now := m.now()
		var slots []Slot
		if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			var err error
			slots, err = m.openSlots(ctx, sc, t, point.ID, now, now.AddDate(0, 0, int(slotHorizonDays.Of(t))))
			return err
		}); err != nil {
			return err
		}
		var days []slotDay
		for _, s := range slots {
			if s.Free <= 0 {
				continue
			}
			d := s.Start.In(loc).Format("2006-01-02")
			if len(days) == 0 || days[len(days)-1].Day != d {
				days = append(days, slotDay{Day: d})
			}
			days[len(days)-1].Slots = append(days[len(days)-1].Slots, s)
		}
		// The chosen day: the one asked for when it has free slots, else the first that has.
		var chosen *slotDay
		for i := range days {
			if days[i].Day == c.Query("day") || (chosen == nil && i == 0) {
				chosen = &days[i]
			}
		}
		shown := days
		if n := int(slotDaysShown.Of(t)); len(shown) > n {
			// The list of days moves with the chosen one.
			start := 0
			for i := range days {
				if chosen != nil && days[i].Day == chosen.Day {
					start = i
				}
			}
			if start+n > len(days) {
				start = len(days) - n
			}
			shown = days[start : start+n]
		}
		v.Data["Point"], v.Data["Days"], v.Data["Chosen"] = point, shown, chosen
	}
	persons := []personChoice{{Value: "self", Name: c.T("eshop.item.person_self")}}
	if u := c.User(); u != nil {
		deps, err := c.Host().Dependants(c.Context(), u.ID)
		if err != nil {
			return err
		}
		for _, d := range deps {
			persons = append(persons, personChoice{Value: d.ID, Name: strings.TrimSpace(d.FirstName + " " + d.LastName)})
		}
	}
	v.Data["Persons"] = persons
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	v.Data["Consult"] = consultationURL.Of(c.Tenant()) // E11: the partner for expert advice
	return c.Render(http.StatusOK, "catalogitem", v)
}

// SlotValue is the slot's start as the cart's form takes it (RFC 3339, UTC).
func (s Slot) SlotValue() string { return s.Start.UTC().Format(time.RFC3339) }

// --- The manager's pages (E1, E14.f) ---

// manageItems lists the tests and packages, withdrawn ones too, and the categories.
func (m *Module) manageItems(c *kit.Ctx) error {
	var items []Item
	var cats []Category
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&cats).Order("cat.position", "cat.name").Scan(ctx); err != nil {
			return err
		}
		sortCategories(c.Loc().Lang, cats)
		return sc.Select(&items).Order("it.kind DESC", "it.name").Limit(2000).Scan(ctx)
	}); err != nil {
		return err
	}
	sortItems(c.Loc().Lang, items, true)
	v := c.View("eshop.manage.title")
	v.Data["Items"], v.Data["Categories"], v.Data["Currency"] = items, cats, c.Tenant().Currency
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	return c.Render(http.StatusOK, "catalogmanage", v)
}

// itemFields are the text fields of the item form.
var itemFields = []string{"kind", "code", "category", "name", "description", "preparation", "info", "consent_text", "price", "tat_days"}

// itemFlags are its check boxes.
var itemFlags = []string{"vat_included", "suitable_from_6", "voucher_sellable"}

// manageItem is an item's form; "new" is the empty form of a new test or package.
func (m *Module) manageItem(c *kit.Ctx) error {
	return m.renderItem(c, http.StatusOK, c.View("eshop.manage.item_title"), nil)
}

// renderItem shows the item form of the route's id with v's values and errors; chosen are
// the tests of a package as posted (nil: as stored).
func (m *Module) renderItem(c *kit.Ctx, status int, v *kit.View, chosen map[string]bool) error {
	id := c.Param("id")
	var it Item
	var cats []Category
	var tests []Item
	stored := map[string]bool{}
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if id != "new" {
			err := sc.Select(&it).Where("it.id = ?", id).Scan(ctx)
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			if err != nil {
				return err
			}
			var pts []PackageTest
			if err := sc.Select(&pts).Where("pt.package_id = ?", id).Scan(ctx); err != nil {
				return err
			}
			for _, p := range pts {
				stored[p.TestID] = true
			}
		}
		if err := sc.Select(&cats).Order("cat.position", "cat.name").Scan(ctx); err != nil {
			return err
		}
		sortCategories(c.Loc().Lang, cats)
		return sc.Select(&tests).Where("it.kind = ? AND it.withdrawn_at IS NULL", kindTest).Order("it.name").Limit(2000).Scan(ctx)
	}); err != nil {
		return err
	}
	sortItems(c.Loc().Lang, tests, false)
	if chosen == nil {
		chosen = stored
	}
	if _, ok := v.Values["name"]; !ok {
		if id == "new" {
			v.Values["kind"], v.Values["vat_included"] = kindTest, "on"
			if c.Query("kind") == kindPackage {
				v.Values["kind"] = kindPackage
			}
		} else {
			for k, val := range map[string]string{"kind": it.Kind, "code": it.Code, "category": it.CategoryID, "name": it.Name,
				"description": it.Description, "preparation": it.Preparation, "info": it.Info, "consent_text": it.ConsentText,
				"price": priceInput(c.Loc().Lang, it.PriceMinor), "tat_days": strconv.Itoa(it.TATDays)} {
				v.Values[k] = val
			}
			for k, on := range map[string]bool{"vat_included": it.VATIncluded, "suitable_from_6": it.SuitableFrom6, "voucher_sellable": it.VoucherSellable} {
				if on {
					v.Values[k] = "on"
				}
			}
		}
	}
	if id != "new" {
		v.Title = it.Name
	}
	v.Data["New"], v.Data["Item"], v.Data["Categories"], v.Data["Tests"], v.Data["Chosen"] = id == "new", it, cats, tests, chosen
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	return c.Render(status, "catalogmanageitem", v)
}

// priceText writes minor units as the form shows them ("12.50").
func priceText(minor int64) string {
	return strconv.FormatInt(minor/100, 10) + "." + strconv.FormatInt(minor%100/10, 10) + strconv.FormatInt(minor%10, 10)
}

// priceInput writes minor units as the item form shows them to a reader of lang: with his
// decimal separator ("7,90" in fr, pl and sk), no grouping (parsePrice reads it back).
func priceInput(lang string, minor int64) string {
	sep := strings.Trim(locales.FormatDecimal(lang, 1.5, 1), "15")
	if sep == "" {
		sep = "."
	}
	return strconv.FormatInt(minor/100, 10) + sep + strconv.FormatInt(minor%100/10, 10) + strconv.FormatInt(minor%10, 10)
}

// parsePrice reads a price in the currency's major unit ("150", "150,50", "150.5") as
// minor units; ok is false for anything else, negative or absurd.
func parsePrice(s string) (int64, bool) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(strings.TrimSpace(s))
	s = strings.Replace(s, ",", ".", 1)
	if s == "" || strings.ContainsAny(s, "eE+-xX_") {
		return 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 2 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*100 > maxPriceMinor {
		return 0, false
	}
	return int64(math.Round(f * 100)), true
}

// saveItemForm creates or changes a test or package (E1, E14.f). The new price applies to
// orders submitted from now on: an order keeps the prices it copied (E6).
func (m *Module) saveItemForm(c *kit.Ctx) error {
	id := c.Param("id")
	v := formValues(c, "eshop.manage.item_title", append(itemFields, itemFlags...)...)
	if err := c.R.ParseForm(); err != nil {
		return kit.ErrBadRequest
	}
	kind := v.Values["kind"]
	if kind != kindTest && kind != kindPackage {
		return kit.ErrBadRequest // not one of the form's choices
	}
	checkLength(v, "name", maxItemName, true)
	checkLength(v, "code", maxItemCode, false)
	for _, f := range []string{"description", "preparation", "info", "consent_text"} {
		checkLength(v, f, maxItemText, false)
	}
	price, ok := parsePrice(v.Values["price"])
	switch {
	case !ok:
		v.Errors["price"] = "eshop.manage.err.price"
	case price == 0: // E1: an item has a price; nothing is sold for nothing
		v.Errors["price"] = "eshop.manage.err.price_zero"
	}
	// E1: an item has a turnaround, at least one working day.
	tat, err := strconv.Atoi(strings.TrimSpace(v.Values["tat_days"]))
	if err != nil || tat < 1 || tat > maxTATDays {
		v.Errors["tat_days"] = "eshop.manage.err.tat"
	}
	chosen := map[string]bool{}
	for _, tid := range c.R.Form["tests"] {
		chosen[tid] = true
	}
	var existing Item
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		if id != "new" {
			if err := sc.Select(&existing).Where("it.id = ?", id).Scan(ctx); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return kit.ErrNotFound
				}
				return err
			}
			if existing.Kind != kind {
				return kit.ErrBadRequest // the kind is chosen once
			}
		}
		if cat := v.Values["category"]; cat != "" {
			n, err := sc.Select((*Category)(nil)).Where("cat.id = ?", cat).Count(ctx)
			if err != nil {
				return err
			}
			if n != 1 {
				return kit.ErrBadRequest
			}
		}
		if kind == kindPackage && len(chosen) > 0 {
			ids := make([]string, 0, len(chosen))
			for tid := range chosen {
				ids = append(ids, tid)
			}
			n, err := sc.Select((*Item)(nil)).Where("it.kind = ? AND it.id IN (?)", kindTest, bun.In(ids)).Count(ctx)
			if err != nil {
				return err
			}
			if n != int64(len(ids)) {
				return kit.ErrBadRequest // a test the form did not offer
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if kind == kindPackage && len(chosen) == 0 {
		v.Errors["tests"] = "eshop.manage.err.no_tests"
	}
	if len(v.Errors) > 0 {
		return m.renderItem(c, http.StatusUnprocessableEntity, v, chosen)
	}
	it := &Item{Kind: kind, Code: v.Values["code"], CategoryID: v.Values["category"], Name: v.Values["name"], Description: v.Values["description"],
		Preparation: v.Values["preparation"], Info: v.Values["info"], ConsentText: v.Values["consent_text"], PriceMinor: price,
		VATIncluded: v.Values["vat_included"] != "", TATDays: tat, SuitableFrom6: v.Values["suitable_from_6"] != "",
		VoucherSellable: v.Values["voucher_sellable"] != "", Active: true}
	if id != "new" {
		it.ID = id
	}
	var testIDs []string
	for tid := range chosen {
		testIDs = append(testIDs, tid)
	}
	if kind != kindPackage {
		testIDs = nil
	}
	if err := m.saveItem(c.Context(), c.Tenant(), it, testIDs); err != nil {
		return err
	}
	detail := map[string]any{"name": it.Name, "price": priceText(it.PriceMinor)}
	if id != "new" && existing.PriceMinor != it.PriceMinor {
		detail["former_price"] = priceText(existing.PriceMinor)
	}
	m.audit(c, "eshop.item_saved", it.ID, detail)
	return c.Redirect("/eshop/manage/items/"+it.ID, "item_saved")
}

// saveItem creates it (no ID) or changes it, and for a package sets its tests. A withdrawn
// item stays withdrawn.
func (m *Module) saveItem(ctx context.Context, t sdk.Tenant, it *Item, testIDs []string) error {
	now := m.now()
	it.SearchKey = itemSearchKey(it)
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		it.TenantID, it.UpdatedAt = sc.TenantID, now
		if it.ID == "" {
			it.ID, it.CreatedAt = newID(), now
			if _, err := sc.Insert(it).Exec(ctx); err != nil {
				return err
			}
		} else {
			res, err := sc.Update(it).Column("code", "category_id", "name", "description", "preparation", "info", "consent_text", "price_minor",
				"vat_included", "tat_days", "suitable_from_6", "voucher_sellable", "search_key", "updated_at").Where("it.id = ?", it.ID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return kit.ErrNotFound
			}
		}
		if it.Kind != kindPackage {
			return nil
		}
		if _, err := sc.Delete((*PackageTest)(nil)).Where("package_id = ?", it.ID).Exec(ctx); err != nil {
			return err
		}
		for _, tid := range testIDs {
			if _, err := sc.Insert(&PackageTest{TenantID: sc.TenantID, PackageID: it.ID, TestID: tid}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// withdrawItem withdraws an item (E1, E14.a): the catalog no longer offers it, the orders
// and vouchers that name it keep it; the vouchers part reads WithdrawnAt. Once only: a
// second withdrawal changes nothing.
func (m *Module) withdrawItem(c *kit.Ctx) error {
	id := c.Param("id")
	var it Item
	var changed bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&it).Where("it.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Update((*Item)(nil)).Set("withdrawn_at = ?", m.now()).Set("active = FALSE").Set("updated_at = ?", m.now()).
			Where("it.id = ? AND it.withdrawn_at IS NULL", id).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n == 1
		return nil
	}); err != nil {
		return err
	}
	if changed {
		m.audit(c, "eshop.item_withdrawn", id, map[string]any{"name": it.Name})
	}
	return c.Redirect("/eshop/manage/items/"+id, "item_withdrawn")
}

// addCategory adds a category of the catalog.
func (m *Module) addCategory(c *kit.Ctx) error {
	return m.categoryForm(c, "")
}

// saveCategory renames a category or moves it.
func (m *Module) saveCategory(c *kit.Ctx) error {
	return m.categoryForm(c, c.Param("id"))
}

// categoryForm stores the posted category (a new one when id is "").
func (m *Module) categoryForm(c *kit.Ctx, id string) error {
	v := formValues(c, "eshop.manage.title", "cat_name", "cat_position")
	checkLength(v, "cat_name", maxCategoryName, true)
	pos := 0
	if s := v.Values["cat_position"]; s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 10000 {
			v.Errors["cat_position"] = "eshop.manage.err.position"
		}
		pos = p
	}
	if len(v.Errors) > 0 {
		v.Data["CategoryID"] = id
		return m.renderManageWith(c, v)
	}
	cat := &Category{ID: id, Name: v.Values["cat_name"], Position: pos}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		cat.TenantID = sc.TenantID
		if cat.ID == "" {
			cat.ID = newID()
			_, err := sc.Insert(cat).Exec(ctx)
			return err
		}
		res, err := sc.Update(cat).Column("name", "position").Where("cat.id = ?", cat.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return kit.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.audit(c, "eshop.category_saved", cat.ID, map[string]any{"name": cat.Name})
	return c.Redirect("/eshop/manage", "category_saved")
}

// renderManageWith shows the manager's list page with v's values and errors (422).
func (m *Module) renderManageWith(c *kit.Ctx, v *kit.View) error {
	var items []Item
	var cats []Category
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&cats).Order("cat.position", "cat.name").Scan(ctx); err != nil {
			return err
		}
		sortCategories(c.Loc().Lang, cats)
		return sc.Select(&items).Order("it.kind DESC", "it.name").Limit(2000).Scan(ctx)
	}); err != nil {
		return err
	}
	sortItems(c.Loc().Lang, items, true)
	v.Data["Items"], v.Data["Categories"], v.Data["Currency"] = items, cats, c.Tenant().Currency
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	return c.Render(http.StatusUnprocessableEntity, "catalogmanage", v)
}

// deleteCategory deletes a category no item is in; one that still holds items is refused
// with a message.
func (m *Module) deleteCategory(c *kit.Ctx) error {
	id := c.Param("id")
	var cat Category
	var used bool
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&cat).Where("cat.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Delete((*Category)(nil)).Where("id = ?", id).
			Where("NOT EXISTS (SELECT 1 FROM eshop_items AS i2 WHERE i2.tenant_id = ? AND i2.category_id = ?)", sc.TenantID, id).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		used = n != 1
		return nil
	})
	if err != nil {
		return err
	}
	if used {
		v := c.View("eshop.manage.title")
		v.Errors["cat_delete"] = "eshop.manage.err.category_used"
		return m.renderManageWith(c, v)
	}
	m.audit(c, "eshop.category_deleted", id, map[string]any{"name": cat.Name})
	return c.Redirect("/eshop/manage", "category_deleted")
}

// alphabet compares names in the reader's alphabet (lang): in Slovak "Únava" comes after
// "Tyreoglobulín" and "Štítna žľaza" after "Sodík", not after "Zinok" as bytes would have it.
func alphabet(lang string) func(a, b string) int {
	coll := collate.New(language.Make(lang))
	return coll.CompareString
}

// sortItems orders items by name in the reader's alphabet; kindFirst keeps the tests before
// the packages (the manager's list).
func sortItems(lang string, items []Item, kindFirst bool) {
	cmp := alphabet(lang)
	slices.SortStableFunc(items, func(a, b Item) int {
		if kindFirst && a.Kind != b.Kind {
			return strings.Compare(b.Kind, a.Kind)
		}
		return cmp(a.Name, b.Name)
	})
}

// sortPoints orders points by town, then name, in the reader's alphabet.
func sortPoints(lang string, ps []Point) {
	cmp := alphabet(lang)
	slices.SortStableFunc(ps, func(a, b Point) int {
		if c := cmp(a.Town, b.Town); c != 0 {
			return c
		}
		return cmp(a.Name, b.Name)
	})
}

// sortCategories orders categories by their position, then by name in the reader's alphabet.
func sortCategories(lang string, cats []Category) {
	cmp := alphabet(lang)
	slices.SortStableFunc(cats, func(a, b Category) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return cmp(a.Name, b.Name)
	})
}
