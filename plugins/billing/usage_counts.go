package billing

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// usageCounts is the number of calls and SMS of subscription subID from the first day to the
// last (both included, days of the tenant's zone) (B3, B5). (Invoices part's stand-in until the
// usage part's is merged: the lead keeps one of the two.)
func (m *Module) usageCounts(ctx context.Context, sc *store.Scope, t sdk.Tenant, subID string, first, last Date) (calls, sms int64, err error) {
	got, err := usageCountsMany(ctx, sc, t, []string{subID}, first, last)
	if err != nil {
		return 0, 0, err
	}
	c := got[subID]
	return c[0], c[1], nil
}
