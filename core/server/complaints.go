package server

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/locales"
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
	s.post("/admin/complaints/:id/question", authz.PermAdminComplaints, s.askComplainant)
	s.get("/complaints/explain/:key", authz.PermPublic, s.explainForm)
	s.post("/complaints/explain/:key", authz.PermPublic, s.limitByIP("complaint", "security.complaints_per_ip"), s.explainComplaint)
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
	data := map[string]any{"C": cp, "Now": s.Complaints.Now(), "MaxExtension": r.MaxExtensionDays,
		"Reasons": complaints.ExtensionReasons, "Due": s.dueInWords(st.Loc, cp, st.Tenant)}
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

// dueInWords says where a complaint's clock stands, in the reader's words: days left, days
// past, standing still while the person is asked, answered.
func (s *Server) dueInWords(loc *i18n.Localizer, cp *complaints.Complaint, t *tenancy.Tenant) string {
	now := s.Complaints.Now()
	switch {
	case cp.Status != complaints.Open:
		return loc.T("complaints.clock.answered", "Date", locales.FormatDate(loc.Lang, cp.AnsweredAt.Time, t.Location()))
	case cp.Paused():
		return loc.T("complaints.clock.paused", "Date", locales.FormatDate(loc.Lang, cp.PausedAt.Time, t.Location()))
	}
	n := cp.DaysLeft(now, t.Location())
	if n < 0 || cp.Overdue(now) {
		return loc.TN("complaints.clock.overdue", -n, "Count", -n)
	}
	return loc.TN("complaints.clock.left", n, "Count", n)
}

// ExtensionReason names the reason of an extension in the reader's words; one written
// before reasons were a choice is shown as staff wrote it.
func (p *Page) ExtensionReason(reason string) string {
	if contains(complaints.ExtensionReasons, reason) {
		return p.T("complaints.extension_reason." + reason)
	}
	return reason
}

// extendComplaint extends a complaint's due date once, for the reason staff choose, and
// tells the person the new date in his language (C17).
func (s *Server) extendComplaint(c *fiber.Ctx) error {
	st := St(c)
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	days, _ := strconv.Atoi(c.FormValue("days"))
	reason := c.FormValue("reason")
	done, err := s.Complaints.Extend(c.UserContext(), st.Tenant.ID, cp.ID, complaintRules(st.Tenant), days, reason)
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderComplaint(c, fiber.StatusUnprocessableEntity, cp, &Form{Values: values(c, "days", "reason"), Errors: ferr})
	}
	if errors.Is(err, complaints.ErrBusy) {
		return s.renderComplaint(c, fiber.StatusConflict, cp, &Form{Values: values(c, "days", "reason"),
			Errors: form.Errors{"days": "complaints.busy"}})
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActComplaintExtended, cp.UserID, "complaint:"+cp.Reference, map[string]any{"days": days,
		"reason": reason, "due_date": done.DueAt.In(st.Tenant.Location()).Format(time.DateOnly)}); err != nil {
		return err
	}
	lang := st.Tenant.Lang(done.Locale, "")
	if err := s.sendMail(c.UserContext(), st.Tenant, done.ReplyTo, "", lang, "complaint_extended", "",
		"Reference", done.Reference, "Date", formatDay(lang, done.DueAt, st.Tenant),
		"Reason", s.I18n.For(lang).T("complaints.extension_reason."+reason)); err != nil {
		return err
	}
	s.flash(c, "admin.complaints.extended")
	return c.Redirect(st.URL("/admin/complaints/"+cp.ID), fiber.StatusSeeOther)
}

// askComplainant sends staff's question to the person and stops the complaint's clock until
// he answers from the link in the e-mail (C17).
func (s *Server) askComplainant(c *fiber.Ctx) error {
	st := St(c)
	cp, err := s.complaintSubject(c)
	if err != nil {
		return err
	}
	done, key, err := s.Complaints.Ask(c.UserContext(), st.Tenant.ID, cp.ID, st.User.ID, c.FormValue("question"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderComplaint(c, fiber.StatusUnprocessableEntity, cp, &Form{Values: values(c, "question"), Errors: ferr})
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActComplaintQuestion, cp.UserID, "complaint:"+cp.Reference, nil); err != nil {
		return err
	}
	lang := st.Tenant.Lang(done.Locale, "")
	if err := s.sendMail(c.UserContext(), st.Tenant, done.ReplyTo, "", lang, "complaint_question",
		s.absLink(st.Tenant, st.Portal, "/complaints/explain/"+key),
		"Reference", done.Reference, "Question", done.Questions[len(done.Questions)-1].Question); err != nil {
		return err
	}
	s.flash(c, "admin.complaints.asked")
	return c.Redirect(st.URL("/admin/complaints/"+cp.ID), fiber.StatusSeeOther)
}

// complaintQuestion is the question a link opens; an unknown link is not found.
func (s *Server) complaintQuestion(c *fiber.Ctx) (*complaints.Question, *complaints.Complaint, error) {
	key := c.Params("key")
	if len(key) < 20 || len(key) > 100 {
		return nil, nil, fiber.ErrNotFound
	}
	q, cp, err := s.Complaints.Asked(c.UserContext(), St(c).Tenant.ID, key)
	if errors.Is(err, complaints.ErrNotFound) {
		return nil, nil, fiber.ErrNotFound
	}
	return q, cp, err
}

func (s *Server) renderExplain(c *fiber.Ctx, status int, q *complaints.Question, cp *complaints.Complaint, f *Form) error {
	st := St(c)
	return s.render(c, status, "complaint_explain", "complaints.explain_title", map[string]any{"Q": q, "C": cp,
		"Waiting": q.ExplainedAt.IsZero() && cp.Status == complaints.Open, "Due": s.dueInWords(st.Loc, cp, st.Tenant),
		"Action": st.URL("/complaints/explain/" + c.Params("key"))}, f)
}

// explainForm is the person's page of his complaint: the question he was asked and the
// form for his answer, while the clock stands still (C17).
func (s *Server) explainForm(c *fiber.Ctx) error {
	q, cp, err := s.complaintQuestion(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("Referrer-Policy", "no-referrer")
	return s.renderExplain(c, fiber.StatusOK, q, cp, nil)
}

// explainComplaint records the person's answer; the clock starts again and the due date
// moves by the days it stood still.
func (s *Server) explainComplaint(c *fiber.Ctx) error {
	st := St(c)
	q, cp, err := s.complaintQuestion(c)
	if err != nil {
		return err
	}
	done, err := s.Complaints.Explain(c.UserContext(), st.Tenant.ID, complaintRules(st.Tenant), c.Params("key"), c.FormValue("explanation"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.renderExplain(c, fiber.StatusUnprocessableEntity, q, cp, &Form{Values: values(c, "explanation"), Errors: ferr})
	}
	if errors.Is(err, complaints.ErrBusy) {
		return s.renderExplain(c, fiber.StatusConflict, q, cp, &Form{Values: values(c, "explanation"),
			Errors: form.Errors{"explanation": "complaints.busy"}})
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActComplaintExplained, cp.UserID, "complaint:"+cp.Reference, map[string]any{
		"due_date": done.DueAt.In(st.Tenant.Location()).Format(time.DateOnly)}); err != nil {
		return err
	}
	return s.message(c, fiber.StatusOK, "complaints.explained_title", messageData{Lines: []string{"complaints.explained_text"},
		Detail: st.Loc.T("complaints.received_detail", "Reference", done.Reference, "Date", formatDay(st.Lang, done.DueAt, st.Tenant))})
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
