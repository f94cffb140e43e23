package server

import (
	"errors"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/form"
)

// Identity checks by staff (P2, R2, R6): the identity a person gave, and his secret answer
// checked against what he says on the phone or in an appeal. The answer is never shown: staff
// only learn whether what they were told matches.

// identityView is the identity panel of a person, on his admin page and beside a complaint
// he lodged.
type identityView struct {
	User      *accounts.User
	Profile   []profileRow
	HasSecret bool
	// CheckAction is where the secret-answer check form posts.
	CheckAction string
	Check       *secretCheck
	// CanAct tells whether the person looking may act on this account (authz.MayActOn):
	// the check form is offered only then.
	CanAct bool
}

// profileRow is one registration field of a module, with its label in the page's language.
type profileRow struct{ Label, Value string }

// secretCheck is the outcome of a secret-answer check.
type secretCheck struct{ Match bool }

// profileRows labels the registration fields stored with an account, those of every portal,
// in a stable order; a field no running module declares any more keeps its name as label.
func (s *Server) profileRows(st *State, u *accounts.User) []profileRow {
	labels, types := map[string]string{}, map[string]string{}
	for _, f := range s.Modules.RegistrationFields(st.Tenant) {
		labels[f.Name], types[f.Name] = f.LabelKey, f.Type
	}
	names := make([]string, 0, len(u.Profile))
	for k := range u.Profile {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []profileRow
	for _, k := range names {
		label := k
		if key := labels[k]; key != "" && st.Loc.Has(key) {
			label = st.Loc.T(key)
		}
		// A country or a sex in words (E2), not its code.
		out = append(out, profileRow{Label: label, Value: (&Page{State: st}).ProfileValue(types[k], u.Profile[k])})
	}
	return out
}

func (s *Server) identity(st *State, u *accounts.User, action string, check *secretCheck) *identityView {
	return &identityView{User: u, Profile: s.profileRows(st, u), HasSecret: u.SecretAnswerHash != "", CheckAction: action, Check: check}
}

// checkSecret compares the answer staff were given with the person's secret answer and
// records the check in the audit trail (who checked whose answer, and the outcome).
func (s *Server) checkSecret(c *fiber.Ctx, u *accounts.User) (*secretCheck, form.Errors, error) {
	answer := c.FormValue("secret_answer")
	if strings.TrimSpace(answer) == "" {
		return nil, form.Errors{"secret_answer": "form.required"}, nil
	}
	match, has, err := s.Accounts.CheckSecret(c.UserContext(), St(c).Tenant.ID, u.ID, answer)
	if err != nil {
		return nil, nil, err
	}
	if !has {
		return nil, form.Errors{"secret_answer": "admin.identity.no_secret"}, nil
	}
	if err := s.record(c, "", audit.SecretCheckAction(match), u.ID, "user:"+u.ID, map[string]any{"match": match}); err != nil {
		return nil, nil, err
	}
	return &secretCheck{Match: match}, nil, nil
}

// adminCheckSecret is the check form of the tenant admin's user page.
func (s *Server) adminCheckSecret(c *fiber.Ctx) error {
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	check, ferr, err := s.checkSecret(c, u)
	if err != nil {
		return err
	}
	if len(ferr) > 0 {
		return s.renderAdminUserCheck(c, fiber.StatusUnprocessableEntity, u, &Form{Values: map[string]string{}, Errors: ferr}, nil)
	}
	return s.renderAdminUserCheck(c, fiber.StatusOK, u, nil, check)
}

// complaintPerson is the account a complaint comes from: the signed-in lodger, or the account
// of the tenant whose address the answer goes to; nil when there is none.
func (s *Server) complaintPerson(c *fiber.Ctx, cp *complaints.Complaint) (*accounts.User, error) {
	tid := St(c).Tenant.ID
	if cp.UserID != "" {
		u, err := s.Accounts.ByID(c.UserContext(), tid, cp.UserID)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, accounts.ErrNotFound) {
			return nil, err
		}
	}
	if accounts.NormalizeEmail(cp.ReplyTo) == "" {
		return nil, nil
	}
	u, err := s.Accounts.ByEmail(c.UserContext(), tid, cp.ReplyTo)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// complaintCheckSecret checks the secret answer of the person behind a complaint (an appeal
// against a block, a support request by phone).
func (s *Server) complaintCheckSecret(c *fiber.Ctx) error {
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	u, err := s.complaintPerson(c, cp)
	if err != nil {
		return err
	}
	if u == nil {
		return fiber.ErrNotFound
	}
	// The person behind a complaint may hold rights the staff member does not (P3).
	if ok, err := s.mayAct(c, u); err != nil {
		return err
	} else if !ok {
		return s.outOfReach(c, errOutOfReach)
	}
	check, ferr, err := s.checkSecret(c, u)
	if err != nil {
		return err
	}
	if len(ferr) > 0 {
		return s.renderComplaintCheck(c, fiber.StatusUnprocessableEntity, cp, &Form{Values: map[string]string{}, Errors: ferr}, nil)
	}
	return s.renderComplaintCheck(c, fiber.StatusOK, cp, nil, check)
}

func (s *Server) bindIdentity() {
	s.post("/admin/users/:id/secret", authz.PermAdminUsers, s.adminCheckSecret)
	s.post("/admin/complaints/:id/secret", authz.PermAdminComplaints, s.complaintCheckSecret)
}

// appealPath is the complaint form with the appeal category chosen: where a blocked person
// contests the block (P2, R6).
const appealPath = "/complaints/new?category=appeal"

// userURL is a link for an e-mail to u: on the hostname of the portal he registered through
// when the tenant has one, else as absURL builds it from the request.
func (s *Server) userURL(c *fiber.Ctx, u *accounts.User, path string) string {
	st := St(c)
	if st.Base == "" && u.Portal != "" {
		for _, h := range st.Tenant.Hostnames {
			if h.Portal == u.Portal {
				return s.hostURL(h.Hostname, path)
			}
		}
	}
	return s.absURL(c, path)
}
