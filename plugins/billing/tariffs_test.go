package billing

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// TestB4AnnounceNoticesEachClientInHisLanguage: announcing a draft makes it announced,
// effective one month (billing.tariff_notice_months) after the announcement; every live
// subscription's client gets one notice, in his language, with his plan's and options' new
// prices beside the old, the effective day, the refusal deadline (10 days) and what a
// refusal leads to. A terminated subscription and another tenant's clients get nothing; a
// second announcement sends nothing again.
func TestB4AnnounceNoticesEachClientInHisLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.seedCatalog(f.B)
		fr := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001", cat.Products["AGENDA"])
		pl := f.subscribe(f.A, clientPL, cat.Products["CONFORT"], d(2026, 5, 2), "+33100000002")
		f.setLocale(f.A, pl, "pl")
		gone := f.subscribe(f.A, clientSK, cat.Products["CONFORT"], d(2025, 1, 2), "+33100000003")
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subTerminated).Where("id = ?", gone.ID).Exec(ctx)
			return err
		})
		f.subscribe(f.B, client, "x", d(2026, 3, 31), "+33100000009")
		tid := f.draftTariff(f.A, cat)

		res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}})
		if res.Status != 303 {
			t.Fatalf("announce: %d %s", res.Status, res.Body)
		}
		var tar Tariff
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&tar).Where("tar.id = ?", tid).Scan(ctx)
		})
		if tar.State != tariffAnnounced || tar.EffectiveOn != d(2026, 12, 26) || tar.AnnouncedAt.IsZero() {
			t.Fatalf("announced tariff: %+v", tar)
		}
		notices := f.sentOf(tmplTariffNotice)
		if len(notices) != 2 {
			t.Fatalf("notices: %d, want one per live subscription (2)", len(notices))
		}
		byUser := map[string]int{}
		for i, n := range notices {
			byUser[n.UserID] = i
		}
		frMsg, plMsg := notices[byUser[client.ID]], notices[byUser[clientPL.ID]]
		frText := f.mailText("fr", frMsg)
		for _, want := range []string{"26/12/2026", "06/12/2026", "Essentiel, par mois : 89,00", "95,00", "Appel hors forfait : 0,60", "0,65",
			"Gestion de l’agenda partagé, par mois : 25,00", "27,00", "lettre recommandée avec accusé de réception", "10 jours", "la date d’envoi fait foi",
			"vous gardez l’ancien tarif", "3 mois", fr.Reference} {
			if !strings.Contains(strings.ReplaceAll(frText, "\u00a0", " "), want) {
				t.Errorf("French notice lacks %q:\n%s", want, frText)
			}
		}
		if strings.Contains(frText, "Confort") {
			t.Errorf("the French client's notice names a plan he does not have:\n%s", frText)
		}
		plText := f.mailText("pl", plMsg)
		for _, want := range []string{"26.12.2026", "06.12.2026", "Confort, miesięcznie: 179,00", "189,00", "10 dni", "listem poleconym", "liczy się data nadania", pl.Reference} {
			if !strings.Contains(strings.ReplaceAll(plText, "\u00a0", " "), want) {
				t.Errorf("Polish notice lacks %q:\n%s", want, plText)
			}
		}
		// The client's contract page gives the same prices, old → new (walkthrough 9).
		page := f.send(f.A, client, "GET", "/billing/contract", nil)
		pageText := strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		for _, want := range []string{"<li>Essentiel, par mois : 89,00 € → 95,00 €</li>", "<li>Appel hors forfait : 0,60 € → 0,65 €</li>",
			"<li>Gestion de l’agenda partagé, par mois : 25,00 € → 27,00 €</li>"} {
			if !strings.Contains(pageText, want) {
				t.Errorf("the client's contract page lacks %q:\n%s", want, pageText)
			}
		}
		if strings.Contains(pageText, "Confort") {
			t.Errorf("the client's contract page names a plan he does not have")
		}
		if len(f.audits(auditTariffAnnounced)) != 1 {
			t.Errorf("announcement audited %d times", len(f.audits(auditTariffAnnounced)))
		}
		// Announcing again (a second click) changes and sends nothing.
		if res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
			t.Fatalf("second announce: %d", res.Status)
		}
		if n := len(f.sentOf(tmplTariffNotice)); n != 2 {
			t.Errorf("a second announcement sent notices again: %d", n)
		}
		// Another tenant's clerk cannot announce it.
		if res := f.postAs(f.B, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 404 {
			t.Errorf("tenant B announced tenant A's tariff: %d", res.Status)
		}
	})
}

