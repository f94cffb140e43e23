package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Rules of the directory's protection against harvesting (C1).
var (
	directoryWindow     = kit.Int("calendar.directory_window_minutes", 10, 1, 1440, "C1")
	directoryPerIP      = kit.Int("calendar.directory_requests_per_ip", 120, 5, 100000, "C1")
	directoryPerAccount = kit.Int("calendar.directory_requests_per_account", 200, 5, 100000, "C1")
	searchPageSize      = kit.Int("calendar.search_page_size", 10, 5, 50, "C1")
	searchMaxPages      = kit.Int("calendar.search_max_pages", 5, 1, 50, "C1")
)

// Bounds of what a search reads from its query.
const (
	maxKeywordWords = 6
	maxQueryLen     = 100
)

// errLimited: the client or account used up its directory budget for the window (C1).
var errLimited = errors.New("calendar: directory budget used up")

// hit counts one directory request of the client (and of the account, when signed in) in
// the current window, and refuses it once either budget is used up (C1: a scraper loop is
// cut off). The count is the database's (an upsert), so every instance of the module shares
// it and concurrent requests count exactly.
func (m *Module) hit(ctx context.Context, t sdk.Tenant, ip string, u *sdk.User) error {
	window := time.Duration(directoryWindow.Of(t)) * time.Minute
	start := m.now().Truncate(window).Unix()
	buckets := map[string]int64{"ip:" + ip: directoryPerIP.Of(t)}
	if u != nil {
		buckets["user:"+u.ID] = directoryPerAccount.Of(t)
	}
	over := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		for b, limit := range buckets {
			var n int64
			err := sc.Tx.NewRaw(`INSERT INTO calendar_rate_hits (tenant_id, bucket, window_start, hits) VALUES (?, ?, ?, 1)
ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET hits = calendar_rate_hits.hits + 1 RETURNING hits`,
				sc.TenantID, b, start).Scan(ctx, &n)
			if err != nil {
				return err
			}
			over = over || n > limit
		}
		return nil
	})
	if err == nil && over {
		return errLimited
	}
	return err
}

// sweepRateHits forgets the windows older than a day.
func (m *Module) sweepRateHits(ctx context.Context, job *sdk.Job) error {
	cutoff := m.now().Add(-24 * time.Hour).Unix()
	return m.In(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Tx.NewRaw("DELETE FROM calendar_rate_hits WHERE tenant_id = ? AND window_start < ?", sc.TenantID, cutoff).Exec(ctx)
		return err
	})
}

// query is what a directory search asks.
type query struct {
	Words     []string // folded keyword words
	Specialty string
	City      string // folded
	Page      int    // from 1
}

// empty reports whether the search names nothing: the directory is never listed whole.
func (q query) empty() bool { return len(q.Words) == 0 && q.Specialty == "" && q.City == "" }

// readQuery reads a search from the request; what cannot be read is dropped, with the
// field's error.
func readQuery(c *kit.Ctx) (query, map[string]string) {
	errs := map[string]string{}
	q := query{Page: 1}
	kw := strings.TrimSpace(c.Query("q"))
	if len([]rune(kw)) > maxQueryLen {
		errs["q"] = "calendar.search.err.too_long"
		kw = ""
	}
	for _, w := range strings.Fields(fold(kw)) {
		if len(q.Words) < maxKeywordWords {
			q.Words = append(q.Words, w)
		}
	}
	if s := c.Query("specialty"); s != "" {
		if knownSpecialty(s) {
			q.Specialty = s
		} else {
			errs["specialty"] = "calendar.search.err.specialty"
		}
	}
	if city := strings.TrimSpace(c.Query("city")); len([]rune(city)) > maxQueryLen {
		errs["city"] = "calendar.search.err.too_long"
	} else {
		q.City = fold(city)
	}
	if p := c.Query("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			errs["page"] = "calendar.search.err.page"
		} else {
			q.Page = n
		}
	}
	return q, errs
}

// likeWord is w for a LIKE pattern, its wildcards escaped.
func likeWord(w string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(w)
}

