package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/natid"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The blacklists (C12, C13). A doctor's list bars a patient, known by his PESEL, from
// booking with that doctor; the portal's list bars him from booking anywhere in the tenant.
// The doctor alone sees and changes his list: every query of it is narrowed to the doctor
// records whose account is the signed-in one (dr.user_id), so that no role a tenant
// administrator can grant himself opens it; the administrator sees only on how many doctors'
// lists a PESEL is.

// Rules of the portal's list (C13), besides the percentages, minimum and answer days
// calendar.go declares.
var (
	// adminBlacklistEnabled: the tenant keeps a portal blacklist at all.
	adminBlacklistEnabled = kit.Bool("calendar.admin_blacklist_enabled", true, "C13")
	// adminBlacklistAutoApply: the monthly job puts a patient on the portal's list at once,
	// instead of proposing him to the administrator.
	adminBlacklistAutoApply = kit.Bool("calendar.admin_blacklist_auto_apply", false, "C13")
)

// Permissions of the lists.
const (
	permBlacklist      = "calendar.blacklist"
	permAdminBlacklist = "calendar.admin_blacklist"
)

// Grounds of a doctor's list (seed 4.16) and of the portal's (seed 4.15).
const (
	groundCancellations = "cancellations"
	groundTermsBreach   = "terms_breach"
	groundLawBreach     = "law_breach"
	groundDoctors       = "doctors"
	groundGrossBreach   = "gross_breach"
)

var (
	doctorGrounds = []string{groundCancellations, groundTermsBreach, groundLawBreach}
	portalGrounds = []string{groundDoctors, groundCancellations, groundGrossBreach}
)

// States of an entry: proposed by the monthly job, active (the patient is barred),
// rejected (a proposal the doctor or administrator refused), removed.
const (
	entryProposed = "proposed"
	entryActive   = "active"
	entryRejected = "rejected"
	entryRemoved  = "removed"
)

// States of a removal request.
const (
	requestOpen    = "open"
	requestGranted = "granted"
	requestRefused = "refused"
)

const jobProposeBlacklists = "calendar.propose_blacklists"

// Messages of the removal requests: to the doctor, a request to decide; to the patient,
// the decision.
const (
	tmplRemovalAsked   = "calendar.removal_asked"
	tmplRemovalGranted = "calendar.removal_granted"
	tmplRemovalRefused = "calendar.removal_refused"
)

// notifyLang is the language of a message to userID: his account's, or the tenant's.
func notifyLang(ctx context.Context, h *sdk.Host, t sdk.Tenant, userID string) string {
	if userID != "" {
		if u, err := h.User(ctx, userID); err == nil && u.Locale != "" {
			return u.Locale
		}
	}
	return t.Locale
}

// Audit actions of the lists.
const (
	auditBlacklistAdded    = "calendar.blacklist_added"
	auditBlacklistRemoved  = "calendar.blacklist_removed"
	auditBlacklistProposed = "calendar.blacklist_proposed"
	auditBlacklistRejected = "calendar.blacklist_rejected"
	auditBlacklistAsked    = "calendar.blacklist_removal_asked"
	auditBlacklistAnswered = "calendar.blacklist_removal_answered"
	auditPortalAdded       = "calendar.portal_blacklist_added"
	auditPortalRemoved     = "calendar.portal_blacklist_removed"
	auditPortalProposed    = "calendar.portal_blacklist_proposed"
	auditPortalRejected    = "calendar.portal_blacklist_rejected"
	auditPortalAsked       = "calendar.portal_blacklist_removal_asked"
	auditPortalAnswered    = "calendar.portal_blacklist_removal_answered"
	auditWaitlistClaimed   = "calendar.waitlist_claimed"
)

// The lists a removal request is about, and the longest justification it takes (in
// characters, as the form's maxlength counts them).
const (
	listDoctor              = "doctor"
	listPortal              = "portal"
	blacklistRequestMaxText = 2000
)

// blacklistAuditActions are the actions the lists record (Spec.AuditActions).
var blacklistAuditActions = []string{auditBlacklistAdded, auditBlacklistRemoved, auditBlacklistProposed, auditBlacklistRejected,
	auditBlacklistAsked, auditBlacklistAnswered, auditPortalAdded, auditPortalRemoved, auditPortalProposed, auditPortalRejected,
	auditPortalAsked, auditPortalAnswered, auditWaitlistClaimed}

// BlacklistEntry is a patient on a doctor's list (C12). BookingID is the earlier booking
// with the doctor a breach was made in connection with; Month ("2006-01") the calendar
// month of the cancellations.
type BlacklistEntry struct {
	bun.BaseModel `bun:"table:calendar_blacklist,alias:bl"`

	TenantID  string       `bun:"tenant_id,pk"`
	ID        string       `bun:"id,pk"`
	DoctorID  string       `bun:"doctor_id"`
	PESEL     string       `bun:"pesel"`
	Patient   string       `bun:"patient"`
	Ground    string       `bun:"ground"`
	BookingID string       `bun:"booking_id"`
	Month     string       `bun:"month"`
	Status    string       `bun:"status"`
	CreatedBy string       `bun:"created_by"`
	CreatedAt time.Time    `bun:"created_at"`
	DecidedAt bun.NullTime `bun:"decided_at"`
}

// PortalEntry is a patient on the portal's list (C13).
type PortalEntry struct {
	bun.BaseModel `bun:"table:calendar_portal_blacklist,alias:pb"`

	TenantID  string       `bun:"tenant_id,pk"`
	ID        string       `bun:"id,pk"`
	PESEL     string       `bun:"pesel"`
	Ground    string       `bun:"ground"`
	Month     string       `bun:"month"`
	Status    string       `bun:"status"`
	CreatedBy string       `bun:"created_by"`
	CreatedAt time.Time    `bun:"created_at"`
	DecidedAt bun.NullTime `bun:"decided_at"`
}

