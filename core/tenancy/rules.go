package tenancy

import (
	"fmt"
	"sort"

	"carenet.dev/platform/plugins/sdk"
)

// CoreRules are the rules of the core (accounts and security), shared by every tenant. They
// are declared like a module's rules (name, type, default from REQUIREMENTS.md, bounds); a
// tenant's tenant.toml or its admin may change them.
var CoreRules = []sdk.Rule{
	{Name: "account.min_age", Type: "int", Default: int64(18), Min: 0, Max: 120, Ref: "P2"},
	// E2: from this age (when above 0) up to the minimum age, a person may register by
	// declaring he came of age earlier by marriage; and the declaration of full legal
	// capacity asked of everyone who registers.
	{Name: "account.majority_by_marriage_age", Type: "int", Default: int64(0), Min: 0, Max: 120, Ref: "E2"},
	{Name: "account.capacity_declaration", Type: "bool", Default: false, Ref: "E2"},
	// E2: how long after withdrawing the consent to the processing of his data an account
	// is closed (the person may give it again until then).
	// E2 [003 II.4]: a dependant's permanent address, sex and nationality are mandatory.
	{Name: "account.dependant_identity_required", Type: "bool", Default: false, Ref: "E2"},
	{Name: "account.consent_withdrawal_notice_days", Type: "int", Default: int64(30), Min: 1, Max: 365, Ref: "E2"},
	// The age of majority: a minor the account holder represents is represented until that
	// birthday (P2, issue 12.9).
	{Name: "account.majority_age", Type: "int", Default: int64(18), Min: 14, Max: 25, Ref: "P2"},
	{Name: "account.verification_hours", Type: "int", Default: int64(24), Min: 1, Max: 24 * 30, Ref: "P2"},
	{Name: "account.reset_link_minutes", Type: "int", Default: int64(60), Min: 5, Max: 24 * 60, Ref: "P2"},
	// How long the link of an account staff opened for a person (B1) lets him choose his
	// password.
	{Name: "account.invite_link_hours", Type: "int", Default: int64(72), Min: 1, Max: 30 * 24, Ref: "P2, B1"},
	{Name: "account.session_days", Type: "int", Default: int64(14), Min: 1, Max: 365, Ref: "P2"},
	{Name: "account.inactive_close_days", Type: "int", Default: int64(0), Min: 0, Max: 3650, Ref: "P2"},
	// How long a person whose account was closed may appeal (R6); what the appeal needs of
	// him is kept that long, then erased.
	{Name: "account.closed_appeal_days", Type: "int", Default: int64(30), Min: 1, Max: 365, Ref: "R6"},
	{Name: "account.secret_question", Type: "bool", Default: false, Ref: "P2"},
	// B10 [001 art. 3]: the notice, in business days of the tenant's country, before a change
	// of an account's login address or password the operator makes takes effect.
	{Name: "account.credential_change_notice_business_days", Type: "int", Default: int64(3), Min: 1, Max: 60, Ref: "P2"},
	// Registration asks the given name and the family name in two fields, kept in the
	// profile as first_name and last_name, instead of one name (C3).
	{Name: "account.split_name", Type: "bool", Default: false, Ref: "C3"},
	{Name: "security.rate_window_minutes", Type: "int", Default: int64(15), Min: 1, Max: 24 * 60, Ref: "P2"},
	{Name: "security.login_per_ip", Type: "int", Default: int64(30), Min: 1, Max: 100000, Ref: "P2"},
	// Sign-in throttling without lock-out (accounts/throttle.go): failures of one address on
	// one account within the window before that address is refused for it; the delay before
	// the account's next attempt after a failure, doubled with each failure, and its cap.
	{Name: "security.login_failures_per_address", Type: "int", Default: int64(5), Min: 1, Max: 1000, Ref: "P2"},
	{Name: "security.login_delay_seconds", Type: "int", Default: int64(1), Min: 0, Max: 60, Ref: "P2"},
	{Name: "security.login_delay_max_seconds", Type: "int", Default: int64(20), Min: 0, Max: 600, Ref: "P2"},
	{Name: "security.registration_per_ip", Type: "int", Default: int64(10), Min: 1, Max: 100000, Ref: "P2"},
	{Name: "security.reset_per_ip", Type: "int", Default: int64(10), Min: 1, Max: 100000, Ref: "P2"},
	{Name: "maintenance.announce_over_hours", Type: "int", Default: int64(5), Min: 0, Max: 168, Ref: "P7"},
	{Name: "maintenance.notice_business_hours", Type: "int", Default: int64(24), Min: 0, Max: 720, Ref: "P7"},
	// B9 [001 art. 7]: the announcement of a maintenance says that it gives rise to no
	// compensation (the tenant's terms say so).
	{Name: "maintenance.no_compensation", Type: "bool", Default: false, Ref: "P7"},
	{Name: "business.open_hour", Type: "int", Default: int64(8), Min: 0, Max: 23, Ref: "P7"},
	{Name: "business.close_hour", Type: "int", Default: int64(18), Min: 1, Max: 24, Ref: "P7"},
	{Name: "security.complaints_per_ip", Type: "int", Default: int64(10), Min: 1, Max: 100000, Ref: "P10"},
	{Name: "complaints.answer_days", Type: "int", Default: int64(14), Min: 1, Max: 365, Ref: "P10"},
	{Name: "complaints.max_extension_days", Type: "int", Default: int64(5), Min: 0, Max: 90, Ref: "P10"},
	{Name: "complaints.working_days", Type: "bool", Default: false, Ref: "P10"},
	{Name: "complaints.require_client_ref", Type: "bool", Default: false, Ref: "P10"},
	{Name: "complaints.require_documents", Type: "bool", Default: false, Ref: "P10"},
	// B11 [001 art. 9]: the complaint form and its receipt say that the parties seek an
	// amicable settlement before going to court.
	{Name: "complaints.amicable_settlement", Type: "bool", Default: false, Ref: "P10"},
	{Name: "terms.notice_days", Type: "int", Default: int64(7), Min: 0, Max: 365, Ref: "P6"},
	{Name: "terms.explicit_reacceptance", Type: "bool", Default: false, Ref: "P6"},
	{Name: "audit.checkpoint_minutes", Type: "int", Default: int64(60), Min: 5, Max: 24 * 60, Ref: "P9"},
	// issue 11 — second factor. The roles that must sign in with a second factor: role ids
	// separated by commas, "*" for every role beyond the plain user role (tenant admins and
	// every module role: staff, professionals), "" for none.
	{Name: RuleSecondFactorRoles, Type: "string", Default: "*", Ref: "P2"},
	{Name: "account.second_step_minutes", Type: "int", Default: int64(5), Min: 1, Max: 30, Ref: "P2"},
	{Name: "security.second_factor_per_account", Type: "int", Default: int64(5), Min: 1, Max: 1000, Ref: "P2"},
	// Notice periods of the other kinds of change (terms.notice_days is the general one).
	{Name: "terms.notice_days_fees", Type: "int", Default: int64(7), Min: 0, Max: 365, Ref: "P6"},
	{Name: "terms.notice_days_closing", Type: "int", Default: int64(30), Min: 0, Max: 365, Ref: "P6"},
	// The optional consents the tenant asks at registration and on the account page (P6):
	// kinds separated by commas, among terms.OptionalConsents ("marketing,partners").
	{Name: RuleOptionalConsents, Type: "string", Default: "marketing", Ref: "P6"},
	// SMS are sent only by a tenant that switched them on (P7).
	{Name: "notifications.sms", Type: "bool", Default: false, Ref: "P7"},
}

