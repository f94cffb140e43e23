package results

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/sdk"
)

// pathAccount is the waiting account the path names, or false after answering 404 or 500.
func (m *Module) pathAccount(w http.ResponseWriter, r *http.Request) (*Account, bool) {
	a, err := account(r.Context(), m.DB, sdk.RequestFrom(r).Tenant.ID, r.PathValue("id"))
	return a, m.found(w, r, err)
}

// pathPatient is the lab record the path names, or false after answering 404 or 500.
func (m *Module) pathPatient(w http.ResponseWriter, r *http.Request) (*LabPatient, bool) {
	p := &LabPatient{}
	err := m.DB.NewSelect().Model(p).Where("tenant_id = ? AND id = ?", sdk.RequestFrom(r).Tenant.ID, r.PathValue("id")).Scan(r.Context())
	return p, m.found(w, r, notFound(err))
}

// found answers 404 for errNotFound and 500 for any other error; true when err is nil.
func (m *Module) found(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, errNotFound):
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
	case err != nil:
		m.internal(w, r)
	default:
		return true
	}
	return false
}

func (m *Module) internal(w http.ResponseWriter, r *http.Request) {
	m.fail(w, r, http.StatusInternalServerError, "results.error.internal")
}

// seeOther redirects within the tenant with a confirmation.
func seeOther(w http.ResponseWriter, r *http.Request, path, done string) {
	req := sdk.RequestFrom(r)
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "done=" + done
	}
	http.Redirect(w, r, req.Tenant.Base+path, http.StatusSeeOther)
}

// staffHome is the lab staff's desk: the queue, the professionals to check, the upload form
// and the patient search.
func (m *Module) staffHome(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	queue, err := m.DB.NewSelect().Model((*Account)(nil)).Where("tenant_id = ? AND state <> ?", req.Tenant.ID, stateLinked).Count(ctx)
	if err != nil {
		m.internal(w, r)
		return
	}
	pending, err := m.DB.NewSelect().Model((*Professional)(nil)).Where("tenant_id = ? AND status = ?", req.Tenant.ID, proPending).Count(ctx)
	if err != nil {
		m.internal(w, r)
		return
	}
	v := m.view(r, "results.staff.title")
	v.Data["Queue"], v.Data["Pending"] = queue, pending
	v.render(w, http.StatusOK, "staff")
}

type queueItem struct {
	Account
	Candidates []LabPatient
	Check      string // result of a secret-answer check just made: "match", "mismatch", "none"
}

// queue lists the accounts no lab record matched, or several did (R3), each with the lab
// records of people born the same day, for staff to decide after checking who
// the person is (secret question).
func (m *Module) queue(w http.ResponseWriter, r *http.Request) {
	m.renderQueue(w, r, http.StatusOK, "", "", "")
}

func (m *Module) renderQueue(w http.ResponseWriter, r *http.Request, status int, checked, result, linkErr string) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	var accs []Account
	err := m.DB.NewSelect().Model(&accs).Where("tenant_id = ? AND state <> ?", req.Tenant.ID, stateLinked).Order("created_at").Limit(200).Scan(ctx)
	if err != nil {
		m.internal(w, r)
		return
	}
	// The candidates of every waiting account in one query: the records born the same day.
	var cands []LabPatient
	if len(accs) > 0 {
		days := make([]string, len(accs))
		for i, a := range accs {
			days[i] = a.BirthDate
		}
		err = m.DB.NewSelect().Model(&cands).Where("tenant_id = ? AND birth_date IN (?)", req.Tenant.ID, bun.In(days)).
			Order("last_name", "first_name").Limit(2000).Scan(ctx)
		if err != nil {
			m.internal(w, r)
			return
		}
	}
	items := make([]queueItem, len(accs))
	for i, a := range accs {
		items[i].Account = a
		for _, c := range cands {
			if c.BirthDate == a.BirthDate && len(items[i].Candidates) < 20 {
				items[i].Candidates = append(items[i].Candidates, c)
			}
		}
		if a.UserID == checked {
			items[i].Check = result
		}
	}
	v := m.view(r, "results.queue.title")
	v.Data["Items"] = items
	if linkErr != "" {
		v.Errors["lab_patient_id"] = linkErr
		v.Values["user"] = checked
	}
	v.render(w, status, "queue")
}

