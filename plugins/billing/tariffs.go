package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The contract part: tariff changes (B4, this file), termination (B8, termination.go), the
// liability cap (B7, liability.go) and the contract pages (contract_pages.go). Its tables are
// in migration 20261201100070_contract.

// Refusal outcomes (B4, rule billing.tariff_refusal_outcome): the client keeps the old
// tariff and the contract ends at the end of the termination notice counted from his refusal
// letter, or the contract ends on the day the new tariff takes effect.
const (
	refusalKeepUntilEnd = "keep_until_end"
	refusalTerminate    = "terminate"
)

var tariffRefusalOutcome = kit.String("billing.tariff_refusal_outcome", refusalKeepUntilEnd, []string{refusalKeepUntilEnd, refusalTerminate}, "B4")

// Messages, audit actions and jobs of the part.
const (
	tmplTariffNotice        = "billing.tariff_notice"
	tmplTerminationRecorded = "billing.termination_recorded"
	tmplContractEnded       = "billing.contract_ended"

	auditTariffAnnounced  = "billing.tariff_announced"
	auditRefusalRecorded  = "billing.tariff_refusal_recorded"
	auditTerminationSaved = "billing.termination_recorded"
	auditTerminationUndo  = "billing.termination_withdrawn"

	jobTariffsInForce = "billing.tariffs_in_force"
	jobTerminations   = "billing.terminations"
)

// TariffNotice is the notice of a new tariff sent to one subscription's client (B4): the day
// it went out starts his refusal delay.
type TariffNotice struct {
	bun.BaseModel `bun:"table:billing_tariff_notices,alias:tn"`

	TenantID       string    `bun:"tenant_id,pk"`
	TariffID       string    `bun:"tariff_id,pk"`
	SubscriptionID string    `bun:"subscription_id,pk"`
	OldTariffID    string    `bun:"old_tariff_id"`
	NotifiedOn     Date      `bun:"notified_on"`
	MessageID      string    `bun:"message_id"`
	CreatedAt      time.Time `bun:"created_at"`
}

