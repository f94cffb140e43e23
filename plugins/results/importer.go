package results

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
)

// Incoming is a report as the LIS sends it (R3): through the import API as JSON, or
// through the staff upload form.
type Incoming struct {
	ReportID    string          `json:"report_id"`
	Patient     IncomingPatient `json:"patient"`
	Prescriber  IncomingPro     `json:"prescriber"`
	CollectedAt string          `json:"collected_at"`
	Lab         string          `json:"lab"`
	Status      string          `json:"status"`
	PDFName     string          `json:"pdf_name"`
	PDFBase64   string          `json:"pdf_base64"`
	Values      []IncomingValue `json:"values"`
	// ValidatedBy is the lab's biologist who validated the report (optional).
	ValidatedBy *IncomingValidator `json:"validated_by,omitempty"`

	PDF       []byte    `json:"-"`
	collected time.Time // parsed
}

// IncomingPatient is the patient identity of an incoming report.
type IncomingPatient struct {
	LabPatientID string `json:"lab_patient_id"`
	LastName     string `json:"last_name"`
	BirthName    string `json:"birth_name"`
	FirstName    string `json:"first_name"`
	BirthDate    string `json:"birth_date"`
}

// IncomingPro is the prescriber of an incoming report: his professional register number
// (RPPS in France) and name.
type IncomingPro struct {
	RegisterNumber string `json:"register_number"`
	Name           string `json:"name"`
}

// IncomingValue is one structured value: analyte, value, unit, reference range, flag.
type IncomingValue struct {
	Code    string   `json:"code"`
	Label   string   `json:"label"`
	Value   string   `json:"value"`
	Unit    string   `json:"unit"`
	Low     *float64 `json:"low"`
	High    *float64 `json:"high"`
	RefText string   `json:"ref_text"`
	Flag    string   `json:"flag"`
}

// Report statuses and value flags the LIS may send.
var (
	statuses = map[string]bool{"final": true, "partial": true}
	flags    = map[string]bool{"": true, "N": true, "L": true, "H": true, "LL": true, "HH": true, "A": true}
	idRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)
	codeRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
)

// fieldErrs maps a field to the id of its message ("results.err.required").
type fieldErrs map[string]string

func (f fieldErrs) add(field, code string) {
	if _, ok := f[field]; !ok {
		f[field] = code
	}
}

func text(f fieldErrs, field, v string, max int, required bool) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		f.add(field, "required")
	case utf8.RuneCountInString(v) > max:
		f.add(field, "too_long")
	}
	return v
}

// parseDay reads a date "2006-01-02".
func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	return t, err == nil
}

