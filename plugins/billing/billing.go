// Package billing is the secretariat-billing module (REQUIREMENTS B1–B12): subscriptions,
// usage, monthly invoices and dunning. It runs as its own process; it imports only the SDK,
// the kit and the locales.
package billing

import (
	"embed"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them.
var (
	tariffNoticeMonths           = kit.Int("billing.tariff_notice_months", 1, 0, 12, "B4")
	tariffRefusalDays            = kit.Int("billing.tariff_refusal_days", 10, 0, 90, "B4")
	paymentDay                   = kit.Int("billing.payment_day", 5, 1, 28, "B5")
	latePenaltyLegalRateMultiple = kit.Int("billing.late_penalty_legal_rate_multiple", 2, 0, 10, "B6")
	formalNoticeDays             = kit.Int("billing.formal_notice_days", 15, 1, 90, "B6")
	terminationNoticeMonths      = kit.Int("billing.termination_notice_months", 3, 0, 24, "B8")
	recordingRetentionMonths     = kit.Int("billing.recording_retention_months", 2, 0, 120, "B2")
)

// New returns the module: for now its landing page, on the module frame.
func New() sdk.Module {
	return kit.New(kit.Spec{
		ID: "billing", Version: "0.1.0", Migrations: migrations,
		Portals: []string{"clients"},
		Roles:   []sdk.Role{{ID: "billing_clerk"}, {ID: "secretariat_agent"}},
		Permissions: []sdk.Permission{
			{Name: "billing.view_own", Grants: []string{"user"}},                                   // B1, B5
			{Name: "billing.manage", Grants: []string{"billing_clerk", "tenant_admin"}},            // B3–B8
			{Name: "billing.record_usage", Grants: []string{"secretariat_agent", "billing_clerk"}}, // B3
		},
		Rules:  []kit.Rule{tariffNoticeMonths, tariffRefusalDays, paymentDay, latePenaltyLegalRateMultiple, formalNoticeDays, terminationNoticeMonths, recordingRetentionMonths},
		Routes: []kit.Route{kit.Public("GET /billing", kit.Landing)},
	})
}
