package slots

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"carenet.dev/platform/plugins/kit/workdays"
)

// hm renders minutes since midnight as a window's wall clock.
func hm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// windowsGen draws non-overlapping windows of one day (touching allowed), as minutes.
func windowsGen(t *rapid.T, label string) [][2]int {
	points := rapid.SliceOfN(rapid.IntRange(0, 24*12), 0, 6).Draw(t, label)
	for i := range points {
		points[i] *= 5
	}
	slices.Sort(points)
	var out [][2]int
	for i := 0; i+1 < len(points); i += 2 {
		if points[i] < points[i+1] {
			out = append(out, [2]int{points[i], points[i+1]})
		}
	}
	return out
}

// genSpec draws a valid spec, a range of local days around the daylight-saving changes or any
// day of 2026, busy intervals and a now.
func genSpec(t *rapid.T) (Spec, []Busy, time.Time, time.Time, time.Time) {
	z := zone(t, rapid.SampledFrom([]string{"Europe/Warsaw", "Europe/Paris", "Europe/Bratislava"}).Draw(t, "zone"))
	spec := Spec{
		Zone:      z,
		Country:   rapid.SampledFrom([]string{"", "PL", "FR", "SK"}).Draw(t, "country"),
		Length:    time.Duration(rapid.IntRange(1, 240).Draw(t, "length")) * time.Minute,
		Buffer:    time.Duration(rapid.IntRange(0, 30).Draw(t, "buffer")) * time.Minute,
		Step:      time.Duration(rapid.SampledFrom([]int{0, 0, 1, 5, 10, 15, 20, 30, 45, 60, 90}).Draw(t, "step")) * time.Minute,
		NoticeMin: time.Duration(rapid.IntRange(0, 72).Draw(t, "notice")) * time.Hour,
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		for _, w := range windowsGen(t, "week "+d.String()) {
			spec.Week = append(spec.Week, Window{Weekday: d, Start: hm(w[0]), End: hm(w[1])})
		}
	}
	anchor := rapid.SampledFrom([]string{"2026-03-26", "2026-10-22", "2026-01-01", "2026-05-01", "2026-12-20"}).Draw(t, "anchor")
	start, _ := day(t, anchor, z)
	start = start.AddDate(0, 0, rapid.IntRange(0, 5).Draw(t, "shift"))
	from := start.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(t, "from minute")) * time.Minute)
	to := from.Add(time.Duration(rapid.IntRange(1, 14*24).Draw(t, "hours")) * time.Hour)
	for i, n := 0, rapid.IntRange(0, 4).Draw(t, "exceptions"); i < n; i++ {
		d := start.AddDate(0, 0, rapid.IntRange(-1, 15).Draw(t, "exception day")).Format(time.DateOnly)
		if slices.ContainsFunc(spec.Exceptions, func(e Exception) bool { return e.Day == d }) {
			continue
		}
		e := Exception{Day: d, Closed: rapid.Bool().Draw(t, "closed")}
		if !e.Closed {
			for _, w := range windowsGen(t, "exception windows") {
				e.Windows = append(e.Windows, Window{Start: hm(w[0]), End: hm(w[1])})
			}
		}
		spec.Exceptions = append(spec.Exceptions, e)
	}
	var busy []Busy
	for i, n := 0, rapid.IntRange(0, 25).Draw(t, "busy"); i < n; i++ {
		s := from.Add(time.Duration(rapid.IntRange(-600, int(to.Sub(from)/time.Minute)).Draw(t, "busy start")) * time.Minute)
		busy = append(busy, Busy{s, s.Add(time.Duration(rapid.IntRange(1, 300).Draw(t, "busy length")) * time.Minute)})
	}
	now := from.Add(time.Duration(rapid.IntRange(-3*24*60, 3*24*60).Draw(t, "now")) * time.Minute)
	return spec, busy, from, to, now
}

// windowsOf is the test's own reading of which windows open a local day: the exception of
// the day, else nothing on a public holiday of the country (kit/workdays), else the week.
func windowsOf(spec Spec, d time.Time) [][2]int {
	var ws []Window
	if i := slices.IndexFunc(spec.Exceptions, func(e Exception) bool { return e.Day == d.Format(time.DateOnly) }); i >= 0 {
		ws = spec.Exceptions[i].Windows
	} else if _, holiday, _ := workdays.Calendar(spec.Country, 0, 24).IsHoliday(d); holiday && spec.Country != "" {
		return nil
	} else {
		for _, w := range spec.Week {
			if w.Weekday == d.Weekday() {
				ws = append(ws, w)
			}
		}
	}
	var out [][2]int
	for _, w := range ws {
		s, _ := clock(w.Start, false)
		e, _ := clock(w.End, true)
		out = append(out, [2]int{s, e})
	}
	return out
}

