// Package modbase is the common frame of the platform's modules: it opens the module's own
// database and runs its migrations at start, routes with a net/http ServeMux, translates
// with the shared message files, and records the core events it receives (so that handling
// one twice is harmless). It holds no state of any module beyond what each module gives it.
package modbase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Module is a module built on the common frame. Fill Man and register routes on Mux.
type Module struct {
	sdk.Base
	Mux        *http.ServeMux
	DB         *bun.DB
	Msgs       *locales.Bundle
	migrations fs.FS
}

// New returns a module with manifest man whose migrations are in fsys (migrations/<kind>/)
// and whose events are recorded in the table "<id>_events" the migrations create.
func New(man sdk.Manifest, migrations fs.FS) *Module {
	m := &Module{Mux: http.NewServeMux(), migrations: migrations}
	m.Man = man
	m.Handler = sdk.HTTPHandler(m.Mux)
	m.Events = m.recordEvent
	msgs, err := locales.Load()
	if err != nil {
		panic(err) // the embedded files are checked by tests; this cannot fail at run time
	}
	m.Msgs = msgs
	return m
}

// Init opens the module's database and runs its migrations.
func (m *Module) Init(ctx context.Context, env sdk.Env) error {
	if env.DSN == "" {
		return errors.New("no database given")
	}
	db, err := store.Open(ctx, m.Man.ID, env, m.migrations)
	if err != nil {
		return err
	}
	m.DB = db
	return nil
}

// Event is a core event as the module recorded it.
type Event struct {
	bun.BaseModel `bun:"alias:ev"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	Kind       string    `bun:"kind"`
	Payload    string    `bun:"payload"`
	ReceivedAt time.Time `bun:"received_at"`
}

func (m *Module) eventsTable() string { return m.Man.ID + "_events" }

func (m *Module) recordEvent(ctx context.Context, ev *sdk.Event) error {
	if m.DB == nil {
		return errors.New("module not initialised")
	}
	if ev.Kind == sdk.EventUserDeleted {
		// Erasure (P11): nothing of the person stays, not even the record of this event.
		_, err := m.DB.NewDelete().TableExpr(m.eventsTable()).Where("tenant_id = ? AND payload = ?", ev.Tenant.ID, string(ev.Payload)).Exec(ctx)
		return err
	}
	e := &Event{TenantID: ev.Tenant.ID, ID: uuid.Must(uuid.NewV7()).String(), Kind: ev.Kind, Payload: string(ev.Payload), ReceivedAt: time.Now().UTC()}
	_, err := m.DB.NewInsert().Model(e).ModelTableExpr(m.eventsTable() + " AS ev").Exec(ctx)
	return err
}

// RecordedEvents lists the events recorded for a tenant, oldest first.
func (m *Module) RecordedEvents(ctx context.Context, tenantID string) ([]Event, error) {
	var out []Event
	err := m.DB.NewSelect().Model(&out).ModelTableExpr(m.eventsTable()+" AS ev").
		Where("tenant_id = ?", tenantID).Order("received_at").Scan(ctx)
	return out, err
}

// ExportUser returns what the module holds of a user: the events that named him.
func (m *Module) ExportUser(ctx context.Context, t sdk.Tenant, userID string) ([]byte, error) {
	var evs []Event
	err := m.DB.NewSelect().Model(&evs).ModelTableExpr(m.eventsTable()+" AS ev").
		Where("tenant_id = ? AND payload = ?", t.ID, userID).Order("received_at").Scan(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"module": m.Man.ID, "events": evs})
}

// T translates a message id in the request's language.
func (m *Module) T(req *sdk.Request, id string, kv ...any) string {
	return m.Msgs.For(req.Tenant.Locale).T(id, kv...)
}

// Page writes an HTML fragment for the tenant's layout with title.
func Page(w http.ResponseWriter, status int, title string, body template.HTML) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set(sdk.FragmentHeader, title)
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

var landing = template.Must(template.New("landing").Parse(`<h1>{{.Title}}</h1>
<p>{{.Summary}}</p>
<p>{{.Intro}}</p>
{{with .Roles}}<p>{{$.RolesLabel}} {{range $i, $r := .}}{{if $i}}, {{end}}<strong>{{$r}}</strong>{{end}}</p>{{end}}
`))

// Landing answers the module's home page: what the module offers, in the request's
// language, and the roles the signed-in user holds in it.
func (m *Module) Landing(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	id := m.Man.ID
	var roles []string
	if req.User != nil {
		for _, role := range m.Man.Roles {
			if req.User.HasRole(role.ID) {
				roles = append(roles, m.T(req, "role."+role.ID))
			}
		}
	}
	var b strings.Builder
	title := m.T(req, "module."+id+".name")
	err := landing.Execute(&b, map[string]any{"Title": title, "Summary": m.T(req, "module."+id+".summary"),
		"Intro": m.T(req, "module."+id+".intro"), "Roles": roles, "RolesLabel": m.T(req, "module.your_roles")})
	if err != nil {
		Page(w, http.StatusInternalServerError, title, template.HTML("<p>"+template.HTMLEscapeString(m.T(req, "error.generic.text"))+"</p>"))
		return
	}
	Page(w, http.StatusOK, title, template.HTML(b.String()))
}
