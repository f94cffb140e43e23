package billing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// invoicesPart: anniversary invoices, drafts, issue, credit notes and billing runs (B5).
// See billing.go. The pages are in invoices_pages.go, the runs in runs.go.
func (m *Module) invoicesPart() part {
	return part{
		Routes:        append(m.invoiceRoutes(), m.runRoutes()...),
		Rules:         []kit.Rule{reviewDrafts, runBatchSize, invoicePrefix},
		Jobs:          []kit.Job{{Name: jobInvoiceDue, Cron: "15 4 * * *", Run: m.invoiceDueJob}, {Name: jobRun, Run: m.runJob}},
		Notifications: []string{tmplInvoiceIssued},
		AuditActions:  []string{auditInvoiceIssued, auditInvoiceCredited, auditInvoiceDownloaded, auditRunStarted},
		Export:        m.exportInvoices,
	}
}

// Rules of the invoices part (B5).
var (
	// reviewDrafts: a clerk checks each invoice a run makes and issues it (one, or all of a
	// run); else a run issues them at once.
	reviewDrafts = kit.Bool("billing.review_drafts", false, "B5")
	// runBatchSize: how many subscriptions a billing run claims and invoices in one
	// transaction.
	// invoicePrefix starts every number ("FA-2026-000042": prefix, year, sequence).
	invoicePrefix = kit.String("billing.invoice_prefix", "FA", nil, "B5")
	runBatchSize  = kit.Int("billing.run_batch_size", 500, 1, 5000, "B5")
)

const (
	jobInvoiceDue     = "billing.invoice_due"
	jobRun            = "billing.run"
	tmplInvoiceIssued = "billing.invoice_issued"

	auditInvoiceIssued     = "billing.invoice_issued"
	auditInvoiceCredited   = "billing.invoice_credited"
	auditInvoiceDownloaded = "billing.invoice_downloaded"
	auditRunStarted        = "billing.run_started"
)

var errNotYet = errors.New("billing: not built yet")

// errNoPrice: the tariff in force prices not every product the subscription has.
var errNoPrice = errors.New("billing: a product of the subscription has no price in the tariff")

// invoicePeriod makes the invoice of sub's period that starts on start (B5): the plan and
// options for the month ahead at the tariff in force on the issue day, plus the previous
// period's calls and SMS beyond the allowance. It is kept as a draft when the tenant reviews
// drafts, else issued. An invoice that already exists for that period is returned as it is.
func (m *Module) invoicePeriod(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, start Date) (*Invoice, error) {
	if got, err := m.periodInvoice(ctx, sc, sub.ID, start); err != nil || got != nil {
		return got, err
	}
	on := m.today(t)
	b, err := m.newBiller(ctx, t, sc, sub, on)
	if err != nil {
		return nil, err
	}
	var opts []SubscriptionOption
	if err := sc.Select(&opts).Where("sopt.subscription_id = ?", sub.ID).Scan(ctx); err != nil {
		return nil, err
	}
	var calls, sms int64
	if k, _, _ := periodAt(sub.StartsOn, start); k > 0 {
		first, last := periodStart(sub.StartsOn, k-1), start.AddDays(-1)
		if calls, sms, err = m.usageCounts(ctx, sc, t, sub, first, last); err != nil {
			return nil, err
		}
	}
	inv, err := b.build(sub, optionIDs(opts), start, calls, sms, false)
	if err != nil {
		return nil, err
	}
	return m.keep(ctx, t, sc, b, inv, on)
}

