package host

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/internal/pb"
	"carenet.dev/platform/plugins/sdk/internal/wire"
)

// Scope is what a HostAPI call acts on, resolved by the host from the call token: the
// tenant, the module, and the user (or API client) and request that caused the call.
type Scope struct {
	TenantID  string
	ModuleID  string
	UserID    string
	RequestID string
	IP        string
	// ClientID is the API key of a machine call (UserID is then empty).
	ClientID string
}

// Services are the HostAPI as the host implements it, split by concern. Each method acts in
// the Scope the host resolved; the module never names it.
type Services struct {
	// Resolve maps the token of a call in flight to its scope, and may attach to ctx what the
	// host resolved for that call (its tenant), for the services to use; false when the
	// token is unknown or expired.
	Resolve    func(ctx context.Context, token string) (context.Context, Scope, bool)
	Terms      TermsService
	Users      UsersService
	Audit      AuditService
	Messages   MessagesService
	Jobs       JobsService
	Blobs      BlobsService
	Complaints ComplaintsService
}

// TermsService reads the scope's tenant's terms and records acceptances. doc is "" (the
// scope's module) or "platform"; any other value is refused. Accepted and Accept fill the
// acceptance fields of the version in force.
type TermsService interface {
	Current(ctx context.Context, sc Scope, doc string) (*sdk.Terms, error)
	Accepted(ctx context.Context, sc Scope, doc, userID string) (*sdk.Terms, error)
	Accept(ctx context.Context, sc Scope, doc, userID string) (*sdk.Terms, error)
}

// UsersService looks up users of the scope's tenant, checks secret answers and sets the
// module's own roles.
type UsersService interface {
	Lookup(ctx context.Context, sc Scope, id, email string) (*sdk.User, error)
	CheckSecret(ctx context.Context, sc Scope, userID, answer string) (match, hasSecret bool, err error)
	SetRole(ctx context.Context, sc Scope, userID, role string, on bool) error
	// Dependants lists the people userID represents (P2), with whether he represents each
	// on the day of the call under the tenant's rules.
	Dependants(ctx context.Context, sc Scope, userID string) ([]sdk.Dependant, error)
	// Invite opens (or finds) the account of an e-mail and sends it a link to choose its
	// password (P2, B1); created reports a new account.
	Invite(ctx context.Context, sc Scope, email, name, locale, role string) (u *sdk.User, created bool, err error)
}

// AuditService records in the scope's tenant's audit trail and lists a subject's records of
// the scope's module.
type AuditService interface {
	Record(ctx context.Context, sc Scope, rec sdk.AuditRecord) error
	List(ctx context.Context, sc Scope, subject string, limit int) ([]sdk.AuditRecord, error)
}

// MessagesService sends messages in the scope's tenant.
type MessagesService interface {
	Send(ctx context.Context, sc Scope, msg sdk.Message) (string, error)
}

// JobsService schedules jobs of the scope's module in the scope's tenant.
type JobsService interface {
	Schedule(ctx context.Context, sc Scope, job sdk.Job) (string, error)
	Cancel(ctx context.Context, sc Scope, key string) error
}

// BlobsService stores files of the scope's module in the scope's tenant.
type BlobsService interface {
	Put(ctx context.Context, sc Scope, b sdk.Blob) (string, error)
	Get(ctx context.Context, sc Scope, id string) (*sdk.Blob, error)
	Delete(ctx context.Context, sc Scope, id string) error
}

// ComplaintsService lodges complaints of the scope's module in the scope's tenant; a
// complaint that breaks the tenant's rules is refused with sdk.FieldErrors.
type ComplaintsService interface {
	Lodge(ctx context.Context, sc Scope, c sdk.Complaint) (*sdk.Complaint, error)
}

func register(s *grpc.Server, svc Services) {
	pb.RegisterTermsServer(s, &termsServer{svc: svc.Terms})
	pb.RegisterUsersServer(s, &usersServer{svc: svc.Users})
	pb.RegisterAuditServer(s, &auditServer{svc: svc.Audit})
	pb.RegisterMessagesServer(s, &messagesServer{svc: svc.Messages})
	pb.RegisterJobsServer(s, &jobsServer{svc: svc.Jobs})
	pb.RegisterBlobsServer(s, &blobsServer{svc: svc.Blobs})
	pb.RegisterComplaintsServer(s, &complaintsServer{svc: svc.Complaints})
}

