package results

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/plugins/kit"
)

// uploadFields are the fields of the staff upload form, in the order they are shown.
var uploadFields = []string{"report_id", "lab_patient_id", "last_name", "birth_name", "first_name", "birth_date",
	"prescriber_number", "prescriber_name", "collected_at", "collected_time", "lab", "status"}

// valueFields are the cells of one row of values in the upload form.
var valueFields = []string{"code", "label", "value", "unit", "low", "high", "flag"}

// Rows of values the form offers: a few empty ones, more on request ("more rows" is a
// submit button: no script needed), never more than the import takes.
const (
	rowsFirst = 4
	rowsMore  = 4
	rowsMax   = 200
)

// valueFlags are the flags offered in the form, "" (none given) first.
var valueFlags = []string{"", "N", "L", "H", "LL", "HH", "A"}

func (m *Module) uploadForm(c *kit.Ctx) error {
	v := c.View("results.upload.title")
	v.Values["status"] = "final"
	uploadView(v, rowsFirst)
	return c.Render(200, "upload", v)
}

func uploadView(v *kit.View, rows int) {
	type row struct{ Index, Number int }
	idx := make([]row, rows)
	for i := range idx {
		idx[i] = row{i, i + 1}
	}
	v.Data["Rows"], v.Data["RowCount"], v.Data["Flags"] = idx, rows, valueFlags
	v.Data["More"] = rows < rowsMax
}

// formField maps an import error's field to the upload form's field.
var formField = map[string]string{"patient.lab_patient_id": "lab_patient_id", "patient.last_name": "last_name",
	"patient.birth_name": "birth_name", "patient.first_name": "first_name", "patient.birth_date": "birth_date",
	"prescriber.register_number": "prescriber_number", "prescriber.name": "prescriber_name"}

// upload is the lab staff's way to publish a report (R3b): the same checks and the same
// import as the API. The values come one row per analyte; "more rows" shows the form again
// with what was typed and more empty rows.
func (m *Module) upload(c *kit.Ctx) error {
	maxPDF := maxPDFMB.Of(c.Tenant()) << 20
	if err := c.R.ParseMultipartForm(maxPDF + (1 << 20)); err != nil {
		return kit.ErrBadRequest
	}
	v := c.View("results.upload.title")
	for _, f := range uploadFields {
		v.Values[f] = c.Form(f)
	}
	rows, err := strconv.Atoi(c.Form("rows"))
	if err != nil || rows < 1 || rows > rowsMax {
		rows = rowsFirst
	}
	for i := 0; i < rows; i++ {
		for _, f := range valueFields {
			k := fmt.Sprintf("%s.%d", f, i)
			v.Values[k] = c.Form(k)
		}
	}
	if c.Form("more") != "" {
		uploadView(v, min(rows+rowsMore, rowsMax))
		v.Flash = v.T("results.upload.rows_added")
		return c.Render(200, "upload", v)
	}
	uploadView(v, rows)
	zone := tenantLoc(c.Tenant())
	in := &Incoming{ReportID: c.Form("report_id"), CollectedAt: collectedAt(c.Form("collected_at"), c.Form("collected_time"), zone),
		Lab: c.Form("lab"), Status: c.Form("status"),
		Patient: IncomingPatient{LabPatientID: c.Form("lab_patient_id"), LastName: c.Form("last_name"), BirthName: c.Form("birth_name"),
			FirstName: c.Form("first_name"), BirthDate: c.Form("birth_date")},
		Prescriber: IncomingPro{RegisterNumber: c.Form("prescriber_number"), Name: c.Form("prescriber_name")}}
	var rowOf []int // the form's row of each value
	for i := 0; i < rows; i++ {
		iv, errs, empty := valueRow(c.Form, i)
		if empty {
			continue
		}
		for k, code := range errs {
			v.Errors[k] = errKey(code)
		}
		in.Values, rowOf = append(in.Values, iv), append(rowOf, i)
	}
	if t := strings.TrimSpace(c.Form("collected_time")); t != "" && !timeRe(t) {
		v.Errors["collected_time"] = errKey("invalid_time")
	}
	if f, fh, err := c.R.FormFile("pdf"); err == nil {
		in.PDF, _ = io.ReadAll(io.LimitReader(f, maxPDF+1))
		in.PDFName = fh.Filename
		f.Close()
	}
	errs := in.check(maxPDF, m.now(), zone)
	for k, code := range errs {
		field := k
		if ff, ok := formField[k]; ok {
			field = ff
		} else if rest, ok := strings.CutPrefix(k, "values."); ok {
			// values.<n>.<field> → <field>.<row>; a range's error goes under its high bound.
			var n int
			var name string
			if _, err := fmt.Sscanf(strings.Replace(rest, ".", " ", 1), "%d %s", &n, &name); err == nil && n < len(rowOf) {
				if name == "range" {
					name = "high"
				}
				field = fmt.Sprintf("%s.%d", name, rowOf[n])
			} else {
				field = "values"
			}
		}
		if _, dup := v.Errors[field]; !dup {
			v.Errors[field] = errKey(code)
		}
	}
	if len(v.Errors) > 0 {
		return kit.Invalid("upload", v)
	}
	res, err := m.importReport(c.Context(), c.Tenant(), in, "staff:"+c.User().ID)
	if err != nil {
		return err
	}
	// Created, a new version of a known report (R3, issue 12.2), or the same content again.
	done := "duplicate"
	if res.Amended {
		done = "amended"
	}
	if res.Created {
		done = "imported"
		if err := m.recordImport(c.Context(), res); err != nil {
			return err
		}
	}
	return c.Redirect("/results/staff/patients/"+res.Report.PatientID, done)
}

