package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

var (
	client2 = &sdk.User{ID: "client2", Name: "Dr Alice Durand", Roles: []string{"user"}, Email: "client2@example.fr"}
)

// subFixture is the shared fixture with a catalog and the client accounts the fake host knows.
type subFixture struct {
	*fixture
	cat catalog
}

func setupSubs(t *testing.T, b storetest.Backend) *subFixture {
	f := setup(t, b)
	sf := &subFixture{fixture: f}
	sf.cat = sf.seedCatalog(f.A)
	me := *client
	me.Email = "client1@example.fr"
	f.h.Host.Users[f.A.ID] = []sdk.User{me, *client2, *clerk}
	return sf
}

// form is a valid new-subscription form for client1 with dedicated number phone.
func (f *subFixture) form(phone string) url.Values {
	return url.Values{"client_name": {"Cabinet du Dr Martin"}, "contact_name": {"Jean Martin"}, "email": {"client1@example.fr"},
		"locale": {"fr"}, "country": {"FR"}, "legal_id": {goodSIRET}, "vat_id": {"FR 12 732829320"}, "street": {"3 rue de la Santé"},
		"postcode": {"75013"}, "city": {"Paris"}, "phone": {phone}, "plan": {f.cat.Products["ESSENTIEL"]},
		"options":       {f.cat.Products["AGENDA"]},
		"hours_profile": {"full"}, "specification": {"Prise des appels du cabinet, transmission des messages par SMS."},
		"payment_method": {"debit"}, "mandate_ref": {"RUM-2026-0001"}}
}

func (f *subFixture) subs(ten sdk.Tenant) []Subscription {
	f.t.Helper()
	var subs []Subscription
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&subs).Order("sub.created_at").Scan(ctx)
	})
	return subs
}

func (f *subFixture) sub(id string) Subscription {
	f.t.Helper()
	return *f.reload(f.A, id)
}

