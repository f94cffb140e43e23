package server_test

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"carenet.dev/platform/core/mail"
)

// smtpServer is a real SMTP server (emersion/go-smtp) that keeps what it receives: where a
// message leaves the platform, the test reads it as the recipient's server got it.
type smtpServer struct {
	mu       sync.Mutex
	received [][]byte
	host     string
	port     int
}

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) Reset()                               {}
func (x *smtpSession) Logout() error                        { return nil }
func (x *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.received = append(x.s.received, b)
	x.s.mu.Unlock()
	return err
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// transport is the platform's SMTP transport pointed at s.
func (s *smtpServer) transport() *mail.SMTP {
	return &mail.SMTP{Host: s.host, Port: s.port, TLS: "none"}
}

// messages returns what s received, decoded.
func (s *smtpServer) messages(t *testing.T) []mailMsg {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mailMsg
	for _, raw := range s.received {
		m, err := parseMail(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
