package eshop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/mdtext"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// InvoiceLine is a line of an invoice: gross amount (VAT included) and the VAT rate (0:
// exempt). NotSubject: outside the scope of VAT (a value voucher's sale: a multi-purpose
// voucher, whose VAT is due on the tests it pays). VoucherPaid: paid by a test voucher
// (a single-purpose voucher, whose VAT was invoiced at its sale): shown as paid by voucher,
// without VAT charged again, and outside this invoice's total (E14).
type InvoiceLine struct {
	Name        string
	Quantity    int
	GrossMinor  int64
	VATPercent  int
	NotSubject  bool
	VoucherPaid bool
}

// notSubjectRate is the breakdown's key of the lines outside the scope of VAT.
const notSubjectRate = -1

// rateKey is the line's row in the VAT breakdown.
func (l InvoiceLine) rateKey() int {
	if l.NotSubject {
		return notSubjectRate
	}
	return l.VATPercent
}

// invoiceTotal is what an invoice charges: its lines but those a test voucher paid.
func invoiceTotal(lines []InvoiceLine) int64 {
	var total int64
	for _, l := range lines {
		if !l.VoucherPaid {
			total += l.GrossMinor * int64(max(l.Quantity, 1))
		}
	}
	return total
}

// invoiceFor is what an invoice is issued for: a paid order or voucher purchase, its buyer
// and its lines. Locale is the language it is printed in (the order's; "" the tenant's),
// Reference what the customer quotes (the order's number), VoucherMinor what vouchers paid
// of it (E14: value vouchers, a means of payment — the lines keep their VAT; what test
// vouchers paid is on lines of their own, VoucherPaid), PaidAt when it was paid (the date of
// the taxable supply).
type invoiceFor struct {
	Purpose, RefID, UserID  string
	BuyerName, BuyerAddress string
	Lines                   []InvoiceLine

	Locale, Reference string
	VoucherMinor      int64
	PaidAt            time.Time
}

