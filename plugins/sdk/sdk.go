// Package sdk is the plugin SDK of the platform: the only package of this repository a
// business module imports (besides plugins/kit, the module frame, and locales). A module is
// a separate process; it implements Module in plain Go and calls Serve from its main.
// Protobuf never shows here: the wire types stay inside the SDK.
//
// What a module author reads, 25 names (a test keeps the count at 25 at most):
//
//   - the protocol: ProtocolVersion, Serve, Module, Env;
//   - the manifest: Manifest, Route, Permission, Role, Rule, Field;
//   - the calls the host makes: Tenant, User, Request, Response, Job, Event;
//   - the HostAPI: Host, HostFrom, and what it carries: AuditRecord, Message, Blob, Terms,
//     Complaint, FieldErrors, Dependant (a person's data export lists its files as Blob).
//
// What only the host needs (its end of the wire, the call scope, the services it implements,
// the handshake) is in plugins/sdk/host; an in-process test harness is in plugins/sdk/sdktest.
//
// It must not import anything of core/ or of a module.
package sdk

import (
	"net/http"
	"time"
)

// ProtocolVersion is the version of the protocol between host and module. It is bumped on
// any breaking change; the host refuses a plugin that speaks another version, with a log line
// that says so.
//
// Version 2: module roles are the module's own (namespaced in the tenant), core events are
// delivered at least once with an id (Event.ID) until the module acknowledges them, the
// module migrates with its schema owner and runs as a role under row-level security
// (Env.OwnerDSN), and the manifest carries its core grants on its roles.
//
// Since protocol version 1.
const ProtocolVersion = 2

// Tenant is the tenant a request, job or event belongs to, as the module sees it: its id and
// slug, the request's language, its time zone, currency and country, the portal (audience)
// the request came through, the path prefix of its pages, and its values of the module's
// rules (every declared rule, defaults included).
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
	Base string
	// Rules holds the tenant's values of the module's rules, and beside them, under names
	// no rule can take, the tenant's legal identity and public contacts as its operator
	// declared them, when given: "tenant.legal.company", "tenant.legal.address",
	// "tenant.legal.registration", "tenant.legal.vat_id", "tenant.contacts.support",
	// "tenant.contacts.phone" and "tenant.contacts.complaints" (strings; since protocol
	// version 2, addition).
	Rules map[string]any
}

// User is the signed-in user of a request, or a user the module looked up, with his roles in
// the tenant as the module sees them: the core's ("user", "tenant_admin") and the module's
// own, by the ids the manifest declares them with; never another module's.
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
	// leaves the core: check it with Host.CheckSecret.
	SecretQuestion string
	// Status is "active", "blocked" or "unverified".
	Status string
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
// session and the language, and checked the route's permission.
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
	// CSRF is the token the module prints in its forms as a hidden field "_csrf"; the core
	// checks it on every state-changing request before the module sees it.
	CSRF   string
	Tenant Tenant
	// User is nil for an anonymous request to a public route, and for an API route.
	User *User
	// ClientID and ClientName name the API key a machine called an API route with.
	ClientID, ClientName string
	// TermsVersion is, on a route that names Terms, the id of the version in force of that
	// document which the user accepted (the core sent him to accept it first): the module
	// keeps it with the record the request makes (a booking, an order) (P6).
	TermsVersion string
}

// Response is a module's answer. For an HTML page, set Fragment, with Title and the HTML of
// the page's content in Body: the core wraps it in the tenant's layout. Any other content
// (PDF, JSON, a redirect within the tenant, a file) passes through as it is.
//
// Since protocol version 1.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Title    string
	Fragment bool
	// Statements is what the request cost the module's database (the frame counts them):
	// the host logs it with the request.
	Statements int
}

// Job is a piece of the module's work run for one tenant. The manifest declares the
// scheduled ones with Name and Cron (run for every tenant that switched the module on); a
// module schedules a one-off one with Host.Schedule, giving Name, At, Key (scheduling the
// same Key twice is one job; Host.Cancel names it) and Payload. RunJob receives it with ID
// and Tenant.
//
// Since protocol version 1.
type Job struct {
	Name string `json:"name"`
	Cron string `json:"cron,omitempty"`

	ID      string    `json:"-"`
	At      time.Time `json:"-"`
	Key     string    `json:"-"`
	Payload []byte    `json:"-"`
	Tenant  Tenant    `json:"-"`
}

// Event is a core event for one tenant, delivered at least once until OnEvent returns nil:
// a module handles it once in effect by remembering ID. Kind is one of
//
//   - "user.verified": an account became active (Payload: the user id);
//   - "user.deleted": erase what the module holds of that user (Payload: the user id);
//   - "user.blocked": the account was blocked (Payload: the user id);
//   - "tenant.rules_changed": the tenant changed the module's rules;
//   - "platform.demo_seeded": `serve --demo` created the tenant's demo accounts (Payload:
//     {"accounts":[{"id","email","name","role"}]}), for the module's demonstration data.
//
// Since protocol version 1.
type Event struct {
	ID      string
	Kind    string
	Payload []byte
	Tenant  Tenant
}
