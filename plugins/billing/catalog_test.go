package billing

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// products reads tenant ten's products by code.
func (f *fixture) products(ten sdk.Tenant) map[string]Product {
	f.t.Helper()
	var ps []Product
	f.in(ten, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ps).Scan(ctx) })
	out := map[string]Product{}
	for _, p := range ps {
		out[p.Code] = p
	}
	return out
}

// tariffs reads tenant ten's tariffs by name.
func (f *fixture) tariffs(ten sdk.Tenant) map[string]Tariff {
	f.t.Helper()
	var ts []Tariff
	f.in(ten, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ts).Scan(ctx) })
	out := map[string]Tariff{}
	for _, t := range ts {
		out[t.Name] = t
	}
	return out
}

// prices reads a tariff's prices by product id.
func (f *fixture) prices(ten sdk.Tenant, tariffID string) map[string]Price {
	f.t.Helper()
	var out map[string]Price
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		var err error
		out, err = tariffPrices(ctx, sc, tariffID)
		return err
	})
	return out
}

// post posts form as the clerk and wants a redirect (303).
func (f *fixture) post(ten sdk.Tenant, path string, form url.Values) {
	f.t.Helper()
	if res := f.send(ten, clerk, "POST", path, form); res.Status != http.StatusSeeOther {
		f.t.Fatalf("POST %s: %d\n%s", path, res.Status, res.Body)
	}
}

// refused posts form as the clerk and wants the page again (422) with each message next to
// its field (want: field → words).
func (f *fixture) refused(ten sdk.Tenant, path string, form url.Values, want map[string]string) string {
	f.t.Helper()
	res := f.send(ten, clerk, "POST", path, form)
	body := string(res.Body)
	if res.Status != http.StatusUnprocessableEntity {
		f.t.Fatalf("POST %s: %d, want 422\n%s", path, res.Status, body)
	}
	for field, words := range want {
		re := regexp.MustCompile(`<p class="error" id="e-` + regexp.QuoteMeta(field) + `">([^<]*)</p>`)
		m := re.FindStringSubmatch(body)
		if m == nil || !strings.Contains(m[1], words) {
			f.t.Fatalf("POST %s: field %s lacks %q (%v)\n%s", path, field, words, m, body)
		}
	}
	return body
}

var catalogIDRe = regexp.MustCompile(`\b(billing|rule|module|audit)\.[a-z_]+\.[a-z_0-9.]+`)

// noCodes fails when a page shows a message id, a state's code or an unfilled template.
func noCodes(t *testing.T, what string, body []byte, codes ...string) {
	t.Helper()
	if id := catalogIDRe.Find(body); id != nil {
		t.Fatalf("%s shows %q\n%s", what, id, body)
	}
	for _, leak := range append([]string{"{{", "<no value>", "%!", ">draft<", ">in_force<", ">announced<", ">plan<", ">option<"}, codes...) {
		if strings.Contains(string(body), leak) {
			t.Fatalf("%s shows %q\n%s", what, leak, body)
		}
	}
}

