package calendar

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
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
	buckets := map[string]int64{"ip:" + ip: directoryPerIP.Of(t)}
	if u != nil {
		buckets["user:"+u.ID] = directoryPerAccount.Of(t)
	}
	return m.spend(ctx, t, time.Duration(directoryWindow.Of(t))*time.Minute, buckets)
}

// spend counts one request in each of buckets (a name and its budget) for the current
// window of length window, and returns errLimited once any budget is used up. The count is
// the database's (an upsert), so every instance of the module shares it and concurrent
// requests count exactly. The directory, the anonymous booking and the agenda feed each
// keep their own buckets.
func (m *Module) spend(ctx context.Context, t sdk.Tenant, window time.Duration, buckets map[string]int64) error {
	start := m.now().Truncate(window).Unix()
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
	// Near is a place the person typed (a city or a postal code); Origin where distances
	// count from: that place once found, or else the browser's position, taken only with
	// the person's geolocation consent (C1).
	Near   string
	Origin *point
	Sort   string // sortName, sortDistance or sortSlot
}

// How a search's results are ordered (C1).
const (
	sortName     = "name"
	sortDistance = "distance"
	sortSlot     = "slot"
)

// empty reports whether the search names nothing: the directory is never listed whole.
func (q query) empty() bool {
	return len(q.Words) == 0 && q.Specialty == "" && q.City == "" && q.Near == "" && q.Origin == nil
}

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
	// A typed place beats the browser's position: the position is read only without one.
	if near := strings.TrimSpace(c.Query("near")); len([]rune(near)) > maxQueryLen {
		errs["near"] = "calendar.search.err.too_long"
	} else if near != "" {
		q.Near = near
	} else if c.Query("lat") != "" || c.Query("lon") != "" {
		lat, err1 := strconv.ParseFloat(c.Query("lat"), 64)
		lon, err2 := strconv.ParseFloat(c.Query("lon"), 64)
		switch {
		case err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180:
			errs["geo"] = "calendar.search.err.position"
		case c.Query("geo") != "1":
			// C1: the position counts only with the person's geolocation consent.
			errs["geo"] = "calendar.search.err.geo_consent"
		default:
			q.Origin = &point{lat, lon}
		}
	}
	switch s := c.Query("sort"); s {
	case "", sortName, sortDistance, sortSlot:
		q.Sort = s
	default:
		errs["sort"] = "calendar.search.err.sort"
	}
	if q.Sort == "" {
		q.Sort = sortName
		if q.Near != "" || q.Origin != nil {
			q.Sort = sortDistance
		}
	}
	if q.Sort == sortDistance && q.Near == "" && q.Origin == nil && errs["geo"] == "" {
		errs["sort"] = "calendar.search.err.sort_distance"
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
	// Km is the distance from the search's origin to his nearest facility, when the search
	// has an origin and a facility of his has coordinates; FirstSlot his first free start
	// when the search sorts by it (zero: none within the tenant's horizon).
	Km        float64
	HasKm     bool
	FirstSlot time.Time
}

// KmText is the distance rounded to a tenth of a kilometre, for the reader's locale.
func (l *Listed) KmText() float64 { return math.Round(l.Km*10) / 10 }

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

// filter is the selection of the doctors q names, in the directory (not removed).
func filter(sc *store.Scope, sel *bun.SelectQuery, q query) *bun.SelectQuery {
	sel = sel.Where("dr.removed_at IS NULL")
	for _, w := range q.Words {
		sel = sel.Where(`dr.search_key LIKE ? ESCAPE '\'`, "%"+likeWord(w)+"%")
	}
	if q.Specialty != "" {
		// A join, so that the engines may start from the specialty's index (a few hundred
		// doctors) rather than walk every doctor in name order testing each.
		sel = sel.Join("JOIN calendar_doctor_specialties AS ds ON ds.tenant_id = dr.tenant_id AND ds.doctor_id = dr.id AND ds.specialty = ?", q.Specialty)
	}
	if q.City != "" {
		sel = sel.Where(`dr.id IN (SELECT df.doctor_id FROM calendar_facilities AS fa JOIN calendar_doctor_facilities AS df
			ON df.tenant_id = fa.tenant_id AND df.facility_id = fa.id
			WHERE fa.tenant_id = ? AND fa.removed_at IS NULL AND fa.city_key LIKE ? ESCAPE '\')`, sc.TenantID, likeWord(q.City)+"%")
	}
	return sel
}