// Invoice is an issued invoice (E5, E14.d): its number is the year and its place in the
// year's sequence, without gaps per tenant and year; the PDF is kept with it, issued once.
type Invoice struct {
	bun.BaseModel `bun:"table:eshop_invoices,alias:inv"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	Number     string    `bun:"number"`
	Year       int       `bun:"year"`
	Seq        int64     `bun:"seq"`
	Purpose    string    `bun:"purpose"`
	RefID      string    `bun:"ref_id"`
	UserID     string    `bun:"user_id"`
	Locale     string    `bun:"locale"`
	Currency   string    `bun:"currency"`
	TotalMinor int64     `bun:"total_minor"`
	PDF        []byte    `bun:"pdf"`
	IssuedAt   time.Time `bun:"issued_at"`
}

// InvoiceCounter is the last number given in a tenant's year.
type InvoiceCounter struct {
	bun.BaseModel `bun:"table:eshop_invoice_counters,alias:ictr"`

	TenantID string `bun:"tenant_id,pk"`
	Year     int    `bun:"year,pk"`
	Last     int64  `bun:"last"`
}

// invoicePath is where the customer downloads an invoice (the orders part links to it).
func invoicePath(id string) string { return "/eshop/invoices/" + id + ".pdf" }

// issueInvoice gives the paid thing its invoice, once (a second call returns the first): a
// number without gaps per tenant and year, and a PDF with the VAT breakdown (E5, E14.d).
// The year's counter is incremented by a guarded update in the same transaction as the
// invoice's row, so that a number is taken only by an invoice that is kept: two issues at
// once for the same thing give one invoice, and the loser's number goes back.
func (m *Module) issueInvoice(ctx context.Context, t sdk.Tenant, in invoiceFor) (number string, pdf []byte, err error) {
	if inv, err := m.invoiceOf(ctx, t, in.Purpose, in.RefID); err == nil {
		return inv.Number, inv.PDF, nil
	}
	if len(in.Lines) == 0 {
		return "", nil, errors.New("eshop: an invoice without lines")
	}
	now := m.now()
	zone := view.Zone(t.TimeZone)
	year := now.In(zone).Year()
	lang := in.Locale
	if !locales.IsSupported(lang) {
		lang = t.Locale
	}
	total := invoiceTotal(in.Lines)
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(&InvoiceCounter{TenantID: sc.TenantID, Year: year}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Update((*InvoiceCounter)(nil)).Set("last = last + 1").Where("year = ?", year).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("eshop: invoice counter of %d not found", year)
		}
		var ctr InvoiceCounter
		if err := sc.Select(&ctr).Where("year = ?", year).Scan(ctx); err != nil {
			return err
		}
		number = fmt.Sprintf("%d%06d", year, ctr.Last)
		pdf, err = m.invoicePDF(t, lang, in, number, now)
		if err != nil {
			return err
		}
		_, err = sc.Insert(&Invoice{TenantID: sc.TenantID, ID: newID(), Number: number, Year: year, Seq: ctr.Last, Purpose: in.Purpose,
			RefID: in.RefID, UserID: in.UserID, Locale: lang, Currency: t.Currency, TotalMinor: total, PDF: pdf, IssuedAt: now}).Exec(ctx)
		return err
	})
	if err != nil {
		// Another issue of the same thing won: its invoice is the one.
		if inv, rerr := m.invoiceOf(ctx, t, in.Purpose, in.RefID); rerr == nil {
			return inv.Number, inv.PDF, nil
		}
		return "", nil, err
	}
	return number, pdf, nil
}

// invoiceOf is the invoice issued for purpose and refID.
func (m *Module) invoiceOf(ctx context.Context, t sdk.Tenant, purpose, refID string) (*Invoice, error) {
	var inv Invoice
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&inv).Where("purpose = ? AND ref_id = ?", purpose, refID).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &inv, nil
}

// vatRow is one rate of an invoice's VAT breakdown.
type vatRow struct {
	pct               int
	gross, vat, based int64
}

// vatBreakdown sums the lines per VAT rate: the gross, the VAT it includes (rounded per
// rate) and the base; the rates in increasing order (outside the scope of VAT, then exempt
// first). Lines a test voucher paid are not in it: their VAT was invoiced at its sale.
func vatBreakdown(lines []InvoiceLine) []vatRow {
	by := map[int]*vatRow{}
	for _, l := range lines {
		if l.VoucherPaid {
			continue
		}
		k := l.rateKey()
		r := by[k]
		if r == nil {
			r = &vatRow{pct: k}
			by[k] = r
		}
		r.gross += l.GrossMinor * int64(max(l.Quantity, 1))
	}
	out := make([]vatRow, 0, len(by))
	for _, r := range by {
		r.vat = vatIn(r.gross, max(r.pct, 0))
		r.based = r.gross - r.vat
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pct < out[j].pct })
	return out
}

// invoicePDF prints an invoice in lang: the seller (the tenant's legal block), the buyer,
// the lines (each test or package and its handling fee on lines of their own), the VAT
// breakdown per rate (exempt lines stated as exempt), the totals and the vouchers applied.
func (m *Module) invoicePDF(t sdk.Tenant, lang string, in invoiceFor, number string, issued time.Time) ([]byte, error) {
	loc := m.Msgs.For(lang)
	zone := view.Zone(t.TimeZone)
	money := func(minor int64) string { return locales.FormatMoney(lang, minor, t.Currency) }
	rate := func(pct int) string {
		switch pct {
		case notSubjectRate:
			return loc.T("eshop.pay.invoice.not_subject")
		case 0:
			return loc.T("eshop.pay.invoice.exempt")
		}
		return loc.T("eshop.pay.invoice.rate", "Percent", pct)
	}
	seller := orTenant(t, sellerName.Of(t), "tenant.legal.company")
	if seller == "" {
		seller = t.Name
	}
	d := pdfdoc.New(loc.T("eshop.pay.invoice.title", "Number", number), seller, issued)
	d.Heading(loc.T("eshop.pay.invoice.title", "Number", number), 15)
	d.Pair(loc.T("eshop.pay.invoice.issued"), locales.FormatDate(lang, issued, zone))
	paid := in.PaidAt
	if paid.IsZero() {
		paid = issued
	}
	d.Pair(loc.T("eshop.pay.invoice.supplied"), locales.FormatDate(lang, paid, zone))
	if in.Reference != "" {
		d.Pair(loc.T("eshop.pay.invoice.reference"), in.Reference)
	}
	d.Heading(loc.T("eshop.pay.invoice.seller"), 11)
	d.Text(seller)
	for _, s := range []struct{ label, v string }{{"", orTenant(t, sellerAddress.Of(t), "tenant.legal.address")},
		{"eshop.pay.invoice.registration", orTenant(t, sellerRegistration.Of(t), "tenant.legal.registration")},
		{"eshop.pay.invoice.vat_id", orTenant(t, sellerVATID.Of(t), "tenant.legal.vat_id")}} {
		if s.v == "" {
			continue
		}
		if s.label == "" {
			d.Text(s.v)
		} else {
			d.Pair(loc.T(s.label), s.v)
		}
	}
	d.Heading(loc.T("eshop.pay.invoice.buyer"), 11)
	d.Text(strings.TrimSpace(in.BuyerName + "\n" + in.BuyerAddress))

	var rows [][]string
	var voucherPaid int64
	notSubject := false
	for _, l := range in.Lines {
		q := max(l.Quantity, 1)
		r := rate(l.rateKey())
		if l.VoucherPaid {
			r = loc.T("eshop.pay.invoice.voucher_paid")
			voucherPaid += l.GrossMinor * int64(q)
		}
		notSubject = notSubject || l.NotSubject
		rows = append(rows, []string{l.Name, locales.FormatInt(lang, int64(q)), r, money(l.GrossMinor * int64(q))})
	}
	total := invoiceTotal(in.Lines)
	d.Table([]string{loc.T("eshop.pay.invoice.item"), loc.T("eshop.pay.invoice.quantity"), loc.T("eshop.pay.invoice.vat_rate"), loc.T("eshop.pay.invoice.amount")},
		rows, []float64{80, 14, 46, 34}, false)

	var vrows [][]string
	for _, r := range vatBreakdown(in.Lines) {
		vat := money(r.vat)
		if r.pct <= 0 {
			vat = rate(r.pct)
		}
		vrows = append(vrows, []string{rate(r.pct), money(r.based), vat, money(r.gross)})
	}
	if len(vrows) > 0 {
		d.Heading(loc.T("eshop.pay.invoice.vat_breakdown"), 11)
		d.Table([]string{loc.T("eshop.pay.invoice.vat_rate"), loc.T("eshop.pay.invoice.base"), loc.T("eshop.pay.invoice.vat"), loc.T("eshop.pay.invoice.gross")},
			vrows, []float64{50, 42, 40, 42}, false)
	}

	if voucherPaid > 0 {
		d.Pair(loc.T("eshop.pay.invoice.voucher_paid_total"), money(voucherPaid))
		d.Text(loc.T("eshop.pay.invoice.voucher_paid_note"))
	}
	if notSubject {
		d.Text(loc.T("eshop.pay.invoice.not_subject_note"))
	}
	d.Pair(loc.T("eshop.pay.invoice.total"), money(total))
	if in.VoucherMinor > 0 {
		d.Pair(loc.T("eshop.pay.invoice.vouchers"), money(-in.VoucherMinor))
	}
	if online := total - in.VoucherMinor; online > 0 || (in.VoucherMinor == 0 && voucherPaid == 0) {
		d.Pair(loc.T("eshop.pay.invoice.paid_online"), money(online))
	}
	d.Text(loc.T("eshop.pay.invoice.paid_note"))
	return d.Bytes()
}

// invoiceDownload gives the signed-in customer one of his invoices
// (GET /eshop/invoices/{id}.pdf); another's is not found.
func (m *Module) invoiceDownload(c *kit.Ctx) error {
	id, ok := strings.CutSuffix(c.Param("id"), ".pdf")
	u := c.User()
	if !ok || u == nil {
		return kit.ErrNotFound
	}
	var inv Invoice
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&inv).Where("id = ? AND user_id = ?", id, u.ID).Scan(ctx)
	})
	if err != nil {
		return kit.ErrNotFound
	}
	c.W.Header().Set("Content-Type", "application/pdf")
	c.W.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.pdf"`, inv.Number))
	c.W.Header().Set("Cache-Control", "private, no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(inv.PDF)
	return err
}