// RuleOptionalConsents lists the optional consents the tenant asks (P6).
const RuleOptionalConsents = "account.optional_consents"

// RuleSecondFactorRoles names the roles that must have a second factor (issue 11).
const RuleSecondFactorRoles = "security.second_factor_roles"

func coreRule(name string) (sdk.Rule, bool) {
	for _, r := range CoreRules {
		if r.Name == name {
			return r, true
		}
	}
	return sdk.Rule{}, false
}

// ValidateRules checks values against specs: unknown names, wrong types and values out of
// bounds are errors. It returns the values normalised (ints as int64).
func ValidateRules(specs []sdk.Rule, values map[string]any) (map[string]any, error) {
	out := map[string]any{}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		var spec *sdk.Rule
		for i := range specs {
			if specs[i].Name == name {
				spec = &specs[i]
			}
		}
		if spec == nil {
			return nil, fmt.Errorf("rule %q: unknown rule", name)
		}
		v, err := spec.Validate(values[name])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// BoolRule returns the tenant's value of a core yes/no rule, or its declared default.
func (t *Tenant) BoolRule(name string) bool {
	spec, ok := coreRule(name)
	if !ok {
		panic("tenancy: undeclared core rule " + name) // a programming error, never input
	}
	if v, ok := t.Settings.Rules[name]; ok {
		if b, err := spec.Validate(v); err == nil {
			return b.(bool)
		}
	}
	return spec.Default.(bool)
}

// IntRule returns the tenant's value of a core integer rule, or its declared default.
func (t *Tenant) IntRule(name string) int64 {
	spec, ok := coreRule(name)
	if !ok {
		panic("tenancy: undeclared core rule " + name) // a programming error, never input
	}
	if v, ok := t.Settings.Rules[name]; ok {
		if n, err := spec.Validate(v); err == nil {
			return n.(int64)
		}
	}
	return spec.Default.(int64)
}

// StringRule returns the tenant's value of a core text rule, or its declared default.
func (t *Tenant) StringRule(name string) string {
	spec, ok := coreRule(name)
	if !ok {
		panic("tenancy: undeclared core rule " + name) // a programming error, never input
	}
	if v, ok := t.Settings.Rules[name]; ok {
		if s, err := spec.Validate(v); err == nil {
			return s.(string)
		}
	}
	return spec.Default.(string)
}
