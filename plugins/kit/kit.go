// Package kit is the frame every business module is built on. A module declares itself once
// in a Spec — its routes (each with its method, pattern, permission and handler), roles,
// permissions, typed rules, jobs, templates and what it does on core events — and the frame
// derives from that one declaration both the manifest the host reads and the router the
// module serves with. Handlers return an error, mapped in one place: not found and bad
// requests become localized pages (or JSON for API routes), a form's errors a 422 with the
// messages next to the fields, and anything else is logged with the request id, tenant,
// module and cause before the person sees the localized 500 page. Data lives in the module's
// scoped store (plugins/kit/store): every query on a tenant table goes through a tenant
// scope, and PostgreSQL's row-level security holds it a second time. Core events are
// remembered by id, so that one delivered twice is handled once.
//
// It holds no state of any module beyond what each gives it, and imports nothing of the core.
package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// Spec is everything a module declares, once.
type Spec struct {
	ID, Version string
	// Migrations holds migrations/sqlite/*.up.sql and migrations/postgres/*.up.sql, among
	// them the table "<id>_events" (tenant_id, id, kind, payload, received_at) the frame
	// remembers core events in.
	Migrations fs.FS
	// Templates holds the module's page templates; Pattern selects them ("templates/*.html").
	Templates fs.FS
	Pattern   string
	// Funcs are extra template functions (the frame gives "args", a list of its arguments).
	Funcs template.FuncMap

	Routes      []Route
	Roles       []sdk.Role
	Permissions []sdk.Permission
	Rules       []Rule
	Jobs        []Job
	// Notifications are the message templates the module sends through the HostAPI;
	// AuditActions the actions it records.
	Notifications      []string
	AuditActions       []string
	RegistrationFields []sdk.Field
	// Portals are the audiences the module's hostnames serve ("patients", "professionals").
	Portals []string
	// Nav gives the links of the module's own navigation for the request's person (its
	// customer's, its staff's, its manager's places): shown at the top of each of its pages
	// when there are two or more, the page's own marked current.
	Nav func(c *Ctx) []NavLink

	// What the module does on core events, each optional.
	OnUserVerified func(ctx context.Context, t sdk.Tenant, userID string) error
	OnUserDeleted  func(ctx context.Context, t sdk.Tenant, userID string) error
	OnDemo         func(ctx context.Context, t sdk.Tenant, accounts []DemoAccount) error
	// Export returns what the module holds of a user (P11), beside the events that named him;
	// its files (a report's PDF) under the key ExportFiles, as []sdk.Blob.
	Export func(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error)
}

// Job is a job of the module: scheduled for every tenant when Cron is set, or run when the
// module schedules it (Host.Schedule).
type Job struct {
	Name string
	Cron string
	Run  func(ctx context.Context, job *sdk.Job) error
}

// Module is a module built on the frame; it implements sdk.Module.
type Module struct {
	// Store is the module's database, open once Init ran.
	Store *store.DB
	Msgs  *locales.Bundle
	// Log is where the frame writes the causes of failures (JSON on the process's stderr,
	// which the host puts in its own log).
	Log *slog.Logger

	spec  Spec
	man   sdk.Manifest
	mux   *http.ServeMux
	pages *view.Sets
	jobs  map[string]Job
}

// New builds the module that spec declares. It panics on a declaration that cannot work
// (templates that do not parse, routes that conflict): those are the module's own files,
// checked by its tests, never input.
func New(spec Spec) *Module {
	msgs, err := locales.Load()
	if err != nil {
		panic(err)
	}
	m := &Module{spec: spec, Msgs: msgs, Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), mux: http.NewServeMux(), jobs: map[string]Job{}}
	funcs := template.FuncMap{"args": func(xs ...any) []any { return xs }}
	for k, f := range spec.Funcs {
		funcs[k] = f
	}
	m.pages = view.MustSets(msgs, func() (*template.Template, error) {
		t := template.New("").Funcs(funcs)
		if spec.Templates == nil {
			return t, nil
		}
		return t.ParseFS(spec.Templates, spec.Pattern)
	})
	m.man = sdk.Manifest{ID: spec.ID, Version: spec.Version, Roles: spec.Roles, Permissions: spec.Permissions,
		Templates: spec.Notifications, AuditActions: spec.AuditActions, RegistrationFields: spec.RegistrationFields, Portals: spec.Portals}
	for i := range spec.Routes {
		r := &spec.Routes[i]
		m.man.Routes = append(m.man.Routes, r.manifest())
		m.mux.HandleFunc(r.Pattern(), m.serve(r))
	}
	// The host matched the route on the same patterns before forwarding: a path the module
	// does not declare is never what a person should see as a bare "404 page not found".
	m.mux.HandleFunc("/", m.serve(&Route{Handle: func(*Ctx) error { return ErrNotFound }}))
	for _, r := range spec.Rules {
		m.man.Rules = append(m.man.Rules, r.Rule())
	}
	for _, j := range spec.Jobs {
		m.jobs[j.Name] = j
		if j.Cron != "" {
			m.man.Jobs = append(m.man.Jobs, sdk.Job{Name: j.Name, Cron: j.Cron})
		}
	}
	if err := m.man.Check(); err != nil {
		panic(err)
	}
	return m
}