// B1–B3: the clerk adds a plan and an option, edits and withdraws them; a wrong field is told
// next to it in the reader's language and nothing is stored; a code already used (the
// database's unique key) is a field error; the kind is chosen once; a malformed form is a
// 400; only the clerk's permission reaches the pages.
func TestCatalogProductsB1B3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		plan := url.Values{"kind": {"plan"}, "code": {"essentiel"}, "name": {"Essentiel"}, "description": {"Pour un cabinet seul.\nAppels et SMS inclus."},
			"calls_included": {"150"}, "sms_included": {"50"}, "position": {"1"}}
		// B3: allowances are whole numbers, 0 or more; the code is letters and digits.
		bad := url.Values{}
		for k, v := range plan {
			bad[k] = v
		}
		bad.Set("calls_included", "-1")
		bad.Set("sms_included", "12,5")
		bad.Set("code", "ESS ENTIEL")
		bad.Set("name", "")
		f.refused(f.A, "/billing/manage/catalog/new", bad, map[string]string{"calls_included": "nombre entier", "sms_included": "nombre entier",
			"code": "lettres sans accent", "name": "obligatoire"})
		if n := len(f.products(f.A)); n != 0 {
			t.Fatalf("a refused form stored %d products", n)
		}
		f.post(f.A, "/billing/manage/catalog/new", plan)
		f.post(f.A, "/billing/manage/catalog/new", url.Values{"kind": {"option"}, "code": {"AGENDA"}, "name": {"Gestion de l’agenda partagé"}, "position": {"3"},
			"calls_included": {"99"}})
		ps := f.products(f.A)
		ess, ag := ps["ESSENTIEL"], ps["AGENDA"]
		if ess.Kind != kindPlan || ess.Name != "Essentiel" || ess.CallsIncluded != 150 || ess.SMSIncluded != 50 || ess.Position != 1 ||
			ess.Description != "Pour un cabinet seul.\nAppels et SMS inclus." || !ess.WithdrawnAt.IsZero() {
			t.Fatalf("plan stored: %+v", ess)
		}
		if ag.Kind != kindOption || ag.CallsIncluded != 0 { // an option has no allowance
			t.Fatalf("option stored: %+v", ag)
		}
		// The code is unique per tenant (the database's key): a clash is told next to the field.
		dup := url.Values{"kind": {"option"}, "code": {"Essentiel"}, "name": {"Autre"}, "position": {"0"}}
		f.refused(f.A, "/billing/manage/catalog/new", dup, map[string]string{"code": "déjà celui d’un autre produit"})
		f.refused(f.A, "/billing/manage/catalog/"+ag.ID, url.Values{"kind": {"option"}, "code": {"ESSENTIEL"}, "name": {"Agenda"}, "position": {"3"}},
			map[string]string{"code": "déjà celui"})
		if ps := f.products(f.A); len(ps) != 2 || ps["AGENDA"].Name != "Gestion de l’agenda partagé" {
			t.Fatalf("a refused code changed the catalog: %+v", ps)
		}
		// Another tenant may use the same code.
		f.post(f.B, "/billing/manage/catalog/new", plan)
		// Edit.
		edit := url.Values{"kind": {"plan"}, "code": {"ESSENTIEL"}, "name": {"Essentiel Plus"}, "calls_included": {"200"}, "sms_included": {"60"}, "position": {"2"}}
		f.post(f.A, "/billing/manage/catalog/"+ess.ID, edit)
		if p := f.products(f.A)["ESSENTIEL"]; p.Name != "Essentiel Plus" || p.CallsIncluded != 200 || p.SMSIncluded != 60 || p.Position != 2 {
			t.Fatalf("edited: %+v", p)
		}
		// The kind is chosen once; a kind the form does not offer is malformed (400).
		edit.Set("kind", "option")
		if res := f.send(f.A, clerk, "POST", "/billing/manage/catalog/"+ess.ID, edit); res.Status != http.StatusBadRequest {
			t.Fatalf("kind changed: %d", res.Status)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/catalog/new", url.Values{"kind": {"forfait"}, "code": {"X"}, "name": {"X"}}); res.Status != http.StatusBadRequest {
			t.Fatalf("unknown kind: %d", res.Status)
		}
		if res := f.send(f.A, clerk, "GET", "/billing/manage/catalog/nope", nil); res.Status != http.StatusNotFound {
			t.Fatalf("unknown product: %d", res.Status)
		}
		// Tenants never leak: B cannot open or withdraw A's product.
		if res := f.send(f.B, clerk, "GET", "/billing/manage/catalog/"+ess.ID, nil); res.Status != http.StatusNotFound {
			t.Fatalf("B opens A's product: %d", res.Status)
		}
		if res := f.send(f.B, clerk, "POST", "/billing/manage/catalog/"+ess.ID+"/withdraw", url.Values{}); res.Status != http.StatusNotFound {
			t.Fatalf("B withdraws A's product: %d", res.Status)
		}
		// Withdraw (B1): once; the list says so in words.
		f.post(f.A, "/billing/manage/catalog/"+ag.ID+"/withdraw", url.Values{})
		f.post(f.A, "/billing/manage/catalog/"+ag.ID+"/withdraw", url.Values{})
		if p := f.products(f.A)["AGENDA"]; p.WithdrawnAt.IsZero() || !p.WithdrawnAt.Time.Equal(f.now) {
			t.Fatalf("withdrawn: %+v", p)
		}
		withdrawn := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "billing.product_withdrawn" {
				withdrawn++
			}
		}
		if withdrawn != 1 {
			t.Fatalf("%d withdrawals audited", withdrawn)
		}
		res := f.send(f.A, clerk, "GET", "/billing/manage/catalog", nil)
		body := string(res.Body)
		if res.Status != 200 || !strings.Contains(body, "Essentiel Plus") || !strings.Contains(body, "Retirée le 26/11/2026") ||
			!strings.Contains(body, "Proposée") || !strings.Contains(body, "Aucune grille tarifaire") {
			t.Fatalf("list: %d\n%s", res.Status, body)
		}
		noCodes(t, "catalog list", res.Body)
		// Only the clerk's permission reaches the catalog's pages (the core enforces the
		// manifest's permission on each route).
		for _, r := range f.h.Manifest.Routes {
			if strings.HasPrefix(r.Path, "/billing/manage/catalog") || strings.HasPrefix(r.Path, "/billing/manage/tariffs") {
				if r.Public || r.Permission != permManage {
					t.Fatalf("%s %s is not the clerk's", r.Method, r.Path)
				}
			}
			if r.Path == "/billing/offers" && !r.Public {
				t.Fatal("the offers are not public")
			}
		}
		// Each change is audited.
		saved := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "billing.product_saved" && a.Scope.TenantID == f.A.ID {
				saved++
			}
		}
		if saved != 3 {
			t.Fatalf("%d saves audited in A", saved)
		}
	})
}

