// Package sdktest runs a module in the test's own process over a real gRPC connection
// (go-plugin's TestPluginGRPCConn), with a fake host behind the HostAPI that records what
// the module asked for; and gives tests a module made of functions. Module tests and the
// host's tests use it; it imports nothing of the core.
package sdktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// Module is a module made of functions (a probe in the host's tests). A nil Handler answers
// 404; nil Jobs and Events do nothing; it holds nothing of anyone.
type Module struct {
	Man     sdk.Manifest
	Handler func(ctx context.Context, req *sdk.Request) (*sdk.Response, error)
	Jobs    func(ctx context.Context, job *sdk.Job) error
	Events  func(ctx context.Context, ev *sdk.Event) error
}

// Init does nothing: a function module has no database.
func (m *Module) Init(context.Context, sdk.Env) error { return nil }

// Manifest returns Man.
func (m *Module) Manifest() sdk.Manifest { return m.Man }

// Handle calls Handler.
func (m *Module) Handle(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if m.Handler == nil {
		return &sdk.Response{Status: http.StatusNotFound}, nil
	}
	return m.Handler(ctx, req)
}

// RunJob calls Jobs.
func (m *Module) RunJob(ctx context.Context, job *sdk.Job) error {
	if m.Jobs == nil {
		return nil
	}
	return m.Jobs(ctx, job)
}

// OnEvent calls Events.
func (m *Module) OnEvent(ctx context.Context, ev *sdk.Event) error {
	if m.Events == nil {
		return nil
	}
	return m.Events(ctx, ev)
}

// ExportUser holds nothing.
func (m *Module) ExportUser(context.Context, sdk.Tenant, string) ([]byte, error) {
	return []byte("{}"), nil
}

// Harness is a module served in-process.
type Harness struct {
	Client   *host.Client
	Host     *FakeHost
	Manifest *sdk.Manifest
	// Env is what the module was started with.
	Env sdk.Env
}

// New serves m in-process, initialises it with env and reads its manifest.
func New(t testing.TB, m sdk.Module, env sdk.Env) *Harness {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{host.PluginName: &host.Plugin{Impl: m}})
	t.Cleanup(func() { client.Close(); server.Stop() })
	raw, err := client.Dispense(host.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	mc := raw.(*host.Client)
	fake := NewFakeHost()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mc.Init(ctx, fake.Services(), env); err != nil {
		t.Fatal(err)
	}
	man, err := mc.Manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{Client: mc, Host: fake, Manifest: man, Env: env}
}

func (h *Harness) withRules(tenant sdk.Tenant) sdk.Tenant {
	if tenant.Rules == nil {
		tenant.Rules, _ = h.Manifest.ValidateRules(nil)
	}
	return tenant
}