// create posts the form as the clerk and returns the new subscription's id.
func (f *subFixture) create(form url.Values) string {
	f.t.Helper()
	res := f.send(f.A, clerk, "POST", "/billing/manage/subscriptions/new", form)
	if res.Status != http.StatusSeeOther {
		f.t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	loc := res.Header.Get("Location")
	i := strings.Index(loc, "/billing/manage/subscriptions/")
	if i < 0 {
		f.t.Fatalf("create: redirected to %q", loc)
	}
	id := loc[i+len("/billing/manage/subscriptions/"):]
	if j := strings.IndexByte(id, '?'); j >= 0 {
		id = id[:j]
	}
	return id
}

func TestSIRETCheck_B1(t *testing.T) {
	for s, want := range map[string]bool{goodSIRET: true, "73282932000075": false, "7328293200007": false, "7328293200007A": false,
		"35600000000001": true, "35600000000002": false} {
		if got := validSIRET(s); got != want {
			t.Errorf("validSIRET(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestCreateSubscriptionFieldErrors_B1: a bad SIRET, a direct debit without its mandate, a
// number that is none, a missing specification each come back next to their field (422)
// and nothing is stored; the good form stores a pending subscription with its number in
// E.164, its options, its specification as version 1 and a readable reference.
func TestCreateSubscriptionFieldErrors_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		cases := []struct {
			name, field, text string
			edit              func(url.Values)
		}{
			{"bad SIRET", "legal_id", "Ce SIRET n’est pas valide", func(v url.Values) { v.Set("legal_id", "73282932000075") }},
			{"French client without SIRET", "legal_id", "Le SIRET est obligatoire", func(v url.Values) { v.Set("legal_id", "") }},
			{"debit without mandate", "mandate_ref", "référence du mandat", func(v url.Values) { v.Set("mandate_ref", "") }},
			{"no number", "phone", "numéro de téléphone n’est pas valide", func(v url.Values) { v.Set("phone", "12") }},
			{"no specification", "specification", "obligatoire", func(v url.Values) { v.Set("specification", "") }},
			// walkthrough 14: an invoice carries the client's address, whatever his country
			{"no street", "street", "L’adresse est obligatoire", func(v url.Values) { v.Set("street", "") }},
			{"no postcode", "postcode", "L’adresse est obligatoire", func(v url.Values) { v.Set("postcode", " ") }},
			{"no city abroad", "city", "L’adresse est obligatoire", func(v url.Values) { v.Set("country", "BE"); v.Set("legal_id", ""); v.Set("city", "") }},
			// walkthrough 18: the country is chosen from the list of countries
			{"no country", "country", "Choisissez le pays dans la liste", func(v url.Values) { v.Set("country", "ZZ") }},
			{"partial hours backwards", "hours_profile", "heure d’ouverture", func(v url.Values) {
				v.Set("hours_profile", "partial")
				v.Set("h1_opens", "18:00")
				v.Set("h1_closes", "09:00")
			}},
		}
		for _, c := range cases {
			form := f.form("01 44 55 66 77")
			c.edit(form)
			res := f.send(f.A, clerk, "POST", "/billing/manage/subscriptions/new", form)
			body := string(res.Body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-`+c.field+`"`) || !strings.Contains(strings.ReplaceAll(body, "&rsquo;", "’"), c.text) {
				t.Errorf("%s: status %d, want 422 with %q next to %s", c.name, res.Status, c.text, c.field)
			}
			if n := len(f.subs(f.A)); n != 0 {
				t.Fatalf("%s: %d subscriptions stored", c.name, n)
			}
		}
		// a client established abroad has no SIRET
		abroad := f.form("01 44 55 66 77")
		abroad.Set("country", "BE")
		abroad.Set("legal_id", "")
		abroad.Set("payment_method", "transfer")
		id := f.create(abroad)
		s := f.sub(id)
		if s.State != subPending || s.PhoneNumber != "+33144556677" || s.LegalID != "" || s.Country != "BE" || s.PaymentMethod != payTransfer || s.MandateRef != "" {
			t.Fatalf("stored %+v", s)
		}
		if !regexp.MustCompile(`^ABO-2026-[2-9A-HJ-NP-Z]{5}$`).MatchString(s.Reference) {
			t.Errorf("reference %q is not readable", s.Reference)
		}
		if s.UserID != client.ID {
			t.Errorf("the client's login is %q, want %q (B1: assigned at subscription)", s.UserID, client.ID)
		}
		// a client with no account yet gets one, invited in his language
		fresh := f.form("01 44 55 66 79")
		fresh.Set("email", "Cabinet.Nowak@example.pl")
		fresh.Set("locale", "pl")
		fresh.Set("contact_name", "Anna Nowak")
		s2 := f.sub(f.create(fresh))
		inv := f.h.Host.Invites[len(f.h.Host.Invites)-1].Value
		if !strings.HasPrefix(s2.UserID, "invited-") || inv != [4]string{"cabinet.nowak@example.pl", "Anna Nowak", "pl", ""} {
			t.Errorf("invitation %v, user %q", inv, s2.UserID)
		}
		var specs []Specification
		var opts []SubscriptionOption
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&specs).Where("spec.subscription_id = ?", id).Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&opts).Where("sopt.subscription_id = ?", id).Scan(ctx)
		})
		if len(specs) != 1 || specs[0].Version != 1 || specs[0].Kind != specSpecification || !strings.Contains(specs[0].Body, "Prise des appels") {
			t.Errorf("specification %+v", specs)
		}
		if len(opts) != 1 || opts[0].ProductID != f.cat.Products["AGENDA"] {
			t.Errorf("options %+v", opts)
		}
		// the creation and the login are in the tenant's audit trail, about the client
		var actions []string
		for _, a := range f.h.Host.Audits {
			if a.Value.Resource == "billing/subscription/"+id {
				actions = append(actions, a.Value.Action+"@"+a.Value.Subject)
			}
		}
		if strings.Join(actions, " ") != auditSubInvited+"@"+client.ID+" "+auditSubCreated+"@"+client.ID {
			t.Errorf("audit %v", actions)
		}
		// an option that is not offered is a malformed request
		bad := f.form("01 44 55 66 78")
		bad.Set("options", "nope")
		if res := f.send(f.A, clerk, "POST", "/billing/manage/subscriptions/new", bad); res.Status != http.StatusBadRequest {
			t.Errorf("unknown option: status %d, want 400", res.Status)
		}
		// the list finds it by client, number and reference, and says its state in words
		for _, q := range []string{"martin", "01 44 55 66 77", strings.ToLower(s.Reference)} {
			res := f.send(f.A, clerk, "GET", "/billing/manage?q="+url.QueryEscape(q), nil)
			if !strings.Contains(string(res.Body), s.Reference) || !strings.Contains(string(res.Body), "En attente de signature") {
				t.Errorf("search %q: %d %s", q, res.Status, res.Body)
			}
		}
		if res := f.send(f.A, clerk, "GET", "/billing/manage?q=zzzz", nil); strings.Contains(string(res.Body), s.Reference) {
			t.Error("search zzzz found the subscription")
		}
	})
}

