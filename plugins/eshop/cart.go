package eshop

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// cartLine is a line of the cart as its page and the checkout show it.
type cartLine struct {
	CartItem
	Item   Item
	Point  Point
	Person string
	Price  Price
}

// cart is a customer's cart: its live lines (their hold not lapsed) and discount codes.
type cart struct {
	Lines []cartLine
	Codes []string
	Total int64
	// Ends is when the first line's hold lapses.
	Ends time.Time
	// ForOthers: a line is for a person the customer represents.
	ForOthers bool
}

// loadCart reads userID's cart; names are the people's names by dependant id ("" the
// customer himself).
func (m *Module) loadCart(ctx context.Context, sc *store.Scope, t sdk.Tenant, userID string, names map[string]string) (*cart, error) {
	var items []CartItem
	if err := sc.Select(&items).Where("ci.user_id = ? AND ci.expires_at > ?", userID, m.now()).Order("ci.added_at", "ci.id").Scan(ctx); err != nil {
		return nil, err
	}
	out := &cart{}
	if err := sc.Select((*CartCode)(nil)).Column("cc.code").Where("cc.user_id = ?", userID).Order("cc.added_at", "cc.code").Scan(ctx, &out.Codes); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ItemID)
	}
	var cat []Item
	if err := sc.Select(&cat).Where("it.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	byID := map[string]Item{}
	for _, it := range cat {
		byID[it.ID] = it
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
	for _, ci := range items {
		it := byID[ci.ItemID]
		l := cartLine{CartItem: ci, Item: it, Point: points[ci.PointID], Person: names[ci.DependantID], Price: linePrice(t, &it)}
		out.Lines = append(out.Lines, l)
		out.Total += l.Price.Gross()
		if out.Ends.IsZero() || ci.ExpiresAt.Before(out.Ends) {
			out.Ends = ci.ExpiresAt
		}
		out.ForOthers = out.ForOthers || ci.DependantID != ""
	}
	return out, nil
}

// dependants are the people the signed-in user represents (the core's list: minors and
// adults under protection, never an adult with full capacity).
func (m *Module) dependants(c *kit.Ctx) ([]sdk.Dependant, error) {
	return c.Host().Dependants(c.Context(), c.User().ID)
}

// depOf finds dependant id in deps.
func depOf(deps []sdk.Dependant, id string) *sdk.Dependant {
	for i := range deps {
		if deps[i].ID == id {
			return &deps[i]
		}
	}
	return nil
}

// personNames names the customer ("") and the people he represents.
func personNames(u *sdk.User, deps []sdk.Dependant) map[string]string {
	out := map[string]string{"": u.Name}
	for _, d := range deps {
		out[d.ID] = strings.TrimSpace(d.FirstName + " " + d.LastName)
	}
	return out
}

// parseSlot reads a slot's start, RFC 3339.
func parseSlot(s string) (time.Time, bool) {
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, false
	}
	return at.UTC(), true
}

// ageOn is the age in whole years on day of a person born on birth (both "2006-01-02"), or
// -1 when a date cannot be read.
func ageOn(birth, day string) int {
	b, err1 := time.Parse(time.DateOnly, birth)
	d, err2 := time.Parse(time.DateOnly, day)
	if err1 != nil || err2 != nil || d.Before(b) {
		return -1
	}
	age := d.Year() - b.Year()
	if d.Month() < b.Month() || (d.Month() == b.Month() && d.Day() < b.Day()) {
		age--
	}
	return age
}

