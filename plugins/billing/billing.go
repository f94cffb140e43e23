// Package billing is the secretariat-billing module (REQUIREMENTS B1–B12): subscriptions,
// usage, monthly invoices and dunning. It runs as its own process; it imports only the SDK,
// the kit and the locales.
package billing

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
		ID: "billing", Version: "0.1.0",
		Roles: []sdk.Role{{ID: "billing_clerk"}, {ID: "secretariat_agent"}},
		Permissions: []sdk.Permission{
			{Name: "billing.view_own", Grants: []string{"user"}},                                   // B1, B5
			{Name: "billing.manage", Grants: []string{"billing_clerk", "tenant_admin"}},            // B3–B8
			{Name: "billing.record_usage", Grants: []string{"secretariat_agent", "billing_clerk"}}, // B3
		},
		Routes: []sdk.Route{{Method: "GET", Path: "/billing", Public: true}},
		Rules: []sdk.Rule{
			{Name: "billing.tariff_notice_months", Type: sdk.RuleInt, Default: int64(1), Min: 0, Max: 12, Ref: "B4"},
			{Name: "billing.tariff_refusal_days", Type: sdk.RuleInt, Default: int64(10), Min: 0, Max: 90, Ref: "B4"},
			{Name: "billing.payment_day", Type: sdk.RuleInt, Default: int64(5), Min: 1, Max: 28, Ref: "B5"},
			{Name: "billing.late_penalty_legal_rate_multiple", Type: sdk.RuleInt, Default: int64(2), Min: 0, Max: 10, Ref: "B6"},
			{Name: "billing.formal_notice_days", Type: sdk.RuleInt, Default: int64(15), Min: 1, Max: 90, Ref: "B6"},
			{Name: "billing.termination_notice_months", Type: sdk.RuleInt, Default: int64(3), Min: 0, Max: 24, Ref: "B8"},
			{Name: "billing.recording_retention_months", Type: sdk.RuleInt, Default: int64(2), Min: 0, Max: 120, Ref: "B2"},
		},
	}
}

// New returns the module.
func New() sdk.Module {
	m := modbase.New(Manifest(), migrations)
	m.Mux.HandleFunc("GET /billing", m.Landing)
	return m
}