// B3: a plan's allowances are part of the contract of the clients who hold it: they do not
// change while a live subscription has the plan (its name may).
func TestCatalogAllowanceHeldB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 3, 15}, "+33612345678")
		id := cat.Products["ESSENTIEL"]
		form := url.Values{"kind": {"plan"}, "code": {"ESSENTIEL"}, "name": {"Essentiel"}, "calls_included": {"100"}, "sms_included": {"50"}, "position": {"1"}}
		f.refused(f.A, "/billing/manage/catalog/"+id, form, map[string]string{"calls_included": "fait partie de leur contrat"})
		if p := f.products(f.A)["ESSENTIEL"]; p.CallsIncluded != 150 {
			t.Fatalf("allowance changed: %+v", p)
		}
		form.Set("calls_included", "150")
		form.Set("name", "Essentiel 2026")
		f.post(f.A, "/billing/manage/catalog/"+id, form)
		// The plan nobody holds may change.
		form = url.Values{"kind": {"plan"}, "code": {"CONFORT"}, "name": {"Confort"}, "calls_included": {"500"}, "sms_included": {"150"}, "position": {"2"}}
		f.post(f.A, "/billing/manage/catalog/"+cat.Products["CONFORT"], form)
		if p := f.products(f.A)["CONFORT"]; p.CallsIncluded != 500 {
			t.Fatalf("free plan: %+v", p)
		}
	})
}