// personRefusal says why the person may not have item done at start (E1, E2), or "": on the
// slot's day, in the tenant's zone, he must have reached the item's minimum age, and a person
// the customer represents must still be represented by him (a minor until he comes of age).
// dep is nil for the customer himself (forOther false), or for a person no longer on his list.
func (m *Module) personRefusal(t sdk.Tenant, it *Item, birth string, dep *sdk.Dependant, forOther bool, start time.Time) string {
	day := start.In(zone(t)).Format(time.DateOnly)
	if forOther {
		if dep == nil {
			return "eshop.cart.error.person"
		}
		if !dep.RepresentedOn(day) {
			return "eshop.cart.error.not_represented"
		}
		birth = dep.BirthDate
	}
	if age := ageOn(birth, day); age < 0 {
		return "eshop.cart.error.no_birth_date"
	} else if age < minAge(t, it) {
		return "eshop.cart.error.too_young"
	}
	return ""
}

// cartView is the cart's page data.
func (m *Module) cartView(c *kit.Ctx) (*kit.View, error) {
	t := c.Tenant()
	deps, err := m.dependants(c)
	if err != nil {
		return nil, err
	}
	lapsed, err := m.takeLapsed(c.Context(), t, c.User().ID, personNames(c.User(), deps))
	if err != nil {
		return nil, err
	}
	var ct *cart
	var items []Item
	var points []Point
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if ct, err = m.loadCart(ctx, sc, t, c.User().ID, personNames(c.User(), deps)); err != nil {
			return err
		}
		if err := sc.Select(&items).Where("it.active AND it.withdrawn_at IS NULL").Order("it.name").Limit(500).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&points).Where("pn.active").Order("pn.name").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	sortItems(c.Loc().Lang, items, false)
	sortPoints(c.Loc().Lang, points)
	v := c.View("eshop.cart.title")
	v.Data["Cart"], v.Data["Items"], v.Data["Points"], v.Data["Dependants"] = ct, items, points, deps
	v.Data["Currency"], v.Data["Lapsed"] = t.Currency, lapsed
	// What the codes would cover of the cart, under the discount-code field (E14.e): each
	// code's share, a value voucher's balance after the order, its last day; a code that no
	// longer applies (used meanwhile, expired) gives the one generic message.
	covers, covered, err := m.previewCodes(c.Context(), t, c.User().ID, ct.Codes, cartOrderLines(ct))
	var fe sdk.FieldErrors
	switch {
	case errors.As(err, &fe):
		v.Data["CodesRefused"] = msgCodeRefused
	case err != nil:
		return nil, err
	default:
		v.Data["Covers"], v.Data["Covered"], v.Data["Due"] = covers, covered, ct.Total-covered
	}
	v.Data["Script"] = "/eshop/cart/countdown.js?v=" + m.Manifest().Version
	// A slot is picked among the point's open slots once the test and the point are chosen.
	item, point := c.Query("item"), c.Query("point")
	if c.R.Method == http.MethodPost {
		item, point = c.Form("item"), c.Form("point")
	}
	v.Values["item"], v.Values["point"] = item, point
	// The chosen test's minimum age, next to the person's choice (E1): whether the person
	// is old enough is known only for the slot's day, checked when the line is added.
	for i := range items {
		if items[i].ID == item {
			v.Data["MinAge"] = minAge(t, &items[i])
		}
	}
	if p := c.Query("person"); p != "" {
		v.Values["person"] = p
	}
	if point != "" {
		var slots []Slot
		err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			from := m.now()
			var err error
			slots, err = m.openSlots(ctx, sc, t, point, from, from.AddDate(0, 0, int(repickDays.Of(t))))
			return err
		})
		if err != nil {
			return nil, err
		}
		var free []Slot
		for _, s := range slots {
			if s.Free > 0 {
				free = append(free, s)
			}
		}
		v.Data["Slots"] = free
	}
	return v, nil
}

// cartPage shows the cart: its lines with the time left on their holds, the discount codes,
// and the form that adds a line.
func (m *Module) cartPage(c *kit.Ctx) error {
	v, err := m.cartView(c)
	if err != nil {
		return err
	}
	if s := c.Query("slot"); s != "" {
		v.Values["slot"] = s
	}
	return c.Render(http.StatusOK, "eshop_cart", v)
}