// collectedAt is the collection as the import reads it: the day alone when no time is
// given (the pages then show no time), else the day and time in the lab's zone.
func collectedAt(day, clock string, zone *time.Location) string {
	day, clock = strings.TrimSpace(day), strings.TrimSpace(clock)
	d, ok := parseDay(day)
	if !ok || clock == "" || !timeRe(clock) {
		return day
	}
	hm, _ := time.Parse("15:04", clock)
	return time.Date(d.Year(), d.Month(), d.Day(), hm.Hour(), hm.Minute(), 0, 0, zone).Format(time.RFC3339)
}

func timeRe(s string) bool {
	_, err := time.Parse("15:04", s)
	return err == nil
}

// valueRow reads row i of the form's values: the value, each cell's error code, and whether
// the row was left empty (then it is no value).
func valueRow(form func(string) string, i int) (IncomingValue, map[string]string, bool) {
	cell := func(f string) string { return strings.TrimSpace(form(fmt.Sprintf("%s.%d", f, i))) }
	empty := true
	for _, f := range valueFields {
		if f != "flag" && cell(f) != "" {
			empty = false
		}
	}
	errs := map[string]string{}
	if empty {
		return IncomingValue{}, errs, true
	}
	iv := IncomingValue{Code: cell("code"), Label: cell("label"), Value: cell("value"), Unit: cell("unit"), Flag: cell("flag")}
	for _, b := range []struct {
		name string
		dst  **float64
	}{{"low", &iv.Low}, {"high", &iv.High}} {
		s := cell(b.name)
		if s == "" {
			continue
		}
		f, ok := readNumber(s)
		if !ok {
			errs[fmt.Sprintf("%s.%d", b.name, i)] = "invalid_number"
			continue
		}
		*b.dst = &f
	}
	return iv, errs, false
}

// readNumber reads a number as a person types it in fr, pl or sk ("12,5", "1 234,5") or
// with a point ("12.5").
func readNumber(s string) (float64, bool) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(strings.TrimSpace(s))
	if strings.Count(s, ",")+strings.Count(s, ".") > 1 {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
