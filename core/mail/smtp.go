package mail

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	gomail "github.com/wneessen/go-mail"

	"carenet.dev/platform/core/tenancy"
)

// SMTP delivers e-mail through an SMTP server (go-mail). It is configured by a URL:
// smtp://user:password@host:port?tls=starttls|tls|none (default starttls, port 587).
type SMTP struct {
	Host     string
	Port     int
	User     string
	Password string
	TLS      string
}

// ParseSMTP reads an smtp:// URL.
func ParseSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
		return nil, fmt.Errorf("smtp: %q is not smtp://[user:password@]host[:port][?tls=starttls|tls|none]", raw)
	}
	s := &SMTP{Host: u.Hostname(), Port: 587, TLS: "starttls"}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("smtp: port %q", p)
		}
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if v := u.Query().Get("tls"); v != "" {
		if v != "starttls" && v != "tls" && v != "none" {
			return nil, fmt.Errorf("smtp: tls=%q is not starttls, tls or none", v)
		}
		s.TLS = v
	}
	return s, nil
}

// Deliver sends the composed message.
func (s *SMTP) Deliver(ctx context.Context, t *tenancy.Tenant, e *Entry, msg *gomail.Msg) (string, error) {
	opts := []gomail.Option{gomail.WithPort(s.Port)}
	switch s.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.User), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return "", err
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return "", fmt.Errorf("smtp: %w", err)
	}
	return "smtp:" + s.Host, nil
}
