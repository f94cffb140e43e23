package eshop

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rickar/cal/v2"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
)

// errSlotFull: the slot has no free place left (E4). errNoSlot: the time is not a slot of the
// point (closed, outside its hours, in the past, or not on the slot grid).
var (
	errSlotFull = errors.New("eshop: slot full")
	errNoSlot   = errors.New("eshop: not a slot of the point")
)

// holdPlace takes one place of the slot at start of point pointID for purpose (holdCart,
// holdOrder, holdOffer), naming refID (the cart item, order item or offer) and the user;
// expires is when a cart's or an offer's hold lapses (nil for an order's). Capacity is held
// by the database (E4): the slot's row is opened with the point's capacity, and a guarded
// increment takes a place only while one is free, so N + 50 concurrent holds on a slot of N
// places give exactly N. It returns the hold's id, errSlotFull or errNoSlot.
func (m *Module) holdPlace(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, start time.Time, purpose, refID, userID string, expires *time.Time) (string, error) {
	start = start.UTC()
	capacity, err := m.slotCapacity(ctx, sc, t, pointID, start)
	if err != nil {
		return "", err
	}
	if _, err := sc.Insert(&SlotLoad{TenantID: sc.TenantID, PointID: pointID, StartsAt: start, Capacity: capacity}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return "", err
	}
	// The manager may have changed the point's capacity since the slot's row was opened: the
	// row follows it as far as the places already taken allow.
	if _, err := sc.Update((*SlotLoad)(nil)).Set("capacity = ?", capacity).
		Where("point_id = ? AND starts_at = ? AND capacity <> ? AND taken <= ?", pointID, start, capacity, capacity).Exec(ctx); err != nil {
		return "", err
	}
	// A place is taken only while one is free under both the row's capacity (the check) and
	// the point's present one (lowered below the places already held, the row keeps the
	// former, and no new hold is taken until enough are released).
	res, err := sc.Update((*SlotLoad)(nil)).Set("taken = taken + 1").
		Where("point_id = ? AND starts_at = ? AND taken < capacity AND taken < ?", pointID, start, capacity).Exec(ctx)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", errSlotFull
	}
	h := &Hold{TenantID: sc.TenantID, ID: newID(), PointID: pointID, StartsAt: start, Purpose: purpose, RefID: refID, UserID: userID, CreatedAt: m.now()}
	if expires != nil {
		h.ExpiresAt.Time = expires.UTC()
	}
	if _, err := sc.Insert(h).Exec(ctx); err != nil {
		return "", err
	}
	return h.ID, nil
}

// releaseHold gives a hold's place back, once: releasing a hold already released (a job
// racing a customer) changes nothing and reports false.
func (m *Module) releaseHold(ctx context.Context, sc *store.Scope, holdID string) (bool, error) {
	if holdID == "" {
		return false, nil
	}
	var h Hold
	err := sc.Select(&h).Where("id = ?", holdID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	res, err := sc.Delete((*Hold)(nil)).Where("id = ?", holdID).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	_, err = sc.Update((*SlotLoad)(nil)).Set("taken = taken - 1").
		Where("point_id = ? AND starts_at = ? AND taken > 0", h.PointID, h.StartsAt).Exec(ctx)
	return err == nil, err
}

// moveHold turns a hold to another purpose and reference, keeping its place: a cart item's
// hold becomes its order item's at submission (no expiry), an accepted offer's the item's.
func (m *Module) moveHold(ctx context.Context, sc *store.Scope, holdID, purpose, refID string, expires *time.Time) (bool, error) {
	q := sc.Update((*Hold)(nil)).Set("purpose = ?", purpose).Set("ref_id = ?", refID)
	if expires != nil {
		q = q.Set("expires_at = ?", expires.UTC())
	} else {
		q = q.Set("expires_at = NULL")
	}
	res, err := q.Where("id = ?", holdID).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Slot is a slot of a collection point and its free places.
type Slot struct {
	Start time.Time
	Free  int
}

// span is an opening range of a day, in minutes from the local midnight.
type span struct{ From, To int }

// clockMinutes reads "HH:MM" as minutes from midnight; "24:00" is the end of the day.
func clockMinutes(s string) (int, bool) {
	h, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(mm) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mi, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hh < 0 || mi < 0 || mi > 59 || hh > 24 || (hh == 24 && mi != 0) {
		return 0, false
	}
	return hh*60 + mi, true
}

// pointDay is what one point is on one day: its opening ranges (none when closed).
type pointDay struct {
	Spans []span
}

// pointWeek holds a point's weekly hours and its exceptions, to answer day by day.
type pointWeek struct {
	point      Point
	hours      map[int][]span // by weekday
	exceptions map[string]PointException
	holidays   *cal.BusinessCalendar
}

// loadWeek reads point pointID (active), its hours and its exceptions from day from on.
func loadWeek(ctx context.Context, sc *store.Scope, pointID, fromDay string) (*pointWeek, error) {
	w := &pointWeek{hours: map[int][]span{}, exceptions: map[string]PointException{}}
	if err := sc.Select(&w.point).Where("pn.id = ? AND pn.active", pointID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNoSlot
		}
		return nil, err
	}
	var hs []PointHours
	if err := sc.Select(&hs).Where("ph.point_id = ?", pointID).Scan(ctx); err != nil {
		return nil, err
	}
	for _, h := range hs {
		a, ok1 := clockMinutes(h.Opens)
		b, ok2 := clockMinutes(h.Closes)
		if ok1 && ok2 && a < b {
			w.hours[h.Weekday] = append(w.hours[h.Weekday], span{a, b})
		}
	}
	for wd := range w.hours {
		sort.Slice(w.hours[wd], func(i, j int) bool { return w.hours[wd][i].From < w.hours[wd][j].From })
	}
	var ex []PointException
	if err := sc.Select(&ex).Where("pe.point_id = ? AND pe.day >= ?", pointID, fromDay).Scan(ctx); err != nil {
		return nil, err
	}
	for _, e := range ex {
		w.exceptions[e.Day] = e
	}
	return w, nil
}

// spans are the opening ranges of the local day (y, mo, d): an exception decides the day
// (closed, or its own hours); a public holiday of the tenant's country closes it; else the
// weekday's hours.
func (w *pointWeek) spans(t sdk.Tenant, day time.Time) []span {
	key := day.Format("2006-01-02")
	if e, ok := w.exceptions[key]; ok {
		if e.Closed {
			return nil
		}
		a, ok1 := clockMinutes(e.Opens)
		b, ok2 := clockMinutes(e.Closes)
		if !ok1 || !ok2 || a >= b {
			return nil
		}
		return []span{{a, b}}
	}
	if w.holidays == nil {
		w.holidays = workdays.Calendar(t.Country, 0, 24)
	}
	if actual, observed, _ := w.holidays.IsHoliday(day); actual || observed {
		return nil
	}
	return w.hours[int(day.Weekday())]
}

// starts are the slot starts of the local day in zone loc: each range's opening plus k
// slot lengths, each slot ending by its closing. Wall-clock times are made in the zone, so a
// day of a DST change keeps its local hours.
func (w *pointWeek) starts(t sdk.Tenant, day time.Time, loc *time.Location) []time.Time {
	slot := w.point.SlotMinutes
	if slot <= 0 {
		return nil
	}
	var out []time.Time
	for _, s := range w.spans(t, day) {
		for m := s.From; m+slot <= s.To; m += slot {
			out = append(out, time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, loc).UTC())
		}
	}
	return out
}

