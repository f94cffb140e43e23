package eshop

import (
	"context"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// catalogPart: the catalog, its search and the shop manager's pages (E1, E14.f), the
// collection points and their hours (E3, points.go), the slots (slots.go).
func (m *Module) catalogPart() part {
	return part{
		Routes: []kit.Route{kit.Public("GET /eshop", kit.Landing)},
	}
}

// slotCapacity is the number of places of the slot at start of point pointID, or errNoSlot
// when start is not one of its slots (closed, outside the hours or exceptions, a holiday,
// in the past, off the slot grid). TODO(catalog part): the hours, exceptions and holidays.
func (m *Module) slotCapacity(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, start time.Time) (int, error) {
	var p Point
	if err := sc.Select(&p).Where("id = ? AND active", pointID).Scan(ctx); err != nil {
		return 0, errNoSlot
	}
	return p.Capacity, nil
}

// Slot is a slot of a collection point and its free places.
type Slot struct {
	Start time.Time
	Free  int
}

// openSlots lists the slots of point pointID that start in [from, to), in order, with their
// free places (the point's capacity less the live holds), skipping closed days, holidays and
// the past. TODO(catalog part).
func (m *Module) openSlots(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, from, to time.Time) ([]Slot, error) {
	return nil, nil
}
