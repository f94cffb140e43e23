package billing

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// rates2025 are the published rates around the change of 1 July 2025 (3,71 % then 2,76 %).
var rates2025 = []LegalRate{{StartsOn: Date{2025, 1, 1}, RateBP: 371}, {StartsOn: Date{2025, 7, 1}, RateBP: 276}, {StartsOn: Date{2026, 1, 1}, RateBP: 262}}

// TestPenaltyAcrossRateChange: late-payment interest accrues day by day on what is unpaid at
// the start of each day, from the day after the due day, at the multiple × the legal rate in
// force that day / 365, rounded once to the cent (B6) — across the change of rate on 1 July.
func TestPenaltyAcrossRateChange(t *testing.T) {
	due := Date{2025, 6, 20}
	for _, c := range []struct {
		name     string
		total    int64
		pays     []Payment
		asOf     Date
		multiple int64
		want     int64
	}{
		// 10 days (21–30 June) at 3,71 %, then 10 days (1–10 July) at 2,76 %, twice the rate:
		// 1 000,00 € × 2 × (10 × 3,71 % + 10 × 2,76 %) / 365 = 3,5452… → 3,55 €.
		{"across 1 July", 100000, nil, Date{2025, 7, 10}, 2, 355},
		// The due day itself accrues nothing; the day after accrues one day.
		{"due day", 100000, nil, due, 2, 0},
		{"one day", 100000, nil, Date{2025, 6, 21}, 2, 20}, // 1000 × 2 × 3,71 % / 365 = 0,2033
		// 400 € received on 1 July: that day still accrues on 1 000 €, from 2 July on 600 €:
		// 100000×2×(10×371 + 1×276) + 60000×2×9×276 = 797 200 000 + 298 080 000 → 3,0035… → 3,00 €.
		{"partial payment", 100000, []Payment{{AmountMinor: 40000, ReceivedOn: Date{2025, 7, 1}}}, Date{2025, 7, 10}, 2, 300},
		// Paid in full on 25 June: interest for 21–25 June only, nothing after.
		{"paid late", 100000, []Payment{{AmountMinor: 100000, ReceivedOn: Date{2025, 6, 25}}}, Date{2025, 12, 31}, 2, 102},
		{"three times the rate", 100000, nil, Date{2025, 7, 10}, 3, 532},
		{"no multiple", 100000, nil, Date{2025, 7, 10}, 0, 0},
	} {
		if got := penalty(c.total, c.pays, due, c.asOf, rates2025, c.multiple); got != c.want {
			t.Errorf("%s: penalty %d, want %d", c.name, got, c.want)
		}
	}
	// Property: the penalty of n days is the sum, before rounding, of each day's; it never
	// decreases as days pass, and over a whole year at one rate it is the rate × multiple.
	var prev int64
	for d := due; d.Before(Date{2026, 3, 1}); d = d.AddDays(1) {
		p := penalty(100000, nil, due, d, rates2025, 2)
		if p < prev {
			t.Fatalf("penalty fell on %v: %d after %d", d, p, prev)
		}
		prev = p
	}
	flat := []LegalRate{{StartsOn: Date{2020, 1, 1}, RateBP: 500}}
	if got := penalty(100000, nil, Date{2023, 12, 31}, Date{2024, 12, 30}, flat, 2); got != 10000 {
		t.Fatalf("365 days at 5 %% × 2 on 1 000 €: %d, want 10000", got)
	}
	if rateOn(rates2025, Date{2025, 6, 30}) != 371 || rateOn(rates2025, Date{2025, 7, 1}) != 276 || rateOn(rates2025, Date{2024, 12, 31}) != 0 {
		t.Fatal("rateOn does not follow the half-years")
	}
}

// dunFix is the payments fixture with an invoice of 106,80 € due on 5 November 2026, unpaid.
type dunFix struct {
	*payFix
	inv *Invoice
}

func newDunFix(t *testing.T, b storetest.Backend) *dunFix {
	f := &dunFix{payFix: newPayFix(t, b)}
	f.inv = f.invoice(f.sub, "F2026-0017", 10680, Date{2026, 11, 5})
	return f
}

