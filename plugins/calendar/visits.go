package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/plugins/calendar/phone"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// Consents a booking asks (C5, P6): the doctor's processing of the booking data as its
// controller; required.
const consentDoctorController = "doctor_controller"

// checkNationalID says why the patient's national number is refused (C5) — the PESEL on a Polish
// tenant, the number of the tenant's country elsewhere (natid): wrong length or characters,
// wrong check digits, or a birth date that does not exist or is still to come; "" when it
// is valid.
func checkNationalID(country, s string, now time.Time) string {
	_, id := natid.Check(country, s, now)
	return id
}

// checkMobile says why a mobile number is refused (C5): not a number of the tenant's
// country nor an international one, or not a mobile (a landline cannot take an SMS);
// "" when it is valid.
func checkMobile(s, country string) string {
	_, err := phone.Mobile(s, country)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, phone.ErrNotMobile):
		return "calendar.book.err.mobile_landline"
	}
	return "calendar.book.err.mobile"
}

// bookable reads the doctor of the route, who must take bookings online, and the service
// of the form or query (his, active), or ErrNotFound.
func (m *Module) bookable(c *kit.Ctx, serviceID string) (*Listed, *Service, error) {
	var l Listed
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var d Doctor
		if err := sc.Select(&d).Where("dr.id = ?", c.Param("id")).Scan(ctx); errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		out, err := m.complete(ctx, sc, []Doctor{d}, true)
		if err == nil {
			l = out[0]
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if !l.Books() {
		return nil, nil, kit.ErrNotFound
	}
	for i := range l.Services {
		if l.Services[i].ID == serviceID {
			return &l, &l.Services[i], nil
		}
	}
	return &l, nil, nil
}

// dayslots are a day's free starts.
type dayslots struct {
	Day   time.Time
	Slots []time.Time
}

// bookPage is the booking of a signed-in patient for himself (C4, C5): the doctor's
// services; for one, the week's free starts, week by week; for a start, the form.
func (m *Module) bookPage(c *kit.Ctx) error { return m.weekPage(c, "book") }

// weekPage is the week of free starts of the doctor's service and, for a start, its
// form: the signed-in patient's (action "book") or the anonymous one's ("guest", C6).
func (m *Module) weekPage(c *kit.Ctx, action string) error {
	l, svc, err := m.bookable(c, c.Query("service"))
	if err != nil {
		return err
	}
	t := c.Tenant()
	v := c.View("calendar.book.title")
	v.Data["L"], v.Data["Service"], v.Data["Action"] = l, svc, action
	if svc == nil {
		return c.Render(http.StatusOK, "book", v)
	}
	loc := tenantZone(t)
	now := m.now().In(loc)
	monday := func(d time.Time) time.Time {
		d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	week := monday(now)
	if w := c.Query("week"); w != "" {
		d, err := time.ParseInLocation(time.DateOnly, w, loc)
		if err != nil {
			return kit.ErrBadRequest
		}
		if d = monday(d); d.After(week) {
			week = d
		}
	}
	if start := c.Query("start"); start != "" {
		at, err := strconv.ParseInt(start, 10, 64)
		if err != nil {
			return kit.ErrBadRequest
		}
		return m.bookForm(c, http.StatusOK, v, l, svc, time.Unix(at, 0).UTC())
	}
	next := week.AddDate(0, 0, 7)
	slots, err := m.freeSlots(c.Context(), t, slotQuery{DoctorID: l.Doctor.ID, FacilityID: svc.FacilityID,
		Duration: time.Duration(svc.DurationMinutes) * time.Minute, From: week, To: next})
	if err != nil {
		return err
	}
	var days []dayslots
	for d := week; d.Before(next); d = d.AddDate(0, 0, 1) {
		ds := dayslots{Day: d}
		for _, s := range slots {
			if s.In(loc).Format(time.DateOnly) == d.Format(time.DateOnly) {
				ds.Slots = append(ds.Slots, s)
			}
		}
		days = append(days, ds)
	}
	base := fmt.Sprintf("/calendar/doctors/%s/%s?service=%s", l.Doctor.ID, action, svc.ID)
	v.Data["Days"], v.Data["Base"] = days, base
	v.Data["Next"] = base + "&week=" + next.Format(time.DateOnly)
	if week.After(monday(now)) {
		v.Data["Prev"] = base + "&week=" + week.AddDate(0, 0, -7).Format(time.DateOnly)
	}
	return c.Render(http.StatusOK, "book", v)
}

// bookForm shows the form for one start, if it is free: the anonymous one (C6), or the
// signed-in patient's, for himself, for another person or for one of the people his
// account represents (C5; "for" says which).
func (m *Module) bookForm(c *kit.Ctx, status int, v *kit.View, l *Listed, svc *Service, at time.Time) error {
	free, err := m.isFree(c, l, svc, at)
	if err != nil {
		return err
	}
	if !free {
		v.Data["Gone"] = true
		return c.Render(status, "book", v)
	}
	t := c.Tenant()
	v.Data["Start"], v.Data["End"] = at, at.Add(time.Duration(svc.DurationMinutes)*time.Minute)
	v.Data["StartUnix"] = at.Unix()
	v.Data["Consents"] = m.optionalConsents(t)
	for _, f := range l.Facilities {
		if f.ID == svc.FacilityID {
			v.Data["Facility"] = f
		}
	}
	u := c.User()
	if u == nil {
		v.Data["MinAge"] = anonymousMinAge.Of(t)
		return c.Render(status, "bookguest", v)
	}
	who := c.Form("for")
	deps := m.represented(c, at)
	v.Data["Dependants"], v.Data["For"] = deps, who
	v.Data["FormURL"] = fmt.Sprintf("/calendar/doctors/%s/book?service=%s&start=%d", l.Doctor.ID, svc.ID, at.Unix())
	switch who {
	case "", forMe:
		if _, ok := v.Values["pesel"]; !ok {
			v.Values["pesel"], v.Values["mobile"] = u.Profile["pesel"], u.Profile["mobile"]
		}
	case forOther:
	default:
		d := findDependant(deps, who)
		if d == nil {
			return kit.ErrNotFound
		}
		v.Data["Dependant"] = d
		if _, ok := v.Values["first_name"]; !ok {
			v.Values["first_name"], v.Values["last_name"], v.Values["pesel"] = d.FirstName, d.LastName, d.NationalID
		}
	}
	return c.Render(status, "bookform", v)
}

// Whom a signed-in patient books for (C5): himself, another person, or the id of a person
// his account represents.
const (
	forMe    = "me"
	forOther = "other"
)

// represented are the people the user's account represents on the visit's day (the core's
// dependants); none when the core cannot say.
func (m *Module) represented(c *kit.Ctx, at time.Time) []sdk.Dependant {
	deps, err := c.Host().Dependants(c.Context(), c.User().ID)
	if err != nil {
		c.LogFailure(err)
		return nil
	}
	day := at.In(tenantZone(c.Tenant())).Format(time.DateOnly)
	var out []sdk.Dependant
	for _, d := range deps {
		if d.RepresentedOn(day) {
			out = append(out, d)
		}
	}
	return out
}

func findDependant(deps []sdk.Dependant, id string) *sdk.Dependant {
	for i := range deps {
		if deps[i].ID == id {
			return &deps[i]
		}
	}
	return nil
}

// isFree reports whether at is one of the free starts of svc (what the pages offer); the
// database holds the slot itself when the booking is stored.
func (m *Module) isFree(c *kit.Ctx, l *Listed, svc *Service, at time.Time) (bool, error) {
	loc := tenantZone(c.Tenant())
	day := at.In(loc)
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	slots, err := m.freeSlots(c.Context(), c.Tenant(), slotQuery{DoctorID: l.Doctor.ID, FacilityID: svc.FacilityID,
		Duration: time.Duration(svc.DurationMinutes) * time.Minute, From: from, To: from.AddDate(0, 0, 1)})
	for _, s := range slots {
		if s.Equal(at) {
			return true, err
		}
	}
	return false, err
}

// book stores the signed-in patient's booking for himself (C5, C8, C9): confirmed at once,
// with the terms version he accepted and the consents he gave (P6) and the service's
// specialty; the database refuses a slot taken meanwhile or a day already full.
func (m *Module) book(c *kit.Ctx) error {
	l, svc, err := m.bookable(c, c.Form("service"))
	if err != nil {
		return err
	}
	if svc == nil {
		return kit.ErrBadRequest
	}
	at, err := strconv.ParseInt(c.Form("start"), 10, 64)
	if err != nil {
		return kit.ErrBadRequest
	}
	start := time.Unix(at, 0).UTC()
	v := c.View("calendar.book.title")
	v.Data["L"], v.Data["Service"], v.Data["Action"] = l, svc, "book"
	u := c.User()
	first, last := accountNames(u)
	b := &Booking{DoctorID: l.Doctor.ID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
		PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: start, EndsAt: start.Add(time.Duration(svc.DurationMinutes) * time.Minute),
		Status: statusConfirmed, PatientFirstName: first, PatientLastName: last, Email: u.Email,
		UserID: u.ID, BookedBy: u.ID, TermsVersion: c.TermsVersion(), CreatedAt: m.now()}
	switch who := c.Form("for"); who {
	case "", forMe:
		pesel, mobile := natid.Normalize(c.Form("pesel")), strings.TrimSpace(c.Form("mobile"))
		v.Values["pesel"], v.Values["mobile"] = pesel, mobile
		if e := checkNationalID(c.Tenant().Country, pesel, m.now().In(view.Zone(c.Tenant().TimeZone))); e != "" {
			v.Errors["pesel"] = e
		}
		if e := checkMobile(mobile, c.Tenant().Country); e != "" {
			v.Errors["mobile"] = e
		} else if e164, err := phone.Mobile(mobile, c.Tenant().Country); err == nil {
			mobile = e164
		}
		b.PESEL, b.Mobile = pesel, mobile
		b.Consents = m.readConsents(c, v, consentDoctorController)
	default:
		// C5: another person, named with his PESEL, e-mail and mobile, who agreed; the
		// patient declares he may act for him. He has no account here: the visit is the
		// booker's to see and cancel, and it counts in that person's day (C8, by PESEL).
		p := m.readPerson(c, v)
		if who != forOther {
			d := findDependant(m.represented(c, start), who)
			if d == nil {
				return kit.ErrBadRequest
			}
			p.First, p.Last = d.FirstName, d.LastName
			if d.NationalID != "" && natid.Normalize(d.NationalID) != p.PESEL {
				v.Errors["pesel"] = "calendar.book.err.pesel_dependant"
			}
		}
		b.PatientFirstName, b.PatientLastName, b.PESEL, b.Email, b.Mobile = p.First, p.Last, p.PESEL, p.Email, p.Mobile
		b.UserID, b.ForOther = "", true
		b.Consents = m.readConsents(c, v, consentDoctorController, consentPerson, consentAuthority)
	}
	if len(v.Errors) > 0 {
		return m.bookForm(c, http.StatusUnprocessableEntity, v, l, svc, start)
	}
	if free, err := m.isFree(c, l, svc, start); err != nil {
		return err
	} else if !free {
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "book", v)
	}
	if ground, err := m.barredSeen(c, l.Doctor.ID, b.PESEL, !b.ForOther); err != nil {
		return err
	} else if ground != "" {
		v.Data["Barred"] = ground
		return c.Render(http.StatusForbidden, "book", v)
	}
	b.ConfirmedAt.Time = b.CreatedAt
	switch err := m.reserve(c.Context(), c.Tenant(), b); {
	case errors.Is(err, errSlotTaken):
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "book", v)
	case errors.Is(err, errDayLimit):
		v.Data["DayFull"] = maxBookingsPerDoctorDay.Of(c.Tenant())
		return c.Render(http.StatusConflict, "book", v)
	case err != nil:
		return err
	}
	if err := m.booked(c.Context(), c.Tenant(), b); err != nil {
		c.LogFailure(err) // the booking stands; the message is the outbox's to retry
	}
	return c.Redirect("/calendar/visits/"+b.ID, "booked")
}

