package calendar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

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

// directoryState is what the tenant's directory remembers of itself: the hash of the
// synonym data its doctors' search words were built from.
type directoryState struct {
	bun.BaseModel `bun:"table:calendar_directory_state,alias:dst"`

	TenantID  string `bun:"tenant_id,pk"`
	WordsHash string `bun:"words_hash"`
}

const jobRefreshSearchWords = "calendar.refresh_search_words"

// wordsHash is the hash of the synonym data the search words are built from: every
// specialty's name and search terms in every search language (locale files).
func (m *Module) wordsHash() string {
	h := sha256.New()
	for _, lang := range searchLocales {
		loc := m.Msgs.For(lang)
		for _, s := range specialties {
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", lang, s, loc.T("calendar.specialty."+s), loc.T("calendar.search_terms."+s))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// refreshSearchWords rebuilds the search words of every doctor of t when the synonym data
// changed since they were built (a new release's locale files), and remembers the data's
// hash; it returns how many doctors' words changed. Run by a job, hourly, per tenant.
func (m *Module) refreshSearchWords(ctx context.Context, t sdk.Tenant) (int, error) {
	hash := m.wordsHash()
	changed := 0
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var st directoryState
		err := sc.Select(&st).Scan(ctx)
		if err == nil && st.WordsHash == hash {
			return nil
		}
		if err != nil && !errors.Is(err, sqlNoRows) {
			return err
		}
		var ds []Doctor
		if err := sc.Select(&ds).Column("id", "title", "first_name", "last_name", "competences", "description", "search_key").Scan(ctx); err != nil {
			return err
		}
		var specs []DoctorSpecialty
		if err := sc.Select(&specs).Order("ds.specialty").Scan(ctx); err != nil {
			return err
		}
		by := map[string][]string{}
		for _, s := range specs {
			by[s.DoctorID] = append(by[s.DoctorID], s.Specialty)
		}
		for i := range ds {
			d := &ds[i]
			key := m.searchKey(d, by[d.ID])
			if key == d.SearchKey {
				continue
			}
			if _, err := sc.Update((*Doctor)(nil)).Set("search_key = ?", key).Where("dr.id = ?", d.ID).Exec(ctx); err != nil {
				return err
			}
			changed++
		}
		_, err = sc.Insert(&directoryState{TenantID: t.ID, WordsHash: hash}).
			On("CONFLICT (tenant_id) DO UPDATE").Set("words_hash = EXCLUDED.words_hash").Exec(ctx)
		return err
	})
	return changed, err
}

// runRefreshSearchWords is the job of refreshSearchWords.
func (m *Module) runRefreshSearchWords(ctx context.Context, job *sdk.Job) error {
	_, err := m.refreshSearchWords(ctx, job.Tenant)
	return err
}
