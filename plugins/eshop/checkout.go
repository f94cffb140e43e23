package eshop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Why a submission stops: the cart changed since the customer reviewed it (a hold lapsed, a
// test was withdrawn), or it is empty.
var (
	errCartChanged = errors.New("eshop: the cart changed")
	errCartEmpty   = errors.New("eshop: the cart is empty")
)

// normalizeMobile reads a mobile number as a person types it, with region (the tenant's
// country) for a number without its country code, and returns it in E.164, as the core
// does; else the message key of what is wrong.
func normalizeMobile(raw, region string) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "eshop.checkout.error.mobile_required"
	}
	if len(raw) > 40 {
		return "", "form.phone.invalid"
	}
	n, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", "form.phone.invalid"
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", "form.phone.not_mobile"
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

// lineIDs is the set of a cart's lines, as the checkout form carries it (sorted).
func lineIDs(ct *cart) string {
	ids := make([]string, len(ct.Lines))
	for i, l := range ct.Lines {
		ids[i] = l.ID
	}
	return sortedList(ids)
}

func sortedList(ids []string) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// checkoutView is the checkout's page data: the cart under review and the form.
func (m *Module) checkoutView(c *kit.Ctx) (*kit.View, *cart, error) {
	t := c.Tenant()
	deps, err := m.dependants(c)
	if err != nil {
		return nil, nil, err
	}
	var ct *cart
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		ct, err = m.loadCart(ctx, sc, t, c.User().ID, personNames(c.User(), deps))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	v := c.View("eshop.checkout.title")
	v.Data["Cart"], v.Data["Currency"], v.Data["Lines"] = ct, t.Currency, lineIDs(ct)
	v.Data["Script"] = "/eshop/cart/countdown.js?v=" + m.Manifest().Version
	return v, ct, nil
}

// checkoutPage shows the order form with the cart to review (E4): the customer's details
// from his account, his mobile, the consents and declarations, each line's pre-sampling
// information.
func (m *Module) checkoutPage(c *kit.Ctx) error {
	v, ct, err := m.checkoutView(c)
	if err != nil {
		return err
	}
	if len(ct.Lines) == 0 {
		return c.Redirect("/eshop/cart", "cart_empty")
	}
	u := c.User()
	v.Values["name"] = u.Name
	v.Values["address"] = profileAddress(u, c.Loc().Lang)
	v.Values["mobile"] = u.Profile["mobile"]
	return c.Render(http.StatusOK, "eshop_checkout", v)
}

// consents is what the customer accepted with his order (E4, P6).
type consents struct {
	Privacy       bool     `json:"privacy"`
	ThirdParty    bool     `json:"third_party_data,omitempty"`
	InformedLines []string `json:"informed_consent_items"`
}

// declarations is what the customer declared with his order (E2, E4).
type declarations struct {
	Adult          bool `json:"adult"`
	Representative bool `json:"legal_representative,omitempty"`
}