// orderInvoice is what an order's invoice is issued for: each test or package and its
// handling fee as lines of their own, at the prices of the order (E6). The lines of
// byTestVoucher (the order's line ids a test voucher paid) are shown as paid by voucher and
// charge no VAT again (it was invoiced at the voucher's sale); what value vouchers paid
// stays a means of payment under the total (E14).
func orderInvoice(loc *locales.Localizer, o *Order, items []OrderItem, byTestVoucher map[string]bool) invoiceFor {
	in := invoiceFor{Purpose: purposeOrder, RefID: o.ID, UserID: o.UserID, Locale: o.Locale, Reference: o.Number, VoucherMinor: o.VoucherMinor}
	in.BuyerName, in.BuyerAddress = o.BuyerName, o.Address
	if o.BillingName != "" {
		in.BuyerName, in.BuyerAddress = o.BillingName, o.BillingAddress
	}
	if !o.PaidAt.IsZero() {
		in.PaidAt = o.PaidAt.Time
	}
	for _, it := range items {
		name := it.Name
		if it.PersonName != "" {
			name += " (" + it.PersonName + ")"
		}
		paid := byTestVoucher[it.ID]
		if paid {
			in.VoucherMinor -= it.PriceMinor + it.FeeMinor
		}
		in.Lines = append(in.Lines, InvoiceLine{Name: name, Quantity: 1, GrossMinor: it.PriceMinor, VATPercent: it.VATPercent, VoucherPaid: paid})
		if it.FeeMinor > 0 {
			in.Lines = append(in.Lines, InvoiceLine{Name: loc.T("eshop.pay.invoice.fee", "Item", it.Name), Quantity: 1, GrossMinor: it.FeeMinor, VATPercent: it.FeeVATPercent, VoucherPaid: paid})
		}
	}
	in.VoucherMinor = max(in.VoucherMinor, 0)
	return in
}

