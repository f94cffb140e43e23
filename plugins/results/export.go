package results

import (
	"context"
	"encoding/json"
	"errors"

	"carenet.dev/platform/plugins/sdk"
)

// ExportUser returns what the module holds of a user (P11): his identity as the module
// matched it, the lab records linked to his account with their reports and values, his
// professional file, and the core events that named him.
func (m *Module) ExportUser(ctx context.Context, t sdk.Tenant, userID string) ([]byte, error) {
	out := map[string]any{"module": m.Man.ID}
	if a, err := account(ctx, m.DB, t.ID, userID); err == nil {
		out["account"] = a
	} else if !errors.Is(err, errNotFound) {
		return nil, err
	}
	if p, err := professional(ctx, m.DB, t.ID, userID); err == nil {
		out["professional"] = p
	} else if !errors.Is(err, errNotFound) {
		return nil, err
	}
	var records []LabPatient
	if err := m.DB.NewSelect().Model(&records).Where("tenant_id = ? AND user_id = ?", t.ID, userID).Scan(ctx); err != nil {
		return nil, err
	}
	out["lab_records"] = records
	var reports []map[string]any
	for _, lp := range records {
		reps, err := reportsWhere(ctx, m.DB, t.ID, 10000, "rp.patient_id = ?", lp.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range reps {
			var vals []Value
			if err := m.DB.NewSelect().Model(&vals).Where("tenant_id = ? AND report_id = ?", t.ID, r.ID).Order("seq").Scan(ctx); err != nil {
				return nil, err
			}
			reports = append(reports, map[string]any{"id": r.ID, "report_id": r.ReportID, "collected_at": r.CollectedAt,
				"published_at": r.PublishedAt, "lab": r.LabSite, "prescriber": r.PrescriberName, "status": r.Status,
				"pdf": r.PDFName, "values": vals})
		}
	}
	out["reports"] = reports
	evs, err := m.Module.ExportUser(ctx, t, userID)
	if err != nil {
		return nil, err
	}
	out["events"] = json.RawMessage(evs)
	return json.Marshal(out)
}
