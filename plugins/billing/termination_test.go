package billing

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

// TestB8EndDayFromReceiptWithMonthEnds: the notice is given when the letter is received; the
// contract ends 3 months (billing.termination_notice_months) later, on the same day of the
// month or the month's last day when it has fewer days.
func TestB8EndDayFromReceiptWithMonthEnds(t *testing.T) {
	ten := frTenant("tA", "fr")
	for _, c := range []struct{ received, want Date }{
		{d(2026, 11, 23), d(2027, 2, 23)},
		{d(2026, 11, 30), d(2027, 2, 28)},
		{d(2027, 11, 30), d(2028, 2, 29)}, // 2028 is a leap year
		{d(2026, 12, 31), d(2027, 3, 31)},
		{d(2026, 10, 31), d(2027, 1, 31)},
		{d(2027, 5, 31), d(2027, 8, 31)},
		{d(2027, 3, 31), d(2027, 6, 30)},
	} {
		if got := terminationEnd(ten, c.received); got != c.want {
			t.Errorf("received %v: ends %v, want %v", c.received, got, c.want)
		}
	}
	six := withRules(ten, "billing.termination_notice_months", int64(6))
	if got := terminationEnd(six, d(2026, 8, 31)); got != d(2027, 2, 28) {
		t.Errorf("6 months' notice from 31 August 2026: %v", got)
	}
}

// TestB8RecordClientLetter: the clerk records the client's letter (sent 20 November,
// received 23 November): the end is 23 February 2027 — counted from receipt, not sending —,
// the subscription's end day is set, the client is told by e-mail and the action audited.
// A second termination while one is active, a receipt before the sending, a day to come, a
// missing reference: each refused next to its field, nothing changed.
func TestB8RecordClientLetter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		path := "/billing/manage/subscriptions/" + sub.ID + "/contract/termination"
		for field, bad := range map[string]url.Values{
			"received_on":    {"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-19"}, "term_reference": {"1A"}},
			"sent_on":        {"party": {"client"}, "sent_on": {"2026-11-27"}, "received_on": {"2026-11-23"}, "term_reference": {"1A"}},
			"term_reference": {"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {""}},
			"party":          {"party": {"nobody"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {"1A"}},
		} {
			res := f.postAs(f.A, clerk, path, bad)
			if res.Status != 422 || !strings.Contains(string(res.Body), `id="e-`+field+`"`) {
				t.Errorf("%s: %d %s", field, res.Status, res.Body)
			}
			noKeys(t, string(res.Body))
		}
		if got := f.terminations(f.A, sub.ID); len(got) != 0 {
			t.Fatalf("refused forms recorded: %+v", got)
		}
		res := f.postAs(f.A, clerk, path, url.Values{"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {"1A 111 222 3334 5"}})
		if res.Status != 303 {
			t.Fatalf("record: %d %s", res.Status, res.Body)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2027, 2, 23) {
			t.Errorf("ends on %v, want 23 February 2027", got)
		}
		terms := f.terminations(f.A, sub.ID)
		if len(terms) != 1 || terms[0].Reason != reasonClient || terms[0].SentOn != d(2026, 11, 20) || terms[0].ReceivedOn != d(2026, 11, 23) || terms[0].Reference != "1A 111 222 3334 5" {
			t.Fatalf("termination: %+v", terms)
		}
		mails := f.sentOf(tmplTerminationRecorded)
		if len(mails) != 1 || mails[0].UserID != client.ID || !strings.Contains(f.mailText("fr", mails[0]), "prendra fin le 23/02/2027") {
			t.Errorf("e-mail: %+v", mails)
		}
		if len(f.audits(auditTerminationSaved)) != 1 {
			t.Errorf("not audited")
		}
		res = f.postAs(f.A, clerk, path, url.Values{"party": {"firm"}, "sent_on": {"2026-11-24"}, "received_on": {"2026-11-25"}, "term_reference": {"2B"}})
		if res.Status != 422 || !strings.Contains(string(res.Body), "déjà en cours") {
			t.Errorf("second termination: %d %s", res.Status, res.Body)
		}
		// While one is active the page offers no second termination form, but says why
		// (walkthrough 7).
		if body := string(f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract", nil).Body); strings.Contains(body, `name="term_reference"`) ||
			!strings.Contains(body, "Une résiliation est en cours pour ce contrat") {
			t.Errorf("the page with an active termination:\n%s", body)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2027, 2, 23) {
			t.Errorf("the second one moved the end to %v", got)
		}
		// The client's page shows the end day and how to terminate.
		page := f.send(f.A, client, "GET", "/billing/contract", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "fin le 23/02/2027") || !strings.Contains(string(page.Body), "lettre recommandée avec accusé de réception") {
			t.Errorf("client page: %d %s", page.Status, page.Body)
		}
		noKeys(t, string(page.Body))
	})
}

// TestB8TwoClerksAtOnce: two clerks recording a termination of the same contract at the
// same time: one is recorded, the other is told one is already active.
func TestB8TwoClerksAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		path := "/billing/manage/subscriptions/" + sub.ID + "/contract/termination"
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, recv := range []string{"2026-11-23", "2026-11-24"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {recv}, "term_reference": {"R" + recv}}
				res, err := f.h.Do(context.Background(), f.A, clerk, "POST", path, []byte(form.Encode()))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		if !(statuses[0] == 303 && statuses[1] == 422 || statuses[0] == 422 && statuses[1] == 303) {
			t.Errorf("statuses %v, want one 303 and one 422", statuses)
		}
		active := 0
		for _, term := range f.terminations(f.A, sub.ID) {
			if term.State == termActive {
				active++
				if got := f.reload(f.A, sub.ID).EndsOn; got != term.EndsOn {
					t.Errorf("subscription ends %v, its termination %v", got, term.EndsOn)
				}
			}
		}
		if active != 1 {
			t.Errorf("%d active terminations", active)
		}
	})
}

