package results

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// Account states.
const (
	stateLinked    = "linked"    // linked to one or more lab records
	stateNoRecord  = "no_record" // no lab record matches (yet): staff queue
	stateAmbiguous = "ambiguous" // several lab records match: staff queue
)

// Professional states.
const (
	proPending   = "pending"
	proActive    = "active"
	proSuspended = "suspended"
)

// LabPatient is a patient record of the lab's information system.
type LabPatient struct {
	bun.BaseModel `bun:"table:results_lab_patients,alias:lp"`

	TenantID     string       `bun:"tenant_id,pk"`
	ID           string       `bun:"id,pk"`
	LabPatientID string       `bun:"lab_patient_id"`
	LastName     string       `bun:"last_name"`
	FirstName    string       `bun:"first_name"`
	BirthName    string       `bun:"birth_name"`
	BirthDate    string       `bun:"birth_date"`
	MatchKey     string       `bun:"match_key"`
	UserID       string       `bun:"user_id"`
	LinkedAt     bun.NullTime `bun:"linked_at"`
	LinkedBy     string       `bun:"linked_by"`
	CreatedAt    time.Time    `bun:"created_at"`
	// MergedInto is the record this one was merged into (the same person twice in the LIS):
	// its reports moved there, and the LIS's later reports under this id go there too.
	MergedInto string `bun:"merged_into"`
	// UnlinkedBy is who took the record away from an account: from then on only staff
	// link it again, never the automatic match.
	UnlinkedBy string `bun:"unlinked_by"`
}

// BornOther reports whether the birth name differs from the current family name (worth
// showing then).
func (p *LabPatient) BornOther() bool {
	return p.BirthName != "" && fold(p.BirthName) != fold(p.LastName)
}