// Listed is a doctor as a search lists him, or as his page shows him.
type Listed struct {
	Doctor      Doctor
	Specialties []string // codes
	Facilities  []Facility
	Services    []Service
}

// Cities are the distinct cities of his facilities.
func (l *Listed) Cities() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range l.Facilities {
		if f.City != "" && !seen[f.City] {
			seen[f.City] = true
			out = append(out, f.City)
		}
	}
	return out
}

// Books reports whether he takes bookings online now (C1: doctors without an online
// calendar are listed, not bookable; C15).
func (l *Listed) Books() bool { return l.Doctor.Bookable && l.Doctor.OnlineCalendar }

// search finds the doctors q names, one page of them, and whether a next page exists
// within the cap.
func (m *Module) search(ctx context.Context, sc *store.Scope, q query, size, maxPages int) ([]Listed, bool, error) {
	var ds []Doctor
	sel := sc.Select(&ds)
	for _, w := range q.Words {
		sel = sel.Where(`dr.search_key LIKE ? ESCAPE '\'`, "%"+likeWord(w)+"%")
	}
	if q.Specialty != "" {
		// IN, not EXISTS: the engines start from the specialty's index, not from every doctor.
		sel = sel.Where("dr.id IN (SELECT ds.doctor_id FROM calendar_doctor_specialties AS ds WHERE ds.tenant_id = ? AND ds.specialty = ?)", sc.TenantID, q.Specialty)
	}
	if q.City != "" {
		sel = sel.Where(`dr.id IN (SELECT df.doctor_id FROM calendar_facilities AS fa JOIN calendar_doctor_facilities AS df
			ON df.tenant_id = fa.tenant_id AND df.facility_id = fa.id
			WHERE fa.tenant_id = ? AND fa.city_key LIKE ? ESCAPE '\')`, sc.TenantID, likeWord(q.City)+"%")
	}
	err := sel.Order("dr.last_name", "dr.first_name", "dr.id").Limit(int64(size + 1)).Offset(int64((q.Page - 1) * size)).Scan(ctx)
	if err != nil {
		return nil, false, err
	}
	more := len(ds) > size && q.Page < maxPages
	if len(ds) > size {
		ds = ds[:size]
	}
	out, err := m.complete(ctx, sc, ds, false)
	return out, more, err
}

// complete reads the specialties and facilities of ds (and their services, with services).
func (m *Module) complete(ctx context.Context, sc *store.Scope, ds []Doctor, services bool) ([]Listed, error) {
	out := make([]Listed, len(ds))
	if len(ds) == 0 {
		return out, nil
	}
	ids := make([]string, len(ds))
	at := map[string]int{}
	for i, d := range ds {
		ids[i], at[d.ID], out[i].Doctor = d.ID, i, d
	}
	var specs []DoctorSpecialty
	if err := sc.Select(&specs).Where("ds.doctor_id IN (?)", bun.In(ids)).Order("ds.specialty").Scan(ctx); err != nil {
		return nil, err
	}
	for _, s := range specs {
		out[at[s.DoctorID]].Specialties = append(out[at[s.DoctorID]].Specialties, s.Specialty)
	}
	var links []struct {
		DoctorID string `bun:"doctor_id"`
		Facility `bun:",extend"`
	}
	err := sc.Tx.NewSelect().TableExpr("calendar_doctor_facilities AS df").
		Join("JOIN calendar_facilities AS fa ON fa.tenant_id = df.tenant_id AND fa.id = df.facility_id").
		ColumnExpr("df.doctor_id, fa.*").Where("df.tenant_id = ?", sc.TenantID).Where("df.doctor_id IN (?)", bun.In(ids)).
		OrderExpr("fa.city, fa.name").Scan(ctx, &links)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		out[at[l.DoctorID]].Facilities = append(out[at[l.DoctorID]].Facilities, l.Facility)
	}
	if services {
		var svs []Service
		if err := sc.Select(&svs).Where("sv.doctor_id IN (?)", bun.In(ids)).Where("sv.active").
			Order("sv.facility_id", "sv.name").Scan(ctx); err != nil {
			return nil, err
		}
		for _, s := range svs {
			out[at[s.DoctorID]].Services = append(out[at[s.DoctorID]].Services, s)
		}
	}
	return out, nil
}

