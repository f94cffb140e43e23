// Package calendar is the visit-calendar module (REQUIREMENTS C1–C18): doctor search and
// online booking, with blacklists. It runs as its own process; it imports only the SDK, the
// kit and the locales.
package calendar

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
		ID: "calendar", Version: "0.1.0",
		Roles: []sdk.Role{{ID: "doctor"}, {ID: "facility"}},
		Permissions: []sdk.Permission{
			{Name: "calendar.book", Grants: []string{"user"}},                     // C5, C11
			{Name: "calendar.manage_own", Grants: []string{"doctor", "facility"}}, // C4, C10
			{Name: "calendar.blacklist", Grants: []string{"doctor"}},              // C12
			{Name: "calendar.admin_blacklist", Grants: []string{"tenant_admin"}},  // C13
		},
		Routes: []sdk.Route{{Method: "GET", Path: "/calendar", Public: true}},
		Rules: []sdk.Rule{
			{Name: "calendar.anonymous_confirm_minutes", Type: sdk.RuleInt, Default: int64(30), Min: 5, Max: 1440, Ref: "C6"},
			{Name: "calendar.reminder_hours", Type: sdk.RuleInt, Default: int64(24), Min: 1, Max: 168, Ref: "C7"},
			{Name: "calendar.max_bookings_per_doctor_day", Type: sdk.RuleInt, Default: int64(2), Min: 1, Max: 20, Ref: "C8"},
			{Name: "calendar.blacklist_cancel_percent", Type: sdk.RuleInt, Default: int64(50), Min: 1, Max: 100, Ref: "C12"},
			{Name: "calendar.blacklist_min_bookings", Type: sdk.RuleInt, Default: int64(4), Min: 1, Max: 100, Ref: "C12"},
			{Name: "calendar.blacklist_answer_days", Type: sdk.RuleInt, Default: int64(7), Min: 1, Max: 90, Ref: "C12"},
			{Name: "calendar.admin_blacklist_answer_days", Type: sdk.RuleInt, Default: int64(14), Min: 1, Max: 90, Ref: "C13"},
		},
	}
}

// New returns the module.
func New() sdk.Module {
	m := modbase.New(Manifest(), migrations)
	m.Mux.HandleFunc("GET /calendar", m.Landing)
	return m
}
