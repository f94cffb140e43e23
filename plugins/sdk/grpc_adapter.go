package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk/internal/pb"
)

// This file converts between the wire types and the plain structs, and implements both
// ends of the go-plugin glue. Module authors never call it.

// Handshake is the go-plugin handshake of this protocol.
//
// Since protocol version 1.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{ProtocolVersion: ProtocolVersion, MagicCookieKey: MagicCookieKey, MagicCookieValue: MagicCookieValue}
}

// MaxMessageBytes is the largest message either side accepts: a request with an uploaded
// report, a stored PDF read back (gRPC's default of 4 MiB is too small for those).
//
// Since protocol version 1.
const MaxMessageBytes = 64 << 20

// GRPCPlugin is the go-plugin glue: on the plugin side it serves Impl; on the host side it
// returns a *ModuleClient.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Module
}

// GRPCServer registers the module's service (plugin side).
//
// Since protocol version 1.
func (p *GRPCPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterModuleServer(s, &moduleServer{impl: p.Impl, broker: broker})
	return nil
}

// GRPCClient returns the host's handle on the module (host side).
//
// Since protocol version 1.
func (p *GRPCPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &ModuleClient{c: pb.NewModuleClient(conn), broker: broker}, nil
}

// Serve runs m as a plugin process: it answers the host's handshake on stdout and serves
// until the host goes away. Call it from main and do not print to stdout before.
//
// Since protocol version 1.
func Serve(m Module) { ServeProtocol(m, ProtocolVersion) }

// ServeProtocol serves m announcing another protocol version. Only the host's tests use
// it, to check that a plugin of another version is refused.
//
// Since protocol version 1.
func ServeProtocol(m Module, version int) {
	hs := Handshake()
	hs.ProtocolVersion = uint(version)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{version: {PluginName: &GRPCPlugin{Impl: m}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: "module." + m.Manifest().ID, Output: os.Stderr,
			Level: hclog.Info, JSONFormat: true}),
	})
}

// ---- plugin side ----

type hostKey struct{}

// HostFrom returns the HostAPI client for the call ctx belongs to (nil outside a host call).
//
// Since protocol version 1.
func HostFrom(ctx context.Context) *Host {
	h, _ := ctx.Value(hostKey{}).(*Host)
	return h
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
	if i, ok := s.impl.(Initializer); ok {
		if err := i.Init(ctx, Env{DSN: req.Dsn, DBKind: req.DbKind, DataDir: req.DataDir}); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "init: %v", err)
		}
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
	ctx = context.WithValue(ctx, hostKey{}, s.host)
	return withCall(ctx, call.GetToken())
}

func (s *moduleServer) Handle(ctx context.Context, r *pb.HTTPRequest) (*pb.HTTPResponse, error) {
	req := &Request{Method: r.Method, Path: r.Path, Query: r.Query, Header: headerFromPB(r.Headers), Body: r.Body,
		RemoteIP: r.RemoteIp, RequestID: r.Call.GetRequestId(), Tenant: tenantFromPB(r.Call.GetTenant())}
	if u := r.Call.GetUser(); u != nil && u.Id != "" {
		req.User = userFromPB(u)
	}
	if c := r.Call.GetClient(); c != nil && c.Id != "" {
		req.Client = &Client{ID: c.Id, Name: c.Name}
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
	return &pb.HTTPResponse{Status: int32(res.Status), Headers: headerToPB(res.Header), Body: res.Body,
		Title: res.Title, Fragment: res.Fragment}, nil
}

func (s *moduleServer) RunJob(ctx context.Context, r *pb.JobRequest) (*pb.Empty, error) {
	err := s.impl.RunJob(s.scoped(ctx, r.Call), &Job{ID: r.JobId, Name: r.Name, Payload: r.Payload, Tenant: tenantFromPB(r.Call.GetTenant())})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "job %s: %v", r.Name, err)
	}
	return &pb.Empty{}, nil
}

func (s *moduleServer) OnEvent(ctx context.Context, r *pb.EventRequest) (*pb.Empty, error) {
	err := s.impl.OnEvent(s.scoped(ctx, r.Call), &Event{Kind: r.Kind, Payload: r.Payload, Tenant: tenantFromPB(r.Call.GetTenant())})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "event %s: %v", r.Kind, err)
	}
	return &pb.Empty{}, nil
}

func (s *moduleServer) Ping(context.Context, *pb.Empty) (*pb.Empty, error) { return &pb.Empty{}, nil }

func (s *moduleServer) ExportUser(ctx context.Context, r *pb.ExportRequest) (*pb.ExportReply, error) {
	ex, ok := s.impl.(UserDataExporter)
	if !ok {
		return &pb.ExportReply{Json: []byte("{}")}, nil
	}
	b, err := ex.ExportUser(s.scoped(ctx, r.Call), tenantFromPB(r.Call.GetTenant()), r.UserId)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "export: %v", err)
	}
	return &pb.ExportReply{Json: b}, nil
}

