package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// usagePreviousPeriods is how many past periods the consumption page lists.
const usagePreviousPeriods = 6

// messagesPageSize is how many messages a page of the client's messages shows.
const messagesPageSize = 20

// usageLine is one kind of usage (calls or SMS) of a period: used, included in the plan,
// beyond the allowance, the price of one beyond it and what that comes to.
type usageLine struct {
	Used, Included, Beyond int64
	UnitMinor, AmountMinor int64
}

func newUsageLine(used, included, unit int64) usageLine {
	l := usageLine{Used: used, Included: included, UnitMinor: unit}
	if used > included {
		l.Beyond = used - included
	}
	l.AmountMinor = l.Beyond * unit
	return l
}

// usagePeriod is a period's consumption (B3). Priced: a tariff prices the invoice that bills
// it (the one dated the next period's first day); TotalMinor is then what is beyond the
// allowance comes to, excluding VAT.
type usagePeriod struct {
	First, Last Date
	Calls, SMS  usageLine
	Priced      bool
	TotalMinor  int64
}

// usageFigures is what the consumption pages show of one subscription.
type usageFigures struct {
	Sub        *Subscription
	PlanName   string
	NotStarted bool
	Current    usagePeriod
	Previous   []usagePeriod
	Currency   string
}

// consumption computes sub's consumption: the current period (the last one when the contract
// ended) and the ones before it, each counted by local days in the tenant's zone against
// the plan's allowance, priced at the tariff of the invoice that bills it (tariffAt).
func (m *Module) consumption(ctx context.Context, sc *store.Scope, t sdk.Tenant, sub *Subscription) (*usageFigures, error) {
	out := &usageFigures{Sub: sub, Currency: t.Currency}
	var plan Product
	if err := sc.Select(&plan).Where("prod.id = ?", sub.PlanID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out.PlanName = plan.Name
	day := m.today(t)
	if sub.StartsOn.IsZero() || day.Before(sub.StartsOn) {
		out.NotStarted = true
		return out, nil
	}
	if !sub.EndsOn.IsZero() && !day.Before(sub.EndsOn) {
		day = sub.EndsOn.AddDays(-1)
	}
	k, _, _ := periodAt(sub.StartsOn, day)
	oldest := max(k-usagePreviousPeriods, 0)
	used, err := periodUsage(ctx, sc, t, []*Subscription{sub}, periodStart(sub.StartsOn, oldest), periodStart(sub.StartsOn, k))
	if err != nil {
		return nil, err
	}
	for i := k; i >= oldest; i-- {
		p := usagePeriod{First: periodStart(sub.StartsOn, i), Last: periodStart(sub.StartsOn, i+1).AddDays(-1)}
		calls, sms := used[sub.ID][p.First][0], used[sub.ID][p.First][1]
		var price Price
		_, prices, err := m.tariffAt(ctx, sc, sub, p.Last.AddDays(1))
		switch {
		case errors.Is(err, errNoTariff):
		case err != nil:
			return nil, err
		default:
			price, p.Priced = prices[sub.PlanID]
		}
		p.Calls = newUsageLine(calls, int64(plan.CallsIncluded), price.CallMinor)
		p.SMS = newUsageLine(sms, int64(plan.SMSIncluded), price.SMSMinor)
		p.TotalMinor = p.Calls.AmountMinor + p.SMS.AmountMinor
		if i == k {
			out.Current = p
		} else {
			out.Previous = append(out.Previous, p)
		}
	}
	return out, nil
}

// usagePage is the client's consumption of the current period and the ones before (B3).
func (m *Module) usagePage(c *kit.Ctx) error {
	var fig *usageFigures
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		sub, err := m.ownSubscription(ctx, c, sc)
		if err != nil || sub == nil {
			return err
		}
		fig, err = m.consumption(ctx, sc, c.Tenant(), sub)
		return err
	})
	if err != nil {
		return err
	}
	v := c.View("billing.usage.title")
	v.Data["Fig"] = fig
	return c.Render(http.StatusOK, "usage_page", v)
}

// manageUsagePage is the same figures for one subscription, for the billing clerk.
func (m *Module) manageUsagePage(c *kit.Ctx) error {
	var fig *usageFigures
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var sub Subscription
		if err := sc.Select(&sub).Where("sub.id = ?", c.Param("id")).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		var err error
		fig, err = m.consumption(ctx, sc, c.Tenant(), &sub)
		return err
	})
	if err != nil {
		return err
	}
	v := c.View("billing.usage.manage_title")
	v.Data["Fig"], v.Data["Clerk"] = fig, true
	return c.Render(http.StatusOK, "usage_page", v)
}

// messagesPage lists the messages taken for the client, newest first, a page at a time.
func (m *Module) messagesPage(c *kit.Ctx) error {
	page := 1
	if q := c.Query("page"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 100000 {
			return kit.ErrBadRequest
		}
		page = n
	}
	var sub *Subscription
	var msgs []TakenMessage
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if sub, err = m.ownSubscription(ctx, c, sc); err != nil || sub == nil {
			return err
		}
		return sc.Select(&msgs).Where("msg.subscription_id = ?", sub.ID).OrderExpr("msg.taken_at DESC, msg.event_id DESC").
			Limit(messagesPageSize + 1).Offset(int64(page-1) * messagesPageSize).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("billing.usage.messages_title")
	more := len(msgs) > messagesPageSize
	if more {
		msgs = msgs[:messagesPageSize]
	}
	v.Data["Sub"], v.Data["Messages"], v.Data["Months"] = sub, msgs, recordingRetentionMonths.Of(c.Tenant())
	if more {
		v.Data["Next"] = page + 1
	}
	if page > 1 {
		v.Data["Prev"] = page - 1
	}
	return c.Render(http.StatusOK, "usage_messages", v)
}
