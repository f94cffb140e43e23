package calendar

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"image"
	_ "image/jpeg" // photos: decode JPEG
	_ "image/png"  // photos: decode PNG
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"carenet.dev/platform/plugins/calendar/slots"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
)

// Limits of the profile and schedule forms (lengths in characters).
const (
	maxDescription = 2000
	maxCompetences = 500
	maxServiceName = 120
	maxNote        = 200
	maxBuffer      = 120 // minutes; the migration's check says the same
	maxDuration    = 480 // minutes
	maxPhotoBytes  = 2 << 20
	minPhotoSide   = 100
	maxPhotoSide   = 4000
)

// profileLanguages are the languages a doctor may say he speaks (their names are
// calendar.language.<code>).
var profileLanguages = []string{"pl", "en", "de", "fr", "sk", "uk"}

// managedDoctor reads a doctor the account manages (his own record, or one working at
// his facility), or ErrNotFound (C2).
func (m *Module) managedDoctor(c *kit.Ctx, id string) (*Doctor, error) {
	var d Doctor
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&d).Where("dr.id = ?", id).Where(managedSQL, managedArgs(sc, c.User().ID)...).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// manageList is the list of the doctors the account manages; with one, his page.
func (m *Module) manageList(c *kit.Ctx) error {
	var ds []Doctor
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		ds, err = managedDoctors(ctx, sc, c.User().ID)
		return err
	}); err != nil {
		return err
	}
	if len(ds) == 1 {
		return c.Redirect("/calendar/manage/"+ds[0].ID, c.Query("done"))
	}
	v := c.View("calendar.manage.title")
	v.Data["Doctors"] = ds
	return c.Render(http.StatusOK, "managelist", v)
}

// workPlace is a facility a doctor works at, with what he gives and keeps there.
type workPlace struct {
	Facility Facility
	Buffer   int
	Services []Service
	Windows  []Window
	// Clashes are the weekdays whose windows the slots engine refuses (they overlap): no
	// start is offered on them until the doctor removes one (C4).
	Clashes []int
}

// managePage is a doctor's profile and calendar as he or his facility keeps them (C2, C4):
// profile, photo, and for each facility the services, weekly windows and buffer; his
// absences.
func (m *Module) managePage(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := c.View("calendar.manage.title")
	return m.renderManage(c, http.StatusOK, d, v)
}

// renderManage shows the page of d with v (its values and errors).
func (m *Module) renderManage(c *kit.Ctx, status int, d *Doctor, v *kit.View) error {
	var places []workPlace
	var absences []Exception
	var specs []string
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var dfs []DoctorFacility
		if err := sc.Select(&dfs).Where("df.doctor_id = ?", d.ID).Scan(ctx); err != nil {
			return err
		}
		var ds []DoctorSpecialty
		if err := sc.Select(&ds).Where("ds.doctor_id = ?", d.ID).Scan(ctx); err != nil {
			return err
		}
		for _, s := range ds {
			specs = append(specs, s.Specialty)
		}
		for _, df := range dfs {
			p := workPlace{Buffer: df.BufferMinutes}
			if err := sc.Select(&p.Facility).Where("fa.id = ?", df.FacilityID).Scan(ctx); err != nil {
				return err
			}
			if !self(c, d) && p.Facility.UserID != c.User().ID {
				continue // a facility keeps the doctor's calendar at its own facilities only
			}
			if err := sc.Select(&p.Services).Where("sv.doctor_id = ? AND sv.facility_id = ? AND sv.active", d.ID, df.FacilityID).
				Order("sv.name").Scan(ctx); err != nil {
				return err
			}
			if err := sc.Select(&p.Windows).Where("wi.doctor_id = ? AND wi.facility_id = ?", d.ID, df.FacilityID).
				Order("wi.weekday", "wi.start_minute").Scan(ctx); err != nil {
				return err
			}
			p.Clashes = clashingWeekdays(p.Windows, tenantZone(c.Tenant()))
			places = append(places, p)
		}
		kept, args := keptWhere(c, d, sc, "ex")
		return sc.Select(&absences).Where("ex.doctor_id = ? AND ex.kind = 'absence'", d.ID).Where("ex.ends_at > ?", m.now()).Where(kept, args...).
			Order("ex.starts_at").Limit(200).Scan(ctx)
	})
	if err != nil {
		return err
	}
	if _, ok := v.Values["description"]; !ok {
		v.Values["description"], v.Values["competences"] = d.Description, d.Competences
	}
	langs := map[string]bool{}
	for _, l := range strings.Split(d.Languages, ",") {
		langs[l] = true
	}
	v.Data["D"], v.Data["Places"], v.Data["Absences"], v.Data["Specialties"] = d, places, absences, specs
	v.Data["AllLanguages"], v.Data["Speaks"], v.Data["Weekdays"] = profileLanguages, langs, []int{1, 2, 3, 4, 5, 6, 7}
	v.Data["Base"], v.Data["Self"] = "/calendar/manage/"+d.ID, self(c, d)
	return c.Render(status, "manage", v)
}

