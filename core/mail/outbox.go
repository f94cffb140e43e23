// Package mail owns the outbox: every e-mail the platform sends is recorded in the tenant's
// outbox and delivered. Without an SMTP server (development) delivery writes the message as
// an .eml file under <data>/mail/<tenant>/, which the admin mailbox page lists. It must not
// know about templates or HTTP: callers hand it finished, localized text.
package mail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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
}

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
}

// Transport delivers one message. Email transports take the composed RFC 5322 bytes.
type Transport interface {
	// Deliver sends e; it returns where it went (a file name, a provider id) or an error
	// after which the outbox retries later.
	Deliver(ctx context.Context, t *tenancy.Tenant, e *Entry, msg *gomail.Msg) (string, error)
}

// Outbox records and delivers messages: e-mail through Email, SMS through SMS. A delivery
// that fails is retried later by the job runner (Retry), with backoff.
type Outbox struct {
	DB    *db.DB
	Dir   string // <data>/mail, where the development transports write
	Email Transport
	SMS   Transport
	// Retry schedules another attempt of a message that could not be delivered.
	Retry func(ctx context.Context, tenantID, entryID string, attempts int) error
}

// Files is the development transport: each message becomes a file under Dir/<tenant>/,
// .eml for e-mail and .sms.txt for SMS, which the admin mailbox lists.
type Files struct{ Dir string }

// Deliver writes the message to a file.
func (f Files) Deliver(_ context.Context, t *tenancy.Tenant, e *Entry, msg *gomail.Msg) (string, error) {
	dir := filepath.Join(f.Dir, t.Slug)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("mail dir: %w", err)
	}
	ext := ".eml"
	var raw []byte
	if e.Channel == "sms" || msg == nil {
		ext = ".sms.txt"
		raw = []byte("To: " + e.Recipient + "\n\n" + e.TextBody + "\n")
	} else {
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			return "", err
		}
		raw = buf.Bytes()
	}
	name := e.CreatedAt.Format("20060102-150405") + "-" + e.ID + ext
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o640); err != nil {
		return "", fmt.Errorf("write mail: %w", err)
	}
	return filepath.Join(t.Slug, name), nil
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
		CreatedAt: time.Now().UTC(), Secret: m.Secret}
	err := o.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Insert(e).Exec(ctx)
		return err
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
	if tr == nil {
		tr = Files{Dir: o.Dir}
	}
	var msg *gomail.Msg
	if e.Channel == "email" {
		if msg, err = compose(t, e); err != nil {
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
		status := "sent"
		if _, ok := tr.(Files); ok {
			status = "written"
		} else if e.Secret {
			q = q.Set("text_body = ?", Redacted).Set("html_body = ''")
		}
		_, err := q.Set("status = ?", status).Set("file = ?", where).Set("sent_at = ?", time.Now().UTC()).Set("last_error = ''").Exec(ctx)
		return err
	})
}

func compose(t *tenancy.Tenant, e *Entry) (*gomail.Msg, error) {
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
	return msg, nil
}

// List returns the tenant's most recent messages, newest first.
func (o *Outbox) List(ctx context.Context, tenantID string, limit int) ([]Entry, error) {
	var out []Entry
	err := o.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Order("created_at DESC").Limit(int64(limit)).Scan(ctx)
	})
	return out, err
}

// Get returns one message of the tenant.
func (o *Outbox) Get(ctx context.Context, tenantID, id string) (*Entry, error) {
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
		return sc.Select(&out).Where("lower(recipient) = lower(?)", recipient).Order("created_at").Scan(ctx)
	})
	return out, err
}
