package calendar

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/calendar/phone"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// An anonymous booking (C6): a person without an account books for himself only, if his
// PESEL says he is an adult. The slot is held as awaiting confirmation until he follows the
// link of the e-mail within the tenant's window; else a durable job expires the booking and
// frees the slot.

// anonymousMinAge is the age from which a person may book without an account (C6: an adult).
var anonymousMinAge = kit.Int("calendar.anonymous_min_age", 18, 16, 99, "C6")

// anonymousPerIP bounds the anonymous bookings one address makes within the directory's
// window (C6): each sends an e-mail to an address nobody checked and holds a slot.
var anonymousPerIP = kit.Int("calendar.anonymous_bookings_per_ip", 5, 1, 10000, "C6")

// bookingConsents lists, comma-separated, the optional consents the booking forms ask
// besides the required doctor-as-controller one (P6): each a kind with its words in the
// locale files ("partners": passing the data to the portal's partners).
var bookingConsents = kit.String("calendar.booking_consents", "", nil, "P6")

const (
	// jobExpireHold expires one anonymous booking still awaiting confirmation when its hold
	// ends (scheduled per booking, Key "expire:"+id, payload the booking id).
	jobExpireHold = "calendar.expire_hold"
	// jobSweepHolds expires the holds whose job was lost: a safety net.
	jobSweepHolds = "calendar.sweep_holds"
	// tmplConfirmBooking is the e-mail carrying the confirmation link.
	tmplConfirmBooking = "calendar.confirm_booking"
)

// Consents a booking records besides the doctor's (C5): the person booked for agreed, and
// the one who booked declared he may act for him.
const (
	consentPerson    = "person_consent"
	consentAuthority = "authority"
	consentTerms     = "terms"
)

// confirmToken is the confirmation link of an anonymous booking: only the SHA-256 of its
// random token is kept; it is used once (UsedAt), before ExpiresAt (the hold's end).
type confirmToken struct {
	bun.BaseModel `bun:"table:calendar_confirm_tokens,alias:ct"`

	TenantID  string       `bun:"tenant_id,pk"`
	TokenHash string       `bun:"token_hash,pk"`
	BookingID string       `bun:"booking_id"`
	ExpiresAt time.Time    `bun:"expires_at"`
	UsedAt    bun.NullTime `bun:"used_at"`
}

// tokenRe is the shape of a link's token (32 random bytes, base64url without padding).
var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// checkEmail says why an e-mail address is refused, or "".
func checkEmail(s string) string {
	if s == "" {
		return "calendar.book.err.required"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "calendar.book.err.email"
	}
	return ""
}

// person is who a booking is for, as a form gives him (C5, C6).
type person struct {
	First, Last, PESEL, Email, Mobile string
	BirthDate                         time.Time
}

// readPerson reads and checks the person fields of a form (first_name, last_name, pesel,
// email, mobile) into v's values and errors; the mobile comes back in E.164.
func (m *Module) readPerson(c *kit.Ctx, v *kit.View) person {
	var p person
	for _, f := range []struct {
		name string
		dst  *string
	}{{"first_name", &p.First}, {"last_name", &p.Last}, {"pesel", &p.PESEL}, {"email", &p.Email}, {"mobile", &p.Mobile}} {
		*f.dst = strings.TrimSpace(c.Form(f.name))
		v.Values[f.name] = *f.dst
	}
	for name, val := range map[string]string{"first_name": p.First, "last_name": p.Last} {
		switch {
		case val == "":
			v.Errors[name] = "calendar.book.err.required"
		case len([]rune(val)) > 100:
			v.Errors[name] = "calendar.book.err.too_long"
		}
	}
	now := m.now().In(tenantZone(c.Tenant()))
	p.PESEL = natid.Normalize(p.PESEL)
	v.Values["pesel"] = p.PESEL
	if id, e := natid.Check(c.Tenant().Country, p.PESEL, now); e != "" {
		v.Errors["pesel"] = e
	} else {
		p.BirthDate = id.Born
	}
	if e := checkEmail(p.Email); e != "" {
		v.Errors["email"] = e
	}
	if e := checkMobile(p.Mobile, c.Tenant().Country); e != "" {
		v.Errors["mobile"] = e
	} else if e164, err := phone.Mobile(p.Mobile, c.Tenant().Country); err == nil {
		p.Mobile = e164
	}
	return p
}

// optionalConsents are the optional consents the tenant's booking forms ask (P6): those
// its rule lists that have their words ("calendar.consent.<kind>") in the tenant's language.
func (m *Module) optionalConsents(t sdk.Tenant) []string {
	var out []string
	for _, k := range strings.Split(bookingConsents.Of(t), ",") {
		if k = strings.TrimSpace(k); k != "" && kindRe.MatchString(k) && m.Msgs.Has(t.Locale, "calendar.consent."+k) {
			out = append(out, k)
		}
	}
	return out
}

