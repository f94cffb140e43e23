package eshop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Attendance is what the staff recorded of one order item at the collection point (E8, E9):
// the checks before sampling with who made them and when, the arrival, and the outcome.
type Attendance struct {
	bun.BaseModel `bun:"table:eshop_attendance,alias:at"`

	TenantID              string       `bun:"tenant_id,pk"`
	ItemID                string       `bun:"item_id,pk"`
	OrderID               string       `bun:"order_id"`
	ArrivedAt             bun.NullTime `bun:"arrived_at"`
	OnTime                bool         `bun:"on_time"`
	IdentityChecked       bool         `bun:"identity_checked"`
	RepresentativeChecked bool         `bun:"representative_checked"`
	RepresentativeRight   bool         `bun:"representative_right"`
	InstructionsGiven     bool         `bun:"instructions_given"`
	ConsentSigned         bool         `bun:"consent_signed"`
	CheckedInBy           string       `bun:"checked_in_by"`
	CheckedInAt           bun.NullTime `bun:"checked_in_at"`
	Outcome               string       `bun:"outcome"`
	Reason                string       `bun:"reason"`
	Note                  string       `bun:"note"`
	Forfeited             bool         `bun:"forfeited"`
	OutcomeBy             string       `bun:"outcome_by"`
	OutcomeAt             bun.NullTime `bun:"outcome_at"`
}

// refusalReasons are the seed's grounds on which the lab refuses sampling (E9; V.8 a–f),
// shown in words.
var refusalReasons = []string{"identity", "representative", "cooperation", "instructions", "intoxication", "other"}

func knownRefusal(r string) bool {
	for _, x := range refusalReasons {
		if x == r {
			return true
		}
	}
	return false
}

// dayRow is one item of the day list.
type dayRow struct {
	Item       OrderItem
	Order      Order
	Attendance *Attendance
	Late       bool // the arrival window has passed
	Started    bool // the slot has begun
	// Withdrawable: a completed order the lab may still withdraw from (its items ended at
	// the collection point, none published).
	Withdrawable bool
}

