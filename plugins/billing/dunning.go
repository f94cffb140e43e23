package billing

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// LegalRate is the French legal interest rate for creditors who are not private persons
// (taux de l'intérêt légal, « tous les autres cas ») in force from StartsOn (1 January or
// 1 July) to the next half-year, in hundredths of a percent (B6).
type LegalRate struct {
	bun.BaseModel `bun:"table:billing_legal_rates,alias:lr"`

	TenantID  string    `bun:"tenant_id,pk"`
	StartsOn  Date      `bun:"starts_on,pk"`
	RateBP    int64     `bun:"rate_bp"`
	UpdatedBy string    `bun:"updated_by"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Notice is a formal notice to pay (mise en demeure) sent for a subscription's late
// invoices (B6): the letter as sent (BlobID) and when; Outcome is what followed it once the
// notice went unanswered ("suspend", then possibly "terminate"), "" while nothing was decided.
type Notice struct {
	bun.BaseModel `bun:"table:billing_notices,alias:ntc"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	SubscriptionID string       `bun:"subscription_id"`
	InvoiceIDs     string       `bun:"invoice_ids"` // comma-separated
	UnpaidMinor    int64        `bun:"unpaid_minor"`
	SentAt         time.Time    `bun:"sent_at"`
	SentOn         Date         `bun:"sent_on"`
	BlobID         string       `bun:"blob_id"`
	SentBy         string       `bun:"sent_by"`
	Outcome        string       `bun:"outcome"`
	DecidedAt      bun.NullTime `bun:"decided_at"`
}

// publishedRates are the rates published by arrêté in the Journal officiel for « tous les
// autres cas » (creditors who are not private persons not acting for professional needs),
// seeded for a tenant the first time its rates are needed; the clerk adds each new
// half-year's rate as it is published.
var publishedRates = []struct {
	On Date
	BP int64
}{
	{Date{2023, 1, 1}, 206}, {Date{2023, 7, 1}, 422},
	{Date{2024, 1, 1}, 507}, {Date{2024, 7, 1}, 492},
	{Date{2025, 1, 1}, 371}, {Date{2025, 7, 1}, 276},
	{Date{2026, 1, 1}, 262},
}

