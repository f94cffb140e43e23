package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk/internal/pb"
	"carenet.dev/platform/plugins/sdk/internal/wire"
)

type hostKey struct{}

// Host is the HostAPI as a module sees it. The host serves it split by concern (users,
// audit, messages, jobs, blobs, terms, complaints); every call acts in the tenant of the
// request, job or event the module is serving — pass that call's context — and a module
// cannot name another tenant. Once the host's call is over, its scope is gone and a call
// with its context is refused.
//
// Since protocol version 1.
type Host struct {
	c     hostClients
	token string
}

type hostClients struct {
	terms      pb.TermsClient
	users      pb.UsersClient
	audit      pb.AuditClient
	messages   pb.MessagesClient
	jobs       pb.JobsClient
	blobs      pb.BlobsClient
	complaints pb.ComplaintsClient
}

func newHost(conn *grpc.ClientConn) *Host {
	return &Host{c: hostClients{terms: pb.NewTermsClient(conn), users: pb.NewUsersClient(conn), audit: pb.NewAuditClient(conn),
		messages: pb.NewMessagesClient(conn), jobs: pb.NewJobsClient(conn), blobs: pb.NewBlobsClient(conn),
		complaints: pb.NewComplaintsClient(conn)}}
}

// HostFrom returns the HostAPI for the host call ctx belongs to (nil outside a host call).
//
// Since protocol version 1.
func HostFrom(ctx context.Context) *Host {
	h, _ := ctx.Value(hostKey{}).(*Host)
	return h
}

var errNoHost = errors.New("sdk: HostAPI call outside a request, job or event of the host")

func (h *Host) out(ctx context.Context) (context.Context, error) {
	if h == nil || h.token == "" {
		return nil, errNoHost
	}
	return metadata.AppendToOutgoingContext(ctx, wire.CallTokenKey, h.token), nil
}

// ---- users ----

// User returns the user of the current tenant with this id, or an error if there is none.
//
// Since protocol version 1.
func (h *Host) User(ctx context.Context, id string) (*User, error) {
	return h.lookup(ctx, &pb.LookupUserRequest{Id: id})
}

// UserByEmail returns the user of the current tenant with this e-mail, or an error.
//
// Since protocol version 1.
func (h *Host) UserByEmail(ctx context.Context, email string) (*User, error) {
	return h.lookup(ctx, &pb.LookupUserRequest{Email: email})
}

func (h *Host) lookup(ctx context.Context, req *pb.LookupUserRequest) (*User, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.c.users.Lookup(ctx, req)
	if err != nil {
		return nil, err
	}
	return userFromPB(r), nil
}

// CheckSecret reports whether answer is the user's secret answer (compared without regard
// to case, accents and spacing), and whether the user has one at all. The host records the
// check, and its outcome, in the audit trail; the answer itself never leaves the core.
//
// Since protocol version 1.
func (h *Host) CheckSecret(ctx context.Context, userID, answer string) (match, hasSecret bool, err error) {
	ctx, err = h.out(ctx)
	if err != nil {
		return false, false, err
	}
	r, err := h.c.users.CheckSecret(ctx, &pb.CheckSecretRequest{UserId: userID, Answer: answer})
	if err != nil {
		return false, false, err
	}
	return r.Match, r.HasSecret, nil
}

// SetRole gives (on) or takes away one of the module's own assignable roles from a user of
// the current tenant (a professional account the lab activated); the host records it in the
// audit trail. The core's roles and other modules' roles are refused.
//
// Since protocol version 1.
func (h *Host) SetRole(ctx context.Context, userID, role string, on bool) error {
	ctx, err := h.out(ctx)
	if err != nil {
		return err
	}
	_, err = h.c.users.SetRole(ctx, &pb.SetRoleRequest{UserId: userID, Role: role, On: on})
	return err
}