// TestB8WithdrawBeforeEnd: the clerk withdraws a termination before its end: the contract
// has no end any more, the withdrawal is audited; a termination whose end passed cannot be
// withdrawn.
func TestB8WithdrawBeforeEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		base := "/billing/manage/subscriptions/" + sub.ID + "/contract"
		if res := f.postAs(f.A, clerk, base+"/termination", url.Values{"party": {"firm"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {"F1"}}); res.Status != 303 {
			t.Fatalf("record: %d", res.Status)
		}
		term := f.terminations(f.A, sub.ID)[0]
		if res := f.postAs(f.A, clerk, base+"/terminations/"+term.ID+"/withdraw", url.Values{}); res.Status != 303 {
			t.Fatalf("withdraw: %d", res.Status)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; !got.IsZero() {
			t.Errorf("still ends on %v", got)
		}
		if got := f.terminations(f.A, sub.ID)[0]; got.State != termWithdrawn || got.WithdrawnBy != clerk.ID {
			t.Errorf("withdrawn: %+v", got)
		}
		if len(f.audits(auditTerminationUndo)) != 1 {
			t.Errorf("withdrawal not audited")
		}
		// A new termination may be recorded; once its end day came it cannot be withdrawn.
		if res := f.postAs(f.A, clerk, base+"/termination", url.Values{"party": {"client"}, "sent_on": {"2026-11-24"}, "received_on": {"2026-11-25"}, "term_reference": {"C1"}}); res.Status != 303 {
			t.Fatalf("record again: %d %s", res.Status, res.Body)
		}
		var again Termination
		for _, x := range f.terminations(f.A, sub.ID) {
			if x.State == termActive {
				again = x
			}
		}
		f.setToday(d(2027, 2, 25))
		res := f.postAs(f.A, clerk, base+"/terminations/"+again.ID+"/withdraw", url.Values{})
		if res.Status != 303 || !strings.Contains(res.Header.Get("Location"), "not_withdrawable") {
			t.Errorf("withdraw on its end day: %d %v", res.Status, res.Header)
		}
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2027, 2, 25) {
			t.Errorf("end changed: %v", got)
		}
		// Another tenant cannot reach it.
		if res := f.postAs(f.B, clerk, base+"/terminations/"+again.ID+"/withdraw", url.Values{}); res.Status != 404 {
			t.Errorf("tenant B: %d", res.Status)
		}
	})
}

// TestB8JobEndsContractThenFinalInvoice: the daily job leaves a contract whose end day has
// not come; on the end day it marks it terminated, its termination done, asks for its final
// invoice once, and tells the client. Another run does nothing again.
func TestB8JobEndsContractThenFinalInvoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		var mu sync.Mutex
		var finals []string
		finalInvoiceHooks.Store(f.m, func(s *Subscription) {
			mu.Lock()
			defer mu.Unlock()
			if s.State != subTerminated {
				t.Errorf("final invoice asked for a subscription in state %s", s.State)
			}
			finals = append(finals, s.ID)
		})
		t.Cleanup(func() { finalInvoiceHooks.Delete(f.m) })
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		stays := f.subscribe(f.A, clientPL, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000002")
		if res := f.postAs(f.A, clerk, "/billing/manage/subscriptions/"+sub.ID+"/contract/termination",
			url.Values{"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {"C1"}}); res.Status != 303 {
			t.Fatalf("record: %d", res.Status)
		}
		f.setToday(d(2027, 2, 22))
		f.job(f.A, jobTerminations)
		if s := f.reload(f.A, sub.ID); s.State != subActive || len(finals) != 0 {
			t.Fatalf("the day before the end: %s, finals %v", s.State, finals)
		}
		f.setToday(d(2027, 2, 23))
		f.job(f.A, jobTerminations)
		if s := f.reload(f.A, sub.ID); s.State != subTerminated {
			t.Fatalf("on the end day: %s", s.State)
		}
		if s := f.reload(f.A, stays.ID); s.State != subActive {
			t.Errorf("another contract ended: %s", s.State)
		}
		if len(finals) != 1 || finals[0] != sub.ID {
			t.Errorf("final invoices asked: %v", finals)
		}
		if got := f.terminations(f.A, sub.ID); got[0].State != termDone {
			t.Errorf("termination: %s", got[0].State)
		}
		ended := f.sentOf(tmplContractEnded)
		if len(ended) != 1 || !strings.Contains(f.mailText("fr", ended[0]), "a pris fin le 23/02/2027") {
			t.Errorf("end e-mail: %+v", ended)
		}
		f.job(f.A, jobTerminations)
		if len(finals) != 1 || len(f.sentOf(tmplContractEnded)) != 1 {
			t.Errorf("a second run acted again: finals %v", finals)
		}
	})
}