// ---- host side ----

// Call is the context of one host call to a module: the scope token the module's HostAPI
// calls will carry, the request id, the tenant (with this module's rules) and the user.
type Call struct {
	Token     string
	RequestID string
	Tenant    Tenant
	User      *User
	Client    *Client
}

// ModuleClient is the host's handle on a running module. Every method takes the caller's
// context: its deadline and cancellation reach the module.
type ModuleClient struct {
	c      pb.ModuleClient
	broker *plugin.GRPCBroker
}

// Init serves the HostAPI to the module through the broker (the module dials it once) and
// gives the module its data location.
//
// Since protocol version 1.
func (m *ModuleClient) Init(ctx context.Context, hs HostServices, env Env) error {
	id := m.broker.NextId()
	go m.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, grpc.ChainUnaryInterceptor(scopeInterceptor(hs.Resolve)),
			grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
		s := grpc.NewServer(opts...)
		pb.RegisterTermsServer(s, &termsServer{svc: hs.Terms})
		pb.RegisterUsersServer(s, &usersServer{svc: hs.Users})
		pb.RegisterAuditServer(s, &auditServer{svc: hs.Audit})
		pb.RegisterMessagesServer(s, &messagesServer{svc: hs.Messages})
		pb.RegisterJobsServer(s, &jobsServer{svc: hs.Jobs})
		pb.RegisterBlobsServer(s, &blobsServer{svc: hs.Blobs})
		pb.RegisterComplaintsServer(s, &complaintsServer{svc: hs.Complaints})
		return s
	})
	_, err := m.c.Init(ctx, &pb.InitRequest{HostBrokerId: id, Dsn: env.DSN, DataDir: env.DataDir, DbKind: env.DBKind})
	return err
}

// Manifest reads and checks the module's manifest.
//
// Since protocol version 1.
func (m *ModuleClient) Manifest(ctx context.Context) (*Manifest, error) {
	r, err := m.c.Manifest(ctx, &pb.Empty{})
	if err != nil {
		return nil, err
	}
	var man Manifest
	if err := json.Unmarshal(r.Json, &man); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &man, man.Check()
}

// Handle forwards one HTTP request.
//
// Since protocol version 1.
func (m *ModuleClient) Handle(ctx context.Context, call Call, req *Request) (*Response, error) {
	r, err := m.c.Handle(ctx, &pb.HTTPRequest{Call: callToPB(call), Method: req.Method, Path: req.Path, Query: req.Query,
		Headers: headerToPB(req.Header), Body: req.Body, RemoteIp: req.RemoteIP})
	if err != nil {
		return nil, err
	}
	return &Response{Status: int(r.Status), Header: headerFromPB(r.Headers), Body: r.Body, Title: r.Title, Fragment: r.Fragment}, nil
}

// RunJob runs a job in the module.
//
// Since protocol version 1.
func (m *ModuleClient) RunJob(ctx context.Context, call Call, job *Job) error {
	_, err := m.c.RunJob(ctx, &pb.JobRequest{Call: callToPB(call), Name: job.Name, Payload: job.Payload, JobId: job.ID})
	return err
}

// OnEvent delivers a core event to the module.
//
// Since protocol version 1.
func (m *ModuleClient) OnEvent(ctx context.Context, call Call, ev *Event) error {
	_, err := m.c.OnEvent(ctx, &pb.EventRequest{Call: callToPB(call), Kind: ev.Kind, Payload: ev.Payload})
	return err
}

// ExportUser returns, as JSON, what the module holds of a user.
//
// Since protocol version 1.
func (m *ModuleClient) ExportUser(ctx context.Context, call Call, userID string) ([]byte, error) {
	r, err := m.c.ExportUser(ctx, &pb.ExportRequest{Call: callToPB(call), UserId: userID})
	if err != nil {
		return nil, err
	}
	return r.Json, nil
}

// Ping checks that the module answers.
//
// Since protocol version 1.
func (m *ModuleClient) Ping(ctx context.Context) error {
	_, err := m.c.Ping(ctx, &pb.Empty{})
	return err
}

type scopeKey struct{}

// scopeInterceptor resolves the call token of every HostAPI call; without a valid token the
// call is refused, so a module can only act within a call the host made to it.
func scopeInterceptor(resolve func(string) (Scope, bool)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		toks := md.Get(callTokenKey)
		if len(toks) != 1 || resolve == nil {
			return nil, status.Error(codes.PermissionDenied, "no call scope")
		}
		sc, ok := resolve(toks[0])
		if !ok {
			return nil, status.Error(codes.PermissionDenied, "call scope unknown or expired")
		}
		return handler(context.WithValue(ctx, scopeKey{}, sc), req)
	}
}

