package eshop

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

// The collection points' rules (E3): the largest site plan a manager may upload, how far
// ahead the public page lists a point's exceptional days, and the defaults of a new point.
var (
	sitePlanMaxKB      = kit.Int("eshop.site_plan_max_kb", 4096, 64, 20480, "E3")
	exceptionShowDays  = kit.Int("eshop.point_exceptions_days", 60, 1, 366, "E3")
	defaultSlotMinutes = kit.Int("eshop.default_slot_minutes", 15, 5, 240, "E3")
	defaultCapacity    = kit.Int("eshop.default_slot_capacity", 2, 1, 1000, "E3, E4")
)

// Limits of the point forms (characters); the migration's checks bound the slot length and
// the capacity the same way.
const (
	maxPointText       = 200
	maxDirections      = 2000
	minSlotMinutes     = 5
	maxSlotMinutes     = 240
	maxCapacity        = 1000
	maxRangesPerDay    = 6
	maxExceptionsShown = 200
)

// pointFields are the text fields of the point form.
var pointFields = []string{"name", "street", "town", "postcode", "building", "floor", "room", "latitude", "longitude", "phone", "directions", "slot_minutes", "capacity"}

// HasPoint reports whether the point has GPS coordinates (it is on the map).
func (p Point) HasPoint() bool { return p.Latitude != nil && p.Longitude != nil }

// LatText is its latitude for the map's data attributes and links.
func (p Point) LatText() string { return coordText(p.Latitude) }

// LonText is its longitude for the map's data attributes and links.
func (p Point) LonText() string { return coordText(p.Longitude) }

func coordText(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// pointHoursRow is one weekday of a point's week as a page shows it (Monday first).
type pointHoursRow struct {
	Weekday int
	Ranges  []PointHours
}

// weekRows are the point's hours grouped by weekday, Monday to Sunday.
func weekRows(hs []PointHours) []pointHoursRow {
	rows := make([]pointHoursRow, 7)
	for i := range rows {
		rows[i].Weekday = (i + 1) % 7
	}
	for _, h := range hs {
		i := (h.Weekday + 6) % 7
		rows[i].Ranges = append(rows[i].Ranges, h)
	}
	for i := range rows {
		sort.Slice(rows[i].Ranges, func(a, b int) bool { return rows[i].Ranges[a].Opens < rows[i].Ranges[b].Opens })
	}
	return rows
}

// pointInfo is a point with its week and upcoming exceptional days.
type pointInfo struct {
	Point      Point
	Week       []pointHoursRow
	Exceptions []PointException
}

// readPoint reads a point (only an active one unless all) with its hours and, from day
// fromDay on, its exceptions; ErrNotFound when there is none.
func readPoint(ctx context.Context, sc *store.Scope, id string, all bool, fromDay, toDay string) (*pointInfo, error) {
	var pi pointInfo
	q := sc.Select(&pi.Point).Where("pn.id = ?", id)
	if !all {
		q = q.Where("pn.active")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, kit.ErrNotFound
		}
		return nil, err
	}
	var hs []PointHours
	if err := sc.Select(&hs).Where("ph.point_id = ?", id).Order("ph.weekday", "ph.opens").Scan(ctx); err != nil {
		return nil, err
	}
	pi.Week = weekRows(hs)
	q = sc.Select(&pi.Exceptions).Where("pe.point_id = ? AND pe.day >= ?", id, fromDay)
	if toDay != "" {
		q = q.Where("pe.day <= ?", toDay)
	}
	if err := q.Order("pe.day").Limit(maxExceptionsShown).Scan(ctx); err != nil {
		return nil, err
	}
	return &pi, nil
}

// today is the tenant's local date now ("2006-01-02").
func (m *Module) today(t sdk.Tenant) string {
	return m.now().In(view.Zone(t.TimeZone)).Format("2006-01-02")
}

// mapData is what a page's map needs: the tenant's tile server and attribution, and the
// Leaflet files' addresses.
func (m *Module) mapData(t sdk.Tenant) map[string]string {
	return map[string]string{"Tiles": mapTileURL.Of(t), "Attribution": mapAttribution.Of(t),
		"CSS": m.assetURL("leaflet.css"), "ShopCSS": m.assetURL("eshop.css"), "JS": m.assetURL("leaflet.js"), "MapJS": m.assetURL("map.js")}
}

