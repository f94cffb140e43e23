package eshop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/kittest"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

type resFixture struct {
	t        *testing.T
	h        *sdktest.Harness
	m        *Module
	A, B     sdk.Tenant
	now      time.Time
	customer *sdk.User
	staff    *sdk.User
}

func skTenant(id, slug string) sdk.Tenant {
	return sdk.Tenant{ID: id, Slug: slug, Name: "Unilabs " + slug, Locale: "sk", TimeZone: "Europe/Bratislava", Currency: "EUR", Country: "SK", Portal: "customers"}
}

// resSetup starts the module on backend b with a customer and a lab worker in tenant A.
func resSetup(t *testing.T, b storetest.Backend) *resFixture {
	m := newModule()
	f := &resFixture{t: t, m: m, A: skTenant("tA", "a"), B: skTenant("tB", "b"),
		now:      time.Date(2026, 12, 18, 9, 0, 0, 0, time.UTC), // Friday 18 December 2026, 10:00 in Bratislava
		customer: &sdk.User{ID: "u-cust", Email: "jana@example.sk", Name: "Jana Nováková", Locale: "sk", Roles: []string{"user"}},
		staff:    &sdk.User{ID: "u-lab", Email: "lab@example.sk", Name: "Peter Laborant", Locale: "sk", Roles: []string{"lab_staff"}}}
	m.now = func() time.Time { return f.now }
	f.h = sdktest.New(t, m, storetest.Env(t, b, "eshop"))
	f.h.Host.Users[f.A.ID] = []sdk.User{*f.customer, *f.staff}
	return f
}

// order stores a paid order of the customer in tenant ten with one item in state status
// (a test of tat working days at price priceMinor) and returns the item's id.
func (f *resFixture) order(ten sdk.Tenant, number, status string, tat int, priceMinor int64, mobile string) string {
	f.t.Helper()
	o := &Order{TenantID: ten.ID, ID: newID(), Number: number, UserID: f.customer.ID, Status: orderPaid, Locale: "sk", BuyerName: "Jana Nováková",
		Email: f.customer.Email, Mobile: mobile, Currency: "EUR", TotalMinor: priceMinor, DueMinor: priceMinor,
		SubmittedAt: f.now.AddDate(0, 0, -3), PayBy: f.now.AddDate(0, 0, -3).Add(30 * time.Minute)}
	o.PaidAt.Time = o.SubmittedAt.Add(time.Minute)
	it := &OrderItem{TenantID: ten.ID, ID: newID(), OrderID: o.ID, ItemID: "cat-1", Kind: kindTest, Name: "Krvný obraz", PriceMinor: priceMinor,
		VATPercent: 23, FeeMinor: 300, FeeVATPercent: 23, TATDays: tat, PersonName: "Jana Nováková", PointID: "p1", StartsAt: f.now.Add(-time.Hour), Status: status}
	err := f.m.In(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(o).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(it).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return it.ID
}

func (f *resFixture) result(ten sdk.Tenant, itemID string) *Result {
	f.t.Helper()
	var r Result
	err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&r).Where("item_id = ?", itemID).Scan(ctx)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return &r
}