// legalRates are the tenant's rates, oldest first, seeded with the published ones when it
// has none.
func (m *Module) legalRates(ctx context.Context, sc *store.Scope) ([]LegalRate, error) {
	var rs []LegalRate
	if err := sc.Select(&rs).Order("starts_on").Scan(ctx); err != nil {
		return nil, err
	}
	if len(rs) > 0 {
		return rs, nil
	}
	for _, p := range publishedRates {
		r := LegalRate{TenantID: sc.TenantID, StartsOn: p.On, RateBP: p.BP, UpdatedAt: m.nowUTC()}
		if _, err := sc.Insert(&r).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// rateOn is the rate in force on d: the latest whose half-year began on or before it (a
// half-year not entered yet keeps the last rate known); 0 before the first.
func rateOn(rates []LegalRate, d Date) int64 {
	var bp int64
	for _, r := range rates {
		if r.StartsOn.After(d) {
			break
		}
		bp = r.RateBP
	}
	return bp
}

// penalty is the late-payment interest of an invoice on asOf (B6): for each day from the day
// after due to asOf included, the amount still unpaid at the start of that day (payments
// received before it) × multiple × the legal rate in force that day / 365 — the actual/365
// convention, leap years included —, summed exactly and rounded half up to the cent once.
func penalty(total int64, payments []Payment, due, asOf Date, rates []LegalRate, multiple int64) int64 {
	if !asOf.After(due) || multiple <= 0 {
		return 0
	}
	pays := append([]Payment(nil), payments...)
	sort.Slice(pays, func(i, j int) bool { return pays[i].ReceivedOn.Before(pays[j].ReceivedOn) })
	var acc int64 // cents × basis points × multiple, summed over days
	for d := due.AddDays(1); !d.After(asOf); d = d.AddDays(1) {
		unpaid := total
		for _, p := range pays {
			if p.ReceivedOn.Before(d) {
				unpaid -= p.AmountMinor
			}
		}
		if unpaid <= 0 {
			break
		}
		acc += unpaid * rateOn(rates, d) * multiple
	}
	const den = 365 * 10000
	return (acc*2 + den) / (den * 2)
}

// lateRow is a late invoice on the dunning page.
type lateRow struct {
	Invoice
	Sub      *Subscription
	DaysLate int
	Unpaid   int64
	Penalty  int64
	Fee      int64
}

// lateSub is a subscription with late invoices, and its notices.
type lateSub struct {
	Sub        *Subscription
	Rows       []lateRow
	Unpaid     int64
	Penalty    int64
	Fee        int64
	Notice     *Notice
	Qualifying bool // its notice went unanswered for the tenant's days
	Ended      bool // terminated, or its termination for non-payment decided: no more notice nor suspension
}

// lateQuery selects into model the invoices late on today: issued, past their due day, and
// not settled by payments and credit notes together (see due) (B6).
func lateQuery(sc *store.Scope, model any, today Date) *bun.SelectQuery {
	return sc.Select(model).Where("inv.kind = ?", invInvoice).Where("inv.state = ?", invIssued).
		Where("inv.due_on < ?", today.String()).Where("inv.paid_minor + inv.credited_minor < inv.total_minor")
}

// late gathers the tenant's late invoices by subscription on today (B6).
func (m *Module) late(ctx context.Context, t sdk.Tenant, sc *store.Scope) ([]*lateSub, error) {
	today := m.today(t)
	rates, err := m.legalRates(ctx, sc)
	if err != nil {
		return nil, err
	}
	var invs []Invoice
	if err := lateQuery(sc, &invs, today).OrderExpr("inv.due_on, inv.number").Scan(ctx); err != nil {
		return nil, err
	}
	if len(invs) == 0 {
		return nil, nil
	}
	ids, subIDs := make([]string, len(invs)), map[string]bool{}
	for i, inv := range invs {
		ids[i] = inv.ID
		subIDs[inv.SubscriptionID] = true
	}
	var pays []Payment
	if err := sc.Select(&pays).Where("pay.invoice_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	byInv := map[string][]Payment{}
	for _, p := range pays {
		byInv[p.InvoiceID] = append(byInv[p.InvoiceID], p)
	}
	var subs []Subscription
	if err := sc.Select(&subs).Where("sub.id IN (?)", bun.In(keys(subIDs))).Scan(ctx); err != nil {
		return nil, err
	}
	var notices []Notice
	if err := sc.Select(&notices).Where("ntc.subscription_id IN (?)", bun.In(keys(subIDs))).OrderExpr("ntc.sent_at").Scan(ctx); err != nil {
		return nil, err
	}
	mult, fee, days := latePenaltyLegalRateMultiple.Of(t), recoveryFeeMinor.Of(t), int(formalNoticeDays.Of(t))
	out := map[string]*lateSub{}
	var order []*lateSub
	for i := range subs {
		ls := &lateSub{Sub: &subs[i]}
		out[subs[i].ID] = ls
		order = append(order, ls)
	}
	for i := range notices {
		if ls := out[notices[i].SubscriptionID]; ls != nil {
			ls.Notice = &notices[i]
		}
	}
	for _, inv := range invs {
		ls := out[inv.SubscriptionID]
		if ls == nil {
			continue
		}
		r := lateRow{Invoice: inv, Sub: ls.Sub, DaysLate: daysBetween(inv.DueOn, today), Unpaid: due(&inv),
			Penalty: penalty(inv.TotalMinor-inv.CreditedMinor, byInv[inv.ID], inv.DueOn, today, rates, mult), Fee: fee}
		ls.Rows = append(ls.Rows, r)
		ls.Unpaid += r.Unpaid
		ls.Penalty += r.Penalty
		ls.Fee += r.Fee
	}
	for _, ls := range order {
		// Suspended after it, the client still qualifies for termination (B6: the firm's choice).
		ls.Qualifying = ls.Notice != nil && ls.Notice.Outcome != afterTerminate && qualifies(ls.Notice, ls.Rows, today, days) &&
			(ls.Sub.State == subActive || ls.Sub.State == subSuspended)
		ls.Ended = ls.Sub.State == subTerminated || (ls.Notice != nil && ls.Notice.Outcome == afterTerminate)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Rows[0].DueOn.Before(order[j].Rows[0].DueOn) })
	return order, nil
}

// qualifies: a notice sent days or more ago, one of whose invoices is still unpaid (B6: a
// formal notice left unanswered for 15 days from its sending).
func qualifies(n *Notice, rows []lateRow, today Date, days int) bool {
	if today.Before(n.SentOn.AddDays(days)) {
		return false
	}
	for _, r := range rows {
		if strings.Contains(","+n.InvoiceIDs+",", ","+r.ID+",") {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// daysBetween is the number of days from a to b.
func daysBetween(a, b Date) int { return int(b.t().Sub(a.t()).Hours()+12) / 24 }

// ---- pages ----

// dunningPage lists the late invoices by client with their penalties and fees, the notices
// sent, and the clients who qualify for suspension or termination (B6).
func (m *Module) dunningPage(c *kit.Ctx) error {
	return m.renderDunning(c, c.View("billing.payments.dunning.title"), http.StatusOK)
}

// renderDunning renders the dunning page into v; a status other than 200 is a refused
// action (its error next to its confirmation box).
func (m *Module) renderDunning(c *kit.Ctx, v *kit.View, status int) error {
	var subs []*lateSub
	var rates []LegalRate
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if subs, err = m.late(ctx, c.Tenant(), sc); err != nil {
			return err
		}
		rates, err = m.legalRates(ctx, sc)
		return err
	})
	if err != nil {
		return err
	}
	today := m.today(c.Tenant())
	var qual []*lateSub
	for _, s := range subs {
		if s.Qualifying {
			qual = append(qual, s)
		}
	}
	v.Data["Late"], v.Data["Qualifying"], v.Data["Currency"] = subs, qual, c.Tenant().Currency
	v.Data["Rate"] = formatRate(c.Loc().Lang, rateOn(rates, today))
	v.Data["Multiple"], v.Data["NoticeDays"] = latePenaltyLegalRateMultiple.Of(c.Tenant()), formalNoticeDays.Of(c.Tenant())
	v.Data["RateMissing"] = len(rates) == 0 || rates[len(rates)-1].StartsOn.Before(halfYear(today))
	if status != http.StatusOK {
		return kit.Invalid("dunning_page", v)
	}
	return c.Render(status, "dunning_page", v)
}

// halfYear is the first day of d's half-year.
func halfYear(d Date) Date {
	if d.M >= time.July {
		return Date{d.Y, time.July, 1}
	}
	return Date{d.Y, time.January, 1}
}

// formatRate writes basis points as a percentage in the reader's language ("2,62 %").
func formatRate(lang string, bp int64) string {
	return locales.FormatDecimal(lang, float64(bp)/100, 2) + "\u00a0%"
}

// lateOf is the late subscription sub of the tenant, nil when it has nothing late.
func (m *Module) lateOf(ctx context.Context, t sdk.Tenant, sc *store.Scope, subID string) (*lateSub, error) {
	subs, err := m.late(ctx, t, sc)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if s.Sub.ID == subID {
			return s, nil
		}
	}
	return nil, nil
}

// lateOfPage is the late subscription a dunning action's path names ({sub}); not found when
// it is not late.
func (m *Module) lateOfPage(c *kit.Ctx) (*lateSub, error) {
	t := c.Tenant()
	var ls *lateSub
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		ls, err = m.lateOf(ctx, t, sc, c.Param("sub"))
		return err
	}); err != nil {
		return nil, err
	}
	if ls == nil {
		return nil, kit.ErrNotFound
	}
	return ls, nil
}