// Dependant is a person a user represents as his legal representative (P2): a minor, or an
// adult deprived of ("deprived") or restricted in ("restricted") legal capacity, recorded by
// the user on his account page with the relationship and his consent as representative, and
// deleted with his account. A module gives the user access on the person's behalf only while
// Represented holds; it never lets an adult with full capacity be acted for.
//
// Since protocol version 2 (addition).
type Dependant struct {
	ID        string
	FirstName string
	LastName  string
	// BirthName is the family name at birth when it differs from LastName, "" otherwise.
	BirthName string
	BirthDate string // "2006-01-02"
	// NationalID is the national identification number, "" when none was given.
	NationalID  string
	Sex         string // "female", "male" or ""
	Nationality string
	Address     string // the permanent address
	// Relationship is "parent", "guardian", "curator" or "other".
	Relationship string
	// LegalStatus is "minor", "deprived" or "restricted".
	LegalStatus string
	// ConsentAt is when the user last gave his consent as the person's representative.
	ConsentAt time.Time
	// OfAgeOn is the day a minor comes of age under the tenant's rule ("2006-01-02"); "" for
	// an adult under protection.
	OfAgeOn string
	// Represented is whether the user represents the person on the day of the call: always
	// for an adult under protection, for a minor until OfAgeOn.
	Represented bool
}

// RepresentedOn reports whether the user represents the person on day ("2006-01-02", in the
// tenant's time zone): the day of an order or an appointment, or today by the module's clock.
//
// Since protocol version 2 (addition).
func (d *Dependant) RepresentedOn(day string) bool {
	if d.LegalStatus != "minor" {
		return true
	}
	return d.OfAgeOn != "" && day < d.OfAgeOn
}

// Dependants returns the people userID represents in the current tenant, by name; none for
// an unknown user.
//
// Since protocol version 2 (addition).
func (h *Host) Dependants(ctx context.Context, userID string) ([]Dependant, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.c.users.Dependants(ctx, &pb.DependantsRequest{UserId: userID})
	if err != nil {
		return nil, err
	}
	out := make([]Dependant, len(r.Dependants))
	for i, d := range r.Dependants {
		out[i] = dependantFromPB(d)
	}
	return out, nil
}

// Invite opens an account of the current tenant for email, verified, without a password,
// and e-mails it a link to choose one (P2, B1: the firm assigns the client's login at
// subscription): name and language (locale, "" for the tenant's) as given, and role, one of
// the module's own assignable roles ("" for none beyond "user"). An account that already
// exists for the address is returned as it is (created is false) and gets the role; it is
// sent nothing.
//
// Since protocol version 2 (addition).
func (h *Host) Invite(ctx context.Context, email, name, locale, role string) (u *User, created bool, err error) {
	ctx, err = h.out(ctx)
	if err != nil {
		return nil, false, err
	}
	r, err := h.c.users.Invite(ctx, &pb.InviteRequest{Email: email, Name: name, Locale: locale, Role: role})
	if err != nil {
		return nil, false, err
	}
	return userFromPB(r.User), r.Created, nil
}

func dependantFromPB(d *pb.Dependant) Dependant {
	out := Dependant{ID: d.Id, FirstName: d.FirstName, LastName: d.LastName, BirthName: d.BirthName, BirthDate: d.BirthDate,
		NationalID: d.NationalId, Sex: d.Sex, Nationality: d.Nationality, Address: d.Address, Relationship: d.Relationship,
		LegalStatus: d.LegalStatus, OfAgeOn: d.OfAgeOn, Represented: d.Represented}
	if d.ConsentUnix != 0 {
		out.ConsentAt = time.Unix(d.ConsentUnix, 0).UTC()
	}
	return out
}

// ---- audit ----

