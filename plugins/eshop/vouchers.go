package eshop

import (
	"context"
	"errors"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// voucherPart: gift vouchers — their sale, codes, ledger and redemption (E14).
func (m *Module) voucherPart() part {
	return part{}
}

// redeemCodes applies the discount codes a customer typed in his cart to the lines of an
// order he is submitting, in the order's transaction (E14.e): a test voucher covers its
// test's line (price and fee) in full, a value voucher the rest up to its balance. It sets
// each line's VoucherMinor, records the spending in the vouchers' ledgers, and returns the
// total covered; a code that does not apply gives sdk.FieldErrors{"code": …} with one generic
// message. TODO(voucher part).
func (m *Module) redeemCodes(ctx context.Context, sc *store.Scope, t sdk.Tenant, userID, orderID string, codes []string, lines []*OrderItem) (int64, error) {
	if len(codes) == 0 {
		return 0, nil
	}
	return 0, errors.New("eshop: redeemCodes not built")
}

// giveBackVouchers returns to their vouchers what order orderID took from them, once, in the
// caller's transaction: the order was cancelled unpaid (E5, E14). TODO(voucher part).
func (m *Module) giveBackVouchers(ctx context.Context, sc *store.Scope, t sdk.Tenant, orderID string) error {
	return nil
}

// voucherPurchasePaid issues the vouchers of a paid voucher purchase, in the payment
// event's transaction; it reports whether this call issued them. TODO(voucher part).
func (m *Module) voucherPurchasePaid(ctx context.Context, sc *store.Scope, t sdk.Tenant, purchaseID string) (bool, error) {
	return false, errors.New("eshop: voucherPurchasePaid not built")
}

// afterVoucherPaid runs once the transaction that issued a purchase's vouchers committed:
// it e-mails the codes with the invoice (E14.d). TODO(voucher part).
func (m *Module) afterVoucherPaid(ctx context.Context, t sdk.Tenant, purchaseID string) error {
	return nil
}
