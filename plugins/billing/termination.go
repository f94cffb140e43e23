package billing

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// endSubscription fixes the day sub ends (B6, B8): it is invoiced no further period starting
// on or after endsOn, becomes terminated on that day, and then gets its final invoice. reason
// is what ends it, in words of the module's messages ("termination.reason.client", …).
func (m *Module) endSubscription(ctx context.Context, t sdk.Tenant, sc *store.Scope, sub *Subscription, endsOn Date, reason string) error {
	return errNotYet
}
