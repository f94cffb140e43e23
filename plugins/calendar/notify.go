package calendar

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/calendar/ics"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Messages of a booking (C7): the confirmation, with its cancel link and the visit's ICS,
// and the reminder before the visit, by e-mail and, where the tenant sends SMS, by SMS.
const (
	tmplBooked   = "calendar.booked"
	tmplReminder = "calendar.reminder"

	// jobRemind is the durable one-off job of one booking's reminder (Key "remind:"+id);
	// jobSweepReminders the safety net that sends those a lost job did not.
	jobRemind         = "calendar.remind"
	jobSweepReminders = "calendar.sweep_reminders"
)

// prodID names the module in the iCalendar files it writes.
const prodID = "-//carenet//calendar//EN"

// CancelLink is the cancel link of a booking's confirmation (C7): only the token's hash is
// kept; it is used once and is valid until the visit starts.
type CancelLink struct {
	bun.BaseModel `bun:"table:calendar_cancel_links,alias:cl"`

	TenantID  string       `bun:"tenant_id,pk"`
	TokenHash string       `bun:"token_hash,pk"`
	BookingID string       `bun:"booking_id"`
	ExpiresAt time.Time    `bun:"expires_at"`
	UsedAt    bun.NullTime `bun:"used_at"`
	CreatedAt time.Time    `bun:"created_at"`
}

// reminder records that a booking's reminder went (C7): whoever inserts it sends.
type reminder struct {
	bun.BaseModel `bun:"table:calendar_reminders,alias:rm"`

	TenantID  string    `bun:"tenant_id,pk"`
	BookingID string    `bun:"booking_id,pk"`
	SentAt    time.Time `bun:"sent_at"`
}

func init() {
	models = append(models, (*CancelLink)(nil), (*reminder)(nil), (*Feed)(nil))
}

// newToken is a random secret for a link (256 bits) and the hash that is stored of it.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on the platforms the module runs on
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

// hashToken is what is stored of a token: who reads the database cannot use a link.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// visitOf reads b's doctor and facility.
func (m *Module) visitOf(ctx context.Context, t sdk.Tenant, b *Booking) (*Visit, error) {
	v := &Visit{Booking: *b}
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&v.Doctor).Where("dr.id = ?", b.DoctorID).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&v.Facility).Where("fa.id = ?", b.FacilityID).Scan(ctx)
	})
	return v, err
}

// patientLang is the language of b's patient: his account's, else the tenant's (C7).
func patientLang(ctx context.Context, t sdk.Tenant, b *Booking) string {
	if b.UserID != "" {
		if h := sdk.HostFrom(ctx); h != nil {
			if u, err := h.User(ctx, b.UserID); err == nil && u.Locale != "" {
				return u.Locale
			}
		}
	}
	return t.Locale
}

