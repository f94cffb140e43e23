package server

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/upload"
)

// complaintRules are the tenant's complaint rules (P10).
func complaintRules(t *tenancy.Tenant) complaints.Rules { return complaints.RulesOf(t) }

func (s *Server) bindComplaints() {
	s.get("/complaints/new", authz.PermPublic, s.complaintForm)
	s.post("/complaints", authz.PermPublic, s.limitByIP("complaint", "security.complaints_per_ip"), s.lodgeComplaint)
	s.get("/admin/complaints", authz.PermAdminComplaints, s.complaintQueue)
	s.get("/admin/complaints/:id", authz.PermAdminComplaints, s.complaintPage)
	s.get("/admin/complaints/:id/files/:file", authz.PermAdminComplaints, s.complaintFile)
	s.post("/admin/complaints/:id/extend", authz.PermAdminComplaints, s.extendComplaint)
	s.post("/admin/complaints/:id/answer", authz.PermAdminComplaints, s.answerComplaint)
	s.post("/admin/complaints/:id/closure", authz.PermAdminComplaints, s.decideClosureAppeal)
}

// complaintModule is the module a complaint is about: "platform" or one the tenant runs.
func complaintModule(t *tenancy.Tenant, m string) (string, bool) {
	if m == "" || m == "platform" {
		return "platform", true
	}
	return m, contains(t.EnabledModules(), m)
}

func (s *Server) renderComplaintForm(c *fiber.Ctx, status int, module string, f *Form) error {
	st := St(c)
	if f == nil {
		f = &Form{Values: map[string]string{"module": module}}
		// A link may choose the category: the appeal against a block (P2, R6), a support request.
		if cat := c.Query("category"); contains(complaints.Categories, cat) {
			f.Values["category"] = cat
		}
		if st.User != nil {
			f.Values["reply_to"] = st.User.Email
		}
	}
	return s.render(c, status, "complaint_new", "complaints.new_title", map[string]any{"Module": module,
		"Modules": append([]string{"platform"}, st.Tenant.EnabledModules()...), "Categories": complaints.Categories,
		"Rules": complaintRules(st.Tenant)}, f)
}

func (s *Server) complaintForm(c *fiber.Ctx) error {
	m, ok := complaintModule(St(c).Tenant, c.Query("module"))
	if !ok {
		return fiber.ErrNotFound
	}
	return s.renderComplaintForm(c, fiber.StatusOK, m, nil)
}

func (s *Server) lodgeComplaint(c *fiber.Ctx) error {
	st := St(c)
	m, ok := complaintModule(st.Tenant, c.FormValue("module"))
	if !ok {
		return fiber.ErrBadRequest
	}
	d := complaints.Draft{Module: m, Category: c.FormValue("category"), Body: c.FormValue("body"), ReplyTo: c.FormValue("reply_to"),
		ClientRef: c.FormValue("client_ref"), Locale: st.Lang}
	if st.User != nil {
		d.UserID = st.User.ID
	}
	if mf, err := c.MultipartForm(); err == nil {
		for _, fh := range mf.File["files"] {
			if fh.Size == 0 {
				continue
			}
			fr, err := fh.Open()
			if err != nil {
				return fiber.ErrBadRequest
			}
			data, err := io.ReadAll(io.LimitReader(fr, 5<<20+1))
			fr.Close()
			if err != nil {
				return fiber.ErrBadRequest
			}
			// The type is what the bytes are (complaints.Lodge checks them), not what the
			// browser says.
			d.Files = append(d.Files, complaints.File{Name: fh.Filename, Data: data})
		}
	}
	rules := complaintRules(st.Tenant)
	cp, err := s.Complaints.Lodge(c.UserContext(), st.Tenant.ID, rules, d, func(e string) bool { return accounts.NormalizeEmail(e) != "" })
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderComplaintForm(c, fiber.StatusUnprocessableEntity, m, &Form{
			Values: values(c, "module", "category", "body", "reply_to", "client_ref"), Errors: ferr})
	}
	if err != nil {
		return err
	}
	if d.Category == "appeal" && st.User == nil {
		// An appeal against the closure of an account (R6): tied to what was kept of it, which
		// waits for the decision.
		if _, err := s.Accounts.AppealClosure(c.UserContext(), st.Tenant.ID, cp.ReplyTo, cp.ID); err != nil {
			return err
		}
	}
	due := formatDay(st.Lang, cp.DueAt, st.Tenant)
	if err := s.sendMail(c.UserContext(), st.Tenant, cp.ReplyTo, "", st.Lang, "complaint_received", "",
		"Reference", cp.Reference, "Date", due); err != nil {
		return err
	}
	return s.message(c, fiber.StatusOK, "complaints.received_title", messageData{Lines: []string{"complaints.received_text"},
		Detail: st.Loc.T("complaints.received_detail", "Reference", cp.Reference, "Date", due)})
}

