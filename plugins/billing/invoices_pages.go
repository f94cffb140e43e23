package billing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The invoices' pages (B5): the clerk's list (by state, subscription, month) and invoice page
// (issue a draft, credit an issued invoice); the client's invoices and their PDF.

func (m *Module) invoiceRoutes() []kit.Route {
	return []kit.Route{
		kit.Perm("GET /billing/manage/invoices", permManage, m.manageInvoices),
		kit.Perm("GET /billing/manage/invoices/{id}", permManage, m.manageInvoice),
		kit.Perm("POST /billing/manage/invoices/{id}/issue", permManage, m.issueDraft),
		kit.Perm("POST /billing/manage/invoices/{id}/credit", permManage, m.creditInvoice),
		kit.Perm("GET /billing/manage/invoices/{id}/pdf", permManage, m.invoicePDF),
		kit.Perm("GET /billing/invoices", permOwn, m.myInvoices),
		kit.Perm("GET /billing/invoices/{id}", permOwn, m.myInvoice),
		kit.Perm("GET /billing/invoices/{id}/pdf", permOwn, m.invoicePDF),
	}
}

// invoiceStates are the states a clerk filters on.
var invoiceStates = []string{invDraft, invIssued, invPaid, invCredited}

// invoiceRow is an invoice in a list, with its client's name.
type invoiceRow struct {
	Invoice    `bun:",extend"`
	ClientName string `bun:"client_name"`
}

// manageInvoices lists the tenant's invoices and credit notes, newest first, filtered by
// state, subscription (?sub=) and month of the period (?month=YYYY-MM).
func (m *Module) manageInvoices(c *kit.Ctx) error {
	v := c.View("billing.invoices.manage.title")
	state, subID, month := c.Query("state"), c.Query("sub"), c.Query("month")
	v.Values["state"], v.Values["sub"], v.Values["month"] = state, subID, month
	if state != "" && !contains(invoiceStates, state) {
		v.Errors["state"] = "billing.invoices.err.state"
	}
	if month != "" {
		if _, err := ParseDate(month + "-01"); err != nil || len(month) != 7 {
			v.Errors["month"] = "billing.invoices.err.month"
		}
	}
	var rows []invoiceRow
	var sub *Subscription
	if len(v.Errors) == 0 {
		err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			q := sc.Select(&rows).ColumnExpr("inv.*").ColumnExpr("sub.client_name").
				Join("JOIN billing_subscriptions AS sub ON sub.tenant_id = inv.tenant_id AND sub.id = inv.subscription_id").
				OrderExpr("inv.created_at DESC, inv.number DESC").Limit(500)
			if state != "" {
				q = q.Where("inv.state = ?", state)
			}
			if subID != "" {
				q = q.Where("inv.subscription_id = ?", subID)
				var s Subscription
				if err := sc.Select(&s).Where("sub.id = ?", subID).Scan(ctx); err == nil {
					sub = &s
				} else if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if month != "" {
				q = q.Where("inv.period_start >= ? AND inv.period_start <= ?", month+"-01", month+"-31")
			}
			return q.Scan(ctx)
		})
		if err != nil {
			return err
		}
	}
	v.Data["Invoices"], v.Data["States"], v.Data["Sub"] = rows, invoiceStates, sub
	if len(v.Errors) > 0 {
		return kit.Invalid("invoices_manage", v)
	}
	return c.Render(http.StatusOK, "invoices_manage", v)
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// invoicePage is what an invoice's page shows.
type invoicePage struct {
	Inv        *Invoice
	Sub        *Subscription
	Credits    []Invoice // the credit notes of an invoice
	Credited   *Invoice  // the invoice a credit note credits
	Left       int64     // what may still be credited (net)
	Creditable bool
	Payments   []Payment // the payments received for an invoice
	Due        int64     // what is still to pay of an invoice (see due)
	// LateTerms states what a late payment costs (B5, B6): penalties at the tenant's multiple
	// of the legal interest rate and the flat recovery fee (Code de commerce L441-10).
	LateTerms string
}

// lateTerms is B5's statement of what a late payment costs, in the reader's words.
func lateTerms(c *kit.Ctx, inv *Invoice) string {
	if inv.Kind != invInvoice {
		return ""
	}
	t := c.Tenant()
	return c.T("billing.invoices.late_terms", "Multiple", latePenaltyLegalRateMultiple.Of(t),
		"Fee", locales.FormatMoney(c.Loc().Lang, recoveryFeeMinor.Of(t), inv.Currency))
}

