package calendar

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The waitlist (issue 13.9, beyond the seed): a signed-in patient who wants an earlier start
// of a doctor's service waits for one; a start freed by a patient's cancellation or an
// expired hold (never by the doctor's cancellation) is offered by e-mail to everyone
// waiting, and the first to claim it books it through reserve, where the database holds
// the race. An offer lapses when its start comes or is booked.

const tmplWaitlistOffer = "calendar.waitlist_offer"

// Waiter is a patient waiting for an earlier start of a doctor's service, with the PESEL
// and mobile number a claimed start is booked with.
type Waiter struct {
	bun.BaseModel `bun:"table:calendar_waitlist,alias:wl"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	DoctorID  string    `bun:"doctor_id"`
	ServiceID string    `bun:"service_id"`
	UserID    string    `bun:"user_id"`
	Name      string    `bun:"name"`
	Email     string    `bun:"email"`
	PESEL     string    `bun:"pesel"`
	Mobile    string    `bun:"mobile"`
	CreatedAt time.Time `bun:"created_at"`
}

// Offer is a freed start offered to one waiting patient; BookingID is set once he claimed it.
type Offer struct {
	bun.BaseModel `bun:"table:calendar_waitlist_offers,alias:wo"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	WaitlistID string    `bun:"waitlist_id"`
	UserID     string    `bun:"user_id"`
	DoctorID   string    `bun:"doctor_id"`
	ServiceID  string    `bun:"service_id"`
	StartsAt   time.Time `bun:"starts_at"`
	BookingID  string    `bun:"booking_id"`
	CreatedAt  time.Time `bun:"created_at"`
}

