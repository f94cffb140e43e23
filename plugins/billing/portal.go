package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// The client's portal home and his signature (B1, B2, B12, P6).

// ownSubscription is the subscription of the signed-in client that his portal shows: the one
// the query's "s" names among his, else his latest that is not terminated, else his latest.
// It is nil when he has none.
func (m *Module) ownSubscription(ctx context.Context, c *kit.Ctx, sc *store.Scope) (*Subscription, error) {
	var subs []Subscription
	if err := sc.Select(&subs).Where("sub.user_id = ?", c.User().ID).OrderExpr("sub.created_at DESC").Scan(ctx); err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, nil
	}
	if want := c.Query("s"); want != "" {
		for i := range subs {
			if subs[i].ID == want {
				return &subs[i], nil
			}
		}
	}
	for i := range subs {
		if subs[i].State != subTerminated {
			return &subs[i], nil
		}
	}
	return &subs[0], nil
}

// portalSub is a subscription as the portal shows it.
type portalSub struct {
	*subDetail
	Phone string
	// Overdue are its invoices past their due day and not fully paid, Unpaid their sum, and
	// Notice the latest formal notice sent for it while some are (walkthrough 5: the client
	// reads in his portal what the e-mail told him).
	Overdue        []overdueInvoice
	Unpaid         int64
	Notice         *Notice
	NoticeDeadline Date
}

// overdueInvoice is an invoice the client is late paying.
type overdueInvoice struct {
	ID, Number string
	DueOn      Date
	Unpaid     int64
}

// overdue fills p's late invoices on today and the latest formal notice sent for them (the
// payments part's notices, read here).
func (m *Module) overdue(ctx context.Context, sc *store.Scope, p *portalSub, today Date, noticeDays int) error {
	var invs []Invoice
	if err := lateQuery(sc, &invs, today).Where("inv.subscription_id = ?", p.Sub.ID).OrderExpr("inv.due_on, inv.number").Scan(ctx); err != nil {
		return err
	}
	for _, inv := range invs {
		o := overdueInvoice{ID: inv.ID, DueOn: inv.DueOn, Unpaid: due(&inv)}
		if inv.Number != nil {
			o.Number = *inv.Number
		}
		p.Overdue = append(p.Overdue, o)
		p.Unpaid += o.Unpaid
	}
	if len(invs) == 0 {
		return nil
	}
	var n Notice
	err := sc.Select(&n).Where("ntc.subscription_id = ?", p.Sub.ID).OrderExpr("ntc.sent_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	p.Notice, p.NoticeDeadline = &n, n.SentOn.AddDays(noticeDays)
	return nil
}

// portalHome: the client's subscriptions (reference, number, plan, options, answering hours
// in words, state, start day), the no-medical-advice notice (B12), and links to his usage,
// messages, invoices, contract and shared agenda.
func (m *Module) portalHome(c *kit.Ctx) error {
	if c.User() == nil || !c.Can(permOwn) {
		// A visitor: what the client portal is, the offers and the way in (B1, B12).
		v := c.View("billing.portal.welcome_title")
		v.Data["Retention"] = recordingRetentionMonths.Of(c.Tenant())
		return c.Render(http.StatusOK, "billing_portal_welcome", v)
	}
	v := c.View("billing.portal.title")
	var subs []portalSub
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var mine []Subscription
		if err := sc.Select(&mine).Where("sub.user_id = ?", c.User().ID).OrderExpr("sub.created_at DESC").Scan(ctx); err != nil {
			return err
		}
		for _, s := range mine {
			d, err := loadSub(ctx, sc, s.ID, c.User().ID)
			if err != nil {
				return err
			}
			p := portalSub{subDetail: d, Phone: formatPhone(s.PhoneNumber)}
			if err := m.overdue(ctx, sc, &p, m.today(c.Tenant()), int(formalNoticeDays.Of(c.Tenant()))); err != nil {
				return err
			}
			subs = append(subs, p)
		}
		return nil
	}); err != nil {
		return err
	}
	for i := range subs {
		h, err := parseHours(c.Tenant(), subs[i].Sub.Hours)
		if err != nil {
			return err
		}
		subs[i].Hours = hoursWords(c, h)
	}
	v.Data["Subs"] = subs
	v.Data["Agenda"] = agendaURL.Of(c.Tenant())
	v.Data["Currency"] = c.Tenant().Currency
	return c.Render(http.StatusOK, "billing_portal_home", v)
}

// signPage shows the client his pending subscription: the plan, options, hours, prices, the
// specification, and the general terms in force he accepts before he signs (P6).
func (m *Module) signPage(c *kit.Ctx) error {
	return m.renderSign(c, http.StatusOK, c.View("billing.portal.sign_title"))
}

func (m *Module) renderSign(c *kit.Ctx, status int, v *kit.View) error {
	t := c.Tenant()
	var d *subDetail
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if d, err = loadSub(ctx, sc, c.Param("id"), c.User().ID); err != nil {
			return err
		}
		return m.prices(ctx, sc, d, m.today(t))
	}); err != nil {
		return err
	}
	if d.Sub.State != subPending {
		return c.Redirect("/billing", "")
	}
	h, err := parseHours(c.Tenant(), d.Sub.Hours)
	if err != nil {
		return err
	}
	d.Hours = hoursWords(c, h)
	terms, err := c.Host().Terms(c.Context(), "", c.User().ID)
	if err != nil {
		return fmt.Errorf("billing: the terms in force: %w", err)
	}
	v.Data["D"], v.Data["Terms"], v.Data["Phone"], v.Data["Currency"] = d, terms, formatPhone(d.Sub.PhoneNumber), t.Currency
	return c.Render(status, "billing_portal_sign", v)
}

// sign: the client accepted the general terms in force (Host.AcceptTerms, their version
// stored on the subscription) and signs; the subscription becomes active from that day, or
// from the agreed start day when later (B1, P6).
func (m *Module) sign(c *kit.Ctx) error {
	v := formView(c, "billing.portal.sign_title", "accept")
	t := c.Tenant()
	var d *subDetail
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		d, err = loadSub(ctx, sc, c.Param("id"), c.User().ID)
		return err
	}); err != nil {
		return err
	}
	if d.Sub.State != subPending {
		return c.Redirect("/billing", "")
	}
	if v.Values["accept"] == "" {
		v.Errors["accept"] = "billing.portal.err.accept"
		return m.renderSign(c, http.StatusUnprocessableEntity, v)
	}
	terms, err := c.Host().AcceptTerms(c.Context(), "", c.User().ID)
	if err != nil {
		return fmt.Errorf("billing: accepting the terms: %w", err)
	}
	at := terms.AcceptedAt
	if at.IsZero() {
		at = m.now()
	}
	var ok bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) (err error) {
		ok, err = m.activate(ctx, sc, &d.Sub, signOnline, terms.VersionID, m.today(t), c.User().ID, at)
		return err
	}); err != nil {
		return err
	}
	if ok {
		m.audit(c, auditSubSigned, &d.Sub, map[string]any{"reference": d.Sub.Reference, "terms_version": terms.VersionID})
	}
	return c.Redirect("/billing", "signed")
}
