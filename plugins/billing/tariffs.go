package billing

import (
	"context"
	"database/sql"
	"errors"

	"carenet.dev/platform/plugins/kit/store"
)

// contractPart: tariff changes (B4), termination (B8) and the liability cap (B7). See
// billing.go. (Frame: this part is being built.)
func (m *Module) contractPart() part { return part{} }

// errNoTariff: the tenant has no tariff in force on the day asked.
var errNoTariff = errors.New("billing: no tariff in force")

// tariffAt returns the tariff that prices sub's invoice dated d (B4: each invoice uses the
// tariff in force on its date) and its prices by product id: the latest announced or
// in-force tariff whose effective day is on or before d.
func (m *Module) tariffAt(ctx context.Context, sc *store.Scope, sub *Subscription, d Date) (*Tariff, map[string]Price, error) {
	var tar Tariff
	err := sc.Select(&tar).Where("tar.state IN (?, ?)", tariffAnnounced, tariffInForce).Where("tar.effective_on <= ?", d.String()).
		OrderExpr("tar.effective_on DESC, tar.created_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNoTariff
	}
	if err != nil {
		return nil, nil, err
	}
	var prices []Price
	if err := sc.Select(&prices).Where("price.tariff_id = ?", tar.ID).Scan(ctx); err != nil {
		return nil, nil, err
	}
	out := make(map[string]Price, len(prices))
	for _, p := range prices {
		out[p.ProductID] = p
	}
	return &tar, out, nil
}
