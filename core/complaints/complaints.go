// Package complaints owns the complaints of every tenant and module (P10): lodging one with
// the fields the tenant's rules require, its due date from those rules (calendar or working
// days, extendable once), the staff queue and the answer. It must not know about HTTP.
package complaints

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/rickar/cal/v2"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/kit/workdays"
)

// RulesOf are the tenant's complaint rules (P10), from its configuration.
func RulesOf(t *tenancy.Tenant) Rules {
	return Rules{
		AnswerDays:         int(t.IntRule("complaints.answer_days")),
		MaxExtensionDays:   int(t.IntRule("complaints.max_extension_days")),
		WorkingDays:        t.BoolRule("complaints.working_days"),
		RequireClientRef:   t.BoolRule("complaints.require_client_ref"),
		RequireDocuments:   t.BoolRule("complaints.require_documents"),
		AmicableSettlement: t.BoolRule("complaints.amicable_settlement"),
		Calendar:           workdays.Calendar(t.Settings.Country, int(t.IntRule("business.open_hour")), int(t.IntRule("business.close_hour"))),
		Location:           t.Location(),
		MaxFileBytes:       5 << 20,
		MaxFilesPerClaim:   5,
		AllowedFileTypes:   []upload.Kind{upload.PDF, upload.JPEG, upload.PNG},
		AllowedCategories:  Categories,
	}
}

// States.
const (
	Open     = "open"
	Answered = "answered"
)

// Categories a complaint may have: "support" is a support request (R8), "appeal" an appeal
// against a block or a refusal of access (P2, R6).
var Categories = []string{"service", "quality", "price", "billing", "data", "support", "appeal", "other"}

// Complaint is one complaint.
type Complaint struct {
	bun.BaseModel `bun:"table:complaints,alias:cp"`

	TenantID        string       `bun:"tenant_id,pk"`
	ID              string       `bun:"id,pk"`
	Reference       string       `bun:"reference"`
	Module          string       `bun:"module"`
	Category        string       `bun:"category"`
	Body            string       `bun:"body"`
	ReplyTo         string       `bun:"reply_to"`
	ClientRef       string       `bun:"client_ref"`
	UserID          string       `bun:"user_id"`
	Locale          string       `bun:"locale"`
	Status          string       `bun:"status"`
	ReceivedAt      time.Time    `bun:"received_at"`
	DueAt           time.Time    `bun:"due_at"`
	ExtendedDays    int          `bun:"extended_days"`
	ExtensionReason string       `bun:"extension_reason"`
	AnsweredAt      bun.NullTime `bun:"answered_at"`
	Answer          string       `bun:"answer"`
	AnsweredBy      string       `bun:"answered_by"`
	// PausedAt is set while the operator waits for the person's explanations (C17): the
	// clock stands still from the question to the answer. PausedDays is how far the pauses
	// moved the due date.
	PausedAt   bun.NullTime `bun:"paused_at"`
	PausedDays int          `bun:"paused_days"`

	Files     []File     `bun:"-"`
	Questions []Question `bun:"-"`
}

// Paused reports whether the complaint waits for the person's explanations.
func (c *Complaint) Paused() bool { return c.Status == Open && !c.PausedAt.IsZero() }

// Overdue reports whether an open complaint is past its due date: a complaint whose clock
// stopped before its due date is not, until the person answers.
func (c *Complaint) Overdue(now time.Time) bool {
	if c.Status != Open {
		return false
	}
	if !c.PausedAt.IsZero() && !c.PausedAt.Time.After(c.DueAt) {
		return false
	}
	return now.After(c.DueAt)
}

// DaysLeft is the number of days, in the tenant's calendar, from now to the due date:
// negative once it is past.
func (c *Complaint) DaysLeft(now time.Time, loc *time.Location) int {
	return daysBetween(now, c.DueAt, loc)
}

