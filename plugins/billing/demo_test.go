package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// demoTenant is the tenant as tenants/secretaires/tenant.toml configures it for the demo.
func demoTenant(f *fixture) sdk.Tenant {
	return withRules(f.A, "billing.review_drafts", true, "billing.iban", "FR7630006000011234567890189", "billing.bic", "AGRIFRPP",
		"billing.sepa_creditor_id", "FR72ZZZ123456")
}

// seedDemoEvent delivers platform.demo_seeded to ten, as `serve --demo` does at every start.
func seedDemoEvent(f *fixture, ten sdk.Tenant) {
	f.t.Helper()
	payload, _ := json.Marshal(map[string]any{"accounts": []kit.DemoAccount{
		{ID: "u-demo", Email: "user@secretaires.localhost", Name: "Demo User", Role: "user"},
		{ID: "c-demo", Email: "billing-clerk@secretaires.localhost", Name: "Demo billing clerk", Role: "billing.billing_clerk"},
	}})
	if err := f.h.Event(context.Background(), ten, "platform.demo_seeded", payload); err != nil {
		f.t.Fatal(err)
	}
}

// demoCounts is what the demo holds, by table and state.
func demoCounts(f *fixture, ten sdk.Tenant) map[string]int {
	f.t.Helper()
	out := map[string]int{}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		for _, q := range []struct {
			name  string
			model any
			col   string
		}{
			{"product", (*Product)(nil), "prod.kind"}, {"tariff", (*Tariff)(nil), "tar.state"}, {"sub", (*Subscription)(nil), "sub.state"},
			{"invoice", (*Invoice)(nil), "inv.state"}, {"payment", (*Payment)(nil), "pay.method"}, {"spec", (*Specification)(nil), "spec.kind"},
			{"usage", (*Usage)(nil), "use.kind"}, {"message", (*TakenMessage)(nil), ""}, {"notice", (*Notice)(nil), ""},
			{"run", (*Run)(nil), "run.state"}, {"termination", (*Termination)(nil), "term.reason"}, {"refusal", (*TariffRefusal)(nil), ""},
			{"tariff_notice", (*TariffNotice)(nil), ""}, {"signature", (*Signature)(nil), "sig.method"},
		} {
			if q.col == "" {
				n, err := sc.Select(q.model).Count(ctx)
				if err != nil {
					return fmt.Errorf("%s: %w", q.name, err)
				}
				out[q.name] = int(n)
				continue
			}
			var rows []struct {
				K string `bun:"k"`
				N int    `bun:"n"`
			}
			if err := sc.Select(q.model).ColumnExpr(q.col+" AS k").ColumnExpr("COUNT(*) AS n").GroupExpr(q.col).Scan(ctx, &rows); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			for _, r := range rows {
				out[q.name+" "+r.K] = r.N
			}
		}
		return nil
	})
	return out
}

