package mail_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
)

// smtpServer is a real SMTP server (emersion/go-smtp) that keeps what it receives.
type smtpServer struct {
	mu       sync.Mutex
	received []string
	rcpts    []string
	addr     string
	srv      *smtp.Server
}

type session struct{ s *smtpServer }

func (x *session) Reset()                               {}
func (x *session) Logout() error                        { return nil }
func (x *session) Mail(string, *smtp.MailOptions) error { return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.rcpts = append(x.s.rcpts, to)
	x.s.mu.Unlock()
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.received = append(x.s.received, string(b))
	x.s.mu.Unlock()
	return err
}

func startSMTP(t *testing.T) *smtpServer {
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = ln.Addr().String(), srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func setup(t *testing.T, b dbtest.Backend) (*mail.Outbox, *tenancy.Tenant) {
	d := b.Open(t)
	st := &tenancy.Store{DB: d}
	f := &tenancy.File{Slug: "lab", Settings: tenancy.Settings{Name: "Lab", DefaultLocale: "fr", Locales: []string{"fr"},
		TimeZone: "Europe/Paris", Currency: "EUR", Contacts: tenancy.Contacts{Support: "support@lab.example"},
		Branding: tenancy.Branding{Name: "Lab Résultats"}}, Hostnames: []tenancy.Hostname{{Hostname: "lab.localhost"}}}
	if _, err := st.Import(context.Background(), f, nil, ""); err != nil {
		t.Fatal(err)
	}
	tn, _ := st.BySlug(context.Background(), "lab")
	return &mail.Outbox{DB: d}, tn
}

// TestEmailThroughARealSMTPServer: with SMTP configured, messages go to the server, composed
// with the tenant as sender, text and HTML parts, UTF-8 subject (P7).
func TestEmailThroughARealSMTPServer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		srv := startSMTP(t)
		o, tn := setup(t, b)
		cfg, err := mail.ParseSMTP("smtp://" + srv.addr + "?tls=none")
		if err != nil {
			t.Fatal(err)
		}
		o.Email = cfg
		e, err := o.Send(context.Background(), tn, mail.Message{To: "zofia@example.org", Subject: "Wynik gotowy — łódź",
			Text: "Dzień dobry", HTML: "<p>Dzień dobry</p>", Template: "t", Locale: "pl"})
		if err != nil {
			t.Fatal(err)
		}
		srv.mu.Lock()
		if len(srv.received) != 1 || srv.rcpts[0] != "zofia@example.org" {
			t.Fatalf("received %d, rcpts %v", len(srv.received), srv.rcpts)
		}
		raw := srv.received[0]
		m, err := netmail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		from, err := m.Header.AddressList("From")
		if err != nil || from[0].Name != "Lab Résultats" || from[0].Address != "support@lab.example" {
			t.Fatalf("From: %v %v", from, err)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if subj != "Wynik gotowy — łódź" {
			t.Fatalf("Subject %q", subj)
		}
		for _, want := range []string{"multipart/alternative", "text/html", "Content-Language: pl"} {
			if !strings.Contains(raw, want) {
				t.Errorf("message lacks %q", want)
			}
		}
		srv.mu.Unlock()
		got, _ := o.Get(context.Background(), tn.ID, e.ID)
		if got.Status != "sent" || got.Attempts != 1 || got.TextBody != "Dzień dobry" {
			t.Fatalf("entry: %+v", got)
		}
		// A message with a single-use link is not kept once delivered.
		e2, _ := o.Send(context.Background(), tn, mail.Message{To: "zofia@example.org", Subject: "Reset", Text: "https://x/reset?token=abc",
			HTML: "<a href=x>", Template: "reset", Locale: "pl", Secret: true})
		if got, _ := o.Get(context.Background(), tn.ID, e2.ID); got.TextBody != mail.Redacted || got.HTMLBody != "" {
			t.Fatalf("secret kept: %+v", got)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if !strings.Contains(srv.received[1], "token=3Dabc") && !strings.Contains(srv.received[1], "token=abc") {
			t.Fatal("the secret message was not delivered with its link")
		}
	})
}

