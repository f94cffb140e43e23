package server

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
)

// origin is scheme://host[:port] of the public URL the platform is reached at.
func (s *Server) origin() (scheme, port string) {
	u, err := url.Parse(s.Cfg.PublicURL)
	if err != nil || u.Host == "" {
		return "http", ""
	}
	return u.Scheme, u.Port()
}

// absURL builds a link for an e-mail. It never uses the request's Host header (a forged Host
// must not redirect a reset link): it takes the tenant's registered hostname of the portal
// the request came through, or, in the /t/{slug}/ fallback, the configured public URL.
func (s *Server) absURL(c *fiber.Ctx, path string) string {
	st := St(c)
	if st.Base == "" && st.Tenant != nil {
		for _, h := range st.Tenant.Hostnames {
			if h.Hostname == tenancy.NormalizeHost(c.Hostname()) {
				return s.hostURL(h.Hostname, path)
			}
		}
	}
	return strings.TrimSuffix(s.Cfg.PublicURL, "/") + st.URL(path)
}

// hostURL is a link to path on a tenant hostname, with the public URL's scheme and port.
func (s *Server) hostURL(host, path string) string {
	scheme, port := s.origin()
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host + path
}

// tenantURL is a link for a message sent outside a request (a job): on the tenant's first
// hostname, or in the /t/{slug}/ fallback of the public URL.
func (s *Server) tenantURL(t *tenancy.Tenant, path string) string {
	if len(t.Hostnames) > 0 {
		return s.hostURL(t.Hostnames[0].Hostname, path)
	}
	return strings.TrimSuffix(s.Cfg.PublicURL, "/") + "/t/" + t.Slug + path
}

