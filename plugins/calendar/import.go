package calendar

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Bounds of an import (C1).
const (
	importMaxBytes = 5 << 20
	importMaxLines = 20000
	sourceMaxLen   = 60
)

// importColumns are the columns of an import's CSV, by their header's names; the first
// line names them, in any order. One line is a doctor at a facility: a doctor working at
// several facilities has one line per facility, with the same reference.
var importColumns = []string{"reference", "title", "first_name", "last_name", "licence_number", "specialties", "languages",
	"online_booking", "facility_reference", "facility_name", "address", "postal_code", "city", "latitude", "longitude", "phone"}

// importRequired are the columns an import cannot do without.
var importRequired = []string{"reference", "first_name", "last_name", "specialties", "facility_reference", "facility_name", "city"}

// lineError is an import line refused, with why in the administrator's words.
type lineError struct {
	Line int
	Key  string
}

// importReport is what an import did.
type importReport struct {
	Source                       string
	Created, Updated, Facilities int
	Errors                       []lineError
}

// importPage is the administrator's page of the directory's import (C1).
func (m *Module) importPage(c *kit.Ctx) error {
	v := c.View("calendar.import.title")
	v.Data["Columns"] = strings.Join(importColumns, ",")
	return c.Render(http.StatusOK, "import", v)
}

// importDirectory imports a licensed directory's CSV (C1): each record the import owns
// (by the source's name and the record's reference) is updated, any other created as the
// import's; the operator's and the accounts' records are never touched (a doctor of theirs
// with the same licence number is refused on his line). Every line that cannot be taken is
// reported with why; the others are taken. A doctor without an online calendar ("no" in
// online_booking) is listed but not bookable.
func (m *Module) importDirectory(c *kit.Ctx) error {
	v := c.View("calendar.import.title")
	v.Data["Columns"] = strings.Join(importColumns, ",")
	source := strings.TrimSpace(c.Form("source"))
	v.Values["source"] = source
	if source == "" || len([]rune(source)) > sourceMaxLen || strings.Contains(source, ":") {
		v.Errors["source"] = "calendar.import.err.source"
	}
	f, hdr, err := c.R.FormFile("file")
	if err != nil {
		v.Errors["file"] = "calendar.import.err.file"
	} else {
		defer f.Close()
		if hdr.Size > importMaxBytes {
			v.Errors["file"] = "calendar.import.err.too_big"
		}
	}
	if len(v.Errors) > 0 {
		return kit.Invalid("import", v)
	}
	rep, err := m.importCSV(c.Context(), c.Tenant(), source, io.LimitReader(f, importMaxBytes))
	if errors.Is(err, errNotCSV) {
		v.Errors["file"] = "calendar.import.err.header"
		return kit.Invalid("import", v)
	}
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "calendar.directory_imported", Resource: "calendar_import:" + source,
		Detail: map[string]any{"source": source, "created": rep.Created, "updated": rep.Updated, "refused": len(rep.Errors)}}); err != nil {
		return err
	}
	v.Data["Report"] = rep
	return c.Render(http.StatusOK, "import", v)
}

// errNotCSV: the file is not a CSV with the import's header.
var errNotCSV = errors.New("calendar: not an import CSV")

// importCSV reads the CSV of source into t's directory (see importDirectory).
func (m *Module) importCSV(ctx context.Context, t sdk.Tenant, source string, r io.Reader) (*importReport, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, errNotCSV
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, k := range importRequired {
		if _, ok := col[k]; !ok {
			return nil, errNotCSV
		}
	}
	rep := &importReport{Source: source}
	facilities := map[string]string{}    // facility reference → id
	doctorFacs := map[string][]string{}  // doctor reference → facility ids so far
	doctorSpecs := map[string][]string{} // doctor reference → specialties so far
	for line := 2; line <= importMaxLines+1; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			rep.Errors = append(rep.Errors, lineError{line, "calendar.import.err.line"})
			continue
		}
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if key := m.importLine(ctx, t, source, get, facilities, doctorFacs, doctorSpecs, rep); key != "" {
			rep.Errors = append(rep.Errors, lineError{line, key})
		}
	}
	return rep, nil
}