// B3: prices in the reader's notation: the list shows the tariff in force's "89,00 €",
// "0,60 €"; a new product, once the tenant has tariffs, takes prices typed "12,50" or "0.5"
// into every tariff (no client holds it yet: no notice is due); a negative or malformed
// price is a field error and nothing is stored.
func TestCatalogPricesFrenchNotationB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		res := f.send(f.A, clerk, "GET", "/billing/manage/catalog", nil)
		body := string(res.Body)
		for _, want := range []string{"89,00\u00a0€", "179,00\u00a0€", "0,60\u00a0€", "0,15\u00a0€", "25,00\u00a0€", "Tarif 2026", "en vigueur depuis le 01/01/2026", "ESSENTIEL"} {
			if !strings.Contains(body, want) {
				t.Fatalf("list lacks %q\n%s", want, body)
			}
		}
		// A new product asks its prices; a bad one is refused.
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/catalog/new", nil).Body)
		if !strings.Contains(page, `name="fee"`) || !strings.Contains(page, `name="call_price"`) {
			t.Fatalf("new plan form asks no prices\n%s", page)
		}
		np := url.Values{"kind": {"plan"}, "code": {"PREMIUM"}, "name": {"Premium"}, "calls_included": {"1000"}, "sms_included": {"300"}, "position": {"5"},
			"fee": {"-5"}, "call_price": {"0,4x"}, "sms_price": {"0,123"}}
		f.refused(f.A, "/billing/manage/catalog/new", np, map[string]string{"fee": "89,00", "call_price": "montant", "sms_price": "montant"})
		if _, ok := f.products(f.A)["PREMIUM"]; ok {
			t.Fatal("a refused product was stored")
		}
		np.Set("fee", "249,90")
		np.Set("call_price", "0.5")
		np.Set("sms_price", "0,10")
		f.post(f.A, "/billing/manage/catalog/new", np)
		id := f.products(f.A)["PREMIUM"].ID
		if p := f.prices(f.A, cat.TariffID)[id]; p.MonthlyFeeMinor != 24990 || p.CallMinor != 50 || p.SMSMinor != 10 {
			t.Fatalf("price in force: %+v", p)
		}
		// The product's page shows its prices in French notation.
		body = string(f.send(f.A, clerk, "GET", "/billing/manage/catalog/"+id, nil).Body)
		if !strings.Contains(body, "249,90\u00a0€") || !strings.Contains(body, "0,50\u00a0€") || strings.Contains(body, `name="fee"`) {
			t.Fatalf("product page\n%s", body)
		}
	})
}