// Visit is a booking as its patient's pages show it.
type Visit struct {
	Booking
	Doctor   Doctor
	Facility Facility
	// Hidden: the doctor stopped his online calendar before this visit (C15): only its
	// date and time are shown, with the note.
	Hidden bool
}

// visits reads the bookings the user made or is the patient of, newest first, with their
// doctor and facility; id, when set, narrows to that one.
func (m *Module) visits(c *kit.Ctx, id string) ([]Visit, error) {
	u := c.User()
	var out []Visit
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var bs []Booking
		q := sc.Select(&bs)
		if p := strings.TrimSpace(u.Profile["pesel"]); p != "" && u.Email != "" {
			// C6: a visit booked without signing in, or for him by someone else, is his when
			// it names his PESEL and his e-mail (in any case).
			q = q.Where("(bk.user_id = ? OR bk.booked_by = ? OR (bk.user_id = '' AND bk.pesel = ? AND LOWER(bk.email) = ?))",
				u.ID, u.ID, p, strings.ToLower(u.Email))
		} else {
			q = q.Where("(bk.user_id = ? OR bk.booked_by = ?)", u.ID, u.ID)
		}
		if id != "" {
			q = q.Where("bk.id = ?", id)
		}
		if err := q.Order("bk.starts_at DESC").Limit(500).Scan(ctx); err != nil {
			return err
		}
		if len(bs) == 0 {
			return nil
		}
		var dids, fids []string
		for _, b := range bs {
			dids, fids = append(dids, b.DoctorID), append(fids, b.FacilityID)
		}
		var ds []Doctor
		var fs []Facility
		if err := sc.Select(&ds).Where("dr.id IN (?)", bunIn(dids)).Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&fs).Where("fa.id IN (?)", bunIn(fids)).Scan(ctx); err != nil {
			return err
		}
		for _, b := range bs {
			v := Visit{Booking: b}
			for _, d := range ds {
				if d.ID == b.DoctorID {
					v.Doctor = d
				}
			}
			for _, f := range fs {
				if f.ID == b.FacilityID {
					v.Facility = f
				}
			}
			v.Hidden = !v.Doctor.OnlineCalendar && !v.Doctor.CalendarStoppedAt.IsZero() && b.StartsAt.After(v.Doctor.CalendarStoppedAt.Time)
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// Upcoming reports whether the visit is still to come and live: the patient may cancel it.
func (v Visit) Upcoming(now time.Time) bool {
	return v.StartsAt.After(now) && (v.Status == statusConfirmed || v.Status == statusAwaiting || v.Status == statusHeld)
}

// myVisits is "Upcoming visits", which he may cancel, and "Visit history" (C11).
func (m *Module) myVisits(c *kit.Ctx) error {
	all, err := m.visits(c, "")
	if err != nil {
		return err
	}
	now := m.now()
	var upcoming, history []Visit
	for _, v := range all {
		if v.Upcoming(now) {
			upcoming = append([]Visit{v}, upcoming...)
		} else {
			history = append(history, v)
		}
	}
	v := c.View("calendar.visits.title")
	v.Data["Upcoming"], v.Data["History"], v.Data["Now"] = upcoming, history, now
	if v.Data["Waiting"], err = m.waiting(c); err != nil { // the waitlist's entries
		return err
	}
	return c.Render(http.StatusOK, "visits", v)
}

// visitPage is one visit: the confirmation after booking (C5, C9).
func (m *Module) visitPage(c *kit.Ctx) error {
	vs, err := m.visits(c, c.Param("id"))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return kit.ErrNotFound
	}
	v := c.View("calendar.visit.title")
	v.Data["V"], v.Data["Now"] = vs[0], m.now()
	return c.Render(http.StatusOK, "visit", v)
}

// cancelVisit is the patient's cancellation of an upcoming visit (C11): the slot is free at
// once and the visit is no longer counted in his day (C8, C9).
func (m *Module) cancelVisit(c *kit.Ctx) error {
	vs, err := m.visits(c, c.Param("id"))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return kit.ErrNotFound
	}
	if !vs[0].Upcoming(m.now()) {
		return c.Redirect("/calendar/visits", "not_cancellable")
	}
	if err := m.release(c.Context(), c.Tenant(), vs[0].ID, statusCancelledPatient, ""); errors.Is(err, errNotLive) {
		return c.Redirect("/calendar/visits", "not_cancellable")
	} else if err != nil {
		return err
	}
	if err := m.freed(c.Context(), c.Tenant(), &vs[0].Booking); err != nil {
		c.LogFailure(err)
	}
	return c.Redirect("/calendar/visits", "cancelled")
}
