package results

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

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

// importResult says what an import did.
type importResult struct {
	Report  *Report
	Created bool // false: the lab's report id was known, nothing changed
	Linked  bool // the report's patient has an account
}

// errDuplicate is internal: the lab's report id is already stored.
var errDuplicate = errors.New("duplicate report id")

// importReport stores an incoming report (checked by the caller): idempotent on the lab's
// report id, held by the unique key (tenant, report id) even when two imports race. The
// PDF goes to the core's blob store; the patient record is created or refreshed from the
// LIS identity, then matched to an account; the patient is told when linked (R10).
func (m *Module) importReport(ctx context.Context, t sdk.Tenant, in *Incoming, source string) (*importResult, error) {
	if r, err := m.reportByLabID(ctx, t, in.ReportID); err == nil {
		return &importResult{Report: r}, nil
	} else if !errors.Is(err, kit.ErrNotFound) {
		return nil, err
	}
	host := sdk.HostFrom(ctx)
	blobID, err := host.PutBlob(ctx, sdk.Blob{Name: in.PDFName, ContentType: "application/pdf", Data: in.PDF})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(in.PDF)
	now := m.now()
	rep := &Report{TenantID: t.ID, ID: uuid.NewString(), ReportID: in.ReportID, PrescriberNumber: in.Prescriber.RegisterNumber,
		PrescriberName: in.Prescriber.Name, LabSite: in.Lab, Status: in.Status, CollectedAt: in.collected, PublishedAt: now,
		BlobID: blobID, PDFName: in.PDFName, PDFSHA256: hex.EncodeToString(sum[:]), PDFSize: int64(len(in.PDF)), Source: source}
	rep.ValidatedBy, rep.TimeUnknown = in.validator(), !in.timeKnown()
	var patient *LabPatient
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		patient, err = upsertLabPatient(ctx, sc, in.Patient, now)
		if err != nil {
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
		for i, v := range in.Values {
			row := &Value{TenantID: t.ID, ReportID: rep.ID, Seq: i + 1, Code: strings.ToUpper(v.Code), Label: v.Label, Value: v.Value,
				Numeric: numeric(v.Value), Unit: v.Unit, RefLow: nullable(v.Low), RefHigh: nullable(v.High), RefText: v.RefText, Flag: v.Flag}
			if _, err := sc.Insert(row).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		// Another import of the same report won the race: keep its copy, drop this PDF.
		_ = host.DeleteBlob(ctx, blobID)
		r, err := m.reportByLabID(ctx, t, in.ReportID)
		if err != nil {
			return nil, err
		}
		return &importResult{Report: r}, nil
	}
	if err != nil {
		_ = host.DeleteBlob(ctx, blobID)
		return nil, err
	}
	rep.Patient = patient
	if patient.UserID == "" {
		if _, err := m.matchRecord(ctx, t, patient); err != nil {
			return nil, err
		}
	}
	if patient.UserID != "" {
		if err := m.notifyNew(ctx, t, patient.UserID); err != nil {
			return nil, err
		}
	}
	return &importResult{Report: rep, Created: true, Linked: patient.UserID != ""}, nil
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
	err = sc.Select(out).Where("lp.lab_patient_id = ?", p.LabPatientID).Scan(ctx)
	return out, err
}
