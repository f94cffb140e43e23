package calendar

import (
	"context"
	"sort"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// slotQuery asks for the free starts of a service of a doctor at a facility in [From, To).
type slotQuery struct {
	DoctorID, FacilityID string
	Duration             time.Duration
	From, To             time.Time
}

// slotFinder gives the free starts a query asks for, in time order. Module.freeSlots is the
// seam where the full computation (plugins/calendar/slots: exceptions' extra windows, the
// country's public holidays, buffers) is wired; windowSlots is the plain one it replaces.
type slotFinder func(ctx context.Context, t sdk.Tenant, q slotQuery) ([]time.Time, error)

// windowSlots is the plain computation: the doctor's weekly windows at the facility, in the
// tenant's time zone (wall-clock times, so a window keeps its hours across a daylight-saving
// change), cut into consecutive visits of the service's length, less the past, the
// doctor's absences and the time live bookings hold (C4, C9).
func (m *Module) windowSlots(ctx context.Context, t sdk.Tenant, q slotQuery) ([]time.Time, error) {
	if q.Duration <= 0 || !q.From.Before(q.To) {
		return nil, nil
	}
	var windows []Window
	var absences []Exception
	var busy []Booking
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&windows).Where("wi.doctor_id = ? AND wi.facility_id = ?", q.DoctorID, q.FacilityID).Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&absences).Where("ex.doctor_id = ? AND ex.kind = 'absence'", q.DoctorID).
			Where("ex.facility_id IN ('', ?)", q.FacilityID).Where("ex.starts_at < ? AND ex.ends_at > ?", q.To, q.From).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&busy).Column("starts_at", "ends_at").Where("bk.doctor_id = ?", q.DoctorID).
			Where("bk.status IN (?)", bunIn(liveStatuses)).Where("bk.starts_at < ? AND bk.ends_at > ?", q.To, q.From).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	loc := tenantZone(t)
	now := m.now()
	taken := func(s, e time.Time) bool {
		for _, a := range absences {
			if s.Before(a.EndsAt) && a.StartsAt.Before(e) {
				return true
			}
		}
		for _, b := range busy {
			if s.Before(b.EndsAt) && b.StartsAt.Before(e) {
				return true
			}
		}
		return false
	}
	var out []time.Time
	first := q.From.In(loc)
	for day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc); day.Before(q.To); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		wd := int(day.Weekday())
		if wd == 0 {
			wd = 7
		}
		for _, w := range windows {
			if w.Weekday != wd || (w.ValidFrom != "" && date < w.ValidFrom) || (w.ValidUntil != "" && date > w.ValidUntil) {
				continue
			}
			end := time.Date(day.Year(), day.Month(), day.Day(), w.EndMinute/60, w.EndMinute%60, 0, 0, loc)
			for s := time.Date(day.Year(), day.Month(), day.Day(), w.StartMinute/60, w.StartMinute%60, 0, 0, loc); !s.Add(q.Duration).After(end); s = s.Add(q.Duration) {
				e := s.Add(q.Duration)
				if s.Before(q.From) || s.Before(now) || !s.Before(q.To) || taken(s, e) {
					continue
				}
				out = append(out, s.UTC())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}
