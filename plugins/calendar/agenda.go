package calendar

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// managedSQL narrows doctors (alias dr) to those an account manages (C2): the doctor his
// account is, and the doctors working at a facility his account is. Its arguments are
// managedArgs.
const managedSQL = "(dr.user_id = ? OR dr.id IN (SELECT df.doctor_id FROM calendar_doctor_facilities AS df " +
	"JOIN calendar_facilities AS fa ON fa.tenant_id = df.tenant_id AND fa.id = df.facility_id WHERE df.tenant_id = ? AND fa.user_id = ?))"

// managedArgs are managedSQL's arguments for the account userID in the scope's tenant.
func managedArgs(sc *store.Scope, userID string) []any { return []any{userID, sc.TenantID, userID} }

// managedDoctors are the doctors the account manages, by name.
func managedDoctors(ctx context.Context, sc *store.Scope, userID string) ([]Doctor, error) {
	var ds []Doctor
	if userID == "" {
		return nil, nil
	}
	err := sc.Select(&ds).Where(managedSQL, managedArgs(sc, userID)...).Order("dr.last_name", "dr.first_name").Limit(500).Scan(ctx)
	return ds, err
}

// visibleSQL narrows bookings (alias bk) to those an account sees (C2): every visit of
// the doctor his account is, and the visits at a facility his account is — not a
// colleague facility's visits of a doctor who also works there. Its arguments are
// visibleArgs.
const visibleSQL = "(bk.doctor_id IN (SELECT dr.id FROM calendar_doctors AS dr WHERE dr.tenant_id = ? AND dr.user_id = ?) " +
	"OR bk.facility_id IN (SELECT fa.id FROM calendar_facilities AS fa WHERE fa.tenant_id = ? AND fa.user_id = ?))"

// visibleArgs are visibleSQL's arguments for the account userID in the scope's tenant.
func visibleArgs(sc *store.Scope, userID string) []any {
	return []any{sc.TenantID, userID, sc.TenantID, userID}
}

// managedBooking reads a booking the account sees, and its doctor, or ErrNotFound.
func (m *Module) managedBooking(c *kit.Ctx, id string) (*Booking, *Doctor, error) {
	var b Booking
	var d Doctor
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&b).Where("bk.id = ?", id).Where(visibleSQL, visibleArgs(sc, c.User().ID)...).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		return sc.Select(&d).Where("dr.id = ?", b.DoctorID).Scan(ctx)
	})
	if err != nil {
		return nil, nil, err
	}
	return &b, &d, nil
}

// agendaDay is one day of the agenda with its visits.
type agendaDay struct {
	Day  time.Time
	Rows []Visit
}

// Started reports whether the visit has begun: only then can it be marked completed or a
// no-show.
func (v Visit) Started(now time.Time) bool { return !v.StartsAt.After(now) }