// dunningNotice sends the client a formal notice to pay (B6): a letter in his language
// (PDF) naming each late invoice, what is unpaid, the penalties to date and the recovery
// fee, e-mailed with the letter attached; the notice is kept, dated when sent. It goes at
// once and cannot be taken back: only once the clerk ticked its "I confirm" box.
func (m *Module) dunningNotice(c *kit.Ctx) error {
	t := c.Tenant()
	ls, err := m.lateOfPage(c)
	if err != nil {
		return err
	}
	if err := m.unconfirmed(c, "notice", ls.Sub.ID); err != nil {
		return err
	}
	n, err := m.sendNotice(c.Context(), t, ls, c.User().ID)
	if err != nil {
		return err
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditNoticeSent, Subject: ls.Sub.UserID, Resource: "billing/subscription/" + ls.Sub.ID,
		Detail: map[string]any{"client": ls.Sub.ClientName, "amount": m.money(t, n.UnpaidMinor)}})
	return c.Redirect("/billing/manage/dunning", "payments_notice_sent")
}

// sendNotice makes, stores and e-mails the formal notice of ls.
func (m *Module) sendNotice(ctx context.Context, t sdk.Tenant, ls *lateSub, by string) (*Notice, error) {
	now := m.nowUTC()
	today := m.today(t)
	pdf, err := m.noticeDocument(t, ls, today)
	if err != nil {
		return nil, err
	}
	h := sdk.HostFrom(ctx)
	blob := sdk.Blob{Name: m.Msgs.For(ls.Sub.Locale).T("billing.payments.notice.file", "Reference", ls.Sub.Reference) + ".pdf", ContentType: "application/pdf", Data: pdf}
	id, err := h.PutBlob(ctx, blob)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ls.Rows))
	for i, r := range ls.Rows {
		ids[i] = r.ID
	}
	n := &Notice{ID: newID(), SubscriptionID: ls.Sub.ID, InvoiceIDs: strings.Join(ids, ","), UnpaidMinor: ls.Unpaid, SentAt: now, SentOn: today, BlobID: id, SentBy: by}
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		n.TenantID = sc.TenantID
		_, err := sc.Insert(n).Exec(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	loc := m.Msgs.For(ls.Sub.Locale)
	m.tellClient(ctx, t, ls.Sub, tmplFormalNotice, map[string]any{"Amount": locales.FormatMoney(loc.Lang, ls.Unpaid, t.Currency),
		"Delay": loc.TN("billing.payments.days", int(formalNoticeDays.Of(t)))}, blob)
	return n, nil
}