// pointsPage is the public "where to find us" (E3): every active point with its address,
// hours and, when the script runs, a map; the list works without it.
func (m *Module) pointsPage(c *kit.Ctx) error {
	var infos []*pointInfo
	today := m.today(c.Tenant())
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var ps []Point
		if err := sc.Select(&ps).Where("pn.active").Order("pn.town", "pn.name").Scan(ctx); err != nil {
			return err
		}
		sortPoints(c.Loc().Lang, ps)
		for _, p := range ps {
			pi, err := readPoint(ctx, sc, p.ID, false, today, dayAfter(today, int(exceptionShowDays.Of(c.Tenant()))))
			if err != nil {
				return err
			}
			infos = append(infos, pi)
		}
		return nil
	}); err != nil {
		return err
	}
	v := c.View("eshop.points.title")
	v.Data["Points"], v.Data["Map"] = infos, m.mapData(c.Tenant())
	return c.Render(http.StatusOK, "points", v)
}

// dayAfter is the date n days after day ("2006-01-02").
func dayAfter(day string, n int) string {
	d, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return d.AddDate(0, 0, n).Format("2006-01-02")
}

// pointPage is one collection point's public page (E3): address, building, floor, room,
// phone, directions, site plan, hours, the coming exceptional days and the map.
func (m *Module) pointPage(c *kit.Ctx) error {
	var pi *pointInfo
	today := m.today(c.Tenant())
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		pi, err = readPoint(ctx, sc, c.Param("id"), false, today, dayAfter(today, int(exceptionShowDays.Of(c.Tenant()))))
		return err
	}); err != nil {
		return err
	}
	v := c.View("eshop.points.title")
	v.Title = pi.Point.Name
	v.Data["P"], v.Data["Map"] = pi, m.mapData(c.Tenant())
	v.Data["PlanIsPDF"] = strings.HasSuffix(pi.Point.SitePlan, "|pdf")
	return c.Render(http.StatusOK, "pointpage", v)
}

// The site plan column holds "<blob id>|<kind>" (kind: png, jpg, pdf), so the public page
// knows how to show it without fetching it.
func planRef(blob string, k upload.Kind) string { return blob + "|" + strings.TrimPrefix(k.Ext, ".") }

func planBlob(ref string) string { id, _, _ := strings.Cut(ref, "|"); return id }

// sitePlan serves a point's site plan (public, like its page): only the blob its record
// names, with the type its bytes were checked to be.
func (m *Module) sitePlan(c *kit.Ctx) error {
	var p Point
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&p).Where("pn.id = ? AND pn.active", c.Param("id")).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		}
		return err
	}); err != nil {
		return err
	}
	if p.SitePlan == "" {
		return kit.ErrNotFound
	}
	b, err := c.Host().Blob(c.Context(), planBlob(p.SitePlan))
	if err != nil {
		return kit.ErrNotFound
	}
	kind, err := upload.Check(b.Data, upload.PNG, upload.JPEG, upload.PDF)
	if err != nil {
		return kit.ErrNotFound
	}
	upload.Serve(c.W.Header().Set, kind, c.T("eshop.points.plan_file")+kind.Ext, true)
	c.W.Header().Set("Cache-Control", "public, max-age=300")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(b.Data)
	return err
}

// --- The manager's pages (E3) ---

// managePoints lists every point, active or not.
func (m *Module) managePoints(c *kit.Ctx) error {
	var ps []Point
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&ps).Order("pn.town", "pn.name").Scan(ctx)
	}); err != nil {
		return err
	}
	sortPoints(c.Loc().Lang, ps)
	v := c.View("eshop.manage.points_title")
	v.Data["Points"] = ps
	v.Data["ShopCSS"] = m.assetURL("eshop.css")
	return c.Render(http.StatusOK, "managepoints", v)
}

// managePoint is a point's form with its hours, exceptions and site plan; "new" is the
// empty form of a new point.
func (m *Module) managePoint(c *kit.Ctx) error {
	return m.renderPoint(c, http.StatusOK, c.View("eshop.manage.point_title"))
}

