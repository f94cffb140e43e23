package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

const (
	usagePhone  = "+33145678901" // the client's dedicated number
	usagePhone2 = "+33145678902"
)

// api posts body (JSON) to an API path with an API key, or with none when key is "".
func (f *fixture) api(ten sdk.Tenant, method, path, key, body string) *sdk.Response {
	f.t.Helper()
	req := &sdk.Request{Method: method, Path: path, RemoteIP: "10.9.9.8", Header: http.Header{}, ClientID: key, ClientName: "Téléphonie"}
	if body != "" {
		req.Body = []byte(body)
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.h.Send(context.Background(), ten, nil, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) reply(res *sdk.Response) apiReply {
	f.t.Helper()
	if res.Status != http.StatusOK {
		f.t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	var r apiReply
	if err := json.Unmarshal(res.Body, &r); err != nil {
		f.t.Fatalf("%v: %s", err, res.Body)
	}
	return r
}

func usageBody(events ...string) string { return `{"events":[` + strings.Join(events, ",") + `]}` }

func usageEvent(id, number, kind, at string) string {
	return fmt.Sprintf(`{"id":%q,"number":%q,"kind":%q,"at":%q,"duration_s":42,"recording_ref":"rec-%s"}`, id, number, kind, at, id)
}

func statuses(r apiReply) []string {
	var out []string
	for _, x := range r.Results {
		out = append(out, x.Status+":"+x.Reason)
	}
	return out
}

// B3: the same platform id counts once — within a batch, in a later batch — and a number in
// the usual national notation matches the subscription's E.164 number.
func TestUsageAPIDeduplicatesB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		body := usageBody(usageEvent("ev1", "01 45 67 89 01", "call", "2026-11-26T09:00:00Z"),
			usageEvent("ev2", "+33 1 45 67 89 01", "sms", "2026-11-26T09:01:00+01:00"),
			usageEvent("ev1", usagePhone, "call", "2026-11-26T09:00:00Z"))
		r := f.reply(f.api(f.A, "POST", "/billing/api/usage", "tel1", body))
		if got := strings.Join(statuses(r), ","); got != "accepted:,accepted:,duplicate:" || r.Accepted != 2 || r.Duplicates != 1 {
			t.Fatalf("first batch: %s %+v", got, r)
		}
		r = f.reply(f.api(f.A, "POST", "/billing/api/usage", "tel1", body))
		if r.Accepted != 0 || r.Duplicates != 3 {
			t.Fatalf("second batch: %+v", r)
		}
		if n := f.countRows(f.A, (*Usage)(nil)); n != 2 {
			t.Fatalf("%d usage rows, want 2", n)
		}
		if got := f.counters(f.A); len(got) != 2 || got[0].Kind != usageCall || got[0].N != 1 || got[1].Kind != usageSMS || got[1].N != 1 {
			t.Fatalf("B3: counters %+v, want a call and an SMS", got)
		}
		// The same id in another tenant is another event.
		cb := f.seedCatalog(f.B)
		f.subscribe(f.B, client, cb.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		if r := f.reply(f.api(f.B, "POST", "/billing/api/usage", "tel1", usageBody(usageEvent("ev1", usagePhone, "call", "2026-11-26T09:00:00Z")))); r.Accepted != 1 {
			t.Fatalf("tenant B: %+v", r)
		}
	})
}

// B3: 50 platform retries of the same batch at once store each event once.
func TestUsageAPIConcurrentDuplicatesB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		var evs []string
		for i := 0; i < 5; i++ {
			evs = append(evs, usageEvent(fmt.Sprintf("race-%d", i), usagePhone, "call", "2026-11-26T08:00:00Z"))
		}
		body := usageBody(evs...)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, dup := 0, 0
		errs := make(chan string, 50)
		for g := 0; g < 50; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &sdk.Request{Method: "POST", Path: "/billing/api/usage", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), ClientID: "tel1"}
				res, err := f.h.Send(context.Background(), f.A, nil, req)
				if err != nil || res.Status != http.StatusOK {
					errs <- fmt.Sprint(err, res)
					return
				}
				var r apiReply
				if err := json.Unmarshal(res.Body, &r); err != nil {
					errs <- err.Error()
					return
				}
				mu.Lock()
				accepted += r.Accepted
				dup += r.Duplicates
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		if accepted != 5 || dup != 245 {
			t.Fatalf("accepted %d, duplicates %d; want 5 and 245", accepted, dup)
		}
		if n := f.countRows(f.A, (*Usage)(nil)); n != 5 {
			t.Fatalf("%d rows, want 5", n)
		}
		// B5: the period's counter holds each event once.
		if got := f.counters(f.A); len(got) != 1 || got[0].PeriodStart != (Date{2026, 11, 26}) || got[0].Kind != usageCall || got[0].N != 5 {
			t.Fatalf("B5: counters %+v, want 5 calls in the period from 26 November", got)
		}
	})
}

