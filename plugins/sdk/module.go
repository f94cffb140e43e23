package sdk

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when PLATFORM_PPROF_MODULES asks for it
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk/internal/pb"
	"carenet.dev/platform/plugins/sdk/internal/wire"
)

// Module is what a business module implements (plugins/kit gives the frame that does most
// of it). Every method gets the context of the host's call: its deadline, and the scope its
// HostAPI calls act in (HostFrom).
//
// Since protocol version 1.
type Module interface {
	// Init opens the module's database and runs its migrations; the host calls it once per
	// start, before anything else.
	Init(ctx context.Context, env Env) error
	// Manifest returns the module's static declaration. It is called once per start.
	Manifest() Manifest
	// Handle answers one HTTP request to one of the module's routes. An error is logged by
	// the host and shown to the person as a localized error page, without details.
	Handle(ctx context.Context, req *Request) (*Response, error)
	// RunJob runs a scheduled or one-off job for one tenant. An error makes the host retry
	// it later, with backoff.
	RunJob(ctx context.Context, job *Job) error
	// OnEvent handles a core event for one tenant. An error makes the host deliver it again
	// later; an event it already handled (same ID) must change nothing.
	OnEvent(ctx context.Context, ev *Event) error
	// ExportUser returns, as JSON, everything the module holds of one user of the tenant
	// (P11): "{}" when it holds nothing of anyone. Files (a report's PDF) go in the JSON
	// object's "files" key, a list of Blob whose Name is a path under the module's folder of
	// the archive ("reports/2026-11-19-original.pdf"): the host writes each into the
	// person's archive beside the JSON.
	ExportUser(ctx context.Context, tenant Tenant, userID string) ([]byte, error)
}

// Env is what a module gets when it starts: where its data lives.
//
// Since protocol version 1.
type Env struct {
	// DSN of the module's own database: a SQLite file, or a PostgreSQL DSN whose search_path
	// is the module's own schema, for a role that owns nothing (row-level security holds it).
	// Empty if the host gives the module no database.
	DSN string
	// OwnerDSN, on PostgreSQL, connects as the owner of the module's schema: the module
	// migrates with it and then closes it.
	OwnerDSN string
	// DBKind is "sqlite" or "postgres".
	DBKind string
	// DataDir is a directory only this module writes to.
	DataDir string
}

// Serve runs m as a plugin process: it answers the host's handshake on stdout and serves
// until the host goes away. Call it from main and print nothing to stdout before.
//
// Since protocol version 1.
func Serve(m Module) { serve(m, ProtocolVersion) }

func serve(m Module, version int) {
	profile(m.Manifest().ID)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake(version),
		VersionedPlugins: map[int]plugin.PluginSet{version: {wire.PluginName: &modulePlugin{impl: m}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(wire.MaxMessageBytes), grpc.MaxSendMsgSize(wire.MaxMessageBytes))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: "module." + m.Manifest().ID, Output: os.Stderr,
			Level: hclog.Info, JSONFormat: true}),
	})
}

// profile serves the module's CPU and memory profiles (/debug/pprof/) on a loopback port of
// its own when PLATFORM_PPROF_MODULES names a directory, writing the address to
// <directory>/<module id>.addr: what a module's request costs is then measured the way the
// core's is (serve --pprof; go run ./cmd/bench -profile).
func profile(id string) {
	dir := os.Getenv("PLATFORM_PPROF_MODULES")
	if dir == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	if os.WriteFile(filepath.Join(dir, id+".addr"), []byte(ln.Addr().String()), 0o600) != nil {
		ln.Close()
		return
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
}

func init() {
	wire.RegisterModule = func(impl any, broker *plugin.GRPCBroker, s *grpc.Server) error {
		pb.RegisterModuleServer(s, &moduleServer{impl: impl.(Module), broker: broker})
		return nil
	}
	wire.Serve = func(impl any, v int) { serve(impl.(Module), v) }
}

// modulePlugin is the module's end of the go-plugin glue.
type modulePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Module
}

func (p *modulePlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	return wire.RegisterModule(p.impl, broker, s)
}

func (p *modulePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, status.Error(codes.Unimplemented, "a module does not dial modules")
}

type moduleServer struct {
	pb.UnimplementedModuleServer
	impl   Module
	broker *plugin.GRPCBroker
	host   *Host
}

