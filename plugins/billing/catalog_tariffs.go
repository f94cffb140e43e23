package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// Tariffs (B4, the drafting side): the clerk prepares a draft — a copy of the prices in
// force —, edits each product's prices, deletes a draft he no longer wants. Announcing a
// draft to the clients (notice, effective day, refusals) is the contract part's
// (POST /billing/manage/tariffs/{id}/announce). A tenant with no tariff yet and no
// subscription may put its first tariff in force at once: no client had any price before it.

// Where a tariff stands, as the clerk reads it: being prepared, announced and taking effect
// on its day, the one in force today, or replaced by a later one.
const (
	tariffStatusDraft    = "draft"
	tariffStatusUpcoming = "upcoming"
	tariffStatusCurrent  = "current"
	tariffStatusPast     = "past"
)

// tariffRow is a tariff as the list shows it: its status and, for a replaced one, the day
// its successor took effect.
type tariffRow struct {
	Tariff     Tariff
	Status     string
	ReplacedOn Date
}

// tariffRows reads the tenant's tariffs, drafts first then the latest, with their status on
// day today.
func tariffRows(ctx context.Context, sc *store.Scope, today Date) ([]tariffRow, error) {
	var tars []Tariff
	if err := sc.Select(&tars).OrderExpr("CASE WHEN tar.state = ? THEN 0 ELSE 1 END, tar.effective_on DESC, tar.created_at DESC", tariffDraft).
		Limit(catalogListLimit).Scan(ctx); err != nil {
		return nil, err
	}
	rows := make([]tariffRow, len(tars))
	var later *Tariff // the next tariff in effect after the one at hand (the list runs backwards)
	current := false
	for i := range tars {
		t := &tars[i]
		rows[i].Tariff = *t
		switch {
		case t.State == tariffDraft:
			rows[i].Status = tariffStatusDraft
			continue
		case t.EffectiveOn.After(today):
			rows[i].Status = tariffStatusUpcoming
		case !current:
			rows[i].Status, current = tariffStatusCurrent, true
		default:
			rows[i].Status = tariffStatusPast
			if later != nil {
				rows[i].ReplacedOn = later.EffectiveOn
			}
		}
		later = t
	}
	return rows, nil
}

// tariffsPage lists the tariffs (B4): name, effective day, where each stands in words; and
// the form that drafts a new one.
func (m *Module) tariffsPage(c *kit.Ctx) error {
	return m.renderTariffs(c, http.StatusOK, c.View("billing.catalog.tariffs_title"))
}

func (m *Module) renderTariffs(c *kit.Ctx, status int, v *kit.View) error {
	var rows []tariffRow
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		rows, err = tariffRows(ctx, sc, m.today(c.Tenant()))
		return err
	}); err != nil {
		return err
	}
	v.Data["Tariffs"] = rows
	return c.Render(status, "catalog_tariffs", v)
}

// draftTariff creates a draft named as posted, with a copy of the prices of the latest
// tariff announced or in force — an announced one still to take effect wins over the one in
// force today, so that a new draft starts from the prices the clients were last told of and
// does not undo an announced change (none: no prices yet).
func (m *Module) draftTariff(c *kit.Ctx) error {
	v := formView(c, "billing.catalog.tariffs_title", "name")
	catalogCheckLength(v, "name", maxTariffName, true)
	if len(v.Errors) > 0 {
		return m.renderTariffs(c, http.StatusUnprocessableEntity, v)
	}
	u := c.User()
	tar := Tariff{ID: newID(), Name: v.Values["name"], State: tariffDraft, CreatedBy: u.ID, CreatedAt: m.now()}
	var from *Tariff
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		src, prices, err := latestTariff(ctx, sc)
		if err != nil {
			return err
		}
		from = src
		tar.TenantID = sc.TenantID
		if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
			return err
		}
		for _, p := range prices {
			p.TenantID, p.TariffID = sc.TenantID, tar.ID
			if _, err := sc.Insert(&p).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	detail := map[string]any{"name": tar.Name}
	if from != nil {
		detail["copied_from"] = from.Name
	}
	m.catalogAudit(c, "billing.tariff_drafted", tar.ID, detail)
	return c.Redirect("/billing/manage/tariffs/"+tar.ID, "catalog_tariff_drafted")
}

// priceLine is a product's line of a tariff's page: its prices in the tariff, and for
// comparison in the grid a draft was copied from (the latest announced or in force), or for
// another grid in the one in force.
type priceLine struct {
	Product   Product
	Price     Price
	Priced    bool
	Current   Price
	InCurrent bool
}

// tariffData is what a tariff's page shows.
type tariffData struct {
	Tariff  Tariff
	Row     tariffRow
	Lines   []priceLine
	Current *Tariff
	// First: the tenant has no tariff but drafts and no subscription, so this draft may be
	// put in force at once.
	First bool
}