// dayData fills the day list of point on day (tenant's zone): the points, and the paid
// orders' items there that day by slot.
func (m *Module) dayData(c *kit.Ctx, v *kit.View) error {
	t := c.Tenant()
	zone := zone(t)
	// The day and point shown: the page's query; after a form of one item, that item's own
	// (its form's errors are shown next to it, on its day at its point); else the form's
	// "back" page; else today at the first point.
	dayS, point := c.Query("day"), c.Query("point")
	if id, _ := v.Data["Form"].(string); id != "" && (dayS == "" || point == "") {
		var it OrderItem
		err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&it).Column("point_id", "starts_at").Where("id = ?", id).Scan(ctx)
		})
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil {
			dayS, point = dayStart(t, it.StartsAt).Format("2006-01-02"), it.PointID
		}
	}
	if dayS == "" || point == "" {
		if u, err := url.Parse(c.Form("back")); err == nil {
			if dayS == "" {
				dayS = u.Query().Get("day")
			}
			if point == "" {
				point = u.Query().Get("point")
			}
		}
	}
	day, err := time.ParseInLocation("2006-01-02", dayS, zone)
	if err != nil {
		day = dayStart(t, m.now())
	}
	tol := time.Duration(arrivalToleranceMinutes.Of(t)) * time.Minute
	var points []Point
	var rows []dayRow
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&points).Where("active").Order("name").Scan(ctx); err != nil {
			return err
		}
		if point == "" && len(points) > 0 {
			point = points[0].ID
		}
		var items []OrderItem
		if err := sc.Select(&items).Where("point_id = ? AND starts_at >= ? AND starts_at < ?", point, day.UTC(), day.AddDate(0, 0, 1).UTC()).
			Where("EXISTS (SELECT 1 FROM eshop_orders AS o WHERE o.tenant_id = oi.tenant_id AND o.id = oi.order_id AND o.status IN (?))", bun.In([]string{orderPaid, orderWithdrawn, orderCompleted})).
			Order("starts_at", "person_name").Scan(ctx); err != nil {
			return err
		}
		for _, it := range items {
			r := dayRow{Item: it, Late: m.now().After(it.StartsAt.Add(tol)), Started: !m.now().Before(it.StartsAt)}
			if err := sc.Select(&r.Order).Where("id = ?", it.OrderID).Scan(ctx); err != nil {
				return err
			}
			if r.Order.Status == orderCompleted {
				var all []OrderItem
				if err := sc.Select(&all).Where("order_id = ?", it.OrderID).Scan(ctx); err != nil {
					return err
				}
				r.Withdrawable = withdrawable(&r.Order, all)
			}
			var a Attendance
			if err := sc.Select(&a).Where("item_id = ?", it.ID).Scan(ctx); err == nil {
				r.Attendance = &a
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.Data["Points"], v.Data["Point"], v.Data["Day"], v.Data["DayISO"] = points, point, day, day.Format("2006-01-02")
	v.Data["Prev"], v.Data["Next"] = day.AddDate(0, 0, -1).Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02")
	v.Data["Rows"], v.Data["Reasons"], v.Data["Now"] = rows, refusalReasons, m.now()
	if _, ok := v.Data["Form"]; !ok {
		v.Data["Form"] = ""
	}
	v.Data["Back"] = "/eshop/staff?point=" + point + "&day=" + day.Format("2006-01-02")
	return nil
}

// staffDay is the day list of a collection point (E8): each item by slot with the person,
// its state, and the staff's actions.
func (m *Module) staffDay(c *kit.Ctx) error {
	v := c.View("eshop.staff.day.title")
	if err := m.dayData(c, v); err != nil {
		return err
	}
	return c.Render(http.StatusOK, "staff_day", v)
}

// dayInvalid shows the day list again with the errors of one item's form (422).
func (m *Module) dayInvalid(c *kit.Ctx, v *kit.View, itemID string) error {
	v.Data["Form"] = itemID
	if err := m.dayData(c, v); err != nil {
		return err
	}
	return kit.Invalid("staff_day", v)
}

// onTime reports whether arrival at x is within the tolerance of the item's slot and within
// the point's opening hours that day (E8; seed V.3).
func (m *Module) onTime(ctx context.Context, sc *store.Scope, t sdk.Tenant, it *OrderItem, x time.Time) (bool, error) {
	tol := time.Duration(arrivalToleranceMinutes.Of(t)) * time.Minute
	d := x.Sub(it.StartsAt)
	if d < -tol || d > tol {
		return false, nil
	}
	return m.pointOpenAt(ctx, sc, t, it.PointID, x)
}

// pointOpenAt reports whether point is open at x: that day's exception, else its weekday
// hours.
func (m *Module) pointOpenAt(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, x time.Time) (bool, error) {
	l := x.In(zone(t))
	hm := l.Format("15:04")
	var ex PointException
	err := sc.Select(&ex).Where("point_id = ? AND day = ?", pointID, l.Format("2006-01-02")).Scan(ctx)
	if err == nil {
		if ex.Closed {
			return false, nil
		}
		if ex.Opens != "" && ex.Closes != "" {
			return ex.Opens <= hm && hm < ex.Closes, nil
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	var hours []PointHours
	if err := sc.Select(&hours).Where("point_id = ? AND weekday = ?", pointID, int(l.Weekday())).Scan(ctx); err != nil {
		return false, err
	}
	for _, h := range hours {
		if h.Opens <= hm && hm < h.Closes {
			return true, nil
		}
	}
	return false, nil
}

// staffTarget reads the item of the route with its order; only a paid order's items are the
// staff's to act on.
func (m *Module) staffTarget(ctx context.Context, c *kit.Ctx, sc *store.Scope) (*OrderItem, *Order, error) {
	it, o, err := staffItem(ctx, sc, c.Param("id"))
	if err != nil {
		return nil, nil, err
	}
	if o.Status != orderPaid {
		return nil, nil, errStaffMoved
	}
	return it, o, nil
}

// setStatus moves an item from one of from to status (a guarded update).
func staffSetStatus(ctx context.Context, sc *store.Scope, itemID, status string, from ...string) error {
	res, err := sc.Update((*OrderItem)(nil)).Set("status = ?", status).Where("id = ? AND status IN (?)", itemID, bun.In(from)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errStaffMoved
	}
	return nil
}

// saveAttendance writes the item's attendance record.
func saveAttendance(ctx context.Context, sc *store.Scope, a *Attendance) error {
	if _, err := sc.Delete((*Attendance)(nil)).Where("item_id = ?", a.ItemID).Exec(ctx); err != nil {
		return err
	}
	_, err := sc.Insert(a).Exec(ctx)
	return err
}

// attendanceOf reads an item's record, or a fresh one.
func attendanceOf(ctx context.Context, sc *store.Scope, it *OrderItem) (*Attendance, error) {
	var a Attendance
	err := sc.Select(&a).Where("item_id = ?", it.ID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return &Attendance{TenantID: sc.TenantID, ItemID: it.ID, OrderID: it.OrderID}, nil
	}
	return &a, err
}

// checkIn records that the person came and was checked (E8): identity, and for a person
// represented his legal representative's identity and right to represent, the instructions
// given and the informed consent signed — each required, recorded with who and when. An
// arrival outside the tolerance or the opening hours needs the staff's explicit acceptance
// (they may refuse instead: lateRefuse).
func (m *Module) checkIn(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.staff.day.title")
	id := c.Param("id")
	yes := func(f string) bool { return c.Form(f) == "yes" }
	var statusErr error
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		it, o, err := m.staffTarget(ctx, c, sc)
		if err != nil {
			return err
		}
		if !yes("identity") {
			v.Errors["identity"] = "eshop.checkin.err.identity"
		}
		if it.DependantID != "" {
			if !yes("representative") {
				v.Errors["representative"] = "eshop.checkin.err.representative"
			}
			if !yes("representative_right") {
				v.Errors["representative_right"] = "eshop.checkin.err.representative_right"
			}
		}
		if !yes("instructions") {
			v.Errors["instructions"] = "eshop.checkin.err.instructions"
		}
		if !yes("consent") {
			v.Errors["consent"] = "eshop.checkin.err.consent"
		}
		now := m.now()
		ok, err := m.onTime(ctx, sc, t, it, now)
		if err != nil {
			return err
		}
		if !ok && !yes("accept_late") {
			v.Errors["accept_late"] = "eshop.checkin.err.late"
		}
		if len(v.Errors) > 0 {
			return nil
		}
		if err := staffSetStatus(ctx, sc, it.ID, itemCheckedIn, itemBooked); err != nil {
			statusErr = err
			return nil
		}
		a, err := attendanceOf(ctx, sc, it)
		if err != nil {
			return err
		}
		a.ArrivedAt.Time, a.OnTime = now, ok
		a.IdentityChecked, a.InstructionsGiven, a.ConsentSigned = true, true, true
		a.RepresentativeChecked, a.RepresentativeRight = it.DependantID != "", it.DependantID != ""
		a.CheckedInBy, a.CheckedInAt.Time = c.User().ID, now
		if err := saveAttendance(ctx, sc, a); err != nil {
			return err
		}
		return m.record(c, auditCheckedIn, o, map[string]any{"test": it.Name, "person": it.PersonName, "on_time": ok})
	})
	if err != nil && !errors.Is(err, errStaffMoved) {
		return err
	}
	if len(v.Errors) > 0 {
		for _, f := range []string{"identity", "representative", "representative_right", "instructions", "consent", "accept_late"} {
			v.Values[id+"-"+f] = c.Form(f)
		}
		return m.dayInvalid(c, v, id)
	}
	if err != nil || statusErr != nil {
		return c.Redirect(staffBack(c), "staff_not_done")
	}
	return c.Redirect(staffBack(c), "staff_checked_in")
}

// markSampled records that the sample was taken (E8): checked in → sampled.
func (m *Module) markSampled(c *kit.Ctx) error {
	return m.outcome(c, itemSampled, auditSampled, "", false, []string{itemCheckedIn}, nil)
}

// markNoShow records that the person did not come (E8): only once the arrival window of
// the slot has passed; the price and the fee are forfeited (seed III.3).
func (m *Module) markNoShow(c *kit.Ctx) error {
	t := c.Tenant()
	return m.outcome(c, itemNoShow, auditNoShow, "", true, []string{itemBooked}, func(ctx context.Context, sc *store.Scope, it *OrderItem) string {
		if !m.now().After(it.StartsAt.Add(time.Duration(arrivalToleranceMinutes.Of(t)) * time.Minute)) {
			return "eshop.staff.err.too_early"
		}
		return ""
	})
}

// lateRefuse refuses a person who came late (E8; seed V.3–V.4): only when he is outside the
// tolerance or the opening hours now; the item is late_refused and its price and fee are
// forfeited like a no-show — no refund.
func (m *Module) lateRefuse(c *kit.Ctx) error {
	t := c.Tenant()
	return m.outcome(c, itemLateRefused, auditLateRefused, "", true, []string{itemBooked}, func(ctx context.Context, sc *store.Scope, it *OrderItem) string {
		ok, err := m.onTime(ctx, sc, t, it, m.now())
		if err != nil || ok {
			return "eshop.staff.err.not_late"
		}
		return ""
	})
}

// refuseSampling refuses sampling for one of the seed's reasons (E9): the item is refused,
// the reason recorded; the lab may then withdraw from the order (withdrawOrder).
func (m *Module) refuseSampling(c *kit.Ctx) error {
	reason := c.Form("reason")
	if !knownRefusal(reason) {
		return kit.ErrBadRequest
	}
	return m.outcome(c, itemRefused, auditRefused, reason, false, []string{itemBooked, itemCheckedIn}, nil)
}

// outcome moves the route's item to status from one of from (a guarded update), records it
// with who and when, and audits it. check, when given, may refuse with a message id.
func (m *Module) outcome(c *kit.Ctx, status, action, reason string, forfeit bool, from []string,
	check func(ctx context.Context, sc *store.Scope, it *OrderItem) string) error {
	note := strings.TrimSpace(c.Form("note"))
	if len(note) > 2000 {
		return kit.ErrBadRequest
	}
	refusal := ""
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		it, o, err := m.staffTarget(ctx, c, sc)
		if err != nil {
			return err
		}
		if check != nil {
			if refusal = check(ctx, sc, it); refusal != "" {
				return nil
			}
		}
		if err := staffSetStatus(ctx, sc, it.ID, status, from...); err != nil {
			return err
		}
		a, err := attendanceOf(ctx, sc, it)
		if err != nil {
			return err
		}
		now := m.now()
		if status == itemLateRefused && a.ArrivedAt.IsZero() {
			a.ArrivedAt.Time = now
		}
		a.Outcome, a.Reason, a.Note, a.Forfeited, a.OutcomeBy, a.OutcomeAt.Time = status, reason, note, forfeit, c.User().ID, now
		if err := saveAttendance(ctx, sc, a); err != nil {
			return err
		}
		if _, err := completeIfDone(ctx, sc, it.OrderID); err != nil {
			return err
		}
		detail := map[string]any{"test": it.Name, "person": it.PersonName}
		if reason != "" {
			detail["reason"] = m.Msgs.For(c.Tenant().Locale).T("eshop.refusal." + reason)
		}
		return m.record(c, action, o, detail)
	})
	if errors.Is(err, errStaffMoved) {
		return c.Redirect(staffBack(c), "staff_not_done")
	}
	if err != nil {
		return err
	}
	if refusal != "" {
		v := c.View("eshop.staff.day.title")
		v.Errors["outcome"] = refusal
		return m.dayInvalid(c, v, c.Param("id"))
	}
	return c.Redirect(staffBack(c), "staff_item_"+status)
}

