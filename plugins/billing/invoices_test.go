package billing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

var paris, _ = time.LoadLocation("Europe/Paris")

// use stores usage events of sub straight in the table: n of kind at instant at (UTC).
func (f *fixture) use(ten sdk.Tenant, sub *Subscription, kind string, n int, at time.Time) {
	f.t.Helper()
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		rows := make([]Usage, n)
		for i := range rows {
			rows[i] = Usage{TenantID: ten.ID, EventID: newID(), SubscriptionID: sub.ID, Kind: kind, OccurredAt: at.UTC(), ReceivedAt: at.UTC()}
		}
		return storeNewUsage(ctx, sc, ten, map[string]*Subscription{sub.ID: sub}, rows)
	})
}

// invoices are the tenant's invoices and credit notes with their lines, in number order
// (drafts last).
func (f *fixture) invoices(ten sdk.Tenant) []Invoice {
	f.t.Helper()
	var out []Invoice
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&out).OrderExpr("inv.seq IS NULL, inv.seq, inv.period_start").Scan(ctx); err != nil {
			return err
		}
		for i := range out {
			if err := loadLines(ctx, sc, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

// B5: the anniversary invoice of the period ahead: plan and option at the tariff in force,
// the previous period's calls and SMS beyond the allowance (counted by the tenant's days in
// Europe/Paris: an event at 23:30 on the period's last day counts, one at 00:10 on the next
// day belongs to the next period), VAT at the tenant's rate on the total, a number, the due
// day (the payment day of the period's month, or the next one), the parties frozen, the
// e-mail to the client.
func TestInvoiceDueJobInvoicesThePeriodAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 10, 26}, "+33100000001", cat.Products["AGENDA"])
		// the previous period: 26 October – 25 November 2026
		f.use(f.A, sub, usageCall, 159, time.Date(2026, 11, 10, 9, 0, 0, 0, paris))
		f.use(f.A, sub, usageCall, 1, time.Date(2026, 11, 25, 23, 30, 0, 0, paris)) // last evening: counted
		f.use(f.A, sub, usageCall, 7, time.Date(2026, 11, 26, 0, 10, 0, 0, paris))  // the new period's
		f.use(f.A, sub, usageCall, 5, time.Date(2026, 10, 25, 23, 50, 0, 0, paris)) // the one before
		f.use(f.A, sub, usageCall, 1, time.Date(2026, 10, 26, 0, 0, 0, 0, paris))   // its first instant: counted
		f.use(f.A, sub, usageSMS, 55, time.Date(2026, 11, 1, 12, 0, 0, 0, paris))
		ten := withRules(f.A, "tenant.legal.company", "Les Secrétaires SARL", "tenant.legal.address", "12 rue de Rivoli, 75001 Paris",
			"tenant.legal.vat_id", "FR99123456789", "tenant.legal.registration", "RCS Paris 123 456 789")
		if err := f.h.Job(context.Background(), ten, jobInvoiceDue, nil); err != nil {
			t.Fatal(err)
		}
		invs := f.invoices(f.A)
		// The first period (26 October) had no invoice either: caught up, without usage.
		if len(invs) != 2 {
			t.Fatalf("B5: %d invoices, want the October and November periods", len(invs))
		}
		oct, nov := invs[0], invs[1]
		if oct.PeriodStart != (Date{2026, 10, 26}) || nov.PeriodStart != (Date{2026, 11, 26}) || nov.PeriodEnd != (Date{2026, 12, 25}) {
			t.Fatalf("B5: periods %s, %s–%s", oct.PeriodStart, nov.PeriodStart, nov.PeriodEnd)
		}
		if len(oct.Lines) != 2 {
			t.Errorf("B5: the first period has no previous usage, got %d lines", len(oct.Lines))
		}
		want := []struct {
			kind       string
			qty, unit  int64
			descPrefix string
		}{{linePlan, 1, 8900, "Forfait Essentiel, du 26"}, {lineOption, 1, 2500, "Option Gestion de l’agenda partagé"},
			{lineCallOverage, 11, 60, "Appels au-delà des 150 compris, du 26/10/2026 au 25/11/2026"}, {lineSMSOverage, 5, 15, "SMS au-delà des 50 compris, du 26/10/2026 au 25/11/2026"}}
		if len(nov.Lines) != len(want) {
			t.Fatalf("B5: lines %+v", nov.Lines)
		}
		for i, w := range want {
			l := nov.Lines[i]
			if l.Kind != w.kind || l.Quantity != w.qty || l.UnitMinor != w.unit || l.AmountMinor != w.qty*w.unit || l.VATPercent != 20 || !strings.HasPrefix(l.Description, w.descPrefix) {
				t.Errorf("B5: line %d = %+v, want %+v", i, l, w)
			}
		}
		net := int64(8900 + 2500 + 11*60 + 5*15)
		if nov.NetMinor != net || nov.VATMinor != (net*20+50)/100 || nov.TotalMinor != net+(net*20+50)/100 {
			t.Errorf("B5: totals %d %d %d", nov.NetMinor, nov.VATMinor, nov.TotalMinor)
		}
		if *oct.Number != "FA-2026-000001" || *nov.Number != "FA-2026-000002" || nov.State != invIssued {
			t.Errorf("B5: numbers %s %s, state %s", *oct.Number, *nov.Number, nov.State)
		}
		if nov.IssuedOn != (Date{2026, 11, 26}) || nov.DueOn != (Date{2026, 12, 5}) || oct.DueOn != (Date{2026, 12, 5}) {
			t.Errorf("B5: issued %s, due %s / %s", nov.IssuedOn, nov.DueOn, oct.DueOn)
		}
		if !strings.Contains(nov.Parties, "Les Secrétaires SARL") || !strings.Contains(nov.Parties, "FR99123456789") || !strings.Contains(nov.Parties, "Cabinet Dr Jean Martin") {
			t.Errorf("B5: parties %s", nov.Parties)
		}
		var mails []sdk.Message
		for _, msg := range f.h.Host.Messages {
			if msg.Value.Template == tmplInvoiceIssued {
				mails = append(mails, msg.Value)
			}
		}
		if len(mails) != 2 || mails[1].UserID != client.ID || mails[1].Data["Number"] != "FA-2026-000002" || mails[1].Data["Due"] == "" {
			t.Errorf("B5: e-mails %+v", mails)
		}
		// Run again (the next day's job, or a second instance): nothing more.
		if err := f.h.Job(context.Background(), ten, jobInvoiceDue, nil); err != nil {
			t.Fatal(err)
		}
		if n := len(f.invoices(f.A)); n != 2 {
			t.Errorf("B5: a second run made invoices again: %d", n)
		}
		if n := len(f.invoices(f.B)); n != 0 {
			t.Errorf("tenant B got %d invoices", n)
		}
	})
}

