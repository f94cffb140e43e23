package calendar

import (
	"context"
	"strings"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/textfold"
	"carenet.dev/platform/plugins/sdk"
)

// specialties are the specialty codes the directory knows; their names, and the words
// people search them by (diseases, organs, common names), are data in the locale files:
// calendar.specialty.<code> and calendar.search_terms.<code>, in every language.
var specialties = []string{"allergology", "cardiology", "dentistry", "dermatology", "endocrinology", "family_medicine",
	"gastroenterology", "gynecology", "neurology", "ophthalmology", "orthopedics", "otolaryngology", "pediatrics",
	"psychiatry", "pulmonology", "urology"}

// knownSpecialty reports whether code is one of the directory's specialties.
func knownSpecialty(code string) bool {
	for _, s := range specialties {
		if s == code {
			return true
		}
	}
	return false
}

// searchLocales are the languages whose names and search terms a doctor is found by.
var searchLocales = []string{"fr", "pl", "sk"}

// searchKey is the folded text a keyword search reads for d (C1): his names, competences,
// description, and his specialties' names and search terms in every language, so "serce",
// "cœur" and "kardiolog" all find a cardiologist, with or without accents.
func (m *Module) searchKey(d *Doctor, specs []string) string {
	parts := []string{d.Title, d.FirstName, d.LastName, d.Competences, d.Description}
	for _, s := range specs {
		for _, lang := range searchLocales {
			loc := m.Msgs.For(lang)
			parts = append(parts, loc.T("calendar.specialty."+s), loc.T("calendar.search_terms."+s))
		}
	}
	return " " + fold(strings.Join(parts, " ")) + " "
}

// saveFacility stores f, new (no id) or changed.
func (m *Module) saveFacility(ctx context.Context, t sdk.Tenant, f *Facility) error {
	now := m.now()
	f.TenantID, f.CityKey, f.UpdatedAt = t.ID, fold(f.City), now
	if f.OwnerKind == "" {
		f.OwnerKind = ownerOperator
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if f.ID == "" {
			f.ID, f.CreatedAt = newID(), now
			_, err := sc.Insert(f).Exec(ctx)
			return err
		}
		_, err := sc.Update(f).WherePK().ExcludeColumn("created_at").Exec(ctx)
		return err
	})
}

// saveDoctor stores d, new (no id) or changed, with his specialties and the facilities he
// works at (each replaced by the lists given).
func (m *Module) saveDoctor(ctx context.Context, t sdk.Tenant, d *Doctor, specs, facilities []string) error {
	now := m.now()
	d.TenantID, d.UpdatedAt, d.SearchKey = t.ID, now, m.searchKey(d, specs)
	if d.OwnerKind == "" {
		d.OwnerKind = ownerOperator
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if d.ID == "" {
			d.ID, d.CreatedAt = newID(), now
			if _, err := sc.Insert(d).Exec(ctx); err != nil {
				return err
			}
		} else if _, err := sc.Update(d).WherePK().ExcludeColumn("created_at").Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*DoctorSpecialty)(nil)).Where("ds.doctor_id = ?", d.ID).Exec(ctx); err != nil {
			return err
		}
		for _, s := range specs {
			if _, err := sc.Insert(&DoctorSpecialty{TenantID: t.ID, DoctorID: d.ID, Specialty: s}).Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := sc.Delete((*DoctorFacility)(nil)).Where("df.doctor_id = ?", d.ID).
			Where("df.facility_id NOT IN (?)", bunIn(append(facilities, ""))).Exec(ctx); err != nil {
			return err
		}
		for _, f := range facilities {
			if _, err := sc.Insert(&DoctorFacility{TenantID: t.ID, DoctorID: d.ID, FacilityID: f}).
				On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// saveService stores a new service of a doctor at a facility.
func (m *Module) saveService(ctx context.Context, t sdk.Tenant, s *Service) error {
	s.TenantID, s.ID, s.CreatedAt = t.ID, newID(), m.now()
	if s.Currency == "" {
		s.Currency = t.Currency
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(s).Exec(ctx)
		return err
	})
}

// strokes are the letters whose accent is not a combining mark (NFD leaves them whole):
// "Łódź" is typed "lodz".
var strokes = strings.NewReplacer("ł", "l", "đ", "d", "ø", "o", "ħ", "h", "ŀ", "l", "ß", "ss", "æ", "ae", "œ", "oe")

// fold is what people type regardless of case, accents and spacing, for the directory.
func fold(s string) string { return strokes.Replace(textfold.Plain(s)) }
