// Package terms owns the terms documents and consents (P6): per tenant, one document for the
// account ("platform") and one per module, each versioned with a publication and an
// effective date and a text per language; the acceptances (user, version, time, address,
// how: explicitly or by continued use); and the separate consents (data processing,
// marketing, geolocation) with their history. It must not know about HTTP.
package terms

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microcosm-cc/bluemonday"
	"github.com/uptrace/bun"
	"github.com/yuin/goldmark"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
)

// DocPlatform is the document of the account itself; the others are named by module id.
const DocPlatform = "platform"

// Consent kinds (P6).
const (
	ConsentDataProcessing = "data_processing" // mandatory
	ConsentMarketing      = "marketing"       // optional
	ConsentGeolocation    = "geolocation"     // optional
	// ConsentPartners: passing the person's data to the tenant's partners (eLekarze asks it).
	ConsentPartners = "partners" // optional
)

// OptionalConsents are the optional consents a tenant may ask (its rule
// "account.optional_consents" lists those it asks); each has its words, "consent.<kind>".
var OptionalConsents = []string{ConsentMarketing, ConsentGeolocation, ConsentPartners}

// How an acceptance was given.
const (
	Explicit      = "explicit"
	ContinuedUse  = "continued_use"
	AtImport      = "import"
	maxBodyLength = 200000
)

// Version is one version of a terms document.
type Version struct {
	bun.BaseModel `bun:"table:terms_versions,alias:tv"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	Doc         string    `bun:"doc"`
	Version     int       `bun:"version"`
	PublishedAt time.Time `bun:"published_at"`
	EffectiveAt time.Time `bun:"effective_at"`
	PublishedBy string    `bun:"published_by"`
	// Change is the kind of change the version brings (ChangeGeneral, ChangeFees,
	// ChangeClosing): each has its own notice period.
	Change string `bun:"change"`
}

// Kinds of change a new version brings, each with its own notice period (P6).
const (
	ChangeGeneral = "general"
	ChangeFees    = "fees"
	ChangeClosing = "closing"
)

// Changes are the kinds of change, in the order an admin sees them.
var Changes = []string{ChangeGeneral, ChangeFees, ChangeClosing}

// Text is a version's text in one language (Markdown).
type Text struct {
	bun.BaseModel `bun:"table:terms_texts,alias:tt"`

	TenantID  string `bun:"tenant_id,pk"`
	VersionID string `bun:"version_id,pk"`
	Locale    string `bun:"locale,pk"`
	Title     string `bun:"title"`
	Body      string `bun:"body"`
}

// Acceptance records that a user accepted a version.
type Acceptance struct {
	bun.BaseModel `bun:"table:terms_acceptances,alias:ta"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	UserID     string    `bun:"user_id"`
	VersionID  string    `bun:"version_id"`
	Doc        string    `bun:"doc"`
	Version    int       `bun:"version"`
	AcceptedAt time.Time `bun:"accepted_at"`
	IP         string    `bun:"ip"`
	Locale     string    `bun:"locale"`
	How        string    `bun:"how"`
}

// Consent is one grant or withdrawal of a consent; the latest per kind is in force.
type Consent struct {
	bun.BaseModel `bun:"table:consents,alias:cs"`

	TenantID string    `bun:"tenant_id,pk"`
	ID       string    `bun:"id,pk"`
	UserID   string    `bun:"user_id"`
	Kind     string    `bun:"kind"`
	Granted  bool      `bun:"granted"`
	At       time.Time `bun:"at"`
	IP       string    `bun:"ip"`
}

// Service reads and writes terms and consents.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// New returns a service over d.
func New(d *db.DB) *Service {
	return &Service{DB: d, Now: func() time.Time { return time.Now().UTC() }}
}

// ErrNotFound is returned when a tenant has no such document or version.
var ErrNotFound = errors.New("terms: not found")

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// InForce returns the version of doc in force now (the latest whose effective date passed).
func (s *Service) InForce(ctx context.Context, tenantID, doc string) (*Version, error) {
	var v *Version
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		v, err = s.InForceIn(ctx, sc, doc)
		return err
	})
	return v, err
}

// InForceIn is InForce inside an open tenant transaction.
func (s *Service) InForceIn(ctx context.Context, sc *db.Scope, doc string) (*Version, error) {
	var v Version
	err := sc.Select(&v).Where("doc = ? AND effective_at <= ?", doc, s.Now()).Order("version DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &v, err
}

// All lists every published version of every document of the tenant, newest first.
func (s *Service) All(ctx context.Context, tenantID string) ([]Version, error) {
	var out []Version
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Order("doc", "version DESC").Scan(ctx)
	})
	return out, err
}

// InForceOf picks, from versions (as All lists them), the version in force of each document
// now: the latest whose effective date has come.
func (s *Service) InForceOf(versions []Version) map[string]*Version {
	now := s.Now()
	out := map[string]*Version{}
	for i := range versions {
		v := &versions[i]
		if v.EffectiveAt.After(now) {
			continue
		}
		if cur, ok := out[v.Doc]; !ok || v.Version > cur.Version {
			out[v.Doc] = v
		}
	}
	return out
}