// B5, B8: a period starting on or after the end day is not invoiced; a terminated or pending
// subscription is not invoiced; a suspended one is (its contract runs). The final invoice
// bills the last period's usage beyond the allowance, with no fee, once.
func TestEndedSubscriptionsAndFinalInvoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		ending := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 10, 26}, "+33100000001")
		suspended := f.subscribe(f.A, &sdk.User{ID: "c2", Name: "Dr Deux"}, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000002")
		gone := f.subscribe(f.A, &sdk.User{ID: "c3", Name: "Dr Trois"}, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000003")
		pending := f.subscribe(f.A, &sdk.User{ID: "c4", Name: "Dr Quatre"}, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000004")
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			for _, u := range []struct {
				s     *Subscription
				col   string
				value any
			}{{ending, "ends_on", "2026-11-26"}, {suspended, "state", subSuspended}, {gone, "state", subTerminated}, {pending, "state", subPending}} {
				if _, err := sc.Update((*Subscription)(nil)).Set(u.col+" = ?", u.value).Where("sub.id = ?", u.s.ID).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		f.use(f.A, ending, usageCall, 152, time.Date(2026, 11, 20, 9, 0, 0, 0, paris))
		if err := f.h.Job(context.Background(), f.A, jobInvoiceDue, nil); err != nil {
			t.Fatal(err)
		}
		got := map[string][]Date{}
		for _, inv := range f.invoices(f.A) {
			got[inv.SubscriptionID] = append(got[inv.SubscriptionID], inv.PeriodStart)
		}
		if len(got[ending.ID]) != 1 || got[ending.ID][0] != (Date{2026, 10, 26}) {
			t.Errorf("B8: the ending subscription's periods %v, want only 26 October", got[ending.ID])
		}
		if len(got[suspended.ID]) != 1 || len(got[gone.ID]) != 0 || len(got[pending.ID]) != 0 {
			t.Errorf("B5: suspended %v, terminated %v, pending %v", got[suspended.ID], got[gone.ID], got[pending.ID])
		}
		ending.EndsOn = Date{2026, 11, 26}
		var fin *Invoice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			fin, err = f.m.finalInvoice(ctx, f.A, sc, ending)
			return err
		})
		if !fin.Final || len(fin.Lines) != 1 || fin.Lines[0].Kind != lineCallOverage || fin.Lines[0].Quantity != 2 || fin.State != invIssued || fin.NetMinor != 120 {
			t.Fatalf("B8: final invoice %+v", fin)
		}
		var again *Invoice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			again, err = f.m.finalInvoice(ctx, f.A, sc, ending)
			return err
		})
		if again.ID != fin.ID {
			t.Errorf("B8: a second final invoice")
		}
	})
}

