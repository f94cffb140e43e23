package server

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
)

// settingsField is a text setting of the tenant edited by its admin.
type settingsField struct {
	Name  string
	Label string
	Get   func(*tenancy.Settings) *string
	Kind  string // "text", "email", "color"
}

var settingsFields = []settingsField{
	{"branding_name", "admin.settings.branding_name", func(s *tenancy.Settings) *string { return &s.Branding.Name }, "text"},
	{"primary_color", "admin.settings.primary_color", func(s *tenancy.Settings) *string { return &s.Branding.PrimaryColor }, "color"},
	{"accent_color", "admin.settings.accent_color", func(s *tenancy.Settings) *string { return &s.Branding.AccentColor }, "color"},
	{"company", "legal.company", func(s *tenancy.Settings) *string { return &s.Legal.Company }, "text"},
	{"address", "legal.address", func(s *tenancy.Settings) *string { return &s.Legal.Address }, "text"},
	{"registration", "legal.registration", func(s *tenancy.Settings) *string { return &s.Legal.Registration }, "text"},
	{"vat_id", "footer.vat", func(s *tenancy.Settings) *string { return &s.Legal.VATID }, "text"},
	{"support", "legal.support", func(s *tenancy.Settings) *string { return &s.Contacts.Support }, "email"},
	{"complaints", "legal.complaints", func(s *tenancy.Settings) *string { return &s.Contacts.Complaints }, "email"},
	{"dpo", "legal.dpo", func(s *tenancy.Settings) *string { return &s.Contacts.DataProtector }, "email"},
	{"phone", "legal.phone", func(s *tenancy.Settings) *string { return &s.Contacts.Phone }, "text"},
}

// ruleView is a rule on the settings page.
type ruleView struct {
	Name, Field, Value, Error string
	Min, Max                  int64
	Bool                      bool
	// Roles are the choices of a rule that lists roles (issue 11; mfa_settings.go).
	Roles []roleChoice
	// Consents are the choices of the rule that lists the optional consents asked (P6).
	Consents []roleChoice
}

func (s *Server) bindSettings() {
	s.get("/admin/settings", authz.PermAdminSettings, s.settingsPage)
	s.post("/admin/settings", authz.PermAdminSettings, s.saveSettings)
}

func (s *Server) renderSettings(c *fiber.Ctx, status int, f *Form) error {
	st := St(c)
	t := st.Tenant
	if f == nil {
		f = &Form{Values: map[string]string{}}
		for _, sf := range settingsFields {
			f.Values[sf.Name] = *sf.Get(&t.Settings)
		}
		for _, r := range tenancy.CoreRules {
			if r.Type == "bool" {
				f.Values[ruleField(r.Name)] = strconv.FormatBool(t.BoolRule(r.Name))
			} else if r.Type == "string" {
				f.Values[ruleField(r.Name)] = t.StringRule(r.Name)
			} else {
				f.Values[ruleField(r.Name)] = strconv.FormatInt(t.IntRule(r.Name), 10)
			}
		}
	}
	var rules []ruleView
	var err error
	for _, r := range tenancy.CoreRules {
		rv := ruleView{Name: r.Name, Field: ruleField(r.Name), Value: f.Values[ruleField(r.Name)], Min: r.Min, Max: r.Max, Bool: r.Type == "bool"}
		if r.Name == tenancy.RuleOptionalConsents {
			rv.Consents = consentChoices(rv.Value)
		} else if r.Type == "string" {
			if rv.Roles, err = s.roleChoices(c, rv.Value); err != nil {
				return err
			}
		}
		if f.Errors.Has(rv.Field) {
			rv.Error = st.Loc.T(f.Errors[rv.Field], "Min", r.Min, "Max", r.Max)
		}
		rules = append(rules, rv)
	}
	return s.render(c, status, "admin_settings", "admin.settings.title",
		map[string]any{"Fields": settingsFields, "Rules": rules}, f)
}

func ruleField(name string) string { return "rule_" + strings.ReplaceAll(name, ".", "_") }

func (s *Server) settingsPage(c *fiber.Ctx) error { return s.renderSettings(c, fiber.StatusOK, nil) }

