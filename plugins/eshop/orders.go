package eshop

import (
	"context"
	"errors"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// ordersPart: the cart, checkout and the customer's orders (E4–E6), the payment deadline
// and the invitation to pay (E5).
func (m *Module) ordersPart() part {
	return part{}
}

// orderPaid records that order orderID is paid in full at at, in the caller's transaction
// (the payment event's): only an order waiting for payment (submitted or overdue) changes,
// so it reports whether this call made the change. TODO(orders part).
func (m *Module) orderPaid(ctx context.Context, sc *store.Scope, t sdk.Tenant, orderID string, at time.Time) (bool, error) {
	return false, errors.New("eshop: orderPaid not built")
}
