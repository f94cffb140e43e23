package billing

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// fixture is the module's shared test fixture: the module on one backend, two French tenants
// (A and B), a clock the test sets. Each part's tests may add their own beside it.
type fixture struct {
	t    *testing.T
	m    *Module
	h    *sdktest.Harness
	A, B sdk.Tenant
	now  time.Time
}

// frTenant is a French tenant of the module in locale loc.
func frTenant(id, loc string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: id, Name: "Secrétariat " + id, Locale: loc, TimeZone: "Europe/Paris", Currency: "EUR", Country: "FR", Portal: "clients"}
}

// setup starts the module on b; the clock is Thursday 26 November 2026, 10:00 UTC.
func setup(t *testing.T, b storetest.Backend) *fixture {
	m := newModule()
	f := &fixture{t: t, m: m, A: frTenant("tA", "fr"), B: frTenant("tB", "fr"), now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "billing"))
	return f
}

var (
	clerk  = &sdk.User{ID: "clerk1", Name: "Claire Facturation", Roles: []string{"billing_clerk"}}
	admin  = &sdk.User{ID: "admin1", Name: "Anne Admin", Roles: []string{"tenant_admin"}}
	client = &sdk.User{ID: "client1", Name: "Dr Jean Martin", Roles: []string{"user"}}
)

// send sends a request as u (nil: anonymous) to tenant ten; form, when set, is the body.
func (f *fixture) send(ten sdk.Tenant, u *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}}
	if form != nil {
		req.Body = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := f.h.Send(context.Background(), ten, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// in runs fn in a transaction of tenant ten.
func (f *fixture) in(ten sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) {
	f.t.Helper()
	if err := f.m.In(context.Background(), ten, fn); err != nil {
		f.t.Fatal(err)
	}
}

// withRules is t with the rules kv (name, value, …) set and the others at their defaults.
func withRules(t sdk.Tenant, kv ...any) sdk.Tenant {
	t.Rules = map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Rules[kv[i].(string)] = kv[i+1]
	}
	return t
}

// sentOf lists the messages of template tmpl, in the order sent.
func (f *fixture) sentOf(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			out = append(out, m.Value)
		}
	}
	return out
}

// audits lists the audit records of action.
func (f *fixture) audits(action string) []sdk.AuditRecord {
	var out []sdk.AuditRecord
	for _, a := range f.h.Host.Audits {
		if a.Value.Action == action {
			out = append(out, a.Value)
		}
	}
	return out
}

// invoiceFor invoices sub's period starting on start in tenant A (issued, or a draft when
// the tenant reviews them), as the daily job does.
func (f *fixture) invoiceFor(sub *Subscription, start Date) *Invoice {
	f.t.Helper()
	var inv *Invoice
	f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
		inv, err = f.m.invoicePeriod(ctx, f.A, sc, sub, start)
		return err
	})
	return inv
}

// countRows counts tenant ten's rows of model.
func (f *fixture) countRows(ten sdk.Tenant, model any) int64 {
	f.t.Helper()
	var n int64
	f.in(ten, func(ctx context.Context, sc *store.Scope) (err error) {
		n, err = sc.Select(model).Count(ctx)
		return err
	})
	return n
}

// catalog is what seedCatalog stored: product ids by code and the tariff's id.
type catalog struct {
	Products map[string]string
	TariffID string
}

