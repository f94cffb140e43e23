package sdk

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk/internal/pb"
)

// callTokenKey is the gRPC metadata key carrying the scope of a HostAPI call: the token of
// the host call (request, job, event) the module is serving.
const callTokenKey = "x-platform-call"

type callKey struct{}

func withCall(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, callKey{}, token)
}

func outgoing(ctx context.Context) (context.Context, error) {
	tok, _ := ctx.Value(callKey{}).(string)
	if tok == "" {
		return nil, ErrNoHost
	}
	return metadata.AppendToOutgoingContext(ctx, callTokenKey, tok), nil
}

// AuditRecord is an access or action a module reports (P9): who did what to which
// resource of whose data.
//
// Since protocol version 1.
type AuditRecord struct {
	// Action is one of the manifest's AuditActions ("results.view").
	Action string
	// Subject is the user whose data was touched (the patient), if any.
	Subject string
	// Resource names the thing touched ("result:0192…").
	Resource string
	Detail   map[string]any
}

// Message is an e-mail or SMS a module asks the host to send from one of its templates,
// in the recipient's language.
//
// Since protocol version 1.
type Message struct {
	Channel  string // "email" or "sms"
	UserID   string // the recipient, a user of the tenant; or
	To       string // an address, when the recipient has no account
	Template string // a manifest template id ("results.published")
	Data     map[string]any
	Link     string // the link the message carries, if any
}

// JobSpec is a one-off job a module schedules for the tenant of the current call.
//
// Since protocol version 1.
type JobSpec struct {
	Name string
	At   time.Time
	// IdempotencyKey makes scheduling the same job twice a no-op; Cancel names it.
	IdempotencyKey string
	Payload        []byte
}

// Blob is a stored file (a result PDF, an invoice).
//
// Since protocol version 1.
type Blob struct {
	Name        string
	ContentType string
	Data        []byte
}

// Host is the HostAPI as a module sees it, split by concern. Every call is scoped to the
// tenant of the request, job or event the module is serving (pass that call's context);
// a module cannot name another tenant.
//
// Since protocol version 1.
type Host struct {
	Terms    *TermsClient
	Users    *UsersClient
	Audit    *AuditClient
	Messages *MessagesClient
	Jobs     *JobsClient
	Blobs    *BlobsClient
	// Complaints lodges complaints and support requests in the core's queue.
	Complaints *ComplaintsClient
}

func newHost(conn *grpc.ClientConn) *Host {
	return &Host{
		Terms:    &TermsClient{c: pb.NewTermsClient(conn)},
		Users:    &UsersClient{c: pb.NewUsersClient(conn)},
		Audit:    &AuditClient{c: pb.NewAuditClient(conn)},
		Messages: &MessagesClient{c: pb.NewMessagesClient(conn)},
		Jobs:     &JobsClient{c: pb.NewJobsClient(conn)},
		Blobs:    &BlobsClient{c: pb.NewBlobsClient(conn)},

		Complaints: &ComplaintsClient{c: pb.NewComplaintsClient(conn)},
	}
}

// TermsVersion is a version of a terms document in force.
//
// Since protocol version 1.
type TermsVersion struct {
	ID        string
	Doc       string
	Version   int
	Effective time.Time
	Title     string
}

// TermsAcceptance says whether a user accepted the version in force, and which one.
//
// Since protocol version 1.
type TermsAcceptance struct {
	Accepted  bool
	VersionID string
	Version   int
	At        time.Time
}

// TermsClient reads the current tenant's terms and records acceptances (P6): a module keeps
// the version in force with each record it makes (a booking, an order).
type TermsClient struct{ c pb.TermsClient }

// Current returns the version in force of the module's own terms (doc "") or of the
// account's (doc "platform").
//
// Since protocol version 1.
func (t *TermsClient) Current(ctx context.Context, doc string) (*TermsVersion, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	r, err := t.c.Current(ctx, &pb.TermsRequest{Doc: doc})
	if err != nil {
		return nil, err
	}
	return &TermsVersion{ID: r.Id, Doc: r.Doc, Version: int(r.Version), Effective: time.Unix(r.EffectiveUnix, 0).UTC(), Title: r.Title}, nil
}

// Accepted reports whether a user of the current tenant accepted the version in force.
//
// Since protocol version 1.
func (t *TermsClient) Accepted(ctx context.Context, doc, userID string) (*TermsAcceptance, error) {
	return t.call(ctx, doc, userID, t.c.Accepted)
}

