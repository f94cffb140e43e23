package billing

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The demo of Les Secrétaires (issue 15 item 10): three plans and four options priced by a
// tariff in force for months, a new tariff announced for next month (one client refused it
// by registered letter), a dozen client doctors — the demo "user" among them — with a month
// of calls and SMS, messages taken, months of invoices issued by the module (paid by debit,
// cheque or transfer; two clients late, one of them formally notified 17 days ago), last
// month's billing run, this month's drafts waiting for the clerk, and a termination. Every
// date is relative to the module's clock, so the demo stays fresh. The invoices, runs,
// payments, notices and terminations are made by the module's own functions, on a copy of
// the module whose clock is set to the day they happened.

// demoPart: see billing.go. The demo adds no route, rule or job.
func (m *Module) demoPart() part { return part{} }

// demoClient is one client doctor of the demo.
type demoClient struct {
	Name, Cabinet, Street, Postcode, City, Phone string
	Plan                                         string
	Options                                      []string
	MonthsBack, Day                              int // the subscription started MonthsBack months ago on Day
	Method                                       string
	Locale                                       string
}

// demoClients: the first is the demo user's (his name is the account's).
var demoClients = []demoClient{
	{Name: "", Cabinet: "Cabinet médical du Parc", Street: "12 rue du Parc", Postcode: "69006", City: "Lyon", Phone: "+33478100001", Plan: "ESSENTIEL", Options: []string{"AGENDA", "TRANSMISSION"}, MonthsBack: 6, Method: payTransfer},
	{Name: "Dr Camille Lefèvre", Cabinet: "Cabinet de pédiatrie Lefèvre", Street: "4 place Bellecour", Postcode: "69002", City: "Lyon", Phone: "+33478100002", Plan: "CONFORT", Options: []string{"AGENDA", "RDV"}, MonthsBack: 8, Day: 29, Method: payDebit},
	{Name: "Dr Antoine Moreau", Cabinet: "Cabinet Moreau", Street: "27 boulevard Voltaire", Postcode: "75011", City: "Paris", Phone: "+33143100003", Plan: "INTEGRAL", Options: []string{"TRANSMISSION"}, MonthsBack: 7, Day: 30, Method: payTransfer},
	{Name: "Dr Sophie Bernard", Cabinet: "Cabinet de dermatologie Bernard", Street: "8 rue de la République", Postcode: "13001", City: "Marseille", Phone: "+33491100004", Plan: "ESSENTIEL", MonthsBack: 5, Day: 31, Method: payCheque},
	{Name: "Dr Nicolas Petit", Cabinet: "Maison de santé des Tilleuls", Street: "2 allée des Tilleuls", Postcode: "38000", City: "Grenoble", Phone: "+33476100005", Plan: "CONFORT", Options: []string{"AGENDA"}, MonthsBack: 6, Day: 3, Method: payTransfer},
	{Name: "Dr Julie Roux", Cabinet: "Cabinet de kinésithérapie Roux", Street: "15 quai Saint-Antoine", Postcode: "69002", City: "Lyon", Phone: "+33472100006", Plan: "ESSENTIEL", Options: []string{"RDV"}, MonthsBack: 4, Day: 17, Method: payCheque},
	{Name: "Dr Pierre Fournier", Cabinet: "Cabinet d'ophtalmologie Fournier", Street: "40 avenue Jean Médecin", Postcode: "06000", City: "Nice", Phone: "+33493100007", Plan: "INTEGRAL", Options: []string{"AGENDA", "TRANSMISSION", "RDV"}, MonthsBack: 8, Day: 9, Method: payTransfer},
	{Name: "Dr Claire Girard", Cabinet: "Cabinet Girard", Street: "6 rue Nationale", Postcode: "37000", City: "Tours", Phone: "+33147100008", Plan: "CONFORT", MonthsBack: 5, Day: 22, Method: payTransfer},
	{Name: "Dr Thomas Lambert", Cabinet: "Cabinet de cardiologie Lambert", Street: "18 cours Mirabeau", Postcode: "13100", City: "Aix-en-Provence", Phone: "+33442100009", Plan: "ESSENTIEL", Options: []string{"TRANSMISSION"}, MonthsBack: 7, Day: 14, Method: payCheque},
	{Name: "Dr Émilie Bonnet", Cabinet: "Cabinet de gynécologie Bonnet", Street: "3 rue Sainte-Catherine", Postcode: "33000", City: "Bordeaux", Phone: "+33156100010", Plan: "CONFORT", Options: []string{"RDV"}, MonthsBack: 6, Day: 25, Method: payTransfer},
	{Name: "Dr Marc Dupont", Cabinet: "Cabinet Dupont", Street: "9 rue de Metz", Postcode: "31000", City: "Toulouse", Phone: "+33461100011", Plan: "ESSENTIEL", MonthsBack: 3, Day: 6, Method: payCheque},
	{Name: "Dr Hélène Mercier", Cabinet: "Centre médical Mercier", Street: "21 avenue Foch", Postcode: "06400", City: "Cannes", Phone: "+33493100012", Plan: "INTEGRAL", Options: []string{"AGENDA"}, MonthsBack: 5, Day: 11, Method: payTransfer},
}

