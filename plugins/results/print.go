package results

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
)

// IncomingValidator is the lab's biologist who validated a report, when the LIS sends one
// (optional): his name, his qualification as the lab writes it, and when he validated.
type IncomingValidator struct {
	Name          string `json:"name"`
	Qualification string `json:"qualification"`
	ValidatedAt   string `json:"validated_at"`
}

// checkValidator normalizes the optional validating biologist of in.
func (in *Incoming) checkValidator(f fieldErrs, now time.Time) {
	v := in.ValidatedBy
	if v == nil {
		return
	}
	v.Name = text(f, "validated_by.name", v.Name, 120, true)
	v.Qualification = text(f, "validated_by.qualification", v.Qualification, 120, false)
	v.ValidatedAt = strings.TrimSpace(v.ValidatedAt)
	if v.ValidatedAt != "" {
		at, err := time.Parse(time.RFC3339, v.ValidatedAt)
		if err != nil || at.After(now.Add(24*time.Hour)) {
			f.add("validated_by.validated_at", "invalid_date")
		}
	}
}

// validator is what a report keeps of its validating biologist: "name, qualification".
func (in *Incoming) validator() string {
	if in.ValidatedBy == nil || in.ValidatedBy.Name == "" {
		return ""
	}
	if q := in.ValidatedBy.Qualification; q != "" {
		return in.ValidatedBy.Name + ", " + q
	}
	return in.ValidatedBy.Name
}

// timeKnown says whether the collection time was sent with its date ("2026-11-19" alone
// says the day, not midnight).
func (in *Incoming) timeKnown() bool {
	_, err := time.Parse(time.RFC3339, strings.TrimSpace(in.CollectedAt))
	return err == nil
}

// decimalRe is a number as a lab writes it, maybe after a comparison ("<0.5", "≥ 12,5").
var decimalRe = regexp.MustCompile(`^([<>≤≥]=?\s*)?([+-]?[0-9]+(?:[.,]([0-9]+))?)$`)

// In is the value as lang writes it: a number with the decimals the lab gave and the
// language's separator ("13.9" reads "13,9" in French, "<0.5" "<0,5"); anything else
// ("positif") as the lab wrote it.
func (v Value) In(lang string) string {
	m := decimalRe.FindStringSubmatch(strings.TrimSpace(v.Value))
	if m == nil {
		return v.Value
	}
	n, err := strconv.ParseFloat(strings.Replace(m[2], ",", ".", 1), 64)
	if err != nil {
		return v.Value
	}
	return m[1] + locales.FormatDecimal(lang, n, len(m[3]))
}

// Range is the value's reference range as lang writes it.
func (v Value) Range(lang string) string {
	switch {
	case v.RefLow.Valid && v.RefHigh.Valid:
		return locales.FormatMeasure(lang, v.RefLow.Float64) + " – " + locales.FormatMeasure(lang, v.RefHigh.Float64)
	case v.RefLow.Valid:
		return "≥ " + locales.FormatMeasure(lang, v.RefLow.Float64)
	case v.RefHigh.Valid:
		return "≤ " + locales.FormatMeasure(lang, v.RefHigh.Float64)
	}
	return v.RefText
}

// Abnormal says whether the lab flagged the value out of its range.
func (v Value) Abnormal() bool { return v.Flag != "" && v.Flag != "N" }

// Collected is the report's collection as lang writes it in zone: the date, and the time
// when the lab gave one.
func (r *Report) Collected(lang string, zone *time.Location) string {
	if r.TimeUnknown {
		return locales.FormatDate(lang, r.CollectedAt, zone)
	}
	return locales.FormatDateTime(lang, r.CollectedAt, zone)
}