func scopeOf(ctx context.Context) Scope { sc, _ := ctx.Value(scopeKey{}).(Scope); return sc }

func hostErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.FailedPrecondition, err.Error())
}

type termsServer struct {
	pb.UnimplementedTermsServer
	svc TermsService
}

func (s *termsServer) Current(ctx context.Context, r *pb.TermsRequest) (*pb.TermsVersion, error) {
	if s.svc == nil {
		return nil, status.Error(codes.Unimplemented, "terms")
	}
	v, err := s.svc.Current(ctx, scopeOf(ctx), r.Doc)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return &pb.TermsVersion{Id: v.ID, Doc: v.Doc, Version: int32(v.Version), EffectiveUnix: v.Effective.Unix(), Title: v.Title}, nil
}

func acceptanceToPB(a *TermsAcceptance, err error) (*pb.TermsAcceptance, error) {
	if err != nil {
		return nil, hostErr(err)
	}
	out := &pb.TermsAcceptance{Accepted: a.Accepted, VersionId: a.VersionID, Version: int32(a.Version)}
	if !a.At.IsZero() {
		out.AtUnix = a.At.Unix()
	}
	return out, nil
}

func (s *termsServer) Accepted(ctx context.Context, r *pb.TermsUserRequest) (*pb.TermsAcceptance, error) {
	if s.svc == nil {
		return nil, status.Error(codes.Unimplemented, "terms")
	}
	return acceptanceToPB(s.svc.Accepted(ctx, scopeOf(ctx), r.Doc, r.UserId))
}

func (s *termsServer) Accept(ctx context.Context, r *pb.TermsUserRequest) (*pb.TermsAcceptance, error) {
	if s.svc == nil {
		return nil, status.Error(codes.Unimplemented, "terms")
	}
	return acceptanceToPB(s.svc.Accept(ctx, scopeOf(ctx), r.Doc, r.UserId))
}

type usersServer struct {
	pb.UnimplementedUsersServer
	svc UsersService
}

func (s *usersServer) Lookup(ctx context.Context, r *pb.LookupUserRequest) (*pb.User, error) {
	u, err := s.svc.Lookup(ctx, scopeOf(ctx), r.Id, r.Email)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return userToPB(u), nil
}

func (s *usersServer) CheckSecret(ctx context.Context, r *pb.CheckSecretRequest) (*pb.CheckSecretReply, error) {
	match, has, err := s.svc.CheckSecret(ctx, scopeOf(ctx), r.UserId, r.Answer)
	if err != nil {
		return nil, hostErr(err)
	}
	return &pb.CheckSecretReply{Match: match, HasSecret: has}, nil
}

func (s *usersServer) SetRole(ctx context.Context, r *pb.SetRoleRequest) (*pb.Empty, error) {
	return &pb.Empty{}, hostErr(s.svc.SetRole(ctx, scopeOf(ctx), r.UserId, r.Role, r.On))
}

type auditServer struct {
	pb.UnimplementedAuditServer
	svc AuditService
}

func (s *auditServer) Record(ctx context.Context, r *pb.AuditRecord) (*pb.Empty, error) {
	var detail map[string]any
	if len(r.DetailJson) > 0 {
		_ = json.Unmarshal(r.DetailJson, &detail)
	}
	err := s.svc.Record(ctx, scopeOf(ctx), AuditRecord{Action: r.Action, Subject: r.Subject, Resource: r.Resource, Detail: detail})
	return &pb.Empty{}, hostErr(err)
}

func (s *auditServer) List(ctx context.Context, r *pb.AuditListRequest) (*pb.AuditListReply, error) {
	es, err := s.svc.List(ctx, scopeOf(ctx), r.Subject, int(r.Limit))
	if err != nil {
		return nil, hostErr(err)
	}
	out := &pb.AuditListReply{}
	for _, e := range es {
		out.Entries = append(out.Entries, &pb.AuditEntry{AtUnix: e.At.Unix(), Action: e.Action, Resource: e.Resource, ActorId: e.ActorID,
			ActorName: e.ActorName, ActorKind: e.ActorKind, ActorRoles: e.ActorRoles})
	}
	return out, nil
}

type messagesServer struct {
	pb.UnimplementedMessagesServer
	svc MessagesService
}