// TariffRefusal is a client's refusal of a new tariff by registered letter (B4): its
// postmark day and reference, what it led to, and the end day it fixed. A refusal whose
// termination the clerk withdrew (the client accepted the tariff after all) no longer counts.
type TariffRefusal struct {
	bun.BaseModel `bun:"table:billing_tariff_refusals,alias:tr"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	SubscriptionID string       `bun:"subscription_id"`
	TariffID       string       `bun:"tariff_id"`
	PostedOn       Date         `bun:"posted_on"`
	Reference      string       `bun:"reference"`
	Outcome        string       `bun:"outcome"`
	EndsOn         Date         `bun:"ends_on"`
	WithdrawnAt    bun.NullTime `bun:"withdrawn_at"`
	CreatedBy      string       `bun:"created_by"`
	CreatedAt      time.Time    `bun:"created_at"`
}

// contractPart: tariff changes (B4), termination (B8) and the liability cap (B7). See
// billing.go.
func (m *Module) contractPart() part {
	return part{
		Routes: []kit.Route{
			kit.Perm("POST /billing/manage/tariffs/{id}/announce", permManage, m.announceTariff),
			kit.Perm("GET /billing/contract", permOwn, m.clientContract),
			kit.Perm("GET /billing/manage/subscriptions/{id}/contract", permManage, m.manageContract),
			kit.Perm("POST /billing/manage/subscriptions/{id}/contract/refusal", permManage, m.recordRefusal),
			kit.Perm("POST /billing/manage/subscriptions/{id}/contract/termination", permManage, m.recordTermination),
			kit.Perm("POST /billing/manage/subscriptions/{id}/contract/terminations/{tid}/withdraw", permManage, m.withdrawTermination),
			kit.Perm("GET /billing/manage/subscriptions/{id}/contract/letter", permManage, m.firmLetter),
		},
		Rules: []kit.Rule{tariffRefusalOutcome},
		Jobs: []kit.Job{
			{Name: jobTariffsInForce, Cron: "5 0 * * *", Run: m.tariffsInForceJob},
			{Name: jobTerminations, Cron: "15 0 * * *", Run: m.terminationsJob},
		},
		Notifications: []string{tmplTariffNotice, tmplTerminationRecorded, tmplContractEnded},
		AuditActions:  []string{auditTariffAnnounced, auditRefusalRecorded, auditTerminationSaved, auditTerminationUndo},
		Export:        m.exportContract,
	}
}

// exportContract is what the part holds of a user's contracts (P11): the tariff notices he
// received, his refusals and the terminations of his subscriptions. They are contract
// records: an erased account leaves them with the subscription (P11: kept, detached).
func (m *Module) exportContract(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	notices, refusals, terms := []TariffNotice{}, []TariffRefusal{}, []Termination{}
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var ids []string
		if err := sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", userID).Scan(ctx, &ids); err != nil || len(ids) == 0 {
			return err
		}
		if err := sc.Select(&notices).Where("tn.subscription_id IN (?)", bun.In(ids)).OrderExpr("tn.notified_on").Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&refusals).Where("tr.subscription_id IN (?)", bun.In(ids)).OrderExpr("tr.created_at").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&terms).Where("term.subscription_id IN (?)", bun.In(ids)).OrderExpr("term.created_at").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"billing_tariff_notices": notices, "billing_tariff_refusals": refusals, "billing_terminations": terms}, nil
}

// errNoTariff: the tenant has no tariff in force on the day asked.
var errNoTariff = errors.New("billing: no tariff in force")

// tariffAt returns the tariff that prices sub's invoice dated d (B4: each invoice uses the
// tariff in force on its date) and its prices by product id: the latest announced or
// in-force tariff whose effective day is on or before d — leaving out, for a subscription
// whose client refused a tariff, the tariff he refused (he keeps the old one until the end
// his refusal fixed).
func (m *Module) tariffAt(ctx context.Context, sc *store.Scope, sub *Subscription, d Date) (*Tariff, map[string]Price, error) {
	var refused []string
	if sub != nil && sub.ID != "" {
		if err := sc.Select((*TariffRefusal)(nil)).Column("tr.tariff_id").Where("tr.subscription_id = ? AND tr.withdrawn_at IS NULL", sub.ID).Scan(ctx, &refused); err != nil {
			return nil, nil, err
		}
	}
	var tar Tariff
	q := sc.Select(&tar).Where("tar.state IN (?, ?)", tariffAnnounced, tariffInForce).Where("tar.effective_on <= ?", d.String())
	if len(refused) > 0 {
		q = q.Where("tar.id NOT IN (?)", bun.In(refused))
	}
	err := q.OrderExpr("tar.effective_on DESC, tar.created_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNoTariff
	}
	if err != nil {
		return nil, nil, err
	}
	var prices []Price
	if err := sc.Select(&prices).Where("price.tariff_id = ?", tar.ID).Scan(ctx); err != nil {
		return nil, nil, err
	}
	out := make(map[string]Price, len(prices))
	for _, p := range prices {
		out[p.ProductID] = p
	}
	return &tar, out, nil
}

// langOf is the language a subscription's client reads: his, or the tenant's.
func langOf(t sdk.Tenant, sub *Subscription) string {
	if locales.IsSupported(sub.Locale) {
		return sub.Locale
	}
	if locales.IsSupported(t.Locale) {
		return t.Locale
	}
	return "fr"
}

// dayIn writes a calendar day the way lang does.
func dayIn(lang string, d Date) string {
	if d.IsZero() {
		return ""
	}
	return locales.FormatDate(lang, d.t(), nil)
}

// letter is the message tmpl about sub with its data and link, to his account or else the
// contract's address. Sent to the address, the host knows no name to greet him by: the data
// then name him ("Name": the contract's contact, else the client), which the host's greeting
// takes over its own empty one — every billing e-mail opens "Bonjour Dr Martin,".
func letter(sub *Subscription, tmpl, link string, data map[string]any) sdk.Message {
	msg := sdk.Message{UserID: sub.UserID, Template: tmpl, Link: link, Data: data}
	if sub.UserID != "" {
		return msg
	}
	msg.To = sub.Email
	if msg.Data == nil {
		msg.Data = map[string]any{}
	}
	name := strings.TrimSpace(sub.ContactName)
	if name == "" {
		name = strings.TrimSpace(sub.ClientName)
	}
	msg.Data["Name"] = name
	return msg
}

// pendingNotice is a tariff notice to send once the announcement is committed.
type pendingNotice struct {
	Sub  Subscription
	Data map[string]any
}

// announceTariff announces a draft tariff (B4): it takes effect on the day the tenant's
// notice (billing.tariff_notice_months) after today, and every live subscription's client is
// told by e-mail, in his language, of his new prices beside the old, the day they apply,
// his right to refuse by registered letter within billing.tariff_refusal_days days of the
// notice (the sending day counts), and what a refusal leads to. The clerk confirms it (a
// ticked "I confirm" box; without it the page again, 422, nothing sent). Announcing a tariff
// that is no longer a draft (a second click) changes and sends nothing.
func (m *Module) announceTariff(c *kit.Ctx) error {
	t := c.Tenant()
	today := m.today(t)
	effective := today.AddMonthsClamped(int(tariffNoticeMonths.Of(t)))
	id := c.Param("id")
	if c.Form("confirm") != "1" {
		// Irreversible (every client is told at once): the clerk ticks "I confirm" first.
		d, err := m.readTariff(c, id)
		if err != nil {
			return err
		}
		if d.Tariff.State != tariffDraft {
			return c.Redirect("/billing/manage/tariffs/"+id, "contract_tariff_not_draft")
		}
		v := c.View("billing.catalog.tariff_title")
		v.Errors["confirm"] = "billing.contract.err.confirm_announce"
		return m.renderTariff(c, http.StatusUnprocessableEntity, v)
	}
	var tar Tariff
	var notices []pendingNotice
	announced := false
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&tar).Where("tar.id = ?", id).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Update((*Tariff)(nil)).Set("state = ?", tariffAnnounced).Set("effective_on = ?", effective.String()).
			Set("announced_at = ?", m.now()).Where("id = ? AND state = ?", id, tariffDraft).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		announced = true
		tar.State, tar.EffectiveOn = tariffAnnounced, effective
		notices, err = m.noticeAll(ctx, t, sc, &tar, today)
		return err
	})
	if err != nil {
		return err
	}
	if !announced {
		return c.Redirect("/billing/manage/tariffs/"+id, "contract_tariff_not_draft")
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditTariffAnnounced, Resource: "billing_tariff:" + tar.ID,
		Detail: map[string]any{"effective_on": effective.String(), "notices": len(notices)}}); err != nil {
		return fmt.Errorf("audit %s: %w", auditTariffAnnounced, err)
	}
	m.sendNotices(c.Context(), c.Host(), t, tar.ID, notices)
	return c.Redirect("/billing/manage/tariffs/"+id, "contract_tariff_announced")
}

// noticeAll records the notice of tar to every live subscription and returns the messages
// to send.
func (m *Module) noticeAll(ctx context.Context, t sdk.Tenant, sc *store.Scope, tar *Tariff, today Date) ([]pendingNotice, error) {
	var subs []Subscription
	if err := sc.Select(&subs).Where("sub.state <> ?", subTerminated).OrderExpr("sub.reference").Scan(ctx); err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, nil
	}
	var prods []Product
	if err := sc.Select(&prods).Scan(ctx); err != nil {
		return nil, err
	}
	byID := map[string]*Product{}
	for i := range prods {
		byID[prods[i].ID] = &prods[i]
	}
	var opts []SubscriptionOption
	if err := sc.Select(&opts).Scan(ctx); err != nil {
		return nil, err
	}
	optsOf := map[string][]string{}
	for _, o := range opts {
		optsOf[o.SubscriptionID] = append(optsOf[o.SubscriptionID], o.ProductID)
	}
	var newPrices []Price
	if err := sc.Select(&newPrices).Where("price.tariff_id = ?", tar.ID).Scan(ctx); err != nil {
		return nil, err
	}
	next := map[string]Price{}
	for _, p := range newPrices {
		next[p.ProductID] = p
	}
	var out []pendingNotice
	for i := range subs {
		sub := &subs[i]
		old, oldPrices, err := m.tariffAt(ctx, sc, sub, tar.EffectiveOn.AddDays(-1))
		if err != nil && !errors.Is(err, errNoTariff) {
			return nil, err
		}
		n := TariffNotice{TenantID: sc.TenantID, TariffID: tar.ID, SubscriptionID: sub.ID, NotifiedOn: today, CreatedAt: m.now()}
		if old != nil {
			n.OldTariffID = old.ID
		}
		res, err := sc.Insert(&n).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			continue
		}
		products := append([]string{sub.PlanID}, optsOf[sub.ID]...)
		out = append(out, pendingNotice{Sub: *sub, Data: m.noticeData(t, sub, tar, today, products, byID, oldPrices, next)})
	}
	return out, nil
}

// noticeData is the tariff notice's words in the client's language.
func (m *Module) noticeData(t sdk.Tenant, sub *Subscription, tar *Tariff, today Date, products []string, byID map[string]*Product, old, next map[string]Price) map[string]any {
	lang := langOf(t, sub)
	loc := m.Msgs.For(lang)
	lines := noticePrices(loc, t.Currency, products, byID, old, next, false)
	deadline := today.AddDays(int(tariffRefusalDays.Of(t)))
	outcome := tariffRefusalOutcome.Of(t)
	months := int(terminationNoticeMonths.Of(t))
	var what string
	if outcome == refusalTerminate {
		what = loc.T("billing.contract.notice.outcome_terminate", "Effective", dayIn(lang, tar.EffectiveOn))
	} else {
		what = loc.T("billing.contract.notice.outcome_keep", "Notice", loc.TN("billing.contract.months", months))
	}
	return map[string]any{
		"Tenant": t.Name, "Client": sub.ClientName, "Reference": sub.Reference,
		"Effective": dayIn(lang, tar.EffectiveOn), "Prices": strings.Join(lines, "\n"),
		"Deadline": dayIn(lang, deadline), "Days": loc.TN("billing.contract.days", int(tariffRefusalDays.Of(t))), "Outcome": what,
	}
}

// sendNotices sends the tariff notices and keeps each message's id; a failure is logged (the
// notice stays recorded: the clerk's page shows which have no message).
func (m *Module) sendNotices(ctx context.Context, h *sdk.Host, t sdk.Tenant, tariffID string, notices []pendingNotice) {
	for _, n := range notices {
		msg := letter(&n.Sub, tmplTariffNotice, "/billing/contract?s="+n.Sub.ID, n.Data)
		id, err := h.Send(ctx, msg)
		if err != nil {
			m.Log.Error("billing: tariff notice not sent", "tenant", t.Slug, "subscription", n.Sub.ID, "err", err.Error())
			continue
		}
		err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*TariffNotice)(nil)).Set("message_id = ?", id).Where("tariff_id = ? AND subscription_id = ?", tariffID, n.Sub.ID).Exec(ctx)
			return err
		})
		if err != nil {
			m.Log.Error("billing: tariff notice id not kept", "tenant", t.Slug, "subscription", n.Sub.ID, "err", err.Error())
		}
	}
}

// tariffsInForceJob turns the announced tariffs whose day came into the tariffs in force
// (B4), every day.
func (m *Module) tariffsInForceJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.tariffsInForce(ctx, job.Tenant)
	return err
}

// tariffsInForce puts in force the announced tariffs effective today or before; it returns
// how many.
func (m *Module) tariffsInForce(ctx context.Context, t sdk.Tenant) (int64, error) {
	var n int64
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Tariff)(nil)).Set("state = ?", tariffInForce).
			Where("state = ? AND effective_on <= ?", tariffAnnounced, m.today(t).String()).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// refusalDeadline is the last day a refusal letter of a notice sent on notified may be
// posted (B4).
func refusalDeadline(t sdk.Tenant, notified Date) Date {
	return notified.AddDays(int(tariffRefusalDays.Of(t)))
}

// recordRefusal records a client's refusal of a new tariff (B4): the tariff he was notified
// of, the postmark day of his registered letter (it counts, not the receipt) and its
// reference. A letter posted after the deadline is refused, the page naming the deadline.
// The tenant's rule says what follows: he keeps the old tariff and the contract ends at the
// end of the termination notice counted from his letter, or it ends on the day the new
// tariff takes effect. Either way the refused tariff never prices his invoices.
func (m *Module) recordRefusal(c *kit.Ctx) error {
	t := c.Tenant()
	today := m.today(t)
	errs := map[string]string{}
	posted, err := ParseDate(strings.TrimSpace(c.Form("posted_on")))
	switch {
	case err != nil:
		errs["posted_on"] = "billing.contract.err.date"
	case posted.After(today):
		errs["posted_on"] = "billing.contract.err.future"
	}
	ref := strings.TrimSpace(c.Form("reference"))
	if ref == "" {
		errs["reference"] = "billing.contract.err.reference"
	} else if len([]rune(ref)) > 100 {
		errs["reference"] = "billing.contract.err.too_long"
	}
	tariffID := c.Form("tariff")
	var sub Subscription
	var ref2 TariffRefusal
	var late Date
	ended := false
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&sub).Where("sub.id = ?", c.Param("id")).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		if sub.State == subTerminated {
			errs["tariff"] = "billing.contract.err.terminated"
			return nil
		}
		var n TariffNotice
		err := sc.Select(&n).Where("tn.subscription_id = ? AND tn.tariff_id = ?", sub.ID, tariffID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			errs["tariff"] = "billing.contract.err.tariff"
			return nil
		}
		if err != nil {
			return err
		}
		if _, bad := errs["posted_on"]; !bad {
			if posted.Before(n.NotifiedOn) {
				errs["posted_on"] = "billing.contract.err.before_notice"
			} else if dl := refusalDeadline(t, n.NotifiedOn); posted.After(dl) {
				errs["posted_on"], late = "billing.contract.err.refusal_late", dl
			}
		}
		if len(errs) > 0 {
			return nil
		}
		var tar Tariff
		if err := sc.Select(&tar).Where("tar.id = ?", tariffID).Scan(ctx); err != nil {
			return err
		}
		outcome := tariffRefusalOutcome.Of(t)
		ends := posted.AddMonthsClamped(int(terminationNoticeMonths.Of(t)))
		if outcome == refusalTerminate {
			ends = tar.EffectiveOn
		}
		ref2 = TariffRefusal{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, TariffID: tariffID, PostedOn: posted, Reference: ref,
			Outcome: outcome, EndsOn: ends, CreatedBy: c.User().ID, CreatedAt: m.now()}
		res, err := sc.Insert(&ref2).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			errs["tariff"] = "billing.contract.err.refused_already"
			return nil
		}
		// A termination that already ends the contract no later stays (the refusal stands:
		// the old tariff is kept); one that ends later gives way to the refusal's end.
		term := &Termination{Reason: reasonRefusal, SentOn: posted, Reference: ref, EndsOn: ends}
		ended, err = m.fixEnd(ctx, sc, &sub, term, c.User().ID, true)
		return err
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		v := c.View("billing.contract.manage.title")
		for k, id := range errs {
			v.Errors[k] = id
		}
		for _, k := range []string{"tariff", "posted_on", "reference"} {
			v.Values[k] = c.Form(k)
		}
		if !late.IsZero() {
			v.Data["LateDeadline"] = late.String()
		}
		if err := m.manageData(c, v, c.Param("id")); err != nil {
			return err
		}
		return kit.Invalid("contract_manage", v)
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditRefusalRecorded, Subject: sub.UserID, Resource: "billing_subscription:" + sub.ID,
		Detail: map[string]any{"tariff_id": tariffID, "posted_on": posted.String(), "reference": ref, "outcome": ref2.Outcome, "ends_on": ref2.EndsOn.String()}}); err != nil {
		return fmt.Errorf("audit %s: %w", auditRefusalRecorded, err)
	}
	if ended {
		m.tellEnd(c.Context(), c.Host(), t, &sub, reasonRefusal, ref2.EndsOn)
	}
	return c.Redirect("/billing/manage/subscriptions/"+sub.ID+"/contract", "contract_refusal_recorded")
}

// noticePrices are a tariff notice's price lines in loc's language, old → new (B4): each of
// products priced in the new tariff (next) with its monthly fee, and for a plan the prices of
// a call and an SMS beyond the allowance; "not offered" where the old tariff (old) had none.
// With onlyChanged (the contract pages) the prices the new tariff leaves as they were are
// left out; the notice's e-mail gives them all.
func noticePrices(loc *locales.Localizer, currency string, products []string, byID map[string]*Product, old, next map[string]Price, onlyChanged bool) []string {
	money := func(minor int64) string { return locales.FormatMoney(loc.Lang, minor, currency) }
	var lines []string
	for _, pid := range products {
		p := byID[pid]
		np, ok := next[pid]
		if p == nil || !ok {
			continue
		}
		op, had := old[pid]
		was := loc.T("billing.contract.notice.none")
		if had {
			was = money(op.MonthlyFeeMinor)
		}
		if !onlyChanged || !had || op.MonthlyFeeMinor != np.MonthlyFeeMinor {
			lines = append(lines, loc.T("billing.contract.notice.fee", "Product", p.Name, "Old", was, "New", money(np.MonthlyFeeMinor)))
		}
		if p.Kind == kindPlan {
			oc, os := loc.T("billing.contract.notice.none"), loc.T("billing.contract.notice.none")
			if had {
				oc, os = money(op.CallMinor), money(op.SMSMinor)
			}
			if !onlyChanged || !had || op.CallMinor != np.CallMinor {
				lines = append(lines, loc.T("billing.contract.notice.call", "Old", oc, "New", money(np.CallMinor)))
			}
			if !onlyChanged || !had || op.SMSMinor != np.SMSMinor {
				lines = append(lines, loc.T("billing.contract.notice.sms", "Old", os, "New", money(np.SMSMinor)))
			}
		}
	}
	return lines
}
