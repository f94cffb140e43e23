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

// The orders part's rules (E5): how long the invitation to pay an overdue order runs, and how
// many days of slots a customer whose slot was taken meanwhile may pick a new one from.
var (
	invitationHours = kit.Int("eshop.invitation_hours", 24, 1, 720, "E5")
	repickDays      = kit.Int("eshop.repick_days", 14, 1, 90, "E5")
	// E4: the lines a cart may hold at once, so that no one account holds a point's day.
	cartMaxLines = kit.Int("eshop.cart_max_lines", 10, 1, 100, "E4")
	// E4: how long the notice of a cart line removed because its hold ran out waits for the
	// customer's next cart view.
	lapsedNoticeDays = kit.Int("eshop.cart_lapsed_notice_days", 7, 1, 90, "E4")
)

// Messages (E5): the invitation to pay an overdue order (e-mail and SMS), and the notice
// that it was cancelled unpaid.
const (
	tmplOrderOverdue   = "eshop.order_overdue"
	tmplOrderCancelled = "eshop.order_cancelled"
)

// Jobs: a cart line's hold lapses (E4); an order's payment deadline (E5) and its invitation's
// deadline pass; the sweep does what a lost job did not.
const (
	jobCartExpire   = "eshop.cart_expire"
	jobOrderOverdue = "eshop.order_overdue"
	jobOrderCancel  = "eshop.order_cancel"
	jobOrdersSweep  = "eshop.orders_sweep"
)

// CartCode is a discount code a customer typed in his cart (E14.e), applied at submission.
type CartCode struct {
	bun.BaseModel `bun:"table:eshop_cart_codes,alias:cc"`

	TenantID string    `bun:"tenant_id,pk"`
	UserID   string    `bun:"user_id,pk"`
	Code     string    `bun:"code,pk"`
	AddedAt  time.Time `bun:"added_at"`
}

// OrderCounter is the last order number given in a tenant's year (E4).
type OrderCounter struct {
	bun.BaseModel `bun:"table:eshop_order_counters,alias:oc"`

	TenantID string `bun:"tenant_id,pk"`
	Year     int    `bun:"year,pk"`
	Last     int64  `bun:"last"`
}

// ordersPart: the cart, checkout and the customer's orders (E4–E6), the payment deadline
// and the invitation to pay (E5).
func (m *Module) ordersPart() part {
	routes := []kit.Route{
		kit.Perm("GET /eshop/cart", permOrder, m.cartPage),
		kit.Perm("POST /eshop/cart", permOrder, m.addToCart),
		kit.Perm("POST /eshop/cart/lines/{id}/remove", permOrder, m.removeLine),
		kit.Perm("POST /eshop/cart/codes", permOrder, m.addCode),
		kit.Perm("POST /eshop/cart/codes/remove", permOrder, m.removeCode),
		kit.Public("GET /eshop/cart/countdown.js", m.countdownJS),
		kit.Perm("GET /eshop/orders", permOrder, m.myOrders).Lands(3),
		kit.Perm("GET /eshop/orders/{id}", permOrder, m.orderPage),
		kit.Perm("GET /eshop/orders/{id}/pay", permOrder, m.payOrder),
		kit.Perm("POST /eshop/orders/{id}/pay", permOrder, m.repick),
	}
	// The customer accepts the shop's terms in force before he orders (P6): the version
	// stays with the order.
	routes = append(routes, kit.RequireTerms("eshop",
		kit.Perm("GET /eshop/checkout", permOrder, m.checkoutPage),
		kit.Perm("POST /eshop/checkout", permOrder, m.submitOrder).Multiline("address", "billing_address"),
	)...)
	return part{
		Routes:        routes,
		Rules:         []kit.Rule{invitationHours, repickDays, cartMaxLines, lapsedNoticeDays},
		Notifications: []string{tmplOrderOverdue, tmplOrderCancelled},
		Jobs: []kit.Job{
			{Name: jobCartExpire, Run: m.cartExpireJob},
			{Name: jobOrderOverdue, Run: m.overdueJob},
			{Name: jobOrderCancel, Run: m.cancelJob},
			{Name: jobOrdersSweep, Cron: "*/5 * * * *", Run: m.sweepOrders},
		},
		Forget: m.forgetCart,
		Export: m.exportOrders,
	}
}

