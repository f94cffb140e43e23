package calendar

import (
	"context"

	"carenet.dev/platform/plugins/sdk"
)

// notifyBooked sends the booking's confirmation (C7). Not yet built.
func (m *Module) notifyBooked(ctx context.Context, t sdk.Tenant, b *Booking) error { return nil }
