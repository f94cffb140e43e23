package eshop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/eshop/payment"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Payment purposes: what a payment pays for.
const (
	purposeOrder   = "order"
	purposeVoucher = "voucher"
)

// The pay part's rules (E5): the gateway the tenant uses, its public address (the gateways
// send the customer back and notify there), the seller's legal block printed on invoices and
// the contact for payment problems. The platform's tenant legal identity and contacts (P1)
// do not reach modules (sdk.Tenant), so the shop keeps its own copy as rules.
var (
	gatewayRule        = kit.String("eshop.gateway", "sandbox", []string{"sandbox", "besteron"}, "E5")
	siteURL            = kit.String("eshop.site_url", "", nil, "E5")
	sellerName         = kit.String("eshop.seller_name", "", nil, "E5")
	sellerAddress      = kit.String("eshop.seller_address", "", nil, "E5")
	sellerRegistration = kit.String("eshop.seller_registration", "", nil, "E5")
	sellerVATID        = kit.String("eshop.seller_vat_id", "", nil, "E5")
	paymentContact     = kit.String("eshop.payment_contact", "", nil, "E5")
	// How long the sweep keeps asking the gateway about a payment whose notification did
	// not come.
	paymentRecheckHours = kit.Int("eshop.payment_recheck_hours", 48, 1, 720, "E5")
)

// Technical delays of the sweep (not business rules): a pending payment is asked about
// again once its notification had time to come; a worker's lease on a fulfilment.
const (
	recheckAfter = 2 * time.Minute
	fulfilLease  = 10 * time.Minute
)

// The pay part's messages, audit actions and jobs.
const (
	tmplOrderPaid      = "eshop.order_paid"
	auditPaid          = "eshop.payment_paid"
	auditPaidUnmatched = "eshop.payment_unmatched"
	jobPaySweep        = "eshop.pay_sweep"
	jobConfirmOrder    = "eshop.confirm_order"
)

// Payment statuses.
const (
	payPending = "pending"
	payPaid    = "paid"
	payFailed  = "failed"
)

// Payment is a payment through a gateway (E5, E14.d): of AmountMinor for Purpose and its
// RefID (the order or the voucher purchase), by UserID; GatewayRef is what the gateway's
// notifications and status name. FulfilledAt: the paid thing's confirmation and invoice went
// out (FulfilLease: a worker holds the fulfilment until then).
type Payment struct {
	bun.BaseModel `bun:"table:eshop_payments,alias:pay"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	Purpose     string       `bun:"purpose"`
	RefID       string       `bun:"ref_id"`
	UserID      string       `bun:"user_id"`
	AmountMinor int64        `bun:"amount_minor"`
	Currency    string       `bun:"currency"`
	Locale      string       `bun:"locale"`
	Status      string       `bun:"status"`
	Gateway     string       `bun:"gateway"`
	GatewayRef  string       `bun:"gateway_ref"`
	CreatedAt   time.Time    `bun:"created_at"`
	PaidAt      bun.NullTime `bun:"paid_at"`
	FulfilLease bun.NullTime `bun:"fulfil_lease"`
	FulfilledAt bun.NullTime `bun:"fulfilled_at"`
	// RedirectURL is the gateway's page of the payment, for the customer who comes to pay
	// again while it is pending (startPayment reuses it).
	RedirectURL string `bun:"redirect_url"`
}

// PaymentEvent is a payment event applied: its id is the key, so that the same event
// delivered again (a notification repeated, the return page and a notification at once)
// changes nothing the second time.
type PaymentEvent struct {
	bun.BaseModel `bun:"table:eshop_payment_events,alias:pev"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	PaymentID  string    `bun:"payment_id"`
	Status     string    `bun:"status"`
	ReceivedAt time.Time `bun:"received_at"`
}