// B5: issuing takes numbers without gaps per tenant and year: 20 clerks issuing 20 drafts at
// once get 1..20, each once; the other tenant's sequence is its own.
func TestIssueRaceGivesGaplessNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := withRules(f.A, "billing.review_drafts", true)
		cat := f.seedCatalog(f.A)
		var drafts []*Invoice
		for i := 0; i < 20; i++ {
			sub := f.subscribe(f.A, &sdk.User{ID: fmt.Sprint("u", i), Name: fmt.Sprint("Dr ", i)}, cat.Products["CONFORT"], Date{2026, 11, 26}, fmt.Sprintf("+3310000%04d", i))
			f.in(ten, func(ctx context.Context, sc *store.Scope) error {
				inv, err := f.m.invoicePeriod(ctx, ten, sc, sub, Date{2026, 11, 26})
				drafts = append(drafts, inv)
				return err
			})
		}
		for _, d := range drafts {
			if d.State != invDraft || d.Number != nil {
				t.Fatalf("B5: with drafts reviewed, invoicePeriod issued %+v", d)
			}
		}
		var wg sync.WaitGroup
		statuses := make([]int, len(drafts))
		for i, d := range drafts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), ten, clerk, "POST", "/billing/manage/invoices/"+d.ID+"/issue", nil)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		seen := map[int64]bool{}
		for _, inv := range f.invoices(f.A) {
			if inv.State != invIssued || inv.Seq == nil {
				t.Fatalf("B5: %+v not issued (statuses %v)", inv, statuses)
			}
			seen[*inv.Seq] = true
			if *inv.Number != fmt.Sprintf("FA-2026-%06d", *inv.Seq) {
				t.Errorf("B5: number %s", *inv.Number)
			}
		}
		for i := int64(1); i <= 20; i++ {
			if !seen[i] {
				t.Errorf("B5: number %d missing: %v", i, seen)
			}
		}
		// Issuing one again changes nothing.
		res, _ := f.h.Do(context.Background(), ten, clerk, "POST", "/billing/manage/invoices/"+drafts[0].ID+"/issue", nil)
		if res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "invoice_already_issued") {
			t.Errorf("issue twice: %d %s", res.Status, res.Header.Get("Location"))
		}
		var last int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Tx.NewRaw("SELECT last FROM billing_invoice_counters WHERE tenant_id = ? AND year = 2026", f.A.ID).Scan(ctx, &last)
		})
		if last != 20 {
			t.Errorf("B5: counter %d", last)
		}
	})
}