// RemovalRequest is a patient's request to be taken off a list, to be decided by DueAt.
type RemovalRequest struct {
	bun.BaseModel `bun:"table:calendar_blacklist_requests,alias:rq"`

	TenantID      string       `bun:"tenant_id,pk"`
	ID            string       `bun:"id,pk"`
	List          string       `bun:"list"`
	EntryID       string       `bun:"entry_id"`
	DoctorID      string       `bun:"doctor_id"`
	PESEL         string       `bun:"pesel"`
	Name          string       `bun:"name"`
	Email         string       `bun:"email"`
	UserID        string       `bun:"user_id"`
	Justification string       `bun:"justification"`
	Status        string       `bun:"status"`
	CreatedAt     time.Time    `bun:"created_at"`
	DueAt         time.Time    `bun:"due_at"`
	DecidedAt     bun.NullTime `bun:"decided_at"`
}

// Overdue reports whether the request is still open past its due date.
func (r RemovalRequest) Overdue(now time.Time) bool {
	return r.Status == requestOpen && now.After(r.DueAt)
}

// barredSeen is barred as the person at the form may read it (C12, C13): the ground itself
// only to the patient, signed in and booking for himself under his account's own number (or
// a number he declares his own when his account has none); anyone else — a visitor without
// an account, someone booking for another person — reads only that the booking is not
// possible, so that nobody learns a stranger's blacklisting by typing his number.
func (m *Module) barredSeen(c *kit.Ctx, doctorID, number string, self bool) (string, error) {
	ground, err := m.barred(c.Context(), c.Tenant(), doctorID, number)
	if err != nil || ground == "" {
		return ground, err
	}
	if u := c.User(); u != nil && self {
		if own := natid.Normalize(u.Profile["pesel"]); own == "" || own == number {
			return ground, nil
		}
	}
	return "calendar.barred.undisclosed", nil
}

// barred is the ground on which a blacklist bars the patient (C12, C13): the
// portal's list first (when the tenant keeps one), then the doctor's; "" when he may book.
func (m *Module) barred(ctx context.Context, t sdk.Tenant, doctorID, pesel string) (string, error) {
	var ground string
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if adminBlacklistEnabled.Of(t) {
			var p PortalEntry
			err := sc.Select(&p).Where("pb.pesel = ?", pesel).Where("pb.status = ?", entryActive).Limit(1).Scan(ctx)
			if err == nil {
				ground = "calendar.barred.portal." + p.Ground
				return nil
			} else if !errors.Is(err, sqlNoRows) {
				return err
			}
		}
		var e BlacklistEntry
		err := sc.Select(&e).Where("bl.doctor_id = ?", doctorID).Where("bl.pesel = ?", pesel).Where("bl.status = ?", entryActive).Limit(1).Scan(ctx)
		if err == nil {
			ground = "calendar.barred.doctor." + e.Ground
			return nil
		} else if errors.Is(err, sqlNoRows) {
			return nil
		}
		return err
	})
	return ground, err
}

// tally is what a patient (PESEL) booked in a calendar month, with one doctor or with all,
// and how many of those he cancelled himself.
type tally struct {
	DoctorID  string `bun:"doctor_id"`
	PESEL     string `bun:"pesel"`
	Booked    int    `bun:"booked"`
	Cancelled int    `bun:"cancelled"`
}

// monthRange is the first day of month ("2006-01") and of the next, as visit days.
func monthRange(month string) (string, string, bool) {
	d, err := time.Parse("2006-01", month)
	if err != nil {
		return "", "", false
	}
	return d.Format(time.DateOnly), d.AddDate(0, 1, 0).Format(time.DateOnly), true
}

// tallies counts, for the calendar month, the bookings of each patient (with each doctor
// when perDoctor, else with all) by the visit's date in the tenant's zone (visit_day): an
// expired booking (an anonymous booking never confirmed, a hold) was never booked, and
// only the patient's own cancellations count as his; a doctor's cancellation is a booking
// the patient made and did not cancel. pesel and doctorID, when set, narrow the count.
func tallies(ctx context.Context, sc *store.Scope, month string, perDoctor bool, doctorID, pesel string) ([]tally, error) {
	from, to, ok := monthRange(month)
	if !ok {
		return nil, fmt.Errorf("calendar: bad month %q", month)
	}
	var out []tally
	q := sc.Select((*Booking)(nil)).ColumnExpr("bk.pesel AS pesel").ColumnExpr("COUNT(*) AS booked").
		ColumnExpr("SUM(CASE WHEN bk.status = ? THEN 1 ELSE 0 END) AS cancelled", statusCancelledPatient).
		Where("bk.visit_day >= ? AND bk.visit_day < ?", from, to).Where("bk.status NOT IN (?)", bunIn([]string{statusExpired, statusHeld}))
	if perDoctor {
		q = q.ColumnExpr("bk.doctor_id AS doctor_id").Group("bk.doctor_id")
	}
	if doctorID != "" {
		q = q.Where("bk.doctor_id = ?", doctorID)
	}
	if pesel != "" {
		q = q.Where("bk.pesel = ?", pesel)
	}
	err := q.Group("bk.pesel").Scan(ctx, &out)
	return out, err
}

// overLimit reports whether a tally meets the cancellations ground: more than the tenant's
// minimum booked, and more than its percentage of them cancelled by the patient.
func overLimit(t sdk.Tenant, x tally) bool {
	return int64(x.Booked) > blacklistMinBookings.Of(t) && int64(x.Cancelled)*100 > blacklistCancelPercent.Of(t)*int64(x.Booked)
}

// previousMonth is the calendar month before now's, in the tenant's zone.
func previousMonth(t sdk.Tenant, now time.Time) string {
	n := now.In(tenantZone(t))
	return time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}

