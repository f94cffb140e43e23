// Package calendar is the visit-calendar module (REQUIREMENTS C1–C18): doctor search and
// online booking, with blacklists. It runs as its own process; it imports only the SDK, the
// kit and the locales.
package calendar

import (
	"database/sql"
	"embed"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

//go:embed templates/*.html
var templates embed.FS

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them.
var (
	anonymousConfirmMinutes  = kit.Int("calendar.anonymous_confirm_minutes", 30, 5, 1440, "C6")
	reminderHours            = kit.Int("calendar.reminder_hours", 24, 1, 168, "C7")
	maxBookingsPerDoctorDay  = kit.Int("calendar.max_bookings_per_doctor_day", 2, 1, 20, "C8")
	blacklistCancelPercent   = kit.Int("calendar.blacklist_cancel_percent", 50, 1, 100, "C12")
	blacklistMinBookings     = kit.Int("calendar.blacklist_min_bookings", 4, 1, 100, "C12")
	blacklistAnswerDays      = kit.Int("calendar.blacklist_answer_days", 7, 1, 90, "C12")
	adminBlacklistAnswerDays = kit.Int("calendar.admin_blacklist_answer_days", 14, 1, 90, "C13")
)

// Permissions.
const (
	permBook      = "calendar.book"
	permManageOwn = "calendar.manage_own"
)

const jobSweepRateHits = "calendar.sweep_rate_hits"

// Module is the calendar module.
type Module struct {
	*kit.Module
	now func() time.Time
	// freeSlots gives the free starts the booking pages offer (windowSlots; a test may
	// replace it).
	freeSlots slotFinder
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{now: func() time.Time { return time.Now().UTC() }}
	m.freeSlots = m.windowSlots
	m.Module = kit.New(kit.Spec{
		ID: "calendar", Version: "0.2.0", Migrations: migrations, Templates: templates, Pattern: "templates/*.html",
		Portals: []string{"patients"},
		Roles:   []sdk.Role{{ID: "doctor"}, {ID: "facility"}},
		Permissions: []sdk.Permission{
			{Name: permBook, Grants: []string{"user"}},                           // C5, C11
			{Name: permManageOwn, Grants: []string{"doctor", "facility"}},        // C4, C10
			{Name: "calendar.blacklist", Grants: []string{"doctor"}},             // C12
			{Name: "calendar.admin_blacklist", Grants: []string{"tenant_admin"}}, // C13
			{Name: permDirectory, Grants: []string{"tenant_admin"}},              // C1
		},
		Rules: []kit.Rule{anonymousConfirmMinutes, reminderHours, maxBookingsPerDoctorDay, blacklistCancelPercent, blacklistMinBookings, blacklistAnswerDays, adminBlacklistAnswerDays,
			directoryWindow, directoryPerIP, directoryPerAccount, searchPageSize, searchMaxPages,
			mapTileURL, mapAttribution, searchRadiusKm, firstSlotDays},
		Routes: append([]kit.Route{
			// The directory (C1): public, without JavaScript, within a budget per client and account.
			kit.Public("GET /calendar", m.directory),
			kit.Public("GET /calendar/doctors/{id}", m.doctorPage),
			kit.Perm("GET /calendar/visits", permBook, m.myVisits),
			kit.Perm("GET /calendar/visits/{id}", permBook, m.visitPage),
			kit.Perm("POST /calendar/visits/{id}/cancel", permBook, m.cancelVisit),
			kit.Perm("GET /calendar/agenda", permManageOwn, m.agenda),
			kit.Perm("POST /calendar/agenda/online", permManageOwn, m.switchCalendar),
			kit.Perm("POST /calendar/agenda/{id}/cancel", permManageOwn, m.cancelByDoctor),
			// The map's files (C1), and the directory's care by the administrator.
			kit.Public("GET /calendar/assets/{name}", m.asset),
			kit.Public("GET /calendar/assets/{dir}/{name}", m.asset),
			kit.Public("POST /calendar/doctors/{id}/report", m.report).Multiline("details"),
			kit.Perm("GET /calendar/admin/reports", permDirectory, m.reports),
			kit.Perm("POST /calendar/admin/reports/{id}/resolve", permDirectory, m.resolveReport).Multiline("note"),
			kit.Perm("GET /calendar/admin/import", permDirectory, m.importPage),
			kit.Perm("POST /calendar/admin/import", permDirectory, m.importDirectory),
			kit.Perm("POST /calendar/admin/doctors/{id}/remove", permDirectory, m.removeDoctorRoute),
			kit.Perm("POST /calendar/admin/facilities/{id}/remove", permDirectory, m.removeFacility),
		},
			// A patient accepts the calendar's terms in force before he books (P6): the
			// version stays with the booking.
			kit.RequireTerms("calendar",
				kit.Perm("GET /calendar/doctors/{id}/book", permBook, m.bookPage),
				kit.Perm("POST /calendar/doctors/{id}/book", permBook, m.book),
			)...),
		Notifications: []string{tmplCancelledByDoctor},
		OnDemo:        m.seedDemo,
		OnUserDeleted: m.forget,
		Export:        m.export,
		Jobs: []kit.Job{{Name: jobSweepRateHits, Cron: "41 4 * * *", Run: m.sweepRateHits},
			{Name: jobRefreshSearchWords, Cron: "17 * * * *", Run: m.runRefreshSearchWords}},
		AuditActions: []string{"calendar.directory_imported", "calendar.doctor_removed", "calendar.facility_removed", "calendar.report_resolved"},
	})
	return m
}

// newID is a random id (C1: the directory's ids give nothing to enumerate).
func newID() string { return uuid.NewString() }

// bunIn is a list for an IN (?) clause.
func bunIn(xs []string) any { return bun.In(xs) }

// urlq escapes a query value.
func urlq(s string) string { return url.QueryEscape(s) }

// sqlNoRows is what a select of one row finds when there is none.
var sqlNoRows = sql.ErrNoRows
