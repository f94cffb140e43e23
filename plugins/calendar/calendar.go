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
	"carenet.dev/platform/plugins/kit/leaflet"
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
	rightsAnswerDays         = kit.Int("calendar.rights_answer_days", 30, 1, 90, "C16")
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
		Funcs:   m.pageFuncs(),
		Portals: []string{"patients"},
		Roles:   []sdk.Role{{ID: "doctor"}, {ID: "facility"}},
		Permissions: []sdk.Permission{
			{Name: permBook, Grants: []string{"user"}},                           // C5, C11
			{Name: permManageOwn, Grants: []string{"doctor", "facility"}},        // C4, C10
			{Name: "calendar.blacklist", Grants: []string{"doctor"}},             // C12
			{Name: "calendar.admin_blacklist", Grants: []string{"tenant_admin"}}, // C13
			{Name: permVerify, Grants: []string{"tenant_admin"}},                 // C2
			{Name: permDirectory, Grants: []string{"tenant_admin"}},              // C1
		},
		Rules: []kit.Rule{anonymousConfirmMinutes, reminderHours, maxBookingsPerDoctorDay, blacklistCancelPercent, blacklistMinBookings, blacklistAnswerDays, adminBlacklistAnswerDays,
			directoryWindow, directoryPerIP, directoryPerAccount, searchPageSize, searchMaxPages,
			adminBlacklistEnabled, adminBlacklistAutoApply, rightsAnswerDays, feedDaysBack, feedDaysAhead, feedRequestsPerHour,
			anonymousMinAge, bookingConsents, anonymousPerIP, mapTileURL, mapAttribution, searchRadiusKm, firstSlotDays},
		Routes: append(append(append([]kit.Route{
			// The directory (C1): public, without JavaScript, within a budget per client and account.
			kit.Public("GET /calendar", m.directory),
			kit.Public("GET /calendar/doctors/{id}", m.doctorPage),
			kit.Perm("GET /calendar/visits", permBook, m.myVisits).Lands(3),
			kit.Perm("GET /calendar/visits/{id}", permBook, m.visitPage),
			kit.Perm("POST /calendar/visits/{id}/cancel", permBook, m.cancelVisit),
			kit.Perm("GET /calendar/agenda", permManageOwn, m.agenda).Lands(1),
			kit.Perm("POST /calendar/agenda/online", permManageOwn, m.switchCalendar),
			kit.Perm("POST /calendar/agenda/{id}/cancel", permManageOwn, m.cancelByDoctor),
			kit.Perm("POST /calendar/agenda/{id}/outcome", permManageOwn, m.markOutcome),
			kit.Perm("POST /calendar/agenda/{id}/documents", permManageOwn, m.requestDocuments).Multiline("note"),
			// A doctor's profile and calendar, kept by him or his facility (C2, C4).
			kit.Perm("GET /calendar/manage", permManageOwn, m.manageList),
			kit.Perm("GET /calendar/manage/{id}", permManageOwn, m.managePage),
			kit.Perm("POST /calendar/manage/{id}/profile", permManageOwn, m.saveProfile).Multiline("description"),
			kit.Perm("POST /calendar/manage/{id}/photo", permManageOwn, m.savePhoto),
			kit.Perm("POST /calendar/manage/{id}/services", permManageOwn, m.addService),
			kit.Perm("POST /calendar/manage/{id}/services/{sid}/withdraw", permManageOwn, m.withdrawService),
			kit.Perm("POST /calendar/manage/{id}/windows", permManageOwn, m.addWindow),
			kit.Perm("POST /calendar/manage/{id}/windows/{wid}/remove", permManageOwn, m.removeWindow),
			kit.Perm("POST /calendar/manage/{id}/absences", permManageOwn, m.addAbsence),
			kit.Perm("POST /calendar/manage/{id}/absences/{eid}/remove", permManageOwn, m.removeAbsence),
			kit.Perm("POST /calendar/manage/{id}/buffer", permManageOwn, m.saveBuffer),
			kit.Public("GET /calendar/doctors/{id}/photo", m.photo),
			// The doctor's and the facility's role only after the administrator's check (C2).
			kit.Perm("GET /calendar/apply", permBook, m.applyPage),
			kit.Perm("POST /calendar/apply", permBook, m.apply),
			kit.Perm("GET /calendar/admin/applications", permVerify, m.applications),
			kit.Perm("GET /calendar/admin/applications/{id}/documents/{n}", permVerify, m.applicationDocument),
			kit.Perm("POST /calendar/admin/applications/{id}/approve", permVerify, m.approve),
			kit.Perm("POST /calendar/admin/applications/{id}/refuse", permVerify, m.refuse).Multiline("reason"),
			// Requests about the booking data a doctor keeps, from anyone (C16).
			kit.Public("GET /calendar/doctors/{id}/rights", m.rightsForm),
			kit.Public("POST /calendar/doctors/{id}/rights", m.submitRights).Multiline("message"),
			kit.Perm("GET /calendar/requests", permManageOwn, m.rightsRequests),
			kit.Perm("POST /calendar/requests/{id}/answer", permManageOwn, m.answerRights).Multiline("note"),
			// Messages (C7, C11, issue 13.6): the confirmation's cancel link, a visit's ICS,
			// the doctor's agenda feed behind a secret address he can replace.
			kit.Public("GET /calendar/cancel/{token}", m.cancelLinkPage),
			kit.Public("POST /calendar/cancel/{token}", m.cancelByLink),
			kit.Perm("GET /calendar/visits/{id}/visit.ics", permBook, m.visitICS),
			kit.Perm("GET /calendar/agenda/feed", permManageOwn, m.feedPage),
			kit.Perm("POST /calendar/agenda/feed", permManageOwn, m.rotateFeed),
			kit.Public("GET /calendar/feed/{token}/agenda.ics", m.feed),
			// Booking without an account (C6), confirmed by the e-mail's single-use link.
			kit.Public("GET /calendar/doctors/{id}/guest", m.guestPage),
			kit.Public("POST /calendar/doctors/{id}/guest", m.guestBook),
			kit.Public("GET /calendar/confirm/{token}", m.confirmPage),
			kit.Public("POST /calendar/confirm/{token}", m.confirmBooking),
			// The map's files (C1), and the directory's care by the administrator.
			kit.Public("GET /calendar/assets/{name}", leaflet.Handler(ownAssets, "map.js", "calendar.css")),
			kit.Public("GET /calendar/assets/{dir}/{name}", leaflet.Handler(ownAssets, "map.js", "calendar.css")),
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
			)...), m.blacklistRoutes()...), m.waitlistRoutes()...),
		Notifications: []string{tmplCancelledByDoctor, tmplWaitlistOffer, tmplRemovalAsked, tmplRemovalGranted, tmplRemovalRefused,
			tmplDocumentsRequested, tmplApplicationApproved, tmplApplicationRefused, tmplRightsAnswered, tmplBooked, tmplReminder, tmplConfirmBooking},
		AuditActions: append(append([]string(nil), blacklistAuditActions...), auditApplicationApproved, auditApplicationRefused, auditRightsAnswered,
			"calendar.directory_imported", "calendar.doctor_removed", "calendar.facility_removed", "calendar.report_resolved"),
		// C3: a patient registering on a tenant that runs the calendar gives his PESEL (the
		// core checks it) and his mobile; the booking form starts from them.
		RegistrationFields: []sdk.Field{
			{Name: "pesel", LabelKey: "calendar.field.pesel", Type: "national_id", Required: true, MaxLen: 24, Portals: []string{"patients", ""}},
			{Name: "mobile", LabelKey: "calendar.field.mobile", Type: "tel", Required: true, MaxLen: 32, Portals: []string{"patients", ""}},
		},
		OnDemo:        m.seedDemo,
		OnUserDeleted: m.forget,
		Export:        m.export,
		Jobs: []kit.Job{{Name: jobSweepRateHits, Cron: "41 4 * * *", Run: m.sweepRateHits},
			{Name: jobProposeBlacklists, Cron: "23 3 1 * *", Run: m.proposeBlacklists},
			{Name: jobRemind, Run: m.runRemind}, {Name: jobSweepReminders, Cron: "*/15 * * * *", Run: m.sweepReminders},
			{Name: jobExpireHold, Run: m.expireJob}, {Name: jobSweepHolds, Cron: "*/10 * * * *", Run: m.sweepHolds},
			{Name: jobRefreshSearchWords, Cron: "17 * * * *", Run: m.runRefreshSearchWords}},
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