type scopeKey struct{}

// scopeInterceptor resolves the call token of every HostAPI call; without a valid token the
// call is refused, so a module can only act within a call the host made to it.
func scopeInterceptor(resolve func(context.Context, string) (context.Context, Scope, bool)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		toks := md.Get(wire.CallTokenKey)
		if len(toks) != 1 || resolve == nil {
			return nil, status.Error(codes.PermissionDenied, "no call scope")
		}
		ctx, sc, ok := resolve(ctx, toks[0])
		if !ok {
			return nil, status.Error(codes.PermissionDenied, "call scope unknown or expired")
		}
		return handler(context.WithValue(ctx, scopeKey{}, sc), req)
	}
}

func scopeOf(ctx context.Context) Scope { sc, _ := ctx.Value(scopeKey{}).(Scope); return sc }

var errUnimplemented = status.Error(codes.Unimplemented, "this host does not serve it")

type termsServer struct {
	pb.UnimplementedTermsServer
	svc TermsService
}

func (s *termsServer) Current(ctx context.Context, r *pb.TermsRequest) (*pb.TermsVersion, error) {
	if s.svc == nil {
		return nil, errUnimplemented
	}
	v, err := s.svc.Current(ctx, scopeOf(ctx), r.Doc)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return &pb.TermsVersion{Id: v.VersionID, Doc: v.Doc, Version: int32(v.Version), EffectiveUnix: v.Effective.Unix(), Title: v.Title,
		Bodies: v.Bodies}, nil
}

func acceptanceToPB(t *sdk.Terms, err error) (*pb.TermsAcceptance, error) {
	if err != nil {
		return nil, wireErr(err)
	}
	return &pb.TermsAcceptance{Accepted: t.Accepted, VersionId: t.VersionID, Version: int32(t.Version), AtUnix: unixOrZero(t.AcceptedAt)}, nil
}

func (s *termsServer) Accepted(ctx context.Context, r *pb.TermsUserRequest) (*pb.TermsAcceptance, error) {
	if s.svc == nil {
		return nil, errUnimplemented
	}
	return acceptanceToPB(s.svc.Accepted(ctx, scopeOf(ctx), r.Doc, r.UserId))
}

func (s *termsServer) Accept(ctx context.Context, r *pb.TermsUserRequest) (*pb.TermsAcceptance, error) {
	if s.svc == nil {
		return nil, errUnimplemented
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
		return nil, wireErr(err)
	}
	return &pb.CheckSecretReply{Match: match, HasSecret: has}, nil
}

func (s *usersServer) SetRole(ctx context.Context, r *pb.SetRoleRequest) (*pb.Empty, error) {
	return &pb.Empty{}, wireErr(s.svc.SetRole(ctx, scopeOf(ctx), r.UserId, r.Role, r.On))
}

func (s *usersServer) Invite(ctx context.Context, r *pb.InviteRequest) (*pb.InviteReply, error) {
	u, created, err := s.svc.Invite(ctx, scopeOf(ctx), r.Email, r.Name, r.Locale, r.Role)
	if err != nil {
		return nil, wireErr(err)
	}
	return &pb.InviteReply{User: userToPB(u), Created: created}, nil
}

func (s *usersServer) Dependants(ctx context.Context, r *pb.DependantsRequest) (*pb.DependantsReply, error) {
	list, err := s.svc.Dependants(ctx, scopeOf(ctx), r.UserId)
	if err != nil {
		return nil, wireErr(err)
	}
	out := &pb.DependantsReply{}
	for _, d := range list {
		out.Dependants = append(out.Dependants, &pb.Dependant{Id: d.ID, FirstName: d.FirstName, LastName: d.LastName,
			BirthName: d.BirthName, BirthDate: d.BirthDate, NationalId: d.NationalID, Sex: d.Sex, Nationality: d.Nationality,
			Address: d.Address, Relationship: d.Relationship, LegalStatus: d.LegalStatus, ConsentUnix: unixOrZero(d.ConsentAt),
			OfAgeOn: d.OfAgeOn, Represented: d.Represented})
	}
	return out, nil
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
	err := s.svc.Record(ctx, scopeOf(ctx), sdk.AuditRecord{Action: r.Action, Subject: r.Subject, Resource: r.Resource, Detail: detail})
	return &pb.Empty{}, wireErr(err)
}