// agenda is the doctor's or the facility's day or week (C9, issue 13.6): the bookings of
// the doctors the account manages (one of them when the facility picks one), by day, with
// their status in words and their patient's details.
func (m *Module) agenda(c *kit.Ctx) error {
	t := c.Tenant()
	loc := tenantZone(t)
	now := m.now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if d := c.Query("from"); d != "" {
		x, err := time.ParseInLocation(time.DateOnly, d, loc)
		if err != nil {
			return kit.ErrBadRequest
		}
		day = x
	}
	mode := c.Query("view")
	if mode == "" {
		mode = "week"
	}
	from, span := day, 1
	switch mode {
	case "day":
	case "week":
		from, span = day.AddDate(0, 0, -((int(day.Weekday())+6)%7)), 7
	default:
		return kit.ErrBadRequest
	}
	to := from.AddDate(0, 0, span)
	pick := c.Query("doctor")
	var doctors []Doctor
	var own *Doctor
	var rows []Visit
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if doctors, err = managedDoctors(ctx, sc, c.User().ID); err != nil || len(doctors) == 0 {
			return err
		}
		byID := map[string]Doctor{}
		var ids []string
		for i, d := range doctors {
			if d.UserID == c.User().ID && own == nil {
				own = &doctors[i]
			}
			if pick == "" || pick == d.ID {
				ids = append(ids, d.ID)
			}
			byID[d.ID] = d
		}
		if len(ids) == 0 {
			return kit.ErrNotFound
		}
		var bs []Booking
		if err := sc.Select(&bs).Where("bk.doctor_id IN (?)", bunIn(ids)).Where(visibleSQL, visibleArgs(sc, c.User().ID)...).
			Where("bk.starts_at >= ? AND bk.starts_at < ?", from, to).
			Order("bk.starts_at").Limit(2000).Scan(ctx); err != nil {
			return err
		}
		var fs []Facility
		if err := sc.Select(&fs).Scan(ctx); err != nil { // a tenant's facilities are few
			return err
		}
		for _, b := range bs {
			v := Visit{Booking: b, Doctor: byID[b.DoctorID]}
			for _, f := range fs {
				if f.ID == b.FacilityID {
					v.Facility = f
				}
			}
			rows = append(rows, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var days []agendaDay
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		ad := agendaDay{Day: d}
		for _, r := range rows {
			if r.StartsAt.In(loc).Format(time.DateOnly) == d.Format(time.DateOnly) {
				ad.Rows = append(ad.Rows, r)
			}
		}
		days = append(days, ad)
	}
	base := "/calendar/agenda?view=" + mode
	if pick != "" {
		base += "&doctor=" + urlq(pick)
	}
	v := c.View("calendar.agenda.title")
	v.Data["Days"], v.Data["Rows"], v.Data["Mine"], v.Data["Own"] = days, len(rows), len(doctors), own
	v.Data["Doctors"], v.Data["Pick"], v.Data["Mode"] = doctors, pick, mode
	v.Data["Reasons"], v.Data["Now"] = doctorCancelReasons, m.now()
	v.Data["Prev"] = base + "&from=" + from.AddDate(0, 0, -span).Format(time.DateOnly)
	v.Data["Next"] = base + "&from=" + to.Format(time.DateOnly)
	v.Data["DayLink"] = "/calendar/agenda?view=day&doctor=" + urlq(pick) + "&from=" + day.Format(time.DateOnly)
	v.Data["WeekLink"] = "/calendar/agenda?view=week&doctor=" + urlq(pick) + "&from=" + day.Format(time.DateOnly)
	v.Data["From"], v.Data["To"], v.Data["Ref"] = from, to.AddDate(0, 0, -1), from.Format(time.DateOnly)
	return c.Render(http.StatusOK, "agenda", v)
}

// agendaBack is the agenda page an action returns to (its week, day and doctor as the form
// says them, or this week).
func agendaBack(c *kit.Ctx) string {
	q := "/calendar/agenda"
	var parts []string
	if v := c.Form("view"); v == "day" || v == "week" {
		parts = append(parts, "view="+v)
	}
	if d := c.Form("from"); d != "" {
		if _, err := time.Parse(time.DateOnly, d); err == nil {
			parts = append(parts, "from="+d)
		}
	}
	if d := c.Form("doctor"); d != "" {
		parts = append(parts, "doctor="+urlq(d))
	}
	if len(parts) > 0 {
		q += "?" + strings.Join(parts, "&")
	}
	return q
}

// switchCalendar stops or restarts the online calendar of the doctors the account is
// (C15): stopped, he takes no online booking, and his patients' visits dated after the
// stop show only their date and time, with the note that he no longer keeps an online
// calendar.
func (m *Module) switchCalendar(c *kit.Ctx) error {
	on := c.Form("online") == "on"
	if !on && c.Form("online") != "off" {
		return kit.ErrBadRequest
	}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		q := sc.Update((*Doctor)(nil)).Set("online_calendar = ?", on).Set("updated_at = ?", m.now()).Where("dr.user_id = ?", c.User().ID)
		if on {
			q = q.Set("calendar_stopped_at = NULL")
		} else {
			q = q.Set("calendar_stopped_at = ?", m.now()).Where("dr.online_calendar")
		}
		_, err := q.Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if on {
		return c.Redirect("/calendar/agenda", "calendar_on")
	}
	return c.Redirect("/calendar/agenda", "calendar_off")
}

// Reasons a doctor gives when he cancels a visit (C10), in the patient's words on his pages.
var doctorCancelReasons = []string{"doctor_unavailable", "emergency", "facility_closed"}

const (
	tmplCancelledByDoctor  = "calendar.cancelled_by_doctor"
	tmplDocumentsRequested = "calendar.documents_requested"
)

// tellPatient sends the patient of b a message: to his account, or to the address given at
// booking; with, when given, completes it (an attachment).
func tellPatient(c *kit.Ctx, b *Booking, template, link string, data map[string]any, with ...func(sdk.Message) sdk.Message) error {
	msg := sdk.Message{UserID: b.UserID, Template: template, Link: link, Data: data}
	if msg.UserID == "" {
		msg.To = b.Email
	}
	if msg.UserID == "" && msg.To == "" {
		return nil
	}
	for _, w := range with {
		msg = w(msg)
	}
	_, err := c.Host().Send(c.Context(), msg)
	return err
}

// cancelByDoctor is the doctor's (or his facility's) cancellation of a visit to come, with
// a reason (C10): the visit leaves his calendar, its time is free, and the patient gets an
// e-mail.
func (m *Module) cancelByDoctor(c *kit.Ctx) error {
	reason := c.Form("reason")
	known := false
	for _, r := range doctorCancelReasons {
		known = known || r == reason
	}
	if !known {
		return kit.ErrBadRequest
	}
	b, d, err := m.managedBooking(c, c.Param("id"))
	if err != nil {
		return err
	}
	back := agendaBack(c)
	if !b.StartsAt.After(m.now()) {
		return c.Redirect(back, "not_cancellable")
	}
	if err := m.release(c.Context(), c.Tenant(), b.ID, statusCancelledDoctor, reason); errors.Is(err, errNotLive) {
		return c.Redirect(back, "not_cancellable")
	} else if err != nil {
		return err
	}
	// The date and the reason in the patient's language (the message is his), not the
	// doctor's page's (C10).
	lang := patientLang(c.Context(), c.Tenant(), b)
	if err := tellPatient(c, b, tmplCancelledByDoctor, "/calendar", map[string]any{"Doctor": d.display(),
		"When": locales.FormatDateTime(lang, b.StartsAt, tenantZone(c.Tenant())), "Reason": m.Msgs.For(lang).T("calendar.reason." + reason)},
		func(msg sdk.Message) sdk.Message { return m.withCancelICS(c.Context(), c.Tenant(), b, msg) }); err != nil {
		return err
	}
	return c.Redirect(back, "cancelled_by_doctor")
}

// outcomes a doctor records once a confirmed visit has begun (issue 13.6).
var outcomes = map[string]string{"completed": statusCompleted, "no_show": statusNoShow}

// markOutcome records that a confirmed visit took place or that the patient did not come
// (issue 13.6): only once the visit has begun, and only from confirmed — a guarded update,
// so a visit cancelled or marked meanwhile is left as it is. The visit keeps its time.
func (m *Module) markOutcome(c *kit.Ctx) error {
	status, ok := outcomes[c.Form("outcome")]
	if !ok {
		return kit.ErrBadRequest
	}
	b, _, err := m.managedBooking(c, c.Param("id"))
	if err != nil {
		return err
	}
	back := agendaBack(c)
	now := m.now()
	if b.StartsAt.After(now) {
		return c.Redirect(back, "not_started")
	}
	var n int64
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Booking)(nil)).Set("status = ?", status).Where("bk.id = ?", b.ID).
			Where("bk.status = ?", statusConfirmed).Where("bk.starts_at <= ?", now).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return c.Redirect(back, "not_markable")
	}
	return c.Redirect(back, "marked_"+c.Form("outcome"))
}

