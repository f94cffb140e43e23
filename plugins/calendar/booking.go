package calendar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Why a booking is refused; the pages say it in the patient's words.
var (
	// errSlotTaken: another live booking holds some of this time of the doctor (C9).
	errSlotTaken = errors.New("calendar: the slot is taken")
	// errDayLimit: the patient already has the tenant's limit of live bookings with this
	// doctor that day (C8).
	errDayLimit = errors.New("calendar: the patient's bookings with this doctor that day reach the limit")
	// errNotLive: the booking is no longer live (cancelled or expired before).
	errNotLive = errors.New("calendar: the booking is not live")
)

// cell is the grain of SQLite's guard of C9: a live booking holds every cell of its
// doctor's time it touches.
const cell = 5 * time.Minute

// tenantZone is the tenant's time zone (visit days are counted in it, C8), loaded once per
// zone by the kit.
func tenantZone(t sdk.Tenant) *time.Location { return view.Zone(t.TimeZone) }

// reserve stores b, live, if the doctor's time is free and the patient's day with the
// doctor has room, in one transaction in which the database itself holds both (C8, C9):
// never a read of what is free followed by a write. A booking holds its time and the
// doctor's buffer after it, [starts_at, held_until) (C4). On PostgreSQL an exclusion
// constraint refuses an overlapping live booking; on SQLite the booking takes its 5-minute
// cells, each a primary key. The day's limit is held by a unique index over the numbered
// places 1…limit of the patient's (PESEL's) day with the doctor: the booking takes the
// first place free. b's TenantID, ID, VisitDay and DaySlot are set here.
func (m *Module) reserve(ctx context.Context, t sdk.Tenant, b *Booking) error {
	if !b.StartsAt.Before(b.EndsAt) {
		return fmt.Errorf("calendar: booking ends before it starts")
	}
	b.TenantID = t.ID
	if b.ID == "" {
		b.ID = newID()
	}
	b.StartsAt, b.EndsAt = b.StartsAt.UTC(), b.EndsAt.UTC()
	b.VisitDay = b.StartsAt.In(tenantZone(t)).Format(time.DateOnly)
	limit := int(maxBookingsPerDoctorDay.Of(t))
	// Two concurrent inserts checking the exclusion constraint against each other may
	// deadlock on PostgreSQL: it aborts one, which runs again and then meets the other's
	// committed row (the slot is taken) or its absence.
	for attempt := 1; ; attempt++ {
		err := m.reserveOnce(ctx, t, b, limit)
		if !store.IsDeadlock(err) || attempt == 5 {
			return err
		}
	}
}

// reserveOnce is one transaction of reserve.
func (m *Module) reserveOnce(ctx context.Context, t sdk.Tenant, b *Booking, limit int) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if m.Store.Kind() == store.Postgres {
			// Bookings of one doctor queue on his row: the exclusion constraint holds C9
			// either way, and inserts checking it against each other no longer deadlock.
			var id string
			err := sc.Tx.NewRaw("SELECT id FROM calendar_doctors WHERE tenant_id = ? AND id = ? FOR UPDATE", sc.TenantID, b.DoctorID).Scan(ctx, &id)
			if err != nil && !errors.Is(err, sqlNoRows) {
				return err
			}
		}
		// The booking holds the doctor's time up to its end and the buffer he keeps after
		// each visit at the facility, read here, in the transaction (C4): the database keeps
		// every two live bookings of his the buffer apart.
		var buffer int
		err := sc.Tx.NewRaw("SELECT buffer_minutes FROM calendar_doctor_facilities WHERE tenant_id = ? AND doctor_id = ? AND facility_id = ?",
			sc.TenantID, b.DoctorID, b.FacilityID).Scan(ctx, &buffer)
		if err != nil && !errors.Is(err, sqlNoRows) {
			return err
		}
		b.HeldUntil = b.EndsAt.Add(time.Duration(max(buffer, 0)) * time.Minute)
		if m.Store.Kind() == store.SQLite {
			var cells []slotCell
			for at := b.StartsAt.Truncate(cell); at.Before(b.HeldUntil); at = at.Add(cell) {
				cells = append(cells, slotCell{TenantID: t.ID, DoctorID: b.DoctorID, CellAt: at, BookingID: b.ID})
			}
			if _, err := sc.Insert(&cells).Exec(ctx); err != nil {
				if store.IsUniqueViolation(err) {
					return errSlotTaken
				}
				return err
			}
		}
		for place := 1; place <= limit; place++ {
			b.DaySlot = place
			res, err := sc.Insert(b).
				On("CONFLICT (tenant_id, doctor_id, pesel, visit_day, day_slot) WHERE " + liveSQL + " DO NOTHING").Exec(ctx)
			if store.IsExclusionViolation(err) {
				return errSlotTaken
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				return nil
			}
		}
		return errDayLimit
	})
}

// release ends a live booking with status (a cancellation or an expiry) and frees its
// time and its place in the patient's day; the update is guarded on the booking being
// live, so two releases of one booking make one (errNotLive for the other). only, when
// set, is what the booking must still be (an expiry ends only a booking awaiting
// confirmation).
func (m *Module) release(ctx context.Context, t sdk.Tenant, id, status, reason string, only ...string) error {
	if only == nil {
		only = liveStatuses
	}
	now := m.now()
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Booking)(nil)).Set("status = ?", status).Set("cancelled_at = ?", now).Set("cancel_reason = ?", reason).
			Where("bk.id = ?", id).Where("bk.status IN (?)", bunIn(only)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errNotLive
		}
		if m.Store.Kind() == store.SQLite {
			_, err = sc.Delete((*slotCell)(nil)).Where("sc.booking_id = ?", id).Exec(ctx)
		}
		return err
	})
}
