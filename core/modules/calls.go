package modules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// ErrUnavailable is returned for a call to a module that is not running.
var ErrUnavailable = pluginhost.ErrUnavailable

// calls are the scopes of the calls in flight: a module's HostAPI call carries the token of
// the host's call it serves, and acts on that call's tenant, user and request, nothing else.
type calls struct {
	mu sync.Mutex
	m  map[string]*scope
}

// scope is a call in flight: what its HostAPI calls act on, and the tenant the core already
// resolved for it (a HostAPI call does not read it again).
type scope struct {
	host.Scope
	tenant *tenancy.Tenant
	until  time.Time
}

func (c *calls) open(sc *scope) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*scope{}
	}
	c.m[tok] = sc
	c.mu.Unlock()
	return tok
}

func (c *calls) close(tok string) {
	c.mu.Lock()
	delete(c.m, tok)
	c.mu.Unlock()
}

type tenantKey struct{}

// resolve maps a call token to its scope, and puts the call's tenant in ctx.
func (s *Service) resolve(ctx context.Context, tok string) (context.Context, host.Scope, bool) {
	s.calls.mu.Lock()
	sc, ok := s.calls.m[tok]
	s.calls.mu.Unlock()
	if !ok || time.Now().After(sc.until) {
		return ctx, host.Scope{}, false
	}
	return context.WithValue(ctx, tenantKey{}, sc.tenant), sc.Scope, true
}

// tenantOf is the tenant of a HostAPI call: the one its host call resolved.
func (s *Service) tenantOf(ctx context.Context, sc host.Scope) (*tenancy.Tenant, error) {
	if t, ok := ctx.Value(tenantKey{}).(*tenancy.Tenant); ok && t != nil && t.ID == sc.TenantID {
		return t, nil
	}
	return s.Tenants.ByID(ctx, sc.TenantID)
}

// Caller is who a call is made for: a signed-in user (with his roles in the tenant), an API
// key, or nobody (a job, an event), with the request's language, portal and path prefix.
type Caller struct {
	User                 *accounts.User
	Roles                []string
	ClientID, ClientName string
	RequestID, IP        string
	Lang, Portal, Base   string
}

// call runs fn with a call of module id for tenant t, whose HostAPI calls act in that scope.
func (s *Service) call(t *tenancy.Tenant, id string, who Caller, fn func(call host.Call, man *sdk.Manifest) error) error {
	if s.host == nil {
		return ErrUnavailable
	}
	man := s.Manifest(id)
	if man == nil {
		return ErrUnavailable
	}
	sc := &scope{Scope: host.Scope{TenantID: t.ID, ModuleID: id, RequestID: who.RequestID, IP: who.IP, ClientID: who.ClientID},
		tenant: t, until: time.Now().Add(s.host.CallTimeout() + time.Second)}
	call := host.Call{RequestID: who.RequestID, Tenant: s.Tenant(t, id, man, who.Lang, who.Portal, who.Base),
		ClientID: who.ClientID, ClientName: who.ClientName}
	if who.User != nil && who.ClientID == "" {
		sc.UserID = who.User.ID
		call.User = s.User(who.User, who.Roles, id)
	}
	call.Token = s.calls.open(sc)
	defer s.calls.close(call.Token)
	return fn(call, man)
}

// Forward passes a request to module id: req carries the method, path, query, headers,
// body and CSRF token; the tenant, user or API client are the caller's.
func (s *Service) Forward(ctx context.Context, t *tenancy.Tenant, id string, who Caller, req *sdk.Request) (*sdk.Response, error) {
	var res *sdk.Response
	err := s.call(t, id, who, func(call host.Call, _ *sdk.Manifest) error {
		req.Tenant, req.User, req.RequestID, req.RemoteIP = call.Tenant, call.User, who.RequestID, who.IP
		req.ClientID, req.ClientName = who.ClientID, who.ClientName
		var err error
		res, err = s.host.Handle(ctx, id, call, req)
		return err
	})
	return res, err
}

// Export asks module id for what it holds of the caller (P11).
func (s *Service) Export(ctx context.Context, t *tenancy.Tenant, id string, who Caller) ([]byte, error) {
	var out []byte
	err := s.call(t, id, who, func(call host.Call, _ *sdk.Manifest) error {
		var err error
		out, err = s.host.ExportUser(ctx, id, call, who.User.ID)
		return err
	})
	return out, err
}

// eventPrefix names the durable jobs that carry a core event to a module.
const eventPrefix = "event:"

// IsEvent reports whether a job carries a core event (such a job is retried until the module
// acknowledges it, never failed).
func IsEvent(j jobs.Job) bool { return strings.HasPrefix(j.Name, eventPrefix) }

