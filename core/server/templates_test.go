package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
)

// TestTenantMessageTemplates: a tenant admin replaces a message's wording in one language;
// the next message uses it with its data, the other languages and tenants keep the
// platform's; a broken variable is refused (P7).
func TestTenantMessageTemplates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		r := admin.get("/admin/messages")
		mustContain(t, r, `href="/admin/messages/reset/fr"`, "Texte de la plateforme")
		if r := admin.post("/admin/messages/reset/fr", "/admin/messages/reset/fr", url.Values{"subject": {"Mot de passe {{.Tenant"}, "body": {"x"}}); r.Status != 422 {
			t.Fatalf("broken variable: %d", r.Status)
		}
		r = admin.post("/admin/messages/reset/fr", "/admin/messages/reset/fr", url.Values{
			"subject": {"MLab : votre nouveau mot de passe"}, "body": {"Bonjour {{.Name}}, le lien expire dans {{.Minutes}} minutes."}})
		if r.Status != 303 {
			t.Fatalf("save: %d", r.Status)
		}
		e.client("mlab.localhost").post("/reset", "/reset", url.Values{"email": {"user@mlab.localhost"}})
		e.runJobs()
		ms := e.mails("mlab")
		last := ms[len(ms)-1]
		if last.Subject != "MLab : votre nouveau mot de passe" || !strings.Contains(last.Text, "Bonjour Demo User, le lien expire dans 60 minutes.") {
			t.Fatalf("tenant wording not used: %q %q", last.Subject, last.Text)
		}
		// Another tenant keeps the platform's wording.
		e.client("secretaires.localhost").post("/reset", "/reset", url.Values{"email": {"user@secretaires.localhost"}})
		e.runJobs()
		sm := e.mails("secretaires")
		if s := sm[len(sm)-1].Subject; !strings.Contains(s, "Réinitialisation") {
			t.Fatalf("other tenant: %q", s)
		}
	})
}

// TestRedactedMessageShownLocalized: a delivered message whose single-use link is no longer
// kept shows, in the mailbox, a sentence in the admin's language, not the stored marker.
func TestRedactedMessageShownLocalized(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	ctx := context.Background()
	ml := e.tenant("mlab")
	e.client("mlab.localhost").post("/reset", "/reset", url.Values{"email": {"user@mlab.localhost"}})
	e.runJobs()
	list, _ := e.srv.Mail.List(ctx, ml.ID, 1)
	err := e.srv.DB.InTenant(ctx, ml.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Update((*mail.Entry)(nil)).Set("text_body = ?", mail.Redacted).Set("html_body = ''").Where("id = ?", list[0].ID).Exec(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.client("mlab.localhost")
	admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
	r := admin.get("/admin/mailbox/" + list[0].ID)
	mustContain(t, r, "lien à usage unique")
	mustNotContain(t, r, mail.Redacted, "token=")
}

// TestMailboxListsAttachments (issue 13.4): the development mailbox lists a message's files
// with their size, serves each as a download, and another tenant's admin reaches none.
func TestMailboxListsAttachments(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	ctx := context.Background()
	ml := e.tenant("mlab")
	m, err := e.srv.Mail.Send(ctx, ml, mail.Message{To: "user@mlab.localhost", Subject: "Rendez-vous", Text: "t", Template: "test", Locale: "fr",
		Attachments: []mail.Attachment{{Name: "rendez-vous.ics", ContentType: "text/calendar; charset=utf-8", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.client("mlab.localhost")
	admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
	mustContain(t, admin.get("/admin/mailbox"), "rendez-vous.ics")
	mustContain(t, admin.get("/admin/mailbox/"+m.ID), "Pièces jointes", `href="/admin/mailbox/`+m.ID+`/files/1"`, "(32 o)")
	r := admin.get("/admin/mailbox/" + m.ID + "/files/1")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/calendar") || !strings.Contains(r.Header.Get("Content-Disposition"), "rendez-vous.ics") ||
		!strings.Contains(r.Body, "BEGIN:VCALENDAR") {
		t.Fatalf("file: %d %v\n%s", r.Status, r.Header, r.Body)
	}
	if r := admin.get("/admin/mailbox/" + m.ID + "/files/2"); r.Status != 404 {
		t.Fatalf("no such file: %d", r.Status)
	}
	other := e.client("secretaires.localhost")
	other.login("", "admin@secretaires.localhost", "demo-secretaires-admin")
	if r := other.get("/admin/mailbox/" + m.ID + "/files/1"); r.Status != 404 {
		t.Fatalf("another tenant's admin: %d", r.Status)
	}
}

// recorder is a transport that accepts every message (a real delivery, as SMTP would).
type recorder struct{ n int }

func (r *recorder) Deliver(context.Context, *tenancy.Tenant, *mail.Entry, *gomail.Msg) (string, error) {
	r.n++
	return "test:delivered", nil
}

// TestModuleSecretMessageRedactedAfterDelivery (issue 13.4): a module's message marked
// Secret (a visit's confirmation with its cancel link) goes out whole with its files, and
// once delivered the outbox no longer keeps its text; its files stay listed with it.
func TestModuleSecretMessageRedactedAfterDelivery(t *testing.T) {
	e := newEnv(t, dbtest.Backends()[0])
	ctx := context.Background()
	el := e.tenant("elekarze")
	tr := &recorder{}
	e.srv.Mail.Email = tr
	defer func() { e.srv.Mail.Email = nil }()
	id, err := e.srv.Modules.Mailer.SendMailWith(ctx, el, "jan@example.org", "Jan Nowak", "pl", "calendar.booked", "https://elekarze.localhost/calendar/cancel/abc",
		mail.Message{Secret: true, Attachments: []mail.Attachment{{Name: "wizyta.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR")}}},
		"Doctor", "dr Anna Kowalska", "When", "01.12.2026 09:00")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.srv.Mail.Get(ctx, el.ID, id)
	if err != nil || tr.n != 1 || got.Status != "sent" || got.TextBody != mail.Redacted || strings.Contains(got.HTMLBody, "cancel/abc") ||
		len(got.Attachments) != 1 || got.Attachments[0].Name != "wizyta.ics" {
		t.Fatalf("after delivery: %+v (%v, %d deliveries)", got, err, tr.n)
	}
}