// Question is a question staff asked the person about his complaint; the complaint's clock
// stands still until he answers it through the link he was sent (C17, P10).
type Question struct {
	bun.BaseModel `bun:"table:complaint_questions,alias:cq"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	ComplaintID string       `bun:"complaint_id"`
	Question    string       `bun:"question"`
	AskedAt     time.Time    `bun:"asked_at"`
	AskedBy     string       `bun:"asked_by"`
	KeyHash     string       `bun:"key_hash" json:"-"`
	Explanation string       `bun:"explanation"`
	ExplainedAt bun.NullTime `bun:"explained_at"`
	PausedDays  int          `bun:"paused_days"`
}

// Reasons for which a complaint's due date may be extended (C17: 002 9.5): special knowledge
// is needed, or the cause lies outside the operator's control.
var ExtensionReasons = []string{"special_knowledge", "outside_control"}

// File is a supporting document.
type File struct {
	bun.BaseModel `bun:"table:complaint_files,alias:cf"`

	TenantID    string `bun:"tenant_id,pk"`
	ID          string `bun:"id,pk"`
	ComplaintID string `bun:"complaint_id"`
	Name        string `bun:"name"`
	ContentType string `bun:"content_type"`
	Data        []byte `bun:"data"`
}

// Rules are the tenant's complaint rules (P10), read from its configuration.
type Rules struct {
	AnswerDays       int  // 14 (002), 30 (003)
	MaxExtensionDays int  // 5 (002); 0: no extension
	WorkingDays      bool // count working days instead of calendar days
	RequireClientRef bool // 001: the client identifier is required
	RequireDocuments bool // 001: supporting documents are required
	// AmicableSettlement: the form says an amicable settlement is sought before any court
	// (001 art. 9).
	AmicableSettlement bool
	Calendar           *cal.BusinessCalendar
	Location           *time.Location
	MaxFileBytes       int
	MaxFilesPerClaim   int
	AllowedFileTypes   []upload.Kind // what a supporting document may be, checked on its bytes
	AllowedCategories  []string
}

// Due is the due date of a complaint received at t: the rule's days later, in calendar days
// or working days, at the end of that day in the tenant's time zone.
func (r Rules) Due(t time.Time, days int) time.Time {
	local := t.In(r.Location)
	var d time.Time
	if r.WorkingDays && r.Calendar != nil {
		d = r.Calendar.WorkdaysFrom(local, days)
	} else {
		d = local.AddDate(0, 0, days)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, r.Location).UTC()
}

// Draft is a complaint as the form sends it.
type Draft struct {
	Module, Category, Body, ReplyTo, ClientRef, UserID, Locale string
	Files                                                      []File
	// Due, when set, is the due date a module's own rule gives; zero: the tenant's rule.
	Due time.Time
}

// Service reads and writes complaints.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// New returns a service over d.
func New(d *db.DB) *Service {
	return &Service{DB: d, Now: func() time.Time { return time.Now().UTC() }}
}

// ErrNotFound is returned for a complaint the tenant does not have.
var ErrNotFound = errors.New("complaints: not found")

func reference(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("C-%s-%X", now.Format("20060102"), b)
}

// Lodge checks d against the rules and records it; every problem comes back at once.
func (s *Service) Lodge(ctx context.Context, tenantID string, r Rules, d Draft, validEmail func(string) bool) (*Complaint, error) {
	errs := form.Errors{}
	d.Body, d.ReplyTo, d.ClientRef = strings.TrimSpace(d.Body), strings.TrimSpace(d.ReplyTo), strings.TrimSpace(d.ClientRef)
	if !contains(r.AllowedCategories, d.Category) {
		errs.Add("category", "form.invalid_choice")
	}
	switch {
	case d.Body == "":
		errs.Add("body", "form.required")
	case utf8.RuneCountInString(d.Body) > 10000:
		errs.Add("body", "form.too_long")
	}
	if d.ReplyTo == "" {
		errs.Add("reply_to", "form.required")
	} else if !validEmail(d.ReplyTo) {
		errs.Add("reply_to", "form.email.invalid")
	}
	if r.RequireClientRef && d.ClientRef == "" {
		errs.Add("client_ref", "complaints.client_ref_required")
	} else if utf8.RuneCountInString(d.ClientRef) > 100 {
		errs.Add("client_ref", "form.too_long")
	}
	if r.RequireDocuments && len(d.Files) == 0 {
		errs.Add("files", "complaints.documents_required")
	}
	if len(d.Files) > r.MaxFilesPerClaim {
		errs.Add("files", "complaints.too_many_files")
	}
	for i := range d.Files {
		f := &d.Files[i]
		if len(f.Data) > r.MaxFileBytes {
			errs.Add("files", "complaints.file_too_large")
			continue
		}
		// What the file is comes from its bytes alone; the name the person gave is kept,
		// cleaned, to show staff, never as a path or a type (issue 11.9).
		k, err := upload.Check(f.Data, r.AllowedFileTypes...)
		if err != nil {
			errs.Add("files", "upload.refused")
			continue
		}
		f.ContentType, f.Name = k.ContentType, upload.DisplayName(f.Name)
	}
	now := s.Now()
	if !d.Due.IsZero() && !d.Due.After(now) {
		errs.Add("due", "form.date.invalid")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	due := r.Due(now, r.AnswerDays)
	if !d.Due.IsZero() {
		due = d.Due.UTC()
	}
	c := &Complaint{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()).String(), Reference: reference(now), Module: d.Module,
		Category: d.Category, Body: d.Body, ReplyTo: strings.ToLower(d.ReplyTo), ClientRef: d.ClientRef, UserID: d.UserID,
		Locale: d.Locale, Status: Open, ReceivedAt: now, DueAt: due}
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(c).Exec(ctx); err != nil {
			return err
		}
		for _, f := range d.Files {
			f.TenantID, f.ID, f.ComplaintID = tenantID, uuid.Must(uuid.NewV7()).String(), c.ID
			if _, err := sc.Insert(&f).Exec(ctx); err != nil {
				return err
			}
			c.Files = append(c.Files, File{ID: f.ID, Name: f.Name, ContentType: f.ContentType})
		}
		return nil
	})
	return c, err
}

// Queue lists the tenant's complaints, open ones first by due date.
func (s *Service) Queue(ctx context.Context, tenantID string, status string) ([]Complaint, error) {
	var out []Complaint
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Select(&out).Order("due_at").Limit(1000)
		if status != "" {
			q = q.Where("status = ?", status)
		}
		return q.Scan(ctx)
	})
	return out, err
}

// Get returns one complaint of the tenant with its files' names.
func (s *Service) Get(ctx context.Context, tenantID, id string) (*Complaint, error) {
	var c Complaint
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&c).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&c.Files).Column("id", "name", "content_type").Where("complaint_id = ?", id).Order("name").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&c.Questions).ExcludeColumn("key_hash").Where("complaint_id = ?", id).Order("asked_at").Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &c, err
}

// File returns one supporting document of a complaint of the tenant.
func (s *Service) File(ctx context.Context, tenantID, complaintID, fileID string) (*File, error) {
	var f File
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&f).Where("id = ? AND complaint_id = ?", fileID, complaintID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &f, err
}

// ErrBusy is returned when the complaint changed under an action several times in a row.
var ErrBusy = errors.New("complaints: changed meanwhile")

// errMoved makes an action read the complaint again: its due date moved meanwhile.
var errMoved = errors.New("complaints: due date moved")

// moveDue runs f, which moves the due date it read inside the transaction, again when
// another action moved it meanwhile (f's guarded update then touched no row): two staff
// members, or staff and the person, acting at once each move it once.
func (s *Service) moveDue(ctx context.Context, tenantID string, f func(ctx context.Context, sc *db.Scope) error) error {
	for i := 0; i < 5; i++ {
		err := s.DB.InTenant(ctx, tenantID, f)
		if !errors.Is(err, errMoved) {
			return err
		}
	}
	return ErrBusy
}

// Extend pushes an open complaint's due date, once, by at most the rule's days, for one of
// the reasons the rules allow (C17: special knowledge needed, or outside the operator's
// control). It returns the complaint as it now stands.
func (s *Service) Extend(ctx context.Context, tenantID, id string, r Rules, days int, reason string) (*Complaint, error) {
	errs := form.Errors{}
	if r.MaxExtensionDays == 0 {
		errs.Add("days", "complaints.no_extension")
	} else if days < 1 || days > r.MaxExtensionDays {
		errs.Add("days", "form.number.range")
	}
	if !contains(ExtensionReasons, reason) {
		errs.Add("reason", "form.invalid_choice")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	err := s.moveDue(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var c Complaint
		if err := sc.Select(&c).Where("id = ?", id).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if c.Status != Open || c.ExtendedDays != 0 {
			return form.Errors{"days": "complaints.already_extended"}
		}
		res, err := sc.Update((*Complaint)(nil)).Set("due_at = ?", r.Due(c.DueAt, days)).Set("extended_days = ?", days).
			Set("extension_reason = ?", reason).
			Where("id = ? AND status = ? AND extended_days = 0 AND due_at = ?", id, Open, c.DueAt).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errMoved
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, tenantID, id)
}

// NewKey returns a secret for a link and the hash under which it is stored.
func NewKey() (key, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	key = base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashKey(key)
}

// HashKey is the stored form of a link's secret.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Ask records staff's question to the person and stops the complaint's clock until he
// answers (C17, 002 9.5). It returns the secret of the link through which he answers. One
// question waits at a time: the database refuses a second one asked at the same moment.
func (s *Service) Ask(ctx context.Context, tenantID, id, by, question string) (*Complaint, string, error) {
	question = strings.TrimSpace(question)
	switch {
	case question == "":
		return nil, "", form.Errors{"question": "form.required"}
	case utf8.RuneCountInString(question) > 10000:
		return nil, "", form.Errors{"question": "form.too_long"}
	}
	key, hash := NewKey()
	now := s.Now()
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*Complaint)(nil)).Set("paused_at = ?", now).
			Where("id = ? AND status = ? AND paused_at IS NULL", id, Open).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return form.Errors{"question": "complaints.already_paused"}
		}
		q := &Question{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()).String(), ComplaintID: id, Question: question,
			AskedAt: now, AskedBy: by, KeyHash: hash}
		if _, err := sc.Insert(q).Exec(ctx); err != nil {
			if db.IsUniqueViolation(err) {
				return form.Errors{"question": "complaints.already_paused"}
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	c, err := s.Get(ctx, tenantID, id)
	return c, key, err
}

// Asked returns the question a link's secret opens, waiting or answered, with its complaint.
func (s *Service) Asked(ctx context.Context, tenantID, key string) (*Question, *Complaint, error) {
	var q Question
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&q).Where("key_hash = ?", HashKey(key)).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, err
	}
	c, err := s.Get(ctx, tenantID, q.ComplaintID)
	return &q, c, err
}

// pausedDays is how many days a question asked at asked and answered at now stopped the
// clock: the calendar days between the two in the tenant's time zone; none when it was
// asked after the due date (the pause cannot make up for a deadline already missed).
func (r Rules) pausedDays(asked, now, due time.Time) int {
	if asked.After(due) {
		return 0
	}
	n := daysBetween(asked, now, r.Location)
	if n < 0 {
		return 0
	}
	return n
}

// daysBetween counts the calendar days from a's date to b's date in loc.
func daysBetween(a, b time.Time, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	a, b = a.In(loc), b.In(loc)
	from := time.Date(a.Year(), a.Month(), a.Day(), 12, 0, 0, 0, time.UTC)
	to := time.Date(b.Year(), b.Month(), b.Day(), 12, 0, 0, 0, time.UTC)
	return int(to.Sub(from).Hours() / 24)
}

// moved is due later by days calendar days, at the end of that day in the tenant's zone.
func (r Rules) moved(due time.Time, days int) time.Time {
	if days == 0 {
		return due
	}
	d := due.In(r.Location).AddDate(0, 0, days)
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, r.Location).UTC()
}

// Explain records the person's answer to the question a link's secret opens, starts the
// clock again and moves the due date by the days it stood still (C17). An answer comes
// once; a complaint already answered by staff takes none.
func (s *Service) Explain(ctx context.Context, tenantID string, r Rules, key, explanation string) (*Complaint, error) {
	explanation = strings.TrimSpace(explanation)
	switch {
	case explanation == "":
		return nil, form.Errors{"explanation": "form.required"}
	case utf8.RuneCountInString(explanation) > 10000:
		return nil, form.Errors{"explanation": "form.too_long"}
	}
	var id string
	err := s.moveDue(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var q Question
		if err := sc.Select(&q).Where("key_hash = ?", HashKey(key)).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		id = q.ComplaintID
		var c Complaint
		if err := sc.Select(&c).Where("id = ?", q.ComplaintID).Scan(ctx); err != nil {
			return err
		}
		if !q.ExplainedAt.IsZero() || c.Status != Open {
			return form.Errors{"explanation": "complaints.question_closed"}
		}
		now := s.Now()
		n := r.pausedDays(q.AskedAt, now, c.DueAt)
		res, err := sc.Update((*Question)(nil)).Set("explanation = ?", explanation).Set("explained_at = ?", now).
			Set("paused_days = ?", n).Where("id = ? AND explained_at IS NULL", q.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return form.Errors{"explanation": "complaints.question_closed"}
		}
		res, err = sc.Update((*Complaint)(nil)).Set("paused_at = NULL").Set("paused_days = paused_days + ?", n).
			Set("due_at = ?", r.moved(c.DueAt, n)).
			Where("id = ? AND status = ? AND paused_at IS NOT NULL AND due_at = ?", c.ID, Open, c.DueAt).Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return errMoved
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, tenantID, id)
}

// Answer records the answer of an open complaint (once).
func (s *Service) Answer(ctx context.Context, tenantID, id, by, answer string) (*Complaint, error) {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return nil, form.Errors{"answer": "form.required"}
	}
	if utf8.RuneCountInString(answer) > 20000 {
		return nil, form.Errors{"answer": "form.too_long"}
	}
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		res, err := sc.Update((*Complaint)(nil)).Set("status = ?", Answered).Set("answer = ?", answer).
			Set("answered_at = ?", s.Now()).Set("answered_by = ?", by).Where("id = ? AND status = ?", id, Open).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return form.Errors{"answer": "complaints.already_answered"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, tenantID, id)
}

// ByUser lists the complaints a user lodged (for his data export).
func (s *Service) ByUser(ctx context.Context, tenantID, userID string) ([]Complaint, error) {
	var out []Complaint
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&out).Where("user_id = ?", userID).Order("received_at").Scan(ctx); err != nil {
			return err
		}
		// With the questions he was asked and his explanations (C17).
		for i := range out {
			if err := sc.Select(&out[i].Questions).ExcludeColumn("key_hash").Where("complaint_id = ?", out[i].ID).
				Order("asked_at").Scan(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Erase removes, in the transaction of an erasure, the complaints the person lodged (by his
// account, or from his e-mail address without one) with their files and answers: they hold
// his words and address, and nothing requires keeping them once he leaves.
func Erase(ctx context.Context, sc *db.Scope, userID, email string) (int64, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	// One condition, grouped, so that it stays inside the scope's tenant filter.
	const his = "((user_id = ? AND user_id <> '') OR (lower(reply_to) = ? AND ? <> ''))"
	if _, err := sc.Delete((*Question)(nil)).Where("complaint_id IN (SELECT id FROM complaints WHERE tenant_id = ? AND "+his+")",
		sc.TenantID, userID, email, email).Exec(ctx); err != nil {
		return 0, err
	}
	if _, err := sc.Delete((*File)(nil)).Where("complaint_id IN (SELECT id FROM complaints WHERE tenant_id = ? AND "+his+")",
		sc.TenantID, userID, email, email).Exec(ctx); err != nil {
		return 0, err
	}
	res, err := sc.Delete((*Complaint)(nil)).Where(his, userID, email, email).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
