package modules

import (
	"context"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk/host"
)

// TestHostTermsCarryTheFullTextInEveryLanguage: a module reading its terms in force through
// the HostAPI gets the version's full text (Markdown) in each language it is written in, the
// title in the tenant's language, and never another tenant's text (E5: the order confirmation
// sends the full terms on a durable medium; P6).
func TestHostTermsCarryTheFullTextInEveryLanguage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		ts := &tenancy.Store{DB: d}
		ids := map[string]string{}
		for _, slug := range []string{"lab", "other"} {
			f := &tenancy.File{Slug: slug, Settings: tenancy.Settings{Name: slug, DefaultLocale: "sk", Locales: []string{"sk", "fr"},
				TimeZone: "Europe/Bratislava", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: slug + ".localhost"}},
				Modules: map[string]tenancy.ModuleConfig{"eshop": {Enabled: true}}}
			if _, err := ts.Import(ctx, f, nil, ""); err != nil {
				t.Fatal(err)
			}
			tn, err := ts.BySlug(ctx, slug)
			if err != nil {
				t.Fatal(err)
			}
			ids[slug] = tn.ID
		}
		tm := terms.New(d)
		if err := tm.Seed(ctx, ids["lab"], "eshop", map[string]terms.Text{
			"sk": {Title: "Obchodné podmienky", Body: "# Obchodné podmienky\n\n1. Kupujúci môže odstúpiť do 14 dní."},
			"fr": {Title: "Conditions générales", Body: "# Conditions générales\n\nL'acheteur peut se rétracter."},
		}); err != nil {
			t.Fatal(err)
		}
		if err := tm.Seed(ctx, ids["other"], "eshop", map[string]terms.Text{
			"sk": {Title: "Iné podmienky", Body: "Text iného prevádzkovateľa"}, "fr": {Title: "Autres", Body: "Autre texte"},
		}); err != nil {
			t.Fatal(err)
		}
		h := hostTerms{&Service{DB: d, Tenants: ts, Terms: tm}}
		got, err := h.Current(ctx, host.Scope{TenantID: ids["lab"], ModuleID: "eshop"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Obchodné podmienky" || got.Version != 1 {
			t.Fatalf("title/version: %q %d", got.Title, got.Version)
		}
		if got.Bodies["sk"] != "# Obchodné podmienky\n\n1. Kupujúci môže odstúpiť do 14 dní." ||
			got.Bodies["fr"] != "# Conditions générales\n\nL'acheteur peut se rétracter." || len(got.Bodies) != 2 {
			t.Fatalf("bodies: %#v", got.Bodies)
		}
	})
}