// B5: two runs for the same day, each worked by its own worker at once, over 200
// subscriptions: exactly 200 invoices, numbered 1..200 without a gap; and one run worked by
// two workers at once claims each subscription once.
func TestConcurrentRunsInvoiceEachSubscriptionOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := withRules(f.A, "billing.run_batch_size", int64(25))
		cat := f.seedCatalog(f.A)
		f.bulkSubscribe(f.A, cat, 200, Date{2026, 11, 26}, 0)
		ctx := context.Background()
		r1, err := f.m.startRun(ctx, ten, Date{2026, 11, 26}, "clerk1")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := f.m.startRun(ctx, ten, Date{2026, 11, 26}, "clerk1")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, id := range []string{r1.ID, r1.ID, r2.ID, r2.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f.m.workRun(ctx, ten, id, fmt.Sprint("w", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		invs := f.invoices(f.A)
		if len(invs) != 200 {
			t.Fatalf("B5: %d invoices", len(invs))
		}
		subs := map[string]bool{}
		for i, inv := range invs {
			if inv.Seq == nil || *inv.Seq != int64(i+1) {
				t.Fatalf("B5: invoice %d has number %v", i, inv.Number)
			}
			subs[inv.SubscriptionID] = true
		}
		if len(subs) != 200 {
			t.Errorf("B5: %d subscriptions invoiced", len(subs))
		}
		var runs []Run
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&runs).Scan(ctx) })
		invoiced := 0
		for _, r := range runs {
			if r.State != runDone || r.Done != 200 || r.Total != 200 || r.Failed != 0 {
				t.Errorf("B5: run %+v", r)
			}
			invoiced += r.Invoiced
		}
		if invoiced != 200 {
			t.Errorf("B5: the runs count %d invoices", invoiced)
		}
		// Each run's batches are 8 ranges of 25 subscriptions, one after the other.
		var batches []RunBatch
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&batches).Where("rb.run_id = ?", r1.ID).Order("batch").Scan(ctx)
		})
		if len(batches) != 8 {
			t.Fatalf("B5: %d batches, want 8", len(batches))
		}
		for i, bt := range batches {
			if bt.Subs != 25 || !bt.Done || bt.FirstID > bt.LastID || (i > 0 && batches[i-1].LastID >= bt.FirstID) {
				t.Errorf("B5: batch %+v after %+v", bt, batches[max(i-1, 0)])
			}
		}
	})
}