// Do sends one request as user (nil: anonymous) of tenant, with a fresh call scope; a POST
// body is a form.
func (h *Harness) Do(ctx context.Context, tenant sdk.Tenant, user *sdk.User, method, path string, body []byte) (*sdk.Response, error) {
	hdr := http.Header{}
	if method == http.MethodPost {
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return h.Send(ctx, tenant, user, &sdk.Request{Method: method, Path: path, Header: hdr, Body: body})
}

// Send sends req as user, or as the API client req names (ClientID), of tenant, with a
// fresh call scope; the query is taken from a path with "?". The request carries a CSRF
// token, as the core's do.
func (h *Harness) Send(ctx context.Context, tenant sdk.Tenant, user *sdk.User, req *sdk.Request) (*sdk.Response, error) {
	tenant = h.withRules(tenant)
	call := h.Host.Open(tenant, user, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	if req.ClientID != "" {
		h.Host.mu.Lock()
		sc := h.Host.calls[call.Token]
		sc.ClientID = req.ClientID
		h.Host.calls[call.Token] = sc
		h.Host.mu.Unlock()
		call.ClientID, call.ClientName = req.ClientID, req.ClientName
	}
	if i := strings.IndexByte(req.Path, '?'); i >= 0 {
		req.Path, req.Query = req.Path[:i], req.Path[i+1:]
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.CSRF == "" && req.ClientID == "" {
		req.CSRF = "csrf-" + call.Token[:8]
	}
	req.Tenant, req.User, req.RequestID = tenant, user, call.RequestID
	return h.Client.Handle(ctx, call, req)
}

// Event delivers a core event with a fresh id to the module, in a fresh call scope of tenant.
func (h *Harness) Event(ctx context.Context, tenant sdk.Tenant, kind string, payload []byte) error {
	return h.Deliver(ctx, tenant, sdk.Event{ID: newToken()[:16], Kind: kind, Payload: payload})
}

// Deliver delivers ev (with its id: delivering it again is a redelivery) to the module.
func (h *Harness) Deliver(ctx context.Context, tenant sdk.Tenant, ev sdk.Event) error {
	tenant = h.withRules(tenant)
	call := h.Host.Open(tenant, nil, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	ev.Tenant = tenant
	return h.Client.OnEvent(ctx, call, &ev)
}

// Job runs a job of the module, in a fresh call scope of tenant.
func (h *Harness) Job(ctx context.Context, tenant sdk.Tenant, name string, payload []byte) error {
	tenant = h.withRules(tenant)
	call := h.Host.Open(tenant, nil, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	return h.Client.RunJob(ctx, call, &sdk.Job{ID: "job-" + call.Token[:8], Name: name, Payload: payload, Tenant: tenant})
}

// Export asks the module for what it holds of a user of tenant (P11), in a fresh call scope,
// as the host does for a person's data export.
func (h *Harness) Export(ctx context.Context, tenant sdk.Tenant, userID string) ([]byte, error) {
	tenant = h.withRules(tenant)
	call := h.Host.Open(tenant, nil, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	return h.Client.ExportUser(ctx, call, userID)
}

// Scoped is something the module asked for, with the scope it was asked in.
type Scoped[T any] struct {
	Scope host.Scope
	Value T
}

// FakeHost implements the HostAPI in memory and records every call.
type FakeHost struct {
	mu       sync.Mutex
	calls    map[string]host.Scope
	Users    map[string][]sdk.User // by tenant id
	Audits   []Scoped[sdk.AuditRecord]
	Messages []Scoped[sdk.Message]
	Jobs     []Scoped[sdk.Job]
	Blobs    map[string]Scoped[sdk.Blob]
	// Secrets are the users' secret answers (by user id), compared case-insensitively.
	Secrets    map[string]string
	RoleSets   []Scoped[[3]string] // user, role, "on"/"off"
	Complaints []Scoped[sdk.Complaint]
	// Dependants are the people each user represents, by tenant id then user id; the fake
	// returns them as they are (Represented as the test sets it).
	Dependants map[string]map[string][]sdk.Dependant
	// TermsBodies is the full text (Markdown) by locale of every terms document the fake
	// serves (sdk.Terms.Bodies); nil serves a short text of its own in fr, pl and sk.
	TermsBodies map[string]string
	// Invites are the accounts modules opened (Host.Invite), in order.
	Invites []Scoped[[4]string] // email, name, locale, role
}

// NewFakeHost returns an empty fake host.
func NewFakeHost() *FakeHost {
	return &FakeHost{calls: map[string]host.Scope{}, Users: map[string][]sdk.User{}, Blobs: map[string]Scoped[sdk.Blob]{}, Secrets: map[string]string{},
		Dependants: map[string]map[string][]sdk.Dependant{}}
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Open starts a call scope for tenant and user and returns the call to send.
func (f *FakeHost) Open(tenant sdk.Tenant, user *sdk.User, module string) host.Call {
	tok := newToken()
	sc := host.Scope{TenantID: tenant.ID, ModuleID: module, RequestID: "req-" + tok[:8]}
	if user != nil {
		sc.UserID = user.ID
	}
	f.mu.Lock()
	f.calls[tok] = sc
	f.mu.Unlock()
	return host.Call{Token: tok, RequestID: sc.RequestID, Tenant: tenant, User: user}
}

// Close ends a call scope: HostAPI calls with its token are refused from then on.
func (f *FakeHost) Close(token string) {
	f.mu.Lock()
	delete(f.calls, token)
	f.mu.Unlock()
}

// Services returns the fake host's HostAPI implementation.
func (f *FakeHost) Services() host.Services {
	return host.Services{
		Resolve: func(ctx context.Context, tok string) (context.Context, host.Scope, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			sc, ok := f.calls[tok]
			return ctx, sc, ok
		},
		Terms: fakeTerms{f}, Users: fakeUsers{f}, Audit: fakeAudit{f}, Messages: fakeMessages{f}, Jobs: fakeJobs{f}, Blobs: fakeBlobs{f},
		Complaints: fakeComplaints{f},
	}
}

type fakeUsers struct{ f *FakeHost }

func (u fakeUsers) Lookup(_ context.Context, sc host.Scope, id, email string) (*sdk.User, error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	for _, x := range u.f.Users[sc.TenantID] {
		if (id != "" && x.ID == id) || (email != "" && x.Email == email) {
			x := x
			return &x, nil
		}
	}
	return nil, errors.New("no such user in this tenant")
}

func (u fakeUsers) CheckSecret(_ context.Context, sc host.Scope, userID, answer string) (bool, bool, error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	want, ok := u.f.Secrets[userID]
	return ok && strings.EqualFold(strings.TrimSpace(answer), want), ok, nil
}

func (u fakeUsers) SetRole(_ context.Context, sc host.Scope, userID, role string, on bool) error {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	state := "off"
	if on {
		state = "on"
	}
	u.f.RoleSets = append(u.f.RoleSets, Scoped[[3]string]{sc, [3]string{userID, role, state}})
	for i, x := range u.f.Users[sc.TenantID] {
		if x.ID != userID {
			continue
		}
		var roles []string
		for _, r := range x.Roles {
			if r != role {
				roles = append(roles, r)
			}
		}
		if on {
			roles = append(roles, role)
		}
		u.f.Users[sc.TenantID][i].Roles = roles
		return nil
	}
	return errors.New("no such user in this tenant")
}

// Invite finds the tenant's user of the e-mail (giving it the role), or adds one with the
// id "invited-<n>"; it records the invitation.
func (u fakeUsers) Invite(_ context.Context, sc host.Scope, email, name, locale, role string) (*sdk.User, bool, error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") {
		return nil, false, errors.New("users: no valid e-mail address")
	}
	u.f.Invites = append(u.f.Invites, Scoped[[4]string]{sc, [4]string{email, name, locale, role}})
	for i, x := range u.f.Users[sc.TenantID] {
		if x.Email == email {
			if role != "" && !slices.Contains(x.Roles, role) {
				u.f.Users[sc.TenantID][i].Roles = append(u.f.Users[sc.TenantID][i].Roles, role)
			}
			x := u.f.Users[sc.TenantID][i]
			return &x, false, nil
		}
	}
	nu := sdk.User{ID: fmt.Sprintf("invited-%d", len(u.f.Invites)), Email: email, Name: name, Locale: locale, Roles: []string{"user"}}
	if role != "" {
		nu.Roles = append(nu.Roles, role)
	}
	u.f.Users[sc.TenantID] = append(u.f.Users[sc.TenantID], nu)
	return &nu, true, nil
}

func (u fakeUsers) Dependants(_ context.Context, sc host.Scope, userID string) ([]sdk.Dependant, error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	return append([]sdk.Dependant(nil), u.f.Dependants[sc.TenantID][userID]...), nil
}

type fakeAudit struct{ f *FakeHost }

func (a fakeAudit) List(_ context.Context, sc host.Scope, subject string, limit int) ([]sdk.AuditRecord, error) {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	var out []sdk.AuditRecord
	for i := len(a.f.Audits) - 1; i >= 0 && len(out) < limit; i-- {
		x := a.f.Audits[i]
		if x.Scope.TenantID != sc.TenantID || x.Scope.ModuleID != sc.ModuleID || x.Value.Subject != subject {
			continue
		}
		e := sdk.AuditRecord{Action: x.Value.Action, Subject: subject, Resource: x.Value.Resource, Detail: x.Value.Detail,
			ActorID: x.Scope.UserID, ActorKind: "user"}
		switch {
		case x.Scope.ClientID != "":
			e.ActorID, e.ActorKind = x.Scope.ClientID, "client"
		case x.Scope.UserID == "":
			e.ActorKind = "system"
		}
		for _, u := range a.f.Users[sc.TenantID] {
			if u.ID == e.ActorID {
				e.ActorName, e.ActorRoles = u.Name, u.Roles
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func (a fakeAudit) Record(_ context.Context, sc host.Scope, r sdk.AuditRecord) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.f.Audits = append(a.f.Audits, Scoped[sdk.AuditRecord]{sc, r})
	return nil
}

type fakeMessages struct{ f *FakeHost }

func (m fakeMessages) Send(_ context.Context, sc host.Scope, msg sdk.Message) (string, error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.Messages = append(m.f.Messages, Scoped[sdk.Message]{sc, msg})
	return fmt.Sprintf("msg-%d", len(m.f.Messages)), nil
}

type fakeJobs struct{ f *FakeHost }

func (j fakeJobs) Schedule(_ context.Context, sc host.Scope, job sdk.Job) (string, error) {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	for i, x := range j.f.Jobs {
		if x.Scope.TenantID == sc.TenantID && x.Value.Key == job.Key {
			return fmt.Sprintf("job-%d", i+1), nil
		}
	}
	j.f.Jobs = append(j.f.Jobs, Scoped[sdk.Job]{sc, job})
	return fmt.Sprintf("job-%d", len(j.f.Jobs)), nil
}

func (j fakeJobs) Cancel(_ context.Context, sc host.Scope, key string) error {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	for i, x := range j.f.Jobs {
		if x.Scope.TenantID == sc.TenantID && x.Value.Key == key {
			j.f.Jobs = append(j.f.Jobs[:i], j.f.Jobs[i+1:]...)
			return nil
		}
	}
	return nil
}

type fakeBlobs struct{ f *FakeHost }

func (b fakeBlobs) Put(_ context.Context, sc host.Scope, blob sdk.Blob) (string, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	id := "blob-" + newToken()[:12]
	b.f.Blobs[id] = Scoped[sdk.Blob]{sc, blob}
	return id, nil
}

func (b fakeBlobs) Get(_ context.Context, sc host.Scope, id string) (*sdk.Blob, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	x, ok := b.f.Blobs[id]
	if !ok || x.Scope.TenantID != sc.TenantID || x.Scope.ModuleID != sc.ModuleID {
		return nil, errors.New("no such blob")
	}
	return &x.Value, nil
}

func (b fakeBlobs) Delete(_ context.Context, sc host.Scope, id string) error {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	if x, ok := b.f.Blobs[id]; ok && x.Scope.TenantID == sc.TenantID && x.Scope.ModuleID == sc.ModuleID {
		delete(b.f.Blobs, id)
	}
	return nil
}

type fakeComplaints struct{ f *FakeHost }

func (c fakeComplaints) Lodge(_ context.Context, sc host.Scope, d sdk.Complaint) (*sdk.Complaint, error) {
	if strings.TrimSpace(d.Body) == "" {
		return nil, sdk.FieldErrors{"body": "form.required"}
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.Complaints = append(c.f.Complaints, Scoped[sdk.Complaint]{sc, d})
	d.ID, d.Reference = fmt.Sprintf("cp-%d", len(c.f.Complaints)), fmt.Sprintf("C-%d", len(c.f.Complaints))
	return &d, nil
}

type fakeTerms struct{ f *FakeHost }

// fakeTermsBodies is what the fake serves as a document's full text when the test set none.
var fakeTermsBodies = map[string]string{
	"fr": "# Conditions générales\n\nLe contrat est conclu au paiement.",
	"pl": "# Ogólne warunki\n\nUmowa zostaje zawarta z chwilą zapłaty.",
	"sk": "# Obchodné podmienky\n\nZmluva je uzavretá zaplatením.",
}

func (t fakeTerms) Current(_ context.Context, sc host.Scope, doc string) (*sdk.Terms, error) {
	if doc == "" {
		doc = sc.ModuleID
	}
	t.f.mu.Lock()
	src := t.f.TermsBodies
	t.f.mu.Unlock()
	if src == nil {
		src = fakeTermsBodies
	}
	bodies := make(map[string]string, len(src))
	for l, b := range src {
		bodies[l] = b
	}
	return &sdk.Terms{VersionID: "v1-" + doc, Doc: doc, Version: 1, Title: "Terms " + doc, Bodies: bodies}, nil
}

func (fakeTerms) Accepted(_ context.Context, sc host.Scope, doc, userID string) (*sdk.Terms, error) {
	return &sdk.Terms{VersionID: "v1", Version: 1}, nil
}

func (fakeTerms) Accept(_ context.Context, sc host.Scope, doc, userID string) (*sdk.Terms, error) {
	return &sdk.Terms{Accepted: true, VersionID: "v1", Version: 1, AcceptedAt: time.Now()}, nil
}