// invalidManage shows d's page again with v's errors next to their fields (422).
func (m *Module) invalidManage(c *kit.Ctx, d *Doctor, v *kit.View) error {
	return m.renderManage(c, http.StatusUnprocessableEntity, d, v)
}

// formView is a view of the manage page carrying the posted values of fields.
func formView(c *kit.Ctx, fields ...string) *kit.View {
	v := c.View("calendar.manage.title")
	for _, f := range fields {
		v.Values[f] = strings.TrimSpace(c.Form(f))
	}
	return v
}

// saveProfile stores the doctor's description, competences and languages (C1, C2).
func (m *Module) saveProfile(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := formView(c, "description", "competences")
	if utf8.RuneCountInString(v.Values["description"]) > maxDescription {
		v.Errors["description"] = "calendar.manage.err.too_long"
	}
	if utf8.RuneCountInString(v.Values["competences"]) > maxCompetences {
		v.Errors["competences"] = "calendar.manage.err.too_long"
	}
	if err := c.R.ParseForm(); err != nil {
		return kit.ErrBadRequest
	}
	var langs []string
	for _, l := range c.R.Form["languages"] {
		known := false
		for _, k := range profileLanguages {
			known = known || k == l
		}
		if !known {
			return kit.ErrBadRequest // not one of the boxes the form offers
		}
		langs = append(langs, l)
	}
	if len(v.Errors) > 0 {
		return m.invalidManage(c, d, v)
	}
	var specs []string
	var facilities []string
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var ds []DoctorSpecialty
		var dfs []DoctorFacility
		if err := sc.Select(&ds).Where("ds.doctor_id = ?", d.ID).Scan(ctx); err != nil {
			return err
		}
		for _, s := range ds {
			specs = append(specs, s.Specialty)
		}
		if err := sc.Select(&dfs).Where("df.doctor_id = ?", d.ID).Scan(ctx); err != nil {
			return err
		}
		for _, f := range dfs {
			facilities = append(facilities, f.FacilityID)
		}
		return nil
	}); err != nil {
		return err
	}
	d.Description, d.Competences, d.Languages = v.Values["description"], v.Values["competences"], strings.Join(langs, ",")
	if err := m.saveDoctor(c.Context(), c.Tenant(), d, specs, facilities); err != nil {
		return err
	}
	return c.Redirect("/calendar/manage/"+d.ID, "profile_saved")
}