// kindRe is the shape of a consent kind.
var kindRe = regexp.MustCompile(`^[a-z][a-z_]{0,30}$`)

// consentField is the form field of a consent.
func consentField(kind string) string {
	if kind == consentDoctorController {
		return "consent_doctor"
	}
	return "consent_" + kind
}

// readConsents checks the required consents (each a checkbox, consentField, with value
// "yes") and returns, comma-separated, those given, required first.
func (m *Module) readConsents(c *kit.Ctx, v *kit.View, required ...string) string {
	var given []string
	for _, k := range required {
		if f := consentField(k); c.Form(f) == "yes" {
			given = append(given, k)
			v.Values[f] = "yes"
		} else {
			v.Errors[f] = "calendar.book.err.consent"
		}
	}
	for _, k := range m.optionalConsents(c.Tenant()) {
		if f := consentField(k); c.Form(f) == "yes" {
			given = append(given, k)
			v.Values[f] = "yes"
		}
	}
	return strings.Join(given, ",")
}

// guestPage is the anonymous booking's week of free starts and, for a start, its form (C6).
// A signed-in patient books on his own pages.
func (m *Module) guestPage(c *kit.Ctx) error {
	if c.User() != nil {
		q := c.R.URL.RawQuery
		if q != "" {
			q = "?" + q
		}
		return c.Redirect("/calendar/doctors/"+c.Param("id")+"/book"+q, "")
	}
	return m.weekPage(c, "guest")
}

// guestBook stores an anonymous booking (C6, C8, C9): awaiting confirmation, held until the
// tenant's window ends; the e-mail carries the single-use link; a job expires it.
func (m *Module) guestBook(c *kit.Ctx) error {
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
	t := c.Tenant()
	v := c.View("calendar.book.title")
	v.Data["L"], v.Data["Service"], v.Data["Action"] = l, svc, "guest"
	p := m.readPerson(c, v)
	if _, bad := v.Errors["pesel"]; !bad && natid.AgeOn(p.BirthDate, m.now().In(tenantZone(t))) < int(anonymousMinAge.Of(t)) {
		v.Errors["pesel"] = "calendar.guest.err.minor"
		v.Data["MinAge"] = anonymousMinAge.Of(t)
	}
	consents := m.readConsents(c, v, consentTerms, consentDoctorController)
	if len(v.Errors) > 0 {
		return m.bookForm(c, http.StatusUnprocessableEntity, v, l, svc, start)
	}
	if free, err := m.isFree(c, l, svc, start); err != nil {
		return err
	} else if !free {
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "book", v)
	}
	if err := m.guestHit(c.Context(), t, c.Req.RemoteIP); errors.Is(err, errLimited) {
		return limited(c)
	} else if err != nil {
		return err
	}
	// Both blacklists bind an anonymous booking, recognised by its number (C8, C12, C13); a
	// visitor without an account is not told the ground (barredSeen), and each try counts
	// in his address's budget above.
	if ground, err := m.barredSeen(c, l.Doctor.ID, p.PESEL, false); err != nil {
		return err
	} else if ground != "" {
		v.Data["Barred"] = ground
		return c.Render(http.StatusForbidden, "book", v)
	}
	terms, err := c.Host().Terms(c.Context(), "", "")
	if err != nil {
		return err
	}
	now := m.now()
	b := &Booking{DoctorID: l.Doctor.ID, FacilityID: svc.FacilityID, ServiceID: svc.ID, ServiceName: svc.Name, Specialty: svc.Specialty,
		PriceMinor: svc.PriceMinor, Currency: svc.Currency, StartsAt: start, EndsAt: start.Add(time.Duration(svc.DurationMinutes) * time.Minute),
		Status: statusAwaiting, PatientFirstName: p.First, PatientLastName: p.Last, PESEL: p.PESEL, Email: p.Email, Mobile: p.Mobile,
		TermsVersion: terms.VersionID, Consents: consents, CreatedAt: now}
	b.HoldExpiresAt.Time = now.Add(time.Duration(anonymousConfirmMinutes.Of(t)) * time.Minute)
	switch err := m.reserve(c.Context(), t, b); {
	case errors.Is(err, errSlotTaken):
		v.Data["Gone"] = true
		return c.Render(http.StatusConflict, "book", v)
	case errors.Is(err, errDayLimit):
		v.Data["DayFull"] = maxBookingsPerDoctorDay.Of(t)
		return c.Render(http.StatusConflict, "book", v)
	case err != nil:
		return err
	}
	token, hash := newToken()
	err = m.In(c.Context(), t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&confirmToken{TenantID: t.ID, TokenHash: hash, BookingID: b.ID, ExpiresAt: b.HoldExpiresAt.Time}).Exec(ctx)
		return err
	})
	if err != nil {
		_ = m.release(c.Context(), t, b.ID, statusExpired, "", statusAwaiting)
		return err
	}
	// The job frees the slot if the link is not followed in time; were it lost, the sweep does.
	if _, err := c.Host().Schedule(c.Context(), sdk.Job{Name: jobExpireHold, Key: "expire:" + b.ID, At: b.HoldExpiresAt.Time, Payload: []byte(b.ID)}); err != nil {
		c.LogFailure(err)
	}
	// The message goes to an address without an account: in the tenant's language.
	msg := sdk.Message{To: b.Email, Template: tmplConfirmBooking, Link: "/calendar/confirm/" + token,
		Data: map[string]any{"Doctor": l.Doctor.Display(), "When": locales.FormatDateTime(t.Locale, b.StartsAt, tenantZone(t)),
			"Minutes": anonymousConfirmMinutes.Of(t)}}
	if _, err := c.Host().Send(c.Context(), msg); err != nil {
		c.LogFailure(err) // the hold expires by itself
	}
	v = c.View("calendar.guest.sent.title")
	v.Data["Email"], v.Data["Until"] = b.Email, b.HoldExpiresAt.Time
	return c.Render(http.StatusOK, "bookguestsent", v)
}