// search finds the doctors q names, one page of them, and whether a next page exists
// within the cap. With an origin, only doctors with a facility within radius km are found,
// and sorted by distance unless q asks otherwise.
func (m *Module) search(ctx context.Context, sc *store.Scope, q query, size, maxPages int, radius float64) ([]Listed, bool, error) {
	if q.Origin != nil && q.Sort != sortName {
		return m.searchNear(ctx, sc, q, size, maxPages, radius)
	}
	var ds []Doctor
	sel := filter(sc, sc.Select(&ds), q)
	if q.Origin != nil {
		minLat, maxLat, minLon, maxLon := box(*q.Origin, radius)
		sel = sel.Where(`dr.id IN (SELECT df.doctor_id FROM calendar_facilities AS fa JOIN calendar_doctor_facilities AS df
			ON df.tenant_id = fa.tenant_id AND df.facility_id = fa.id
			WHERE fa.tenant_id = ? AND fa.removed_at IS NULL AND fa.latitude BETWEEN ? AND ? AND fa.longitude BETWEEN ? AND ?)`,
			sc.TenantID, minLat, maxLat, minLon, maxLon)
	}
	err := sel.Order("dr.last_name", "dr.first_name", "dr.id").Limit(int64(size + 1)).Offset(int64((q.Page - 1) * size)).Scan(ctx)
	if err != nil {
		return nil, false, err
	}
	more := len(ds) > size && q.Page < maxPages
	if len(ds) > size {
		ds = ds[:size]
	}
	out, err := m.complete(ctx, sc, ds, q.Sort == sortSlot)
	measure(out, q.Origin)
	return out, more, err
}

// searchNear is search by distance (C1): the facilities within the box around the origin
// of the doctors q names, each doctor at the distance of his nearest one within radius,
// nearest first.
func (m *Module) searchNear(ctx context.Context, sc *store.Scope, q query, size, maxPages int, radius float64) ([]Listed, bool, error) {
	minLat, maxLat, minLon, maxLon := box(*q.Origin, radius)
	ids := filter(sc, sc.Tx.NewSelect().TableExpr("calendar_doctors AS dr").Column("dr.id").Where("dr.tenant_id = ?", sc.TenantID), q)
	var rows []struct {
		DoctorID  string  `bun:"doctor_id"`
		Latitude  float64 `bun:"latitude"`
		Longitude float64 `bun:"longitude"`
	}
	err := sc.Tx.NewSelect().TableExpr("calendar_doctor_facilities AS df").
		Join("JOIN calendar_facilities AS fa ON fa.tenant_id = df.tenant_id AND fa.id = df.facility_id").
		ColumnExpr("df.doctor_id, fa.latitude, fa.longitude").
		Where("df.tenant_id = ?", sc.TenantID).Where("fa.removed_at IS NULL").
		Where("fa.latitude BETWEEN ? AND ? AND fa.longitude BETWEEN ? AND ?", minLat, maxLat, minLon, maxLon).
		Where("df.doctor_id IN (?)", ids).Limit(maxNearCandidate).Scan(ctx, &rows)
	if err != nil {
		return nil, false, err
	}
	near := map[string]float64{}
	for _, r := range rows {
		d := km(*q.Origin, point{r.Latitude, r.Longitude})
		if best, ok := near[r.DoctorID]; d <= radius && (!ok || d < best) {
			near[r.DoctorID] = d
		}
	}
	order := make([]string, 0, len(near))
	for id := range near {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool {
		if near[order[i]] != near[order[j]] {
			return near[order[i]] < near[order[j]]
		}
		return order[i] < order[j]
	})
	from := (q.Page - 1) * size
	if from >= len(order) {
		return nil, false, nil
	}
	to := min(from+size, len(order))
	more := len(order) > to && q.Page < maxPages
	page := order[from:to]
	var ds []Doctor
	if err := sc.Select(&ds).Where("dr.id IN (?)", bun.In(page)).Scan(ctx); err != nil {
		return nil, false, err
	}
	at := map[string]int{}
	for i, id := range page {
		at[id] = i
	}
	sort.Slice(ds, func(i, j int) bool { return at[ds[i].ID] < at[ds[j].ID] })
	out, err := m.complete(ctx, sc, ds, q.Sort == sortSlot)
	measure(out, q.Origin)
	return out, more, err
}

