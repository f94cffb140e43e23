package calendar

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// permDirectory is the administrator's care of the directory (C1): the import, removals and
// the reports' queue.
const permDirectory = "calendar.directory"

// What a report says is wrong (C1), and how the administrator resolved it.
var (
	reportKinds       = []string{"wrong_data", "harmful", "not_practising", "other"}
	reportResolutions = []string{"corrected", "removed", "dismissed"}
)

// Bounds of a report's texts.
const (
	reportMinDetails = 10
	reportMaxDetails = 2000
	noteMax          = 1000
)

// Report is a report, by anyone, of wrong or harmful data about a doctor of the directory
// (C1), until the administrator resolves it.
type Report struct {
	bun.BaseModel `bun:"table:calendar_reports,alias:rp"`

	TenantID   string       `bun:"tenant_id,pk"`
	ID         string       `bun:"id,pk"`
	DoctorID   string       `bun:"doctor_id"`
	What       string       `bun:"what"`
	Details    string       `bun:"details"`
	Email      string       `bun:"email"`
	UserID     string       `bun:"user_id"`
	Status     string       `bun:"status"` // open, resolved
	Resolution string       `bun:"resolution"`
	Note       string       `bun:"note"`
	ResolvedBy string       `bun:"resolved_by"`
	CreatedAt  time.Time    `bun:"created_at"`
	ResolvedAt bun.NullTime `bun:"resolved_at"`
}

func oneOf(s string, xs []string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// report takes a report about a doctor from his page (C1): anyone may send it, within the
// directory's budget of requests like a search; a report that cannot be read shows the
// page again with each message next to its field, and changes nothing.
func (m *Module) report(c *kit.Ctx) error {
	if err := m.hit(c.Context(), c.Tenant(), c.Req.RemoteIP, c.User()); errors.Is(err, errLimited) {
		return limited(c)
	} else if err != nil {
		return err
	}
	l, err := m.listed(c, c.Param("id"))
	if err != nil {
		return err
	}
	r := &Report{What: c.Form("what"), Details: strings.TrimSpace(c.Form("details")), Email: strings.TrimSpace(c.Form("email"))}
	errs := map[string]string{}
	if !oneOf(r.What, reportKinds) {
		errs["what"] = "calendar.report.err.what"
	}
	if n := len([]rune(r.Details)); n < reportMinDetails || n > reportMaxDetails {
		errs["details"] = "calendar.report.err.details"
	}
	if r.Email != "" {
		if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email || len(r.Email) > 254 {
			errs["email"] = "calendar.report.err.email"
		}
	}
	if len(errs) > 0 {
		v := m.doctorView(c, l)
		for _, k := range []string{"what", "details", "email"} {
			v.Values[k] = c.Form(k)
		}
		for k, e := range errs {
			v.Errors[k] = e
		}
		return kit.Invalid("doctor", v)
	}
	r.TenantID, r.ID, r.DoctorID, r.Status, r.CreatedAt = c.Tenant().ID, newID(), l.Doctor.ID, "open", m.now()
	if u := c.User(); u != nil {
		r.UserID = u.ID
	}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(r).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	return c.Redirect("/calendar/doctors/"+l.Doctor.ID, "reported")
}

// queued is a report as the queue shows it, with the doctor's name.
type queued struct {
	Report
	Doctor string
}

// reports is the administrator's queue of open reports, oldest first, and the latest
// resolved ones (C1).
func (m *Module) reports(c *kit.Ctx) error {
	var open, done []queued
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		for _, x := range []struct {
			out   *[]queued
			state string
			order string
		}{{&open, "open", "rp.created_at ASC"}, {&done, "resolved", "rp.resolved_at DESC"}} {
			var rs []Report
			if err := sc.Select(&rs).Where("rp.status = ?", x.state).OrderExpr(x.order).Limit(100).Scan(ctx); err != nil {
				return err
			}
			names, err := m.doctorNames(ctx, sc, rs)
			if err != nil {
				return err
			}
			for _, r := range rs {
				*x.out = append(*x.out, queued{r, names[r.DoctorID]})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	v := c.View("calendar.reports.title")
	v.Data["Open"], v.Data["Done"], v.Data["Resolutions"] = open, done, reportResolutions
	return c.Render(http.StatusOK, "reports", v)
}

// doctorNames are the names of the reports' doctors, removed ones too.
func (m *Module) doctorNames(ctx context.Context, sc *store.Scope, rs []Report) (map[string]string, error) {
	out := map[string]string{}
	if len(rs) == 0 {
		return out, nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.DoctorID
	}
	var ds []Doctor
	if err := sc.Select(&ds).Where("dr.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.ID] = d.display()
	}
	return out, nil
}

// resolveReport closes an open report with its resolution and a note (C1): the update is
// guarded on the report being open, so two administrators resolve it once; "removed"
// removes the doctor from the directory as well. Both are audited.
func (m *Module) resolveReport(c *kit.Ctx) error {
	res, note := c.Form("resolution"), strings.TrimSpace(c.Form("note"))
	if !oneOf(res, reportResolutions) || len([]rune(note)) > noteMax {
		return kit.ErrBadRequest
	}
	var r Report
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&r).Where("rp.id = ?", c.Param("id")).Scan(ctx); errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		n, err := sc.Update((*Report)(nil)).Set("status = 'resolved'").Set("resolution = ?", res).Set("note = ?", note).
			Set("resolved_by = ?", c.User().ID).Set("resolved_at = ?", m.now()).
			Where("rp.id = ?", r.ID).Where("rp.status = 'open'").Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := n.RowsAffected(); k == 0 {
			return errNotLive
		}
		return nil
	})
	if errors.Is(err, errNotLive) {
		return c.Redirect("/calendar/admin/reports", "report_done_before")
	}
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "calendar.report_resolved", Resource: "calendar_report:" + r.ID,
		Detail: map[string]any{"resolution": res}}); err != nil {
		return err
	}
	if res == "removed" {
		if err := m.removeDoctor(c, r.DoctorID); err != nil && !errors.Is(err, kit.ErrNotFound) {
			return err
		}
	}
	return c.Redirect("/calendar/admin/reports", "report_resolved")
}
