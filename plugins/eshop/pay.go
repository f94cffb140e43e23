package eshop

import (
	"context"
	"errors"

	"carenet.dev/platform/plugins/sdk"
)

// payPart: the payment gateways (payment/), the payment pages and notifications (E5), the
// confirmation e-mail and the invoices (E5, E14.d).
func (m *Module) payPart() part {
	return part{}
}

// Payment purposes: what a payment pays for.
const (
	purposeOrder   = "order"
	purposeVoucher = "voucher"
)

// startPayment opens a payment of amountMinor for purpose (purposeOrder, purposeVoucher) and
// its reference (the order's or the voucher purchase's id), by userID, and returns the
// address the customer's browser goes to: the gateway's page. TODO(pay part).
func (m *Module) startPayment(ctx context.Context, t sdk.Tenant, userID, purpose, refID string, amountMinor int64) (string, error) {
	return "", errors.New("eshop: startPayment not built")
}

// InvoiceLine is a line of an invoice: gross amount (VAT included) and the VAT rate (0:
// exempt).
type InvoiceLine struct {
	Name       string
	Quantity   int
	GrossMinor int64
	VATPercent int
}

// invoiceFor is what an invoice is issued for: a paid order or voucher purchase, its buyer
// and its lines.
type invoiceFor struct {
	Purpose, RefID, UserID  string
	BuyerName, BuyerAddress string
	Lines                   []InvoiceLine
}

// issueInvoice gives the paid thing its invoice, once (a second call returns the first): a
// number without gaps per tenant and year, and a PDF with the VAT breakdown (E5, E14.d).
// TODO(pay part).
func (m *Module) issueInvoice(ctx context.Context, t sdk.Tenant, in invoiceFor) (number string, pdf []byte, err error) {
	return "", nil, errors.New("eshop: issueInvoice not built")
}
