package calendar

import (
	"context"

	"carenet.dev/platform/plugins/sdk"
)

// offerFreed offers a freed slot to the waitlist. Not yet built.
func (m *Module) offerFreed(ctx context.Context, t sdk.Tenant, b *Booking) error { return nil }