// freed offers b's freed start to the patients waiting for its doctor's service (not
// to the one who freed it): one offer each, and an e-mail with the link to claim it, the
// date in the reader's language. A start already begun is not offered.
func (m *Module) freed(ctx context.Context, t sdk.Tenant, b *Booking) error {
	now := m.now()
	if !b.StartsAt.After(now) {
		return nil
	}
	var ws []Waiter
	var offers []Offer
	var doctor Doctor
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&doctor).Where("dr.id = ?", b.DoctorID).Scan(ctx); err != nil {
			return err
		}
		q := sc.Select(&ws).Where("wl.doctor_id = ?", b.DoctorID).Where("wl.service_id = ?", b.ServiceID).Where("wl.pesel <> ?", b.PESEL)
		if b.UserID != "" {
			q = q.Where("wl.user_id <> ?", b.UserID)
		}
		if err := q.Order("wl.created_at").Limit(200).Scan(ctx); err != nil || len(ws) == 0 {
			return err
		}
		for _, w := range ws {
			offers = append(offers, Offer{TenantID: t.ID, ID: newID(), WaitlistID: w.ID, UserID: w.UserID, DoctorID: b.DoctorID,
				ServiceID: b.ServiceID, StartsAt: b.StartsAt, CreatedAt: now})
		}
		_, err := sc.Insert(&offers).Exec(ctx)
		return err
	})
	if err != nil || len(offers) == 0 {
		return err
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return nil
	}
	for _, o := range offers {
		lang := t.Locale
		if u, err := h.User(ctx, o.UserID); err == nil && u.Locale != "" {
			lang = u.Locale
		}
		msg := sdk.Message{UserID: o.UserID, Template: tmplWaitlistOffer, Link: "/calendar/offers/" + o.ID,
			Data: map[string]any{"Doctor": doctor.display(), "Service": b.ServiceName, "When": locales.FormatDateTime(lang, b.StartsAt, tenantZone(t))}}
		if _, err := h.Send(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}

// waitPage is the form to join the waitlist of a doctor's service, reached from its
// booking page.
func (m *Module) waitPage(c *kit.Ctx) error {
	l, svc, err := m.bookable(c, c.Query("service"))
	if err != nil {
		return err
	}
	if svc == nil {
		return kit.ErrNotFound
	}
	v := c.View("calendar.waitlist.title")
	u := c.User()
	v.Values["pesel"], v.Values["mobile"] = u.Profile["pesel"], u.Profile["mobile"]
	v.Data["L"], v.Data["Service"] = l, svc
	return c.Render(http.StatusOK, "waitlist", v)
}

// joinWaitlist puts the signed-in patient on the waitlist of the service (once: joining
// again changes nothing), with the PESEL and mobile a claimed start is booked with.
func (m *Module) joinWaitlist(c *kit.Ctx) error {
	l, svc, err := m.bookable(c, c.Form("service"))
	if err != nil {
		return err
	}
	if svc == nil {
		return kit.ErrBadRequest
	}
	v := c.View("calendar.waitlist.title")
	v.Data["L"], v.Data["Service"] = l, svc
	pesel, mobile := natid.Normalize(c.Form("pesel")), strings.TrimSpace(c.Form("mobile"))
	v.Values["pesel"], v.Values["mobile"] = pesel, mobile
	if e := checkNationalID(c.Tenant().Country, pesel, m.now().In(tenantZone(c.Tenant()))); e != "" {
		v.Errors["pesel"] = e
	}
	if e := checkMobile(mobile, c.Tenant().Country); e != "" {
		v.Errors["mobile"] = e
	}
	if len(v.Errors) > 0 {
		return c.Render(http.StatusUnprocessableEntity, "waitlist", v)
	}
	// A patient barred from booking with the doctor is told why, rather than waiting for
	// starts he could not claim (C12, C13).
	if ground, err := m.barredSeen(c, l.Doctor.ID, pesel, true); err != nil {
		return err
	} else if ground != "" {
		v.Data["Barred"] = ground
		return c.Render(http.StatusForbidden, "waitlist", v)
	}
	u := c.User()
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		w := &Waiter{TenantID: c.Tenant().ID, ID: newID(), DoctorID: l.Doctor.ID, ServiceID: svc.ID, UserID: u.ID, Name: u.Name, Email: u.Email,
			PESEL: pesel, Mobile: mobile, CreatedAt: m.now()}
		_, err := sc.Insert(w).On("CONFLICT (tenant_id, doctor_id, service_id, user_id) DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Redirect("/calendar/visits", "waitlist_joined")
}

// Waiting is a waitlist entry as the patient's visits page shows it.
type Waiting struct {
	Waiter
	Doctor  string
	Service string
}

// waiting are the signed-in patient's waitlist entries.
func (m *Module) waiting(c *kit.Ctx) ([]Waiting, error) {
	var out []Waiting
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var ws []Waiter
		if err := sc.Select(&ws).Where("wl.user_id = ?", c.User().ID).Order("wl.created_at").Scan(ctx); err != nil || len(ws) == 0 {
			return err
		}
		for _, w := range ws {
			x := Waiting{Waiter: w}
			var d Doctor
			if err := sc.Select(&d).Where("dr.id = ?", w.DoctorID).Scan(ctx); err == nil {
				x.Doctor = d.display()
			}
			var s Service
			if err := sc.Select(&s).Where("sv.id = ?", w.ServiceID).Scan(ctx); err == nil {
				x.Service = s.Name
			}
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

// waitlistPage lists the patient's waitlist entries, each of which he may leave.
func (m *Module) waitlistPage(c *kit.Ctx) error {
	ws, err := m.waiting(c)
	if err != nil {
		return err
	}
	v := c.View("calendar.waitlist.mine")
	v.Data["Waiting"] = ws
	return c.Render(http.StatusOK, "waitlistmine", v)
}

// leaveWaitlist takes the patient off one of his waitlist entries.
func (m *Module) leaveWaitlist(c *kit.Ctx) error {
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Delete((*Waiter)(nil)).Where("wl.id = ?", c.Param("id")).Where("wl.user_id = ?", c.User().ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return kit.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.Redirect("/calendar/waitlist", "waitlist_left")
}

// offer reads the signed-in patient's offer of the route, with his waitlist entry and the
// service (ErrNotFound when it is not his).
func (m *Module) offer(c *kit.Ctx) (*Offer, *Waiter, *Listed, *Service, error) {
	var o Offer
	var w Waiter
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&o).Where("wo.id = ?", c.Param("id")).Where("wo.user_id = ?", c.User().ID).Scan(ctx); errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		err := sc.Select(&w).Where("wl.id = ?", o.WaitlistID).Scan(ctx)
		if errors.Is(err, sqlNoRows) { // he left the waitlist since
			return kit.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var l Listed
	var svc *Service
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		var d Doctor
		if err := sc.Select(&d).Where("dr.id = ?", o.DoctorID).Scan(ctx); err != nil {
			return err
		}
		out, err := m.complete(ctx, sc, []Doctor{d}, true)
		if err != nil {
			return err
		}
		l = out[0]
		for i := range l.Services {
			if l.Services[i].ID == o.ServiceID {
				svc = &l.Services[i]
			}
		}
		return nil
	})
	if err == nil && svc == nil {
		err = kit.ErrNotFound
	}
	return &o, &w, &l, svc, err
}

// lapsed reports whether the offer is no longer open: booked (by a claim), begun, the
// doctor no longer booking online, or the start cancelled by the doctor since it was
// offered (a time he freed is not offered again).
func (m *Module) lapsed(c *kit.Ctx, o *Offer, l *Listed) (bool, error) {
	if o.BookingID != "" || !o.StartsAt.After(m.now()) || !l.Books() {
		return true, nil
	}
	var n int64
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		n, err = sc.Select((*Booking)(nil)).Where("bk.doctor_id = ?", o.DoctorID).Where("bk.starts_at = ?", o.StartsAt).
			Where("bk.status = ?", statusCancelledDoctor).Where("bk.cancelled_at > ?", o.CreatedAt).Count(ctx)
		return err
	})
	return n > 0, err
}

// offerPage shows an offered start and the button to claim it, or that it is gone: booked
// by another (or by him), or begun.
func (m *Module) offerPage(c *kit.Ctx) error {
	o, _, l, svc, err := m.offer(c)
	if err != nil {
		return err
	}
	v := c.View("calendar.waitlist.offer_title")
	v.Data["O"], v.Data["L"], v.Data["Service"] = o, l, svc
	v.Data["End"] = o.StartsAt.Add(time.Duration(svc.DurationMinutes) * time.Minute)
	if gone, err := m.lapsed(c, o, l); err != nil {
		return err
	} else if gone {
		v.Data["Gone"] = true
		return c.Render(http.StatusOK, "offer", v)
	}
	free, err := m.isFree(c, l, svc, o.StartsAt)
	if err != nil {
		return err
	}
	v.Data["Gone"] = !free
	return c.Render(http.StatusOK, "offer", v)
}

// claimOffer books the offered start for the patient, with the PESEL and mobile he joined
// with and the terms he accepted, through reserve: of all the patients claiming it, the
// database lets one have it; the others are told it is gone. The patient who got it leaves
// that waitlist.
func (m *Module) claimOffer(c *kit.Ctx) error {
	o, w, l, svc, err := m.offer(c)
	if err != nil {
		return err
	}
	t := c.Tenant()
	v := c.View("calendar.waitlist.offer_title")
	v.Data["O"], v.Data["L"], v.Data["Service"] = o, l, svc
	v.Data["End"] = o.StartsAt.Add(time.Duration(svc.DurationMinutes) * time.Minute)
	if gone, err := m.lapsed(c, o, l); err != nil {
		return err
	} else if gone {
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "offer", v)
	}
	if ground, err := m.barred(c.Context(), t, o.DoctorID, w.PESEL); err != nil {
		return err
	} else if ground != "" {
		v.Data["Barred"] = ground
		return c.Render(http.StatusForbidden, "offer", v)
	}
	u := c.User()
	first, last := accountNames(u)
	b := &Booking{DoctorID: o.DoctorID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
		PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: o.StartsAt, EndsAt: o.StartsAt.Add(time.Duration(svc.DurationMinutes) * time.Minute),
		Status: statusConfirmed, PatientFirstName: first, PatientLastName: last, PESEL: w.PESEL, Email: u.Email, Mobile: w.Mobile,
		UserID: u.ID, BookedBy: u.ID, TermsVersion: c.TermsVersion(), Consents: consentDoctorController, CreatedAt: m.now()}
	b.ConfirmedAt.Time = b.CreatedAt
	if c.Form("consent_doctor") != "yes" {
		v.Errors["consent_doctor"] = "calendar.book.err.consent"
		return c.Render(http.StatusUnprocessableEntity, "offer", v)
	}
	switch err := m.reserve(c.Context(), t, b); {
	case errors.Is(err, errSlotTaken):
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "offer", v)
	case errors.Is(err, errDayLimit):
		v.Data["DayFull"] = maxBookingsPerDoctorDay.Of(t)
		return c.Render(http.StatusConflict, "offer", v)
	case err != nil:
		return err
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		// Every offer of this start lapses: it is booked.
		if _, err := sc.Update((*Offer)(nil)).Set("booking_id = ?", b.ID).Where("wo.doctor_id = ?", o.DoctorID).
			Where("wo.starts_at = ?", o.StartsAt).Where("wo.booking_id = ''").Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Delete((*Waiter)(nil)).Where("wl.id = ?", w.ID).Exec(ctx)
		return err
	})
	if err != nil {
		c.LogFailure(err) // the booking stands
	}
	m.record(c.Context(), auditWaitlistClaimed, u.ID, b.ID, map[string]any{"visit_date": b.VisitDay})
	if err := m.booked(c.Context(), t, b); err != nil {
		c.LogFailure(err)
	}
	return c.Redirect("/calendar/visits/"+b.ID, "booked")
}