// counters are the tenant's usage counters.
func (f *fixture) counters(ten sdk.Tenant) []UsageCount {
	f.t.Helper()
	var out []UsageCount
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).OrderExpr("ucount.subscription_id, ucount.period_start, ucount.kind").Scan(ctx)
	})
	return out
}

// B3: an event is refused, with its reason in words, when its number has no subscription
// (another tenant's does not count), is no number, its day is outside the contract, or its
// time or kind cannot be read; nothing of it is stored.
func TestUsageAPIRefusesB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		cb := f.seedCatalog(f.B)
		f.subscribe(f.B, client, cb.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone2)
		body := usageBody(usageEvent("a", usagePhone2, "call", "2026-11-26T09:00:00Z"),
			usageEvent("b", "12", "call", "2026-11-26T09:00:00Z"),
			usageEvent("c", usagePhone, "call", "2026-10-25T21:00:00Z"), // 25 October in Paris: before the start
			usageEvent("d", usagePhone, "call", "hier"),
			usageEvent("e", usagePhone, "call", "2026-11-26T11:00:00Z"), // an hour ahead of the clock
			usageEvent("f", usagePhone, "fax", "2026-11-26T09:00:00Z"),
			usageEvent("", usagePhone, "call", "2026-11-26T09:00:00Z"),
			`{"id":"g","number":"`+usagePhone+`","kind":"call","at":"2026-11-26T09:00:00Z","duration_s":-3}`)
		r := f.reply(f.api(f.A, "POST", "/billing/api/usage", "tel1", body))
		want := "refused:unknown_number,refused:bad_number,refused:out_of_contract,refused:bad_time,refused:future_time,refused:bad_kind,refused:bad_id,refused:bad_duration"
		if got := strings.Join(statuses(r), ","); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
		if r.Results[0].Message != "Aucun abonnement n’a ce numéro." {
			t.Errorf("message: %q", r.Results[0].Message)
		}
		if n := f.countRows(f.A, (*Usage)(nil)); n != 0 {
			t.Fatalf("%d rows stored", n)
		}
	})
}

// Malformed calls get a 4xx in the API's shape, never a 500; a call without an API key 401.
func TestUsageAPIMalformed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		tooMany := make([]string, 1001)
		for i := range tooMany {
			tooMany[i] = usageEvent(fmt.Sprint(i), usagePhone, "call", "2026-11-26T09:00:00Z")
		}
		for _, c := range []struct {
			path, key, body string
			status          int
		}{
			{"/billing/api/usage", "tel1", `{"events":[`, 400},
			{"/billing/api/usage", "tel1", `[1,2]`, 422},
			{"/billing/api/usage", "tel1", `{}`, 422},
			{"/billing/api/usage", "tel1", `{"events":"x"}`, 422},
			{"/billing/api/usage", "tel1", `{"events":[{"id":"x","duration_s":"long"}]}`, 422},
			{"/billing/api/usage", "tel1", usageBody(tooMany...), 422},
			{"/billing/api/usage", "", usageBody(), 401},
			{"/billing/api/messages", "tel1", `{"messages":{}}`, 422},
			{"/billing/api/messages", "tel1", `nope`, 400},
			{"/billing/api/messages", "tel1", `{"messages":[{"id":"m","urgent":"yes"}]}`, 422},
		} {
			res := f.api(f.A, "POST", c.path, c.key, c.body)
			if res.Status != c.status {
				t.Errorf("%s %.40s: %d, want %d: %s", c.path, c.body, res.Status, c.status, res.Body)
			}
			var e struct{ Error, Message string }
			if json.Unmarshal(res.Body, &e) != nil || e.Error == "" || e.Message == "" {
				t.Errorf("%s %.40s: not the API's error shape: %s", c.path, c.body, res.Body)
			}
		}
		for _, q := range []string{"", "?number=", "?number=abc"} {
			if res := f.api(f.A, "GET", "/billing/api/hours"+q, "tel1", ""); res.Status != 422 {
				t.Errorf("hours %q: %d %s", q, res.Status, res.Body)
			}
		}
		if res := f.api(f.A, "GET", "/billing/api/hours?number="+usagePhone, "tel1", ""); res.Status != 404 {
			t.Errorf("hours of an unknown number: %d", res.Status)
		}
	})
}

