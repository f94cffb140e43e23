package calendar

import (
	"context"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
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

// barredSeen is barred as the person at the form may read it (C12, C13): the ground itself
// only to the patient, signed in and booking for himself under his account's own number (or
// a number he declares his own when his account has none); anyone else — a visitor without
// an account, someone booking for another person — reads only that the booking is not
// possible, so that nobody learns a stranger's blacklisting by typing his number.
func (m *Module) barredSeen(c *kit.Ctx, doctorID, number string, self bool) (string, error) {
	ground, err := m.barred(c.Context(), c.Tenant(), doctorID, number)
	if err != nil || ground == "" {
		return ground, err
	}
	if u := c.User(); u != nil && self {
		if own := natid.Normalize(u.Profile["pesel"]); own == "" || own == number {
			return ground, nil
		}
	}
	return "calendar.barred.undisclosed", nil
}

// freed is called when a patient's cancellation or an expired hold freed b's time (never
// a doctor's cancellation): the waitlist offers it.
func (m *Module) freed(ctx context.Context, t sdk.Tenant, b *Booking) error {
	return m.offerFreed(ctx, t, b)
}
