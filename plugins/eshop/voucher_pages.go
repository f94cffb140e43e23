package eshop

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The vouchers part's pages (E14): the "Gift vouchers" category, the purchase and its
// confirmation, the customer's vouchers, the holder's check of a code and compensation, and
// the shop manager's denominations.

// money and date write an amount and a day in lang for a message.
func (m *Module) money(lang string, minor int64, currency string) string {
	return locales.FormatMoney(lang, minor, currency)
}

func (m *Module) date(lang string, t sdk.Tenant, at time.Time) string {
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return locales.FormatDate(lang, at, loc)
}

// sellable is an item that can be bought as a test voucher, with its price and fee today.
type sellable struct {
	Item  Item
	Price Price
}

// voucherOffer reads the active denominations and the voucher-sellable tests (E14.f).
func (m *Module) voucherOffer(ctx context.Context, sc *store.Scope, t sdk.Tenant) ([]VoucherDenomination, []sellable, error) {
	var ds []VoucherDenomination
	if err := sc.Select(&ds).Where("active").Order("value_minor").Scan(ctx); err != nil {
		return nil, nil, err
	}
	var its []Item
	if err := sc.Select(&its).Where("voucher_sellable AND active AND withdrawn_at IS NULL").Order("name").Scan(ctx); err != nil {
		return nil, nil, err
	}
	out := make([]sellable, len(its))
	for i := range its {
		out[i] = sellable{Item: its[i], Price: linePrice(t, &its[i])}
	}
	return ds, out, nil
}

// voucherCatalog is the "Gift vouchers" category page (E1, E14.d): the value denominations
// and the tests sold as vouchers, each with what it costs and how long it is valid.
func (m *Module) voucherCatalog(c *kit.Ctx) error {
	v := c.View("eshop.voucher.catalog.title")
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		ds, its, err := m.voucherOffer(ctx, sc, c.Tenant())
		cmp := alphabet(c.Loc().Lang)
		slices.SortStableFunc(its, func(a, b sellable) int { return cmp(a.Item.Name, b.Item.Name) })
		v.Data["Denominations"], v.Data["Items"] = ds, its
		return err
	})
	if err != nil {
		return err
	}
	t := c.Tenant()
	v.Data["Currency"], v.Data["TestMonths"], v.Data["ValueMonths"] = t.Currency, int(testVoucherMonths.Of(t)), int(valueVoucherMonths.Of(t))
	return c.Render(http.StatusOK, "voucher_catalog", v)
}

// buyChoice is what a purchase form names: a test (item) or a value.
type buyChoice struct {
	Kind  string
	Item  *Item
	Price Price
	Value int64
}

// Face is one voucher's worth.
func (b buyChoice) Face() int64 {
	if b.Kind == voucherTest {
		return b.Price.Gross()
	}
	return b.Value
}

// readChoice reads ?item= or ?value= (or the form's): an item sold as a voucher, or an
// active denomination; anything else is not found.
func (m *Module) readChoice(ctx context.Context, sc *store.Scope, t sdk.Tenant, item, value string) (*buyChoice, error) {
	if item != "" {
		var it Item
		err := sc.Select(&it).Where("id = ? AND voucher_sellable AND active AND withdrawn_at IS NULL", item).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, kit.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		return &buyChoice{Kind: voucherTest, Item: &it, Price: linePrice(t, &it)}, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n <= 0 {
		return nil, kit.ErrNotFound
	}
	var d VoucherDenomination
	err = sc.Select(&d).Where("value_minor = ? AND active", n).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kit.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &buyChoice{Kind: voucherValue, Value: d.ValueMinor}, nil
}

func (m *Module) buyView(c *kit.Ctx, ch *buyChoice) *kit.View {
	v := c.View("eshop.voucher.buy.title")
	t := c.Tenant()
	months := valueVoucherMonths.Of(t)
	if ch.Kind == voucherTest {
		months = testVoucherMonths.Of(t)
		v.Values["item"] = ch.Item.ID
	} else {
		v.Values["value"] = strconv.FormatInt(ch.Value, 10)
	}
	if v.Values["quantity"] == "" {
		v.Values["quantity"] = "1"
	}
	v.Data["Choice"], v.Data["Currency"], v.Data["Months"], v.Data["Max"] = ch, t.Currency, int(months), int(voucherMaxQuantity.Of(t))
	return v
}

// voucherBuyForm is the purchase form "as a gift voucher" (E14.d).
func (m *Module) voucherBuyForm(c *kit.Ctx) error {
	var ch *buyChoice
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		ch, err = m.readChoice(ctx, sc, c.Tenant(), c.Query("item"), c.Query("value"))
		return err
	})
	if err != nil {
		return err
	}
	v := m.buyView(c, ch)
	if q := c.Form("quantity"); q != "" {
		v.Values["quantity"] = q
	}
	// "As a gift voucher" is the form's one choice: ticked already, not a click more.
	v.Values["gift"] = "yes"
	return c.Render(http.StatusOK, "voucher_buy", v)
}