// withRules gives tenant A rules.
func (f *dunFix) withRules(rules map[string]any) {
	f.t.Helper()
	r, err := f.h.Manifest.ValidateRules(rules)
	if err != nil {
		f.t.Fatal(err)
	}
	f.A.Rules = r
}

// TestDunningPageAndNotice: the dunning page lists the late invoice with its days late,
// unpaid amount, penalties to date (the seeded legal rate of 2026 S1, 2,62 %, twice) and the
// 40 € fee; the formal notice is a PDF letter in the client's language, stored and e-mailed
// to him attached, dated when sent (B6).
func TestDunningPageAndNotice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		// 21 days late on 26 November: 10680 × 2 × 262 × 21 / 3 650 000 = 32,2 → 0,32 €.
		res := f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil)
		body := string(res.Body)
		if res.Status != http.StatusOK || !strings.Contains(body, "F2026-0017") || !strings.Contains(body, "21 jours") ||
			!strings.Contains(body, "0,32") || !strings.Contains(body, "40,00") || !strings.Contains(body, "106,80") {
			t.Fatalf("dunning page: %d\n%s", res.Status, body)
		}
		// At 390 px the cells stack: each carries its column's name (walkthrough 25).
		if !strings.Contains(body, `<td class="num" data-label="Pénalités">`) || !strings.Contains(body, `<td data-label="Retard">21 jours</td>`) {
			t.Errorf("dunning rows without their column labels:\n%s", body)
		}
		if strings.Contains(body, "Mises en demeure restées sans effet") {
			t.Fatal("a client qualifies before any notice")
		}
		// The firm's legal identity, which the letter names as its sender (walkthrough 10).
		f.A = withRules(f.A, "tenant.legal.company", "Les Secrétaires SARL", "tenant.legal.address", "12 rue de Rivoli, 75001 Paris",
			"tenant.legal.registration", "RCS Paris 123 456 789")
		res = f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("notice: %d\n%s", res.Status, res.Body)
		}
		var n Notice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&n).Scan(ctx) })
		if n.SentOn != (Date{2026, 11, 26}) || !n.SentAt.Equal(f.now) || n.UnpaidMinor != 10680 || n.BlobID == "" {
			t.Fatalf("notice: %+v", n)
		}
		mails := f.sentOf(tmplFormalNotice)
		if len(mails) != 1 || mails[0].UserID != client.ID || len(mails[0].Attachments) != 1 {
			t.Fatalf("notice e-mails: %+v", mails)
		}
		if d := mails[0].Data; d["Delay"] != "15 jours" || !strings.Contains(d["Amount"].(string), "106,80") || d["Reference"] != f.sub.Reference {
			t.Fatalf("notice e-mail's data: %+v", d)
		}
		blob := f.h.Host.Blobs[n.BlobID].Value
		if string(blob.Data) != string(mails[0].Attachments[0].Data) {
			t.Fatal("the letter sent is not the letter kept")
		}
		text := pdftest.Text(t, blob.Data, true)
		for _, want := range []string{"Mise en demeure de payer", "Cabinet Dr Jean Martin", "26/11/2026", "AB-0017", "L441-10", "15 jours",
			"Les Secrétaires SARL", "12 rue de Rivoli, 75001 Paris", "RCS Paris 123 456 789"} {
			if !strings.Contains(text, want) {
				t.Errorf("letter lacks %q:\n%s", want, text)
			}
		}
		if l := pdftest.LineWith(text, "F2026-0017", "106,80", "0,32", "40,00"); l == "" || !strings.Contains(l, "05/11/2026") {
			t.Errorf("letter's invoice line:\n%s", text)
		}
		if pdftest.LineWith(text, "147,12") == "" { // 106,80 + 0,32 + 40,00
			t.Errorf("letter's sum claimed:\n%s", text)
		}
		if len(f.audits(auditNoticeSent)) != 1 {
			t.Fatal("notice not audited")
		}
		// A Polish-speaking client gets it in Polish.
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("locale = 'pl'").Where("id = ?", f.sub.ID).Exec(ctx)
			return err
		})
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		pl := f.sentOf(tmplFormalNotice)[1].Attachments[0]
		if text := pdftest.Text(t, pl.Data, false); !strings.Contains(text, "Wezwanie do zapłaty") || strings.Contains(text, "Mise en demeure") {
			t.Fatalf("Polish letter:\n%s", text)
		}
		// Nothing late, no notice.
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+newID()+"/notice", url.Values{"confirm": {"1"}}); res.Status != http.StatusNotFound {
			t.Fatalf("notice for nothing late: %d", res.Status)
		}
	})
}