// check normalizes in and reports every problem at once (field → error code). maxPDF is the
// tenant's limit in bytes; now bounds the dates.
func (in *Incoming) check(maxPDF int64, now time.Time, loc *time.Location) fieldErrs {
	f := fieldErrs{}
	in.ReportID = text(f, "report_id", in.ReportID, 64, true)
	if in.ReportID != "" && !idRe.MatchString(in.ReportID) {
		f.add("report_id", "invalid_id")
	}
	p := &in.Patient
	p.LabPatientID = text(f, "patient.lab_patient_id", p.LabPatientID, 64, true)
	if p.LabPatientID != "" && !idRe.MatchString(p.LabPatientID) {
		f.add("patient.lab_patient_id", "invalid_id")
	}
	p.LastName = text(f, "patient.last_name", p.LastName, 100, true)
	p.FirstName = text(f, "patient.first_name", p.FirstName, 100, true)
	p.BirthName = text(f, "patient.birth_name", p.BirthName, 100, false)
	p.BirthDate = strings.TrimSpace(p.BirthDate)
	if bd, ok := parseDay(p.BirthDate); !ok {
		f.add("patient.birth_date", "invalid_date")
	} else if bd.After(now) || bd.Year() < 1880 {
		f.add("patient.birth_date", "invalid_date")
	}
	in.Prescriber.RegisterNumber = text(f, "prescriber.register_number", in.Prescriber.RegisterNumber, 20, false)
	if n := in.Prescriber.RegisterNumber; n != "" && !proNumberRe.MatchString(n) {
		f.add("prescriber.register_number", "invalid_register_number")
	}
	in.Prescriber.Name = text(f, "prescriber.name", in.Prescriber.Name, 120, false)
	in.Lab = text(f, "lab", in.Lab, 120, false)
	in.Status = strings.TrimSpace(in.Status)
	if in.Status == "" {
		in.Status = "final"
	}
	if !statuses[in.Status] {
		f.add("status", "invalid_choice")
	}
	in.CollectedAt = strings.TrimSpace(in.CollectedAt)
	if t, err := time.Parse(time.RFC3339, in.CollectedAt); err == nil {
		in.collected = t.UTC()
	} else if d, ok := parseDay(in.CollectedAt); ok {
		in.collected = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC()
	} else {
		f.add("collected_at", "invalid_date")
	}
	if !in.collected.IsZero() && in.collected.After(now.Add(24*time.Hour)) {
		f.add("collected_at", "invalid_date")
	}
	switch {
	case len(in.PDF) == 0:
		f.add("pdf", "required")
	case int64(len(in.PDF)) > maxPDF:
		f.add("pdf", "too_large")
	default:
		// A PDF that parses, whatever its first bytes claim (issue 11.9).
		if _, err := upload.Check(in.PDF, upload.PDF); err != nil {
			f.add("pdf", "not_pdf")
		}
	}
	// The sender's file name is display metadata only, offered as the download's name.
	in.PDFName = upload.DownloadName(in.PDFName, upload.DisplayName(in.ReportID), upload.PDF)
	in.checkValidator(f, now)
	if len(in.Values) > 500 {
		f.add("values", "too_many")
	}
	for i := range in.Values {
		v := &in.Values[i]
		k := fmt.Sprintf("values.%d.", i)
		v.Code = text(f, k+"code", v.Code, 32, true)
		if v.Code != "" && !codeRe.MatchString(v.Code) {
			f.add(k+"code", "invalid_id")
		}
		v.Label = text(f, k+"label", v.Label, 120, true)
		v.Value = text(f, k+"value", v.Value, 60, true)
		v.Unit = text(f, k+"unit", v.Unit, 30, false)
		v.RefText = text(f, k+"ref_text", v.RefText, 120, false)
		v.Flag = strings.ToUpper(strings.TrimSpace(v.Flag))
		if !flags[v.Flag] {
			f.add(k+"flag", "invalid_choice")
		}
		for _, x := range []*float64{v.Low, v.High} {
			if x != nil && (math.IsNaN(*x) || math.IsInf(*x, 0)) {
				f.add(k+"range", "invalid_number")
			}
		}
		if v.Low != nil && v.High != nil && *v.Low > *v.High {
			f.add(k+"range", "invalid_range")
		}
	}
	return f
}

// numeric reads a value as a number when it is one ("5,4" or "5.4"; "<0.1" is not).
func numeric(s string) sql.NullFloat64 {
	n, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", "."), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: n, Valid: true}
}

func nullable(p *float64) sql.NullFloat64 {
	if p == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *p, Valid: true}
}

// importResult says what an import did: created (a new report, version 1), amended (a new
// version of a known report) or neither (the same content again: nothing changed).
type importResult struct {
	Report  *Report
	Created bool // a new report
	Amended bool // a new version of a known report (Report.Version says which)
	Linked  bool // the report's patient has an account
}

// What says what an import did, as the API answers it.
func (r *importResult) What() string {
	switch {
	case r.Created:
		return "created"
	case r.Amended:
		return "amended"
	}
	return "unchanged"
}

// errDuplicate is internal: the lab's report id is already stored.
var errDuplicate = errors.New("duplicate report id")

// errRaced is internal: another import of the same report changed it meanwhile; read it
// again and decide anew.
var errRaced = errors.New("report changed meanwhile")

