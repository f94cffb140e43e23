// Package host is the host's end of the module protocol: the go-plugin glue that launches
// and calls a module (Client), the HostAPI services the core implements and serves back to
// the module (Services), the scope every HostAPI call acts in, the core events and their
// payloads, and the router that matches a request against a module's manifest routes.
// Module authors never need it; the core and the test harness (sdktest) do.
//
// It must not import anything of core/ or of a module.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/internal/pb"
	"carenet.dev/platform/plugins/sdk/internal/wire"
)

// Core events the host delivers to modules (sdk.Event.Kind).
const (
	EventUserVerified = "user.verified"
	EventUserDeleted  = "user.deleted"
	EventUserBlocked  = "user.blocked"
	EventRulesChanged = "tenant.rules_changed"
	EventDemoSeeded   = "platform.demo_seeded"
)

// DemoSeed is the payload of EventDemoSeeded: the tenant's demo accounts.
type DemoSeed struct {
	Accounts []DemoAccount `json:"accounts"`
}

// DemoAccount is one demo account: its id, e-mail, name and the role it was made for
// ("user", "tenant_admin", or one of the module's own roles by its manifest id).
type DemoAccount struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// CoreGrantable are the core permissions a module may grant its roles (sdk.Role.CoreGrants).
var CoreGrantable = wire.CoreGrantable

// Handshake is the go-plugin handshake of this protocol version.
func Handshake() plugin.HandshakeConfig { return wire.Handshake(sdk.ProtocolVersion) }

// Plugins is the plugin set a host's go-plugin client dispenses a module from.
func Plugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{sdk.ProtocolVersion: {wire.PluginName: &Plugin{}}}
}

// PluginName is the name a module's plugin is dispensed by.
const PluginName = wire.PluginName

// ServeVersion serves m announcing protocol version v: only the host's tests use it, to
// check that a plugin of another version is refused.
func ServeVersion(m sdk.Module, v int) { wire.Serve(m, v) }

// Plugin is the go-plugin glue: the host's end returns a *Client; given Impl, it also serves
// that module (a test harness serving a module in its own process).
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl sdk.Module
}

// GRPCServer serves Impl.
func (p *Plugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("host: no module to serve")
	}
	return wire.RegisterModule(p.Impl, broker, s)
}

// GRPCClient returns the host's handle on the module.
func (p *Plugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &Client{c: pb.NewModuleClient(conn), broker: broker}, nil
}

// GRPCOptions are the options of the gRPC servers the host runs for a module: the message
// size limit both ends share.
func GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(wire.MaxMessageBytes), grpc.MaxSendMsgSize(wire.MaxMessageBytes)}
}

// Call is the context of one host call to a module: the scope token the module's HostAPI
// calls will carry, the request id, the tenant (with this module's rules), and the user or
// API client.
type Call struct {
	Token     string
	RequestID string
	Tenant    sdk.Tenant
	User      *sdk.User
	// ClientID and ClientName name the API key of a machine call.
	ClientID, ClientName string
}

// Client is the host's handle on a running module. Every method takes the caller's context:
// its deadline and cancellation reach the module.
type Client struct {
	c      pb.ModuleClient
	broker *plugin.GRPCBroker
}

// Init serves the HostAPI to the module through the broker (the module dials it once) and
// gives the module its data location.
func (m *Client) Init(ctx context.Context, svc Services, env sdk.Env) error {
	id := m.broker.NextId()
	go m.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(append(opts, grpc.ChainUnaryInterceptor(scopeInterceptor(svc.Resolve))), GRPCOptions()...)...)
		register(s, svc)
		return s
	})
	_, err := m.c.Init(ctx, &pb.InitRequest{HostBrokerId: id, Dsn: env.DSN, OwnerDsn: env.OwnerDSN, DataDir: env.DataDir, DbKind: env.DBKind})
	return err
}

// Manifest reads the module's manifest and checks it.
func (m *Client) Manifest(ctx context.Context) (*sdk.Manifest, error) {
	r, err := m.c.Manifest(ctx, &pb.Empty{})
	if err != nil {
		return nil, err
	}
	var man sdk.Manifest
	if err := json.Unmarshal(r.Json, &man); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &man, man.Check()
}

