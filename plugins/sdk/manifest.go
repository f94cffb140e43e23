package sdk

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"

	"carenet.dev/platform/plugins/sdk/internal/wire"
)

// Manifest declares what a module is and needs: read by the host once per start.
//
// Since protocol version 1.
type Manifest struct {
	// ID is the module's stable id ("results"); its routes live under "/<ID>".
	ID      string `json:"id"`
	Version string `json:"version"`
	// Name and Summary are the module's name and one line about it, per language ("fr",
	// "pl", "sk"), shown in the navigation, on the home page and on the console where the
	// platform has no words of its own for the module (an external module brings them).
	Name    map[string]string `json:"name,omitempty"`
	Summary map[string]string `json:"summary,omitempty"`
	// Routes the core mounts for every tenant that switched the module on.
	Routes []Route `json:"routes"`
	// Permissions the module's routes use, with the roles they are granted to by default.
	Permissions []Permission `json:"permissions"`
	// Roles the module brings (lab_staff, doctor…): each is the module's own in the tenant.
	Roles []Role `json:"roles"`
	// Rules are the module's configuration per tenant, with their defaults and bounds.
	Rules []Rule `json:"rules"`
	// Jobs are the module's scheduled jobs (Name and Cron), run for every tenant.
	Jobs []Job `json:"jobs"`
	// Templates are the notification templates the module sends through the HostAPI.
	Templates []string `json:"templates"`
	// AuditActions are the actions the module records through the HostAPI.
	AuditActions []string `json:"audit_actions"`
	// RegistrationFields are mandatory identity fields the module adds to registration.
	RegistrationFields []Field `json:"registration_fields"`
	// Portals are the audiences a hostname of the tenant may serve for the module
	// ("patients", "professionals"): the console offers them, and only them, when a platform
	// admin gives a hostname its portal; the module reads it on each request
	// (Tenant.Portal). Optional: a module without portals serves every hostname alike.
	Portals []string `json:"portals,omitempty"`
}

// Route is one module route: its method, its pattern under "/<module id>" in Go's ServeMux
// syntax ("/results/r/{id}", a final "{rest...}" for the rest of the path), and who may call
// it: anyone (Public), a signed-in user holding Permission, or, for an API route, a machine
// presenting one of the tenant's API keys that holds Permission ("Authorization: Bearer
// <key>"; no session, no CSRF token, no terms gate; the request names the key, never a
// user).
//
// Since protocol version 1.
type Route struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	Public     bool   `json:"public"`
	Permission string `json:"permission"`
	API        bool   `json:"api"`
	// Terms names the module's terms document (its id) that a signed-in user must have
	// accepted, in its version in force, before this route runs: the core sends him to accept
	// it first and tells the module the version (Request.TermsVersion). Not on a public or an
	// API route.
	Terms string `json:"terms,omitempty"`
	// Landing makes the route a page a person lands on after signing in when he asked for
	// no page of his own (a login without a safe "next"): a patient on his results, a
	// professional on his patients', lab staff on their queue. It is the page's rank among
	// the module's landing pages (1 first; 0: not one): the core goes through the tenant's
	// modules in their order, through each module's landing pages by rank, and picks the
	// first one the person holds the permission of, on the portal he signed in through —
	// rank the narrowest audience first (staff, then professionals, then every user). Only
	// a GET route without parameters, for signed-in users. LandingPortals limits it to these
	// portals; empty: every portal.
	//
	// Since protocol version 1 (optional: a host that does not know it sends everyone home).
	Landing        int      `json:"landing,omitempty"`
	LandingPortals []string `json:"landing_portals,omitempty"`
}

// Permission is a module permission ("results.read_own") and the roles it is granted to by
// default in each tenant that switches the module on: the module's own roles, or the core's
// "user" (every signed-in account) and "tenant_admin".
//
// Since protocol version 1.
type Permission struct {
	Name   string   `json:"name"`
	Grants []string `json:"grants"`
	// Label is what the permission lets a person do, per language, shown to tenant admins
	// where the platform has no words for it (an external module's).
	Label map[string]string `json:"label,omitempty"`
}