// record writes an audit record; a failure is logged, the change stands.
func (m *Module) record(ctx context.Context, action, subject, resource string, detail map[string]any) {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return
	}
	if err := h.Record(ctx, sdk.AuditRecord{Action: action, Subject: subject, Resource: resource, Detail: detail}); err != nil {
		m.Log.Error("audit", "action", action, "err", err)
	}
}

// patientName is the name the latest booking with this PESEL gives (of one doctor when
// doctorID is set), for the pages and the audit trail, which show words, never a PESEL alone.
func patientName(ctx context.Context, sc *store.Scope, doctorID, pesel string) (string, string, error) {
	var b Booking
	q := sc.Select(&b).Column("patient_first_name", "patient_last_name", "user_id").Where("bk.pesel = ?", pesel)
	if doctorID != "" {
		q = q.Where("bk.doctor_id = ?", doctorID)
	}
	err := q.Order("bk.created_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sqlNoRows) {
		return "", "", nil
	}
	return strings.TrimSpace(b.PatientFirstName + " " + b.PatientLastName), b.UserID, err
}

// proposeBlacklists is the monthly job (C12, C13): for the month that ended, it proposes to
// each doctor the patients who cancelled more than the tenant's percentage of their visits
// with him (never adding them: the doctor decides); and, when the tenant keeps a portal
// list, the patients on more than one doctor's list or who cancelled more than the
// percentage of all their visits, applied at once or proposed to the administrator as the
// tenant's rule says. A patient already on the list, or whose proposal for that month was
// rejected, is not proposed again.
func (m *Module) proposeBlacklists(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	month := previousMonth(t, m.now())
	type audit struct {
		action, resource string
		detail           map[string]any
	}
	var done []audit
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		rows, err := tallies(ctx, sc, month, true, "", "")
		if err != nil {
			return err
		}
		for _, x := range rows {
			if !overLimit(t, x) {
				continue
			}
			n, err := sc.Select((*BlacklistEntry)(nil)).Where("bl.doctor_id = ? AND bl.pesel = ?", x.DoctorID, x.PESEL).
				Where("(bl.status IN (?) OR (bl.status = ? AND bl.month = ?))", bunIn([]string{entryProposed, entryActive}), entryRejected, month).Count(ctx)
			if err != nil || n > 0 {
				if err != nil {
					return err
				}
				continue
			}
			name, _, err := patientName(ctx, sc, x.DoctorID, x.PESEL)
			if err != nil {
				return err
			}
			e := &BlacklistEntry{TenantID: t.ID, ID: newID(), DoctorID: x.DoctorID, PESEL: x.PESEL, Patient: name, Ground: groundCancellations,
				Month: month, Status: entryProposed, CreatedAt: m.now()}
			if _, err := sc.Insert(e).Exec(ctx); err != nil {
				return err
			}
			done = append(done, audit{auditBlacklistProposed, e.ID, map[string]any{"month_date": month + "-01", "patient": name}})
		}
		if !adminBlacklistEnabled.Of(t) {
			return nil
		}
		status, action := entryProposed, auditPortalProposed
		if adminBlacklistAutoApply.Of(t) {
			status, action = entryActive, auditPortalAdded
		}
		candidates := map[string]string{} // PESEL → ground
		var multi []struct {
			PESEL string `bun:"pesel"`
		}
		if err := sc.Select((*BlacklistEntry)(nil)).ColumnExpr("bl.pesel AS pesel").Where("bl.status = ?", entryActive).
			Group("bl.pesel").Having("COUNT(DISTINCT bl.doctor_id) > 1").Scan(ctx, &multi); err != nil {
			return err
		}
		for _, x := range multi {
			candidates[x.PESEL] = groundDoctors
		}
		all, err := tallies(ctx, sc, month, false, "", "")
		if err != nil {
			return err
		}
		for _, x := range all {
			if _, ok := candidates[x.PESEL]; !ok && overLimit(t, x) {
				candidates[x.PESEL] = groundCancellations
			}
		}
		for pesel, ground := range candidates {
			n, err := sc.Select((*PortalEntry)(nil)).Where("pb.pesel = ?", pesel).
				Where("(pb.status IN (?) OR (pb.status = ? AND pb.month = ?))", bunIn([]string{entryProposed, entryActive}), entryRejected, month).Count(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			e := &PortalEntry{TenantID: t.ID, ID: newID(), PESEL: pesel, Ground: ground, Month: month, Status: status, CreatedAt: m.now()}
			if _, err := sc.Insert(e).Exec(ctx); err != nil {
				return err
			}
			done = append(done, audit{action, e.ID, map[string]any{"month_date": month + "-01", "ground": m.Msgs.For(t.Locale).T("calendar.portal_ground." + ground)}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range done {
		m.record(ctx, a.action, "", a.resource, a.detail)
	}
	return nil
}

// ---- the doctor's pages (C12) ----

// myDoctors are the doctor records whose account is the signed-in user: the only lists he
// sees. A role alone (a tenant administrator granting himself "doctor") gives none.
func myDoctors(ctx context.Context, sc *store.Scope, userID string) ([]Doctor, error) {
	var ds []Doctor
	if userID == "" {
		return nil, nil
	}
	err := sc.Select(&ds).Where("dr.user_id = ?", userID).Order("dr.last_name").Scan(ctx)
	return ds, err
}

// ListedEntry is an entry as the doctor's page shows it.
type ListedEntry struct {
	BlacklistEntry
	Doctor    string
	MonthFrom time.Time
	MonthTo   time.Time
	Booking   *Booking
}

// blacklistPage is the doctor's list (C12): his entries, the job's proposals to accept or
// reject, the removal requests with the date each must be decided by (overdue ones marked),
// and the form to add a patient; ?pesel= shows that patient's bookings with him, from which
// a breach ground's booking is chosen.
func (m *Module) blacklistPage(c *kit.Ctx) error {
	v := c.View("calendar.blacklist.title")
	return m.renderBlacklist(c, http.StatusOK, v, natid.Normalize(c.Query("pesel")))
}

func (m *Module) renderBlacklist(c *kit.Ctx, status int, v *kit.View, pesel string) error {
	now := m.now()
	var ds []Doctor
	var entries, proposals []ListedEntry
	var requests []RemovalRequest
	var bookings []Booking
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if ds, err = myDoctors(ctx, sc, c.User().ID); err != nil || len(ds) == 0 {
			return err
		}
		ids, names := []string{}, map[string]string{}
		for _, d := range ds {
			ids, names[d.ID] = append(ids, d.ID), d.display()
		}
		var es []BlacklistEntry
		if err := sc.Select(&es).Where("bl.doctor_id IN (?)", bunIn(ids)).Where("bl.status IN (?)", bunIn([]string{entryProposed, entryActive})).
			Order("bl.created_at DESC").Limit(1000).Scan(ctx); err != nil {
			return err
		}
		var bids []string
		for _, e := range es {
			if e.BookingID != "" {
				bids = append(bids, e.BookingID)
			}
		}
		byID := map[string]*Booking{}
		if len(bids) > 0 {
			var bs []Booking
			if err := sc.Select(&bs).Where("bk.id IN (?)", bunIn(bids)).Scan(ctx); err != nil {
				return err
			}
			for i := range bs {
				byID[bs[i].ID] = &bs[i]
			}
		}
		for _, e := range es {
			le := ListedEntry{BlacklistEntry: e, Doctor: names[e.DoctorID], Booking: byID[e.BookingID]}
			if from, _, ok := monthRange(e.Month); ok {
				le.MonthFrom, _ = time.Parse(time.DateOnly, from)
				le.MonthTo = le.MonthFrom.AddDate(0, 1, -1)
			}
			if e.Status == entryProposed {
				proposals = append(proposals, le)
			} else {
				entries = append(entries, le)
			}
		}
		if err := sc.Select(&requests).Where("rq.list = ?", listDoctor).Where("rq.doctor_id IN (?)", bunIn(ids)).Where("rq.status = ?", requestOpen).
			Order("rq.due_at").Scan(ctx); err != nil {
			return err
		}
		if pesel != "" {
			return sc.Select(&bookings).Where("bk.doctor_id IN (?)", bunIn(ids)).Where("bk.pesel = ?", pesel).
				Where("bk.created_at <= ?", now).Order("bk.starts_at DESC").Limit(100).Scan(ctx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pesel != "" {
		v.Values["pesel"] = pesel
	}
	v.Data["Doctors"], v.Data["Entries"], v.Data["Proposals"], v.Data["Requests"] = ds, entries, proposals, requests
	v.Data["Bookings"], v.Data["Pesel"], v.Data["Now"], v.Data["Grounds"] = bookings, pesel, now, doctorGrounds
	var months []time.Time
	n := now.In(tenantZone(c.Tenant()))
	for i := 0; i < 12; i++ {
		months = append(months, time.Date(n.Year(), n.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, -i, 0))
	}
	v.Data["Months"] = months
	return c.Render(status, "blacklist", v)
}

// addToBlacklist puts a patient on one of the doctor's lists (C12), on one of the three
// grounds only: the cancellations of a calendar month, checked against his bookings; or a
// breach in connection with an earlier booking of this patient with this doctor, chosen
// from those bookings. Bad input is told next to its field and changes nothing.
func (m *Module) addToBlacklist(c *kit.Ctx) error {
	v := c.View("calendar.blacklist.title")
	pesel, ground, month, bookingID := natid.Normalize(c.Form("pesel")), c.Form("ground"), c.Form("month"), c.Form("booking")
	v.Values["pesel"], v.Values["ground"], v.Values["month"], v.Values["booking"] = pesel, ground, month, bookingID
	if e := checkNationalID(c.Tenant().Country, pesel, m.now().In(tenantZone(c.Tenant()))); e != "" {
		v.Errors["pesel"] = e
	}
	known := false
	for _, g := range doctorGrounds {
		known = known || g == ground
	}
	if !known {
		v.Errors["ground"] = "calendar.blacklist.err.ground"
	}
	t := c.Tenant()
	var entry *BlacklistEntry
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		ds, err := myDoctors(ctx, sc, c.User().ID)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return kit.ErrNotFound
		}
		doctor := ds[0]
		if id := c.Form("doctor"); id != "" {
			found := false
			for _, d := range ds {
				if d.ID == id {
					doctor, found = d, true
				}
			}
			if !found {
				return kit.ErrNotFound
			}
		}
		if len(v.Errors) > 0 {
			return nil
		}
		e := &BlacklistEntry{TenantID: t.ID, ID: newID(), DoctorID: doctor.ID, PESEL: pesel, Ground: ground, Status: entryActive,
			CreatedBy: c.User().ID, CreatedAt: m.now()}
		if ground == groundCancellations {
			if _, _, ok := monthRange(month); !ok {
				v.Errors["month"] = "calendar.blacklist.err.month"
				return nil
			}
			xs, err := tallies(ctx, sc, month, true, doctor.ID, pesel)
			if err != nil {
				return err
			}
			if len(xs) == 0 || !overLimit(t, xs[0]) {
				v.Errors["month"] = "calendar.blacklist.err.not_over"
				return nil
			}
			e.Month = month
		} else {
			// An earlier booking of this patient with this doctor (seed 4.16 b, c).
			n, err := sc.Select((*Booking)(nil)).Where("bk.id = ?", bookingID).Where("bk.doctor_id = ?", doctor.ID).
				Where("bk.pesel = ?", pesel).Where("bk.created_at <= ?", m.now()).Count(ctx)
			if err != nil {
				return err
			}
			if n != 1 {
				v.Errors["booking"] = "calendar.blacklist.err.booking"
				return nil
			}
			e.BookingID = bookingID
		}
		if e.Patient, _, err = patientName(ctx, sc, doctor.ID, pesel); err != nil {
			return err
		}
		if _, err := sc.Insert(e).Exec(ctx); store.IsUniqueViolation(err) {
			v.Errors["pesel"] = "calendar.blacklist.err.listed"
			return nil
		} else if err != nil {
			return err
		}
		entry = e
		return nil
	})
	if err != nil {
		return err
	}
	if entry == nil {
		return m.renderBlacklist(c, http.StatusUnprocessableEntity, v, pesel)
	}
	m.record(c.Context(), auditBlacklistAdded, "", entry.ID, map[string]any{"patient": entry.Patient})
	return c.Redirect("/calendar/blacklist", "blacklist_added")
}

// decideEntry changes one of the doctor's entries from one state to another (remove an
// active entry, accept or reject a proposal): a guarded update on his own doctor records
// only, so an entry of another doctor is not found.
func (m *Module) decideEntry(from, to, action, done string) kit.Handler {
	return func(c *kit.Ctx) error {
		var e BlacklistEntry
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			mine := "bl.doctor_id IN (SELECT dr.id FROM calendar_doctors AS dr WHERE dr.tenant_id = ? AND dr.user_id = ?)"
			if err := sc.Select(&e).Where("bl.id = ?", c.Param("id")).Where(mine, sc.TenantID, c.User().ID).Scan(ctx); errors.Is(err, sqlNoRows) {
				return kit.ErrNotFound
			} else if err != nil {
				return err
			}
			return m.moveEntry(ctx, sc, (*BlacklistEntry)(nil), "bl", e.ID, from, to)
		})
		if err != nil {
			return err
		}
		m.record(c.Context(), action, "", e.ID, map[string]any{"patient": e.Patient})
		return c.Redirect("/calendar/blacklist", done)
	}
}

// answerRequest is the decision on a removal request (C12, C13), on the doctor's own
// requests or, for the portal's list, the administrator's: granting it takes the patient
// off the list.
func (m *Module) answerRequest(list string) kit.Handler {
	return func(c *kit.Ctx) error {
		decision := c.Form("decision")
		if decision != requestGranted && decision != requestRefused {
			return kit.ErrBadRequest
		}
		var r RemovalRequest
		var who string // the list's keeper, as the patient is told: the doctor, or the service
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			q := sc.Select(&r).Where("rq.id = ?", c.Param("id")).Where("rq.list = ?", list)
			if list == listDoctor {
				q = q.Where("rq.doctor_id IN (SELECT dr.id FROM calendar_doctors AS dr WHERE dr.tenant_id = ? AND dr.user_id = ?)", sc.TenantID, c.User().ID)
			}
			if err := q.Scan(ctx); errors.Is(err, sqlNoRows) {
				return kit.ErrNotFound
			} else if err != nil {
				return err
			}
			res, err := sc.Update((*RemovalRequest)(nil)).Set("status = ?", decision).Set("decided_at = ?", m.now()).
				Where("rq.id = ?", r.ID).Where("rq.status = ?", requestOpen).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return kit.ErrNotFound
			}
			who = c.Tenant().Name
			if list == listDoctor {
				var d Doctor
				if err := sc.Select(&d).Where("dr.id = ?", r.DoctorID).Scan(ctx); err != nil {
					return err
				}
				who = d.display()
			}
			if decision != requestGranted {
				return nil
			}
			if list == listDoctor {
				_, err = sc.Update((*BlacklistEntry)(nil)).Set("status = ?", entryRemoved).Set("decided_at = ?", m.now()).
					Where("bl.id = ?", r.EntryID).Where("bl.status = ?", entryActive).Exec(ctx)
			} else {
				_, err = sc.Update((*PortalEntry)(nil)).Set("status = ?", entryRemoved).Set("decided_at = ?", m.now()).
					Where("pb.id = ?", r.EntryID).Where("pb.status = ?", entryActive).Exec(ctx)
			}
			return err
		})
		if err != nil {
			return err
		}
		action, page := auditBlacklistAnswered, "/calendar/blacklist"
		if list == listPortal {
			action, page = auditPortalAnswered, "/calendar/admin/blacklist"
		}
		m.record(c.Context(), action, r.UserID, r.ID, map[string]any{"patient": r.Name})
		tmpl := tmplRemovalRefused
		if decision == requestGranted {
			tmpl = tmplRemovalGranted
		}
		msg := sdk.Message{UserID: r.UserID, Template: tmpl, Link: "/calendar", Data: map[string]any{"Who": who}}
		if msg.UserID == "" {
			msg.To = r.Email
		}
		if _, err := c.Host().Send(c.Context(), msg); err != nil {
			c.LogFailure(err) // the decision stands
		}
		return c.Redirect(page, "request_"+decision)
	}
}