// B4 (drafting): a draft copies the prices in force; the clerk edits them in French notation
// ("95,50"); a wrong price changes nothing; the tariff in force keeps its prices; a draft can
// be deleted, an announced or in-force tariff cannot, nor edited; the list says where each
// tariff stands in words; the draft's page carries the announce button (contract part).
func TestCatalogDraftTariffB4(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		ess, conf, ag, rdv := cat.Products["ESSENTIEL"], cat.Products["CONFORT"], cat.Products["AGENDA"], cat.Products["RDV"]
		f.refused(f.A, "/billing/manage/tariffs", url.Values{"name": {" "}}, map[string]string{"name": "obligatoire"})
		f.post(f.A, "/billing/manage/tariffs", url.Values{"name": {"Tarif 2027"}})
		tars := f.tariffs(f.A)
		draft := tars["Tarif 2027"]
		if len(tars) != 2 || draft.State != tariffDraft || !draft.EffectiveOn.IsZero() || draft.CreatedBy != clerk.ID {
			t.Fatalf("draft: %+v", tars)
		}
		copied, inForce := f.prices(f.A, draft.ID), f.prices(f.A, cat.TariffID)
		if len(copied) != 4 {
			t.Fatalf("copied %d prices", len(copied))
		}
		for pid, p := range inForce {
			c := copied[pid]
			if c.MonthlyFeeMinor != p.MonthlyFeeMinor || c.CallMinor != p.CallMinor || c.SMSMinor != p.SMSMinor {
				t.Fatalf("copy of %s: %+v, in force %+v", pid, c, p)
			}
		}
		// The draft's page: the prices in the reader's notation, and the buttons.
		path := "/billing/manage/tariffs/" + draft.ID
		res := f.send(f.A, clerk, "GET", path, nil)
		body := string(res.Body)
		for _, want := range []string{`name="fee_` + ess + `" type="text" inputmode="decimal" maxlength="12" required value="89,00"`,
			`name="call_` + ess + `" type="text" inputmode="decimal" maxlength="12" required value="0,60"`, `value="0,15"`,
			`action="/billing/manage/tariffs/` + draft.ID + `/announce"`, "Annoncer aux clients", "Supprimer le brouillon", "Brouillon, pas encore annoncé"} {
			if !strings.Contains(body, want) {
				t.Fatalf("draft page lacks %q\n%s", want, body)
			}
		}
		if strings.Contains(body, `name="call_`+ag+`"`) || strings.Contains(body, "/in-force") {
			t.Fatalf("an option asks a call price, or a tenant with a tariff is offered to skip the notice\n%s", body)
		}
		noCodes(t, "draft page", res.Body)
		form := url.Values{"name": {"Tarif 2027"}}
		for pid, p := range copied {
			form.Set("fee_"+pid, catalogPriceInput("fr", p.MonthlyFeeMinor))
			if pid == ess || pid == conf {
				form.Set("call_"+pid, catalogPriceInput("fr", p.CallMinor))
				form.Set("sms_"+pid, catalogPriceInput("fr", p.SMSMinor))
			}
		}
		form.Set("fee_"+ess, "95,50")
		form.Set("sms_"+conf, "0,13")
		// A negative or malformed price: told next to its field, nothing changes.
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("fee_"+rdv, "-15,00")
		bad.Set("call_"+conf, "cinquante")
		bad.Set("name", "")
		f.refused(f.A, path, bad, map[string]string{"fee_" + rdv: "positif ou nul", "call_" + conf: "89,00", "name": "obligatoire"})
		if p := f.prices(f.A, draft.ID)[ess]; p.MonthlyFeeMinor != 8900 {
			t.Fatalf("a refused form changed a price: %+v", p)
		}
		f.post(f.A, path, form)
		got := f.prices(f.A, draft.ID)
		if got[ess].MonthlyFeeMinor != 9550 || got[conf].SMSMinor != 13 || got[conf].CallMinor != 50 || got[rdv].MonthlyFeeMinor != 1500 {
			t.Fatalf("draft prices: %+v", got)
		}
		if p := f.prices(f.A, cat.TariffID)[ess]; p.MonthlyFeeMinor != 8900 {
			t.Fatalf("the tariff in force changed: %+v", p)
		}
		// The page compares with the prices in force.
		if body := string(f.send(f.A, clerk, "GET", path, nil).Body); !strings.Contains(body, `value="95,50"`) || !strings.Contains(body, "89,00\u00a0€") {
			t.Fatalf("saved draft page\n%s", body)
		}
		// The tariff in force is read only: its prices and deletion are refused, nothing changes.
		inForcePath := "/billing/manage/tariffs/" + cat.TariffID
		form.Set("name", "Tarif 2026")
		f.refused(f.A, inForcePath, form, map[string]string{"tariff": "ne se modifie plus"})
		f.refused(f.A, inForcePath+"/delete", url.Values{}, map[string]string{"tariff": "ne se modifie plus"})
		if p := f.prices(f.A, cat.TariffID)[ess]; p.MonthlyFeeMinor != 8900 || len(f.tariffs(f.A)) != 2 {
			t.Fatalf("the tariff in force changed: %+v", p)
		}
		// An announced tariff (the contract part announces; here straight in the table) is
		// upcoming in the list, and read only too.
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Tariff{TenantID: sc.TenantID, ID: newID(), Name: "Tarif mars 2027", EffectiveOn: Date{2027, 3, 1}, State: tariffAnnounced, CreatedAt: f.now}).Exec(ctx)
			return err
		})
		res = f.send(f.A, clerk, "GET", "/billing/manage/tariffs", nil)
		body = string(res.Body)
		for _, want := range []string{"Tarif 2027", "Brouillon, pas encore annoncé", "fixée à l’annonce", "En vigueur depuis le 01/01/2026",
			"Annoncée, en vigueur à partir du 01/03/2027"} {
			if !strings.Contains(body, want) {
				t.Fatalf("tariffs list lacks %q\n%s", want, body)
			}
		}
		noCodes(t, "tariffs list", res.Body)
		// Delete the draft: it and its prices are gone.
		f.post(f.A, path+"/delete", url.Values{})
		if _, ok := f.tariffs(f.A)["Tarif 2027"]; ok || len(f.prices(f.A, draft.ID)) != 0 {
			t.Fatal("the draft or its prices remain")
		}
		if res := f.send(f.A, clerk, "GET", path, nil); res.Status != http.StatusNotFound {
			t.Fatalf("deleted draft: %d", res.Status)
		}
		// Tenant B cannot reach A's tariffs.
		if res := f.send(f.B, clerk, "GET", inForcePath, nil); res.Status != http.StatusNotFound {
			t.Fatalf("B opens A's tariff: %d", res.Status)
		}
		if res := f.send(f.B, clerk, "POST", inForcePath+"/delete", url.Values{}); res.Status != http.StatusNotFound {
			t.Fatalf("B deletes A's tariff: %d", res.Status)
		}
	})
}

