// Package results is the results-access module (REQUIREMENTS R1–R10): patients and
// prescribers read lab result PDFs. It runs as its own process; it imports only the SDK,
// the kit and the locales.
package results

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
		ID: "results", Version: "0.1.0",
		Roles: []sdk.Role{{ID: "professional"}, {ID: "lab_staff"}},
		Permissions: []sdk.Permission{
			{Name: "results.read_own", Grants: []string{"user"}},                     // R4
			{Name: "results.read_prescribed", Grants: []string{"professional"}},      // R5
			{Name: "results.manage", Grants: []string{"lab_staff", "tenant_admin"}},  // R3, R6
			{Name: "results.support", Grants: []string{"lab_staff", "tenant_admin"}}, // R8
		},
		Routes: []sdk.Route{{Method: "GET", Path: "/results", Public: true}},
		Rules: []sdk.Rule{
			{Name: "results.retention_years", Type: sdk.RuleInt, Default: int64(5), Min: 1, Max: 50, Ref: "R4"},
			{Name: "results.retention_notice_days", Type: sdk.RuleInt, Default: int64(30), Min: 0, Max: 365, Ref: "R4"},
			{Name: "results.notify_new_result", Type: sdk.RuleBool, Default: true, Ref: "R10"},
			{Name: "results.support_opens_hour", Type: sdk.RuleInt, Default: int64(8), Min: 0, Max: 23, Ref: "R8"},
			{Name: "results.support_closes_hour", Type: sdk.RuleInt, Default: int64(18), Min: 1, Max: 24, Ref: "R8"},
		},
	}
}

// New returns the module.
func New() sdk.Module {
	m := modbase.New(Manifest(), migrations)
	m.Mux.HandleFunc("GET /results", m.Landing)
	return m
}
