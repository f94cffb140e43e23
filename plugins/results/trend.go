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

// trend shows one analyte of the patient over time (R4): a chart drawn on the server (no
// script needed) and the same values as a table.
func (m *Module) trend(c *kit.Ctx) error {
	code := strings.ToUpper(c.Param("code"))
	if !codeRe.MatchString(code) {
		return kit.ErrNotFound
	}
	var pts []point
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		ids, err := patientIDsOf(ctx, sc, c.User().ID)
		if err != nil || len(ids) == 0 {
			return err
		}
		var rows []struct {
			Value
			CollectedAt time.Time `bun:"collected_at"`
		}
		err = sc.Select((*Value)(nil)).ColumnExpr("rv.*, rp.collected_at").
			Join("JOIN results_reports AS rp ON rp.tenant_id = rv.tenant_id AND rp.id = rv.report_id").
			Where("rv.code = ? AND rp.patient_id IN (?)", code, bun.In(ids)).Order("rp.collected_at").Scan(ctx, &rows)
		for _, x := range rows {
			pts = append(pts, point{At: x.CollectedAt, ReportID: x.ReportID, Value: x.Value})
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(pts) == 0 {
		return kit.ErrNotFound
	}
	if err := accessTrend(c, code, pts[len(pts)-1].Value.Label, len(pts)); err != nil {
		return err
	}
	v := c.View("results.trend.title")
	last := pts[len(pts)-1].Value
	v.Title = v.T("results.trend.title_of", "Analyte", last.Label)
	v.Data["Points"], v.Data["Label"], v.Data["Unit"] = pts, last.Label, last.Unit
	v.Data["Chart"] = chart(v, pts)
	return c.Render(200, "trend", v)
}

// chart draws the numeric values as an SVG line with the last reference range as a band.
func chart(v *kit.View, pts []point) template.HTML {
	var xs []time.Time
	var ys []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if p.Value.Numeric.Valid {
			xs, ys = append(xs, p.At), append(ys, p.Value.Numeric.Float64)
			lo, hi = math.Min(lo, p.Value.Numeric.Float64), math.Max(hi, p.Value.Numeric.Float64)
		}
	}
	if len(ys) < 2 {
		return ""
	}
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
	const W, H, L, R, T, B = 640.0, 240.0, 56.0, 16.0, 16.0, 36.0
	t0, t1 := xs[0].Unix(), xs[len(xs)-1].Unix()
	if t1 == t0 {
		t1 = t0 + 1
	}
	x := func(t time.Time) float64 { return L + (W-L-R)*float64(t.Unix()-t0)/float64(t1-t0) }
	y := func(f float64) float64 { return T + (H-T-B)*(hi-f)/(hi-lo) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, W, H,
		template.HTMLEscapeString(v.T("results.trend.chart_label", "Analyte", last.Label)))
	if last.RefLow.Valid && last.RefHigh.Valid {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#e3f4e8"/>`, L, y(last.RefHigh.Float64), W-L-R,
			y(last.RefLow.Float64)-y(last.RefHigh.Float64))
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#8a99a8"/>`, L, H-B, W-R, H-B)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#8a99a8"/>`, L, T, L, H-B)
	for _, f := range []float64{lo + pad, hi - pad} {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end" fill="#333">%s</text>`, L-6, y(f)+4, v.Num(f))
	}
	var path strings.Builder
	for i := range ys {
		fmt.Fprintf(&path, "%.1f,%.1f ", x(xs[i]), y(ys[i]))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#0a6e8a" stroke-width="2"/>`, strings.TrimSpace(path.String()))
	for i := range ys {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#0a6e8a"><title>%s: %s</title></circle>`, x(xs[i]), y(ys[i]),
			template.HTMLEscapeString(v.Date(xs[i])), v.Num(ys[i]))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#333">%s</text>`, L, H-12, template.HTMLEscapeString(v.Date(xs[0])))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end" fill="#333">%s</text>`, W-R, H-12, template.HTMLEscapeString(v.Date(xs[len(xs)-1])))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