// bulkSubscribe stores n active subscriptions of plan ESSENTIEL started on starts, with
// events usage events each in their first month (few statements).
func (f *fixture) bulkSubscribe(ten sdk.Tenant, cat catalog, n int, starts Date, events int) []string {
	f.t.Helper()
	ids, err := seedSubscriptions(context.Background(), f.m, ten, cat.Products["ESSENTIEL"], n, starts, events, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// seedSubscriptions stores n active subscriptions to plan started on starts, each with events
// calls in its first month, in transactions of 500 subscriptions.
func seedSubscriptions(ctx context.Context, m *Module, ten sdk.Tenant, plan string, n int, starts Date, events int, now time.Time) ([]string, error) {
	ids := make([]string, n)
	const chunk = 500
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		err := m.In(ctx, ten, func(ctx context.Context, sc *store.Scope) error {
			subs := make([]Subscription, 0, hi-lo)
			var uses []Usage
			for i := lo; i < hi; i++ {
				id := newID()
				ids[i] = id
				subs = append(subs, Subscription{TenantID: ten.ID, ID: id, Reference: fmt.Sprintf("AB-%06d", i), UserID: fmt.Sprint("u", i), State: subActive,
					ClientName: fmt.Sprint("Cabinet ", i), Email: fmt.Sprintf("u%d@example.fr", i), Locale: "fr", Country: "FR",
					PhoneNumber: fmt.Sprintf("+331%08d", i), PlanID: plan, PaymentMethod: payTransfer, StartsOn: starts, TermsVersion: "1", CreatedAt: now})
				for e := 0; e < events; e++ {
					at := starts.In(paris).Add(time.Duration(e+1) * 17 * time.Hour).UTC()
					uses = append(uses, Usage{TenantID: ten.ID, EventID: newID(), SubscriptionID: id, Kind: usageCall, OccurredAt: at, ReceivedAt: at})
				}
			}
			if _, err := sc.Insert(&subs).Exec(ctx); err != nil {
				return err
			}
			byID := make(map[string]*Subscription, len(subs))
			for i := range subs {
				byID[subs[i].ID] = &subs[i]
			}
			return storeNewUsage(ctx, sc, ten, byID, uses)
		})
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// B5: a clerk credits an issued, unpaid invoice in part (with a reason), then the rest: each
// credit note has its own number of the same sequence, negative amounts, names the invoice;
// the invoice is credited once nothing is left. Bad input is refused next to its field, and
// nothing changes.
func TestCreditNotes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001", cat.Products["RDV"])
		inv := f.invoiceFor(sub, Date{2026, 11, 26})
		if inv.NetMinor != 10400 {
			t.Fatalf("net %d", inv.NetMinor)
		}
		path := "/billing/manage/invoices/" + inv.ID + "/credit"
		for _, bad := range []struct {
			form  url.Values
			field string
		}{
			{url.Values{"amount": {"abc"}, "reason": {"x"}, "confirm": {"yes"}}, "amount"},
			{url.Values{"amount": {"10"}, "confirm": {"yes"}}, "reason"},
			{url.Values{"amount": {""}, "confirm": {"yes"}}, "reason"}, // B5: a credit note always gives its reason
			{url.Values{"amount": {"10"}, "reason": {"x"}}, "confirm"}, // irreversible: confirmed by the clerk
			{url.Values{"amount": {""}, "reason": {"x"}}, "confirm"},
			{url.Values{"amount": {"104,01"}, "reason": {"trop"}, "confirm": {"yes"}}, "amount"},
			{url.Values{"amount": {"-5"}, "reason": {"x"}, "confirm": {"yes"}}, "amount"},
		} {
			res := f.send(f.A, clerk, "POST", path, bad.form)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-`+bad.field+`"`) {
				t.Errorf("B5: %v → %d %s", bad.form, res.Status, res.Body)
			}
		}
		if n := len(f.invoices(f.A)); n != 1 {
			t.Fatalf("a refused credit made %d documents", n)
		}
		res := f.send(f.A, clerk, "POST", path, url.Values{"amount": {"40,00"}, "reason": {"Geste commercial"}, "confirm": {"yes"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("B5: partial credit %d %s", res.Status, res.Body)
		}
		// B5: the credit note lowers what the invoice asks (124,80 − 48,00 TTC).
		page := string(f.send(f.A, clerk, "GET", "/billing/manage/invoices/"+inv.ID, nil).Body)
		if !strings.Contains(page, "Reste à payer") || !strings.Contains(page, "76,80") || !strings.Contains(page, "Avoirs déduits") {
			t.Errorf("B5: invoice page after a partial credit: %s", page)
		}
		res = f.send(f.A, clerk, "POST", path, url.Values{"amount": {""}, "reason": {"Résiliation"}, "confirm": {"yes"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("B5: credit of the rest %d %s", res.Status, res.Body)
		}
		all := f.invoices(f.A)
		if len(all) != 3 {
			t.Fatalf("B5: %d documents", len(all))
		}
		orig, c1, c2 := all[0], all[1], all[2]
		if orig.State != invCredited || c1.Kind != invCreditNote || c2.Kind != invCreditNote || *c1.Number != "FA-2026-000002" || *c2.Number != "FA-2026-000003" {
			t.Fatalf("B5: %s %s/%s %s", orig.State, c1.Kind, *c1.Number, *c2.Number)
		}
		if c1.CreditsID != orig.ID || c1.NetMinor != -4000 || c1.VATMinor != -800 || !strings.Contains(c1.Lines[0].Description, "FA-2026-000001") || !strings.Contains(c1.Lines[0].Description, "Geste commercial") {
			t.Errorf("B5: partial credit note %+v", c1)
		}
		if c2.NetMinor != -6400 || orig.NetMinor+c1.NetMinor+c2.NetMinor != 0 || !c2.DueOn.IsZero() {
			t.Errorf("B5: rest %d", c2.NetMinor)
		}
		// Nothing is left: a further credit is refused.
		if orig.CreditedMinor != orig.TotalMinor || orig.PaidMinor != 0 {
			t.Errorf("B5: credited %d of %d", orig.CreditedMinor, orig.TotalMinor)
		}
		res = f.send(f.A, clerk, "POST", path, url.Values{"amount": {"1"}, "reason": {"x"}, "confirm": {"yes"}})
		if res.Status != http.StatusUnprocessableEntity {
			t.Errorf("B5: credit of a credited invoice %d", res.Status)
		}
		// The credit note's page names the invoice it credits, is headed "Avoir" and is not
		// something to pay.
		res = f.send(f.A, clerk, "GET", "/billing/manage/invoices/"+c1.ID, nil)
		body := string(res.Body)
		if res.Status != 200 || !strings.Contains(body, "FA-2026-000001") || !strings.Contains(body, "<h1>Avoir</h1>") || !strings.Contains(body, "Avoir émis") ||
			strings.Contains(body, "à payer") || strings.Contains(body, "Reste à payer") {
			t.Errorf("B5: credit note page %d %s", res.Status, body)
		}
	})
}

// B5: the clerk's list filters by state, subscription and month (a bad filter is named next
// to its field, 422); the client sees his own issued invoices only (another's, or a draft:
// 404), and downloads his PDF (audited); another client's PDF is not found.
func TestInvoicePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		other := &sdk.User{ID: "client2", Name: "Dr Paul Durand", Roles: []string{"user"}}
		mine := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001")
		theirs := f.subscribe(f.A, other, cat.Products["CONFORT"], Date{2026, 11, 26}, "+33100000002")
		var a, d *Invoice
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			if a, err = f.m.invoicePeriod(ctx, f.A, sc, mine, Date{2026, 11, 26}); err != nil {
				return err
			}
			drafts := withRules(f.A, "billing.review_drafts", true)
			d, err = f.m.invoicePeriod(ctx, drafts, sc, theirs, Date{2026, 11, 26})
			return err
		})
		f.h.Host.Blobs["blob-inv"] = sdktest.Scoped[sdk.Blob]{Scope: host.Scope{TenantID: f.A.ID, ModuleID: "billing"}, Value: sdk.Blob{Name: "x.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7 test")}}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Invoice)(nil)).Set("pdf_blob = 'blob-inv'").Where("inv.id = ?", a.ID).Exec(ctx)
			return err
		})
		for _, c := range []struct {
			path, want, not string
		}{
			{"/billing/manage/invoices", "FA-2026-000001", ""},
			{"/billing/manage/invoices?state=draft", "Brouillon (sans numéro)", "FA-2026-000001"},
			{"/billing/manage/invoices?sub=" + mine.ID, "FA-2026-000001", "Dr Paul Durand"},
			{"/billing/manage/invoices?month=2026-11", "FA-2026-000001", ""},
			{"/billing/manage/invoices?month=2026-12", "Aucune facture", "FA-2026-000001"},
			{"/billing/manage/invoices/" + a.ID, "Forfait Essentiel", "issued"},
			{"/billing/manage/invoices/" + d.ID, "Émettre et envoyer", ""},
		} {
			res := f.send(f.A, clerk, "GET", c.path, nil)
			body := string(res.Body)
			if res.Status != 200 || !strings.Contains(body, c.want) || (c.not != "" && strings.Contains(body, c.not)) {
				t.Errorf("B5: %s → %d, want %q without %q:\n%s", c.path, res.Status, c.want, c.not, body)
			}
		}
		for _, bad := range []struct{ q, field string }{{"state=lost", "state"}, {"month=2026-13", "month"}, {"month=nov", "month"}} {
			res := f.send(f.A, clerk, "GET", "/billing/manage/invoices?"+bad.q, nil)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-`+bad.field+`"`) {
				t.Errorf("%s → %d", bad.q, res.Status)
			}
		}
		res := f.send(f.A, client, "GET", "/billing/invoices", nil)
		if body := string(res.Body); res.Status != 200 || !strings.Contains(body, "FA-2026-000001") || !strings.Contains(body, "05/12/2026") {
			t.Errorf("B5: client list %d %s", res.Status, body)
		}
		if res := f.send(f.A, client, "GET", "/billing/invoices/"+a.ID, nil); res.Status != 200 || !strings.Contains(string(res.Body), "106,80") ||
			!strings.Contains(string(res.Body), "2 fois le taux d’intérêt légal") || !strings.Contains(string(res.Body), "recouvrement de 40,00") {
			t.Errorf("B5: client invoice %d %s", res.Status, res.Body)
		}
		for _, p := range []string{"/billing/invoices/" + d.ID, "/billing/invoices/" + d.ID + "/pdf", "/billing/invoices/nope"} {
			if res := f.send(f.A, other, "GET", p, nil); res.Status != http.StatusNotFound && p != "/billing/invoices/"+d.ID {
				t.Errorf("%s → %d", p, res.Status)
			}
		}
		if res := f.send(f.A, other, "GET", "/billing/invoices/"+d.ID, nil); res.Status != http.StatusNotFound {
			t.Errorf("B5: a draft shown to its client: %d", res.Status)
		}
		if res := f.send(f.A, other, "GET", "/billing/invoices/"+a.ID+"/pdf", nil); res.Status != http.StatusNotFound {
			t.Errorf("B5: another client's PDF: %d", res.Status)
		}
		audits := len(f.h.Host.Audits)
		res = f.send(f.A, client, "GET", "/billing/invoices/"+a.ID+"/pdf", nil)
		if res.Status != 200 || string(res.Body) != "%PDF-1.7 test" || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("B5: PDF %d %q", res.Status, res.Body)
		}
		if len(f.h.Host.Audits) != audits+1 || f.h.Host.Audits[audits].Value.Action != auditInvoiceDownloaded {
			t.Errorf("B5: download not audited")
		}
		if res := f.send(f.B, client, "GET", "/billing/invoices/"+a.ID, nil); res.Status != http.StatusNotFound {
			t.Errorf("tenant B sees A's invoice: %d", res.Status)
		}
		// P11: the client's export holds his issued invoices with their lines, not another's
		// draft.
		out, err := f.h.Export(context.Background(), f.A, client.ID)
		if err != nil || !strings.Contains(string(out), "FA-2026-000001") || !strings.Contains(string(out), "Forfait Essentiel") || strings.Contains(string(out), d.ID) {
			t.Errorf("P11: export %v %s", err, out)
		}
	})
}

