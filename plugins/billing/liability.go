package billing

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
)

// The liability cap (B7): the firm's liability for an incident is at most the invoices the
// client actually paid in the contract year in which it happened — the payments received in
// that year on the subscription's invoices.

// contractYear is the contract year of a subscription started on start that contains d
// (first and last day, both included): contract years run from each anniversary of start,
// clamped like periods (a start on 29 February gives 28 February in the years without one),
// each computed from start. A day before start is in the first year.
func contractYear(start, d Date) (first, last Date) {
	k := d.Y - start.Y
	if k < 0 {
		k = 0
	}
	for k > 0 && start.AddMonthsClamped(12*k).After(d) {
		k--
	}
	for !start.AddMonthsClamped(12 * (k + 1)).After(d) {
		k++
	}
	return start.AddMonthsClamped(12 * k), start.AddMonthsClamped(12 * (k + 1)).AddDays(-1)
}

// liabilityCap is the cap for an incident on day incident: the sum of the payments received
// from the first to the last day of its contract year on sub's invoices, with the year's
// bounds.
func liabilityCap(ctx context.Context, sc *store.Scope, sub *Subscription, incident Date) (capMinor int64, first, last Date, err error) {
	first, last = contractYear(sub.StartsOn, incident)
	invoices := sc.Select((*Invoice)(nil)).Column("inv.id").Where("inv.subscription_id = ?", sub.ID)
	err = sc.Select((*Payment)(nil)).ColumnExpr("COALESCE(SUM(pay.amount_minor), 0)").
		Where("pay.invoice_id IN (?)", invoices).
		Where("pay.received_on >= ? AND pay.received_on <= ?", first.String(), last.String()).Scan(ctx, &capMinor)
	return capMinor, first, last, err
}
