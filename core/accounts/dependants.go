package accounts

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/natid"
)

// People an account holder represents (P2 [003 II.4, I.6.19], issue 12.9): sub-accounts for
// minors and for adults deprived of or restricted in legal capacity, with the relationship
// and the holder's consent as their representative. They are deleted with the account
// (the table's ON DELETE CASCADE). A minor is represented until the tenant's age of majority
// (RuleMajorityAge); an adult under protection, as long as the holder keeps him listed.

// RuleMajorityAge is the tenant's age of majority: a minor dependant is represented until
// that birthday.
const RuleMajorityAge = "account.majority_age"

// Legal status of a dependant.
const (
	LegalMinor      = "minor"      // under the age of majority
	LegalDeprived   = "deprived"   // an adult deprived of legal capacity
	LegalRestricted = "restricted" // an adult restricted in legal capacity
)

// LegalStatuses are the statuses a dependant may have, in the form's order.
var LegalStatuses = []string{LegalMinor, LegalDeprived, LegalRestricted}

// Relationships are the relationships a representative may have with a dependant.
var Relationships = []string{"parent", "guardian", "curator", "other"}

// Sexes a dependant may be recorded with ("" when not given).
var Sexes = []string{"female", "male"}

// ErrNoDependant is returned for a dependant that is not one of the account's.
var ErrNoDependant = errors.New("accounts: no such dependant of the account")