// savePhoto stores the doctor's photo (C1): a PNG or JPEG that decodes, at most 2 MB,
// each side between 100 and 4,000 pixels; the former photo is deleted.
func (m *Module) savePhoto(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := c.View("calendar.manage.title")
	f, _, err := c.R.FormFile("photo")
	if err != nil {
		v.Errors["photo"] = "calendar.manage.err.photo_missing"
		return m.invalidManage(c, d, v)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPhotoBytes+1))
	f.Close()
	if err != nil {
		return err
	}
	kind, err := upload.Check(data, upload.PNG, upload.JPEG)
	switch {
	case len(data) > maxPhotoBytes:
		v.Errors["photo"] = "calendar.manage.err.photo_size"
	case err != nil:
		v.Errors["photo"] = "calendar.manage.err.photo_type"
	default:
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width < minPhotoSide || cfg.Height < minPhotoSide || cfg.Width > maxPhotoSide || cfg.Height > maxPhotoSide {
			v.Errors["photo"] = "calendar.manage.err.photo_dimensions"
		}
	}
	if len(v.Errors) > 0 {
		return m.invalidManage(c, d, v)
	}
	id, err := c.Host().PutBlob(c.Context(), sdk.Blob{Name: "photo" + kind.Ext, ContentType: kind.ContentType, Data: data})
	if err != nil {
		return err
	}
	old := d.PhotoBlob
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Doctor)(nil)).Set("photo_blob = ?", id).Set("updated_at = ?", m.now()).Where("dr.id = ?", d.ID).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	if old != "" {
		if err := c.Host().DeleteBlob(c.Context(), old); err != nil {
			c.LogFailure(err)
		}
	}
	return c.Redirect("/calendar/manage/"+d.ID, "photo_saved")
}

// photo serves a doctor's photo (public, like his page): only the blob his record names,
// with the type its bytes were checked to be.
func (m *Module) photo(c *kit.Ctx) error {
	var d Doctor
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&d).Where("dr.id = ?", c.Param("id")).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		}
		return err
	}); err != nil {
		return err
	}
	if d.PhotoBlob == "" {
		return kit.ErrNotFound
	}
	b, err := c.Host().Blob(c.Context(), d.PhotoBlob)
	if err != nil {
		return kit.ErrNotFound
	}
	kind, err := upload.Check(b.Data, upload.PNG, upload.JPEG)
	if err != nil {
		return kit.ErrNotFound
	}
	upload.Serve(c.W.Header().Set, kind, "photo"+kind.Ext, true)
	c.W.Header().Set("Cache-Control", "public, max-age=300")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(b.Data)
	return err
}

// self reports whether the account is the doctor himself (not his facility).
func self(c *kit.Ctx, d *Doctor) bool { return d.UserID != "" && d.UserID == c.User().ID }

// mayKeep reports whether the account keeps the doctor's calendar at the facility (C2):
// the doctor at any facility he works at; a facility's account only at its own.
func (m *Module) mayKeep(c *kit.Ctx, d *Doctor, facilityID string) (bool, error) {
	var n int64
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		q := sc.Select((*DoctorFacility)(nil)).Where("df.doctor_id = ? AND df.facility_id = ?", d.ID, facilityID)
		if !self(c, d) {
			q = q.Where("df.facility_id IN (SELECT fa.id FROM calendar_facilities AS fa WHERE fa.tenant_id = ? AND fa.user_id = ?)", sc.TenantID, c.User().ID)
		}
		var err error
		n, err = q.Count(ctx)
		return err
	})
	return n == 1, err
}

// keptWhere narrows rows of the doctor's calendar (a table's alias) to the facilities the
// account keeps: all for the doctor himself, its own for a facility.
func keptWhere(c *kit.Ctx, d *Doctor, sc *store.Scope, alias string) (string, []any) {
	if self(c, d) {
		return "TRUE", nil
	}
	return alias + ".facility_id IN (SELECT fa.id FROM calendar_facilities AS fa WHERE fa.tenant_id = ? AND fa.user_id = ?)", []any{sc.TenantID, c.User().ID}
}

// changeKept makes one change (exec) to one row of the route's doctor that the account keeps
// — a service, a window, an absence, named by the route's parameter param — guarded by
// the row being his and kept by the account (keptWhere): any other row is ErrNotFound,
// nothing changed. Then back to the doctor's page with done.
func (m *Module) changeKept(c *kit.Ctx, alias, param, done string, exec func(ctx context.Context, sc *store.Scope, where string, args []any) (sql.Result, error)) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		kept, kargs := keptWhere(c, d, sc, alias)
		res, err := exec(ctx, sc, alias+".id = ? AND "+alias+".doctor_id = ? AND "+kept, append([]any{c.Param(param), d.ID}, kargs...))
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
	return c.Redirect("/calendar/manage/"+d.ID, done)
}

