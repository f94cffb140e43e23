package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// noticeRow is a tariff notice as the contract pages show it.
type noticeRow struct {
	TariffID   string
	TariffName string
	NotifiedOn Date
	Effective  Date
	Deadline   Date
	Refusal    *TariffRefusal
	Prices     []string // the client's prices excl. VAT that change, old → new (the e-mail gave them all)
	// Open: the refusal deadline is still to come and the contract has not ended — only then
	// does the page say a refusal is possible; Closed: the deadline passed with no refusal.
	Open, Closed bool
}

// contractData reads what both contract pages show of sub: its plan, the tariff notices
// with their refusals, the terminations (newest first), and the liability cap of the
// contract year of day incident.
func (m *Module) contractData(ctx context.Context, c *kit.Ctx, sc *store.Scope, v *kit.View, sub *Subscription, incident Date) error {
	t := c.Tenant()
	var plan Product
	if err := sc.Select(&plan).Where("prod.id = ?", sub.PlanID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var notices []TariffNotice
	if err := sc.Select(&notices).Where("tn.subscription_id = ?", sub.ID).OrderExpr("tn.notified_on DESC, tn.created_at DESC").Scan(ctx); err != nil {
		return err
	}
	var refusals []TariffRefusal
	if err := sc.Select(&refusals).Where("tr.subscription_id = ?", sub.ID).Scan(ctx); err != nil {
		return err
	}
	var rows []noticeRow
	var products []string
	byID := map[string]*Product{}
	if len(notices) > 0 {
		var opts []SubscriptionOption
		if err := sc.Select(&opts).Where("sopt.subscription_id = ?", sub.ID).Scan(ctx); err != nil {
			return err
		}
		products = []string{sub.PlanID}
		for _, o := range opts {
			products = append(products, o.ProductID)
		}
		var prods []Product
		if err := sc.Select(&prods).Where("prod.id IN (?)", bun.In(products)).Scan(ctx); err != nil {
			return err
		}
		for i := range prods {
			byID[prods[i].ID] = &prods[i]
		}
	}
	for _, n := range notices {
		var tar Tariff
		if err := sc.Select(&tar).Where("tar.id = ?", n.TariffID).Scan(ctx); err != nil {
			return err
		}
		next, err := tariffPrices(ctx, sc, tar.ID)
		if err != nil {
			return err
		}
		old := map[string]Price{}
		if n.OldTariffID != "" {
			if old, err = tariffPrices(ctx, sc, n.OldTariffID); err != nil {
				return err
			}
		}
		r := noticeRow{TariffID: tar.ID, TariffName: tar.Name, NotifiedOn: n.NotifiedOn, Effective: tar.EffectiveOn, Deadline: refusalDeadline(t, n.NotifiedOn),
			Prices: noticePrices(c.Loc(), t.Currency, products, byID, old, next, true)}
		for i := range refusals {
			if refusals[i].TariffID == n.TariffID {
				r.Refusal = &refusals[i]
			}
		}
		rows = append(rows, r)
	}
	var terms []Termination
	if err := sc.Select(&terms).Where("term.subscription_id = ?", sub.ID).OrderExpr("term.created_at DESC, term.id").Scan(ctx); err != nil {
		return err
	}
	capMinor, first, last, err := liabilityCap(ctx, sc, sub, incident)
	if err != nil {
		return err
	}
	months := int(terminationNoticeMonths.Of(t))
	v.Data["Sub"], v.Data["Plan"], v.Data["Notices"], v.Data["Terminations"] = sub, plan.Name, rows, terms
	v.Data["Notice"] = v.TN("billing.contract.months", months)
	v.Data["Cap"], v.Data["CapFirst"], v.Data["CapLast"], v.Data["Currency"] = capMinor, first.String(), last.String(), t.Currency
	today := m.today(t)
	v.Data["Today"] = today.String()
	// An incident before the contract began is under no contract: no cap to show (B7).
	v.Data["BeforeContract"] = incident.Before(sub.StartsOn)
	// Nor is an incident from the contract's end day on (the end day is the first day without
	// it, as for usage and invoices): no year, no cap, but the day it ended (B7).
	v.Data["AfterContract"] = !sub.EndsOn.IsZero() && !incident.Before(sub.EndsOn)
	v.Data["EndDay"] = sub.EndsOn.String()
	v.Data["Terminated"] = sub.State == subTerminated
	// Ended: terminated, or its end day come (a termination for non-payment ends it the day
	// it is decided; the daily job then marks it terminated): no more refusal nor termination.
	ended := sub.State == subTerminated || (!sub.EndsOn.IsZero() && !sub.EndsOn.After(today))
	v.Data["Ended"] = ended
	// Ending: a termination is active; another may only be recorded once it is withdrawn.
	ending := false
	for _, term := range terms {
		ending = ending || term.State == termActive
	}
	v.Data["Ending"] = ending
	for i := range rows {
		rows[i].Open = rows[i].Refusal == nil && !ended && !rows[i].Deadline.Before(today)
		rows[i].Closed = rows[i].Refusal == nil && !ended && rows[i].Deadline.Before(today)
	}
	return nil
}

// clientContract is the client's contract page (B4, B7, B8): his contract and the terms
// version he accepted, the tariff notices he received and his refusals, how to terminate
// (registered letter with proof of receipt, the notice counted from its receipt), the end
// day when one is fixed, and the liability cap of the current contract year.
func (m *Module) clientContract(c *kit.Ctx) error {
	v := c.View("billing.contract.client.title")
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		sub, err := m.ownSubscription(ctx, c, sc)
		if err != nil || sub == nil {
			return err
		}
		return m.contractData(ctx, c, sc, v, sub, m.today(c.Tenant()))
	})
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "contract_client", v)
}

// manageContract is the clerk's contract page of a subscription (B4, B7, B8): the tariff
// notices and the form to record a refusal, the terminations and the form to record one
// (or the firm's letter to print), and the liability cap for an incident day.
func (m *Module) manageContract(c *kit.Ctx) error {
	v := c.View("billing.contract.manage.title")
	if err := m.manageData(c, v, c.Param("id")); err != nil {
		return err
	}
	if len(v.Errors) > 0 {
		return c.Render(http.StatusUnprocessableEntity, "contract_manage", v)
	}
	return c.Render(http.StatusOK, "contract_manage", v)
}

// manageData fills the clerk's contract page of subscription id; an incident day that is no
// day is an error next to its field.
func (m *Module) manageData(c *kit.Ctx, v *kit.View, id string) error {
	t := c.Tenant()
	incident := m.today(t)
	if s := strings.TrimSpace(c.Query("incident")); s != "" {
		v.Values["incident"] = s
		if d, err := ParseDate(s); err != nil {
			v.Errors["incident"] = "billing.contract.err.date"
		} else {
			incident = d
		}
	}
	v.Data["Incident"] = incident.String()
	if v.Values["letter_on"] == "" {
		v.Values["letter_on"] = m.today(t).String()
	}
	return c.Read(func(ctx context.Context, sc *store.Scope) error {
		var sub Subscription
		if err := sc.Select(&sub).Where("sub.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		return m.contractData(ctx, c, sc, v, &sub, incident)
	})
}
