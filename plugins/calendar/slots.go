package calendar

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"carenet.dev/platform/plugins/calendar/slots"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// slotQuery asks for the free starts of a service of a doctor at a facility in [From, To).
type slotQuery struct {
	DoctorID, FacilityID string
	Duration             time.Duration
	From, To             time.Time
}

// slotFinder gives the free starts a query asks for, in time order (Module.freeSlots).
type slotFinder func(ctx context.Context, t sdk.Tenant, q slotQuery) ([]time.Time, error)

// windowSlots computes the free starts with plugins/calendar/slots: the doctor's weekly
// windows at the facility, in the tenant's time zone (wall-clock times, so a window keeps its
// hours across a daylight-saving change), closed on the country's public holidays, cut into
// consecutive visits of the service's length, less the past, the doctor's absences and the
// time live bookings hold, with the buffer the doctor keeps around each visit at the
// facility clear on both sides (C4, C9).
func (m *Module) windowSlots(ctx context.Context, t sdk.Tenant, q slotQuery) ([]time.Time, error) {
	if q.Duration <= 0 || !q.From.Before(q.To) {
		return nil, nil
	}
	var windows []Window
	var absences []Exception
	var busy []Booking
	var works DoctorFacility
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		// The buffer he keeps around each visit there (C4); none if he no longer works there.
		err := sc.Select(&works).Where("df.doctor_id = ? AND df.facility_id = ?", q.DoctorID, q.FacilityID).Scan(ctx)
		if err != nil && !errors.Is(err, sqlNoRows) {
			return err
		}
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
	// The doctor's absences and the time live bookings hold are busy; the slots engine keeps
	// the country's public holidays closed and lays each day out on its own, so a window
	// valid from or until a date counts on the days it is valid (C4).
	busyTimes := make([]slots.Busy, 0, len(absences)+len(busy))
	for _, a := range absences {
		busyTimes = append(busyTimes, slots.Busy{Start: a.StartsAt, End: a.EndsAt})
	}
	for _, b := range busy {
		busyTimes = append(busyTimes, slots.Busy{Start: b.StartsAt, End: b.EndsAt})
	}
	loc := tenantZone(t)
	now := m.now()
	country := strings.ToUpper(t.Country)
	if !slots.HasHolidays(country) {
		country = "" // no holiday calendar for it: every day is a working day
	}
	var out []time.Time
	first := q.From.In(loc)
	for day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc); day.Before(q.To); day = day.AddDate(0, 0, 1) {
		date := day.Format(time.DateOnly)
		wd := int(day.Weekday())
		if wd == 0 {
			wd = 7
		}
		var week slots.Week
		for _, w := range windows {
			if w.Weekday != wd || (w.ValidFrom != "" && date < w.ValidFrom) || (w.ValidUntil != "" && date > w.ValidUntil) {
				continue
			}
			week = append(week, slots.Window{Weekday: day.Weekday(), Start: clock(w.StartMinute), End: clock(w.EndMinute)})
		}
		if len(week) == 0 {
			continue
		}
		from, to := day, day.AddDate(0, 0, 1)
		if from.Before(q.From) {
			from = q.From
		}
		if to.After(q.To) {
			to = q.To
		}
		spec := slots.Spec{Week: week, Country: country, Zone: loc, Length: q.Duration,
			Buffer: time.Duration(works.BufferMinutes) * time.Minute}
		if err := spec.Check(); err != nil {
			// The engine refuses the day (overlapping windows kept from before the manage
			// page refused them): it offers nothing, so it is told, with the doctor; his
			// manage page shows him the day (C4).
			m.Log.Warn("calendar: the doctor's windows make no day", "tenant", t.ID, "doctor", q.DoctorID,
				"facility", q.FacilityID, "day", date, "err", err)
			continue
		}
		for _, sl := range slots.Free(spec, busyTimes, from, to, now) {
			out = append(out, sl.Start.UTC())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// clock is a minute of the day as the slots engine reads it ("09:30").
func clock(minute int) string { return fmt.Sprintf("%02d:%02d", minute/60, minute%60) }
