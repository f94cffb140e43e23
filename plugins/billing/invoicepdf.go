package billing

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/country"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/sdk"
)

// documentsPart: the invoice as a document — a PDF in the invoice's language that is also a
// Factur-X e-invoice (PDF/A-3 with its EN 16931 CII XML) — and its download. See billing.go.
func (m *Module) documentsPart() part {
	return part{Rules: []kit.Rule{firmIBAN, firmBIC, sepaCreditorID}}
}

// B5: how the firm is paid, printed on its invoices and given in their e-invoice: the bank
// account a transfer goes to, and the SEPA creditor identifier its direct debits are
// collected under. An invoice's Parties keeps them as issued; these fill what it lacks.
var (
	firmIBAN       = kit.String("billing.iban", "", nil, "B5")
	firmBIC        = kit.String("billing.bic", "", nil, "B5")
	sepaCreditorID = kit.String("billing.sepa_creditor_id", "", nil, "B5")
)

// errTotalsDiffer: no document states totals other than its lines'.
var errTotalsDiffer = errors.New("billing: the invoice's totals are not the sum of its lines")

// docLine is an invoice line as the document gives it: a quantity and a unit price that is
// never negative (EN 16931 BR-27), so that a deduction is a negative quantity.
type docLine struct {
	Pos         int
	Description string
	Quantity    int64
	UnitMinor   int64
	AmountMinor int64
	VATPercent  int
}

// vatGroup is one rate of the VAT breakdown: the taxable amount and its VAT, rounded once
// per rate (EN 16931 BR-CO-17).
type vatGroup struct {
	Percent   int
	BaseMinor int64
	VATMinor  int64
}

// docFigures are an invoice's lines, VAT breakdown and totals as its documents give them: a
// credit note's amounts are positive (its type says it credits).
type docFigures struct {
	Lines            []docLine
	VAT              []vatGroup
	Net, Tax, Total  int64
	CreditNote       bool
	CreditedNumber   string
	CreditedIssuedOn Date
	PaymentMethod    string
	MandateRef       string
	CreditorID       string
	IBAN, BIC        string
	PaymentDay       int
	PenaltyMultiple  int64
	RecoveryFeeMinor int64
	Lang, Currency   string
}

// figures computes what inv's documents state, and checks that its stored totals are the
// sum of its lines and their VAT.
func (m *Module) figures(t sdk.Tenant, inv *Invoice, p Parties) (*docFigures, error) {
	f := &docFigures{CreditNote: inv.Kind == invCreditNote, Currency: inv.Currency, PaymentMethod: p.PaymentMethod, MandateRef: p.MandateRef,
		CreditorID: p.CreditorID, IBAN: p.IBAN, BIC: p.BIC, CreditedNumber: p.CreditedNumber,
		PaymentDay: int(paymentDay.Of(t)), PenaltyMultiple: latePenaltyLegalRateMultiple.Of(t), RecoveryFeeMinor: recoveryFeeMinor.Of(t)}
	if f.Currency == "" {
		f.Currency = t.Currency
	}
	f.Lang = inv.Locale
	if !locales.IsSupported(f.Lang) {
		f.Lang = t.Locale
	}
	if d, err := ParseDate(p.CreditedIssuedOn); err == nil {
		f.CreditedIssuedOn = d
	}
	if f.IBAN == "" {
		f.IBAN, f.BIC = firmIBAN.Of(t), firmBIC.Of(t)
	}
	if f.CreditorID == "" {
		f.CreditorID = sepaCreditorID.Of(t)
	}
	// A credit note stored with negative amounts is given with positive ones.
	sign := int64(1)
	if f.CreditNote && inv.TotalMinor < 0 {
		sign = -1
	}
	by := map[int]*vatGroup{}
	var order []int
	for i, l := range inv.Lines {
		q, u, a := sign*l.Quantity, l.UnitMinor, sign*l.AmountMinor
		if u < 0 {
			q, u = -q, -u
		}
		f.Lines = append(f.Lines, docLine{Pos: i + 1, Description: l.Description, Quantity: q, UnitMinor: u, AmountMinor: a, VATPercent: l.VATPercent})
		g := by[l.VATPercent]
		if g == nil {
			g = &vatGroup{Percent: l.VATPercent}
			by[l.VATPercent] = g
			order = append(order, l.VATPercent)
		}
		g.BaseMinor += a
		f.Net += a
	}
	for _, pct := range order {
		g := by[pct]
		g.VATMinor = percentOf(g.BaseMinor, pct)
		f.Tax += g.VATMinor
		f.VAT = append(f.VAT, *g)
	}
	f.Total = f.Net + f.Tax
	if f.Net != sign*inv.NetMinor || f.Tax != sign*inv.VATMinor || f.Total != sign*inv.TotalMinor {
		return nil, fmt.Errorf("%w: lines %d + %d = %d, invoice %d + %d = %d", errTotalsDiffer, f.Net, f.Tax, f.Total, inv.NetMinor, inv.VATMinor, inv.TotalMinor)
	}
	// What is missing is said in the log, and the document is still issued: a credit note
	// that does not name its invoice (Parties.CreditedNumber), a transfer without the firm's
	// IBAN (rule billing.iban: the e-invoice then gives no account, payment means 1), a
	// direct debit without the firm's SEPA creditor id (rule billing.sepa_creditor_id).
	switch {
	case f.CreditNote && f.CreditedNumber == "":
		m.Log.Warn("billing: a credit note's document does not name the invoice it credits", "tenant", t.Slug, "invoice", inv.ID)
	case !f.CreditNote && f.PaymentMethod == payTransfer && f.IBAN == "":
		m.Log.Warn("billing: an invoice paid by transfer without the firm's IBAN (rule billing.iban)", "tenant", t.Slug, "invoice", inv.ID)
	case !f.CreditNote && f.PaymentMethod == payDebit && f.CreditorID == "":
		m.Log.Warn("billing: an invoice paid by direct debit without the firm's SEPA creditor id (rule billing.sepa_creditor_id)", "tenant", t.Slug, "invoice", inv.ID)
	}
	return f, nil
}

