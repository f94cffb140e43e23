package eshop

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
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Claim states (E10).
const (
	claimPending  = "pending"
	claimAccepted = "accepted"
	claimRefused  = "refused"
)

// Claim is a customer's claim for the late-result discount (E10): the rule's percent of the
// test's price, decided by the lab; an accepted claim records the credit (AmountMinor).
type Claim struct {
	bun.BaseModel `bun:"table:eshop_result_claims,alias:rc"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	ResultID       string       `bun:"result_id"`
	UserID         string       `bun:"user_id"`
	State          string       `bun:"state"`
	Percent        int          `bun:"percent"`
	AmountMinor    int64        `bun:"amount_minor"`
	Currency       string       `bun:"currency"`
	Note           string       `bun:"note"`
	DecisionReason string       `bun:"decision_reason"`
	ClaimedAt      time.Time    `bun:"claimed_at"`
	DecidedAt      bun.NullTime `bun:"decided_at"`
	DecidedBy      string       `bun:"decided_by"`
}

// ShopComplaint is the shop's side of a complaint lodged in the core (E12, P10).
type ShopComplaint struct {
	bun.BaseModel `bun:"table:eshop_complaints,alias:sc"`

	TenantID     string       `bun:"tenant_id,pk"`
	ID           string       `bun:"id,pk"`
	ComplaintID  string       `bun:"complaint_id"`
	Reference    string       `bun:"reference"`
	OrderID      string       `bun:"order_id"`
	OrderNumber  string       `bun:"order_number"`
	UserID       string       `bun:"user_id"`
	About        string       `bun:"about"`   // quality, price
	Channel      string       `bun:"channel"` // web, letter, email
	DiscoveredOn string       `bun:"discovered_on"`
	LodgedOn     string       `bun:"lodged_on"`
	DueAt        time.Time    `bun:"due_at"`
	EnteredBy    string       `bun:"entered_by"`
	Remedy       string       `bun:"remedy"` // repair, repeat (a free repeat test), refund
	RemedyNote   string       `bun:"remedy_note"`
	RemediedAt   bun.NullTime `bun:"remedied_at"`
	RemediedBy   string       `bun:"remedied_by"`
	CreatedAt    time.Time    `bun:"created_at"`
	Body         string       `bun:"body"` // what the customer wrote
	// OutcomeSentAt: when the customer was told the outcome by e-mail (E12).
	OutcomeSentAt    bun.NullTime `bun:"outcome_sent_at"`
	OutcomeMessageID string       `bun:"outcome_message_id"`
}

var (
	errClaimClosed = errors.New("eshop: no claim can be made on this result")
	errClaimTwice  = errors.New("eshop: the result was already claimed")
)

// claimOpen: the late result may still be claimed at now (E10: within the rule's days of
// the day it was published late).
func claimOpen(t sdk.Tenant, r *Result, now time.Time) bool {
	if !r.Late || r.ClaimUntil == "" || r.PublishedAt.IsZero() {
		return false
	}
	return dayOf(t, now).Format(time.DateOnly) <= r.ClaimUntil
}

// claimAmount is the rule's percent of the test's price as ordered, rounded half up.
func claimAmount(t sdk.Tenant, r *Result) int64 {
	return (r.PriceMinor*lateResultDiscountPercent.Of(t)*2 + 100) / 200
}

// claimLate records userID's claim on late result itemID (E10), once per result (the key).
func (m *Module) claimLate(ctx context.Context, t sdk.Tenant, itemID, userID, note string) (*Claim, error) {
	r, err := m.resultOf(ctx, t, itemID, userID, true)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if !claimOpen(t, r, now) {
		return nil, errClaimClosed
	}
	cl := &Claim{TenantID: t.ID, ID: newID(), ResultID: r.ItemID, UserID: userID, State: claimPending, Percent: int(lateResultDiscountPercent.Of(t)),
		AmountMinor: claimAmount(t, r), Currency: r.Currency, Note: note, ClaimedAt: now}
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(cl).Exec(ctx)
		if store.IsUniqueViolation(err) {
			return errClaimTwice
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// decideClaim accepts (recording the credit) or refuses, with a reason, a pending claim;
// once (a guarded update). The customer is told by e-mail.
func (m *Module) decideClaim(ctx context.Context, t sdk.Tenant, claimID, staffID string, accept bool, reason string) (*Claim, error) {
	state := claimRefused
	if accept {
		state = claimAccepted
	}
	var cl Claim
	var r Result
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Claim)(nil)).Set("state = ?, decision_reason = ?, decided_at = ?, decided_by = ?", state, reason, m.now(), staffID).
			Where("id = ? AND state = ?", claimID, claimPending).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if err := sc.Select(&cl).Where("id = ?", claimID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return errAlreadyDone
		}
		if err := sc.Select(&cl).Where("id = ?", claimID).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&r).Where("item_id = ?", cl.ResultID).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	h := sdk.HostFrom(ctx)
	_ = h.Record(ctx, sdk.AuditRecord{Action: auditClaimDecided, Subject: cl.UserID, Resource: "eshop/claim/" + cl.ID,
		Detail: map[string]any{"test": r.TestName, "order": r.OrderNumber, "state": state}})
	if cl.UserID != "" {
		tmpl := tmplClaimRefused
		if accept {
			tmpl = tmplClaimAccepted
		}
		if _, err := h.Send(ctx, sdk.Message{UserID: cl.UserID, Template: tmpl, Link: "/eshop/results/" + r.ItemID,
			Data: map[string]any{"Tenant": t.Name, "Order": r.OrderNumber, "Test": r.TestName, "Percent": cl.Percent,
				"Amount": m.moneyText(t, cl.AmountMinor, cl.Currency), "Reason": reason}}); err != nil {
			return &cl, err
		}
	}
	return &cl, nil
}

// moneyText is an amount in the tenant's language (messages are rendered by the host, in
// the recipient's language; the amount is written in the tenant's).
func (m *Module) moneyText(t sdk.Tenant, minor int64, currency string) string {
	return view.New(m.Msgs.For(t.Locale), zone(t), t.Base, "").Money(minor, currency)
}

func (m *Module) claimPost(c *kit.Ctx) error {
	note := strings.TrimSpace(c.Form("note"))
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), c.User().ID, true)
	if err != nil {
		return err
	}
	if len(note) > 2000 {
		v, err := m.resultView(c, r)
		if err != nil {
			return err
		}
		v.Errors["note"], v.Values["note"] = "eshop.err.too_long", note
		return kit.Invalid("result_page", v)
	}
	_, err = m.claimLate(c.Context(), c.Tenant(), r.ItemID, c.User().ID, note)
	switch {
	case errors.Is(err, errClaimClosed):
		return c.Redirect("/eshop/results/"+r.ItemID, "claim_closed")
	case errors.Is(err, errClaimTwice):
		return c.Redirect("/eshop/results/"+r.ItemID, "claim_twice")
	case err != nil:
		return err
	}
	return c.Redirect("/eshop/results/"+r.ItemID, "claim_sent")
}

// claimRow is a claim in the lab's queue with its result.
type claimRow struct {
	Claim  Claim
	Result Result
}

func (m *Module) claimRows(c *kit.Ctx) ([]claimRow, error) {
	var rows []claimRow
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var cls []Claim
		if err := sc.Select(&cls).Where("state = ?", claimPending).Order("claimed_at").Limit(200).Scan(ctx); err != nil || len(cls) == 0 {
			return err
		}
		ids := make([]string, len(cls))
		for i, cl := range cls {
			ids[i] = cl.ResultID
		}
		var rs []Result
		if err := sc.Select(&rs).Where("item_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
			return err
		}
		by := map[string]Result{}
		for _, r := range rs {
			by[r.ItemID] = r
		}
		for _, cl := range cls {
			rows = append(rows, claimRow{Claim: cl, Result: by[cl.ResultID]})
		}
		return nil
	})
	return rows, err
}

func (m *Module) claimsPage(c *kit.Ctx) error {
	rows, err := m.claimRows(c)
	if err != nil {
		return err
	}
	v := c.View("eshop.claims.title")
	v.Data["Rows"], v.Data["Failed"] = rows, ""
	return c.Render(http.StatusOK, "claim_queue", v)
}

func (m *Module) decidePost(c *kit.Ctx) error {
	decision, reason := c.Form("decision"), strings.TrimSpace(c.Form("reason"))
	errs := map[string]string{}
	if decision != "accept" && decision != "refuse" {
		errs["decision"] = "eshop.claims.err.decision"
	}
	if decision == "refuse" && reason == "" {
		errs["reason"] = "eshop.claims.err.reason"
	}
	if len(reason) > 2000 {
		errs["reason"] = "eshop.err.too_long"
	}
	if len(errs) > 0 {
		rows, err := m.claimRows(c)
		if err != nil {
			return err
		}
		v := c.View("eshop.claims.title")
		v.Data["Rows"], v.Data["Failed"] = rows, c.Param("id")
		for k, e := range errs {
			v.Errors[k] = e
		}
		v.Values["reason"] = reason
		return kit.Invalid("claim_queue", v)
	}
	_, err := m.decideClaim(c.Context(), c.Tenant(), c.Param("id"), c.User().ID, decision == "accept", reason)
	switch {
	case errors.Is(err, errAlreadyDone):
		return c.Redirect("/eshop/lab/claims", "claim_already")
	case err != nil:
		return err
	}
	return c.Redirect("/eshop/lab/claims", "claim_decided")
}

// ---- complaints (E12, P10) ----

var complaintAbouts = []string{"quality", "price"}
var remedies = []string{"repair", "repeat", "refund"}

// complaintInput is a complaint as a form gives it.
type complaintInput struct {
	Order      string // the order number
	About      string
	Discovered string // "2006-01-02"
	Lodged     string // staff entry: the letter's or e-mail's day
	Channel    string
	Body       string
}

// lodgeComplaint checks a complaint and lodges it in the core's queue with the tenant's
// deadline (E12: lodged within the rule's days of the discovery, settled within the rule's
// days of being lodged), then records the shop's side. userID: the customer's own form
// (the order must be his); "" for staff entering a letter or e-mail.
func (m *Module) lodgeComplaint(ctx context.Context, t sdk.Tenant, in complaintInput, userID, staffID string) (*ShopComplaint, kit.FieldErrors, error) {
	errs := kit.FieldErrors{}
	var o Order
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		q := sc.Select(&o).Where("number = ?", strings.TrimSpace(in.Order))
		if userID != "" {
			q = q.Where("user_id = ?", userID)
		}
		return q.Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		errs["order"] = "eshop.complaint.err.order"
	} else if err != nil {
		return nil, nil, err
	}
	if !oneOf(in.About, complaintAbouts) {
		errs["about"] = "eshop.complaint.err.about"
	}
	today := dayOf(t, m.now())
	lodged := today
	if userID == "" {
		if !oneOf(in.Channel, []string{"letter", "email"}) {
			errs["channel"] = "eshop.complaint.err.channel"
		}
		d, err := time.Parse(time.DateOnly, in.Lodged)
		switch {
		case err != nil:
			errs["lodged"] = "eshop.complaint.err.date"
		case d.After(today):
			errs["lodged"] = "eshop.complaint.err.future"
		default:
			lodged = d
		}
	} else {
		in.Channel = "web"
	}
	disc, err := time.Parse(time.DateOnly, in.Discovered)
	switch {
	case err != nil:
		errs["discovered"] = "eshop.complaint.err.date"
	case disc.After(lodged):
		errs["discovered"] = "eshop.complaint.err.future"
	case o.ID != "" && disc.Before(dayOf(t, o.SubmittedAt)):
		errs["discovered"] = "eshop.complaint.err.before_order"
	case lodged.Sub(disc) > time.Duration(complaintLodgeDays.Of(t))*24*time.Hour:
		errs["discovered"] = "eshop.complaint.err.too_late"
	}
	body := strings.TrimSpace(in.Body)
	if body == "" {
		errs["body"] = "eshop.complaint.err.body"
	} else if len(body) > 5000 {
		errs["body"] = "eshop.err.too_long"
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	// The deadline runs from the day it was lodged, to the end of that day in the tenant's zone.
	y, mo, d := lodged.AddDate(0, 0, int(complaintSettleDays.Of(t))+1).Date()
	due := time.Date(y, mo, d, 0, 0, 0, 0, zone(t)).Add(-time.Second).UTC()
	cp, err := sdk.HostFrom(ctx).Lodge(ctx, sdk.Complaint{Category: in.About, Body: body, ReplyTo: o.Email, UserID: o.UserID, Due: due})
	var fe sdk.FieldErrors
	if errors.As(err, &fe) {
		out := kit.FieldErrors{}
		for k, v := range fe {
			out[k] = v
		}
		return nil, out, nil
	}
	if err != nil {
		return nil, nil, err
	}
	sh := &ShopComplaint{TenantID: t.ID, ID: newID(), ComplaintID: cp.ID, Reference: cp.Reference, OrderID: o.ID, OrderNumber: o.Number, UserID: o.UserID,
		About: in.About, Channel: in.Channel, DiscoveredOn: disc.Format(time.DateOnly), LodgedOn: lodged.Format(time.DateOnly), DueAt: cp.Due,
		EnteredBy: staffID, CreatedAt: m.now(), Body: body}
	if sh.DueAt.IsZero() || sh.DueAt.Unix() == 0 {
		sh.DueAt = due
	}
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(sh).Exec(ctx)
		return err
	})
	return sh, nil, err
}

func complaintFrom(c *kit.Ctx) complaintInput {
	return complaintInput{Order: strings.TrimSpace(c.Form("order")), About: c.Form("about"), Discovered: c.Form("discovered"),
		Lodged: c.Form("lodged"), Channel: c.Form("channel"), Body: c.Form("body")}
}

func (m *Module) complaintForm(c *kit.Ctx) error {
	v := c.View("eshop.complaint.title")
	v.Values["order"] = c.Query("order")
	v.Data["LodgeDays"], v.Data["SettleDays"] = complaintLodgeDays.Of(c.Tenant()), complaintSettleDays.Of(c.Tenant())
	return c.Render(http.StatusOK, "claim_complaint", v)
}

func (m *Module) complaintPost(c *kit.Ctx) error {
	in := complaintFrom(c)
	sh, fe, err := m.lodgeComplaint(c.Context(), c.Tenant(), in, c.User().ID, "")
	if err != nil {
		return err
	}
	v := c.View("eshop.complaint.title")
	v.Data["LodgeDays"], v.Data["SettleDays"] = complaintLodgeDays.Of(c.Tenant()), complaintSettleDays.Of(c.Tenant())
	if fe != nil {
		v.Values["order"], v.Values["about"], v.Values["discovered"], v.Values["body"] = in.Order, in.About, in.Discovered, in.Body
		for k, e := range fe {
			v.Errors[k] = e
		}
		return kit.Invalid("claim_complaint", v)
	}
	v.Data["Lodged"] = sh
	return c.Render(http.StatusOK, "claim_complaint", v)
}

func (m *Module) labComplaintsView(c *kit.Ctx) (*kit.View, error) {
	var rows, settled []ShopComplaint
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&rows).Order("due_at").Limit(200).Where("remedy = ''").Scan(ctx); err != nil {
			return err
		}
		// The settled ones stay in view, the latest first.
		return sc.Select(&settled).Order("remedied_at DESC").Limit(100).Where("remedy <> ''").Scan(ctx)
	}); err != nil {
		return nil, err
	}
	v := c.View("eshop.lab_complaints.title")
	v.Data["Rows"], v.Data["Settled"], v.Data["Failed"] = rows, settled, ""
	return v, nil
}

func (m *Module) labComplaintsPage(c *kit.Ctx) error {
	v, err := m.labComplaintsView(c)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "claim_lab_complaints", v)
}

func (m *Module) labComplaintPost(c *kit.Ctx) error {
	in := complaintFrom(c)
	_, fe, err := m.lodgeComplaint(c.Context(), c.Tenant(), in, "", c.User().ID)
	if err != nil {
		return err
	}
	if fe != nil {
		v, err := m.labComplaintsView(c)
		if err != nil {
			return err
		}
		v.Values["order"], v.Values["about"], v.Values["discovered"], v.Values["lodged"], v.Values["channel"], v.Values["body"] =
			in.Order, in.About, in.Discovered, in.Lodged, in.Channel, in.Body
		for k, e := range fe {
			v.Errors[k] = e
		}
		return kit.Invalid("claim_lab_complaints", v)
	}
	return c.Redirect("/eshop/lab/complaints", "complaint_entered")
}

// recordRemedy records the remedy the lab chose for a complaint (E12), once.
func (m *Module) recordRemedy(ctx context.Context, t sdk.Tenant, id, staffID, remedy, note string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*ShopComplaint)(nil)).Set("remedy = ?, remedy_note = ?, remedied_at = ?, remedied_by = ?", remedy, note, m.now(), staffID).
			Where("id = ? AND remedy = ''", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// Not this tenant's complaint at all, or one whose remedy is already recorded:
			// the first is no one's business here.
			if ok, err := sc.Select((*ShopComplaint)(nil)).Where("id = ?", id).Exists(ctx); err != nil {
				return err
			} else if !ok {
				return kit.ErrNotFound
			}
			return errAlreadyDone
		}
		return nil
	})
}

func (m *Module) remedyPost(c *kit.Ctx) error {
	remedy, note := c.Form("remedy"), strings.TrimSpace(c.Form("note"))
	if !oneOf(remedy, remedies) || len(note) > 2000 {
		v, err := m.labComplaintsView(c)
		if err != nil {
			return err
		}
		v.Data["Failed"] = c.Param("id")
		if len(note) > 2000 {
			v.Errors["note"] = "eshop.err.too_long"
		} else {
			v.Errors["remedy"] = "eshop.lab_complaints.err.remedy"
		}
		return kit.Invalid("claim_lab_complaints", v)
	}
	err := m.recordRemedy(c.Context(), c.Tenant(), c.Param("id"), c.User().ID, remedy, note)
	if errors.Is(err, errAlreadyDone) {
		return c.Redirect("/eshop/lab/complaints", "remedy_already")
	}
	if err != nil {
		return err
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditComplaintRemedy, Resource: "eshop/complaint/" + c.Param("id"),
		Detail: map[string]any{"remedy": remedy}})
	if err := m.sendComplaintOutcome(c.Context(), c.Tenant(), c.Param("id")); err != nil {
		return fmt.Errorf("complaint %s: tell the customer the outcome: %w", c.Param("id"), err)
	}
	return c.Redirect("/eshop/lab/complaints", "remedy_recorded")
}

// sendComplaintOutcome e-mails the customer how his complaint was settled (E12: the terms
// promise the reply by e-mail), in his order's language, once: the complaint remembers the
// message. A complaint whose order is gone is only marked.
func (m *Module) sendComplaintOutcome(ctx context.Context, t sdk.Tenant, id string) error {
	var sh ShopComplaint
	var o Order
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&sh).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&o).Where("id = ?", sh.OrderID).Scan(ctx)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if sh.Remedy == "" || !sh.OutcomeSentAt.IsZero() {
		return nil
	}
	msgID := ""
	if o.ID != "" && (o.UserID != "" || o.Email != "") {
		lang := staffLang(t, &o)
		loc := m.Msgs.For(lang)
		data := map[string]any{"Tenant": t.Name, "Order": o.Number, "Reference": sh.Reference,
			"Lodged": locales.FormatDate(lang, mustDay(sh.LodgedOn), time.UTC), "Remedy": loc.T("eshop.lab_complaints.remedy." + sh.Remedy), "Note": sh.RemedyNote}
		if msgID, err = sdk.HostFrom(ctx).Send(ctx, sdk.Message{UserID: o.UserID, To: recipientTo(&o), Template: tmplComplaintSettled,
			Link: "/eshop/orders/" + o.ID, Data: data}); err != nil {
			return err
		}
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*ShopComplaint)(nil)).Set("outcome_sent_at = ?", m.now()).Set("outcome_message_id = ?", msgID).
			Where("id = ? AND outcome_sent_at IS NULL", id).Exec(ctx)
		return err
	})
}

// mustDay reads a "2006-01-02" day (stored by this module; the zero day if not).
func mustDay(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

// acceptedCredits is what the lab credited on order orderID for late results (E10): the sum
// of its accepted claims, in the caller's transaction — for the payment part's credit note
// or refund.
func (m *Module) acceptedCredits(ctx context.Context, sc *store.Scope, orderID string) (int64, error) {
	var sum int64
	err := sc.Select((*Claim)(nil)).ColumnExpr("COALESCE(SUM(rc.amount_minor), 0)").Where("rc.state = ?", claimAccepted).
		Where("rc.result_id IN (?)", sc.Select((*Result)(nil)).Column("item_id").Where("order_id = ?", orderID)).Scan(ctx, &sum)
	return sum, err
}