// contentSum is what makes two versions of a report differ (R3, issue 12.2): the PDF, the
// status and the values. The same content again is the same version.
func contentSum(status, pdfSHA256 string, vals []exportValue) string {
	b, _ := json.Marshal(struct {
		Status string        `json:"status"`
		PDF    string        `json:"pdf"`
		Values []exportValue `json:"values"`
	}{status, pdfSHA256, vals})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// incomingValues are the values of in as they are stored.
func incomingValues(in *Incoming) []exportValue {
	out := make([]exportValue, len(in.Values))
	for i, v := range in.Values {
		out[i] = exportValue{Code: strings.ToUpper(v.Code), Label: v.Label, Value: v.Value, Unit: v.Unit, Low: v.Low, High: v.High,
			RefText: v.RefText, Flag: v.Flag}
	}
	return out
}

// importReport stores an incoming report (checked by the caller). The lab's report id
// names one report: the same content again changes nothing, other content (PDF, status or
// values) is a new version that replaces what the patient and the prescriber see (R3, issue
// 12.2), held by the unique keys (tenant, report id) and (report, content) even when
// imports race. The PDF goes to the core's blob store; the patient record is created or
// refreshed from the LIS identity, then matched to an account; the patient is told (R10).
// A new report is audited by the caller ("results.imported"), a new version here
// ("results.amended").
func (m *Module) importReport(ctx context.Context, t sdk.Tenant, in *Incoming, source string) (*importResult, error) {
	sum := sha256.Sum256(in.PDF)
	pdfSum := hex.EncodeToString(sum[:])
	vals := incomingValues(in)
	content := contentSum(in.Status, pdfSum, vals)
	for attempt := 0; attempt < 8; attempt++ {
		cur, err := m.reportByLabID(ctx, t, in.ReportID)
		var res *importResult
		switch {
		case errors.Is(err, kit.ErrNotFound):
			res, err = m.createReport(ctx, t, in, source, pdfSum, content, vals)
		case err != nil:
			return nil, err
		default:
			res, err = m.amendReport(ctx, t, cur, in, source, pdfSum, content, vals)
		}
		if errors.Is(err, errDuplicate) || errors.Is(err, errRaced) {
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("results: report %s: imports kept racing", in.ReportID)
}

// putPDF stores the PDF of in; drop deletes it again when what it was for did not happen.
func putPDF(ctx context.Context, in *Incoming) (blobID string, drop func(), err error) {
	host := sdk.HostFrom(ctx)
	blobID, err = host.PutBlob(ctx, sdk.Blob{Name: in.PDFName, ContentType: "application/pdf", Data: in.PDF})
	return blobID, func() { _ = host.DeleteBlob(ctx, blobID) }, err
}

// versionOf is the version row of a report's current content.
func versionOf(rep *Report, vals []exportValue, at time.Time) (*ReportVersion, error) {
	b, err := json.Marshal(vals)
	if err != nil {
		return nil, err
	}
	return &ReportVersion{TenantID: rep.TenantID, ReportID: rep.ID, Version: rep.Version, ContentSHA256: rep.ContentSHA256,
		Status: rep.Status, CollectedAt: rep.CollectedAt, PrescriberNumber: rep.PrescriberNumber, PrescriberName: rep.PrescriberName,
		LabSite: rep.LabSite, BlobID: rep.BlobID, PDFName: rep.PDFName, PDFSHA256: rep.PDFSHA256, PDFSize: rep.PDFSize,
		Values: string(b), ReceivedAt: at, Source: rep.Source}, nil
}

// createReport stores a report the LIS sends for the first time: version 1.
func (m *Module) createReport(ctx context.Context, t sdk.Tenant, in *Incoming, source, pdfSum, content string, vals []exportValue) (*importResult, error) {
	blobID, drop, err := putPDF(ctx, in)
	if err != nil {
		return nil, err
	}
	now := m.now()
	rep := &Report{TenantID: t.ID, ID: uuid.NewString(), ReportID: in.ReportID, PrescriberNumber: in.Prescriber.RegisterNumber,
		PrescriberName: in.Prescriber.Name, LabSite: in.Lab, Status: in.Status, CollectedAt: in.collected, PublishedAt: now,
		BlobID: blobID, PDFName: in.PDFName, PDFSHA256: pdfSum, PDFSize: int64(len(in.PDF)), Source: source,
		Version: 1, ContentSHA256: content}
	rep.ValidatedBy, rep.TimeUnknown = in.validator(), !in.timeKnown()
	var patient *LabPatient
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		if patient, err = upsertLabPatient(ctx, sc, in.Patient, now); err != nil {
			return err
		}
		rep.PatientID = patient.ID
		res, err := sc.Insert(rep).On("CONFLICT (tenant_id, report_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errDuplicate
		}
		return m.storeContent(ctx, sc, rep, vals, now)
	})
	if err != nil {
		// Another import of the same report won the race: the caller reads it again.
		drop()
		return nil, err
	}
	rep.Patient = patient
	linked, err := m.reach(ctx, t, patient, m.notifyNew)
	if err != nil {
		return nil, err
	}
	return &importResult{Report: rep, Created: true, Linked: linked}, nil
}

// reach links the record of an imported report when exactly one account carries its
// identity (matchRecord), and tells the patient with tell when the record is his.
func (m *Module) reach(ctx context.Context, t sdk.Tenant, p *LabPatient, tell func(context.Context, sdk.Tenant, string) error) (bool, error) {
	linked, err := m.matchRecord(ctx, t, p)
	if err != nil || !linked {
		return false, err
	}
	return true, tell(ctx, t, p.UserID)
}

// storeContent writes the values of rep's current version and its version row.
func (m *Module) storeContent(ctx context.Context, sc *store.Scope, rep *Report, vals []exportValue, now time.Time) error {
	for i, v := range vals {
		row := &Value{TenantID: rep.TenantID, ReportID: rep.ID, Seq: i + 1, Code: v.Code, Label: v.Label, Value: v.Value,
			Numeric: numeric(v.Value), Unit: v.Unit, RefLow: nullable(v.Low), RefHigh: nullable(v.High), RefText: v.RefText, Flag: v.Flag}
		if _, err := sc.Insert(row).Exec(ctx); err != nil {
			return err
		}
	}
	ver, err := versionOf(rep, vals, now)
	if err != nil {
		return err
	}
	res, err := sc.Insert(ver).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// The same content, or the same version number, was stored meanwhile.
		return errRaced
	}
	return nil
}