// Accept records that a user accepted the version in force (with the time and the address
// of the current request) and returns it; accepting again changes nothing.
//
// Since protocol version 1.
func (t *TermsClient) Accept(ctx context.Context, doc, userID string) (*TermsAcceptance, error) {
	return t.call(ctx, doc, userID, t.c.Accept)
}

func (t *TermsClient) call(ctx context.Context, doc, userID string,
	fn func(context.Context, *pb.TermsUserRequest, ...grpc.CallOption) (*pb.TermsAcceptance, error)) (*TermsAcceptance, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	r, err := fn(ctx, &pb.TermsUserRequest{Doc: doc, UserId: userID})
	if err != nil {
		return nil, err
	}
	out := &TermsAcceptance{Accepted: r.Accepted, VersionID: r.VersionId, Version: int(r.Version)}
	if r.AtUnix > 0 {
		out.At = time.Unix(r.AtUnix, 0).UTC()
	}
	return out, nil
}

// UsersClient looks up users of the current tenant.
type UsersClient struct{ c pb.UsersClient }

// Lookup returns the user of the current tenant with this id, or an error if there is none.
//
// Since protocol version 1.
func (u *UsersClient) Lookup(ctx context.Context, id string) (*User, error) {
	return u.lookup(ctx, &pb.LookupUserRequest{Id: id})
}

// LookupEmail returns the user of the current tenant with this e-mail, or an error.
//
// Since protocol version 1.
func (u *UsersClient) LookupEmail(ctx context.Context, email string) (*User, error) {
	return u.lookup(ctx, &pb.LookupUserRequest{Email: email})
}

func (u *UsersClient) lookup(ctx context.Context, req *pb.LookupUserRequest) (*User, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	r, err := u.c.Lookup(ctx, req)
	if err != nil {
		return nil, err
	}
	return userFromPB(r), nil
}

// CheckSecret reports whether answer is the user's secret answer (compared without regard
// to case, accents and spacing), and whether the user has one at all. The host records the
// check in the audit trail; the answer itself never leaves the core.
//
// Since protocol version 1.
func (u *UsersClient) CheckSecret(ctx context.Context, userID, answer string) (match, hasSecret bool, err error) {
	ctx, err = outgoing(ctx)
	if err != nil {
		return false, false, err
	}
	r, err := u.c.CheckSecret(ctx, &pb.CheckSecretRequest{UserId: userID, Answer: answer})
	if err != nil {
		return false, false, err
	}
	return r.Match, r.HasSecret, nil
}

// SetRole gives (on) or takes away one of the module's own declared roles from a user of
// the current tenant (a professional account activated by the lab); the host records it in
// the audit trail. Core roles and other modules' roles are refused.
//
// Since protocol version 1.
func (u *UsersClient) SetRole(ctx context.Context, userID, role string, on bool) error {
	ctx, err := outgoing(ctx)
	if err != nil {
		return err
	}
	_, err = u.c.SetRole(ctx, &pb.SetRoleRequest{UserId: userID, Role: role, On: on})
	return err
}

// AuditEntry is a record of the audit trail as a module may show it to the person concerned.
//
// Since protocol version 1.
type AuditEntry struct {
	At       time.Time
	Action   string
	Resource string
	ActorID  string
	// ActorName is the name of the user who acted, or of the API key.
	ActorName string
	// ActorKind is "user" (the subject himself or another account) or "client" (an API key).
	ActorKind  string
	ActorRoles []string
}

// AuditClient records accesses and actions in the tenant's audit trail. and actions in the tenant's audit trail.
type AuditClient struct{ c pb.AuditClient }

// Record appends a record to the current tenant's audit trail, with the actor, time,
// request id and address of the current call.
//
// Since protocol version 1.
func (a *AuditClient) Record(ctx context.Context, rec AuditRecord) error {
	ctx, err := outgoing(ctx)
	if err != nil {
		return err
	}
	detail, err := json.Marshal(rec.Detail)
	if err != nil {
		return err
	}
	_, err = a.c.Record(ctx, &pb.AuditRecord{Action: rec.Action, Subject: rec.Subject, Resource: rec.Resource, DetailJson: detail})
	return err
}