// B3, B5: an event belongs to the period of its local day in Paris: a call at 23:30 UTC on
// the eve of the anniversary is already the anniversary's day there, so in the new period.
func TestUsagePeriodBoundaryInTenantZoneB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		f.now = time.Date(2026, 12, 26, 10, 0, 0, 0, time.UTC)
		r := f.reply(f.api(f.A, "POST", "/billing/api/usage", "tel1", usageBody(
			usageEvent("eve", usagePhone, "call", "2026-11-25T22:59:59Z"),   // 23:59:59 on 25 November in Paris
			usageEvent("anniv", usagePhone, "call", "2026-11-25T23:30:00Z"), // 00:30 on 26 November in Paris
			usageEvent("sms", usagePhone, "sms", "2026-12-25T22:30:00Z"),    // 23:30 on 25 December: the new period's last day
			usageEvent("next", usagePhone, "call", "2026-11-26T09:30:00Z"))))
		if r.Accepted != 4 {
			t.Fatalf("%+v", r)
		}
		var oldCalls, oldSMS, newCalls, newSMS int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			if oldCalls, oldSMS, err = f.m.usageCounts(ctx, sc, f.A, sub, Date{2026, 10, 26}, Date{2026, 11, 25}); err != nil {
				return err
			}
			newCalls, newSMS, err = f.m.usageCounts(ctx, sc, f.A, sub, Date{2026, 11, 26}, Date{2026, 12, 25})
			return err
		})
		if oldCalls != 1 || oldSMS != 0 || newCalls != 2 || newSMS != 1 {
			t.Fatalf("previous period %d calls %d sms, new period %d calls %d sms; want 1 0 2 1", oldCalls, oldSMS, newCalls, newSMS)
		}
	})
}

// insertUsage stores n events of kind for sub at at, straight in the table.
func (f *fixture) insertUsage(ten sdk.Tenant, sub *Subscription, kind string, n int, at time.Time, prefix string) {
	f.t.Helper()
	rows := make([]Usage, n)
	for i := range rows {
		rows[i] = Usage{TenantID: ten.ID, EventID: fmt.Sprintf("%s-%d", prefix, i), SubscriptionID: sub.ID, Kind: kind, OccurredAt: at, ReceivedAt: at}
	}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return storeNewUsage(ctx, sc, ten, map[string]*Subscription{sub.ID: sub}, rows)
	})
}

