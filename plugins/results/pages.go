package results

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Audiences of a report page: each has its own routes and its own ownership rule.
const (
	audPatient = "patient"
	audPro     = "pro"
	audStaff   = "staff"
)

var audPrefix = map[string]string{audPatient: "/results/r/", audPro: "/results/pro/r/", audStaff: "/results/staff/r/"}

func hasStaffRole(u *sdk.User) bool { return u.HasRole(roleLabStaff) || u.HasRole("tenant_admin") }

// home is the module's entry: what the service is for someone signed out, and for someone
// signed in the page of his audience.
func (m *Module) home(c *kit.Ctx) error {
	u, t := c.User(), c.Tenant()
	switch {
	case u == nil:
	case t.Portal == portalPros && u.HasRole(roleProfessional):
		return c.Redirect("/results/pro", "")
	case t.Portal != portalPros && !hasStaffRole(u):
		return c.Redirect("/results/mine", "")
	}
	v := c.View("module.results.name")
	v.Data["Pros"] = t.Portal == portalPros
	v.Data["Years"] = retentionYears.Of(t)
	if u != nil && t.Portal == portalPros && !u.HasRole(roleProfessional) {
		v.Data["ProStatus"] = "none"
		err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			p, err := professional(ctx, sc, u.ID)
			if err == nil {
				v.Data["ProStatus"] = p.Status
			}
			if errors.Is(err, kit.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return c.Render(200, "home", v)
}

// retention is when a report leaves the service, and whether the patient should be told.
func (m *Module) retention(t sdk.Tenant, rep *Report) (time.Time, bool) {
	end := rep.PublishedAt.AddDate(int(retentionYears.Of(t)), 0, 0)
	notice := time.Duration(retentionNotice.Of(t)) * 24 * time.Hour
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

// ownReports are the reports of the lab records linked to a user, newest first, in one
// statement.
func ownReports(ctx context.Context, sc *store.Scope, userID string) ([]Report, error) {
	return reportsWhere(ctx, sc, 1000, "patient.user_id = ?", userID)
}

// mine lists the patient's results, newest first (R4), with the removal notice (R4).
func (m *Module) mine(c *kit.Ctx) error {
	v := c.View("results.mine.title")
	var reports []Report
	var acc *Account
	// Two reads: the account's state and the reports with their patient.
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		acc, err = account(ctx, sc, c.User().ID)
		switch {
		case errors.Is(err, kit.ErrNotFound):
			acc = nil
			v.Data["State"] = "none"
		case err != nil:
			return err
		default:
			v.Data["State"] = acc.State
		}
		reports, err = ownReports(ctx, sc, c.User().ID)
		return err
	})
	if err != nil {
		return err
	}
	// The version of the module's terms the patient accepted stays with his account (P6):
	// written once per version, at his first visit after accepting it.
	if tv := c.TermsVersion(); acc != nil && tv != "" && acc.TermsVersionID != tv {
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Account)(nil)).Set("terms_version_id = ?", tv).Set("updated_at = ?", m.now()).
				Where("ac.user_id = ?", acc.UserID).Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
	}
	rows := m.rows(c.Tenant(), reports)
	soon := 0
	for _, x := range rows {
		if x.Soon {
			soon++
		}
	}
	v.Data["Rows"], v.Data["Soon"] = rows, soon
	v.Data["Years"] = retentionYears.Of(c.Tenant())
	if v.Data["Family"], err = m.family(c); err != nil { // family.go
		return err
	}
	return c.Render(200, "mine", v)
}

// finder reads the report a path names for the signed-in person, or kit.ErrNotFound (never
// "forbidden": the page does not say whether another patient's report exists).
type finder func(ctx context.Context, sc *store.Scope, u *sdk.User, id string) (*Report, error)