// AcceptedBy lists, in one read, the documents the user accepted some version of and the
// versions he accepted.
func (s *Service) AcceptedBy(ctx context.Context, tenantID, userID string) (docs, versions map[string]bool, err error) {
	var rows []struct {
		Doc       string `bun:"doc"`
		VersionID string `bun:"version_id"`
	}
	err = s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.SelectBound((*Acceptance)(nil), userID).Column("doc", "version_id").Where("user_id = ?", db.Arg).Scan(ctx, &rows)
	})
	docs, versions = map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		docs[r.Doc], versions[r.VersionID] = true, true
	}
	return docs, versions, err
}

// Upcoming returns the published version of doc that is not in force yet, if any.
func (s *Service) Upcoming(ctx context.Context, tenantID, doc string) (*Version, error) {
	var v Version
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&v).Where("doc = ? AND effective_at > ?", doc, s.Now()).Order("version DESC").Limit(1).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &v, err
}

// Versions lists every version of doc, newest first.
func (s *Service) Versions(ctx context.Context, tenantID, doc string) ([]Version, error) {
	var out []Version
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("doc = ?", doc).Order("version DESC").Scan(ctx)
	})
	return out, err
}

// Texts returns a version's texts, one per language it is written in.
func (s *Service) Texts(ctx context.Context, tenantID, versionID string) ([]Text, error) {
	var texts []Text
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&texts).Where("version_id = ?", versionID).Order("locale").Scan(ctx)
	})
	return texts, err
}

// Text returns a version's text in locale, or in fallback when it has none in locale.
func (s *Service) Text(ctx context.Context, tenantID, versionID, locale, fallback string) (*Text, error) {
	texts, err := s.Texts(ctx, tenantID, versionID)
	if err != nil {
		return nil, err
	}
	for _, want := range []string{locale, fallback} {
		for i := range texts {
			if texts[i].Locale == want {
				return &texts[i], nil
			}
		}
	}
	if len(texts) > 0 {
		return &texts[0], nil
	}
	return nil, ErrNotFound
}

// Draft is a new version an admin publishes.
type Draft struct {
	Doc       string
	Change    string // one of Changes; "" is ChangeGeneral
	Effective time.Time
	By        string
	// Texts by locale; every locale the tenant allows must have a title and a body.
	Texts map[string]Text
}