// readTariff reads the tariff of id with every product (withdrawn ones too: the clients who
// hold them go on paying them) and its prices.
func (m *Module) readTariff(c *kit.Ctx, id string) (*tariffData, error) {
	d := &tariffData{}
	today := m.today(c.Tenant())
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&d.Tariff).Where("tar.id = ?", id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tariffRows(ctx, sc, today)
		if err != nil {
			return err
		}
		live := 0
		for _, r := range rows {
			if r.Tariff.ID == id {
				d.Row = r
			}
			if r.Status != tariffStatusDraft {
				live++
			}
		}
		prods, err := listProducts(ctx, sc, false)
		if err != nil {
			return err
		}
		prices, err := tariffPrices(ctx, sc, id)
		if err != nil {
			return err
		}
		// A draft is compared with the grid it was copied from, the latest announced or in force
		// (an announced one still to take effect wins); another grid with the one in force.
		var cur *Tariff
		var curPrices map[string]Price
		if d.Tariff.State == tariffDraft {
			cur, curPrices, err = latestTariff(ctx, sc)
		} else {
			cur, curPrices, err = currentTariff(ctx, sc, today)
		}
		if err != nil {
			return err
		}
		d.Current = cur
		for _, p := range prods {
			pr, ok := prices[p.ID]
			cp, inCur := curPrices[p.ID]
			d.Lines = append(d.Lines, priceLine{Product: p, Price: pr, Priced: ok, Current: cp, InCurrent: inCur && cur != nil && cur.ID != id})
		}
		if d.Tariff.State == tariffDraft && live == 0 {
			n, err := sc.Select((*Subscription)(nil)).Count(ctx)
			if err != nil {
				return err
			}
			d.First = n == 0
		}
		return nil
	})
	return d, err
}

// tariffPage is a tariff's page: a draft's price form, with its delete button, the button
// that announces it (the contract part's) and, for a tenant's first tariff, the one that puts
// it in force at once; another tariff's prices, to read.
func (m *Module) tariffPage(c *kit.Ctx) error {
	return m.renderTariff(c, http.StatusOK, c.View("billing.catalog.tariff_title"))
}

// feeField, callField and smsField are the names of a product's price fields in a draft's form.
func feeField(productID string) string  { return "fee_" + productID }
func callField(productID string) string { return "call_" + productID }
func smsField(productID string) string  { return "sms_" + productID }

func (m *Module) renderTariff(c *kit.Ctx, status int, v *kit.View) error {
	d, err := m.readTariff(c, c.Param("id"))
	if err != nil {
		return err
	}
	if _, ok := v.Values["name"]; !ok && d.Tariff.State == tariffDraft {
		lang := c.Loc().Lang
		v.Values["name"] = d.Tariff.Name
		for _, l := range d.Lines {
			if !l.Priced {
				continue
			}
			v.Values[feeField(l.Product.ID)] = catalogPriceInput(lang, l.Price.MonthlyFeeMinor)
			if l.Product.Kind == kindPlan {
				v.Values[callField(l.Product.ID)] = catalogPriceInput(lang, l.Price.CallMinor)
				v.Values[smsField(l.Product.ID)] = catalogPriceInput(lang, l.Price.SMSMinor)
			}
		}
	}
	v.Title = d.Tariff.Name
	v.Data["T"], v.Data["Currency"] = d, c.Tenant().Currency
	return c.Render(status, "catalog_tariff", v)
}

// errNotDraft: the tariff is no longer a draft (announced meanwhile).
var errNotDraft = errors.New("billing: the tariff is not a draft")