// TestDemoSeedsTheFirmOnce (issue 15 item 10; B1–B8): the demo gives three plans and three
// options, a tariff in force and one announced (notices sent to every client, one refusal),
// twelve active clients with their specifications (one amendment), a month of usage each,
// invoices issued and paid by debit, cheque and transfer, two clients late (one formally
// notified 17 days ago, so he qualifies for suspension; the other not notified), last
// month's run done, this month's twelve drafts for the clerk made by this morning's run (so
// that he issues them all from it), a termination — and seeding again adds nothing.
func TestDemoSeedsTheFirmOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := demoTenant(f)
		seedDemoEvent(f, ten)
		got := demoCounts(f, ten)
		want := map[string]int{"product plan": 3, "product option": 3, "tariff in_force": 1, "tariff announced": 1, "sub active": 12,
			"invoice draft": 12, "invoice issued": 5, "spec specification": 12, "spec amendment": 1, "notice": 1, "run done": 2,
			"termination client": 1, "termination refusal": 1, "refusal": 1, "tariff_notice": 12, "signature online": 6, "signature paper": 6}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d, want %d (all: %v)", k, got[k], n, got)
			}
		}
		// The drafts are this morning's run's: its page issues them all.
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			n, err := sc.Select((*Invoice)(nil)).Join("JOIN billing_runs AS run ON run.tenant_id = inv.tenant_id AND run.id = inv.run_id").
				Where("inv.state = ? AND run.run_on = ?", invDraft, f.m.today(ten).String()).Count(ctx)
			if err == nil && n != 12 {
				t.Errorf("B5: %d of the 12 drafts come from today's run", n)
			}
			return err
		})
		for _, k := range []string{"payment debit", "payment cheque", "payment transfer", "invoice paid"} {
			if got[k] == 0 {
				t.Errorf("no %s: %v", k, got)
			}
		}
		if got["usage call"] < 12*120 || got["usage sms"] < 12*30 || got["message"] == 0 {
			t.Errorf("usage and messages: %v", got)
		}
		seedDemoEvent(f, ten)
		if again := demoCounts(f, ten); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("seeding again changed the demo:\nbefore %v\nafter  %v", got, again)
		}

		today := f.m.today(ten)
		var subs []Subscription
		var run Run
		var notice Notice
		var terms []Termination
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			for _, err := range []error{sc.Select(&subs).OrderExpr("sub.starts_on").Scan(ctx), sc.Select(&run).Scan(ctx), sc.Select(&notice).Scan(ctx),
				sc.Select(&terms).Scan(ctx)} {
				if err != nil {
					return err
				}
			}
			return nil
		})
		days, legal, debit, mine := map[int]bool{}, 0, 0, 0
		for _, s := range subs {
			days[s.StartsOn.D] = true
			if validSIRET(s.LegalID) {
				legal++
			}
			if s.PaymentMethod == payDebit && s.MandateRef != "" {
				debit++
			}
			if s.UserID == "u-demo" {
				mine++
				if s.ContactName != "Dr Demo User" {
					t.Errorf("the demo user's subscription names %q", s.ContactName)
				}
			}
		}
		if !days[29] || !days[30] || !days[31] || legal != 12 || debit != 1 || mine != 1 {
			t.Errorf("B1: start days %v, valid SIRET %d, debit with mandate %d, the user's %d", days, legal, debit, mine)
		}
		// B5: the numbers follow the issue days, without a gap.
		var issued []Invoice
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&issued).Where("inv.number IS NOT NULL").OrderExpr("inv.year, inv.seq").Scan(ctx)
		})
		for i := 1; i < len(issued); i++ {
			a, b := issued[i-1], issued[i]
			if b.IssuedOn.Before(a.IssuedOn) || (*a.Year == *b.Year && *b.Seq != *a.Seq+1) {
				t.Errorf("B5: %s issued %s after %s issued %s", *b.Number, b.IssuedOn, *a.Number, a.IssuedOn)
			}
		}
		if run.RunOn != today.AddMonthsClamped(-1) || run.Invoiced != 12 || run.StartedBy != "c-demo" {
			t.Errorf("B5: run %+v", run)
		}
		if notice.SentOn != today.AddDays(-17) {
			t.Errorf("B6: notice sent on %s", notice.SentOn)
		}
		for _, tm := range terms {
			if !tm.EndsOn.After(today) || tm.State != termActive {
				t.Errorf("B8: termination %+v", tm)
			}
		}
		// B6: on the dunning page's figures, the notified client qualifies, the other does not.
		var late []*lateSub
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			var err error
			late, err = f.m.late(ctx, ten, sc)
			return err
		})
		qualifying, notified := 0, 0
		for _, l := range late {
			if l.Qualifying {
				qualifying++
			}
			if l.Notice != nil {
				notified++
			}
		}
		if len(late) < 2 || qualifying != 1 || notified != 1 {
			t.Errorf("B6: %d late, %d qualifying, %d notified", len(late), qualifying, notified)
		}
		// B3: the demo user used more than his allowance in his current period.
		var calls, sms int64
		for _, s := range subs {
			if s.UserID == "u-demo" {
				_, first, last := periodAt(s.StartsOn, today)
				f.in(ten, func(ctx context.Context, sc *store.Scope) error {
					var err error
					calls, sms, err = f.m.usageCounts(ctx, sc, ten, &s, first, last)
					return err
				})
			}
		}
		if calls <= 150 || sms <= 50 {
			t.Errorf("B3: the demo user's period: %d calls, %d SMS", calls, sms)
		}
	})
}

