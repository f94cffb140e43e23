package results

import (
	"context"
	"fmt"
	"strings"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// reportPDF writes a report as the lab's system would print it, in lang: the demo's reports
// and the tests' are real PDFs, printed as the module prints its own (the same words,
// numbers, flags and column widths), marked as made up.
func (m *Module) reportPDF(t sdk.Tenant, lang string, in *Incoming) ([]byte, error) {
	return m.printed(t, lang, incomingReport(in, tenantLoc(t)), true)
}

func f(x float64) *float64 { return &x }

// seedDemo gives the demo tenant's accounts something to see (--demo only): the demo user is
// a patient with four reports over five years (for the trends), the demo professional
// prescribed them, and a lab record "Marie DURAND, née MARTIN, 1985-03-02" waits for whoever
// registers with that identity. Reports have fixed ids: running it again adds nothing.
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) error {
	host := sdk.HostFrom(ctx)
	var patient, pro *sdk.User
	for _, a := range accounts {
		u, err := host.User(ctx, a.ID)
		if err != nil {
			return err
		}
		switch a.Role {
		case "user":
			patient = u
		case roleProfessional:
			pro = u
		}
	}
	if patient == nil || pro == nil {
		return nil
	}
	now := m.now()
	const proNumber = "10000000001"
	first, last, _ := strings.Cut(patient.Name, " ")
	if last == "" {
		last = first
	}
	me := IncomingPatient{LabPatientID: "DEMO-P-0001", LastName: last, FirstName: first, BirthName: last, BirthDate: patient.BirthDate}
	var lp *LabPatient
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		p := &Professional{TenantID: t.ID, UserID: pro.ID, Name: pro.Name, DeclaredNumber: proNumber, RegisterNumber: proNumber,
			Status: proActive, DecidedBy: "demo", CreatedAt: now}
		if _, err := sc.Insert(p).On("CONFLICT (tenant_id, user_id) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		a := &Account{TenantID: t.ID, UserID: patient.ID, State: stateNoRecord, Name: patient.Name, BirthName: last, BirthDate: patient.BirthDate,
			MatchKey: labKey(me.LastName, me.FirstName, me.BirthName, me.BirthDate), CreatedAt: now, UpdatedAt: now}
		if _, err := sc.Insert(a).On("CONFLICT (tenant_id, user_id) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		var err error
		lp, err = upsertLabPatient(ctx, sc, me, now)
		return err
	})
	if err != nil {
		return err
	}
	if lp.UserID == "" {
		if _, err := m.link(ctx, t, lp, patient.ID, "demo"); err != nil {
			return err
		}
	}
	marie := IncomingPatient{LabPatientID: "DEMO-P-0002", LastName: "Durand", FirstName: "Marie", BirthName: "Martin", BirthDate: "1985-03-02"}
	doctor := IncomingPro{RegisterNumber: proNumber, Name: pro.Name}
	// The lab's validating biologist, as a LIS names him (issue 12.6).
	biologist := &IncomingValidator{Name: "Dr Hélène Garnier", Qualification: "biologiste médicale"}
	glucose := []float64{5.1, 5.6, 6.2, 5.8}
	ldl := []float64{3.1, 3.6, 4.2, 3.4}
	// The oldest report is close to the end of its retention: its removal is announced.
	dates := []time.Time{now.AddDate(-5, 0, 20), now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now.AddDate(0, 0, -3)}
	for i := range glucose {
		at := dates[i].Truncate(24 * time.Hour).Add(8 * time.Hour)
		flag := "N"
		if glucose[i] > 6.0 {
			flag = "H"
		}
		ldlFlag := "N"
		if ldl[i] > 4.1 {
			ldlFlag = "H"
		}
		in := &Incoming{ReportID: fmt.Sprintf("DEMO-R-%04d", i+1), Patient: me, Prescriber: doctor, CollectedAt: at.Format(time.RFC3339),
			Lab: t.Name, Status: "final", PDFName: fmt.Sprintf("compte-rendu-%s.pdf", at.Format("2006-01-02")), ValidatedBy: biologist,
			Values: []IncomingValue{
				{Code: "GLU", Label: "Glycémie à jeun", Value: strings.ReplaceAll(fmt.Sprintf("%.1f", glucose[i]), ".", ","), Unit: "mmol/L", Low: f(3.9), High: f(6.1), Flag: flag},
				{Code: "LDL", Label: "Cholestérol LDL", Value: strings.ReplaceAll(fmt.Sprintf("%.1f", ldl[i]), ".", ","), Unit: "mmol/L", Low: f(0), High: f(4.1), Flag: ldlFlag},
				{Code: "HB", Label: "Hémoglobine", Value: "13,9", Unit: "g/dL", Low: f(12), High: f(16), Flag: "N"},
			}}
		if err := m.seedReport(ctx, t, in); err != nil {
			return err
		}
	}
	in := &Incoming{ReportID: "DEMO-R-0100", Patient: marie, Prescriber: doctor, CollectedAt: now.AddDate(0, 0, -1).Format(time.RFC3339),
		Lab: t.Name, Status: "final", PDFName: "compte-rendu-durand.pdf",
		Values: []IncomingValue{{Code: "FER", Label: "Ferritine", Value: "12", Unit: "µg/L", Low: f(15), High: f(150), Flag: "L"}}}
	if err := m.seedReport(ctx, t, in); err != nil {
		return err
	}
	return m.seedFamilyDemo(ctx, t, patient.ID, doctor) // family.go
}

func (m *Module) seedReport(ctx context.Context, t sdk.Tenant, in *Incoming) error {
	if _, err := m.reportByLabID(ctx, t, in.ReportID); err == nil {
		return nil
	}
	pdf, err := m.reportPDF(t, t.Locale, in)
	if err != nil {
		return err
	}
	in.PDF = pdf
	if errs := in.check(50<<20, m.now(), tenantLoc(t)); len(errs) > 0 {
		return fmt.Errorf("demo report %s: %v", in.ReportID, errs)
	}
	res, err := m.importReport(ctx, t, in, "demo")
	if err != nil {
		return err
	}
	// A demo report was published the day after its collection, as a real one would be.
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Report)(nil)).Set("published_at = ?", in.collected.Add(24*time.Hour)).Where("rp.id = ?", res.Report.ID).Exec(ctx)
		return err
	})
}
