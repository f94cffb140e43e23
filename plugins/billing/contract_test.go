package billing

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// TestB7ContractYears: contract years run from each anniversary of the start, clamped like
// periods and each computed from the start.
func TestB7ContractYears(t *testing.T) {
	for _, c := range []struct{ start, day, first, last Date }{
		{d(2025, 3, 31), d(2025, 3, 31), d(2025, 3, 31), d(2026, 3, 30)},
		{d(2025, 3, 31), d(2026, 3, 30), d(2025, 3, 31), d(2026, 3, 30)},
		{d(2025, 3, 31), d(2026, 3, 31), d(2026, 3, 31), d(2027, 3, 30)},
		{d(2025, 3, 31), d(2027, 1, 10), d(2026, 3, 31), d(2027, 3, 30)},
		{d(2024, 2, 29), d(2025, 2, 27), d(2024, 2, 29), d(2025, 2, 27)},
		{d(2024, 2, 29), d(2025, 2, 28), d(2025, 2, 28), d(2026, 2, 27)},
		{d(2024, 2, 29), d(2028, 2, 29), d(2028, 2, 29), d(2029, 2, 27)},
		{d(2024, 2, 29), d(2028, 2, 28), d(2027, 2, 28), d(2028, 2, 28)},
	} {
		first, last := contractYear(c.start, c.day)
		if first != c.first || last != c.last {
			t.Errorf("started %v, day %v: %v–%v, want %v–%v", c.start, c.day, first, last, c.first, c.last)
		}
	}
}

var invoiceSeq atomic.Int64

// pay stores an issued invoice of sub for the period starting on period and a payment of
// amount received on day.
func (f *fixture) pay(ten sdk.Tenant, sub *Subscription, period Date, amount int64, day Date) {
	f.t.Helper()
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		num, year, seq := "F-"+newID()[:8], period.Y, invoiceSeq.Add(1)
		inv := &Invoice{TenantID: ten.ID, ID: newID(), Kind: invInvoice, SubscriptionID: sub.ID, State: invPaid, Number: &num, Year: &year, Seq: &seq,
			PeriodStart: period, PeriodEnd: period.AddMonthsClamped(1).AddDays(-1), IssuedOn: period, DueOn: period, Currency: "EUR", Locale: "fr",
			TotalMinor: amount, PaidMinor: amount, PaidOn: day, CreatedAt: f.now}
		if _, err := sc.Insert(inv).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(&Payment{TenantID: ten.ID, ID: newID(), InvoiceID: inv.ID, Method: payTransfer, AmountMinor: amount, ReceivedOn: day, CreatedAt: f.now}).Exec(ctx)
		return err
	})
}

// TestB7CapSumsPaymentsOfTheIncidentYear: the cap for an incident is the sum of the payments
// received in the contract year of the incident on the client's invoices: a payment on the
// year's first and last days counts, one the day before or after does not, nor another
// client's. The clerk's page shows it for the incident day asked, with the year's bounds in
// words; the client's page for the current year. An incident before the contract began gets
// no year and no cap but the sentence that there was no contract then. A day that is no day is
// refused next to its field.
func TestB7CapSumsPaymentsOfTheIncidentYear(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2025, 3, 31), "+33100000001")
		other := f.subscribe(f.A, clientPL, cat.Products["ESSENTIEL"], d(2025, 3, 31), "+33100000002")
		f.pay(f.A, sub, d(2025, 2, 28), 100000, d(2025, 3, 30)) // before the first year
		f.pay(f.A, sub, d(2025, 3, 31), 10680, d(2025, 3, 31))  // the first day
		f.pay(f.A, sub, d(2025, 4, 30), 10680, d(2025, 6, 2))
		f.pay(f.A, sub, d(2026, 2, 28), 10680, d(2026, 3, 30)) // the last day
		f.pay(f.A, sub, d(2026, 3, 31), 12000, d(2026, 3, 31)) // the second year's first day
		f.pay(f.A, sub, d(2026, 10, 31), 12000, d(2026, 11, 5))
		f.pay(f.A, other, d(2025, 4, 30), 50000, d(2025, 5, 5))
		cases := []struct {
			incident    Date
			want        int64
			first, last Date
		}{
			{d(2025, 6, 1), 32040, d(2025, 3, 31), d(2026, 3, 30)},
			{d(2026, 3, 30), 32040, d(2025, 3, 31), d(2026, 3, 30)},
			{d(2026, 3, 31), 24000, d(2026, 3, 31), d(2027, 3, 30)},
		}
		for _, c := range cases {
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				got, first, last, err := liabilityCap(ctx, sc, sub, c.incident)
				if err != nil {
					return err
				}
				if got != c.want || first != c.first || last != c.last {
					t.Errorf("incident %v: %d (%v–%v), want %d (%v–%v)", c.incident, got, first, last, c.want, c.first, c.last)
				}
				return nil
			})
		}
		page := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract?incident=2025-06-01", nil)
		body := strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		if page.Status != 200 || !strings.Contains(body, "Incident du 01/06/2025 : année contractuelle du 31/03/2025 au 30/03/2026, plafond de 320,40 €") {
			t.Errorf("clerk's page: %d %s", page.Status, body)
		}
		noKeys(t, body)
		page = f.send(f.A, client, "GET", "/billing/contract", nil)
		body = strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		if page.Status != 200 || !strings.Contains(body, "du 31/03/2026 au 30/03/2027 : 240,00 €") {
			t.Errorf("client's page: %d %s", page.Status, body)
		}
		// An incident before the contract began is under no contract: no year, no cap (B7).
		page = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract?incident=2025-03-30", nil)
		body = strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		if page.Status != 200 || !strings.Contains(body, "Incident du 30/03/2025 : le contrat n’avait pas encore commencé (il court depuis le 31/03/2025)") ||
			strings.Contains(body, "plafond de ") {
			t.Errorf("incident before the contract: %d %s", page.Status, body)
		}
		page = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract?incident=2025-02-30", nil)
		if page.Status != 422 || !strings.Contains(string(page.Body), `id="e-incident"`) || !strings.Contains(string(page.Body), "Indiquez une date valide.") {
			t.Errorf("a day that does not exist: %d %s", page.Status, page.Body)
		}
	})
}