// importLine takes one line; it returns the message id of why it cannot, or "".
func (m *Module) importLine(ctx context.Context, t sdk.Tenant, source string, get func(string) string,
	facilities map[string]string, doctorFacs, doctorSpecs map[string][]string, rep *importReport) string {
	ref, facRef := get("reference"), get("facility_reference")
	if ref == "" || facRef == "" || strings.Contains(ref, ":") || strings.Contains(facRef, ":") {
		return "calendar.import.err.reference"
	}
	if get("first_name") == "" || get("last_name") == "" {
		return "calendar.import.err.name"
	}
	for _, k := range importColumns {
		if len([]rune(get(k))) > 500 {
			return "calendar.import.err.too_long"
		}
	}
	var specs []string
	for _, s := range strings.FieldsFunc(get("specialties"), func(r rune) bool { return r == '|' || r == ';' }) {
		code, ok := m.specialtyCode(strings.TrimSpace(s))
		if !ok {
			return "calendar.import.err.specialty"
		}
		specs = append(specs, code)
	}
	if len(specs) == 0 {
		return "calendar.import.err.specialty"
	}
	var online bool
	switch strings.ToLower(get("online_booking")) {
	case "", "no", "0", "false", "nie", "non":
	case "yes", "1", "true", "tak", "oui", "áno", "ano":
		online = true
	default:
		return "calendar.import.err.online"
	}
	fac := &Facility{Name: get("facility_name"), Address: get("address"), PostalCode: get("postal_code"), City: get("city"),
		Phone: get("phone"), OwnerKind: ownerImport, OwnerRef: source + ":" + facRef}
	if fac.City == "" || fac.Name == "" {
		return "calendar.import.err.facility"
	}
	if la, lo := get("latitude"), get("longitude"); la != "" || lo != "" {
		lat, err1 := strconv.ParseFloat(strings.Replace(la, ",", ".", 1), 64)
		lon, err2 := strconv.ParseFloat(strings.Replace(lo, ",", ".", 1), 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return "calendar.import.err.coordinates"
		}
		fac.Latitude, fac.Longitude = &lat, &lon
	}
	doc := &Doctor{Title: get("title"), FirstName: get("first_name"), LastName: get("last_name"), LicenceNumber: get("licence_number"),
		Languages: get("languages"), Bookable: online, OnlineCalendar: true, OwnerKind: ownerImport, OwnerRef: source + ":" + ref}
	refused := ""
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var old Doctor
		err := sc.Select(&old).Where("dr.owner_kind = ? AND dr.owner_ref = ?", ownerImport, doc.OwnerRef).Scan(ctx)
		switch {
		case err == nil:
			doc.ID, doc.CreatedAt, doc.Description, doc.Competences, doc.UserID = old.ID, old.CreatedAt, old.Description, old.Competences, old.UserID
			doc.OnlineCalendar, doc.CalendarStoppedAt, doc.RemovedAt = old.OnlineCalendar, old.CalendarStoppedAt, old.RemovedAt
			if !old.RemovedAt.IsZero() {
				doc.Bookable = false // the administrator removed him: an import does not bring him back
			}
		case !errors.Is(err, sqlNoRows):
			return err
		}
		if doc.LicenceNumber != "" {
			n, err := sc.Select((*Doctor)(nil)).Where("dr.licence_number = ?", doc.LicenceNumber).
				Where("dr.owner_kind <> ?", ownerImport).Count(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				refused = "calendar.import.err.not_ours"
				return nil
			}
		}
		if _, ok := facilities[facRef]; ok {
			return nil
		}
		var of Facility
		err = sc.Select(&of).Where("fa.owner_kind = ? AND fa.owner_ref = ?", ownerImport, fac.OwnerRef).Scan(ctx)
		if err == nil {
			fac.ID, fac.CreatedAt, fac.Email, fac.OpeningHours, fac.RegisterNumber, fac.UserID, fac.RemovedAt =
				of.ID, of.CreatedAt, of.Email, of.OpeningHours, of.RegisterNumber, of.UserID, of.RemovedAt
		} else if !errors.Is(err, sqlNoRows) {
			return err
		}
		return nil
	})
	if err != nil || refused != "" {
		if err != nil {
			m.Log.Error("import line", "tenant", t.Slug, "err", err)
			return "calendar.import.err.store"
		}
		return refused
	}
	if _, done := facilities[facRef]; !done {
		if err := m.saveFacility(ctx, t, fac); err != nil {
			m.Log.Error("import facility", "tenant", t.Slug, "err", err)
			return "calendar.import.err.store"
		}
		facilities[facRef] = fac.ID
		rep.Facilities++
	}
	created := doc.ID == ""
	// A doctor's lines add up: his facilities and specialties are those of all his lines.
	doctorFacs[ref] = appendNew(doctorFacs[ref], facilities[facRef])
	for _, s := range specs {
		doctorSpecs[ref] = appendNew(doctorSpecs[ref], s)
	}
	if err := m.saveDoctor(ctx, t, doc, doctorSpecs[ref], doctorFacs[ref]); err != nil {
		m.Log.Error("import doctor", "tenant", t.Slug, "err", err)
		return "calendar.import.err.store"
	}
	if created {
		rep.Created++
	} else if len(doctorFacs[ref]) == 1 {
		rep.Updated++ // counted on his first line of the file
	}
	return ""
}