// localDay is the midnight (as a date holder) of instant at in loc.
func localDay(at time.Time, loc *time.Location) time.Time {
	l := at.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, loc)
}

// slotCapacity is the number of places of the slot at start of point pointID, or errNoSlot
// when start is not one of its slots (closed, outside the hours or exceptions, a holiday,
// in the past, off the slot grid) (E3, E4).
func (m *Module) slotCapacity(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, start time.Time) (int, error) {
	start = start.UTC()
	if !start.After(m.now()) {
		return 0, errNoSlot
	}
	loc := view.Zone(t.TimeZone)
	day := localDay(start, loc)
	w, err := loadWeek(ctx, sc, pointID, day.Format("2006-01-02"))
	if err != nil {
		return 0, err
	}
	for _, s := range w.starts(t, day, loc) {
		if s.Equal(start) {
			return w.point.Capacity, nil
		}
	}
	return 0, errNoSlot
}

// maxSlotDays bounds the days one openSlots call walks (a bound of work, not a rule).
const maxSlotDays = 92

// openSlots lists the slots of point pointID that start in [from, to), in order, with their
// free places (the point's capacity less the live holds; a full slot is listed with Free
// 0), skipping closed days, holidays and the past (E3, E4). An unknown or inactive point
// has none.
func (m *Module) openSlots(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, from, to time.Time) ([]Slot, error) {
	if now := m.now(); from.Before(now) {
		from = now
	}
	from, to = from.UTC(), to.UTC()
	if !to.After(from) {
		return nil, nil
	}
	loc := view.Zone(t.TimeZone)
	first := localDay(from, loc)
	w, err := loadWeek(ctx, sc, pointID, first.Format("2006-01-02"))
	if errors.Is(err, errNoSlot) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var loads []SlotLoad
	if err := sc.Select(&loads).Where("sl.point_id = ? AND sl.starts_at >= ? AND sl.starts_at < ?", pointID, from, to).Scan(ctx); err != nil {
		return nil, err
	}
	taken := map[int64]int{}
	for _, l := range loads {
		taken[l.StartsAt.UTC().Unix()] = l.Taken
	}
	var out []Slot
	for i, day := 0, first; i < maxSlotDays && day.Before(to.Add(24*time.Hour)); i, day = i+1, day.AddDate(0, 0, 1) {
		for _, s := range w.starts(t, day, loc) {
			if s.Before(from) || !s.Before(to) || !s.After(m.now()) {
				continue
			}
			free := w.point.Capacity - taken[s.Unix()]
			if free < 0 {
				free = 0
			}
			out = append(out, Slot{Start: s, Free: free})
		}
	}
	return out, nil
}