// TestDemoPagesRead (P7, P8): the client's portal and the clerk's pages on the demo answer
// in fr, pl and sk with no message missing, and the demo client's invoice PDF reads his
// client name, its number and its total.
func TestDemoPagesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ten := demoTenant(f)
		seedDemoEvent(f, ten)
		var sub Subscription
		var inv Invoice
		var run Run
		f.in(ten, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&sub).Where("sub.user_id = ?", "u-demo").Scan(ctx); err != nil {
				return err
			}
			if err := sc.Select(&run).Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&inv).Where("inv.subscription_id = ? AND inv.state = ?", sub.ID, invPaid).OrderExpr("inv.period_start DESC").Limit(1).Scan(ctx)
		})
		for _, lang := range []string{"fr", "pl", "sk"} {
			user := &sdk.User{ID: "u-demo", Name: "Demo User", Locale: lang, Roles: []string{"user"}}
			clerkU := &sdk.User{ID: "c-demo", Name: "Demo billing clerk", Locale: lang, Roles: []string{"billing_clerk"}}
			pages := []struct {
				u    *sdk.User
				path string
			}{
				{user, "/billing"}, {user, "/billing/usage"}, {user, "/billing/messages"}, {user, "/billing/invoices"}, {user, "/billing/invoices/" + inv.ID},
				{user, "/billing/contract"}, {nil, "/billing/offers"},
				{clerkU, "/billing/manage"}, {clerkU, "/billing/manage/subscriptions/" + sub.ID}, {clerkU, "/billing/manage/subscriptions/" + sub.ID + "/usage"},
				{clerkU, "/billing/manage/subscriptions/" + sub.ID + "/contract"}, {clerkU, "/billing/manage/invoices"}, {clerkU, "/billing/manage/invoices?sub=" + sub.ID},
				{clerkU, "/billing/manage/runs"}, {clerkU, "/billing/manage/runs/" + run.ID}, {clerkU, "/billing/manage/payments"},
				{clerkU, "/billing/manage/dunning"}, {clerkU, "/billing/manage/catalog"}, {clerkU, "/billing/manage/tariffs"},
			}
			for _, p := range pages {
				path, query, _ := strings.Cut(p.path, "?")
				tl := ten
				tl.Locale = lang
				res, err := f.h.Send(context.Background(), tl, p.u, &sdk.Request{Method: "GET", Path: path, Query: query, RemoteIP: "10.9.9.9"})
				if err != nil {
					t.Fatal(err)
				}
				body := string(res.Body)
				if res.Status != 200 {
					t.Errorf("%s %s: %d\n%s", lang, p.path, res.Status, body)
					continue
				}
				for _, bad := range []string{"billing.", "rule.", "<no value>", "%!", "{{", "MISSING"} {
					if strings.Contains(body, bad) {
						i := strings.Index(body, bad)
						t.Errorf("%s %s shows %q: …%s…", lang, p.path, bad, body[max(0, i-80):min(len(body), i+80)])
					}
				}
			}
		}
		res := f.send(ten, &sdk.User{ID: "u-demo", Name: "Demo User", Locale: "fr", Roles: []string{"user"}}, "GET", "/billing/invoices/"+inv.ID+"/pdf", nil)
		if res.Status != 200 {
			t.Fatalf("PDF: %d %s", res.Status, res.Body)
		}
		text := strings.Join(strings.Fields(pdftest.Text(t, res.Body, false)), " ")
		for _, w := range []string{"Cabinet médical du Parc", *inv.Number, locales.FormatMoney("fr", inv.TotalMinor, "EUR")} {
			if !strings.Contains(text, strings.Join(strings.Fields(flat(w)), " ")) && !strings.Contains(flat(text), flat(w)) {
				t.Errorf("the demo client's invoice does not read %q:\n%s", w, text)
			}
		}
	})
}