// appendNew is xs with x, once.
func appendNew(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// specialtyCode is the specialty a CSV names by its code or by its name in any of the
// directory's languages.
func (m *Module) specialtyCode(s string) (string, bool) {
	if knownSpecialty(s) {
		return s, true
	}
	k := fold(s)
	for _, code := range specialties {
		for _, lang := range searchLocales {
			if fold(m.Msgs.For(lang).T("calendar.specialty."+code)) == k {
				return code, true
			}
		}
	}
	return "", false
}

// removeDoctor takes a doctor out of the directory (C1): out of every search and page and
// no longer bookable; the record and his bookings stay, with him as their controller.
// Audited.
func (m *Module) removeDoctor(c *kit.Ctx, id string) error {
	var d Doctor
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&d).Where("dr.id = ?", id).Where("dr.removed_at IS NULL").Scan(ctx); errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		_, err := sc.Update((*Doctor)(nil)).Set("removed_at = ?", m.now()).Set("bookable = ?", false).
			Where("dr.id = ?", id).Where("dr.removed_at IS NULL").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return c.Host().Record(c.Context(), sdk.AuditRecord{Action: "calendar.doctor_removed", Resource: "calendar_doctor:" + d.ID,
		Detail: map[string]any{"name": d.display()}})
}

// removeDoctorRoute is the administrator's removal of a doctor from the directory.
func (m *Module) removeDoctorRoute(c *kit.Ctx) error {
	if err := m.removeDoctor(c, c.Param("id")); err != nil {
		return err
	}
	return c.Redirect("/calendar", "doctor_removed")
}

// removeFacility takes a facility out of the directory (C1): its doctors no longer show it;
// the record stays for the bookings made there. Audited.
func (m *Module) removeFacility(c *kit.Ctx) error {
	var f Facility
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&f).Where("fa.id = ?", c.Param("id")).Where("fa.removed_at IS NULL").Scan(ctx); errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		} else if err != nil {
			return err
		}
		_, err := sc.Update((*Facility)(nil)).Set("removed_at = ?", m.now()).Where("fa.id = ?", f.ID).Where("fa.removed_at IS NULL").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "calendar.facility_removed", Resource: "calendar_facility:" + f.ID,
		Detail: map[string]any{"name": f.Name}}); err != nil {
		return err
	}
	if back := c.Form("doctor"); back != "" && len(back) <= 64 {
		return c.Redirect("/calendar/doctors/"+url.PathEscape(back), "facility_removed")
	}
	return c.Redirect("/calendar", "facility_removed")
}