// address is the facility's address on one line.
func (f Facility) address() string {
	var parts []string
	for _, p := range []string{f.Address, strings.TrimSpace(f.PostalCode + " " + f.City)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// event is the visit as an iCalendar event, its words in lang. A visit of a doctor who
// stopped his online calendar before it (C15) shows only its time.
func (m *Module) event(t sdk.Tenant, lang string, v *Visit) ics.Event {
	e := ics.Event{UID: v.ID + "@calendar." + t.Slug, Start: v.StartsAt, End: v.EndsAt, Zone: tenantZone(t), Status: ics.Confirmed}
	if v.Status == statusAwaiting || v.Status == statusHeld {
		e.Status = ics.Tentative
	}
	if v.Hidden {
		e.Summary = m.Msgs.For(lang).T("calendar.ics.visit")
		return e
	}
	e.Summary = m.Msgs.For(lang).T("calendar.ics.summary", "Service", v.ServiceName, "Doctor", v.Doctor.display())
	e.Location = v.Facility.Name
	if a := v.Facility.address(); a != "" {
		e.Location += ", " + a
	}
	return e
}

// icsFile is the visit's iCalendar file (PUBLISH: the visit is booked already, the program
// only adds it; no answer is expected from the patient).
func (m *Module) icsFile(t sdk.Tenant, lang string, v *Visit) (sdk.Blob, error) {
	data, err := ics.Calendar(prodID, ics.Publish, m.event(t, lang, v))
	if err != nil {
		return sdk.Blob{}, err
	}
	name := m.Msgs.For(lang).T("calendar.ics.file") + ".ics"
	return sdk.Blob{Name: name, ContentType: "text/calendar; charset=utf-8; method=PUBLISH", Data: data}, nil
}

// recipient addresses a message to b's patient: his account, or the address he gave.
func recipient(b *Booking, msg sdk.Message) sdk.Message {
	msg.UserID = b.UserID
	if msg.UserID == "" {
		msg.To = b.Email
	}
	return msg
}

// booked sends the booking's confirmation (C7) in the patient's language: doctor,
// facility and address, date and time in the tenant's zone, service and gross price, how
// to cancel, the cancel link (valid until the visit starts, used once) and the visit's ICS;
// and schedules its reminder.
func (m *Module) booked(ctx context.Context, t sdk.Tenant, b *Booking) error {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return errors.New("calendar: no HostAPI to send the confirmation")
	}
	v, err := m.visitOf(ctx, t, b)
	if err != nil {
		return fmt.Errorf("confirm booking %s: read its visit: %w", b.ID, err)
	}
	token, hash := newToken()
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&CancelLink{TenantID: t.ID, TokenHash: hash, BookingID: b.ID, ExpiresAt: b.StartsAt, CreatedAt: m.now()}).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm booking %s: store its cancel link: %w", b.ID, err)
	}
	lang := patientLang(ctx, t, b)
	file, err := m.icsFile(t, lang, v)
	if err != nil {
		return fmt.Errorf("confirm booking %s: write its ICS: %w", b.ID, err)
	}
	if b.UserID != "" || b.Email != "" {
		// How to cancel: a patient with an account has his "My visits" page besides the
		// link; a guest, or another person booked for, has the link only (C6, C7).
		data := m.visitData(t, lang, v)
		how := "calendar.booked.cancel_account"
		if b.UserID == "" {
			how = "calendar.booked.cancel_guest"
		}
		data["HowToCancel"] = m.Msgs.For(lang).T(how)
		// Secret: once delivered, the outbox no longer keeps the text with its cancel link.
		msg := recipient(b, sdk.Message{Template: tmplBooked, Link: "/calendar/cancel/" + token, Attachments: []sdk.Blob{file},
			Data: data, Secret: true})
		if _, err := h.Send(ctx, msg); err != nil {
			return fmt.Errorf("confirm booking %s: send: %w", b.ID, err)
		}
	}
	if err := m.scheduleReminder(ctx, t, b); err != nil {
		return fmt.Errorf("confirm booking %s: schedule its reminder: %w", b.ID, err)
	}
	return nil
}

// visitData are the words of a visit a message shows, in lang.
func (m *Module) visitData(t sdk.Tenant, lang string, v *Visit) map[string]any {
	return map[string]any{"Doctor": v.Doctor.display(), "Facility": v.Facility.Name, "Address": v.Facility.address(),
		"When": locales.FormatDateTime(lang, v.StartsAt, tenantZone(t)), "Service": v.ServiceName,
		"Price": locales.FormatMoney(lang, v.PriceMinor, v.Currency)}
}

// scheduleReminder asks the host to run b's reminder the tenant's hours before the visit;
// a booking confirmed later than that gets none (its confirmation is as recent).
func (m *Module) scheduleReminder(ctx context.Context, t sdk.Tenant, b *Booking) error {
	at := b.StartsAt.Add(-time.Duration(reminderHours.Of(t)) * time.Hour)
	if !at.After(m.now()) {
		return nil
	}
	_, err := sdk.HostFrom(ctx).Schedule(ctx, sdk.Job{Name: jobRemind, Key: "remind:" + b.ID, At: at, Payload: []byte(b.ID)})
	return err
}

// runRemind is the durable job of one booking's reminder.
func (m *Module) runRemind(ctx context.Context, job *sdk.Job) error {
	_, err := m.remind(ctx, job.Tenant, string(job.Payload))
	return err
}

// remind sends booking id's reminder (C7) if it is still confirmed and to come and no
// reminder went before: the row in calendar_reminders is claimed first (a unique key), so
// the job and the sweep, or two runs of either, send one. It reports whether it sent.
func (m *Module) remind(ctx context.Context, t sdk.Tenant, id string) (bool, error) {
	var b Booking
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&b).Where("bk.id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sqlNoRows) {
		return false, nil // gone (erased with its patient)
	}
	if err != nil {
		return false, fmt.Errorf("remind booking %s: %w", id, err)
	}
	if b.Status != statusConfirmed || !b.StartsAt.After(m.now()) {
		return false, nil
	}
	claimed := false
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Insert(&reminder{TenantID: t.ID, BookingID: b.ID, SentAt: m.now()}).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil || !claimed {
		return false, err
	}
	if err := m.sendReminder(ctx, t, &b); err != nil {
		// Nothing went: the claim goes, so that the job's retry or the sweep sends it.
		if uerr := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*reminder)(nil)).Where("rm.booking_id = ?", b.ID).Exec(ctx)
			return err
		}); uerr != nil {
			m.Log.Error("calendar: reminder claim kept after a failed send", "booking", b.ID, "err", uerr.Error())
		}
		return false, fmt.Errorf("remind booking %s: %w", b.ID, err)
	}
	return true, nil
}