// zone is the tenant's time zone.
func zone(t sdk.Tenant) *time.Location { return view.Zone(t.TimeZone) }

// orderPaid records that order orderID is paid in full at at, in the caller's transaction
// (the payment event's): only an order waiting for payment (submitted or overdue) changes,
// so it reports whether this call made the change. The lines of an overdue order whose place
// was released take their original slot again when it is still free; the others stay
// released, and the order's page asks the customer for a new slot (E5).
func (m *Module) orderPaid(ctx context.Context, sc *store.Scope, t sdk.Tenant, orderID string, at time.Time) (bool, error) {
	res, err := sc.Update((*Order)(nil)).Set("status = ?", orderPaid).Set("paid_at = ?", at.UTC()).
		Where("id = ? AND status IN (?)", orderID, bun.In([]string{orderSubmitted, orderOverdue})).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	var o Order
	if err := sc.Select(&o).Where("id = ?", orderID).Scan(ctx); err != nil {
		return false, err
	}
	if _, err := m.reholdItems(ctx, sc, t, &o); err != nil {
		return false, err
	}
	return true, nil
}

// reholdItems takes again, for each released line of order o, a place at its original slot;
// it returns the lines whose slot is no longer free (E5).
func (m *Module) reholdItems(ctx context.Context, sc *store.Scope, t sdk.Tenant, o *Order) ([]OrderItem, error) {
	var items []OrderItem
	if err := sc.Select(&items).Where("order_id = ? AND status = ?", o.ID, itemReleased).Order("starts_at", "id").Scan(ctx); err != nil {
		return nil, err
	}
	var lost []OrderItem
	for _, it := range items {
		if !it.StartsAt.After(m.now()) {
			lost = append(lost, it)
			continue
		}
		hold, err := m.holdPlace(ctx, sc, t, it.PointID, it.StartsAt, holdOrder, it.ID, o.UserID, nil)
		if errors.Is(err, errSlotFull) || errors.Is(err, errNoSlot) {
			lost = append(lost, it)
			continue
		}
		if err != nil {
			return nil, err
		}
		res, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemBooked).Set("hold_id = ?", hold).
			Where("id = ? AND status = ?", it.ID, itemReleased).Exec(ctx)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := m.releaseHold(ctx, sc, hold); err != nil {
				return nil, err
			}
		}
	}
	return lost, nil
}

// ---- payment deadline and invitation (E5) ----

// scheduleOverdue asks for the job that ends an order's payment time; were it lost, the
// sweep does its work.
func (m *Module) scheduleOverdue(ctx context.Context, o *Order) error {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return errors.New("eshop: no host to schedule with")
	}
	_, err := h.Schedule(ctx, sdk.Job{Name: jobOrderOverdue, Key: "overdue:" + o.ID, At: o.PayBy, Payload: []byte(o.ID)})
	return err
}

func (m *Module) overdueJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.markOverdue(ctx, job.Tenant, string(job.Payload))
	return err
}

func (m *Module) cancelJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.cancelUnpaid(ctx, job.Tenant, string(job.Payload))
	return err
}

// markOverdue makes an order unpaid at its deadline overdue (E5): once, guarded on its state
// and deadline; every line's place is released; the customer is invited by e-mail and SMS
// to pay by the invitation's deadline. It reports whether this call made the change.
func (m *Module) markOverdue(ctx context.Context, t sdk.Tenant, orderID string) (bool, error) {
	now := m.now()
	var o Order
	changed := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		deadline := now.Add(time.Duration(invitationHours.Of(t)) * time.Hour)
		res, err := sc.Update((*Order)(nil)).Set("status = ?", orderOverdue).Set("overdue_at = ?", now).Set("invite_deadline = ?", deadline).
			Where("id = ? AND status = ? AND pay_by <= ?", orderID, orderSubmitted, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		changed = true
		if err := m.releaseItems(ctx, sc, orderID); err != nil {
			return err
		}
		return sc.Select(&o).Where("id = ?", orderID).Scan(ctx)
	})
	if err != nil || !changed {
		return false, err
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return true, errors.New("eshop: no host to send the invitation with")
	}
	data := m.orderMessageData(t, &o)
	link := "/eshop/orders/" + o.ID + "/pay"
	var errs []error
	if _, err := h.Send(ctx, sdk.Message{UserID: o.UserID, Template: tmplOrderOverdue, Link: link, Data: data}); err != nil {
		errs = append(errs, fmt.Errorf("invitation e-mail: %w", err))
	}
	if o.Mobile != "" {
		if _, err := h.Send(ctx, sdk.Message{Channel: "sms", To: o.Mobile, Template: tmplOrderOverdue, Link: link, Data: data}); err != nil {
			errs = append(errs, fmt.Errorf("invitation SMS: %w", err))
		}
	}
	if _, err := h.Schedule(ctx, sdk.Job{Name: jobOrderCancel, Key: "cancel:" + o.ID, At: o.InviteDeadline.Time, Payload: []byte(o.ID)}); err != nil {
		errs = append(errs, fmt.Errorf("cancellation job: %w", err))
	}
	return true, errors.Join(errs...)
}