// TestQualifiesAfterNoticeDays: a client qualifies for suspension or termination only once
// his notice was sent billing.formal_notice_days (15) days ago and is still unpaid (B6).
func TestQualifiesAfterNoticeDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		qualifying := func() bool {
			var q bool
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				ls, err := f.m.lateOf(ctx, f.A, sc, f.sub.ID)
				q = ls != nil && ls.Qualifying
				return err
			})
			return q
		}
		f.now = f.now.Add(14 * 24 * time.Hour) // 10 December: 14 days
		if qualifying() {
			t.Fatal("qualifies after 14 days")
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/terminate", url.Values{}); res.Status != http.StatusNotFound {
			t.Fatalf("termination before the notice's days: %d", res.Status)
		}
		f.now = f.now.Add(24 * time.Hour) // 11 December: 15 days
		if !qualifying() {
			t.Fatal("does not qualify after 15 days")
		}
		if body := string(f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil).Body); !strings.Contains(body, "Mises en demeure restées sans effet") ||
			!strings.Contains(body, "/billing/manage/dunning/"+f.sub.ID+"/terminate") {
			t.Fatalf("dunning page does not list the qualifying client:\n%s", body)
		}
		// The tenant's days are a rule.
		f.withRules(map[string]any{"billing.formal_notice_days": 30})
		if qualifying() {
			t.Fatal("qualifies after 15 days with a rule of 30")
		}
		f.withRules(nil)
		// Paid: no longer late, no longer qualifying.
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := f.m.recordPayment(ctx, f.A, sc, paymentIn{InvoiceID: f.inv.ID, Method: payTransfer, Amount: 10680, On: Date{2026, 12, 11}, Reference: "VIR"})
			return err
		})
		if qualifying() {
			t.Fatal("qualifies once paid")
		}
	})
}

// TestSuspendThenReactivate: the firm suspends the service for an unpaid invoice — the
// subscription is suspended with its day, the client told —; the payment that leaves nothing
// overdue reactivates it, and the client is told (B6). A partial payment does not.
func TestSuspendThenReactivate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		later := f.invoice(f.sub, "F2026-0018", 5000, Date{2026, 11, 10})
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/suspend", url.Values{"confirm": {"1"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("suspend: %d\n%s", res.Status, res.Body)
		}
		s := f.subNow()
		if s.State != subSuspended || !s.SuspendedAt.Time.Equal(f.now) || len(f.sentOf(tmplSuspended)) != 1 || len(f.audits(auditSuspended)) != 1 {
			t.Fatalf("after suspension: %s %v, %d e-mails", s.State, s.SuspendedAt, len(f.sentOf(tmplSuspended)))
		}
		// Twice is once.
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/suspend", url.Values{"confirm": {"1"}})
		if len(f.sentOf(tmplSuspended)) != 1 {
			t.Fatal("suspended twice")
		}
		f.pay(f.inv, payTransfer, "VIR 1", "106,80", "2026-11-26")
		if s := f.subNow(); s.State != subSuspended || len(f.sentOf(tmplReactivated)) != 0 {
			t.Fatalf("reactivated with an invoice still overdue: %s", s.State)
		}
		f.pay(later, payTransfer, "VIR 2", "20,00", "2026-11-26")
		if s := f.subNow(); s.State != subSuspended {
			t.Fatalf("reactivated on a partial payment: %s", s.State)
		}
		if res := f.pay(later, payTransfer, "VIR 3", "30,00", "2026-11-26"); res.Status != http.StatusSeeOther {
			t.Fatalf("last payment: %d", res.Status)
		}
		s = f.subNow()
		if s.State != subActive || !s.SuspendedAt.IsZero() || len(f.sentOf(tmplReactivated)) != 1 || len(f.audits(auditReactivated)) != 1 {
			t.Fatalf("after the payment clearing it: %s %v, %d e-mails", s.State, s.SuspendedAt, len(f.sentOf(tmplReactivated)))
		}
	})
}