// Account is a patient account as the module knows it.
type Account struct {
	bun.BaseModel `bun:"table:results_accounts,alias:ac"`

	TenantID  string    `bun:"tenant_id,pk"`
	UserID    string    `bun:"user_id,pk"`
	State     string    `bun:"state"`
	Name      string    `bun:"name"`
	BirthName string    `bun:"birth_name"`
	BirthDate string    `bun:"birth_date"`
	MatchKey  string    `bun:"match_key"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
	// TermsVersionID is the version of the module's terms the patient accepted last (P6).
	TermsVersionID string `bun:"terms_version_id"`
}

// Professional is a partner professional's account.
type Professional struct {
	bun.BaseModel `bun:"table:results_professionals,alias:pr"`

	TenantID       string       `bun:"tenant_id,pk"`
	UserID         string       `bun:"user_id,pk"`
	Name           string       `bun:"name"`
	DeclaredNumber string       `bun:"declared_number"`
	RegisterNumber string       `bun:"register_number"`
	Status         string       `bun:"status"`
	DecidedBy      string       `bun:"decided_by"`
	DecidedAt      bun.NullTime `bun:"decided_at"`
	CreatedAt      time.Time    `bun:"created_at"`
	// SeenAt is when he last opened his patients' results; LastVisitAt when his previous
	// visit began: what was published since is "new" to him (issue 12.7).
	SeenAt      bun.NullTime `bun:"seen_at"`
	LastVisitAt bun.NullTime `bun:"last_visit_at"`
}

// Report is one result report.
type Report struct {
	bun.BaseModel `bun:"table:results_reports,alias:rp"`

	TenantID         string       `bun:"tenant_id,pk"`
	ID               string       `bun:"id,pk"`
	ReportID         string       `bun:"report_id"`
	PatientID        string       `bun:"patient_id"`
	PrescriberNumber string       `bun:"prescriber_number"`
	PrescriberName   string       `bun:"prescriber_name"`
	LabSite          string       `bun:"lab_site"`
	Status           string       `bun:"status"`
	CollectedAt      time.Time    `bun:"collected_at"`
	PublishedAt      time.Time    `bun:"published_at"`
	BlobID           string       `bun:"blob_id"`
	PDFName          string       `bun:"pdf_name"`
	PDFSHA256        string       `bun:"pdf_sha256"`
	PDFSize          int64        `bun:"pdf_size"`
	NotifiedAt       bun.NullTime `bun:"notified_at"`
	Source           string       `bun:"source"`
	// Version is the report's version (1, then one more per amendment); PublishedAt stays
	// the first publication, AmendedAt is the latest version's arrival.
	Version       int          `bun:"version"`
	ContentSHA256 string       `bun:"content_sha256"`
	AmendedAt     bun.NullTime `bun:"amended_at"`
	// ValidatedBy is the lab's biologist who validated the report, when the LIS says
	// ("name, qualification"); TimeUnknown: the lab sent the collection's day only.
	ValidatedBy string `bun:"validated_by"`
	TimeUnknown bool   `bun:"collected_time_unknown"`

	// Patient is read with the report, in the same statement.
	Patient *LabPatient `bun:"rel:belongs-to,join:tenant_id=tenant_id,join:patient_id=id"`
	Values  []Value     `bun:"-"`
}

// ReportVersion is one version of a report (R3, issue 12.2), the current one included:
// the earlier ones stay readable to staff.
type ReportVersion struct {
	bun.BaseModel `bun:"table:results_report_versions,alias:rvv"`

	TenantID         string    `bun:"tenant_id,pk"`
	ReportID         string    `bun:"report_id,pk"` // the report's id (not the lab's report id)
	Version          int       `bun:"version,pk"`
	ContentSHA256    string    `bun:"content_sha256"`
	Status           string    `bun:"status"`
	CollectedAt      time.Time `bun:"collected_at"`
	PrescriberNumber string    `bun:"prescriber_number"`
	PrescriberName   string    `bun:"prescriber_name"`
	LabSite          string    `bun:"lab_site"`
	BlobID           string    `bun:"blob_id"`
	PDFName          string    `bun:"pdf_name"`
	PDFSHA256        string    `bun:"pdf_sha256"`
	PDFSize          int64     `bun:"pdf_size"`
	Values           string    `bun:"vals"` // JSON, the import API's names
	ReceivedAt       time.Time `bun:"received_at"`
	Source           string    `bun:"source"`
}

// Value is one structured value of a report.
type Value struct {
	bun.BaseModel `bun:"table:results_values,alias:rv"`

	TenantID string          `bun:"tenant_id,pk"`
	ReportID string          `bun:"report_id,pk"`
	Seq      int             `bun:"seq,pk"`
	Code     string          `bun:"code"`
	Label    string          `bun:"label"`
	Value    string          `bun:"value"`
	Numeric  sql.NullFloat64 `bun:"numeric"`
	Unit     string          `bun:"unit"`
	RefLow   sql.NullFloat64 `bun:"ref_low"`
	RefHigh  sql.NullFloat64 `bun:"ref_high"`
	RefText  string          `bun:"ref_text"`
	Flag     string          `bun:"flag"`
}

// notFound is kit.ErrNotFound for a missing row.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	}
	return err
}

// reportsWhere lists the tenant's reports matching where (with its args), newest first,
// each with its patient, in one statement ("patient." names the patient's columns).
func reportsWhere(ctx context.Context, sc *store.Scope, limit int, where string, args ...any) ([]Report, error) {
	var out []Report
	// The values are bound apart from the text: the list is read on every visit.
	marks := make([]any, len(args))
	for i := range marks {
		marks[i] = store.Arg
	}
	q := sc.SelectBound(&out, args...).Relation("Patient").Order("rp.collected_at DESC", "rp.id").Limit(int64(limit))
	if where != "" {
		q = q.Where(where, marks...)
	}
	return out, q.Scan(ctx)
}

// report reads one report of the tenant with its patient and values.
func report(ctx context.Context, sc *store.Scope, id string) (*Report, error) {
	r := &Report{}
	if err := sc.Select(r).Relation("Patient").Where("rp.id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	if err := sc.Select(&r.Values).Where("rv.report_id = ?", id).Order("rv.seq").Scan(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// patientIDsOf are the lab records linked to a user, and those merged into them (what was
// recorded under a merged record stays the person's).
func patientIDsOf(ctx context.Context, sc *store.Scope, userID string) ([]string, error) {
	var ids []string
	linked := sc.Select((*LabPatient)(nil)).Column("id").Where("lp.user_id = ?", userID)
	err := sc.Select((*LabPatient)(nil)).Column("id").Where("lp.user_id = ? OR lp.merged_into IN (?)", userID, linked).
		Order("lp.id").Scan(ctx, &ids)
	return ids, err
}

func account(ctx context.Context, sc *store.Scope, userID string) (*Account, error) {
	a := &Account{}
	err := sc.SelectBound(a, userID).Where("ac.user_id = ?", store.Arg).Scan(ctx)
	return a, notFound(err)
}

func professional(ctx context.Context, sc *store.Scope, userID string) (*Professional, error) {
	p := &Professional{}
	err := sc.Select(p).Where("pr.user_id = ?", userID).Scan(ctx)
	return p, notFound(err)
}

func labPatient(ctx context.Context, sc *store.Scope, id string) (*LabPatient, error) {
	p := &LabPatient{}
	err := sc.Select(p).Where("lp.id = ?", id).Scan(ctx)
	return p, notFound(err)
}