// TestC4FreeSlotsProperties: for any valid schedule, exceptions, holidays, bookings and now,
// across daylight-saving changes, the free slots are sorted, never overlap one another nor any
// busy interval (buffer kept on both sides), all lie within a window of their day read in
// the first-pass rule, all have the visit's length, start in [from, to) and not before
// now+NoticeMin, and a day never shows two slots starting at the same wall clock
// (C4, issue 13.2).
func TestC4FreeSlotsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec, busy, from, to, now := genSpec(t)
		if err := spec.Check(); err != nil {
			t.Fatalf("generated spec refused: %v", err)
		}
		z := spec.Zone
		got := Free(spec, busy, from, to, now)
		labels := map[string]bool{}
		for i, s := range got {
			if s.End.Sub(s.Start) != spec.Length {
				t.Fatalf("slot %d lasts %v, not %v", i, s.End.Sub(s.Start), spec.Length)
			}
			gap := spec.Buffer // between two slots of a day; slots of two days only never overlap
			if i > 0 && s.Start.In(z).Format(time.DateOnly) != got[i-1].Start.In(z).Format(time.DateOnly) {
				gap = 0
			}
			if i > 0 && s.Start.Before(got[i-1].End.Add(gap)) {
				t.Fatalf("slot %d (%v) overlaps or crowds slot %d (%v)", i, s.Start.In(z), i-1, got[i-1].Start.In(z))
			}
			for _, b := range busy {
				if s.Start.Before(b.End.Add(spec.Buffer)) && b.Start.Add(-spec.Buffer).Before(s.End) {
					t.Fatalf("slot %v–%v overlaps busy %v–%v with buffer %v", s.Start.In(z), s.End.In(z), b.Start.In(z), b.End.In(z), spec.Buffer)
				}
			}
			if s.Start.Before(from) || !s.Start.Before(to) || s.Start.Before(now.Add(spec.NoticeMin)) {
				t.Fatalf("slot %v outside [%v, %v) or sooner than %v", s.Start.In(z), from.In(z), to.In(z), now.Add(spec.NoticeMin).In(z))
			}
			local := s.Start.In(z)
			label := local.Format("2006-01-02 15:04")
			if labels[label] {
				t.Fatalf("two slots start at %s", label)
			}
			labels[label] = true
			// Every instant of the slot (each minute, and the last instant before its end)
			// reads a wall clock of the slot's day inside one window, and is the first instant
			// reading it.
			y, m, d := local.Date()
			dayStart := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
			windows := windowsOf(spec, time.Date(y, m, d, 12, 0, 0, 0, z))
			within := -1
			instants := []time.Time{}
			for u := s.Start; u.Before(s.End); u = u.Add(time.Minute) {
				instants = append(instants, u)
			}
			for _, u := range append(instants, s.End.Add(-time.Second)) {
				lu := u.In(z)
				wall := int(time.Date(lu.Year(), lu.Month(), lu.Day(), lu.Hour(), lu.Minute(), 0, 0, time.UTC).Sub(dayStart) / time.Minute)
				if u.Add(-time.Hour).In(z).Format("2006-01-02 15:04") == lu.Format("2006-01-02 15:04") {
					t.Fatalf("slot %s reaches the second pass of a repeated hour at %v", label, lu)
				}
				w := slices.IndexFunc(windows, func(w [2]int) bool { return w[0] <= wall && wall < w[1] })
				if w < 0 || (within >= 0 && w != within) {
					t.Fatalf("slot %s: %v is outside the day's windows %v", label, lu, windows)
				}
				within = w
			}
		}
	})
}

// TestC4SlotsOfADayDoNotShiftWithTheViewOrTheTime: the slots of a range are those of its
// whole days, less the ones starting before the range or sooner than the notice: a view
// starting later or looked at later never shows other start times, and Offered accepts
// exactly the starts Free lists (C4, issue 13.2).
func TestC4SlotsOfADayDoNotShiftWithTheViewOrTheTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec, busy, from, to, now := genSpec(t)
		z := spec.Zone
		y, m, d := from.In(z).Date()
		ly, lm, ld := to.Add(-time.Nanosecond).In(z).Date()
		whole := Free(spec, busy, time.Date(y, m, d, 0, 0, 0, 0, z), time.Date(ly, lm, ld+1, 0, 0, 0, 0, z), past)
		var want []Slot
		for _, s := range whole {
			if !s.Start.Before(from) && s.Start.Before(to) && !s.Start.Before(now.Add(spec.NoticeMin)) {
				want = append(want, s)
			}
		}
		got := Free(spec, busy, from, to, now)
		if !slices.Equal(got, want) {
			t.Fatalf("range gives %v, its whole days %v", got, want)
		}
		for _, s := range got {
			if o, ok := Offered(spec, busy, s.Start, now); !ok || o != s {
				t.Fatalf("Offered refuses the listed slot %v", s.Start.In(z))
			}
		}
		for _, s := range whole {
			if s.Start.Before(now.Add(spec.NoticeMin)) {
				if _, ok := Offered(spec, busy, s.Start, now); ok {
					t.Fatalf("Offered accepts %v, sooner than the notice", s.Start.In(z))
				}
			}
			if off := s.Start.Add(time.Minute); !slices.ContainsFunc(whole, func(w Slot) bool { return w.Start.Equal(off) }) {
				if _, ok := Offered(spec, busy, off, past); ok {
					t.Fatalf("Offered accepts %v, not a listed start", off.In(z))
				}
			}
		}
	})
}