// TestPhoneClashUnderConcurrency_B1: clerks recording the same dedicated number at once —
// written differently — get exactly one subscription; the others see the clash next to the
// number (422).
func TestPhoneClashUnderConcurrency_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		writings := []string{"01 44 55 66 77", "+33 1 44 55 66 77", "0144556677", "+33144556677", "01.44.55.66.77", "0033 1 44 55 66 77"}
		statuses := make([]int, len(writings))
		bodies := make([]string, len(writings))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range writings {
			wg.Add(1)
			go func(i int, p string) {
				defer wg.Done()
				<-start
				form := f.form(p)
				form.Set("client_name", fmt.Sprintf("Cabinet %d", i))
				req := &sdk.Request{Method: "POST", Path: "/billing/manage/subscriptions/new", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(form.Encode())}
				res, err := f.h.Send(context.Background(), f.A, clerk, req)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i], bodies[i] = res.Status, string(res.Body)
			}(i, p)
		}
		close(start)
		wg.Wait()
		won := 0
		for i, st := range statuses {
			switch {
			case st == http.StatusSeeOther:
				won++
			case st == http.StatusUnprocessableEntity && strings.Contains(bodies[i], `id="e-phone"`) && strings.Contains(bodies[i], "déjà celui d’un autre abonnement"):
			default:
				t.Errorf("writing %q: status %d", writings[i], st)
			}
		}
		if subs := f.subs(f.A); won != 1 || len(subs) != 1 {
			t.Fatalf("%d won, %d stored; want exactly one", won, len(subs))
		}
		// a terminated subscription frees its number; another tenant has its own numbers
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subTerminated).Where("1 = 1").Exec(ctx)
			return err
		})
		f.create(f.form("01 44 55 66 77"))
		f.seedCatalog(f.B)
	})
}

// TestAmendmentsVersioned_B1: each amendment is a new version with its dates; the earlier
// versions stay as they were; a change of plan, options or hours takes effect at the next
// period, applied by the nightly job.
func TestAmendmentsVersioned_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		sub := f.subscribe(f.A, client, f.cat.Products["ESSENTIEL"], Date{2026, 10, 10}, "+33144556677", f.cat.Products["AGENDA"])
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Specification{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, Version: 1, Kind: specSpecification, Body: "Cahier initial",
				EffectiveOn: Date{2026, 10, 10}, CreatedAt: f.now}).Exec(ctx)
			return err
		})
		path := "/billing/manage/subscriptions/" + sub.ID + "/amendments"
		// no text: refused next to the field, nothing stored
		res := f.send(f.A, clerk, "POST", path, url.Values{"body": {""}, "effective_on": {"2026-11-26"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-body"`) {
			t.Fatalf("empty amendment: %d", res.Status)
		}
		res = f.send(f.A, clerk, "POST", path, url.Values{"body": {"Passage à la formule Confort, sans option, permanence réduite."}, "effective_on": {"2026-11-26"},
			"plan": {f.cat.Products["CONFORT"]}, "change_options": {"on"}, "hours_profile": {"partial"}, "h1_opens": {"09:00"}, "h1_closes": {"12:00"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("amendment: %d %s", res.Status, res.Body)
		}
		if res = f.send(f.A, clerk, "POST", path, url.Values{"body": {"Transfert des messages par e-mail."}, "effective_on": {"2026-12-01"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("second amendment: %d", res.Status)
		}
		var specs []Specification
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&specs).Where("spec.subscription_id = ?", sub.ID).Order("spec.version").Scan(ctx)
		})
		if len(specs) != 3 || specs[0].Body != "Cahier initial" || specs[1].Version != 2 || specs[1].Kind != specAmendment || specs[2].Version != 3 ||
			specs[1].EffectiveOn != (Date{2026, 11, 26}) || specs[2].EffectiveOn != (Date{2026, 12, 1}) {
			t.Fatalf("versions %+v", specs)
		}
		// the change waits for the next period (10 December); the page says so
		if s := f.sub(sub.ID); s.PlanID != f.cat.Products["ESSENTIEL"] {
			t.Fatal("the plan changed before the next period")
		}
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID, nil).Body)
		for _, want := range []string{"Cahier des charges (version 1)", "Avenant (version 2)", "Avenant (version 3)", "Nouvelle formule : Confort",
			"S’appliquera le 10/12/2026", "Transfert des messages"} {
			if !strings.Contains(page, want) {
				t.Errorf("subscription page lacks %q", want)
			}
		}
		f.now = time.Date(2026, 12, 9, 23, 30, 0, 0, time.UTC) // 00:30 on the 10th in Paris
		if err := f.h.Job(context.Background(), f.A, jobApplyChanges, nil); err != nil {
			t.Fatal(err)
		}
		s := f.sub(sub.ID)
		h, _ := parseHours(f.A, s.Hours)
		if s.PlanID != f.cat.Products["CONFORT"] || h.Profile != hoursPartial || len(h.Days) != 1 {
			t.Fatalf("after the job: plan %s hours %s", s.PlanID, s.Hours)
		}
		var opts []SubscriptionOption
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&opts).Where("sopt.subscription_id = ?", sub.ID).Scan(ctx)
		})
		if len(opts) != 0 {
			t.Errorf("options %+v, want none", opts)
		}
		// the job again changes nothing; the texts were never edited
		if err := f.h.Job(context.Background(), f.A, jobApplyChanges, nil); err != nil {
			t.Fatal(err)
		}
		var again []Specification
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&again).Where("spec.subscription_id = ?", sub.ID).Order("spec.version").Scan(ctx)
		})
		for i := range specs {
			if again[i].Body != specs[i].Body || again[i].Version != specs[i].Version {
				t.Errorf("version %d edited", specs[i].Version)
			}
		}
	})
}