// payPart: the payment gateways (payment/), the payment pages and notifications (E5), the
// confirmation e-mail and the invoices (E5, E14.d).
func (m *Module) payPart() part {
	return part{
		Routes: []kit.Route{
			kit.Perm("GET /eshop/pay/{id}/return", permOrder, m.payReturn),
			kit.Public("GET /eshop/gateway/{gateway}/notify", m.payNotify),
			kit.Public("POST /eshop/gateway/{gateway}/notify", m.payNotify),
			kit.Perm("GET /eshop/sandbox/{id}", permOrder, m.sandboxPage),
			kit.Perm("POST /eshop/sandbox/{id}", permOrder, m.sandboxDecide),
			kit.Perm("GET /eshop/invoices/{id}", permOrder, m.invoiceDownload),
		},
		Rules:         []kit.Rule{gatewayRule, siteURL, sellerName, sellerAddress, sellerRegistration, sellerVATID, paymentContact, paymentRecheckHours},
		Jobs:          []kit.Job{{Name: jobPaySweep, Cron: "*/5 * * * *", Run: m.paySweep}, {Name: jobConfirmOrder, Run: m.runConfirmOrder}},
		Notifications: []string{tmplOrderPaid},
		AuditActions:  []string{auditPaid, auditPaidUnmatched},
		Export:        m.payExport,
	}
}

// ---- gateways ----

// processSecret signs the sandbox's notifications; each tenant signs with its own key
// derived from it.
var processSecret = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}()

// sandboxes are the tenants' sandbox gateways (by tenant id), in the process's memory.
var sandboxes sync.Map

// sandboxOf is tenant t's sandbox gateway.
func sandboxOf(t sdk.Tenant) *payment.Sandbox {
	if s, ok := sandboxes.Load(t.ID); ok {
		return s.(*payment.Sandbox)
	}
	mac := hmac.New(sha256.New, processSecret)
	mac.Write([]byte("eshop.sandbox|" + t.ID))
	s := payment.NewSandbox(mac.Sum(nil), func(ref string) string { return "/eshop/sandbox/" + ref })
	got, _ := sandboxes.LoadOrStore(t.ID, s)
	return got.(*payment.Sandbox)
}

// besteron is the Besteron gateway from the module's environment; tests replace it.
var besteron = func() (payment.Gateway, error) { return payment.BesteronFromEnv() }

// gatewayNamed is tenant t's gateway of that name.
func gatewayNamed(t sdk.Tenant, name string) (payment.Gateway, error) {
	switch name {
	case "sandbox":
		return sandboxOf(t), nil
	case "besteron":
		return besteron()
	}
	return nil, fmt.Errorf("eshop: no gateway %q", name)
}

// absolute is path on the tenant's public address (eshop.site_url), or the path itself
// when the tenant gave none (the sandbox needs no more).
func absolute(t sdk.Tenant, path string) string {
	return strings.TrimRight(siteURL.Of(t), "/") + t.Base + path
}

// ---- starting a payment ----

