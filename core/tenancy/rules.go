package tenancy

import (
	"fmt"
	"math"
	"sort"
)

// RuleType is the type of a rule's value.
type RuleType string

const (
	RuleInt  RuleType = "int"
	RuleBool RuleType = "bool"
)

// RuleSpec declares one configurable rule: its name, type, default and bounds. The default
// is the value REQUIREMENTS.md gives; a tenant's tenant.toml or its admin may change it.
type RuleSpec struct {
	Name    string
	Type    RuleType
	Default any
	Min     int64
	Max     int64
	// Ref cites the requirement the default comes from.
	Ref string
}

// CoreRules are the rules of the core (accounts and security), shared by every tenant.
var CoreRules = []RuleSpec{
	{Name: "account.min_age", Type: RuleInt, Default: int64(18), Min: 0, Max: 120, Ref: "P2"},
	{Name: "account.verification_hours", Type: RuleInt, Default: int64(24), Min: 1, Max: 24 * 30, Ref: "P2"},
	{Name: "account.reset_link_minutes", Type: RuleInt, Default: int64(60), Min: 5, Max: 24 * 60, Ref: "P2"},
	{Name: "account.session_days", Type: RuleInt, Default: int64(14), Min: 1, Max: 365, Ref: "P2"},
	{Name: "account.inactive_close_days", Type: RuleInt, Default: int64(0), Min: 0, Max: 3650, Ref: "P2"},
	{Name: "security.rate_window_minutes", Type: RuleInt, Default: int64(15), Min: 1, Max: 24 * 60, Ref: "P2"},
	{Name: "security.login_per_ip", Type: RuleInt, Default: int64(30), Min: 1, Max: 100000, Ref: "P2"},
	{Name: "security.login_per_account", Type: RuleInt, Default: int64(8), Min: 1, Max: 100000, Ref: "P2"},
	{Name: "security.registration_per_ip", Type: RuleInt, Default: int64(10), Min: 1, Max: 100000, Ref: "P2"},
	{Name: "security.reset_per_ip", Type: RuleInt, Default: int64(10), Min: 1, Max: 100000, Ref: "P2"},
}

func coreRule(name string) (RuleSpec, bool) {
	for _, r := range CoreRules {
		if r.Name == name {
			return r, true
		}
	}
	return RuleSpec{}, false
}

// ValidateRules checks values against specs: unknown names, wrong types and values out of
// bounds are errors. It returns the values normalised (ints as int64).
func ValidateRules(specs []RuleSpec, values map[string]any) (map[string]any, error) {
	out := map[string]any{}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		var spec *RuleSpec
		for i := range specs {
			if specs[i].Name == name {
				spec = &specs[i]
			}
		}
		if spec == nil {
			return nil, fmt.Errorf("rule %q: unknown rule", name)
		}
		v, err := spec.Normalize(values[name])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// Normalize converts a value read from TOML, JSON or a form to the rule's type and checks
// its bounds.
func (r RuleSpec) Normalize(v any) (any, error) {
	switch r.Type {
	case RuleInt:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("rule %q: %v is not a whole number", r.Name, v)
			}
			n = int64(x)
		default:
			return nil, fmt.Errorf("rule %q: %v is not a whole number", r.Name, v)
		}
		if n < r.Min || n > r.Max {
			return nil, fmt.Errorf("rule %q: %d is outside %d–%d", r.Name, n, r.Min, r.Max)
		}
		return n, nil
	case RuleBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("rule %q: %v is not true or false", r.Name, v)
		}
		return b, nil
	}
	return nil, fmt.Errorf("rule %q: unknown type %q", r.Name, r.Type)
}

// IntRule returns the tenant's value of a core integer rule, or its declared default.
func (t *Tenant) IntRule(name string) int64 {
	spec, ok := coreRule(name)
	if !ok {
		panic("tenancy: undeclared core rule " + name) // a programming error, never input
	}
	if v, ok := t.Settings.Rules[name]; ok {
		if n, err := spec.Normalize(v); err == nil {
			return n.(int64)
		}
	}
	return spec.Default.(int64)
}
