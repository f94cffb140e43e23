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
}

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
}

// OwnerTenant marks outbox as a tenant table.
func (e *Entry) OwnerTenant() string { return e.TenantID }

// Outbox records and delivers messages.
type Outbox struct {
	DB  *db.DB
	Dir string // <data>/mail
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

// Send records m in the tenant's outbox and delivers it.
func (o *Outbox) Send(ctx context.Context, t *tenancy.Tenant, m Message) (*Entry, error) {
	e := &Entry{TenantID: t.ID, ID: tenancy.NewID(), Channel: "email", Recipient: m.To, Subject: m.Subject,
		TextBody: m.Text, HTMLBody: m.HTML, Template: m.Template, Locale: m.Locale, Status: "queued",
		CreatedAt: time.Now().UTC()}
	raw, err := compose(t, e)
	if err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	dir := filepath.Join(o.Dir, t.Slug)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail dir: %w", err)
	}
	name := e.CreatedAt.Format("20060102-150405") + "-" + e.ID + ".eml"
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o640); err != nil {
		return nil, fmt.Errorf("write mail: %w", err)
	}
	e.Status, e.File, e.SentAt = "written", filepath.Join(t.Slug, name), bun.NullTime{Time: time.Now().UTC()}
	err = o.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Insert(e).Exec(ctx)
		return err
	})
	return e, err
}

func compose(t *tenancy.Tenant, e *Entry) ([]byte, error) {
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
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// List returns the tenant's most recent messages, newest first.
func (o *Outbox) List(ctx context.Context, tenantID string, limit int) ([]Entry, error) {
	var out []Entry
	err := o.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Order("created_at DESC").Limit(int64(limit)).Scan(ctx)
	})
	return out, err
}

// Get returns one message of the tenant.
func (o *Outbox) Get(ctx context.Context, tenantID, id string) (*Entry, error) {
	var e Entry
	err := o.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&e).Where("id = ?", id).Scan(ctx)
	})
	return &e, err
}
