package results

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// proRow is one report in the professional's list: how many values are out of range, and
// whether the lab published it since his previous visit.
type proRow struct {
	reportRow
	Abnormal int
	New      bool
}

// visit records that the professional opens his results now and answers when his previous
// visit began (zero before his first): a visit lasts while he comes back within the
// tenant's gap. The database holds it: one guarded statement starts a new visit, else the
// current one goes on.
func (m *Module) visit(ctx context.Context, sc *store.Scope, t sdk.Tenant, userID string) (time.Time, error) {
	now := m.now()
	gap := now.Add(-time.Duration(proVisitGap.Of(t)) * time.Minute)
	_, err := sc.Update((*Professional)(nil)).Set("last_visit_at = seen_at").Set("seen_at = ?", now).
		Where("pr.user_id = ? AND pr.seen_at IS NOT NULL AND pr.seen_at < ?", userID, gap).Exec(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if _, err = sc.Update((*Professional)(nil)).Set("seen_at = ?", now).Where("pr.user_id = ?", userID).Exec(ctx); err != nil {
		return time.Time{}, err
	}
	p, err := professional(ctx, sc, userID)
	if err != nil {
		return time.Time{}, err
	}
	return p.LastVisitAt.Time, nil
}

// searchDay reads a date as the page shows it (19/11/2026 in French, 19.11.2026 in Polish,
// 19. 11. 2026 in Slovak) or as ISO 2026-11-19.
func searchDay(q string) (time.Time, bool) {
	s := strings.ReplaceAll(q, " ", "")
	for _, layout := range []string{"2/1/2006", "2.1.2006", "2-1-2006", "2006-1-2"} {
		if d, err := time.Parse(layout, s); err == nil {
			return d, true
		}
	}
	return time.Time{}, false
}

// proList is the professional's home on his portal (R5): the results of his patients, only
// the reports he prescribed (found by the register number the lab checked), each marked
// when values are out of range and when it is new since his previous visit; searched by the
// patient's name or by a date as the page writes it (the collection's or the birth's).
func (m *Module) proList(c *kit.Ctx) error {
	v := c.View("results.pro.title")
	q := strings.TrimSpace(c.Query("q"))
	v.Values["q"] = q
	var p *Professional
	var reps []Report
	var since time.Time
	abnormal := map[string]int{}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if p, err = activePro(ctx, sc, c.User()); err != nil {
			return err
		}
		if since, err = m.visit(ctx, sc, c.Tenant(), p.UserID); err != nil {
			return err
		}
		where, args := "rp.prescriber_number = ?", []any{p.RegisterNumber}
		if day, ok := searchDay(q); ok {
			zone := tenantLoc(c.Tenant())
			from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, zone)
			born := sc.Select((*LabPatient)(nil)).Column("id").Where("lp.birth_date = ?", day.Format("2006-01-02"))
			where += " AND ((rp.collected_at >= ? AND rp.collected_at < ?) OR rp.patient_id IN (?))"
			args = append(args, from.UTC(), from.AddDate(0, 0, 1).UTC(), born)
		} else if q != "" {
			named := sc.Select((*LabPatient)(nil)).Column("id").Where("lp.match_key LIKE ?", "%"+strings.ReplaceAll(fold(q), "%", "")+"%")
			where += " AND rp.patient_id IN (?)"
			args = append(args, named)
		}
		if reps, err = reportsWhere(ctx, sc, 500, where, args...); err != nil || len(reps) == 0 {
			return err
		}
		ids := make([]string, len(reps))
		for i := range reps {
			ids[i] = reps[i].ID
		}
		var counts []struct {
			ReportID string `bun:"report_id"`
			N        int    `bun:"n"`
		}
		err = sc.Select((*Value)(nil)).ColumnExpr("rv.report_id, COUNT(*) AS n").
			Where("rv.report_id IN (?) AND rv.flag NOT IN ('', 'N')", bun.In(ids)).Group("rv.report_id").Scan(ctx, &counts)
		for _, x := range counts {
			abnormal[x.ReportID] = x.N
		}
		return err
	})
	if errors.Is(err, kit.ErrNotFound) {
		v.Data["Pending"] = true
		return c.Render(200, "pro", v)
	}
	if err != nil {
		return err
	}
	rows := make([]proRow, 0, len(reps))
	news, out := 0, 0
	for _, r := range m.rows(c.Tenant(), reps) {
		x := proRow{reportRow: r, Abnormal: abnormal[r.ID], New: since.IsZero() || r.PublishedAt.After(since)}
		if x.New {
			news++
		}
		if x.Abnormal > 0 {
			out++
		}
		rows = append(rows, x)
	}
	v.Data["Rows"], v.Data["Pro"], v.Data["News"], v.Data["Out"], v.Data["Today"] = rows, p, news, out, m.now()
	if !since.IsZero() {
		v.Data["Since"] = since
	}
	return c.Render(200, "pro", v)
}