// checkSecret checks the answer a caller gives to his secret question (P2, R2): the core
// compares it with the stored hash and records the check.
func (m *Module) checkSecret(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, ok := m.pathAccount(w, r)
	if !ok {
		return
	}
	match, has, err := sdk.HostFrom(ctx).Users.CheckSecret(ctx, a.UserID, r.FormValue("answer"))
	if err != nil {
		m.internal(w, r)
		return
	}
	result := "mismatch"
	switch {
	case !has:
		result = "none"
	case match:
		result = "match"
	}
	m.renderQueue(w, r, http.StatusOK, a.UserID, result, "")
}

// linkFromQueue links an account to the lab record staff chose (by the lab's patient id).
func (m *Module) linkFromQueue(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	a, ok := m.pathAccount(w, r)
	if !ok {
		return
	}
	labID := strings.TrimSpace(r.FormValue("lab_patient_id"))
	p := &LabPatient{}
	err := m.DB.NewSelect().Model(p).Where("tenant_id = ? AND lab_patient_id = ?", req.Tenant.ID, labID).Scan(ctx)
	if err != nil {
		if errors.Is(notFound(err), errNotFound) {
			m.renderQueue(w, r, http.StatusUnprocessableEntity, a.UserID, "", "unknown_patient")
			return
		}
		m.internal(w, r)
		return
	}
	linked, err := m.link(ctx, req.Tenant, p, a.UserID, "staff:"+req.User.ID)
	if err != nil {
		m.internal(w, r)
		return
	}
	if !linked {
		m.renderQueue(w, r, http.StatusConflict, a.UserID, "", "already_linked")
		return
	}
	if err := m.notifyNew(ctx, req.Tenant, a.UserID); err != nil {
		m.internal(w, r)
		return
	}
	seeOther(w, r, "/results/staff/queue", "linked")
}

// patients searches the lab records by name, lab id or date of birth.
func (m *Module) patients(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := m.view(r, "results.patients.title")
	v.Values["q"] = q
	if q != "" {
		var ps []LabPatient
		like := "%" + strings.ReplaceAll(fold(q), "%", "") + "%"
		err := m.DB.NewSelect().Model(&ps).Where("tenant_id = ?", req.Tenant.ID).
			Where("(lab_patient_id = ? OR birth_date = ? OR match_key LIKE ?)", q, q, like).
			Order("last_name", "first_name").Limit(100).Scan(ctx)
		if err != nil {
			m.internal(w, r)
			return
		}
		v.Data["Patients"] = ps
	}
	v.render(w, http.StatusOK, "patients")
}

// patientFile shows a lab record: identity, linked account, reports.
func (m *Module) patientFile(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	p, ok := m.pathPatient(w, r)
	if !ok {
		return
	}
	reps, err := reportsWhere(ctx, m.DB, req.Tenant.ID, 1000, "rp.patient_id = ?", p.ID)
	if err != nil {
		m.internal(w, r)
		return
	}
	v := m.view(r, "results.patient.title")
	v.Data["Patient"], v.Data["Rows"] = p, m.rows(req.Tenant, reps)
	if p.UserID != "" {
		if u, err := sdk.HostFrom(ctx).Users.Lookup(ctx, p.UserID); err == nil {
			v.Data["Account"] = u
		}
	}
	v.render(w, http.StatusOK, "patient")
}

func (m *Module) unlinkPatient(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	p, ok := m.pathPatient(w, r)
	if !ok {
		return
	}
	if err := m.unlink(ctx, req.Tenant, p); err != nil {
		m.internal(w, r)
		return
	}
	seeOther(w, r, "/results/staff/patients/"+p.ID, "unlinked")
}

// uploadFields are the fields of the staff upload form, in the order they are shown.
var uploadFields = []string{"report_id", "lab_patient_id", "last_name", "birth_name", "first_name", "birth_date",
	"prescriber_number", "prescriber_name", "collected_at", "lab", "status", "values"}

