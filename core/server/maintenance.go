package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/workdays"
)

// Kinds of maintenance (B9 [001 art. 7]): the service is interrupted, or restricted ("mode
// restreint"). Only an interruption longer than the tenant's rule must be announced ahead.
const (
	MaintenanceInterruption = "interruption"
	MaintenanceRestricted   = "restricted"
)

// MaintenanceKinds lists the kinds of maintenance, in the form's order.
var MaintenanceKinds = []string{MaintenanceInterruption, MaintenanceRestricted}

// Maintenance is a planned interruption or restriction of a tenant's service (P7, B9).
type Maintenance struct {
	bun.BaseModel `bun:"table:maintenance_windows,alias:mw"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	StartsAt  time.Time `bun:"starts_at"`
	EndsAt    time.Time `bun:"ends_at"`
	Announced bool      `bun:"announced"`
	CreatedBy string    `bun:"created_by"`
	CreatedAt time.Time `bun:"created_at"`
	// Kind is MaintenanceInterruption or MaintenanceRestricted.
	Kind string `bun:"kind"`
}

func (s *Server) bindMaintenance() {
	s.get("/platform/maintenance", authz.PermPlatformTenants, s.platformMaintenance)
	s.post("/platform/maintenance", authz.PermPlatformTenants, s.platformScheduleMaintenance)
	// The tenant admin reads his tenant's windows; the platform admin plans them (P7, B9).
	s.get("/admin/maintenance", authz.PermAdminSettings, s.adminMaintenance)
}

// maintenanceView is a window on the tenant admin's page: what happens and when, in words.
type maintenanceView struct {
	Kind      string
	What      string
	Announced bool
	Current   bool
}

// adminMaintenance shows the tenant admin his tenant's current and coming windows, read
// only: each says in the reader's language what happens from when to when, and whether the
// users were told by e-mail and the banner.
func (s *Server) adminMaintenance(c *fiber.Ctx) error {
	st := St(c)
	var windows []Maintenance
	now := time.Now().UTC()
	err := s.DB.ReadTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&windows).Where("ends_at > ?", now).Order("starts_at").Scan(ctx)
	})
	if err != nil {
		return err
	}
	views := make([]maintenanceView, 0, len(windows))
	for _, m := range windows {
		kind := m.Kind
		if !contains(MaintenanceKinds, kind) {
			kind = MaintenanceInterruption
		}
		from := locales.FormatDateTime(st.Lang, m.StartsAt, st.Tenant.Location())
		to := locales.FormatDateTime(st.Lang, m.EndsAt, st.Tenant.Location())
		views = append(views, maintenanceView{Kind: st.Loc.T("platform.maintenance.kind." + kind), What: st.Loc.T("maintenance.what."+kind, "From", from, "To", to),
			Announced: m.Announced, Current: !m.StartsAt.After(now)})
	}
	return s.render(c, fiber.StatusOK, "admin_maintenance", "admin.maintenance.title", map[string]any{"Windows": views}, nil)
}

// upcomingMaintenance returns the tenant's next or current window (only announced ones
// when announced is set), if it ends in the future. The windows are read once per revision
// of the tenant (planning one bumps it).
func (s *Server) upcomingMaintenance(ctx context.Context, t *tenancy.Tenant, announced bool) (*Maintenance, error) {
	windows, err := s.maintenance.Get(t, func() ([]Maintenance, error) {
		var out []Maintenance
		err := s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
			return sc.Select(&out).Where("ends_at > ?", time.Now().UTC()).Order("starts_at").Scan(ctx)
		})
		return out, err
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i := range windows {
		if windows[i].EndsAt.After(now) && (!announced || windows[i].Announced) {
			m := windows[i]
			return &m, nil
		}
	}
	return nil, nil
}

// checkMaintenance applies the tenant's rules to a window: an interruption longer than the
// rule (5 h) must start at least the notice (24 business hours, from the tenant's country
// calendar and business hours) after now. It reports whether it is announced (by e-mail and
// the banner): a restriction of the service as long is announced too, but needs no notice.
func checkMaintenance(t *tenancy.Tenant, kind string, start, end, now time.Time) (announce bool, errKey string) {
	if !end.After(start) {
		return false, "platform.maintenance.end_before_start"
	}
	if !start.After(now) {
		return false, "platform.maintenance.in_the_past"
	}
	if end.Sub(start) <= time.Duration(t.IntRule("maintenance.announce_over_hours"))*time.Hour {
		return false, ""
	}
	if kind == MaintenanceRestricted {
		return true, ""
	}
	c := workdays.Calendar(t.Settings.Country, int(t.IntRule("business.open_hour")), int(t.IntRule("business.close_hour")))
	notice := time.Duration(t.IntRule("maintenance.notice_business_hours")) * time.Hour
	if workdays.BusinessHoursBetween(c, now, start, t.Location()) < notice {
		return true, "platform.maintenance.too_soon"
	}
	return true, ""
}

func (s *Server) platformMaintenance(c *fiber.Ctx) error {
	return s.renderMaintenance(c, fiber.StatusOK, nil)
}

func (s *Server) renderMaintenance(c *fiber.Ctx, status int, f *Form) error {
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return err
	}
	type row struct {
		Tenant *tenancy.Tenant
		Window *Maintenance
	}
	var rows []row
	var tenants []*tenancy.Tenant
	for _, t := range ts {
		if t.Kind == tenancy.KindConsole {
			continue
		}
		tenants = append(tenants, t)
		m, err := s.upcomingMaintenance(c.UserContext(), t, false)
		if err != nil {
			return err
		}
		if m != nil {
			rows = append(rows, row{t, m})
		}
	}
	return s.render(c, status, "platform_maintenance", "platform.maintenance.title", map[string]any{"Rows": rows, "Tenants": tenants,
		"Kinds": MaintenanceKinds}, f)
}

// platformScheduleMaintenance plans a window for one tenant or all; the times are read in
// each tenant's time zone. A window longer than the rule is announced to every user.
func (s *Server) platformScheduleMaintenance(c *fiber.Ctx) error {
	st := St(c)
	f := &Form{Values: values(c, "tenant", "kind", "start", "end"), Errors: form.Errors{}}
	kind := f.Values["kind"]
	if kind == "" {
		kind = MaintenanceInterruption
	}
	if !contains(MaintenanceKinds, kind) {
		f.Errors.Add("kind", "form.invalid_choice")
	}
	ts, err := s.Tenants.List(c.UserContext())
	if err != nil {
		return err
	}
	var targets []*tenancy.Tenant
	for _, t := range ts {
		if t.Kind != tenancy.KindConsole && (f.Values["tenant"] == "*" || f.Values["tenant"] == t.ID) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		f.Errors.Add("tenant", "form.invalid_choice")
	}
	type plan struct {
		t          *tenancy.Tenant
		start, end time.Time
		announce   bool
	}
	var plans []plan
	now := time.Now()
	for _, t := range targets {
		start, err1 := time.ParseInLocation("2006-01-02T15:04", f.Values["start"], t.Location())
		end, err2 := time.ParseInLocation("2006-01-02T15:04", f.Values["end"], t.Location())
		if err1 != nil {
			f.Errors.Add("start", "form.date.invalid")
		}
		if err2 != nil {
			f.Errors.Add("end", "form.date.invalid")
		}
		if err1 != nil || err2 != nil {
			break
		}
		announce, key := checkMaintenance(t, kind, start, end, now)
		if key != "" {
			field := "start"
			if key == "platform.maintenance.end_before_start" {
				field = "end"
			}
			f.Errors.Add(field, key)
			break
		}
		plans = append(plans, plan{t, start, end, announce})
	}
	if len(f.Errors) > 0 {
		return s.renderMaintenance(c, fiber.StatusUnprocessableEntity, f)
	}
	for _, p := range plans {
		m := &Maintenance{TenantID: p.t.ID, ID: tenancy.NewID(), StartsAt: p.start.UTC(), EndsAt: p.end.UTC(),
			Announced: p.announce, CreatedBy: st.User.ID, CreatedAt: time.Now().UTC(), Kind: kind}
		err := s.DB.InTenant(c.UserContext(), p.t.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Insert(m).Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
		// Every page shows the banner: every instance reads the tenant's windows again.
		if err := s.Tenants.Touch(c.UserContext(), p.t.ID); err != nil {
			return err
		}
		if err := s.record(c, p.t.ID, ActMaintenancePlanned, "", "maintenance:"+m.ID, map[string]any{
			"start": m.StartsAt.Format(time.RFC3339), "end": m.EndsAt.Format(time.RFC3339), "announced": p.announce, "kind": kind}); err != nil {
			return err
		}
		if p.announce {
			if _, err := s.Jobs.Enqueue(c.UserContext(), p.t.ID, jobs.Spec{Module: jobs.CoreModule, Name: "core.maintenance_notify",
				Key: "maintenance:" + m.ID, At: time.Now(), Payload: []byte(m.ID)}); err != nil {
				return err
			}
		}
	}
	s.flash(c, "platform.maintenance.saved")
	return c.Redirect(st.URL("/platform/maintenance"), fiber.StatusSeeOther)
}

// notifyMaintenance tells every active user of the tenant of a planned interruption.
func (s *Server) notifyMaintenance(ctx context.Context, t *tenancy.Tenant, id string) error {
	var m Maintenance
	err := s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&m).Where("id = ?", id).Scan(ctx)
	})
	if err != nil {
		return err
	}
	kind := m.Kind
	if !contains(MaintenanceKinds, kind) {
		kind = MaintenanceInterruption
	}
	return s.mailActiveUsers(ctx, t, func(u accounts.User, lang string) error {
		loc := s.I18n.For(lang)
		from, to := locales.FormatDateTime(lang, m.StartsAt, t.Location()), locales.FormatDateTime(lang, m.EndsAt, t.Location())
		// What happens, then what the tenant's terms say of it (B9: no compensation is owed).
		terms := loc.T("maintenance.apology")
		if t.BoolRule("maintenance.no_compensation") {
			terms = loc.T("maintenance.no_compensation") + "\n" + terms
		}
		return s.sendMail(ctx, t, u.Email, u.Name, lang, "maintenance", "", "From", from, "To", to,
			"What", loc.T("maintenance.what."+kind, "From", from, "To", to), "Terms", terms)
	})
}