// parsePrice reads a gross price in the currency's major unit ("150", "150,50", "150.5")
// as minor units; ok is false for anything else, negative or absurd.
func parsePrice(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), "\u00a0", "")
	s = strings.Replace(s, ",", ".", 1)
	if s == "" || strings.ContainsAny(s, "eE+-") {
		return 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 2 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e7 {
		return 0, false
	}
	return int64(math.Round(f * 100)), true
}

// addService adds a service the doctor gives at one of his facilities (C4, C5): a name,
// one of his specialties, a length in 5-minute steps, and the gross price, VAT included.
func (m *Module) addService(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := formView(c, "svc_name", "svc_specialty", "svc_duration", "svc_price", "svc_facility")
	ok, err := m.mayKeep(c, d, v.Values["svc_facility"])
	if err != nil {
		return err
	}
	if !ok {
		return kit.ErrBadRequest // not one of the form's choices
	}
	if n := utf8.RuneCountInString(v.Values["svc_name"]); n == 0 {
		v.Errors["svc_name"] = "calendar.manage.err.required"
	} else if n > maxServiceName {
		v.Errors["svc_name"] = "calendar.manage.err.too_long"
	}
	if !knownSpecialty(v.Values["svc_specialty"]) {
		v.Errors["svc_specialty"] = "calendar.manage.err.specialty"
	}
	dur, err := strconv.Atoi(v.Values["svc_duration"])
	if err != nil || dur < 5 || dur > maxDuration || dur%5 != 0 {
		v.Errors["svc_duration"] = "calendar.manage.err.duration"
	}
	price, ok := parsePrice(v.Values["svc_price"])
	if !ok {
		v.Errors["svc_price"] = "calendar.manage.err.price"
	}
	if len(v.Errors) > 0 {
		return m.invalidManage(c, d, v)
	}
	s := &Service{DoctorID: d.ID, FacilityID: v.Values["svc_facility"], Name: v.Values["svc_name"], Specialty: v.Values["svc_specialty"],
		DurationMinutes: dur, PriceMinor: price, VATIncluded: true, Active: true}
	if err := m.saveService(c.Context(), c.Tenant(), s); err != nil {
		return err
	}
	return c.Redirect("/calendar/manage/"+d.ID, "service_added")
}

// withdrawService stops offering a service: bookings made keep it, no new one is taken.
func (m *Module) withdrawService(c *kit.Ctx) error {
	return m.changeKept(c, "sv", "sid", "service_withdrawn", func(ctx context.Context, sc *store.Scope, where string, args []any) (sql.Result, error) {
		return sc.Update((*Service)(nil)).Set("active = FALSE").Where(where, args...).Exec(ctx)
	})
}

// parseClock reads "HH:MM" as minutes from midnight; 24:00 is the end of the day.
func parseClock(s string) (int, bool) {
	h, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(mm) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mi, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hh < 0 || mi < 0 || mi > 59 || hh > 24 || (hh == 24 && mi != 0) {
		return 0, false
	}
	return hh*60 + mi, true
}

// addWindow adds a weekly window of the doctor at one of his facilities (C4), in the
// tenant's local time, on 5-minute boundaries.
func (m *Module) addWindow(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := formView(c, "win_facility", "win_weekday", "win_from", "win_to")
	ok, err := m.mayKeep(c, d, v.Values["win_facility"])
	if err != nil {
		return err
	}
	wd, werr := strconv.Atoi(v.Values["win_weekday"])
	if !ok || werr != nil || wd < 1 || wd > 7 {
		return kit.ErrBadRequest // not one of the form's choices
	}
	from, ok1 := parseClock(v.Values["win_from"])
	to, ok2 := parseClock(v.Values["win_to"])
	if !ok1 || from%5 != 0 || from >= 1440 {
		v.Errors["win_from"] = "calendar.manage.err.clock"
	}
	if !ok2 || to%5 != 0 {
		v.Errors["win_to"] = "calendar.manage.err.clock"
	} else if ok1 && to <= from {
		v.Errors["win_to"] = "calendar.manage.err.ends_before"
	}
	if len(v.Errors) > 0 {
		return m.invalidManage(c, d, v)
	}
	err = m.insertWindow(c.Context(), c.Tenant(), &Window{DoctorID: d.ID, FacilityID: v.Values["win_facility"],
		Weekday: wd, StartMinute: from, EndMinute: to})
	if errors.Is(err, errWindowOverlap) {
		v.Errors["win_from"] = "calendar.manage.err.overlap"
		return m.invalidManage(c, d, v)
	}
	if err != nil {
		return err
	}
	return c.Redirect("/calendar/manage/"+d.ID, "window_added")
}