// TestSignStoresTermsVersion_P6: the client sees his pending subscription and the terms in
// force; without ticking acceptance nothing changes (422); once he accepts, the terms
// version, the acceptance and the signature are stored and the subscription is active from
// the agreed start day.
func TestSignStoresTermsVersion_P6(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		form := f.form("01 44 55 66 77")
		form.Set("starts_on", "2026-12-01")
		id := f.create(form)
		home := string(f.send(f.A, client, "GET", "/billing", nil).Body)
		if !strings.Contains(home, "/billing/sign/"+id) || !strings.Contains(home, "du lundi au vendredi : 08:00–20:00") {
			t.Fatalf("portal: %s", home)
		}
		page := f.send(f.A, client, "GET", "/billing/sign/"+id, nil)
		for _, want := range []string{"Essentiel", "89,00", "Gestion de l’agenda partagé", "Prise des appels", "/terms/billing", "Terms billing, version 1"} {
			if !strings.Contains(string(page.Body), want) && !strings.Contains(string(page.Body), strings.ReplaceAll(want, "’", "&#39;")) {
				t.Errorf("sign page lacks %q", want)
			}
		}
		res := f.send(f.A, client, "POST", "/billing/sign/"+id, url.Values{})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-accept"`) {
			t.Fatalf("sign without acceptance: %d", res.Status)
		}
		if s := f.sub(id); s.State != subPending || s.TermsVersion != "" || !s.SignedAt.IsZero() {
			t.Fatalf("signed without acceptance: %+v", s)
		}
		if res := f.send(f.A, client, "POST", "/billing/sign/"+id, url.Values{"accept": {"on"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("sign: %d", res.Status)
		}
		s := f.sub(id)
		if s.State != subActive || s.TermsVersion != "v1" || s.TermsAcceptedAt.IsZero() || s.SignedAt.IsZero() || s.StartsOn != (Date{2026, 12, 1}) {
			t.Fatalf("signed: %+v", s)
		}
		// signing again changes nothing
		f.send(f.A, client, "POST", "/billing/sign/"+id, url.Values{"accept": {"on"}})
		if again := f.sub(id); !again.SignedAt.Time.Equal(s.SignedAt.Time) {
			t.Error("signed twice")
		}
		// a subscription with no agreed day starts on the signing day
		id2 := f.create(f.form("01 44 55 66 78"))
		f.send(f.A, client, "POST", "/billing/sign/"+id2, url.Values{"accept": {"on"}})
		if s := f.sub(id2); s.State != subActive || s.StartsOn != (Date{2026, 11, 26}) {
			t.Fatalf("second: %+v", s)
		}
		// no terms version, no active subscription
		sub := f.sub(f.create(f.form("01 44 55 66 79")))
		err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.activate(ctx, sc, &sub, signOnline, "", Date{2026, 11, 26}, client.ID, f.now)
			return err
		})
		if err == nil {
			t.Error("activated without a terms version")
		}
		// nor can any writer of the database make it active without one
		err = f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subActive).Where("sub.id = ?", sub.ID).Exec(ctx)
			return err
		})
		if err == nil || f.sub(sub.ID).State != subPending {
			t.Errorf("the database let a subscription become active without a terms version: %v", err)
		}
	})
}

// TestOthersCannotSeeOrSign_B1: another client (or the same id in another tenant) gets 404
// on the signing page and its form, and the subscription stays pending.
func TestOthersCannotSeeOrSign_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		id := f.create(f.form("01 44 55 66 77"))
		for _, c := range []struct {
			ten sdk.Tenant
			u   *sdk.User
		}{{f.A, client2}, {f.B, client}} {
			if res := f.send(c.ten, c.u, "GET", "/billing/sign/"+id, nil); res.Status != http.StatusNotFound {
				t.Errorf("%s/%s GET: %d", c.ten.ID, c.u.ID, res.Status)
			}
			if res := f.send(c.ten, c.u, "POST", "/billing/sign/"+id, url.Values{"accept": {"on"}}); res.Status != http.StatusNotFound {
				t.Errorf("%s/%s POST: %d", c.ten.ID, c.u.ID, res.Status)
			}
			if res := f.send(c.ten, c.u, "GET", "/billing", nil); strings.Contains(string(res.Body), id) || strings.Contains(string(res.Body), "Essentiel") {
				t.Errorf("%s/%s sees it in the portal", c.ten.ID, c.u.ID)
			}
		}
		if s := f.sub(id); s.State != subPending {
			t.Fatalf("state %s", s.State)
		}
	})
}

