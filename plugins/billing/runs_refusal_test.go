package billing

import (
	"context"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// B4: a billing run prices each invoice at the tariff in force on its day, except for a
// client who refused that tariff by registered letter: he keeps the old one until the end his
// refusal fixed, in the same batch as the others.
func TestRunKeepsTheRefusedTariffB4(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		newTariff := newID()
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Insert(&Tariff{TenantID: sc.TenantID, ID: newTariff, Name: "Tarif 2027", EffectiveOn: Date{2026, 11, 1}, State: tariffInForce, CreatedAt: f.now}).Exec(ctx); err != nil {
				return err
			}
			for code, id := range cat.Products {
				fee := map[string]int64{"ESSENTIEL": 9900, "CONFORT": 19900, "AGENDA": 2900, "RDV": 1900}[code]
				if _, err := sc.Insert(&Price{TenantID: sc.TenantID, TariffID: newTariff, ProductID: id, MonthlyFeeMinor: fee, CallMinor: 70, SMSMinor: 20}).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		refuser := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 10, 26}, "+33100000011")
		other := f.subscribe(f.A, &sdk.User{ID: "client2", Name: "Dr Claire Petit"}, cat.Products["ESSENTIEL"], Date{2026, 10, 26}, "+33100000012")
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&TariffRefusal{TenantID: sc.TenantID, ID: newID(), SubscriptionID: refuser.ID, TariffID: newTariff, PostedOn: Date{2026, 10, 5},
				Reference: "1A 234 567 8901 2", Outcome: "keep_until_end", EndsOn: Date{2027, 1, 5}, CreatedAt: f.now}).Exec(ctx)
			return err
		})
		ctx := context.Background()
		run, err := f.m.startRun(ctx, f.A, Date{2026, 11, 26}, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.m.workRun(ctx, f.A, run.ID, "w1"); err != nil {
			t.Fatal(err)
		}
		fee := map[string]int64{}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			var invs []Invoice
			if err := sc.Select(&invs).Where("inv.period_start = ?", "2026-11-26").Scan(ctx); err != nil {
				return err
			}
			for _, inv := range invs {
				var line InvoiceLine
				if err := sc.Select(&line).Where("line.invoice_id = ? AND line.kind = ?", inv.ID, linePlan).Scan(ctx); err != nil {
					return err
				}
				fee[inv.SubscriptionID] = line.UnitMinor
			}
			return nil
		})
		if fee[refuser.ID] != 8900 || fee[other.ID] != 9900 {
			t.Fatalf("plan fees: refuser %d (want the old 8900), other %d (want the new 9900)", fee[refuser.ID], fee[other.ID])
		}
	})
}
