package server

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
)

// People an account holder represents (P2, issue 12.9): the account page lists them; each is
// added, changed and removed on its own page, every change audited with the holder as its
// subject (the dependant has no account of his own).

// Audit actions of the dependants.
const (
	ActDependantAdded   = "account.dependant_added"
	ActDependantChanged = "account.dependant_changed"
	ActDependantRemoved = "account.dependant_removed"
)

func init() {
	CoreAuditActions = append(CoreAuditActions, ActDependantAdded, ActDependantChanged, ActDependantRemoved)
}

// dependantFields are the fields of the form, as their values come back.
var dependantFields = []string{"first_name", "last_name", "birth_name", "birth_date", "national_id", "sex", "nationality",
	"permanent_address", "relationship", "legal_status"}

func (s *Server) bindDependants() {
	s.get("/account/dependants/new", authz.PermAccount, s.dependantNew)
	s.post("/account/dependants", authz.PermAccount, s.dependantAdd)
	s.get("/account/dependants/:id", authz.PermAccount, s.dependantEdit)
	s.post("/account/dependants/:id", authz.PermAccount, s.dependantSave)
	s.post("/account/dependants/:id/delete", authz.PermAccount, s.dependantRemove)
}

// dependantView is a dependant as the account page lists him.
type dependantView struct {
	accounts.Dependant
	Represented bool
	OfAgeOn     string
}

// dependantViews are the signed-in holder's dependants, with whether he represents each today.
func (s *Server) dependantViews(c *fiber.Ctx) ([]dependantView, error) {
	st := St(c)
	list, err := s.Accounts.Dependants(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return nil, err
	}
	now := s.Accounts.Now()
	out := make([]dependantView, len(list))
	for i := range list {
		out[i] = dependantView{Dependant: list[i], Represented: list[i].Represented(st.Tenant, now)}
		if list[i].LegalStatus == accounts.LegalMinor {
			out[i].OfAgeOn = list[i].OfAgeOn(st.Tenant)
		}
	}
	return out, nil
}

func dependantInput(c *fiber.Ctx) accounts.DependantInput {
	return accounts.DependantInput{FirstName: c.FormValue("first_name"), LastName: c.FormValue("last_name"),
		BirthName: c.FormValue("birth_name"), BirthDate: c.FormValue("birth_date"), NationalID: c.FormValue("national_id"),
		Sex: c.FormValue("sex"), Nationality: c.FormValue("nationality"), Address: c.FormValue("permanent_address"),
		Relationship: c.FormValue("relationship"), LegalStatus: c.FormValue("legal_status"), Consent: c.FormValue("consent") == "yes"}
}

// renderDependant shows the form of a new dependant (id "") or of one to change.
func (s *Server) renderDependant(c *fiber.Ctx, status int, id string, f *Form) error {
	title := "account.dependants.add"
	if id != "" {
		title = "account.dependants.edit"
	}
	return s.render(c, status, "dependant", title, map[string]any{"ID": id, "Relationships": accounts.Relationships,
		"Statuses": accounts.LegalStatuses, "Sexes": accounts.Sexes, "MajorityAge": int(St(c).Tenant.IntRule(accounts.RuleMajorityAge)),
		"Identity": St(c).Tenant.BoolRule(accounts.RuleDependantIdentity)}, f)
}

func (s *Server) dependantNew(c *fiber.Ctx) error {
	return s.renderDependant(c, fiber.StatusOK, "", &Form{Values: map[string]string{}})
}

// dependantID is the :id of one of the signed-in holder's dependants; any other id is a 404.
func (s *Server) dependantID(c *fiber.Ctx) (*accounts.Dependant, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	st := St(c)
	d, err := s.Accounts.Dependant(c.UserContext(), st.Tenant.ID, st.User.ID, id)
	if errors.Is(err, accounts.ErrNoDependant) {
		return nil, fiber.ErrNotFound
	}
	return d, err
}