// ---- removal requests from patients ----

// removalPage is the form a patient (signed in or not) fills to ask the doctor to take him
// off his list (C12, seed 4.18): name, PESEL, justification, e-mail.
func (m *Module) removalPage(c *kit.Ctx) error {
	d, err := m.listedDoctor(c)
	if err != nil {
		return err
	}
	v := c.View("calendar.removal.title")
	if u := c.User(); u != nil {
		v.Values["name"], v.Values["email"], v.Values["pesel"] = u.Name, u.Email, u.Profile["pesel"]
	}
	v.Data["Doctor"] = d
	return c.Render(http.StatusOK, "removal", v)
}

// listedDoctor is the doctor of the route.
func (m *Module) listedDoctor(c *kit.Ctx) (*Doctor, error) {
	var d Doctor
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&d).Where("dr.id = ?", c.Param("id")).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	return &d, err
}

// checkRequest checks the fields every removal request has.
func (m *Module) checkRequest(c *kit.Ctx, v *kit.View, withName bool) (name, pesel, email, why string) {
	name, pesel = strings.TrimSpace(c.Form("name")), natid.Normalize(c.Form("pesel"))
	email, why = strings.TrimSpace(c.Form("email")), strings.TrimSpace(c.Form("justification"))
	v.Values["name"], v.Values["pesel"], v.Values["email"], v.Values["justification"] = name, pesel, email, why
	if withName && name == "" {
		v.Errors["name"] = "calendar.removal.err.name"
	}
	if e := checkNationalID(c.Tenant().Country, pesel, m.now().In(tenantZone(c.Tenant()))); e != "" {
		v.Errors["pesel"] = e
	}
	if withName {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			v.Errors["email"] = "calendar.removal.err.email"
		}
	}
	if why == "" || utf8.RuneCountInString(why) > blacklistRequestMaxText {
		v.Errors["justification"] = "calendar.removal.err.justification"
	}
	return
}