// labCancel is the lab's cancellation of an item's slot (E8; seed III.10, V.5): the customer
// is told at once by e-mail. With an alternative time (at the same point) its place is held
// for the item and the original freed — a time within the rule's tolerance counts as the lab
// keeping the slot; without one the item is cancelled_by_lab, its place freed, until the
// lab agrees another with the customer and gives it here (the item is booked again).
func (m *Module) labCancel(c *kit.Ctx) error {
	t := c.Tenant()
	v := c.View("eshop.staff.day.title")
	id := c.Param("id")
	reason := strings.TrimSpace(c.Form("reason"))
	v.Values[id+"-reason"], v.Values[id+"-alternative"] = reason, c.Form("alternative")
	if reason == "" {
		v.Errors["reason"] = "eshop.staff.err.required"
	} else if len(reason) > 2000 {
		v.Errors["reason"] = "eshop.staff.err.too_long"
	}
	var alt time.Time
	if s := c.Form("alternative"); s != "" {
		x, ok := staffTime(t, s)
		switch {
		case !ok:
			v.Errors["alternative"] = "eshop.staff.err.datetime"
		case !x.After(m.now()):
			v.Errors["alternative"] = "eshop.staff.err.past"
		default:
			alt = x
		}
	}
	if len(v.Errors) > 0 {
		return m.dayInvalid(c, v, id)
	}
	var it *OrderItem
	var o *Order
	var lc *LabCancellation
	var pt Point
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if it, o, err = m.staffTarget(ctx, c, sc); err != nil {
			return err
		}
		if err := sc.Select(&pt).Where("id = ?", it.PointID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := m.now()
		lc = &LabCancellation{TenantID: t.ID, ID: newID(), ItemID: it.ID, OrderID: o.ID, OriginalAt: it.StartsAt, NewAt: it.StartsAt, Reason: reason,
			DecidedBy: c.User().ID, DecidedAt: now, NotifiedAt: bun.NullTime{Time: now}}
		if alt.IsZero() {
			if err := staffSetStatus(ctx, sc, it.ID, itemCancelledByLab, itemBooked); err != nil {
				return err
			}
			if _, err := m.releaseHold(ctx, sc, it.HoldID); err != nil {
				return err
			}
		} else {
			hold, err := m.holdPlace(ctx, sc, t, it.PointID, alt, holdOrder, it.ID, o.UserID, nil)
			if errors.Is(err, errSlotFull) {
				v.Errors["alternative"] = "eshop.reschedule.err.full"
				return errStaffMoved
			} else if errors.Is(err, errNoSlot) {
				v.Errors["alternative"] = "eshop.reschedule.err.no_slot"
				return errStaffMoved
			} else if err != nil {
				return err
			}
			if _, err := m.releaseHold(ctx, sc, it.HoldID); err != nil {
				return err
			}
			// A slot cancelled earlier without an alternative gets its new one here.
			res, err := sc.Update((*OrderItem)(nil)).Set("starts_at = ?", alt).Set("hold_id = ?", hold).Set("status = ?", itemBooked).
				Where("id = ? AND status IN (?)", it.ID, bun.In([]string{itemBooked, itemCancelledByLab})).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errStaffMoved
			}
			d := alt.Sub(it.StartsAt)
			tol := time.Duration(labToleranceMinutes.Of(t)) * time.Minute
			lc.NewAt, lc.WithinTolerance = alt, d >= -tol && d <= tol
		}
		_, err = sc.Insert(lc).Exec(ctx)
		return err
	})
	if len(v.Errors) > 0 {
		return m.dayInvalid(c, v, id)
	}
	if errors.Is(err, errStaffMoved) {
		return c.Redirect(staffBack(c), "staff_not_done")
	}
	if err != nil {
		return err
	}
	lang := staffLang(t, o)
	loc := m.Msgs.For(lang)
	data := map[string]any{"Test": it.Name, "Person": it.PersonName, "When": staffWhen(t, lang, it.StartsAt), "Reason": reason}
	if alt.IsZero() {
		data["Alternative"] = loc.T("eshop.labcancel.no_alternative")
	} else {
		data["Alternative"] = loc.T("eshop.labcancel.alternative", "When", staffWhen(t, lang, alt), "Point", pointWords(pt))
	}
	data["Contact"] = labContactLine(t, loc)
	if _, err := m.sendTo(c.Context(), o, tmplLabCancelled, "/eshop/orders/"+o.ID, data); err != nil {
		return fmt.Errorf("lab cancellation of item %s: tell the customer: %w", it.ID, err)
	}
	detail := map[string]any{"test": it.Name, "person": it.PersonName, "reason": reason}
	if !alt.IsZero() {
		detail["to"] = staffWhen(t, t.Locale, alt)
	}
	if err := m.record(c, auditLabCancelled, o, detail); err != nil {
		return err
	}
	return c.Redirect(staffBack(c), "staff_lab_cancelled")
}

