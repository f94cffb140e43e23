package calendar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// demoDoctor is a doctor of the demonstration directory.
type demoDoctor struct {
	first, last, title string
	specs              []string
	city               int // index in the tenant's demo cities
	langs              string
	competences        string
}

// demoCity is a facility of the demonstration directory.
type demoCity struct{ facility, address, postal, city, phone, hours string }

var demoPL = struct {
	cities  []demoCity
	doctors []demoDoctor
	service [2]string
}{
	cities: []demoCity{
		{"Centrum Medyczne Śródmieście", "ul. Marszałkowska 84", "00-514", "Warszawa", "+48 22 123 45 67", "pon.–pt. 8:00–20:00, sob. 9:00–14:00"},
		{"Przychodnia Pod Wawelem", "ul. Grodzka 40", "31-044", "Kraków", "+48 12 234 56 78", "pon.–pt. 7:30–19:00"},
		{"Poradnia Piotrkowska", "ul. Piotrkowska 120", "90-006", "Łódź", "+48 42 345 67 89", "pon.–pt. 8:00–18:00"},
		{"Gabinety Rynek", "Rynek 15", "50-101", "Wrocław", "+48 71 456 78 90", "pon.–pt. 8:00–19:00"},
		{"Centrum Zdrowia Oliwa", "ul. Grunwaldzka 500", "80-309", "Gdańsk", "+48 58 567 89 01", "pon.–pt. 8:00–18:00"},
	},
	doctors: []demoDoctor{
		{"Anna", "Kowalska", "dr n. med.", []string{"cardiology"}, 0, "pl,en", "echokardiografia, nadciśnienie tętnicze"},
		{"Piotr", "Nowak", "lek.", []string{"family_medicine"}, 0, "pl", "choroby przewlekłe, szczepienia dorosłych"},
		{"Katarzyna", "Wiśniewska", "dr n. med.", []string{"dermatology"}, 1, "pl,en,de", "dermatoskopia, leczenie trądziku"},
		{"Tomasz", "Wójcik", "lek.", []string{"orthopedics"}, 1, "pl", "urazy sportowe, kolano"},
		{"Magdalena", "Kamińska", "lek.", []string{"pediatrics"}, 2, "pl,en", "alergie u dzieci, bilanse"},
		{"Michał", "Lewandowski", "dr hab. n. med.", []string{"neurology"}, 2, "pl", "migrena, padaczka"},
		{"Agnieszka", "Zielińska", "lek.", []string{"gynecology"}, 3, "pl,en", "prowadzenie ciąży, USG"},
		{"Krzysztof", "Szymański", "lek.", []string{"ophthalmology"}, 3, "pl,uk", "zaćma, dobór okularów"},
		{"Joanna", "Woźniak", "lek. dent.", []string{"dentistry"}, 4, "pl,en", "leczenie kanałowe, profilaktyka"},
		{"Paweł", "Dąbrowski", "dr n. med.", []string{"psychiatry"}, 4, "pl,en", "depresja, zaburzenia lękowe"},
		{"Ewa", "Kozłowska", "lek.", []string{"endocrinology", "family_medicine"}, 0, "pl", "tarczyca, cukrzyca typu 2"},
		{"Marek", "Jankowski", "lek.", []string{"otolaryngology"}, 1, "pl,de", "zatoki, zaburzenia słuchu"},
	},
	service: [2]string{"Konsultacja", "Wizyta kontrolna"},
}

var demoFR = struct {
	cities  []demoCity
	doctors []demoDoctor
	service [2]string
}{
	cities: []demoCity{
		{"Cabinet médical Bellecour", "12 place Bellecour", "69002", "Lyon", "+33 4 78 00 00 01", "lun.–ven. 8 h–19 h"},
		{"Maison de santé Saint-Michel", "5 boulevard Saint-Michel", "75005", "Paris", "+33 1 40 00 00 02", "lun.–sam. 8 h–20 h"},
	},
	doctors: []demoDoctor{
		{"Claire", "Martin", "Dr", []string{"family_medicine"}, 0, "fr,en", "suivi des maladies chroniques"},
		{"Julien", "Bernard", "Dr", []string{"cardiology"}, 1, "fr", "hypertension, rythmologie"},
		{"Sophie", "Lefèvre", "Dr", []string{"dermatology"}, 1, "fr,en", "dermatoscopie, acné"},
		{"Hélène", "Moreau", "Dr", []string{"pediatrics"}, 0, "fr", "nourrissons, vaccination"},
	},
	service: [2]string{"Consultation", "Consultation de suivi"},
}