// B4: a new tenant (no tariff, no subscription) puts its first tariff in force at once: a
// draft without every offered product priced is refused; then it is in force from today and
// a second draft can no longer skip the notice. Two clerks putting two drafts in force at the
// same moment: one succeeds (the first-tariff row is unique), the other is told why.
func TestCatalogFirstTariffB4(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.post(f.A, "/billing/manage/catalog/new", url.Values{"kind": {"plan"}, "code": {"SOLO"}, "name": {"Solo"}, "calls_included": {"100"}, "sms_included": {"20"}})
		f.post(f.A, "/billing/manage/catalog/new", url.Values{"kind": {"option"}, "code": {"RDV"}, "name": {"Prise de rendez-vous en ligne"}})
		ps := f.products(f.A)
		solo, rdv := ps["SOLO"].ID, ps["RDV"].ID
		f.post(f.A, "/billing/manage/tariffs", url.Values{"name": {"Lancement"}})
		tar := f.tariffs(f.A)["Lancement"]
		if n := len(f.prices(f.A, tar.ID)); n != 0 {
			t.Fatalf("a first draft copied %d prices", n)
		}
		path := "/billing/manage/tariffs/" + tar.ID
		if body := string(f.send(f.A, clerk, "GET", path, nil).Body); !strings.Contains(body, "Mettre en vigueur aujourd’hui") {
			t.Fatalf("no button to put the first tariff in force\n%s", body)
		}
		f.refused(f.A, path+"/in-force", url.Values{}, map[string]string{"in_force": "toutes les formules et options"})
		f.post(f.A, path, url.Values{"name": {"Lancement"}, "fee_" + solo: {"69"}, "call_" + solo: {"0,55"}, "sms_" + solo: {"0,1"}, "fee_" + rdv: {"12,00"}})
		f.post(f.A, path+"/in-force", url.Values{})
		tar = f.tariffs(f.A)["Lancement"]
		if tar.State != tariffInForce || tar.EffectiveOn != (Date{2026, 11, 26}) {
			t.Fatalf("first tariff: %+v", tar)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			got, prices, err := currentTariff(ctx, sc, Date{2026, 11, 26})
			if err != nil || got == nil || got.ID != tar.ID || prices[solo].MonthlyFeeMinor != 6900 || prices[solo].CallMinor != 55 || prices[solo].SMSMinor != 10 {
				t.Fatalf("in force today: %+v %+v %v", got, prices, err)
			}
			return nil
		})
		// Once in force, it is no longer a draft: doing it again is refused, in words.
		f.refused(f.A, path+"/in-force", url.Values{}, map[string]string{"tariff": "ne se modifie plus"})
		// A second draft must be announced with notice.
		f.post(f.A, "/billing/manage/tariffs", url.Values{"name": {"Suivant"}})
		next := f.tariffs(f.A)["Suivant"]
		if body := string(f.send(f.A, clerk, "GET", "/billing/manage/tariffs/"+next.ID, nil).Body); strings.Contains(body, "/in-force") {
			t.Fatalf("a second tariff may skip the notice\n%s", body)
		}
		f.refused(f.A, "/billing/manage/tariffs/"+next.ID+"/in-force", url.Values{}, map[string]string{"in_force": "annoncée avec préavis"})
		if got := f.tariffs(f.A)["Suivant"]; got.State != tariffDraft {
			t.Fatalf("second tariff: %+v", got)
		}
		// A tenant with a subscription (and so a tariff it was sold at) cannot skip it either.
		cat := f.seedCatalog(f.B)
		f.in(f.B, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*Tariff)(nil)).Where("id = ?", cat.TariffID).Exec(ctx)
			return err
		})
		f.subscribe(f.B, client, cat.Products["ESSENTIEL"], Date{2026, 3, 1}, "+33611111111")
		f.post(f.B, "/billing/manage/tariffs", url.Values{"name": {"B"}})
		bt := f.tariffs(f.B)["B"]
		f.refused(f.B, "/billing/manage/tariffs/"+bt.ID+"/in-force", url.Values{}, map[string]string{"in_force": "des clients sont abonnés"})

		// The race, in a fresh tenant: two priced drafts put in force at once.
		c := frTenant("tC", "fr")
		f.post(c, "/billing/manage/catalog/new", url.Values{"kind": {"plan"}, "code": {"SOLO"}, "name": {"Solo"}, "calls_included": {"1"}, "sms_included": {"1"}})
		cs := f.products(c)["SOLO"].ID
		var ids []string
		for _, name := range []string{"Un", "Deux"} {
			f.post(c, "/billing/manage/tariffs", url.Values{"name": {name}})
			id := f.tariffs(c)[name].ID
			f.post(c, "/billing/manage/tariffs/"+id, url.Values{"name": {name}, "fee_" + cs: {"10"}, "call_" + cs: {"0"}, "sms_" + cs: {"0"}})
			ids = append(ids, id)
		}
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), c, clerk, "POST", "/billing/manage/tariffs/"+id+"/in-force", []byte{})
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		inForce := 0
		for _, tr := range f.tariffs(c) {
			if tr.State == tariffInForce {
				inForce++
			}
		}
		ok := 0
		for _, s := range statuses {
			if s == http.StatusSeeOther {
				ok++
			} else if s != http.StatusUnprocessableEntity {
				t.Fatalf("statuses %v", statuses)
			}
		}
		if ok != 1 || inForce != 1 {
			t.Fatalf("statuses %v, %d tariffs in force", statuses, inForce)
		}
	})
}