// keep stores a built invoice and issues it on day on, unless the tenant reviews drafts.
func (m *Module) keep(ctx context.Context, t sdk.Tenant, sc *store.Scope, b *biller, inv *Invoice, on Date) (*Invoice, error) {
	if err := insertInvoices(ctx, sc, []*Invoice{inv}); err != nil {
		return nil, err
	}
	if !b.review {
		if err := m.issue(ctx, t, sc, inv, on); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// periodInvoice is the invoice of sub's period starting on start (with its lines), nil when
// there is none.
func (m *Module) periodInvoice(ctx context.Context, sc *store.Scope, subID string, start Date) (*Invoice, error) {
	var inv Invoice
	err := sc.Select(&inv).Where("inv.subscription_id = ? AND inv.period_start = ? AND inv.kind = ?", subID, start.String(), invInvoice).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &inv, loadLines(ctx, sc, &inv)
}

// loadLines reads inv's lines in order.
func loadLines(ctx context.Context, sc *store.Scope, inv *Invoice) error {
	inv.Lines = nil
	return sc.Select(&inv.Lines).Where("line.invoice_id = ?", inv.ID).OrderExpr("line.position").Scan(ctx)
}

// issue gives a draft its number (without gaps per tenant and year), its issue and due days,
// its document, and sends it to the client (B5).
func (m *Module) issue(ctx context.Context, t sdk.Tenant, sc *store.Scope, inv *Invoice, on Date) error {
	if inv.State != invDraft {
		return fmt.Errorf("billing: invoice %s is %s, not a draft", inv.ID, inv.State)
	}
	seq, err := takeNumbers(ctx, sc, on.Y, 1)
	if err != nil {
		return err
	}
	number(inv, t, on, seq, m.now())
	res, err := sc.Update(inv).Column("state", "number", "year", "seq", "issued_on", "due_on", "issued_at").
		Where("inv.id = ? AND inv.state = ?", inv.ID, invDraft).WherePK().Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errAlreadyIssued
	}
	if len(inv.Lines) == 0 {
		if err := loadLines(ctx, sc, inv); err != nil {
			return err
		}
	}
	var sub Subscription
	if err := sc.Select(&sub).Where("sub.id = ?", inv.SubscriptionID).Scan(ctx); err != nil {
		return err
	}
	blob, err := m.deliver(ctx, t, inv, &sub)
	if err != nil {
		return err
	}
	if blob != "" {
		inv.PDFBlob = blob
		if _, err := sc.Update(inv).Column("pdf_blob").WherePK().Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// errAlreadyIssued: another clerk (or run) issued the draft first.
var errAlreadyIssued = errors.New("billing: the draft was issued meanwhile")

// due is what is still to pay of an invoice (B5): its total less the payments received and
// the credit notes the firm issued against it. A credit note itself is never due.
func due(inv *Invoice) int64 {
	if inv.Kind == invCreditNote {
		return 0
	}
	return inv.TotalMinor - inv.PaidMinor - inv.CreditedMinor
}

// number sets what issuing gives an invoice whose sequence number in year on.Y is seq.
func number(inv *Invoice, t sdk.Tenant, on Date, seq int64, now time.Time) {
	num := fmt.Sprintf("%s-%d-%06d", invoicePrefix.Of(t), on.Y, seq)
	y := on.Y
	inv.Number, inv.Year, inv.Seq = &num, &y, &seq
	inv.State, inv.IssuedOn = invIssued, on
	inv.IssuedAt.Time = now.UTC()
	if inv.Kind == invInvoice {
		inv.DueOn = dueOn(inv.PeriodStart, on, int(paymentDay.Of(t)))
	}
}

// takeNumbers reserves n consecutive numbers of year in the tenant's sequence and returns the
// first: a guarded update of the counter's row in the caller's transaction, so that a
// rolled-back transaction gives its numbers back and two transactions never share one (the
// second waits for the first's row lock on PostgreSQL; SQLite has one writer).
func takeNumbers(ctx context.Context, sc *store.Scope, year int, n int) (int64, error) {
	if _, err := sc.Tx.NewRaw("INSERT INTO billing_invoice_counters (tenant_id, year, last) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
		sc.TenantID, year).Exec(ctx); err != nil {
		return 0, fmt.Errorf("invoice counter: %w", err)
	}
	var last int64
	if err := sc.Tx.NewRaw("UPDATE billing_invoice_counters SET last = last + ? WHERE tenant_id = ? AND year = ? AND last >= 0 RETURNING last",
		n, sc.TenantID, year).Scan(ctx, &last); err != nil {
		return 0, fmt.Errorf("invoice counter: %w", err)
	}
	return last - int64(n) + 1, nil
}

// deliver renders inv's document (the documents part; none until it is built), stores it,
// and e-mails the invoice to sub's client with the document attached. It returns the stored
// document's blob id. Outside a host call (a benchmark, a unit test) it does nothing.
func (m *Module) deliver(ctx context.Context, t sdk.Tenant, inv *Invoice, sub *Subscription) (string, error) {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return "", nil
	}
	var p Parties
	if err := json.Unmarshal([]byte(inv.Parties), &p); err != nil {
		return "", fmt.Errorf("invoice parties: %w", err)
	}
	doc, err := m.invoiceDocument(t, inv, p)
	if err != nil && !errors.Is(err, errNotYet) {
		return "", err
	}
	var blob string
	var files []sdk.Blob
	if err == nil {
		b := sdk.Blob{Name: *inv.Number + ".pdf", ContentType: "application/pdf", Data: doc}
		if blob, err = h.PutBlob(ctx, b); err != nil {
			return "", fmt.Errorf("invoice document: %w", err)
		}
		files = append(files, b)
	}
	lang := inv.Locale
	// A credit note's total is negative on its document; its e-mail says it in words of a
	// credit, the amount written positive ("un avoir de 15,00 €").
	total := inv.TotalMinor
	if inv.Kind == invCreditNote && total < 0 {
		total = -total
	}
	msg := letter(sub, tmplInvoiceIssued, "/billing/invoices/"+inv.ID, map[string]any{
		"Tenant": t.Name, "Number": *inv.Number, "Total": locales.FormatMoney(lang, total, inv.Currency),
		"Due": dayIn(lang, inv.DueOn), "Credit": inv.Kind == invCreditNote})
	msg.Attachments = files
	if _, err := h.Send(ctx, msg); err != nil {
		return "", fmt.Errorf("invoice e-mail: %w", err)
	}
	_ = h.Record(ctx, sdk.AuditRecord{Action: auditInvoiceIssued, Subject: sub.UserID, Resource: "billing/invoice/" + inv.ID,
		Detail: map[string]any{"number": *inv.Number, "client": sub.ClientName}})
	return blob, nil
}

// finalInvoice is the invoice after a subscription ended (B8): the last period's usage beyond
// the allowance, with no fee (no proration). It is stored under the period that would have
// started on EndsOn (never invoiced otherwise), so that it exists once.
func (m *Module) finalInvoice(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription) (*Invoice, error) {
	if sub.EndsOn.IsZero() {
		return nil, errors.New("billing: the subscription has no end day")
	}
	if got, err := m.periodInvoice(ctx, sc, sub.ID, sub.EndsOn); err != nil || got != nil {
		return got, err
	}
	on := m.today(t)
	b, err := m.newBiller(ctx, t, sc, sub, on)
	if err != nil {
		return nil, err
	}
	var calls, sms int64
	if sub.EndsOn.After(sub.StartsOn) {
		_, first, last := periodAt(sub.StartsOn, sub.EndsOn.AddDays(-1))
		if end := sub.EndsOn.AddDays(-1); end.Before(last) {
			last = end
		}
		if calls, sms, err = m.usageCounts(ctx, sc, t, sub, first, last); err != nil {
			return nil, err
		}
	}
	inv, err := b.build(sub, nil, sub.EndsOn, calls, sms, true)
	if err != nil {
		return nil, err
	}
	return m.keep(ctx, t, sc, b, inv, on)
}

// dueOn is the day an invoice of the period starting on start, issued on issued, is due
// (B5): the tenant's payment day of the period's first month, or when the invoice is issued
// after it, the next payment day; never before the invoice is issued.
func dueOn(start, issued Date, payDay int) Date {
	d := Date{start.Y, start.M, min(payDay, daysIn(start.Y, start.M))}
	for d.Before(issued) {
		n := Date{d.Y, d.M, 1}.AddMonthsClamped(1)
		d = Date{n.Y, n.M, min(payDay, daysIn(n.Y, n.M))}
	}
	return d
}

// ---- building an invoice ----

// biller is what invoicing on one issue day needs once: the tariff in force that day with its
// prices, the products, the tenant's VAT rate, whether drafts are reviewed, and the seller.
type biller struct {
	m        *Module
	t        sdk.Tenant
	on       Date
	tariff   *Tariff
	prices   map[string]Price
	products map[string]Product
	vat      int
	review   bool
	seller   Party
	now      time.Time
}

// newBiller reads the tariff in force on on for sub (B4); sub nil is the tenant's tariff, which
// a run uses for its batch except for the clients who refused a tariff.
func (m *Module) newBiller(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, on Date) (*biller, error) {
	tar, prices, err := m.tariffAt(ctx, sc, sub, on)
	if err != nil {
		return nil, err
	}
	var prods []Product
	if err := sc.Select(&prods).Scan(ctx); err != nil {
		return nil, err
	}
	b := &biller{m: m, t: t, on: on, tariff: tar, prices: prices, products: map[string]Product{}, vat: int(vatPercent.Of(t)),
		review: reviewDrafts.Of(t), seller: seller(t), now: m.now().UTC()}
	for _, p := range prods {
		b.products[p.ID] = p
	}
	return b, nil
}

// seller is the tenant's legal identity (the core's tenant.legal.* beside the rules).
func seller(t sdk.Tenant) Party {
	s := func(k string) string { v, _ := t.Rules[k].(string); return v }
	name := s("tenant.legal.company")
	if name == "" {
		name = t.Name
	}
	return Party{Name: name, Street: s("tenant.legal.address"), Country: t.Country, Registration: s("tenant.legal.registration"),
		VATID: s("tenant.legal.vat_id"), Email: s("tenant.contacts.support")}
}

// buyer is the subscription's client as the invoice names it.
func buyer(sub *Subscription) Party {
	return Party{Name: sub.ClientName, Street: sub.Street, Postcode: sub.Postcode, City: sub.City, Country: sub.Country,
		LegalID: sub.LegalID, VATID: sub.VATID, Email: sub.Email, Contact: sub.ContactName}
}

func optionIDs(opts []SubscriptionOption) []string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.ProductID
	}
	return out
}