// printed writes a report as the module prints it, in lang, from what is stored: the same
// words, numbers, flags and dates as the report's page; the columns sized to their content.
// demo marks a document the demo made up as the lab's own.
func (m *Module) printed(t sdk.Tenant, lang string, rep *Report, demo bool) ([]byte, error) {
	loc, zone := m.Msgs.For(lang), tenantLoc(t)
	title := loc.T("results.pdf.title")
	d := pdfdoc.New(title, t.Name, rep.CollectedAt)
	d.Heading(t.Name, 16)
	d.Heading(title, 13)
	if p := rep.Patient; p != nil {
		d.Pair(loc.T("results.pdf.patient"), strings.ToUpper(p.LastName)+" "+p.FirstName)
		if p.BirthName != "" && p.BornOther() {
			d.Pair(loc.T("results.pdf.birth_name"), strings.ToUpper(p.BirthName))
		}
		if bd, ok := parseDay(p.BirthDate); ok {
			d.Pair(loc.T("results.pdf.birth_date"), locales.FormatDate(lang, bd, time.UTC))
		}
	}
	d.Pair(loc.T("results.pdf.report_id"), rep.ReportID)
	if rep.PrescriberName != "" {
		d.Pair(loc.T("results.pdf.prescriber"), rep.PrescriberName)
	}
	d.Pair(loc.T("results.pdf.collected"), rep.Collected(lang, zone))
	if rep.LabSite != "" {
		d.Pair(loc.T("results.pdf.lab"), rep.LabSite)
	}
	d.Pair(loc.T("results.pdf.status"), loc.T("results.status."+rep.Status))
	if rep.ValidatedBy != "" {
		d.Pair(loc.T("results.pdf.validated_by"), rep.ValidatedBy)
	}
	if len(rep.Values) > 0 {
		rows := make([][]string, len(rep.Values))
		bold := make([]bool, len(rep.Values))
		for i, v := range rep.Values {
			flag := ""
			if v.Flag != "" {
				flag = loc.T("results.flag." + v.Flag)
			}
			rows[i] = []string{v.Label, v.In(lang), v.Unit, v.Range(lang), flag}
			bold[i] = v.Abnormal()
		}
		d.TableRows([]string{loc.T("results.values.analyte"), loc.T("results.values.value"), loc.T("results.values.unit"),
			loc.T("results.values.range"), loc.T("results.values.flag")}, rows, nil, bold)
	}
	if demo {
		d.Text(loc.T("results.pdf.footer"))
	} else {
		d.Text(loc.T("results.pdf.printed_note"))
	}
	return d.Bytes()
}

// printName is the printout's file name in lang: "compte-rendu-19-11-2026.pdf".
func (m *Module) printName(t sdk.Tenant, lang string, rep *Report) string {
	day := strings.NewReplacer("/", "-", ". ", "-", ".", "-", " ", "").Replace(locales.FormatDate(lang, rep.CollectedAt, tenantLoc(t)))
	base := m.Msgs.For(lang).T("results.pdf.file", "Date", strings.Trim(day, "-"))
	return upload.DownloadName(base+".pdf", "report", upload.PDF)
}

// incomingReport is an incoming report as it will be stored, for printing before import
// (the demo's lab documents, the tests').
func incomingReport(in *Incoming, zone *time.Location) *Report {
	collected, err := time.Parse(time.RFC3339, in.CollectedAt)
	if err != nil {
		d, _ := parseDay(in.CollectedAt)
		collected = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone)
	}
	p := in.Patient
	rep := &Report{ReportID: in.ReportID, PrescriberName: in.Prescriber.Name, LabSite: in.Lab, Status: in.Status,
		CollectedAt: collected.UTC(), TimeUnknown: !in.timeKnown(), ValidatedBy: in.validator(),
		Patient: &LabPatient{LabPatientID: p.LabPatientID, LastName: p.LastName, FirstName: p.FirstName, BirthName: p.BirthName, BirthDate: p.BirthDate}}
	if rep.Status == "" {
		rep.Status = "final"
	}
	for i, v := range in.Values {
		rep.Values = append(rep.Values, Value{Seq: i + 1, Code: strings.ToUpper(v.Code), Label: v.Label, Value: v.Value, Numeric: numeric(v.Value),
			Unit: v.Unit, RefLow: nullable(v.Low), RefHigh: nullable(v.High), RefText: v.RefText, Flag: strings.ToUpper(v.Flag)})
	}
	return rep
}

// sendPrinted sends the module's printout of a report in the reader's language (R4), each
// time recorded as the lab's PDF is (R9).
func (m *Module) sendPrinted(c *kit.Ctx, find finder) error {
	rep, err := m.find(c, find)
	if err != nil {
		return err
	}
	lang := c.Tenant().Locale
	b, err := m.printed(c.Tenant(), lang, rep, false)
	if err != nil {
		return err
	}
	action := "results.view_pdf"
	if c.Query("download") == "1" {
		action = "results.download"
	}
	if err := access(c, action, rep); err != nil {
		return err
	}
	upload.Serve(c.W.Header().Set, upload.PDF, m.printName(c.Tenant(), lang, rep), action == "results.view_pdf")
	c.W.Header().Set("Cache-Control", "private, no-store")
	_, err = c.W.Write(b)
	return err
}