// noticeDocument is the letter of a formal notice in the client's language.
func (m *Module) noticeDocument(t sdk.Tenant, ls *lateSub, today Date) ([]byte, error) {
	loc := m.Msgs.For(ls.Sub.Locale)
	h := view.New(loc, zone(t), "", "")
	cur := t.Currency
	money := func(n int64) string { return locales.FormatMoney(loc.Lang, n, cur) }
	firm := seller(t)
	d := pdfdoc.New(loc.T("billing.payments.notice.title"), firm.Name, m.nowUTC())
	// The sender as the invoice names it: legal name, address, registration (RCS).
	d.Text(strings.Join(nonEmpty(firm.Name, firm.Street, firm.Registration), "\n"))
	d.Text(strings.Join(nonEmpty(ls.Sub.ClientName, ls.Sub.ContactName, ls.Sub.Street, strings.TrimSpace(ls.Sub.Postcode+" "+ls.Sub.City)), "\n"))
	d.Text(loc.T("billing.payments.notice.dated", "Date", h.Day(today.String())))
	d.Heading(loc.T("billing.payments.notice.title"), 15)
	d.Pair(loc.T("billing.payments.notice.contract"), ls.Sub.Reference)
	d.Text(loc.T("billing.payments.notice.intro"))
	var rows [][]string
	for _, r := range ls.Rows {
		num := ""
		if r.Number != nil {
			num = *r.Number
		}
		rows = append(rows, []string{num, h.Day(r.DueOn.String()), loc.TN("billing.payments.days", r.DaysLate), money(r.Unpaid), money(r.Penalty), money(r.Fee)})
	}
	rows = append(rows, []string{loc.T("billing.payments.notice.total"), "", "", money(ls.Unpaid), money(ls.Penalty), money(ls.Fee)})
	d.Table([]string{loc.T("billing.payments.dunning.invoice"), loc.T("billing.payments.dunning.due_on"), loc.T("billing.payments.dunning.days_late"),
		loc.T("billing.payments.dunning.unpaid"), loc.T("billing.payments.dunning.penalty"), loc.T("billing.payments.dunning.fee")}, rows, nil, true)
	d.Pair(loc.T("billing.payments.notice.claimed"), money(ls.Unpaid+ls.Penalty+ls.Fee))
	d.Text(loc.T("billing.payments.notice.penalty_basis", "Multiple", latePenaltyLegalRateMultiple.Of(t)))
	d.Text(loc.TN("billing.payments.notice.demand", int(formalNoticeDays.Of(t))))
	d.Text(loc.T("billing.payments.notice.no_setoff"))
	d.Text(loc.T("billing.payments.notice.closing"))
	d.Text(firm.Name)
	return d.Bytes()
}

