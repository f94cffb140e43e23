package billing

import (
	"context"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

// demoPart: see billing.go. (Frame: this part is being built.)
func (m *Module) demoPart() part { return part{} }

// seedDemo fills a tenant that enabled the module in demo mode (B, demo).
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) error {
	return nil
}