// insertRequest stores r, unless a request about the same entry is still open (the
// database holds it): then the form says so next to the justification, and nothing changes.
func (m *Module) insertRequest(ctx context.Context, sc *store.Scope, v *kit.View, r *RemovalRequest) error {
	_, err := sc.Insert(r).On("CONFLICT (tenant_id, entry_id) WHERE status = 'open' DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	var open RemovalRequest
	if err := sc.Select(&open).Where("rq.entry_id = ?", r.EntryID).Where("rq.status = ?", requestOpen).Scan(ctx); err != nil {
		return err
	}
	if open.ID != r.ID {
		v.Errors["justification"] = "calendar.removal.err.pending"
	}
	return nil
}

// askRemoval stores a removal request to the doctor, to be decided within the tenant's
// days (C12): only a PESEL on his list can ask.
func (m *Module) askRemoval(c *kit.Ctx) error {
	d, err := m.listedDoctor(c)
	if err != nil {
		return err
	}
	v := c.View("calendar.removal.title")
	v.Data["Doctor"] = d
	name, pesel, email, why := m.checkRequest(c, v, true)
	t := c.Tenant()
	var r *RemovalRequest
	if len(v.Errors) == 0 {
		err = c.In(func(ctx context.Context, sc *store.Scope) error {
			var e BlacklistEntry
			err := sc.Select(&e).Where("bl.doctor_id = ?", d.ID).Where("bl.pesel = ?", pesel).Where("bl.status = ?", entryActive).Scan(ctx)
			if errors.Is(err, sqlNoRows) {
				v.Errors["pesel"] = "calendar.removal.err.not_listed"
				return nil
			} else if err != nil {
				return err
			}
			now := m.now()
			r = &RemovalRequest{TenantID: t.ID, ID: newID(), List: listDoctor, EntryID: e.ID, DoctorID: d.ID, PESEL: pesel, Name: name,
				Email: email, Justification: why, Status: requestOpen, CreatedAt: now, DueAt: now.AddDate(0, 0, int(blacklistAnswerDays.Of(t)))}
			if u := c.User(); u != nil {
				r.UserID = u.ID
			}
			return m.insertRequest(ctx, sc, v, r)
		})
		if err != nil {
			return err
		}
	}
	if len(v.Errors) > 0 {
		return c.Render(http.StatusUnprocessableEntity, "removal", v)
	}
	m.record(c.Context(), auditBlacklistAsked, r.UserID, r.ID, map[string]any{"patient": r.Name})
	if d.UserID != "" {
		// The doctor is told at once; the request waits on his list page, with its due date.
		h := c.Host()
		lang := notifyLang(c.Context(), h, t, d.UserID)
		if _, err := h.Send(c.Context(), sdk.Message{UserID: d.UserID, Template: tmplRemovalAsked, Link: "/calendar/blacklist",
			Data: map[string]any{"Patient": r.Name, "Due": locales.FormatDate(lang, r.DueAt, tenantZone(t))}}); err != nil {
			c.LogFailure(err) // the request stands; the page shows it
		}
	}
	v.Data["Sent"], v.Data["Due"] = true, r.DueAt
	return c.Render(http.StatusOK, "removal", v)
}

// portalRemovalPage is the signed-in patient's request to be taken off the portal's list
// (C13, seed 4.17): it comes from his account's own e-mail address.
func (m *Module) portalRemovalPage(c *kit.Ctx) error {
	if !adminBlacklistEnabled.Of(c.Tenant()) {
		return kit.ErrNotFound
	}
	v := c.View("calendar.portal_removal.title")
	v.Values["pesel"] = c.User().Profile["pesel"]
	return c.Render(http.StatusOK, "portalremoval", v)
}

// askPortalRemoval stores the request, from the account's e-mail, for a PESEL that is the
// account's (its profile's, or one it booked as its own visits with) and on the portal's
// list; the administrator decides within the tenant's days.
func (m *Module) askPortalRemoval(c *kit.Ctx) error {
	t := c.Tenant()
	if !adminBlacklistEnabled.Of(t) {
		return kit.ErrNotFound
	}
	v := c.View("calendar.portal_removal.title")
	u := c.User()
	_, pesel, _, why := m.checkRequest(c, v, false)
	var r *RemovalRequest
	if len(v.Errors) == 0 {
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			if u.Profile["pesel"] != pesel {
				n, err := sc.Select((*Booking)(nil)).Where("bk.user_id = ?", u.ID).Where("bk.pesel = ?", pesel).Where("NOT bk.for_other").Count(ctx)
				if err != nil {
					return err
				}
				if n == 0 {
					v.Errors["pesel"] = "calendar.portal_removal.err.not_yours"
					return nil
				}
			}
			var e PortalEntry
			err := sc.Select(&e).Where("pb.pesel = ?", pesel).Where("pb.status = ?", entryActive).Scan(ctx)
			if errors.Is(err, sqlNoRows) {
				v.Errors["pesel"] = "calendar.removal.err.not_listed"
				return nil
			} else if err != nil {
				return err
			}
			now := m.now()
			r = &RemovalRequest{TenantID: t.ID, ID: newID(), List: listPortal, EntryID: e.ID, PESEL: pesel, Name: u.Name, Email: u.Email,
				UserID: u.ID, Justification: why, Status: requestOpen, CreatedAt: now, DueAt: now.AddDate(0, 0, int(adminBlacklistAnswerDays.Of(t)))}
			return m.insertRequest(ctx, sc, v, r)
		})
		if err != nil {
			return err
		}
	}
	if len(v.Errors) > 0 {
		return c.Render(http.StatusUnprocessableEntity, "portalremoval", v)
	}
	m.record(c.Context(), auditPortalAsked, u.ID, r.ID, map[string]any{"patient": r.Name})
	v.Data["Sent"], v.Data["Due"] = true, r.DueAt
	return c.Render(http.StatusOK, "portalremoval", v)
}

