package billing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// paymentsPart: payments received against invoices, the bank statement import, the legal
// interest rates, late-payment penalties, the formal notice to pay and the suspension or
// termination that may follow it (B5, B6). The clerk's pages only: the client sees this part
// through his invoices' states.
func (m *Module) paymentsPart() part {
	return part{
		Routes: []kit.Route{
			kit.Perm("GET /billing/manage/payments", permManage, m.paymentsPage),
			kit.Perm("POST /billing/manage/payments", permManage, m.paymentsRecord),
			kit.Perm("POST /billing/manage/payments/setoff", permManage, m.paymentsSetOff),
			kit.Perm("GET /billing/manage/payments/import", permManage, m.importPage),
			kit.Perm("POST /billing/manage/payments/import", permManage, m.importPost),
			kit.Perm("POST /billing/manage/payments/import/lines/{id}/assign", permManage, m.bankLineAssign),
			kit.Perm("POST /billing/manage/payments/import/lines/{id}/ignore", permManage, m.bankLineIgnore),
			kit.Perm("GET /billing/manage/dunning", permManage, m.dunningPage),
			kit.Perm("POST /billing/manage/dunning/{sub}/notice", permManage, m.dunningNotice),
			kit.Perm("POST /billing/manage/dunning/{sub}/suspend", permManage, m.dunningSuspend),
			kit.Perm("POST /billing/manage/dunning/{sub}/terminate", permManage, m.dunningTerminate),
			kit.Perm("GET /billing/manage/dunning/rates", permManage, m.ratesPage),
			kit.Perm("POST /billing/manage/dunning/rates", permManage, m.ratesSave),
		},
		Rules:         []kit.Rule{afterNoticeAction},
		Jobs:          []kit.Job{{Name: jobAfterNotice, Cron: "15 7 * * *", Run: m.afterNoticeJob}},
		Notifications: []string{tmplFormalNotice, tmplSuspended, tmplReactivated, tmplTerminatedUnpaid},
		AuditActions: []string{auditPaymentRecorded, auditStatementImported, auditBankLineIgnored, auditLegalRateSaved,
			auditNoticeSent, auditSuspended, auditReactivated, auditTerminatedUnpaid, auditSetOff},
	}
}

// Rules, jobs, messages and audit actions of the part.
var (
	// B6: what the daily job does with a client whose formal notice went unanswered for
	// billing.formal_notice_days days: nothing (the clerk decides), suspend, or terminate.
	afterNoticeAction = kit.String("billing.after_notice_action", afterNone, []string{afterNone, afterSuspend, afterTerminate}, "B6")
)

const (
	afterNone      = "none"
	afterSuspend   = "suspend"
	afterTerminate = "terminate"

	jobAfterNotice = "billing.after_notice"

	tmplFormalNotice = "billing.formal_notice"
	tmplSuspended    = "billing.suspended"
	tmplReactivated  = "billing.reactivated"
	// tmplTerminatedUnpaid tells the client his contract is terminated for non-payment.
	tmplTerminatedUnpaid = "billing.terminated_unpaid"

	auditPaymentRecorded   = "billing.payment_recorded"
	auditStatementImported = "billing.statement_imported"
	auditBankLineIgnored   = "billing.bank_line_ignored"
	auditLegalRateSaved    = "billing.legal_rate_saved"
	auditNoticeSent        = "billing.formal_notice_sent"
	auditSuspended         = "billing.subscription_suspended"
	auditReactivated       = "billing.subscription_reactivated"
	auditTerminatedUnpaid  = "billing.subscription_terminated_unpaid"
	auditSetOff            = "billing.credit_set_off"
)

// Why a payment is refused.
var (
	// errOverpay: the amount is more than what remains due on the invoice.
	errOverpay = errors.New("billing: more than what remains due")
	// errNotPayable: the invoice is not an issued invoice (a draft, a credit note, paid).
	errNotPayable = errors.New("billing: invoice not awaiting payment")
	// errDuplicateLine: that bank line was already recorded.
	errDuplicateLine = errors.New("billing: bank line already recorded")
)

// paymentIn is a payment to record: money received, never a deduction the client made (B6).
type paymentIn struct {
	InvoiceID string
	Method    string
	Amount    int64
	On        Date
	Reference string
	SourceKey string // a bank line's hash, "" for a payment typed by the clerk
	By        string
}