// removeWindow removes a weekly window; the bookings made stay.
func (m *Module) removeWindow(c *kit.Ctx) error {
	return m.changeKept(c, "wi", "wid", "window_removed", func(ctx context.Context, sc *store.Scope, where string, args []any) (sql.Result, error) {
		return sc.Delete((*Window)(nil)).Where(where, args...).Exec(ctx)
	})
}

// addAbsence records an absence of the doctor, at one facility or all (C4): its time is
// no longer offered; visits already booked then stay, for him to cancel with a reason.
func (m *Module) addAbsence(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := formView(c, "abs_facility", "abs_from", "abs_to", "abs_note")
	if f := v.Values["abs_facility"]; f == "" && !self(c, d) {
		return kit.ErrBadRequest // only the doctor is absent from all his facilities at once
	} else if f != "" {
		if ok, err := m.mayKeep(c, d, f); err != nil {
			return err
		} else if !ok {
			return kit.ErrBadRequest
		}
	}
	loc := tenantZone(c.Tenant())
	from, err1 := time.ParseInLocation("2006-01-02T15:04", v.Values["abs_from"], loc)
	to, err2 := time.ParseInLocation("2006-01-02T15:04", v.Values["abs_to"], loc)
	if err1 != nil {
		v.Errors["abs_from"] = "calendar.manage.err.datetime"
	}
	if err2 != nil {
		v.Errors["abs_to"] = "calendar.manage.err.datetime"
	} else if err1 == nil && !to.After(from) {
		v.Errors["abs_to"] = "calendar.manage.err.ends_before"
	} else if !to.After(m.now()) {
		v.Errors["abs_to"] = "calendar.manage.err.past"
	}
	if utf8.RuneCountInString(v.Values["abs_note"]) > maxNote {
		v.Errors["abs_note"] = "calendar.manage.err.too_long"
	}
	if len(v.Errors) > 0 {
		return m.invalidManage(c, d, v)
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&Exception{TenantID: sc.TenantID, ID: newID(), DoctorID: d.ID, FacilityID: v.Values["abs_facility"], Kind: "absence",
			StartsAt: from.UTC(), EndsAt: to.UTC(), Note: v.Values["abs_note"]}).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Redirect("/calendar/manage/"+d.ID, "absence_added")
}

// removeAbsence removes an absence: its time is offered again.
func (m *Module) removeAbsence(c *kit.Ctx) error {
	return m.changeKept(c, "ex", "eid", "absence_removed", func(ctx context.Context, sc *store.Scope, where string, args []any) (sql.Result, error) {
		return sc.Delete((*Exception)(nil)).Where(where, args...).Exec(ctx)
	})
}

// setBuffer stores the minutes the doctor keeps free before and after each visit at the
// facility (C4).
func (m *Module) setBuffer(ctx context.Context, t sdk.Tenant, doctorID, facilityID string, minutes int) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*DoctorFacility)(nil)).Set("buffer_minutes = ?", minutes).
			Where("df.doctor_id = ? AND df.facility_id = ?", doctorID, facilityID).Exec(ctx)
		return err
	})
}