// Handle forwards one HTTP request.
func (m *Client) Handle(ctx context.Context, call Call, req *sdk.Request) (*sdk.Response, error) {
	hdr := req.Header.Clone()
	if hdr == nil {
		hdr = map[string][]string{}
	}
	if req.CSRF != "" {
		hdr.Set(wire.CSRFHeader, req.CSRF)
	}
	r, err := m.c.Handle(ctx, &pb.HTTPRequest{Call: callToPB(call), Method: req.Method, Path: req.Path, Query: req.Query,
		Headers: wire.HeaderToPB(hdr), Body: req.Body, RemoteIp: req.RemoteIP, TermsVersion: req.TermsVersion})
	if err != nil {
		return nil, err
	}
	return &sdk.Response{Status: int(r.Status), Header: wire.HeaderFromPB(r.Headers), Body: r.Body, Title: r.Title, Fragment: r.Fragment,
		Statements: int(r.Statements)}, nil
}

// RunJob runs a job in the module.
func (m *Client) RunJob(ctx context.Context, call Call, job *sdk.Job) error {
	_, err := m.c.RunJob(ctx, &pb.JobRequest{Call: callToPB(call), Name: job.Name, Payload: job.Payload, JobId: job.ID})
	return err
}

// OnEvent delivers a core event to the module.
func (m *Client) OnEvent(ctx context.Context, call Call, ev *sdk.Event) error {
	_, err := m.c.OnEvent(ctx, &pb.EventRequest{Call: callToPB(call), Id: ev.ID, Kind: ev.Kind, Payload: ev.Payload})
	return err
}

// ExportUser returns, as JSON, what the module holds of a user.
func (m *Client) ExportUser(ctx context.Context, call Call, userID string) ([]byte, error) {
	r, err := m.c.ExportUser(ctx, &pb.ExportRequest{Call: callToPB(call), UserId: userID})
	if err != nil {
		return nil, err
	}
	return r.Json, nil
}

// Ping checks that the module answers.
func (m *Client) Ping(ctx context.Context) error {
	_, err := m.c.Ping(ctx, &pb.Empty{})
	return err
}

func callToPB(c Call) *pb.Call {
	t := c.Tenant
	rules, _ := json.Marshal(t.Rules)
	out := &pb.Call{Token: c.Token, RequestId: c.RequestID, Tenant: &pb.Tenant{Id: t.ID, Slug: t.Slug, Name: t.Name, Locale: t.Locale,
		TimeZone: t.TimeZone, Currency: t.Currency, Country: t.Country, Portal: t.Portal, Base: t.Base, RulesJson: rules},
		User: userToPB(c.User)}
	if c.ClientID != "" {
		out.Client = &pb.Client{Id: c.ClientID, Name: c.ClientName}
	}
	return out
}

func userToPB(u *sdk.User) *pb.User {
	if u == nil {
		return nil
	}
	return &pb.User{Id: u.ID, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: u.Roles, BirthDate: u.BirthDate,
		Profile: u.Profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}

// unixOrZero is the Unix time of t, 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix is the time of a Unix second, the zero time for 0.
func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// ErrNotFound is what a service wraps when the thing asked for does not exist in the scope's
// tenant: the module gets codes.NotFound.
var ErrNotFound = errors.New("not found")

// wireErr maps a service's error to the wire: field errors as InvalidArgument (the module
// shows them next to its fields), not found as NotFound, anything else as a refusal.
func wireErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var fe sdk.FieldErrors
	switch {
	case errors.As(err, &fe):
		return status.Error(codes.InvalidArgument, fe.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.FailedPrecondition, err.Error())
}

// ExportFiles is the key of a module's export object under which it lists its files
// ([]sdk.Blob).
const ExportFiles = "files"

// exportName is a file name an export may carry: letters, digits and ".-_" in each part of
// a relative path, no part "." or "..".
var exportName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$`)

// SplitExport takes the files out of a module's export: the JSON without its "files" key,
// and the files, each under a safe relative name (a name that is not is refused, and two
// files of one name are an error). A module's export without files is returned as it is.
func SplitExport(b []byte) ([]byte, []sdk.Blob, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	raw, ok := obj[ExportFiles]
	if !ok {
		return b, nil, nil
	}
	var files []sdk.Blob
	if err := json.Unmarshal(raw, &files); err != nil {
		return nil, nil, fmt.Errorf("export files: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		parts := strings.Split(f.Name, "/")
		for _, p := range parts {
			if !exportName.MatchString(p) || p == "." || p == ".." {
				return nil, nil, fmt.Errorf("export file name %q", f.Name)
			}
		}
		if seen[f.Name] {
			return nil, nil, fmt.Errorf("export file %q twice", f.Name)
		}
		seen[f.Name] = true
	}
	delete(obj, ExportFiles)
	out, err := json.Marshal(obj)
	return out, files, err
}