// ---- the administrator's pages (C13) ----

// PortalListed is a portal entry as the administrator's page shows it.
type PortalListed struct {
	PortalEntry
	Patient   string
	MonthFrom time.Time
	MonthTo   time.Time
}

// adminBlacklistPage is the portal's list: its entries and the job's proposals, the open
// removal requests with their due dates, and for a PESEL asked about, on how many doctors'
// lists it is — a number, never the lists themselves (C12).
func (m *Module) adminBlacklistPage(c *kit.Ctx) error {
	v := c.View("calendar.admin_blacklist.title")
	return m.renderAdminBlacklist(c, http.StatusOK, v, natid.Normalize(c.Query("pesel")))
}

func (m *Module) renderAdminBlacklist(c *kit.Ctx, status int, v *kit.View, pesel string) error {
	t := c.Tenant()
	v.Data["Enabled"], v.Data["Now"] = adminBlacklistEnabled.Of(t), m.now()
	if !adminBlacklistEnabled.Of(t) {
		return c.Render(status, "adminblacklist", v)
	}
	var entries, proposals []PortalListed
	var requests []RemovalRequest
	lists := -1
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var es []PortalEntry
		if err := sc.Select(&es).Where("pb.status IN (?)", bunIn([]string{entryProposed, entryActive})).Order("pb.created_at DESC").Limit(1000).Scan(ctx); err != nil {
			return err
		}
		// The name each PESEL was last booked under.
		names := map[string]string{}
		if len(es) > 0 {
			var ps []string
			for _, e := range es {
				ps = append(ps, e.PESEL)
			}
			var bs []Booking
			if err := sc.Select(&bs).Column("pesel", "patient_first_name", "patient_last_name").Where("bk.pesel IN (?)", bunIn(ps)).
				Order("bk.created_at").Scan(ctx); err != nil {
				return err
			}
			for _, b := range bs {
				names[b.PESEL] = strings.TrimSpace(b.PatientFirstName + " " + b.PatientLastName)
			}
		}
		for _, e := range es {
			pl := PortalListed{PortalEntry: e, Patient: names[e.PESEL]}
			if from, _, ok := monthRange(e.Month); ok {
				pl.MonthFrom, _ = time.Parse(time.DateOnly, from)
				pl.MonthTo = pl.MonthFrom.AddDate(0, 1, -1)
			}
			if e.Status == entryProposed {
				proposals = append(proposals, pl)
			} else {
				entries = append(entries, pl)
			}
		}
		if err := sc.Select(&requests).Where("rq.list = ?", listPortal).Where("rq.status = ?", requestOpen).Order("rq.due_at").Scan(ctx); err != nil {
			return err
		}
		if pesel != "" {
			n, err := doctorListCount(ctx, sc, pesel)
			lists = n
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pesel != "" {
		v.Values["pesel"] = pesel
	}
	v.Data["Entries"], v.Data["Proposals"], v.Data["Requests"], v.Data["Lists"] = entries, proposals, requests, lists
	return c.Render(status, "adminblacklist", v)
}

// doctorListCount is on how many doctors' lists a PESEL is: all the administrator may know
// of them (C12, C13 a).
func doctorListCount(ctx context.Context, sc *store.Scope, pesel string) (int, error) {
	var n int
	err := sc.Select((*BlacklistEntry)(nil)).ColumnExpr("COUNT(DISTINCT bl.doctor_id)").Where("bl.pesel = ?", pesel).
		Where("bl.status = ?", entryActive).Scan(ctx, &n)
	return n, err
}

// addToPortalBlacklist puts a patient on the portal's list (C13) on one of its grounds:
// on more than one doctor's list, the cancellations of a calendar month across all his
// visits (both checked here), or a gross breach (the administrator's judgement).
func (m *Module) addToPortalBlacklist(c *kit.Ctx) error {
	t := c.Tenant()
	if !adminBlacklistEnabled.Of(t) {
		return kit.ErrNotFound
	}
	v := c.View("calendar.admin_blacklist.title")
	pesel, ground, month := natid.Normalize(c.Form("pesel")), c.Form("ground"), c.Form("month")
	v.Values["pesel"], v.Values["ground"], v.Values["month"] = pesel, ground, month
	if e := checkNationalID(t.Country, pesel, m.now().In(tenantZone(t))); e != "" {
		v.Errors["pesel"] = e
	}
	known := false
	for _, g := range portalGrounds {
		known = known || g == ground
	}
	if !known {
		v.Errors["ground"] = "calendar.blacklist.err.ground"
	}
	var entry *PortalEntry
	if len(v.Errors) == 0 {
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			e := &PortalEntry{TenantID: t.ID, ID: newID(), PESEL: pesel, Ground: ground, Status: entryActive, CreatedBy: c.User().ID, CreatedAt: m.now()}
			switch ground {
			case groundDoctors:
				n, err := doctorListCount(ctx, sc, pesel)
				if err != nil {
					return err
				}
				if n < 2 {
					v.Errors["ground"] = "calendar.admin_blacklist.err.doctors"
					return nil
				}
			case groundCancellations:
				if _, _, ok := monthRange(month); !ok {
					v.Errors["month"] = "calendar.blacklist.err.month"
					return nil
				}
				xs, err := tallies(ctx, sc, month, false, "", pesel)
				if err != nil {
					return err
				}
				if len(xs) == 0 || !overLimit(t, xs[0]) {
					v.Errors["month"] = "calendar.blacklist.err.not_over"
					return nil
				}
				e.Month = month
			}
			if _, err := sc.Insert(e).Exec(ctx); store.IsUniqueViolation(err) {
				v.Errors["pesel"] = "calendar.blacklist.err.listed"
				return nil
			} else if err != nil {
				return err
			}
			entry = e
			return nil
		})
		if err != nil {
			return err
		}
	}
	if entry == nil {
		return m.renderAdminBlacklist(c, http.StatusUnprocessableEntity, v, "")
	}
	m.record(c.Context(), auditPortalAdded, "", entry.ID, map[string]any{"ground": v.T("calendar.portal_ground." + ground)})
	return c.Redirect("/calendar/admin/blacklist", "blacklist_added")
}