// saveBuffer is the form of setBuffer: whole minutes from 0 to 120.
func (m *Module) saveBuffer(c *kit.Ctx) error {
	d, err := m.managedDoctor(c, c.Param("id"))
	if err != nil {
		return err
	}
	v := formView(c, "buf_facility", "buffer")
	ok, err := m.mayKeep(c, d, v.Values["buf_facility"])
	if err != nil {
		return err
	}
	if !ok {
		return kit.ErrBadRequest
	}
	n, err := strconv.Atoi(v.Values["buffer"])
	if err != nil || n < 0 || n > maxBuffer {
		v.Errors["buffer"] = "calendar.manage.err.buffer"
		return m.invalidManage(c, d, v)
	}
	if err := m.setBuffer(c.Context(), c.Tenant(), d.ID, v.Values["buf_facility"], n); err != nil {
		return err
	}
	return c.Redirect("/calendar/manage/"+d.ID, "buffer_saved")
}

// FromClock and ToClock are the window's hours as the page shows them.
func (w Window) FromClock() string { return clock(w.StartMinute) }

// ToClock is the window's end as the page shows it.
func (w Window) ToClock() string { return clock(w.EndMinute) }

// insertWindow stores w unless it overlaps another window of the doctor at the facility on
// its weekday (errWindowOverlap): overlapping windows would make the slots engine refuse the
// whole day, which would offer nothing (C4). Windows that ended before today no longer
// count. The doctor's row at the facility is written first, so two windows added at once
// for him there wait for each other (a row lock in PostgreSQL, the write lock in SQLite) and
// the second sees the first.
func (m *Module) insertWindow(ctx context.Context, t sdk.Tenant, w *Window) error {
	today := m.now().In(tenantZone(t)).Format(time.DateOnly)
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*DoctorFacility)(nil)).Set("buffer_minutes = buffer_minutes").
			Where("df.doctor_id = ? AND df.facility_id = ?", w.DoctorID, w.FacilityID).Exec(ctx); err != nil {
			return err
		}
		n, err := sc.Select((*Window)(nil)).Where("wi.doctor_id = ? AND wi.facility_id = ? AND wi.weekday = ?", w.DoctorID, w.FacilityID, w.Weekday).
			Where("wi.start_minute < ? AND wi.end_minute > ?", w.EndMinute, w.StartMinute).Where("(wi.valid_until = '' OR wi.valid_until >= ?)", today).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return errWindowOverlap
		}
		w.TenantID, w.ID = sc.TenantID, newID()
		_, err = sc.Insert(w).Exec(ctx)
		return err
	})
}

// errWindowOverlap: the window overlaps another of the doctor's at the facility that day.
var errWindowOverlap = errors.New("calendar: the window overlaps another")

// clashingWeekdays are the weekdays (1 = Monday … 7) on which the slots engine refuses the
// windows (C4): two of them overlap on a day both are valid. Each window is checked with the
// windows of its weekday whose validity meets its own, as windowSlots lays a day out.
func clashingWeekdays(windows []Window, loc *time.Location) []int {
	var out []int
	seen := map[int]bool{}
	for i, w := range windows {
		if seen[w.Weekday] {
			continue
		}
		week := slots.Week{{Weekday: time.Weekday(w.Weekday % 7), Start: clock(w.StartMinute), End: clock(w.EndMinute)}}
		for j, o := range windows {
			if j != i && o.Weekday == w.Weekday && validTogether(w, o) {
				week = append(week, slots.Window{Weekday: time.Weekday(o.Weekday % 7), Start: clock(o.StartMinute), End: clock(o.EndMinute)})
			}
		}
		if (slots.Spec{Week: week, Zone: loc, Length: time.Minute}).Check() != nil {
			seen[w.Weekday] = true
			out = append(out, w.Weekday)
		}
	}
	sort.Ints(out)
	return out
}

// validTogether reports whether two windows are valid on some common day.
func validTogether(a, b Window) bool {
	return (a.ValidUntil == "" || b.ValidFrom == "" || b.ValidFrom <= a.ValidUntil) &&
		(b.ValidUntil == "" || a.ValidFrom == "" || a.ValidFrom <= b.ValidUntil)
}