func (s *auditServer) List(ctx context.Context, r *pb.AuditListRequest) (*pb.AuditListReply, error) {
	es, err := s.svc.List(ctx, scopeOf(ctx), r.Subject, int(r.Limit))
	if err != nil {
		return nil, wireErr(err)
	}
	out := &pb.AuditListReply{}
	for _, e := range es {
		var detail []byte
		if len(e.Detail) > 0 {
			if detail, err = json.Marshal(e.Detail); err != nil {
				return nil, wireErr(err)
			}
		}
		out.Entries = append(out.Entries, &pb.AuditEntry{AtUnix: e.At.Unix(), Action: e.Action, Resource: e.Resource, ActorId: e.ActorID,
			ActorName: e.ActorName, ActorKind: e.ActorKind, ActorRoles: e.ActorRoles, DetailJson: detail})
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
	var files []sdk.Blob
	for _, a := range r.Attachments {
		files = append(files, sdk.Blob{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	id, err := s.svc.Send(ctx, scopeOf(ctx), sdk.Message{Channel: r.Channel, UserID: r.UserId, To: r.To, Template: r.Template, Data: data, Link: r.Link,
		Attachments: files, Secret: r.Secret})
	return &pb.MessageReply{Id: id}, wireErr(err)
}

type jobsServer struct {
	pb.UnimplementedJobsServer
	svc JobsService
}

func (s *jobsServer) Schedule(ctx context.Context, r *pb.ScheduleJobRequest) (*pb.ScheduleJobReply, error) {
	id, err := s.svc.Schedule(ctx, scopeOf(ctx), sdk.Job{Name: r.Name, At: time.UnixMilli(r.RunAtUnixMs).UTC(),
		Key: r.IdempotencyKey, Payload: r.Payload})
	return &pb.ScheduleJobReply{Id: id}, wireErr(err)
}

func (s *jobsServer) Cancel(ctx context.Context, r *pb.CancelJobRequest) (*pb.Empty, error) {
	return &pb.Empty{}, wireErr(s.svc.Cancel(ctx, scopeOf(ctx), r.IdempotencyKey))
}

type blobsServer struct {
	pb.UnimplementedBlobsServer
	svc BlobsService
}

func (s *blobsServer) Put(ctx context.Context, r *pb.PutBlobRequest) (*pb.PutBlobReply, error) {
	id, err := s.svc.Put(ctx, scopeOf(ctx), sdk.Blob{Name: r.Name, ContentType: r.ContentType, Data: r.Data})
	return &pb.PutBlobReply{Id: id}, wireErr(err)
}

func (s *blobsServer) Get(ctx context.Context, r *pb.GetBlobRequest) (*pb.GetBlobReply, error) {
	b, err := s.svc.Get(ctx, scopeOf(ctx), r.Id)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return &pb.GetBlobReply{Name: b.Name, ContentType: b.ContentType, Data: b.Data}, nil
}

func (s *blobsServer) Delete(ctx context.Context, r *pb.GetBlobRequest) (*pb.Empty, error) {
	return &pb.Empty{}, wireErr(s.svc.Delete(ctx, scopeOf(ctx), r.Id))
}

type complaintsServer struct {
	pb.UnimplementedComplaintsServer
	svc ComplaintsService
}

func (s *complaintsServer) Lodge(ctx context.Context, r *pb.LodgeRequest) (*pb.LodgeReply, error) {
	if s.svc == nil {
		return nil, errUnimplemented
	}
	rc, err := s.svc.Lodge(ctx, scopeOf(ctx), sdk.Complaint{Category: r.Category, Body: r.Body, ReplyTo: r.ReplyTo,
		UserID: r.UserId, Due: fromUnix(r.DueUnix)})
	if err != nil {
		return nil, wireErr(err)
	}
	return &pb.LodgeReply{Id: rc.ID, Reference: rc.Reference, DueUnix: rc.Due.Unix()}, nil
}