// amendReport stores other content under a known report id as its next version (R3,
// issue 12.2), or nothing when the content is one the report had already.
func (m *Module) amendReport(ctx context.Context, t sdk.Tenant, cur *Report, in *Incoming, source, pdfSum, content string, vals []exportValue) (*importResult, error) {
	unchanged := func() (*importResult, error) {
		r, err := m.reportWithPatient(ctx, t, cur.ID)
		if err != nil {
			return nil, err
		}
		return &importResult{Report: r, Linked: r.Patient != nil && r.Patient.UserID != ""}, nil
	}
	if cur.ContentSHA256 == content {
		return unchanged()
	}
	if cur.ContentSHA256 == "" {
		// A report stored before versions were kept has no content sum and no version row:
		// both are made from what it holds, so that it stays readable as version 1.
		if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error { return backfillVersion(ctx, sc, cur) }); err != nil {
			return nil, err
		}
		if cur.ContentSHA256 == content {
			return unchanged()
		}
	}
	// Content the report had in an earlier version: nothing changes either.
	var known int64
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) (err error) {
		known, err = sc.Select((*ReportVersion)(nil)).Where("rvv.report_id = ? AND rvv.content_sha256 = ?", cur.ID, content).Count(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if known > 0 {
		return unchanged()
	}
	blobID, drop, err := putPDF(ctx, in)
	if err != nil {
		return nil, err
	}
	now := m.now()
	rep := *cur
	rep.Patient, rep.Values = nil, nil
	rep.PrescriberNumber, rep.PrescriberName, rep.LabSite, rep.Status, rep.CollectedAt = in.Prescriber.RegisterNumber, in.Prescriber.Name, in.Lab, in.Status, in.collected
	rep.BlobID, rep.PDFName, rep.PDFSHA256, rep.PDFSize, rep.Source = blobID, in.PDFName, pdfSum, int64(len(in.PDF)), source
	rep.Version, rep.ContentSHA256, rep.AmendedAt = cur.Version+1, content, bun.NullTime{Time: now}
	rep.ValidatedBy, rep.TimeUnknown = in.validator(), !in.timeKnown()
	var patient *LabPatient
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		if patient, err = upsertLabPatient(ctx, sc, in.Patient, now); err != nil {
			return err
		}
		rep.PatientID = patient.ID
		// Guarded on the version read: of two amendments racing, one writes, the other
		// reads the report again.
		res, err := sc.Update(&rep).Column("patient_id", "prescriber_number", "prescriber_name", "lab_site", "status", "collected_at",
			"blob_id", "pdf_name", "pdf_sha256", "pdf_size", "source", "version", "content_sha256", "amended_at",
			"validated_by", "collected_time_unknown").
			WherePK().Where("rp.version = ?", cur.Version).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRaced
		}
		if _, err := sc.Delete((*Value)(nil)).Where("rv.report_id = ?", rep.ID).Exec(ctx); err != nil {
			return err
		}
		return m.storeContent(ctx, sc, &rep, vals, now)
	})
	if err != nil {
		drop()
		return nil, err
	}
	rep.Patient = patient
	linked, err := m.reach(ctx, t, patient, m.notifyAmended)
	if err != nil {
		return nil, err
	}
	if err := sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.amended", Subject: auditSubject(&rep), Resource: "result:" + rep.ID,
		Detail: map[string]any{"report": rep.ReportID, "version": rep.Version, "status": rep.Status, "source": source}}); err != nil {
		return nil, err
	}
	return &importResult{Report: &rep, Amended: true, Linked: linked}, nil
}

