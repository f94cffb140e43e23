// Package mail owns the outbox: every e-mail the platform sends is recorded in the tenant's
// outbox and delivered. Without an SMTP server (development) delivery keeps the composed
// message (the .eml, or the SMS text) in the outbox row itself, which the admin mailbox page
// lists and serves: every instance of the platform reads the same mailbox. It must not know
// about templates or HTTP: callers hand it finished, localized text.
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/uptrace/bun"
	gomail "github.com/wneessen/go-mail"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// Message is one e-mail, already rendered in the recipient's language.
type Message struct {
	To       string
	Subject  string
	Text     string
	HTML     string
	Template string // the message's template key, for the mailbox and tests
	Locale   string
	Channel  string // "email" (default) or "sms"
	// Secret marks a message carrying a single-use link (verification, reset): once
	// delivered through a real transport its text is no longer kept, so that nobody who
	// reads the outbox (an admin, a database copy) can use the link.
	Secret bool
	// Forget removes the message from the outbox once delivered (the confirmation sent to a
	// person whose account was just erased: nothing of him stays behind).
	Forget bool
	// Attachments are the files the e-mail carries (an SMS carries none), at most
	// Outbox.MaxAttachmentBytes together.
	Attachments []Attachment
}

// Attachment is a file an e-mail carries, kept in the tenant's outbox with its message until
// the message itself goes (Forget, an erasure).
type Attachment struct {
	bun.BaseModel `bun:"table:outbox_attachments,alias:oa"`

	TenantID    string `bun:"tenant_id,pk"`
	OutboxID    string `bun:"outbox_id,pk"`
	Seq         int    `bun:"seq,pk"`
	Name        string `bun:"name"`
	ContentType string `bun:"content_type"`
	Size        int    `bun:"size"`
	// Data is the file; List and Get leave it out (the mailbox lists names and sizes).
	Data []byte `bun:"data" json:"-"`
}

// DefaultMaxAttachmentBytes caps the files of one message when Outbox.MaxAttachmentBytes is
// 0: below the 4 MiB a module's gRPC message to the host may carry, with room for the rest.
const DefaultMaxAttachmentBytes = 3 << 20

// ErrAttachments refuses a message whose files are too large together, or a file without a
// name or with a content type that is not one.
var ErrAttachments = errors.New("mail: attachments too large or malformed")

// Redacted replaces the text of a delivered secret message.
const Redacted = "[redacted after delivery: this message carried a single-use link]"

// Entry is a row of the outbox.
type Entry struct {
	bun.BaseModel `bun:"table:outbox,alias:o"`

	TenantID  string       `bun:"tenant_id,pk"`
	ID        string       `bun:"id,pk"`
	Channel   string       `bun:"channel"`
	Recipient string       `bun:"recipient"`
	Subject   string       `bun:"subject"`
	TextBody  string       `bun:"text_body"`
	HTMLBody  string       `bun:"html_body"`
	Template  string       `bun:"template"`
	Locale    string       `bun:"locale"`
	Status    string       `bun:"status"`
	File      string       `bun:"file"`
	CreatedAt time.Time    `bun:"created_at"`
	SentAt    bun.NullTime `bun:"sent_at"`
	Attempts  int          `bun:"attempts"`
	LastError string       `bun:"last_error"`
	Secret    bool         `bun:"secret"`
	Forget    bool         `bun:"forget"`
	// Raw is the message as the development mailbox keeps it (RFC 5322 for e-mail, text for
	// SMS); read only by Raw, never listed.
	Raw []byte `bun:"raw" json:"-"`
	// Attachments are the message's files (without their data, as List and Get read them).
	Attachments []Attachment `bun:"-"`
}

// Transport delivers one message. Email transports take the composed RFC 5322 bytes.
type Transport interface {
	// Deliver sends e; it returns where it went (a file name, a provider id) or an error
	// after which the outbox retries later.
	Deliver(ctx context.Context, t *tenancy.Tenant, e *Entry, msg *gomail.Msg) (string, error)
}

// Outbox records and delivers messages: e-mail through Email, SMS through SMS, or without
// them into the development mailbox (the outbox row keeps the composed message). A delivery
// that fails is retried later by the job runner (Retry), with backoff.
type Outbox struct {
	DB    *db.DB
	Email Transport
	SMS   Transport
	// Retry schedules another attempt of a message that could not be delivered.
	Retry func(ctx context.Context, tenantID, entryID string, attempts int) error
	// MaxAttachmentBytes caps the files of one message together (0: DefaultMaxAttachmentBytes).
	MaxAttachmentBytes int
}

