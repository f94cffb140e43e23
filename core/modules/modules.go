// Package modules is the core's side of the business modules beyond their processes
// (core/pluginhost runs those): their manifests and route matchers, what each module sees of
// a tenant and of a user (its own rules, its own roles), the calls the core makes to them
// with the scope every HostAPI call of theirs acts in, the HostAPI itself (users, audit,
// messages, jobs, blobs, terms, complaints), the blob store, the grants their manifests
// install, and the core events they are told of through the durable jobs until they
// acknowledge them. It must not know about HTTP: core/server maps requests to it.
package modules

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/apikeys"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// Host is what the service needs of the module host (core/pluginhost).
type Host interface {
	IDs() []string
	Manifest(id string) *sdk.Manifest
	Router(id string) *host.Router
	Statuses() []pluginhost.Status
	Handle(ctx context.Context, id string, call host.Call, req *sdk.Request) (*sdk.Response, error)
	OnEvent(ctx context.Context, id string, call host.Call, ev *sdk.Event) error
	RunJob(ctx context.Context, id string, call host.Call, job *sdk.Job) error
	ExportUser(ctx context.Context, id string, call host.Call, userID string) ([]byte, error)
	Restart(ctx context.Context, id string) error
	CallTimeout() time.Duration
}

// Mailer writes the core's messages: the server renders them (the platform's wording or
// the tenant's own) and knows the addresses people reach the platform at.
type Mailer interface {
	// SendMail renders the message "mail.<tmpl>.*" in lang and queues it for to; it returns
	// the message's id.
	SendMail(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, kv ...any) (string, error)
	// SendMailWith is SendMail with what a module's message adds: the files the e-mail
	// carries, and whether it holds a single-use link (extra's Attachments and Secret).
	SendMailWith(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, extra mail.Message, kv ...any) (string, error)
	// SMSText renders the SMS "sms.<tmpl>" in lang: the tenant's own wording, when it has
	// one, or the platform's.
	SMSText(ctx context.Context, t *tenancy.Tenant, lang, tmpl string, kv ...any) (string, error)
	// PortalLink turns a path into a link on the tenant's hostname of portal (or its first).
	PortalLink(t *tenancy.Tenant, portal, path string) string
	// FormatDay writes a date as lang writes it, in the tenant's time zone.
	FormatDay(lang string, at time.Time, t *tenancy.Tenant) string
}

// Service is the core's side of the modules.
type Service struct {
	DB         *db.DB
	Tenants    *tenancy.Store
	Accounts   *accounts.Service
	Authz      *authz.Service
	Trail      *audit.Trail
	Jobs       *jobs.Store
	Terms      *terms.Service
	Complaints *complaints.Service
	APIKeys    *apikeys.Service
	I18n       *i18n.Bundle
	Outbox     *mail.Outbox
	Mailer     Mailer
	Blobs      *Blobs
	Log        *slog.Logger

	host  Host
	calls calls
}

// SetHost connects the running modules.
func (s *Service) SetHost(h Host) { s.host = h }

// Running reports whether a module host is connected.
func (s *Service) Running() bool { return s.host != nil }

// IDs lists the modules the host runs.
func (s *Service) IDs() []string {
	if s.host == nil {
		return nil
	}
	return s.host.IDs()
}

