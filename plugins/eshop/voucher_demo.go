package eshop

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The demo's vouchers (issue 14.10): value denominations, and one voucher of each kind for
// the demo customer with codes printed in the demo's notes, so that both kinds can be tried
// in the cart. Only the demo uses these fixed codes.
const (
	demoTestVoucherCode  = "DEMOT-EST00-00000-00001"
	demoValueVoucherCode = "DEMOV-A1000-00000-00002"
)

// demoDenominations are the value vouchers the demo shop offers (minor units).
var demoDenominations = []int64{2000, 3000, 5000, 10000}

// seedDemoVouchers offers the demo denominations and gives customerID a test voucher of the
// first test sold as a voucher and a value voucher of 30.00 (the demo part calls it from
// seedDemo once the catalog is seeded). It is idempotent: a second run changes nothing.
func (m *Module) seedDemoVouchers(ctx context.Context, t sdk.Tenant, customerID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		for _, v := range demoDenominations {
			if _, err := sc.Insert(&VoucherDenomination{TenantID: sc.TenantID, ID: newID(), ValueMinor: v, Active: true, CreatedAt: m.now()}).
				On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		pep, err := m.pepper(ctx, sc, true)
		if err != nil {
			return err
		}
		now := m.now()
		var it Item
		_ = sc.Select(&it).Where("voucher_sellable AND active AND withdrawn_at IS NULL").Order("name").Limit(1).Scan(ctx)
		demo := []*Voucher{{Kind: voucherValue, ValueMinor: 3000, ExpiresAt: expiryAfter(t, now, int(valueVoucherMonths.Of(t))), CodeHash: demoValueVoucherCode}}
		if it.ID != "" {
			demo = append(demo, &Voucher{Kind: voucherTest, ItemID: it.ID, ItemName: it.Name, ValueMinor: linePrice(t, &it).Gross(),
				ExpiresAt: expiryAfter(t, now, int(testVoucherMonths.Of(t))), CodeHash: demoTestVoucherCode})
		}
		for _, v := range demo {
			norm := normalizeCode(v.CodeHash)
			hash := hashCode(pep, norm)
			n, err := sc.Select((*Voucher)(nil)).Where("code_hash = ?", hash).Count(ctx)
			if err != nil || n > 0 {
				return err
			}
			v.TenantID, v.ID, v.Origin, v.CodeHash, v.CodeTail, v.Status = sc.TenantID, newID(), originPurchase, hash, norm[codeLen-4:], voucherActive
			v.PurchaserID, v.Currency, v.IssuedAt = customerID, t.Currency, now
			if v.Kind == voucherValue {
				v.BalanceMinor = v.ValueMinor
			}
			if _, err := sc.Insert(v).Exec(ctx); err != nil {
				return err
			}
			if err := m.ledger(ctx, sc, v.ID, entryIssue, v.ValueMinor, "", ""); err != nil {
				return err
			}
		}
		return nil
	})
}