// renderPoint shows the point form of the route's id with v's values and errors.
func (m *Module) renderPoint(c *kit.Ctx, status int, v *kit.View) error {
	id := c.Param("id")
	if id == "new" {
		if _, ok := v.Values["slot_minutes"]; !ok {
			v.Values["slot_minutes"] = strconv.FormatInt(defaultSlotMinutes.Of(c.Tenant()), 10)
			v.Values["capacity"] = strconv.FormatInt(defaultCapacity.Of(c.Tenant()), 10)
			v.Values["active"] = "on"
		}
		v.Data["New"], v.Data["ShopCSS"] = true, m.assetURL("eshop.css")
		return c.Render(status, "managepoint", v)
	}
	var pi *pointInfo
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		pi, err = readPoint(ctx, sc, id, true, m.today(c.Tenant()), "")
		return err
	}); err != nil {
		return err
	}
	p := pi.Point
	if _, ok := v.Values["name"]; !ok {
		for k, val := range map[string]string{"name": p.Name, "street": p.Street, "town": p.Town, "postcode": p.Postcode, "building": p.Building,
			"floor": p.Floor, "room": p.Room, "latitude": p.LatText(), "longitude": p.LonText(), "phone": p.Phone, "directions": p.Directions,
			"slot_minutes": strconv.Itoa(p.SlotMinutes), "capacity": strconv.Itoa(p.Capacity)} {
			v.Values[k] = val
		}
		if p.Active {
			v.Values["active"] = "on"
		}
	}
	v.Title = p.Name
	v.Data["P"] = pi
	v.Data["Weekdays"], v.Data["ShopCSS"] = []int{1, 2, 3, 4, 5, 6, 0}, m.assetURL("eshop.css")
	return c.Render(status, "managepoint", v)
}

// checkLength sets the field's error when its value is longer than max characters, or empty
// when required.
func checkLength(v *kit.View, field string, max int, required bool) {
	n := utf8.RuneCountInString(v.Values[field])
	switch {
	case n == 0 && required:
		v.Errors[field] = "eshop.manage.err.required"
	case n > max:
		v.Errors[field] = "eshop.manage.err.too_long"
	}
}

// parseCoord reads a coordinate in degrees ("48.1486", "48,1486") within ±limit; "" is none.
func parseCoord(s string, limit float64) (*float64, bool) {
	s = strings.Replace(strings.TrimSpace(s), ",", ".", 1)
	if s == "" {
		return nil, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < -limit || f > limit || f != f {
		return nil, false
	}
	return &f, true
}

// formValues is a view carrying the posted, trimmed values of fields.
func formValues(c *kit.Ctx, title string, fields ...string) *kit.View {
	v := c.View(title)
	for _, f := range fields {
		v.Values[f] = strings.TrimSpace(c.Form(f))
	}
	return v
}

// savePointForm creates or changes a point (E3): names, address, GPS, phone, directions,
// slot length and capacity per slot. A capacity change applies to the slots not yet full
// beyond it; places already held stay.
func (m *Module) savePointForm(c *kit.Ctx) error {
	id := c.Param("id")
	v := formValues(c, "eshop.manage.point_title", append(pointFields, "active")...)
	checkLength(v, "name", maxPointText, true)
	for _, f := range []string{"street", "town", "postcode", "building", "floor", "room", "phone"} {
		checkLength(v, f, maxPointText, false)
	}
	checkLength(v, "directions", maxDirections, false)
	lat, ok1 := parseCoord(v.Values["latitude"], 90)
	lon, ok2 := parseCoord(v.Values["longitude"], 180)
	if !ok1 {
		v.Errors["latitude"] = "eshop.manage.err.latitude"
	}
	if !ok2 {
		v.Errors["longitude"] = "eshop.manage.err.longitude"
	}
	if ok1 && ok2 && (lat == nil) != (lon == nil) {
		v.Errors["longitude"] = "eshop.manage.err.both_coords"
	}
	slot, err := strconv.Atoi(v.Values["slot_minutes"])
	if err != nil || slot < minSlotMinutes || slot > maxSlotMinutes || slot%5 != 0 {
		v.Errors["slot_minutes"] = "eshop.manage.err.slot_minutes"
	}
	capacity, err := strconv.Atoi(v.Values["capacity"])
	if err != nil || capacity < 1 || capacity > maxCapacity {
		v.Errors["capacity"] = "eshop.manage.err.capacity"
	}
	if len(v.Errors) > 0 {
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	p := &Point{Name: v.Values["name"], Street: v.Values["street"], Town: v.Values["town"], Postcode: v.Values["postcode"],
		Building: v.Values["building"], Floor: v.Values["floor"], Room: v.Values["room"], Latitude: lat, Longitude: lon,
		Phone: v.Values["phone"], Directions: v.Values["directions"], SlotMinutes: slot, Capacity: capacity, Active: v.Values["active"] != ""}
	if id != "new" {
		p.ID = id
	}
	if err := m.savePoint(c.Context(), c.Tenant(), p); err != nil {
		return err
	}
	m.audit(c, "eshop.point_saved", p.ID, map[string]any{"name": p.Name})
	return c.Redirect("/eshop/manage/points/"+p.ID, "point_saved")
}

// savePoint creates p (no ID) or changes it; ErrNotFound when it changes a point that does
// not exist.
func (m *Module) savePoint(ctx context.Context, t sdk.Tenant, p *Point) error {
	now := m.now()
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		p.TenantID, p.UpdatedAt = sc.TenantID, now
		if p.ID == "" {
			p.ID, p.CreatedAt = newID(), now
			_, err := sc.Insert(p).Exec(ctx)
			return err
		}
		res, err := sc.Update(p).Column("name", "street", "town", "postcode", "building", "floor", "room", "latitude", "longitude",
			"phone", "directions", "slot_minutes", "capacity", "active", "updated_at").Where("pn.id = ?", p.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return kit.ErrNotFound
		}
		return nil
	})
}