// paid is what recording a payment did: the invoice after it, and the subscription when
// the payment cleared its last overdue invoice and it was reactivated.
type paid struct {
	Invoice     Invoice
	Payment     Payment
	Reactivated *Subscription
}

// recordPayment records p against its invoice (B5, B6): the payment row, then the invoice's
// PaidMinor raised by a guarded update that never lets it exceed the total — two payments at
// once can never over-pay — and when it reaches the total, the invoice is paid on p.On. A
// suspended subscription with nothing overdue any more is reactivated (the caller tells the
// client, after the transaction).
func (m *Module) recordPayment(ctx context.Context, t sdk.Tenant, sc *store.Scope, p paymentIn) (*paid, error) {
	if p.Amount <= 0 {
		return nil, errOverpay
	}
	pay := Payment{ID: newID(), InvoiceID: p.InvoiceID, Method: p.Method, AmountMinor: p.Amount, ReceivedOn: p.On,
		Reference: p.Reference, CreatedBy: p.By, CreatedAt: m.now()}
	pay.TenantID = sc.TenantID
	if p.SourceKey != "" {
		k := p.SourceKey
		pay.SourceKey = &k
	}
	// The payment first: a bank line already recorded (its source key) changes nothing.
	if p.SourceKey != "" {
		ins, err := sc.Insert(&pay).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, err
		}
		if n, _ := ins.RowsAffected(); n != 1 {
			return nil, errDuplicateLine
		}
	} else if _, err := sc.Insert(&pay).Exec(ctx); err != nil {
		return nil, err
	}
	// Then the invoice, by a guarded update.
	res, err := payQuery(sc, p.InvoiceID, p.Amount, p.On).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if _, err := sc.Delete((*Payment)(nil)).Where("id = ?", pay.ID).Exec(ctx); err != nil {
			return nil, err
		}
		var inv Invoice
		if err := sc.Select(&inv).Where("inv.id = ?", p.InvoiceID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil, errNotPayable
		} else if err != nil {
			return nil, err
		}
		if inv.Kind != invInvoice || inv.State != invIssued {
			return nil, errNotPayable
		}
		return nil, errOverpay
	}
	out := &paid{Payment: pay}
	if err := sc.Select(&out.Invoice).Where("inv.id = ?", p.InvoiceID).Scan(ctx); err != nil {
		return nil, err
	}
	if out.Invoice.State == invPaid {
		sub, err := m.reactivateIfClear(ctx, t, sc, out.Invoice.SubscriptionID)
		if err != nil {
			return nil, err
		}
		out.Reactivated = sub
	}
	return out, nil
}

// payQuery adds amount paid on day on to an issued invoice by a guarded update: it changes
// no row when that would take more than is due (payments and credit notes together); the
// invoice is paid once nothing is due. On PostgreSQL a concurrent payment's update waits for
// the row and re-checks the guard on what the first committed.
func payQuery(sc *store.Scope, invoiceID string, amount int64, on Date) *bun.UpdateQuery {
	return sc.Update((*Invoice)(nil)).
		Set("paid_minor = paid_minor + ?", amount).
		Set("state = CASE WHEN paid_minor + credited_minor + ? >= total_minor THEN ? ELSE state END", amount, invPaid).
		Set("paid_on = CASE WHEN paid_minor + credited_minor + ? >= total_minor THEN ? ELSE paid_on END", amount, on).
		Where("id = ?", invoiceID).Where("kind = ?", invInvoice).Where("state = ?", invIssued).
		Where("paid_minor + credited_minor + ? <= total_minor", amount)
}

// overdue counts sub's issued invoices past their due day with money still due on today.
func overdue(ctx context.Context, sc *store.Scope, subID string, today Date) (int64, error) {
	return lateQuery(sc, (*Invoice)(nil), today).Where("inv.subscription_id = ?", subID).Count(ctx)
}