// B5: the clerk starts a run for a day (not a day to come: refused next to the field), the
// job works it, its page shows a <progress> bar; a stopped run resumes where it stopped;
// with drafts reviewed, the clerk issues all of a run's drafts at once.
func TestRunPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := withRules(f.A, "billing.review_drafts", true, "billing.run_batch_size", int64(2))
		cat := f.seedCatalog(f.A)
		f.bulkSubscribe(f.A, cat, 5, Date{2026, 11, 26}, 0)
		for _, bad := range []string{"2026-11-27", "26/11/2026", ""} {
			res := f.send(ten, clerk, "POST", "/billing/manage/runs", url.Values{"day": {bad}})
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-day"`) {
				t.Errorf("B5: run day %q → %d", bad, res.Status)
			}
		}
		res := f.send(ten, clerk, "POST", "/billing/manage/runs", url.Values{"day": {"2026-11-26"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("start run: %d %s", res.Status, res.Body)
		}
		runPath := strings.SplitN(strings.TrimPrefix(res.Header.Get("Location"), f.A.Base), "?", 2)[0]
		runID := strings.TrimPrefix(runPath, "/billing/manage/runs/")
		var job *sdk.Job
		for _, j := range f.h.Host.Jobs {
			if j.Value.Name == jobRun {
				job = &j.Value
			}
		}
		if job == nil || string(job.Payload) != runID {
			t.Fatalf("B5: the run's job %+v", job)
		}
		page := string(f.send(ten, clerk, "GET", runPath, nil).Body)
		if !strings.Contains(page, `<progress id="run-progress" max="5" value="0"`) || !strings.Contains(page, `http-equiv="refresh"`) {
			t.Errorf("B5: run page %s", page)
		}
		// Stopped before the job ran: the job does nothing; resumed, it invoices all.
		if res := f.send(ten, clerk, "POST", runPath+"/stop", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("stop %d", res.Status)
		}
		if err := f.h.Job(context.Background(), ten, jobRun, []byte(runID)); err != nil {
			t.Fatal(err)
		}
		if n := len(f.invoices(f.A)); n != 0 {
			t.Errorf("B5: a stopped run invoiced %d", n)
		}
		if res := f.send(ten, clerk, "POST", runPath+"/resume", url.Values{}); res.Status != http.StatusSeeOther {
			t.Fatalf("resume %d", res.Status)
		}
		if err := f.h.Job(context.Background(), ten, jobRun, []byte(runID)); err != nil {
			t.Fatal(err)
		}
		page = string(f.send(ten, clerk, "GET", runPath, nil).Body)
		if !strings.Contains(page, `max="5" value="5"`) || !strings.Contains(page, "5 brouillons attendent") || strings.Contains(page, `http-equiv="refresh"`) {
			t.Errorf("B5: done run page %s", page)
		}
		// B5: issuing all drafts is confirmed; unconfirmed, nothing is issued.
		if res := f.send(ten, clerk, "POST", runPath+"/issue", url.Values{}); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-confirm"`) {
			t.Fatalf("B5: issue all unconfirmed %d", res.Status)
		}
		for _, inv := range f.invoices(f.A) {
			if inv.State != invDraft {
				t.Fatalf("B5: an unconfirmed issue-all issued %+v", inv)
			}
		}
		// B5: the run's page lists the invoices it made, each linked.
		for _, inv := range f.invoices(f.A) {
			if !strings.Contains(page, `href="/billing/manage/invoices/`+inv.ID+`"`) {
				t.Errorf("B5: the run page does not link its invoice %s", inv.ID)
			}
		}
		if res := f.send(ten, clerk, "POST", runPath+"/issue", url.Values{"confirm": {"yes"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("issue all %d", res.Status)
		}
		for i, inv := range f.invoices(f.A) {
			if inv.State != invIssued || *inv.Seq != int64(i+1) {
				t.Errorf("B5: after issuing the run %+v", inv)
			}
		}
		if res := f.send(ten, clerk, "GET", "/billing/manage/runs", nil); res.Status != 200 || !strings.Contains(string(res.Body), "Terminé") {
			t.Errorf("runs list %d", res.Status)
		}
	})
}