// The roles the demo gives its clients (indexes in demoClients).
const (
	demoLateNotice = 4  // late, formally notified 17 days ago: qualifies for suspension
	demoLate       = 7  // late, no notice yet
	demoRefusal    = 9  // refused the announced tariff by registered letter
	demoTerminated = 10 // terminated by registered letter; ends in the future
	demoAmended    = 2  // his specification has an amendment
)

// demoProducts: code, kind, name, description, calls, SMS, fee, call and SMS price.
var demoProducts = []struct {
	Code, Kind, Name, Desc string
	Calls, SMS             int
	Fee, Call, SMSPrice    int64
}{
	{"ESSENTIEL", kindPlan, "Essentiel", "Accueil téléphonique aux heures d'ouverture du cabinet, prise de messages.", 150, 50, 8900, 60, 15},
	{"CONFORT", kindPlan, "Confort", "Accueil téléphonique étendu, prise de messages et de rendez-vous.", 400, 150, 17900, 50, 12},
	{"INTEGRAL", kindPlan, "Intégral", "Accueil téléphonique de 8 h à 20 h en semaine et le samedi matin, sans restriction.", 1000, 400, 32900, 40, 10},
	{"AGENDA", kindOption, "Gestion de l'agenda partagé", "Le secrétariat tient votre agenda en ligne.", 0, 0, 2500, 0, 0},
	{"TRANSMISSION", kindOption, "Transmission des messages par e-mail", "Chaque message pris pour vous vous est aussi envoyé par e-mail, dès qu’il est pris.", 0, 0, 1000, 0, 0},
	{"RDV", kindOption, "Mise en place de la prise de rendez-vous en ligne", "Paramétrage et suivi de votre prise de rendez-vous en ligne.", 0, 0, 1500, 0, 0},
}

// at is the module with its clock at hour h of day d in the tenant's zone: what the module
// did on that day is made by the same functions, on that day.
func (m *Module) at(t sdk.Tenant, d Date, h int) *Module {
	when := d.In(zone(t)).Add(time.Duration(h) * time.Hour).UTC()
	return &Module{Module: m.Module, now: func() time.Time { return when }}
}

// siret completes the 13 digits of a SIRET with its Luhn key.
func siret(prefix string) string {
	for k := 0; k < 10; k++ {
		s := prefix + strconv.Itoa(k)
		if validSIRET(s) {
			return s
		}
	}
	return prefix + "0"
}

// seedDemo fills a French tenant that enabled the module, once: a tenant that already has a
// product or a subscription is left as it is.
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) error {
	if t.Country != "FR" {
		return nil
	}
	var user, clerk kit.DemoAccount
	for _, a := range accounts {
		switch a.Role {
		case "user":
			user = a
		case "billing.billing_clerk", "billing_clerk":
			clerk = a
		}
	}
	empty := false
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Product)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		k, err := sc.Select((*Subscription)(nil)).Count(ctx)
		empty = n == 0 && k == 0
		return err
	}); err != nil || !empty {
		return err
	}
	if err := m.demoSeed(ctx, t, user, clerk.ID); err != nil {
		return fmt.Errorf("billing demo: %w", err)
	}
	return nil
}

