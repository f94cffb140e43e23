package calendar

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// RightsRequest is a person's request about the booking data a doctor keeps as its
// controller (C16): access, rectification, erasure or objection; anyone may make one,
// with or without an account, and the doctor answers before DueAt.
type RightsRequest struct {
	bun.BaseModel `bun:"table:calendar_rights_requests,alias:rr"`

	TenantID   string       `bun:"tenant_id,pk"`
	ID         string       `bun:"id,pk"`
	DoctorID   string       `bun:"doctor_id"`
	Kind       string       `bun:"kind"`
	Name       string       `bun:"name"`
	PESEL      string       `bun:"pesel"`
	Email      string       `bun:"email"`
	Message    string       `bun:"message"`
	UserID     string       `bun:"user_id"`
	Status     string       `bun:"status"` // open, done, refused
	Answer     string       `bun:"answer"`
	AnsweredBy string       `bun:"answered_by"`
	CreatedAt  time.Time    `bun:"created_at"`
	DueAt      time.Time    `bun:"due_at"`
	AnsweredAt bun.NullTime `bun:"answered_at"`
}

// Overdue reports whether the request is still open past its due date.
func (r RightsRequest) Overdue(now time.Time) bool { return r.Status == "open" && now.After(r.DueAt) }

// rightsKinds are what a person may ask about his booking data (C16).
var rightsKinds = []string{"access", "rectification", "erasure", "objection"}

const (
	tmplRightsAnswered  = "calendar.rights_answered"
	auditRightsAnswered = "calendar.rights_answered"
	maxRightsText       = 2000
)

// errLimitedShown: the directory's budget refused the request and the page said so.
var errLimitedShown = errors.New("calendar: refused by the directory's budget")

// rightsDoctor reads the doctor of the route (any doctor of the directory), or ErrNotFound;
// like his page, it counts against the client's directory budget (C1: the form names the
// doctor, so it must not open a way around the limits).
func (m *Module) rightsDoctor(c *kit.Ctx) (*Doctor, error) {
	if err := m.hit(c.Context(), c.Tenant(), c.Req.RemoteIP, c.User()); errors.Is(err, errLimited) {
		if err := limited(c); err != nil {
			return nil, err
		}
		return nil, errLimitedShown
	} else if err != nil {
		return nil, err
	}
	var d Doctor
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&d).Where("dr.id = ?", c.Param("id")).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// rightsForm is the public form to ask a doctor about one's booking data (C16), also for
// a person without an account.
func (m *Module) rightsForm(c *kit.Ctx) error {
	d, err := m.rightsDoctor(c)
	if errors.Is(err, errLimitedShown) {
		return nil
	} else if err != nil {
		return err
	}
	v := c.View("calendar.rights.title")
	if u := c.User(); u != nil && v.Values["email"] == "" {
		v.Values["name"], v.Values["email"], v.Values["pesel"] = u.Name, u.Email, u.Profile["pesel"]
	}
	return m.renderRights(c, http.StatusOK, d, v)
}

func (m *Module) renderRights(c *kit.Ctx, status int, d *Doctor, v *kit.View) error {
	v.Data["D"], v.Data["Kinds"], v.Data["Days"] = d, rightsKinds, rightsAnswerDays.Of(c.Tenant())
	return c.Render(status, "rights", v)
}

// submitRights stores the request with its due date (the tenant's rule, 30 days): the
// doctor's and his facility's pages show it until he answers.
func (m *Module) submitRights(c *kit.Ctx) error {
	d, err := m.rightsDoctor(c)
	if errors.Is(err, errLimitedShown) {
		return nil
	} else if err != nil {
		return err
	}
	v := c.View("calendar.rights.title")
	for _, f := range []string{"name", "pesel", "email", "kind", "message"} {
		v.Values[f] = strings.TrimSpace(c.Form(f))
	}
	v.Values["pesel"] = natid.Normalize(v.Values["pesel"])
	if n := utf8.RuneCountInString(v.Values["name"]); n == 0 || n > 200 {
		v.Errors["name"] = "calendar.manage.err.required"
	}
	if e := checkNationalID(c.Tenant().Country, v.Values["pesel"], m.now().In(view.Zone(c.Tenant().TimeZone))); e != "" {
		v.Errors["pesel"] = e
	}
	if a, err := mail.ParseAddress(v.Values["email"]); err != nil || a.Address != v.Values["email"] || len(v.Values["email"]) > 254 {
		v.Errors["email"] = "calendar.rights.err.email"
	}
	known := false
	for _, k := range rightsKinds {
		known = known || k == v.Values["kind"]
	}
	if !known {
		v.Errors["kind"] = "calendar.rights.err.kind"
	}
	if utf8.RuneCountInString(v.Values["message"]) > maxRightsText {
		v.Errors["message"] = "calendar.manage.err.too_long"
	}
	if len(v.Errors) > 0 {
		return m.renderRights(c, http.StatusUnprocessableEntity, d, v)
	}
	now := m.now()
	r := &RightsRequest{ID: newID(), DoctorID: d.ID, Kind: v.Values["kind"], Name: v.Values["name"], PESEL: v.Values["pesel"],
		Email: v.Values["email"], Message: v.Values["message"], Status: "open", CreatedAt: now,
		DueAt: now.AddDate(0, 0, int(rightsAnswerDays.Of(c.Tenant())))}
	if u := c.User(); u != nil {
		r.UserID = u.ID
	}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		r.TenantID = sc.TenantID
		_, err := sc.Insert(r).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	return c.Redirect("/calendar/doctors/"+d.ID+"/rights", "rights_sent")
}

