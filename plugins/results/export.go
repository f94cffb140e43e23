package results

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// export is what the module holds of a user (P11): his identity as the module matched it,
// the lab records linked to his account with their reports and values, and his professional
// file (the frame adds the core events that named him).
func (m *Module) export(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	out := map[string]any{}
	var printable []Report
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if a, err := account(ctx, sc, userID); err == nil {
			out["account"] = a
		} else if !errors.Is(err, kit.ErrNotFound) {
			return err
		}
		if p, err := professional(ctx, sc, userID); err == nil {
			out["professional"] = p
		} else if !errors.Is(err, kit.ErrNotFound) {
			return err
		}
		var records []LabPatient
		if err := sc.Select(&records).Where("lp.user_id = ?", userID).Scan(ctx); err != nil {
			return err
		}
		out["lab_records"] = records
		var reports []map[string]any
		for _, lp := range records {
			lp := lp
			reps, err := reportsWhere(ctx, sc, 10000, "rp.patient_id = ?", lp.ID)
			if err != nil {
				return err
			}
			for _, r := range reps {
				var vals []Value
				if err := sc.Select(&vals).Where("rv.report_id = ?", r.ID).Order("rv.seq").Scan(ctx); err != nil {
					return err
				}
				out := make([]exportValue, 0, len(vals))
				for _, v := range vals {
					out = append(out, exportOf(v))
				}
				r.Values, r.Patient = vals, &lp
				original, printout := m.exportNames(t, &r)
				reports = append(reports, map[string]any{"id": r.ID, "report_id": r.ReportID, "collected_at": r.CollectedAt,
					"published_at": r.PublishedAt, "lab": r.LabSite, "prescriber": r.PrescriberName, "status": r.Status,
					"validated_by": r.ValidatedBy, "pdf": r.PDFName, "pdf_file": original, "printout_file": printout, "values": out})
				printable = append(printable, r)
			}
		}
		out["reports"] = reports
		// What an erasure keeps here, and why, in every language (P11): the lab's reports
		// stay the lab's records, unlinked from the account, until their retention ends.
		kept := map[string]string{}
		for _, l := range locales.Supported {
			kept[l] = m.Msgs.For(l).TN("results.export.kept", int(retentionYears.Of(t)))
		}
		out["kept_after_erasure"] = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The reports' PDFs go into the archive (issue 12.16): the lab's signed original as it
	// was sent, and the module's printout in the person's language.
	var files []sdk.Blob
	for i := range printable {
		r := &printable[i]
		blob, err := sdk.HostFrom(ctx).Blob(ctx, r.BlobID)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", r.ID, err)
		}
		printed, err := m.printed(t, t.Locale, r, false)
		if err != nil {
			return nil, err
		}
		original, printout := m.exportNames(t, r)
		files = append(files, sdk.Blob{Name: original, Data: blob.Data}, sdk.Blob{Name: printout, Data: printed})
	}
	out[kit.ExportFiles] = files
	return out, nil
}

// exportNames are the names of a report's two PDFs in the person's archive, in his language:
// "reports/R-1-original-laboratoire.pdf", "reports/R-1-compte-rendu-19-11-2026.pdf".
func (m *Module) exportNames(t sdk.Tenant, r *Report) (original, printout string) {
	id := unsafeName.ReplaceAllString(r.ReportID, "-")
	lab := m.Msgs.For(t.Locale).T("results.export.original_file")
	return "reports/" + id + "-" + lab + ".pdf", "reports/" + id + "-" + unsafeName.ReplaceAllString(m.printName(t, t.Locale, r), "-")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// exportValue is a value as the export shows it: the import API's own names, a missing
// bound left out (not the database's {"Float64":…,"Valid":…}).
type exportValue struct {
	Code    string   `json:"code"`
	Label   string   `json:"label"`
	Value   string   `json:"value"`
	Unit    string   `json:"unit,omitempty"`
	Low     *float64 `json:"low,omitempty"`
	High    *float64 `json:"high,omitempty"`
	RefText string   `json:"ref_text,omitempty"`
	Flag    string   `json:"flag,omitempty"`
}

func exportOf(v Value) exportValue {
	e := exportValue{Code: v.Code, Label: v.Label, Value: v.Value, Unit: v.Unit, RefText: v.RefText, Flag: v.Flag}
	if v.RefLow.Valid {
		e.Low = &v.RefLow.Float64
	}
	if v.RefHigh.Valid {
		e.High = &v.RefHigh.Float64
	}
	return e
}
