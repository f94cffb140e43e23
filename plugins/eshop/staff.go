package eshop

import (
	"context"
	"time"

	"carenet.dev/platform/plugins/kit/store"
)

// staffPart: the collection point's work — rescheduling (E7), attendance and refusals (E8,
// E9), the lab's cancellation and withdrawal, force majeure (E13).
func (m *Module) staffPart() part {
	return part{}
}

// forceMajeureDays is the number of days of force majeure the tenant recorded that overlap
// [from, to): every deadline running over them, the turnaround time included, is extended by
// it (E13). TODO(staff part).
func (m *Module) forceMajeureDays(ctx context.Context, sc *store.Scope, from, to time.Time) (int, error) {
	return 0, nil
}