// startPayment opens a payment of amountMinor for purpose (purposeOrder, purposeVoucher) and
// its reference (the order's or the voucher purchase's id), by userID, and returns the
// address the customer's browser goes to: the gateway's page — a path of the tenant for the
// sandbox, an absolute address for Besteron; hand it to kit.Ctx.Redirect, which prefixes
// the tenant's base to a path. The gateway is the tenant's rule eshop.gateway; the language
// of the gateway's page is the request's.
//
// It is idempotent while a payment is pending (E5: the pay button and the invitation's link
// may be followed twice, or at once): the pending payment of the same amount at the same
// gateway is reused — the database keeps one pending payment per order or purchase (a unique
// index), so that of two starts at once one inserts and the other takes its address. A
// pending payment the gateway no longer knows, or of another amount or gateway, is closed
// first; one the gateway says was paid meanwhile is settled, and the customer goes to its
// return page.
func (m *Module) startPayment(ctx context.Context, t sdk.Tenant, userID, purpose, refID string, amountMinor int64) (string, error) {
	if purpose != purposeOrder && purpose != purposeVoucher {
		return "", fmt.Errorf("eshop: payment purpose %q", purpose)
	}
	if amountMinor <= 0 {
		return "", fmt.Errorf("eshop: payment of %d", amountMinor)
	}
	g, err := gatewayNamed(t, gatewayRule.Of(t))
	if err != nil {
		return "", err
	}
	if g.Name() != "sandbox" && !strings.HasPrefix(siteURL.Of(t), "https://") {
		// A real gateway sends the customer back and notifies on the shop's public address.
		return "", fmt.Errorf("eshop: gateway %s needs the rule eshop.site_url (https://…)", g.Name())
	}
	for try := 0; ; try++ {
		to, reused, err := m.reusePayment(ctx, t, g, userID, purpose, refID, amountMinor)
		if err != nil || reused {
			return to, err
		}
		p := &Payment{TenantID: t.ID, ID: newID(), Purpose: purpose, RefID: refID, UserID: userID, AmountMinor: amountMinor,
			Currency: t.Currency, Locale: t.Locale, Status: payPending, Gateway: g.Name(), CreatedAt: m.now()}
		req := payment.Request{PaymentID: p.ID, AmountMinor: amountMinor, Currency: t.Currency, Language: t.Locale,
			ReturnURL: absolute(t, "/eshop/pay/"+p.ID+"/return"), NotifyURL: absolute(t, "/eshop/gateway/"+g.Name()+"/notify")}
		started, err := g.Start(ctx, req)
		if err != nil {
			return "", err
		}
		p.GatewayRef, p.RedirectURL = started.Ref, started.RedirectURL
		err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(p).Exec(ctx)
			return err
		})
		if err == nil {
			return started.RedirectURL, nil
		}
		// Another start of the same thing inserted first (its pending payment is reused on
		// the next turn), or the gateway's reference drawn was taken: again.
		if try == 2 {
			return "", err
		}
	}
}

// reusePayment gives the address of the pending payment of purpose and refID when it can be
// paid still (reused true); else it closes that payment, so that a new one may be opened.
func (m *Module) reusePayment(ctx context.Context, t sdk.Tenant, g payment.Gateway, userID, purpose, refID string, amountMinor int64) (string, bool, error) {
	p, err := m.loadPayment(ctx, t, "purpose = ? AND ref_id = ? AND status = ?", purpose, refID, payPending)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if p.Gateway == g.Name() && p.AmountMinor == amountMinor && p.UserID == userID && p.RedirectURL != "" {
		st, err := g.Status(ctx, p.GatewayRef)
		switch {
		case err == nil && st == payment.Pending:
			return p.RedirectURL, true, nil
		case err == nil && st == payment.Paid:
			if _, err := m.settle(ctx, t, p); err != nil {
				return "", false, err
			}
			return "/eshop/pay/" + p.ID + "/return", true, nil
		case err != nil && !errors.Is(err, payment.ErrUnknown):
			return "", false, err
		}
	}
	// Failed, forgotten by its gateway (a sandbox of a process that ended), or opened for
	// another amount or gateway: closed. Should it be paid after all, its notification
	// still applies it (settle asks the gateway whatever the payment's state).
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Payment)(nil)).Set("status = ?", payFailed).Where("id = ? AND status = ?", p.ID, payPending).Exec(ctx)
		return err
	})
	return "", false, err
}

// ---- applying what the gateway says ----

