// Package results is the results-access module (REQUIREMENTS R1–R10): patients and partner
// professionals read the lab's result reports on their own portals; the lab's information
// system sends the reports through an import API, or lab staff upload them. It runs as its
// own process; it imports only the SDK, the kit and the locales.
package results

import (
	"context"
	"embed"
	"encoding/json"
	"time"

	"carenet.dev/platform/plugins/kit/modbase"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

// Registration fields the module adds (R2): the birth name on the patients' portal, the
// professional register number on the professionals' portal (R1).
const (
	fieldBirthName = "birth_name"
	fieldProNumber = "professional_number"
)

// Permissions.
const (
	permOwn        = "results.read_own"
	permPrescribed = "results.read_prescribed"
	permManage     = "results.manage"
	permSupport    = "results.support"
	permImport     = "results.import"
)

// Manifest declares the module: roles, permissions and their default grants, routes, rules
// with the defaults REQUIREMENTS.md gives, the retention job, the notification template and
// the audit actions.
func Manifest() sdk.Manifest {
	r := func(method, path, perm string) sdk.Route {
		return sdk.Route{Method: method, Path: path, Permission: perm}
	}
	return sdk.Manifest{
		ID: "results", Version: "1.0.0",
		Roles: []sdk.Role{{ID: "professional"}, {ID: "lab_staff"}},
		Permissions: []sdk.Permission{
			{Name: permOwn, Grants: []string{"user"}},                         // R4
			{Name: permPrescribed, Grants: []string{"professional"}},          // R5
			{Name: permManage, Grants: []string{"lab_staff", "tenant_admin"}}, // R3, R6
			{Name: permSupport, Grants: []string{"user"}},                     // R8
			{Name: permImport}, // R3: API keys only
		},
		// Lab staff block accounts and answer support requests and appeals (R6, R8).
		CoreGrants: []sdk.CoreGrant{{Role: "lab_staff", Permission: "admin.users"}, {Role: "lab_staff", Permission: "admin.complaints"}},
		Routes: []sdk.Route{
			{Method: "GET", Path: "/results", Public: true},
			r("GET", "/results/mine", permOwn),
			r("GET", "/results/r/:id", permOwn),
			r("GET", "/results/r/:id/pdf", permOwn),
			r("GET", "/results/trend/:code", permOwn),
			r("GET", "/results/access", permOwn),
			r("GET", "/results/support", permSupport),
			r("POST", "/results/support", permSupport),
			r("GET", "/results/pro", permPrescribed),
			r("GET", "/results/pro/r/:id", permPrescribed),
			r("GET", "/results/pro/r/:id/pdf", permPrescribed),
			r("GET", "/results/staff", permManage),
			r("GET", "/results/staff/queue", permManage),
			r("POST", "/results/staff/queue/:id/link", permManage),
			r("POST", "/results/staff/queue/:id/check", permManage),
			r("GET", "/results/staff/patients", permManage),
			r("GET", "/results/staff/patients/:id", permManage),
			r("POST", "/results/staff/patients/:id/unlink", permManage),
			r("GET", "/results/staff/r/:id", permManage),
			r("GET", "/results/staff/r/:id/pdf", permManage),
			r("GET", "/results/staff/upload", permManage),
			r("POST", "/results/staff/upload", permManage),
			r("GET", "/results/staff/professionals", permManage),
			r("POST", "/results/staff/professionals/:id/activate", permManage),
			r("POST", "/results/staff/professionals/:id/suspend", permManage),
			{Method: "POST", Path: "/results/api/reports", Permission: permImport, API: true},
		},
		Rules: []sdk.Rule{
			{Name: "results.retention_years", Type: sdk.RuleInt, Default: int64(5), Min: 1, Max: 50, Ref: "R4"},
			{Name: "results.retention_notice_days", Type: sdk.RuleInt, Default: int64(30), Min: 0, Max: 365, Ref: "R4"},
			{Name: "results.notify_new_result", Type: sdk.RuleBool, Default: true, Ref: "R10"},
			{Name: "results.support_opens_hour", Type: sdk.RuleInt, Default: int64(8), Min: 0, Max: 23, Ref: "R8"},
			{Name: "results.support_closes_hour", Type: sdk.RuleInt, Default: int64(18), Min: 1, Max: 24, Ref: "R8"},
			{Name: "results.support_answer_hours", Type: sdk.RuleInt, Default: int64(8), Min: 1, Max: 200, Ref: "R8"},
			{Name: "results.max_pdf_mb", Type: sdk.RuleInt, Default: int64(20), Min: 1, Max: 50, Ref: "R3"},
		},
		Jobs:      []sdk.ScheduledJob{{Name: jobRetention, Cron: "17 3 * * *"}},
		Templates: []string{"results.published"},
		AuditActions: []string{"results.view", "results.view_pdf", "results.download", "results.trend", "results.imported",
			"results.linked", "results.unlinked", "results.expired", "results.professional_activated", "results.professional_suspended"},
		RegistrationFields: []sdk.Field{
			{Name: fieldBirthName, LabelKey: "results.field.birth_name", Type: "text", Required: true, MaxLen: 100, Portals: []string{"patients", ""}},
			{Name: fieldProNumber, LabelKey: "results.field.professional_number", Type: "text", Required: true, MaxLen: 14, Portals: []string{portalPros}},
		},
	}
}

const jobRetention = "results.retention"

// Module is the results module.
type Module struct {
	*modbase.Module
	now func() time.Time
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{Module: modbase.New(Manifest(), migrations), now: func() time.Time { return time.Now().UTC() }}
	mux := m.Mux
	mux.HandleFunc("GET /results", m.home)
	mux.HandleFunc("GET /results/mine", m.mine)
	mux.HandleFunc("GET /results/r/{id}", m.patientReport)
	mux.HandleFunc("GET /results/r/{id}/pdf", m.patientPDF)
	mux.HandleFunc("GET /results/trend/{code}", m.trend)
	mux.HandleFunc("GET /results/access", m.accessLog)
	mux.HandleFunc("GET /results/support", m.supportForm)
	mux.HandleFunc("POST /results/support", m.support)
	mux.HandleFunc("GET /results/pro", m.proList)
	mux.HandleFunc("GET /results/pro/r/{id}", m.proReport)
	mux.HandleFunc("GET /results/pro/r/{id}/pdf", m.proPDF)
	mux.HandleFunc("GET /results/staff", m.staffHome)
	mux.HandleFunc("GET /results/staff/queue", m.queue)
	mux.HandleFunc("POST /results/staff/queue/{id}/link", m.linkFromQueue)
	mux.HandleFunc("POST /results/staff/queue/{id}/check", m.checkSecret)
	mux.HandleFunc("GET /results/staff/patients", m.patients)
	mux.HandleFunc("GET /results/staff/patients/{id}", m.patientFile)
	mux.HandleFunc("POST /results/staff/patients/{id}/unlink", m.unlinkPatient)
	mux.HandleFunc("GET /results/staff/r/{id}", m.staffReport)
	mux.HandleFunc("GET /results/staff/r/{id}/pdf", m.staffPDF)
	mux.HandleFunc("GET /results/staff/upload", m.uploadForm)
	mux.HandleFunc("POST /results/staff/upload", m.upload)
	mux.HandleFunc("GET /results/staff/professionals", m.professionals)
	mux.HandleFunc("POST /results/staff/professionals/{id}/activate", m.activate)
	mux.HandleFunc("POST /results/staff/professionals/{id}/suspend", m.suspend)
	mux.HandleFunc("POST /results/api/reports", m.apiImport)
	record := m.Events
	m.Events = func(ctx context.Context, ev *sdk.Event) error {
		if err := m.onEvent(ctx, ev); err != nil {
			return err
		}
		return record(ctx, ev)
	}
	m.Jobs = m.runJob
	return m
}

func (m *Module) onEvent(ctx context.Context, ev *sdk.Event) error {
	switch ev.Kind {
	case sdk.EventUserVerified:
		return m.onVerified(ctx, ev.Tenant, string(ev.Payload))
	case sdk.EventUserDeleted:
		return m.forget(ctx, ev.Tenant, string(ev.Payload))
	case sdk.EventDemoSeeded:
		var seed sdk.DemoSeed
		if err := json.Unmarshal(ev.Payload, &seed); err != nil {
			return err
		}
		return m.seedDemo(ctx, ev.Tenant, seed)
	}
	return nil
}

func (m *Module) runJob(ctx context.Context, job *sdk.Job) error {
	if job.Name == jobRetention {
		_, err := m.expire(ctx, job.Tenant)
		return err
	}
	return nil
}