// readInvoice reads invoice id (a client's own only, when own is set) for its page.
func (m *Module) readInvoice(ctx context.Context, sc *store.Scope, id string, own *sdk.User) (*invoicePage, error) {
	p := &invoicePage{Inv: &Invoice{}, Sub: &Subscription{}}
	q := sc.Select(p.Inv).Where("inv.id = ?", id)
	if own != nil {
		q = q.Where("inv.state <> ?", invDraft).
			Where("inv.subscription_id IN (?)", sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", own.ID))
	}
	if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, kit.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if err := loadLines(ctx, sc, p.Inv); err != nil {
		return nil, err
	}
	if err := sc.Select(p.Sub).Where("sub.id = ?", p.Inv.SubscriptionID).Scan(ctx); err != nil {
		return nil, err
	}
	if p.Inv.Kind == invCreditNote {
		var o Invoice
		if err := sc.Select(&o).Where("inv.id = ?", p.Inv.CreditsID).Scan(ctx); err == nil {
			p.Credited = &o
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return p, nil
	}
	if err := sc.Select(&p.Credits).Where("inv.credits_id = ? AND inv.kind = ?", p.Inv.ID, invCreditNote).OrderExpr("inv.seq").Scan(ctx); err != nil {
		return nil, err
	}
	p.Left = p.Inv.NetMinor
	for _, cn := range p.Credits {
		p.Left += cn.NetMinor
	}
	p.Due = due(p.Inv)
	p.Creditable = p.Inv.State == invIssued && p.Left > 0 && p.Due > 0
	if err := sc.Select(&p.Payments).Where("pay.invoice_id = ?", p.Inv.ID).OrderExpr("pay.received_on, pay.created_at").Scan(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (m *Module) manageInvoice(c *kit.Ctx) error {
	v := c.View("billing.invoices.invoice.title")
	return m.showInvoice(c, v, http.StatusOK)
}

func (m *Module) showInvoice(c *kit.Ctx, v *kit.View, status int) error {
	var p *invoicePage
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		p, err = m.readInvoice(ctx, sc, c.Param("id"), nil)
		return err
	}); err != nil {
		return err
	}
	p.LateTerms = lateTerms(c, p.Inv)
	creditNoteTitle(c, v, p.Inv)
	v.Data["P"] = p
	if status != http.StatusOK {
		return kit.Invalid("invoices_invoice", v)
	}
	return c.Render(status, "invoices_invoice", v)
}

// creditNoteTitle heads a credit note's page "Avoir", not "Facture" (B5).
func creditNoteTitle(c *kit.Ctx, v *kit.View, inv *Invoice) {
	if inv.Kind == invCreditNote {
		v.Title = c.T("billing.invoices.credit_note.title")
	}
}

// issueDraft issues a draft the clerk checked (B5, rule billing.review_drafts).
func (m *Module) issueDraft(c *kit.Ctx) error {
	t := c.Tenant()
	id := c.Param("id")
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var inv Invoice
		if err := sc.Select(&inv).Where("inv.id = ?", id).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		if inv.State != invDraft {
			return errAlreadyIssued
		}
		return m.issue(ctx, t, sc, &inv, m.today(t))
	})
	if errors.Is(err, errAlreadyIssued) {
		return c.Redirect("/billing/manage/invoices/"+id, "invoice_already_issued")
	}
	if err != nil {
		return err
	}
	return c.Redirect("/billing/manage/invoices/"+id, "invoice_issued")
}