// build makes the draft of sub's period starting on start: the plan's and options' monthly
// fees (none on a final invoice), then the calls and SMS of the previous period beyond the
// plan's allowance; the words in the client's language.
func (b *biller) build(sub *Subscription, options []string, start Date, calls, sms int64, final bool) (*Invoice, error) {
	lang := langOf(b.t, sub)
	loc := b.m.Msgs.For(lang)
	_, _, end := periodAt(sub.StartsOn, start)
	if final {
		end = start
	}
	inv := &Invoice{TenantID: b.t.ID, ID: newID(), Kind: invInvoice, SubscriptionID: sub.ID, State: invDraft, PeriodStart: start, PeriodEnd: end,
		TariffID: b.tariff.ID, Final: final, Currency: b.t.Currency, Locale: lang, CreatedAt: b.now}
	plan, ok := b.products[sub.PlanID]
	planPrice, priced := b.prices[sub.PlanID]
	if !ok || !priced {
		return nil, fmt.Errorf("%w: plan %s", errNoPrice, sub.PlanID)
	}
	from, to := dayIn(lang, start), dayIn(lang, end)
	add := func(kind, desc string, qty, unit int64) {
		inv.Lines = append(inv.Lines, InvoiceLine{TenantID: b.t.ID, InvoiceID: inv.ID, Position: len(inv.Lines) + 1, Kind: kind,
			Description: desc, Quantity: qty, UnitMinor: unit, AmountMinor: qty * unit, VATPercent: b.vat})
	}
	if !final {
		add(linePlan, loc.T("billing.invoices.line.plan", "Name", plan.Name, "From", from, "To", to), 1, planPrice.MonthlyFeeMinor)
		sort.Slice(options, func(i, j int) bool { return b.products[options[i]].Position < b.products[options[j]].Position })
		for _, o := range options {
			p, ok := b.prices[o]
			if !ok {
				return nil, fmt.Errorf("%w: option %s", errNoPrice, o)
			}
			add(lineOption, loc.T("billing.invoices.line.option", "Name", b.products[o].Name, "From", from, "To", to), 1, p.MonthlyFeeMinor)
		}
	}
	// The usage billed is the period before start's (B5), named by its days.
	usedTo := start.AddDays(-1)
	_, usedFrom, _ := periodAt(sub.StartsOn, usedTo)
	uFrom, uTo := dayIn(lang, usedFrom), dayIn(lang, usedTo)
	if over := calls - int64(plan.CallsIncluded); over > 0 {
		add(lineCallOverage, loc.T("billing.invoices.line.calls", "Included", plan.CallsIncluded, "From", uFrom, "To", uTo), over, planPrice.CallMinor)
	}
	if over := sms - int64(plan.SMSIncluded); over > 0 {
		add(lineSMSOverage, loc.T("billing.invoices.line.sms", "Included", plan.SMSIncluded, "From", uFrom, "To", uTo), over, planPrice.SMSMinor)
	}
	totals(inv)
	p := Parties{Seller: b.seller, Buyer: buyer(sub), SubscriptionRef: sub.Reference, PaymentMethod: sub.PaymentMethod, MandateRef: sub.MandateRef}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	inv.Parties = string(raw)
	return inv, nil
}

