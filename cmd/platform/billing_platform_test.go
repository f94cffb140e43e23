package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
)

var (
	billPlanRe   = regexp.MustCompile(`<option value="([0-9a-f-]{36})"[^>]*>Essentiel</option>`)
	billNewSubRe = regexp.MustCompile(`/billing/manage/subscriptions/([0-9a-f-]{36})(?:\?|$)`)
	billNewRunRe = regexp.MustCompile(`/billing/manage/runs/([0-9a-f-]{36})`)
)

// TestBillingThroughThePlatform walks the secretariat's billing through the real processes,
// on the demo tenant secretaires: the tenant admin's API key for the telephony platform
// (billing.record_usage); the clerk's new subscription (B1), whose client is invited by the
// core, chooses his password from the e-mailed link and signs online, the terms' version
// stored; the platform's calls and SMS on his dedicated number, each counted once however
// often they are sent, and his messages (B3); the clerk's billing run for the day, the draft
// he issues, and the invoice e-mail with its PDF (number, total, the L441-10 mentions),
// which the client downloads from his portal too (B5). On SQLite and PostgreSQL.
func TestBillingThroughThePlatform(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		const host = "secretaires.localhost"
		d, ten := p.tenantDB(t, "secretaires")
		d.Close()

		// The tenant admin creates the telephony platform's key (B3).
		admin := p.browser(host)
		admin.login("admin@secretaires.localhost", "demo-secretaires-admin")
		key := createKey(t, admin, "Téléphonie", "billing.record_usage")

		// B1: the clerk subscribes a new client on the page; the client's login is assigned.
		clerk := p.browser(host)
		clerk.login("billing-clerk@secretaires.localhost", "demo-secretaires-billing_clerk")
		const newPage = "/billing/manage/subscriptions/new"
		_, page := clerk.do("GET", newPage, nil)
		m := billPlanRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no plan Essentiel on the new subscription page:\n%s", page)
		}
		const email, phone = "dr.lambert@example.fr", "01 45 67 89 01"
		code, body := clerk.post(newPage, newPage, url.Values{"client_name": {"Cabinet du Dr Lambert"}, "contact_name": {"Hélène Lambert"},
			"email": {email}, "locale": {"fr"}, "country": {"FR"}, "legal_id": {"73282932000074"}, "street": {"8 rue des Lilas"},
			"postcode": {"75019"}, "city": {"Paris"}, "phone": {phone}, "plan": {m[1]}, "hours_profile": {"full"},
			"specification": {"Prise des appels du cabinet, messages transmis par SMS."}, "payment_method": {"transfer"}})
		if code != 303 {
			t.Fatalf("the clerk creates a subscription: %d\n%s", code, body)
		}
		sub := billNewSubRe.FindStringSubmatch(clerk.last.Get("Location"))
		if sub == nil {
			t.Fatalf("the new subscription's page: %q", clerk.last.Get("Location"))
		}
		subID := sub[1]

		// The core's invitation, in French: he chooses his password from its link.
		invite := p.lastMailTo(t, "secretaires", email)
		var link string
		for _, l := range linkRe.FindAllString(invite, -1) {
			if strings.Contains(l, "token=") {
				link = l
			}
		}
		if link == "" {
			t.Fatalf("the invitation carries no link:\n%s", invite)
		}
		u, _ := url.Parse(link)
		client := p.browser(host)
		const password = "Standard-Lilas-2026"
		if code, body := client.post(u.RequestURI(), "/reset/confirm", url.Values{"token": {u.Query().Get("token")}, "password": {password},
			"password2": {password}}); code != 303 {
			t.Fatalf("the client chooses his password: %d\n%s", code, body)
		}
		client = p.browser(host)
		client.login(email, password)

		// He signs online (P6): without ticking the terms nothing changes; with them, the
		// version in force is stored and the subscription is active.
		sign := "/billing/sign/" + subID
		_, home := client.do("GET", "/billing/portal", nil)
		if !strings.Contains(home, sign) {
			_, home = client.do("GET", "/billing", nil)
			if !strings.Contains(home, sign) {
				t.Fatalf("the portal offers no signature:\n%s", home)
			}
		}
		if code, _ := client.post(sign, sign, url.Values{}); code != 422 {
			t.Errorf("signing without accepting the terms: %d, want 422", code)
		}
		if got := p.lookup(t, "billing", "SELECT state FROM billing_subscriptions WHERE tenant_id = ? AND id = ?", ten.ID, subID); got != "pending" {
			t.Fatalf("after a refused signature the subscription is %s", got)
		}
		if code, body := client.post(sign, sign, url.Values{"accept": {"on"}}); code != 303 {
			t.Fatalf("the client signs: %d\n%s", code, body)
		}
		if got := p.lookup(t, "billing", "SELECT state || '|' || terms_version FROM billing_subscriptions WHERE tenant_id = ? AND id = ?", ten.ID, subID); !strings.HasPrefix(got, "active|") || got == "active|" {
			t.Fatalf("the signed subscription: %s, want active with the terms' version", got)
		}

		// B3: the telephony platform sends his calls and SMS, then the same batch again.
		now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		events := map[string]any{"events": []map[string]any{
			{"id": "call-lambert-1", "number": "+33145678901", "kind": "call", "at": now, "duration_s": 95},
			{"id": "call-lambert-2", "number": "+33145678901", "kind": "call", "at": now, "duration_s": 40},
			{"id": "sms-lambert-1", "number": "+33145678901", "kind": "sms", "at": now},
		}}
		raw, _ := json.Marshal(events)
		for i, want := range []string{`"accepted":3`, `"duplicates":3`} {
			code, _, reply := p.api(host, "POST", "/billing/api/usage", key, bytes.NewReader(raw))
			if code != 200 || !strings.Contains(reply, want) {
				t.Fatalf("usage batch %d: %d %s, want %s", i+1, code, reply, want)
			}
		}
		if n := p.count(t, "billing", "SELECT count(*) FROM billing_usage WHERE tenant_id = ? AND subscription_id = ?", ten.ID, subID); n != 3 {
			t.Errorf("%d usage rows, want 3: each event counted once (B3)", n)
		}
		if code, _, _ := p.api(host, "POST", "/billing/api/usage", "", bytes.NewReader(raw)); code != 401 && code != 403 {
			t.Errorf("usage without a key: %d", code)
		}
		msg, _ := json.Marshal(map[string]any{"messages": []map[string]any{{"id": "msg-lambert-1", "number": "+33145678901", "at": now,
			"caller_name": "Mme Petit", "caller_phone": "06 12 34 56 78", "text": "Rappeler Mme Petit pour son rendez-vous."}}})
		if code, _, reply := p.api(host, "POST", "/billing/api/messages", key, bytes.NewReader(msg)); code != 200 || !strings.Contains(reply, `"accepted":1`) {
			t.Errorf("messages: %d %s", code, reply)
		}
		if _, page := client.do("GET", "/billing/messages", nil); !strings.Contains(page, "Rappeler Mme Petit") {
			t.Errorf("the client's messages page lacks his message:\n%s", page)
		}

		// B5: the clerk runs billing for the day; the job invoices the new subscription's
		// first period as a draft (the tenant reviews drafts), which he issues.
		today := p.lookup(t, "billing", "SELECT starts_on FROM billing_subscriptions WHERE tenant_id = ? AND id = ?", ten.ID, subID)
		if code, body := clerk.post("/billing/manage/runs", "/billing/manage/runs", url.Values{"day": {today}}); code != 303 {
			t.Fatalf("the clerk starts a run: %d\n%s", code, body)
		}
		run := billNewRunRe.FindStringSubmatch(clerk.last.Get("Location"))
		if run == nil {
			t.Fatalf("the run's page: %q", clerk.last.Get("Location"))
		}
		deadline := time.Now().Add(30 * time.Second)
		for p.lookup(t, "billing", "SELECT state FROM billing_runs WHERE tenant_id = ? AND id = ?", ten.ID, run[1]) != "done" {
			if time.Now().After(deadline) {
				t.Fatal("the run did not finish")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if code, _ := clerk.do("GET", "/billing/manage/runs/"+run[1], nil); code != 200 {
			t.Errorf("the run's page: %d", code)
		}
		invID := p.lookup(t, "billing", "SELECT id FROM billing_invoices WHERE tenant_id = ? AND subscription_id = ? AND state = 'draft'", ten.ID, subID)
		_, list := clerk.do("GET", "/billing/manage/invoices?sub="+subID, nil)
		if !strings.Contains(list, "/billing/manage/invoices/"+invID) {
			t.Errorf("the clerk's invoices of the subscription lack the draft:\n%s", list)
		}
		invPage := "/billing/manage/invoices/" + invID
		if code, body := clerk.post(invPage, invPage+"/issue", url.Values{}); code != 303 {
			t.Fatalf("the clerk issues the draft: %d\n%s", code, body)
		}
		number := p.lookup(t, "billing", "SELECT number FROM billing_invoices WHERE tenant_id = ? AND id = ? AND state = 'issued'", ten.ID, invID)
		total := p.lookup(t, "billing", "SELECT CAST(total_minor AS TEXT) FROM billing_invoices WHERE tenant_id = ? AND id = ?", ten.ID, invID)
		var minor int64
		fmt.Sscan(total, &minor)
		// 89,00 € a month and 20 % VAT: 106,80 €, in French.
		money := fmt.Sprintf("%d,%02d", minor/100, minor%100)
		if minor != 10680 {
			t.Errorf("the first invoice's total is %s, want 106,80 (Essentiel's 89,00 and 20 %% VAT)", money)
		}

		// The invoice e-mail, with its PDF attached.
		var pdf []byte
		for deadline := time.Now().Add(10 * time.Second); pdf == nil; time.Sleep(100 * time.Millisecond) {
			for _, raw := range p.mailbox(t, "secretaires") {
				if !bytes.Contains(raw, []byte(email)) {
					continue
				}
				for _, part := range mailParts(t, raw) {
					if part.Type == "application/pdf" && strings.Contains(part.File, number) {
						pdf = part.Body
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no invoice e-mail with %s.pdf to %s", number, email)
			}
		}
		text := pdftest.Text(t, pdf, false)
		flat := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{number, money, "L441-10", "Cabinet du Dr Lambert", "indemnité forfaitaire", "40,00"} {
			if !strings.Contains(flat, want) {
				t.Errorf("the invoice PDF lacks %q:\n%s", want, text)
			}
		}

		// The client finds it on his portal and downloads the same document.
		_, mine := client.do("GET", "/billing/invoices", nil)
		if !strings.Contains(mine, "/billing/invoices/"+invID) || !strings.Contains(mine, number) {
			t.Errorf("the client's invoices lack %s:\n%s", number, mine)
		}
		code, got := client.do("GET", "/billing/invoices/"+invID+"/pdf", nil)
		if code != 200 || !strings.HasPrefix(got, "%PDF") {
			t.Fatalf("the client downloads his invoice: %d", code)
		}
		if dl := strings.Join(strings.Fields(pdftest.Text(t, []byte(got), false)), " "); !strings.Contains(dl, number) || !strings.Contains(dl, money) {
			t.Errorf("the downloaded PDF is not the invoice %s", number)
		}
	})
}
