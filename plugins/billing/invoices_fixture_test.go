package billing

import (
	"context"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The frame's seedCatalog and subscribe leave the rows' tenant id empty, which the scope
// refuses; these are the same with the tenant's id (to drop once the fixture sets it).

// catalogOf is seedCatalog's catalog in tenant ten.
func (f *fixture) catalogOf(ten sdk.Tenant) catalog {
	f.t.Helper()
	c, err := seedCatalogIn(context.Background(), f.m, ten, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// seedCatalogIn stores seedCatalog's products and tariff in tenant ten.
func seedCatalogIn(ctx context.Context, m *Module, ten sdk.Tenant, now time.Time) (catalog, error) {
	c := catalog{Products: map[string]string{}, TariffID: newID()}
	err := m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
		prods := []Product{
			{Kind: kindPlan, Code: "ESSENTIEL", Name: "Essentiel", CallsIncluded: 150, SMSIncluded: 50, Position: 1},
			{Kind: kindPlan, Code: "CONFORT", Name: "Confort", CallsIncluded: 400, SMSIncluded: 150, Position: 2},
			{Kind: kindOption, Code: "AGENDA", Name: "Gestion de l'agenda partagé", Position: 3},
			{Kind: kindOption, Code: "RDV", Name: "Prise de rendez-vous en ligne", Position: 4},
		}
		fees := map[string][3]int64{"ESSENTIEL": {8900, 60, 15}, "CONFORT": {17900, 50, 12}, "AGENDA": {2500, 0, 0}, "RDV": {1500, 0, 0}}
		tar := Tariff{TenantID: ten.ID, ID: c.TariffID, Name: "Tarif 2026", EffectiveOn: Date{2026, 1, 1}, State: tariffInForce, CreatedAt: now}
		if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
			return err
		}
		for i := range prods {
			p := &prods[i]
			p.TenantID, p.ID = ten.ID, newID()
			c.Products[p.Code] = p.ID
			if _, err := sc.Insert(p).Exec(ctx); err != nil {
				return err
			}
			fee := fees[p.Code]
			if _, err := sc.Insert(&Price{TenantID: ten.ID, TariffID: tar.ID, ProductID: p.ID, MonthlyFeeMinor: fee[0], CallMinor: fee[1], SMSMinor: fee[2]}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// subscribeIn is subscribe in tenant ten.
func (f *fixture) subscribeIn(ten sdk.Tenant, user *sdk.User, plan string, starts Date, phone string, options ...string) *Subscription {
	f.t.Helper()
	sub := &Subscription{TenantID: ten.ID, ID: newID(), Reference: "AB-" + phone[len(phone)-4:], UserID: user.ID, State: subActive, ClientName: "Cabinet " + user.Name,
		ContactName: user.Name, Email: user.ID + "@example.fr", Locale: "fr", LegalID: "12345678900011", VATID: "FR12345678900",
		Street: "3 rue de la Santé", Postcode: "75013", City: "Paris", Country: "FR", PhoneNumber: phone, PlanID: plan,
		PaymentMethod: payTransfer, StartsOn: starts, TermsVersion: "1", CreatedAt: f.now}
	sub.SignedAt.Time, sub.TermsAcceptedAt.Time = f.now, f.now
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(sub).Exec(ctx); err != nil {
			return err
		}
		for _, o := range options {
			if _, err := sc.Insert(&SubscriptionOption{TenantID: ten.ID, SubscriptionID: sub.ID, ProductID: o}).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return sub
}