// existingPoint reads the route's point, or fails with ErrNotFound.
func (m *Module) existingPoint(c *kit.Ctx) (string, *Point, error) {
	id := c.Param("id")
	var p Point
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&p).Where("pn.id = ?", id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	return id, &p, err
}

// addHours adds an opening range to a weekday of a point (E3); a day may have several, none
// overlapping.
func (m *Module) addHours(c *kit.Ctx) error {
	id, p, err := m.existingPoint(c)
	if err != nil {
		return err
	}
	v := formValues(c, "eshop.manage.point_title", "weekday", "opens", "closes")
	wd, err := strconv.Atoi(v.Values["weekday"])
	if err != nil || wd < 0 || wd > 6 {
		return kit.ErrBadRequest // not one of the form's choices
	}
	a, okA := clockMinutes(v.Values["opens"])
	b, okB := clockMinutes(v.Values["closes"])
	if !okA {
		v.Errors["opens"] = "eshop.manage.err.clock"
	}
	if !okB {
		v.Errors["closes"] = "eshop.manage.err.clock"
	} else if okA && a >= b {
		v.Errors["closes"] = "eshop.manage.err.range"
	}
	if len(v.Errors) > 0 {
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	h := &PointHours{PointID: id, Weekday: wd, Opens: clockText(a), Closes: clockText(b)}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		// The point's row is changed first: a second manager adding hours to the same point
		// waits for this transaction, so the check below sees his ranges or he sees these.
		if err := lockPoint(ctx, sc, id, m.now()); err != nil {
			return err
		}
		var hs []PointHours
		if err := sc.Select(&hs).Where("ph.point_id = ? AND ph.weekday = ?", id, wd).Scan(ctx); err != nil {
			return err
		}
		if len(hs) >= maxRangesPerDay {
			return errOverlap
		}
		for _, o := range hs {
			oa, _ := clockMinutes(o.Opens)
			ob, _ := clockMinutes(o.Closes)
			if a < ob && oa < b {
				return errOverlap
			}
		}
		h.TenantID = sc.TenantID
		_, err := sc.Insert(h).Exec(ctx)
		return err
	})
	if errors.Is(err, errOverlap) {
		v.Errors["opens"] = "eshop.manage.err.overlap"
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	m.audit(c, "eshop.point_hours_changed", id, map[string]any{"name": p.Name})
	return c.Redirect("/eshop/manage/points/"+id, "hours_saved")
}