// moveEntry moves the entry id of a list (model, its alias) from one state to another,
// guarded on its state (ErrNotFound when it is no longer in from); a removal answers the
// open requests about the entry: granted.
func (m *Module) moveEntry(ctx context.Context, sc *store.Scope, model any, alias, id, from, to string) error {
	res, err := sc.Update(model).Set("status = ?", to).Set("decided_at = ?", m.now()).
		Where(alias+".id = ?", id).Where(alias+".status = ?", from).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kit.ErrNotFound
	}
	if to == entryRemoved {
		_, err = sc.Update((*RemovalRequest)(nil)).Set("status = ?", requestGranted).Set("decided_at = ?", m.now()).
			Where("rq.entry_id = ?", id).Where("rq.status = ?", requestOpen).Exec(ctx)
	}
	return err
}

// decidePortalEntry moves a portal entry from one state to another (remove, accept or
// reject a proposal), guarded on its state.
func (m *Module) decidePortalEntry(from, to, action, done string) kit.Handler {
	return func(c *kit.Ctx) error {
		if !adminBlacklistEnabled.Of(c.Tenant()) {
			return kit.ErrNotFound
		}
		var e PortalEntry
		err := c.In(func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&e).Where("pb.id = ?", c.Param("id")).Scan(ctx); errors.Is(err, sqlNoRows) {
				return kit.ErrNotFound
			} else if err != nil {
				return err
			}
			return m.moveEntry(ctx, sc, (*PortalEntry)(nil), "pb", e.ID, from, to)
		})
		if err != nil {
			return err
		}
		m.record(c.Context(), action, "", e.ID, map[string]any{"ground": c.T("calendar.portal_ground." + e.Ground)})
		return c.Redirect("/calendar/admin/blacklist", done)
	}
}