// TestB4NoticeMonthsAndOutcomeAreRules: a tenant whose notice is 2 months and whose refusal
// terminates the contract announces a tariff effective 2 months later, and its notice says
// that a refusal ends the contract on that day.
func TestB4NoticeMonthsAndOutcomeAreRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		tid := f.draftTariff(f.A, cat)
		ten := f.A
		ten.Rules = map[string]any{"billing.tariff_notice_months": int64(2), "billing.tariff_refusal_outcome": refusalTerminate, "billing.tariff_refusal_days": int64(15)}
		if res := f.postAs(ten, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
			t.Fatalf("announce: %d", res.Status)
		}
		n := f.sentOf(tmplTariffNotice)
		if len(n) != 1 {
			t.Fatalf("notices: %d", len(n))
		}
		text := f.mailText("fr", n[0])
		for _, want := range []string{"26/01/2027", "11/12/2026", "15 jours", "le contrat prend fin le 26/01/2027"} {
			if !strings.Contains(text, want) {
				t.Errorf("notice lacks %q:\n%s", want, text)
			}
		}
	})
}

// TestB4TariffsComeInForceOnTheirDay: the daily job puts an announced tariff in force on its
// effective day, not before.
func TestB4TariffsComeInForceOnTheirDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		tid := f.draftTariff(f.A, cat)
		if res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
			t.Fatalf("announce: %d", res.Status)
		}
		state := func() string {
			var tar Tariff
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				return sc.Select(&tar).Where("tar.id = ?", tid).Scan(ctx)
			})
			return tar.State
		}
		f.setToday(d(2026, 12, 25))
		f.job(f.A, jobTariffsInForce)
		if s := state(); s != tariffAnnounced {
			t.Fatalf("the day before: %s", s)
		}
		f.setToday(d(2026, 12, 26))
		f.job(f.A, jobTariffsInForce)
		if s := state(); s != tariffInForce {
			t.Fatalf("on its day: %s", s)
		}
	})
}

// announced announces a draft tariff on the fixture's day and returns its id.
func (f *fixture) announced(cat catalog) string {
	f.t.Helper()
	tid := f.draftTariff(f.A, cat)
	if res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
		f.t.Fatalf("announce: %d %s", res.Status, res.Body)
	}
	return tid
}

// TestB4RefusalPostmarkCounts: the notice went out on 26 November, so the refusal letter
// must be posted by 6 December (10 days). A letter posted on 7 December is refused with the
// deadline named next to its field, and nothing is recorded; one posted on 6 December and
// received days later is recorded. A letter posted before the notice, or without its
// reference, is refused too.
func TestB4RefusalPostmarkCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		tid := f.announced(cat)
		f.setToday(d(2026, 12, 10))
		path := "/billing/manage/subscriptions/" + sub.ID + "/contract/refusal"
		res := f.postAs(f.A, clerk, path, url.Values{"tariff": {tid}, "posted_on": {"2026-12-07"}, "reference": {"1A 234 567 8901 2"}})
		body := string(res.Body)
		if res.Status != 422 || !strings.Contains(body, `id="e-posted_on"`) || !strings.Contains(body, "après le délai de refus") || !strings.Contains(body, "06/12/2026") {
			t.Fatalf("late letter: %d %s", res.Status, body)
		}
		noKeys(t, body)
		for _, bad := range []url.Values{
			{"tariff": {tid}, "posted_on": {"2026-11-20"}, "reference": {"1A"}},
			{"tariff": {tid}, "posted_on": {"2026-12-04"}, "reference": {" "}},
			{"tariff": {tid}, "posted_on": {"2026-02-30"}, "reference": {"1A"}},
			{"tariff": {"nope"}, "posted_on": {"2026-12-04"}, "reference": {"1A"}},
			{"tariff": {tid}, "posted_on": {"2026-12-11"}, "reference": {"1A"}},
		} {
			if res := f.postAs(f.A, clerk, path, bad); res.Status != 422 {
				t.Errorf("%v: %d", bad, res.Status)
			}
		}
		var n int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*TariffRefusal)(nil)).Count(ctx)
			return err
		})
		if n != 0 {
			t.Fatalf("refused letters were recorded: %d", n)
		}
		res = f.postAs(f.A, clerk, path, url.Values{"tariff": {tid}, "posted_on": {"2026-12-06"}, "reference": {"1A 234 567 8901 2"}})
		if res.Status != 303 {
			t.Fatalf("letter posted on the last day: %d %s", res.Status, res.Body)
		}
		var r TariffRefusal
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&r).Where("tr.subscription_id = ?", sub.ID).Scan(ctx)
		})
		if r.PostedOn != d(2026, 12, 6) || r.Reference != "1A 234 567 8901 2" || r.Outcome != refusalKeepUntilEnd {
			t.Fatalf("refusal: %+v", r)
		}
		if len(f.audits(auditRefusalRecorded)) != 1 {
			t.Errorf("refusal not audited")
		}
		// The same refusal twice is refused.
		if res := f.postAs(f.A, clerk, path, url.Values{"tariff": {tid}, "posted_on": {"2026-12-05"}, "reference": {"X"}}); res.Status != 422 {
			t.Errorf("second refusal: %d", res.Status)
		}
	})
}