// B3: the consumption page shows the current period's bounds, calls and SMS used, included
// and beyond the allowance with the overage price of the tariff that prices the next invoice
// and the estimate; the previous periods with their counts (zero forms in words). The clerk
// sees the same figures for one subscription; no one sees another tenant's.
func TestUsagePageFiguresB3(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 9, 26}, usagePhone)
		f.insertUsage(f.A, sub, usageCall, 152, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), "cur")
		f.insertUsage(f.A, sub, usageSMS, 3, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), "sms")
		f.insertUsage(f.A, sub, usageCall, 1, time.Date(2026, 10, 26, 8, 0, 0, 0, time.UTC), "prev")

		res := f.send(f.A, client, "GET", "/billing/usage", nil)
		page := string(res.Body)
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, page)
		}
		for _, want := range []string{"du 26/11/2026 au 25/12/2026", "152 appels", "150 appels", "2 appels", "0,60\u00a0€", "1,20\u00a0€",
			"3 SMS", "50 SMS", "Aucun SMS", "0,15\u00a0€", "Du 26/10/2026 au 25/11/2026", "1 appel", "Du 26/09/2026 au 25/10/2026", "Aucun appel",
			"Estimation du hors-forfait de la période : 1,20\u00a0€ HT, facturé avec la facture du 26/12/2026."} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(page, sub.ID) && !strings.Contains(page, "s="+sub.ID) {
			t.Errorf("the page shows the subscription's id")
		}

		// A tariff announced for the next invoice's day prices this period's overage.
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			tar := Tariff{TenantID: f.A.ID, ID: newID(), Name: "Tarif 2027", EffectiveOn: Date{2026, 12, 26}, State: tariffAnnounced, CreatedAt: f.now}
			if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Insert(&Price{TenantID: f.A.ID, TariffID: tar.ID, ProductID: c.Products["ESSENTIEL"], MonthlyFeeMinor: 9500, CallMinor: 70, SMSMinor: 20}).Exec(ctx)
			return err
		})
		page = string(f.send(f.A, client, "GET", "/billing/usage", nil).Body)
		if !strings.Contains(page, "1,40\u00a0€ HT") || !strings.Contains(page, "0,70\u00a0€") {
			t.Errorf("the announced tariff does not price the estimate")
		}

		res = f.send(f.A, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/usage", nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), "152 appels") {
			t.Errorf("clerk page: %d", res.Status)
		}
		if res := f.send(f.B, clerk, "GET", "/billing/manage/subscriptions/"+sub.ID+"/usage", nil); res.Status != 404 {
			t.Errorf("another tenant's clerk: %d", res.Status)
		}
		other := &sdk.User{ID: "client2", Name: "Dr Paul Durand", Roles: []string{"user"}}
		page = string(f.send(f.A, other, "GET", "/billing/usage", nil).Body)
		if strings.Contains(page, "152") || !strings.Contains(page, "pas encore d’abonnement") {
			t.Errorf("another client's page: %s", page)
		}
	})
}

func messageJSON(id, number, at, caller, text string, urgent bool) string {
	return fmt.Sprintf(`{"id":%q,"number":%q,"at":%q,"caller_name":%q,"caller_phone":"06 12 34 56 78","text":%q,"urgent":%t}`, id, number, at, caller, text, urgent)
}