// seedCatalog stores, straight in the tables, a plan "ESSENTIEL" (150 calls, 50 SMS,
// 89,00 € a month, 0,60 € a call and 0,15 € an SMS beyond), a plan "CONFORT" (400 calls,
// 150 SMS, 179,00 €, 0,50 € and 0,12 €), an option "AGENDA" (shared agenda, 25,00 €) and
// an option "RDV" (online booking set-up, 15,00 €), priced by a tariff in force since
// 1 January 2026. addOption adds further options (the usage part's TRANSMISSION).
func (f *fixture) seedCatalog(ten sdk.Tenant) catalog {
	f.t.Helper()
	c, err := seedCatalogIn(context.Background(), f.m, ten, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// seedCatalogIn is seedCatalog for callers without a fixture (benchmarks): the rows carry
// tenant ten's id, which the tenant scope requires.
func seedCatalogIn(ctx context.Context, m *Module, ten sdk.Tenant, now time.Time) (catalog, error) {
	c := catalog{Products: map[string]string{}, TariffID: newID()}
	err := m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
		prods := []Product{
			{Kind: kindPlan, Code: "ESSENTIEL", Name: "Essentiel", CallsIncluded: 150, SMSIncluded: 50, Position: 1},
			{Kind: kindPlan, Code: "CONFORT", Name: "Confort", CallsIncluded: 400, SMSIncluded: 150, Position: 2},
			{Kind: kindOption, Code: "AGENDA", Name: "Gestion de l’agenda partagé", Position: 3},
			{Kind: kindOption, Code: "RDV", Name: "Prise de rendez-vous en ligne", Position: 4},
		}
		fees := map[string]int64{"ESSENTIEL": 8900, "CONFORT": 17900, "AGENDA": 2500, "RDV": 1500}
		beyond := map[string][2]int64{"ESSENTIEL": {60, 15}, "CONFORT": {50, 12}}
		tar := Tariff{TenantID: sc.TenantID, ID: c.TariffID, Name: "Tarif 2026", EffectiveOn: Date{2026, 1, 1}, State: tariffInForce, CreatedAt: now}
		if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
			return err
		}
		for i := range prods {
			p := &prods[i]
			p.TenantID, p.ID = sc.TenantID, newID()
			c.Products[p.Code] = p.ID
			if _, err := sc.Insert(p).Exec(ctx); err != nil {
				return err
			}
			b := beyond[p.Code]
			if _, err := sc.Insert(&Price{TenantID: sc.TenantID, TariffID: tar.ID, ProductID: p.ID, MonthlyFeeMinor: fees[p.Code], CallMinor: b[0], SMSMinor: b[1]}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// addOption stores, straight in the tables, an option code named name at feeMinor cents a
// month in c's tariff, and adds it to c.Products.
func (f *fixture) addOption(ten sdk.Tenant, c catalog, code, name string, feeMinor int64) string {
	f.t.Helper()
	p := &Product{TenantID: ten.ID, ID: newID(), Kind: kindOption, Code: code, Name: name, Position: len(c.Products) + 1}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(p).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(&Price{TenantID: ten.ID, TariffID: c.TariffID, ProductID: p.ID, MonthlyFeeMinor: feeMinor}).Exec(ctx)
		return err
	})
	c.Products[code] = p.ID
	return p.ID
}

// A SIRET whose Luhn sum is a multiple of 10 (INSEE's own example establishment).
const goodSIRET = "73282932000074"

// subscribe stores, straight in the tables, an active subscription of the client user to plan
// (a product id) with options, started on starts, with dedicated number phone; signed and
// its terms accepted now, by transfer, for a practice in Paris with a valid SIRET.
func (f *fixture) subscribe(ten sdk.Tenant, user *sdk.User, plan string, starts Date, phone string, options ...string) *Subscription {
	f.t.Helper()
	sub := &Subscription{TenantID: ten.ID, ID: newID(), Reference: "AB-" + phone[len(phone)-4:], UserID: user.ID, State: subActive, ClientName: "Cabinet " + user.Name,
		ContactName: user.Name, Email: user.ID + "@example.fr", Locale: "fr", LegalID: goodSIRET, VATID: "FR12345678900",
		Street: "3 rue de la Santé", Postcode: "75013", City: "Paris", Country: "FR", PhoneNumber: phone, PlanID: plan,
		PaymentMethod: payTransfer, StartsOn: starts, TermsVersion: "1", CreatedAt: f.now}
	sub.SignedAt.Time, sub.TermsAcceptedAt.Time = f.now, f.now
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(sub).Exec(ctx); err != nil {
			return err
		}
		for _, o := range options {
			if _, err := sc.Insert(&SubscriptionOption{TenantID: sc.TenantID, SubscriptionID: sub.ID, ProductID: o}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return sub
}

// TestFixtureSeeds: the fixture's catalog and subscription are stored in the tenant asked,
// and the other tenant sees none of them.
func TestFixtureSeeds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 1, 31}, "+33100000001", cat.Products["AGENDA"])
		var n, m int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*Subscription)(nil)).Where("sub.id = ?", sub.ID).Count(ctx)
			return err
		})
		f.in(f.B, func(ctx context.Context, sc *store.Scope) error {
			var err error
			m, err = sc.Select((*Product)(nil)).Count(ctx)
			return err
		})
		if n != 1 || m != 0 {
			t.Fatalf("subscription in A: %d, products in B: %d", n, m)
		}
	})
}