// TestContractPagesInEachLanguage: the client's and the clerk's contract pages answer in
// French, Polish and Slovak with no message id on them; a client without a contract is told
// so; another tenant's clerk cannot reach the page.
func TestContractPagesInEachLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		f.announced(cat)
		words := map[string][2]string{"fr": {"par lettre recommandée avec accusé de réception, avec un préavis de 3 mois", "Plafond de responsabilité"},
			"pl": {"listem poleconym za potwierdzeniem odbioru, z zachowaniem 3 miesięcy wypowiedzenia", "Limit odpowiedzialności"},
			"sk": {"doporučeným listom s doručenkou s výpovednou lehotou 3 mesiace", "Hranica zodpovednosti"}}
		for lang, w := range words {
			ten := f.A
			ten.Locale = lang
			for _, u := range []*sdkUser{{client, "/billing/contract"}, {clerk, "/billing/manage/subscriptions/" + sub.ID + "/contract"}} {
				res := f.send(ten, u.u, "GET", u.path, nil)
				body := string(res.Body)
				if res.Status != 200 || !strings.Contains(body, w[0]) || !strings.Contains(body, w[1]) {
					t.Errorf("%s %s: %d %s", lang, u.path, res.Status, body)
				}
				noKeys(t, body)
			}
		}
		res := f.send(f.A, clientSK, "GET", "/billing/contract", nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), "Vous n’avez pas encore de contrat.") {
			t.Errorf("no contract: %d %s", res.Status, res.Body)
		}
		if res := f.send(f.B, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract", nil); res.Status != 404 {
			t.Errorf("tenant B: %d", res.Status)
		}
	})
}

type sdkUser struct {
	u    *sdk.User
	path string
}

// TestContractTablesAreScoped: the contract part's tables are tenant tables, reached only
// through a tenant scope (the frame's check, for the part's own models).
func TestContractTablesAreScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		kittest.CheckScoped(t, f.m.Module, (*TariffNotice)(nil), (*TariffRefusal)(nil), (*Termination)(nil))
	})
}

// TestContractExport: a client's data export holds his tariff notices and terminations, not
// another client's (P11).
func TestContractExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		other := f.subscribe(f.A, clientPL, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000002")
		f.announced(cat)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return f.m.endSubscription(ctx, f.A, sc, other, d(2027, 1, 31), "termination.reason.unpaid")
		})
		out, err := f.h.Export(context.Background(), f.A, client.ID)
		if err != nil {
			t.Fatal(err)
		}
		s := string(out)
		if !strings.Contains(s, `"billing_tariff_notices":[{`) || !strings.Contains(s, sub.ID) || strings.Contains(s, other.ID) || !strings.Contains(s, `"billing_terminations":[]`) {
			t.Errorf("export: %s", s)
		}
	})
}

// TestB7NoCapAfterTheContractEnded: an incident on the contract's end day or later is under no
// contract: the clerk's page says the contract had ended that day, with no year and no cap; the
// day before the end is still in the last contract year, with its cap (both ends, B7).
func TestB7NoCapAfterTheContractEnded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2025, 3, 31), "+33100000001")
		f.pay(f.A, sub, d(2026, 4, 30), 12000, d(2026, 5, 5))
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("ends_on = ?", "2026-11-26").Where("id = ?", sub.ID).Exec(ctx)
			return err
		})
		page := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract?incident=2026-11-25", nil)
		body := strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		if page.Status != 200 || !strings.Contains(body, "Incident du 25/11/2026 : année contractuelle du 31/03/2026 au 30/03/2027, plafond de 120,00 €") {
			t.Errorf("the contract's last day: %d %s", page.Status, body)
		}
		for _, day := range []string{"2026-11-26", "2027-06-01"} {
			page = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract?incident="+day, nil)
			body = strings.ReplaceAll(string(page.Body), "\u00a0", " ")
			if page.Status != 200 || !strings.Contains(body, "le contrat avait pris fin le 26/11/2026 ; il n’y avait plus de contrat à cette date") ||
				strings.Contains(body, "plafond de ") || strings.Contains(body, "année contractuelle du") {
				t.Errorf("incident on %s after the end: %d %s", day, page.Status, body)
			}
			noKeys(t, body)
		}
	})
}