// seedDemo gives a demonstration tenant a small but real directory (issue 13.11): Polish
// doctors in several cities for a Polish tenant, a few French ones otherwise, each with two
// services and weekday windows; the demo doctor account is the first doctor's. Seeding
// twice adds nothing.
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) (err error) {
	data := demoFR
	if t.Country == "PL" {
		data = demoPL
	}
	doctorUser, patientUser, facilityUser := "", "", ""
	for _, a := range accounts {
		switch a.Role {
		case "doctor":
			doctorUser = a.ID
		case "facility":
			facilityUser = a.ID
		case "user":
			patientUser = a.ID
		}
	}
	var seeded int64
	err = m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var err error
		seeded, err = sc.Select((*Doctor)(nil)).Where("dr.owner_kind = ?", ownerImport).Where("dr.owner_ref LIKE 'demo-%'").Count(ctx)
		return err
	})
	if err != nil || seeded > 0 {
		return err
	}
	var first *Doctor
	defer func() {
		if err == nil && first != nil && patientUser != "" {
			err = m.demoVisits(ctx, t, first, patientUser)
		}
		if err == nil && first != nil {
			err = m.demoAgenda(ctx, t, first, facilityUser)
		}
		if err == nil && first != nil {
			err = m.demoAwaiting(ctx, t, first)
		}
	}()
	facilities := make([]*Facility, len(data.cities))
	for i, c := range data.cities {
		facilities[i] = &Facility{Name: c.facility, Address: c.address, PostalCode: c.postal, City: c.city, Phone: c.phone,
			OpeningHours: c.hours, OwnerKind: ownerImport, OwnerRef: fmt.Sprintf("demo-f%d", i)}
		if p, ok := cityPoint(t.Country, c.city); ok { // on the map, at its city's point (C1)
			facilities[i].Latitude, facilities[i].Longitude = &p.Lat, &p.Lon
		}
		if err := m.saveFacility(ctx, t, facilities[i]); err != nil {
			return err
		}
	}
	for i, dd := range data.doctors {
		d := &Doctor{Title: dd.title, FirstName: dd.first, LastName: dd.last, LicenceNumber: fmt.Sprintf("%07d", 1000001+i*37),
			Competences: dd.competences, Languages: dd.langs, Bookable: i%6 != 5, OnlineCalendar: true,
			OwnerKind: ownerImport, OwnerRef: fmt.Sprintf("demo-%d", i)}
		if i == 0 {
			d.UserID, first = doctorUser, d
		}
		fa := facilities[dd.city]
		if err := m.saveDoctor(ctx, t, d, dd.specs, []string{fa.ID}); err != nil {
			return err
		}
		for k, minutes := range []int{30, 20} {
			price := int64(25000 - k*10000 + i*500)
			if t.Currency != "PLN" {
				price = int64(6000 - k*2000)
			}
			if err := m.saveService(ctx, t, &Service{DoctorID: d.ID, FacilityID: fa.ID, Name: data.service[k], Specialty: dd.specs[0],
				DurationMinutes: minutes, PriceMinor: price, VATIncluded: true, Active: true}); err != nil {
				return err
			}
		}
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			for day := 1; day <= 5; day++ {
				w := &Window{TenantID: t.ID, ID: newID(), DoctorID: d.ID, FacilityID: fa.ID, Weekday: day,
					StartMinute: 8*60 + (i%3)*60, EndMinute: 14*60 + (i%3)*60}
				if _, err := sc.Insert(w).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// demoVisits gives the demo patient a visit to come and a past one with the first doctor
// (issue 13.11).
func (m *Module) demoVisits(ctx context.Context, t sdk.Tenant, d *Doctor, userID string) error {
	u, err := sdk.HostFrom(ctx).User(ctx, userID)
	if err != nil {
		return err
	}
	var svc Service
	err = m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&svc).Where("sv.doctor_id = ?", d.ID).Order("sv.duration_minutes DESC").Limit(1).Scan(ctx)
	})
	if err != nil {
		return err
	}
	loc := tenantZone(t)
	now := m.now().In(loc)
	first, last := accountNames(u)
	for k, days := range []int{3, -10} {
		day := time.Date(now.Year(), now.Month(), now.Day(), 10, 0, 0, 0, loc).AddDate(0, 0, days)
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		b := &Booking{DoctorID: d.ID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
			PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: day, EndsAt: day.Add(time.Duration(svc.DurationMinutes) * time.Minute),
			Status: statusConfirmed, PatientFirstName: first, PatientLastName: last, PESEL: demoNumber(t, 0), Email: u.Email,
			Mobile: demoMobile(t, 0), UserID: u.ID, BookedBy: u.ID, Consents: consentDoctorController, CreatedAt: m.now()}
		if k == 1 {
			b.Status = statusCompleted
		}
		if err := m.reserve(ctx, t, b); err != nil {
			return err
		}
	}
	return nil
}