// voucherBuy records the purchase and sends the customer to the gateway (E14.d): the
// vouchers are issued only when the payment is confirmed (voucherPurchasePaid).
func (m *Module) voucherBuy(c *kit.Ctx) error {
	t, u := c.Tenant(), c.User()
	var ch *buyChoice
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		ch, err = m.readChoice(ctx, sc, t, c.Form("item"), c.Form("value"))
		return err
	})
	if errors.Is(err, kit.ErrNotFound) {
		v := c.View("eshop.voucher.buy.title")
		v.Errors["item"] = "eshop.voucher.err.choice"
		v.Data["Choice"] = (*buyChoice)(nil)
		return kit.Invalid("voucher_buy", v)
	}
	if err != nil {
		return err
	}
	v := m.buyView(c, ch)
	qs := strings.TrimSpace(c.Form("quantity"))
	v.Values["quantity"] = qs
	q, err := strconv.Atoi(qs)
	if err != nil || q < 1 || int64(q) > voucherMaxQuantity.Of(t) {
		v.Errors["quantity"] = "eshop.voucher.err.quantity"
	}
	if c.Form("gift") != "yes" {
		v.Errors["gift"] = "eshop.voucher.err.gift"
	}
	if len(v.Errors) > 0 {
		return kit.Invalid("voucher_buy", v)
	}
	p := &VoucherPurchase{TenantID: t.ID, ID: newID(), UserID: u.ID, Kind: ch.Kind, Quantity: q, FaceMinor: ch.Face(),
		AmountMinor: ch.Face() * int64(q), Currency: t.Currency, Status: purchasePending, BuyerName: u.Name, Locale: t.Locale, CreatedAt: m.now()}
	if ch.Kind == voucherTest {
		p.ItemID, p.ItemName = ch.Item.ID, ch.Item.Name
		p.PriceMinor, p.VATPercent, p.FeeMinor, p.FeeVATPercent = ch.Price.PriceMinor, ch.Price.VATPercent, ch.Price.FeeMinor, ch.Price.FeeVATPercent
	}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(p).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	to, err := m.startPayment(c.Context(), t, u.ID, purposeVoucher, p.ID, p.AmountMinor)
	if err != nil {
		return err
	}
	if strings.HasPrefix(to, "/") && !strings.HasPrefix(to, "//") {
		// The sandbox's page (or the return page) is a path of the tenant.
		return c.Redirect(to, "")
	}
	http.Redirect(c.W, c.R, to, http.StatusSeeOther)
	return nil
}

// revealed is a code shown once on the purchase's confirmation page.
type revealed struct {
	Code    string
	LastDay time.Time
}