// saveSettings validates every field and rule, and saves all or nothing.
func (s *Server) saveSettings(c *fiber.Ctx) error {
	st := St(c)
	t, err := s.Tenants.ByID(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return err
	}
	f := &Form{Values: map[string]string{}, Errors: form.Errors{}}
	next := t.Settings
	next.Rules = map[string]any{}
	for k, v := range t.Settings.Rules {
		next.Rules[k] = v
	}
	for _, sf := range settingsFields {
		v := strings.TrimSpace(c.FormValue(sf.Name))
		f.Values[sf.Name] = v
		switch {
		case utf8.RuneCountInString(v) > 300:
			f.Errors.Add(sf.Name, "form.too_long")
		case sf.Kind == "color" && v != "" && !tenancy.ValidColor(v):
			f.Errors.Add(sf.Name, "admin.settings.color_invalid")
		case sf.Kind == "email" && v != "" && accounts.NormalizeEmail(v) == "":
			f.Errors.Add(sf.Name, "form.email.invalid")
		case sf.Name == "branding_name" && v == "":
			f.Errors.Add(sf.Name, "form.required")
		}
		*sf.Get(&next) = v
	}
	for _, r := range tenancy.CoreRules {
		field := ruleField(r.Name)
		v := strings.TrimSpace(c.FormValue(field))
		f.Values[field] = v
		if r.Name == tenancy.RuleOptionalConsents {
			if f.Values[field], err = consentsFromForm(c, field); err != nil {
				f.Errors.Add(field, "form.invalid_choice")
				continue
			}
			next.Rules[r.Name] = f.Values[field]
			continue
		}
		if r.Type == "string" { // a list of roles (issue 11; mfa_settings.go)
			if f.Values[field], err = s.rolesFromForm(c, field); err != nil {
				f.Errors.Add(field, "form.invalid_choice")
				continue
			}
			next.Rules[r.Name] = f.Values[field]
			continue
		}
		if r.Type == "bool" {
			if v != "true" && v != "false" {
				f.Errors.Add(field, "form.invalid_choice")
				continue
			}
			next.Rules[r.Name] = v == "true"
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.Errors.Add(field, "form.number.invalid")
			continue
		}
		if n < r.Min || n > r.Max {
			f.Errors.Add(field, "form.number.range")
			continue
		}
		next.Rules[r.Name] = n
	}
	if len(f.Errors) == 0 {
		if err := next.Validate(); err != nil {
			f.Errors.Add("branding_name", "form.invalid")
		}
	}
	if len(f.Errors) > 0 {
		return s.renderSettings(c, fiber.StatusUnprocessableEntity, f)
	}
	t.Settings = next
	if err := s.Tenants.Save(c.UserContext(), t); err != nil {
		return err
	}
	if err := s.record(c, "", ActSettingsChanged, "", "tenant:"+t.Slug, map[string]any{"rules": next.Rules}); err != nil {
		return err
	}
	s.flash(c, "admin.settings.saved")
	return c.Redirect(st.URL("/admin/settings"), fiber.StatusSeeOther)
}

// consentChoices are the boxes of the optional consents a tenant may ask (P6).
func consentChoices(value string) []roleChoice {
	listed := splitList(value)
	out := make([]roleChoice, 0, len(terms.OptionalConsents))
	for _, k := range terms.OptionalConsents {
		out = append(out, roleChoice{ID: k, On: contains(listed, k)})
	}
	return out
}

// consentsFromForm reads the ticked boxes of the optional consents: known kinds only. A
// form without the field keeps the tenant's value.
func consentsFromForm(c *fiber.Ctx, field string) (string, error) {
	sent := c.Request().PostArgs().PeekMulti(field)
	if len(sent) == 0 && len(c.Request().PostArgs().Peek(field+"_shown")) == 0 {
		return St(c).Tenant.StringRule(tenancy.RuleOptionalConsents), nil
	}
	var out []string
	for _, b := range sent {
		k := string(b)
		if !contains(terms.OptionalConsents, k) {
			return "", errUnknownConsent
		}
		if !contains(out, k) {
			out = append(out, k)
		}
	}
	return strings.Join(out, ","), nil
}

var errUnknownConsent = errors.New("unknown consent kind")