// releaseItems gives back the places of an order's lines that hold one: each becomes
// released, its slot kept as the one the invitation tries first.
func (m *Module) releaseItems(ctx context.Context, sc *store.Scope, orderID string) error {
	var items []OrderItem
	if err := sc.Select(&items).Where("order_id = ? AND hold_id <> ''", orderID).Scan(ctx); err != nil {
		return err
	}
	for _, it := range items {
		if _, err := m.releaseHold(ctx, sc, it.HoldID); err != nil {
			return err
		}
	}
	_, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemReleased).Set("hold_id = ''").
		Where("order_id = ? AND status = ?", orderID, itemBooked).Exec(ctx)
	if err != nil {
		return err
	}
	_, err = sc.Update((*OrderItem)(nil)).Set("hold_id = ''").Where("order_id = ?", orderID).Exec(ctx)
	return err
}

// cancelUnpaid cancels an overdue order still unpaid at its invitation's deadline (E5):
// once, guarded; the places it took again are released, the vouchers it used given back, and
// the customer told by e-mail.
func (m *Module) cancelUnpaid(ctx context.Context, t sdk.Tenant, orderID string) (bool, error) {
	now := m.now()
	var o Order
	changed := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Order)(nil)).Set("status = ?", orderCancelled).Set("cancelled_at = ?", now).
			Where("id = ? AND status = ? AND invite_deadline <= ?", orderID, orderOverdue, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		changed = true
		if err := m.releaseItems(ctx, sc, orderID); err != nil {
			return err
		}
		if err := giveBack(m, ctx, sc, t, orderID); err != nil {
			return err
		}
		return sc.Select(&o).Where("id = ?", orderID).Scan(ctx)
	})
	if err != nil || !changed {
		return false, err
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return true, errors.New("eshop: no host to send the cancellation with")
	}
	if _, err := h.Send(ctx, sdk.Message{UserID: o.UserID, Template: tmplOrderCancelled, Link: "/eshop/orders/" + o.ID, Data: m.orderMessageData(t, &o)}); err != nil {
		return true, fmt.Errorf("cancellation e-mail: %w", err)
	}
	return true, nil
}

// orderMessageData is what the order's messages say, in the order's language.
func (m *Module) orderMessageData(t sdk.Tenant, o *Order) map[string]any {
	lang := o.Locale
	if !locales.IsSupported(lang) {
		lang = t.Locale
	}
	d := map[string]any{"Number": o.Number, "Amount": locales.FormatMoney(lang, o.DueMinor, o.Currency)}
	if !o.InviteDeadline.IsZero() {
		d["Deadline"] = locales.FormatDateTime(lang, o.InviteDeadline.Time, zone(t))
	}
	return d
}