func nonEmpty(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			out = append(out, x)
		}
	}
	return out
}

// suspend suspends sub (B6: on any unpaid invoice, or after a notice left unanswered) and
// tells the client; false when it was not active.
func (m *Module) suspend(ctx context.Context, t sdk.Tenant, subID string) (*Subscription, error) {
	var sub *Subscription
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Subscription)(nil)).Set("state = ?", subSuspended).Set("suspended_at = ?", m.nowUTC()).
			Where("id = ?", subID).Where("state = ?", subActive).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		var s Subscription
		if err := sc.Select(&s).Where("sub.id = ?", subID).Scan(ctx); err != nil {
			return err
		}
		sub = &s
		_, err = sc.Update((*Notice)(nil)).Set("outcome = ?", afterSuspend).Set("decided_at = ?", m.nowUTC()).
			Where("subscription_id = ?", subID).Where("outcome = ''").Where("sent_on <= ?", m.today(t).AddDays(-int(formalNoticeDays.Of(t)))).Exec(ctx)
		return err
	})
	if err != nil || sub == nil {
		return nil, err
	}
	m.tellClient(ctx, t, sub, tmplSuspended, nil)
	_ = sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: auditSuspended, Subject: sub.UserID, Resource: "billing/subscription/" + sub.ID,
		Detail: map[string]any{"client": sub.ClientName}})
	return sub, nil
}

// terminate ends sub for unpaid invoices on endsOn (B6), through the contract part, and tells
// the client by e-mail.
func (m *Module) terminate(ctx context.Context, t sdk.Tenant, subID string, endsOn Date) error {
	var sub Subscription
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&sub).Where("sub.id = ?", subID).Scan(ctx); err != nil {
			return err
		}
		if err := m.endSubscription(ctx, t, sc, &sub, endsOn, "termination.reason.unpaid"); err != nil {
			return err
		}
		_, err := sc.Update((*Notice)(nil)).Set("outcome = ?", afterTerminate).Set("decided_at = ?", m.nowUTC()).
			Where("subscription_id = ?", subID).Where("outcome <> ?", afterTerminate).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if sub.EndsOn.IsZero() || endsOn.Before(sub.EndsOn) {
		sub.EndsOn = endsOn
	}
	// The client is told, in his language, that his contract is terminated and the day it ends
	// (an earlier end already fixed stays), as for any other termination.
	m.tellClient(ctx, t, &sub, tmplTerminatedUnpaid, map[string]any{"End": dayIn(langOf(t, &sub), sub.EndsOn)})
	_ = sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: auditTerminatedUnpaid, Subject: sub.UserID, Resource: "billing/subscription/" + sub.ID,
		Detail: map[string]any{"client": sub.ClientName, "ends_date": endsOn.String()}})
	return nil
}

// unconfirmed refuses an irreversible dunning action (action: "notice", "suspend", "terminate") whose
// "I confirm" box was not ticked: the dunning page again (422), the error next to the box of
// the form it came from (from: "q" the qualifying list, "l" the client's card).
func (m *Module) unconfirmed(c *kit.Ctx, action, subID string) error {
	if c.Form("confirm") == "1" {
		return nil
	}
	from := c.Form("from")
	if from != "q" {
		from = "l"
	}
	v := c.View("billing.payments.dunning.title")
	v.Errors["confirm_"+from+"_"+action+"_"+subID] = "billing.payments.dunning.err.confirm"
	return m.renderDunning(c, v, http.StatusUnprocessableEntity)
}

// dunningSuspend: the firm suspends its service for an unpaid invoice (B6), once the clerk
// confirmed it.
func (m *Module) dunningSuspend(c *kit.Ctx) error {
	t := c.Tenant()
	ls, err := m.lateOfPage(c)
	if err != nil {
		return err
	}
	if err := m.unconfirmed(c, "suspend", ls.Sub.ID); err != nil {
		return err
	}
	if _, err := m.suspend(c.Context(), t, ls.Sub.ID); err != nil {
		return err
	}
	return c.Redirect("/billing/manage/dunning", "payments_suspended")
}