// B2: the messages taken for a client are stored once each, listed newest first with the
// urgent ones marked in words, paged; with the option "message forwarding" each new one is
// sent to the client by e-mail in his language, once; without it, none is.
func TestUsageMessagesListedAndForwardedB2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.addOption(f.A, c, optionTransmission, "Transmission des messages", 1000)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone, c.Products[optionTransmission])
		other := &sdk.User{ID: "client2", Name: "Dr Paul Durand", Roles: []string{"user"}}
		f.subscribe(f.A, other, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone2, c.Products["AGENDA"])
		body := `{"messages":[` + messageJSON("m1", "01 45 67 89 01", "2026-11-26T08:00:00Z", "Mme Leroy", "Rappeler pour le renouvellement.\nMerci.", false) + `,` +
			messageJSON("m2", usagePhone, "2026-11-26T09:00:00Z", "M. Petit", "Douleur thoracique, rappeler vite.", true) + `,` +
			messageJSON("m3", usagePhone2, "2026-11-26T09:10:00Z", "", "Annulation du rendez-vous.", false) + `]}`
		r := f.reply(f.api(f.A, "POST", "/billing/api/messages", "tel1", body))
		if r.Accepted != 3 || r.Results[0].Forwarded == nil || !*r.Results[0].Forwarded || r.Results[2].Forwarded != nil {
			t.Fatalf("%s", mustJSON(r))
		}
		if r := f.reply(f.api(f.A, "POST", "/billing/api/messages", "tel1", body)); r.Duplicates != 3 {
			t.Fatalf("again: %+v", r)
		}
		var sent []sdk.Message
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplMessageForwarded {
				sent = append(sent, m.Value)
			}
		}
		if len(sent) != 2 {
			t.Fatalf("%d messages forwarded, want 2 (once each, only with the option)", len(sent))
		}
		if sent[1].UserID != client.ID || sent[1].Data["Kind"] != "Message urgent" || sent[1].Data["Phone"] != "+33 6 12 34 56 78" ||
			sent[1].Data["When"] != "26/11/2026 10:00" || sent[1].Data["Text"] != "Douleur thoracique, rappeler vite." {
			t.Errorf("forwarded: %+v", sent[1])
		}
		var fwd int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			fwd, err = sc.Select((*TakenMessage)(nil)).Where("msg.forwarded_at IS NOT NULL").Count(ctx)
			return err
		})
		if fwd != 2 {
			t.Errorf("%d marked forwarded", fwd)
		}

		page := string(f.send(f.A, client, "GET", "/billing/messages", nil).Body)
		i1, i2 := strings.Index(page, "Mme Leroy"), strings.Index(page, "M. Petit")
		if i1 < 0 || i2 < 0 || i2 > i1 {
			t.Fatalf("not listed newest first: %s", page)
		}
		if !strings.Contains(page, ">Urgent</strong> Message pris le 26/11/2026 10:00") || strings.Contains(page, "Annulation") {
			t.Errorf("page: %s", page)
		}
		if !strings.Contains(string(f.send(f.A, other, "GET", "/billing/messages", nil).Body), "Nom non communiqué") {
			t.Errorf("an unnamed caller is not said so")
		}

		// Paged: 25 more, 20 a page.
		var more []string
		for i := 0; i < 25; i++ {
			more = append(more, messageJSON(fmt.Sprintf("p%02d", i), usagePhone, fmt.Sprintf("2026-11-25T08:%02d:00Z", i), fmt.Sprintf("Appelant %02d", i), "Texte", false))
		}
		f.reply(f.api(f.A, "POST", "/billing/api/messages", "tel1", `{"messages":[`+strings.Join(more, ",")+`]}`))
		page = string(f.send(f.A, client, "GET", "/billing/messages", nil).Body)
		if !strings.Contains(page, "Appelant 07") || strings.Contains(page, "Appelant 06") || !strings.Contains(page, "page=2") {
			t.Errorf("first page wrong")
		}
		page = string(f.send(f.A, client, "GET", "/billing/messages?page=2", nil).Body)
		if !strings.Contains(page, "Appelant 00") || !strings.Contains(page, "Appelant 06") || strings.Contains(page, "Appelant 07") {
			t.Errorf("second page wrong")
		}
		if res := f.send(f.A, client, "GET", "/billing/messages?page=abc", nil); res.Status != 400 {
			t.Errorf("page=abc: %d", res.Status)
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// B2: the nightly job deletes the messages older than the retention and clears the
// recording references of older calls, keeping the calls (invoice evidence); the rule is
// the tenant's; the other tenant's data is untouched.
func TestUsageRetentionJobB2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 1, 5}, usagePhone)
		cb := f.seedCatalog(f.B)
		f.subscribe(f.B, client, cb.Products["ESSENTIEL"], Date{2026, 1, 5}, usagePhone)
		old, recent := "2026-09-25T10:00:00Z", "2026-09-27T10:00:00Z" // the clock is 26 November: two months back is 26 September
		for _, ten := range []sdk.Tenant{f.A, f.B} {
			f.reply(f.api(ten, "POST", "/billing/api/usage", "tel1", usageBody(usageEvent("old", usagePhone, "call", old), usageEvent("recent", usagePhone, "call", recent))))
			f.reply(f.api(ten, "POST", "/billing/api/messages", "tel1", `{"messages":[`+messageJSON("old", usagePhone, old, "A", "x", false)+`,`+messageJSON("recent", usagePhone, recent, "B", "y", false)+`]}`))
		}
		if err := f.h.Job(context.Background(), f.A, jobUsageRetention, nil); err != nil {
			t.Fatal(err)
		}
		check := func(ten sdk.Tenant, wantMsgs []string, wantRefs map[string]string) {
			t.Helper()
			var msgs []TakenMessage
			var uses []Usage
			f.in(ten, func(ctx context.Context, sc *store.Scope) error {
				if err := sc.Select(&msgs).OrderExpr("msg.event_id").Scan(ctx); err != nil {
					return err
				}
				return sc.Select(&uses).OrderExpr("use.event_id").Scan(ctx)
			})
			var ids []string
			for _, m := range msgs {
				ids = append(ids, m.EventID)
			}
			if strings.Join(ids, ",") != strings.Join(wantMsgs, ",") {
				t.Errorf("%s: messages %v, want %v", ten.ID, ids, wantMsgs)
			}
			if len(uses) != 2 {
				t.Fatalf("%s: %d usage rows, want both kept", ten.ID, len(uses))
			}
			for _, u := range uses {
				if u.RecordingRef != wantRefs[u.EventID] {
					t.Errorf("%s: %s recording %q, want %q", ten.ID, u.EventID, u.RecordingRef, wantRefs[u.EventID])
				}
			}
		}
		check(f.A, []string{"recent"}, map[string]string{"old": "", "recent": "rec-recent"})
		check(f.B, []string{"old", "recent"}, map[string]string{"old": "rec-old", "recent": "rec-recent"})

		// A tenant keeping them one month only.
		short := f.B
		short.Rules = map[string]any{recordingRetentionMonths.Rule().Name: int64(1)}
		f.now = time.Date(2026, 10, 26, 10, 0, 0, 0, time.UTC) // a month back: 26 September, 10:00
		if err := f.h.Job(context.Background(), short, jobUsageRetention, nil); err != nil {
			t.Fatal(err)
		}
		check(f.B, []string{"recent"}, map[string]string{"old": "", "recent": "rec-recent"})
	})
}