func (m *Module) demoSeed(ctx context.Context, t sdk.Tenant, user kit.DemoAccount, clerkID string) error {
	today := m.today(t)
	h := sdk.HostFrom(ctx)
	rnd := rand.New(rand.NewSource(int64(today.Y*400 + int(today.M)*31 + today.D)))
	prod := map[string]string{}
	// The catalog and the tariff in force since the first of the month nine months ago.
	tariff := Tariff{ID: newID(), Name: fmt.Sprintf("Tarif %d", today.AddMonthsClamped(-9).Y), EffectiveOn: Date{today.Y, today.M, 1}.AddMonthsClamped(-9),
		State: tariffInForce, CreatedBy: clerkID, CreatedAt: m.now()}
	tariff.AnnouncedAt.Time = m.now()
	subs := make([]*Subscription, len(demoClients))
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		tariff.TenantID = sc.TenantID
		if _, err := sc.Insert(&tariff).Exec(ctx); err != nil {
			return err
		}
		for i, p := range demoProducts {
			row := Product{TenantID: sc.TenantID, ID: newID(), Kind: p.Kind, Code: p.Code, Name: p.Name, Description: p.Desc, CallsIncluded: p.Calls, SMSIncluded: p.SMS, Position: i + 1}
			prod[p.Code] = row.ID
			if _, err := sc.Insert(&row).Exec(ctx); err != nil {
				return err
			}
			if _, err := sc.Insert(&Price{TenantID: sc.TenantID, TariffID: tariff.ID, ProductID: row.ID, MonthlyFeeMinor: p.Fee, CallMinor: p.Call, SMSMinor: p.SMSPrice}).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := sc.Insert(&FirstTariff{TenantID: sc.TenantID, TariffID: tariff.ID, PutBy: clerkID, PutAt: m.now()}).Exec(ctx)
		if err != nil {
			return err
		}
		// The clients, signed and active, each with his specification.
		for i, c := range demoClients {
			name, email, userID, locale := c.Name, "", "", "fr"
			start := today.AddMonthsClamped(-c.MonthsBack)
			if c.Day != 0 {
				// a month that has that day (a client who started on the 31st did)
				for daysIn(start.Y, start.M) < c.Day {
					start = Date{start.Y, start.M, 1}.AddMonthsClamped(-1)
				}
				start = Date{start.Y, start.M, c.Day}
			}
			if i == 0 {
				// The demo user: his current period began 25 days ago.
				name, email, userID = "Dr "+user.Name, user.Email, user.ID
				start = today.AddDays(-25).AddMonthsClamped(-c.MonthsBack)
			}
			if email == "" {
				email = fmt.Sprintf("cabinet%02d@secretaires.localhost", i+1)
			}
			legal := siret(fmt.Sprintf("%09d%04d", 412345600+i*1111, 10+i))
			signed := start.AddDays(-7).In(zone(t)).Add(11 * time.Hour)
			sub := &Subscription{TenantID: sc.TenantID, ID: newID(), Reference: newReference(referencePrefix.Of(t), start.Y), UserID: userID, State: subActive,
				ClientName: c.Cabinet, ContactName: name, Email: email, Locale: locale, LegalID: legal, VATID: "",
				Street: c.Street, Postcode: c.Postcode, City: c.City, Country: "FR", PhoneNumber: c.Phone, PlanID: prod[c.Plan],
				Hours: fullHours(t).String(), PaymentMethod: c.Method, OrderFormRef: fmt.Sprintf("BC-%d-%03d", start.Y, i+1),
				StartsOn: start, TermsVersion: "2026-01", CreatedBy: clerkID, CreatedAt: signed.UTC()}
			if c.Method == payDebit {
				sub.MandateRef = fmt.Sprintf("RUM-LS-%d-%04d", start.Y, i+1)
			}
			sub.SignedAt.Time, sub.TermsAcceptedAt.Time = signed.UTC(), signed.UTC()
			subs[i] = sub
			if _, err := sc.Insert(sub).Exec(ctx); err != nil {
				return err
			}
			for _, o := range c.Options {
				if _, err := sc.Insert(&SubscriptionOption{TenantID: sc.TenantID, SubscriptionID: sub.ID, ProductID: prod[o]}).Exec(ctx); err != nil {
					return err
				}
			}
			method := "paper"
			if i%2 == 0 {
				method = "online"
			}
			if _, err := sc.Insert(&Signature{TenantID: sc.TenantID, SubscriptionID: sub.ID, Method: method, SignedOn: start.AddDays(-7),
				TermsVersion: sub.TermsVersion, RecordedBy: clerkID, RecordedAt: signed.UTC()}).Exec(ctx); err != nil {
				return err
			}
			spec := Specification{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, Version: 1, Kind: "specification", EffectiveOn: start, CreatedBy: clerkID, CreatedAt: signed.UTC(),
				Body: fmt.Sprintf("Cahier des charges — %s, %s.\nAccueil au nom du cabinet : « %s, bonjour ». Urgences : orienter vers le 15. "+
					"Rendez-vous : consultations de 20 minutes, premières consultations de 40 minutes. Ne jamais donner de résultat d'examen par téléphone.", c.Cabinet, c.City, c.Cabinet)}
			if _, err := sc.Insert(&spec).Exec(ctx); err != nil {
				return err
			}
			if i == demoAmended {
				am := Specification{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, Version: 2, Kind: "amendment", EffectiveOn: start.AddMonthsClamped(2),
					CreatedBy: clerkID, CreatedAt: start.AddMonthsClamped(2).In(zone(t)).Add(10 * time.Hour).UTC(),
					Body: "Avenant n° 1 : le mercredi après-midi, les appels sont renvoyés vers le Dr Moreau à partir de 14 h ; les visites à domicile ne sont plus proposées."}
				if _, err := sc.Insert(&am).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return m.demoUsage(ctx, t, sc, subs, prod, rnd)
	})
	if err != nil {
		return err
	}
	return m.demoInvoices(ctx, t, h, subs, clerkID, rnd)
}

// demoUsage is the telephony platform's last month for every client: a few hundred calls and
// SMS in the answering hours (the demo user beyond his allowance in his current period) and
// messages taken for a few.
func (m *Module) demoUsage(ctx context.Context, t sdk.Tenant, sc *store.Scope, subs []*Subscription, prod map[string]string, rnd *rand.Rand) error {
	now, loc, today := m.now(), zone(t), m.today(t)
	byID := map[string]*Subscription{}
	for _, sub := range subs {
		byID[sub.ID] = sub
	}
	for i, sub := range subs {
		from, calls, sms := today.AddDays(-30), 120+rnd.Intn(300), 30+rnd.Intn(120)
		if i == 0 {
			_, from, _ = periodAt(sub.StartsOn, today)
			calls, sms = 150+45, 50+18 // beyond the Essentiel allowance (150 calls, 50 SMS)
		}
		if from.Before(sub.StartsOn) {
			from = sub.StartsOn // no call before the contract
		}
		days := daysBetween(from, today) + 1
		var rows []Usage
		for n := 0; n < calls+sms; n++ {
			var at time.Time
			for tries := 0; tries < 50; tries++ {
				d := from.AddDays(rnd.Intn(days))
				at = d.In(loc).Add(time.Duration(8*60+rnd.Intn(12*60)) * time.Minute)
				if wd := at.Weekday(); wd != time.Sunday && (wd != time.Saturday || at.Hour() < 13) && at.Before(now) {
					break
				}
			}
			if !at.Before(now) {
				at = now.Add(-time.Duration(n+1) * time.Minute)
			}
			u := Usage{TenantID: sc.TenantID, EventID: fmt.Sprintf("demo-%s-%04d", sub.Reference, n), SubscriptionID: sub.ID, Kind: usageCall,
				OccurredAt: at.UTC(), DurationS: 30 + rnd.Intn(300), ReceivedAt: at.UTC().Add(2 * time.Second)}
			if n >= calls {
				u.Kind, u.DurationS = usageSMS, 0
			}
			rows = append(rows, u)
		}
		if err := storeNewUsage(ctx, sc, t, byID, rows); err != nil {
			return err
		}
	}
	// Messages the secretariat took for the demo user and three others.
	texts := []struct{ Caller, Phone, Body string }{
		{"Mme Durand", "+33612345678", "Souhaite décaler son rendez-vous de jeudi à la semaine prochaine."},
		{"M. Garnier", "+33623456789", "Demande le renouvellement de son ordonnance ; rappeler avant 18 h."},
		{"Laboratoire Biomed", "+33478123456", "Résultats de M. Faure disponibles sur le serveur du laboratoire."},
		{"Mme Chevalier", "+33634567890", "Fièvre persistante chez son fils depuis trois jours, demande un rendez-vous rapide."},
		{"Pharmacie du Centre", "+33478654321", "Question sur la posologie d'une prescription d'hier."},
		{"M. Roussel", "+33645678901", "Annule son rendez-vous de lundi 9 h 20."},
	}
	for _, i := range []int{0, 2, 6, 8} {
		sub := subs[i]
		forward := false
		for _, o := range demoClients[i].Options {
			forward = forward || o == "TRANSMISSION"
		}
		for n, tx := range texts[:3+i%4] {
			at := today.AddDays(-1 - n*3).In(loc).Add(time.Duration(9*60+rnd.Intn(8*60)) * time.Minute)
			msg := TakenMessage{TenantID: sc.TenantID, EventID: fmt.Sprintf("demo-msg-%s-%d", sub.Reference, n), SubscriptionID: sub.ID, TakenAt: at.UTC(),
				CallerName: tx.Caller, CallerPhone: tx.Phone, Body: tx.Body, Urgent: n == 3, ReceivedAt: at.UTC()}
			if forward {
				msg.ForwardedAt.Time = at.UTC().Add(time.Minute)
			}
			if _, err := sc.Insert(&msg).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoInvoices makes the clients' invoices as the module did month by month: the periods
// before last month invoiced on their first day and paid (by each client's method), last
// month's by a billing run, this month's kept as drafts for the clerk (the review rule).
// Two clients left their last two invoices unpaid; one of them got a formal notice 17 days
// ago. Then the new tariff is announced, one client refuses it, another terminates.
func (m *Module) demoInvoices(ctx context.Context, t sdk.Tenant, h *sdk.Host, subs []*Subscription, clerkID string, rnd *rand.Rand) error {
	today := m.today(t)
	window := today.AddMonthsClamped(-1) // periods after it are this month's
	runOn := window
	// In the order of their days, so that the numbers follow the days (B5: one sequence).
	type due struct {
		sub   *Subscription
		start Date
	}
	var past []due
	for _, sub := range subs {
		for k := 0; ; k++ {
			ps := periodStart(sub.StartsOn, k)
			if ps.After(runOn.AddMonthsClamped(-1)) {
				break
			}
			past = append(past, due{sub, ps})
		}
	}
	sort.SliceStable(past, func(i, j int) bool { return past[i].start.Before(past[j].start) })
	for _, d := range past {
		pm := m.at(t, d.start, 7)
		if err := pm.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			inv, err := pm.invoicePeriod(ctx, t, sc, d.sub, d.start)
			if err == nil && inv.State == invDraft {
				err = pm.issue(ctx, t, sc, inv, d.start)
			}
			return err
		}); err != nil {
			return fmt.Errorf("invoice of %s: %w", d.start, err)
		}
	}
	// Last month's run, by the clerk; its drafts issued the same day.
	rm := m.at(t, runOn, 8)
	run, err := rm.startRun(ctx, t, runOn, clerkID)
	if err != nil {
		return err
	}
	if err := rm.workRun(ctx, t, run.ID, "demo"); err != nil {
		return err
	}
	if err := rm.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var drafts []Invoice
		if err := sc.Select(&drafts).Where("inv.run_id = ? AND inv.state = ?", run.ID, invDraft).OrderExpr("inv.period_start, inv.id").Scan(ctx); err != nil {
			return err
		}
		for i := range drafts {
			if err := rm.issue(ctx, t, sc, &drafts[i], runOn); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// Payments: everything issued is paid, but the demo user's last invoice and the last two
	// of the two late clients.
	for i, sub := range subs {
		unpaid := 0
		switch i {
		case 0:
			unpaid = 1
		case demoLateNotice, demoLate:
			unpaid = 2
		}
		var invs []Invoice
		if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&invs).Where("inv.subscription_id = ? AND inv.kind = ? AND inv.state = ?", sub.ID, invInvoice, invIssued).OrderExpr("inv.period_start").Scan(ctx)
		}); err != nil {
			return err
		}
		for n, inv := range invs[:max(0, len(invs)-unpaid)] {
			on := inv.DueOn.AddDays(-rnd.Intn(4))
			if on.Before(inv.IssuedOn) {
				on = inv.IssuedOn
			}
			ref := map[string]string{payDebit: "Prélèvement SEPA " + sub.MandateRef, payCheque: fmt.Sprintf("Chèque n° %07d", 3141500+i*100+n),
				payTransfer: "Virement " + deref(inv.Number)}[sub.PaymentMethod]
			pm := m.at(t, on, 10)
			if err := pm.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				_, err := pm.recordPayment(ctx, t, sc, paymentIn{InvoiceID: inv.ID, Method: sub.PaymentMethod, Amount: inv.TotalMinor, On: on, Reference: ref, By: clerkID})
				return err
			}); err != nil {
				return fmt.Errorf("payment of %s: %w", deref(inv.Number), err)
			}
		}
	}
	// The formal notice, 17 days ago.
	if h != nil {
		nm := m.at(t, today.AddDays(-17), 9)
		var ls *lateSub
		if err := nm.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			var err error
			ls, err = nm.lateOf(ctx, t, sc, subs[demoLateNotice].ID)
			return err
		}); err != nil {
			return err
		}
		if ls != nil {
			if _, err := nm.sendNotice(ctx, t, ls, clerkID); err != nil {
				return fmt.Errorf("formal notice: %w", err)
			}
		}
	}
	// This month's periods: this morning's daily run made them drafts waiting for the clerk
	// (or issued them, without the review rule), so that he issues them all from the run.
	dm := m.at(t, today, 6)
	daily, err := dm.startRun(ctx, t, today, "")
	if err != nil {
		return err
	}
	if err := dm.workRun(ctx, t, daily.ID, "demo"); err != nil {
		return fmt.Errorf("this month's drafts: %w", err)
	}
	return m.demoContract(ctx, t, h, subs, clerkID)
}