// TestAfterNoticeJob: the daily job applies billing.after_notice_action to clients whose notice
// went unanswered for the tenant's days — nothing with "none", suspension with "suspend" —
// and leaves alone those whose days have not passed (B6).
func TestAfterNoticeJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		other := f.subscribe(f.A, &sdk.User{ID: "client2", Name: "Dr Paule Durand"}, "plan", Date{2026, 9, 14}, "+33140000018")
		f.invoice(other, "F2026-0030", 8900, Date{2026, 11, 5})
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		f.now = f.now.Add(10 * 24 * time.Hour)
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+other.ID+"/notice", url.Values{"confirm": {"1"}})
		f.now = f.now.Add(5 * 24 * time.Hour) // the first notice is 15 days old, the second 5
		run := func() {
			if err := f.h.Job(context.Background(), f.A, jobAfterNotice, nil); err != nil {
				t.Fatal(err)
			}
		}
		run() // the default rule: none
		if f.subNow().State != subActive {
			t.Fatal("the job acted with the rule at none")
		}
		f.withRules(map[string]any{"billing.after_notice_action": "suspend"})
		run()
		if s := f.subNow(); s.State != subSuspended || len(f.sentOf(tmplSuspended)) != 1 {
			t.Fatalf("the job did not suspend the qualifying client: %s", s.State)
		}
		var o Subscription
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&o).Where("sub.id = ?", other.ID).Scan(ctx)
		})
		if o.State != subActive {
			t.Fatal("the job suspended a client whose notice is 5 days old")
		}
		var n Notice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&n).Where("ntc.subscription_id = ?", f.sub.ID).Scan(ctx)
		})
		if n.Outcome != afterSuspend || n.DecidedAt.IsZero() {
			t.Fatalf("notice's outcome: %+v", n)
		}
		run()
		if len(f.sentOf(tmplSuspended)) != 1 {
			t.Fatal("the job suspended twice")
		}
		// Suspended, the client may still be terminated by the clerk (the contract part ends
		// the subscription): the page offers it.
		if body := string(f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil).Body); !strings.Contains(body, "/billing/manage/dunning/"+f.sub.ID+"/terminate") {
			t.Fatalf("a suspended client whose notice went unanswered is not offered for termination:\n%s", body)
		}
	})
}

// TestLegalRatesEditable: the rates are seeded with the published ones at first use, and the
// clerk sets a half-year's rate (a new one, or a correction); a day that is not 1 January or
// 1 July, or a rate that is not one, is refused next to its field (B6).
func TestLegalRatesEditable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFix(t, b)
		res := f.send(f.A, clerk, "GET", "/billing/manage/dunning/rates", nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "2,62") || !strings.Contains(string(res.Body), "5,07") {
			t.Fatalf("rates page: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/rates", url.Values{"starts_on": {"2026-07-01"}, "rate": {"2,41"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", res.Status, res.Body)
		}
		for _, bad := range []url.Values{{"starts_on": {"2026-03-01"}, "rate": {"2"}}, {"starts_on": {"2026-07-01"}, "rate": {"deux"}}, {"starts_on": {"x"}, "rate": {"2"}}} {
			if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/rates", bad); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `class="field-error"`) {
				t.Fatalf("%v: %d", bad, res.Status)
			}
		}
		var rs []LegalRate
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&rs).Order("starts_on").Scan(ctx) })
		if len(rs) != len(publishedRates)+1 || rs[len(rs)-1].RateBP != 241 || rs[len(rs)-1].UpdatedBy != clerk.ID {
			t.Fatalf("rates: %+v", rs)
		}
		// A correction replaces the half-year's rate; tenant B still has its own.
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/rates", url.Values{"starts_on": {"2026-07-01"}, "rate": {"2,40"}})
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&rs).Order("starts_on").Scan(ctx) })
		if rs[len(rs)-1].RateBP != 240 || len(rs) != len(publishedRates)+1 {
			t.Fatalf("corrected rates: %+v", rs)
		}
		if body := string(f.send(f.B, clerk, "GET", "/billing/manage/dunning/rates", nil).Body); strings.Contains(body, "2,40") {
			t.Fatal("tenant B sees tenant A's rate")
		}
	})
}

