package eshop

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"carenet.dev/platform/plugins/kit/store"
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
	res, err := sc.Update((*SlotLoad)(nil)).Set("taken = taken + 1").
		Where("point_id = ? AND starts_at = ? AND taken < capacity", pointID, start).Exec(ctx)
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