// attachments checks m's files and makes them rows of the tenant's message id.
func (o *Outbox) attachments(tenantID, id string, m Message) ([]Attachment, error) {
	if len(m.Attachments) == 0 {
		return nil, nil
	}
	if m.Channel == "sms" {
		return nil, fmt.Errorf("%w: an SMS carries no file", ErrAttachments)
	}
	limit := o.MaxAttachmentBytes
	if limit <= 0 {
		limit = DefaultMaxAttachmentBytes
	}
	total := 0
	out := make([]Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		total += len(a.Data)
		name := path.Base(strings.ReplaceAll(strings.TrimSpace(a.Name), "\\", "/"))
		typ, params, err := mime.ParseMediaType(a.ContentType)
		switch {
		case total > limit:
			return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrAttachments, total, limit)
		case name == "" || name == "." || name == "/" || strings.ContainsAny(name, "\r\n\"") || len(name) > 200:
			return nil, fmt.Errorf("%w: file name %q", ErrAttachments, a.Name)
		case err != nil:
			return nil, fmt.Errorf("%w: content type %q", ErrAttachments, a.ContentType)
		}
		out[i] = Attachment{TenantID: tenantID, OutboxID: id, Seq: i + 1, Name: name, ContentType: mime.FormatMediaType(typ, params),
			Size: len(a.Data), Data: a.Data}
	}
	return out, nil
}

// mailbox is the development transport: the composed message is kept in the outbox row
// (column raw), named as the file a mail reader would open, and the mailbox page reads it
// from the database, the same on every instance.
type mailbox struct{ raw []byte }

// Deliver composes the message; Outbox.Deliver stores it with the row.
func (b *mailbox) Deliver(_ context.Context, t *tenancy.Tenant, e *Entry, msg *gomail.Msg) (string, error) {
	ext := ".eml"
	if e.Channel == "sms" || msg == nil {
		ext = ".sms.txt"
		b.raw = []byte("To: " + e.Recipient + "\n\n" + e.TextBody + "\n")
	} else {
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			return "", err
		}
		b.raw = buf.Bytes()
	}
	return t.Slug + "/" + e.CreatedAt.Format("20060102-150405") + "-" + e.ID + ext, nil
}

// Send records m in the tenant's outbox and tries to deliver it at once; a failed delivery
// is retried later.
func (o *Outbox) Send(ctx context.Context, t *tenancy.Tenant, m Message) (*Entry, error) {
	ch := m.Channel
	if ch == "" {
		ch = "email"
	}
	e := &Entry{TenantID: t.ID, ID: tenancy.NewID(), Channel: ch, Recipient: m.To, Subject: m.Subject,
		TextBody: m.Text, HTMLBody: m.HTML, Template: m.Template, Locale: m.Locale, Status: "queued",
		CreatedAt: time.Now().UTC(), Secret: m.Secret, Forget: m.Forget}
	files, err := o.attachments(t.ID, e.ID, m)
	if err != nil {
		return nil, err
	}
	err = o.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(e).Exec(ctx); err != nil {
			return err
		}
		if len(files) > 0 {
			_, err := sc.Insert(&files).Exec(ctx)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, o.Deliver(ctx, t, e.ID)
}

// Deliver makes one delivery attempt of a queued message; on failure it records the error
// and schedules another attempt (unless none is configured).
func (o *Outbox) Deliver(ctx context.Context, t *tenancy.Tenant, id string) error {
	e, err := o.Get(ctx, t.ID, id)
	if err != nil {
		return err
	}
	if e.Status == "sent" || e.Status == "written" {
		return nil
	}
	tr := o.Email
	if e.Channel == "sms" {
		tr = o.SMS
	}
	var dev *mailbox
	if tr == nil {
		dev = &mailbox{}
		tr = dev
	}
	var msg *gomail.Msg
	if e.Channel == "email" {
		var files []Attachment
		err := o.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			return sc.Select(&files).Where("outbox_id = ?", e.ID).Order("seq").Scan(ctx)
		})
		if err != nil {
			return err
		}
		if msg, err = compose(t, e, files); err != nil {
			return fmt.Errorf("compose mail: %w", err)
		}
	}
	where, derr := tr.Deliver(ctx, t, e, msg)
	if derr != nil {
		err := o.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*Entry)(nil)).Where("id = ?", e.ID).Set("attempts = attempts + 1").
				Set("last_error = ?", derr.Error()).Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
		if o.Retry == nil {
			return derr
		}
		// Once the attempt is recorded: the retry has a transaction of its own (on SQLite,
		// one nested in the other would wait for the write lock it holds).
		return o.Retry(ctx, t.ID, e.ID, e.Attempts+1)
	}
	return o.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Update((*Entry)(nil)).Where("id = ?", e.ID).Set("attempts = attempts + 1")
		if e.Forget {
			if _, err := sc.Delete((*Attachment)(nil)).Where("outbox_id = ?", e.ID).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Delete((*Entry)(nil)).Where("id = ?", e.ID).Exec(ctx)
			return err
		}
		status := "sent"
		if dev != nil {
			status = "written"
			q = q.Set("raw = ?", dev.raw)
		} else if e.Secret {
			q = q.Set("text_body = ?", Redacted).Set("html_body = ''")
		}
		_, err := q.Set("status = ?", status).Set("file = ?", where).Set("sent_at = ?", time.Now().UTC()).Set("last_error = ''").Exec(ctx)
		return err
	})
}