// payees apply a paid payment to what it pays for, in the payment event's transaction, and
// report whether this call made the change.
//
// A payment pays its thing only when the gateway confirmed the whole amount due (E5): the
// payment's amount — what the gateway was asked for and confirmed — must equal the order's
// DueMinor (the voucher purchase's AmountMinor) and be in its currency; any other is recorded
// as unmatched (auditPaidUnmatched) for the staff to refund, and pays nothing.
var payees = map[string]func(m *Module, ctx context.Context, sc *store.Scope, t sdk.Tenant, p *Payment, at time.Time) (bool, error){
	purposeOrder: func(m *Module, ctx context.Context, sc *store.Scope, t sdk.Tenant, p *Payment, at time.Time) (bool, error) {
		var o Order
		if err := sc.Select(&o).Column("due_minor", "currency").Where("id = ?", p.RefID).Scan(ctx); err != nil {
			return false, err
		}
		if o.DueMinor != p.AmountMinor || o.Currency != p.Currency {
			return false, nil
		}
		return m.orderPaid(ctx, sc, t, p.RefID, at)
	},
	purposeVoucher: func(m *Module, ctx context.Context, sc *store.Scope, t sdk.Tenant, p *Payment, _ time.Time) (bool, error) {
		var vp VoucherPurchase
		if err := sc.Select(&vp).Column("amount_minor", "currency").Where("id = ?", p.RefID).Scan(ctx); err != nil {
			return false, err
		}
		if vp.AmountMinor != p.AmountMinor || vp.Currency != p.Currency {
			return false, nil
		}
		return m.voucherPurchasePaid(ctx, sc, t, p.RefID)
	},
}

// loadPayment reads a payment by id, or by its gateway and reference.
func (m *Module) loadPayment(ctx context.Context, t sdk.Tenant, where string, args ...any) (*Payment, error) {
	var p Payment
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&p).Where(where, args...).Limit(1).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// settle asks the payment's gateway, server-side, what became of payment p and applies it:
// paid — the payment event is recorded (once: its id is the key) in the same transaction as
// the order's (or voucher purchase's) change, and the fulfilment follows the commit; failed
// — the payment is marked failed. A notification is only a trigger for this.
func (m *Module) settle(ctx context.Context, t sdk.Tenant, p *Payment) (string, error) {
	if p.Status == payPaid {
		return payPaid, m.fulfil(ctx, t, p.ID)
	}
	g, err := gatewayNamed(t, p.Gateway)
	if err != nil {
		return "", err
	}
	st, err := g.Status(ctx, p.GatewayRef)
	if err != nil {
		return "", err
	}
	now := m.now()
	switch st {
	case payment.Paid:
		applied, fresh := false, false
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			res, err := sc.Insert(&PaymentEvent{TenantID: sc.TenantID, ID: p.Gateway + ":" + p.GatewayRef + ":paid", PaymentID: p.ID, Status: payPaid, ReceivedAt: now}).
				On("CONFLICT DO NOTHING").Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil // applied already
			}
			res, err = sc.Update((*Payment)(nil)).Set("status = ?", payPaid).Set("paid_at = ?", now).
				Where("id = ? AND status <> ?", p.ID, payPaid).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil
			}
			fresh = true
			pay, ok := payees[p.Purpose]
			if !ok {
				return fmt.Errorf("eshop: payment %s: purpose %q", p.ID, p.Purpose)
			}
			changed, err := pay(m, ctx, sc, t, p, now)
			if err != nil {
				return err
			}
			if !changed {
				// Paid, but the order no longer waits for it (cancelled, or paid by another
				// payment) or not for this amount: nothing to fulfil; staff see it in the
				// audit and refund.
				_, err = sc.Update((*Payment)(nil)).Set("fulfilled_at = ?", now).Where("id = ?", p.ID).Exec(ctx)
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return "", err
		}
		if h := sdk.HostFrom(ctx); h != nil && fresh {
			action := auditPaidUnmatched
			if applied {
				action = auditPaid
			}
			_ = h.Record(ctx, sdk.AuditRecord{Action: action, Subject: p.UserID, Resource: p.Purpose + ":" + p.RefID, Detail: map[string]any{"amount_minor": p.AmountMinor, "currency": p.Currency, "gateway": p.Gateway, "payment": p.ID}})
		}
		if applied {
			// After the commit: the confirmation and the invoice; a failure here is retried
			// by the sweep, never undoes the payment.
			if err := m.fulfil(ctx, t, p.ID); err != nil {
				m.Log.Error("eshop: fulfil payment", "tenant", t.Slug, "payment", p.ID, "err", err)
			}
		}
		return payPaid, nil
	case payment.Failed:
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Payment)(nil)).Set("status = ?", payFailed).Where("id = ? AND status = ?", p.ID, payPending).Exec(ctx)
			return err
		})
		return payFailed, err
	}
	return payPending, nil
}