// B2, B3, B12: the public offers page shows the plans and options offered with the prices
// in force excluding VAT, the VAT rate and the price including it, each plan's allowances and
// its prices beyond them, what every subscription includes — the dedicated number, the
// answering hours in words, the portal, the recordings kept as long as the tenant's rule says
// — and that the service is no medical advice; in words, never a code; a withdrawn product
// is not offered; in fr, pl and sk with no message missing; the tenant's rules change it.
func TestCatalogOffersPublicB2B3B12(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.post(f.A, "/billing/manage/catalog/"+cat.Products["RDV"]+"/withdraw", url.Values{})
		f.post(f.A, "/billing/manage/catalog/"+cat.Products["AGENDA"], url.Values{"kind": {"option"}, "code": {"AGENDA"}, "name": {"Gestion de l’agenda partagé"},
			"description": {"Vos rendez-vous pris par nos secrétaires.\r\nVisible en ligne."}, "position": {"3"}})
		res := f.send(f.A, nil, "GET", "/billing/offers", nil)
		body := string(res.Body)
		for _, want := range []string{"Essentiel", "Confort", "Gestion de l’agenda partagé", "89,00\u00a0€ HT par mois", "soit 106,80\u00a0€ TTC",
			"179,00\u00a0€ HT par mois", "150 appels inclus par mois", "50 SMS inclus par mois", "400 appels inclus par mois",
			"Au-delà : 0,60\u00a0€ HT par appel, 0,15\u00a0€ HT par SMS.", "TVA de 20 % en sus", "Un numéro d’appel dédié",
			"Accueil téléphonique du lundi au vendredi de 08:00 à 20:00 et le samedi de 08:00 à 13:00, ou à horaires partiels convenus avec vous",
			"Un espace client en ligne", "conservés 2 mois", "aucun conseil médical",
			"<p>Vos rendez-vous pris par nos secrétaires.</p><p>Visible en ligne.</p>"} {
			if !strings.Contains(body, want) {
				t.Fatalf("offers lack %q\n%s", want, body)
			}
		}
		noCodes(t, "offers", res.Body, "ESSENTIEL", "AGENDA", "Prise de rendez-vous", "RDV")
		// What is included does not promise the forwarding an option sells (walkthrough 17):
		// the messages are read in the portal. The page ends on the next step: the firm's
		// contacts to subscribe, the way into the portal for a client (walkthrough 27).
		if strings.Contains(body, "La transmission de vos messages") || !strings.Contains(body, "Les messages pris pour vous, à lire dans votre espace client") ||
			!strings.Contains(body, "Pour souscrire, contactez-nous") || !strings.Contains(body, `href="/login?next=/billing/portal"`) {
			t.Fatalf("offers' included messages or next step\n%s", body)
		}
		withContacts := withRules(f.A, "tenant.contacts.support", "contact@secretaires.example", "tenant.contacts.phone", "+33461100000")
		body = string(f.send(withContacts, nil, "GET", "/billing/offers", nil).Body)
		if !strings.Contains(body, `<a href="mailto:contact@secretaires.example">contact@secretaires.example</a>`) ||
			!strings.Contains(body, `<a href="tel:&#43;33461100000">&#43;33`+"\u00a04\u00a061\u00a010\u00a000\u00a000</a>") {
			t.Fatalf("offers without the firm's contacts\n%s", body)
		}
		// The tenant's rules: recordings kept 1 month, VAT 10 %.
		ten := f.A
		rules, err := f.h.Manifest.ValidateRules(map[string]any{"billing.recording_retention_months": float64(1), "billing.vat_percent": float64(10)})
		if err != nil {
			t.Fatal(err)
		}
		ten.Rules = rules
		body = string(f.send(ten, nil, "GET", "/billing/offers", nil).Body)
		if !strings.Contains(body, "conservés un mois") || !strings.Contains(body, "TVA de 10 % en sus") || !strings.Contains(body, "soit 97,90\u00a0€ TTC") {
			t.Fatalf("offers under the tenant's rules\n%s", body)
		}
		// Polish and Slovak readers.
		for lang, wants := range map[string][]string{
			"pl": {"89,00\u00a0€ netto miesięcznie", "150 połączeń w abonamencie miesięcznie", "50 SMS-ów", "od poniedziałku do piątku w godz. 08:00–20:00 oraz w sobotę w godz. 08:00–13:00",
				"przez 2 miesiące", "nie udzielają porad medycznych"},
			"sk": {"89,00\u00a0€ bez DPH mesačne", "150 hovorov v paušále mesačne", "od pondelka do piatka v čase 08:00 – 20:00 a v sobotu v čase 08:00 – 13:00",
				"uchovávaných 2 mesiace", "neposkytujú lekárske rady"},
		} {
			ten := f.A
			ten.Locale = lang
			res := f.send(ten, nil, "GET", "/billing/offers", nil)
			for _, want := range wants {
				if !strings.Contains(string(res.Body), want) {
					t.Fatalf("%s offers lack %q\n%s", lang, want, res.Body)
				}
			}
			noCodes(t, lang+" offers", res.Body, "ESSENTIEL")
		}
		// A tenant with no tariff yet answers all the same, with no offer; B sees none of A's.
		res = f.send(f.B, nil, "GET", "/billing/offers", nil)
		if res.Status != 200 || strings.Contains(string(res.Body), "Essentiel") || !strings.Contains(string(res.Body), "bientôt publiées") {
			t.Fatalf("B's offers: %d\n%s", res.Status, res.Body)
		}
		if miss := f.m.Msgs.Missing(); len(miss) > 0 {
			t.Fatalf("messages missing: %v", miss)
		}
	})
}