// Why a confirmation link no longer confirms (C6).
var (
	errLinkUnknown = errors.New("calendar: unknown confirmation link")
	errLinkUsed    = errors.New("calendar: confirmation link already used")
	errLinkExpired = errors.New("calendar: confirmation link expired")
)

// linkBooking reads the booking of a confirmation link and says whether it may still be
// confirmed: errLinkUnknown, errLinkUsed (confirmed before) or errLinkExpired.
func (m *Module) linkBooking(c *kit.Ctx, token string) (*Visit, error) {
	if !tokenRe.MatchString(token) {
		return nil, errLinkUnknown
	}
	var ct confirmToken
	var out Visit
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&ct).Where("ct.token_hash = ?", hashToken(token)).Scan(ctx); errors.Is(err, sqlNoRows) {
			return errLinkUnknown
		} else if err != nil {
			return err
		}
		if err := sc.Select(&out.Booking).Where("bk.id = ?", ct.BookingID).Scan(ctx); errors.Is(err, sqlNoRows) {
			return errLinkUnknown
		} else if err != nil {
			return err
		}
		if err := sc.Select(&out.Doctor).Where("dr.id = ?", out.DoctorID).Scan(ctx); err != nil && !errors.Is(err, sqlNoRows) {
			return err
		}
		if err := sc.Select(&out.Facility).Where("fa.id = ?", out.FacilityID).Scan(ctx); err != nil && !errors.Is(err, sqlNoRows) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !ct.UsedAt.IsZero() || out.Status == statusConfirmed:
		return &out, errLinkUsed
	case out.Status != statusAwaiting || !m.now().Before(ct.ExpiresAt):
		return &out, errLinkExpired
	}
	return &out, nil
}

// linkGone renders the page of a link that no longer confirms: unknown (404), used (the
// visit stands, 200) or expired (410), never a 500.
func (m *Module) linkGone(c *kit.Ctx, vis *Visit, err error) error {
	v := c.View("calendar.confirm.title")
	v.Data["V"] = vis
	switch {
	case errors.Is(err, errLinkUnknown):
		v.Data["State"] = "unknown"
		return c.Render(http.StatusNotFound, "bookconfirm", v)
	case errors.Is(err, errLinkUsed):
		v.Data["State"] = "used"
		return c.Render(http.StatusOK, "bookconfirm", v)
	case errors.Is(err, errLinkExpired):
		// A hold that ended is expired at once, whether or not its job ran yet.
		if vis != nil && vis.Status == statusAwaiting {
			if done, err := m.expireHold(c.Context(), c.Tenant(), vis.ID); err != nil {
				return err
			} else if done {
				vis.Status = statusExpired
			}
		}
		v.Data["State"] = "expired"
		return c.Render(http.StatusGone, "bookconfirm", v)
	}
	return err
}