// Publish adds a version of a document. Its effective date may not be earlier than
// publication plus the tenant's notice period (whole days, in loc).
func (s *Service) Publish(ctx context.Context, tenantID string, d Draft, locales []string, notice time.Duration, loc *time.Location) (*Version, error) {
	errs := form.Errors{}
	now := s.Now()
	earliest := now.Add(notice)
	if d.Effective.IsZero() {
		errs.Add("effective", "form.required")
	} else if d.Effective.Before(time.Date(earliest.In(loc).Year(), earliest.In(loc).Month(), earliest.In(loc).Day(), 0, 0, 0, 0, loc)) {
		errs.Add("effective", "admin.terms.too_early")
	}
	for _, l := range locales {
		t := d.Texts[l]
		if strings.TrimSpace(t.Title) == "" {
			errs.Add("title_"+l, "form.required")
		}
		if strings.TrimSpace(t.Body) == "" {
			errs.Add("body_"+l, "form.required")
		} else if len(t.Body) > maxBodyLength {
			errs.Add("body_"+l, "form.too_long")
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s.insert(ctx, tenantID, d, locales, now)
}

func (s *Service) insert(ctx context.Context, tenantID string, d Draft, locales []string, now time.Time) (*Version, error) {
	if d.Change == "" {
		d.Change = ChangeGeneral
	}
	v := &Version{TenantID: tenantID, ID: newID(), Doc: d.Doc, PublishedAt: now, EffectiveAt: d.Effective.UTC(), PublishedBy: d.By, Change: d.Change}
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var last int
		if err := sc.Select((*Version)(nil)).ColumnExpr("COALESCE(MAX(version), 0)").Where("doc = ?", d.Doc).Scan(ctx, &last); err != nil {
			return err
		}
		v.Version = last + 1
		// A concurrent publication of the same document fails on the unique version.
		if _, err := sc.Insert(v).Exec(ctx); err != nil {
			return err
		}
		for _, l := range locales {
			t := d.Texts[l]
			t.TenantID, t.VersionID, t.Locale = tenantID, v.ID, l
			t.Title, t.Body = strings.TrimSpace(t.Title), strings.TrimSpace(t.Body)
			if _, err := sc.Insert(&t).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		return nil, fmt.Errorf("terms: another version of %s was published at the same time", d.Doc)
	}
	return v, err
}

// Seed creates version 1 of a document, in force at once, unless the document exists.
func (s *Service) Seed(ctx context.Context, tenantID, doc string, texts map[string]Text) error {
	if vs, err := s.Versions(ctx, tenantID, doc); err != nil || len(vs) > 0 {
		return err
	}
	var locales []string
	for l := range texts {
		locales = append(locales, l)
	}
	_, err := s.insert(ctx, tenantID, Draft{Doc: doc, Effective: s.Now(), Texts: texts, By: AtImport}, locales, s.Now())
	if err != nil && strings.Contains(err.Error(), "same time") {
		return nil
	}
	return err
}

// Accept records that user accepted version v (once; accepting again does nothing).
func (s *Service) Accept(ctx context.Context, sc *db.Scope, userID string, v *Version, ip, locale, how string) error {
	return s.AcceptAt(ctx, sc, userID, v, ip, locale, how, s.Now())
}

// AcceptAt is Accept at the time the person accepted (a registration's form, recorded by the
// job that creates the account a moment later).
func (s *Service) AcceptAt(ctx context.Context, sc *db.Scope, userID string, v *Version, ip, locale, how string, at time.Time) error {
	a := &Acceptance{TenantID: sc.TenantID, ID: newID(), UserID: userID, VersionID: v.ID, Doc: v.Doc, Version: v.Version,
		AcceptedAt: at, IP: ip, Locale: locale, How: how}
	res, err := sc.Insert(a).On("CONFLICT (tenant_id, user_id, version_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	// What the account accepted changed: every instance reads it again (AcceptedRev).
	_, err = sc.Tx.NewUpdate().Table("users").Set("accepted_rev = accepted_rev + 1").
		Where("tenant_id = ? AND id = ?", sc.TenantID, userID).Exec(ctx)
	return err
}

// AcceptNow records an acceptance in its own transaction.
func (s *Service) AcceptNow(ctx context.Context, tenantID, userID string, v *Version, ip, locale, how string) error {
	return s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return s.Accept(ctx, sc, userID, v, ip, locale, how)
	})
}

// Accepted returns the user's acceptance of version v, or nil.
func (s *Service) Accepted(ctx context.Context, tenantID, userID, versionID string) (*Acceptance, error) {
	var a Acceptance
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&a).Where("user_id = ? AND version_id = ?", userID, versionID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &a, err
}

// AcceptedDocs lists the documents the user accepted some version of.
func (s *Service) AcceptedDocs(ctx context.Context, tenantID, userID string) (map[string]bool, error) {
	var docs []string
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select((*Acceptance)(nil)).ColumnExpr("DISTINCT doc").Where("user_id = ?", userID).Scan(ctx, &docs)
	})
	out := map[string]bool{}
	for _, d := range docs {
		out[d] = true
	}
	return out, err
}

// Acceptances lists the user's acceptances, newest first.
func (s *Service) Acceptances(ctx context.Context, tenantID, userID string) ([]Acceptance, error) {
	var out []Acceptance
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("user_id = ?", userID).Order("accepted_at DESC").Scan(ctx)
	})
	return out, err
}

// CountAcceptances counts the acceptances of a version.
func (s *Service) CountAcceptances(ctx context.Context, tenantID, versionID string) (int, error) {
	var n int
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		c, err := sc.Select((*Acceptance)(nil)).Where("version_id = ?", versionID).Count(ctx)
		n = int(c)
		return err
	})
	return n, err
}

// SetConsent records a grant or a withdrawal.
func (s *Service) SetConsent(ctx context.Context, sc *db.Scope, userID, kind string, granted bool, ip string) error {
	c := &Consent{TenantID: sc.TenantID, ID: newID(), UserID: userID, Kind: kind, Granted: granted, At: s.Now(), IP: ip}
	_, err := sc.Insert(c).Exec(ctx)
	return err
}

// ConsentHistory returns every consent answer of the user, oldest first.
func (s *Service) ConsentHistory(ctx context.Context, tenantID, userID string) ([]Consent, error) {
	var all []Consent
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&all).Where("user_id = ?", userID).Order("at", "id").Scan(ctx)
	})
	return all, err
}

// Consents returns the consent in force of each kind the user ever answered.
func (s *Service) Consents(ctx context.Context, tenantID, userID string) (map[string]Consent, error) {
	var all []Consent
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.SelectBound(&all, userID).Where("user_id = ?", db.Arg).Order("at", "id").Scan(ctx)
	})
	out := map[string]Consent{}
	for _, c := range all {
		out[c.Kind] = c
	}
	return out, err
}

var (
	md     = goldmark.New()
	policy = bluemonday.UGCPolicy()
)

// Render turns a document's Markdown into HTML, sanitised: no script, no style, no event
// handler survives, whatever the Markdown held.
func Render(markdown string) template.HTML {
	var buf bytes.Buffer
	if err := md.Convert([]byte(markdown), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(markdown))
	}
	return template.HTML(policy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitised above
}