// The part's tables are reached through the tenant scope only.
func TestInvoicesTablesScoped(t *testing.T) {
	kittest.Check(t, func() *kit.Module { return newModule().Module }, (*Run)(nil), (*RunBatch)(nil))
}

// B5: ten clerks crediting the rest of one invoice at once: one credit note, the invoice
// credited once, the others refused (the invoice's row is locked first).
func TestCreditRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], Date{2026, 11, 26}, "+33100000001")
		inv := f.invoiceFor(sub, Date{2026, 11, 26})
		var wg sync.WaitGroup
		statuses := make([]int, 10)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), f.A, clerk, "POST", "/billing/manage/invoices/"+inv.ID+"/credit", []byte("amount=&reason=Erreur&confirm=yes"))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				ok++
			case http.StatusUnprocessableEntity:
			default:
				t.Errorf("B5: status %d", s)
			}
		}
		all := f.invoices(f.A)
		if ok != 1 || len(all) != 2 || all[0].State != invCredited || all[1].NetMinor != -all[0].NetMinor {
			t.Errorf("B5: %d credits accepted, %d documents (statuses %v)", ok, len(all), statuses)
		}
	})
}

// B5: a subscription that cannot be invoiced (its plan has no price in the tariff) does not
// stop the run: its batch is taken one subscription at a time, the others are invoiced, it is
// counted as failed, and the run is done.
func TestRunGoesOnPastAFailingSubscription(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := withRules(f.A, "billing.run_batch_size", int64(10))
		cat := f.seedCatalog(f.A)
		f.bulkSubscribe(f.A, cat, 4, Date{2026, 11, 26}, 0)
		unpriced := newID()
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&Product{TenantID: f.A.ID, ID: unpriced, Kind: kindPlan, Code: "ANCIEN", Name: "Ancien forfait"}).Exec(ctx)
			return err
		})
		bad := f.subscribe(f.A, client, unpriced, Date{2026, 11, 26}, "+33199999999")
		ctx := context.Background()
		run, err := f.m.startRun(ctx, ten, Date{2026, 11, 26}, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.m.workRun(ctx, ten, run.ID, "w"); err != nil {
			t.Fatal(err)
		}
		invs := f.invoices(f.A)
		if len(invs) != 4 {
			t.Fatalf("B5: %d invoices", len(invs))
		}
		for i, inv := range invs {
			if inv.SubscriptionID == bad.ID || *inv.Seq != int64(i+1) {
				t.Errorf("B5: %+v", inv)
			}
		}
		var got Run
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&got).Where("run.id = ?", run.ID).Scan(ctx)
		})
		if got.State != runDone || got.Done != 5 || got.Failed != 1 || got.Invoiced != 4 {
			t.Errorf("B5: run %+v", got)
		}
	})
}