// addToCart puts a test or package in the cart for the customer or a person he represents,
// at a collection point and slot whose place it holds for the tenant's hold time (E4); the
// person must be old enough on the slot's day and, for another, represented then (E1, E2).
func (m *Module) addToCart(c *kit.Ctx) error {
	t := c.Tenant()
	u := c.User()
	errs := map[string]string{}
	deps, err := m.dependants(c)
	if err != nil {
		return err
	}
	person := c.Form("person")
	var dep *sdk.Dependant
	switch person {
	case "self", "":
		person = "self"
	default:
		if dep = depOf(deps, person); dep == nil {
			errs["person"] = "eshop.cart.error.person"
		}
	}
	start, ok := parseSlot(c.Form("slot"))
	if !ok || !start.After(m.now()) {
		errs["slot"] = "eshop.cart.error.slot"
	}
	var item Item
	var point Point
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&item).Where("it.id = ? AND it.active AND it.withdrawn_at IS NULL", c.Form("item")).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			errs["item"] = "eshop.cart.error.item"
		} else if err != nil {
			return err
		}
		if err := sc.Select(&point).Where("pn.id = ? AND pn.active", c.Form("point")).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			errs["point"] = "eshop.cart.error.point"
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) == 0 {
		if key := m.personRefusal(t, &item, u.BirthDate, dep, person != "self", start); key != "" {
			errs["person"] = key
		}
	}
	now := m.now()
	line := &CartItem{TenantID: t.ID, ID: newID(), UserID: u.ID, ItemID: item.ID, PointID: point.ID, StartsAt: start,
		AddedAt: now, ExpiresAt: now.Add(time.Duration(cartHoldMinutes.Of(t)) * time.Minute)}
	if dep != nil {
		line.DependantID = dep.ID
	}
	if len(errs) == 0 {
		err = c.In(func(ctx context.Context, sc *store.Scope) error {
			n, err := sc.Select((*CartItem)(nil)).Where("ci.user_id = ? AND ci.expires_at > ?", u.ID, now).Count(ctx)
			if err != nil {
				return err
			}
			if n >= cartMaxLines.Of(t) {
				errs["item"] = "eshop.cart.error.too_many"
				return errRollback
			}
			hold, err := m.holdPlace(ctx, sc, t, point.ID, start, holdCart, line.ID, u.ID, &line.ExpiresAt)
			switch {
			case errors.Is(err, errSlotFull):
				errs["slot"] = "eshop.cart.error.slot_full"
				return errRollback
			case errors.Is(err, errNoSlot):
				errs["slot"] = "eshop.cart.error.no_slot"
				return errRollback
			case err != nil:
				return err
			}
			line.HoldID = hold
			_, err = sc.Insert(line).Exec(ctx)
			return err
		})
		if err != nil && !errors.Is(err, errRollback) {
			return err
		}
	}
	if len(errs) > 0 {
		v, err := m.cartView(c)
		if err != nil {
			return err
		}
		v.Values["person"], v.Values["slot"] = c.Form("person"), c.Form("slot")
		for k, id := range errs {
			v.Errors[k] = id
		}
		if errs["person"] == "eshop.cart.error.too_young" {
			v.Data["MinAge"] = minAge(t, &item)
		}
		return kit.Invalid("eshop_cart", v)
	}
	// The job frees the place when the hold lapses; were it lost, the sweep does.
	if _, err := c.Host().Schedule(c.Context(), sdk.Job{Name: jobCartExpire, Key: "cart:" + line.ID, At: line.ExpiresAt, Payload: []byte(line.ID)}); err != nil {
		c.LogFailure(err)
	}
	return c.Redirect("/eshop/cart", "cart_added")
}

