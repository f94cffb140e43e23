package results

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
)

// supportDue is when a support request received at t must be answered: the tenant's number
// of business hours later, counted in its business hours and working days (R8).
func supportDue(t sdk.Tenant, at time.Time) time.Time {
	c := workdays.Calendar(t.Country, int(t.IntRule("results.support_opens_hour", 8)), int(t.IntRule("results.support_closes_hour", 18)))
	hours := time.Duration(t.IntRule("results.support_answer_hours", 8)) * time.Hour
	return c.AddWorkHours(at.In(tenantLoc(t)), hours).UTC()
}

// supportForm shows the support form to a patient with a lab record; support is given only
// where the lab has a record of the person (R3, R8), so others get the tenant's answer.
func (m *Module) supportForm(w http.ResponseWriter, r *http.Request) {
	v, ok := m.supportView(w, r)
	if ok {
		v.render(w, http.StatusOK, "support")
	}
}

func (m *Module) supportView(w http.ResponseWriter, r *http.Request) (*view, bool) {
	req := sdk.RequestFrom(r)
	v := m.view(r, "results.support.title")
	ids, err := patientIDsOf(r.Context(), m.DB, req.Tenant.ID, req.User.ID)
	if err != nil {
		m.internal(w, r)
		return nil, false
	}
	v.Data["HasRecord"] = len(ids) > 0
	v.Data["Opens"], v.Data["Closes"] = req.Tenant.IntRule("results.support_opens_hour", 8), req.Tenant.IntRule("results.support_closes_hour", 18)
	v.Data["Hours"] = req.Tenant.IntRule("results.support_answer_hours", 8)
	return v, true
}

// support lodges a support request in the core's complaints queue, due within the tenant's
// business hours rule; staff answer it there, beside the identity check.
func (m *Module) support(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	v, ok := m.supportView(w, r)
	if !ok {
		return
	}
	if v.Data["HasRecord"] != true {
		v.render(w, http.StatusUnprocessableEntity, "support")
		return
	}
	body := strings.TrimSpace(r.FormValue("body"))
	v.Values["body"] = body
	switch {
	case body == "":
		v.Errors["body"] = "required"
	case utf8.RuneCountInString(body) > 5000:
		v.Errors["body"] = "too_long"
	}
	if len(v.Errors) > 0 {
		v.render(w, http.StatusUnprocessableEntity, "support")
		return
	}
	rc, err := sdk.HostFrom(ctx).Complaints.Lodge(ctx, sdk.ComplaintDraft{Category: "support", Body: body, ReplyTo: req.User.Email,
		UserID: req.User.ID, Due: supportDue(req.Tenant, m.now())})
	if _, ok := sdk.ParseFieldErrors(err); ok {
		v.Errors["body"] = "rejected"
		v.render(w, http.StatusUnprocessableEntity, "support")
		return
	}
	if err != nil {
		m.internal(w, r)
		return
	}
	v.Data["Receipt"] = rc
	v.render(w, http.StatusOK, "support_sent")
}