// creditInvoice credits an issued invoice in full or in part (with a reason, confirmed by the
// clerk): a credit note numbered in the same sequence, with negative amounts, naming the
// invoice. The credit note lowers the invoice's amount due (credited_minor, a guarded update
// like a payment); once payments and credit notes reach its total the invoice is settled:
// "credited" when nothing of it was paid, else "paid" (B5). An empty amount credits all that
// is left of an unpaid invoice.
func (m *Module) creditInvoice(c *kit.Ctx) error {
	t := c.Tenant()
	id := c.Param("id")
	v := c.View("billing.invoices.invoice.title")
	rawAmount, reason := strings.TrimSpace(c.Form("amount")), strings.TrimSpace(c.Form("reason"))
	v.Values["amount"], v.Values["reason"] = rawAmount, reason
	var amount int64
	if rawAmount != "" {
		n, ok := parseAmount(rawAmount)
		if !ok || n <= 0 {
			v.Errors["amount"] = "billing.invoices.err.amount"
		}
		amount = n
	}
	if reason == "" {
		v.Errors["reason"] = "billing.invoices.err.reason"
	} else if utf8.RuneCountInString(reason) > 200 {
		v.Errors["reason"] = "billing.invoices.err.reason_long"
	}
	if c.Form("confirm") != "yes" {
		v.Errors["confirm"] = "billing.invoices.err.confirm"
	}
	if len(v.Errors) > 0 {
		return m.showInvoice(c, v, http.StatusUnprocessableEntity)
	}
	var cn *Invoice
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		// The invoice's row is locked first, so that two credits (or a credit and a payment)
		// at once never take more than is due.
		res, err := sc.Update((*Invoice)(nil)).Set("credited_minor = credited_minor").
			Where("inv.id = ? AND inv.kind = ? AND inv.state = ?", id, invInvoice, invIssued).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotCreditable
		}
		p, err := m.readInvoice(ctx, sc, id, nil)
		if err != nil {
			return err
		}
		if !p.Creditable {
			return errNotCreditable
		}
		rest := amount == 0 || amount == p.Left
		if amount == 0 {
			if p.Inv.PaidMinor > 0 {
				return errAmountNeeded
			}
			amount = p.Left
		}
		if amount > p.Left {
			return errTooMuch
		}
		cn, err = m.creditNote(ctx, t, sc, p.Inv, amount, amount == p.Inv.NetMinor, reason)
		if err != nil {
			return err
		}
		credit, left := -cn.TotalMinor, due(p.Inv)
		switch {
		case rest && p.Inv.PaidMinor == 0 && credit >= left-int64(len(p.Credits)+1) && credit <= left+int64(len(p.Credits)+1):
			// the whole rest of an unpaid invoice: settled, whatever cent the VAT of each
			// partial credit note rounded
			credit = left
		case credit > left:
			return errTooMuch
		}
		today := m.today(t)
		res, err = sc.Update((*Invoice)(nil)).
			Set("credited_minor = credited_minor + ?", credit).
			Set("state = CASE WHEN paid_minor + credited_minor + ? < total_minor THEN state WHEN paid_minor > 0 THEN ? ELSE ? END", credit, invPaid, invCredited).
			Set("paid_on = CASE WHEN paid_minor + credited_minor + ? >= total_minor AND paid_minor > 0 THEN ? ELSE paid_on END", credit, today).
			Where("inv.id = ? AND inv.state = ?", id, invIssued).
			Where("inv.paid_minor + inv.credited_minor + ? <= inv.total_minor", credit).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errTooMuch
		}
		if credit == left {
			_, err = m.reactivateIfClear(ctx, t, sc, p.Inv.SubscriptionID)
		}
		return err
	})
	switch {
	case errors.Is(err, errNotCreditable):
		v.Errors["amount"] = "billing.invoices.err.not_creditable"
		return m.showInvoice(c, v, http.StatusUnprocessableEntity)
	case errors.Is(err, errTooMuch):
		v.Errors["amount"] = "billing.invoices.err.too_much"
		return m.showInvoice(c, v, http.StatusUnprocessableEntity)
	case errors.Is(err, errAmountNeeded):
		v.Errors["amount"] = "billing.invoices.err.amount_needed"
		return m.showInvoice(c, v, http.StatusUnprocessableEntity)
	case err != nil:
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditInvoiceCredited, Resource: "billing/invoice/" + id,
		Detail: map[string]any{"number": *cn.Number}}); err != nil {
		c.LogFailure(fmt.Errorf("audit of a credit note: %w", err))
	}
	return c.Redirect("/billing/manage/invoices/"+cn.ID, "credit_note_issued")
}

var (
	errNotCreditable = errors.New("billing: the invoice cannot be credited")
	errTooMuch       = errors.New("billing: more than is left to credit")
	errAmountNeeded  = errors.New("billing: a partly paid invoice is credited by an amount")
)