// removeLine takes a line out of the cart and gives its place back.
func (m *Module) removeLine(c *kit.Ctx) error {
	found := false
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var line CartItem
		if err := sc.Select(&line).Where("ci.id = ? AND ci.user_id = ?", c.Param("id"), c.User().ID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		res, err := sc.Delete((*CartItem)(nil)).Where("id = ? AND user_id = ?", line.ID, line.UserID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		found = true
		_, err = m.releaseHold(ctx, sc, line.HoldID)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return kit.ErrNotFound
	}
	if err := c.Host().Cancel(c.Context(), "cart:"+c.Param("id")); err != nil {
		c.LogFailure(err)
	}
	return c.Redirect("/eshop/cart", "cart_removed")
}

func (m *Module) cartExpireJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.expireCartLine(ctx, job.Tenant, string(job.Payload))
	return err
}

// expireCartLine removes a cart line whose hold lapsed and gives its place back (E4): once,
// and never a line already submitted (the submission deletes it in its own transaction).
func (m *Module) expireCartLine(ctx context.Context, t sdk.Tenant, id string) (bool, error) {
	done := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var line CartItem
		if err := sc.Select(&line).Where("ci.id = ?", id).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		res, err := sc.Delete((*CartItem)(nil)).Where("id = ? AND expires_at <= ?", id, m.now()).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		done = true
		// The customer's next cart view says which line went (E4).
		if _, err := sc.Insert(&CartLapsed{TenantID: sc.TenantID, ID: line.ID, UserID: line.UserID, ItemID: line.ItemID,
			DependantID: line.DependantID, StartsAt: line.StartsAt, LapsedAt: m.now()}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		_, err = m.releaseHold(ctx, sc, line.HoldID)
		return err
	})
	return done, err
}

// CartLapsed is a cart line removed because its hold ran out (E4), kept until the customer's
// next cart view tells him which line went.
type CartLapsed struct {
	bun.BaseModel `bun:"table:eshop_cart_lapsed,alias:cl"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	UserID      string    `bun:"user_id"`
	ItemID      string    `bun:"item_id"`
	DependantID string    `bun:"dependant_id"`
	StartsAt    time.Time `bun:"starts_at"`
	LapsedAt    time.Time `bun:"lapsed_at"`
}

// lapsedLine is a removed line as the cart's notice names it.
type lapsedLine struct {
	Name     string
	Person   string
	StartsAt time.Time
}

// takeLapsed removes userID's cart lines whose hold ran out (the job may not have run yet)
// and returns, once, the lines removed since the last cart view, for the cart's notice (E4).
func (m *Module) takeLapsed(ctx context.Context, t sdk.Tenant, userID string, names map[string]string) ([]lapsedLine, error) {
	var ids []string
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*CartItem)(nil)).Column("ci.id").Where("ci.user_id = ? AND ci.expires_at <= ?", userID, m.now()).Scan(ctx, &ids)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := m.expireCartLine(ctx, t, id); err != nil {
			return nil, err
		}
	}
	var out []lapsedLine
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var rows []CartLapsed
		if err := sc.Select(&rows).Where("cl.user_id = ?", userID).Order("cl.starts_at", "cl.id").Scan(ctx); err != nil || len(rows) == 0 {
			return err
		}
		itemIDs, lineIDs := make([]string, 0, len(rows)), make([]string, 0, len(rows))
		for _, r := range rows {
			itemIDs, lineIDs = append(itemIDs, r.ItemID), append(lineIDs, r.ID)
		}
		var items []Item
		if err := sc.Select(&items).Where("it.id IN (?)", bun.In(itemIDs)).Scan(ctx); err != nil {
			return err
		}
		byID := map[string]string{}
		for _, it := range items {
			byID[it.ID] = it.Name
		}
		// Said once: the rows this view read go (two views at once may both say them).
		if _, err := sc.Delete((*CartLapsed)(nil)).Where("user_id = ? AND id IN (?)", userID, bun.In(lineIDs)).Exec(ctx); err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, lapsedLine{Name: byID[r.ItemID], Person: names[r.DependantID], StartsAt: r.StartsAt})
		}
		return nil
	})
	return out, err
}

// codeRe is what a discount code may look like once upper-cased.
var codeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{3,39}$`)