// maxDocumentsNote is the longest note a documents request carries, in characters.
const maxDocumentsNote = 500

// requestDocuments asks the patient of a live or past visit for documents confirming the
// booking data (C14): recorded once on the booking (a guarded update), shown in the agenda,
// and sent to the patient in his language.
func (m *Module) requestDocuments(c *kit.Ctx) error {
	note := strings.TrimSpace(c.Form("note"))
	if utf8.RuneCountInString(note) > maxDocumentsNote {
		return kit.ErrBadRequest
	}
	b, d, err := m.managedBooking(c, c.Param("id"))
	if err != nil {
		return err
	}
	back := agendaBack(c)
	now := m.now()
	var n int64
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*Booking)(nil)).Set("documents_requested_at = ?", now).Set("documents_note = ?", note).
			Where("bk.id = ?", b.ID).Where("bk.documents_requested_at IS NULL").
			Where("bk.status IN (?)", bunIn([]string{statusAwaiting, statusConfirmed, statusCompleted, statusNoShow})).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return c.Redirect(back, "documents_not_requested")
	}
	if err := tellPatient(c, b, tmplDocumentsRequested, "/calendar/visits", map[string]any{"Doctor": d.display(),
		"When": locales.FormatDateTime(patientLang(c.Context(), c.Tenant(), b), b.StartsAt, tenantZone(c.Tenant())), "Note": note}); err != nil {
		return err
	}
	return c.Redirect(back, "documents_requested")
}

