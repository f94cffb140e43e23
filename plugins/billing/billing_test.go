package billing

import (
	"testing"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/kittest"
)

// TestFrameHolds: every route of the manifest reaches its handler, and the host matches it
// the same way; the module's tables are reached only through a tenant scope; on PostgreSQL
// its runtime role sees no row of another tenant and cannot switch row-level security off;
// its pages answer in fr, pl and sk.
func TestFrameHolds(t *testing.T) {
	models := []any{(*Product)(nil), (*Tariff)(nil), (*Price)(nil), (*Subscription)(nil), (*SubscriptionOption)(nil), (*Specification)(nil),
		(*Usage)(nil), (*UsageCount)(nil), (*Invoice)(nil), (*InvoiceLine)(nil), (*Payment)(nil), (*FirstTariff)(nil)}
	kittest.Check(t, func() *kit.Module { return newModule().Module }, models...)
}