// normCode is a code as typed, without spaces, upper-cased.
func normCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// cartOrderLines are the cart's lines as the order would take them (the catalog's prices
// now), for previewCodes.
func cartOrderLines(ct *cart) []*OrderItem {
	out := make([]*OrderItem, 0, len(ct.Lines))
	for _, l := range ct.Lines {
		out = append(out, &OrderItem{TenantID: l.TenantID, ID: l.ID, ItemID: l.ItemID, Kind: l.Item.Kind, Name: l.Item.Name,
			PriceMinor: l.Price.PriceMinor, VATPercent: l.Price.VATPercent, FeeMinor: l.Price.FeeMinor, FeeVATPercent: l.Price.FeeVATPercent})
	}
	return out
}

// addCode keeps a discount code with the cart (E14.e); the vouchers part applies it at
// submission. Each try counts against the account's and the address's budget a minute
// (tryCodes), whatever the code; a code that does not apply — unknown, expired, used, or
// covering nothing of the cart — is refused with the one generic message and not kept.
func (m *Module) addCode(c *kit.Ctx) error {
	t, u := c.Tenant(), c.User()
	refuse := func(key string) error {
		v, err := m.cartView(c)
		if err != nil {
			return err
		}
		v.Values["code"] = c.Form("code")
		v.Errors["code"] = key
		return kit.Invalid("eshop_cart", v)
	}
	var fe sdk.FieldErrors
	if err := m.tryCodes(c.Context(), t, u.ID, c.Req.RemoteIP, 1); errors.As(err, &fe) {
		return refuse(msgCodeRefused)
	} else if err != nil {
		return err
	}
	code := normCode(c.Form("code"))
	if !codeRe.MatchString(code) {
		return refuse("eshop.cart.error.code")
	}
	var ct *cart
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		ct, err = m.loadCart(ctx, sc, t, u.ID, nil)
		if err != nil || len(ct.Lines) > 0 {
			return err
		}
		// Nothing in the cart yet: the code must name a usable voucher.
		_, err = m.vouchersOf(ctx, sc, t, []string{code})
		return err
	})
	if errors.As(err, &fe) {
		return refuse(msgCodeRefused)
	} else if err != nil {
		return err
	}
	if len(ct.Lines) > 0 && !slices.Contains(ct.Codes, code) {
		if _, _, err := m.previewCodes(c.Context(), t, u.ID, append(slices.Clone(ct.Codes), code), cartOrderLines(ct)); errors.As(err, &fe) {
			return refuse(msgCodeRefused)
		} else if err != nil {
			return err
		}
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&CartCode{TenantID: t.ID, UserID: u.ID, Code: code, AddedAt: m.now()}).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Redirect("/eshop/cart", "code_added")
}

// removeCode takes a discount code out of the cart.
func (m *Module) removeCode(c *kit.Ctx) error {
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*CartCode)(nil)).Where("user_id = ? AND code = ?", c.User().ID, normCode(c.Form("code"))).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Redirect("/eshop/cart", "")
}

// countdown is the cart's tiny script: it counts down to each <time data-countdown> end,
// which the page already states in words for a browser without JavaScript.
const countdown = `(function () {
  var els = document.querySelectorAll("time[data-countdown]");
  if (!els.length) return;
  function tick() {
    els.forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000));
      var out = el.parentNode.querySelector("[data-left]");
      if (!out) return;
      var m = Math.floor(left / 60), s = left % 60;
      out.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      out.hidden = false;
      if (left === 0 && !el.dataset.done) { el.dataset.done = "1"; setTimeout(function () { location.reload(); }, 1500); }
    });
  }
  tick();
  setInterval(tick, 1000);
})();
`

// countdownJS serves the cart's script (the pages' policy allows only the site's own).
func (m *Module) countdownJS(c *kit.Ctx) error {
	h := c.W.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	c.W.WriteHeader(http.StatusOK)
	_, err := c.W.Write([]byte(countdown))
	return err
}
