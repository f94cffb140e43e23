package billing

import (
	"context"
	"errors"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// invoicesPart: anniversary invoices, drafts, issue, credit notes and billing runs (B5).
// See billing.go. (Frame: this part is being built.)
func (m *Module) invoicesPart() part { return part{} }

var errNotYet = errors.New("billing: not built yet")

// invoicePeriod makes the invoice of sub's period that starts on start (B5): the plan and
// options for the month ahead at the tariff in force on the issue day, plus the previous
// period's calls and SMS beyond the allowance. It is kept as a draft when the tenant reviews
// drafts, else issued. An invoice that already exists for that period is returned as it is.
func (m *Module) invoicePeriod(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, start Date) (*Invoice, error) {
	return nil, errNotYet
}

// issue gives a draft its number (without gaps per tenant and year), its issue and due days,
// its document, and sends it to the client (B5).
func (m *Module) issue(ctx context.Context, t sdk.Tenant, sc *store.Scope, inv *Invoice, on Date) error {
	return errNotYet
}

// finalInvoice is the invoice after a subscription ended (B8): the last period's usage beyond
// the allowance, with no fee (no proration).
func (m *Module) finalInvoice(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription) (*Invoice, error) {
	return nil, errNotYet
}

// dueOn is the day an invoice of the period starting on start, issued on issued, is due
// (B5): the tenant's payment day of the period's first month, or when the invoice is issued
// after it, the next payment day; never before the invoice is issued.
func dueOn(start, issued Date, payDay int) Date {
	d := Date{start.Y, start.M, min(payDay, daysIn(start.Y, start.M))}
	for d.Before(issued) {
		n := Date{d.Y, d.M, 1}.AddMonthsClamped(1)
		d = Date{n.Y, n.M, min(payDay, daysIn(n.Y, n.M))}
	}
	return d
}