// sendReminder sends the e-mail and, where the tenant sends SMS, the SMS: the SMS names
// only the date and time, never the doctor, his specialty or the service (no health data).
func (m *Module) sendReminder(ctx context.Context, t sdk.Tenant, b *Booking) error {
	h := sdk.HostFrom(ctx)
	v, err := m.visitOf(ctx, t, b)
	if err != nil {
		return err
	}
	lang := patientLang(ctx, t, b)
	if b.UserID != "" || b.Email != "" {
		if _, err := h.Send(ctx, recipient(b, sdk.Message{Template: tmplReminder, Link: "/calendar/visits", Data: m.visitData(t, lang, v)})); err != nil {
			return err
		}
	}
	sms := sdk.Message{Channel: "sms", UserID: b.UserID, To: b.Mobile, Template: tmplReminder, Link: "/calendar/visits",
		Data: map[string]any{"When": locales.FormatDateTime(lang, b.StartsAt, tenantZone(t))}}
	if sms.UserID != "" || sms.To != "" {
		// The e-mail went: a failed SMS is logged, not retried (a retry would send the e-mail again).
		if _, err := h.Send(ctx, sms); err != nil {
			m.Log.Error("calendar: reminder SMS not sent", "booking", b.ID, "err", err.Error())
		}
	}
	return nil
}

// sweepReminders sends the reminders due that no job sent (a job lost, a booking confirmed
// while the host was down): confirmed visits starting within the tenant's reminder hours,
// confirmed before their reminder was due, without a reminder yet.
func (m *Module) sweepReminders(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	hours := time.Duration(reminderHours.Of(t)) * time.Hour
	now := m.now()
	var bs []Booking
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&bs).Where("bk.status = ?", statusConfirmed).Where("bk.starts_at > ? AND bk.starts_at <= ?", now, now.Add(hours)).
			Where("NOT EXISTS (SELECT 1 FROM calendar_reminders AS rm WHERE rm.tenant_id = bk.tenant_id AND rm.booking_id = bk.id)").
			Order("bk.starts_at").Limit(500).Scan(ctx)
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range bs {
		if b.ConfirmedAt.IsZero() || b.ConfirmedAt.Time.After(b.StartsAt.Add(-hours)) {
			continue // confirmed within the reminder's hours: its confirmation is the reminder
		}
		if _, err := m.remind(ctx, t, b.ID); err != nil {
			errs = append(errs, fmt.Errorf("booking %s: %w", b.ID, err))
		}
	}
	return errors.Join(errs...)
}

// ---- the cancel link (C7) ----

// linkState is what a cancel link is now.
type linkState int

const (
	linkUnknown linkState = iota // no such link in the tenant
	linkValid
	linkUsed
	linkExpired
	linkEnded // the visit is no longer live (cancelled another way)
)

// cancelLink reads the link of token and its visit.
func (m *Module) cancelLink(c *kit.Ctx, token string) (linkState, *CancelLink, *Visit, error) {
	var l CancelLink
	var b Booking
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&l).Where("cl.token_hash = ?", hashToken(token)).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&b).Where("bk.id = ?", l.BookingID).Scan(ctx)
	})
	if errors.Is(err, sqlNoRows) || len(token) > 100 {
		return linkUnknown, nil, nil, nil
	}
	if err != nil {
		return 0, nil, nil, err
	}
	v, err := m.visitOf(c.Context(), c.Tenant(), &b)
	if err != nil {
		return 0, nil, nil, err
	}
	v.Hidden = !v.Doctor.OnlineCalendar && !v.Doctor.CalendarStoppedAt.IsZero() && b.StartsAt.After(v.Doctor.CalendarStoppedAt.Time)
	switch {
	case !l.UsedAt.IsZero():
		return linkUsed, &l, v, nil
	case !m.now().Before(l.ExpiresAt):
		return linkExpired, &l, v, nil
	}
	return linkValid, &l, v, nil
}

// cancelLinkPage is the page of a confirmation's cancel link: the visit with a button to
// cancel it, or, for a link used or past the visit's start, why it no longer cancels.
func (m *Module) cancelLinkPage(c *kit.Ctx) error {
	state, _, v, err := m.cancelLink(c, c.Param("token"))
	if err != nil {
		return err
	}
	return m.renderCancelLink(c, state, v)
}