// percentOf is pct % of minor, rounded half away from zero.
func percentOf(minor int64, pct int) int64 {
	v := minor * int64(pct)
	if v < 0 {
		return -((-v + 50) / 100)
	}
	return (v + 50) / 100
}

// invoiceDocument renders inv (with its Lines) and the parties it names as a Factur-X PDF in
// inv.Locale (B5): a PDF/A-3b that reads as the invoice and carries its EN 16931 CII XML as
// factur-x.xml.
func (m *Module) invoiceDocument(t sdk.Tenant, inv *Invoice, p Parties) ([]byte, error) {
	f, err := m.figures(t, inv, p)
	if err != nil {
		return nil, err
	}
	loc := m.Msgs.For(f.Lang)
	number := ""
	if inv.Number != nil {
		number = *inv.Number
	}
	kind := "invoice"
	if f.CreditNote {
		kind = "credit_note"
	}
	title := loc.T("billing.documents.title."+kind, "Number", number)
	texts := ciiTexts{
		PaymentMeans: loc.T("billing.documents.means." + f.PaymentMethod),
		Terms:        m.termsSentence(loc, f),
		Penalties:    loc.T("billing.documents.penalties", "Multiple", f.PenaltyMultiple),
		RecoveryFee:  loc.T("billing.documents.recovery_fee", "Fee", locales.FormatMoney(f.Lang, f.RecoveryFeeMinor, f.Currency)),
		NoDiscount:   loc.T("billing.documents.no_discount"),
	}
	xml, err := ciiInvoice(inv, p, f, number, texts)
	if err != nil {
		return nil, err
	}

	money := func(minor int64) string { return locales.FormatMoney(f.Lang, minor, f.Currency) }
	day := func(d Date) string { return locales.FormatDate(f.Lang, d.In(time.UTC), nil) }
	pct := func(n int) string { return loc.T("billing.documents.rate", "Percent", n) }
	created := inv.IssuedOn.In(time.UTC).Add(12 * time.Hour)
	if !inv.IssuedAt.IsZero() {
		created = inv.IssuedAt.Time
	}
	d := pdfdoc.New(title, p.Seller.Name, created)
	d.Heading(title, 15)
	d.Pair(loc.T("billing.documents.issued"), day(inv.IssuedOn))
	if f.CreditNote && f.CreditedNumber != "" {
		credited := f.CreditedNumber
		if !f.CreditedIssuedOn.IsZero() {
			credited = loc.T("billing.documents.credited_dated", "Number", f.CreditedNumber, "Date", day(f.CreditedIssuedOn))
		}
		d.Pair(loc.T("billing.documents.credits"), credited)
	}
	d.Pair(loc.T("billing.documents.period"), loc.T("billing.documents.period_range", "From", day(inv.PeriodStart), "To", day(inv.PeriodEnd)))
	if p.SubscriptionRef != "" {
		d.Pair(loc.T("billing.documents.contract"), p.SubscriptionRef)
	}

	party := func(heading string, pt Party, legal string) {
		d.Space(1.5)
		d.Heading(heading, 11)
		d.Text(pt.Name)
		addr := strings.TrimSpace(pt.Street + "\n" + strings.TrimSpace(pt.Postcode+" "+pt.City))
		// the country once: the seller's one-line legal address often ends with it already
		if c := country.Name(f.Lang, pt.Country); c != "" && !strings.HasSuffix(strings.ToLower(strings.TrimRight(addr, " .")), strings.ToLower(c)) {
			addr += "\n" + c
		}
		d.Text(addr)
		if pt.Registration != "" {
			d.Text(pt.Registration)
		}
		if pt.LegalID != "" {
			d.Pair(loc.T(legal), groupDigits(pt.LegalID))
		}
		if pt.VATID != "" {
			d.Pair(loc.T("billing.documents.vat_id"), pt.VATID)
		}
	}
	party(loc.T("billing.documents.seller"), p.Seller, legalLabel(p.Seller.LegalID))
	party(loc.T("billing.documents.buyer"), p.Buyer, legalLabel(p.Buyer.LegalID))

	rows := make([][]string, 0, len(f.Lines))
	for _, l := range f.Lines {
		rows = append(rows, []string{l.Description, locales.FormatInt(f.Lang, l.Quantity), money(l.UnitMinor), pct(l.VATPercent), money(l.AmountMinor)})
	}
	d.Table([]string{loc.T("billing.documents.item"), loc.T("billing.documents.quantity"), loc.T("billing.documents.unit_price"),
		loc.T("billing.documents.vat_rate"), loc.T("billing.documents.amount")}, rows, nil, false)

	var vrows [][]string
	for _, g := range f.VAT {
		vrows = append(vrows, []string{pct(g.Percent), money(g.BaseMinor), money(g.VATMinor)})
	}
	d.Heading(loc.T("billing.documents.vat_breakdown"), 11)
	d.Table([]string{loc.T("billing.documents.vat_rate"), loc.T("billing.documents.base"), loc.T("billing.documents.vat")}, vrows, nil, false)
	d.Pair(loc.T("billing.documents.total_net"), money(f.Net))
	d.Pair(loc.T("billing.documents.total_vat"), money(f.Tax))
	d.Pair(loc.T("billing.documents.total_gross"), money(f.Total))

	if f.CreditNote {
		d.Text(loc.T("billing.documents.credit_terms"))
	} else {
		d.Space(1.5)
		d.Heading(loc.T("billing.documents.payment"), 11)
		d.Pair(loc.T("billing.documents.due"), day(inv.DueOn))
		d.Text(texts.Terms)
		switch f.PaymentMethod {
		case payDebit:
			if f.CreditorID == "" {
				d.Text(loc.T("billing.documents.pay_debit_mandate", "Mandate", f.MandateRef))
			} else {
				d.Text(loc.T("billing.documents.pay_debit", "Mandate", f.MandateRef, "Creditor", f.CreditorID))
			}
		case payCheque:
			d.Text(loc.T("billing.documents.pay_cheque", "Seller", p.Seller.Name, "Number", number))
		default:
			if f.IBAN == "" {
				d.Text(loc.T("billing.documents.pay_transfer_ask", "Number", number))
				break
			}
			d.Text(loc.T("billing.documents.pay_transfer", "Number", number))
			d.Pair(loc.T("billing.documents.iban"), groupIBAN(f.IBAN))
			if f.BIC != "" {
				d.Pair(loc.T("billing.documents.bic"), f.BIC)
			}
		}
		d.Text(texts.Penalties + " " + texts.RecoveryFee + " " + texts.NoDiscount)
	}
	d.Space(1)
	d.Text(loc.T("billing.documents.e_invoice"))

	return d.ArchiveBytes(pdfdoc.Archive{Lang: f.Lang,
		Files: []pdfdoc.AttachedFile{{Name: facturXName, Desc: loc.T("billing.documents.xml_desc"), MIME: "text/xml", Relationship: "Data", Content: xml, Modified: created}},
		XMP:   facturXMP()})
}