func (m *Module) uploadForm(w http.ResponseWriter, r *http.Request) {
	v := m.view(r, "results.upload.title")
	v.Values["status"] = "final"
	v.render(w, http.StatusOK, "upload")
}

// formField maps an import error's field to the upload form's field.
var formField = map[string]string{"patient.lab_patient_id": "lab_patient_id", "patient.last_name": "last_name",
	"patient.birth_name": "birth_name", "patient.first_name": "first_name", "patient.birth_date": "birth_date",
	"prescriber.register_number": "prescriber_number", "prescriber.name": "prescriber_name"}

// upload is the lab staff's way to publish a report (R3b): the same checks and the same
// import as the API.
func (m *Module) upload(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	maxPDF := req.Tenant.IntRule("results.max_pdf_mb", 20) << 20
	if err := r.ParseMultipartForm(maxPDF + (1 << 20)); err != nil {
		m.fail(w, r, http.StatusBadRequest, "results.error.bad_request")
		return
	}
	v := m.view(r, "results.upload.title")
	for _, f := range uploadFields {
		v.Values[f] = r.FormValue(f)
	}
	in := &Incoming{ReportID: r.FormValue("report_id"), CollectedAt: r.FormValue("collected_at"), Lab: r.FormValue("lab"), Status: r.FormValue("status"),
		Patient: IncomingPatient{LabPatientID: r.FormValue("lab_patient_id"), LastName: r.FormValue("last_name"), BirthName: r.FormValue("birth_name"),
			FirstName: r.FormValue("first_name"), BirthDate: r.FormValue("birth_date")},
		Prescriber: IncomingPro{RegisterNumber: r.FormValue("prescriber_number"), Name: r.FormValue("prescriber_name")}}
	valErr := ""
	in.Values, valErr = parseValueLines(r.FormValue("values"))
	if f, fh, err := r.FormFile("pdf"); err == nil {
		in.PDF, _ = io.ReadAll(io.LimitReader(f, maxPDF+1))
		in.PDFName = fh.Filename
		f.Close()
	}
	errs := in.check(maxPDF, m.now(), tenantLoc(req.Tenant))
	for k, code := range errs {
		field := k
		if ff, ok := formField[k]; ok {
			field = ff
		} else if strings.HasPrefix(k, "values.") {
			field = "values"
		}
		if _, dup := v.Errors[field]; !dup {
			v.Errors[field] = code
		}
	}
	if valErr != "" {
		v.Errors["values"] = valErr
	}
	if len(v.Errors) > 0 {
		v.render(w, http.StatusUnprocessableEntity, "upload")
		return
	}
	res, err := m.importReport(ctx, req.Tenant, in, "staff:"+req.User.ID)
	if err != nil {
		m.internal(w, r)
		return
	}
	done := "duplicate"
	if res.Created {
		done = "imported"
		if err := m.recordImport(ctx, res); err != nil {
			m.internal(w, r)
			return
		}
	}
	seeOther(w, r, "/results/staff/patients/"+res.Report.PatientID, done)
}

// parseValueLines reads the structured values typed in the upload form, one per line:
// "code; label; value; unit; low; high; flag".
func parseValueLines(s string) ([]IncomingValue, string) {
	var out []IncomingValue
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Split(line, ";")
		for len(parts) < 7 {
			parts = append(parts, "")
		}
		if len(parts) > 7 {
			return nil, "values_format"
		}
		iv := IncomingValue{Code: parts[0], Label: parts[1], Value: parts[2], Unit: strings.TrimSpace(parts[3]), Flag: parts[6]}
		for i, dst := range []**float64{&iv.Low, &iv.High} {
			t := strings.ReplaceAll(strings.TrimSpace(parts[4+i]), ",", ".")
			if t == "" {
				continue
			}
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return nil, "values_format"
			}
			*dst = &f
		}
		out = append(out, iv)
	}
	return out, ""
}

func (m *Module) recordImport(ctx context.Context, res *importResult) error {
	return sdk.HostFrom(ctx).Audit.Record(ctx, sdk.AuditRecord{Action: "results.imported", Subject: auditSubject(res.Report),
		Resource: "result:" + res.Report.ID, Detail: map[string]any{"report": res.Report.ReportID, "source": res.Report.Source}})
}