// measure sets each doctor's distance from origin: that of his nearest facility with
// coordinates.
func measure(ls []Listed, origin *point) {
	if origin == nil {
		return
	}
	for i := range ls {
		for _, f := range ls[i].Facilities {
			if f.Latitude == nil || f.Longitude == nil {
				continue
			}
			if d := km(*origin, point{*f.Latitude, *f.Longitude}); !ls[i].HasKm || d < ls[i].Km {
				ls[i].Km, ls[i].HasKm = d, true
			}
		}
	}
}

// firstSlots sets, for the page's doctors only (the cost is the slots engine's, per doctor
// and facility), each one's first free start within the tenant's horizon, for his shortest
// service at each facility, and orders the page by it: the soonest first, those with none
// last (C1).
func (m *Module) firstSlots(ctx context.Context, t sdk.Tenant, ls []Listed) error {
	from := m.now()
	to := from.AddDate(0, 0, int(firstSlotDays.Of(t)))
	for i := range ls {
		if !ls[i].Books() {
			continue
		}
		shortest := map[string]int{}
		for _, s := range ls[i].Services {
			if d, ok := shortest[s.FacilityID]; !ok || s.DurationMinutes < d {
				shortest[s.FacilityID] = s.DurationMinutes
			}
		}
		for fid, d := range shortest {
			free, err := m.freeSlots(ctx, t, slotQuery{DoctorID: ls[i].Doctor.ID, FacilityID: fid, Duration: time.Duration(d) * time.Minute, From: from, To: to})
			if err != nil {
				return err
			}
			if len(free) > 0 && (ls[i].FirstSlot.IsZero() || free[0].Before(ls[i].FirstSlot)) {
				ls[i].FirstSlot = free[0]
			}
		}
	}
	sort.SliceStable(ls, func(i, j int) bool {
		a, b := ls[i].FirstSlot, ls[j].FirstSlot
		if a.IsZero() || b.IsZero() {
			return !a.IsZero() && b.IsZero()
		}
		return a.Before(b)
	})
	return nil
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
		Where("fa.removed_at IS NULL").
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

// searchFields are the query fields a search page keeps in its form and its page links.
var searchFields = []string{"q", "specialty", "city", "near", "lat", "lon", "geo", "sort"}

// directory is the public doctor search (C1): a form, and once it names something, one page
// of the doctors it finds; pages stop at the tenant's cap, and each request counts against
// the client's and the account's budget. A search near a typed place or, with the person's
// consent, near the browser's position sorts by distance; a search may also sort the page's
// doctors by their first free slot. The list works without JavaScript; map.js adds the map.
func (m *Module) directory(c *kit.Ctx) error {
	t := c.Tenant()
	q, errs := readQuery(c)
	v := c.View("calendar.search.title")
	for k, e := range errs {
		v.Errors[k] = e
	}
	for _, k := range searchFields {
		v.Values[k] = c.Query(k)
	}
	v.Values["specialty"] = q.Specialty // the sort stays as asked: "" is by distance when there is an origin
	for _, k := range []string{"q", "city", "near"} {
		if errs[k] != "" {
			v.Values[k] = ""
		}
	}
	if errs["geo"] != "" || q.Near != "" {
		v.Values["lat"], v.Values["lon"] = "", ""
	}
	v.Data["Specialties"] = m.specialtyOptions(v.Lang())
	v.Data["Admin"] = c.User().HasRole("tenant_admin")
	v.Data["Assets"] = map[string]string{"CSS": m.assetURL("leaflet.css"), "MapCSS": m.assetURL("calendar.css"),
		"JS": m.assetURL("leaflet.js"), "MapJS": m.assetURL("map.js")}
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
	maxPages := int(searchMaxPages.Of(t))
	if q.Page > maxPages {
		v.Data["Searched"], v.Data["Capped"] = true, maxPages
		return c.Render(http.StatusOK, "search", v)
	}
	var found []Listed
	var more, unknown bool
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if q.Near != "" {
			p, ok, err := m.geocode(ctx, sc, t.Country, q.Near)
			if err != nil || !ok {
				unknown = !ok
				return err
			}
			q.Origin = &p
		}
		var err error
		found, more, err = m.search(ctx, sc, q, int(searchPageSize.Of(t)), maxPages, float64(searchRadiusKm.Of(t)))
		return err
	})
	if err != nil {
		return err
	}
	if unknown {
		v.Errors["near"] = "calendar.search.err.place_unknown"
		return c.Render(http.StatusUnprocessableEntity, "search", v)
	}
	if q.Sort == sortSlot {
		if err := m.firstSlots(c.Context(), t, found); err != nil {
			return err
		}
	}
	v.Data["Searched"] = true
	v.Data["Found"], v.Data["Page"], v.Data["Near"], v.Data["SlotSort"] = found, q.Page, q.Origin != nil, q.Sort == sortSlot
	v.Data["Map"] = map[string]string{"Tiles": mapTileURL.Of(t), "Attribution": mapAttribution.Of(t)}
	page := func(n int) string {
		vals := url.Values{}
		for _, k := range searchFields {
			if x := v.Values[k]; x != "" {
				vals.Set(k, x)
			}
		}
		vals.Set("page", strconv.Itoa(n))
		return "/calendar?" + vals.Encode()
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
// price in the tenant's currency; the form to report wrong data about him; and, to the
// administrator, the buttons that remove him or a facility from the directory.
func (m *Module) doctorPage(c *kit.Ctx) error {
	if err := m.hit(c.Context(), c.Tenant(), c.Req.RemoteIP, c.User()); errors.Is(err, errLimited) {
		return limited(c)
	} else if err != nil {
		return err
	}
	l, err := m.listed(c, c.Param("id"))
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "doctor", m.doctorView(c, l))
}

// listed reads the doctor of the directory with that id, with his facilities and services
// (kit.ErrNotFound when he is not in the tenant's directory).
func (m *Module) listed(c *kit.Ctx, id string) (*Listed, error) {
	var l Listed
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var d Doctor
		if err := sc.Select(&d).Where("dr.id = ?", id).Where("dr.removed_at IS NULL").Scan(ctx); errors.Is(err, sqlNoRows) {
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
	return &l, err
}

// doctorView is the doctor page's data.
func (m *Module) doctorView(c *kit.Ctx, l *Listed) *kit.View {
	v := c.View("calendar.doctor.title")
	v.Title = l.Doctor.display()
	v.Data["L"] = l
	var langs []string
	for _, code := range strings.Split(l.Doctor.Languages, ",") {
		if code = strings.TrimSpace(code); code != "" && m.Msgs.Has(v.Lang(), "calendar.language."+code) {
			langs = append(langs, v.T("calendar.language."+code))
		}
	}
	v.Data["Languages"] = langs
	v.Data["ReportKinds"] = reportKinds
	v.Data["Admin"] = c.User().HasRole("tenant_admin")
	v.Data["CSS"] = m.assetURL("calendar.css")
	return v
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