func (s *Server) dependantEdit(c *fiber.Ctx) error {
	d, err := s.dependantID(c)
	if err != nil {
		return err
	}
	return s.renderDependant(c, fiber.StatusOK, d.ID, &Form{Values: map[string]string{"first_name": d.FirstName,
		"last_name": d.LastName, "birth_name": d.BirthName, "birth_date": d.BirthDate, "national_id": d.NationalID, "sex": d.Sex,
		"nationality": d.Nationality, "permanent_address": d.Address, "relationship": d.Relationship, "legal_status": d.LegalStatus}})
}

// dependantFailed shows the form again with its errors next to the fields, nothing saved.
func (s *Server) dependantFailed(c *fiber.Ctx, id string, errs form.Errors) error {
	return s.renderDependant(c, fiber.StatusUnprocessableEntity, id, &Form{Values: values(c, dependantFields...), Errors: errs})
}

func (s *Server) dependantAdd(c *fiber.Ctx) error {
	st := St(c)
	d, err := s.Accounts.AddDependant(c.UserContext(), st.Tenant, st.User.ID, dependantInput(c))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.dependantFailed(c, "", ferr)
	}
	if err != nil {
		return err
	}
	return s.dependantDone(c, ActDependantAdded, d, "account.dependants.added")
}

func (s *Server) dependantSave(c *fiber.Ctx) error {
	st := St(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := s.Accounts.UpdateDependant(c.UserContext(), st.Tenant, st.User.ID, id, dependantInput(c))
	var ferr form.Errors
	switch {
	case errors.Is(err, accounts.ErrNoDependant):
		return fiber.ErrNotFound
	case errors.As(err, &ferr):
		return s.dependantFailed(c, id, ferr)
	case err != nil:
		return err
	}
	return s.dependantDone(c, ActDependantChanged, d, "account.dependants.saved")
}

func (s *Server) dependantRemove(c *fiber.Ctx) error {
	st := St(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := s.Accounts.RemoveDependant(c.UserContext(), st.Tenant, st.User.ID, id)
	if errors.Is(err, accounts.ErrNoDependant) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	return s.dependantDone(c, ActDependantRemoved, d, "account.dependants.removed")
}

// dependantDone records the change (the holder's account is its subject and resource, as
// for his other account changes; the detail names the dependant by id, legal status and
// relationship only, no identity) and goes back to the account page.
func (s *Server) dependantDone(c *fiber.Ctx, action string, d *accounts.Dependant, flash string) error {
	st := St(c)
	if err := s.record(c, "", action, st.User.ID, "user:"+st.User.ID, map[string]any{"dependant": d.ID,
		"legal_status": d.LegalStatus, "relationship": d.Relationship}); err != nil {
		return err
	}
	s.flash(c, flash)
	return c.Redirect(st.URL("/account")+"#dependants", fiber.StatusSeeOther)
}

// ChoiceView is what the "choice" partial renders: a select with its label, its options
// in the page's language and the error next to it.
type ChoiceView struct {
	FieldView
	Choose  string
	Options []ChoiceOption
}

// ChoiceOption is one option of a ChoiceView.
type ChoiceOption struct {
	Value, Label string
	Selected     bool
}

// Choice describes a select for the "choice" partial; each option's words are the message
// prefix+value.
func (p *Page) Choice(name, labelKey, prefix string, options []string, required bool) ChoiceView {
	v := ChoiceView{FieldView: p.F(name, labelKey, "select", "off", required), Choose: p.T("form.choose")}
	for _, o := range options {
		v.Options = append(v.Options, ChoiceOption{Value: o, Label: p.T(prefix + o), Selected: o == v.Value})
	}
	return v
}

// exportDependants is what the data export gives of the people the holder represents (P11).
func (s *Server) exportDependants(c *fiber.Ctx) ([]map[string]any, error) {
	list, err := s.dependantViews(c)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, d := range list {
		out = append(out, map[string]any{"first_name": d.FirstName, "last_name": d.LastName, "birth_name": d.BirthName,
			"birth_date": d.BirthDate, "national_id": d.NationalID, "sex": d.Sex, "nationality": d.Nationality,
			"address": d.Address, "relationship": d.Relationship, "legal_status": d.LegalStatus, "represented": d.Represented,
			"of_age_on": d.OfAgeOn, "consent_at": d.ConsentAt, "created_at": d.CreatedAt, "updated_at": d.UpdatedAt})
	}
	return out, nil
}