// TestFailedDeliveryIsRetried: when the server is down the message stays queued with the
// error, a retry is scheduled, and the next attempt delivers it (P7).
func TestFailedDeliveryIsRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		o, tn := setup(t, b)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close() // nothing listens there yet
		cfg, _ := mail.ParseSMTP("smtp://" + addr + "?tls=none")
		o.Email = cfg
		var retries []int
		o.Retry = func(_ context.Context, _, _ string, attempts int) error {
			retries = append(retries, attempts)
			return nil
		}
		e, err := o.Send(context.Background(), tn, mail.Message{To: "a@example.org", Subject: "s", Text: "t", Template: "t", Locale: "fr"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := o.Get(context.Background(), tn.ID, e.ID)
		if got.Status != "queued" || got.LastError == "" || len(retries) != 1 || retries[0] != 1 {
			t.Fatalf("after a failure: %+v retries %v", got, retries)
		}
		// The server comes up on that address; the retry delivers.
		srv := &smtpServer{}
		s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv}, nil }))
		s.Domain, s.AllowInsecureAuth = "localhost", true
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("port taken meanwhile: %v", err)
		}
		go s.Serve(ln2)
		defer s.Close()
		if err := o.Deliver(context.Background(), tn, e.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = o.Get(context.Background(), tn.ID, e.ID)
		if got.Status != "sent" || got.Attempts != 2 || len(srv.received) != 1 {
			t.Fatalf("after the retry: %+v", got)
		}
	})
}

// TestSMSThroughSMSAPI: an SMS goes to SMSAPI's sms.do as a form with the bearer token, the
// number without its "+", the text and the sender; a 5xx or an error code from the provider
// leaves it queued with the error and asks for another attempt, which delivers it; without a
// provider (development) it is written as a .sms.txt file (issue 11.15, P7).
func TestSMSThroughSMSAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		o, tn := setup(t, b)
		var mu sync.Mutex
		var got []url.Values
		var auth, path string
		answers := []func(w http.ResponseWriter){
			func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
			func(w http.ResponseWriter) { fmt.Fprint(w, `{"error":8,"message":"Error in request"}`) },
			func(w http.ResponseWriter) {
				fmt.Fprint(w, `{"count":1,"list":[{"id":"gw-42","points":0.16,"number":"421900123456","status":"QUEUED"}]}`)
			},
		}
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			auth, path = r.Header.Get("Authorization"), r.URL.Path
			r.ParseForm()
			got = append(got, r.PostForm)
			answers[len(got)-1](w)
		}))
		defer gw.Close()
		var retries []int
		o.Retry = func(_ context.Context, _, _ string, attempts int) error {
			retries = append(retries, attempts)
			return nil
		}
		o.SMS = &mail.SMSAPI{URL: gw.URL + "/sms.do", Token: "secret", Sender: "MLab"}
		ctx := context.Background()
		e, err := o.Send(ctx, tn, mail.Message{Channel: "sms", To: "+421900123456", Text: "Výsledok je pripravený", Template: "t", Locale: "sk"})
		if err != nil {
			t.Fatal(err)
		}
		if x, _ := o.Get(ctx, tn.ID, e.ID); x.Status != "queued" || !strings.Contains(x.LastError, "503") || len(retries) != 1 {
			t.Fatalf("after a 503: %+v, retries %v", x, retries)
		}
		if err := o.Deliver(ctx, tn, e.ID); err != nil {
			t.Fatal(err)
		}
		if x, _ := o.Get(ctx, tn.ID, e.ID); x.Status != "queued" || !strings.Contains(x.LastError, "error 8") || len(retries) != 2 {
			t.Fatalf("after an error code: %+v, retries %v", x, retries)
		}
		if err := o.Deliver(ctx, tn, e.ID); err != nil {
			t.Fatal(err)
		}
		f := got[len(got)-1]
		if auth != "Bearer secret" || path != "/sms.do" || f.Get("to") != "421900123456" || f.Get("message") != "Výsledok je pripravený" ||
			f.Get("from") != "MLab" || f.Get("format") != "json" || len(got) != 3 {
			t.Fatalf("provider got %v (%s %s)", got, auth, path)
		}
		if x, _ := o.Get(ctx, tn.ID, e.ID); x.File != "sms:gw-42" || x.Status != "sent" || x.Attempts != 3 {
			t.Fatalf("entry: %+v", x)
		}
		o.SMS = nil
		e, _ = o.Send(ctx, tn, mail.Message{Channel: "sms", To: "+421900000001", Text: "dev", Template: "t", Locale: "sk"})
		if x, _ := o.Get(ctx, tn.ID, e.ID); !strings.HasSuffix(x.File, ".sms.txt") || x.Status != "written" {
			t.Fatalf("dev sms: %+v", x)
		}
	})
}