// TestPaperSignature_B1: the clerk records a paper order form signed on a day; the client's
// acceptance of the terms is required, the terms version in force is stored and the
// subscription becomes active.
func TestPaperSignature_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		id := f.create(f.form("01 44 55 66 77"))
		path := "/billing/manage/subscriptions/" + id + "/paper"
		for _, c := range []struct {
			form  url.Values
			field string
		}{
			{url.Values{"paper_on": {"2026-11-24"}}, "paper_terms"},
			{url.Values{"paper_on": {"2026-11-27"}, "paper_terms": {"on"}}, "paper_on"},
			{url.Values{"paper_on": {"hier"}, "paper_terms": {"on"}}, "paper_on"},
		} {
			res := f.send(f.A, clerk, "POST", path, c.form)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-`+c.field+`"`) {
				t.Errorf("%v: %d", c.form, res.Status)
			}
		}
		if s := f.sub(id); s.State != subPending {
			t.Fatal("activated by a refused form")
		}
		if res := f.send(f.A, clerk, "POST", path, url.Values{"paper_on": {"2026-11-24"}, "paper_terms": {"on"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("paper: %d", res.Status)
		}
		s := f.sub(id)
		if s.State != subActive || s.TermsVersion != "v1-billing" || s.StartsOn != (Date{2026, 11, 24}) || s.TermsAcceptedAt.IsZero() {
			t.Fatalf("paper signed: %+v", s)
		}
		var sig Signature
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&sig).Where("sig.subscription_id = ?", id).Scan(ctx)
		})
		if sig.Method != signPaper || sig.SignedOn != (Date{2026, 11, 24}) || sig.TermsVersion != "v1-billing" || sig.RecordedBy != clerk.ID {
			t.Errorf("signature %+v", sig)
		}
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+id, nil).Body)
		if !strings.Contains(page, "signé sur papier le 24/11/2026") {
			t.Errorf("the page does not say the paper signature")
		}
		if strings.Contains(page, "v1-billing") {
			t.Error("the page shows the terms version's id")
		}
	})
}

// TestPortalNoticeB12: the portal shows the no-medical-advice notice (B12) in fr, pl and sk,
// the answering hours in words and, for a suspended subscription, why.
func TestPortalNoticeB12(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		sub := f.subscribe(f.A, client, f.cat.Products["ESSENTIEL"], Date{2026, 10, 10}, "+33144556677")
		for lang, want := range map[string][]string{
			"fr": {"ne constituent en aucun cas un diagnostic médical", "du lundi au vendredi : 08:00–20:00", "samedi : 08:00–13:00", "Actif"},
			"pl": {"nie stanowią diagnozy medycznej", "poniedziałek – piątek: 08:00–20:00", "Aktywny"},
			"sk": {"nie sú lekárskou diagnózou", "pondelok – piatok: 08:00–20:00", "Aktívne"},
		} {
			ten := f.A
			ten.Locale = lang
			res := f.send(ten, client, "GET", "/billing", nil)
			for _, w := range want {
				if res.Status != http.StatusOK || !strings.Contains(string(res.Body), w) {
					t.Errorf("%s: status %d, no %q", lang, res.Status, w)
				}
			}
			if !strings.Contains(string(res.Body), sub.Reference) {
				t.Errorf("%s: no reference", lang)
			}
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subSuspended).Set("suspended_at = ?", f.now).Where("sub.id = ?", sub.ID).Exec(ctx)
			return err
		})
		if body := string(f.send(f.A, client, "GET", "/billing", nil).Body); !strings.Contains(body, "service suspendu depuis le 26/11/2026 faute de paiement") {
			t.Errorf("suspension not explained: %s", body)
		}
		// the shared agenda is linked when the firm gave its address (B2)
		withAgenda := f.A
		withAgenda.Rules = map[string]any{"billing.agenda_url": "https://agenda.example.fr/cabinet"}
		if body := string(f.send(withAgenda, client, "GET", "/billing", nil).Body); !strings.Contains(body, `href="https://agenda.example.fr/cabinet"`) || !strings.Contains(body, "Mon agenda partagé") {
			t.Error("no link to the shared agenda")
		}
		if body := string(f.send(f.A, client, "GET", "/billing", nil).Body); strings.Contains(body, "Mon agenda partagé") {
			t.Error("a link to an agenda the firm did not give")
		}
		// no notice missing for someone without subscription
		if body := string(f.send(f.A, client2, "GET", "/billing", nil).Body); !strings.Contains(body, "diagnostic médical") {
			t.Error("no notice without a subscription")
		}
	})
}

