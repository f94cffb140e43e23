package sdk

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Manifest declares what a module is and needs: read by the host once per start.
//
// Since protocol version 1.
type Manifest struct {
	// ID is the module's stable id ("results"); its routes live under "/<ID>".
	ID      string `json:"id"`
	Version string `json:"version"`
	// Routes the core mounts for every tenant that switched the module on.
	Routes []Route `json:"routes"`
	// Permissions the module's routes use, with the roles they are granted to by default.
	Permissions []Permission `json:"permissions"`
	// Roles the module brings (lab_staff, patient…), with a message id for their name.
	Roles []Role `json:"roles"`
	// Rules are the module's configuration per tenant, with their defaults and bounds.
	Rules []Rule `json:"rules"`
	// Jobs are the module's scheduled jobs (cron specs, run per tenant).
	Jobs []ScheduledJob `json:"jobs"`
	// Templates are the notification templates the module sends through the HostAPI.
	Templates []string `json:"templates"`
	// AuditActions are the actions the module records through the HostAPI.
	AuditActions []string `json:"audit_actions"`
	// RegistrationFields are mandatory identity fields the module adds to registration.
	RegistrationFields []Field `json:"registration_fields"`
	// CoreGrants give the module's roles core permissions by default (lab staff may block
	// accounts and answer complaints). Only CoreGrantable permissions are accepted.
	CoreGrants []CoreGrant `json:"core_grants"`
}

// CoreGrant grants a core permission to one of the module's roles by default.
type CoreGrant struct {
	Role       string `json:"role"`
	Permission string `json:"permission"`
}

// CoreGrantable are the core permissions a module may grant its roles: the staff work of a
// tenant (users, complaints, mailbox, audit), never its settings, roles or platform rights.
var CoreGrantable = map[string]bool{"admin.users": true, "admin.complaints": true, "admin.mailbox": true, "admin.audit": true}

// Route is one module route. Path is a pattern under "/<module id>" with ":name"
// parameters and a final "*" wildcard ("/results/r/:id").
type Route struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Public routes need no sign-in; every other route needs Permission.
	Public     bool   `json:"public"`
	Permission string `json:"permission"`
	// API routes are called by machines with "Authorization: Bearer <API key>", a key of
	// the tenant that holds Permission; no session, no CSRF token, no terms gate. The
	// request carries the Client, never a User.
	API bool `json:"api"`
}

// Permission is a module permission ("results.read_own") and the roles it is granted to
// by default in each tenant that switches the module on.
type Permission struct {
	Name   string   `json:"name"`
	Grants []string `json:"grants"`
}

// Role is a role a module brings.
type Role struct {
	ID string `json:"id"`
	// Implicit roles are held by every signed-in user of a tenant that enabled the module
	// (a patient of a results portal); others are assigned by the tenant admin.
	Implicit bool `json:"implicit"`
}

// Rule types.
const (
	RuleInt    = "int"
	RuleBool   = "bool"
	RuleString = "string"
)

// Rule declares one configurable rule: its name, type, default and validation. The
// default is the value REQUIREMENTS.md gives; tenants change it in tenant.toml or on the
// admin page, validated by Validate.
type Rule struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default any    `json:"default"`
	Min     int64  `json:"min,omitempty"`
	Max     int64  `json:"max,omitempty"`
	// Choices restricts a string rule to these values, when set.
	Choices []string `json:"choices,omitempty"`
	// Ref cites the requirement the default comes from ("R4").
	Ref string `json:"ref,omitempty"`
}

// Validate converts v (from TOML, JSON or a form) to the rule's type and checks it.
//
// Since protocol version 1.
func (r Rule) Validate(v any) (any, error) {
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
				return nil, fmt.Errorf("rule %s: %v is not a whole number", r.Name, v)
			}
			n = int64(x)
		default:
			return nil, fmt.Errorf("rule %s: %v is not a whole number", r.Name, v)
		}
		if n < r.Min || n > r.Max {
			return nil, fmt.Errorf("rule %s: %d is outside %d–%d", r.Name, n, r.Min, r.Max)
		}
		return n, nil
	case RuleBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("rule %s: %v is not true or false", r.Name, v)
		}
		return b, nil
	case RuleString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("rule %s: %v is not text", r.Name, v)
		}
		if len(r.Choices) > 0 {
			for _, c := range r.Choices {
				if c == s {
					return s, nil
				}
			}
			return nil, fmt.Errorf("rule %s: %q is not one of %v", r.Name, s, r.Choices)
		}
		return s, nil
	}
	return nil, fmt.Errorf("rule %s: unknown type %q", r.Name, r.Type)
}

