// Package eshop is the lab e-shop and gift-voucher module (REQUIREMENTS E1–E15): self-pay
// lab tests, collection slots, payment and vouchers. It runs as its own process; it imports
// only the SDK, the kit and the locales.
package eshop

import (
	"embed"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them.
var (
	paymentMinutes              = kit.Int("eshop.payment_minutes", 30, 5, 1440, "E5")
	cartHoldMinutes             = kit.Int("eshop.cart_hold_minutes", 30, 5, 1440, "E4")
	rescheduleNoticeWorkingDays = kit.Int("eshop.reschedule_notice_working_days", 3, 0, 30, "E7")
	arrivalToleranceMinutes     = kit.Int("eshop.arrival_tolerance_minutes", 30, 0, 240, "E8")
	tatGraceWorkingDays         = kit.Int("eshop.tat_grace_working_days", 2, 0, 30, "E10")
	lateResultDiscountPercent   = kit.Int("eshop.late_result_discount_percent", 30, 0, 100, "E10")
	claimDays                   = kit.Int("eshop.claim_days", 30, 1, 365, "E10, E12")
	testVoucherMonths           = kit.Int("eshop.test_voucher_months", 3, 1, 60, "E14.a")
	valueVoucherMonths          = kit.Int("eshop.value_voucher_months", 6, 1, 60, "E14.b")
	minAgeSuitable              = kit.Int("eshop.min_age_suitable", 6, 0, 18, "E1")
	minAgeDefault               = kit.Int("eshop.min_age_default", 10, 0, 18, "E1")
)

// New returns the module: for now its landing page, on the module frame.
func New() sdk.Module {
	return kit.New(kit.Spec{
		ID: "eshop", Version: "0.1.0", Migrations: migrations,
		Portals: []string{"customers"},
		Roles:   []sdk.Role{{ID: "shop_manager"}, {ID: "lab_staff"}},
		Permissions: []sdk.Permission{
			{Name: "eshop.order", Grants: []string{"user"}},                          // E4, E14.d
			{Name: "eshop.manage", Grants: []string{"shop_manager", "tenant_admin"}}, // E1, E3, E14.f
			{Name: "eshop.sampling", Grants: []string{"lab_staff"}},                  // E8, E9, E10
		},
		Rules:  []kit.Rule{paymentMinutes, cartHoldMinutes, rescheduleNoticeWorkingDays, arrivalToleranceMinutes, tatGraceWorkingDays, lateResultDiscountPercent, claimDays, testVoucherMonths, valueVoucherMonths, minAgeSuitable, minAgeDefault},
		Routes: []kit.Route{kit.Public("GET /eshop", kit.Landing)},
	})
}