// TestSubscriptionsForgetAndExport_P11: the export holds the client's subscription; on
// account deletion the subscription is kept, detached.
func TestSubscriptionsForgetAndExport_P11(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		sub := f.subscribe(f.A, client, f.cat.Products["ESSENTIEL"], Date{2026, 10, 10}, "+33144556677")
		raw, err := f.h.Export(context.Background(), f.A, client.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), sub.Reference) || !strings.Contains(string(raw), "+33144556677") || got["billing_subscriptions"] == nil {
			t.Fatalf("export %s", raw)
		}
		if err := f.h.Event(context.Background(), f.A, "user.deleted", []byte(client.ID)); err != nil {
			t.Fatal(err)
		}
		if s := f.sub(sub.ID); s.UserID != "" || s.Reference != sub.Reference {
			t.Fatalf("after deletion: %+v", s)
		}
	})
}

// TestSubscriptionTablesScoped: the part's own tables are reached only through a tenant
// scope, like the frame's (TestFrameHolds).
func TestSubscriptionTablesScoped(t *testing.T) {
	kittest.Check(t, func() *kit.Module { return newModule().Module }, (*SpecChange)(nil), (*Signature)(nil))
}

// TestAmendmentsConcurrent_B1: clerks adding amendments at once get successive versions,
// none lost and none refused.
func TestAmendmentsConcurrent_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		id := f.create(f.form("01 44 55 66 77"))
		const n = 5
		var wg sync.WaitGroup
		statuses := make([]int, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				form := url.Values{"body": {fmt.Sprintf("Avenant %d", i)}, "effective_on": {"2026-12-01"}}
				req := &sdk.Request{Method: "POST", Path: "/billing/manage/subscriptions/" + id + "/amendments",
					Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(form.Encode())}
				res, err := f.h.Send(context.Background(), f.A, clerk, req)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}(i)
		}
		close(start)
		wg.Wait()
		for i, st := range statuses {
			if st != http.StatusSeeOther {
				t.Errorf("amendment %d: status %d", i, st)
			}
		}
		var specs []Specification
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&specs).Where("spec.subscription_id = ?", id).Order("spec.version").Scan(ctx)
		})
		if len(specs) != n+1 {
			t.Fatalf("%d versions, want %d", len(specs), n+1)
		}
		for i, s := range specs {
			if s.Version != i+1 {
				t.Errorf("version %d at %d", s.Version, i)
			}
		}
	})
}

// TestSubscriptionPagesInEveryLanguage: the clerk's and the client's pages of the part, its
// form with errors included, have every message in fr, pl and sk and show no internal key,
// id or state code.
func TestSubscriptionPagesInEveryLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		id := f.create(f.form("01 44 55 66 77"))
		f.send(f.A, clerk, "POST", "/billing/manage/subscriptions/"+id+"/amendments", url.Values{"body": {"Avenant"}, "effective_on": {"2026-12-01"},
			"plan": {f.cat.Products["CONFORT"]}, "change_options": {"on"}, "hours_profile": {"full"}})
		bad := f.form("01 44 55 66 78")
		bad.Set("legal_id", "1")
		bad.Set("hours_profile", "partial")
		leak := regexp.MustCompile(`billing\.[a-z_]+\.[a-z_.0-9]+|\b(pending|active|suspended|terminated|debit|transfer|cheque)\b|` + id)
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			for _, p := range []struct {
				u      *sdk.User
				method string
				path   string
				form   url.Values
				status int
			}{
				{clerk, "GET", "/billing/manage", nil, 200},
				{clerk, "GET", "/billing/manage/subscriptions/new", nil, 200},
				{clerk, "POST", "/billing/manage/subscriptions/new", bad, 422},
				{clerk, "GET", "/billing/manage/subscriptions/" + id, nil, 200},
				{client, "GET", "/billing", nil, 200},
				{client, "GET", "/billing/sign/" + id, nil, 200},
				{client, "POST", "/billing/sign/" + id, url.Values{}, 422},
			} {
				res := f.send(ten, p.u, p.method, p.path, p.form)
				if res.Status != p.status {
					t.Errorf("%s %s %s: status %d", lang, p.method, p.path, res.Status)
				}
				// the page's text, without its tags and attributes (links carry ids)
				text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(string(res.Body), " ")
				if m := leak.FindString(text); m != "" {
					t.Errorf("%s %s %s shows %q", lang, p.method, p.path, m)
				}
			}
		}
	})
}