// TestPaymentsPagesEveryLanguage: the part's pages, its letter, e-mails, rule, job and audit
// actions have their words in fr, pl and sk — no message missing, no key or internal state on
// a page.
func TestPaymentsPagesEveryLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		f.creditNote(f.sub, "A2026-0001", -2000)
		f.upload("r.csv", []byte("20/11/2026;VIR INCONNU;12,00\n"))
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		f.pay(f.inv, payCheque, "12345", "10,00", "2026-11-26")
		f.now = f.now.Add(15 * 24 * time.Hour)
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/suspend", url.Values{"confirm": {"1"}})
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			for _, path := range []string{"/billing/manage/payments", "/billing/manage/payments?sub=" + f.sub.ID, "/billing/manage/payments/import",
				"/billing/manage/dunning", "/billing/manage/dunning/rates"} {
				res := f.send(ten, clerk, "GET", path, nil)
				body := string(res.Body)
				if os.Getenv("DUMP_PAGES") != "" && lang == "fr" {
					t.Log(path, "\n", body)
				}
				if res.Status != http.StatusOK {
					t.Fatalf("%s %s: %d\n%s", lang, path, res.Status, body)
				}
				for _, bad := range []string{"billing.", ">suspended<", ">transfer<", ">cheque<", f.sub.ID + "<", "%!"} {
					if strings.Contains(body, bad) {
						t.Errorf("%s %s shows %q:\n%s", lang, path, bad, body)
					}
				}
			}
			sub := f.subNow()
			sub.Locale = lang
			var ls *lateSub
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				var err error
				ls, err = f.m.lateOf(ctx, f.A, sc, f.sub.ID)
				return err
			})
			ls.Sub = &sub
			pdf, err := f.m.noticeDocument(f.A, ls, f.m.today(f.A))
			if err != nil {
				t.Fatal(err)
			}
			if text := pdftest.Text(t, pdf, false); strings.Contains(text, "billing.") {
				t.Errorf("%s letter shows a key:\n%s", lang, text)
			}
			for _, tmpl := range []string{tmplFormalNotice, tmplSuspended, tmplReactivated} {
				for _, k := range []string{"subject", "body", "name"} {
					if !f.m.Msgs.Has(lang, "mail."+tmpl+"."+k) {
						t.Errorf("%s: no mail.%s.%s", lang, tmpl, k)
					}
				}
			}
			ids := []string{"job." + jobAfterNotice, "rule.billing.after_notice_action"}
			for _, c := range []string{afterNone, afterSuspend, afterTerminate} {
				ids = append(ids, "rule.billing.after_notice_action."+c)
			}
			for _, a := range f.m.paymentsPart().AuditActions {
				ids = append(ids, "audit.action."+a, "audit.what."+a)
			}
			for _, id := range ids {
				if !f.m.Msgs.Has(lang, id) {
					t.Errorf("%s: no %s", lang, id)
				}
			}
		}
		for _, miss := range f.m.Msgs.Missing() {
			if strings.Contains(miss, "billing.payments") || strings.Contains(miss, "billing.flash.payments") {
				t.Errorf("missing message %s", miss)
			}
		}
	})
}

