package calendar

import (
	"context"

	"carenet.dev/platform/plugins/sdk"
)

// The booking paths call these at fixed points; each is the business of one part of the
// module (messages, blacklists, the waitlist), which replaces the hook's body in its own
// file. Each hook is called outside the booking's transaction, once the booking is stored.

// booked is called once a booking is confirmed (signed in, by the e-mail link of an
// anonymous booking, or a slot claimed from the waitlist): the confirmation message (C7).
func (m *Module) booked(ctx context.Context, t sdk.Tenant, b *Booking) error {
	return m.notifyBooked(ctx, t, b)
}

// barred says why the patient with this PESEL may not book with the doctor — a message id
// naming the ground, in the patient's words (C12, C13) — or "" when he may.
func (m *Module) barred(ctx context.Context, t sdk.Tenant, doctorID, pesel string) (string, error) {
	return m.blacklistGround(ctx, t, doctorID, pesel)
}

// freed is called when a patient's cancellation or an expired hold freed b's time (never
// a doctor's cancellation): the waitlist offers it.
func (m *Module) freed(ctx context.Context, t sdk.Tenant, b *Booking) error {
	return m.offerFreed(ctx, t, b)
}
