package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The catalog part (B1–B3, and the drafting of B4's tariffs): the plans and options the firm
// sells, the clerk's pages that keep them, the tariffs' prices (catalog_tariffs.go), and the
// public page of the offers (catalog_offers.go).

// Limits of the product form (characters), the largest price (minor units) and allowance.
const (
	maxProductCode   = 20
	maxProductName   = 120
	maxProductText   = 2000
	maxTariffName    = 120
	maxPriceMinor    = 10_000_000
	maxAllowance     = 1_000_000
	maxPosition      = 10_000
	catalogListLimit = 1000
)

// productCodeRe is what a product's code may be: letters, digits, "-" and "_" (it is shown to
// the clerk and in exports, never to a client).
var productCodeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]*$`)

// catalogAuditActions are the changes of the catalog the audit keeps (P9).
var catalogAuditActions = []string{"billing.product_saved", "billing.product_withdrawn", "billing.tariff_drafted", "billing.tariff_prices_saved",
	"billing.tariff_deleted", "billing.tariff_put_in_force"}

// catalogPart: see billing.go.
func (m *Module) catalogPart() part {
	return part{
		Routes: []kit.Route{
			kit.Public("GET /billing/offers", m.offersPage),
			kit.Perm("GET /billing/manage/catalog", permManage, m.manageCatalog),
			kit.Perm("GET /billing/manage/catalog/{id}", permManage, m.productPage),
			kit.Perm("POST /billing/manage/catalog/{id}", permManage, m.saveProductForm).Multiline("description"),
			kit.Perm("POST /billing/manage/catalog/{id}/withdraw", permManage, m.withdrawProduct),
			kit.Perm("GET /billing/manage/tariffs", permManage, m.tariffsPage),
			kit.Perm("POST /billing/manage/tariffs", permManage, m.draftTariff),
			kit.Perm("GET /billing/manage/tariffs/{id}", permManage, m.tariffPage),
			kit.Perm("POST /billing/manage/tariffs/{id}", permManage, m.saveTariffPrices),
			kit.Perm("POST /billing/manage/tariffs/{id}/delete", permManage, m.deleteTariff),
			kit.Perm("POST /billing/manage/tariffs/{id}/in-force", permManage, m.putFirstTariffInForce),
		},
		AuditActions: catalogAuditActions,
	}
}

// FirstTariff is the row that marks a tenant's first tariff, put in force at once (B4).
type FirstTariff struct {
	bun.BaseModel `bun:"table:billing_first_tariff,alias:ft"`

	TenantID string    `bun:"tenant_id,pk"`
	TariffID string    `bun:"tariff_id"`
	PutBy    string    `bun:"put_by"`
	PutAt    time.Time `bun:"put_at"`
}

// catalogAudit records a change of the catalog; a failure to record is logged, the change
// stands.
func (m *Module) catalogAudit(c *kit.Ctx, action, resource string, detail map[string]any) {
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Resource: resource, Detail: detail}); err != nil {
		c.LogFailure(err)
	}
}

// catalogCheckLength puts an error on field when it is empty but required, or too long.
func catalogCheckLength(v *kit.View, field string, max int, required bool) {
	checkLength(v, field, max, required, "billing.catalog.err.required", "billing.catalog.err.too_long")
}

// catalogPriceInput writes minor units as a price field shows them to a reader of lang: with
// his decimal separator ("89,00" in fr, pl and sk), no grouping (parseCatalogPrice reads it
// back).
func catalogPriceInput(lang string, minor int64) string {
	sep := strings.Trim(locales.FormatDecimal(lang, 1.5, 1), "15")
	if sep == "" {
		sep = "."
	}
	return strings.Replace(plainAmount(minor), ".", sep, 1)
}

// parseCount reads a whole number from 0 to max ("" is 0 when allowed).
func parseCount(s string, max int) (int, bool) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, false
	}
	return n, true
}

// productRow is a product as the clerk's list shows it, with its prices in the tariff in
// force (HasPrice false: that tariff does not price it).
type productRow struct {
	Product  Product
	Price    Price
	HasPrice bool
}

// Calls and SMS are a plan's allowances, as the page's number helper takes them.
func (r productRow) Calls() int64 { return int64(r.Product.CallsIncluded) }
func (r productRow) SMS() int64   { return int64(r.Product.SMSIncluded) }

// listProducts reads the tenant's products, plans first, by position and name.
func listProducts(ctx context.Context, sc *store.Scope, offeredOnly bool) ([]Product, error) {
	var prods []Product
	q := sc.Select(&prods)
	if offeredOnly {
		q = q.Where("prod.withdrawn_at IS NULL")
	}
	err := q.OrderExpr("CASE WHEN prod.kind = ? THEN 0 ELSE 1 END, prod.position, prod.name", kindPlan).Limit(catalogListLimit).Scan(ctx)
	return prods, err
}

// currentTariff is the tariff in force on day d (the latest announced or in-force one whose
// effective day is on or before it) with its prices by product id; nil when there is none.
func currentTariff(ctx context.Context, sc *store.Scope, d Date) (*Tariff, map[string]Price, error) {
	return lastTariff(ctx, sc, &d)
}

// latestTariff is the latest tariff announced or in force, whatever its effective day (one
// announced to take effect later wins over the one in force today), with its prices by
// product id; nil when there is none.
func latestTariff(ctx context.Context, sc *store.Scope) (*Tariff, map[string]Price, error) {
	return lastTariff(ctx, sc, nil)
}

// lastTariff is the latest tariff announced or in force, effective on or before day by when
// one is given.
func lastTariff(ctx context.Context, sc *store.Scope, by *Date) (*Tariff, map[string]Price, error) {
	var tar Tariff
	q := sc.Select(&tar).Where("tar.state IN (?, ?)", tariffAnnounced, tariffInForce)
	if by != nil {
		q = q.Where("tar.effective_on <= ?", by.String())
	}
	err := q.OrderExpr("tar.effective_on DESC, tar.created_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, map[string]Price{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	prices, err := tariffPrices(ctx, sc, tar.ID)
	return &tar, prices, err
}

// tariffPrices are a tariff's prices by product id.
func tariffPrices(ctx context.Context, sc *store.Scope, tariffID string) (map[string]Price, error) {
	var prices []Price
	if err := sc.Select(&prices).Where("price.tariff_id = ?", tariffID).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]Price, len(prices))
	for _, p := range prices {
		out[p.ProductID] = p
	}
	return out, nil
}

// manageCatalog is the clerk's list of the plans and options (B1–B3): name, code, allowances,
// the prices of the tariff in force, withdrawn or offered.
func (m *Module) manageCatalog(c *kit.Ctx) error {
	var prods []Product
	var tar *Tariff
	var prices map[string]Price
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if prods, err = listProducts(ctx, sc, false); err != nil {
			return err
		}
		tar, prices, err = currentTariff(ctx, sc, m.today(c.Tenant()))
		return err
	}); err != nil {
		return err
	}
	var plans, options []productRow
	for _, p := range prods {
		pr, ok := prices[p.ID]
		row := productRow{Product: p, Price: pr, HasPrice: ok}
		if p.Kind == kindPlan {
			plans = append(plans, row)
		} else {
			options = append(options, row)
		}
	}
	v := c.View("billing.catalog.manage_title")
	v.Data["Plans"], v.Data["Options"], v.Data["Tariff"], v.Data["Currency"] = plans, options, tar, c.Tenant().Currency
	return c.Render(http.StatusOK, "catalog_manage", v)
}

// productFields are the text fields of the product form; the price fields are asked of a new
// product only (productPage says when).
var productFields = []string{"kind", "code", "name", "description", "calls_included", "sms_included", "position", "fee", "call_price", "sms_price"}

// productPage is a product's form; "new" is the empty form of a new plan (or option, with
// ?kind=option).
func (m *Module) productPage(c *kit.Ctx) error {
	return m.renderProduct(c, http.StatusOK, c.View("billing.catalog.product_title"))
}

// renderProduct shows the product form of the route's id with v's values and errors.
func (m *Module) renderProduct(c *kit.Ctx, status int, v *kit.View) error {
	id := c.Param("id")
	var p Product
	var tariffs int64
	var prices map[string]Price
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if id != "new" {
			err := sc.Select(&p).Where("prod.id = ?", id).Scan(ctx)
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			if err != nil {
				return err
			}
			var tar *Tariff
			if tar, prices, err = currentTariff(ctx, sc, m.today(c.Tenant())); err != nil || tar == nil {
				return err
			}
			return nil
		}
		n, err := sc.Select((*Tariff)(nil)).Count(ctx)
		tariffs = n
		return err
	}); err != nil {
		return err
	}
	if _, ok := v.Values["name"]; !ok {
		if id == "new" {
			v.Values["kind"] = kindPlan
			if c.Query("kind") == kindOption {
				v.Values["kind"] = kindOption
			}
			v.Values["calls_included"], v.Values["sms_included"], v.Values["position"] = "0", "0", "0"
		} else {
			for k, val := range map[string]string{"kind": p.Kind, "code": p.Code, "name": p.Name, "description": p.Description,
				"calls_included": strconv.Itoa(p.CallsIncluded), "sms_included": strconv.Itoa(p.SMSIncluded), "position": strconv.Itoa(p.Position)} {
				v.Values[k] = val
			}
		}
	}
	if id != "new" {
		v.Title = p.Name
	}
	pr, priced := prices[p.ID]
	v.Data["New"], v.Data["Product"], v.Data["AskPrices"] = id == "new", p, id == "new" && tariffs > 0
	v.Data["Price"], v.Data["Priced"], v.Data["Currency"] = pr, priced, c.Tenant().Currency
	return c.Render(status, "catalog_product", v)
}

// saveProductForm creates or changes a plan or option (B1–B3). A new product, when the tenant
// already has tariffs, takes its prices from the form into every tariff (no client holds it
// yet, so this changes no client's price and needs no notice, B4); an existing product's
// prices change only through a new tariff. A plan's allowances are part of the contract of
// the clients who hold it: they cannot change while a live subscription has the plan.
func (m *Module) saveProductForm(c *kit.Ctx) error {
	id := c.Param("id")
	v := formView(c, "billing.catalog.product_title", productFields...)
	kind := v.Values["kind"]
	if kind != kindPlan && kind != kindOption {
		return kit.ErrBadRequest // not one of the form's choices
	}
	v.Values["code"] = strings.ToUpper(v.Values["code"])
	catalogCheckLength(v, "code", maxProductCode, true)
	if _, bad := v.Errors["code"]; !bad && !productCodeRe.MatchString(v.Values["code"]) {
		v.Errors["code"] = "billing.catalog.err.code"
	}
	catalogCheckLength(v, "name", maxProductName, true)
	catalogCheckLength(v, "description", maxProductText, false)
	p := Product{ID: id, Kind: kind, Code: v.Values["code"], Name: v.Values["name"], Description: v.Values["description"]}
	var ok bool
	if v.Values["position"] == "" {
		v.Values["position"] = "0"
	}
	if p.Position, ok = parseCount(v.Values["position"], maxPosition); !ok {
		v.Errors["position"] = "billing.catalog.err.position"
	}
	if kind == kindPlan {
		if p.CallsIncluded, ok = parseCount(v.Values["calls_included"], maxAllowance); !ok {
			v.Errors["calls_included"] = "billing.catalog.err.allowance"
		}
		if p.SMSIncluded, ok = parseCount(v.Values["sms_included"], maxAllowance); !ok {
			v.Errors["sms_included"] = "billing.catalog.err.allowance"
		}
	}
	var existing Product
	var tariffs []Tariff
	var live int64
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if id != "new" {
			if err := sc.Select(&existing).Where("prod.id = ?", id).Scan(ctx); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return kit.ErrNotFound
				}
				return err
			}
			if existing.Kind != kind {
				return kit.ErrBadRequest // the kind is chosen once
			}
			n, err := sc.Select((*Subscription)(nil)).Where("sub.plan_id = ? AND sub.state <> ?", id, subTerminated).Count(ctx)
			live = n
			return err
		}
		return sc.Select(&tariffs).Scan(ctx)
	}); err != nil {
		return err
	}
	if id != "new" && kind == kindPlan && live > 0 && (existing.CallsIncluded != p.CallsIncluded || existing.SMSIncluded != p.SMSIncluded) {
		v.Errors["calls_included"] = "billing.catalog.err.allowance_held"
	}
	var price Price
	if id == "new" && len(tariffs) > 0 {
		if price.MonthlyFeeMinor, ok = parseCatalogPrice(v.Values["fee"]); !ok {
			v.Errors["fee"] = "billing.catalog.err.price"
		}
		if kind == kindPlan {
			if price.CallMinor, ok = parseCatalogPrice(v.Values["call_price"]); !ok {
				v.Errors["call_price"] = "billing.catalog.err.price"
			}
			if price.SMSMinor, ok = parseCatalogPrice(v.Values["sms_price"]); !ok {
				v.Errors["sms_price"] = "billing.catalog.err.price"
			}
		}
	}
	if len(v.Errors) > 0 {
		return m.renderProduct(c, http.StatusUnprocessableEntity, v)
	}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		p.TenantID = sc.TenantID
		if id == "new" {
			p.ID = newID()
			if _, err := sc.Insert(&p).Exec(ctx); err != nil {
				return err
			}
			var tars []Tariff // read again here: a tariff drafted meanwhile gets the price too
			if len(tariffs) > 0 {
				if err := sc.Select(&tars).Scan(ctx); err != nil {
					return err
				}
			}
			for _, tar := range tars {
				pr := price
				pr.TenantID, pr.TariffID, pr.ProductID = sc.TenantID, tar.ID, p.ID
				if _, err := sc.Insert(&pr).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		}
		res, err := sc.Update(&p).Column("code", "name", "description", "calls_included", "sms_included", "position").Where("prod.id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return kit.ErrNotFound
		}
		return nil
	})
	if store.IsUniqueViolation(err) {
		v.Errors["code"] = "billing.catalog.err.code_taken"
		return m.renderProduct(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	detail := map[string]any{"name": p.Name, "code": p.Code}
	if id == "new" && len(tariffs) > 0 {
		detail["fee"] = plainAmount(price.MonthlyFeeMinor)
	}
	m.catalogAudit(c, "billing.product_saved", p.ID, detail)
	return c.Redirect("/billing/manage/catalog/"+p.ID, "catalog_product_saved")
}

// withdrawProduct withdraws a product (B1): no new subscription can choose it; the
// subscriptions that have it keep it, at the prices of their tariff. Once only: a second
// withdrawal changes nothing.
func (m *Module) withdrawProduct(c *kit.Ctx) error {
	id := c.Param("id")
	var p Product
	var changed bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&p).Where("prod.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Update((*Product)(nil)).Set("withdrawn_at = ?", m.now()).Where("prod.id = ? AND prod.withdrawn_at IS NULL", id).Exec(ctx)
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
		m.catalogAudit(c, "billing.product_withdrawn", id, map[string]any{"name": p.Name, "code": p.Code})
	}
	return c.Redirect("/billing/manage/catalog/"+id, "catalog_product_withdrawn")
}