// List returns the current tenant's audit records of this module's actions about subject
// (a user id), newest first, at most limit (the host caps it): what a patient sees of who
// accessed his results.
//
// Since protocol version 1.
func (a *AuditClient) List(ctx context.Context, subject string, limit int) ([]AuditEntry, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.c.List(ctx, &pb.AuditListRequest{Subject: subject, Limit: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(r.Entries))
	for _, e := range r.Entries {
		out = append(out, AuditEntry{At: time.Unix(e.AtUnix, 0).UTC(), Action: e.Action, Resource: e.Resource, ActorID: e.ActorId,
			ActorName: e.ActorName, ActorKind: e.ActorKind, ActorRoles: e.ActorRoles})
	}
	return out, nil
}

// MessagesClient sends e-mails and SMS.
type MessagesClient struct{ c pb.MessagesClient }

// Send renders one of the module's templates in the recipient's language and queues it;
// it returns the message id.
//
// Since protocol version 1.
func (m *MessagesClient) Send(ctx context.Context, msg Message) (string, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(msg.Data)
	if err != nil {
		return "", err
	}
	r, err := m.c.Send(ctx, &pb.MessageRequest{Channel: msg.Channel, UserId: msg.UserID, To: msg.To,
		Template: msg.Template, DataJson: data, Link: msg.Link})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// JobsClient schedules one-off jobs.
type JobsClient struct{ c pb.JobsClient }

// Schedule asks the host to call RunJob at spec.At for the current tenant; scheduling the
// same IdempotencyKey again returns the existing job's id.
//
// Since protocol version 1.
func (j *JobsClient) Schedule(ctx context.Context, spec JobSpec) (string, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return "", err
	}
	r, err := j.c.Schedule(ctx, &pb.ScheduleJobRequest{Name: spec.Name, RunAtUnixMs: spec.At.UnixMilli(),
		IdempotencyKey: spec.IdempotencyKey, Payload: spec.Payload})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// Cancel cancels the current tenant's pending job with this idempotency key, if any.
//
// Since protocol version 1.
func (j *JobsClient) Cancel(ctx context.Context, idempotencyKey string) error {
	ctx, err := outgoing(ctx)
	if err != nil {
		return err
	}
	_, err = j.c.Cancel(ctx, &pb.CancelJobRequest{IdempotencyKey: idempotencyKey})
	return err
}

// BlobsClient stores and reads files.
type BlobsClient struct{ c pb.BlobsClient }

// Put stores a file for the current tenant and returns its id.
//
// Since protocol version 1.
func (b *BlobsClient) Put(ctx context.Context, blob Blob) (string, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return "", err
	}
	r, err := b.c.Put(ctx, &pb.PutBlobRequest{Name: blob.Name, ContentType: blob.ContentType, Data: blob.Data})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// Get reads a file of the current tenant; a file of another tenant is not found.
//
// Since protocol version 1.
func (b *BlobsClient) Get(ctx context.Context, id string) (*Blob, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	r, err := b.c.Get(ctx, &pb.GetBlobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return &Blob{Name: r.Name, ContentType: r.ContentType, Data: r.Data}, nil
}

// Delete removes a file of the current tenant and module; deleting a missing file is not
// an error.
//
// Since protocol version 1.
func (b *BlobsClient) Delete(ctx context.Context, id string) error {
	ctx, err := outgoing(ctx)
	if err != nil {
		return err
	}
	_, err = b.c.Delete(ctx, &pb.GetBlobRequest{Id: id})
	return err
}

// ComplaintDraft is a complaint or support request a module lodges from its own form.
//
// Since protocol version 1.
type ComplaintDraft struct {
	// Category is one of the core's complaint categories ("support", "service"…).
	Category string
	Body     string
	// ReplyTo is the address the answer goes to.
	ReplyTo string
	UserID  string
	// Due is when it must be answered, by the module's rule; zero: the tenant's complaint rule.
	Due time.Time
}

// ComplaintReceipt is what the host answers to a lodged complaint: its reference and due date.
//
// Since protocol version 1.
type ComplaintReceipt struct {
	ID        string
	Reference string
	Due       time.Time
}

// ComplaintsClient lodges complaints and support requests in the tenant's queue, where
// staff answer them (P10, R8).
type ComplaintsClient struct{ c pb.ComplaintsClient }

// Lodge records a complaint of the current module; the host confirms receipt to ReplyTo.
// A draft that breaks the tenant's rules is refused with an error naming the fields.
//
// Since protocol version 1.
func (c *ComplaintsClient) Lodge(ctx context.Context, d ComplaintDraft) (*ComplaintReceipt, error) {
	ctx, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	var due int64
	if !d.Due.IsZero() {
		due = d.Due.Unix()
	}
	r, err := c.c.Lodge(ctx, &pb.LodgeRequest{Category: d.Category, Body: d.Body, ReplyTo: d.ReplyTo, UserId: d.UserID, DueUnix: due})
	if err != nil {
		return nil, err
	}
	return &ComplaintReceipt{ID: r.Id, Reference: r.Reference, Due: time.Unix(r.DueUnix, 0).UTC()}, nil
}

// ---- Host side: the services the core implements ----

// Scope is what a HostAPI call acts on, resolved by the host from the call token: the
// tenant, the module, and the user and request that caused the call.
type Scope struct {
	TenantID  string
	ModuleID  string
	UserID    string
	RequestID string
	IP        string
	// ClientID is the API key of a machine call (UserID is then empty).
	ClientID string
}

// HostServices are the HostAPI as the core implements it, split by concern. Each method
// acts in the Scope the host resolved; the plugin never names it.
type HostServices struct {
	// Resolve maps the token of a call in flight to its scope; false when the token is
	// unknown or expired.
	Resolve  func(token string) (Scope, bool)
	Terms    TermsService
	Users    UsersService
	Audit    AuditService
	Messages MessagesService
	Jobs     JobsService
	Blobs    BlobsService
	// Complaints may be nil: Lodge then answers Unimplemented.
	Complaints ComplaintsService
}

// TermsService reads the scope's tenant's terms and records acceptances. doc is "" (the
// scope's module) or "platform"; any other value is refused.
type TermsService interface {
	Current(ctx context.Context, sc Scope, doc string) (*TermsVersion, error)
	Accepted(ctx context.Context, sc Scope, doc, userID string) (*TermsAcceptance, error)
	Accept(ctx context.Context, sc Scope, doc, userID string) (*TermsAcceptance, error)
}

// UsersService looks up users of the scope's tenant.
type UsersService interface {
	Lookup(ctx context.Context, sc Scope, id, email string) (*User, error)
	CheckSecret(ctx context.Context, sc Scope, userID, answer string) (match, hasSecret bool, err error)
	SetRole(ctx context.Context, sc Scope, userID, role string, on bool) error
}

// AuditService records in the scope's tenant's audit trail.
type AuditService interface {
	Record(ctx context.Context, sc Scope, rec AuditRecord) error
	List(ctx context.Context, sc Scope, subject string, limit int) ([]AuditEntry, error)
}

// MessagesService sends messages in the scope's tenant.
type MessagesService interface {
	Send(ctx context.Context, sc Scope, msg Message) (string, error)
}

// JobsService schedules jobs of the scope's module in the scope's tenant.
type JobsService interface {
	Schedule(ctx context.Context, sc Scope, spec JobSpec) (string, error)
	Cancel(ctx context.Context, sc Scope, key string) error
}

// BlobsService stores files of the scope's module in the scope's tenant.
type BlobsService interface {
	Put(ctx context.Context, sc Scope, b Blob) (string, error)
	Get(ctx context.Context, sc Scope, id string) (*Blob, error)
	Delete(ctx context.Context, sc Scope, id string) error
}

// ComplaintsService lodges complaints of the scope's module in the scope's tenant.
type ComplaintsService interface {
	Lodge(ctx context.Context, sc Scope, d ComplaintDraft) (*ComplaintReceipt, error)
}

// FieldErrors maps form fields to message ids: a host service returns it when what a module
// sent breaks the tenant's rules (a complaint without its body), and the module shows each
// message next to its field.
//
// Since protocol version 1.
type FieldErrors map[string]string

// Error lists the fields.
//
// Since protocol version 1.
func (f FieldErrors) Error() string {
	b, _ := json.Marshal(map[string]string(f))
	return string(b)
}

// ParseFieldErrors returns the FieldErrors an InvalidArgument HostAPI error carries, if any.
//
// Since protocol version 1.
func ParseFieldErrors(err error) (FieldErrors, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return nil, false
	}
	var fe FieldErrors
	if json.Unmarshal([]byte(st.Message()), &fe) != nil || len(fe) == 0 {
		return nil, false
	}
	return fe, true
}