// rightsRequests is the doctor's and his facility's page of the requests about the booking
// data of the doctors the account manages (C16): open ones first, by due date.
func (m *Module) rightsRequests(c *kit.Ctx) error {
	return m.renderRequests(c, http.StatusOK, c.View("calendar.requests.title"))
}

func (m *Module) renderRequests(c *kit.Ctx, status int, v *kit.View) error {
	var open, answered []RightsRequest
	names := map[string]string{}
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		ds, err := managedDoctors(ctx, sc, c.User().ID)
		if err != nil || len(ds) == 0 {
			return err
		}
		var ids []string
		for _, d := range ds {
			ids, names[d.ID] = append(ids, d.ID), d.display()
		}
		if err := sc.Select(&open).Where("rr.doctor_id IN (?)", bunIn(ids)).Where("rr.status = 'open'").Order("rr.due_at").Limit(500).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&answered).Where("rr.doctor_id IN (?)", bunIn(ids)).Where("rr.status <> 'open'").Order("rr.answered_at DESC").Limit(100).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v.Data["Open"], v.Data["Answered"], v.Data["Names"], v.Data["Now"] = open, answered, names, m.now()
	v.Data["Several"] = len(names) > 1
	return c.Render(status, "requests", v)
}

// answerRights closes an open request of a doctor the account manages, done or refused
// with a note (a refusal must say why), once (a guarded update); the person gets the
// answer by e-mail in his language.
func (m *Module) answerRights(c *kit.Ctx) error {
	outcome := c.Form("outcome")
	if outcome != "done" && outcome != "refused" {
		return kit.ErrBadRequest
	}
	note := strings.TrimSpace(c.Form("note"))
	var r RightsRequest
	var d Doctor
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&r).Where("rr.id = ?", c.Param("id")).
			Where("rr.doctor_id IN (SELECT dr.id FROM calendar_doctors AS dr WHERE dr.tenant_id = ? AND "+managedSQL+")",
				append([]any{sc.TenantID}, managedArgs(sc, c.User().ID)...)...).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		return sc.Select(&d).Where("dr.id = ?", r.DoctorID).Scan(ctx)
	})
	if err != nil {
		return err
	}
	if (outcome == "refused" && note == "") || utf8.RuneCountInString(note) > maxRightsText {
		v := c.View("calendar.requests.title")
		v.Values["note"], v.Values["answering"] = note, r.ID
		v.Errors["note"] = "calendar.requests.err.note"
		return m.renderRequests(c, http.StatusUnprocessableEntity, v)
	}
	var n int64
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*RightsRequest)(nil)).Set("status = ?", outcome).Set("answer = ?", note).Set("answered_by = ?", c.User().ID).
			Set("answered_at = ?", m.now()).Where("rr.id = ?", r.ID).Where("rr.status = 'open'").Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	}); err != nil {
		return err
	}
	if n != 1 {
		return c.Redirect("/calendar/requests", "already_answered")
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditRightsAnswered, Subject: r.UserID, Resource: "rights_request:" + r.ID,
		Detail: map[string]any{"doctor": d.display()}}); err != nil {
		return err
	}
	lang := c.Tenant().Locale
	msg := sdk.Message{To: r.Email, Template: tmplRightsAnswered}
	if r.UserID != "" {
		if u, err := c.Host().User(c.Context(), r.UserID); err == nil {
			msg.To, msg.UserID = "", r.UserID
			if u.Locale != "" {
				lang = u.Locale
			}
		}
	}
	loc := m.Msgs.For(lang)
	msg.Data = map[string]any{"Doctor": d.display(), "Kind": loc.T("calendar.rights.kind." + r.Kind),
		"Outcome": loc.T("calendar.requests.outcome." + outcome), "Note": note}
	if _, err := c.Host().Send(c.Context(), msg); err != nil {
		return err
	}
	return c.Redirect("/calendar/requests", "rights_answered")
}
