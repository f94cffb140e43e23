package results

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Family access (P2, P3 "a patient sees only his own results and his dependants'", R4,
// issue 12.9): a patient sees the results of each person he represents — a child until the
// tenant's age of majority, an adult under guardianship or curatorship — as he declared them
// on his account page (the core's dependants). The person's lab record is found by the same
// identity rule as an account's (identity.go: every name, the birth name and the date of
// birth, exactly once); several records of one identity are not guessed between, and a record
// linked to an account of its own is that account holder's alone. Each view
// and download is recorded as the representative's access (he is the actor) with the
// person as its subject, as any access to that record is (R9). The access ends the day the
// child comes of age, and when the representative removes him from his account.

// audFamily is a report read by a representative; its routes are under familyPrefix.
const audFamily = "family"

func init() { audPrefix[audFamily] = "/results/family/r/" }

// Family match states of a represented person.
const (
	familyFound     = "found"     // one lab record carries his identity
	familyNone      = "none"      // none yet
	familyAmbiguous = "ambiguous" // several: the lab must sort them out
	// familyOwn: the record is linked to an account of its own. An account holder declared
	// full legal capacity (P2), so nobody reads his results on his behalf.
	familyOwn = "own"
)

// familyMember is a represented person and his results, as the patient's page shows them.
type familyMember struct {
	Name      string
	BirthDate string
	OfAgeOn   string // "" for an adult under protection
	State     string
	Rows      []reportRow
	key       string
	recordID  string
}

// represented are the people the signed-in patient represents today, by the module's clock
// in the tenant's time zone.
func (m *Module) represented(c *kit.Ctx) ([]sdk.Dependant, error) {
	all, err := c.Host().Dependants(c.Context(), c.User().ID)
	if err != nil {
		return nil, err
	}
	today := m.now().In(tenantLoc(c.Tenant())).Format("2006-01-02")
	var out []sdk.Dependant
	for _, d := range all {
		if d.RepresentedOn(today) {
			out = append(out, d)
		}
	}
	return out, nil
}

// dependantKey is the identity a represented person is matched on, as a lab record's.
func dependantKey(d *sdk.Dependant) string {
	return labKey(d.LastName, d.FirstName, d.BirthName, d.BirthDate)
}

// familyRecords finds, for each represented person, the one lab record of his identity, in
// one statement for them all.
func familyRecords(ctx context.Context, sc *store.Scope, deps []sdk.Dependant) ([]familyMember, error) {
	out := make([]familyMember, len(deps))
	keys := make([]string, len(deps))
	for i := range deps {
		d := &deps[i]
		keys[i] = dependantKey(d)
		out[i] = familyMember{Name: d.FirstName + " " + d.LastName, BirthDate: d.BirthDate, OfAgeOn: d.OfAgeOn,
			State: familyNone, key: keys[i]}
	}
	var recs []LabPatient
	if err := sc.Select(&recs).Column("id", "user_id", "match_key").Where("lp.match_key IN (?)", bun.In(keys)).Scan(ctx); err != nil {
		return nil, err
	}
	byKey := map[string][]LabPatient{}
	for _, r := range recs {
		byKey[r.MatchKey] = append(byKey[r.MatchKey], r)
	}
	for i := range out {
		switch rs := byKey[out[i].key]; {
		case len(rs) > 1:
			out[i].State = familyAmbiguous
		case len(rs) == 1 && rs[0].UserID != "":
			out[i].State = familyOwn
		case len(rs) == 1:
			out[i].State, out[i].recordID = familyFound, rs[0].ID
		}
	}
	return out, nil
}

// family is the "people I represent" part of the patient's results page: each person with
// his reports, newest first — two statements, however many people.
func (m *Module) family(c *kit.Ctx) ([]familyMember, error) {
	deps, err := m.represented(c)
	if err != nil || len(deps) == 0 {
		return nil, err
	}
	var members []familyMember
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		if members, err = familyRecords(ctx, sc, deps); err != nil {
			return err
		}
		var ids []string
		for _, x := range members {
			if x.recordID != "" {
				ids = append(ids, x.recordID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		reps, err := reportsWhere(ctx, sc, 1000*len(ids), "rp.patient_id IN (?)", bun.In(ids))
		if err != nil {
			return err
		}
		for i := range members {
			var own []Report
			for _, r := range reps {
				if r.PatientID == members[i].recordID {
					own = append(own, r)
				}
			}
			members[i].Rows = m.rows(c.Tenant(), own)
		}
		return nil
	})
	return members, err
}

// familyFinder finds a report of one of the people the signed-in patient represents today,
// or kit.ErrNotFound — whether the report exists or not, as for any report not his.
func (m *Module) familyFinder(c *kit.Ctx) (finder, error) {
	deps, err := m.represented(c)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, sc *store.Scope, _ *sdk.User, id string) (*Report, error) {
		if len(deps) == 0 {
			return nil, kit.ErrNotFound
		}
		members, err := familyRecords(ctx, sc, deps)
		if err != nil {
			return nil, err
		}
		rep, err := report(ctx, sc, id)
		if err != nil {
			return nil, err
		}
		for _, x := range members {
			if x.recordID != "" && x.recordID == rep.PatientID {
				return rep, nil
			}
		}
		return nil, kit.ErrNotFound
	}, nil
}

// familyReport shows a represented person's report to his representative; each view is
// recorded, the representative as actor and the person as subject (R9).
func (m *Module) familyReport(c *kit.Ctx) error {
	find, err := m.familyFinder(c)
	if err != nil {
		return err
	}
	return m.showReport(c, audFamily, find)
}

// familyPDF sends a represented person's report PDF to his representative, recorded alike.
func (m *Module) familyPDF(c *kit.Ctx) error {
	find, err := m.familyFinder(c)
	if err != nil {
		return err
	}
	return m.sendPDF(c, find)
}

// seedFamilyDemo gives each minor the demo patient represents a report of her own, so that
// the demo shows his family's results (issue 12.9).
func (m *Module) seedFamilyDemo(ctx context.Context, t sdk.Tenant, patientID string, doctor IncomingPro) error {
	deps, err := sdk.HostFrom(ctx).Dependants(ctx, patientID)
	if err != nil {
		return err
	}
	f := func(x float64) *float64 { return &x }
	for i, d := range deps {
		if !d.Represented {
			continue
		}
		at := m.now().AddDate(0, 0, -10).Truncate(24 * time.Hour).Add(9 * time.Hour)
		in := &Incoming{ReportID: fmt.Sprintf("DEMO-R-F%03d", i+1), Prescriber: doctor, CollectedAt: at.Format(time.RFC3339),
			Patient: IncomingPatient{LabPatientID: fmt.Sprintf("DEMO-P-F%03d", i+1), LastName: d.LastName, FirstName: d.FirstName,
				BirthName: d.BirthName, BirthDate: d.BirthDate},
			Lab: t.Name, Status: "final", PDFName: "compte-rendu-" + at.Format("2006-01-02") + ".pdf",
			Values: []IncomingValue{
				{Code: "HB", Label: "Hémoglobine", Value: "12,8", Unit: "g/dL", Low: f(11.5), High: f(15.5), Flag: "N"},
				{Code: "FER", Label: "Ferritine", Value: "11", Unit: "µg/L", Low: f(15), High: f(120), Flag: "L"},
			}}
		if err := m.seedReport(ctx, t, in); err != nil {
			return err
		}
	}
	return nil
}
