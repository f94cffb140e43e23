package eshop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
)

// The staff part's rules (E7, E8, E13), beside the shared rescheduleNoticeWorkingDays and
// arrivalToleranceMinutes.
var (
	// E7: the lab answers a reschedule request by the end of this many working days after it.
	rescheduleAnswerWorkingDays = kit.Int("eshop.reschedule_answer_working_days", 1, 0, 30, "E7")
	// E7: the customer picks one of the offered times by the end of this many working days
	// after the offer, or the original stands.
	reschedulePickWorkingDays = kit.Int("eshop.reschedule_pick_working_days", 1, 0, 30, "E7")
	// E7: how many free times the lab offers.
	rescheduleOfferCount = kit.Int("eshop.reschedule_offer_count", 3, 1, 3, "E7")
	// E8: the lab keeps a slot when it samples within this many minutes of it.
	labToleranceMinutes = kit.Int("eshop.lab_tolerance_minutes", 120, 0, 1440, "E8")
	// E13: customers are told of force majeure within this many working days of its start.
	forceMajeureNoticeWorkingDays = kit.Int("eshop.force_majeure_notice_working_days", 3, 0, 30, "E13")
)

// Messages of the staff part.
const (
	tmplRescheduleReceived  = "eshop.reschedule_received"
	tmplRescheduleRefused   = "eshop.reschedule_refused"
	tmplRescheduleOffer     = "eshop.reschedule_offer"
	tmplRescheduleConfirmed = "eshop.reschedule_confirmed"
	tmplRescheduleLapsed    = "eshop.reschedule_lapsed"
	tmplLabCancelled        = "eshop.lab_cancelled"
	tmplWithdrawn           = "eshop.withdrawn"
	tmplForceMajeure        = "eshop.force_majeure"
)

// Audit actions of the staff part: every staff decision (E7–E9, E13).
const (
	auditRescheduleRefused = "eshop.reschedule_refused"
	auditRescheduleOffered = "eshop.reschedule_offered"
	auditRescheduleMoved   = "eshop.reschedule_moved"
	auditCheckedIn         = "eshop.item_checked_in"
	auditSampled           = "eshop.item_sampled"
	auditNoShow            = "eshop.item_no_show"
	auditRefused           = "eshop.item_refused"
	auditLateRefused       = "eshop.item_late_refused"
	auditLabCancelled      = "eshop.item_cancelled_by_lab"
	auditWithdrawn         = "eshop.order_withdrawn"
	auditForceMajeure      = "eshop.force_majeure_recorded"
)

// Jobs of the staff part: each durable one-off job has its cron sweep as a safety net.
const (
	jobOfferLapse       = "eshop.reschedule_offer_lapse"
	jobSweepOffers      = "eshop.sweep_reschedule_offers"
	jobNotifyFM         = "eshop.force_majeure_notify"
	jobSweepFM          = "eshop.sweep_force_majeure"
	staffDateTimeLayout = "2006-01-02T15:04"
)

// Withdrawal is the lab's withdrawal from an order (E9, E13).
type Withdrawal struct {
	bun.BaseModel `bun:"table:eshop_withdrawals,alias:wd"`

	TenantID      string       `bun:"tenant_id,pk"`
	OrderID       string       `bun:"order_id,pk"`
	Reason        string       `bun:"reason"`
	Note          string       `bun:"note"`
	CustomerFault bool         `bun:"customer_fault"`
	ForfeitMinor  int64        `bun:"forfeit_minor"`
	RefundMinor   int64        `bun:"refund_minor"`
	DecidedBy     string       `bun:"decided_by"`
	DecidedAt     time.Time    `bun:"decided_at"`
	NoticeSentAt  bun.NullTime `bun:"notice_sent_at"`
	MessageID     string       `bun:"message_id"`
}

