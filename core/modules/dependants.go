package modules

import (
	"context"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// Dependants gives a module the people a user represents (P2, issue 12.9), with the day each
// minor comes of age under the tenant's rule read now and whether the user represents him
// today. A signed-in caller reads his own, or, as staff (a role beyond the plain user's), those
// of an account he may act on (P3); a job, an event or an API client of the tenant reads any
// of its users'.
func (h *hostAPI) Dependants(ctx context.Context, sc host.Scope, userID string) ([]sdk.Dependant, error) {
	if sc.UserID != "" && sc.UserID != userID {
		roles, err := h.s.userRoles(ctx, sc.TenantID, sc.UserID)
		if err != nil {
			return nil, err
		}
		staff := false
		for _, r := range roles {
			staff = staff || r != authz.RoleUser
		}
		if !staff {
			return nil, ErrOutOfReach
		}
		if err := h.mayAct(ctx, sc, userID, ""); err != nil {
			return nil, err
		}
	}
	t, err := h.s.tenantOf(ctx, sc)
	if err != nil {
		return nil, err
	}
	list, err := h.s.Accounts.Dependants(ctx, sc.TenantID, userID)
	if err != nil {
		return nil, err
	}
	now := h.s.Accounts.Now()
	out := make([]sdk.Dependant, len(list))
	for i := range list {
		d := &list[i]
		out[i] = sdk.Dependant{ID: d.ID, FirstName: d.FirstName, LastName: d.LastName, BirthName: d.BirthName,
			BirthDate: d.BirthDate, NationalID: d.NationalID, Sex: d.Sex, Nationality: d.Nationality, Address: d.Address,
			Relationship: d.Relationship, LegalStatus: d.LegalStatus, ConsentAt: d.ConsentAt, Represented: d.Represented(t, now)}
		if d.LegalStatus == accounts.LegalMinor {
			out[i].OfAgeOn = d.OfAgeOn(t)
		}
	}
	return out, nil
}