// TestB6IrreversibleDunningActionsAskConfirmation: the formal notice, suspending and terminating need the "I
// confirm" box ticked — without it the dunning page comes back (422) with the error next to
// the box and nothing changes. Once the contract is terminated for non-payment the page says
// so (not "service suspendu") and offers no more notice, suspension or termination (B6).
func TestB6IrreversibleDunningActionsAskConfirmation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newDunFix(t, b)
		// The formal notice goes at once: without its box ticked, 422 and no notice (walkthrough K).
		res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"from": {"l"}})
		if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-confirm_l_notice_`+f.sub.ID+`"`) ||
			!strings.Contains(body, "Cochez la case pour confirmer cette action.") || !strings.Contains(body, "Je confirme l’envoi immédiat d’une mise en demeure à") {
			t.Fatalf("notice without confirmation: %d\n%s", res.Status, body)
		}
		noKeys(t, string(res.Body))
		if n := f.countRows(f.A, (*Notice)(nil)); n != 0 || len(f.sentOf(tmplFormalNotice)) != 0 {
			t.Fatalf("notice sent without confirmation: %d notices", n)
		}
		f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/notice", url.Values{"confirm": {"1"}})
		if n := f.countRows(f.A, (*Notice)(nil)); n != 1 {
			t.Fatalf("confirmed notice: %d notices", n)
		}
		f.now = f.now.Add(15 * 24 * time.Hour)
		page := f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil)
		if body := string(page.Body); !strings.Contains(body, `id="confirm_q_terminate_`+f.sub.ID+`" name="confirm" value="1" required`) ||
			!strings.Contains(body, `id="confirm_l_suspend_`+f.sub.ID+`" name="confirm" value="1" required`) {
			t.Fatalf("no required confirmation box:\n%s", body)
		}
		res = f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/suspend", url.Values{"from": {"l"}})
		if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-confirm_l_suspend_`+f.sub.ID+`"`) ||
			!strings.Contains(body, "Cochez la case pour confirmer cette action.") {
			t.Fatalf("suspension without confirmation: %d\n%s", res.Status, body)
		}
		noKeys(t, string(res.Body))
		if s := f.subNow(); s.State != subActive || len(f.sentOf(tmplSuspended)) != 0 {
			t.Fatalf("suspended without confirmation: %s", s.State)
		}
		res = f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/terminate", url.Values{"from": {"q"}, "confirm": {"yes"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-confirm_q_terminate_`+f.sub.ID+`"`) {
			t.Fatalf("termination without confirmation: %d\n%s", res.Status, res.Body)
		}
		if s := f.subNow(); !s.EndsOn.IsZero() || len(f.audits(auditTerminatedUnpaid)) != 0 {
			t.Fatalf("terminated without confirmation: ends %v", s.EndsOn)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/suspend", url.Values{"confirm": {"1"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("confirmed suspension: %d", res.Status)
		}
		if res := f.send(f.A, clerk, "POST", "/billing/manage/dunning/"+f.sub.ID+"/terminate", url.Values{"confirm": {"1"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("confirmed termination: %d\n%s", res.Status, res.Body)
		}
		if s := f.subNow(); s.EndsOn != f.m.today(f.A) || len(f.audits(auditTerminatedUnpaid)) != 1 {
			t.Fatalf("after the confirmed termination: ends %v", s.EndsOn)
		}
		// The client is told, as for any other termination, with the end day (walkthrough F).
		if sent := f.sentOf(tmplTerminatedUnpaid); len(sent) != 1 || !strings.Contains(f.mailText("fr", sent[0]), "Nous résilions donc ce contrat pour défaut de paiement : il prend fin le 11/12/2026") {
			t.Fatalf("termination e-mail: %+v", sent)
		}
		body := string(f.send(f.A, clerk, "GET", "/billing/manage/dunning", nil).Body)
		if !strings.Contains(body, "contrat résilié, fin le 11/12/2026") || strings.Contains(body, "service suspendu") ||
			strings.Contains(body, "/billing/manage/dunning/"+f.sub.ID+"/notice") || strings.Contains(body, "/billing/manage/dunning/"+f.sub.ID+"/suspend") ||
			strings.Contains(body, "/billing/manage/dunning/"+f.sub.ID+"/terminate") || !strings.Contains(body, "F2026-0017") {
			t.Fatalf("dunning page after the termination:\n%s", body)
		}
		// Nor does the contract page offer a refusal or another termination (walkthrough 7).
		res = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+f.sub.ID+"/contract", nil)
		if body := string(res.Body); res.Status != http.StatusOK || strings.Contains(body, "/contract/termination\"") || strings.Contains(body, "/contract/refusal\"") ||
			strings.Contains(body, "/contract/letter\"") || !strings.Contains(body, "Résiliation pour défaut de paiement") {
			t.Fatalf("contract page after the termination for non-payment: %d\n%s", res.Status, body)
		}
	})
}
