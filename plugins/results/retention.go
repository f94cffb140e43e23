package results

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

func (m *Module) retentionJob(ctx context.Context, job *sdk.Job) error {
	_, err := m.expire(ctx, job.Tenant)
	return err
}

// expire removes the reports older than the tenant's retention (R4: five years), their PDFs
// and values, and the lab records left with no report and no account. It runs every night;
// the patient has seen the date on his results page beforehand.
func (m *Module) expire(ctx context.Context, t sdk.Tenant) (int, error) {
	cutoff := m.now().AddDate(-int(retentionYears.Of(t)), 0, 0)
	host := sdk.HostFrom(ctx)
	n := 0
	for {
		var old []Report
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) (err error) {
			old, err = reportsWhere(ctx, sc, 200, "rp.published_at < ?", cutoff)
			return err
		})
		if err != nil || len(old) == 0 {
			return n, err
		}
		for i := range old {
			rep := &old[i]
			// The PDFs of every version (issue 12.2), the current one last.
			var blobs []string
			if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				return sc.Select((*ReportVersion)(nil)).Column("blob_id").Where("rvv.report_id = ? AND rvv.blob_id <> ?", rep.ID, rep.BlobID).
					Scan(ctx, &blobs)
			}); err != nil {
				return n, err
			}
			for _, b := range append(blobs, rep.BlobID) {
				if err := host.DeleteBlob(ctx, b); err != nil {
					return n, err
				}
			}
			err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
				if _, err := sc.Delete((*Value)(nil)).Where("rv.report_id = ?", rep.ID).Exec(ctx); err != nil {
					return err
				}
				_, err := sc.Delete((*Report)(nil)).Where("rp.id = ?", rep.ID).Exec(ctx)
				return err
			})
			if err != nil {
				return n, err
			}
			if err := host.Record(ctx, sdk.AuditRecord{Action: "results.expired", Subject: auditSubject(rep), Resource: "result:" + rep.ID,
				Detail: map[string]any{"report": rep.ReportID, "published": rep.PublishedAt}}); err != nil {
				return n, err
			}
			n++
		}
		err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Delete((*LabPatient)(nil)).Where("lp.user_id = '' AND lp.merged_into = ''").
				Where("NOT EXISTS (SELECT 1 FROM results_reports AS r WHERE r.tenant_id = lp.tenant_id AND r.patient_id = lp.id)").Exec(ctx)
			if err != nil {
				return err
			}
			// A merged record lives as long as the record it was merged into (issue 12.1).
			_, err = sc.Delete((*LabPatient)(nil)).Where("lp.merged_into <> ''").
				Where("NOT EXISTS (SELECT 1 FROM results_lab_patients AS r WHERE r.tenant_id = lp.tenant_id AND r.id = lp.merged_into)").Exec(ctx)
			return err
		})
		if err != nil {
			return n, err
		}
	}
}