// fulfil sends what a paid payment owes the customer, once: for an order its confirmation
// e-mail with the invoice attached (E5); for a voucher purchase the voucher part's e-mail
// (E14.d). A worker takes a lease on it (a guarded update), so that concurrent deliveries
// and the sweep fulfil it once; a failure gives the lease back for the sweep to retry.
func (m *Module) fulfil(ctx context.Context, t sdk.Tenant, paymentID string) error {
	now := m.now()
	var p Payment
	claimed := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Payment)(nil)).Set("fulfil_lease = ?", now.Add(fulfilLease)).
			Where("id = ? AND status = ? AND fulfilled_at IS NULL AND (fulfil_lease IS NULL OR fulfil_lease < ?)", paymentID, payPaid, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		claimed = true
		return sc.Select(&p).Where("id = ?", paymentID).Scan(ctx)
	})
	if err != nil || !claimed {
		return err
	}
	switch p.Purpose {
	case purposeOrder:
		err = m.confirmOrder(ctx, t, p.RefID)
	case purposeVoucher:
		err = m.afterVoucherPaid(ctx, t, p.RefID)
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		q := sc.Update((*Payment)(nil)).Where("id = ?", paymentID)
		if err != nil {
			q = q.Set("fulfil_lease = NULL")
		} else {
			q = q.Set("fulfilled_at = ?", m.now())
		}
		if _, uerr := q.Exec(ctx); uerr != nil {
			return uerr
		}
		return err
	})
}

// orderPaidByVouchers is the after-paid fulfilment of an order that vouchers paid in full at
// its submission (E5, E14.e): the same confirmation e-mail with the invoice as an order paid
// through the gateway. The orders part calls it once, after the submitting transaction
// committed (only the submission that changed the order to paid does); when it fails, a
// durable job (one per order: its key) tries again.
func (m *Module) orderPaidByVouchers(ctx context.Context, t sdk.Tenant, orderID string) error {
	err := m.confirmOrder(ctx, t, orderID)
	if err == nil {
		return nil
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return err
	}
	if _, serr := h.Schedule(ctx, sdk.Job{Name: jobConfirmOrder, Key: "confirm:" + orderID, At: m.now().Add(recheckAfter), Payload: []byte(orderID)}); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// runConfirmOrder retries the confirmation of an order vouchers paid in full.
func (m *Module) runConfirmOrder(ctx context.Context, job *sdk.Job) error {
	return m.confirmOrder(ctx, job.Tenant, string(job.Payload))
}

// paySweep is the safety net (every 5 minutes): paid payments not yet fulfilled are
// fulfilled; pending ones whose notification did not come are asked about again; the
// sandbox's withheld notifications whose delay passed are delivered.
func (m *Module) paySweep(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	if gatewayRule.Of(t) == "sandbox" {
		for _, v := range sandboxOf(t).Due() {
			if err := m.notified(ctx, t, "sandbox", v); err != nil {
				m.Log.Error("eshop: sandbox notification", "tenant", t.Slug, "err", err)
			}
		}
	}
	var ps []Payment
	now := m.now()
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&ps).Where("(status = ? AND fulfilled_at IS NULL) OR (status = ? AND created_at < ? AND created_at > ?)",
			payPaid, payPending, now.Add(-recheckAfter), now.Add(-time.Duration(paymentRecheckHours.Of(t))*time.Hour)).Order("created_at").Limit(200).Scan(ctx)
	})
	if err != nil {
		return err
	}
	var errs []error
	for i := range ps {
		if _, err := m.settle(ctx, t, &ps[i]); errors.Is(err, payment.ErrUnknown) {
			// A sandbox payment of a process that ended: nothing will ever say more.
			m.Log.Info("eshop: payment unknown to its gateway", "tenant", t.Slug, "payment", ps[i].ID)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("payment %s: %w", ps[i].ID, err))
		}
	}
	return errors.Join(errs...)
}