// RunJob runs a module's job for tenant t: a scheduled or one-off job of the module, or a
// core event it must be told of (the job's id is the event's: a redelivery is recognised).
func (s *Service) RunJob(ctx context.Context, t *tenancy.Tenant, j jobs.Job) error {
	return s.call(t, j.Module, Caller{}, func(call host.Call, _ *sdk.Manifest) error {
		if kind, ok := strings.CutPrefix(j.Name, eventPrefix); ok {
			return s.host.OnEvent(ctx, j.Module, call, &sdk.Event{ID: j.ID, Kind: kind, Payload: j.Payload, Tenant: call.Tenant})
		}
		return s.host.RunJob(ctx, j.Module, call, &sdk.Job{ID: j.ID, Name: j.Name, Payload: j.Payload, Tenant: call.Tenant})
	})
}

// Tell records, in the caller's transaction, a core event for every module the tenant
// switched on: a durable job each, delivered until the module acknowledges it (Deliver
// tries at once; the job runner retries).
func (s *Service) Tell(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, kind string, payload []byte) error {
	for _, id := range t.EnabledModules() {
		if err := s.tell(ctx, sc, id, kind, payload); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) tell(ctx context.Context, sc *db.Scope, id, kind string, payload []byte) error {
	_, err := s.Jobs.EnqueueIn(ctx, sc, jobs.Spec{Module: id, Name: eventPrefix + kind, Key: eventPrefix + uuid.Must(uuid.NewV7()).String(),
		At: time.Now().UTC(), Payload: payload})
	if err != nil {
		return fmt.Errorf("event %s for %s: %w", kind, id, err)
	}
	return nil
}

// Broadcast tells every module the tenant switched on of a core event, durably, and tries to
// deliver it at once.
func (s *Service) Broadcast(ctx context.Context, t *tenancy.Tenant, kind string, payload []byte) error {
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error { return s.Tell(ctx, sc, t, kind, payload) })
	if err != nil {
		return err
	}
	s.Deliver(ctx, t)
	return nil
}

// Notify tells one module of the tenant of a core event, durably, and tries to deliver it at
// once.
func (s *Service) Notify(ctx context.Context, t *tenancy.Tenant, id, kind string, payload []byte) error {
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error { return s.tell(ctx, sc, id, kind, payload) })
	if err != nil {
		return err
	}
	s.Deliver(ctx, t)
	return nil
}

// Deliver delivers the tenant's events due now (a batch: the job runner delivers the rest).
// A module that is down keeps its events for later: the job runner delivers them when it is
// back (and Started makes them due at once).
func (s *Service) Deliver(ctx context.Context, t *tenancy.Tenant) {
	claimed, err := s.Jobs.ClaimNamed(ctx, t.ID, eventPrefix, 50)
	if err != nil {
		s.Log.Error("events: claim", "tenant", t.Slug, "err", err)
		return
	}
	down := map[string]bool{}
	for _, j := range claimed {
		runErr := ErrUnavailable
		if !down[j.Module] {
			runErr = s.RunJob(ctx, t, j)
		}
		if errors.Is(runErr, ErrUnavailable) {
			down[j.Module] = true // the rest of its events wait with it
		} else if runErr != nil {
			s.Log.Warn("event not delivered yet", "tenant", t.Slug, "module", j.Module, "event", strings.TrimPrefix(j.Name, eventPrefix),
				"attempt", j.Attempts, "err", runErr)
		}
		if err := s.Jobs.Finish(ctx, j, runErr); err != nil {
			s.Log.Error("events: finish", "tenant", t.Slug, "err", err)
			return
		}
	}
}

// Started is told that module id (re)started: the events that waited for it are due now.
func (s *Service) Started(ctx context.Context, id string) {
	ts, err := s.Tenants.List(ctx)
	if err != nil {
		s.Log.Error("events: tenants", "err", err)
		return
	}
	for _, t := range ts {
		for _, m := range t.EnabledModules() {
			if m != id {
				continue
			}
			if err := s.Jobs.DueNow(ctx, t.ID, id, eventPrefix); err != nil {
				s.Log.Error("events: due now", "tenant", t.Slug, "module", id, "err", err)
			}
		}
	}
}

// DemoAccount is a demo account: Role is the tenant's role it was made for.
type DemoAccount = host.DemoAccount

// AnnounceDemo tells each of the tenant's modules its demo accounts (event
// platform.demo_seeded), each account with its role as that module knows it ("user",
// "tenant_admin", or one of the module's own roles by its manifest id).
func (s *Service) AnnounceDemo(ctx context.Context, t *tenancy.Tenant, accounts []DemoAccount) error {
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		for _, id := range t.EnabledModules() {
			seed := host.DemoSeed{Accounts: []host.DemoAccount{}}
			for _, a := range accounts {
				if roles := s.ModuleRoles(id, []string{a.Role}); len(roles) == 1 {
					a.Role = roles[0]
					seed.Accounts = append(seed.Accounts, a)
				}
			}
			payload, err := json.Marshal(seed)
			if err != nil {
				return err
			}
			if err := s.tell(ctx, sc, id, host.EventDemoSeeded, payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.Deliver(ctx, t)
	return nil
}