// reactivateIfClear reactivates a suspended subscription once nothing is overdue any more
// (B6); it returns it when it did.
func (m *Module) reactivateIfClear(ctx context.Context, t sdk.Tenant, sc *store.Scope, subID string) (*Subscription, error) {
	n, err := overdue(ctx, sc, subID, m.today(t))
	if err != nil || n > 0 {
		return nil, err
	}
	res, err := sc.Update((*Subscription)(nil)).Set("state = ?", subActive).Set("suspended_at = NULL").
		Where("id = ?", subID).Where("state = ?", subSuspended).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return nil, nil
	}
	var sub Subscription
	if err := sc.Select(&sub).Where("sub.id = ?", subID).Scan(ctx); err != nil {
		return nil, err
	}
	return &sub, nil
}

// afterPayment tells the world what a recorded payment did, once its transaction committed:
// the audit trail, and the client whose service is back.
func (m *Module) afterPayment(ctx context.Context, t sdk.Tenant, p *paid) {
	h := sdk.HostFrom(ctx)
	num := ""
	if p.Invoice.Number != nil {
		num = *p.Invoice.Number
	}
	_ = h.Record(ctx, sdk.AuditRecord{Action: auditPaymentRecorded, Resource: "billing/invoice/" + p.Invoice.ID,
		Detail: map[string]any{"number": num, "amount": m.money(t, p.Payment.AmountMinor), "received_date": p.Payment.ReceivedOn.String()}})
	if p.Reactivated != nil {
		m.afterReactivation(ctx, t, p.Reactivated)
	}
}

// afterReactivation tells the client his service is back, and the audit trail.
func (m *Module) afterReactivation(ctx context.Context, t sdk.Tenant, sub *Subscription) {
	m.tellClient(ctx, t, sub, tmplReactivated, nil)
	_ = sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: auditReactivated, Subject: sub.UserID, Resource: "billing/subscription/" + sub.ID,
		Detail: map[string]any{"client": sub.ClientName}})
}

// tellClient e-mails sub's client one of the part's messages, with attachments; a failure
// is logged (what it told is kept by the caller regardless).
func (m *Module) tellClient(ctx context.Context, t sdk.Tenant, sub *Subscription, tmpl string, data map[string]any, files ...sdk.Blob) bool {
	if data == nil {
		data = map[string]any{}
	}
	data["Client"], data["Tenant"], data["Reference"] = sub.ClientName, t.Name, sub.Reference
	msg := letter(sub, tmpl, "/billing/invoices", data)
	msg.Attachments = files
	if _, err := sdk.HostFrom(ctx).Send(ctx, msg); err != nil {
		m.Log.Error("billing: message not sent", "tenant", t.Slug, "template", tmpl, "subscription", sub.ID, "err", err.Error())
		return false
	}
	return true
}

// money is an amount in the tenant's currency and language.
func (m *Module) money(t sdk.Tenant, minor int64) string {
	return locales.FormatMoney(m.Msgs.For(t.Locale).Lang, minor, t.Currency)
}

// ---- the payments page ----

// payRow is an invoice of the subscription on the payments page.
type payRow struct {
	Invoice
	Due int64
}

// paymentsPage lists a subscription's invoices and payments with the form to record one
// (?sub=…), or, without it, the latest payments of the tenant.
func (m *Module) paymentsPage(c *kit.Ctx) error {
	v := c.View("billing.payments.title")
	return m.renderPayments(c, v, http.StatusOK)
}