// ownReport is a report of the signed-in patient.
func ownReport(ctx context.Context, sc *store.Scope, u *sdk.User, id string) (*Report, error) {
	rep, err := report(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if rep.Patient == nil || rep.Patient.UserID == "" || rep.Patient.UserID != u.ID {
		return nil, kit.ErrNotFound
	}
	return rep, nil
}

// activePro is the signed-in professional's file when the lab activated it.
func activePro(ctx context.Context, sc *store.Scope, u *sdk.User) (*Professional, error) {
	p, err := professional(ctx, sc, u.ID)
	if err != nil {
		return nil, err
	}
	if p.Status != proActive || p.RegisterNumber == "" {
		return nil, kit.ErrNotFound
	}
	return p, nil
}

// prescribedReport is a report the signed-in professional prescribed (R5).
func prescribedReport(ctx context.Context, sc *store.Scope, u *sdk.User, id string) (*Report, error) {
	p, err := activePro(ctx, sc, u)
	if err != nil {
		return nil, err
	}
	rep, err := report(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if rep.PrescriberNumber == "" || rep.PrescriberNumber != p.RegisterNumber {
		return nil, kit.ErrNotFound
	}
	return rep, nil
}

func staffReport(ctx context.Context, sc *store.Scope, _ *sdk.User, id string) (*Report, error) {
	return report(ctx, sc, id)
}

func (m *Module) find(c *kit.Ctx, find finder) (rep *Report, err error) {
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		rep, err = find(ctx, sc, c.User(), c.Param("id"))
		return err
	})
	return rep, err
}

func (m *Module) patientReport(c *kit.Ctx) error { return m.showReport(c, audPatient, ownReport) }
func (m *Module) proReport(c *kit.Ctx) error     { return m.showReport(c, audPro, prescribedReport) }
func (m *Module) staffReport(c *kit.Ctx) error   { return m.showReport(c, audStaff, staffReport) }
func (m *Module) patientPDF(c *kit.Ctx) error    { return m.sendPDF(c, ownReport) }
func (m *Module) proPDF(c *kit.Ctx) error        { return m.sendPDF(c, prescribedReport) }
func (m *Module) staffPDF(c *kit.Ctx) error      { return m.sendPDF(c, staffReport) }
func (m *Module) patientPrint(c *kit.Ctx) error  { return m.sendPrinted(c, ownReport) }
func (m *Module) proPrint(c *kit.Ctx) error      { return m.sendPrinted(c, prescribedReport) }
func (m *Module) staffPrint(c *kit.Ctx) error    { return m.sendPrinted(c, staffReport) }

// auditSubject is whose data a report is: the patient's account, or, while the lab record
// has none, the record itself (the patient sees those accesses too once linked).
func auditSubject(rep *Report) string {
	if rep.Patient != nil && rep.Patient.UserID != "" {
		return rep.Patient.UserID
	}
	return "labpatient:" + rep.PatientID
}

// access records one access to a report (R9, P9) before it is shown: no record, no data.
// The detail names the report as the patient knows it, by its collection date (in the
// tenant's zone), for the pages that show who read what ("audit.what.results.*", issue 12.5).
func access(c *kit.Ctx, action string, rep *Report) error {
	return c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Subject: auditSubject(rep),
		Resource: "result:" + rep.ID, Detail: map[string]any{"report": rep.ReportID, "collected_date": collectedDate(c.Tenant(), rep.CollectedAt)}})
}

// accessTrend records one reading of an analyte's trend (R9, P9), named by the analyte's
// label as the lab printed it (issue 12.5).
func accessTrend(c *kit.Ctx, subject, code, label string, values int) error {
	return c.Host().Record(c.Context(), sdk.AuditRecord{Action: "results.trend", Subject: subject, Resource: "analyte:" + code,
		Detail: map[string]any{"values": values, "analyte": label}})
}

// collectedDate is the day of a collection in the tenant's zone, as the audit detail keeps it.
func collectedDate(t sdk.Tenant, at time.Time) string {
	return at.In(view.Zone(t.TimeZone)).Format(time.DateOnly)
}

// showReport shows one report to its audience: structured values with reference ranges and
// flags, the PDF inline and as a download (R4).
func (m *Module) showReport(c *kit.Ctx, aud string, find finder) error {
	rep, err := m.find(c, find)
	if err != nil {
		return err
	}
	if err := access(c, "results.view", rep); err != nil {
		return err
	}
	v := c.View("results.report.title")
	end, soon := m.retention(c.Tenant(), rep)
	v.Data["Report"], v.Data["Removal"], v.Data["Soon"] = rep, end, soon
	v.Data["Audience"], v.Data["Prefix"] = aud, audPrefix[aud]
	if err := m.reportExtras(c, aud, rep, v); err != nil {
		return err
	}
	abnormal := 0
	for _, x := range rep.Values {
		if x.Abnormal() {
			abnormal++
		}
	}
	v.Data["Abnormal"] = abnormal
	v.Data["Collected"] = rep.Collected(v.Lang(), tenantLoc(c.Tenant()))
	return c.Render(200, "report", v)
}

