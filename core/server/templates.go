package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/locales"
)

// MessageTemplate is a tenant's own wording of a message in one language (P7): it replaces
// the platform's text for that tenant. Placeholders are those of the platform's text
// ({{.Name}}, {{.Tenant}}…).
type MessageTemplate struct {
	bun.BaseModel `bun:"table:message_templates,alias:mt"`

	TenantID  string    `bun:"tenant_id,pk"`
	Template  string    `bun:"template,pk"`
	Locale    string    `bun:"locale,pk"`
	Subject   string    `bun:"subject"`
	Body      string    `bun:"body"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// coreTemplates are the e-mails of the core.
var coreTemplates = []string{"verify", "exists", "reset", "deleted", "blocked", "closed_inactive", "terms_published",
	"maintenance", "complaint_received", "complaint_answer", "complaint_extended", "complaint_question", "closure_appeal_granted", "closure_appeal_refused"}

// tenantTemplate returns the tenant's wording of a message, if it has one.
func (s *Server) tenantTemplate(ctx context.Context, tenantID, tmpl, lang string) (*MessageTemplate, error) {
	var m MessageTemplate
	err := s.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&m).Where("template = ? AND locale = ?", tmpl, lang).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &m, err
}

// fill renders a tenant's wording with the message's data.
func fill(text string, data map[string]any) (string, error) {
	t, err := template.New("m").Option("missingkey=zero").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (s *Server) bindTemplates() {
	s.get("/admin/messages", authz.PermAdminSettings, s.adminTemplates)
	s.get("/admin/messages/:tmpl/:lang", authz.PermAdminSettings, s.adminTemplate)
	s.post("/admin/messages/:tmpl/:lang", authz.PermAdminSettings, s.saveTemplate)
}

func (s *Server) templateIDs(c *fiber.Ctx) []string {
	st := St(c)
	modTemplates := s.Modules.Templates(st.Tenant)
	out := append(append([]string(nil), coreTemplates...), modTemplates...)
	// A module's message that also goes by SMS has an SMS wording of its own (P7).
	for _, t := range modTemplates {
		if s.I18n.Has(st.Tenant.Settings.DefaultLocale, smsTemplate(t)) {
			out = append(out, smsTemplate(t))
		}
	}
	sort.Strings(out)
	return out
}

// TemplateNameKey is the message that names a message template in words (issue 12.13):
// "mail.<template>.name", in the core's message files or, for a module's template
// ("results.published"), in the module's.
func TemplateNameKey(tmpl string) string { return "mail." + strings.TrimPrefix(tmpl, "sms.") + ".name" }

// TemplateName is a message template in the page's language: its name, "(SMS)" added for
// the SMS wording; an external module's template with no words keeps its id.
func (p *Page) TemplateName(tmpl string) string { return templateName(p.Loc, tmpl) }

func templateName(loc *i18n.Localizer, tmpl string) string {
	k := TemplateNameKey(tmpl)
	name := strings.TrimPrefix(tmpl, "sms.")
	if loc.Has(k) {
		name = loc.T(k)
	}
	if isSMSTemplate(tmpl) {
		return loc.T("admin.messages.sms_name", "Name", name)
	}
	return name
}

// LangName is a language by its own name ("Polski"), where a code ("pl") was shown.
func (p *Page) LangName(code string) string { return locales.NativeName(code) }

// CoreTemplates lists the core's e-mails.
func CoreTemplates() []string { return append([]string(nil), coreTemplates...) }

// smsTemplate is the id of the SMS wording of a message ("sms.results.published"): its key
// in the message files, and its template in a tenant's own wordings.
func smsTemplate(tmpl string) string { return "sms." + tmpl }

func isSMSTemplate(tmpl string) bool { return strings.HasPrefix(tmpl, "sms.") }

func (s *Server) adminTemplates(c *fiber.Ctx) error {
	st := St(c)
	var own []MessageTemplate
	err := s.DB.ReadTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&own).Scan(ctx)
	})
	if err != nil {
		return err
	}
	custom := map[string]bool{}
	for _, m := range own {
		custom[m.Template+"/"+m.Locale] = true
	}
	// Listed by their names in the reader's language.
	ids := s.templateIDs(c)
	coll := collate.New(language.Make(st.Lang))
	sort.SliceStable(ids, func(i, j int) bool {
		return coll.CompareString(templateName(st.Loc, ids[i]), templateName(st.Loc, ids[j])) < 0
	})
	return s.render(c, fiber.StatusOK, "admin_messages", "admin.messages.title", map[string]any{"Templates": ids,
		"Locales": st.Tenant.Settings.Locales, "Custom": custom}, nil)
}

func (s *Server) templateSubject(c *fiber.Ctx) (string, string, error) {
	st := St(c)
	tmpl, lang := c.Params("tmpl"), c.Params("lang")
	if !contains(s.templateIDs(c), tmpl) || !st.Tenant.AllowsLocale(lang) {
		return "", "", fiber.ErrNotFound
	}
	return tmpl, lang, nil
}

func (s *Server) renderTemplate(c *fiber.Ctx, status int, tmpl, lang string, f *Form) error {
	st := St(c)
	loc := s.I18n.For(lang)
	if f == nil {
		f = &Form{Values: map[string]string{}}
		m, err := s.tenantTemplate(c.UserContext(), st.Tenant.ID, tmpl, lang)
		if err != nil {
			return err
		}
		if m != nil {
			f.Values["subject"], f.Values["body"] = m.Subject, m.Body
		}
	}
	if isSMSTemplate(tmpl) {
		return s.render(c, status, "admin_message", "admin.messages.one_title", map[string]any{"Template": tmpl, "Lang": lang,
			"SMS": true, "DefaultBody": loc.Raw(tmpl)}, f)
	}
	return s.render(c, status, "admin_message", "admin.messages.one_title", map[string]any{"Template": tmpl, "Lang": lang,
		"DefaultSubject": loc.Raw("mail." + tmpl + ".subject"), "DefaultBody": loc.Raw("mail." + tmpl + ".body")}, f)
}

func (s *Server) adminTemplate(c *fiber.Ctx) error {
	tmpl, lang, err := s.templateSubject(c)
	if err != nil {
		return err
	}
	return s.renderTemplate(c, fiber.StatusOK, tmpl, lang, nil)
}

// saveTemplate stores the tenant's wording (empty subject and body: back to the platform's).
func (s *Server) saveTemplate(c *fiber.Ctx) error {
	st := St(c)
	tmpl, lang, err := s.templateSubject(c)
	if err != nil {
		return err
	}
	subject, body := strings.TrimSpace(c.FormValue("subject")), strings.TrimSpace(c.FormValue("body"))
	f := &Form{Values: values(c, "subject", "body"), Errors: form.Errors{}}
	if isSMSTemplate(tmpl) {
		// An SMS has a text and no subject: an empty text goes back to the platform's.
		subject = ""
	} else if (subject == "") != (body == "") {
		f.Errors.Add("body", "admin.messages.both")
	}
	for field, v := range map[string]string{"subject": subject, "body": body} {
		if utf8.RuneCountInString(v) > 10000 {
			f.Errors.Add(field, "form.too_long")
		} else if _, err := fill(v, map[string]any{}); err != nil {
			f.Errors.Add(field, "admin.messages.syntax")
		}
	}
	if len(f.Errors) > 0 {
		return s.renderTemplate(c, fiber.StatusUnprocessableEntity, tmpl, lang, f)
	}
	err = s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Delete((*MessageTemplate)(nil)).Where("template = ? AND locale = ?", tmpl, lang).Exec(ctx); err != nil {
			return err
		}
		if body == "" {
			return nil // back to the platform's wording
		}
		_, err := sc.Insert(&MessageTemplate{TenantID: st.Tenant.ID, Template: tmpl, Locale: lang, Subject: subject, Body: body,
			UpdatedAt: time.Now().UTC()}).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActTemplateChanged, "", "template:"+tmpl+"/"+lang, nil); err != nil {
		return err
	}
	s.flash(c, "admin.settings.saved")
	return c.Redirect(st.URL("/admin/messages"), fiber.StatusSeeOther)
}