// limited answers a request the directory's budget refuses: 429, in the person's words.
func limited(c *kit.Ctx) error {
	c.W.Header().Set("Retry-After", "60")
	v := c.View("calendar.limited.title")
	return c.Render(http.StatusTooManyRequests, "limited", v)
}

// directory is the public doctor search (C1): a form, and once it names something, one page
// of the doctors it finds; pages stop at the tenant's cap, and each request counts against
// the client's and the account's budget.
func (m *Module) directory(c *kit.Ctx) error {
	t := c.Tenant()
	q, errs := readQuery(c)
	v := c.View("calendar.search.title")
	for k, e := range errs {
		v.Errors[k] = e
	}
	v.Values["q"], v.Values["specialty"], v.Values["city"] = c.Query("q"), q.Specialty, c.Query("city")
	if errs["q"] != "" {
		v.Values["q"] = ""
	}
	if errs["city"] != "" {
		v.Values["city"] = ""
	}
	v.Data["Specialties"] = m.specialtyOptions(v.Lang())
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	if q.empty() || len(errs) > 0 {
		return c.Render(status, "search", v)
	}
	if err := m.hit(c.Context(), t, c.Req.RemoteIP, c.User()); errors.Is(err, errLimited) {
		return limited(c)
	} else if err != nil {
		return err
	}
	v.Data["Searched"] = true
	maxPages := int(searchMaxPages.Of(t))
	if q.Page > maxPages {
		v.Data["Capped"] = maxPages
		return c.Render(http.StatusOK, "search", v)
	}
	var found []Listed
	var more bool
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		found, more, err = m.search(ctx, sc, q, int(searchPageSize.Of(t)), maxPages)
		return err
	})
	if err != nil {
		return err
	}
	v.Data["Found"], v.Data["Page"] = found, q.Page
	page := func(n int) string {
		return fmt.Sprintf("/calendar?q=%s&specialty=%s&city=%s&page=%d", urlq(c.Query("q")), urlq(q.Specialty), urlq(c.Query("city")), n)
	}
	if more {
		v.Data["Next"] = page(q.Page + 1)
	}
	if q.Page > 1 {
		v.Data["Prev"] = page(q.Page - 1)
	}
	return c.Render(http.StatusOK, "search", v)
}

// doctorPage shows one doctor (C1): specialties, description, competences, languages, his
// facilities with their address, hours and contact, and his services with their gross
// price in the tenant's currency.
func (m *Module) doctorPage(c *kit.Ctx) error {
	if err := m.hit(c.Context(), c.Tenant(), c.Req.RemoteIP, c.User()); errors.Is(err, errLimited) {
		return limited(c)
	} else if err != nil {
		return err
	}
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
		return err
	}
	v := c.View("calendar.doctor.title")
	v.Title = l.Doctor.display()
	v.Data["L"] = &l
	var langs []string
	for _, code := range strings.Split(l.Doctor.Languages, ",") {
		if code = strings.TrimSpace(code); code != "" && m.Msgs.Has(v.Lang(), "calendar.language."+code) {
			langs = append(langs, v.T("calendar.language."+code))
		}
	}
	v.Data["Languages"] = langs
	return c.Render(http.StatusOK, "doctor", v)
}

// display is the doctor's name as people read it, with his title.
func (d *Doctor) display() string {
	return strings.TrimSpace(d.Title + " " + d.FirstName + " " + d.LastName)
}

// Display is display for templates.
func (d Doctor) Display() string { return d.display() }

// option is a choice of a select list.
type option struct{ Value, Label string }

// specialtyOptions are the specialties in lang's words, sorted as lang reads them.
func (m *Module) specialtyOptions(lang string) []option {
	loc := m.Msgs.For(lang)
	out := make([]option, len(specialties))
	for i, s := range specialties {
		out[i] = option{s, loc.T("calendar.specialty." + s)}
	}
	sort.Slice(out, func(i, j int) bool { return fold(out[i].Label) < fold(out[j].Label) })
	return out
}