// TestB4RefusalKeepsOldTariffUntilEnd: with the default rule, a client who refused keeps the
// old tariff (tariffAt gives it to him on any day after the new one took effect, and the new
// one to everyone else), and his contract ends 3 months (the termination notice) after his
// letter's postmark; he is told by e-mail. Withdrawing that end withdraws the refusal.
func TestB4RefusalKeepsOldTariffUntilEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		other := f.subscribe(f.A, clientPL, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000002")
		tid := f.announced(cat)
		f.setToday(d(2026, 12, 3))
		res := f.postAs(f.A, clerk, "/billing/manage/subscriptions/"+sub.ID+"/contract/refusal", url.Values{"tariff": {tid}, "posted_on": {"2026-11-30"}, "reference": {"RR1"}})
		if res.Status != 303 {
			t.Fatalf("refusal: %d %s", res.Status, res.Body)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2027, 2, 28) {
			t.Errorf("ends on %v, want 28 February 2027 (30 November + 3 months, clamped)", got)
		}
		terms := f.terminations(f.A, sub.ID)
		if len(terms) != 1 || terms[0].Reason != reasonRefusal || terms[0].State != termActive {
			t.Fatalf("terminations: %+v", terms)
		}
		s := f.reload(f.A, sub.ID)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			for _, day := range []Date{d(2026, 12, 25), d(2026, 12, 26), d(2027, 2, 27)} {
				tar, prices, err := f.m.tariffAt(ctx, sc, s, day)
				if err != nil {
					return err
				}
				if tar.ID != cat.TariffID || prices[cat.Products["ESSENTIEL"]].MonthlyFeeMinor != 8900 {
					t.Errorf("the refusing client on %v: tariff %s (%d)", day, tar.Name, prices[cat.Products["ESSENTIEL"]].MonthlyFeeMinor)
				}
			}
			tar, prices, err := f.m.tariffAt(ctx, sc, other, d(2026, 12, 26))
			if err != nil {
				return err
			}
			if tar.ID != tid || prices[cat.Products["ESSENTIEL"]].MonthlyFeeMinor != 9500 {
				t.Errorf("another client on 26 December: %s", tar.Name)
			}
			tar, _, err = f.m.tariffAt(ctx, sc, other, d(2026, 12, 25))
			if err != nil {
				return err
			}
			if tar.ID != cat.TariffID {
				t.Errorf("another client the day before: %s", tar.Name)
			}
			return nil
		})
		mails := f.sentOf(tmplTerminationRecorded)
		if len(mails) != 1 || !strings.Contains(f.mailText("fr", mails[0]), "28/02/2027") || !strings.Contains(f.mailText("fr", mails[0]), "Refus des nouveaux tarifs") {
			t.Errorf("end e-mail: %+v", mails)
		}
		// The client accepts after all: the clerk withdraws the end his refusal caused, and the
		// new tariff prices his invoices from its day.
		if res := f.postAs(f.A, clerk, "/billing/manage/subscriptions/"+sub.ID+"/contract/terminations/"+terms[0].ID+"/withdraw", url.Values{}); res.Status != 303 {
			t.Fatalf("withdraw: %d", res.Status)
		}
		s = f.reload(f.A, sub.ID)
		if !s.EndsOn.IsZero() {
			t.Errorf("still ends on %v", s.EndsOn)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			tar, _, err := f.m.tariffAt(ctx, sc, s, d(2026, 12, 26))
			if err == nil && tar.ID != tid {
				t.Errorf("after the withdrawal, on 26 December: %s", tar.Name)
			}
			return err
		})
	})
}

// TestB4RefusalTerminatesWhenTheRuleSaysSo: with the rule "terminate", the refusing client's
// contract ends on the day the new tariff takes effect.
func TestB4RefusalTerminatesWhenTheRuleSaysSo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		tid := f.announced(cat)
		ten := withRules(f.A, "billing.tariff_refusal_outcome", refusalTerminate)
		res := f.postAs(ten, clerk, "/billing/manage/subscriptions/"+sub.ID+"/contract/refusal", url.Values{"tariff": {tid}, "posted_on": {"2026-11-26"}, "reference": {"RR2"}})
		if res.Status != 303 {
			t.Fatalf("refusal: %d %s", res.Status, res.Body)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2026, 12, 26) {
			t.Errorf("ends on %v, want the new tariff's day 26 December 2026", got)
		}
		var r TariffRefusal
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&r).Where("tr.subscription_id = ?", sub.ID).Scan(ctx)
		})
		if r.Outcome != refusalTerminate || r.EndsOn != d(2026, 12, 26) {
			t.Errorf("refusal: %+v", r)
		}
	})
}

