package eshop

import (
	"context"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

// seedDemo fills the demo tenant (issue 14.10). TODO(people part).
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) error {
	return nil
}