// voucherPurchasePage is the purchase's confirmation (E14.d): while the payment is not
// confirmed it says so; once it is, it shows the new codes — once: the next visit shows the
// vouchers without them (they are in the e-mail too).
func (m *Module) voucherPurchasePage(c *kit.Ctx) error {
	u := c.User()
	var p VoucherPurchase
	var codes []revealed
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&p).Where("id = ? AND user_id = ?", c.Param("id"), u.ID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		var rs []voucherReveal
		if err := sc.Select(&rs).Where("purchase_id = ? AND NOT shown", p.ID).Scan(ctx); err != nil {
			return err
		}
		var vs []Voucher
		if err := sc.Select(&vs).Where("purchase_id = ?", p.ID).Order("issued_at", "id").Scan(ctx); err != nil {
			return err
		}
		byID := map[string]string{}
		for _, r := range rs {
			byID[r.VoucherID] = r.Code
		}
		for _, v := range vs {
			if code := byID[v.ID]; code != "" {
				codes = append(codes, revealed{Code: code, LastDay: v.LastDay()})
			}
		}
		if len(rs) == 0 {
			return nil
		}
		if _, err := sc.Update((*voucherReveal)(nil)).Set("shown = TRUE").Where("purchase_id = ?", p.ID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Delete((*voucherReveal)(nil)).Where("purchase_id = ? AND shown AND mailed", p.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	c.W.Header().Set("Cache-Control", "no-store")
	v := c.View("eshop.voucher.purchase.title")
	v.Data["Purchase"], v.Data["Codes"] = &p, codes
	v.Data["Paid"] = p.Status == purchasePaid
	return c.Render(http.StatusOK, "voucher_purchase", v)
}

// voucherMine lists the vouchers the customer bought or received as compensation (E14.d):
// kind, value and balance, status, last day — never the code again (its last four
// characters only, to tell them apart).
func (m *Module) voucherMine(c *kit.Ctx) error {
	var vs []Voucher
	var pending []VoucherPurchase
	withdrawn := map[string]bool{}
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&vs).Where("purchaser_id = ?", c.User().ID).Order("issued_at DESC", "id").Scan(ctx); err != nil {
			return err
		}
		var ids []string
		if err := sc.Select((*Item)(nil)).Column("id").Where("withdrawn_at IS NOT NULL").Scan(ctx, &ids); err != nil {
			return err
		}
		for _, id := range ids {
			withdrawn[id] = true
		}
		return sc.Select(&pending).Where("user_id = ? AND status = ?", c.User().ID, purchasePending).Order("created_at DESC").Limit(20).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("eshop.voucher.mine.title")
	v.Data["Vouchers"], v.Data["Pending"], v.Data["Withdrawn"] = vs, pending, withdrawn
	return c.Render(http.StatusOK, "voucher_mine", v)
}

// voucherCheckForm is where a holder types a code to see what it is worth and, when its test
// is no longer performed, asks for its compensation (E14.a).
func (m *Module) voucherCheckForm(c *kit.Ctx) error {
	return c.Render(http.StatusOK, "voucher_check", c.View("eshop.voucher.check.title"))
}

// voucherCheck shows what a code is (its tries counted, E14.e, with the one generic error).
func (m *Module) voucherCheck(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.voucher.check.title")
	code := c.Form("code")
	if err := m.tryCodes(c.Context(), t, c.User().ID, c.Req.RemoteIP, 1); err != nil {
		return checkRefused(c, v, err)
	}
	var found *Voucher
	withdrawn := false
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if found, err = m.findCode(ctx, sc, t, code); err != nil || found == nil || found.Kind != voucherTest {
			return err
		}
		var it Item
		if err := sc.Select(&it).Where("id = ?", found.ItemID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		withdrawn = it.ID != "" && !it.WithdrawnAt.IsZero()
		return nil
	})
	if err != nil {
		return err
	}
	if found == nil {
		return checkRefused(c, v, errCodeRefused())
	}
	v.Values["code"] = code
	v.Data["Voucher"], v.Data["Withdrawn"] = found, withdrawn
	return c.Render(http.StatusOK, "voucher_check", v)
}

// checkRefused shows the check form again with the generic error (or fails with err).
func checkRefused(c *kit.Ctx, v *kit.View, err error) error {
	var fe sdk.FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	v.Errors["code"] = msgCodeRefused
	return kit.Invalid("voucher_check", v)
}

