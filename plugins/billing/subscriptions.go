package billing

import (
	"context"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// subscriptionsPart: the catalog's subscriptions, their specifications, the client's login
// and signature, and the client portal (B1, B2, B12). See billing.go. (Frame: being built.)
func (m *Module) subscriptionsPart() part { return part{} }

// ownSubscription is the subscription of the signed-in client that his portal shows: the one
// the query's "s" names among his, else his latest that is not terminated, else his latest.
// It is nil when he has none.
func (m *Module) ownSubscription(ctx context.Context, c *kit.Ctx, sc *store.Scope) (*Subscription, error) {
	var subs []Subscription
	if err := sc.Select(&subs).Where("sub.user_id = ?", c.User().ID).OrderExpr("sub.created_at DESC").Scan(ctx); err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, nil
	}
	if want := c.Query("s"); want != "" {
		for i := range subs {
			if subs[i].ID == want {
				return &subs[i], nil
			}
		}
	}
	for i := range subs {
		if subs[i].State != subTerminated {
			return &subs[i], nil
		}
	}
	return &subs[0], nil
}
