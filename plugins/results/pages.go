package results

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/sdk"
)

// Audiences of a report page: each has its own routes and its own ownership rule.
const (
	audPatient = "patient"
	audPro     = "pro"
	audStaff   = "staff"
)

var audPrefix = map[string]string{audPatient: "/results/r/", audPro: "/results/pro/r/", audStaff: "/results/staff/r/"}

func hasStaffRole(u *sdk.User) bool { return u.HasRole("lab_staff") || u.HasRole("tenant_admin") }

// home is the module's entry: what the service is for someone signed out, and for someone
// signed in the page of his audience.
func (m *Module) home(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	u := req.User
	switch {
	case u == nil:
	case req.Tenant.Portal == portalPros && u.HasRole("professional"):
		http.Redirect(w, r, req.Tenant.Base+"/results/pro", http.StatusSeeOther)
		return
	case req.Tenant.Portal != portalPros && !hasStaffRole(u):
		http.Redirect(w, r, req.Tenant.Base+"/results/mine", http.StatusSeeOther)
		return
	}
	v := m.view(r, "module.results.name")
	v.Data["Pros"] = req.Tenant.Portal == portalPros
	v.Data["Years"] = req.Tenant.IntRule("results.retention_years", 5)
	if u != nil && req.Tenant.Portal == portalPros && !u.HasRole("professional") {
		p, err := professional(r.Context(), m.DB, req.Tenant.ID, u.ID)
		if err != nil && !errors.Is(err, errNotFound) {
			m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
			return
		}
		if err == nil {
			v.Data["ProStatus"] = p.Status
		} else {
			v.Data["ProStatus"] = "none"
		}
	}
	v.render(w, http.StatusOK, "home")
}

// retention is when a report leaves the service, and whether the patient should be told.
func (m *Module) retention(t sdk.Tenant, rep *Report) (time.Time, bool) {
	end := rep.PublishedAt.AddDate(int(t.IntRule("results.retention_years", 5)), 0, 0)
	notice := time.Duration(t.IntRule("results.retention_notice_days", 30)) * 24 * time.Hour
	return end, end.Sub(m.now()) <= notice
}

type reportRow struct {
	*Report
	Removal time.Time
	Soon    bool
}

func (m *Module) rows(t sdk.Tenant, rs []Report) []reportRow {
	out := make([]reportRow, len(rs))
	for i := range rs {
		end, soon := m.retention(t, &rs[i])
		out[i] = reportRow{Report: &rs[i], Removal: end, Soon: soon}
	}
	return out
}

// mine lists the patient's results, newest first (R4), with the removal notice (R4).
func (m *Module) mine(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	v := m.view(r, "results.mine.title")
	acc, err := account(ctx, m.DB, req.Tenant.ID, req.User.ID)
	switch {
	case errors.Is(err, errNotFound):
		v.Data["State"] = "none"
	case err != nil:
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	default:
		v.Data["State"] = acc.State
	}
	ids, err := patientIDsOf(ctx, m.DB, req.Tenant.ID, req.User.ID)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	var reports []Report
	if len(ids) > 0 {
		if reports, err = reportsWhere(ctx, m.DB, req.Tenant.ID, 1000, "rp.patient_id IN (?)", bun.In(ids)); err != nil {
			m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
			return
		}
	}
	rows := m.rows(req.Tenant, reports)
	soon := 0
	for _, x := range rows {
		if x.Soon {
			soon++
		}
	}
	v.Data["Rows"], v.Data["Soon"] = rows, soon
	v.Data["Years"] = req.Tenant.IntRule("results.retention_years", 5)
	v.render(w, http.StatusOK, "mine")
}

// ownReport is a report of the signed-in patient, or errNotFound (never "forbidden": the
// page does not say whether another patient's report exists).
func (m *Module) ownReport(ctx context.Context, req *sdk.Request, id string) (*Report, error) {
	rep, err := report(ctx, m.DB, req.Tenant.ID, id)
	if err != nil {
		return nil, err
	}
	if rep.Patient == nil || rep.Patient.UserID == "" || rep.Patient.UserID != req.User.ID {
		return nil, errNotFound
	}
	return rep, nil
}

// activePro is the signed-in professional's file when the lab activated it.
func (m *Module) activePro(ctx context.Context, req *sdk.Request) (*Professional, error) {
	p, err := professional(ctx, m.DB, req.Tenant.ID, req.User.ID)
	if err != nil {
		return nil, err
	}
	if p.Status != proActive || p.RegisterNumber == "" {
		return nil, errNotFound
	}
	return p, nil
}

// prescribedReport is a report the signed-in professional prescribed (R5), or errNotFound.
func (m *Module) prescribedReport(ctx context.Context, req *sdk.Request, id string) (*Report, error) {
	p, err := m.activePro(ctx, req)
	if err != nil {
		return nil, err
	}
	rep, err := report(ctx, m.DB, req.Tenant.ID, id)
	if err != nil {
		return nil, err
	}
	if rep.PrescriberNumber == "" || rep.PrescriberNumber != p.RegisterNumber {
		return nil, errNotFound
	}
	return rep, nil
}

func (m *Module) staffReportByID(ctx context.Context, req *sdk.Request, id string) (*Report, error) {
	return report(ctx, m.DB, req.Tenant.ID, id)
}

type finder func(ctx context.Context, req *sdk.Request, id string) (*Report, error)

