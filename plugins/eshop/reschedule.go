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

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Reschedule states (E7).
const (
	resRequested = "requested"
	resRefused   = "refused"
	resOffered   = "offered"
	resAccepted  = "accepted"
	resLapsed    = "lapsed"
)

// Reschedule is a customer's request to move one resAppointment of his order — its items at
// one point and time — once per order (E7; seed III.4–III.8).
type Reschedule struct {
	bun.BaseModel `bun:"table:eshop_reschedules,alias:rs"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	OrderID     string       `bun:"order_id"`
	UserID      string       `bun:"user_id"`
	PointID     string       `bun:"point_id"`
	OriginalAt  time.Time    `bun:"original_at"`
	Reasons     string       `bun:"reasons"`
	Preferences string       `bun:"preferences"`
	Status      string       `bun:"status"`
	RequestedAt time.Time    `bun:"requested_at"`
	AnswerBy    time.Time    `bun:"answer_by"`
	DecidedBy   string       `bun:"decided_by"`
	DecidedAt   bun.NullTime `bun:"decided_at"`
	Refusal     string       `bun:"refusal"`
	Offer1      bun.NullTime `bun:"offer_1"`
	Offer2      bun.NullTime `bun:"offer_2"`
	Offer3      bun.NullTime `bun:"offer_3"`
	PickBy      bun.NullTime `bun:"pick_by"`
	PickedAt    bun.NullTime `bun:"picked_at"`
	NewAt       bun.NullTime `bun:"new_at"`
}

// Offers are the times offered, in order.
func (r Reschedule) Offers() []time.Time {
	var out []time.Time
	for _, o := range []bun.NullTime{r.Offer1, r.Offer2, r.Offer3} {
		if !o.IsZero() {
			out = append(out, o.Time)
		}
	}
	return out
}

// AnswerDay is the last day the lab has to answer (AnswerBy is the midnight ending it).
func (r Reschedule) AnswerDay() time.Time { return r.AnswerBy.Add(-time.Minute) }

// PickDay is the last day the customer has to pick (PickBy is the midnight ending it).
func (r Reschedule) PickDay() time.Time { return r.PickBy.Time.Add(-time.Minute) }

// resAppointment is the items of an order at one point and time.
type resAppointment struct {
	PointID string
	At      time.Time
	Items   []OrderItem
}

// Key names the resAppointment in a form.
func (a resAppointment) Key() string { return a.PointID + "|" + a.At.UTC().Format(time.RFC3339) }

// appointments groups the order's booked items by point and time, in order.
func resAppointments(items []OrderItem) []resAppointment {
	var out []resAppointment
	for _, it := range items {
		if it.Status != itemBooked {
			continue
		}
		found := false
		for i := range out {
			if out[i].PointID == it.PointID && out[i].At.Equal(it.StartsAt) {
				out[i].Items = append(out[i].Items, it)
				found = true
			}
		}
		if !found {
			out = append(out, resAppointment{PointID: it.PointID, At: it.StartsAt, Items: []OrderItem{it}})
		}
	}
	sortResAppointments(out)
	return out
}

func sortResAppointments(a []resAppointment) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].At.Before(a[j-1].At); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// readRescheduleOrder is rescheduleOrder in a read of its own.
func (m *Module) readRescheduleOrder(c *kit.Ctx) (o *Order, items []OrderItem, r *Reschedule, err error) {
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		o, items, r, err = m.rescheduleOrder(ctx, c, sc)
		return err
	})
	return o, items, r, err
}

// rescheduleOrder reads the signed-in customer's order (another's is not found), its items and its
// reschedule request, if any.
func (m *Module) rescheduleOrder(ctx context.Context, c *kit.Ctx, sc *store.Scope) (*Order, []OrderItem, *Reschedule, error) {
	o, err := staffOrder(ctx, sc, c.Param("id"))
	if err != nil {
		return nil, nil, nil, err
	}
	if o.UserID != c.User().ID {
		return nil, nil, nil, kit.ErrNotFound
	}
	var items []OrderItem
	if err := sc.Select(&items).Where("order_id = ?", o.ID).Order("starts_at", "id").Scan(ctx); err != nil {
		return nil, nil, nil, err
	}
	var r Reschedule
	err = sc.Select(&r).Where("order_id = ?", o.ID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return o, items, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return o, items, &r, nil
}

// reschedulePage is the customer's page: the request form while he may still ask, else
// where his request is — and the offered times to pick from.
func (m *Module) reschedulePage(c *kit.Ctx) error {
	v := c.View("eshop.reschedule.title")
	o, items, r, err := m.readRescheduleOrder(c)
	if err != nil {
		return err
	}
	return m.renderReschedule(c, v, o, items, r, http.StatusOK)
}

func (m *Module) renderReschedule(c *kit.Ctx, v *kit.View, o *Order, items []OrderItem, r *Reschedule, status int) error {
	t := c.Tenant()
	apps := resAppointments(items)
	var open []resAppointment
	for _, a := range apps {
		if m.now().Before(rescheduleDeadline(t, a.At, int(rescheduleNoticeWorkingDays.Of(t)))) {
			open = append(open, a)
		}
	}
	v.Data["Order"], v.Data["Request"], v.Data["Appointments"], v.Data["Open"] = o, r, apps, open
	v.Data["Paid"] = o.Status == orderPaid
	v.Data["Changed"] = false
	for _, it := range items {
		if it.Rescheduled {
			v.Data["Changed"] = true
		}
	}
	v.Data["NoticeDays"] = rescheduleNoticeWorkingDays.Of(t)
	if r != nil && r.Status == resOffered {
		v.Data["CanPick"] = m.now().Before(r.PickBy.Time)
	}
	if status == http.StatusOK {
		return c.Render(status, "reschedule", v)
	}
	return kit.Invalid("reschedule", v)
}

// requestReschedule records the customer's request (E7): once per order (the database's key),
// for a paid order's booked resAppointment, at the latest on the rule's working day before its
// day (Slovak working days), with his reasons and, optionally, the times he prefers. It is
// acknowledged at once by e-mail.
func (m *Module) requestReschedule(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.reschedule.title")
	reasons, prefs := strings.TrimSpace(c.Form("reasons")), strings.TrimSpace(c.Form("preferences"))
	v.Values["reasons"], v.Values["preferences"], v.Values["appointment"] = reasons, prefs, c.Form("appointment")
	o, items, r, err := m.readRescheduleOrder(c)
	if err != nil {
		return err
	}
	apps := resAppointments(items)
	var app *resAppointment
	for i := range apps {
		if apps[i].Key() == c.Form("appointment") || (c.Form("appointment") == "" && len(apps) == 1) {
			app = &apps[i]
		}
	}
	switch {
	case r != nil:
		v.Errors["reasons"] = "eshop.reschedule.err.once"
	case o.Status != orderPaid:
		v.Errors["appointment"] = "eshop.reschedule.err.not_paid"
	case app == nil:
		v.Errors["appointment"] = "eshop.reschedule.err.appointment"
	case !m.now().Before(rescheduleDeadline(t, app.At, int(rescheduleNoticeWorkingDays.Of(t)))):
		v.Errors["appointment"] = "eshop.reschedule.err.too_late"
	}
	for _, it := range items {
		if it.Rescheduled {
			v.Errors["appointment"] = "eshop.reschedule.err.changed"
		}
	}
	if reasons == "" {
		v.Errors["reasons"] = "eshop.reschedule.err.reasons"
	} else if len(reasons) > 4000 {
		v.Errors["reasons"] = "eshop.staff.err.too_long"
	}
	if len(prefs) > 2000 {
		v.Errors["preferences"] = "eshop.staff.err.too_long"
	}
	if len(v.Errors) > 0 {
		return m.renderReschedule(c, v, o, items, r, http.StatusUnprocessableEntity)
	}
	now := m.now()
	req := &Reschedule{TenantID: t.ID, ID: newID(), OrderID: o.ID, UserID: o.UserID, PointID: app.PointID, OriginalAt: app.At, Reasons: reasons,
		Preferences: prefs, Status: resRequested, RequestedAt: now}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		by, err := m.extendedByFM(ctx, sc, now, endOfWorkingDaysAfter(t, now, int(rescheduleAnswerWorkingDays.Of(t))))
		if err != nil {
			return err
		}
		req.AnswerBy = by
		res, err := sc.Insert(req).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errStaffMoved
		}
		return nil
	})
	if errors.Is(err, errStaffMoved) {
		v.Errors["reasons"] = "eshop.reschedule.err.once"
		return m.renderReschedule(c, v, o, items, r, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	lang := staffLang(t, o)
	if _, err := m.sendTo(c.Context(), o, tmplRescheduleReceived, "/eshop/orders/"+o.ID+"/reschedule", map[string]any{
		"When": staffWhen(t, lang, app.At), "AnswerBy": staffWhen(t, lang, req.AnswerBy.Add(-time.Minute))}); err != nil {
		return fmt.Errorf("reschedule %s: acknowledge: %w", req.ID, err)
	}
	return c.Redirect("/eshop/orders/"+o.ID+"/reschedule", "staff_reschedule_requested")
}

// pickReschedule takes one of the offered times (E7): while the offer stands, the request
// becomes accepted (a guarded update), the offered place at that time becomes the item's
// binding hold, the original and the other offered places are freed, and the items are
// marked changed — never again. A final message gives the exact date and time.
func (m *Module) pickReschedule(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.reschedule.title")
	o, items, r, err := m.readRescheduleOrder(c)
	if err != nil {
		return err
	}
	if r == nil {
		return kit.ErrNotFound
	}
	pick, err := time.Parse(time.RFC3339, c.Form("slot"))
	offered := false
	for _, x := range r.Offers() {
		offered = offered || (err == nil && x.Equal(pick))
	}
	if !offered {
		v.Errors["slot"] = "eshop.reschedule.err.pick"
		return m.renderReschedule(c, v, o, items, r, http.StatusUnprocessableEntity)
	}
	pick = pick.UTC()
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		return m.applyPick(ctx, sc, r, pick)
	})
	if errors.Is(err, errStaffMoved) {
		v.Errors["slot"] = "eshop.reschedule.err.lapsed"
		return m.renderReschedule(c, v, o, items, r, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	lang := staffLang(t, o)
	if _, err := m.sendTo(c.Context(), o, tmplRescheduleConfirmed, "/eshop/orders/"+o.ID, map[string]any{
		"When": staffWhen(t, lang, pick), "Was": staffWhen(t, lang, r.OriginalAt)}); err != nil {
		return fmt.Errorf("reschedule %s: confirm: %w", r.ID, err)
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditRescheduleMoved, Subject: o.UserID, Resource: "eshop_order:" + o.ID,
		Detail: map[string]any{"order": o.Number, "from": staffWhen(t, t.Locale, r.OriginalAt), "to": staffWhen(t, t.Locale, pick)}}); err != nil {
		return err
	}
	_ = c.Host().Cancel(c.Context(), "eshop-offer-lapse:"+r.ID)
	return c.Redirect("/eshop/orders/"+o.ID+"/reschedule", "staff_reschedule_done")
}

// applyPick moves the request's resAppointment to pick, in the caller's transaction.
func (m *Module) applyPick(ctx context.Context, sc *store.Scope, r *Reschedule, pick time.Time) error {
	now := m.now()
	res, err := sc.Update((*Reschedule)(nil)).Set("status = ?", resAccepted).Set("picked_at = ?", now).Set("new_at = ?", pick).
		Where("id = ? AND status = ? AND pick_by > ?", r.ID, resOffered, now).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errStaffMoved
	}
	var items []OrderItem
	if err := sc.Select(&items).Where("order_id = ? AND point_id = ? AND starts_at = ? AND status = ? AND NOT rescheduled", r.OrderID, r.PointID, r.OriginalAt, itemBooked).
		Order("id").Scan(ctx); err != nil {
		return err
	}
	var holds []Hold
	if err := sc.Select(&holds).Where("purpose = ? AND ref_id = ?", holdOffer, r.ID).Order("starts_at", "id").Scan(ctx); err != nil {
		return err
	}
	var chosen []Hold
	for _, h := range holds {
		if h.StartsAt.Equal(pick) {
			chosen = append(chosen, h)
		} else if _, err := m.releaseHold(ctx, sc, h.ID); err != nil {
			return err
		}
	}
	if len(chosen) < len(items) {
		return fmt.Errorf("reschedule %s: %d places held at the picked time for %d items", r.ID, len(chosen), len(items))
	}
	for i, it := range items {
		if ok, err := m.moveHold(ctx, sc, chosen[i].ID, holdOrder, it.ID, nil); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("reschedule %s: offered hold %s gone", r.ID, chosen[i].ID)
		}
		if _, err := m.releaseHold(ctx, sc, it.HoldID); err != nil {
			return err
		}
		res, err := sc.Update((*OrderItem)(nil)).Set("starts_at = ?", pick).Set("hold_id = ?", chosen[i].ID).Set("rescheduled = ?", true).
			Where("id = ? AND status = ? AND NOT rescheduled", it.ID, itemBooked).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errStaffMoved
		}
	}
	for _, h := range chosen[len(items):] {
		if _, err := m.releaseHold(ctx, sc, h.ID); err != nil {
			return err
		}
	}
	return nil
}

// ---- the staff's queue ----

// rescheduleRow is a request as the queue shows it.
type rescheduleRow struct {
	Reschedule
	Order     Order
	PointName string
	Items     []OrderItem
	Late      bool
	// Free are the nearest times at the point with room for the resAppointment's items (the
	// seed: "usually the nearest free"), for the staff to choose from.
	Free []time.Time
}

// rescheduleQueue lists the requests waiting for an answer (oldest first) and the recent
// ones, each with its order, point and items, and the nearest free times at its point.
func (m *Module) rescheduleQueue(c *kit.Ctx) error {
	v := c.View("eshop.staff.reschedules.title")
	rows, err := m.queueRows(c)
	if err != nil {
		return err
	}
	m.queueData(c, v, rows)
	return c.Render(http.StatusOK, "staff_reschedules", v)
}

func (m *Module) queueRows(c *kit.Ctx) ([]rescheduleRow, error) {
	var rows []rescheduleRow
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var rs []Reschedule
		if err := sc.Select(&rs).Where("status IN (?) OR requested_at > ?", bun.In([]string{resRequested, resOffered}), m.now().AddDate(0, 0, -14)).
			Order("requested_at").Limit(200).Scan(ctx); err != nil {
			return err
		}
		for _, r := range rs {
			row := rescheduleRow{Reschedule: r, Late: r.Status == resRequested && m.now().After(r.AnswerBy)}
			if err := sc.Select(&row.Order).Where("id = ?", r.OrderID).Scan(ctx); err != nil {
				return err
			}
			var p Point
			if err := sc.Select(&p).Where("id = ?", r.PointID).Scan(ctx); err == nil {
				row.PointName = p.Name
			}
			if err := sc.Select(&row.Items).Where("order_id = ? AND point_id = ? AND starts_at = ?", r.OrderID, r.PointID, r.OriginalAt).Scan(ctx); err != nil {
				return err
			}
			if r.Status == resRequested {
				free, err := m.openSlots(ctx, sc, c.Tenant(), r.PointID, m.now(), m.now().AddDate(0, 0, 30))
				if err != nil {
					return err
				}
				for _, s := range free {
					if s.Free >= len(row.Items) && !s.Start.Equal(r.OriginalAt) && len(row.Free) < 8 {
						row.Free = append(row.Free, s.Start)
					}
				}
			}
			rows = append(rows, row)
		}
		return nil
	})
	return rows, err
}

// queueData fills the queue's page.
func (m *Module) queueData(c *kit.Ctx, v *kit.View, rows []rescheduleRow) {
	n := int(rescheduleOfferCount.Of(c.Tenant()))
	var slots []string
	for i := 1; i <= n && i <= 3; i++ {
		slots = append(slots, fmt.Sprintf("slot%d", i))
	}
	if _, ok := v.Data["Form"]; !ok {
		v.Data["Form"] = ""
	}
	v.Data["Rows"], v.Data["OfferCount"], v.Data["Slots"] = rows, n, slots
}

// queueRequest reads a request and its order.
func (m *Module) queueRequest(ctx context.Context, c *kit.Ctx, sc *store.Scope) (*Reschedule, *Order, error) {
	var r Reschedule
	if err := sc.Select(&r).Where("id = ?", c.Param("id")).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, kit.ErrNotFound
		}
		return nil, nil, err
	}
	o, err := staffOrder(ctx, sc, r.OrderID)
	return &r, o, err
}

// queueInvalid shows the queue again with a form's errors (422).
func (m *Module) queueInvalid(c *kit.Ctx, v *kit.View) error {
	rows, err := m.queueRows(c)
	if err != nil {
		return err
	}
	m.queueData(c, v, rows)
	return kit.Invalid("staff_reschedules", v)
}

// refuseReschedule refuses a request whose reasons are not serious (E7), with the reason
// given to the customer; the original time stands.
func (m *Module) refuseReschedule(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.staff.reschedules.title")
	refusal := strings.TrimSpace(c.Form("refusal"))
	v.Values["refusal"], v.Data["Form"] = refusal, c.Param("id")
	if refusal == "" {
		v.Errors["refusal"] = "eshop.staff.err.required"
	} else if len(refusal) > 2000 {
		v.Errors["refusal"] = "eshop.staff.err.too_long"
	}
	if len(v.Errors) > 0 {
		return m.queueInvalid(c, v)
	}
	var r *Reschedule
	var o *Order
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if r, o, err = m.queueRequest(ctx, c, sc); err != nil {
			return err
		}
		res, err := sc.Update((*Reschedule)(nil)).Set("status = ?", resRefused).Set("refusal = ?", refusal).Set("decided_by = ?", c.User().ID).
			Set("decided_at = ?", m.now()).Where("id = ? AND status = ?", r.ID, resRequested).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errStaffMoved
		}
		return nil
	})
	if errors.Is(err, errStaffMoved) {
		return c.Redirect("/eshop/staff/reschedules", "staff_already_answered")
	}
	if err != nil {
		return err
	}
	lang := staffLang(t, o)
	if _, err := m.sendTo(c.Context(), o, tmplRescheduleRefused, "/eshop/orders/"+o.ID, map[string]any{"When": staffWhen(t, lang, r.OriginalAt), "Refusal": refusal}); err != nil {
		return fmt.Errorf("reschedule %s: refusal: %w", r.ID, err)
	}
	if err := m.record(c, auditRescheduleRefused, o, map[string]any{"refusal": refusal}); err != nil {
		return err
	}
	return c.Redirect("/eshop/staff/reschedules", "staff_reschedule_refused")
}

// offerReschedule offers the rule's number of free times at the same point (E7): each is
// held for every item of the resAppointment (holdPlace, purpose offer) until the customer picks
// one or the offer lapses at the end of the rule's next working day; a time that is not a
// slot or has no room for them all refuses the whole offer, nothing held. A durable job
// lapses it (the sweep is the safety net).
func (m *Module) offerReschedule(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.staff.reschedules.title")
	v.Data["Form"] = c.Param("id")
	n := int(rescheduleOfferCount.Of(t))
	var times []time.Time
	for i := 1; i <= n; i++ {
		f := fmt.Sprintf("slot%d", i)
		v.Values[f] = c.Form(f)
		x, ok := staffTime(t, c.Form(f))
		switch {
		case !ok:
			v.Errors[f] = "eshop.staff.err.datetime"
		case !x.After(m.now()):
			v.Errors[f] = "eshop.staff.err.past"
		default:
			for _, y := range times {
				if y.Equal(x) {
					v.Errors[f] = "eshop.reschedule.err.same"
				}
			}
		}
		times = append(times, x)
	}
	if len(v.Errors) > 0 {
		return m.queueInvalid(c, v)
	}
	var r *Reschedule
	var o *Order
	var slotErr string
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if r, o, err = m.queueRequest(ctx, c, sc); err != nil {
			return err
		}
		now := m.now()
		pickBy, err := m.extendedByFM(ctx, sc, now, endOfWorkingDaysAfter(t, now, int(reschedulePickWorkingDays.Of(t))))
		if err != nil {
			return err
		}
		q := sc.Update((*Reschedule)(nil)).Set("status = ?", resOffered).Set("decided_by = ?", c.User().ID).Set("decided_at = ?", now).Set("pick_by = ?", pickBy)
		for i, x := range times {
			if i < 3 {
				q = q.Set(fmt.Sprintf("offer_%d = ?", i+1), x)
			}
		}
		res, err := q.Where("id = ? AND status = ?", r.ID, resRequested).Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return errStaffMoved
		}
		var items []OrderItem
		if err := sc.Select(&items).Where("order_id = ? AND point_id = ? AND starts_at = ? AND status = ?", r.OrderID, r.PointID, r.OriginalAt, itemBooked).Scan(ctx); err != nil {
			return err
		}
		if len(items) == 0 {
			return errStaffMoved
		}
		for i, x := range times {
			for range items {
				if _, err := m.holdPlace(ctx, sc, t, r.PointID, x, holdOffer, r.ID, o.UserID, &pickBy); errors.Is(err, errSlotFull) {
					slotErr = fmt.Sprintf("slot%d|eshop.reschedule.err.full", i+1)
					return err
				} else if errors.Is(err, errNoSlot) {
					slotErr = fmt.Sprintf("slot%d|eshop.reschedule.err.no_slot", i+1)
					return err
				} else if err != nil {
					return err
				}
			}
		}
		r.PickBy.Time = pickBy
		return nil
	})
	if slotErr != "" {
		f, id, _ := strings.Cut(slotErr, "|")
		v.Errors[f] = id
		return m.queueInvalid(c, v)
	}
	if errors.Is(err, errStaffMoved) {
		return c.Redirect("/eshop/staff/reschedules", "staff_already_answered")
	}
	if err != nil {
		return err
	}
	lang := staffLang(t, o)
	var words []string
	for _, x := range times {
		words = append(words, staffWhen(t, lang, x))
	}
	if _, err := m.sendTo(c.Context(), o, tmplRescheduleOffer, "/eshop/orders/"+o.ID+"/reschedule", map[string]any{
		"When": staffWhen(t, lang, r.OriginalAt), "Times": strings.Join(words, "\n"), "PickBy": staffWhen(t, lang, r.PickBy.Time.Add(-time.Minute))}); err != nil {
		return fmt.Errorf("reschedule %s: offer: %w", r.ID, err)
	}
	if _, err := c.Host().Schedule(c.Context(), sdk.Job{Name: jobOfferLapse, Key: "eshop-offer-lapse:" + r.ID, At: r.PickBy.Time, Payload: []byte(r.ID)}); err != nil {
		return err
	}
	if err := m.record(c, auditRescheduleOffered, o, map[string]any{"times": strings.Join(words, ", ")}); err != nil {
		return err
	}
	return c.Redirect("/eshop/staff/reschedules", "staff_reschedule_offered")
}

func (m *Module) runOfferLapse(ctx context.Context, job *sdk.Job) error {
	_, err := m.lapseOffer(ctx, job.Tenant, string(job.Payload))
	return err
}

// sweepOffers lapses the offers whose time passed and whose job did not run.
func (m *Module) sweepOffers(ctx context.Context, job *sdk.Job) error {
	var ids []string
	if err := m.Read(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Reschedule)(nil)).Column("id").Where("status = ? AND pick_by <= ?", resOffered, m.now()).Limit(500).Scan(ctx, &ids)
	}); err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := m.lapseOffer(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lapseOffer ends an offer the customer did not pick from in time (E7): the offered places
// are freed and the original time stands; the customer is told. Once (a guarded update).
func (m *Module) lapseOffer(ctx context.Context, t sdk.Tenant, id string) (bool, error) {
	var r Reschedule
	var o *Order
	done := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&r).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		res, err := sc.Update((*Reschedule)(nil)).Set("status = ?", resLapsed).Where("id = ? AND status = ? AND pick_by <= ?", id, resOffered, m.now()).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		var holds []Hold
		if err := sc.Select(&holds).Where("purpose = ? AND ref_id = ?", holdOffer, id).Scan(ctx); err != nil {
			return err
		}
		for _, h := range holds {
			if _, err := m.releaseHold(ctx, sc, h.ID); err != nil {
				return err
			}
		}
		if o, err = staffOrder(ctx, sc, r.OrderID); err != nil {
			return err
		}
		done = true
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil || !done {
		return false, err
	}
	lang := staffLang(t, o)
	if _, err := m.sendTo(ctx, o, tmplRescheduleLapsed, "/eshop/orders/"+o.ID, map[string]any{"When": staffWhen(t, lang, r.OriginalAt)}); err != nil {
		// The offer lapsed all the same; the message is logged as lost, not retried (the
		// guarded update already happened).
		m.Log.Error("eshop: lapsed-offer message not sent", "reschedule", id, "err", err.Error())
	}
	return true, nil
}