// TestB8EndSubscriptionEarlierEndWins: another part ending a contract (B6, unpaid) sooner than
// an active termination supersedes it; a later end changes nothing.
func TestB8EndSubscriptionEarlierEndWins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		if res := f.postAs(f.A, clerk, "/billing/manage/subscriptions/"+sub.ID+"/contract/termination",
			url.Values{"party": {"client"}, "sent_on": {"2026-11-20"}, "received_on": {"2026-11-23"}, "term_reference": {"C1"}}); res.Status != 303 {
			t.Fatalf("record: %d", res.Status)
		}
		end := func(day Date) {
			s := f.reload(f.A, sub.ID)
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				return f.m.endSubscription(ctx, f.A, sc, s, day, "termination.reason.unpaid")
			})
		}
		end(d(2027, 3, 1))
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2027, 2, 23) {
			t.Errorf("a later end moved it to %v", got)
		}
		end(d(2026, 12, 15))
		if got := f.reload(f.A, sub.ID).EndsOn; got != d(2026, 12, 15) {
			t.Errorf("an earlier end left it at %v", got)
		}
		states := map[string]string{}
		for _, x := range f.terminations(f.A, sub.ID) {
			states[x.Reason] = x.State
		}
		if states[reasonClient] != termSuperseded || states[reasonUnpaid] != termActive {
			t.Errorf("terminations: %v", states)
		}
	})
}

// TestB8FirmLetterPDF: the firm's letter, in the client's language, names the parties, the
// contract's reference, the notice (counted from receipt) and the end day — for a letter
// sent on 27 November 2026, 27 February 2027 at the earliest.
func TestB8FirmLetterPDF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, cat.Products["ESSENTIEL"], d(2026, 3, 31), "+33100000001")
		res := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract/letter?on=2026-11-27", nil)
		if res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("letter: %d %v", res.Status, res.Header)
		}
		text := strings.Join(strings.Fields(pdftest.Text(t, res.Body, false)), " ")
		for _, want := range []string{"Secrétariat tA", "Cabinet Dr Jean Martin", "3 rue de la Santé", "75013 Paris", sub.Reference,
			"Résiliation du contrat", "Lettre recommandée avec accusé de réception", "Le 27/11/2026",
			"préavis de 3 mois", "à compter de la réception", "prendra donc fin 3 mois après la réception de la présente lettre, soit le 27/02/2027 au plus tôt"} {
			if !strings.Contains(text, want) {
				t.Errorf("French letter lacks %q:\n%s", want, text)
			}
		}
		// Plain formal wording: no "reception on the day of sending" (walkthrough 21).
		if strings.Contains(text, "jour de l’envoi") {
			t.Errorf("French letter still explains a receipt on the day of sending:\n%s", text)
		}
		f.setLocale(f.A, sub, "pl")
		res = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract/letter?on=2026-11-30", nil)
		text = strings.Join(strings.Fields(pdftest.Text(t, res.Body, false)), " ")
		for _, want := range []string{"Wypowiedzenie umowy", "List polecony za potwierdzeniem odbioru", "po upływie 3 miesięcy", "najwcześniej 28.02.2027", sub.Reference} {
			if !strings.Contains(text, want) {
				t.Errorf("Polish letter lacks %q:\n%s", want, text)
			}
		}
		if res := f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract/letter?on=2026-13-01", nil); res.Status != 400 {
			t.Errorf("a day that does not exist: %d", res.Status)
		}
		if res := f.send(f.B, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/contract/letter", nil); res.Status != 404 {
			t.Errorf("tenant B: %d", res.Status)
		}
	})
}