// TestAttachments: a message's files (a visit's ICS, issue 13.4) are kept in the tenant's
// outbox, carried by the e-mail through a real SMTP server as attachment parts, listed with
// the message, refused beyond the size cap, gone with a message marked Forget once delivered,
// and invisible from another tenant.
func TestAttachments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		srv := startSMTP(t)
		o, tn := setup(t, b)
		cfg, _ := mail.ParseSMTP("smtp://" + srv.addr + "?tls=none")
		o.Email = cfg
		ctx := context.Background()
		ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
		e, err := o.Send(ctx, tn, mail.Message{To: "zofia@example.org", Subject: "Wizyta", Text: "t", Template: "calendar.booked", Locale: "pl",
			Attachments: []mail.Attachment{{Name: "../wizyta.ics", ContentType: "text/calendar; method=REQUEST; charset=utf-8", Data: []byte(ics)}}})
		if err != nil {
			t.Fatal(err)
		}
		srv.mu.Lock()
		raw := srv.received[0]
		srv.mu.Unlock()
		m, err := netmail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if mt != "multipart/mixed" {
			t.Fatalf("Content-Type %q", mt)
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if p.FileName() == "wizyta.ics" {
				body, _ := io.ReadAll(p)
				if dec := p.Header.Get("Content-Transfer-Encoding"); strings.EqualFold(dec, "base64") {
					body, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
				}
				ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				found = string(body) == ics && ct == "text/calendar"
			}
		}
		if !found {
			t.Fatalf("the e-mail carries no wizyta.ics of type text/calendar:\n%s", raw)
		}
		got, err := o.Get(ctx, tn.ID, e.ID)
		if err != nil || len(got.Attachments) != 1 || got.Attachments[0].Name != "wizyta.ics" || got.Attachments[0].Size != len(ics) || got.Attachments[0].Data != nil {
			t.Fatalf("listed attachments %+v (%v)", got.Attachments, err)
		}
		if a, err := o.Attachment(ctx, tn.ID, e.ID, 1); err != nil || string(a.Data) != ics {
			t.Fatalf("attachment read back %+v %v", a, err)
		}

		// Another tenant sees nothing of it.
		st := &tenancy.Store{DB: o.DB}
		if _, err := st.Import(ctx, &tenancy.File{Slug: "other", Settings: tenancy.Settings{Name: "Other", DefaultLocale: "fr", Locales: []string{"fr"},
			TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: "other.localhost"}}}, nil, ""); err != nil {
			t.Fatal(err)
		}
		other, _ := st.BySlug(ctx, "other")
		if a, err := o.Attachment(ctx, other.ID, e.ID, 1); err == nil {
			t.Fatalf("another tenant read the attachment: %+v", a)
		}

		// Beyond the cap: refused, nothing queued.
		o.MaxAttachmentBytes = 10
		if _, err := o.Send(ctx, tn, mail.Message{To: "zofia@example.org", Subject: "s", Text: "t", Template: "t", Locale: "pl",
			Attachments: []mail.Attachment{{Name: "a.ics", ContentType: "text/calendar", Data: []byte(ics)}}}); !errors.Is(err, mail.ErrAttachments) {
			t.Fatalf("over the cap: %v", err)
		}
		if list, _ := o.List(ctx, tn.ID, 10); len(list) != 1 {
			t.Fatalf("a refused message was queued: %d messages", len(list))
		}
		o.MaxAttachmentBytes = 0

		// Forget: the message and its files are gone once delivered.
		e2, err := o.Send(ctx, tn, mail.Message{To: "zofia@example.org", Subject: "s", Text: "t", Template: "t", Locale: "pl", Forget: true,
			Attachments: []mail.Attachment{{Name: "a.ics", ContentType: "text/calendar", Data: []byte(ics)}}})
		if err != nil {
			t.Fatal(err)
		}
		if a, err := o.Attachment(ctx, tn.ID, e2.ID, 1); err == nil {
			t.Fatalf("a forgotten message's file stayed: %+v", a)
		}
	})
}
