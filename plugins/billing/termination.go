package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Termination (B8): either party ends the contract by registered letter with proof of
// receipt; the notice is given when the letter is received, and the contract ends
// billing.termination_notice_months later. No proration: every period that starts before the
// end is invoiced in full. A termination is active until its end passed (done), or until the
// clerk withdraws it before its end, or an earlier end supersedes it.

// What ends a subscription (Termination.Reason): the client's letter, the firm's letter, a
// refused tariff (B4), or another part's cause given to endSubscription (B6: unpaid).
const (
	reasonClient  = "client"
	reasonFirm    = "firm"
	reasonRefusal = "refusal"
	reasonUnpaid  = "unpaid"
	reasonOther   = "other"
)

// Termination states.
const (
	termActive     = "active"
	termWithdrawn  = "withdrawn"
	termSuperseded = "superseded"
	termDone       = "done"
)

// Termination is what ends a subscription on EndsOn: a registered letter (its sending day,
// the day it was received, its reference) or another cause.
type Termination struct {
	bun.BaseModel `bun:"table:billing_terminations,alias:term"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	SubscriptionID string       `bun:"subscription_id"`
	Reason         string       `bun:"reason"`
	SentOn         Date         `bun:"sent_on"`
	ReceivedOn     Date         `bun:"received_on"`
	Reference      string       `bun:"reference"`
	EndsOn         Date         `bun:"ends_on"`
	State          string       `bun:"state"`
	WithdrawnBy    string       `bun:"withdrawn_by"`
	WithdrawnAt    bun.NullTime `bun:"withdrawn_at"`
	CreatedBy      string       `bun:"created_by"`
	CreatedAt      time.Time    `bun:"created_at"`
}

// errAlreadyEnding: a termination of the subscription is already active.
var errAlreadyEnding = errors.New("billing: a termination is already active")

// terminationEnd is the end day of a termination whose notice was given on notice (the day
// the registered letter was received): the tenant's notice months later, clamped to the
// month's last day (received 30 November, 3 months: 28 or 29 February).
func terminationEnd(t sdk.Tenant, notice Date) Date {
	return notice.AddMonthsClamped(int(terminationNoticeMonths.Of(t)))
}

// fixEnd records term for sub and sets the subscription's end day. When a termination is
// already active: with supersede, the earlier end wins (the later one is superseded, or term
// changes nothing and applied is false); without, errAlreadyEnding. Two clerks recording at
// once: the unique index keeps one, the other gets errAlreadyEnding.
func (m *Module) fixEnd(ctx context.Context, sc *store.Scope, sub *Subscription, term *Termination, by string, supersede bool) (applied bool, err error) {
	var cur Termination
	err = sc.Select(&cur).Where("term.subscription_id = ? AND term.state = ?", sub.ID, termActive).Scan(ctx)
	switch {
	case err == nil:
		if !supersede {
			return false, errAlreadyEnding
		}
		if !term.EndsOn.Before(cur.EndsOn) {
			return false, nil
		}
		if _, err := sc.Update((*Termination)(nil)).Set("state = ?", termSuperseded).Where("id = ? AND state = ?", cur.ID, termActive).Exec(ctx); err != nil {
			return false, err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	term.TenantID, term.SubscriptionID, term.State, term.CreatedBy, term.CreatedAt = sc.TenantID, sub.ID, termActive, by, m.now()
	if term.ID == "" {
		term.ID = newID()
	}
	res, err := sc.Insert(term).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, errAlreadyEnding
	}
	res, err = sc.Update((*Subscription)(nil)).Set("ends_on = ?", term.EndsOn.String()).Where("id = ? AND state <> ?", sub.ID, subTerminated).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, errAlreadyEnding
	}
	sub.EndsOn = term.EndsOn
	return true, nil
}

// endSubscription fixes the day sub ends (B6, B8): it is invoiced no further period starting
// on or after endsOn, becomes terminated on that day, and then gets its final invoice. reason
// is what ends it, in words of the module's messages ("termination.reason.client", …). An
// end already fixed earlier stays.
func (m *Module) endSubscription(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, endsOn Date, reason string) error {
	r := strings.TrimPrefix(reason, "termination.reason.")
	switch r {
	case reasonClient, reasonFirm, reasonRefusal, reasonUnpaid:
	default:
		r = reasonOther
	}
	_, err := m.fixEnd(ctx, sc, sub, &Termination{Reason: r, EndsOn: endsOn}, "", true)
	return err
}

// recordTermination records a termination by registered letter (B8): the client's letter
// or the firm's own (party), its sending day, the day it was received (the notice is given
// then) and its reference. The end day is the day of receipt plus the tenant's notice; the
// client is told by e-mail.
func (m *Module) recordTermination(c *kit.Ctx) error {
	t := c.Tenant()
	today := m.today(t)
	errs := map[string]string{}
	party := c.Form("party")
	if party != reasonClient && party != reasonFirm {
		errs["party"] = "billing.contract.err.party"
	}
	sent, err := ParseDate(strings.TrimSpace(c.Form("sent_on")))
	sentOK := err == nil
	switch {
	case err != nil:
		errs["sent_on"] = "billing.contract.err.date"
	case sent.After(today):
		errs["sent_on"] = "billing.contract.err.future"
	}
	received, err := ParseDate(strings.TrimSpace(c.Form("received_on")))
	switch {
	case err != nil:
		errs["received_on"] = "billing.contract.err.date"
	case received.After(today):
		errs["received_on"] = "billing.contract.err.future"
	case sentOK && received.Before(sent):
		errs["received_on"] = "billing.contract.err.received_before_sent"
	}
	ref := strings.TrimSpace(c.Form("term_reference"))
	if ref == "" {
		errs["term_reference"] = "billing.contract.err.reference"
	} else if len([]rune(ref)) > 100 {
		errs["term_reference"] = "billing.contract.err.too_long"
	}
	var sub Subscription
	term := &Termination{Reason: party, SentOn: sent, ReceivedOn: received, Reference: ref, EndsOn: terminationEnd(t, received)}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&sub).Where("sub.id = ?", c.Param("id")).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		if sub.State == subTerminated {
			errs["party"] = "billing.contract.err.terminated"
		}
		if len(errs) > 0 {
			return nil
		}
		_, err := m.fixEnd(ctx, sc, &sub, term, c.User().ID, false)
		if errors.Is(err, errAlreadyEnding) {
			errs["party"] = "billing.contract.err.already_ending"
			return nil
		}
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
		for _, k := range []string{"party", "sent_on", "received_on", "term_reference"} {
			v.Values[k] = c.Form(k)
		}
		if err := m.manageData(c, v, c.Param("id")); err != nil {
			return err
		}
		return kit.Invalid("contract_manage", v)
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditTerminationSaved, Subject: sub.UserID, Resource: "billing_subscription:" + sub.ID,
		Detail: map[string]any{"party": party, "sent_on": sent.String(), "received_on": received.String(), "reference": ref, "ends_on": term.EndsOn.String()}}); err != nil {
		return fmt.Errorf("audit %s: %w", auditTerminationSaved, err)
	}
	m.tellEnd(c.Context(), c.Host(), t, &sub, party, term.EndsOn)
	return c.Redirect("/billing/manage/subscriptions/"+sub.ID+"/contract", "contract_termination_recorded")
}

// withdrawTermination withdraws an active termination before its end (B8, audited): the
// contract has no end day any more (only one termination is active at a time). Withdrawing
// the end a tariff refusal caused withdraws the refusal too: the new tariff applies.
func (m *Module) withdrawTermination(c *kit.Ctx) error {
	t := c.Tenant()
	today := m.today(t)
	subID, tid := c.Param("id"), c.Param("tid")
	var term Termination
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&term).Where("term.id = ? AND term.subscription_id = ?", tid, subID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		res, err := sc.Update((*Termination)(nil)).Set("state = ?", termWithdrawn).Set("withdrawn_by = ?", c.User().ID).Set("withdrawn_at = ?", m.now()).
			Where("id = ? AND state = ? AND ends_on > ?", tid, termActive, today.String()).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotWithdrawable
		}
		if term.Reason == reasonRefusal {
			// The client accepted the new tariff after all: his refusal no longer keeps
			// him on the old one.
			if _, err := sc.Update((*TariffRefusal)(nil)).Set("withdrawn_at = ?", m.now()).
				Where("subscription_id = ? AND posted_on = ? AND reference = ? AND withdrawn_at IS NULL", subID, term.SentOn.String(), term.Reference).Exec(ctx); err != nil {
				return err
			}
		}
		_, err = sc.Update((*Subscription)(nil)).Set("ends_on = ''").Where("id = ? AND state <> ?", subID, subTerminated).Exec(ctx)
		return err
	})
	if errors.Is(err, errNotWithdrawable) {
		return c.Redirect("/billing/manage/subscriptions/"+subID+"/contract", "contract_termination_not_withdrawable")
	}
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditTerminationUndo, Resource: "billing_subscription:" + subID,
		Detail: map[string]any{"termination_id": tid, "reason": term.Reason, "ends_on": term.EndsOn.String()}}); err != nil {
		return fmt.Errorf("audit %s: %w", auditTerminationUndo, err)
	}
	return c.Redirect("/billing/manage/subscriptions/"+subID+"/contract", "contract_termination_withdrawn")
}

var errNotWithdrawable = errors.New("billing: termination no longer active or already ended")

// tellEnd tells the client by e-mail that his contract ends, why and when; a failure is
// logged (the page shows the end all the same).
func (m *Module) tellEnd(ctx context.Context, h *sdk.Host, t sdk.Tenant, sub *Subscription, reason string, ends Date) {
	lang := langOf(t, sub)
	loc := m.Msgs.For(lang)
	msg := letter(sub, tmplTerminationRecorded, "/billing/contract?s="+sub.ID, map[string]any{"Tenant": t.Name, "Client": sub.ClientName,
		"Reference": sub.Reference, "End": dayIn(lang, ends), "Reason": loc.T(reasonKey(reason))})
	if _, err := h.Send(ctx, msg); err != nil {
		m.Log.Error("billing: termination e-mail not sent", "tenant", t.Slug, "subscription", sub.ID, "err", err.Error())
	}
}

// reasonKey is the message of a termination's reason.
func reasonKey(reason string) string {
	switch reason {
	case reasonClient, reasonFirm, reasonRefusal, reasonUnpaid:
		return "billing.contract.reason." + reason
	}
	return "billing.contract.reason.other"
}

// finalInvoiceHooks lets a test see the final invoice asked for, per module (the invoices
// part makes it; until it is merged its stub answers errNotYet).
var finalInvoiceHooks sync.Map // *Module → func(*Subscription)

// terminationsJob ends, every day, the subscriptions whose end day came (B8): each becomes
// terminated, its termination done, its final invoice is made, and the client is told.
func (m *Module) terminationsJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.endDue(ctx, sdk.HostFrom(ctx), job.Tenant)
	return err
}

// endDue terminates the subscriptions whose end day is today or before; it returns how
// many. Each is ended in its own transaction, with its final invoice: a failure leaves it
// for the next run and is returned after the others were done.
func (m *Module) endDue(ctx context.Context, h *sdk.Host, t sdk.Tenant) (int, error) {
	today := m.today(t)
	var ids []string
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.state <> ? AND sub.ends_on <> '' AND sub.ends_on <= ?", subTerminated, today.String()).
			OrderExpr("sub.ends_on, sub.id").Scan(ctx, &ids)
	})
	if err != nil {
		return 0, err
	}
	done := 0
	var firstErr error
	for _, id := range ids {
		var sub Subscription
		ended := false
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			res, err := sc.Update((*Subscription)(nil)).Set("state = ?", subTerminated).
				Where("id = ? AND state <> ? AND ends_on <> '' AND ends_on <= ?", id, subTerminated, today.String()).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil
			}
			if err := sc.Select(&sub).Where("sub.id = ?", id).Scan(ctx); err != nil {
				return err
			}
			if _, err := sc.Update((*Termination)(nil)).Set("state = ?", termDone).Where("subscription_id = ? AND state = ?", id, termActive).Exec(ctx); err != nil {
				return err
			}
			if hook, ok := finalInvoiceHooks.Load(m); ok {
				hook.(func(*Subscription))(&sub)
			}
			if _, err := m.finalInvoice(ctx, t, sc, &sub); err != nil && !errors.Is(err, errNotYet) {
				return fmt.Errorf("final invoice of %s: %w", id, err)
			}
			ended = true
			return nil
		})
		if err != nil {
			m.Log.Error("billing: subscription not ended", "tenant", t.Slug, "subscription", id, "err", err.Error())
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !ended {
			continue
		}
		done++
		lang := langOf(t, &sub)
		msg := letter(&sub, tmplContractEnded, "/billing/contract?s="+sub.ID,
			map[string]any{"Tenant": t.Name, "Client": sub.ClientName, "Reference": sub.Reference, "End": dayIn(lang, sub.EndsOn)})
		if h != nil {
			if _, err := h.Send(ctx, msg); err != nil {
				m.Log.Error("billing: contract end e-mail not sent", "tenant", t.Slug, "subscription", sub.ID, "err", err.Error())
			}
		}
	}
	return done, firstErr
}

// firmLetter is the firm's termination letter as a PDF, in the client's language (B8): the
// parties, the contract's reference, the notice (counted from the client's receipt of the
// letter, which is sent by registered letter with proof of receipt) and the end day — for a
// letter sent on the day asked ("on"), the end day at the earliest, since it cannot be
// received before it is sent. The clerk then records its sending day, its receipt and its
// reference.
func (m *Module) firmLetter(c *kit.Ctx) error {
	t := c.Tenant()
	on := m.today(t)
	if s := c.Query("on"); s != "" {
		d, err := ParseDate(s)
		if err != nil {
			return kit.ErrBadRequest
		}
		on = d
	}
	var sub Subscription
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&sub).Where("sub.id = ?", c.Param("id")).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	if err != nil {
		return err
	}
	pdf, err := m.letterPDF(t, &sub, on)
	if err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "application/pdf")
	c.W.Header().Set("Content-Disposition", `attachment; filename="`+m.Msgs.For(langOf(t, &sub)).T("billing.contract.letter.file", "Reference", sub.Reference)+`"`)
	c.W.Header().Set("Cache-Control", "no-store")
	_, err = c.W.Write(pdf)
	return err
}

// letterPDF writes the firm's termination letter dated on.
func (m *Module) letterPDF(t sdk.Tenant, sub *Subscription, on Date) ([]byte, error) {
	lang := langOf(t, sub)
	loc := m.Msgs.For(lang)
	sender := seller(t)
	firm, address := sender.Name, sender.Street
	months := int(terminationNoticeMonths.Of(t))
	d := pdfdoc.New(loc.T("billing.contract.letter.title"), firm, on.In(zone(t)))
	d.Heading(firm, 12)
	if address != "" {
		d.Text(address)
	}
	if sender.Registration != "" {
		d.Text(sender.Registration)
	}
	d.Text("")
	d.Text(sub.ClientName)
	if sub.ContactName != "" {
		d.Text(sub.ContactName)
	}
	d.Text(sub.Street)
	d.Text(strings.TrimSpace(sub.Postcode + " " + sub.City))
	d.Text("")
	d.Text(loc.T("billing.contract.letter.dated", "Day", dayIn(lang, on)))
	d.Text(loc.T("billing.contract.letter.registered"))
	d.Heading(loc.T("billing.contract.letter.title"), 14)
	d.Pair(loc.T("billing.contract.letter.contract"), sub.Reference)
	d.Pair(loc.T("billing.contract.letter.since"), dayIn(lang, sub.StartsOn))
	d.Text(loc.T("billing.contract.letter.greeting"))
	d.Text(loc.T("billing.contract.letter.body", "Firm", firm, "Client", sub.ClientName, "Reference", sub.Reference))
	d.Text(loc.T("billing.contract.letter.notice", "Notice", loc.TN("billing.contract.months", months)))
	d.Text(loc.T("billing.contract.letter.end", "Notice", loc.TN("billing.contract.months", months), "End", dayIn(lang, terminationEnd(t, on))))
	d.Text(loc.T("billing.contract.letter.invoices"))
	d.Text(loc.T("billing.contract.letter.closing"))
	d.Text("")
	d.Text(firm)
	return d.Bytes()
}