// confirmPage is what the e-mail's link opens: the visit and a button that confirms it (a
// POST: mail scanners fetch links, they do not press buttons).
func (m *Module) confirmPage(c *kit.Ctx) error {
	vis, err := m.linkBooking(c, c.Param("token"))
	if err != nil {
		return m.linkGone(c, vis, err)
	}
	v := c.View("calendar.confirm.title")
	v.Data["V"], v.Data["State"], v.Data["Token"] = vis, "open", c.Param("token")
	return c.Render(http.StatusOK, "bookconfirm", v)
}

// confirmBooking confirms an anonymous booking (C6): the link is used once and only before
// the hold ends, both held by guarded updates in one transaction, so two clicks at once
// confirm once and a click racing the expiry either confirms or finds it expired.
func (m *Module) confirmBooking(c *kit.Ctx) error {
	token := c.Param("token")
	vis, err := m.linkBooking(c, token)
	if err != nil {
		return m.linkGone(c, vis, err)
	}
	now := m.now()
	err = m.confirmHold(c.Context(), c.Tenant(), token, vis.ID, now)
	if errors.Is(err, errLinkUsed) || errors.Is(err, errLinkExpired) {
		// Read again: what stands now is what the page says.
		vis2, err2 := m.linkBooking(c, token)
		if err2 == nil {
			err2 = err
		}
		if vis2 == nil {
			vis2 = vis
		}
		return m.linkGone(c, vis2, err2)
	}
	if err != nil {
		return err
	}
	vis.Status, vis.ConfirmedAt.Time = statusConfirmed, now
	if err := c.Host().Cancel(c.Context(), "expire:"+vis.ID); err != nil {
		c.LogFailure(err) // the job finds the booking confirmed and leaves it
	}
	if err := m.booked(c.Context(), c.Tenant(), &vis.Booking); err != nil {
		c.LogFailure(err)
	}
	v := c.View("calendar.confirm.title")
	v.Data["V"], v.Data["State"] = vis, "confirmed"
	return c.Render(http.StatusOK, "bookconfirm", v)
}

// confirmHold uses the link token and confirms its booking, in one transaction whose two
// guarded updates hold C6 in the database: the token only while unused and unexpired
// (errLinkUsed otherwise), the booking only while awaiting and within its hold
// (errLinkExpired otherwise, and the token stays unused).
func (m *Module) confirmHold(ctx context.Context, t sdk.Tenant, token, bookingID string, now time.Time) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*confirmToken)(nil)).Set("used_at = ?", now).
			Where("ct.token_hash = ?", hashToken(token)).Where("ct.used_at IS NULL").Where("ct.expires_at > ?", now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errLinkUsed
		}
		res, err = sc.Update((*Booking)(nil)).Set("status = ?", statusConfirmed).Set("confirmed_at = ?", now).
			Where("bk.id = ?", bookingID).Where("bk.status = ?", statusAwaiting).Where("bk.hold_expires_at > ?", now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errLinkExpired
		}
		return nil
	})
}

// expireHold ends an anonymous booking whose hold passed while it still awaits
// confirmation, and offers its time to the waitlist; a booking confirmed meanwhile, or one
// whose hold has not ended, is left as it is.
func (m *Module) expireHold(ctx context.Context, t sdk.Tenant, id string) (bool, error) {
	var b Booking
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&b).Where("bk.id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sqlNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if b.Status != statusAwaiting || b.HoldExpiresAt.IsZero() || m.now().Before(b.HoldExpiresAt.Time) {
		return false, nil
	}
	if err := m.release(ctx, t, id, statusExpired, "", statusAwaiting); errors.Is(err, errNotLive) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	b.Status = statusExpired
	return true, m.freed(ctx, t, &b)
}

// expireJob is the durable one-off job of one hold (payload: the booking id).
func (m *Module) expireJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.expireHold(ctx, job.Tenant, string(job.Payload))
	return err
}

// sweepHolds expires the holds that ended and whose job did not run.
func (m *Module) sweepHolds(ctx context.Context, job *sdk.Job) error {
	var ids []string
	err := m.Read(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*Booking)(nil)).Column("bk.id").Where("bk.status = ?", statusAwaiting).
			Where("bk.hold_expires_at <= ?", m.now()).Limit(500).Scan(ctx, &ids)
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := m.expireHold(ctx, job.Tenant, id); err != nil {
			return err
		}
	}
	return nil
}

// guestHit counts one anonymous booking of the address in the current window and refuses it
// once the tenant's budget is used up; the count is the database's, shared by every
// instance of the module.
func (m *Module) guestHit(ctx context.Context, t sdk.Tenant, ip string) error {
	return m.spend(ctx, t, time.Duration(directoryWindow.Of(t))*time.Minute, map[string]int64{"guest:" + ip: anonymousPerIP.Of(t)})
}
