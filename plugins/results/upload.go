package results

import (
	"io"
	"strconv"
	"strings"

	"carenet.dev/platform/plugins/kit"
)

// uploadFields are the fields of the staff upload form, in the order they are shown.
var uploadFields = []string{"report_id", "lab_patient_id", "last_name", "birth_name", "first_name", "birth_date",
	"prescriber_number", "prescriber_name", "collected_at", "lab", "status", "values"}

func (m *Module) uploadForm(c *kit.Ctx) error {
	v := c.View("results.upload.title")
	v.Values["status"] = "final"
	return c.Render(200, "upload", v)
}

// formField maps an import error's field to the upload form's field.
var formField = map[string]string{"patient.lab_patient_id": "lab_patient_id", "patient.last_name": "last_name",
	"patient.birth_name": "birth_name", "patient.first_name": "first_name", "patient.birth_date": "birth_date",
	"prescriber.register_number": "prescriber_number", "prescriber.name": "prescriber_name"}

// upload is the lab staff's way to publish a report (R3b): the same checks and the same
// import as the API.
func (m *Module) upload(c *kit.Ctx) error {
	maxPDF := maxPDFMB.Of(c.Tenant()) << 20
	if err := c.R.ParseMultipartForm(maxPDF + (1 << 20)); err != nil {
		return kit.ErrBadRequest
	}
	v := c.View("results.upload.title")
	for _, f := range uploadFields {
		v.Values[f] = c.Form(f)
	}
	in := &Incoming{ReportID: c.Form("report_id"), CollectedAt: c.Form("collected_at"), Lab: c.Form("lab"), Status: c.Form("status"),
		Patient: IncomingPatient{LabPatientID: c.Form("lab_patient_id"), LastName: c.Form("last_name"), BirthName: c.Form("birth_name"),
			FirstName: c.Form("first_name"), BirthDate: c.Form("birth_date")},
		Prescriber: IncomingPro{RegisterNumber: c.Form("prescriber_number"), Name: c.Form("prescriber_name")}}
	valErr := ""
	in.Values, valErr = parseValueLines(c.Form("values"))
	if f, fh, err := c.R.FormFile("pdf"); err == nil {
		in.PDF, _ = io.ReadAll(io.LimitReader(f, maxPDF+1))
		in.PDFName = fh.Filename
		f.Close()
	}
	errs := in.check(maxPDF, m.now(), tenantLoc(c.Tenant()))
	for k, code := range errs {
		field := k
		if ff, ok := formField[k]; ok {
			field = ff
		} else if strings.HasPrefix(k, "values.") {
			field = "values"
		}
		if _, dup := v.Errors[field]; !dup {
			v.Errors[field] = errKey(code)
		}
	}
	if valErr != "" {
		v.Errors["values"] = errKey(valErr)
	}
	if len(v.Errors) > 0 {
		return kit.Invalid("upload", v)
	}
	res, err := m.importReport(c.Context(), c.Tenant(), in, "staff:"+c.User().ID)
	if err != nil {
		return err
	}
	done := "duplicate"
	if res.Created {
		done = "imported"
		if err := m.recordImport(c.Context(), res); err != nil {
			return err
		}
	}
	return c.Redirect("/results/staff/patients/"+res.Report.PatientID, done)
}

// parseValueLines reads the structured values typed in the upload form, one per line:
// "code; label; value; unit; low; high; flag".
func parseValueLines(s string) ([]IncomingValue, string) {
	var out []IncomingValue
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Split(line, ";")
		for len(parts) < 7 {
			parts = append(parts, "")
		}
		if len(parts) > 7 {
			return nil, "values_format"
		}
		iv := IncomingValue{Code: parts[0], Label: parts[1], Value: parts[2], Unit: strings.TrimSpace(parts[3]), Flag: parts[6]}
		for i, dst := range []**float64{&iv.Low, &iv.High} {
			t := strings.ReplaceAll(strings.TrimSpace(parts[4+i]), ",", ".")
			if t == "" {
				continue
			}
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return nil, "values_format"
			}
			*dst = &f
		}
		out = append(out, iv)
	}
	return out, ""
}