// Role is a role a module brings. It is the module's own: two modules that both declare
// "lab_staff" have two roles, each granting only its module's permissions — unless both
// declare it Shared, for a tenant's staff who work with both (one lab's staff in results
// and in the e-shop). Implicit roles are held by every signed-in user of a tenant that runs
// the module; the others are assigned by the tenant admin (or by the module, Host.SetRole).
// CoreGrants are the core permissions the role holds by default: the staff work of a tenant
// ("admin.users", "admin.complaints", "admin.mailbox", "admin.audit"), never its settings,
// roles or platform rights.
//
// Since protocol version 1.
type Role struct {
	ID         string   `json:"id"`
	Implicit   bool     `json:"implicit,omitempty"`
	Shared     bool     `json:"shared,omitempty"`
	CoreGrants []string `json:"core_grants,omitempty"`
}

// Rule declares one configurable rule: its name, type ("int", "bool" or "string"), default
// and validation. The default is the value REQUIREMENTS.md gives; tenants change it in
// tenant.toml or on the admin page, validated by Validate. plugins/kit declares typed rules
// that produce these entries and read the tenant's values.
//
// Since protocol version 1.
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
	// Label names the rule per language on the tenant admin's page where the platform has
	// no words for it (an external module's).
	Label map[string]string `json:"label,omitempty"`
}

// Validate converts v (from TOML, JSON or a form) to the rule's type and checks it.
//
// Since protocol version 1.
func (r Rule) Validate(v any) (any, error) {
	switch r.Type {
	case "int":
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
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("rule %s: %v is not true or false", r.Name, v)
		}
		return b, nil
	case "string":
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

// Field is a mandatory identity field a module adds to the registration form, with the
// message id of its label.
//
// Since protocol version 1.
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
	pathRe  = regexp.MustCompile(`^(/[a-z0-9_.-]+|/\{[a-z_]+\})*(/\{[a-z_]+\.\.\.\})?$`)
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
		if !idRe.MatchString(r.ID) || r.ID == "user" || r.ID == "tenant_admin" || r.ID == "platform_admin" || roles[r.ID] {
			return fmt.Errorf("manifest %s: role id %q (a new id, not one of the core's)", m.ID, r.ID)
		}
		roles[r.ID] = true
		for _, g := range r.CoreGrants {
			if !wire.CoreGrantable[g] {
				return fmt.Errorf("manifest %s: core permission %q cannot be granted by a module", m.ID, g)
			}
		}
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
	seen := map[string]bool{}
	for _, r := range m.Routes {
		if seen[r.Method+" "+r.Path] {
			return fmt.Errorf("manifest %s: route %s %s declared twice", m.ID, r.Method, r.Path)
		}
		seen[r.Method+" "+r.Path] = true
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
		if r.Terms != "" && (r.Terms != m.ID || r.Public || r.API) {
			return fmt.Errorf("manifest %s: route %s %s: terms %q must be the module's own, on a route for signed-in users", m.ID, r.Method, r.Path, r.Terms)
		}
		if !r.Public && !perms[r.Permission] {
			return fmt.Errorf("manifest %s: route %s %s uses undeclared permission %q", m.ID, r.Method, r.Path, r.Permission)
		}
	}
	for _, r := range m.Routes {
		if r.Landing < 0 || r.Landing == 0 && len(r.LandingPortals) > 0 {
			return fmt.Errorf("manifest %s: route %s %s: landing rank %d", m.ID, r.Method, r.Path, r.Landing)
		}
		if r.Landing > 0 && (r.Method != "GET" || strings.Contains(r.Path, "{") || r.Public || r.API) {
			return fmt.Errorf("manifest %s: landing %s %s must be a GET page for signed-in users, without parameters", m.ID, r.Method, r.Path)
		}
	}
	if err := routesConflict(m.Routes); err != nil {
		return fmt.Errorf("manifest %s: %w", m.ID, err)
	}
	for _, p := range m.Portals {
		if !idRe.MatchString(p) || p == "console" {
			return fmt.Errorf("manifest %s: portal %q", m.ID, p)
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

// routesConflict reports two routes that the module's router (net/http's ServeMux, the
// host's too) could not tell apart.
func routesConflict(routes []Route) (err error) {
	mux := http.NewServeMux()
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("routes conflict: %v", p)
		}
	}()
	for _, r := range routes {
		mux.Handle(r.Method+" "+r.Path, nop)
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
