// Package sdktest runs a module in the test's own process over a real gRPC connection
// (go-plugin's TestPluginGRPCConn), with a fake host behind the HostAPI that records what
// the module asked for. Module tests use it; it imports nothing of the core.
package sdktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"carenet.dev/platform/plugins/sdk"
)

// Harness is a module served in-process.
type Harness struct {
	Client   *sdk.ModuleClient
	Host     *FakeHost
	Manifest *sdk.Manifest
}

// New serves m in-process, initialises it with env and reads its manifest.
func New(t testing.TB, m sdk.Module, env sdk.Env) *Harness {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Impl: m}})
	t.Cleanup(func() { client.Close(); server.Stop() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	mc := raw.(*sdk.ModuleClient)
	host := NewFakeHost()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mc.Init(ctx, host.Services(), env); err != nil {
		t.Fatal(err)
	}
	man, err := mc.Manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{Client: mc, Host: host, Manifest: man}
}

// Do sends one request as user (nil: anonymous) of tenant, with a fresh call scope.
func (h *Harness) Do(ctx context.Context, tenant sdk.Tenant, user *sdk.User, method, path string, body []byte) (*sdk.Response, error) {
	if tenant.Rules == nil {
		rules, err := h.Manifest.ValidateRules(nil)
		if err != nil {
			return nil, err
		}
		tenant.Rules = rules
	}
	hdr := http.Header{}
	if method == http.MethodPost {
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return h.Send(ctx, tenant, user, nil, &sdk.Request{Method: method, Path: path, Header: hdr, Body: body})
}

// Send sends req as user or as the API client (both nil: anonymous) of tenant, with a fresh
// call scope; the query is taken from a path with "?".
func (h *Harness) Send(ctx context.Context, tenant sdk.Tenant, user *sdk.User, client *sdk.Client, req *sdk.Request) (*sdk.Response, error) {
	if tenant.Rules == nil {
		rules, err := h.Manifest.ValidateRules(nil)
		if err != nil {
			return nil, err
		}
		tenant.Rules = rules
	}
	call := h.Host.Open(tenant, user, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	if client != nil {
		h.Host.mu.Lock()
		sc := h.Host.calls[call.Token]
		sc.ClientID = client.ID
		h.Host.calls[call.Token] = sc
		h.Host.mu.Unlock()
		call.Client = client
	}
	if i := strings.IndexByte(req.Path, '?'); i >= 0 {
		req.Path, req.Query = req.Path[:i], req.Path[i+1:]
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Tenant, req.User, req.Client, req.RequestID = tenant, user, client, call.RequestID
	return h.Client.Handle(ctx, call, req)
}

// Event delivers a core event to the module, in a fresh call scope of tenant.
func (h *Harness) Event(ctx context.Context, tenant sdk.Tenant, kind string, payload []byte) error {
	if tenant.Rules == nil {
		tenant.Rules, _ = h.Manifest.ValidateRules(nil)
	}
	call := h.Host.Open(tenant, nil, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	return h.Client.OnEvent(ctx, call, &sdk.Event{Kind: kind, Payload: payload, Tenant: tenant})
}

// Job runs a job of the module, in a fresh call scope of tenant.
func (h *Harness) Job(ctx context.Context, tenant sdk.Tenant, name string, payload []byte) error {
	if tenant.Rules == nil {
		tenant.Rules, _ = h.Manifest.ValidateRules(nil)
	}
	call := h.Host.Open(tenant, nil, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	return h.Client.RunJob(ctx, call, &sdk.Job{ID: "job-" + call.Token[:8], Name: name, Payload: payload, Tenant: tenant})
}

// Scoped is something the module asked for, with the scope it was asked in.
type Scoped[T any] struct {
	Scope sdk.Scope
	Value T
}

// FakeHost implements the HostAPI in memory and records every call.
type FakeHost struct {
	mu       sync.Mutex
	calls    map[string]sdk.Scope
	Users    map[string][]sdk.User // by tenant id
	Audits   []Scoped[sdk.AuditRecord]
	Messages []Scoped[sdk.Message]
	Jobs     []Scoped[sdk.JobSpec]
	Blobs    map[string]Scoped[sdk.Blob]
	// Secrets are the users' secret answers (by user id), compared case-insensitively.
	Secrets    map[string]string
	RoleSets   []Scoped[[3]string] // user, role, "on"/"off"
	Complaints []Scoped[sdk.ComplaintDraft]
}

// NewFakeHost returns an empty fake host.
func NewFakeHost() *FakeHost {
	return &FakeHost{calls: map[string]sdk.Scope{}, Users: map[string][]sdk.User{}, Blobs: map[string]Scoped[sdk.Blob]{}, Secrets: map[string]string{}}
}

// Open starts a call scope for tenant and user and returns the call to send.
func (f *FakeHost) Open(tenant sdk.Tenant, user *sdk.User, module string) sdk.Call {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	sc := sdk.Scope{TenantID: tenant.ID, ModuleID: module, RequestID: "req-" + tok[:8]}
	if user != nil {
		sc.UserID = user.ID
	}
	f.mu.Lock()
	f.calls[tok] = sc
	f.mu.Unlock()
	return sdk.Call{Token: tok, RequestID: sc.RequestID, Tenant: tenant, User: user}
}

// Close ends a call scope: HostAPI calls with its token are refused from then on.
func (f *FakeHost) Close(token string) {
	f.mu.Lock()
	delete(f.calls, token)
	f.mu.Unlock()
}

// Services returns the fake host's HostAPI implementation.
func (f *FakeHost) Services() sdk.HostServices {
	return sdk.HostServices{
		Resolve: func(tok string) (sdk.Scope, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			sc, ok := f.calls[tok]
			return sc, ok
		},
		Terms: fakeTerms{}, Users: fakeUsers{f}, Audit: fakeAudit{f}, Messages: fakeMessages{f}, Jobs: fakeJobs{f}, Blobs: fakeBlobs{f},
		Complaints: fakeComplaints{f},
	}
}

type fakeUsers struct{ f *FakeHost }

func (u fakeUsers) Lookup(_ context.Context, sc sdk.Scope, id, email string) (*sdk.User, error) {
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

func (u fakeUsers) CheckSecret(_ context.Context, sc sdk.Scope, userID, answer string) (bool, bool, error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	want, ok := u.f.Secrets[userID]
	return ok && strings.EqualFold(strings.TrimSpace(answer), want), ok, nil
}

func (u fakeUsers) SetRole(_ context.Context, sc sdk.Scope, userID, role string, on bool) error {
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

type fakeAudit struct{ f *FakeHost }

func (a fakeAudit) List(_ context.Context, sc sdk.Scope, subject string, limit int) ([]sdk.AuditEntry, error) {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	var out []sdk.AuditEntry
	for i := len(a.f.Audits) - 1; i >= 0 && len(out) < limit; i-- {
		x := a.f.Audits[i]
		if x.Scope.TenantID != sc.TenantID || x.Scope.ModuleID != sc.ModuleID || x.Value.Subject != subject {
			continue
		}
		e := sdk.AuditEntry{Action: x.Value.Action, Resource: x.Value.Resource, ActorID: x.Scope.UserID, ActorKind: "user"}
		if x.Scope.ClientID != "" {
			e.ActorID, e.ActorKind = x.Scope.ClientID, "client"
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

func (a fakeAudit) Record(_ context.Context, sc sdk.Scope, r sdk.AuditRecord) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.f.Audits = append(a.f.Audits, Scoped[sdk.AuditRecord]{sc, r})
	return nil
}

type fakeMessages struct{ f *FakeHost }

func (m fakeMessages) Send(_ context.Context, sc sdk.Scope, msg sdk.Message) (string, error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.Messages = append(m.f.Messages, Scoped[sdk.Message]{sc, msg})
	return fmt.Sprintf("msg-%d", len(m.f.Messages)), nil
}

type fakeJobs struct{ f *FakeHost }

func (j fakeJobs) Schedule(_ context.Context, sc sdk.Scope, spec sdk.JobSpec) (string, error) {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	for i, x := range j.f.Jobs {
		if x.Scope.TenantID == sc.TenantID && x.Value.IdempotencyKey == spec.IdempotencyKey {
			return fmt.Sprintf("job-%d", i+1), nil
		}
	}
	j.f.Jobs = append(j.f.Jobs, Scoped[sdk.JobSpec]{sc, spec})
	return fmt.Sprintf("job-%d", len(j.f.Jobs)), nil
}

func (j fakeJobs) Cancel(_ context.Context, sc sdk.Scope, key string) error {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	for i, x := range j.f.Jobs {
		if x.Scope.TenantID == sc.TenantID && x.Value.IdempotencyKey == key {
			j.f.Jobs = append(j.f.Jobs[:i], j.f.Jobs[i+1:]...)
			return nil
		}
	}
	return nil
}

type fakeBlobs struct{ f *FakeHost }

func (b fakeBlobs) Put(_ context.Context, sc sdk.Scope, blob sdk.Blob) (string, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	id := fmt.Sprintf("blob-%d", len(b.f.Blobs)+1)
	b.f.Blobs[id] = Scoped[sdk.Blob]{sc, blob}
	return id, nil
}

func (b fakeBlobs) Get(_ context.Context, sc sdk.Scope, id string) (*sdk.Blob, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	x, ok := b.f.Blobs[id]
	if !ok || x.Scope.TenantID != sc.TenantID || x.Scope.ModuleID != sc.ModuleID {
		return nil, errors.New("no such blob")
	}
	return &x.Value, nil
}

func (b fakeBlobs) Delete(_ context.Context, sc sdk.Scope, id string) error {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	if x, ok := b.f.Blobs[id]; ok && x.Scope.TenantID == sc.TenantID && x.Scope.ModuleID == sc.ModuleID {
		delete(b.f.Blobs, id)
	}
	return nil
}

type fakeComplaints struct{ f *FakeHost }

func (c fakeComplaints) Lodge(_ context.Context, sc sdk.Scope, d sdk.ComplaintDraft) (*sdk.ComplaintReceipt, error) {
	if strings.TrimSpace(d.Body) == "" {
		return nil, sdk.FieldErrors{"body": "form.required"}
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.Complaints = append(c.f.Complaints, Scoped[sdk.ComplaintDraft]{sc, d})
	return &sdk.ComplaintReceipt{ID: fmt.Sprintf("cp-%d", len(c.f.Complaints)), Reference: fmt.Sprintf("C-%d", len(c.f.Complaints)), Due: d.Due}, nil
}

type fakeTerms struct{}

func (fakeTerms) Current(_ context.Context, sc sdk.Scope, doc string) (*sdk.TermsVersion, error) {
	if doc == "" {
		doc = sc.ModuleID
	}
	return &sdk.TermsVersion{ID: "v1-" + doc, Doc: doc, Version: 1, Title: "Terms " + doc}, nil
}

func (fakeTerms) Accepted(_ context.Context, sc sdk.Scope, doc, userID string) (*sdk.TermsAcceptance, error) {
	return &sdk.TermsAcceptance{VersionID: "v1", Version: 1}, nil
}

func (fakeTerms) Accept(_ context.Context, sc sdk.Scope, doc, userID string) (*sdk.TermsAcceptance, error) {
	return &sdk.TermsAcceptance{Accepted: true, VersionID: "v1", Version: 1, At: time.Now()}, nil
}
