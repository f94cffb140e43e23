// Package results is the results-access module (REQUIREMENTS R1–R10): patients and partner
// professionals read the lab's result reports on their own portals; the lab's information
// system sends the reports through an import API, or lab staff upload them. It runs as its
// own process, on the module frame (plugins/kit); it imports only the SDK, the kit and the
// locales.
package results

import (
	"embed"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

//go:embed templates/*.html
var templates embed.FS

// Registration fields the module adds (R2): the birth name on the patients' portal, the
// professional register number on the professionals' portal (R1).
const (
	fieldBirthName = "birth_name"
	fieldProNumber = "professional_number"
	fieldMobile    = "mobile"
)

// Roles of the module: its own in the tenant (a lab's staff of another module are not).
const (
	roleProfessional = "professional"
	roleLabStaff     = "lab_staff"
)

// Permissions.
const (
	permOwn        = "results.read_own"
	permPrescribed = "results.read_prescribed"
	permManage     = "results.manage"
	permSupport    = "results.support"
	permImport     = "results.import"
)

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them.
var (
	retentionYears  = kit.Int("results.retention_years", 5, 1, 50, "R4")
	retentionNotice = kit.Int("results.retention_notice_days", 30, 0, 365, "R4")
	notifyNew       = kit.Bool("results.notify_new_result", true, "R10")
	supportOpens    = kit.Int("results.support_opens_hour", 8, 0, 23, "R8")
	supportCloses   = kit.Int("results.support_closes_hour", 18, 1, 24, "R8")
	supportHours    = kit.Int("results.support_answer_hours", 8, 1, 200, "R8")
	maxPDFMB        = kit.Int("results.max_pdf_mb", 20, 1, 50, "R3")
	// A professional's visit ends after this long without opening his patients' results:
	// what the lab published since the previous visit began is "new" (issue 12.7).
	proVisitGap = kit.Int("results.pro_visit_gap_minutes", 30, 1, 1440, "R5")
)

const jobRetention = "results.retention"

// Module is the results module.
type Module struct {
	*kit.Module
	now func() time.Time
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{now: func() time.Time { return time.Now().UTC() }}
	m.Module = kit.New(kit.Spec{
		ID: "results", Version: "1.1.0",
		Migrations: migrations, Templates: templates, Pattern: "templates/*.html",
		// A tenant's hostnames serve patients or professionals (the console offers these).
		Portals: []string{"patients", portalPros},
		Roles: []sdk.Role{{ID: roleProfessional},
			// Lab staff block accounts and answer support requests and appeals (R6, R8).
			{ID: roleLabStaff, CoreGrants: []string{"admin.users", "admin.complaints"}}},
		Permissions: []sdk.Permission{
			{Name: permOwn, Grants: []string{"user"}},                          // R4
			{Name: permPrescribed, Grants: []string{roleProfessional}},         // R5
			{Name: permManage, Grants: []string{roleLabStaff, "tenant_admin"}}, // R3, R6
			{Name: permSupport, Grants: []string{"user"}},                      // R8
			{Name: permImport}, // R3: API keys only
		},
		Rules: []kit.Rule{retentionYears, retentionNotice, notifyNew, supportOpens, supportCloses, supportHours, maxPDFMB, proVisitGap},
		// A patient accepts the module's terms at his first visit, and again when a new
		// version comes into force (P6): the core asks him before these routes run.
		Routes: append(kit.RequireTerms("results",
			// After signing in, staff land on their queue, a professional on his patients'
			// results, a patient on his own (issue 12.11); a professional the lab has not
			// activated yet, on the professionals' portal, lands home.
			kit.Perm("GET /results/mine", permOwn, m.mine).Lands(3, "patients", ""),
			kit.Perm("GET /results/r/{id}", permOwn, m.patientReport),
			kit.Perm("GET /results/r/{id}/pdf", permOwn, m.patientPDF),
			kit.Perm("GET /results/r/{id}/print", permOwn, m.patientPrint),
			kit.Perm("GET /results/trend/{code}", permOwn, m.trend),
			kit.Perm("GET /results/access", permOwn, m.accessLog),
			// The results of the people the patient represents (P2, issue 12.9; family.go).
			kit.Perm("GET /results/family/r/{id}", permOwn, m.familyReport),
			kit.Perm("GET /results/family/r/{id}/pdf", permOwn, m.familyPDF),
		),
			kit.Public("GET /results", m.home),
			kit.Perm("GET /results/support", permSupport, m.supportForm),
			kit.Perm("POST /results/support", permSupport, m.support).Multiline("body"),
			kit.Perm("GET /results/pro", permPrescribed, m.proList).Lands(2),
			kit.Perm("GET /results/pro/r/{id}", permPrescribed, m.proReport),
			kit.Perm("GET /results/pro/r/{id}/pdf", permPrescribed, m.proPDF),
			kit.Perm("GET /results/pro/r/{id}/print", permPrescribed, m.proPrint),
			kit.Perm("GET /results/pro/p/{id}/trend/{code}", permPrescribed, m.proTrend),
			kit.Perm("GET /results/staff", permManage, m.staffHome),
			kit.Perm("GET /results/staff/queue", permManage, m.queue).Lands(1),
			kit.Perm("POST /results/staff/queue/{id}/link", permManage, m.linkFromQueue),
			kit.Perm("POST /results/staff/queue/{id}/check", permManage, m.checkSecret),
			kit.Perm("GET /results/staff/patients", permManage, m.patients),
			kit.Perm("GET /results/staff/patients/{id}", permManage, m.patientFile),
			kit.Perm("POST /results/staff/patients/{id}/unlink", permManage, m.unlinkPatient),
			kit.Perm("POST /results/staff/patients/{id}/attach", permManage, m.attachPatient),
			kit.Perm("POST /results/staff/patients/{id}/merge", permManage, m.mergePatient),
			kit.Perm("GET /results/staff/r/{id}", permManage, m.staffReport),
			kit.Perm("GET /results/staff/r/{id}/pdf", permManage, m.staffPDF),
			kit.Perm("GET /results/staff/r/{id}/v/{version}", permManage, m.staffVersion),
			kit.Perm("GET /results/staff/r/{id}/v/{version}/pdf", permManage, m.staffVersionPDF),
			kit.Perm("GET /results/staff/r/{id}/print", permManage, m.staffPrint),
			kit.Perm("GET /results/staff/upload", permManage, m.uploadForm),
			kit.Perm("POST /results/staff/upload", permManage, m.upload),
			kit.Perm("GET /results/staff/professionals", permManage, m.professionals),
			kit.Perm("POST /results/staff/professionals/{id}/activate", permManage, m.activate),
			kit.Perm("POST /results/staff/professionals/{id}/suspend", permManage, m.suspend),
			// A LIS may wrap its base64 in lines.
			kit.API("POST /results/api/reports", permImport, m.apiImport).Multiline("pdf_base64"),
			// The same import from a LIS that speaks a standard (issue 12.12): a FHIR R4
			// Bundle, or an HL7 v2.5 ORU^R01 message, which is not JSON.
			// Both answer in their standard's shape, even a body the frame would refuse.
			kit.API("POST /results/api/fhir", permImport, m.fhirImport).RawBody(),
			kit.API("POST /results/api/hl7", permImport, m.hl7Import).RawBody(),
		),
		Jobs:          []kit.Job{{Name: jobRetention, Cron: "17 3 * * *", Run: m.retentionJob}},
		Notifications: []string{"results.published", "results.amended", "results.professional_activated"},
		AuditActions: []string{"results.view", "results.view_pdf", "results.download", "results.trend", "results.imported",
			"results.linked", "results.unlinked", "results.merged", "results.amended", "results.expired", "results.professional_activated", "results.professional_suspended"},
		RegistrationFields: []sdk.Field{
			{Name: fieldBirthName, LabelKey: "results.field.birth_name", Type: "text", Required: true, MaxLen: 100, Portals: []string{"patients", ""}},
			{Name: fieldProNumber, LabelKey: "results.field.professional_number", Type: "text", Required: true, MaxLen: 14, Portals: []string{portalPros}},
			// A mobile number, for the SMS telling a patient a result waits (R10, P7), where
			// the tenant sends SMS; optional.
			{Name: fieldMobile, LabelKey: "results.field.mobile", Type: "tel", MaxLen: 32, Portals: []string{"patients", ""}},
		},
		OnUserVerified: m.onVerified,
		OnUserDeleted:  m.forget,
		OnDemo:         m.seedDemo,
		Export:         m.export,
	})
	return m
}