var errOverlap = errors.New("eshop: opening ranges overlap")

// clockText writes minutes from midnight as "HH:MM".
func clockText(m int) string {
	return strconv.Itoa(m/60/10) + strconv.Itoa(m/60%10) + ":" + strconv.Itoa(m%60/10) + strconv.Itoa(m%10)
}

// removeHours removes an opening range of a point.
func (m *Module) removeHours(c *kit.Ctx) error {
	id, p, err := m.existingPoint(c)
	if err != nil {
		return err
	}
	wd, err := strconv.Atoi(c.Form("weekday"))
	if err != nil {
		return kit.ErrBadRequest
	}
	opens := c.Form("opens")
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*PointHours)(nil)).Where("point_id = ? AND weekday = ? AND opens = ?", id, wd, opens).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	m.audit(c, "eshop.point_hours_changed", id, map[string]any{"name": p.Name})
	return c.Redirect("/eshop/manage/points/"+id, "hours_saved")
}

// addException records a day a point is closed or open at other hours, with a note (E3).
// A day already recorded is replaced.
func (m *Module) addException(c *kit.Ctx) error {
	id, p, err := m.existingPoint(c)
	if err != nil {
		return err
	}
	v := formValues(c, "eshop.manage.point_title", "ex_day", "ex_closed", "ex_opens", "ex_closes", "ex_note")
	day, err := time.Parse("2006-01-02", v.Values["ex_day"])
	if err != nil {
		v.Errors["ex_day"] = "eshop.manage.err.day"
	} else if day.Format("2006-01-02") < m.today(c.Tenant()) {
		v.Errors["ex_day"] = "eshop.manage.err.day_past"
	}
	closed := v.Values["ex_closed"] != ""
	e := &PointException{PointID: id, Day: v.Values["ex_day"], Closed: closed}
	if !closed {
		a, okA := clockMinutes(v.Values["ex_opens"])
		b, okB := clockMinutes(v.Values["ex_closes"])
		if !okA {
			v.Errors["ex_opens"] = "eshop.manage.err.clock"
		}
		if !okB {
			v.Errors["ex_closes"] = "eshop.manage.err.clock"
		} else if okA && a >= b {
			v.Errors["ex_closes"] = "eshop.manage.err.range"
		}
		e.Opens, e.Closes = clockText(a), clockText(b)
	}
	checkLength(v, "ex_note", maxPointText, false)
	e.Note = v.Values["ex_note"]
	if len(v.Errors) > 0 {
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		e.TenantID = sc.TenantID
		if _, err := sc.Delete((*PointException)(nil)).Where("point_id = ? AND day = ?", id, e.Day).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(e).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	m.audit(c, "eshop.point_exception_saved", id, map[string]any{"name": p.Name, "day_date": e.Day})
	return c.Redirect("/eshop/manage/points/"+id, "exception_saved")
}

// removeException removes an exceptional day of a point.
func (m *Module) removeException(c *kit.Ctx) error {
	id, p, err := m.existingPoint(c)
	if err != nil {
		return err
	}
	day := c.Form("day")
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*PointException)(nil)).Where("point_id = ? AND day = ?", id, day).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	m.audit(c, "eshop.point_exception_saved", id, map[string]any{"name": p.Name, "day_date": day})
	return c.Redirect("/eshop/manage/points/"+id, "exception_saved")
}