func tenantLoc(t sdk.Tenant) *time.Location {
	if l, err := time.LoadLocation(t.TimeZone); err == nil {
		return l
	}
	return time.UTC
}

// professionals lists the professional accounts: those waiting for the lab's check first.
func (m *Module) professionals(w http.ResponseWriter, r *http.Request) {
	m.renderPros(w, r, http.StatusOK, "", "")
}

func (m *Module) renderPros(w http.ResponseWriter, r *http.Request, status int, userID, errCode string) {
	req := sdk.RequestFrom(r)
	var ps []Professional
	err := m.DB.NewSelect().Model(&ps).Where("tenant_id = ?", req.Tenant.ID).
		OrderExpr("CASE status WHEN 'pending' THEN 0 WHEN 'active' THEN 1 ELSE 2 END").Order("created_at").Limit(500).Scan(r.Context())
	if err != nil {
		m.internal(w, r)
		return
	}
	v := m.view(r, "results.pros.title")
	v.Data["Pros"] = ps
	if errCode != "" {
		v.Errors["register_number"] = errCode
		v.Values["user"] = userID
		v.Values["register_number"] = r.FormValue("register_number")
	}
	v.render(w, status, "pros")
}

// activate records the register number the lab checked and gives the account the
// professional role (R1): from then on he sees the results he prescribed.
func (m *Module) activate(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	p, err := professional(ctx, m.DB, req.Tenant.ID, r.PathValue("id"))
	if err != nil {
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
		return
	}
	num := strings.TrimSpace(r.FormValue("register_number"))
	if !proNumberRe.MatchString(num) {
		m.renderPros(w, r, http.StatusUnprocessableEntity, p.UserID, "invalid_register_number")
		return
	}
	now := m.now()
	_, err = m.DB.NewUpdate().Model((*Professional)(nil)).Set("register_number = ?", num).Set("status = ?", proActive).
		Set("decided_by = ?", req.User.ID).Set("decided_at = ?", now).Where("tenant_id = ? AND user_id = ?", req.Tenant.ID, p.UserID).Exec(ctx)
	if err != nil {
		// The unique index: another professional holds this number.
		if n, _ := m.DB.NewSelect().Model((*Professional)(nil)).Where("tenant_id = ? AND register_number = ? AND user_id <> ?", req.Tenant.ID, num, p.UserID).Count(ctx); n > 0 {
			m.renderPros(w, r, http.StatusConflict, p.UserID, "register_number_taken")
			return
		}
		m.internal(w, r)
		return
	}
	host := sdk.HostFrom(ctx)
	if err := host.Users.SetRole(ctx, p.UserID, "professional", true); err != nil {
		m.internal(w, r)
		return
	}
	if err := host.Audit.Record(ctx, sdk.AuditRecord{Action: "results.professional_activated", Subject: p.UserID,
		Resource: "professional:" + num}); err != nil {
		m.internal(w, r)
		return
	}
	seeOther(w, r, "/results/staff/professionals", "activated")
}

// suspend takes the professional role away (R6: the lab may refuse access to anyone).
func (m *Module) suspend(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	p, err := professional(ctx, m.DB, req.Tenant.ID, r.PathValue("id"))
	if err != nil {
		m.fail(w, r, http.StatusNotFound, "results.error.not_found")
		return
	}
	_, err = m.DB.NewUpdate().Model((*Professional)(nil)).Set("status = ?", proSuspended).Set("decided_by = ?", req.User.ID).
		Set("decided_at = ?", m.now()).Where("tenant_id = ? AND user_id = ?", req.Tenant.ID, p.UserID).Exec(ctx)
	if err != nil {
		m.internal(w, r)
		return
	}
	host := sdk.HostFrom(ctx)
	if err := host.Users.SetRole(ctx, p.UserID, "professional", false); err != nil {
		m.internal(w, r)
		return
	}
	if err := host.Audit.Record(ctx, sdk.AuditRecord{Action: "results.professional_suspended", Subject: p.UserID,
		Resource: "professional:" + p.RegisterNumber}); err != nil {
		m.internal(w, r)
		return
	}
	seeOther(w, r, "/results/staff/professionals", "suspended")
}