// pointWords is a collection point as a customer reads it: its name, street and town.
func pointWords(p Point) string {
	parts := []string{}
	for _, s := range []string{p.Name, p.Street, p.Town} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// labContactLine is the lab's contact for a message (the tenant's support address and
// phone), in the message's language; "" when the tenant gave none.
func labContactLine(t sdk.Tenant, loc interface {
	T(string, ...any) string
}) string {
	var parts []string
	for _, k := range []string{"tenant.contacts.support", "tenant.contacts.phone"} {
		if s, _ := t.Rules[k].(string); strings.TrimSpace(s) != "" {
			parts = append(parts, strings.TrimSpace(s))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return loc.T("eshop.labcancel.contact", "Contact", strings.Join(parts, ", "))
}

// LabMove is a slot the lab moved (E8): the item, from when to when.
type LabMove struct {
	ItemID  string
	Was, At time.Time
}

// labMoves are the slots of order orderID the lab moved to an alternative, the latest move
// of each item — for the customer's order page (a notice beside the item: the lab moved
// it), in the caller's transaction. A cross-part function: the orders part shows them with
// the template "staff_lab_moved".
func labMoves(ctx context.Context, sc *store.Scope, orderID string) (map[string]LabMove, error) {
	var lcs []LabCancellation
	if err := sc.Select(&lcs).Where("order_id = ? AND new_at <> original_at", orderID).Order("decided_at").Scan(ctx); err != nil {
		return nil, err
	}
	out := map[string]LabMove{}
	for _, lc := range lcs {
		mv, ok := out[lc.ItemID]
		if !ok {
			mv = LabMove{ItemID: lc.ItemID, Was: lc.OriginalAt}
		}
		mv.At = lc.NewAt
		out[lc.ItemID] = mv
	}
	return out, nil
}

// itemsDone are the states in which an order item is finished: its result published, or
// ended at the collection point (no-show, refused, refused for lateness).
var itemsDone = []string{itemPublished, itemNoShow, itemRefused, itemLateRefused}

// completeIfDone moves a paid order whose every item is finished to completed (a guarded
// update), in the caller's transaction, after one of its items was finished; it reports
// whether it did. The order's row is locked first, so that two items finished at once in
// two transactions cannot each miss the other: the second waits for the first and then sees
// its item finished.
func completeIfDone(ctx context.Context, sc *store.Scope, orderID string) (bool, error) {
	if _, err := sc.Update((*Order)(nil)).Set("status = status").Where("id = ? AND status = ?", orderID, orderPaid).Exec(ctx); err != nil {
		return false, err
	}
	res, err := sc.Update((*Order)(nil)).Set("status = ?", orderCompleted).Where("id = ? AND status = ?", orderID, orderPaid).
		Where("NOT EXISTS (SELECT 1 FROM eshop_order_items AS oi WHERE oi.tenant_id = o.tenant_id AND oi.order_id = o.id AND oi.status NOT IN (?))", bun.In(itemsDone)).
		Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