// TestB8EndingContractShowsItsEndDay: a contract under termination is still active but says so
// with its end day on the clerk's list and page and in the client's portal, in his language;
// once terminated it reads only as terminated (B8).
func TestB8EndingContractShowsItsEndDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2025, 3, 31), "+33100000001")
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("ends_on = ?", "2027-02-16").Where("id = ?", sub.ID).Exec(ctx)
			return err
		})
		want := map[string]string{"fr": "Actif — résiliation en cours, fin le 16/02/2027", "pl": "Aktywny — wypowiedzenie w toku, koniec 16.02.2027", "sk": "výpoveď prebieha, koniec 16. 2. 2027"}
		for lang, w := range want {
			ten := f.A
			ten.Locale = lang
			for _, path := range []string{"/billing/manage", "/billing/manage/subscriptions/" + sub.ID} {
				page := f.send(ten, clerk, "GET", path, nil)
				body := strings.ReplaceAll(string(page.Body), "\u00a0", " ")
				if page.Status != 200 || !strings.Contains(body, w) {
					t.Errorf("%s %s: %d, want %q in %s", lang, path, page.Status, w, body)
				}
				noKeys(t, body)
			}
			page := f.send(ten, client, "GET", "/billing/portal", nil)
			body := strings.NewReplacer("\u00a0", " ", "<strong>", "", "</strong>", "").Replace(string(page.Body))
			if page.Status != 200 || !strings.Contains(body, w) {
				t.Errorf("%s portal: %d, want %q in %s", lang, page.Status, w, body)
			}
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subTerminated).Where("id = ?", sub.ID).Exec(ctx)
			return err
		})
		page := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID, nil)
		if body := string(page.Body); !strings.Contains(body, "Résilié") || strings.Contains(body, "résiliation en cours") {
			t.Errorf("terminated: %d %s", page.Status, body)
		}
	})
}

// TestB4EndedContractOffersNoRefusal: while the refusal deadline runs the contract pages say a
// refusal is possible until that day; once the contract has ended (terminated for
// non-payment the day it was decided) neither the clerk's nor the client's page says so any
// more (B4, B8, walkthrough F).
func TestB4EndedContractOffersNoRefusal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		f.announced(cat)
		pages := []struct {
			u    *sdk.User
			path string
		}{{clerk, "/billing/manage/subscriptions/" + sub.ID + "/contract"}, {client, "/billing/contract"}}
		for _, p := range pages {
			if body := string(f.send(f.A, p.u, "GET", p.path, nil).Body); !strings.Contains(body, "Refus possible par lettre recommandée expédiée au plus tard le") {
				t.Fatalf("%s before the end: no refusal line\n%s", p.path, body)
			}
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return f.m.endSubscription(ctx, f.A, sc, sub, f.m.today(f.A), "termination.reason.unpaid")
		})
		for _, p := range pages {
			res := f.send(f.A, p.u, "GET", p.path, nil)
			if body := string(res.Body); res.Status != 200 || strings.Contains(body, "Refus possible") || !strings.Contains(body, "Résiliation pour défaut de paiement") {
				t.Errorf("%s after the end: %d\n%s", p.path, res.Status, body)
			}
			noKeys(t, string(res.Body))
		}
	})
}

// TestB4ContractPageListsChangedPricesExclVAT: the client's contract page lists, under a
// notice, the prices that change, said to be excl. VAT, old → new; a price the new tariff
// leaves as it was is left out (the notice's e-mail still gives them all) (B4, walkthrough 9).
func TestB4ContractPageListsChangedPricesExclVAT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		tid := f.draftTariff(f.A, cat)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { // the SMS price stays 0,15 €
			_, err := sc.Update((*Price)(nil)).Set("sms_minor = 15").Where("tariff_id = ? AND product_id = ?", tid, cat.Products["ESSENTIEL"]).Exec(ctx)
			return err
		})
		if res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
			t.Fatalf("announce: %d", res.Status)
		}
		body := strings.ReplaceAll(string(f.send(f.A, client, "GET", "/billing/contract", nil).Body), "\u00a0", " ")
		for _, w := range []string{"Prix qui changent, hors taxes (HT), ancien → nouveau", "Essentiel, par mois : 89,00 € → 95,00 €", "Appel hors forfait : 0,60 € → 0,65 €"} {
			if !strings.Contains(body, w) {
				t.Errorf("client's contract page: no %q\n%s", w, body)
			}
		}
		if strings.Contains(body, "SMS hors forfait") {
			t.Errorf("client's contract page lists an unchanged price\n%s", body)
		}
		if sent := f.sentOf(tmplTariffNotice); len(sent) != 1 || !strings.Contains(sent[0].Data["Prices"].(string), "SMS hors forfait") {
			t.Errorf("the notice's e-mail no longer gives every price: %+v", sent)
		}
	})
}