// ID is the module's id.
func (m *Module) ID() string { return m.spec.ID }

// Routes is the module's route table, as declared.
func (m *Module) Routes() []Route { return append([]Route(nil), m.spec.Routes...) }

// Pattern is the pattern of the route the module's router sends method and path to, or ""
// when none (the frame's tests compare it with the host's match).
func (m *Module) Pattern(method, path string) string {
	_, p := m.mux.Handler(&http.Request{Method: method, URL: &url.URL{Path: path}, Host: "module"})
	return p
}

// Init opens the module's database and runs its migrations.
func (m *Module) Init(ctx context.Context, env sdk.Env) error {
	if m.spec.Migrations == nil {
		return nil
	}
	if env.DSN == "" {
		return errors.New("no database given")
	}
	st, err := store.Open(ctx, m.spec.ID, env, m.spec.Migrations)
	if err != nil {
		return err
	}
	m.Store = st
	return nil
}

// Manifest is derived from the Spec.
func (m *Module) Manifest() sdk.Manifest { return m.man }

// In runs fn in a write transaction scoped to tenant t.
func (m *Module) In(ctx context.Context, t sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) error {
	return m.Store.InTenant(ctx, t.ID, fn)
}

// Read runs fn in a read-only transaction scoped to tenant t: it never takes SQLite's write
// lock, and the reads of one request share it.
func (m *Module) Read(ctx context.Context, t sdk.Tenant, fn func(ctx context.Context, sc *store.Scope) error) error {
	return m.Store.ReadTenant(ctx, t.ID, fn)
}

type requestKey struct{}

// fragmentHeader marks, between a handler and Handle, an HTML fragment for the tenant's
// layout; its value is the page's title.
const fragmentHeader = "X-Kit-Fragment-Title"

// Handle serves one request with the module's router: the sdk.Request becomes an
// *http.Request for the handler, and what the handler writes becomes the Response.
func (m *Module) Handle(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	target := req.Path
	if req.Query != "" {
		target += "?" + req.Query
	}
	// The request's reads share one read transaction, and its statements are counted.
	ctx, cost := store.WithRequest(ctx)
	defer cost.Close()
	hr, err := http.NewRequestWithContext(context.WithValue(ctx, requestKey{}, req), req.Method, target, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	hr.RemoteAddr = req.RemoteIP + ":0"
	rec := httptest.NewRecorder()
	m.mux.ServeHTTP(rec, hr)
	res := rec.Result()
	cost.Close()
	out := &sdk.Response{Status: res.StatusCode, Header: res.Header.Clone(), Body: rec.Body.Bytes(), Statements: int(cost.Statements())}
	if title := out.Header.Get(fragmentHeader); title != "" {
		out.Fragment, out.Title = true, title
		out.Header.Del(fragmentHeader)
	}
	return out, nil
}

// RunJob runs the job of that name.
func (m *Module) RunJob(ctx context.Context, job *sdk.Job) error {
	j, ok := m.jobs[job.Name]
	if !ok {
		return fmt.Errorf("%s: no job %q", m.spec.ID, job.Name)
	}
	return j.Run(ctx, job)
}

// Kinds of core events (sdk.Event): the same strings as the host's (a test checks it).
const (
	eventUserVerified = "user.verified"
	eventUserDeleted  = "user.deleted"
	eventDemoSeeded   = "platform.demo_seeded"
)

// DemoAccount is a demo account of the tenant (event "platform.demo_seeded"): its id,
// e-mail, name and the role it was made for ("user", "tenant_admin" or one of the module's
// roles).
type DemoAccount struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// Event is a core event the module received, as the frame remembers it (P11: an export
// shows the ones that named the person).
type Event struct {
	bun.BaseModel `bun:"alias:event" json:"-"`

	TenantID   string    `bun:"tenant_id,pk" json:"-"`
	ID         string    `bun:"id,pk" json:"id"`
	Kind       string    `bun:"kind" json:"kind"`
	Payload    string    `bun:"payload" json:"payload"`
	ReceivedAt time.Time `bun:"received_at" json:"received_at"`
}

func (m *Module) eventsTable() string { return m.spec.ID + "_events AS event" }

// OnEvent handles a core event once in effect: an event already handled (same id) changes
// nothing; otherwise the module's hook runs and the event is remembered. Erasure (P11) keeps
// nothing of the person, not even the payload of the event that asked for it.
func (m *Module) OnEvent(ctx context.Context, ev *sdk.Event) error {
	if m.Store == nil {
		return nil
	}
	if ev.ID == "" {
		return errors.New("event without an id")
	}
	seen := false
	err := m.In(ctx, ev.Tenant, func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Event)(nil)).ModelTableExpr(m.eventsTable()).Where("id = ?", ev.ID).Count(ctx)
		seen = n > 0
		return err
	})
	if err != nil || seen {
		return err
	}
	payload := string(ev.Payload)
	switch ev.Kind {
	case eventUserVerified:
		if m.spec.OnUserVerified != nil {
			err = m.spec.OnUserVerified(ctx, ev.Tenant, payload)
		}
	case eventUserDeleted:
		if m.spec.OnUserDeleted != nil {
			err = m.spec.OnUserDeleted(ctx, ev.Tenant, payload)
		}
		if err == nil {
			err = m.In(ctx, ev.Tenant, func(ctx context.Context, sc *store.Scope) error {
				_, err := sc.Delete((*Event)(nil)).ModelTableExpr(m.eventsTable()).Where("payload = ?", payload).Exec(ctx)
				return err
			})
		}
		payload = ""
	case eventDemoSeeded:
		var seed struct {
			Accounts []DemoAccount `json:"accounts"`
		}
		if err = json.Unmarshal(ev.Payload, &seed); err == nil && m.spec.OnDemo != nil {
			err = m.spec.OnDemo(ctx, ev.Tenant, seed.Accounts)
		}
		payload = ""
	}
	if err != nil {
		return fmt.Errorf("%s: event %s: %w", m.spec.ID, ev.Kind, err)
	}
	return m.In(ctx, ev.Tenant, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&Event{TenantID: ev.Tenant.ID, ID: ev.ID, Kind: ev.Kind, Payload: payload, ReceivedAt: time.Now().UTC()}).
			ModelTableExpr(m.eventsTable()).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
}