// TestB4AnnounceRace: two clerks announcing the same draft at once send one notice per
// client.
func TestB4AnnounceRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		tid := f.draftTariff(f.A, cat)
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &sdk.Request{Method: "POST", Path: "/billing/manage/tariffs/" + tid + "/announce", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
					Body: []byte("confirm=1")}
				res, err := f.h.Send(context.Background(), f.A, clerk, req)
				if err != nil || res.Status != 303 {
					t.Errorf("announce: %v %+v", err, res)
				}
			}()
		}
		wg.Wait()
		if n := len(f.sentOf(tmplTariffNotice)); n != 1 {
			t.Errorf("notices: %d, want 1", n)
		}
	})
}

// TestB4AnnounceAsksConfirmation: announcing tells every client at once, so the clerk ticks
// "I confirm" first; without it the draft's page comes back (422) with the error next to the
// box, the tariff stays a draft and no notice is sent (walkthrough 12). A new draft then
// copies the announced grid, not the one in force today, so that announcing it would not
// undo the announced change (walkthrough 8).
func TestB4AnnounceAsksConfirmation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		ess := cat.Products["ESSENTIEL"]
		f.subscribe(f.A, client, ess, d(2026, 3, 31), "+33100000001")
		tid := f.draftTariff(f.A, cat)
		page := f.send(f.A, clerk, "GET", "/billing/manage/tariffs/"+tid, nil)
		// An option's row has no call or SMS price: those cells carry no label at 390 px
		// (walkthrough 26).
		if !strings.Contains(string(page.Body), `id="f-confirm" name="confirm" value="1" required`) || !strings.Contains(string(page.Body), `<td data-label=""></td>`) {
			t.Fatalf("no required confirmation box:\n%s", page.Body)
		}
		for _, form := range []url.Values{{}, {"confirm": {"on"}}} {
			res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", form)
			if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-confirm"`) ||
				!strings.Contains(body, "Cochez la case pour confirmer l’annonce") {
				t.Fatalf("announce without confirmation: %d\n%s", res.Status, body)
			}
			noKeys(t, string(res.Body))
		}
		var tar Tariff
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&tar).Where("tar.id = ?", tid).Scan(ctx)
		})
		if tar.State != tariffDraft || len(f.sentOf(tmplTariffNotice)) != 0 {
			t.Fatalf("unconfirmed announcement: %s, %d notices", tar.State, len(f.sentOf(tmplTariffNotice)))
		}
		// Confirmed: announced; a draft made now copies its prices (the draft fixture raises
		// them), not those in force today.
		if res := f.postAs(f.A, clerk, "/billing/manage/tariffs/"+tid+"/announce", url.Values{"confirm": {"1"}}); res.Status != 303 {
			t.Fatalf("confirmed announcement: %d", res.Status)
		}
		announced, inForce := f.prices(f.A, tid), f.prices(f.A, cat.TariffID)
		if announced[ess].MonthlyFeeMinor == inForce[ess].MonthlyFeeMinor {
			t.Fatalf("the fixture's draft does not change the price: %d", announced[ess].MonthlyFeeMinor)
		}
		f.post(f.A, "/billing/manage/tariffs", url.Values{"name": {"Tarif suivant"}})
		next := f.tariffs(f.A)["Tarif suivant"]
		copied := f.prices(f.A, next.ID)
		if len(copied) != len(announced) {
			t.Fatalf("copied %d prices, the announced tariff has %d", len(copied), len(announced))
		}
		for pid, p := range announced {
			if c := copied[pid]; c.MonthlyFeeMinor != p.MonthlyFeeMinor || c.CallMinor != p.CallMinor || c.SMSMinor != p.SMSMinor {
				t.Errorf("copy of %s: %+v, announced %+v", pid, c, p)
			}
		}
		// Its page says so: the hint and the comparison column name the announced grid, whose
		// prices (95,00 €) it shows, not those in force (89,00 €) (walkthrough G).
		page = f.send(f.A, clerk, "GET", "/billing/manage/tariffs/"+next.ID, nil)
		body := strings.ReplaceAll(string(page.Body), "\u00a0", " ")
		if !strings.Contains(body, `<th scope="col">Prix de la grille « Tarif 2027 »</th>`) ||
			!strings.Contains(body, `data-label="Prix de la grille « Tarif 2027 »">95,00 €`) || strings.Contains(body, "Prix actuels") {
			t.Errorf("G: the new draft's page\n%s", body)
		}
		noKeys(t, body)
		if body := string(f.send(f.A, clerk, "GET", "/billing/manage/tariffs", nil).Body); !strings.Contains(body, "Le brouillon reprend les prix de la dernière grille annoncée") {
			t.Errorf("G: the tariffs page's hint\n%s", body)
		}
	})
}
