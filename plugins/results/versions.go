package results

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
)

// Versions of an amended report (R3, issue 12.2): the latest is what the patient and the
// prescriber see; staff read every earlier one on the staff report page.

// versions lists a report's versions, the latest first.
func versions(ctx context.Context, sc *store.Scope, reportID string) ([]ReportVersion, error) {
	var out []ReportVersion
	err := sc.Select(&out).ExcludeColumn("vals").Where("rvv.report_id = ?", reportID).Order("rvv.version DESC").Scan(ctx)
	return out, err
}

// reportExtras adds to the staff's report page the versions of an amended report. (Its
// availability, stated to every audience, counts from the first publication: R4.)
func (m *Module) reportExtras(c *kit.Ctx, aud string, rep *Report, v *kit.View) error {
	if aud != audStaff || rep.Version < 2 {
		return nil
	}
	return c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		v.Data["Versions"], err = versions(ctx, sc, rep.ID)
		return err
	})
}

// staffVersion reads one earlier version of a report: its values, its PDF.
func (m *Module) staffVersion(c *kit.Ctx) error {
	rep, ver, err := m.pathVersion(c)
	if err != nil {
		return err
	}
	if ver.Version == rep.Version {
		// The current version is the report page itself.
		return c.Redirect("/results/staff/r/"+rep.ID, "")
	}
	vals, err := ver.values()
	if err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "results.view", Subject: auditSubject(rep), Resource: "result:" + rep.ID,
		Detail: map[string]any{"report": rep.ReportID, "version": ver.Version}}); err != nil {
		return err
	}
	v := c.View("results.version.title")
	v.Data["Report"], v.Data["Version"], v.Data["Values"] = rep, ver, vals
	return c.Render(200, "version", v)
}

// staffVersionPDF sends the PDF of an earlier version, as sendPDF does the current one.
func (m *Module) staffVersionPDF(c *kit.Ctx) error {
	rep, ver, err := m.pathVersion(c)
	if err != nil {
		return err
	}
	blob, err := c.Host().Blob(c.Context(), ver.BlobID)
	if err != nil {
		return fmt.Errorf("report %s version %d: %w: %w", rep.ID, ver.Version, kit.ErrNotFound, err)
	}
	action, inline := "results.view_pdf", c.Query("download") != "1"
	if !inline {
		action = "results.download"
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Subject: auditSubject(rep), Resource: "result:" + rep.ID,
		Detail: map[string]any{"report": rep.ReportID, "version": ver.Version}}); err != nil {
		return err
	}
	upload.Serve(c.W.Header().Set, upload.PDF, upload.DownloadName(ver.PDFName, "report", upload.PDF), inline)
	c.W.Header().Set("Cache-Control", "private, no-store")
	_, err = c.W.Write(blob.Data)
	return err
}

// pathVersion is the report and the version the path names.
func (m *Module) pathVersion(c *kit.Ctx) (*Report, *ReportVersion, error) {
	n, err := strconv.Atoi(c.Param("version"))
	if err != nil || n < 1 {
		return nil, nil, kit.ErrNotFound
	}
	var rep *Report
	ver := &ReportVersion{}
	err = c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if rep, err = report(ctx, sc, c.Param("id")); err != nil {
			return err
		}
		return notFound(sc.Select(ver).Where("rvv.report_id = ? AND rvv.version = ?", rep.ID, n).Scan(ctx))
	})
	return rep, ver, err
}

// values are the version's values, as the report page shows them.
func (v *ReportVersion) values() ([]Value, error) {
	var in []exportValue
	if err := json.Unmarshal([]byte(v.Values), &in); err != nil {
		return nil, fmt.Errorf("report %s version %d: values: %w", v.ReportID, v.Version, err)
	}
	out := make([]Value, len(in))
	for i, x := range in {
		out[i] = Value{Seq: i + 1, Code: x.Code, Label: x.Label, Value: x.Value, Numeric: numeric(x.Value), Unit: x.Unit,
			RefLow: nullable(x.Low), RefHigh: nullable(x.High), RefText: x.RefText, Flag: x.Flag}
	}
	return out, nil
}
