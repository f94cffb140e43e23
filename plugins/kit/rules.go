package kit

import (
	"math"
	"strconv"

	"carenet.dev/platform/plugins/sdk"
)

// Rule is a typed rule of a module: declared once, with its default and bounds (the values
// REQUIREMENTS.md gives, which each tenant may change), it gives the manifest its entry and
// reads the tenant's value at run time.
type Rule interface {
	Rule() sdk.Rule
}

// IntRule is a whole-number rule (hours, days, percentages, amounts in minor units).
type IntRule struct{ r sdk.Rule }

// Int declares a whole-number rule with its default, bounds and the requirement it comes
// from.
func Int(name string, def, min, max int64, ref string) IntRule {
	return IntRule{sdk.Rule{Name: name, Type: "int", Default: def, Min: min, Max: max, Ref: ref}}
}

// Rule is the manifest's entry.
func (r IntRule) Rule() sdk.Rule { return r.r }

// Of is the tenant's value, or the default.
func (r IntRule) Of(t sdk.Tenant) int64 {
	switch v := t.Rules[r.r.Name].(type) {
	case float64: // from JSON
		if v == math.Trunc(v) {
			return int64(v)
		}
	case int64:
		return v
	case int:
		return int64(v)
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return r.r.Default.(int64)
}

// BoolRule is a yes/no rule.
type BoolRule struct{ r sdk.Rule }

// Bool declares a yes/no rule with its default and the requirement it comes from.
func Bool(name string, def bool, ref string) BoolRule {
	return BoolRule{sdk.Rule{Name: name, Type: "bool", Default: def, Ref: ref}}
}

// Rule is the manifest's entry.
func (r BoolRule) Rule() sdk.Rule { return r.r }

// Of is the tenant's value, or the default.
func (r BoolRule) Of(t sdk.Tenant) bool {
	if v, ok := t.Rules[r.r.Name].(bool); ok {
		return v
	}
	return r.r.Default.(bool)
}

// StringRule is a text rule, one of Choices when they are given.
type StringRule struct{ r sdk.Rule }

// String declares a text rule with its default, its choices (none: any text) and the
// requirement it comes from.
func String(name, def string, choices []string, ref string) StringRule {
	return StringRule{sdk.Rule{Name: name, Type: "string", Default: def, Choices: choices, Ref: ref}}
}

// Rule is the manifest's entry.
func (r StringRule) Rule() sdk.Rule { return r.r }

// Of is the tenant's value, or the default.
func (r StringRule) Of(t sdk.Tenant) string {
	if v, ok := t.Rules[r.r.Name].(string); ok {
		return v
	}
	return r.r.Default.(string)
}
