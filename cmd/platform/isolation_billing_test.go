package main

import (
	"net/url"
	"regexp"
	"testing"
)

var (
	billSubRe      = regexp.MustCompile(`href="/billing/manage/subscriptions/([0-9a-f-]{36})"`)
	billProductRe  = regexp.MustCompile(`href="/billing/manage/catalog/([0-9a-f-]{36})"`)
	billTariffRe   = regexp.MustCompile(`href="/billing/manage/tariffs/([0-9a-f-]{36})"`)
	billInvoiceRe  = regexp.MustCompile(`href="/billing/manage/invoices/([0-9a-f-]{36})"`)
	billMineRe     = regexp.MustCompile(`href="/billing/invoices/([0-9a-f-]{36})"`)
	billRunRe      = regexp.MustCompile(`href="/billing/manage/runs/([0-9a-f-]{36})"`)
	billBankLineRe = regexp.MustCompile(`action="/billing/manage/payments/import/lines/([0-9a-f-]{36})/assign"`)
)

// billingIsolation (issue 15, P1): billing runs on secretaires (B, its demo: a catalog, a
// dozen clients, their invoices, runs, a termination) and on mlab (A, seeded by the same
// demo but its own). B's clerk and client show, through B's pages, one object of each kind
// the module's routes take — a subscription, a product, a tariff, an invoice (a draft and an
// issued one), a run, a bank statement's line he imports, a termination — and A's clerk or
// client tries each route on A's host with B's id: 404. It gives the cases, and a check that
// nothing of B changed, to run after them.
func billingIsolation(t *testing.T, p *platform) (map[string]isoUse, func()) {
	find := func(re *regexp.Regexp, body, what string) string {
		t.Helper()
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s found:\n%s", what, body)
		}
		return m[1]
	}
	d, bTen := p.tenantDB(t, "secretaires")
	d.Close()
	bClerk := p.browser("secretaires.localhost")
	bClerk.login("billing-clerk@secretaires.localhost", "demo-secretaires-billing_clerk")
	bUser := p.browser("secretaires.localhost")
	bUser.login("user@secretaires.localhost", "demo-secretaires-user")

	_, list := bClerk.do("GET", "/billing/manage", nil)
	bSub := find(billSubRe, list, "subscription (of B)")
	_, catalog := bClerk.do("GET", "/billing/manage/catalog", nil)
	bProduct := find(billProductRe, catalog, "product (of B)")
	_, tariffs := bClerk.do("GET", "/billing/manage/tariffs", nil)
	bTariff := find(billTariffRe, tariffs, "tariff (of B)")
	_, runs := bClerk.do("GET", "/billing/manage/runs", nil)
	bRun := find(billRunRe, runs, "billing run (of B)")
	_, mine := bUser.do("GET", "/billing/invoices", nil)
	bMine := find(billMineRe, mine, "client's invoice (of B)")
	// The draft and the issued invoice the clerk's list shows; which is which B's database says.
	_, invoices := bClerk.do("GET", "/billing/manage/invoices?state=draft", nil)
	find(billInvoiceRe, invoices, "invoice (of B)")
	bDraft := p.lookup(t, "billing", "SELECT id FROM billing_invoices WHERE tenant_id = ? AND state = 'draft' ORDER BY id LIMIT 1", bTen.ID)
	bIssued := p.lookup(t, "billing", "SELECT id FROM billing_invoices WHERE tenant_id = ? AND state = 'issued' AND kind = 'invoice' ORDER BY id LIMIT 1", bTen.ID)
	for _, id := range []string{bDraft, bIssued} {
		if code, _ := bClerk.do("GET", "/billing/manage/invoices/"+id, nil); code != 200 {
			t.Fatalf("B's invoice %s on B: %d", id, code)
		}
	}
	// The demo's termination letter, withdrawable on its subscription's contract page.
	bTerm := p.lookup(t, "billing", "SELECT id FROM billing_terminations WHERE tenant_id = ? AND state = 'active' ORDER BY id LIMIT 1", bTen.ID)
	bTermSub := p.lookup(t, "billing", "SELECT subscription_id FROM billing_terminations WHERE tenant_id = ? AND id = ?", bTen.ID, bTerm)
	// B's clerk imports a bank statement whose line matches no invoice: it waits for him.
	if code, body := bClerk.upload("/billing/manage/payments/import", "/billing/manage/payments/import", url.Values{}, "statement", "releve.csv",
		[]byte("Date;Libellé;Montant\r\n02/11/2026;VIR INCONNU DUPONT;123,45\r\n")); code != 303 && code != 200 {
		t.Fatalf("B's clerk imports a statement: %d\n%s", code, body)
	}
	_, imported := bClerk.do("GET", "/billing/manage/payments/import", nil)
	bLine := find(billBankLineRe, imported, "bank statement line (of B)")

	// A's people, on A's host; A's own subscription and invoice answer them: a 404 below is
	// B's id's, not a refusal.
	aClerk := p.browser("mlab.localhost")
	aClerk.login("billing-clerk@mlab.localhost", "demo-mlab-billing_clerk")
	aUser := p.browser("mlab.localhost")
	aUser.login("user@mlab.localhost", "demo-mlab-user")
	_, aList := aClerk.do("GET", "/billing/manage", nil)
	if code, _ := aClerk.do("GET", "/billing/manage/subscriptions/"+find(billSubRe, aList, "subscription (of A)"), nil); code != 200 {
		t.Fatalf("A's own subscription: %d", code)
	}
	_, aMine := aUser.do("GET", "/billing/invoices", nil)
	if code, _ := aUser.do("GET", "/billing/invoices/"+find(billMineRe, aMine, "client's invoice (of A)"), nil); code != 200 {
		t.Fatalf("A's client's own invoice: %d", code)
	}

	sub, inv, tariff, run := "/billing/manage/subscriptions/"+bSub, "/billing/manage/invoices/", "/billing/manage/tariffs/"+bTariff, "/billing/manage/runs/"+bRun
	const form = "/billing/manage/subscriptions/new"
	cases := map[string]isoUse{
		"GET /billing/invoices/{id}":                      {who: aUser, path: "/billing/invoices/" + bMine, want: 404},
		"GET /billing/invoices/{id}/pdf":                  {who: aUser, path: "/billing/invoices/" + bMine + "/pdf", want: 404},
		"GET /billing/sign/{id}":                          {who: aUser, path: "/billing/sign/" + bSub, want: 404},
		"POST /billing/sign/{id}":                         {who: aUser, path: "/billing/sign/" + bSub, page: "/billing/invoices", form: url.Values{"accept_terms": {"yes"}}, want: 404},
		"GET /billing/manage/catalog/{id}":                {who: aClerk, path: "/billing/manage/catalog/" + bProduct, want: 404},
		"POST /billing/manage/catalog/{id}":               {who: aClerk, path: "/billing/manage/catalog/" + bProduct, page: form, form: url.Values{"kind": {"plan"}, "code": {"PRISE"}, "name": {"Prise"}}, want: 404},
		"POST /billing/manage/catalog/{id}/withdraw":      {who: aClerk, path: "/billing/manage/catalog/" + bProduct + "/withdraw", page: form, want: 404},
		"GET /billing/manage/tariffs/{id}":                {who: aClerk, path: tariff, want: 404},
		"POST /billing/manage/tariffs/{id}":               {who: aClerk, path: tariff, page: form, form: url.Values{"name": {"Prise"}}, want: 404},
		"POST /billing/manage/tariffs/{id}/announce":      {who: aClerk, path: tariff + "/announce", page: form, want: 404},
		"POST /billing/manage/tariffs/{id}/delete":        {who: aClerk, path: tariff + "/delete", page: form, want: 404},
		"POST /billing/manage/tariffs/{id}/in-force":      {who: aClerk, path: tariff + "/in-force", page: form, want: 404},
		"GET /billing/manage/invoices/{id}":               {who: aClerk, path: inv + bIssued, want: 404},
		"GET /billing/manage/invoices/{id}/pdf":           {who: aClerk, path: inv + bIssued + "/pdf", want: 404},
		"POST /billing/manage/invoices/{id}/issue":        {who: aClerk, path: inv + bDraft + "/issue", page: form, want: 404},
		"POST /billing/manage/invoices/{id}/credit":       {who: aClerk, path: inv + bIssued + "/credit", page: form, form: url.Values{"reason": {"Prise."}}, want: 404},
		"GET /billing/manage/runs/{id}":                   {who: aClerk, path: run, want: 404},
		"POST /billing/manage/runs/{id}/stop":             {who: aClerk, path: run + "/stop", page: form, want: 404},
		"POST /billing/manage/runs/{id}/resume":           {who: aClerk, path: run + "/resume", page: form, want: 404},
		"POST /billing/manage/runs/{id}/issue":            {who: aClerk, path: run + "/issue", page: form, want: 404},
		"GET /billing/manage/subscriptions/{id}":          {who: aClerk, path: sub, want: 404},
		"GET /billing/manage/subscriptions/{id}/usage":    {who: aClerk, path: sub + "/usage", want: 404},
		"GET /billing/manage/subscriptions/{id}/contract": {who: aClerk, path: sub + "/contract", want: 404},
		"POST /billing/manage/subscriptions/{id}/amendments": {who: aClerk, path: sub + "/amendments", page: form,
			form: url.Values{"body": {"Avenant pris."}, "effective_on": {"2031-03-03"}}, want: 404},
		"POST /billing/manage/subscriptions/{id}/paper":          {who: aClerk, path: sub + "/paper", page: form, form: url.Values{"signed_on": {"2026-11-02"}}, want: 404},
		"POST /billing/manage/subscriptions/{id}/invite":         {who: aClerk, path: sub + "/invite", page: form, want: 404},
		"GET /billing/manage/subscriptions/{id}/contract/letter": {who: aClerk, path: sub + "/contract/letter?kind=termination", want: 404},
		"POST /billing/manage/subscriptions/{id}/contract/refusal": {who: aClerk, path: sub + "/contract/refusal", page: form,
			form: url.Values{"sent_on": {"2026-11-02"}, "reference": {"1A 000 000 0000 0"}}, want: 404},
		"POST /billing/manage/subscriptions/{id}/contract/termination": {who: aClerk, path: sub + "/contract/termination", page: form,
			form: url.Values{"reason": {"client"}, "sent_on": {"2026-11-02"}, "received_on": {"2026-11-03"}, "reference": {"1A 000 000 0000 0"}}, want: 404},
		// The termination's sub-id is tried under A's own subscription, and under B's.
		"POST /billing/manage/subscriptions/{id}/contract/terminations/{tid}/withdraw": {who: aClerk,
			path: "/billing/manage/subscriptions/" + bTermSub + "/contract/terminations/" + bTerm + "/withdraw", page: form, want: 404},
		"POST /billing/manage/dunning/{sub}/notice":    {who: aClerk, path: "/billing/manage/dunning/" + bSub + "/notice", page: form, want: 404},
		"POST /billing/manage/dunning/{sub}/suspend":   {who: aClerk, path: "/billing/manage/dunning/" + bSub + "/suspend", page: form, want: 404},
		"POST /billing/manage/dunning/{sub}/terminate": {who: aClerk, path: "/billing/manage/dunning/" + bSub + "/terminate", page: form, want: 404},
		"POST /billing/manage/payments/import/lines/{id}/assign": {who: aClerk, path: "/billing/manage/payments/import/lines/" + bLine + "/assign", page: form,
			form: url.Values{"invoice": {bIssued}}, want: 404},
		"POST /billing/manage/payments/import/lines/{id}/ignore": {who: aClerk, path: "/billing/manage/payments/import/lines/" + bLine + "/ignore", page: form, want: 404},
	}

	// What B's objects are, in B's database: the same after A's tries.
	snapshot := func() map[string]string {
		s := map[string]string{}
		for what, q := range map[string][2]string{
			"subscription":     {"SELECT state || '|' || contact_name || '|' || email || '|' || COALESCE(CAST(signed_at AS TEXT), '') FROM billing_subscriptions WHERE tenant_id = ? AND id = ?", bSub},
			"specifications":   {"SELECT CAST(count(*) AS TEXT) FROM billing_specifications WHERE tenant_id = ? AND subscription_id = ?", bSub},
			"signatures":       {"SELECT CAST(count(*) AS TEXT) FROM billing_signatures WHERE tenant_id = ? AND subscription_id = ?", bSub},
			"notices":          {"SELECT CAST(count(*) AS TEXT) FROM billing_notices WHERE tenant_id = ? AND subscription_id = ?", bSub},
			"refusals":         {"SELECT CAST(count(*) AS TEXT) FROM billing_tariff_refusals WHERE tenant_id = ? AND subscription_id = ?", bSub},
			"terminations":     {"SELECT CAST(count(*) AS TEXT) FROM billing_terminations WHERE tenant_id = ? AND subscription_id = ?", bSub},
			"product":          {"SELECT name || '|' || code || '|' || COALESCE(CAST(withdrawn_at AS TEXT), '') FROM billing_products WHERE tenant_id = ? AND id = ?", bProduct},
			"tariff":           {"SELECT name || '|' || state || '|' || effective_on FROM billing_tariffs WHERE tenant_id = ? AND id = ?", bTariff},
			"draft":            {"SELECT state FROM billing_invoices WHERE tenant_id = ? AND id = ?", bDraft},
			"issued invoice":   {"SELECT state || '|' || CAST(paid_minor AS TEXT) FROM billing_invoices WHERE tenant_id = ? AND id = ?", bIssued},
			"its credit notes": {"SELECT CAST(count(*) AS TEXT) FROM billing_invoices WHERE tenant_id = ? AND credits_id = ?", bIssued},
			"run":              {"SELECT state FROM billing_runs WHERE tenant_id = ? AND id = ?", bRun},
			"bank line":        {"SELECT state || '|' || payment_id FROM billing_bank_lines WHERE tenant_id = ? AND id = ?", bLine},
			"termination":      {"SELECT state FROM billing_terminations WHERE tenant_id = ? AND id = ?", bTerm},
		} {
			s[what] = p.lookup(t, "billing", q[0], bTen.ID, q[1])
		}
		return s
	}
	before := snapshot()
	after := func() {
		for what, v := range snapshot() {
			if v != before[what] {
				t.Errorf("B's %s changed after A's tries: %q, was %q", what, v, before[what])
			}
		}
		if before["bank line"] != "open|" || before["termination"] != "active" || before["draft"] != "draft" {
			t.Errorf("B's objects were not in the state tried: %v", before)
		}
		if code, _ := bUser.do("GET", "/billing/invoices/"+bMine+"/pdf", nil); code != 200 {
			t.Errorf("B's client's invoice PDF after A's tries: %d", code)
		}
		if code, _ := bClerk.do("GET", sub, nil); code != 200 {
			t.Errorf("B's subscription after A's tries: %d", code)
		}
	}
	return cases, after
}
