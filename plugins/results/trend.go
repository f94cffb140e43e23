package results

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// point is one value of an analyte over time.
type point struct {
	At       time.Time
	ReportID string
	Value    Value
}

// Out says whether the value lies out of its own reference range, or the lab flagged it so.
func (p point) Out() bool {
	v := p.Value
	if v.Abnormal() {
		return true
	}
	if !v.Numeric.Valid {
		return false
	}
	return (v.RefLow.Valid && v.Numeric.Float64 < v.RefLow.Float64) || (v.RefHigh.Valid && v.Numeric.Float64 > v.RefHigh.Float64)
}

// points reads the values of one analyte in the reports where says, oldest first.
func points(ctx context.Context, sc *store.Scope, code, where string, args ...any) ([]point, error) {
	var rows []struct {
		Value
		CollectedAt time.Time `bun:"collected_at"`
	}
	err := sc.Select((*Value)(nil)).ColumnExpr("rv.*, rp.collected_at").
		Join("JOIN results_reports AS rp ON rp.tenant_id = rv.tenant_id AND rp.id = rv.report_id").
		Where("rv.code = ?", code).Where(where, args...).Order("rp.collected_at").Scan(ctx, &rows)
	pts := make([]point, 0, len(rows))
	for _, x := range rows {
		pts = append(pts, point{At: x.CollectedAt, ReportID: x.ReportID, Value: x.Value})
	}
	return pts, err
}

func trendCode(c *kit.Ctx) (string, error) {
	code := strings.ToUpper(c.Param("code"))
	if !codeRe.MatchString(code) {
		return "", kit.ErrNotFound
	}
	return code, nil
}

// trend shows one analyte of the patient over time (R4): a chart drawn on the server (no
// script needed) and the same values as a table.
func (m *Module) trend(c *kit.Ctx) error {
	code, err := trendCode(c)
	if err != nil {
		return err
	}
	var pts []point
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		ids, err := patientIDsOf(ctx, sc, c.User().ID)
		if err != nil || len(ids) == 0 {
			return err
		}
		pts, err = points(ctx, sc, code, "rp.patient_id IN (?)", bun.In(ids))
		return err
	})
	if err != nil {
		return err
	}
	return m.showTrend(c, code, pts, c.User().ID, "", audPatient)
}

// proTrend shows a professional one analyte of one of his patients over time, from the
// reports he prescribed (R5), the chart the patient sees; each view is recorded (R9).
func (m *Module) proTrend(c *kit.Ctx) error {
	code, err := trendCode(c)
	if err != nil {
		return err
	}
	var pts []point
	var lp *LabPatient
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		p, err := activePro(ctx, sc, c.User())
		if err != nil {
			return err
		}
		if lp, err = labPatient(ctx, sc, c.Param("id")); err != nil {
			return err
		}
		pts, err = points(ctx, sc, code, "rp.patient_id = ? AND rp.prescriber_number = ?", lp.ID, p.RegisterNumber)
		return err
	})
	if err != nil {
		return err
	}
	subject := "labpatient:" + lp.ID
	if lp.UserID != "" {
		subject = lp.UserID
	}
	return m.showTrend(c, code, pts, subject, lp.LastName+" "+lp.FirstName, audPro)
}

func (m *Module) showTrend(c *kit.Ctx, code string, pts []point, subject, patient, aud string) error {
	if len(pts) == 0 {
		return kit.ErrNotFound
	}
	if err := accessTrend(c, subject, code, pts[len(pts)-1].Value.Label, len(pts)); err != nil {
		return err
	}
	v := c.View("results.trend.title")
	last := pts[len(pts)-1].Value
	v.Title = v.T("results.trend.title_of", "Analyte", last.Label)
	v.Data["Points"], v.Data["Label"], v.Data["Unit"], v.Data["Patient"] = pts, last.Label, last.Unit, patient
	v.Data["Chart"] = chart(v, pts)
	v.Data["Prefix"], v.Data["Back"] = audPrefix[aud], "/results/mine"
	if aud == audPro {
		v.Data["Back"] = "/results/pro"
	}
	return c.Render(200, "trend", v)
}

// chart draws the numeric values as an SVG line over the last reference range (a band),
// the unit above the value axis, the values out of their range marked apart (red, a
// diamond) and named in their tooltip. Its drawing is sized for a phone's width, so that
// its labels stay legible there.
func chart(v *kit.View, pts []point) template.HTML {
	var use []point
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if p.Value.Numeric.Valid {
			use = append(use, p)
			lo, hi = math.Min(lo, p.Value.Numeric.Float64), math.Max(hi, p.Value.Numeric.Float64)
		}
	}
	if len(use) < 2 {
		return ""
	}
	lang := v.Lang()
	last := pts[len(pts)-1].Value
	if last.RefLow.Valid {
		lo = math.Min(lo, last.RefLow.Float64)
	}
	if last.RefHigh.Valid {
		hi = math.Max(hi, last.RefHigh.Float64)
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	pad := (hi - lo) * 0.1
	lo, hi = lo-pad, hi+pad
	const W, H, L, R, T, B, font = 360.0, 230.0, 52.0, 14.0, 28.0, 34.0, 13
	t0, t1 := use[0].At.Unix(), use[len(use)-1].At.Unix()
	if t1 == t0 {
		t1 = t0 + 1
	}
	x := func(t time.Time) float64 { return L + (W-L-R)*float64(t.Unix()-t0)/float64(t1-t0) }
	y := func(f float64) float64 { return T + (H-T-B)*(hi-f)/(hi-lo) }
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">`, W, H,
		esc(v.T("results.trend.chart_label", "Analyte", last.Label)))
	if last.RefLow.Valid && last.RefHigh.Valid {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d9f0e0"/>`, L, y(last.RefHigh.Float64), W-L-R,
			y(last.RefLow.Float64)-y(last.RefHigh.Float64))
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#5f6b7a"/>`, L, H-B, W-R, H-B)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#5f6b7a"/>`, L, T, L, H-B)
	if last.Unit != "" {
		fmt.Fprintf(&b, `<text x="4" y="%d" font-size="%d" fill="#1a1a1a">%s</text>`, font+2, font, esc(last.Unit))
	}
	for _, f := range []float64{lo + pad, hi - pad} {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="%d" text-anchor="end" fill="#1a1a1a">%s</text>`, L-5, y(f)+4, font, v.Num(f))
	}
	var path strings.Builder
	for _, p := range use {
		fmt.Fprintf(&path, "%.1f,%.1f ", x(p.At), y(p.Value.Numeric.Float64))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#0a6e8a" stroke-width="2"/>`, strings.TrimSpace(path.String()))
	for _, p := range use {
		px, py := x(p.At), y(p.Value.Numeric.Float64)
		tip := v.Date(p.At) + ": " + p.Value.In(lang) + " " + p.Value.Unit
		if p.Out() {
			flag := v.T("results.trend.out")
			if p.Value.Flag != "" {
				flag = v.T("results.flag." + p.Value.Flag)
			}
			fmt.Fprintf(&b, `<path class="out" d="M%.1f %.1fl6 6-6 6-6-6z" fill="#b42318" stroke="#fff"><title>%s (%s)</title></path>`,
				px, py-6, esc(tip), esc(flag))
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="#0a6e8a"><title>%s</title></circle>`, px, py, esc(tip))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="%d" fill="#1a1a1a">%s</text>`, L, H-10, font, esc(v.Date(use[0].At)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="%d" text-anchor="end" fill="#1a1a1a">%s</text>`, W-R, H-10, font, esc(v.Date(use[len(use)-1].At)))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
