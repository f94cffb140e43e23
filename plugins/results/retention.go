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
			if err := host.DeleteBlob(ctx, rep.BlobID); err != nil {
				return n, err
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
			_, err := sc.Delete((*LabPatient)(nil)).Where("lp.user_id = ''").
				Where("NOT EXISTS (SELECT 1 FROM results_reports AS r WHERE r.tenant_id = lp.tenant_id AND r.patient_id = lp.id)").Exec(ctx)
			return err
		})
		if err != nil {
			return n, err
		}
	}
}