func (m *Module) renderCancelLink(c *kit.Ctx, state linkState, v *Visit) error {
	page := c.View("calendar.cancellink.title")
	page.Data["V"], page.Data["Token"] = v, c.Param("token")
	status := http.StatusOK
	switch {
	case state == linkUnknown:
		page.Data["State"], status = "unknown", http.StatusNotFound
	case state == linkUsed && v.Status == statusCancelledPatient:
		page.Data["State"] = "cancelled"
	case state == linkUsed:
		page.Data["State"], status = "used", http.StatusGone
	case state == linkExpired:
		page.Data["State"], status = "expired", http.StatusGone
	case state == linkEnded || v.Status != statusConfirmed && v.Status != statusAwaiting && v.Status != statusHeld:
		page.Data["State"], status = "ended", http.StatusGone
	default:
		page.Data["State"] = "valid"
	}
	return c.Render(status, "cancellink", page)
}

// cancelByLink cancels the visit of a valid cancel link (C7): the link is spent first by
// a guarded update (one of two clicks at once wins), then the visit is released as the
// patient's cancellation and its time offered again (the waitlist).
func (m *Module) cancelByLink(c *kit.Ctx) error {
	token := c.Param("token")
	state, l, v, err := m.cancelLink(c, token)
	if err != nil {
		return err
	}
	if state != linkValid {
		return m.renderCancelLink(c, state, v)
	}
	now := m.now()
	spent := false
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*CancelLink)(nil)).Set("used_at = ?", now).Where("cl.token_hash = ?", l.TokenHash).
			Where("cl.used_at IS NULL").Where("cl.expires_at > ?", now).Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		spent = n == 1
		return err
	})
	if err != nil {
		return err
	}
	if !spent {
		state, _, v, err = m.cancelLink(c, token)
		if err != nil {
			return err
		}
		return m.renderCancelLink(c, state, v)
	}
	if err := m.release(c.Context(), c.Tenant(), v.ID, statusCancelledPatient, ""); errors.Is(err, errNotLive) {
		return m.renderCancelLink(c, linkEnded, v) // ended meanwhile, not by this link
	} else if err != nil {
		return err
	}
	if err := m.freed(c.Context(), c.Tenant(), &v.Booking); err != nil {
		c.LogFailure(err)
	}
	return c.Redirect("/calendar/cancel/"+token, "cancelled")
}

// visitICS is the patient's download of one of his visits as an iCalendar file (C11);
// another's visit is not found.
func (m *Module) visitICS(c *kit.Ctx) error {
	vs, err := m.visits(c, c.Param("id"))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return kit.ErrNotFound
	}
	lang := c.Loc().Lang
	file, err := m.icsFile(c.Tenant(), lang, &vs[0])
	if err != nil {
		return err
	}
	return sendFile(c, file)
}

// sendFile answers a file as a download.
func sendFile(c *kit.Ctx, f sdk.Blob) error {
	c.W.Header().Set("Content-Type", f.ContentType)
	c.W.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	c.W.Header().Set("Cache-Control", "private, no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err := c.W.Write(f.Data)
	return err
}

// withCancelICS adds to the doctor's cancellation e-mail (C10) the visit's ICS marked
// cancelled, so that the patient's calendar program drops the visit the confirmation's file
// added (same UID, a later SEQUENCE): a CANCEL from the facility's address when it has one,
// else a PUBLISH of the cancelled event. Without it the e-mail goes all the same.
func (m *Module) withCancelICS(ctx context.Context, t sdk.Tenant, b *Booking, msg sdk.Message) sdk.Message {
	v, err := m.visitOf(ctx, t, b)
	if err != nil {
		m.Log.Error("calendar: no ICS for a cancellation", "booking", b.ID, "err", err.Error())
		return msg
	}
	lang := patientLang(ctx, t, b)
	e := m.event(t, lang, v)
	e.Status, e.Sequence = ics.Cancelled, 1
	method := ics.Publish
	if v.Facility.Email != "" && b.Email != "" {
		method, e.Organizer, e.Attendee = ics.Cancel, v.Facility.Email, b.Email
	}
	data, err := ics.Calendar(prodID, method, e)
	if err != nil && method == ics.Cancel { // an address the file cannot carry
		method, e.Organizer, e.Attendee = ics.Publish, "", ""
		data, err = ics.Calendar(prodID, method, e)
	}
	if err != nil {
		m.Log.Error("calendar: no ICS for a cancellation", "booking", b.ID, "err", err.Error())
		return msg
	}
	msg.Attachments = append(msg.Attachments, sdk.Blob{Name: m.Msgs.For(lang).T("calendar.ics.file") + ".ics",
		ContentType: "text/calendar; charset=utf-8; method=" + method, Data: data})
	return msg
}

// Live reports whether the visit still holds its time (not cancelled, not expired): only
// then does its page offer the visit's calendar file (C11).
func (v Visit) Live() bool {
	for _, s := range liveStatuses {
		if v.Status == s {
			return true
		}
	}
	return false
}