// dunningTerminate: the firm terminates a contract whose formal notice went unanswered for
// the tenant's days (B6) — only then, and once the clerk confirmed it.
func (m *Module) dunningTerminate(c *kit.Ctx) error {
	t := c.Tenant()
	ls, err := m.lateOfPage(c)
	if err != nil {
		return err
	}
	if !ls.Qualifying {
		return kit.ErrNotFound
	}
	if err := m.unconfirmed(c, "terminate", ls.Sub.ID); err != nil {
		return err
	}
	if err := m.terminate(c.Context(), t, ls.Sub.ID, m.today(t)); err != nil {
		return err
	}
	return c.Redirect("/billing/manage/dunning", "payments_terminated")
}

// afterNoticeJob applies the tenant's rule billing.after_notice_action to every client whose
// formal notice went unanswered for billing.formal_notice_days days (B6); with "none" the
// clerk decides on the dunning page.
func (m *Module) afterNoticeJob(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	action := afterNoticeAction.Of(t)
	if action == afterNone {
		return nil
	}
	var subs []*lateSub
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		subs, err = m.late(ctx, t, sc)
		return err
	}); err != nil {
		return err
	}
	var errs []error
	for _, ls := range subs {
		if !ls.Qualifying {
			continue
		}
		var err error
		switch {
		case action == afterSuspend && ls.Sub.State == subActive:
			_, err = m.suspend(ctx, t, ls.Sub.ID)
		case action == afterTerminate:
			err = m.terminate(ctx, t, ls.Sub.ID, m.today(t))
		}
		if err != nil {
			m.Log.Error("billing: after-notice action failed", "tenant", t.Slug, "subscription", ls.Sub.ID, "action", action, "err", err.Error())
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ---- legal rates ----

// ratesPage lists the tenant's legal interest rates by half-year with the form to set one.
func (m *Module) ratesPage(c *kit.Ctx) error {
	return m.renderRates(c, c.View("billing.payments.rates.title"), http.StatusOK)
}

// rateRow is a half-year's rate as the page shows it.
type rateRow struct {
	StartsOn Date
	Rate     string
}

func (m *Module) renderRates(c *kit.Ctx, v *kit.View, status int) error {
	var rates []LegalRate
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		rates, err = m.legalRates(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	rows := make([]rateRow, len(rates))
	for i, r := range rates {
		rows[len(rates)-1-i] = rateRow{r.StartsOn, formatRate(c.Loc().Lang, r.RateBP)}
	}
	v.Data["Rates"] = rows
	today := m.today(c.Tenant())
	var halves []Date
	for d := halfYear(today).AddMonthsClamped(6); len(halves) < 6; d = d.AddMonthsClamped(-6) {
		halves = append(halves, d)
	}
	v.Data["Halves"] = halves
	if status != http.StatusOK {
		return kit.Invalid("dunning_rates", v)
	}
	return c.Render(status, "dunning_rates", v)
}

// ratesSave sets the rate of a half-year (B6).
func (m *Module) ratesSave(c *kit.Ctx) error {
	v := c.View("billing.payments.rates.title")
	v.Values["starts_on"], v.Values["rate"] = c.Form("starts_on"), c.Form("rate")
	on, err := ParseDate(c.Form("starts_on"))
	if err != nil || on.D != 1 || (on.M != time.January && on.M != time.July) {
		v.Errors["starts_on"] = "billing.payments.rates.err.starts_on"
	}
	bp, ok := parseAmount(c.Form("rate")) // a percentage with two decimals, read like an amount
	if !ok || bp > 10000 {
		v.Errors["rate"] = "billing.payments.rates.err.rate"
	}
	if len(v.Errors) > 0 {
		return m.renderRates(c, v, http.StatusUnprocessableEntity)
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		if _, err := m.legalRates(ctx, sc); err != nil {
			return err
		}
		r := LegalRate{TenantID: sc.TenantID, StartsOn: on, RateBP: bp, UpdatedBy: c.User().ID, UpdatedAt: m.nowUTC()}
		_, err := sc.Insert(&r).On("CONFLICT (tenant_id, starts_on) DO UPDATE").Set("rate_bp = EXCLUDED.rate_bp").
			Set("updated_by = EXCLUDED.updated_by").Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditLegalRateSaved, Resource: "billing/legal_rate/" + on.String(),
		Detail: map[string]any{"starts_date": on.String(), "rate": formatRate(c.Loc().Lang, bp)}})
	return c.Redirect("/billing/manage/dunning/rates", "payments_rate_saved")
}