// blacklistRoutes are the lists' routes (C12, C13).
func (m *Module) blacklistRoutes() []kit.Route {
	return []kit.Route{
		kit.Perm("GET /calendar/blacklist", permBlacklist, m.blacklistPage),
		kit.Perm("POST /calendar/blacklist", permBlacklist, m.addToBlacklist),
		kit.Perm("POST /calendar/blacklist/{id}/remove", permBlacklist, m.decideEntry(entryActive, entryRemoved, auditBlacklistRemoved, "blacklist_removed")),
		kit.Perm("POST /calendar/blacklist/{id}/accept", permBlacklist, m.decideEntry(entryProposed, entryActive, auditBlacklistAdded, "blacklist_added")),
		kit.Perm("POST /calendar/blacklist/{id}/reject", permBlacklist, m.decideEntry(entryProposed, entryRejected, auditBlacklistRejected, "proposal_rejected")),
		kit.Perm("POST /calendar/blacklist/requests/{id}/answer", permBlacklist, m.answerRequest(listDoctor)),
		kit.Public("GET /calendar/doctors/{id}/removal", m.removalPage),
		kit.Public("POST /calendar/doctors/{id}/removal", m.askRemoval).Multiline("justification"),
		kit.Perm("GET /calendar/removal", permBook, m.portalRemovalPage),
		kit.Perm("POST /calendar/removal", permBook, m.askPortalRemoval).Multiline("justification"),
		kit.Perm("GET /calendar/admin/blacklist", permAdminBlacklist, m.adminBlacklistPage),
		kit.Perm("POST /calendar/admin/blacklist", permAdminBlacklist, m.addToPortalBlacklist),
		kit.Perm("POST /calendar/admin/blacklist/{id}/remove", permAdminBlacklist, m.decidePortalEntry(entryActive, entryRemoved, auditPortalRemoved, "blacklist_removed")),
		kit.Perm("POST /calendar/admin/blacklist/{id}/accept", permAdminBlacklist, m.decidePortalEntry(entryProposed, entryActive, auditPortalAdded, "blacklist_added")),
		kit.Perm("POST /calendar/admin/blacklist/{id}/reject", permAdminBlacklist, m.decidePortalEntry(entryProposed, entryRejected, auditPortalRejected, "proposal_rejected")),
		kit.Perm("POST /calendar/admin/blacklist/requests/{id}/answer", permAdminBlacklist, m.answerRequest(listPortal)),
	}
}