// submitOrder makes the binding order from the cart (E4–E6), in one transaction: its number,
// its lines with the catalog's price, VAT, fee, turnaround and texts as they are now, the
// cart's places moved to the lines, the discount codes redeemed, the payment deadline; then
// the payment, or the order paid at once when vouchers cover it all.
func (m *Module) submitOrder(c *kit.Ctx) error {
	t := c.Tenant()
	u := c.User()
	v, ct, err := m.checkoutView(c)
	if err != nil {
		return err
	}
	for _, f := range []string{"name", "address", "billing_name", "billing_address", "mobile"} {
		v.Values[f] = c.Form(f)
	}
	if len(ct.Lines) == 0 {
		return c.Redirect("/eshop/cart", "cart_empty")
	}
	if sortedList(strings.Split(c.Form("lines"), ",")) != lineIDs(ct) {
		v.Data["Changed"] = true
		return c.Render(http.StatusConflict, "eshop_checkout", v)
	}
	errs := v.Errors
	text := func(field string, required bool, max int) string {
		s := strings.TrimSpace(c.Form(field))
		switch {
		case s == "" && required:
			errs[field] = "eshop.checkout.error.required"
		case utf8.RuneCountInString(s) > max:
			errs[field] = "eshop.checkout.error.too_long"
		}
		return s
	}
	name := text("name", true, 200)
	address := text("address", true, 500)
	billingName := text("billing_name", false, 200)
	billingAddress := text("billing_address", false, 500)
	if (billingName == "") != (billingAddress == "") {
		if billingName == "" {
			errs["billing_name"] = "eshop.checkout.error.billing_both"
		} else {
			errs["billing_address"] = "eshop.checkout.error.billing_both"
		}
	}
	mobile, key := normalizeMobile(c.Form("mobile"), countryOf(t))
	if key != "" {
		errs["mobile"] = key
	}
	checked := func(field string) bool {
		if c.Form(field) != "on" && c.Form(field) != "yes" {
			errs[field] = "eshop.checkout.error.accept"
			return false
		}
		return true
	}
	cons := consents{Privacy: checked("privacy")}
	decl := declarations{Adult: checked("adult")}
	if ct.ForOthers {
		cons.ThirdParty = checked("third_party")
		decl.Representative = checked("representative")
	}
	for _, l := range ct.Lines {
		if checked("consent_" + l.ID) {
			cons.InformedLines = append(cons.InformedLines, l.ItemID)
		}
	}
	if len(errs) > 0 {
		return kit.Invalid("eshop_checkout", v)
	}
	consentsJSON, _ := json.Marshal(cons)
	declJSON, _ := json.Marshal(decl)
	deps, err := m.dependants(c)
	if err != nil {
		return err
	}

	now := m.now()
	o := &Order{TenantID: t.ID, ID: newID(), UserID: u.ID, Status: orderSubmitted, Locale: u.Locale, BuyerName: name, Email: u.Email,
		Mobile: mobile, Address: address, BillingName: billingName, BillingAddress: billingAddress, TermsVersion: c.TermsVersion(),
		Consents: string(consentsJSON), Declarations: string(declJSON), Currency: t.Currency, SubmittedAt: now,
		PayBy: now.Add(time.Duration(paymentMinutes.Of(t)) * time.Minute)}
	if o.Locale == "" {
		o.Locale = t.Locale
	}
	paidNow := false
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		number, err := m.nextOrderNumber(ctx, sc, now.In(zone(t)).Year())
		if err != nil {
			return err
		}
		o.Number = number
		lines, total, err := m.orderItems(ctx, sc, t, u, deps, o.ID, ct)
		if err != nil {
			return err
		}
		o.TotalMinor, o.DueMinor = total, total
		if _, err := sc.Insert(o).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Insert(&lines).Exec(ctx); err != nil {
			return err
		}
		covered, err := m.redeemCodes(ctx, sc, t, u.ID, o.ID, ct.Codes, linePointers(lines))
		if err != nil {
			return err
		}
		if covered < 0 || covered > total {
			return fmt.Errorf("eshop: vouchers covered %d of %d", covered, total)
		}
		if covered > 0 {
			o.VoucherMinor, o.DueMinor = covered, total-covered
			if _, err := sc.Update(o).Column("voucher_minor", "due_minor").WherePK().Exec(ctx); err != nil {
				return err
			}
			for i := range lines {
				if _, err := sc.Update(&lines[i]).Column("voucher_minor").WherePK().Exec(ctx); err != nil {
					return err
				}
			}
		}
		if _, err := sc.Delete((*CartCode)(nil)).Where("user_id = ?", u.ID).Exec(ctx); err != nil {
			return err
		}
		if o.DueMinor == 0 {
			paidNow, err = m.orderPaid(ctx, sc, t, o.ID, now)
			return err
		}
		return nil
	})
	var sfe sdk.FieldErrors
	var kfe kit.FieldErrors
	switch {
	case errors.As(err, &sfe) && sfe["code"] != "":
		v.Errors["code"] = sfe["code"]
		return kit.Invalid("eshop_checkout", v)
	case errors.As(err, &kfe) && kfe["code"] != "":
		v.Errors["code"] = kfe["code"]
		return kit.Invalid("eshop_checkout", v)
	case errors.Is(err, errCartChanged), errors.Is(err, errCartEmpty):
		v, _, err := m.checkoutView(c)
		if err != nil {
			return err
		}
		v.Data["Changed"] = true
		return c.Render(http.StatusConflict, "eshop_checkout", v)
	case err != nil:
		return err
	}
	for _, l := range ct.Lines {
		if err := c.Host().Cancel(c.Context(), "cart:"+l.ID); err != nil {
			c.LogFailure(err)
		}
	}
	if paidNow {
		// Vouchers paid it all: the confirmation with the invoice goes now, as after a
		// gateway's payment (a failure is retried by its job, never undoes the order).
		if err := m.orderPaidByVouchers(c.Context(), t, o.ID); err != nil {
			c.LogFailure(fmt.Errorf("confirmation of order %s paid by vouchers: %w", o.ID, err))
		}
		return c.Redirect("/eshop/orders/"+o.ID, "order_paid")
	}
	if err := m.scheduleOverdue(c.Context(), o); err != nil {
		c.LogFailure(err) // the sweep ends the payment time all the same
	}
	return m.goPay(c, o)
}