// testVoucherLines are the lines of order orderID a test voucher paid (its ledger's spending
// names the line).
func testVoucherLines(ctx context.Context, sc *store.Scope, orderID string) (map[string]bool, error) {
	var ids []string
	err := sc.Select((*VoucherEntry)(nil)).Column("vl.order_item_id").
		Where("vl.order_id = ? AND vl.kind = ? AND vl.order_item_id <> ''", orderID, entrySpend).
		Where("EXISTS (SELECT 1 FROM eshop_vouchers AS v WHERE v.tenant_id = vl.tenant_id AND v.id = vl.voucher_id AND v.kind = ?)", voucherTest).
		Scan(ctx, &ids)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// confirmOrder sends a paid order's confirmation (E5): its items, the people, the slots and
// collection points (address, floor, room), the terms in force, the informed-consent texts
// and the preparation instructions, with the invoice PDF attached.
func (m *Module) confirmOrder(ctx context.Context, t sdk.Tenant, orderID string) error {
	var o Order
	var items []OrderItem
	var points []Point
	var byTestVoucher map[string]bool
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&o).Where("id = ?", orderID).Scan(ctx); err != nil {
			return err
		}
		var err error
		if byTestVoucher, err = testVoucherLines(ctx, sc, orderID); err != nil {
			return err
		}
		if err := sc.Select(&items).Where("order_id = ?", orderID).Order("starts_at", "id").Scan(ctx); err != nil {
			return err
		}
		ids := []string{}
		for _, it := range items {
			ids = append(ids, it.PointID)
		}
		if len(ids) == 0 {
			return nil
		}
		return sc.Select(&points).Where("id IN (?)", bun.In(ids)).Scan(ctx)
	})
	if err != nil {
		return err
	}
	lang := o.Locale
	if !locales.IsSupported(lang) {
		lang = t.Locale
	}
	loc := m.Msgs.For(lang)
	number, pdf, err := m.issueInvoice(ctx, t, orderInvoice(loc, &o, items, byTestVoucher))
	if err != nil {
		return err
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return errors.New("eshop: confirmation outside a host call")
	}
	// The terms in force go with the confirmation, in full, as a PDF (E5: on a durable
	// medium); when the host cannot give them now, the confirmation waits for a retry
	// rather than go without them.
	tv, err := h.Terms(ctx, "", "")
	if err != nil {
		return fmt.Errorf("eshop: the terms in force for order %s: %w", o.Number, err)
	}
	if tv.VersionID != o.TermsVersion {
		m.Log.Warn("eshop: the terms in force changed since the order was submitted", "order", o.ID, "accepted", o.TermsVersion, "in_force", tv.VersionID)
	}
	termsPDF, err := termsDocument(t, lang, loc, tv)
	if err != nil {
		return err
	}
	data := m.confirmationData(ctx, h, t, lang, &o, items, points)
	data["Invoice"] = number
	attachments := []sdk.Blob{{Name: loc.T("eshop.pay.invoice.file", "Number", number), ContentType: "application/pdf", Data: pdf}}
	if termsPDF != nil {
		file := loc.T("eshop.pay.mail.terms_file", "Version", tv.Version)
		attachments = append(attachments, sdk.Blob{Name: file, ContentType: "application/pdf", Data: termsPDF})
		data["Terms"] = loc.T("eshop.pay.mail.terms_attached", "Title", data["TermsTitle"], "Version", tv.Version,
			"Effective", locales.FormatDate(lang, tv.Effective, view.Zone(t.TimeZone)), "File", file)
	}
	delete(data, "TermsTitle")
	_, err = h.Send(ctx, sdk.Message{UserID: o.UserID, To: recipientTo(&o), Template: tmplOrderPaid, Data: data,
		Link: "/eshop/orders/" + o.ID, Attachments: attachments})
	return err
}