// demoContract announces the new tariff three days ago (its notices sent), records one
// client's refusal by registered letter yesterday and another's termination letter received
// ten days ago.
func (m *Module) demoContract(ctx context.Context, t sdk.Tenant, h *sdk.Host, subs []*Subscription, clerkID string) error {
	today := m.today(t)
	day := today.AddDays(-3)
	am := m.at(t, day, 9)
	effective := day.AddMonthsClamped(int(tariffNoticeMonths.Of(t)))
	tar := Tariff{ID: newID(), Name: fmt.Sprintf("Tarif %s %d", monthNameFR[effective.M-1], effective.Y), EffectiveOn: effective, State: tariffAnnounced,
		CreatedBy: clerkID, CreatedAt: am.now().Add(-48 * time.Hour)}
	tar.AnnouncedAt.Time = am.now()
	var notices []pendingNotice
	if err := am.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		tar.TenantID = sc.TenantID
		var old []Price
		if err := sc.Select(&old).Scan(ctx); err != nil {
			return err
		}
		if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
			return err
		}
		for _, p := range old {
			// about 4 % more, to the ten cents
			p.TariffID = tar.ID
			p.MonthlyFeeMinor = (p.MonthlyFeeMinor*104/100 + 5) / 10 * 10
			if _, err := sc.Insert(&p).Exec(ctx); err != nil {
				return err
			}
		}
		var err error
		notices, err = am.noticeAll(ctx, t, sc, &tar, day)
		return err
	}); err != nil {
		return err
	}
	if h != nil {
		am.sendNotices(ctx, h, t, tar.ID, notices)
	}
	// The refusal, posted yesterday: the rule says what follows (B4).
	posted := today.AddDays(-1)
	ref := subs[demoRefusal]
	var ended Date
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		outcome := tariffRefusalOutcome.Of(t)
		ends := posted.AddMonthsClamped(int(terminationNoticeMonths.Of(t)))
		if outcome == refusalTerminate {
			ends = tar.EffectiveOn
		}
		letter := "1A 203 456 7891 2"
		r := TariffRefusal{TenantID: sc.TenantID, ID: newID(), SubscriptionID: ref.ID, TariffID: tar.ID, PostedOn: posted, Reference: letter,
			Outcome: outcome, EndsOn: ends, CreatedBy: clerkID, CreatedAt: m.now()}
		if _, err := sc.Insert(&r).Exec(ctx); err != nil {
			return err
		}
		ended = ends
		_, err := m.fixEnd(ctx, sc, ref, &Termination{Reason: reasonRefusal, SentOn: posted, Reference: letter, EndsOn: ends}, clerkID, true)
		return err
	}); err != nil {
		return err
	}
	// The termination letter, sent twelve days ago and received ten days ago.
	term := subs[demoTerminated]
	received := today.AddDays(-10)
	tm := m.at(t, received, 10)
	var ends Date
	if err := tm.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		ends = terminationEnd(t, received)
		_, err := tm.fixEnd(ctx, sc, term, &Termination{Reason: reasonClient, SentOn: today.AddDays(-12), ReceivedOn: received,
			Reference: "1A 198 765 4321 0", EndsOn: ends}, clerkID, false)
		return err
	}); err != nil {
		return err
	}
	if h != nil {
		m.tellEnd(ctx, h, t, ref, reasonRefusal, ended)
		tm.tellEnd(ctx, h, t, term, reasonClient, ends)
	}
	return nil
}

// monthNameFR names a tariff after the month it takes effect (the tariff's name is the
// firm's own words, like its products').
var monthNameFR = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
