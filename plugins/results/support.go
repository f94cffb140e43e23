package results

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
)

// supportDue is when a support request received at t must be answered: the tenant's number
// of business hours later, counted in its business hours and working days (R8).
func supportDue(t sdk.Tenant, at time.Time) time.Time {
	c := workdays.Calendar(t.Country, int(supportOpens.Of(t)), int(supportCloses.Of(t)))
	hours := time.Duration(supportHours.Of(t)) * time.Hour
	return c.AddWorkHours(at.In(tenantLoc(t)), hours).UTC()
}

// tenantLoc is the tenant's time zone.
func tenantLoc(t sdk.Tenant) *time.Location { return view.Zone(t.TimeZone) }

// supportForm shows the support form to a patient with a lab record; support is given only
// where the lab has a record of the person (R3, R8), so others get the tenant's answer.
func (m *Module) supportForm(c *kit.Ctx) error {
	v, err := m.supportView(c)
	if err != nil {
		return err
	}
	return c.Render(200, "support", v)
}

func (m *Module) supportView(c *kit.Ctx) (*kit.View, error) {
	v := c.View("results.support.title")
	var ids []string
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		ids, err = patientIDsOf(ctx, sc, c.User().ID)
		return err
	})
	t := c.Tenant()
	v.Data["HasRecord"] = len(ids) > 0
	v.Data["Opens"], v.Data["Closes"], v.Data["Hours"] = supportOpens.Of(t), supportCloses.Of(t), supportHours.Of(t)
	return v, err
}

// support lodges a support request in the core's complaints queue, due within the tenant's
// business hours rule; staff answer it there, beside the identity check.
func (m *Module) support(c *kit.Ctx) error {
	v, err := m.supportView(c)
	if err != nil {
		return err
	}
	if v.Data["HasRecord"] != true {
		return kit.Invalid("support", v)
	}
	body := strings.TrimSpace(c.Form("body"))
	v.Values["body"] = body
	switch {
	case body == "":
		v.Errors["body"] = errKey("required")
	case utf8.RuneCountInString(body) > 5000:
		v.Errors["body"] = errKey("too_long")
	}
	if len(v.Errors) > 0 {
		return kit.Invalid("support", v)
	}
	u := c.User()
	rc, err := c.Host().Lodge(c.Context(), sdk.Complaint{Category: "support", Body: body, ReplyTo: u.Email,
		UserID: u.ID, Due: supportDue(c.Tenant(), m.now())})
	var fe sdk.FieldErrors
	if errors.As(err, &fe) {
		v.Errors["body"] = errKey("rejected")
		return kit.Invalid("support", v)
	}
	if err != nil {
		return err
	}
	v.Data["Receipt"] = rc
	return c.Render(200, "support_sent", v)
}