// Statuses lists every module's state, pid and restarts.
func (s *Service) Statuses() []pluginhost.Status {
	if s.host == nil {
		return nil
	}
	out := s.host.Statuses()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Restart relaunches a module now.
func (s *Service) Restart(ctx context.Context, id string) error {
	if s.host == nil {
		return pluginhost.ErrUnavailable
	}
	return s.host.Restart(ctx, id)
}

// Manifest is what module id declared at its last start (nil when it is not running).
func (s *Service) Manifest(id string) *sdk.Manifest {
	if s.host == nil {
		return nil
	}
	return s.host.Manifest(id)
}

// Match finds the route of a module's manifest for method and path, compiled once per
// start of the module; pathFound tells a path of another method (405) from none (404).
func (s *Service) Match(id, method, path string) (route *sdk.Route, pathFound bool) {
	if s.host == nil {
		return nil, false
	}
	r := s.host.Router(id)
	if r == nil {
		return nil, false
	}
	return r.Match(method, path)
}

// Tenant is the tenant as module id sees it, with the module's rules (the declared defaults
// overridden by the tenant's values); lang, portal and base are those of the request.
func (s *Service) Tenant(t *tenancy.Tenant, id string, man *sdk.Manifest, lang, portal, base string) sdk.Tenant {
	var stored map[string]any
	for _, m := range t.Modules {
		if m.ModuleID == id {
			stored = m.Rules
		}
	}
	rules, err := man.ValidateRules(stored)
	if err != nil {
		s.Log.Warn("stored module rules no longer valid: defaults apply", "tenant", t.Slug, "module", id, "err", err)
		rules, _ = man.ValidateRules(nil)
	}
	if lang == "" {
		lang = t.Settings.DefaultLocale
	}
	// The tenant's legal identity and public contacts travel with the rules, under names no
	// rule can take (a rule's name starts with its module's id): an invoice names its seller,
	// a payment problem page its contact (sdk.Tenant.Rules).
	if rules == nil {
		rules = map[string]any{}
	}
	for k, v := range map[string]string{"tenant.legal.company": t.Settings.Legal.Company, "tenant.legal.address": t.Settings.Legal.Address,
		"tenant.legal.registration": t.Settings.Legal.Registration, "tenant.legal.vat_id": t.Settings.Legal.VATID,
		"tenant.contacts.support": t.Settings.Contacts.Support, "tenant.contacts.phone": t.Settings.Contacts.Phone,
		"tenant.contacts.complaints": t.Settings.Contacts.Complaints} {
		if v != "" {
			rules[k] = v
		}
	}
	return sdk.Tenant{ID: t.ID, Slug: t.Slug, Name: t.Settings.Name, Locale: lang, TimeZone: t.Settings.TimeZone,
		Currency: t.Settings.Currency, Country: t.Settings.Country, Portal: portal, Base: base, Rules: rules}
}

// User is an account as module id sees it: identity, the fields its registration asked,
// the portal it came through, its secret question (never the answer), its state, and its
// roles: the core's and the module's own, by the ids the manifest declares.
func (s *Service) User(u *accounts.User, roles []string, id string) *sdk.User {
	profile := map[string]string{}
	for k, v := range u.Profile {
		profile[k] = v
	}
	return &sdk.User{ID: u.ID, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: s.ModuleRoles(id, roles), BirthDate: u.BirthDate,
		Profile: profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}

// RoleID is the tenant's role of a module's role: "<module>.<role>", or the role's own id
// when the module shares it.
func RoleID(module string, r sdk.Role) string {
	if r.Shared {
		return r.ID
	}
	return module + "." + r.ID
}

// LocalRole is the module's id of a tenant role it declared ("lab_staff" for
// "results.lab_staff"), or "".
func LocalRole(man *sdk.Manifest, role string) string {
	for _, r := range man.Roles {
		if RoleID(man.ID, r) == role {
			return r.ID
		}
	}
	return ""
}

func isCoreRole(r string) bool {
	return r == authz.RoleUser || r == authz.RoleTenantAdmin || r == authz.RolePlatformAdmin
}

// ModuleRoles are the roles of a user as module id sees them: the core's, and the
// module's own by their manifest ids; never another module's.
func (s *Service) ModuleRoles(id string, roles []string) []string {
	man := s.Manifest(id)
	out := []string{}
	for _, r := range roles {
		switch {
		case isCoreRole(r):
			out = append(out, r)
		case man != nil:
			if local := LocalRole(man, r); local != "" {
				out = append(out, local)
			}
		case strings.HasPrefix(r, id+"."):
			out = append(out, strings.TrimPrefix(r, id+"."))
		}
	}
	return out
}

// ValidateRules checks a tenant's rules for a module against the module's manifest, and
// keeps only what the tenant set (defaults stay in the manifest).
func (s *Service) ValidateRules(id string, rules map[string]any) (map[string]any, error) {
	man := s.Manifest(id)
	if man == nil {
		if !s.Tenants.Known.Has(id) {
			return nil, &unknownModule{id}
		}
		// The module did not start: its rules are checked when it runs (each request
		// validates them again and falls back to the declared defaults).
		s.Log.Warn("module not running: its rules are stored unchecked", "module", id)
		return rules, nil
	}
	out, err := man.ValidateRules(rules)
	if err != nil {
		return nil, err
	}
	for k := range out {
		if _, ok := rules[k]; !ok {
			delete(out, k)
		}
	}
	return out, nil
}

type unknownModule struct{ id string }

func (e *unknownModule) Error() string { return "unknown module " + e.id }

// RegistrationFields are the registration fields the tenant's enabled modules ask for,
// each with the portals it is limited to.
func (s *Service) RegistrationFields(t *tenancy.Tenant) []accounts.Field {
	var out []accounts.Field
	for _, id := range t.EnabledModules() {
		if man := s.Manifest(id); man != nil {
			for _, f := range man.RegistrationFields {
				out = mergeField(out, accounts.Field{Name: f.Name, LabelKey: f.LabelKey, Type: f.Type, Required: f.Required, MaxLen: f.MaxLen,
					Portals: append([]string(nil), f.Portals...)})
			}
		}
	}
	return out
}

// mergeField adds f to fields, or, when a module already asks a field of that name and type
// through the same portals (results and the calendar both ask "mobile"), asks it once:
// required if either requires it, as long as the longer allows.
func mergeField(fields []accounts.Field, f accounts.Field) []accounts.Field {
	for i, x := range fields {
		if x.Name == f.Name && x.Type == f.Type && slices.Equal(x.Portals, f.Portals) {
			fields[i].Required = x.Required || f.Required
			fields[i].MaxLen = max(x.MaxLen, f.MaxLen)
			return fields
		}
	}
	return append(fields, f)
}

// Permissions lists the permissions of the running modules.
func (s *Service) Permissions() []string {
	var out []string
	for _, id := range s.IDs() {
		if man := s.Manifest(id); man != nil {
			for _, p := range man.Permissions {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

// APIPermissions are the permissions an API key of the tenant may hold: those of the API
// routes of the modules it switched on.
func (s *Service) APIPermissions(t *tenancy.Tenant) []string {
	seen := map[string]bool{}
	for _, id := range t.EnabledModules() {
		if man := s.Manifest(id); man != nil {
			for _, r := range man.Routes {
				if r.API && r.Permission != "" {
					seen[r.Permission] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Templates are the notification templates the tenant's modules send.
func (s *Service) Templates(t *tenancy.Tenant) []string {
	var out []string
	for _, id := range t.EnabledModules() {
		if man := s.Manifest(id); man != nil {
			out = append(out, man.Templates...)
		}
	}
	return out
}
