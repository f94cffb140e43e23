package billing

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The contract part's test helpers, beside the module's fixture (fixture_test.go).

var (
	clientPL = &sdk.User{ID: "client2", Name: "Dr Anna Nowak", Roles: []string{"user"}}
	clientSK = &sdk.User{ID: "client3", Name: "MUDr. Eva Kováčová", Roles: []string{"user"}}
)

// draftTariff stores a draft tariff "Tarif 2027" raising every price of the catalog: the
// plans to 95,00 € and 189,00 € (calls 0,65 € and 0,55 €, SMS 0,18 € and 0,14 €), the
// options to 27,00 € and 16,00 €.
func (f *fixture) draftTariff(ten sdk.Tenant, cat catalog) string {
	f.t.Helper()
	id := newID()
	fees := map[string][3]int64{"ESSENTIEL": {9500, 65, 18}, "CONFORT": {18900, 55, 14}, "AGENDA": {2700, 0, 0}, "RDV": {1600, 0, 0}}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(&Tariff{TenantID: ten.ID, ID: id, Name: "Tarif 2027", State: tariffDraft, CreatedAt: f.now}).Exec(ctx); err != nil {
			return err
		}
		for code, fee := range fees {
			p := &Price{TenantID: ten.ID, TariffID: id, ProductID: cat.Products[code], MonthlyFeeMinor: fee[0], CallMinor: fee[1], SMSMinor: fee[2]}
			if _, err := sc.Insert(p).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return id
}

// setLocale sets the language of a subscription's client.
func (f *fixture) setLocale(ten sdk.Tenant, sub *Subscription, lang string) {
	f.t.Helper()
	sub.Locale = lang
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Subscription)(nil)).Set("locale = ?", lang).Where("id = ?", sub.ID).Exec(ctx)
		return err
	})
}

// reload reads a subscription again.
func (f *fixture) reload(ten sdk.Tenant, id string) *Subscription {
	f.t.Helper()
	var sub Subscription
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&sub).Where("sub.id = ?", id).Scan(ctx)
	})
	return &sub
}

// terminations lists a subscription's terminations, oldest first.
func (f *fixture) terminations(ten sdk.Tenant, subID string) []Termination {
	f.t.Helper()
	var out []Termination
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).Where("term.subscription_id = ?", subID).OrderExpr("term.created_at, term.id").Scan(ctx)
	})
	return out
}

// mailText is a message's body as its reader's language writes it.
func (f *fixture) mailText(lang string, msg sdk.Message) string {
	var kv []any
	for k, v := range msg.Data {
		kv = append(kv, k, v)
	}
	return f.m.Msgs.For(lang).T("mail."+msg.Template+".body", kv...)
}

// postAs posts a form as u and returns the response.
func (f *fixture) postAs(ten sdk.Tenant, u *sdk.User, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	return f.send(ten, u, http.MethodPost, path, form)
}

// setToday moves the clock to 10:00 UTC of day d.
func (f *fixture) setToday(d Date) { f.now = d.In(zone(f.A)).Add(10 * time.Hour) }

// job runs a job of the module for tenant ten.
func (f *fixture) job(ten sdk.Tenant, name string) {
	f.t.Helper()
	if err := f.h.Job(context.Background(), ten, name, nil); err != nil {
		f.t.Fatal(err)
	}
}

// noKeys fails when a page shows a message id instead of words.
func noKeys(t *testing.T, body string) {
	t.Helper()
	for _, k := range []string{"billing.contract.", "billing.flash.", "{{", "%!"} {
		if strings.Contains(body, k) {
			t.Errorf("the page shows %q: %s", k, body)
		}
	}
}

func d(y, m, day int) Date { return Date{y, time.Month(m), day} }