func (s *moduleServer) Init(ctx context.Context, req *pb.InitRequest) (*pb.Empty, error) {
	conn, err := s.broker.Dial(req.HostBrokerId)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial host: %v", err)
	}
	s.host = newHost(conn)
	if err := s.impl.Init(ctx, Env{DSN: req.Dsn, OwnerDSN: req.OwnerDsn, DBKind: req.DbKind, DataDir: req.DataDir}); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "init: %v", err)
	}
	return &pb.Empty{}, nil
}

func (s *moduleServer) Manifest(context.Context, *pb.Empty) (*pb.ManifestReply, error) {
	b, err := json.Marshal(s.impl.Manifest())
	if err != nil {
		return nil, err
	}
	return &pb.ManifestReply{Json: b}, nil
}

func (s *moduleServer) scoped(ctx context.Context, call *pb.Call) context.Context {
	return context.WithValue(ctx, hostKey{}, &Host{c: s.host.c, token: call.GetToken()})
}

func (s *moduleServer) Handle(ctx context.Context, r *pb.HTTPRequest) (*pb.HTTPResponse, error) {
	hdr := wire.HeaderFromPB(r.Headers)
	req := &Request{Method: r.Method, Path: r.Path, Query: r.Query, Header: hdr, Body: r.Body, CSRF: hdr.Get(wire.CSRFHeader),
		RemoteIP: r.RemoteIp, RequestID: r.Call.GetRequestId(), Tenant: tenantFromPB(r.Call.GetTenant()), TermsVersion: r.TermsVersion}
	hdr.Del(wire.CSRFHeader)
	if u := r.Call.GetUser(); u != nil && u.Id != "" {
		req.User = userFromPB(u)
	}
	if c := r.Call.GetClient(); c != nil && c.Id != "" {
		req.ClientID, req.ClientName = c.Id, c.Name
	}
	res, err := s.impl.Handle(s.scoped(ctx, r.Call), req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "handle: %v", err)
	}
	if res == nil {
		res = &Response{Status: http.StatusNoContent}
	}
	if res.Status == 0 {
		res.Status = http.StatusOK
	}
	return &pb.HTTPResponse{Status: int32(res.Status), Headers: wire.HeaderToPB(res.Header), Body: res.Body,
		Title: res.Title, Fragment: res.Fragment, Statements: int32(res.Statements)}, nil
}

func (s *moduleServer) RunJob(ctx context.Context, r *pb.JobRequest) (*pb.Empty, error) {
	err := s.impl.RunJob(s.scoped(ctx, r.Call), &Job{ID: r.JobId, Name: r.Name, Payload: r.Payload, Tenant: tenantFromPB(r.Call.GetTenant())})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "job %s: %v", r.Name, err)
	}
	return &pb.Empty{}, nil
}

func (s *moduleServer) OnEvent(ctx context.Context, r *pb.EventRequest) (*pb.Empty, error) {
	err := s.impl.OnEvent(s.scoped(ctx, r.Call), &Event{ID: r.Id, Kind: r.Kind, Payload: r.Payload, Tenant: tenantFromPB(r.Call.GetTenant())})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "event %s: %v", r.Kind, err)
	}
	return &pb.Empty{}, nil
}

func (s *moduleServer) Ping(context.Context, *pb.Empty) (*pb.Empty, error) { return &pb.Empty{}, nil }

func (s *moduleServer) ExportUser(ctx context.Context, r *pb.ExportRequest) (*pb.ExportReply, error) {
	b, err := s.impl.ExportUser(s.scoped(ctx, r.Call), tenantFromPB(r.Call.GetTenant()), r.UserId)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "export: %v", err)
	}
	return &pb.ExportReply{Json: b}, nil
}

func tenantFromPB(t *pb.Tenant) Tenant {
	if t == nil {
		return Tenant{}
	}
	out := Tenant{ID: t.Id, Slug: t.Slug, Name: t.Name, Locale: t.Locale, TimeZone: t.TimeZone, Currency: t.Currency,
		Country: t.Country, Portal: t.Portal, Base: t.Base, Rules: map[string]any{}}
	if len(t.RulesJson) > 0 {
		_ = json.Unmarshal(t.RulesJson, &out.Rules)
	}
	return out
}

func userFromPB(u *pb.User) *User {
	return &User{ID: u.Id, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: u.Roles, BirthDate: u.BirthDate,
		Profile: u.Profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}