// notified handles a notification of gateway name: its signature is checked, the payment
// it names found, and its status asked from the gateway.
func (m *Module) notified(ctx context.Context, t sdk.Tenant, name string, params url.Values) error {
	g, err := gatewayNamed(t, name)
	if err != nil {
		return kit.ErrNotFound
	}
	n, err := g.Verify(params)
	if err != nil {
		if errors.Is(err, payment.ErrSignature) {
			m.Log.Warn("eshop: payment notification refused", "tenant", t.Slug, "gateway", name, "err", err)
			return kit.ErrBadRequest
		}
		return err
	}
	p, err := m.loadPayment(ctx, t, "gateway = ? AND gateway_ref = ?", name, n.Ref)
	if err != nil {
		return kit.ErrNotFound
	}
	_, err = m.settle(ctx, t, p)
	return err
}

// ---- routes ----

// payNotify is the gateways' notification (E5): public, signed; GET for Besteron (its
// parameters in the query), POST for gateways that post a form.
func (m *Module) payNotify(c *kit.Ctx) error {
	params := c.R.URL.Query()
	if c.R.Method == http.MethodPost {
		if err := c.R.ParseForm(); err != nil {
			return kit.ErrBadRequest
		}
		params = c.R.Form
	}
	if err := m.notified(c.Context(), c.Tenant(), c.Param("gateway"), params); err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.W.WriteHeader(http.StatusOK)
	_, err := c.W.Write([]byte("OK"))
	return err
}

// myPayment is payment id of the signed-in user, or ErrNotFound.
func (m *Module) myPayment(c *kit.Ctx, id string) (*Payment, error) {
	u := c.User()
	if u == nil {
		return nil, kit.ErrNotFound
	}
	p, err := m.loadPayment(c.Context(), c.Tenant(), "id = ? AND user_id = ?", id, u.ID)
	if err != nil {
		return nil, kit.ErrNotFound
	}
	return p, nil
}

// payReturn is where the gateway sends the customer back (E5): the status is asked again
// server-side, and the page says paid, pending (with a link to look again) or failed (with
// the lab's contact for payment problems).
func (m *Module) payReturn(c *kit.Ctx) error {
	p, err := m.myPayment(c, c.Param("id"))
	if err != nil {
		return err
	}
	state, err := m.settle(c.Context(), c.Tenant(), p)
	if err != nil {
		c.LogFailure(err)
		state = payPending
	}
	// Besteron's status query knows no failure: the return's own signed result says it (the
	// payment stays open in case a later notification says otherwise).
	if q := c.R.URL.Query(); state == payPending && len(q) > 0 {
		if g, err := gatewayNamed(c.Tenant(), p.Gateway); err == nil {
			if n, err := g.Verify(q); err == nil && n.Ref == p.GatewayRef && n.Result == payment.Failed {
				state = payFailed
			}
		}
	}
	if p.Purpose == purposeVoucher && state == payPaid {
		// The purchase's page shows the new codes, once (E14.d).
		return c.Redirect("/eshop/vouchers/purchases/"+p.RefID, "")
	}
	return m.renderPayState(c, p, state)
}

// renderPayState shows a payment's state.
func (m *Module) renderPayState(c *kit.Ctx, p *Payment, state string) error {
	title := "eshop.pay.title_" + state
	v := c.View(title)
	v.Data["State"] = state
	v.Data["Payment"] = p
	v.Data["Contact"] = contactLinks(payContact(c.Tenant()))
	v.Data["Purpose"] = p.Purpose
	status := http.StatusOK
	return c.Render(status, "pay_return", v)
}

