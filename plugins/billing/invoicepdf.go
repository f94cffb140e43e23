package billing

import (
	"carenet.dev/platform/plugins/sdk"
)

// documentsPart: the invoice as a document — a PDF in the invoice's language that is also a
// Factur-X e-invoice (PDF/A-3 with its EN 16931 CII XML) — and its download. See billing.go.
// (Frame: this part is being built.)
func (m *Module) documentsPart() part { return part{} }

// invoiceDocument renders inv (with its Lines) and the parties it names as a Factur-X PDF in
// inv.Locale.
func (m *Module) invoiceDocument(t sdk.Tenant, inv *Invoice, p Parties) ([]byte, error) {
	return nil, errNotYet
}
