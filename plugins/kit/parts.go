package kit

import (
	"context"
	"html/template"

	"carenet.dev/platform/plugins/sdk"
)

// Part is what one part of a module declares — its own routes, rules, jobs, messages, audit
// actions, registration fields and template functions — when the module is assembled from
// parts, each in its own files (the e-shop, the billing). WithParts adds them to the module's
// Spec.
type Part struct {
	Routes             []Route
	Rules              []Rule
	Jobs               []Job
	Notifications      []string
	AuditActions       []string
	RegistrationFields []sdk.Field
	Funcs              template.FuncMap
	// Forget runs when an account is deleted (P11); Export adds what the part holds of a user
	// under its own keys.
	Forget func(ctx context.Context, t sdk.Tenant, userID string) error
	Export func(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error)
}

// WithParts returns spec with the parts' declarations added, in order. Its OnUserDeleted runs
// the parts' Forget the later parts first (they find what they keep through the earlier parts'
// records before those let the account go), after the spec's own; its Export gathers the
// parts' Export beside the spec's own.
func WithParts(spec Spec, parts ...Part) Spec {
	if spec.Funcs == nil {
		spec.Funcs = template.FuncMap{}
	}
	for _, p := range parts {
		spec.Routes = append(spec.Routes, p.Routes...)
		spec.Rules = append(spec.Rules, p.Rules...)
		spec.Jobs = append(spec.Jobs, p.Jobs...)
		spec.Notifications = append(spec.Notifications, p.Notifications...)
		spec.AuditActions = append(spec.AuditActions, p.AuditActions...)
		spec.RegistrationFields = append(spec.RegistrationFields, p.RegistrationFields...)
		for k, f := range p.Funcs {
			spec.Funcs[k] = f
		}
	}
	own, ownExport := spec.OnUserDeleted, spec.Export
	spec.OnUserDeleted = func(ctx context.Context, t sdk.Tenant, userID string) error {
		if own != nil {
			if err := own(ctx, t, userID); err != nil {
				return err
			}
		}
		for i := len(parts) - 1; i >= 0; i-- {
			if f := parts[i].Forget; f != nil {
				if err := f(ctx, t, userID); err != nil {
					return err
				}
			}
		}
		return nil
	}
	spec.Export = func(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
		out := map[string]any{}
		if ownExport != nil {
			got, err := ownExport(ctx, t, userID)
			if err != nil {
				return nil, err
			}
			for k, v := range got {
				out[k] = v
			}
		}
		for _, p := range parts {
			if p.Export == nil {
				continue
			}
			got, err := p.Export(ctx, t, userID)
			if err != nil {
				return nil, err
			}
			for k, v := range got {
				out[k] = v
			}
		}
		return out, nil
	}
	return spec
}