// demoAwaiting gives the first doctor's agenda, this week, a visit booked without an
// account that still awaits its confirmation (C6, issue 13.11), so that the state shows. No
// message goes and no link exists: the hold lasts until the visit starts, when the sweep
// expires it like any hold not confirmed.
func (m *Module) demoAwaiting(ctx context.Context, t sdk.Tenant, d *Doctor) error {
	var svc Service
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&svc).Where("sv.doctor_id = ?", d.ID).Order("sv.duration_minutes").Limit(1).Scan(ctx)
	})
	if err != nil {
		return err
	}
	at := demoThisWeek(m.now(), tenantZone(t))
	first, last, email := "Marta", "Sobczak", "marta.sobczak@example.org"
	if t.Country != "PL" {
		first, last, email = "Louise", "Garnier", "louise.garnier@example.org"
	}
	b := &Booking{DoctorID: d.ID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
		PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: at, EndsAt: at.Add(time.Duration(svc.DurationMinutes) * time.Minute),
		Status: statusAwaiting, PatientFirstName: first, PatientLastName: last, PESEL: demoNumber(t, 1), Email: email,
		Mobile: demoMobile(t, 1), Consents: consentTerms + "," + consentDoctorController, CreatedAt: m.now()}
	b.HoldExpiresAt.Time = at
	if err := m.reserve(ctx, t, b); err != nil && !errors.Is(err, errSlotTaken) {
		return err
	}
	return nil
}

// demoThisWeek is 12:00 on the first weekday from now's day to the week's Friday whose noon
// is still to come, in loc; at the end of the week, the next whole hour of the week.
func demoThisWeek(now time.Time, loc *time.Location) time.Time {
	now = now.In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, loc)
	for d := day; d.Weekday() != time.Saturday && d.Weekday() != time.Sunday; d = d.AddDate(0, 0, 1) {
		if d.After(now) {
			return d
		}
	}
	at := now.Truncate(time.Hour).Add(time.Hour)
	if at.Weekday() == time.Monday && now.Weekday() == time.Sunday { // no hour left this week
		at = now.Add(5 * time.Minute)
	}
	return at
}

// demoNumber is the national number of the demo's i-th patient in the tenant's country (a
// PESEL, a NIR, a rodné číslo: each valid), demoMobile his mobile there.
func demoNumber(t sdk.Tenant, i int) string {
	by := map[string][2]string{"PL": {"85030212344", "92071314762"}, "FR": {"185057500612336", "269054958815780"},
		"SK": {"8551011238", "0451016786"}}
	return by[t.Country][i]
}

func demoMobile(t sdk.Tenant, i int) string {
	by := map[string][2]string{"FR": {"+33612345678", "+33612345679"}, "SK": {"+421901234567", "+421901234568"}}
	if m, ok := by[t.Country]; ok {
		return m[i]
	}
	return [2]string{"+48601234567", "+48601234569"}[i]
}