// termsBody is the terms' full text (Markdown) in lang, else in the tenant's language, else
// in the first language it is written in; "" when the host gave none.
func termsBody(t sdk.Tenant, lang string, tv *sdk.Terms) string {
	for _, l := range []string{lang, t.Locale} {
		if b := strings.TrimSpace(tv.Bodies[l]); b != "" {
			return b
		}
	}
	ls := make([]string, 0, len(tv.Bodies))
	for l := range tv.Bodies {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	for _, l := range ls {
		if b := strings.TrimSpace(tv.Bodies[l]); b != "" {
			return b
		}
	}
	return ""
}

// termsDocument is the terms in force as a PDF in lang (E5): the title (the text's own first
// heading, else the version's title), the version and the date it is in force from, then the
// text's headings, paragraphs and list items. nil when the host gave no text.
func termsDocument(t sdk.Tenant, lang string, loc *locales.Localizer, tv *sdk.Terms) ([]byte, error) {
	body := termsBody(t, lang, tv)
	if body == "" {
		return nil, nil
	}
	blocks := mdtext.Blocks(body)
	title := tv.Title
	if len(blocks) > 0 && blocks[0].Heading == 1 {
		title, blocks = blocks[0].Text, blocks[1:]
	}
	d := pdfdoc.New(title, t.Name, tv.Effective)
	d.Heading(title, 16)
	d.Text(loc.T("eshop.pay.terms_pdf.version", "Version", tv.Version, "Effective", locales.FormatDate(lang, tv.Effective, view.Zone(t.TimeZone))))
	for _, b := range blocks {
		switch {
		case b.Heading > 0:
			d.Heading(b.Text, max(11, 15-2*float64(b.Heading-1)))
		case b.Marker != "":
			d.Text(b.Marker + " " + b.Text)
		default:
			d.Text(b.Text)
		}
	}
	out, err := d.Bytes()
	if err != nil {
		return nil, fmt.Errorf("eshop: terms pdf: %w", err)
	}
	return out, nil
}

// recipientTo is the order's e-mail when it has no account to send to.
func recipientTo(o *Order) string {
	if o.UserID == "" {
		return o.Email
	}
	return ""
}

// confirmationData is the confirmation e-mail's text blocks, in lang.
func (m *Module) confirmationData(ctx context.Context, h *sdk.Host, t sdk.Tenant, lang string, o *Order, items []OrderItem, points []Point) map[string]any {
	loc := m.Msgs.For(lang)
	zone := view.Zone(t.TimeZone)
	byID := map[string]*Point{}
	for i := range points {
		byID[points[i].ID] = &points[i]
	}
	var lines, places, consents, preparations []string
	seenPlace, seenConsent, seenPrep := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, it := range items {
		p := byID[it.PointID]
		pointName := ""
		if p != nil {
			pointName = p.Name
		}
		lines = append(lines, loc.T("eshop.pay.mail.item", "Item", it.Name, "Person", it.PersonName,
			"When", locales.FormatDateTime(lang, it.StartsAt, zone), "Point", pointName,
			"Price", locales.FormatMoney(lang, it.PriceMinor+it.FeeMinor, o.Currency)))
		if p != nil && !seenPlace[p.ID] {
			seenPlace[p.ID] = true
			place := p.Name + ", " + p.Street + ", " + p.Postcode + " " + p.Town
			if p.Building != "" {
				place += ", " + placePart(loc, "eshop.pay.mail.building", "Building", p.Building)
			}
			if p.Floor != "" {
				place += ", " + placePart(loc, "eshop.pay.mail.floor", "Floor", p.Floor)
			}
			if p.Room != "" {
				place += ", " + placePart(loc, "eshop.pay.mail.room", "Room", p.Room)
			}
			if p.Directions != "" {
				place += "\n" + p.Directions
			}
			places = append(places, place)
		}
		if it.ConsentText != "" && !seenConsent[it.ConsentText] {
			seenConsent[it.ConsentText] = true
			consents = append(consents, it.Name+": "+it.ConsentText)
		}
		if it.Preparation != "" && !seenPrep[it.Name] {
			seenPrep[it.Name] = true
			preparations = append(preparations, it.Name+": "+it.Preparation)
		}
	}
	terms, termsTitle := "", ""
	if tv, err := h.Terms(ctx, "", ""); err == nil && tv != nil {
		termsTitle = tv.Title
		if bs := mdtext.Blocks(termsBody(t, lang, tv)); len(bs) > 0 && bs[0].Heading == 1 {
			termsTitle = bs[0].Text // the title in the order's language
		}
		terms = loc.T("eshop.pay.mail.terms", "Title", termsTitle, "Version", tv.Version, "Effective", locales.FormatDate(lang, tv.Effective, zone))
	}
	none := loc.T("eshop.pay.mail.none")
	join := func(xs []string) string {
		if len(xs) == 0 {
			return none
		}
		return strings.Join(xs, "\n")
	}
	return map[string]any{
		"Tenant": t.Name, "Number": o.Number, "Buyer": o.BuyerName,
		"Items": join(lines), "Points": join(places), "Consents": join(consents), "Preparation": join(preparations),
		"Terms": terms, "TermsTitle": termsTitle,
		"Total": locales.FormatMoney(lang, o.TotalMinor, o.Currency), "Payment": paymentLine(loc, lang, o),
	}
}

// paymentLine is how the order was paid, naming only the means that paid a part: vouchers
// and the gateway, vouchers alone, or the gateway alone.
func paymentLine(loc *locales.Localizer, lang string, o *Order) string {
	vouchers, paid := locales.FormatMoney(lang, o.VoucherMinor, o.Currency), locales.FormatMoney(lang, o.DueMinor, o.Currency)
	switch {
	case o.VoucherMinor > 0 && o.DueMinor > 0:
		return loc.T("eshop.pay.mail.paid_both", "Vouchers", vouchers, "Paid", paid)
	case o.VoucherMinor > 0:
		return loc.T("eshop.pay.mail.paid_vouchers", "Vouchers", vouchers)
	}
	return loc.T("eshop.pay.mail.paid_gateway", "Paid", paid)
}

// placePart is a point's building, floor or room as the confirmation names it: a bare
// number or mark ("2", "B", "12a", "-1") with its label ("poschodie 2"), words the operator wrote
// ("1. poschodie", "prízemie") as they are, not doubled with the label.
func placePart(loc *locales.Localizer, key, name, value string) string {
	value = strings.TrimSpace(value)
	bare, letters := utf8.RuneCountInString(value) <= 4, 0
	for _, r := range value {
		if unicode.IsLetter(r) {
			letters++
		}
		bare = bare && (unicode.IsDigit(r) || unicode.IsLetter(r) || r == '-') && letters <= 1
	}
	if !bare {
		return value
	}
	return loc.T(key, name, value)
}
