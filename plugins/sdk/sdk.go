// Package sdk is the plugin SDK of the platform: the only package of this repository a
// business module imports (besides plugins/kit and locales). A module is a separate
// process; it implements Module in plain Go and calls Serve from its main. This package
// owns the handshake, the manifest types, the request/response structs, the HostAPI client
// and the conversion to and from the wire types, which a module never sees.
//
// It must not import anything of core/ or of a module.
package sdk

import (
	"net/http"
	"strconv"
)

// Handshake values. They NEVER change: a host and a plugin that disagree on them are not
// talking about the same thing at all. Breaking changes of the protocol bump
// ProtocolVersion instead.
const (
	// MagicCookieKey is the environment variable the host sets for a plugin it launches.
	MagicCookieKey = "PLATFORM_MODULE_PLUGIN"
	// MagicCookieValue is its value.
	MagicCookieValue = "5d1f9a3e-health-platform-module"
	// PluginName is the name of the one plugin a module process serves.
	PluginName = "module"
)

// ProtocolVersion is the version of the protocol between host and module. It is bumped on
// any breaking change; the host refuses a plugin that speaks another version.
//
// Since protocol version 1.
const ProtocolVersion = 1

// Tenant is the tenant a request or job belongs to, as the module sees it: its id and slug,
// the request's language, its time zone, currency and country, the portal (audience) the
// request came through, the path prefix of its pages, and its rules for this module.
//
// Since protocol version 1.
type Tenant struct {
	ID       string
	Slug     string
	Name     string
	Locale   string
	TimeZone string
	Currency string
	Country  string
	Portal   string
	// Base is the path prefix the tenant's pages carry ("" or "/t/<slug>"): links a
	// module prints start with it.
	Base  string
	Rules map[string]any
}

// IntRule returns an integer rule of this module for the tenant, or def if the tenant has
// no value (the host always sends every declared rule, defaults included).
//
// Since protocol version 1.
func (t Tenant) IntRule(name string, def int64) int64 {
	switch v := t.Rules[name].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// StringRule returns a string rule of this module for the tenant, or def.
//
// Since protocol version 1.
func (t Tenant) StringRule(name, def string) string {
	if v, ok := t.Rules[name].(string); ok {
		return v
	}
	return def
}

// BoolRule returns a boolean rule of this module for the tenant, or def.
//
// Since protocol version 1.
func (t Tenant) BoolRule(name string, def bool) bool {
	if v, ok := t.Rules[name].(bool); ok {
		return v
	}
	return def
}

// User is the signed-in user of a request, with his roles in the tenant.
//
// Since protocol version 1.
type User struct {
	ID     string
	Email  string
	Name   string
	Locale string
	Roles  []string
	// BirthDate is the date of birth the person gave at registration ("2006-01-02").
	BirthDate string
	// Profile holds the registration fields the tenant's modules asked for (by field name).
	Profile map[string]string
	// Portal is the portal (audience) the account registered through ("patients").
	Portal string
	// SecretQuestion is the person's secret question, if he chose one; the answer never
	// leaves the core: check it with UsersClient.CheckSecret.
	SecretQuestion string
	// Status is "active", "blocked" or "unverified".
	Status string
}

// Client is a machine caller of an API route, authenticated by one of the tenant's API keys.
//
// Since protocol version 1.
type Client struct {
	ID   string
	Name string
}

// HasRole reports whether the user holds role in the tenant.
//
// Since protocol version 1.
func (u *User) HasRole(role string) bool {
	if u == nil {
		return false
	}
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Request is one HTTP request to a module route, after the core resolved the tenant, the
// session, the language and checked the route's permission.
//
// Since protocol version 1.
type Request struct {
	Method    string
	Path      string // without the tenant's base prefix: "/results/r/0192…"
	Query     string // raw query string, without "?"
	Header    http.Header
	Body      []byte
	RemoteIP  string
	RequestID string
	Tenant    Tenant
	User      *User // nil for an anonymous request to a public route
	// Client is the machine caller of an API route (User is then nil).
	Client *Client
}

// Response is a module's answer. For an HTML page, set Fragment with Title and the HTML of
// the page's content in Body: the core wraps it in the tenant's layout. Any other content
// (PDF, JSON, a redirect, a file) passes through as it is.
//
// Since protocol version 1.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Title    string
	Fragment bool
}

// Job is a scheduled or one-off job run for one tenant.
//
// Since protocol version 1.
type Job struct {
	ID      string
	Name    string
	Payload []byte
	Tenant  Tenant
}

// Event kinds the core sends to modules.
const (
	EventRulesChanged = "tenant.rules_changed"
	EventUserDeleted  = "user.deleted"  // erase that user's data; Payload is the user id
	EventUserVerified = "user.verified" // an account became active; Payload is the user id
	// EventDemoSeeded tells a module, once per tenant, that the platform runs with --demo and
	// created the demo accounts; Payload is a DemoSeed as JSON. A module may then create its
	// demonstration data for them (never outside --demo).
	EventDemoSeeded      = "platform.demo_seeded"
	EventUserBlocked     = "user.blocked"
	EventTermsPublished  = "terms.published"
	EventUserDataRequest = "user.data_requested"
)

// Event is a core event for one tenant.
//
// Since protocol version 1.
type Event struct {
	Kind    string
	Payload []byte
	Tenant  Tenant
}

// DemoSeed is the payload of EventDemoSeeded: the demo accounts of the tenant.
//
// Since protocol version 1.
type DemoSeed struct {
	Accounts []DemoAccount `json:"accounts"`
}

// DemoAccount is one demo account: its id, e-mail, name and the role it was created for
// ("user", "tenant_admin" or one of the module roles).
//
// Since protocol version 1.
type DemoAccount struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}