// Dependant is a person an account holder represents.
type Dependant struct {
	bun.BaseModel `bun:"table:dependants,alias:dp"`

	TenantID  string `bun:"tenant_id,pk"`
	ID        string `bun:"id,pk"`
	UserID    string `bun:"user_id"`
	FirstName string `bun:"first_name"`
	LastName  string `bun:"last_name"`
	// BirthName is the family name at birth when it differs from LastName ("" otherwise).
	BirthName string `bun:"birth_name"`
	BirthDate string `bun:"birth_date"` // "2006-01-02"
	// NationalID is the national identification number (rodné číslo, PESEL…), "" when none.
	NationalID   string    `bun:"national_id"`
	Sex          string    `bun:"sex"`
	Nationality  string    `bun:"nationality"`
	Address      string    `bun:"address"` // permanent address
	Relationship string    `bun:"relationship"`
	LegalStatus  string    `bun:"legal_status"`
	ConsentAt    time.Time `bun:"consent_at"` // the holder's consent as representative
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

// Name is the dependant's full name, given names first.
func (d *Dependant) Name() string { return strings.TrimSpace(d.FirstName + " " + d.LastName) }

// OfAgeOn is the day a minor comes of age under the tenant's rule ("" for a dependant whose
// birth date does not parse). A child born on 29 February comes of age on 1 March.
func (d *Dependant) OfAgeOn(t *tenancy.Tenant) string {
	b, err := time.Parse("2006-01-02", d.BirthDate)
	if err != nil {
		return ""
	}
	return b.AddDate(int(t.IntRule(RuleMajorityAge)), 0, 0).Format("2006-01-02")
}

// Represented reports whether the holder represents the dependant on the day of now in the
// tenant's time zone: an adult under protection always, a minor until he comes of age.
func (d *Dependant) Represented(t *tenancy.Tenant, now time.Time) bool {
	if d.LegalStatus != LegalMinor {
		return true
	}
	on := d.OfAgeOn(t)
	return on != "" && now.In(t.Location()).Format("2006-01-02") < on
}

// DependantInput is what the form sends.
type DependantInput struct {
	FirstName, LastName, BirthName, BirthDate, NationalID, Sex, Nationality, Address string
	Relationship, LegalStatus                                                        string
	// Consent is the holder's declaration that he is the person's legal representative and
	// consents, as such, to the processing of the person's data.
	Consent bool
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ValidateDependant checks every field and returns all problems at once; it trims in.
func (s *Service) ValidateDependant(t *tenancy.Tenant, in *DependantInput) form.Errors {
	errs := form.Errors{}
	text := func(field string, v *string, required bool, max int) {
		*v = strings.TrimSpace(*v)
		switch {
		case required && *v == "":
			errs.Add(field, "form.required")
		case utf8.RuneCountInString(*v) > max:
			errs.Add(field, "form.too_long")
		}
	}
	text("first_name", &in.FirstName, true, 100)
	text("last_name", &in.LastName, true, 100)
	text("birth_name", &in.BirthName, false, 100)
	text("national_id", &in.NationalID, false, 32)
	text("nationality", &in.Nationality, false, 100)
	text("permanent_address", &in.Address, false, 500)
	in.Sex, in.Relationship, in.LegalStatus = strings.TrimSpace(in.Sex), strings.TrimSpace(in.Relationship), strings.TrimSpace(in.LegalStatus)
	if in.Sex != "" && !oneOf(in.Sex, Sexes) {
		errs.Add("sex", "form.invalid_choice")
	}
	switch {
	case in.Relationship == "":
		errs.Add("relationship", "form.required")
	case !oneOf(in.Relationship, Relationships):
		errs.Add("relationship", "form.invalid_choice")
	}
	switch {
	case in.LegalStatus == "":
		errs.Add("legal_status", "form.required")
	case !oneOf(in.LegalStatus, LegalStatuses):
		errs.Add("legal_status", "form.invalid_choice")
	}
	in.BirthDate = strings.TrimSpace(in.BirthDate)
	if age, ok := s.birthAge(t, errs, "birth_date", in.BirthDate); ok {
		adult := age >= t.IntRule(RuleMajorityAge)
		switch {
		case in.LegalStatus == LegalMinor && adult:
			// Of age: represented only under a protection measure.
			errs.Add("birth_date", "account.dependants.of_age")
		case (in.LegalStatus == LegalDeprived || in.LegalStatus == LegalRestricted) && !adult:
			errs.Add("legal_status", "account.dependants.not_adult")
		}
	}
	if t.BoolRule(RuleDependantIdentity) {
		// E2 [003 II.4]: the permanent address, the sex and the nationality are mandatory.
		for _, f := range [][2]string{{"permanent_address", in.Address}, {"sex", in.Sex}, {"nationality", in.Nationality}} {
			if f[1] == "" {
				errs.Add(f[0], "form.required")
			}
		}
	}
	if in.NationalID != "" && natid.Known(t.Settings.Country) {
		// The national number of the tenant's country: its check digits, and the birth date it
		// encodes must be the one typed (E2, P2).
		birth := in.BirthDate
		if errs.Has("birth_date") {
			birth = "" // a date that is not one is said so on its own field
		}
		if n, key := checkNationalID(t, in.NationalID, birth, s.Now().In(t.Location())); key != "" {
			errs.Add("national_id", key)
		} else {
			in.NationalID = n
		}
	}
	if !in.Consent {
		errs.Add("consent", "account.dependants.consent_required")
	}
	return errs
}

// RuleDependantIdentity makes a dependant's permanent address, sex and nationality mandatory
// (E2 [003 II.4]).
const RuleDependantIdentity = "account.dependant_identity_required"

func (in *DependantInput) apply(d *Dependant, now time.Time) {
	d.FirstName, d.LastName, d.BirthName, d.BirthDate = in.FirstName, in.LastName, in.BirthName, in.BirthDate
	d.NationalID, d.Sex, d.Nationality, d.Address = in.NationalID, in.Sex, in.Nationality, in.Address
	d.Relationship, d.LegalStatus = in.Relationship, in.LegalStatus
	// A birth name equal to the family name says nothing more.
	if strings.EqualFold(d.BirthName, d.LastName) {
		d.BirthName = ""
	}
	d.ConsentAt, d.UpdatedAt = now, now
}

// maxDependants bounds the people one account lists (a family, not a register).
const maxDependants = 50

// AddDependant records a person the account holder represents.
func (s *Service) AddDependant(ctx context.Context, t *tenancy.Tenant, userID string, in DependantInput) (*Dependant, error) {
	if errs := s.ValidateDependant(t, &in); len(errs) > 0 {
		return nil, errs
	}
	now := s.Now()
	d := &Dependant{TenantID: t.ID, ID: tenancy.NewID(), UserID: userID, CreatedAt: now}
	in.apply(d, now)
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		n, err := sc.Select((*Dependant)(nil)).Where("user_id = ?", userID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= maxDependants {
			return form.Errors{"first_name": "account.dependants.too_many"}
		}
		_, err = sc.Insert(d).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// UpdateDependant changes one of the account's dependants; the consent is given again.
func (s *Service) UpdateDependant(ctx context.Context, t *tenancy.Tenant, userID, id string, in DependantInput) (*Dependant, error) {
	if errs := s.ValidateDependant(t, &in); len(errs) > 0 {
		return nil, errs
	}
	var d *Dependant
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		if d, err = dependant(ctx, sc, userID, id); err != nil {
			return err
		}
		in.apply(d, s.Now())
		_, err = sc.Update(d).Column("first_name", "last_name", "birth_name", "birth_date", "national_id", "sex", "nationality",
			"address", "relationship", "legal_status", "consent_at", "updated_at").WherePK().Where("user_id = ?", userID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// RemoveDependant deletes one of the account's dependants and returns what it was.
func (s *Service) RemoveDependant(ctx context.Context, t *tenancy.Tenant, userID, id string) (*Dependant, error) {
	var d *Dependant
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		if d, err = dependant(ctx, sc, userID, id); err != nil {
			return err
		}
		res, err := sc.Delete((*Dependant)(nil)).Where("id = ? AND user_id = ?", id, userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNoDependant // removed meanwhile
		}
		return nil
	})
	return d, err
}

// Dependant returns one of the account's dependants, or ErrNoDependant.
func (s *Service) Dependant(ctx context.Context, tenantID, userID, id string) (*Dependant, error) {
	var d *Dependant
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		d, err = dependant(ctx, sc, userID, id)
		return err
	})
	return d, err
}

func dependant(ctx context.Context, sc *db.Scope, userID, id string) (*Dependant, error) {
	d := new(Dependant)
	err := sc.Select(d).Where("id = ? AND user_id = ?", id, userID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoDependant
	}
	return d, err
}

// Dependants lists the account's dependants, by name.
func (s *Service) Dependants(ctx context.Context, tenantID, userID string) ([]Dependant, error) {
	var out []Dependant
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Where("user_id = ?", userID).OrderExpr("first_name, last_name, id").Scan(ctx)
	})
	return out, err
}