// sandboxPayment is the sandbox's payment of the signed-in user.
func (m *Module) sandboxPayment(c *kit.Ctx) (*Payment, payment.SandboxPayment, error) {
	p, err := m.myPayment(c, c.Param("id"))
	if err != nil || p.Gateway != "sandbox" {
		return nil, payment.SandboxPayment{}, kit.ErrNotFound
	}
	sp, ok := sandboxOf(c.Tenant()).Payment(p.GatewayRef)
	if !ok {
		return nil, payment.SandboxPayment{}, kit.ErrNotFound
	}
	return p, sp, nil
}

// sandboxPage is the sandbox gateway's payment page: pay or fail.
func (m *Module) sandboxPage(c *kit.Ctx) error {
	p, sp, err := m.sandboxPayment(c)
	if err != nil {
		return err
	}
	v := c.View("eshop.pay.sandbox.title")
	v.Data["Payment"] = p
	v.Data["Decided"] = sp.Status != payment.Pending
	return c.Render(http.StatusOK, "pay_sandbox", v)
}

// sandboxDecide pays or fails on the sandbox's page; its notifications are delivered to
// the module as the gateway would (duplicates and stale ones when the knobs say so), and
// the customer goes to the return page.
func (m *Module) sandboxDecide(c *kit.Ctx) error {
	p, _, err := m.sandboxPayment(c)
	if err != nil {
		return err
	}
	action := c.Form("action")
	if action != "pay" && action != "fail" {
		return kit.ErrBadRequest
	}
	notices, err := sandboxOf(c.Tenant()).Decide(p.GatewayRef, action == "pay")
	if err != nil {
		return kit.ErrNotFound
	}
	for _, n := range notices {
		if err := m.notified(c.Context(), c.Tenant(), "sandbox", n); err != nil {
			c.LogFailure(err)
		}
	}
	return c.Redirect("/eshop/pay/"+p.ID+"/return", "")
}

// payExport gives a user's payments (P11).
func (m *Module) payExport(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var ps []Payment
	var invs []Invoice
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&ps).Where("user_id = ?", userID).Order("created_at").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&invs).Column("tenant_id", "id", "number", "purpose", "ref_id", "currency", "total_minor", "issued_at").
			Where("user_id = ?", userID).Order("issued_at").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"eshop_payments": ps, "eshop_invoices": invs}, nil
}

// orTenant is value, or when the tenant left the module's rule empty, what its operator
// declared under key (sdk.Tenant.Rules: its legal identity and contacts).
func orTenant(t sdk.Tenant, value, key string) string {
	if value != "" {
		return value
	}
	s, _ := t.Rules[key].(string)
	return s
}

// payContact is whom a customer asks about a payment problem (E5): the module's rule, else
// the tenant's support address and phone.
func payContact(t sdk.Tenant) string {
	if s := paymentContact.Of(t); s != "" {
		return s
	}
	var parts []string
	for _, k := range []string{"tenant.contacts.support", "tenant.contacts.phone"} {
		if s, _ := t.Rules[k].(string); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// contactLink is a part of a contact as the payment page links it: an e-mail address
// (mailto:), a phone number (tel:), or other text shown as it is.
type contactLink struct {
	Text string
	Mail string // the address, when the part is one
	Tel  string // the number as a tel: link takes it, when the part is a phone number
}

// mailRe is what an e-mail address in a contact looks like.
var mailRe = regexp.MustCompile(`^[^\s@<>",;:]+@[^\s@<>",;:]+\.[^\s@<>",;:]+$`)

// phoneRe is what a phone number in a contact looks like.
var phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 /()\-.]{5,}[0-9]$`)

// contactLinks splits a contact ("podpora@lab.sk, +421 2 1234 5678") at its commas and
// semicolons into parts the payment page links (E5): no "support page" to look for.
func contactLinks(s string) []contactLink {
	var out []contactLink
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case mailRe.MatchString(part):
			out = append(out, contactLink{Text: part, Mail: part})
		case phoneRe.MatchString(part):
			out = append(out, contactLink{Text: strings.ReplaceAll(part, " ", "\u00a0"), Tel: Point{Phone: part}.Tel()})
		default:
			out = append(out, contactLink{Text: part})
		}
	}
	return out
}