// voucherCompensate gives the holder of a test voucher whose test the lab no longer performs
// a value voucher worth its original price (E14.a). The holder proves it with the code (the
// purchaser may also ask from his list); the new code is shown once here and e-mailed.
func (m *Module) voucherCompensate(c *kit.Ctx) error {
	t, u := c.Tenant(), c.User()
	id := c.Param("id")
	v := c.View("eshop.voucher.check.title")
	code := c.Form("code")
	if code != "" {
		if err := m.tryCodes(c.Context(), t, u.ID, c.Req.RemoteIP, 1); err != nil {
			return checkRefused(c, v, err)
		}
	}
	var nv *Voucher
	var newCode, item string
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var old Voucher
		if err := sc.Select(&old).Where("id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		holder := old.PurchaserID == u.ID
		if !holder && code != "" {
			found, err := m.findCode(ctx, sc, t, code)
			if err != nil {
				return err
			}
			holder = found != nil && found.ID == old.ID
		}
		if !holder {
			return kit.ErrNotFound
		}
		item = old.ItemName
		var err error
		nv, newCode, err = m.compensate(ctx, sc, t, id, u.ID)
		return err
	})
	if errors.Is(err, errNoCompensation) {
		v.Errors["code"] = "eshop.voucher.err.no_compensation"
		return kit.Invalid("voucher_check", v)
	}
	if err != nil {
		return err
	}
	lang := u.Locale
	if lang == "" {
		lang = t.Locale
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditVoucherCompensated, Subject: u.ID, Resource: "eshop_voucher:" + id,
		Detail: map[string]any{"item": item, "value": m.money(lang, nv.ValueMinor, nv.Currency)}}); err != nil {
		return err
	}
	data := map[string]any{"Code": newCode, "Item": item, "Value": m.money(lang, nv.ValueMinor, nv.Currency), "Until": m.date(lang, t, nv.LastDay())}
	if _, err := c.Host().Send(c.Context(), sdk.Message{UserID: u.ID, Template: tmplVoucherCompensated, Data: data, Link: "/eshop/vouchers/mine", Secret: true}); err != nil {
		// The voucher exists and its code is on this page: the e-mail's failure is logged.
		m.Log.Error("compensation voucher e-mail", "tenant", t.Slug, "voucher", nv.ID, "err", err.Error())
	}
	c.W.Header().Set("Cache-Control", "no-store")
	out := c.View("eshop.voucher.compensated.title")
	out.Data["Voucher"], out.Data["Code"], out.Data["Item"] = nv, newCode, item
	return c.Render(http.StatusOK, "voucher_compensated", out)
}

// voucherManage is the shop manager's page of value-voucher denominations (E14.f).
func (m *Module) voucherManage(c *kit.Ctx) error {
	v := c.View("eshop.voucher.manage.title")
	return m.renderManage(c, v, http.StatusOK)
}

func (m *Module) renderManage(c *kit.Ctx, v *kit.View, status int) error {
	var ds []VoucherDenomination
	var its []Item
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&ds).Order("value_minor").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&its).Where("voucher_sellable AND active").Order("name").Scan(ctx)
	})
	if err != nil {
		return err
	}
	sortItems(c.Loc().Lang, its, false)
	v.Data["Denominations"], v.Data["Items"], v.Data["Currency"] = ds, its, c.Tenant().Currency
	if status != http.StatusOK {
		return kit.Invalid("voucher_manage", v)
	}
	return c.Render(status, "voucher_manage", v)
}

// parseAmount reads an amount typed in major units ("25", "25,50", "25.5") as minor units.
func parseAmount(s string) (int64, bool) {
	s = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\u00a0", ""), " ", ""))
	s = strings.ReplaceAll(s, ",", ".")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 7 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || f < 0 {
		return 0, false
	}
	return w*100 + f, true
}

// voucherManageAdd adds a denomination (or offers again one withdrawn). A voucher sold keeps
// its own value whatever becomes of its denomination (E14.f).
func (m *Module) voucherManageAdd(c *kit.Ctx) error {
	v := c.View("eshop.voucher.manage.title")
	raw := c.Form("value")
	v.Values["value"] = raw
	n, ok := parseAmount(raw)
	if !ok || n <= 0 {
		v.Errors["value"] = "eshop.voucher.err.value"
		return m.renderManage(c, v, http.StatusUnprocessableEntity)
	}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*VoucherDenomination)(nil)).Set("active = TRUE").Where("value_minor = ?", n).Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			return nil
		}
		_, err = sc.Insert(&VoucherDenomination{TenantID: sc.TenantID, ID: newID(), ValueMinor: n, Active: true, CreatedAt: m.now()}).
			On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditDenominations, Resource: "eshop_voucher_denomination",
		Detail: map[string]any{"value": m.money(c.Tenant().Locale, n, c.Tenant().Currency), "offered": true}}); err != nil {
		return err
	}
	return c.Redirect("/eshop/manage/vouchers", "denomination_saved")
}

// voucherManageToggle withdraws a denomination from sale, or offers it again.
func (m *Module) voucherManageToggle(c *kit.Ctx) error {
	var d VoucherDenomination
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&d).Where("id = ?", c.Param("id")).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		_, err := sc.Update((*VoucherDenomination)(nil)).Set("active = ?", !d.Active).Where("id = ? AND active = ?", d.ID, d.Active).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditDenominations, Resource: "eshop_voucher_denomination:" + d.ID,
		Detail: map[string]any{"value": m.money(c.Tenant().Locale, d.ValueMinor, c.Tenant().Currency), "offered": !d.Active}}); err != nil {
		return err
	}
	return c.Redirect("/eshop/manage/vouchers", "denomination_saved")
}