// P4: the clerk's pages of the catalog answer in fr, pl and sk with no message missing and
// no message id shown.
func TestCatalogPagesInEveryLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.post(f.A, "/billing/manage/tariffs", url.Values{"name": {"Brouillon"}})
		draft := f.tariffs(f.A)["Brouillon"]
		f.post(f.A, "/billing/manage/catalog/"+cat.Products["RDV"]+"/withdraw", url.Values{})
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			for _, p := range []string{"/billing/manage/catalog", "/billing/manage/catalog/new", "/billing/manage/catalog/new?kind=option",
				"/billing/manage/catalog/" + cat.Products["ESSENTIEL"], "/billing/manage/catalog/" + cat.Products["RDV"],
				"/billing/manage/tariffs", "/billing/manage/tariffs/" + draft.ID, "/billing/manage/tariffs/" + cat.TariffID, "/billing/offers"} {
				res := f.send(ten, clerk, "GET", p, nil)
				if res.Status != 200 {
					t.Fatalf("%s %s: %d\n%s", lang, p, res.Status, res.Body)
				}
				noCodes(t, lang+" "+p, res.Body)
			}
		}
		if miss := f.m.Msgs.Missing(); len(miss) > 0 {
			t.Fatalf("messages missing: %v", miss)
		}
	})
}