// TestAmendmentWaitsForItsPeriod_B1 (walkthrough 1): an amendment to a subscription not yet
// signed changed the plan at once. A change applies from the first period that starts on
// or after its effective day, signed or not: the subscription signed on 26/11 (its start)
// with a change effective 10/12 keeps its plan until its period of 26/12.
func TestAmendmentWaitsForItsPeriod_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b) // today is 26/11/2026
		id := f.create(f.form("01 44 55 66 77"))
		res := f.send(f.A, clerk, "POST", "/billing/manage/subscriptions/"+id+"/amendments", url.Values{"body": {"Passage à la formule Confort."},
			"effective_on": {"2026-12-10"}, "plan": {f.cat.Products["CONFORT"]}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("amendment: %d", res.Status)
		}
		if s := f.sub(id); s.PlanID != f.cat.Products["ESSENTIEL"] {
			t.Fatal("the unsigned subscription's plan changed before the change's day")
		}
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+id, nil).Body)
		if strings.Contains(page, "Appliqué") || !strings.Contains(page, "S’appliquera le 10/12/2026") {
			t.Errorf("before signature the page should say the change waits for 10/12")
		}
		if res := f.send(f.A, client, "POST", "/billing/sign/"+id, url.Values{"accept": {"on"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("sign: %d", res.Status)
		}
		s := f.sub(id)
		if s.StartsOn != (Date{2026, 11, 26}) || s.PlanID != f.cat.Products["ESSENTIEL"] {
			t.Fatalf("after signing: starts %v plan %s, want 26/11 and the plan signed", s.StartsOn, s.PlanID)
		}
		page = string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+id, nil).Body)
		if !strings.Contains(page, "S’appliquera le 26/12/2026") {
			t.Errorf("after signature the change should wait for the period of 26/12")
		}
		// the job on 10/12 changes nothing; on 26/12 the new plan applies
		f.now = time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC)
		if err := f.h.Job(context.Background(), f.A, jobApplyChanges, nil); err != nil {
			t.Fatal(err)
		}
		if s := f.sub(id); s.PlanID != f.cat.Products["ESSENTIEL"] {
			t.Fatal("the change applied mid-period")
		}
		f.now = time.Date(2026, 12, 26, 8, 0, 0, 0, time.UTC)
		if err := f.h.Job(context.Background(), f.A, jobApplyChanges, nil); err != nil {
			t.Fatal(err)
		}
		if s := f.sub(id); s.PlanID != f.cat.Products["CONFORT"] {
			t.Fatal("the change did not apply at the period of 26/12")
		}
		// the same on a signed subscription: appliesOn counts periods from the start
		for _, c := range []struct{ start, eff, want Date }{
			{Date{2026, 11, 26}, Date{2026, 12, 10}, Date{2026, 12, 26}},
			{Date{2026, 11, 26}, Date{2026, 12, 26}, Date{2026, 12, 26}},
			{Date{2026, 11, 26}, Date{2026, 11, 1}, Date{2026, 11, 26}},
			{Date{}, Date{2026, 12, 10}, Date{2026, 12, 10}},
		} {
			if got := appliesOn(c.start, c.eff); got != c.want {
				t.Errorf("appliesOn(%v, %v) = %v, want %v", c.start, c.eff, got, c.want)
			}
		}
	})
}

// TestSubscriptionPagesInWords_B1 (walkthrough 18, 22): the clerk chooses the client's
// country by its name in his own language, and reads it, the dedicated number and the SIRET
// as people write them, never as stored codes.
func TestSubscriptionPagesInWords_B1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b)
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/new", nil).Body)
		if !strings.Contains(page, `<option value="FR" selected>France</option>`) || !strings.Contains(page, `<option value="BE">Belgique</option>`) {
			t.Errorf("the new-subscription form offers no country by its French name")
		}
		pl := f.A
		pl.Locale = "pl"
		if page := string(f.send(pl, clerk, "GET", "/billing/manage/subscriptions/new", nil).Body); !strings.Contains(page, `<option value="BE">Belgia</option>`) {
			t.Errorf("the Polish form offers no country by its Polish name")
		}
		id := f.create(f.form("01 44 55 66 77"))
		page = html.UnescapeString(string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+id, nil).Body))
		for _, want := range []string{"Paris<br>France", "732 829 320 00074", "+33 1 44 55 66 77"} {
			if !strings.Contains(page, want) {
				t.Errorf("subscription page lacks %q", want)
			}
		}
		for _, raw := range []string{"+33144556677", goodSIRET, "Paris FR"} {
			if strings.Contains(page, raw) {
				t.Errorf("subscription page shows %q as stored", raw)
			}
		}
		list := html.UnescapeString(string(f.send(f.A, clerk, "GET", "/billing/manage", nil).Body))
		if !strings.Contains(list, "+33 1 44 55 66 77") || strings.Contains(list, "+33144556677") {
			t.Errorf("the list shows the number unformatted")
		}
	})
}