// termsSentence is the rule the due day follows (B5, rule billing.payment_day).
func (m *Module) termsSentence(loc *locales.Localizer, f *docFigures) string {
	if f.CreditNote {
		return loc.T("billing.documents.credit_terms")
	}
	return loc.T("billing.documents.due_rule", "Day", f.PaymentDay)
}

// legalLabel names a register number by its length: a SIRET (14 digits), a SIREN (9), else
// a registration number.
func legalLabel(id string) string {
	switch len(digitsOnly(id)) {
	case 14:
		return "billing.documents.siret"
	case 9:
		return "billing.documents.siren"
	}
	return "billing.documents.registration"
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if r != ' ' && r != '\u00a0' {
			return ""
		}
	}
	return b.String()
}

// groupDigits writes a SIREN as "123 456 789" and a SIRET as "123 456 789 00011".
func groupDigits(id string) string {
	d := digitsOnly(id)
	switch len(d) {
	case 9:
		return d[:3] + " " + d[3:6] + " " + d[6:]
	case 14:
		return d[:3] + " " + d[3:6] + " " + d[6:9] + " " + d[9:]
	}
	return id
}

// groupIBAN writes an IBAN in groups of four, as printed.
func groupIBAN(iban string) string {
	s := strings.ReplaceAll(iban, " ", "")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
