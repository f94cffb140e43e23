// Package eshop is the lab e-shop and gift-voucher module (REQUIREMENTS E1–E15): self-pay
// lab tests, collection slots, payment and vouchers. It runs as its own process; it imports
// only the SDK, the kit and the locales.
package eshop

import (
	"embed"

	"carenet.dev/platform/plugins/kit/modbase"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

// Manifest declares the module: roles, permissions and their default grants, and the rules
// with the defaults REQUIREMENTS.md gives.
func Manifest() sdk.Manifest {
	return sdk.Manifest{
		ID: "eshop", Version: "0.1.0",
		Roles: []sdk.Role{{ID: "shop_manager"}, {ID: "lab_staff"}},
		Permissions: []sdk.Permission{
			{Name: "eshop.order", Grants: []string{"user"}},                          // E4, E14.d
			{Name: "eshop.manage", Grants: []string{"shop_manager", "tenant_admin"}}, // E1, E3, E14.f
			{Name: "eshop.sampling", Grants: []string{"lab_staff"}},                  // E8, E9, E10
		},
		Routes: []sdk.Route{{Method: "GET", Path: "/eshop", Public: true}},
		Rules: []sdk.Rule{
			{Name: "eshop.payment_minutes", Type: sdk.RuleInt, Default: int64(30), Min: 5, Max: 1440, Ref: "E5"},
			{Name: "eshop.cart_hold_minutes", Type: sdk.RuleInt, Default: int64(30), Min: 5, Max: 1440, Ref: "E4"},
			{Name: "eshop.reschedule_notice_working_days", Type: sdk.RuleInt, Default: int64(3), Min: 0, Max: 30, Ref: "E7"},
			{Name: "eshop.arrival_tolerance_minutes", Type: sdk.RuleInt, Default: int64(30), Min: 0, Max: 240, Ref: "E8"},
			{Name: "eshop.tat_grace_working_days", Type: sdk.RuleInt, Default: int64(2), Min: 0, Max: 30, Ref: "E10"},
			{Name: "eshop.late_result_discount_percent", Type: sdk.RuleInt, Default: int64(30), Min: 0, Max: 100, Ref: "E10"},
			{Name: "eshop.claim_days", Type: sdk.RuleInt, Default: int64(30), Min: 1, Max: 365, Ref: "E10, E12"},
			{Name: "eshop.test_voucher_months", Type: sdk.RuleInt, Default: int64(3), Min: 1, Max: 60, Ref: "E14.a"},
			{Name: "eshop.value_voucher_months", Type: sdk.RuleInt, Default: int64(6), Min: 1, Max: 60, Ref: "E14.b"},
			{Name: "eshop.min_age_suitable", Type: sdk.RuleInt, Default: int64(6), Min: 0, Max: 18, Ref: "E1"},
			{Name: "eshop.min_age_default", Type: sdk.RuleInt, Default: int64(10), Min: 0, Max: 18, Ref: "E1"},
		},
	}
}

// New returns the module.
func New() sdk.Module {
	m := modbase.New(Manifest(), migrations)
	m.Mux.HandleFunc("GET /eshop", m.Landing)
	return m
}