// waitlistRoutes are the waitlist's routes; claiming a start books it, so it asks the
// calendar's terms (P6).
func (m *Module) waitlistRoutes() []kit.Route {
	return append([]kit.Route{
		kit.Perm("GET /calendar/doctors/{id}/waitlist", permBook, m.waitPage),
		kit.Perm("POST /calendar/doctors/{id}/waitlist", permBook, m.joinWaitlist),
		kit.Perm("GET /calendar/waitlist", permBook, m.waitlistPage),
		kit.Perm("POST /calendar/waitlist/{id}/leave", permBook, m.leaveWaitlist),
	}, kit.RequireTerms("calendar",
		kit.Perm("GET /calendar/offers/{id}", permBook, m.offerPage),
		kit.Perm("POST /calendar/offers/{id}", permBook, m.claimOffer),
	)...)
}

// forgetWaits takes a deleted account off every waitlist, with its offers (P11): they are
// the account's own wish, not booking data a doctor keeps.
func (m *Module) forgetWaits(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Delete((*Offer)(nil)).Where("wo.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*Waiter)(nil)).Where("wl.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		// His removal requests stay with the list's keeper, who must answer them, no longer
		// linked to the account.
		_, err := sc.Update((*RemovalRequest)(nil)).Set("user_id = ''").Where("rq.user_id = ?", userID).Exec(ctx)
		return err
	})
}

