package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// smsapi is an SMS provider speaking SMSAPI's sms.do: it answers each request with the
// next status of fail (then 200), and keeps what arrived.
type smsapi struct {
	*httptest.Server
	mu   sync.Mutex
	fail []int
	got  []url.Values
}

func newSMSAPI(t *testing.T, fail ...int) *smsapi {
	p := &smsapi{fail: fail}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.URL.Path != "/sms.do" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":101,"message":"Authorization failed"}`)
			return
		}
		if len(p.fail) > 0 {
			w.WriteHeader(p.fail[0])
			p.fail = p.fail[1:]
			return
		}
		r.ParseForm()
		p.got = append(p.got, r.PostForm)
		fmt.Fprintf(w, `{"count":1,"list":[{"id":"sms-%d","points":0.16,"number":%q,"status":"QUEUED"}]}`, len(p.got), r.PostForm.Get("to"))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *smsapi) received() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.got...)
}

// syncLog is a log the test reads.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSMSThroughTheHostAPI: a module's registration field of type "tel" takes a mobile
// number as people type it and keeps it in E.164 (the tenant's country by default); a
// landline or a number that is no number gets a localized message next to the field. A
// module's SMS goes nowhere while the tenant has not switched SMS on (a log line says why,
// nothing is queued); once on, it is queued in the outbox and delivered through the SMS
// provider's HTTP API — after a 5xx, by the outbox's retry — to the number, in the
// recipient's language, or in the tenant's own wording (issue 11.15, P7).
func TestSMSThroughTheHostAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		gw := newSMSAPI(t, http.StatusBadGateway)
		e := newEnvWith(t, b, func(cfg *server.Config) {
			cfg.SMS = &mail.SMSAPI{URL: gw.URL + "/sms.do", Token: "tok", Sender: "MLab"}
		})
		logs := &syncLog{}
		e.srv.Modules.Log = slog.New(slog.NewTextHandler(logs, nil))
		f := e.withFakeResults()
		f.man.Templates = []string{"results.published"}
		f.man.RegistrationFields = append(f.man.RegistrationFields,
			sdk.Field{Name: "mobile", LabelKey: "results.field.mobile", Type: "tel", MaxLen: 32})
		ctx := context.Background()
		ml := e.tenant("mlab")

		// Registration: the number is checked, with a message next to the field.
		c := e.client("mlab.localhost")
		mustContain(t, c.get("/register"), `name="mobile"`, `type="tel"`)
		for raw, msg := range map[string]string{"01 42 68 53 00": "pas un numéro de mobile", "12": "Saisissez un numéro de téléphone mobile valide"} {
			form := registerForm("sms@example.org")
			form.Set("address", "1 rue du Port")
			form.Set("mobile", raw)
			r := c.post("/register", "/register", form)
			if r.Status != 422 || !strings.Contains(r.Body, `id="e-mobile"`) || !strings.Contains(r.Body, msg) {
				t.Fatalf("mobile %q: %d %s", raw, r.Status, mainOf(r.Body))
			}
		}
		p := e.newPatient("mlab.localhost", "sms@example.org", url.Values{"address": {"1 rue du Port"}, "mobile": {"06 12 34 56 78"}})
		_ = p
		u, _ := e.srv.Accounts.ByEmail(ctx, ml.ID, "sms@example.org")
		if u.Profile["mobile"] != "+33612345678" {
			t.Fatalf("stored mobile %q", u.Profile["mobile"])
		}
		sc := host.Scope{TenantID: ml.ID, ModuleID: "results"}
		msg := sdk.Message{Channel: "sms", UserID: u.ID, Template: "results.published", Link: "/login?next=/results/mine",
			Data: map[string]any{"Count": 1}}
		smsRows := func() []mail.Entry {
			var out []mail.Entry
			e.srv.DB.ReadTenant(ctx, ml.ID, func(ctx context.Context, sc *db.Scope) error {
				return sc.Select(&out).Where("channel = 'sms'").Order("created_at").Scan(ctx)
			})
			return out
		}

		// The tenant has not switched SMS on: nothing is queued, the log says why.
		if id, err := f.hs.Messages.Send(ctx, sc, msg); err != nil || id != "" || len(smsRows()) != 0 {
			t.Fatalf("SMS off: id %q, %v, %d queued", id, err, len(smsRows()))
		}
		if !strings.Contains(logs.String(), "notifications.sms") || !strings.Contains(logs.String(), "module=results") {
			t.Fatalf("no log line for the refused SMS: %s", logs.String())
		}

		// Switched on: queued, refused once by the provider (502), retried by the outbox.
		on := e.tenant("mlab")
		on.Settings.Rules["notifications.sms"] = true
		if err := e.srv.Tenants.Save(ctx, on); err != nil {
			t.Fatal(err)
		}
		id, err := f.hs.Messages.Send(ctx, sc, msg)
		if err != nil || id == "" {
			t.Fatalf("send: %q %v", id, err)
		}
		rows := smsRows()
		if len(rows) != 1 || rows[0].Status != "queued" || rows[0].Recipient != "+33612345678" || !strings.Contains(rows[0].LastError, "502") {
			t.Fatalf("after the provider's 502: %+v", rows)
		}
		if err := e.srv.Jobs.DueNow(ctx, ml.ID, jobs.CoreModule, "core.deliver"); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.RunJobsOnce(ctx); err != nil {
			t.Fatal(err)
		}
		got := gw.received()
		if len(got) != 1 || got[0].Get("to") != "33612345678" || got[0].Get("from") != "MLab" ||
			!strings.HasPrefix(got[0].Get("message"), "Un nouveau résultat vous attend sur votre espace") ||
			!strings.Contains(got[0].Get("message"), "http://mlab.localhost") {
			t.Fatalf("provider received %v", got)
		}
		if rows := smsRows(); rows[0].Status != "sent" || rows[0].File != "sms:sms-1" {
			t.Fatalf("after the retry: %+v", rows[0])
		}

		// In the recipient's language.
		if err := e.srv.Accounts.SetLocale(ctx, ml.ID, u.ID, "pl"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.hs.Messages.Send(ctx, sc, msg); err != nil {
			t.Fatal(err)
		}
		if got := gw.received(); len(got) != 2 || !strings.HasPrefix(got[1].Get("message"), "Nowy wynik czeka na Ciebie") {
			t.Fatalf("Polish SMS: %v", got)
		}

		// The tenant's own wording of the SMS, as for e-mails.
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		mustContain(t, admin.get("/admin/messages"), "sms.results.published")
		page := admin.get("/admin/messages/sms.results.published/pl")
		mustContain(t, page, "Nowy wynik czeka na Ciebie")
		mustNotContain(t, page, `name="subject"`)
		if r := admin.post("/admin/messages/sms.results.published/pl", "/admin/messages/sms.results.published/pl",
			url.Values{"body": {"{{.Tenant}}: masz nowy wynik. {{.Link}}"}}); r.Status != 303 {
			t.Fatalf("save SMS wording: %d %s", r.Status, mainOf(r.Body))
		}
		if _, err := f.hs.Messages.Send(ctx, sc, msg); err != nil {
			t.Fatal(err)
		}
		if got := gw.received(); len(got) != 3 || !strings.HasSuffix(got[2].Get("message"), ": masz nowy wynik. http://mlab.localhost:8080/login?next=/results/mine") {
			t.Fatalf("tenant's wording: %v", got)
		}
		// A number given directly is checked too.
		if _, err := f.hs.Messages.Send(ctx, sc, sdk.Message{Channel: "sms", To: "01 42 68 53 00", Template: "results.published"}); err == nil {
			t.Fatal("an SMS to a landline was accepted")
		}
	})
}