// TestPortalOverdueAndNotice_B6 (walkthrough 5, 23): the client's portal tells him of his
// invoices past due — number, due day, amount still due, a link to each — and of the formal
// notice sent for them with its day, amount and the day it expires (the notice days are the
// tenant's rule); what is due counts payments and credit notes alike; paid, early or other
// clients' invoices are not listed; the portal does not repeat the module's navigation.
func TestPortalOverdueAndNotice_B6(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setupSubs(t, b) // today is 26/11/2026
		sub := f.subscribe(f.A, client, f.cat.Products["ESSENTIEL"], Date{2026, 9, 10}, "+33144556677")
		other := f.subscribe(f.A, client2, f.cat.Products["ESSENTIEL"], Date{2026, 9, 10}, "+33144556678")
		num := func(s string) *string { return &s }
		inv := func(subID, number string, due Date, total, paid int64) Invoice {
			return Invoice{ID: newID(), Kind: invInvoice, SubscriptionID: subID, State: invIssued, Number: num(number), PeriodStart: due, PeriodEnd: due,
				IssuedOn: due, DueOn: due, Currency: "EUR", Locale: "fr", TotalMinor: total, PaidMinor: paid, CreatedAt: f.now}
		}
		invs := []Invoice{
			inv(sub.ID, "FA-2026-0010", Date{2026, 10, 20}, 10680, 0),    // late, unpaid
			inv(sub.ID, "FA-2026-0011", Date{2026, 11, 20}, 10680, 3000), // late, partly paid and partly credited (10 €, below)
			inv(sub.ID, "FA-2026-0009", Date{2026, 9, 20}, 10680, 10680), // paid
			inv(sub.ID, "FA-2026-0012", Date{2026, 11, 26}, 10680, 0),    // due today: not late
			inv(other.ID, "FA-2026-0013", Date{2026, 10, 20}, 9999, 0),   // another client's
		}
		invs[1].CreditedMinor = 1000 // a credit note lowers what is due, as a payment does
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			for i := range invs {
				invs[i].TenantID = sc.TenantID
				if _, err := sc.Insert(&invs[i]).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		home := html.UnescapeString(string(f.send(f.A, client, "GET", "/billing", nil).Body))
		for _, want := range []string{"Paiement en retard", "Facture FA-2026-0010, échue le 20/10/2026 : 106,80\u00a0€ restant dû",
			"Facture FA-2026-0011, échue le 20/11/2026 : 66,80\u00a0€ restant dû", "Reste à payer : 173,60\u00a0€", "/billing/invoices/" + invs[0].ID} {
			if !strings.Contains(home, want) {
				t.Errorf("portal lacks %q", want)
			}
		}
		for _, not := range []string{"FA-2026-0009", "FA-2026-0012", "FA-2026-0013", "mise en demeure"} {
			if strings.Contains(home, not) {
				t.Errorf("portal shows %q", not)
			}
		}
		// walkthrough 23: the module's navigation lists the client's pages once
		if n := strings.Count(home, `href="/billing/usage"`); n != 1 {
			t.Errorf("the portal links his consumption %d times, want once (the navigation)", n)
		}
		// the formal notice sent on 23/11 (15 days by default, 10 by the tenant's rule)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Notice{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, InvoiceIDs: invs[0].ID + "," + invs[1].ID, UnpaidMinor: 17360,
				SentAt: f.now.AddDate(0, 0, -3), SentOn: Date{2026, 11, 23}}).Exec(ctx)
			return err
		})
		ten := f.A
		ten.Rules = map[string]any{"billing.formal_notice_days": 10}
		for lang, want := range map[string]string{
			"fr": "Une mise en demeure de payer 173,60\u00a0€ vous a été envoyée le 23/11/2026. Sans paiement d’ici le 03/12/2026",
			"pl": "23.11.2026 wysłaliśmy Państwu wezwanie do zapłaty kwoty 173,60\u00a0€. W razie braku płatności do 03.12.2026",
			"sk": "Dňa 23. 11. 2026 sme vám zaslali výzvu na zaplatenie sumy 173,60\u00a0€. Ak do 3. 12. 2026",
		} {
			ten.Locale = lang
			home := html.UnescapeString(string(f.send(ten, client, "GET", "/billing", nil).Body))
			if !strings.Contains(home, want) {
				t.Errorf("%s: portal lacks %q", lang, want)
			}
		}
		// the other client reads nothing of it
		if home := string(f.send(f.A, client2, "GET", "/billing", nil).Body); strings.Contains(home, "mise en demeure") || strings.Contains(home, "FA-2026-0010") {
			t.Error("another client's portal shows the notice")
		}
		// once paid, neither the invoices nor the notice are shown
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Invoice)(nil)).Set("paid_minor = total_minor").Where("inv.subscription_id = ?", sub.ID).Exec(ctx)
			return err
		})
		if home := string(f.send(f.A, client, "GET", "/billing", nil).Body); strings.Contains(home, "Paiement en retard") || strings.Contains(home, "mise en demeure") {
			t.Error("the portal still shows what was paid")
		}
	})
}