// B2: the telephony platform reads a number's answering hours and whether the secretariat
// answers now in Paris: the full service by default, partial hours as agreed, never while the
// subscription is suspended.
func TestUsageHoursAPIB2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		full := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		other := &sdk.User{ID: "client2", Name: "Dr Paul Durand", Roles: []string{"user"}}
		part := f.subscribe(f.A, other, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone2)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			h := Hours{Profile: hoursPartial, Days: []HoursDay{{4, "14:00", "18:00"}}}
			_, err := sc.Update((*Subscription)(nil)).Set("hours = ?", h.String()).Where("sub.id = ?", part.ID).Exec(ctx)
			return err
		})
		hours := func(number string) map[string]any {
			t.Helper()
			res := f.api(f.A, "GET", "/billing/api/hours?number="+number, "tel1", "")
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			var out map[string]any
			_ = json.Unmarshal(res.Body, &out)
			return out
		}
		// Thursday 26 November, 11:00 in Paris.
		h := hours("01%2045%2067%2089%2001")
		if h["answers_now"] != true || h["profile"] != "full" || h["time_zone"] != "Europe/Paris" || len(h["days"].([]any)) != 6 {
			t.Errorf("full service: %v", h)
		}
		if h := hours(usagePhone2); h["answers_now"] != false || h["profile"] != "partial" {
			t.Errorf("partial hours at 11:00: %v", h)
		}
		f.now = time.Date(2026, 11, 26, 13, 30, 0, 0, time.UTC) // 14:30 in Paris
		if h := hours(usagePhone2); h["answers_now"] != true {
			t.Errorf("partial hours at 14:30: %v", h)
		}
		f.now = time.Date(2026, 11, 28, 12, 30, 0, 0, time.UTC) // Saturday 13:30 in Paris
		if h := hours(usagePhone); h["answers_now"] != false {
			t.Errorf("Saturday 13:30: %v", h)
		}
		f.now = time.Date(2026, 11, 28, 11, 30, 0, 0, time.UTC) // Saturday 12:30
		if h := hours(usagePhone); h["answers_now"] != true {
			t.Errorf("Saturday 12:30: %v", h)
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Subscription)(nil)).Set("state = ?", subSuspended).Where("sub.id = ?", full.ID).Exec(ctx)
			return err
		})
		if h := hours(usagePhone); h["answers_now"] != false || h["suspended"] != true {
			t.Errorf("suspended: %v", h)
		}
	})
}