// LabCancellation is the lab's cancellation of an item's slot with the alternative it held
// (E8).
type LabCancellation struct {
	bun.BaseModel `bun:"table:eshop_lab_cancellations,alias:lc"`

	TenantID        string       `bun:"tenant_id,pk"`
	ID              string       `bun:"id,pk"`
	ItemID          string       `bun:"item_id"`
	OrderID         string       `bun:"order_id"`
	OriginalAt      time.Time    `bun:"original_at"`
	NewAt           time.Time    `bun:"new_at"`
	WithinTolerance bool         `bun:"within_tolerance"`
	Reason          string       `bun:"reason"`
	DecidedBy       string       `bun:"decided_by"`
	DecidedAt       time.Time    `bun:"decided_at"`
	NotifiedAt      bun.NullTime `bun:"notified_at"`
}

// ForceMajeure is a period of force majeure (E13).
type ForceMajeure struct {
	bun.BaseModel `bun:"table:eshop_force_majeure,alias:fm"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	StartsAt    time.Time    `bun:"starts_at"`
	EndsAt      time.Time    `bun:"ends_at"`
	Description string       `bun:"description"`
	RecordedBy  string       `bun:"recorded_by"`
	RecordedAt  time.Time    `bun:"recorded_at"`
	NotifyBy    time.Time    `bun:"notify_by"`
	NotifiedAt  bun.NullTime `bun:"notified_at"`
}

// fmNotice claims the notice of one period to one order: whoever inserts it sends.
type fmNotice struct {
	bun.BaseModel `bun:"table:eshop_force_majeure_notices,alias:fmn"`

	TenantID string    `bun:"tenant_id,pk"`
	PeriodID string    `bun:"period_id,pk"`
	OrderID  string    `bun:"order_id,pk"`
	SentAt   time.Time `bun:"sent_at"`
}

// staffModels are the staff part's tables (its tests check they are tenant tables).
var staffModels = []any{(*Reschedule)(nil), (*Attendance)(nil), (*LabCancellation)(nil), (*Withdrawal)(nil), (*ForceMajeure)(nil), (*fmNotice)(nil)}

// staffPart: the collection point's work — rescheduling (E7), attendance and refusals (E8,
// E9), the lab's cancellation and withdrawal, force majeure (E13).
func (m *Module) staffPart() part {
	return part{
		Routes: []kit.Route{
			// E7: the customer's side.
			kit.Perm("GET /eshop/orders/{id}/reschedule", permOrder, m.reschedulePage),
			kit.Perm("POST /eshop/orders/{id}/reschedule", permOrder, m.requestReschedule).Multiline("reasons", "preferences"),
			kit.Perm("POST /eshop/orders/{id}/reschedule/pick", permOrder, m.pickReschedule),
			// E7: the staff's queue.
			kit.Perm("GET /eshop/staff/reschedules", permSampling, m.rescheduleQueue),
			kit.Perm("POST /eshop/staff/reschedules/{id}/refuse", permSampling, m.refuseReschedule).Multiline("refusal"),
			kit.Perm("POST /eshop/staff/reschedules/{id}/offer", permSampling, m.offerReschedule),
			// E8, E9: the day at a collection point.
			kit.Perm("GET /eshop/staff", permSampling, m.staffDay).Lands(1),
			kit.Perm("POST /eshop/staff/items/{id}/checkin", permSampling, m.checkIn),
			kit.Perm("POST /eshop/staff/items/{id}/sampled", permSampling, m.markSampled),
			kit.Perm("POST /eshop/staff/items/{id}/no-show", permSampling, m.markNoShow),
			kit.Perm("POST /eshop/staff/items/{id}/late-refuse", permSampling, m.lateRefuse),
			kit.Perm("POST /eshop/staff/items/{id}/refuse", permSampling, m.refuseSampling).Multiline("note"),
			kit.Perm("POST /eshop/staff/items/{id}/cancel", permSampling, m.labCancel).Multiline("reason"),
			kit.Perm("POST /eshop/staff/orders/{id}/withdraw", permSampling, m.withdrawOrder).Multiline("note"),
			// E13.
			kit.Perm("GET /eshop/staff/force-majeure", permSampling, m.forceMajeurePage),
			kit.Perm("POST /eshop/staff/force-majeure", permSampling, m.recordForceMajeure).Multiline("description"),
			// The same for the tenant's administrator and the shop manager.
			kit.Perm("GET /eshop/manage/force-majeure", permManage, m.forceMajeurePage),
			kit.Perm("POST /eshop/manage/force-majeure", permManage, m.recordForceMajeure).Multiline("description"),
		},
		Rules: []kit.Rule{rescheduleAnswerWorkingDays, reschedulePickWorkingDays, rescheduleOfferCount, labToleranceMinutes, forceMajeureNoticeWorkingDays},
		Jobs: []kit.Job{
			{Name: jobOfferLapse, Run: m.runOfferLapse}, {Name: jobSweepOffers, Cron: "*/15 * * * *", Run: m.sweepOffers},
			{Name: jobNotifyFM, Run: m.runNotifyFM}, {Name: jobSweepFM, Cron: "7 * * * *", Run: m.sweepFM},
		},
		Notifications: []string{tmplRescheduleReceived, tmplRescheduleRefused, tmplRescheduleOffer, tmplRescheduleConfirmed, tmplRescheduleLapsed,
			tmplLabCancelled, tmplWithdrawn, tmplForceMajeure},
		Forget: m.forgetStaff,
		Export: m.exportStaff,
		AuditActions: []string{auditRescheduleRefused, auditRescheduleOffered, auditRescheduleMoved, auditCheckedIn, auditSampled, auditNoShow,
			auditRefused, auditLateRefused, auditLabCancelled, auditWithdrawn, auditForceMajeure},
	}
}

// ---- working days (Slovak, or the tenant's country) ----

// workCalendar is the working days of the tenant's country (Slovak by default).
func workCalendar(t sdk.Tenant) *cal.BusinessCalendar {
	return workdays.Calendar(countryOf(t), 8, 16)
}

// dayStart is the start of x's calendar day in the tenant's zone.
func dayStart(t sdk.Tenant, x time.Time) time.Time {
	l := x.In(zone(t))
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location())
}

// staffIsWorkday reports whether day (a start of day in the tenant's zone) is a working day.
func staffIsWorkday(c *cal.BusinessCalendar, day time.Time) bool {
	return c.IsWorkday(day.Add(12 * time.Hour))
}

// endOfWorkingDaysAfter is the end (the next midnight, UTC) of the nth working day after
// from's day; n = 0: the end of from's own day.
func endOfWorkingDaysAfter(t sdk.Tenant, from time.Time, n int) time.Time {
	c := workCalendar(t)
	d := dayStart(t, from)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if staffIsWorkday(c, d) {
			n--
		}
	}
	return d.AddDate(0, 0, 1).UTC()
}

// rescheduleDeadline is when a reschedule request for a slot at original comes too late
// (E7): the end of the nth working day before the original's day.
func rescheduleDeadline(t sdk.Tenant, original time.Time, n int) time.Time {
	c := workCalendar(t)
	d := dayStart(t, original)
	for n > 0 {
		d = d.AddDate(0, 0, -1)
		if staffIsWorkday(c, d) {
			n--
		}
	}
	if n == 0 && d.Equal(dayStart(t, original)) {
		return original.UTC()
	}
	return d.AddDate(0, 0, 1).UTC()
}

// extendedByFM is deadline extended by the days of force majeure between from and it (E13).
func (m *Module) extendedByFM(ctx context.Context, sc *store.Scope, from, deadline time.Time) (time.Time, error) {
	days, err := m.forceMajeureDays(ctx, sc, from, deadline)
	if err != nil {
		return deadline, err
	}
	return deadline.AddDate(0, 0, days), nil
}

// forceMajeureDays is the number of days of force majeure the tenant recorded that overlap
// [from, to): every deadline running over them, the turnaround time included, is extended by
// it (E13). Overlapping periods count once; a part of a day counts as a day.
func (m *Module) forceMajeureDays(ctx context.Context, sc *store.Scope, from, to time.Time) (int, error) {
	if !to.After(from) {
		return 0, nil
	}
	var ps []ForceMajeure
	if err := sc.Select(&ps).Where("starts_at < ? AND ends_at > ?", to.UTC(), from.UTC()).Order("starts_at").Scan(ctx); err != nil {
		return 0, err
	}
	var total time.Duration
	var curS, curE time.Time
	for i, p := range ps {
		s, e := p.StartsAt, p.EndsAt
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if i == 0 || s.After(curE) {
			total += curE.Sub(curS)
			curS, curE = s, e
			continue
		}
		if e.After(curE) {
			curE = e
		}
	}
	total += curE.Sub(curS)
	if total <= 0 {
		return 0, nil
	}
	days := int(total / (24 * time.Hour))
	if total%(24*time.Hour) != 0 {
		days++
	}
	return days, nil
}

// ---- shared helpers ----

// staffLang is the language of the order's customer: the order's, else the tenant's.
func staffLang(t sdk.Tenant, o *Order) string {
	if o.Locale != "" && locales.IsSupported(o.Locale) {
		return o.Locale
	}
	return t.Locale
}

// when writes an instant for lang in the tenant's zone.
func staffWhen(t sdk.Tenant, lang string, x time.Time) string {
	return locales.FormatDateTime(lang, x, zone(t))
}

// staffTime reads a "2006-01-02T15:04" time of the tenant's zone.
func staffTime(t sdk.Tenant, s string) (time.Time, bool) {
	x, err := time.ParseInLocation(staffDateTimeLayout, strings.TrimSpace(s), zone(t))
	if err != nil {
		return time.Time{}, false
	}
	return x.UTC(), true
}

// record appends a staff decision to the audit trail (about the order's customer).
func (m *Module) record(c *kit.Ctx, action string, o *Order, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["order"] = o.Number
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Subject: o.UserID, Resource: "eshop_order:" + o.ID, Detail: detail}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// staffOrder reads an order of the tenant.
func staffOrder(ctx context.Context, sc *store.Scope, id string) (*Order, error) {
	var o Order
	if err := sc.Select(&o).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, kit.ErrNotFound
		}
		return nil, err
	}
	return &o, nil
}

// staffItem reads an order item and its order.
func staffItem(ctx context.Context, sc *store.Scope, id string) (*OrderItem, *Order, error) {
	var it OrderItem
	if err := sc.Select(&it).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, kit.ErrNotFound
		}
		return nil, nil, err
	}
	o, err := staffOrder(ctx, sc, it.OrderID)
	return &it, o, err
}

// send sends a message of tmpl to the order's customer at his login e-mail (E13: everything
// the lab sends goes there); an order without an account (deleted since, or a demo visitor's)
// at the order's e-mail.
func (m *Module) sendTo(ctx context.Context, o *Order, tmpl, link string, data map[string]any) (string, error) {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return "", errors.New("eshop: no HostAPI to send " + tmpl)
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Order"] = o.Number
	return h.Send(ctx, sdk.Message{UserID: o.UserID, To: recipientTo(o), Template: tmpl, Link: link, Data: data})
}

// ---- withdrawal (E9, E13) ----

// withdrawReasons: the lab withdraws for the customer's reasons (a refusal of E9, a breach
// of the terms) — the price and fee are forfeited — or for its own.
var withdrawReasons = map[string]bool{"refused_sampling": true, "late": true, "breach": true, "lab": true}

// withdrawOrder is the staff's decision to withdraw from a paid order (E9, E13): a notice
// goes to the customer's login e-mail, and the withdrawal takes effect when it was sent
// (recorded); for the customer's reasons the price and the fee are forfeited, otherwise the
// amount paid is due back. Once per order (its key).
func (m *Module) withdrawOrder(c *kit.Ctx) error {
	t := c.Tenant()
	reason, note := c.Form("reason"), strings.TrimSpace(c.Form("note"))
	var o *Order
	var items []OrderItem
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if o, err = staffOrder(ctx, sc, c.Param("id")); err != nil {
			return err
		}
		return sc.Select(&items).Where("order_id = ?", o.ID).Scan(ctx)
	}); err != nil {
		return err
	}
	errs := withdrawReasons[reason] && len(note) <= 2000
	if !errs {
		return kit.ErrBadRequest
	}
	if !withdrawable(o, items) {
		return c.Redirect(staffBack(c), "staff_not_done")
	}
	lang := staffLang(t, o)
	w := &Withdrawal{TenantID: t.ID, OrderID: o.ID, Reason: reason, Note: note, CustomerFault: reason != "lab",
		DecidedBy: c.User().ID, DecidedAt: m.now()}
	if w.CustomerFault {
		w.ForfeitMinor = o.TotalMinor
	} else {
		w.RefundMinor = o.DueMinor
	}
	// The decision is claimed first (one per order), then the notice goes; the order is
	// withdrawn only once it went.
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Insert(w).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errStaffMoved
		}
		return nil
	})
	if errors.Is(err, errStaffMoved) {
		return c.Redirect(staffBack(c), "staff_not_done")
	}
	if err != nil {
		return err
	}
	loc := m.Msgs.For(lang)
	data := map[string]any{"Reason": loc.T("eshop.withdraw.reason." + reason), "Note": note}
	if w.CustomerFault {
		data["Money"] = loc.T("eshop.withdraw.forfeited", "Amount", locales.FormatMoney(lang, o.TotalMinor, o.Currency))
	} else {
		data["Money"] = loc.T("eshop.withdraw.refund", "Amount", locales.FormatMoney(lang, o.DueMinor, o.Currency))
	}
	msgID, err := m.sendTo(c.Context(), o, tmplWithdrawn, "/eshop/orders/"+o.ID, data)
	if err != nil {
		if derr := c.In(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*Withdrawal)(nil)).Where("order_id = ? AND notice_sent_at IS NULL", o.ID).Exec(ctx)
			return err
		}); derr != nil {
			m.Log.Error("eshop: withdrawal kept after its notice failed", "order", o.ID, "err", derr.Error())
		}
		return fmt.Errorf("withdraw order %s: send the notice: %w", o.ID, err)
	}
	sent := m.now()
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*Withdrawal)(nil)).Set("notice_sent_at = ?", sent).Set("message_id = ?", msgID).Where("order_id = ?", o.ID).Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Update((*Order)(nil)).Set("status = ?", orderWithdrawn).Where("id = ? AND status IN (?)", o.ID, bun.In([]string{orderPaid, orderCompleted})).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("order %s left the paid state while its withdrawal was sent", o.ID)
		}
		// The places still held for its items are freed, and the items say so (released: the
		// customer's page does not show a withdrawn order's slot as still booked).
		for _, it := range items {
			if it.Status == itemBooked || it.Status == itemCheckedIn {
				if _, err := m.releaseHold(ctx, sc, it.HoldID); err != nil {
					return err
				}
				if _, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemReleased).Set("hold_id = ''").
					Where("id = ? AND status IN (?)", it.ID, bun.In([]string{itemBooked, itemCheckedIn})).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := m.record(c, auditWithdrawn, o, map[string]any{"reason": loc.T("eshop.withdraw.reason." + reason)}); err != nil {
		return err
	}
	return c.Redirect(staffBack(c), "staff_withdrawn")
}

// withdrawable: the lab may withdraw from a paid order, and from one completed because its
// every item ended at the collection point (a refusal of E9 ends the item, and then the
// order) — not from one with a result published.
func withdrawable(o *Order, items []OrderItem) bool {
	switch o.Status {
	case orderPaid:
		return true
	case orderCompleted:
		for _, it := range items {
			if it.Status == itemPublished {
				return false
			}
		}
		return true
	}
	return false
}

// errStaffMoved: the thing changed state meanwhile (a guarded update touched no row).
var errStaffMoved = errors.New("eshop: state changed meanwhile")

// staffBack is where a staff form goes back to: its "back" field when it is a staff page.
func staffBack(c *kit.Ctx) string {
	if b := c.Form("back"); strings.HasPrefix(b, "/eshop/staff") && !strings.Contains(b, "//") {
		return b
	}
	return "/eshop/staff"
}

// ---- force majeure (E13) ----

// forceMajeurePage lists the periods recorded and the form to record one.
func (m *Module) forceMajeurePage(c *kit.Ctx) error {
	v := c.View("eshop.fm.title")
	v.Data["Action"] = c.R.URL.Path
	var ps []ForceMajeure
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&ps).Order("starts_at DESC").Limit(100).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Periods"] = ps
	return c.Render(http.StatusOK, "staff_fm", v)
}

// recordForceMajeure records a period (start, end, description), and schedules the notice to
// its customers at once (the sweep is the safety net).
func (m *Module) recordForceMajeure(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.fm.title")
	v.Data["Action"] = c.R.URL.Path
	for _, f := range []string{"starts", "ends", "description"} {
		v.Values[f] = c.Form(f)
	}
	start, okS := staffTime(t, c.Form("starts"))
	end, okE := staffTime(t, c.Form("ends"))
	desc := strings.TrimSpace(c.Form("description"))
	if !okS {
		v.Errors["starts"] = "eshop.staff.err.datetime"
	}
	if !okE {
		v.Errors["ends"] = "eshop.staff.err.datetime"
	} else if okS && !end.After(start) {
		v.Errors["ends"] = "eshop.fm.err.order"
	}
	if desc == "" {
		v.Errors["description"] = "eshop.staff.err.required"
	} else if len(desc) > 2000 {
		v.Errors["description"] = "eshop.staff.err.too_long"
	}
	if len(v.Errors) > 0 {
		var ps []ForceMajeure
		if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&ps).Order("starts_at DESC").Limit(100).Scan(ctx)
		}); err != nil {
			return err
		}
		v.Data["Periods"] = ps
		return kit.Invalid("staff_fm", v)
	}
	p := &ForceMajeure{TenantID: t.ID, ID: newID(), StartsAt: start, EndsAt: end, Description: desc, RecordedBy: c.User().ID, RecordedAt: m.now(),
		NotifyBy: endOfWorkingDaysAfter(t, start, int(forceMajeureNoticeWorkingDays.Of(t)))}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(p).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditForceMajeure, Resource: "eshop_force_majeure:" + p.ID,
		Detail: map[string]any{"from_date": dayStart(t, start).Format("2006-01-02"), "to_date": dayStart(t, end).Format("2006-01-02"), "description": desc}}); err != nil {
		return err
	}
	if _, err := c.Host().Schedule(c.Context(), sdk.Job{Name: jobNotifyFM, Key: "eshop-fm:" + p.ID, At: m.now(), Payload: []byte(p.ID)}); err != nil {
		return err
	}
	return c.Redirect(c.R.URL.Path, "staff_fm_recorded")
}

func (m *Module) runNotifyFM(ctx context.Context, job *sdk.Job) error {
	_, err := m.notifyFM(ctx, job.Tenant, string(job.Payload))
	return err
}

// sweepFM sends the notices of the periods whose job did not finish.
func (m *Module) sweepFM(ctx context.Context, job *sdk.Job) error {
	var ids []string
	if err := m.Read(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*ForceMajeure)(nil)).Column("id").Where("notified_at IS NULL").Limit(100).Scan(ctx, &ids)
	}); err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := m.notifyFM(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// notifyFM tells every customer with a paid order whose items are in the period, or still
// waiting for sampling or a result while it runs, of the force majeure and of the deadlines
// extended by its length (E13); one notice per order (claimed by its key). It returns how
// many it sent.
func (m *Module) notifyFM(ctx context.Context, t sdk.Tenant, id string) (int, error) {
	var p ForceMajeure
	var orders []Order
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&p).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&orders).Where("status = ?", orderPaid).
			Where("EXISTS (SELECT 1 FROM eshop_order_items AS oi WHERE oi.tenant_id = o.tenant_id AND oi.order_id = o.id AND (oi.starts_at >= ? AND oi.starts_at < ? OR oi.status IN (?) AND oi.starts_at < ?))",
				p.StartsAt, p.EndsAt, bun.In([]string{itemSampled, itemCheckedIn}), p.EndsAt).
			Where("NOT EXISTS (SELECT 1 FROM eshop_force_majeure_notices AS n WHERE n.tenant_id = o.tenant_id AND n.period_id = ? AND n.order_id = o.id)", p.ID).
			Order("submitted_at").Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	days, err := 0, error(nil)
	if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		days, err = m.forceMajeureDays(ctx, sc, p.StartsAt, p.EndsAt)
		return err
	}); err != nil {
		return 0, err
	}
	sent := 0
	for i := range orders {
		o := &orders[i]
		// Its appointments in the period do not take place: the lab will contact him, or he
		// may ask for another time himself.
		booked := false
		if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			var err error
			booked, err = sc.Select((*OrderItem)(nil)).Where("order_id = ? AND status = ? AND starts_at >= ? AND starts_at < ?", o.ID, itemBooked, p.StartsAt, p.EndsAt).Exists(ctx)
			return err
		}); err != nil {
			return sent, err
		}
		claimed := false
		if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			res, err := sc.Insert(&fmNotice{TenantID: t.ID, PeriodID: p.ID, OrderID: o.ID, SentAt: m.now()}).On("CONFLICT DO NOTHING").Exec(ctx)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			claimed = n == 1
			return nil
		}); err != nil {
			return sent, err
		}
		if !claimed {
			continue
		}
		lang := staffLang(t, o)
		loc := m.Msgs.For(lang)
		data := map[string]any{"From": staffWhen(t, lang, p.StartsAt), "To": staffWhen(t, lang, p.EndsAt), "Description": p.Description,
			"Extension": loc.TN("eshop.fm.days", days), "Appointments": "", "Contact": labContactLine(t, loc)}
		if booked {
			data["Appointments"] = loc.T("eshop.fm.appointments")
		}
		if _, err := m.sendTo(ctx, o, tmplForceMajeure, "/eshop/orders/"+o.ID, data); err != nil {
			_ = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Delete((*fmNotice)(nil)).Where("period_id = ? AND order_id = ?", p.ID, o.ID).Exec(ctx)
				return err
			})
			return sent, fmt.Errorf("force majeure %s: notice to order %s: %w", p.ID, o.ID, err)
		}
		sent++
	}
	return sent, m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*ForceMajeure)(nil)).Set("notified_at = ?", m.now()).Where("id = ? AND notified_at IS NULL", p.ID).Exec(ctx)
		return err
	})
}

// forgetStaff erases, when an account is deleted (P11), the free text a customer wrote in his
// reschedule requests (his reasons may say something of his health); the requests stay,
// detached, as the record of the orders' dates. What the staff recorded at the collection
// point is part of the health documentation and is kept (E13).
func (m *Module) forgetStaff(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Reschedule)(nil)).Set("reasons = ''").Set("preferences = ''").Set("user_id = ''").Where("user_id = ?", userID).Exec(ctx)
		return err
	})
}

// exportStaff gives a customer's reschedule requests (P11).
func (m *Module) exportStaff(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var rs []Reschedule
	if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&rs).Where("user_id = ?", userID).Order("requested_at").Scan(ctx)
	}); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		e := map[string]any{"order_id": r.OrderID, "original_at": r.OriginalAt, "reasons": r.Reasons, "preferences": r.Preferences,
			"status": r.Status, "requested_at": r.RequestedAt, "refusal": r.Refusal, "offers": r.Offers()}
		if !r.NewAt.IsZero() {
			e["new_at"] = r.NewAt.Time
		}
		out = append(out, e)
	}
	return map[string]any{"reschedule_requests": out}, nil
}
