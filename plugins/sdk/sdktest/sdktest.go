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
	call := h.Host.Open(tenant, user, h.Manifest.ID)
	defer h.Host.Close(call.Token)
	req := &sdk.Request{Method: method, Path: path, Header: http.Header{}, Body: body, Tenant: tenant, User: user, RequestID: call.RequestID}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return h.Client.Handle(ctx, call, req)
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
}

// NewFakeHost returns an empty fake host.
func NewFakeHost() *FakeHost {
	return &FakeHost{calls: map[string]sdk.Scope{}, Users: map[string][]sdk.User{}, Blobs: map[string]Scoped[sdk.Blob]{}}
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

type fakeAudit struct{ f *FakeHost }

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
