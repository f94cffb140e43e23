package eshop

import (
	"context"
	"errors"

	"carenet.dev/platform/plugins/sdk"
)

// payPart: the payment gateways (payment/), the payment pages and notifications (E5), the
// confirmation e-mail and the invoices (E5, E14.d).
func (m *Module) payPart() part {
	return part{}
}

// Payment purposes: what a payment pays for.
const (
	purposeOrder   = "order"
	purposeVoucher = "voucher"
)

// startPayment opens a payment of amountMinor for purpose (purposeOrder, purposeVoucher) and
// its reference (the order's or the voucher purchase's id), by userID, and returns the
// address the customer's browser goes to: the gateway's page. TODO(pay part).
func (m *Module) startPayment(ctx context.Context, t sdk.Tenant, userID, purpose, refID string, amountMinor int64) (string, error) {
	return "", errors.New("eshop: startPayment not built")
}