// backfillVersion gives a report stored before versions were kept its content sum and its
// version row.
func backfillVersion(ctx context.Context, sc *store.Scope, cur *Report) error {
	var stored []Value
	if err := sc.Select(&stored).Where("rv.report_id = ?", cur.ID).Order("rv.seq").Scan(ctx); err != nil {
		return err
	}
	old := make([]exportValue, len(stored))
	for i, v := range stored {
		old[i] = exportOf(v)
	}
	cur.ContentSHA256 = contentSum(cur.Status, cur.PDFSHA256, old)
	if _, err := sc.Update((*Report)(nil)).Set("content_sha256 = ?", cur.ContentSHA256).
		Where("rp.id = ? AND rp.content_sha256 = ''", cur.ID).Exec(ctx); err != nil {
		return err
	}
	ver, err := versionOf(cur, old, cur.PublishedAt)
	if err != nil {
		return err
	}
	_, err = sc.Insert(ver).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

// notifyAmended tells a patient that one of his results was updated (R10, issue 12.2):
// no health data, only a link to sign in.
func (m *Module) notifyAmended(ctx context.Context, t sdk.Tenant, userID string) error {
	if !notifyNew.Of(t) {
		return nil
	}
	msg := sdk.Message{UserID: userID, Template: "results.amended", Link: "/login?next=/results/mine"}
	if _, err := sdk.HostFrom(ctx).Send(ctx, msg); err != nil {
		return err
	}
	msg.Channel = "sms"
	_, err := sdk.HostFrom(ctx).Send(ctx, msg)
	return err
}

// reportWithPatient reads one report of the tenant with its patient.
func (m *Module) reportWithPatient(ctx context.Context, t sdk.Tenant, id string) (*Report, error) {
	r := &Report{}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(r).Relation("Patient").Where("rp.id = ?", id).Scan(ctx)
	})
	return r, notFound(err)
}

func (m *Module) reportByLabID(ctx context.Context, t sdk.Tenant, reportID string) (*Report, error) {
	r := &Report{}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(r).Where("rp.report_id = ?", reportID).Scan(ctx)
	})
	return r, notFound(err)
}

// upsertLabPatient creates the lab record of p, or refreshes its identity from the LIS (the
// LIS is the source of truth for it); a link to an account stays as it is.
func upsertLabPatient(ctx context.Context, sc *store.Scope, p IncomingPatient, now time.Time) (*LabPatient, error) {
	lp := &LabPatient{TenantID: sc.TenantID, ID: uuid.NewString(), LabPatientID: p.LabPatientID, LastName: p.LastName, FirstName: p.FirstName,
		BirthName: p.BirthName, BirthDate: p.BirthDate, MatchKey: labKey(p.LastName, p.FirstName, p.BirthName, p.BirthDate), CreatedAt: now}
	_, err := sc.Insert(lp).On("CONFLICT (tenant_id, lab_patient_id) DO UPDATE").
		Set("last_name = EXCLUDED.last_name, first_name = EXCLUDED.first_name, birth_name = EXCLUDED.birth_name").
		Set("birth_date = EXCLUDED.birth_date, match_key = EXCLUDED.match_key").Exec(ctx)
	if err != nil {
		return nil, err
	}
	out := &LabPatient{}
	if err := sc.Select(out).Where("lp.lab_patient_id = ?", p.LabPatientID).Scan(ctx); err != nil || out.MergedInto == "" {
		return out, err
	}
	// A record merged into another (the same person twice in the LIS): the report goes to
	// the record it was merged into, while that one exists.
	root, err := labPatient(ctx, sc, out.MergedInto)
	if errors.Is(err, kit.ErrNotFound) {
		_, err = sc.Update((*LabPatient)(nil)).Set("merged_into = ''").Where("lp.id = ?", out.ID).Exec(ctx)
		out.MergedInto = ""
		return out, err
	}
	return root, err
}