// totals sets inv's net, VAT and total from its lines: the VAT of each rate on the total of
// its lines, rounded half away from zero to the cent (B5).
func totals(inv *Invoice) {
	byRate := map[int]int64{}
	inv.NetMinor = 0
	for _, l := range inv.Lines {
		inv.NetMinor += l.AmountMinor
		byRate[l.VATPercent] += l.AmountMinor
	}
	inv.VATMinor = 0
	for rate, net := range byRate {
		inv.VATMinor += vatOf(net, rate)
	}
	inv.TotalMinor = inv.NetMinor + inv.VATMinor
}

// vatOf is rate % of net, rounded half-up (half away from zero for a credit).
func vatOf(net int64, rate int) int64 {
	neg := net < 0
	if neg {
		net = -net
	}
	v := (net*int64(rate) + 50) / 100
	if neg {
		return -v
	}
	return v
}

// insertInvoices stores invoices and their lines, each kind in one statement.
func insertInvoices(ctx context.Context, sc *store.Scope, invs []*Invoice) error {
	if len(invs) == 0 {
		return nil
	}
	var lines []InvoiceLine
	for _, inv := range invs {
		lines = append(lines, inv.Lines...)
	}
	if _, err := sc.Insert(&invs).Exec(ctx); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := sc.Insert(&lines).Exec(ctx)
	return err
}

// exportInvoices is what the module holds of a user's invoices and credit notes (P11): those
// of his subscriptions, issued, with their lines.
func (m *Module) exportInvoices(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var invs []Invoice
	var lines []InvoiceLine
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		mine := sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", userID)
		if err := sc.Select(&invs).Where("inv.subscription_id IN (?) AND inv.state <> ?", mine, invDraft).OrderExpr("inv.seq").Scan(ctx); err != nil {
			return err
		}
		if len(invs) == 0 {
			return nil
		}
		return sc.Select(&lines).Where("line.invoice_id IN (?)", sc.Select((*Invoice)(nil)).Column("inv.id").
			Where("inv.subscription_id IN (?) AND inv.state <> ?", mine, invDraft)).OrderExpr("line.invoice_id, line.position").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"invoices": invs, "invoice_lines": lines}, nil
}