func (m *Module) patientReport(w http.ResponseWriter, r *http.Request) {
	m.showReport(w, r, audPatient, m.ownReport)
}
func (m *Module) proReport(w http.ResponseWriter, r *http.Request) {
	m.showReport(w, r, audPro, m.prescribedReport)
}
func (m *Module) staffReport(w http.ResponseWriter, r *http.Request) {
	m.showReport(w, r, audStaff, m.staffReportByID)
}
func (m *Module) patientPDF(w http.ResponseWriter, r *http.Request) { m.sendPDF(w, r, m.ownReport) }
func (m *Module) proPDF(w http.ResponseWriter, r *http.Request)     { m.sendPDF(w, r, m.prescribedReport) }
func (m *Module) staffPDF(w http.ResponseWriter, r *http.Request) {
	m.sendPDF(w, r, m.staffReportByID)
}

// auditSubject is whose data a report is: the patient's account, or, while the lab record
// has none, the record itself (the patient sees those accesses too once linked).
func auditSubject(rep *Report) string {
	if rep.Patient != nil && rep.Patient.UserID != "" {
		return rep.Patient.UserID
	}
	return "labpatient:" + rep.PatientID
}

// access records one access to a report (R9, P9) before it is shown: no record, no data.
func access(ctx context.Context, action string, rep *Report) error {
	return sdk.HostFrom(ctx).Audit.Record(ctx, sdk.AuditRecord{Action: action, Subject: auditSubject(rep),
		Resource: "result:" + rep.ID, Detail: map[string]any{"report": rep.ReportID}})
}

// showReport shows one report to its audience: structured values with reference ranges and
// flags, the PDF inline and as a download (R4).
func (m *Module) showReport(w http.ResponseWriter, r *http.Request, aud string, find finder) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	rep, err := find(ctx, req, r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
		return
	}
	if err == nil {
		err = access(ctx, "results.view", rep)
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	v := m.view(r, "results.report.title")
	end, soon := m.retention(req.Tenant, rep)
	v.Data["Report"], v.Data["Removal"], v.Data["Soon"] = rep, end, soon
	v.Data["Audience"], v.Data["Prefix"] = aud, audPrefix[aud]
	abnormal := 0
	for _, x := range rep.Values {
		if x.Flag != "" && x.Flag != "N" {
			abnormal++
		}
	}
	v.Data["Abnormal"] = abnormal
	v.render(w, http.StatusOK, "report")
}

// sendPDF sends a report's PDF, inline or as a download, never cached by the browser or a
// proxy; each time is recorded (R9).
func (m *Module) sendPDF(w http.ResponseWriter, r *http.Request, find finder) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	rep, err := find(ctx, req, r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
		return
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	blob, err := sdk.HostFrom(ctx).Blobs.Get(ctx, rep.BlobID)
	if err != nil {
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
		return
	}
	download := r.URL.Query().Get("download") == "1"
	action, disp := "results.view_pdf", "inline"
	if download {
		action, disp = "results.download", "attachment"
	}
	if err := access(ctx, action, rep); err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("%s; filename=%q; filename*=UTF-8''%s", disp, asciiName(rep.PDFName), url.PathEscape(rep.PDFName)))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(blob.Data)
}

func asciiName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}

// accessActions are the audit actions that read a patient's results.
var accessActions = map[string]bool{"results.view": true, "results.view_pdf": true, "results.download": true, "results.trend": true}

// accessLog shows the patient who read his results and when (R9).
func (m *Module) accessLog(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	ids, err := patientIDsOf(ctx, m.DB, req.Tenant.ID, req.User.ID)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	host := sdk.HostFrom(ctx)
	entries, err := host.Audit.List(ctx, req.User.ID, 500)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	for _, id := range ids {
		more, err := host.Audit.List(ctx, "labpatient:"+id, 500)
		if err != nil {
			m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
			return
		}
		entries = append(entries, more...)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.After(entries[j].At) })
	// Name the reports by their date: the resource is "result:<id>".
	var reps []Report
	if len(ids) > 0 {
		if reps, err = reportsWhere(ctx, m.DB, req.Tenant.ID, 1000, "rp.patient_id IN (?)", bun.In(ids)); err != nil {
			m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
			return
		}
	}
	byID := map[string]*Report{}
	for i := range reps {
		byID["result:"+reps[i].ID] = &reps[i]
	}
	type row struct {
		sdk.AuditEntry
		Self   bool
		Role   string
		Report *Report
	}
	var rows []row
	for _, e := range entries {
		if !accessActions[e.Action] {
			continue
		}
		x := row{AuditEntry: e, Self: e.ActorKind == "user" && e.ActorID == req.User.ID, Report: byID[e.Resource]}
		for _, role := range []string{"professional", "lab_staff", "tenant_admin"} {
			for _, have := range e.ActorRoles {
				if have == role && x.Role == "" {
					x.Role = role
				}
			}
		}
		rows = append(rows, x)
	}
	v := m.view(r, "results.access.title")
	v.Data["Rows"] = rows
	v.render(w, http.StatusOK, "access")
}

// proList lists the results of the professional's patients (R5): only the reports he
// prescribed, found by his register number the lab checked.
func (m *Module) proList(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	v := m.view(r, "results.pro.title")
	p, err := m.activePro(ctx, req)
	if errors.Is(err, errNotFound) {
		v.Data["Pending"] = true
		v.render(w, http.StatusOK, "pro")
		return
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v.Values["q"] = q
	where, args := "rp.prescriber_number = ?", []any{p.RegisterNumber}
	if q != "" {
		where += " AND rp.patient_id IN (SELECT id FROM results_lab_patients WHERE tenant_id = ? AND match_key LIKE ?)"
		args = append(args, req.Tenant.ID, "%"+strings.ReplaceAll(fold(q), "%", "")+"%")
	}
	reps, err := reportsWhere(ctx, m.DB, req.Tenant.ID, 500, where, args...)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
		return
	}
	v.Data["Rows"], v.Data["Pro"] = m.rows(req.Tenant, reps), p
	v.render(w, http.StatusOK, "pro")
}