// ScheduledJob is a job the host runs for each tenant on a cron schedule.
type ScheduledJob struct {
	Name string `json:"name"`
	Cron string `json:"cron"`
}

// Field is a mandatory identity field a module adds to the registration form.
type Field struct {
	Name     string `json:"name"`
	LabelKey string `json:"label_key"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	MaxLen   int    `json:"max_len"`
	// Portals limits the field to registrations through these portals; empty: every portal.
	Portals []string `json:"portals,omitempty"`
}

var (
	idRe    = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)
	nameRe  = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	pathRe  = regexp.MustCompile(`^(/[a-z0-9_.-]+|/:[a-z_]+)*(/\*)?/?$`)
	methods = map[string]bool{"GET": true, "POST": true}
)

// Check reports the first problem of a manifest: the host refuses a module whose manifest
// does not pass.
//
// Since protocol version 1.
func (m *Manifest) Check() error {
	if !idRe.MatchString(m.ID) {
		return fmt.Errorf("manifest: id %q", m.ID)
	}
	perms := map[string]bool{}
	for _, p := range m.Permissions {
		if !nameRe.MatchString(p.Name) || !strings.HasPrefix(p.Name, m.ID+".") {
			return fmt.Errorf("manifest %s: permission %q must be named %s.<something>", m.ID, p.Name, m.ID)
		}
		perms[p.Name] = true
	}
	roles := map[string]bool{}
	for _, r := range m.Roles {
		roles[r.ID] = true
	}
	for _, p := range m.Permissions {
		for _, g := range p.Grants {
			if g == "platform_admin" {
				return fmt.Errorf("manifest %s: a module cannot grant platform rights", m.ID)
			}
			if !roles[g] && g != "tenant_admin" && g != "user" {
				return fmt.Errorf("manifest %s: permission %s granted to undeclared role %q", m.ID, p.Name, g)
			}
		}
	}
	for _, r := range m.Routes {
		if !methods[r.Method] {
			return fmt.Errorf("manifest %s: route method %q", m.ID, r.Method)
		}
		if !pathRe.MatchString(r.Path) || (r.Path != "/"+m.ID && !strings.HasPrefix(r.Path, "/"+m.ID+"/")) {
			return fmt.Errorf("manifest %s: route path %q must be under /%s", m.ID, r.Path, m.ID)
		}
		if r.Public == (r.Permission != "") {
			return fmt.Errorf("manifest %s: route %s %s must be either public or name a permission", m.ID, r.Method, r.Path)
		}
		if r.API && r.Public {
			return fmt.Errorf("manifest %s: API route %s %s must name a permission", m.ID, r.Method, r.Path)
		}
		if !r.Public && !perms[r.Permission] {
			return fmt.Errorf("manifest %s: route %s %s uses undeclared permission %q", m.ID, r.Method, r.Path, r.Permission)
		}
	}
	for _, g := range m.CoreGrants {
		if !CoreGrantable[g.Permission] {
			return fmt.Errorf("manifest %s: core permission %q cannot be granted by a module", m.ID, g.Permission)
		}
		if !roles[g.Role] {
			return fmt.Errorf("manifest %s: core permission %s granted to undeclared role %q", m.ID, g.Permission, g.Role)
		}
	}
	for _, r := range m.Rules {
		if !nameRe.MatchString(r.Name) && !idRe.MatchString(r.Name) {
			return fmt.Errorf("manifest %s: rule name %q", m.ID, r.Name)
		}
		if _, err := r.Validate(r.Default); err != nil {
			return fmt.Errorf("manifest %s: default of %w", m.ID, err)
		}
	}
	return nil
}

// ValidateRules checks a tenant's values for this module's rules and returns every
// declared rule with the tenant's value or its default.
//
// Since protocol version 1.
func (m *Manifest) ValidateRules(values map[string]any) (map[string]any, error) {
	out := map[string]any{}
	declared := map[string]Rule{}
	for _, r := range m.Rules {
		declared[r.Name] = r
		d, _ := r.Validate(r.Default)
		out[r.Name] = d
	}
	for k, v := range values {
		r, ok := declared[k]
		if !ok {
			return nil, fmt.Errorf("module %s: unknown rule %q", m.ID, k)
		}
		nv, err := r.Validate(v)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.ID, err)
		}
		out[k] = nv
	}
	return out, nil
}