func (s *messagesServer) Send(ctx context.Context, r *pb.MessageRequest) (*pb.MessageReply, error) {
	var data map[string]any
	if len(r.DataJson) > 0 {
		_ = json.Unmarshal(r.DataJson, &data)
	}
	id, err := s.svc.Send(ctx, scopeOf(ctx), Message{Channel: r.Channel, UserID: r.UserId, To: r.To, Template: r.Template, Data: data, Link: r.Link})
	return &pb.MessageReply{Id: id}, hostErr(err)
}

type jobsServer struct {
	pb.UnimplementedJobsServer
	svc JobsService
}

func (s *jobsServer) Schedule(ctx context.Context, r *pb.ScheduleJobRequest) (*pb.ScheduleJobReply, error) {
	id, err := s.svc.Schedule(ctx, scopeOf(ctx), JobSpec{Name: r.Name, At: time.UnixMilli(r.RunAtUnixMs).UTC(),
		IdempotencyKey: r.IdempotencyKey, Payload: r.Payload})
	return &pb.ScheduleJobReply{Id: id}, hostErr(err)
}

func (s *jobsServer) Cancel(ctx context.Context, r *pb.CancelJobRequest) (*pb.Empty, error) {
	return &pb.Empty{}, hostErr(s.svc.Cancel(ctx, scopeOf(ctx), r.IdempotencyKey))
}

type blobsServer struct {
	pb.UnimplementedBlobsServer
	svc BlobsService
}

func (s *blobsServer) Put(ctx context.Context, r *pb.PutBlobRequest) (*pb.PutBlobReply, error) {
	id, err := s.svc.Put(ctx, scopeOf(ctx), Blob{Name: r.Name, ContentType: r.ContentType, Data: r.Data})
	return &pb.PutBlobReply{Id: id}, hostErr(err)
}

func (s *blobsServer) Get(ctx context.Context, r *pb.GetBlobRequest) (*pb.GetBlobReply, error) {
	b, err := s.svc.Get(ctx, scopeOf(ctx), r.Id)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return &pb.GetBlobReply{Name: b.Name, ContentType: b.ContentType, Data: b.Data}, nil
}

func (s *blobsServer) Delete(ctx context.Context, r *pb.GetBlobRequest) (*pb.Empty, error) {
	return &pb.Empty{}, hostErr(s.svc.Delete(ctx, scopeOf(ctx), r.Id))
}

type complaintsServer struct {
	pb.UnimplementedComplaintsServer
	svc ComplaintsService
}

func (s *complaintsServer) Lodge(ctx context.Context, r *pb.LodgeRequest) (*pb.LodgeReply, error) {
	if s.svc == nil {
		return nil, status.Error(codes.Unimplemented, "complaints")
	}
	d := ComplaintDraft{Category: r.Category, Body: r.Body, ReplyTo: r.ReplyTo, UserID: r.UserId}
	if r.DueUnix > 0 {
		d.Due = time.Unix(r.DueUnix, 0).UTC()
	}
	rc, err := s.svc.Lodge(ctx, scopeOf(ctx), d)
	if err != nil {
		var fe FieldErrors
		if errors.As(err, &fe) {
			return nil, status.Error(codes.InvalidArgument, fe.Error())
		}
		return nil, hostErr(err)
	}
	return &pb.LodgeReply{Id: rc.ID, Reference: rc.Reference, DueUnix: rc.Due.Unix()}, nil
}

// ---- conversions ----

func headerToPB(h http.Header) []*pb.Header {
	out := make([]*pb.Header, 0, len(h))
	for k, v := range h {
		out = append(out, &pb.Header{Name: k, Values: v})
	}
	return out
}

func headerFromPB(hs []*pb.Header) http.Header {
	h := http.Header{}
	for _, x := range hs {
		h[http.CanonicalHeaderKey(x.Name)] = x.Values
	}
	return h
}

func tenantToPB(t Tenant) *pb.Tenant {
	rules, _ := json.Marshal(t.Rules)
	return &pb.Tenant{Id: t.ID, Slug: t.Slug, Name: t.Name, Locale: t.Locale, TimeZone: t.TimeZone, Currency: t.Currency,
		Country: t.Country, Portal: t.Portal, Base: t.Base, RulesJson: rules}
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

func userToPB(u *User) *pb.User {
	if u == nil {
		return nil
	}
	return &pb.User{Id: u.ID, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: u.Roles, BirthDate: u.BirthDate,
		Profile: u.Profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}

func userFromPB(u *pb.User) *User {
	return &User{ID: u.Id, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: u.Roles, BirthDate: u.BirthDate,
		Profile: u.Profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}

func callToPB(c Call) *pb.Call {
	out := &pb.Call{Token: c.Token, RequestId: c.RequestID, Tenant: tenantToPB(c.Tenant), User: userToPB(c.User)}
	if c.Client != nil {
		out.Client = &pb.Client{Id: c.Client.ID, Name: c.Client.Name}
	}
	return out
}