func (s *Server) complaintQueue(c *fiber.Ctx) error {
	st := St(c)
	status := c.Query("status", complaints.Open)
	if status != complaints.Open && status != complaints.Answered && status != "" {
		return fiber.ErrBadRequest
	}
	list, err := s.Complaints.Queue(c.UserContext(), st.Tenant.ID, status)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "admin_complaints", "admin.complaints.title", map[string]any{"List": list,
		"Status": status, "Now": s.Complaints.Now()}, nil)
}

func (s *Server) complaintSubject(c *fiber.Ctx) (*complaints.Complaint, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	cp, err := s.Complaints.Get(c.UserContext(), St(c).Tenant.ID, id)
	if errors.Is(err, complaints.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return cp, err
}

func (s *Server) renderComplaint(c *fiber.Ctx, status int, cp *complaints.Complaint, f *Form) error {
	return s.renderComplaintCheck(c, status, cp, f, nil)
}

// renderComplaintCheck is the staff page of a complaint, with the identity panel of the
// person behind it when he has an account here (R6: an appeal is decided knowing who asks),
// and the outcome of a secret-answer check, if any.
func (s *Server) renderComplaintCheck(c *fiber.Ctx, status int, cp *complaints.Complaint, f *Form, check *secretCheck) error {
	st := St(c)
	r := complaintRules(st.Tenant)
	data := map[string]any{"C": cp, "Now": s.Complaints.Now(), "MaxExtension": r.MaxExtensionDays}
	u, err := s.complaintPerson(c, cp)
	if err != nil {
		return err
	}
	if u != nil {
		id := s.identity(st, u, st.URL("/admin/complaints/"+cp.ID+"/secret"), check)
		if id.CanAct, err = s.mayAct(c, u); err != nil {
			return err
		}
		data["Identity"] = id
	} else {
		// No account: an appeal against the closure of one shows what was kept of it and
		// asks for the decision (R6).
		cl, err := s.Accounts.ClosureOfAppeal(c.UserContext(), st.Tenant.ID, cp.ID)
		if err != nil && !errors.Is(err, accounts.ErrNotFound) {
			return err
		}
		if cl != nil {
			data["Closure"], data["AppealPending"] = cl, cl.DecidedAt.IsZero()
		}
	}
	return s.render(c, status, "admin_complaint", "admin.complaints.one_title", data, f)
}

func (s *Server) complaintPage(c *fiber.Ctx) error {
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	return s.renderComplaint(c, fiber.StatusOK, cp, nil)
}

func (s *Server) complaintFile(c *fiber.Ctx) error {
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	if _, err := uuid.Parse(c.Params("file")); err != nil {
		return fiber.ErrNotFound
	}
	f, err := s.Complaints.File(c.UserContext(), St(c).Tenant.ID, cp.ID, c.Params("file"))
	if err != nil {
		return fiber.ErrNotFound
	}
	// Served as what it was found to be when it was received, as a download, never run.
	k, ok := upload.Of(f.ContentType)
	if !ok {
		return fiber.ErrNotFound
	}
	if _, err := upload.Check(f.Data, k); err != nil {
		// Stored before uploads were checked: it is not served (issue 11.9).
		s.Log.Warn("complaint file refused on read", "tenant", St(c).Tenant.Slug, "file", f.ID, "request_id", St(c).RequestID)
		return fiber.ErrNotFound
	}
	upload.Serve(c.Set, k, upload.DownloadName(f.Name, cp.Reference, k), false)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(f.Data)
}

func (s *Server) extendComplaint(c *fiber.Ctx) error {
	st := St(c)
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	days, _ := strconv.Atoi(c.FormValue("days"))
	err = s.Complaints.Extend(c.UserContext(), st.Tenant.ID, cp.ID, complaintRules(st.Tenant), days, c.FormValue("reason"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderComplaint(c, fiber.StatusUnprocessableEntity, cp, &Form{Values: values(c, "days", "reason"), Errors: ferr})
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActComplaintExtended, cp.UserID, "complaint:"+cp.Reference, map[string]any{"days": days}); err != nil {
		return err
	}
	s.flash(c, "admin.complaints.extended")
	return c.Redirect(st.URL("/admin/complaints/"+cp.ID), fiber.StatusSeeOther)
}

// answerComplaint records the answer and sends it to the address the complaint gave.
func (s *Server) answerComplaint(c *fiber.Ctx) error {
	st := St(c)
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	done, err := s.Complaints.Answer(c.UserContext(), st.Tenant.ID, cp.ID, st.User.ID, c.FormValue("answer"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderComplaint(c, fiber.StatusUnprocessableEntity, cp, &Form{Values: values(c, "answer"), Errors: ferr})
	}
	if err != nil {
		return err
	}
	if err := s.sendMail(c.UserContext(), st.Tenant, done.ReplyTo, "", st.Tenant.Lang(done.Locale, ""), "complaint_answer", "",
		"Reference", done.Reference, "Answer", done.Answer); err != nil {
		return err
	}
	if err := s.record(c, "", ActComplaintAnswered, cp.UserID, "complaint:"+cp.Reference, nil); err != nil {
		return err
	}
	s.flash(c, "admin.complaints.answered")
	return c.Redirect(st.URL("/admin/complaints/"+cp.ID), fiber.StatusSeeOther)
}

// Audit actions of the decisions on appeals against a closure (R6).
const (
	ActClosureAppealGranted = "admin.closure_appeal_granted"
	ActClosureAppealRefused = "admin.closure_appeal_refused"
)

// decideClosureAppeal records the decision on an appeal against the closure of an account
// (R6), answers the appeal with it, and writes it to the person in his language: granted, he
// is invited to open an account again (the closed one was deleted with its data); refused,
// he reads why. Two staff members deciding at once: one decision only.
func (s *Server) decideClosureAppeal(c *fiber.Ctx) error {
	st := St(c)
	ctx := c.UserContext()
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	cl, err := s.Accounts.ClosureOfAppeal(ctx, st.Tenant.ID, cp.ID)
	if errors.Is(err, accounts.ErrNotFound) {
		return fiber.ErrNotFound
	} else if err != nil {
		return err
	}
	f := &Form{Values: values(c, "decision", "answer"), Errors: form.Errors{}}
	decision, answer := c.FormValue("decision"), strings.TrimSpace(c.FormValue("answer"))
	if decision != accounts.AppealGranted && decision != accounts.AppealRefused {
		f.Errors.Add("decision", "form.required")
	}
	switch {
	case answer == "":
		f.Errors.Add("answer", "form.required")
	case utf8.RuneCountInString(answer) > 20000:
		f.Errors.Add("answer", "form.too_long")
	}
	if len(f.Errors) > 0 {
		return s.renderComplaint(c, fiber.StatusUnprocessableEntity, cp, f)
	}
	if err := s.Accounts.DecideAppeal(ctx, st.Tenant.ID, cl.ID, decision, st.User.ID); errors.Is(err, accounts.ErrNotFound) {
		f.Errors.Add("decision", "admin.complaints.appeal_already_decided")
		return s.renderComplaint(c, fiber.StatusConflict, cp, f)
	} else if err != nil {
		return err
	}
	var ferr form.Errors
	if _, err := s.Complaints.Answer(ctx, st.Tenant.ID, cp.ID, st.User.ID, answer); errors.As(err, &ferr) {
		// Answered meanwhile through the answer form: the decision stands and is sent.
		s.Log.Info("appeal decided after its complaint was answered", "request_id", st.RequestID, "complaint", cp.Reference)
	} else if err != nil {
		return err
	}
	action, link := ActClosureAppealRefused, ""
	if decision == accounts.AppealGranted {
		action, link = ActClosureAppealGranted, s.absLink(st.Tenant, cl.Portal, "/register")
	}
	if err := s.record(c, "", action, "", "complaint:"+cp.Reference, map[string]any{"closed_at": cl.ClosedAt}); err != nil {
		return err
	}
	if err := s.sendMail(ctx, st.Tenant, cl.Email, cl.Name, st.Tenant.Lang(cl.Locale, ""), "closure_appeal_"+decision, link,
		"Answer", answer, "Date", formatDay(st.Tenant.Lang(cl.Locale, ""), cl.ClosedAt, st.Tenant)); err != nil {
		return err
	}
	s.flash(c, "admin.complaints.appeal_decided")
	return c.Redirect(st.URL("/admin/complaints/"+cp.ID), fiber.StatusSeeOther)
}