func linePointers(lines []OrderItem) []*OrderItem {
	out := make([]*OrderItem, len(lines))
	for i := range lines {
		out[i] = &lines[i]
	}
	return out
}

// orderItems turns the cart's lines into the order's, in the submitting transaction: each
// cart line is taken once (a lapsed or removed one stops the submission), its item read as
// the catalog has it now (E6), its place moved to the order's line without expiry.
func (m *Module) orderItems(ctx context.Context, sc *store.Scope, t sdk.Tenant, u *sdk.User, deps []sdk.Dependant, orderID string, ct *cart) ([]OrderItem, int64, error) {
	var out []OrderItem
	var total int64
	for _, l := range ct.Lines {
		res, err := sc.Delete((*CartItem)(nil)).Where("id = ? AND user_id = ? AND expires_at > ?", l.ID, u.ID, m.now()).Exec(ctx)
		if err != nil {
			return nil, 0, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, 0, errCartChanged
		}
		var it Item
		if err := sc.Select(&it).Where("it.id = ? AND it.active AND it.withdrawn_at IS NULL", l.ItemID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil, 0, errCartChanged
		} else if err != nil {
			return nil, 0, err
		}
		p := linePrice(t, &it)
		oi := OrderItem{TenantID: t.ID, ID: newID(), OrderID: orderID, ItemID: it.ID, Kind: it.Kind, Name: it.Name, Preparation: it.Preparation,
			ConsentText: it.ConsentText, PriceMinor: p.PriceMinor, VATPercent: p.VATPercent, FeeMinor: p.FeeMinor, FeeVATPercent: p.FeeVATPercent,
			TATDays: it.TATDays, DependantID: l.DependantID, PointID: l.PointID, StartsAt: l.StartsAt, HoldID: l.HoldID, Status: itemBooked}
		if l.DependantID == "" {
			oi.PersonName, oi.PersonBirthDate, oi.PersonNationalID = u.Name, u.BirthDate, profileNationalID(u)
		} else {
			d := depOf(deps, l.DependantID)
			if d == nil || m.personRefusal(t, &it, "", d, true, l.StartsAt) != "" {
				return nil, 0, errCartChanged
			}
			oi.PersonName, oi.PersonBirthDate, oi.PersonNationalID, oi.Relationship = strings.TrimSpace(d.FirstName+" "+d.LastName), d.BirthDate, d.NationalID, d.Relationship
		}
		moved, err := m.moveHold(ctx, sc, l.HoldID, holdOrder, oi.ID, nil)
		if err != nil {
			return nil, 0, err
		}
		if !moved {
			return nil, 0, errCartChanged
		}
		out = append(out, oi)
		total += p.Gross()
	}
	if len(out) == 0 {
		return nil, 0, errCartEmpty
	}
	return out, total, nil
}

// nextOrderNumber gives the next order number of the tenant's year, "2026-000042": the
// year's counter raised by a guarded update in the submitting transaction, so two orders
// never share one (the unique index on the numbers holds it a second time).
func (m *Module) nextOrderNumber(ctx context.Context, sc *store.Scope, year int) (string, error) {
	if _, err := sc.Insert(&OrderCounter{TenantID: sc.TenantID, Year: year}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return "", err
	}
	var last int64
	if err := sc.Update((*OrderCounter)(nil)).Set("last = last + 1").Where("year = ?", year).Returning("last").Scan(ctx, &last); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%06d", year, last), nil
}
