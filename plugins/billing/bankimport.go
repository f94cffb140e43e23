package billing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/encoding/charmap"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/input"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// BankLine is a credit line of an imported bank statement that matched no invoice, kept for
// the clerk to assign by hand or ignore (B5). SourceKey is the line's hash.
type BankLine struct {
	bun.BaseModel `bun:"table:billing_bank_lines,alias:bl"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	SourceKey   string    `bun:"source_key"`
	BookedOn    Date      `bun:"booked_on"`
	Label       string    `bun:"label"`
	Reference   string    `bun:"reference"`
	AmountMinor int64     `bun:"amount_minor"`
	State       string    `bun:"state"`
	PaymentID   string    `bun:"payment_id"`
	CreatedAt   time.Time `bun:"created_at"`
}

const (
	lineOpen     = "open"
	lineAssigned = "assigned"
	lineIgnored  = "ignored"
)

// stmtLine is a credit line read from a statement.
type stmtLine struct {
	Key       string
	On        Date
	Label     string
	Reference string
	Amount    int64
	Currency  string // CAMT's Ccy; "" in a CSV export (the account's own)
}

// errStatement is a statement that cannot be read; Line is the line (CSV) or entry (CAMT)
// at fault, 0 for the whole file.
type errStatement struct{ Line int }

func (e errStatement) Error() string {
	return "billing: unreadable statement at " + strconv.Itoa(e.Line)
}

// parseStatement reads a CSV export (date;libellé;montant) or a CAMT.053 file; it returns
// the credit lines only.
func parseStatement(data []byte) ([]stmtLine, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errStatement{}
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
		return parseCAMT(data)
	}
	return parseCSV(data)
}

// parseCSV reads the usual French bank export: one line per operation, fields separated by
// semicolons — the booking day (JJ/MM/AAAA or AAAA-MM-JJ), the label, the amount with a
// decimal comma (a debit is negative) —, further columns ignored, a heading line allowed,
// fields possibly quoted; Windows-1252 text is read as such.
func parseCSV(data []byte) ([]stmtLine, error) {
	if !utf8.Valid(data) {
		d, err := charmap.Windows1252.NewDecoder().Bytes(data)
		if err != nil {
			return nil, errStatement{}
		}
		data = d
	}
	r := csv.NewReader(strings.NewReader(string(data)))
	r.Comma, r.FieldsPerRecord, r.LazyQuotes, r.TrimLeadingSpace = ';', -1, true, true
	var out []stmtLine
	seen := map[string]int{}
	for first := true; ; first = false {
		f, err := r.Read()
		line, _ := r.FieldPos(0)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, errStatement{pe.Line}
			}
			return nil, errStatement{line}
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if len(f) == 1 && f[0] == "" {
			continue
		}
		if len(f) < 3 {
			return nil, errStatement{line}
		}
		on, ok := parseBankDate(f[0])
		if !ok {
			if first && !strings.ContainsAny(f[0][:min(1, len(f[0]))], "0123456789") { // the heading
				continue
			}
			return nil, errStatement{line}
		}
		amt, neg, ok := parseSigned(f[2])
		if !ok || input.Check(f[1], false) != "" {
			return nil, errStatement{line}
		}
		if neg || amt == 0 {
			continue
		}
		// The same line twice in one statement is two operations (two cheques of one amount):
		// its occurrence is part of its hash.
		raw := strings.Join(f, ";")
		seen[raw]++
		out = append(out, stmtLine{Key: hashLine("csv", raw, strconv.Itoa(seen[raw])), On: on, Label: f[1], Amount: amt})
	}
	return out, nil
}

func parseBankDate(s string) (Date, bool) {
	for _, layout := range []string{"02/01/2006", "2006-01-02", "02/01/06", "02.01.2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Date{t.Year(), t.Month(), t.Day()}, true
		}
	}
	return Date{}, false
}

// parseSigned reads "1 234,56", "-12,00", "+89,00", "1234.56" as minor units and a sign.
func parseSigned(s string) (int64, bool, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	n, ok := parseAmount(s)
	return n, neg, ok
}

func hashLine(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(h[:])
}

// camt is the part of an ISO 20022 camt.053 statement the import reads.
type camt struct {
	Stmts []struct {
		Ntry []struct {
			Amt struct {
				Value string `xml:",chardata"`
				Ccy   string `xml:"Ccy,attr"`
			} `xml:"Amt"`
			CdtDbtInd string `xml:"CdtDbtInd"`
			BookgDt   struct {
				Dt   string `xml:"Dt"`
				DtTm string `xml:"DtTm"`
			} `xml:"BookgDt"`
			NtryRef     string `xml:"NtryRef"`
			AcctSvcrRef string `xml:"AcctSvcrRef"`
			AddtlInfo   string `xml:"AddtlNtryInf"`
			TxDtls      []struct {
				Ustrd []string `xml:"RmtInf>Ustrd"`
				Ref   string   `xml:"RmtInf>Strd>CdtrRefInf>Ref"`
				E2E   string   `xml:"Refs>EndToEndId"`
			} `xml:"NtryDtls>TxDtls"`
		} `xml:"Ntry"`
	} `xml:"BkToCstmrStmt>Stmt"`
}

// parseCAMT reads the credit entries (CdtDbtInd CRDT) of a camt.053 statement: the amount,
// the booking day, the remittance text (RmtInf/Ustrd, or the structured reference) and the
// bank's reference (AcctSvcrRef, else NtryRef) that makes the line's hash.
func parseCAMT(data []byte) ([]stmtLine, error) {
	var doc camt
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "iso-8859-1") || strings.EqualFold(label, "windows-1252") {
			return charmap.Windows1252.NewDecoder().Reader(r), nil
		}
		return nil, errStatement{}
	}
	if err := dec.Decode(&doc); err != nil || len(doc.Stmts) == 0 {
		return nil, errStatement{}
	}
	var out []stmtLine
	n := 0
	for _, st := range doc.Stmts {
		for _, e := range st.Ntry {
			n++
			// ISO 20022 writes amounts with a decimal point only.
			val := strings.TrimSpace(e.Amt.Value)
			amt, ok := parseAmount(val)
			ok = ok && !strings.ContainsAny(val, ", ")
			day := e.BookgDt.Dt
			if day == "" && len(e.BookgDt.DtTm) >= 10 {
				day = e.BookgDt.DtTm[:10]
			}
			on, err := ParseDate(strings.TrimSpace(day))
			if !ok || err != nil || (e.CdtDbtInd != "CRDT" && e.CdtDbtInd != "DBIT") {
				return nil, errStatement{n}
			}
			if e.CdtDbtInd != "CRDT" || amt == 0 {
				continue
			}
			var texts []string
			for _, tx := range e.TxDtls {
				texts = append(texts, tx.Ustrd...)
				if tx.Ref != "" {
					texts = append(texts, tx.Ref)
				}
			}
			if len(texts) == 0 && e.AddtlInfo != "" {
				texts = append(texts, e.AddtlInfo)
			}
			label := strings.Join(strings.Fields(strings.Join(texts, " ")), " ")
			ref := strings.TrimSpace(e.AcctSvcrRef)
			if ref == "" {
				ref = strings.TrimSpace(e.NtryRef)
			}
			if input.Check(label, false) != "" || input.Check(ref, false) != "" {
				return nil, errStatement{n}
			}
			key := hashLine("camt", ref, on.String(), strconv.FormatInt(amt, 10))
			if ref == "" {
				key = hashLine("camt", on.String(), strconv.FormatInt(amt, 10), label, strconv.Itoa(n))
			}
			out = append(out, stmtLine{Key: key, On: on, Label: label, Reference: ref, Amount: amt, Currency: strings.TrimSpace(e.Amt.Ccy)})
		}
	}
	return out, nil
}

// matchInvoice is the one issued invoice whose number the text names (as a whole word) and
// whose amount still due is amount; nil when none or several.
func matchInvoice(invs []Invoice, text string, amount int64) *Invoice {
	var found *Invoice
	up := strings.ToUpper(text)
	for i := range invs {
		inv := &invs[i]
		if inv.Number == nil || *inv.Number == "" || due(inv) != amount || !containsWord(up, strings.ToUpper(*inv.Number)) {
			continue
		}
		if found != nil {
			return nil
		}
		found = inv
	}
	return found
}

// exampleLine is a statement line as the help shows it: a transfer of the day naming an
// invoice by a number of the form the tenant's invoices carry (prefix, year, sequence, as
// issue numbers them), so that the clerk recognises his own numbers in it.
func exampleLine(t sdk.Tenant, on Date) string {
	return fmt.Sprintf("%02d/%02d/%d;VIR SEPA CABINET MARTIN %s-%d-%06d;106,80", on.D, int(on.M), on.Y, invoicePrefix.Of(t), on.Y, 17)
}

// containsWord: w occurs in s with no letter or digit just before or after it.
func containsWord(s, w string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return false
		}
		i += off
		before, after := rune(' '), rune(' ')
		if i > 0 {
			before, _ = utf8.DecodeLastRuneInString(s[:i])
		}
		if j := i + len(w); j < len(s) {
			after, _ = utf8.DecodeRuneInString(s[j:])
		}
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		off = i + 1
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// methodOf guesses how a credit line was paid from its label: a cheque remittance, a direct
// debit collected, else a transfer.
func methodOf(label string) string {
	up := strings.ToUpper(label)
	switch {
	case strings.Contains(up, "CHQ") || strings.Contains(up, "CHEQUE") || strings.Contains(up, "CHÈQUE"):
		return payCheque
	case strings.Contains(up, "PRLV") || strings.Contains(up, "PRELEVEMENT") || strings.Contains(up, "PRÉLÈVEMENT"):
		return payDebit
	}
	return payTransfer
}

// importResult is what an import did.
type importResult struct {
	Matched, Unmatched, Known int
	Paid                      []*paid
}

// importStatement records the statement's lines (B5): each line already seen (its hash among
// the payments or the kept lines) is skipped; a line naming an issued invoice by its number
// for the amount due is recorded as its payment; any other is kept for the clerk.
func (m *Module) importStatement(ctx context.Context, t sdk.Tenant, lines []stmtLine, by string) (*importResult, error) {
	res := &importResult{}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var invs []Invoice
		if err := sc.Select(&invs).Where("inv.kind = ?", invInvoice).Where("inv.state = ?", invIssued).Where("inv.number IS NOT NULL").Scan(ctx); err != nil {
			return err
		}
		for _, l := range lines {
			n1, err := sc.Select((*Payment)(nil)).Where("pay.source_key = ?", l.Key).Count(ctx)
			if err != nil {
				return err
			}
			n2, err := sc.Select((*BankLine)(nil)).Where("bl.source_key = ?", l.Key).Count(ctx)
			if err != nil {
				return err
			}
			if n1+n2 > 0 {
				res.Known++
				continue
			}
			// A credit in another currency is never an invoice's payment by itself.
			if inv := matchInvoice(invs, l.Label+" "+l.Reference, l.Amount); inv != nil && (l.Currency == "" || l.Currency == inv.Currency) {
				p, err := m.recordPayment(ctx, t, sc, paymentIn{InvoiceID: inv.ID, Method: methodOf(l.Label), Amount: l.Amount, On: l.On,
					Reference: firstOf(l.Reference, l.Label), SourceKey: l.Key, By: by})
				if err == nil {
					inv.PaidMinor += l.Amount
					res.Matched++
					res.Paid = append(res.Paid, p)
					continue
				}
				if errors.Is(err, errDuplicateLine) { // imported at the same time by another
					res.Known++
					continue
				}
				if !errors.Is(err, errOverpay) && !errors.Is(err, errNotPayable) {
					return err
				}
			}
			bl := BankLine{TenantID: sc.TenantID, ID: newID(), SourceKey: l.Key, BookedOn: l.On, Label: l.Label, Reference: l.Reference, AmountMinor: l.Amount,
				State: lineOpen, CreatedAt: m.nowUTC()}
			ins, err := sc.Insert(&bl).On("CONFLICT DO NOTHING").Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := ins.RowsAffected(); n != 1 {
				res.Known++
				continue
			}
			res.Unmatched++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func firstOf(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			if len(x) > 140 {
				x = x[:140]
			}
			return x
		}
	}
	return ""
}

// ---- pages ----

// importPage shows the import form (the columns a CSV file must have) and the lines no
// invoice was found for.
func (m *Module) importPage(c *kit.Ctx) error {
	return m.renderImport(c, c.View("billing.payments.import.title"), http.StatusOK)
}

func (m *Module) renderImport(c *kit.Ctx, v *kit.View, status int) error {
	var open []BankLine
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&open).Where("bl.state = ?", lineOpen).OrderExpr("bl.booked_on DESC, bl.created_at DESC").Limit(200).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Open"], v.Data["Currency"] = open, c.Tenant().Currency
	v.Data["Example"] = exampleLine(c.Tenant(), m.today(c.Tenant()))
	if c.Query("done") == "payments_imported" {
		var r importResult
		r.Matched, _ = strconv.Atoi(c.Query("matched"))
		r.Unmatched, _ = strconv.Atoi(c.Query("unmatched"))
		r.Known, _ = strconv.Atoi(c.Query("known"))
		v.Data["Result"] = r
	}
	if status != http.StatusOK {
		return kit.Invalid("payments_import", v)
	}
	return c.Render(status, "payments_import", v)
}

// importPost reads the uploaded statement and records it (B5); a file that cannot be read is
// refused with the line at fault, and nothing is stored.
func (m *Module) importPost(c *kit.Ctx) error {
	v := c.View("billing.payments.import.title")
	file, _, err := c.R.FormFile("statement")
	if err != nil {
		v.Errors["statement"] = "billing.payments.import.err.missing"
		return m.renderImport(c, v, http.StatusUnprocessableEntity)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, 8<<20+1))
	if err != nil {
		return kit.ErrBadRequest
	}
	if len(data) > 8<<20 {
		v.Errors["statement"] = "billing.payments.import.err.size"
		return m.renderImport(c, v, http.StatusUnprocessableEntity)
	}
	lines, err := parseStatement(data)
	var es errStatement
	if errors.As(err, &es) {
		v.Errors["statement"] = "billing.payments.import.err.file"
		if es.Line > 0 {
			v.Data["BadLine"] = es.Line
		}
		return m.renderImport(c, v, http.StatusUnprocessableEntity)
	} else if err != nil {
		return err
	}
	res, err := m.importStatement(c.Context(), c.Tenant(), lines, c.User().ID)
	if err != nil {
		return err
	}
	for _, p := range res.Paid {
		m.afterPayment(c.Context(), c.Tenant(), p)
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditStatementImported, Resource: "billing/statement",
		Detail: map[string]any{"matched": res.Matched, "unmatched": res.Unmatched, "known": res.Known}})
	return c.Redirect("/billing/manage/payments/import?matched="+strconv.Itoa(res.Matched)+"&unmatched="+strconv.Itoa(res.Unmatched)+"&known="+strconv.Itoa(res.Known), "payments_imported")
}

// bankLineAssign records a kept line as the payment of the invoice the clerk names by its
// number.
func (m *Module) bankLineAssign(c *kit.Ctx) error {
	v := c.View("billing.payments.import.title")
	t := c.Tenant()
	number := strings.TrimSpace(c.Form("number"))
	v.Values["number_"+c.Param("id")] = number
	var p *paid
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var bl BankLine
		if err := sc.Select(&bl).Where("bl.id = ?", c.Param("id")).Where("bl.state = ?", lineOpen).Scan(ctx); err != nil {
			return err
		}
		var inv Invoice
		if err := sc.Select(&inv).Where("inv.number = ?", number).Where("inv.kind = ?", invInvoice).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return errNotPayable
		} else if err != nil {
			return err
		}
		var err error
		p, err = m.recordPayment(ctx, t, sc, paymentIn{InvoiceID: inv.ID, Method: methodOf(bl.Label), Amount: bl.AmountMinor, On: bl.BookedOn,
			Reference: firstOf(bl.Reference, bl.Label), SourceKey: bl.SourceKey, By: c.User().ID})
		if err != nil {
			return err
		}
		_, err = sc.Update((*BankLine)(nil)).Set("state = ?", lineAssigned).Set("payment_id = ?", p.Payment.ID).Where("id = ?", bl.ID).Exec(ctx)
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return kit.ErrNotFound
	case errors.Is(err, errNotPayable):
		v.Errors["number_"+c.Param("id")] = "billing.payments.import.err.number"
	case errors.Is(err, errOverpay):
		v.Errors["number_"+c.Param("id")] = "billing.payments.import.err.overpay"
	case err != nil:
		return err
	}
	if len(v.Errors) > 0 {
		return m.renderImport(c, v, http.StatusUnprocessableEntity)
	}
	m.afterPayment(c.Context(), t, p)
	return c.Redirect("/billing/manage/payments/import", "payments_line_assigned")
}

// bankLineIgnore sets a kept line aside (money that is not a client's payment).
func (m *Module) bankLineIgnore(c *kit.Ctx) error {
	var bl BankLine
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&bl).Where("bl.id = ?", c.Param("id")).Where("bl.state = ?", lineOpen).Scan(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*BankLine)(nil)).Set("state = ?", lineIgnored).Where("id = ?", bl.ID).Exec(ctx)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	}
	if err != nil {
		return err
	}
	_ = c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditBankLineIgnored, Resource: "billing/bank_line/" + bl.ID,
		Detail: map[string]any{"label": bl.Label, "amount": m.money(c.Tenant(), bl.AmountMinor), "booked_date": bl.BookedOn.String()}})
	return c.Redirect("/billing/manage/payments/import", "payments_line_ignored")
}