func (m *Module) renderPayments(c *kit.Ctx, v *kit.View, status int) error {
	subID := c.Query("sub")
	if subID == "" {
		subID = c.Form("sub")
	}
	var sub *Subscription
	var invs []Invoice
	var pays []paymentRow
	var credits []creditLeft
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if subID != "" {
			var s Subscription
			if err := sc.Select(&s).Where("sub.id = ?", subID).Scan(ctx); err != nil {
				return err
			}
			sub = &s
			var err error
			if credits, err = creditsOf(ctx, sc, subID); err != nil {
				return err
			}
			if err := sc.Select(&invs).Where("inv.subscription_id = ?", subID).Where("inv.kind = ?", invInvoice).
				Where("inv.state IN (?, ?)", invIssued, invPaid).OrderExpr("inv.issued_on DESC, inv.number DESC").Limit(60).Scan(ctx); err != nil {
				return err
			}
		}
		q := sc.Select(&pays).ColumnExpr("pay.*").ColumnExpr("inv.number AS invoice_number").ColumnExpr("sub.client_name AS client_name").
			Join("JOIN billing_invoices AS inv ON inv.tenant_id = pay.tenant_id AND inv.id = pay.invoice_id").
			Join("JOIN billing_subscriptions AS sub ON sub.tenant_id = inv.tenant_id AND sub.id = inv.subscription_id").
			OrderExpr("pay.received_on DESC, pay.created_at DESC").Limit(100)
		if subID != "" {
			q = q.Where("inv.subscription_id = ?", subID)
		}
		return q.Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	}
	if err != nil {
		return err
	}
	var open []payRow
	for _, inv := range invs {
		if inv.State == invIssued {
			open = append(open, payRow{inv, due(&inv)})
		}
	}
	if v.Values["received_on"] == "" {
		v.Values["received_on"] = m.today(c.Tenant()).String()
	}
	v.Data["Sub"], v.Data["Open"], v.Data["Payments"], v.Data["Currency"] = sub, open, pays, c.Tenant().Currency
	v.Data["Methods"] = []string{payDebit, payCheque, payTransfer}
	v.Data["Credits"] = credits
	if status != http.StatusOK {
		return kit.Invalid("payments_page", v)
	}
	return c.Render(status, "payments_page", v)
}

// paymentRow is a payment as the list shows it.
type paymentRow struct {
	Payment       `bun:",extend"`
	InvoiceNumber *string `bun:"invoice_number"`
	ClientName    string  `bun:"client_name"`
}

// paymentsRecord records a payment the clerk typed (B5): money received for one named
// invoice of the subscription.
func (m *Module) paymentsRecord(c *kit.Ctx) error {
	v := c.View("billing.payments.title")
	t := c.Tenant()
	for _, f := range []string{"invoice", "method", "reference", "amount", "received_on"} {
		v.Values[f] = c.Form(f)
	}
	subID := c.Form("sub")
	var sub Subscription
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&sub).Where("sub.id = ?", subID).Scan(ctx)
	}); errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	} else if err != nil {
		return err
	}
	method := c.Form("method")
	ref := strings.TrimSpace(c.Form("reference"))
	switch method {
	case payDebit:
		ref = sub.MandateRef
	case payCheque:
		if ref == "" || len(ref) > 40 {
			v.Errors["reference"] = "billing.payments.err.cheque"
		}
	case payTransfer:
		if ref == "" || len(ref) > 140 {
			v.Errors["reference"] = "billing.payments.err.transfer"
		}
	default:
		v.Errors["method"] = "billing.payments.err.method"
	}
	amount, ok := parseAmount(c.Form("amount"))
	if !ok || amount <= 0 {
		v.Errors["amount"] = "billing.payments.err.amount"
	}
	on, err := ParseDate(c.Form("received_on"))
	if err != nil || on.After(m.today(t)) {
		v.Errors["received_on"] = "billing.payments.err.received_on"
	}
	if c.Form("invoice") == "" {
		v.Errors["invoice"] = "billing.payments.err.invoice"
	}
	if len(v.Errors) > 0 {
		return m.renderPayments(c, v, http.StatusUnprocessableEntity)
	}
	var p *paid
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Invoice)(nil)).Where("inv.id = ?", c.Form("invoice")).Where("inv.subscription_id = ?", sub.ID).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNotPayable
		}
		p, err = m.recordPayment(ctx, t, sc, paymentIn{InvoiceID: c.Form("invoice"), Method: method, Amount: amount, On: on, Reference: ref, By: c.User().ID})
		return err
	})
	switch {
	case errors.Is(err, errOverpay):
		v.Errors["amount"] = "billing.payments.err.overpay"
	case errors.Is(err, errNotPayable):
		v.Errors["invoice"] = "billing.payments.err.invoice"
	case err != nil:
		return err
	}
	if len(v.Errors) > 0 {
		return m.renderPayments(c, v, http.StatusUnprocessableEntity)
	}
	m.afterPayment(c.Context(), t, p)
	return c.Redirect("/billing/manage/payments?sub="+sub.ID, "payments_recorded")
}

// nowUTC is the module's clock for stored instants.
func (m *Module) nowUTC() time.Time { return m.now().UTC() }