// P11: a client's export lists his messages; erasing his account deletes them and clears his
// calls' recording references, keeping the calls for the invoices.
func TestUsageExportAndForgetP11(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		f.reply(f.api(f.A, "POST", "/billing/api/usage", "tel1", usageBody(usageEvent("u1", usagePhone, "call", "2026-11-26T08:00:00Z"))))
		f.reply(f.api(f.A, "POST", "/billing/api/messages", "tel1", `{"messages":[`+messageJSON("m1", usagePhone, "2026-11-26T08:00:00Z", "Mme Leroy", "Rappeler", false)+`]}`))
		raw, err := f.h.Export(context.Background(), f.A, client.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"billing_messages"`) || !strings.Contains(string(raw), "Mme Leroy") {
			t.Fatalf("export: %s", raw)
		}
		if err := f.h.Event(context.Background(), f.A, "user.deleted", []byte(client.ID)); err != nil {
			t.Fatal(err)
		}
		if n := f.countRows(f.A, (*TakenMessage)(nil)); n != 0 {
			t.Errorf("%d messages left", n)
		}
		var uses []Usage
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&uses).Scan(ctx) })
		if len(uses) != 1 || uses[0].RecordingRef != "" {
			t.Errorf("usage after erasure: %+v", uses)
		}
	})
}

// B2: a message the API could not forward is sent by the retry job, once; not one of a
// subscription without the option, nor one older than the retry window.
func TestUsageForwardRetryJobB2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.addOption(f.A, c, optionTransmission, "Transmission des messages", 1000)
		with := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone, c.Products[optionTransmission])
		other := &sdk.User{ID: "client2", Name: "Dr Paul Durand", Roles: []string{"user"}}
		without := f.subscribe(f.A, other, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone2)
		at := f.now.Add(-10 * time.Minute)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			rows := []TakenMessage{
				{TenantID: f.A.ID, EventID: "unsent", SubscriptionID: with.ID, TakenAt: at, Body: "Rappeler", ReceivedAt: at},
				{TenantID: f.A.ID, EventID: "no-option", SubscriptionID: without.ID, TakenAt: at, Body: "Rappeler", ReceivedAt: at},
				{TenantID: f.A.ID, EventID: "too-old", SubscriptionID: with.ID, TakenAt: at.Add(-72 * time.Hour), Body: "Rappeler", ReceivedAt: at.Add(-72 * time.Hour)},
			}
			_, err := sc.Insert(&rows).Exec(ctx)
			return err
		})
		for i := 0; i < 2; i++ {
			if err := f.h.Job(context.Background(), f.A, jobForwardMessages, nil); err != nil {
				t.Fatal(err)
			}
		}
		var sent []sdk.Message
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplMessageForwarded {
				sent = append(sent, m.Value)
			}
		}
		if len(sent) != 1 || sent[0].UserID != client.ID || sent[0].Data["Caller"] != "Nom non communiqué" {
			t.Fatalf("sent %+v, want the one unsent message once", sent)
		}
	})
}

// B5: what counts usage reads an index, whatever the number of subscriptions: a run's batch
// and the usage page read the counters by their primary key and the events stored before the
// counters from the index that holds them alone; a part of a period (a contract's last days)
// is counted from the covering index (tenant, subscription, time, kind). Each engine's plan
// names the index (PostgreSQL told to avoid a sequential scan, which it prefers on a table
// this small).
func TestUsageCountsUseTheIndexB5(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		f.insertUsage(f.A, sub, usageCall, 3, f.now, "ix")
		ids := []string{sub.ID}
		for _, q := range []struct {
			index string
			query func(sc *store.Scope) string
		}{
			{map[storetest.Backend]string{"sqlite": "sqlite_autoindex_billing_usage_counts_1", "postgres": "billing_usage_counts_pkey"}[b],
				func(sc *store.Scope) string {
					return countersQuery(sc, ids, Date{2026, 10, 26}, Date{2026, 11, 26}).String()
				}},
			{"billing_usage_uncounted", func(sc *store.Scope) string {
				return uncountedQuery(sc, ids, f.now.Add(-time.Hour), f.now.Add(time.Hour)).String()
			}},
			{"billing_usage_period", func(sc *store.Scope) string {
				return usageBetweenQuery(sc, sub.ID, f.now.Add(-time.Hour), f.now.Add(time.Hour)).String()
			}},
		} {
			var plan []string
			f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
				explain := "EXPLAIN QUERY PLAN "
				if b == "postgres" {
					if _, err := sc.Tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
						return err
					}
					explain = "EXPLAIN "
				}
				rows, err := sc.Tx.QueryContext(ctx, explain+q.query(sc))
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						return err
					}
					plan = append(plan, fmt.Sprint(vals...))
				}
				return rows.Err()
			})
			if p := strings.Join(plan, "\n"); !strings.Contains(p, q.index) {
				t.Errorf("the plan does not use %s:\n%s", q.index, p)
			}
		}
	})
}

// B3, B5: events stored before the counters existed (not counted in them) are counted from
// the events beside the counted ones — by a period's figures, the usage page and a billing
// run — and an event before the contract began belongs to no period.
func TestUsageEarlierEventsStillCountB5(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		sub := f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone)
		f.use(f.A, sub, usageCall, 150, time.Date(2026, 11, 2, 9, 0, 0, 0, paris))
		f.use(f.A, sub, usageCall, 2, time.Date(2026, 10, 25, 9, 0, 0, 0, paris)) // before the contract
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			old := []Usage{ // stored before the counters: counted false
				{TenantID: f.A.ID, EventID: "old-1", SubscriptionID: sub.ID, Kind: usageCall, OccurredAt: time.Date(2026, 11, 25, 23, 30, 0, 0, paris), ReceivedAt: f.now},
				{TenantID: f.A.ID, EventID: "old-2", SubscriptionID: sub.ID, Kind: usageCall, OccurredAt: time.Date(2026, 10, 26, 0, 0, 0, 0, paris), ReceivedAt: f.now},
				{TenantID: f.A.ID, EventID: "old-3", SubscriptionID: sub.ID, Kind: usageSMS, OccurredAt: time.Date(2026, 11, 1, 9, 0, 0, 0, paris), ReceivedAt: f.now},
				{TenantID: f.A.ID, EventID: "old-4", SubscriptionID: sub.ID, Kind: usageCall, OccurredAt: time.Date(2026, 11, 26, 0, 10, 0, 0, paris), ReceivedAt: f.now},  // the next period's
				{TenantID: f.A.ID, EventID: "old-5", SubscriptionID: sub.ID, Kind: usageCall, OccurredAt: time.Date(2026, 10, 25, 23, 59, 0, 0, paris), ReceivedAt: f.now}, // before the contract
			}
			_, err := sc.Insert(&old).Exec(ctx)
			return err
		})
		var calls, sms, next int64
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			if calls, sms, err = f.m.usageCounts(ctx, sc, f.A, sub, Date{2026, 10, 26}, Date{2026, 11, 25}); err != nil {
				return err
			}
			next, _, err = f.m.usageCounts(ctx, sc, f.A, sub, Date{2026, 11, 26}, Date{2026, 12, 25})
			return err
		})
		if calls != 152 || sms != 1 || next != 1 {
			t.Fatalf("B5: %d calls, %d SMS, %d calls in the next period; want 152, 1 and 1", calls, sms, next)
		}
		ten := withRules(f.A, "billing.review_drafts", false)
		if err := f.h.Job(context.Background(), ten, jobInvoiceDue, nil); err != nil {
			t.Fatal(err)
		}
		var over int64
		for _, inv := range f.invoices(f.A) {
			for _, l := range inv.Lines {
				if inv.PeriodStart == (Date{2026, 11, 26}) && l.Kind == lineCallOverage {
					over = l.Quantity
				}
			}
		}
		if over != 2 {
			t.Errorf("B5: the run billed %d calls beyond the allowance, want 2", over)
		}
	})
}

// B2: 20 platform retries of the same message at once store it once and forward it once.
func TestUsageMessagesConcurrentOnceB2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		c := f.seedCatalog(f.A)
		f.addOption(f.A, c, optionTransmission, "Transmission des messages", 1000)
		f.subscribe(f.A, client, c.Products["ESSENTIEL"], Date{2026, 10, 26}, usagePhone, c.Products[optionTransmission])
		body := `{"messages":[` + messageJSON("same", usagePhone, "2026-11-26T08:00:00Z", "Mme Leroy", "Rappeler", true) + `]}`
		var wg sync.WaitGroup
		fails := make(chan string, 20)
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &sdk.Request{Method: "POST", Path: "/billing/api/messages", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), ClientID: "tel1"}
				if res, err := f.h.Send(context.Background(), f.A, nil, req); err != nil || res.Status != http.StatusOK {
					fails <- fmt.Sprint(err, res)
				}
			}()
		}
		wg.Wait()
		close(fails)
		for e := range fails {
			t.Fatal(e)
		}
		if n := f.countRows(f.A, (*TakenMessage)(nil)); n != 1 {
			t.Fatalf("%d rows, want 1", n)
		}
		sent := 0
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplMessageForwarded {
				sent++
			}
		}
		if sent != 1 {
			t.Fatalf("forwarded %d times, want once", sent)
		}
	})
}
