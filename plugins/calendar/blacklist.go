package calendar

import (
	"context"

	"carenet.dev/platform/plugins/sdk"
)

// blacklistGround is the ground on which a blacklist bars the patient (C12, C13). Not yet
// built.
func (m *Module) blacklistGround(ctx context.Context, t sdk.Tenant, doctorID, pesel string) (string, error) {
	return "", nil
}
