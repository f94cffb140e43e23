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
