package results

import (
	"context"

	"carenet.dev/platform/plugins/sdk"
)

// expire removes the reports older than the tenant's retention (R4: five years), their PDFs
// and values, and the lab records left with no report and no account. It runs every night;
// the patient has seen the date on his results page beforehand.
func (m *Module) expire(ctx context.Context, t sdk.Tenant) (int, error) {
	cutoff := m.now().AddDate(-int(t.IntRule("results.retention_years", 5)), 0, 0)
	host := sdk.HostFrom(ctx)
	n := 0
	for {
		old, err := reportsWhere(ctx, m.DB, t.ID, 200, "rp.published_at < ?", cutoff)
		if err != nil || len(old) == 0 {
			return n, err
		}
		for i := range old {
			rep := &old[i]
			if err := host.Blobs.Delete(ctx, rep.BlobID); err != nil {
				return n, err
			}
			if _, err := m.DB.NewDelete().Model((*Value)(nil)).Where("tenant_id = ? AND report_id = ?", t.ID, rep.ID).Exec(ctx); err != nil {
				return n, err
			}
			if _, err := m.DB.NewDelete().Model((*Report)(nil)).Where("tenant_id = ? AND id = ?", t.ID, rep.ID).Exec(ctx); err != nil {
				return n, err
			}
			if err := host.Audit.Record(ctx, sdk.AuditRecord{Action: "results.expired", Subject: auditSubject(rep), Resource: "result:" + rep.ID,
				Detail: map[string]any{"report": rep.ReportID, "published": rep.PublishedAt}}); err != nil {
				return n, err
			}
			n++
		}
		_, err = m.DB.NewDelete().TableExpr("results_lab_patients").Where("tenant_id = ? AND user_id = ''", t.ID).
			Where("NOT EXISTS (SELECT 1 FROM results_reports AS r WHERE r.tenant_id = results_lab_patients.tenant_id AND r.patient_id = results_lab_patients.id)").Exec(ctx)
		if err != nil {
			return n, err
		}
	}
}