// exportWaits adds to a user's export (P11) his waitlists and his requests for removal
// from a blacklist.
func (m *Module) exportWaits(ctx context.Context, t sdk.Tenant, userID string, out map[string]any) error {
	return m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var ws []Waiter
		if err := sc.Select(&ws).Where("wl.user_id = ?", userID).Order("wl.created_at").Scan(ctx); err != nil {
			return err
		}
		type wait struct {
			Doctor  string    `json:"doctor"`
			Service string    `json:"service"`
			PESEL   string    `json:"pesel"`
			Mobile  string    `json:"mobile"`
			Since   time.Time `json:"since"`
		}
		waits := make([]wait, 0, len(ws))
		for _, w := range ws {
			x := wait{PESEL: w.PESEL, Mobile: w.Mobile, Since: w.CreatedAt}
			var d Doctor
			if err := sc.Select(&d).Where("dr.id = ?", w.DoctorID).Scan(ctx); err == nil {
				x.Doctor = d.display()
			}
			var sv Service
			if err := sc.Select(&sv).Where("sv.id = ?", w.ServiceID).Scan(ctx); err == nil {
				x.Service = sv.Name
			}
			waits = append(waits, x)
		}
		var rs []RemovalRequest
		if err := sc.Select(&rs).Where("rq.user_id = ?", userID).Order("rq.created_at").Scan(ctx); err != nil {
			return err
		}
		type request struct {
			Name          string    `json:"name"`
			PESEL         string    `json:"pesel"`
			Email         string    `json:"email"`
			Justification string    `json:"justification"`
			Status        string    `json:"status"`
			Made          time.Time `json:"made_at"`
			Due           time.Time `json:"due_at"`
		}
		reqs := make([]request, 0, len(rs))
		for _, r := range rs {
			reqs = append(reqs, request{r.Name, r.PESEL, r.Email, r.Justification, r.Status, r.CreatedAt, r.DueAt})
		}
		if len(waits) > 0 {
			out["waitlists"] = waits
		}
		if len(reqs) > 0 {
			out["blacklist_removal_requests"] = reqs
		}
		return nil
	})
}