// sweepOrders does what a lost job did not: cart lines whose hold lapsed, orders unpaid at
// their deadline, invitations that ran out.
func (m *Module) sweepOrders(ctx context.Context, job *sdk.Job) error {
	now := m.now()
	var carts, overdue, cancel []string
	err := m.Read(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select((*CartItem)(nil)).Column("ci.id").Where("ci.expires_at <= ?", now).Limit(500).Scan(ctx, &carts); err != nil {
			return err
		}
		if err := sc.Select((*Order)(nil)).Column("o.id").Where("o.status = ? AND o.pay_by <= ?", orderSubmitted, now).Limit(500).Scan(ctx, &overdue); err != nil {
			return err
		}
		return sc.Select((*Order)(nil)).Column("o.id").Where("o.status = ? AND o.invite_deadline <= ?", orderOverdue, now).Limit(500).Scan(ctx, &cancel)
	})
	if err != nil {
		return err
	}
	var errs []error
	// The notices of lapsed lines the customer did not come back to see go after the rule's days.
	if err := m.In(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*CartLapsed)(nil)).Where("lapsed_at <= ?", now.AddDate(0, 0, -int(lapsedNoticeDays.Of(job.Tenant)))).Exec(ctx)
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	for _, id := range carts {
		if _, err := m.expireCartLine(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range overdue {
		if _, err := m.markOverdue(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range cancel {
		if _, err := m.cancelUnpaid(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ---- the customer's orders (E4, E5) ----

// orderLine is an order's line as its page shows it.
type orderLine struct {
	OrderItem
	Point Point
}

// ownOrder reads order id of the signed-in user: ErrNotFound for another's (a page never
// tells which).
func (m *Module) ownOrder(ctx context.Context, c *kit.Ctx, sc *store.Scope, id string) (*Order, error) {
	var o Order
	err := sc.Select(&o).Where("o.id = ? AND o.user_id = ?", id, c.User().ID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kit.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// orderLines reads an order's lines with their collection points.
func orderLines(ctx context.Context, sc *store.Scope, orderID string) ([]orderLine, error) {
	var items []OrderItem
	if err := sc.Select(&items).Where("order_id = ?", orderID).Order("starts_at", "id").Scan(ctx); err != nil {
		return nil, err
	}
	points, err := pointsByID(ctx, sc, func(yield func(string) bool) {
		for _, it := range items {
			if !yield(it.PointID) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]orderLine, len(items))
	for i, it := range items {
		out[i] = orderLine{OrderItem: it, Point: points[it.PointID]}
	}
	return out, nil
}

// pointsByID reads the collection points of the ids given.
func pointsByID(ctx context.Context, sc *store.Scope, ids func(func(string) bool)) (map[string]Point, error) {
	var list []string
	seen := map[string]bool{}
	for id := range ids {
		if !seen[id] {
			seen[id] = true
			list = append(list, id)
		}
	}
	out := map[string]Point{}
	if len(list) == 0 {
		return out, nil
	}
	var ps []Point
	if err := sc.Select(&ps).Where("pn.id IN (?)", bun.In(list)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out, nil
}

// payable reports whether the customer may still pay the order: waiting for payment, or
// overdue before the invitation's deadline (E5).
func (m *Module) payable(o *Order) bool {
	switch o.Status {
	case orderSubmitted:
		return true
	case orderOverdue:
		return !o.InviteDeadline.IsZero() && m.now().Before(o.InviteDeadline.Time)
	}
	return false
}

// myOrders lists the signed-in customer's orders, newest first.
func (m *Module) myOrders(c *kit.Ctx) error {
	var orders []Order
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&orders).Where("o.user_id = ?", c.User().ID).Order("o.submitted_at DESC").Limit(200).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("eshop.orders.title")
	type row struct {
		Order
		Payable bool
	}
	rows := make([]row, len(orders))
	for i, o := range orders {
		rows[i] = row{o, m.payable(&o)}
	}
	v.Data["Orders"] = rows
	return c.Render(http.StatusOK, "eshop_orders", v)
}

// orderPage shows one of the customer's orders: its lines, each person, point, slot and
// state, the amounts, and the pay button while it may be paid.
func (m *Module) orderPage(c *kit.Ctx) error {
	var o *Order
	var lines []orderLine
	moves := map[string]*LabMove{}
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if o, err = m.ownOrder(ctx, c, sc, c.Param("id")); err != nil {
			return err
		}
		if lines, err = orderLines(ctx, sc, o.ID); err != nil {
			return err
		}
		// E8: a slot the lab moved says so, under its line.
		got, err := labMoves(ctx, sc, o.ID)
		for id, mv := range got {
			moves[id] = &mv
		}
		return err
	})
	if err != nil {
		return err
	}
	v := c.View("eshop.order.title")
	v.Data["Order"], v.Data["Lines"], v.Data["Payable"], v.Data["LabMoves"] = o, lines, m.payable(o), moves
	released := false
	for _, l := range lines {
		released = released || l.Status == itemReleased
	}
	v.Data["Released"] = released
	return c.Render(http.StatusOK, "eshop_order", v)
}

// payOrder is the pay button's and the invitation's link (E5): an order waiting for payment
// goes to the gateway; an overdue one first takes its original slots again and goes to the
// gateway when every one is still free, else the customer picks a new slot for the lines
// that lost theirs.
func (m *Module) payOrder(c *kit.Ctx) error {
	t := c.Tenant()
	var o *Order
	var lost []OrderItem
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if o, err = m.ownOrder(ctx, c, sc, c.Param("id")); err != nil {
			return err
		}
		if !m.repickable(o) {
			return nil
		}
		lost, err = m.reholdItems(ctx, sc, t, o)
		return err
	})
	if err != nil {
		return err
	}
	if o.Status == orderPaid && len(lost) > 0 {
		return m.repickPage(c, o, lost, nil, http.StatusOK)
	}
	if !m.payable(o) {
		return c.Redirect("/eshop/orders/"+o.ID, "")
	}
	if len(lost) == 0 {
		return m.goPay(c, o)
	}
	return m.repickPage(c, o, lost, nil, http.StatusOK)
}

// goPay opens the order's payment and sends the browser to the gateway; when the gateway
// cannot be reached, to the order's page with its pay button.
func (m *Module) goPay(c *kit.Ctx, o *Order) error {
	to, err := m.startPayment(c.Context(), c.Tenant(), o.UserID, purposeOrder, o.ID, o.DueMinor)
	if err != nil {
		c.LogFailure(fmt.Errorf("payment of order %s: %w", o.ID, err))
		return c.Redirect("/eshop/orders/"+o.ID, "payment_unavailable")
	}
	if strings.HasPrefix(to, "/") && !strings.HasPrefix(to, "//") {
		return c.Redirect(to, "")
	}
	http.Redirect(c.W, c.R, to, http.StatusSeeOther)
	return nil
}

// repickLine is a line that lost its slot, with the slots it may take instead.
type repickLine struct {
	OrderItem
	Point Point
	Slots []Slot
}

// repickPage asks for a new slot for each line of an overdue order that lost its own (E5).
func (m *Module) repickPage(c *kit.Ctx, o *Order, lost []OrderItem, errs map[string]string, status int) error {
	t := c.Tenant()
	from := m.now()
	to := from.AddDate(0, 0, int(repickDays.Of(t)))
	var lines []repickLine
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		points, err := pointsByID(ctx, sc, func(yield func(string) bool) {
			for _, it := range lost {
				if !yield(it.PointID) {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		for _, it := range lost {
			slots, err := m.openSlots(ctx, sc, t, it.PointID, from, to)
			if err != nil {
				return err
			}
			var free []Slot
			for _, s := range slots {
				if s.Free > 0 {
					free = append(free, s)
				}
			}
			lines = append(lines, repickLine{OrderItem: it, Point: points[it.PointID], Slots: free})
		}
		return nil
	})
	if err != nil {
		return err
	}
	v := c.View("eshop.repick.title")
	v.Data["Order"], v.Data["Lines"] = o, lines
	for k, id := range errs {
		v.Errors[k] = id
	}
	for _, l := range lost {
		v.Values["slot_"+l.ID] = c.Form("slot_" + l.ID)
	}
	if len(errs) > 0 {
		return kit.Invalid("eshop_repick", v)
	}
	return c.Render(status, "eshop_repick", v)
}

// repick takes the new slots the customer picked for the lines that lost theirs, then goes
// to payment (E5). Each new slot is checked as a cart line is: a slot of the point, free,
// and the person old enough and still represented on its day.
func (m *Module) repick(c *kit.Ctx) error {
	t := c.Tenant()
	var o *Order
	var lost []OrderItem
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if o, err = m.ownOrder(ctx, c, sc, c.Param("id")); err != nil {
			return err
		}
		return sc.Select(&lost).Where("order_id = ? AND status = ?", o.ID, itemReleased).Order("starts_at", "id").Scan(ctx)
	})
	if err != nil {
		return err
	}
	if !m.repickable(o) || len(lost) == 0 {
		return c.Redirect("/eshop/orders/"+o.ID, "")
	}
	deps, err := m.dependants(c)
	if err != nil {
		return err
	}
	errs := map[string]string{}
	starts := map[string]time.Time{}
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		for _, it := range lost {
			field := "slot_" + it.ID
			start, ok := parseSlot(c.Form(field))
			if !ok || !start.After(m.now()) {
				errs[field] = "eshop.cart.error.slot"
				continue
			}
			var item Item
			if err := sc.Select(&item).Where("it.id = ?", it.ItemID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			} else if err != nil {
				item = Item{SuitableFrom6: false}
			}
			if key := m.personRefusal(t, &item, it.PersonBirthDate, depOf(deps, it.DependantID), it.DependantID != "", start); key != "" {
				errs[field] = key
				continue
			}
			starts[it.ID] = start
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return m.repickPage(c, o, lost, errs, http.StatusUnprocessableEntity)
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		for _, it := range lost {
			hold, err := m.holdPlace(ctx, sc, t, it.PointID, starts[it.ID], holdOrder, it.ID, o.UserID, nil)
			if errors.Is(err, errSlotFull) {
				errs["slot_"+it.ID] = "eshop.cart.error.slot_full"
				continue
			}
			if errors.Is(err, errNoSlot) {
				errs["slot_"+it.ID] = "eshop.cart.error.no_slot"
				continue
			}
			if err != nil {
				return err
			}
			res, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemBooked).Set("hold_id = ?", hold).Set("starts_at = ?", starts[it.ID]).
				Where("id = ? AND status = ?", it.ID, itemReleased).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errRollback
			}
		}
		if len(errs) > 0 {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		if len(errs) == 0 {
			return c.Redirect("/eshop/orders/"+o.ID, "")
		}
		return m.repickPage(c, o, lost, errs, http.StatusConflict)
	}
	if err != nil {
		return err
	}
	if o.Status == orderPaid {
		return c.Redirect("/eshop/orders/"+o.ID, "slots_taken")
	}
	return m.goPay(c, o)
}

// repickable reports whether the lines of order o that lost their slot may take a new one:
// while it is overdue and may still be paid, or once paid (a payment that came after the
// slot was taken by another, E5).
func (m *Module) repickable(o *Order) bool {
	return (o.Status == orderOverdue && m.payable(o)) || o.Status == orderPaid
}

// giveBack returns to their vouchers what a cancelled order took (the vouchers part's
// giveBackVouchers); a test watches the call through it.
var giveBack = (*Module).giveBackVouchers

// errRollback ends a transaction whose refusal the caller shows.
var errRollback = errors.New("eshop: rolled back")

// ---- the person's data (P11) ----

// forgetCart empties a deleted account's cart and gives its places back; its orders stay,
// as the accounting law wants them.
func (m *Module) forgetCart(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var lines []CartItem
		if err := sc.Select(&lines).Where("ci.user_id = ?", userID).Scan(ctx); err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := m.releaseHold(ctx, sc, l.HoldID); err != nil {
				return err
			}
		}
		if _, err := sc.Delete((*CartItem)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*CartCode)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*CartLapsed)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		// The orders are the lab's accounting records, with their invoices (kept by law):
		// they stay, detached from the account, without the contact details that served
		// only the customer.
		_, err := sc.Update((*Order)(nil)).Set("user_id = ''").Set("email = ''").Set("mobile = ''").Where("user_id = ?", userID).Exec(ctx)
		return err
	})
}

// exportOrders gives the user's orders and their lines (P11).
func (m *Module) exportOrders(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var orders []Order
	var items []OrderItem
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&orders).Where("o.user_id = ?", userID).Order("o.submitted_at").Scan(ctx); err != nil {
			return err
		}
		if len(orders) == 0 {
			return nil
		}
		ids := make([]string, len(orders))
		for i, o := range orders {
			ids[i] = o.ID
		}
		return sc.Select(&items).Where("oi.order_id IN (?)", bun.In(ids)).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"orders": orders, "order_items": items}, nil
}