// do sends a request as user.
func (f *resFixture) do(ten sdk.Tenant, user *sdk.User, method, path string, form url.Values) *sdk.Response {
	f.t.Helper()
	var body []byte
	if form != nil {
		body = []byte(form.Encode())
	}
	res, err := f.h.Do(context.Background(), ten, user, method, path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// rules is tenant A with the module's rules, the given ones changed.
func (f *resFixture) rules(set map[string]any) sdk.Tenant {
	f.t.Helper()
	rules, err := f.h.Manifest.ValidateRules(set)
	if err != nil {
		f.t.Fatal(err)
	}
	ten := f.A
	ten.Rules = rules
	return ten
}

var testPDF = func() []byte {
	d := pdfdoc.New("Výsledok", "Unilabs", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d.Heading("Výsledok vyšetrenia", 14)
	d.Text("Krvný obraz: v norme")
	b, err := d.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}()

// publish uploads the result PDF of itemID as the lab worker through the page.
func (f *resFixture) publish(ten sdk.Tenant, itemID string, data []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="vysledok.pdf"`)
	h.Set("Content-Type", "application/pdf")
	part, _ := w.CreatePart(h)
	_, _ = part.Write(data)
	_ = w.Close()
	hdr := http.Header{}
	hdr.Set("Content-Type", w.FormDataContentType())
	res, err := f.h.Send(context.Background(), ten, f.staff, &sdk.Request{Method: "POST", Path: "/eshop/lab/results/" + itemID + "/publish", Header: hdr, Body: body.Bytes()})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *resFixture) register(ten sdk.Tenant, itemID string) *sdk.Response {
	return f.do(ten, f.staff, "POST", "/eshop/lab/items/"+itemID+"/register", url.Values{})
}

func (f *resFixture) messages(tmpl string) []sdk.Message {
	var out []sdk.Message
	for _, m := range f.h.Host.Messages {
		if m.Value.Template == tmpl {
			out = append(out, m.Value)
		}
	}
	return out
}

// E10: the turnaround time counts Slovak working days from the sample's registration: a
// sample registered on Friday 18 December 2026 with a TAT of 3 days is due on Wednesday 23rd
// (the weekend skipped); with 4 days, on Monday 28th (24–26 December are public holidays in
// Slovakia, then the weekend). A sample is registered once; an item not yet sampled cannot be.
func TestResultsTATCountsSlovakWorkingDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		three := f.order(f.A, "2026-000101", itemSampled, 3, 2500, "")
		four := f.order(f.A, "2026-000102", itemCheckedIn, 4, 2500, "")
		booked := f.order(f.A, "2026-000103", itemBooked, 3, 2500, "")
		if res := f.register(f.A, three); res.Status != http.StatusSeeOther {
			t.Fatalf("register: %d %s", res.Status, res.Body)
		}
		if res := f.register(f.A, four); res.Status != http.StatusSeeOther {
			t.Fatalf("register: %d %s", res.Status, res.Body)
		}
		if got := f.result(f.A, three).DueOn; got != "2026-12-23" {
			t.Errorf("TAT 3 from Friday 18 December: due %s, want 2026-12-23", got)
		}
		if got := f.result(f.A, four).DueOn; got != "2026-12-28" {
			t.Errorf("TAT 4 from Friday 18 December over the Christmas holidays: due %s, want 2026-12-28", got)
		}
		// Registered again: the key refuses it and the page says so.
		res := f.register(f.A, three)
		if res.Status != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=sample_already") {
			t.Errorf("second registration: %d %v", res.Status, res.Header)
		}
		if res := f.register(f.A, booked); !strings.Contains(res.Header.Get("Location"), "done=sample_not_ready") {
			t.Errorf("an item not sampled was registered: %d %v", res.Status, res.Header)
		}
		var n int64
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*Result)(nil)).Count(ctx)
			return err
		})
		if n != 2 {
			t.Errorf("%d results registered, want 2", n)
		}
		// The lab finds the items by order number or by the person's name.
		for _, q := range []string{"2026-000101", "Nováková"} {
			page := f.do(f.A, f.staff, "GET", "/eshop/lab?q="+url.QueryEscape(q), nil)
			if page.Status != 200 || !strings.Contains(string(page.Body), "2026-000101") || !strings.Contains(string(page.Body), "23. 12. 2026") {
				t.Errorf("lab search %q: %d %s", q, page.Status, page.Body)
			}
		}
		// Twenty lab workers register the same sample at once: one registration.
		race := f.order(f.A, "2026-000104", itemSampled, 3, 2500, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.m.registerSample(context.Background(), f.A, race, f.staff.ID)
				if err != nil && !errors.Is(err, errAlreadyDone) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Errorf("%d concurrent registrations succeeded, want 1", ok)
		}
		// Another tenant's lab cannot register this tenant's sample.
		if res := f.register(f.B, race); res.Status != http.StatusNotFound {
			t.Errorf("tenant B registered A's item: %d", res.Status)
		}
	})
}

// E10: publishing sends the customer an e-mail with a login link and, the order having a
// mobile, an SMS with a signed link (no health data in it) that opens that one result
// without login — its page and its PDF — until it expires; an expired or forged link is
// refused with a clear page (4xx). Reads are audited.
func TestResultsSMSLinkOpensThatResult(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000201", itemSampled, 3, 2500, "+421901234567")
		other := f.order(f.A, "2026-000202", itemSampled, 3, 2500, "+421901234567")
		f.register(f.A, id)
		f.register(f.A, other)
		f.now = f.now.Add(24 * time.Hour)
		if res := f.publish(f.A, id, []byte("%PDF-1.4 not really")); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), "Súbor nie je platný PDF.") {
			t.Fatalf("a broken PDF: %d %s", res.Status, res.Body)
		}
		if r := f.result(f.A, id); !r.PublishedAt.IsZero() {
			t.Fatal("a refused upload published the result")
		}
		if res := f.publish(f.A, id, testPDF); res.Status != http.StatusSeeOther {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		if res := f.publish(f.A, other, testPDF); res.Status != http.StatusSeeOther {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		var st string
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select((*OrderItem)(nil)).Column("status").Where("id = ?", id).Scan(ctx, &st)
		})
		if st != itemPublished {
			t.Errorf("item state %q after publication", st)
		}
		msgs := f.messages(tmplResultPublished)
		var mail, sms *sdk.Message
		for i := range msgs {
			if msgs[i].Channel == "sms" && strings.Contains(msgs[i].Link, "/eshop/r/"+id+".") {
				sms = &msgs[i]
			}
			if msgs[i].Channel == "" && msgs[i].Link == "/login?next=/eshop/results/"+id {
				mail = &msgs[i]
			}
		}
		if mail == nil || mail.UserID != f.customer.ID {
			t.Fatalf("no login e-mail to the customer: %+v", msgs)
		}
		if sms == nil || sms.To != "+421901234567" || !sms.Secret {
			t.Fatalf("no SMS with a secret link: %+v", msgs)
		}
		for k, v := range sms.Data {
			if s := fmt.Sprint(v); strings.Contains(s, "Krvný") || strings.Contains(s, "Jana") {
				t.Errorf("the SMS carries health or personal data: %s = %s", k, s)
			}
		}
		text := f.m.Msgs.For("sk").T("sms."+tmplResultPublished, "Tenant", f.A.Name, "Link", "https://x/"+sms.Link)
		if strings.Contains(text, "Krvný") {
			t.Errorf("SMS text: %s", text)
		}
		link := sms.Link
		page := f.do(f.A, nil, "GET", link, nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "Krvný obraz") || !strings.Contains(string(page.Body), link+"/pdf") {
			t.Fatalf("the link's page: %d %s", page.Status, page.Body)
		}
		pdf := f.do(f.A, nil, "GET", link+"/pdf", nil)
		if pdf.Status != 200 || !bytes.Equal(pdf.Body, testPDF) || pdf.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("the link's PDF: %d %v", pdf.Status, pdf.Header)
		}
		reads := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == auditResultRead && a.Value.Resource == "eshop/result/"+id && a.Value.Subject == f.customer.ID {
				reads++
			}
		}
		if reads != 2 {
			t.Errorf("%d audited reads by link, want 2", reads)
		}
		// The token opens that one result: its signature does not carry over to another.
		parts := strings.Split(strings.TrimPrefix(link, "/eshop/r/"), ".")
		for name, tok := range map[string]string{
			"other result":  other + "." + parts[1] + "." + parts[2],
			"longer expiry": id + "." + fmt.Sprint(f.now.Add(1000*time.Hour).Unix()) + "." + parts[2],
			"garbage":       "abc",
			"bad signature": id + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		} {
			res := f.do(f.A, nil, "GET", "/eshop/r/"+tok, nil)
			if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "Tento odkaz nie je platný.") {
				t.Errorf("forged link (%s): %d %s", name, res.Status, res.Body)
			}
			if res := f.do(f.A, nil, "GET", "/eshop/r/"+tok+"/pdf", nil); res.Status != http.StatusNotFound || bytes.Equal(res.Body, testPDF) {
				t.Errorf("forged link's PDF (%s): %d", name, res.Status)
			}
		}
		// Another tenant's key does not sign this tenant's links.
		if res := f.do(f.B, nil, "GET", link, nil); res.Status != http.StatusNotFound {
			t.Errorf("tenant B opened A's link: %d", res.Status)
		}
		// Expired: past the tenant's rule of hours.
		f.now = f.now.Add(time.Duration(resultLinkHours.Of(f.rules(nil)))*time.Hour + time.Minute)
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			res := f.do(ten, nil, "GET", link, nil)
			want := map[string]string{"fr": "Ce lien a expiré.", "pl": "Ten link wygasł.", "sk": "Platnosť tohto odkazu vypršala."}[lang]
			if res.Status != http.StatusGone || !strings.Contains(string(res.Body), want) {
				t.Errorf("expired link in %s: %d %s", lang, res.Status, res.Body)
			}
		}
		if res := f.do(f.A, nil, "GET", link+"/pdf", nil); res.Status != http.StatusGone {
			t.Errorf("expired link's PDF: %d", res.Status)
		}
		// Signed in, the customer still has it; another customer does not.
		if res := f.do(f.A, f.customer, "GET", "/eshop/results/"+id+"/pdf", nil); res.Status != 200 || !bytes.Equal(res.Body, testPDF) {
			t.Errorf("the customer's PDF: %d", res.Status)
		}
		if res := f.do(f.A, f.staff, "GET", "/eshop/lab/results/"+id+"/pdf", nil); res.Status != 200 || !bytes.Equal(res.Body, testPDF) {
			t.Errorf("the lab's PDF: %d", res.Status)
		}
		labReads := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == auditResultRead && a.Value.Detail["how"] == "lab" && a.Scope.UserID == f.staff.ID {
				labReads++
			}
		}
		if labReads != 1 {
			t.Errorf("%d audited reads by the lab, want 1", labReads)
		}
		stranger := &sdk.User{ID: "u-other", Roles: []string{"user"}}
		if res := f.do(f.A, stranger, "GET", "/eshop/results/"+id, nil); res.Status != http.StatusNotFound {
			t.Errorf("another customer read the result: %d", res.Status)
		}
		if res := f.do(f.A, f.customer, "GET", "/eshop/results", nil); res.Status != 200 || !strings.Contains(string(res.Body), "2 výsledky.") {
			t.Errorf("the customer's list: %d %s", res.Status, res.Body)
		}
	})
}

// E10: published more than the grace's working days after the TAT's due day, the result
// may be claimed for the rule's percent off that test, within the rule's days of its
// publication; once; the lab accepts (the credit recorded) or refuses with a reason, and
// the customer is told by e-mail. A result published within the grace cannot be claimed.
func TestResultsLateClaimWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		onTime := f.order(f.A, "2026-000301", itemSampled, 3, 2500, "")
		late := f.order(f.A, "2026-000302", itemSampled, 3, 4999, "")
		f.register(f.A, onTime)
		f.register(f.A, late) // due Wednesday 23 December; grace 2 working days (24–26 are holidays): Monday 28th, Tuesday 29th
		f.now = time.Date(2026, 12, 29, 15, 0, 0, 0, time.UTC)
		f.publish(f.A, onTime, testPDF)
		if r := f.result(f.A, onTime); r.Late {
			t.Fatalf("published on the grace's last day, marked late: %+v", r)
		}
		if _, err := f.m.claimLate(context.Background(), f.A, onTime, f.customer.ID, ""); !errors.Is(err, errClaimClosed) {
			t.Errorf("a result on time was claimed: %v", err)
		}
		f.now = time.Date(2026, 12, 30, 8, 0, 0, 0, time.UTC) // the 3rd working day after the due day
		f.publish(f.A, late, testPDF)
		r := f.result(f.A, late)
		if !r.Late || r.ClaimUntil != "2027-01-29" {
			t.Fatalf("late result: late %v, claim until %s (want 2027-01-29)", r.Late, r.ClaimUntil)
		}
		page := f.do(f.A, f.customer, "GET", "/eshop/results/"+late, nil)
		if !strings.Contains(string(page.Body), "zľavu 15,00") {
			t.Errorf("the claim form does not show 30 %% of 49,99 €: %s", page.Body)
		}
		// Past the window: refused.
		f.now = time.Date(2027, 1, 30, 8, 0, 0, 0, time.UTC)
		res := f.do(f.A, f.customer, "POST", "/eshop/results/"+late+"/claim", url.Values{"note": {"Neskoro"}})
		if !strings.Contains(res.Header.Get("Location"), "done=claim_closed") {
			t.Errorf("a claim after the window: %d %v", res.Status, res.Header)
		}
		// On the window's last day: accepted, once, by many clicks at once.
		f.now = time.Date(2027, 1, 29, 20, 0, 0, 0, time.UTC) // 21:00 in Bratislava, still the 29th
		var wg sync.WaitGroup
		var mu sync.Mutex
		made := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.m.claimLate(context.Background(), f.A, late, f.customer.ID, "Neskoro")
				if err != nil && !errors.Is(err, errClaimTwice) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					made++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if made != 1 {
			t.Fatalf("%d claims made, want 1", made)
		}
		var cl Claim
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&cl).Where("result_id = ?", late).Scan(ctx)
		})
		if cl.AmountMinor != 1500 || cl.Percent != 30 || cl.State != claimPending {
			t.Errorf("claim: %+v, want 30 %% of 4999 = 1500 pending", cl)
		}
		// Another customer cannot claim it.
		if _, err := f.m.claimLate(context.Background(), f.A, late, "u-other", ""); err == nil {
			t.Error("another customer claimed the result")
		}
		// The queue: refusing without a reason is refused next to the field, nothing changed.
		queue := f.do(f.A, f.staff, "GET", "/eshop/lab/claims", nil)
		if queue.Status != 200 || !strings.Contains(string(queue.Body), "2026-000302") {
			t.Fatalf("claims queue: %d %s", queue.Status, queue.Body)
		}
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/claims/"+cl.ID+"/decide", url.Values{"decision": {"refuse"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Uveďte dôvod zamietnutia.") {
			t.Errorf("refusal without reason: %d %s", res.Status, res.Body)
		}
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/claims/"+cl.ID+"/decide", url.Values{"decision": {"accept"}})
		if !strings.Contains(res.Header.Get("Location"), "done=claim_decided") {
			t.Fatalf("accept: %d %s", res.Status, res.Body)
		}
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/claims/"+cl.ID+"/decide", url.Values{"decision": {"refuse"}, "reason": {"x"}})
		if !strings.Contains(res.Header.Get("Location"), "done=claim_already") {
			t.Errorf("a second decision: %d %v", res.Status, res.Header)
		}
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&cl).Where("result_id = ?", late).Scan(ctx)
		})
		if cl.State != claimAccepted || cl.DecidedBy != f.staff.ID {
			t.Errorf("decided claim: %+v", cl)
		}
		var credited int64
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			var o OrderItem
			if err := sc.Select(&o).Where("id = ?", late).Scan(ctx); err != nil {
				return err
			}
			var err error
			credited, err = f.m.acceptedCredits(ctx, sc, o.OrderID)
			return err
		})
		if credited != 1500 {
			t.Errorf("credit recorded on the order: %d, want 1500", credited)
		}
		mails := f.messages(tmplClaimAccepted)
		if len(mails) != 1 || mails[0].UserID != f.customer.ID || !strings.HasPrefix(fmt.Sprint(mails[0].Data["Amount"]), "15,00") {
			t.Errorf("acceptance e-mail: %+v", mails)
		}
	})
}

// Critical value: staff flag a result critical and log each contact with the customer
// (who, when, how, outcome): a phone call with its outcome, or an SMS sent now asking him
// to call the lab (no health data in it). A contact without a channel is refused.
func TestResultsCriticalContactLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000401", itemSampled, 3, 2500, "+421901234567")
		f.register(f.A, id)
		res := f.do(f.A, f.staff, "POST", "/eshop/lab/results/"+id+"/contact", url.Values{"channel": {"fax"}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Vyberte, ako ste zákazníka kontaktovali.") {
			t.Fatalf("bad channel: %d %s", res.Status, res.Body)
		}
		if f.result(f.A, id).Critical {
			t.Fatal("a refused contact flagged the result")
		}
		call := f.now
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/results/"+id+"/contact", url.Values{"channel": {"phone"}, "outcome": {"no_answer"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("phone contact: %d %s", res.Status, res.Body)
		}
		f.now = f.now.Add(10 * time.Minute)
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/results/"+id+"/contact", url.Values{"channel": {"sms"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("SMS contact: %d %s", res.Status, res.Body)
		}
		if !f.result(f.A, id).Critical {
			t.Error("the result is not flagged critical")
		}
		var cs []CriticalContact
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&cs).Where("result_id = ?", id).Order("at").Scan(ctx)
		})
		if len(cs) != 2 {
			t.Fatalf("%d contacts logged", len(cs))
		}
		if c := cs[0]; c.StaffID != f.staff.ID || c.StaffName != f.staff.Name || !c.At.Equal(call) || c.Channel != "phone" || c.Outcome != "no_answer" {
			t.Errorf("phone contact: %+v", c)
		}
		if c := cs[1]; c.Channel != "sms" || c.Outcome != "sms_sent" {
			t.Errorf("SMS contact: %+v", c)
		}
		sms := f.messages(tmplResultCritical)
		if len(sms) != 1 || sms[0].Channel != "sms" || sms[0].To != "+421901234567" {
			t.Errorf("critical SMS: %+v", sms)
		}
		page := f.do(f.A, f.staff, "GET", "/eshop/lab/results/"+id, nil)
		if !strings.Contains(string(page.Body), "Nedvíha") || !strings.Contains(string(page.Body), "Peter Laborant") || !strings.Contains(string(page.Body), "2 zaznamenané kontakty") {
			t.Errorf("the lab's page does not show the contacts: %s", page.Body)
		}
	})
}

// E13, P11: when the account is deleted its results are kept — detached from it (no user
// id), with the person's name — until the retention rule's years have passed; then the job
// deletes them with their PDF. The export lists the user's results.
func TestResultsKeptDetachedOnAccountDeletion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000501", itemSampled, 3, 2500, "")
		f.register(f.A, id)
		f.publish(f.A, id, testPDF)
		blob := f.result(f.A, id).BlobID
		out, err := f.h.Export(context.Background(), f.A, f.customer.ID)
		if err != nil || !strings.Contains(string(out), `"test":"Krvný obraz"`) || !strings.Contains(string(out), `"order":"2026-000501"`) {
			t.Fatalf("export: %v %s", err, out)
		}
		published := f.now
		f.now = f.now.AddDate(1, 0, 0) // the account is deleted a year later
		if err := f.h.Event(context.Background(), f.A, "user.deleted", []byte(f.customer.ID)); err != nil {
			t.Fatal(err)
		}
		r := f.result(f.A, id)
		if r.UserID != "" || r.PersonName != "Jana Nováková" || r.BlobID != blob || r.DetachedAt.IsZero() {
			t.Fatalf("after deletion: %+v", r)
		}
		if want := published.AddDate(20, 0, 0); !r.KeepUntil.Time.Equal(want) {
			t.Errorf("kept until %v, want 20 years from the result's publication, %v", r.KeepUntil.Time, want)
		}
		if res := f.do(f.A, f.customer, "GET", "/eshop/results/"+id, nil); res.Status != http.StatusNotFound {
			t.Errorf("the deleted account still reads the result: %d", res.Status)
		}
		if out, _ := f.h.Export(context.Background(), f.A, f.customer.ID); strings.Contains(string(out), "Krvný") {
			t.Errorf("the export still lists the result: %s", out)
		}
		// Within the period the job keeps it; after it, it deletes it and its PDF.
		f.now = published.AddDate(19, 11, 0)
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil {
			t.Fatal(err)
		}
		_ = f.result(f.A, id)
		f.now = published.AddDate(20, 0, 1)
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil {
			t.Fatal(err)
		}
		var n int64
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			n, err = sc.Select((*Result)(nil)).Where("item_id = ?", id).Count(ctx)
			return err
		})
		if n != 0 {
			t.Error("the result outlived its retention period")
		}
		if _, ok := f.h.Host.Blobs[blob]; ok {
			t.Error("the result's PDF outlived its retention period")
		}
	})
}

// E12, P10: a complaint about quality or price is lodged within the rule's days of the
// defect's discovery, through the core with the tenant's settlement deadline; one later is
// refused next to its field and nothing is lodged. Staff enter a complaint received by
// letter with the day it was lodged (the deadlines run from it) and record the remedy once.
func TestResultsComplaintsWithinDeadlines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		f.order(f.A, "2026-000601", itemPublished, 3, 2500, "")
		f.now = f.now.AddDate(0, 2, 0) // 18 February 2027
		form := url.Values{"order": {"2026-000601"}, "about": {"quality"}, "discovered": {"2027-01-18"}, "body": {"Výsledok prišiel poškodený."}}
		res := f.do(f.A, f.customer, "POST", "/eshop/complaints", form)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Lehota na reklamáciu od zistenia vady uplynula.") {
			t.Fatalf("31 days after discovery: %d %s", res.Status, res.Body)
		}
		if len(f.h.Host.Complaints) != 0 {
			t.Fatal("a late complaint was lodged")
		}
		stranger := &sdk.User{ID: "u-other", Roles: []string{"user"}}
		form.Set("discovered", "2027-01-19")
		if res := f.do(f.A, stranger, "POST", "/eshop/complaints", form); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("a complaint on another's order: %d", res.Status)
		}
		res = f.do(f.A, f.customer, "POST", "/eshop/complaints", form)
		if res.Status != 200 || !strings.Contains(string(res.Body), "C-1") {
			t.Fatalf("30 days after discovery: %d %s", res.Status, res.Body)
		}
		got := f.h.Host.Complaints[0].Value
		if got.Category != "quality" || got.UserID != f.customer.ID || got.ReplyTo != f.customer.Email {
			t.Errorf("lodged: %+v", got)
		}
		if want := time.Date(2027, 3, 20, 22, 59, 59, 0, time.UTC); !got.Due.Equal(want) {
			t.Errorf("due %v, want the end of 20 March 2027 in Bratislava", got.Due)
		}
		// By letter, lodged on 10 February: due 30 days later, whatever the day it is entered.
		res = f.do(f.A, f.staff, "POST", "/eshop/lab/complaints", url.Values{"order": {"2026-000601"}, "about": {"price"}, "channel": {"letter"},
			"lodged": {"2027-02-10"}, "discovered": {"2027-02-01"}, "body": {"Cena bola vyššia ako v cenníku."}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("staff entry: %d %s", res.Status, res.Body)
		}
		if due := f.h.Host.Complaints[1].Value.Due; !due.Equal(time.Date(2027, 3, 12, 22, 59, 59, 0, time.UTC)) {
			t.Errorf("letter's due %v", due)
		}
		var rows []ShopComplaint
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&rows).Order("lodged_on").Scan(ctx)
		})
		if len(rows) != 2 || rows[0].Channel != "letter" || rows[0].LodgedOn != "2027-02-10" || rows[0].EnteredBy != f.staff.ID || rows[1].Channel != "web" {
			t.Fatalf("shop complaints: %+v", rows)
		}
		if res := f.do(f.A, f.staff, "POST", "/eshop/lab/complaints/"+rows[0].ID+"/remedy", url.Values{"remedy": {"cash"}}); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("unknown remedy: %d", res.Status)
		}
		if res := f.do(f.A, f.staff, "POST", "/eshop/lab/complaints/"+rows[0].ID+"/remedy", url.Values{"remedy": {"refund"}}); !strings.Contains(res.Header.Get("Location"), "remedy_recorded") {
			t.Errorf("remedy: %d %s", res.Status, res.Body)
		}
		if res := f.do(f.A, f.staff, "POST", "/eshop/lab/complaints/"+rows[0].ID+"/remedy", url.Values{"remedy": {"repeat"}}); !strings.Contains(res.Header.Get("Location"), "remedy_already") {
			t.Errorf("second remedy: %d %v", res.Status, res.Header)
		}
	})
}

// E11: the consultation partner's link shows on result pages when the tenant set it, and
// not otherwise.
func TestResultsConsultationLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000701", itemSampled, 3, 2500, "")
		f.register(f.A, id)
		f.publish(f.A, id, testPDF)
		if res := f.do(f.A, f.customer, "GET", "/eshop/results/"+id, nil); strings.Contains(string(res.Body), `class="consult"`) {
			t.Errorf("a consultation link without a partner: %s", res.Body)
		}
		ten := f.A
		ten.Rules = f.rules(map[string]any{"eshop.consultation_url": "https://poradna.example.sk/vysledky"}).Rules
		res := f.do(ten, f.customer, "GET", "/eshop/results/"+id, nil)
		if !strings.Contains(string(res.Body), `href="https://poradna.example.sk/vysledky"`) {
			t.Errorf("no consultation link: %s", res.Body)
		}
	})
}

// The results part's pages answer in fr, pl and sk with no message missing; its tables are
// reached only through a tenant scope.
func TestResultsPagesAndScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		kittest.CheckScoped(t, f.m.Module, (*Result)(nil), (*resultKey)(nil), (*Claim)(nil), (*CriticalContact)(nil), (*ShopComplaint)(nil))
		id := f.order(f.A, "2026-000801", itemSampled, 3, 2500, "")
		f.register(f.A, id)
		f.now = f.now.AddDate(0, 0, 20)
		f.publish(f.A, id, testPDF)
		if _, err := f.m.claimLate(context.Background(), f.A, id, f.customer.ID, "x"); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := f.A
			ten.Locale = lang
			for _, p := range []struct {
				user *sdk.User
				path string
			}{{f.customer, "/eshop/results"}, {f.customer, "/eshop/results/" + id}, {f.customer, "/eshop/complaints/new"},
				{f.staff, "/eshop/lab"}, {f.staff, "/eshop/lab?q=2026-000801"}, {f.staff, "/eshop/lab/results/" + id},
				{f.staff, "/eshop/lab/claims"}, {f.staff, "/eshop/lab/complaints"}} {
				res := f.do(ten, p.user, "GET", p.path, nil)
				if res.Status != 200 || strings.Contains(string(res.Body), "eshop.") {
					t.Errorf("%s %s: %d %s", lang, p.path, res.Status, res.Body)
				}
			}
		}
		if miss := f.m.Msgs.Missing(); len(miss) > 0 {
			t.Errorf("messages missing: %v", miss)
		}
	})
}

// E15: the page listing the personal data the shop keeps answers in fr, pl and sk, and says
// how long results are kept by the tenant's rule.
func TestResultsDataKeptPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		want := map[string]string{"fr": "conservés 20 ans", "pl": "przez 20 lat", "sk": "20 rokov"}
		for lang, w := range want {
			ten := f.rules(nil)
			ten.Locale = lang
			res := f.do(ten, nil, "GET", "/eshop/data", nil)
			if res.Status != 200 || !strings.Contains(string(res.Body), w) || strings.Contains(string(res.Body), "eshop.") {
				t.Errorf("%s: %d %s", lang, res.Status, res.Body)
			}
		}
		ten := f.rules(map[string]any{"eshop.result_retention_years": int64(5)})
		if res := f.do(ten, nil, "GET", "/eshop/data", nil); !strings.Contains(string(res.Body), "5 rokov") {
			t.Errorf("the page does not follow the rule: %s", res.Body)
		}
	})
}

// E12: the lab's complaint page shows what the customer wrote, his order and the day it was
// lodged; once the lab records the remedy the customer is told the outcome by e-mail in his
// order's language (once), and the complaint moves to the settled list instead of vanishing.
func TestLabComplaintTextOutcomeMailAndSettledList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		f.order(f.A, "2026-000611", itemPublished, 3, 2500, "")
		if err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*Order)(nil)).Set("locale = 'pl'").Where("number = '2026-000611'").Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"order": {"2026-000611"}, "about": {"quality"}, "discovered": {"2026-12-17"}, "body": {"Výsledok prišiel neúplný, chýba hemoglobín."}}
		if res := f.do(f.A, f.customer, "POST", "/eshop/complaints", form); res.Status != 200 {
			t.Fatalf("lodge: %d %s", res.Status, res.Body)
		}
		page := string(f.do(f.A, f.staff, "GET", "/eshop/lab/complaints", nil).Body)
		if !strings.Contains(page, "Výsledok prišiel neúplný, chýba hemoglobín.") || !strings.Contains(page, "2026-000611") || !strings.Contains(page, "uplatnená 18. 12. 2026") {
			t.Fatalf("the lab does not see the complaint:\n%s", page)
		}
		var sh ShopComplaint
		_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&sh).Scan(ctx) })
		res := f.do(f.A, f.staff, "POST", "/eshop/lab/complaints/"+sh.ID+"/remedy", url.Values{"remedy": {"repeat"}, "note": {"Odber zopakujeme bezplatne."}})
		if !strings.Contains(res.Header.Get("Location"), "remedy_recorded") {
			t.Fatalf("remedy: %d %s", res.Status, res.Body)
		}
		var msgs []sdk.Message
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == tmplComplaintSettled {
				msgs = append(msgs, m.Value)
			}
		}
		if len(msgs) != 1 || msgs[0].UserID != f.customer.ID || msgs[0].Data["Remedy"] != "Bezpłatne powtórzenie badania" ||
			msgs[0].Data["Reference"] != sh.Reference || msgs[0].Data["Note"] != "Odber zopakujeme bezplatne." {
			t.Fatalf("outcome messages %+v", msgs)
		}
		f.do(f.A, f.staff, "POST", "/eshop/lab/complaints/"+sh.ID+"/remedy", url.Values{"remedy": {"refund"}})
		if n := len(f.h.Host.Messages); n != 1 {
			t.Fatalf("%d messages after a second remedy", n)
		}
		page = string(f.do(f.A, f.staff, "GET", "/eshop/lab/complaints", nil).Body)
		if !strings.Contains(page, "Vybavené reklamácie") || !strings.Contains(page, "vybavená 18. 12. 2026: Bezplatné opakovanie vyšetrenia") ||
			!strings.Contains(page, "Výsledok prišiel neúplný") || strings.Contains(page, `/eshop/lab/complaints/`+sh.ID+`/remedy`) {
			t.Fatalf("settled list:\n%s", page)
		}
	})
}

// E10 (critical value): the lab's result page gives the customer's mobile to read — the
// national format, its spaces non-breaking (a foreign one international) — and as a tel:
// link in E.164.
func TestLabResultPageMobileReadableAndCallable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000451", itemSampled, 3, 2500, "+421901234567")
		f.register(f.A, id)
		page := string(f.do(f.A, f.staff, "GET", "/eshop/lab/results/"+id, nil).Body)
		if !strings.Contains(page, `Mobil zákazníka: <a href="tel:&#43;421901234567">0901`+"\u00a0"+`234`+"\u00a0"+`567</a>`) {
			t.Fatalf("mobile on the lab's page:\n%s", page)
		}
		if p := readablePhone("+48601234567", "SK"); p == nil || p.Text != "+48\u00a0601\u00a0234\u00a0567" || p.Tel != "+48601234567" {
			t.Errorf("foreign mobile %+v", p)
		}
		if readablePhone(" ", "SK") != nil {
			t.Error("an empty mobile shown")
		}
	})
}

// The result of an order's last item published: the order is completed (guarded: only a
// paid order).
func TestOrderCompletedWhenLastResultPublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := resSetup(t, b)
		id := f.order(f.A, "2026-000481", itemSampled, 3, 2500, "")
		f.register(f.A, id)
		status := func() string {
			var o Order
			_ = f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
				return sc.Select(&o).Where("id = (SELECT order_id FROM eshop_order_items WHERE tenant_id = ? AND id = ?)", f.A.ID, id).Scan(ctx)
			})
			return o.Status
		}
		if s := status(); s != orderPaid {
			t.Fatalf("order %s before the result", s)
		}
		if res := f.publish(f.A, id, testPDF); res.Status != http.StatusSeeOther {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		if s := status(); s != orderCompleted {
			t.Fatalf("order %s after its only result was published", s)
		}
	})
}