// AuditRecord is an access or action in the tenant's audit trail (P9): who did what to
// which resource of whose data. A module gives Action (one of its manifest's AuditActions),
// Subject (the user whose data was touched, if any), Resource and Detail; the host adds who
// acted, when, the request and the address. In the records AuditTrail returns, the host fills
// At and the actor: ActorKind is "user" (an account), "client" (an API key) or "system" (a
// job or an event), with the actor's name and his roles as the module sees them, and the
// record's Detail.
//
// Detail carries, beside what the record proves, the words a page names what was read with
// (issue 12.5): the core's pages show a record with the module's message
// "audit.what.<action>" (its locale file), given Detail; a value under a key ending in
// "_date" ("2006-01-02") is shown as a date in the reader's language. Record the words when
// the access happens (the report's collection date, the analyte's name): the core shows them
// without asking the module, even once the thing read is gone. Never an identifier alone.
//
// Since protocol version 1.
type AuditRecord struct {
	Action   string
	Subject  string
	Resource string
	Detail   map[string]any

	At         time.Time
	ActorID    string
	ActorName  string
	ActorKind  string
	ActorRoles []string
}

// Record appends a record to the current tenant's audit trail, with the actor, time,
// request id and address of the current call.
//
// Since protocol version 1.
func (h *Host) Record(ctx context.Context, rec AuditRecord) error {
	ctx, err := h.out(ctx)
	if err != nil {
		return err
	}
	detail, err := json.Marshal(rec.Detail)
	if err != nil {
		return err
	}
	_, err = h.c.audit.Record(ctx, &pb.AuditRecord{Action: rec.Action, Subject: rec.Subject, Resource: rec.Resource, DetailJson: detail})
	return err
}

// AuditTrail returns the current tenant's audit records of this module's actions about
// subject (a user id), newest first, at most limit (the host caps it): what a patient sees of
// who accessed his results.
//
// Since protocol version 1.
func (h *Host) AuditTrail(ctx context.Context, subject string, limit int) ([]AuditRecord, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.c.audit.List(ctx, &pb.AuditListRequest{Subject: subject, Limit: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]AuditRecord, 0, len(r.Entries))
	for _, e := range r.Entries {
		var detail map[string]any
		if len(e.DetailJson) > 0 {
			_ = json.Unmarshal(e.DetailJson, &detail) // a detail the host could not give back is shown without it
		}
		out = append(out, AuditRecord{At: time.Unix(e.AtUnix, 0).UTC(), Action: e.Action, Subject: subject, Resource: e.Resource,
			ActorID: e.ActorId, ActorName: e.ActorName, ActorKind: e.ActorKind, ActorRoles: e.ActorRoles, Detail: detail})
	}
	return out, nil
}

// ---- messages ----

// Message is an e-mail or SMS a module asks the host to send from one of its templates, in
// the recipient's language.
//
// Since protocol version 1.
type Message struct {
	Channel  string // "email" (or "") or "sms"
	UserID   string // the recipient, a user of the tenant; or
	To       string // an address or a mobile number, when the recipient has no account
	Template string // one of the manifest's Templates ("results.published")
	Data     map[string]any
	// Link is the link the message carries: a path ("/login?next=/results/mine") goes to the
	// recipient's portal on the tenant's hostname.
	Link string
	// Attachments are files the e-mail carries (a visit's ICS invitation); the host caps
	// their size and keeps them in the tenant's outbox with the message. An SMS carries none.
	//
	// Since protocol version 2 (addition).
	Attachments []Blob
	// Secret marks a message carrying a single-use link (a visit's cancel link): once
	// delivered its text is no longer kept in the tenant's outbox, where staff could use it.
	//
	// Since protocol version 2 (addition).
	Secret bool
}