// mailActiveUsers calls send for every active account of the tenant, with the language to
// write to it in.
func (s *Server) mailActiveUsers(ctx context.Context, t *tenancy.Tenant, send func(u accounts.User, lang string) error) error {
	users, err := s.Accounts.List(ctx, t.ID, "", 1000000)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Status != accounts.StatusActive {
			continue
		}
		if err := send(u, t.Lang(u.Locale, "")); err != nil {
			return err
		}
	}
	return nil
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html><html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head><body style="font-family:sans-serif;line-height:1.5">
<p>{{.Greeting}}</p>{{range .Lines}}<p>{{.}}</p>{{end}}
{{with .Link}}<p><a href="{{.}}">{{$.LinkText}}</a></p>{{end}}
<p>{{.Signature}}</p></body></html>`))

// mailer is what the modules' HostAPI needs of the server's messages and links.
type mailer struct{ s *Server }

func (m mailer) SendMail(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, kv ...any) (string, error) {
	return m.s.sendMailID(ctx, t, to, name, lang, tmpl, link, kv...)
}

func (m mailer) SendMailWith(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, extra mail.Message, kv ...any) (string, error) {
	return m.s.sendMailWith(ctx, t, to, name, lang, tmpl, link, extra, kv...)
}

// SMSText renders an SMS: the tenant's wording of "sms.<tmpl>" in lang when it has one (P7),
// else the platform's.
func (m mailer) SMSText(ctx context.Context, t *tenancy.Tenant, lang, tmpl string, kv ...any) (string, error) {
	own, err := m.s.tenantTemplate(ctx, t.ID, smsTemplate(tmpl), lang)
	if err != nil {
		return "", err
	}
	if own == nil {
		return m.s.I18n.For(lang).T("sms."+tmpl, kv...), nil
	}
	data := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return fill(own.Body, data)
}

func (m mailer) PortalLink(t *tenancy.Tenant, portal, path string) string {
	return m.s.absLink(t, portal, path)
}

func (m mailer) FormatDay(lang string, at time.Time, t *tenancy.Tenant) string {
	return formatDay(lang, at, t)
}

// absLink makes a path of a module's message a link the person can follow: on the hostname
// of the portal he registered through, else on the tenant's first hostname (or the
// /t/<slug>/ fallback). A module does not know the public address of the platform.
func (s *Server) absLink(t *tenancy.Tenant, portal, link string) string {
	if !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "//") {
		return link
	}
	if portal != "" {
		for _, h := range t.Hostnames {
			if h.Portal == portal {
				return s.hostURL(h.Hostname, link)
			}
		}
	}
	return s.tenantURL(t, link)
}

// sendMail renders the message "mail.<tmpl>.*" in lang and sends it to one person.
func (s *Server) sendMail(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, kv ...any) error {
	_, err := s.sendMailID(ctx, t, to, name, lang, tmpl, link, kv...)
	return err
}

// sendMailID is sendMail returning the outbox id of the message.
func (s *Server) sendMailID(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, kv ...any) (string, error) {
	return s.sendMailWith(ctx, t, to, name, lang, tmpl, link, mail.Message{}, kv...)
}

// sendMailWith is sendMailID with what a module's message adds: the files the e-mail
// carries (extra.Attachments), and whether it holds a single-use link (extra.Secret).
func (s *Server) sendMailWith(ctx context.Context, t *tenancy.Tenant, to, name, lang, tmpl, link string, extra mail.Message, kv ...any) (string, error) {
	loc := s.I18n.For(lang)
	args := append([]any{"Name", name, "Tenant", t.Settings.Branding.Name}, kv...)
	subject := loc.T("mail."+tmpl+".subject", args...)
	body := loc.T("mail."+tmpl+".body", args...)
	// The tenant's own wording, when it has one, replaces the platform's.
	if own, err := s.tenantTemplate(ctx, t.ID, tmpl, lang); err != nil {
		return "", err
	} else if own != nil {
		data := map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
		if subject, err = fill(own.Subject, data); err != nil {
			return "", err
		}
		if body, err = fill(own.Body, data); err != nil {
			return "", err
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		// A message that counts something ("Count") takes the plural form of its language.
		if kv[i] == "Count" {
			switch n := kv[i+1].(type) {
			case int64:
				body = loc.TN("mail."+tmpl+".body", int(n), args...)
			case float64: // from a module's JSON data
				body = loc.TN("mail."+tmpl+".body", int(n), args...)
			}
		}
	}
	greeting := loc.T("mail.greeting", args...)
	if !namedIn(args) { // a person without an account here: no empty name after the greeting
		greeting = loc.T("mail.greeting_unnamed")
	}
	signature := loc.T("mail.signature", args...)
	var text strings.Builder
	text.WriteString(greeting + "\n\n" + body + "\n")
	if link != "" {
		text.WriteString("\n" + link + "\n")
	}
	text.WriteString("\n" + signature + "\n")
	var html bytes.Buffer
	err := mailHTML.Execute(&html, map[string]any{"Lang": lang, "Subject": subject, "Greeting": greeting, "Lines": strings.Split(body, "\n"),
		"Link": link, "LinkText": loc.T("mail."+tmpl+".action", args...), "Signature": signature})
	if err != nil {
		return "", err
	}
	e, err := s.Mail.Send(ctx, t, mail.Message{To: to, Subject: subject, Text: text.String(), HTML: html.String(),
		Template: tmpl, Locale: lang, Secret: extra.Secret || tmpl == "verify" || tmpl == "reset" || tmpl == "email_change", Attachments: extra.Attachments,
		// The confirmation of an erasure leaves nothing of the person once delivered (P11).
		// So does the decision on the appeal of a closed account: he has no account here.
		Forget: tmpl == "deleted" || tmpl == "closed_inactive" || tmpl == "closed_withdrawn" || strings.HasPrefix(tmpl, "closure_appeal_")})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// namedIn reports whether the message's data name its recipient (a non-empty "Name"). The
// last "Name" counts, as in the rendered text: a module's data naming a person without an
// account here come after the host's empty name and replace it.
func namedIn(kv []any) bool {
	named := false
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "Name" {
			n, ok := kv[i+1].(string)
			named = ok && strings.TrimSpace(n) != ""
		}
	}
	return named
}