// uploadPlan stores a point's site plan (E3): a PNG, JPEG or PDF that parses, within the
// tenant's size; the former plan is deleted.
func (m *Module) uploadPlan(c *kit.Ctx) error {
	id, p, err := m.existingPoint(c)
	if err != nil {
		return err
	}
	v := c.View("eshop.manage.point_title")
	limit := sitePlanMaxKB.Of(c.Tenant()) << 10
	f, _, err := c.R.FormFile("plan")
	if err != nil {
		v.Errors["plan"] = "eshop.manage.err.plan_missing"
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	f.Close()
	if err != nil {
		return err
	}
	kind, kerr := upload.Check(data, upload.PNG, upload.JPEG, upload.PDF)
	switch {
	case int64(len(data)) > limit:
		v.Errors["plan"] = "eshop.manage.err.plan_size"
	case kerr != nil:
		v.Errors["plan"] = "eshop.manage.err.plan_type"
	}
	if len(v.Errors) > 0 {
		return m.renderPoint(c, http.StatusUnprocessableEntity, v)
	}
	blob, err := c.Host().PutBlob(c.Context(), sdk.Blob{Name: "plan" + kind.Ext, ContentType: kind.ContentType, Data: data})
	if err != nil {
		return err
	}
	var old string
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var p Point
		if err := sc.Select(&p).Column("site_plan").Where("pn.id = ?", id).Scan(ctx); err != nil {
			return err
		}
		old = p.SitePlan
		_, err := sc.Update((*Point)(nil)).Set("site_plan = ?", planRef(blob, kind)).Set("updated_at = ?", m.now()).Where("pn.id = ?", id).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	if old != "" {
		if err := c.Host().DeleteBlob(c.Context(), planBlob(old)); err != nil {
			c.LogFailure(err)
		}
	}
	m.audit(c, "eshop.point_saved", id, map[string]any{"name": p.Name})
	return c.Redirect("/eshop/manage/points/"+id, "plan_saved")
}

// audit records a manager's change; a failure to record is logged, the change stays.
func (m *Module) audit(c *kit.Ctx, action, resource string, detail map[string]any) {
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Resource: resource, Detail: detail}); err != nil {
		c.LogFailure(err)
	}
}

//go:embed assets
var assetFiles embed.FS

// ownAssets are the e-shop's own map files (Leaflet's are kit/leaflet's).
var ownAssets, _ = fs.Sub(assetFiles, "assets")

// Tel is the point's phone number as a tel: link takes it (no spaces or separators).
func (p Point) Tel() string {
	return strings.Map(func(r rune) rune {
		if r == '+' || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, p.Phone)
}

// PhoneText is the point's phone number as its link's text: its spaces do not break, so the
// number never wraps in the middle.
func (p Point) PhoneText() string { return strings.ReplaceAll(p.Phone, " ", "\u00a0") }

// setPointHours replaces the weekly hours of point pointID with hours (their PointID and
// TenantID are set here), for the demo and the tests: each range "HH:MM"–"HH:MM" with the
// opening first, none overlapping another of its day.
func (m *Module) setPointHours(ctx context.Context, t sdk.Tenant, pointID string, hours []PointHours) error {
	byDay := map[int][]span{}
	for _, h := range hours {
		a, ok1 := clockMinutes(h.Opens)
		b, ok2 := clockMinutes(h.Closes)
		if !ok1 || !ok2 || a >= b || h.Weekday < 0 || h.Weekday > 6 {
			return errors.New("eshop: bad opening range " + h.Opens + "–" + h.Closes)
		}
		for _, o := range byDay[h.Weekday] {
			if a < o.To && o.From < b {
				return errOverlap
			}
		}
		byDay[h.Weekday] = append(byDay[h.Weekday], span{a, b})
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := lockPoint(ctx, sc, pointID, m.now()); err != nil {
			return err
		}
		if _, err := sc.Delete((*PointHours)(nil)).Where("point_id = ?", pointID).Exec(ctx); err != nil {
			return err
		}
		for _, h := range hours {
			a, _ := clockMinutes(h.Opens)
			b, _ := clockMinutes(h.Closes)
			row := &PointHours{TenantID: sc.TenantID, PointID: pointID, Weekday: h.Weekday, Opens: clockText(a), Closes: clockText(b)}
			if _, err := sc.Insert(row).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockPoint marks point id changed at now in the caller's transaction, which holds its row
// until the transaction ends (PostgreSQL's row lock; SQLite's one writer): the checks that
// follow on the point's hours cannot interleave with another change. ErrNotFound when there
// is no such point.
func lockPoint(ctx context.Context, sc *store.Scope, id string, now time.Time) error {
	res, err := sc.Update((*Point)(nil)).Set("updated_at = ?", now).Where("pn.id = ?", id).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kit.ErrNotFound
	}
	return nil
}