// Send renders one of the module's templates in the recipient's language and queues it;
// it returns the message's id. An SMS ("sms.<template>", no health data in it) goes to the
// number given or to the user's registration field "mobile" (a Field of Type "tel", kept in
// E.164); none is queued, and the id is "", when the tenant has not switched SMS on or the
// user gave no mobile number (the host's log says which).
//
// Since protocol version 1.
func (h *Host) Send(ctx context.Context, msg Message) (string, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(msg.Data)
	if err != nil {
		return "", err
	}
	files := make([]*pb.Attachment, len(msg.Attachments))
	for i, a := range msg.Attachments {
		files[i] = &pb.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
	}
	r, err := h.c.messages.Send(ctx, &pb.MessageRequest{Channel: msg.Channel, UserId: msg.UserID, To: msg.To,
		Template: msg.Template, DataJson: data, Link: msg.Link, Attachments: files, Secret: msg.Secret})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// ---- jobs ----

// Schedule asks the host to call RunJob with job (Name, Payload) at job.At for the current
// tenant; scheduling the same Key again returns the existing job's id.
//
// Since protocol version 1.
func (h *Host) Schedule(ctx context.Context, job Job) (string, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return "", err
	}
	r, err := h.c.jobs.Schedule(ctx, &pb.ScheduleJobRequest{Name: job.Name, RunAtUnixMs: job.At.UnixMilli(),
		IdempotencyKey: job.Key, Payload: job.Payload})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// Cancel cancels the current tenant's pending job with this key, if any.
//
// Since protocol version 1.
func (h *Host) Cancel(ctx context.Context, key string) error {
	ctx, err := h.out(ctx)
	if err != nil {
		return err
	}
	_, err = h.c.jobs.Cancel(ctx, &pb.CancelJobRequest{IdempotencyKey: key})
	return err
}

// ---- blobs ----

// Blob is a stored file (a result PDF, an invoice).
//
// Since protocol version 1.
type Blob struct {
	Name        string
	ContentType string
	Data        []byte
}

// PutBlob stores a file of the current tenant and module and returns its id.
//
// Since protocol version 1.
func (h *Host) PutBlob(ctx context.Context, b Blob) (string, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return "", err
	}
	r, err := h.c.blobs.Put(ctx, &pb.PutBlobRequest{Name: b.Name, ContentType: b.ContentType, Data: b.Data})
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// Blob reads a file of the current tenant and module; another tenant's file is not found.
//
// Since protocol version 1.
func (h *Host) Blob(ctx context.Context, id string) (*Blob, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.c.blobs.Get(ctx, &pb.GetBlobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return &Blob{Name: r.Name, ContentType: r.ContentType, Data: r.Data}, nil
}

// DeleteBlob removes a file of the current tenant and module; deleting a missing file is
// not an error.
//
// Since protocol version 1.
func (h *Host) DeleteBlob(ctx context.Context, id string) error {
	ctx, err := h.out(ctx)
	if err != nil {
		return err
	}
	_, err = h.c.blobs.Delete(ctx, &pb.GetBlobRequest{Id: id})
	return err
}

// ---- terms ----

// Terms is the version in force of a terms document of the current tenant (P6) and, when a
// user was named, whether and when he accepted it. A module keeps VersionID with each
// record it makes under those terms (a booking, an order).
//
// Since protocol version 1.
type Terms struct {
	VersionID  string
	Doc        string
	Version    int
	Effective  time.Time
	Title      string
	Accepted   bool
	AcceptedAt time.Time
	// Bodies is the version's full text (Markdown) in each language it is written in, by
	// locale ("sk", "fr"…), filled by Terms (not by AcceptTerms): what a module sends on a
	// durable medium, e.g. with an order's confirmation. Since protocol version 2 (addition).
	Bodies map[string]string
}

// Terms returns the version in force of the module's own terms (doc "") or of the
// account's (doc "platform"); with a userID, whether that user accepted it.
//
// Since protocol version 1.
func (h *Host) Terms(ctx context.Context, doc, userID string) (*Terms, error) {
	octx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	v, err := h.c.terms.Current(octx, &pb.TermsRequest{Doc: doc})
	if err != nil {
		return nil, err
	}
	out := &Terms{VersionID: v.Id, Doc: v.Doc, Version: int(v.Version), Effective: time.Unix(v.EffectiveUnix, 0).UTC(), Title: v.Title,
		Bodies: v.Bodies}
	if userID == "" {
		return out, nil
	}
	return out, h.acceptance(octx, out, doc, userID, h.c.terms.Accepted)
}

// AcceptTerms records that a user accepted the version in force of the module's own terms
// (doc ""), with the time and the address of the current request, and returns it; accepting
// again changes nothing. The account's terms are accepted in the core's pages only.
//
// Since protocol version 1.
func (h *Host) AcceptTerms(ctx context.Context, doc, userID string) (*Terms, error) {
	octx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	out := &Terms{}
	if err := h.acceptance(octx, out, doc, userID, h.c.terms.Accept); err != nil {
		return nil, err
	}
	v, err := h.c.terms.Current(octx, &pb.TermsRequest{Doc: doc})
	if err != nil {
		return nil, err
	}
	out.Doc, out.Effective, out.Title = v.Doc, time.Unix(v.EffectiveUnix, 0).UTC(), v.Title
	return out, nil
}

func (h *Host) acceptance(ctx context.Context, out *Terms, doc, userID string,
	fn func(context.Context, *pb.TermsUserRequest, ...grpc.CallOption) (*pb.TermsAcceptance, error)) error {
	r, err := fn(ctx, &pb.TermsUserRequest{Doc: doc, UserId: userID})
	if err != nil {
		return err
	}
	out.Accepted, out.VersionID, out.Version = r.Accepted, r.VersionId, int(r.Version)
	if r.AtUnix > 0 {
		out.AcceptedAt = time.Unix(r.AtUnix, 0).UTC()
	}
	return nil
}

// ---- complaints ----

// Complaint is a complaint or support request a module lodges from its own form (P10, R8):
// its category (one of the core's: "support", "service"…), body, the address the answer goes
// to, the user it comes from, and when it must be answered by the module's rule (zero: the
// tenant's complaint rule). Lodge returns it with the host's ID, Reference and Due.
//
// Since protocol version 1.
type Complaint struct {
	Category string
	Body     string
	ReplyTo  string
	UserID   string
	Due      time.Time

	ID        string
	Reference string
}

// Lodge records a complaint of the current module in the tenant's queue, where staff answer
// it; the host confirms receipt to ReplyTo. A complaint that breaks the tenant's rules is
// refused with FieldErrors naming the fields.
//
// Since protocol version 1.
func (h *Host) Lodge(ctx context.Context, c Complaint) (*Complaint, error) {
	ctx, err := h.out(ctx)
	if err != nil {
		return nil, err
	}
	var due int64
	if !c.Due.IsZero() {
		due = c.Due.Unix()
	}
	r, err := h.c.complaints.Lodge(ctx, &pb.LodgeRequest{Category: c.Category, Body: c.Body, ReplyTo: c.ReplyTo, UserId: c.UserID, DueUnix: due})
	if fe, ok := fieldErrors(err); ok {
		return nil, fe
	}
	if err != nil {
		return nil, err
	}
	c.ID, c.Reference, c.Due = r.Id, r.Reference, time.Unix(r.DueUnix, 0).UTC()
	return &c, nil
}

// FieldErrors maps form fields to message ids: the host returns it when what a module sent
// breaks the tenant's rules (a complaint without its body), and the module shows each
// message next to its field.
//
// Since protocol version 1.
type FieldErrors map[string]string

// Error lists the fields, as JSON (the host sends it so on the wire).
//
// Since protocol version 1.
func (f FieldErrors) Error() string {
	b, _ := json.Marshal(map[string]string(f))
	return string(b)
}

// fieldErrors returns the FieldErrors an InvalidArgument HostAPI error carries, if any.
func fieldErrors(err error) (FieldErrors, bool) {
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
