package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// SetOff is a credit note set against an invoice of the same subscription (B6): allowed only
// when the subscription's special conditions agree to it in writing (SetOffAgreed). The
// invoice's PaidMinor grows as by a payment; the credit note's use is the sum of its set-offs.
type SetOff struct {
	bun.BaseModel `bun:"table:billing_setoffs,alias:so"`

	TenantID     string    `bun:"tenant_id,pk"`
	ID           string    `bun:"id,pk"`
	CreditNoteID string    `bun:"credit_note_id"`
	InvoiceID    string    `bun:"invoice_id"`
	AmountMinor  int64     `bun:"amount_minor"`
	SetOn        Date      `bun:"set_on"`
	CreatedBy    string    `bun:"created_by"`
	CreatedAt    time.Time `bun:"created_at"`
}

// errNoSetOff: the subscription has no written agreement to set-off.
var errNoSetOff = errors.New("billing: set-off not agreed")

// errCreditUsed: the credit note has less left than the amount.
var errCreditUsed = errors.New("billing: credit note used up")

// creditLeft is a credit note with what is left of it.
type creditLeft struct {
	Invoice
	Left int64
}

// creditsOf are sub's issued credit notes with something left to set off.
func creditsOf(ctx context.Context, sc *store.Scope, subID string) ([]creditLeft, error) {
	var cns []Invoice
	// A credit note issued against an invoice already lowered that invoice (its credited
	// amount): it is never set off a second time against another.
	if err := sc.Select(&cns).Where("inv.subscription_id = ?", subID).Where("inv.kind = ?", invCreditNote).
		Where("inv.number IS NOT NULL").Where("inv.credits_id = ''").OrderExpr("inv.issued_on, inv.number").Scan(ctx); err != nil {
		return nil, err
	}
	var out []creditLeft
	for _, cn := range cns {
		used, err := setOffUsed(ctx, sc, cn.ID)
		if err != nil {
			return nil, err
		}
		if left := absMinor(cn.TotalMinor) - used; left > 0 {
			out = append(out, creditLeft{cn, left})
		}
	}
	return out, nil
}

func setOffUsed(ctx context.Context, sc *store.Scope, creditID string) (int64, error) {
	var used int64
	err := sc.Select((*SetOff)(nil)).ColumnExpr("COALESCE(SUM(so.amount_minor), 0)").Where("so.credit_note_id = ?", creditID).Scan(ctx, &used)
	return used, err
}

// setOff sets amount of credit note creditID against invoice invoiceID of sub (B6). The
// credit note's row is locked first (a no-op update) so that two set-offs at once never use
// more of it than it holds; the invoice takes it by the payments' guarded update.
func (m *Module) setOff(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, creditID, invoiceID string, amount int64, by string) (*paid, error) {
	if !sub.SetOffAgreed {
		return nil, errNoSetOff
	}
	res, err := sc.Update((*Invoice)(nil)).Set("credits_id = credits_id").Where("id = ?", creditID).
		Where("kind = ?", invCreditNote).Where("subscription_id = ?", sub.ID).Where("credits_id = ''").Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errCreditUsed
	}
	var cn Invoice
	if err := sc.Select(&cn).Where("inv.id = ?", creditID).Scan(ctx); err != nil {
		return nil, err
	}
	used, err := setOffUsed(ctx, sc, creditID)
	if err != nil {
		return nil, err
	}
	if used+amount > absMinor(cn.TotalMinor) {
		return nil, errCreditUsed
	}
	today := m.today(t)
	res, err = payQuery(sc, invoiceID, amount, today).Where("subscription_id = ?", sub.ID).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errOverpay
	}
	so := SetOff{TenantID: sc.TenantID, ID: newID(), CreditNoteID: creditID, InvoiceID: invoiceID, AmountMinor: amount, SetOn: today, CreatedBy: by, CreatedAt: m.nowUTC()}
	if _, err := sc.Insert(&so).Exec(ctx); err != nil {
		return nil, err
	}
	out := &paid{Payment: Payment{InvoiceID: invoiceID, AmountMinor: amount, ReceivedOn: today}}
	if err := sc.Select(&out.Invoice).Where("inv.id = ?", invoiceID).Scan(ctx); err != nil {
		return nil, err
	}
	if out.Invoice.State == invPaid {
		if out.Reactivated, err = m.reactivateIfClear(ctx, t, sc, sub.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// paymentsSetOff sets a credit note against an invoice, for a subscription that agreed to
// set-off in writing (B6); otherwise it is refused next to the field.
func (m *Module) paymentsSetOff(c *kit.Ctx) error {
	v := c.View("billing.payments.title")
	t := c.Tenant()
	for _, f := range []string{"credit_note", "setoff_invoice", "setoff_amount"} {
		v.Values[f] = c.Form(f)
	}
	var sub Subscription
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&sub).Where("sub.id = ?", c.Form("sub")).Scan(ctx)
	}); errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	} else if err != nil {
		return err
	}
	amount, ok := parseAmount(c.Form("setoff_amount"))
	if !ok || amount <= 0 {
		v.Errors["setoff_amount"] = "billing.payments.err.amount"
	}
	if !sub.SetOffAgreed {
		v.Errors["credit_note"] = "billing.payments.setoff.err.not_agreed"
	}
	if len(v.Errors) > 0 {
		return m.renderPayments(c, v, http.StatusUnprocessableEntity)
	}
	var p *paid
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		p, err = m.setOff(ctx, t, sc, &sub, c.Form("credit_note"), c.Form("setoff_invoice"), amount, c.User().ID)
		return err
	})
	switch {
	case errors.Is(err, errNoSetOff):
		v.Errors["credit_note"] = "billing.payments.setoff.err.not_agreed"
	case errors.Is(err, errCreditUsed):
		v.Errors["credit_note"] = "billing.payments.setoff.err.credit"
	case errors.Is(err, errOverpay):
		v.Errors["setoff_invoice"] = "billing.payments.err.overpay"
	case err != nil:
		return err
	}
	if len(v.Errors) > 0 {
		return m.renderPayments(c, v, http.StatusUnprocessableEntity)
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditSetOff, Resource: "billing/invoice/" + p.Invoice.ID,
		Detail: map[string]any{"number": deref(p.Invoice.Number), "amount": m.money(t, amount)}})
	if p.Reactivated != nil {
		m.afterReactivation(c.Context(), t, p.Reactivated)
	}
	return c.Redirect("/billing/manage/payments?sub="+sub.ID, "payments_set_off")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