// Events lists the core events the module remembers for a tenant, oldest first.
func (m *Module) Events(ctx context.Context, t sdk.Tenant) ([]Event, error) {
	var out []Event
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&out).ModelTableExpr(m.eventsTable()).Order("received_at").Scan(ctx)
	})
	return out, err
}

// ExportFiles is the key of an Export's map under which the module lists the files of the
// person's archive ([]sdk.Blob): the host writes each beside the module's JSON.
const ExportFiles = host.ExportFiles

// ExportUser returns what the module holds of a user: what the module's Export gives, and
// the events that named him.
func (m *Module) ExportUser(ctx context.Context, t sdk.Tenant, userID string) ([]byte, error) {
	out := map[string]any{"module": m.spec.ID}
	if m.spec.Export != nil {
		more, err := m.spec.Export(ctx, t, userID)
		if err != nil {
			return nil, err
		}
		for k, v := range more {
			out[k] = v
		}
	}
	if m.Store != nil {
		evs := []Event{}
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&evs).ModelTableExpr(m.eventsTable()).Where("payload = ?", userID).Order("received_at").Scan(ctx)
		})
		if err != nil {
			return nil, err
		}
		out["events"] = evs
	}
	return json.Marshal(out)
}

var landing = template.Must(template.New("landing").Parse(`<h1>{{.Title}}</h1>
<p>{{.T .Data.Summary}}</p>
<p>{{.T .Data.Intro}}</p>
{{with .Data.Roles}}<p>{{$.T "module.your_roles"}} {{range $i, $r := .}}{{if $i}}, {{end}}<strong>{{$.T $r}}</strong>{{end}}</p>{{end}}
`))

// Landing is a module's home page while it has no other: what it offers, in the request's
// language, and the roles the signed-in user holds in it.
func Landing(c *Ctx) error {
	m := c.m
	v := c.View("module." + m.spec.ID + ".name")
	v.Data["Summary"], v.Data["Intro"] = "module."+m.spec.ID+".summary", "module."+m.spec.ID+".intro"
	var roles []string
	for _, r := range m.spec.Roles {
		if c.User().HasRole(r.ID) {
			roles = append(roles, RoleMessage(m.spec.ID, r))
		}
	}
	v.Data["Roles"] = roles
	var b bytes.Buffer
	if err := landing.Execute(&b, v); err != nil {
		return err
	}
	return c.fragment(http.StatusOK, v.Title, b.Bytes())
}

// RoleMessage is the message id of a module role's name: "role.<module>.<role>", or
// "role.<role>" for a role the module shares.
func RoleMessage(module string, r sdk.Role) string {
	if r.Shared {
		return "role." + r.ID
	}
	return "role." + module + "." + r.ID
}