// sendPDF sends a report's PDF, inline or as a download, never cached by the browser or a
// proxy; each time is recorded (R9).
func (m *Module) sendPDF(c *kit.Ctx, find finder) error {
	rep, err := m.find(c, find)
	if err != nil {
		return err
	}
	blob, err := c.Host().Blob(c.Context(), rep.BlobID)
	if err != nil {
		return fmt.Errorf("report %s: %w: %w", rep.ID, kit.ErrNotFound, err)
	}
	action, disp := "results.view_pdf", "inline"
	if c.Query("download") == "1" {
		action, disp = "results.download", "attachment"
	}
	if err := access(c, action, rep); err != nil {
		return err
	}
	// Served as the PDF it was checked to be on import: detected type, nosniff, a policy
	// under which nothing runs, inline only because it is a PDF (issue 11.9).
	upload.Serve(c.W.Header().Set, upload.PDF, upload.DownloadName(rep.PDFName, "report", upload.PDF), disp == "inline")
	c.W.Header().Set("Cache-Control", "private, no-store")
	_, err = c.W.Write(blob.Data)
	return err
}

// accessActions are the audit actions that read a patient's results.
var accessActions = map[string]bool{"results.view": true, "results.view_pdf": true, "results.download": true, "results.trend": true}

// accessRow is one access to a patient's results, as the access log shows it.
type accessRow struct {
	sdk.AuditRecord
	Self        bool
	RoleMessage string
	// What names what was read in words: the report's collection date, the analyte's name.
	What string
}

// accessLog shows the patient who read his results and when (R9).
func (m *Module) accessLog(c *kit.Ctx) error {
	ctx, u := c.Context(), c.User()
	var ids []string
	var reps []Report
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if ids, err = patientIDsOf(ctx, sc, u.ID); err != nil {
			return err
		}
		reps, err = ownReports(ctx, sc, u.ID)
		return err
	}); err != nil {
		return err
	}
	entries, err := c.Host().AuditTrail(ctx, u.ID, 500)
	if err != nil {
		return err
	}
	for _, id := range ids {
		more, err := c.Host().AuditTrail(ctx, "labpatient:"+id, 500)
		if err != nil {
			return err
		}
		entries = append(entries, more...)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.After(entries[j].At) })
	// Name the reports by their date: the resource is "result:<id>".
	byID := map[string]*Report{}
	for i := range reps {
		byID["result:"+reps[i].ID] = &reps[i]
	}
	var rows []accessRow
	for _, e := range entries {
		if !accessActions[e.Action] {
			continue
		}
		x := accessRow{AuditRecord: e, Self: e.ActorKind == "user" && e.ActorID == u.ID, What: c.Loc().AuditWhat(e.Action, e.Detail)}
		if rep := byID[e.Resource]; x.What == "" && rep != nil {
			// Recorded before the detail named the report: its date, from the report itself.
			x.What = c.Loc().AuditWhat(e.Action, map[string]any{"collected_date": collectedDate(c.Tenant(), rep.CollectedAt)})
		}
		for _, role := range []string{roleProfessional, roleLabStaff, "tenant_admin", "platform_admin"} {
			for _, have := range e.ActorRoles {
				if have == role && x.RoleMessage == "" {
					x.RoleMessage = m.roleMessage(role)
				}
			}
		}
		rows = append(rows, x)
	}
	v := c.View("results.access.title")
	v.Data["Rows"] = rows
	return c.Render(200, "access", v)
}

// roleMessage is the message id of a role's name as the access log shows it.
func (m *Module) roleMessage(role string) string {
	if role == "tenant_admin" || role == "platform_admin" {
		return "role." + role
	}
	return kit.RoleMessage(m.ID(), sdk.Role{ID: role})
}