// saveTariffPrices stores a draft's name and every product's prices as posted: the monthly
// fee, and for a plan the price of a call and of an SMS beyond the allowance. Prices are in
// the reader's notation ("89,00"), none negative; a wrong one is told next to its field and
// nothing changes.
func (m *Module) saveTariffPrices(c *kit.Ctx) error {
	id := c.Param("id")
	d, err := m.readTariff(c, id)
	if err != nil {
		return err
	}
	fields := []string{"name"}
	for _, l := range d.Lines {
		fields = append(fields, feeField(l.Product.ID))
		if l.Product.Kind == kindPlan {
			fields = append(fields, callField(l.Product.ID), smsField(l.Product.ID))
		}
	}
	v := formView(c, "billing.catalog.tariff_title", fields...)
	if d.Tariff.State != tariffDraft {
		v.Errors["tariff"] = "billing.catalog.err.not_draft"
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	catalogCheckLength(v, "name", maxTariffName, true)
	prices := make([]Price, 0, len(d.Lines))
	for _, l := range d.Lines {
		p := Price{TariffID: id, ProductID: l.Product.ID}
		read := func(field string, into *int64) {
			n, ok := parseCatalogPrice(v.Values[field])
			if !ok {
				v.Errors[field] = "billing.catalog.err.price"
			}
			*into = n
		}
		read(feeField(l.Product.ID), &p.MonthlyFeeMinor)
		if l.Product.Kind == kindPlan {
			read(callField(l.Product.ID), &p.CallMinor)
			read(smsField(l.Product.ID), &p.SMSMinor)
		}
		prices = append(prices, p)
	}
	if len(v.Errors) > 0 {
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		// Guarded: only a draft's prices change (its row stays locked until the end).
		res, err := sc.Update((*Tariff)(nil)).Set("name = ?", v.Values["name"]).Where("tar.id = ? AND tar.state = ?", id, tariffDraft).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotDraft
		}
		if _, err := sc.Delete((*Price)(nil)).Where("tariff_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		for i := range prices {
			prices[i].TenantID = sc.TenantID
			if _, err := sc.Insert(&prices[i]).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errNotDraft) {
		v.Errors["tariff"] = "billing.catalog.err.not_draft"
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	changed := []string{}
	for i, l := range d.Lines {
		if !l.Priced || l.Price != prices[i] {
			changed = append(changed, l.Product.Code)
		}
	}
	m.catalogAudit(c, "billing.tariff_prices_saved", id, map[string]any{"name": v.Values["name"], "products": strings.Join(changed, ", ")})
	return c.Redirect("/billing/manage/tariffs/"+id, "catalog_tariff_saved")
}

// deleteTariff deletes a draft and its prices; an announced or in-force tariff stays.
func (m *Module) deleteTariff(c *kit.Ctx) error {
	id := c.Param("id")
	var tar Tariff
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&tar).Where("tar.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Delete((*Tariff)(nil)).Where("id = ? AND state = ?", id, tariffDraft).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotDraft
		}
		_, err = sc.Delete((*Price)(nil)).Where("tariff_id = ?", id).Exec(ctx)
		return err
	})
	if errors.Is(err, errNotDraft) {
		v := c.View("billing.catalog.tariff_title")
		v.Errors["tariff"] = "billing.catalog.err.not_draft"
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	m.catalogAudit(c, "billing.tariff_deleted", id, map[string]any{"name": tar.Name})
	return c.Redirect("/billing/manage/tariffs", "catalog_tariff_deleted")
}

// Why a draft cannot be put in force at once.
var (
	errTariffNotFirst = errors.New("billing: the tenant already has a tariff or a subscription")
	errTariffUnpriced = errors.New("billing: a product offered has no price in the tariff")
)

// putFirstTariffInForce puts a tenant's first tariff in force today (B4: the notice is for a
// change of the prices clients pay; before the first tariff no client pays any). It is
// refused once the tenant has a tariff announced or in force, or a subscription, and while a
// product offered has no price in the draft. Of two clerks doing it at once, one succeeds:
// the first-tariff row of the tenant is unique.
func (m *Module) putFirstTariffInForce(c *kit.Ctx) error {
	id := c.Param("id")
	today := m.today(c.Tenant())
	var tar Tariff
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&tar).Where("tar.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		if tar.State != tariffDraft {
			return errNotDraft
		}
		others, err := sc.Select((*Tariff)(nil)).Where("tar.state <> ?", tariffDraft).Count(ctx)
		if err != nil {
			return err
		}
		subs, err := sc.Select((*Subscription)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if others > 0 || subs > 0 {
			return errTariffNotFirst
		}
		unpriced, err := sc.Select((*Product)(nil)).Where("prod.withdrawn_at IS NULL").
			Where("NOT EXISTS (SELECT 1 FROM billing_prices AS p2 WHERE p2.tenant_id = ? AND p2.tariff_id = ? AND p2.product_id = prod.id)", sc.TenantID, id).Count(ctx)
		if err != nil {
			return err
		}
		plans, err := sc.Select((*Product)(nil)).Where("prod.withdrawn_at IS NULL AND prod.kind = ?", kindPlan).Count(ctx)
		if err != nil {
			return err
		}
		if unpriced > 0 || plans == 0 {
			return errTariffUnpriced
		}
		if _, err := sc.Insert(&FirstTariff{TenantID: sc.TenantID, TariffID: id, PutBy: c.User().ID, PutAt: m.now()}).Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Update((*Tariff)(nil)).Set("state = ?", tariffInForce).Set("effective_on = ?", today.String()).
			Where("tar.id = ? AND tar.state = ?", id, tariffDraft).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotDraft
		}
		return nil
	})
	why, field := "", "in_force"
	switch {
	case errors.Is(err, errNotDraft):
		why, field = "billing.catalog.err.not_draft", "tariff" // the page of a tariff no longer a draft has no such button
	case errors.Is(err, errTariffNotFirst) || store.IsUniqueViolation(err):
		why = "billing.catalog.err.not_first"
	case errors.Is(err, errTariffUnpriced):
		why = "billing.catalog.err.unpriced"
	case err != nil:
		return err
	}
	if why != "" {
		v := c.View("billing.catalog.tariff_title")
		v.Errors[field] = why
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	m.catalogAudit(c, "billing.tariff_put_in_force", id, map[string]any{"name": tar.Name, "effective_on": today.String()})
	return c.Redirect("/billing/manage/tariffs/"+id, "catalog_tariff_in_force")
}