// demoAgenda gives the demo facility account the first doctor's facility, so it manages
// the doctors working there (C2), and the first doctor's agenda a visit that has begun and
// awaits its outcome (issue 13.6, 13.11): on the last weekday before today, at 11:00, for
// a patient who booked without an account.
func (m *Module) demoAgenda(ctx context.Context, t sdk.Tenant, d *Doctor, facilityUser string) error {
	var svc Service
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if facilityUser != "" {
			if _, err := sc.Update((*Facility)(nil)).Set("user_id = ?", facilityUser).
				Where("fa.id IN (SELECT df.facility_id FROM calendar_doctor_facilities AS df WHERE df.tenant_id = ? AND df.doctor_id = ?)", sc.TenantID, d.ID).
				Exec(ctx); err != nil {
				return err
			}
		}
		return sc.Select(&svc).Where("sv.doctor_id = ?", d.ID).Order("sv.duration_minutes DESC").Limit(1).Scan(ctx)
	})
	if err != nil {
		return err
	}
	at := demoPastVisit(m.now(), tenantZone(t))
	first, last := "Jan", "Zieliński"
	if t.Country != "PL" {
		first, last = "Claire", "Bernard"
	}
	b := &Booking{DoctorID: d.ID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
		PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: at, EndsAt: at.Add(time.Duration(svc.DurationMinutes) * time.Minute),
		Status: statusConfirmed, PatientFirstName: first, PatientLastName: last, PESEL: "90010112349", Email: "jan.zielinski@example.org",
		Mobile: "+48601234568", Consents: consentDoctorController, CreatedAt: m.now()}
	b.ConfirmedAt.Time = b.CreatedAt
	if err := m.reserve(ctx, t, b); err != nil && !errors.Is(err, errSlotTaken) {
		return err
	}
	return nil
}

// demoPastVisit is 11:00 on the last weekday (Monday to Friday) before now's day, in loc.
func demoPastVisit(now time.Time, loc *time.Location) time.Time {
	now = now.In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 11, 0, 0, 0, loc).AddDate(0, 0, -1)
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, -1)
	}
	return day
}