func compose(t *tenancy.Tenant, e *Entry, files []Attachment) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	name, addr := From(t)
	if err := msg.FromFormat(name, addr); err != nil {
		return nil, err
	}
	if err := msg.To(e.Recipient); err != nil {
		return nil, err
	}
	msg.Subject(e.Subject)
	msg.SetDateWithValue(e.CreatedAt)
	msg.SetMessageIDWithValue(e.ID + "@" + t.Slug)
	msg.SetGenHeader(gomail.HeaderContentLang, e.Locale)
	msg.SetBodyString(gomail.TypeTextPlain, e.TextBody)
	if e.HTMLBody != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, e.HTMLBody)
	}
	for _, f := range files {
		if err := msg.AttachReader(f.Name, bytes.NewReader(f.Data), gomail.WithFileContentType(gomail.ContentType(f.ContentType))); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// List returns the tenant's most recent messages, newest first.
func (o *Outbox) List(ctx context.Context, tenantID string, limit int) ([]Entry, error) {
	var out []Entry
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&out).ExcludeColumn("raw").Order("created_at DESC").Limit(int64(limit)).Scan(ctx); err != nil {
			return err
		}
		return withAttachments(ctx, sc, out)
	})
	return out, err
}

// withAttachments fills the entries' Attachments (names, types and sizes, not the data).
func withAttachments(ctx context.Context, sc *db.Scope, es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	var files []Attachment
	if err := sc.Select(&files).ExcludeColumn("data").Where("outbox_id IN (?)", bun.In(ids)).Order("outbox_id", "seq").Scan(ctx); err != nil {
		return err
	}
	for i := range es {
		for _, f := range files {
			if f.OutboxID == es[i].ID {
				es[i].Attachments = append(es[i].Attachments, f)
			}
		}
	}
	return nil
}

// Attachment returns one file of a message of the tenant, with its data.
func (o *Outbox) Attachment(ctx context.Context, tenantID, id string, seq int) (*Attachment, error) {
	var a Attachment
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&a).Where("outbox_id = ? AND seq = ?", id, seq).Scan(ctx)
	})
	return &a, err
}

// Get returns one message of the tenant.
func (o *Outbox) Get(ctx context.Context, tenantID, id string) (*Entry, error) {
	var e Entry
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&e).ExcludeColumn("raw").Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		es := []Entry{e}
		err := withAttachments(ctx, sc, es)
		e = es[0]
		return err
	})
	return &e, err
}

// Raw returns a message of the tenant as the development mailbox keeps it (nil when it went
// through a real transport).
func (o *Outbox) Raw(ctx context.Context, tenantID, id string) (*Entry, error) {
	var e Entry
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&e).Where("id = ?", id).Scan(ctx)
	})
	return &e, err
}

// From is the sender address of a tenant's messages.
func From(t *tenancy.Tenant) (name, addr string) {
	addr = t.Settings.Contacts.Support
	if addr == "" && len(t.Hostnames) > 0 {
		addr = "no-reply@" + t.Hostnames[0].Hostname
	}
	if addr == "" {
		addr = "no-reply@" + t.Slug + ".localhost"
	}
	name = t.Settings.Branding.Name
	if name == "" {
		name = t.Settings.Name
	}
	return name, addr
}

// ListTo returns the tenant's messages to one recipient, oldest first (a person's data).
func (o *Outbox) ListTo(ctx context.Context, tenantID, recipient string) ([]Entry, error) {
	var out []Entry
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).ExcludeColumn("raw").Where("lower(recipient) = lower(?)", recipient).Order("created_at").Scan(ctx)
	})
	return out, err
}

// EraseTo removes, in the transaction of an erasure, every message of the tenant to one of
// the person's addresses (e-mail compared without case, mobile numbers without spaces):
// recipient, subject and bodies name him, and nothing requires keeping them.
func EraseTo(ctx context.Context, sc *db.Scope, addresses ...string) (int64, error) {
	var n int64
	for _, a := range addresses {
		a = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(a), " ", ""))
		if a == "" {
			continue
		}
		_, err := sc.Delete((*Attachment)(nil)).Where("outbox_id IN (SELECT o.id FROM outbox AS o WHERE o.tenant_id = ? AND lower(replace(o.recipient, ' ', '')) = ?)", sc.TenantID, a).Exec(ctx)
		if err != nil {
			return n, err
		}
		res, err := sc.Delete((*Entry)(nil)).Where("lower(replace(recipient, ' ', '')) = ?", a).Exec(ctx)
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}