// creditNote issues the credit note of amount (net) of inv: all its lines negated when whole,
// else one line naming the reason.
func (m *Module) creditNote(ctx context.Context, t sdk.Tenant, sc *store.Scope, inv *Invoice, amount int64, whole bool, reason string) (*Invoice, error) {
	loc := m.Msgs.For(inv.Locale)
	cn := &Invoice{TenantID: t.ID, ID: newID(), Kind: invCreditNote, SubscriptionID: inv.SubscriptionID, State: invDraft,
		PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd, CreditsID: inv.ID, TariffID: inv.TariffID, Currency: inv.Currency,
		Locale: inv.Locale, Parties: inv.Parties, CreatedAt: m.now().UTC()}
	if whole {
		for _, l := range inv.Lines {
			l.InvoiceID, l.AmountMinor, l.UnitMinor = cn.ID, -l.AmountMinor, -l.UnitMinor
			cn.Lines = append(cn.Lines, l)
		}
	} else {
		rate := int(vatPercent.Of(t))
		if len(inv.Lines) > 0 {
			rate = inv.Lines[0].VATPercent
		}
		cn.Lines = []InvoiceLine{{TenantID: t.ID, InvoiceID: cn.ID, Position: 1, Kind: lineCredit,
			Description: loc.T("billing.invoices.line.credit", "Number", *inv.Number, "Reason", reason), Quantity: 1,
			UnitMinor: -amount, AmountMinor: -amount, VATPercent: rate}}
	}
	totals(cn)
	if err := insertInvoices(ctx, sc, []*Invoice{cn}); err != nil {
		return nil, err
	}
	if err := m.issue(ctx, t, sc, cn, m.today(t)); err != nil {
		return nil, err
	}
	return cn, nil
}

// myInvoices lists the signed-in client's invoices and credit notes (B5, B12).
func (m *Module) myInvoices(c *kit.Ctx) error {
	v := c.View("billing.invoices.mine.title")
	var invs []Invoice
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&invs).Where("inv.state <> ?", invDraft).
			Where("inv.subscription_id IN (?)", sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", c.User().ID)).
			OrderExpr("inv.issued_on DESC, inv.seq DESC").Limit(500).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Invoices"] = invs
	return c.Render(http.StatusOK, "invoices_mine", v)
}

// myInvoice is one of the client's invoices (another's is not found).
func (m *Module) myInvoice(c *kit.Ctx) error {
	v := c.View("billing.invoices.invoice.title")
	var p *invoicePage
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		p, err = m.readInvoice(ctx, sc, c.Param("id"), c.User())
		return err
	}); err != nil {
		return err
	}
	p.LateTerms = lateTerms(c, p.Inv)
	creditNoteTitle(c, v, p.Inv)
	v.Data["P"] = p
	return c.Render(http.StatusOK, "invoices_client", v)
}

// invoicePDF is an issued invoice's document (the client's own only, on his portal), its
// download audited.
func (m *Module) invoicePDF(c *kit.Ctx) error {
	var own *sdk.User
	if !strings.HasPrefix(c.R.URL.Path, "/billing/manage/") {
		own = c.User()
	}
	var p *invoicePage
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		p, err = m.readInvoice(ctx, sc, c.Param("id"), own)
		return err
	}); err != nil {
		return err
	}
	if p.Inv.Number == nil {
		return kit.ErrNotFound
	}
	var data []byte
	if p.Inv.PDFBlob != "" {
		b, err := c.Host().Blob(c.Context(), p.Inv.PDFBlob)
		if err != nil {
			return err
		}
		data = b.Data
	} else {
		var parties Parties
		if err := json.Unmarshal([]byte(p.Inv.Parties), &parties); err != nil {
			return err
		}
		doc, err := m.invoiceDocument(c.Tenant(), p.Inv, parties)
		if errors.Is(err, errNotYet) {
			return kit.ErrNotFound
		}
		if err != nil {
			return err
		}
		data = doc
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditInvoiceDownloaded, Subject: p.Sub.UserID, Resource: "billing/invoice/" + p.Inv.ID,
		Detail: map[string]any{"number": *p.Inv.Number, "client": p.Sub.ClientName}}); err != nil {
		c.LogFailure(fmt.Errorf("audit of an invoice download: %w", err))
	}
	c.W.Header().Set("Content-Type", "application/pdf")
	c.W.Header().Set("Content-Disposition", `attachment; filename="`+*p.Inv.Number+`.pdf"`)
	c.W.Header().Set("Cache-Control", "private, no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err := c.W.Write(data)
	return err
}
