// Package slots computes a doctor's free visit slots (REQUIREMENTS C4) from a weekly schedule
// in the tenant's time zone, day exceptions, the country's public holidays (plugins/kit/workdays)
// and the intervals already booked, held or taken by absences. It is pure computation: it holds
// no state, reads no database and never decides whether a booking may be taken — the database
// does that (C9); a slot listed here may be gone by the time a patient books it.
//
// # Time
//
// Windows are wall-clock times of the tenant's zone; slots are UTC instants of exactly
// Spec.Length in real time. A window of day D covers every instant whose wall clock on D reads
// from Start (inclusive) to End (exclusive), each reading taken once, the first time it
// occurs:
//
//   - Spring forward (the clock jumps from 02:00 to 03:00): the missing readings cover no
//     instant, so a window 01:00–04:00 lasts two real hours; no slot starts or lies in the
//     missing hour; a slot crossing the jump keeps its real length (01:30–03:00 for 30 minutes).
//   - Fall back (the clock goes from 03:00 back to 02:00): the second pass through the
//     repeated hour belongs to no window, so a day never shows the same start time twice and a
//     window 01:00–04:00 gives the same slots as on an ordinary day; a slot that would reach
//     into the second pass is not offered.
//
// Slot starts follow a grid of Spec.Step from the window's start, in real time; the slots
// returned never overlap each other (the earliest start wins) and keep Spec.Buffer clear on
// both sides, from each other within a day and from every busy interval.
//
// Each local day is laid out on its own, from its first window, whatever the range asked and
// whatever the time now: the slots of a day never shift because a view starts later or time
// passed, they only drop out (when booked, when too soon); so a start shown in the week view
// is the one Offered accepts at booking time.
package slots

import (
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/rickar/cal/v2"

	"carenet.dev/platform/plugins/kit/workdays"
)

// Window is a weekly opening: on Weekday, from Start to End, wall clock of the tenant's zone
// ("08:00", "12:30"; End may be "24:00"). In an Exception, Weekday is ignored.
type Window struct {
	Weekday    time.Weekday
	Start, End string
}

// Week is a weekly schedule: any number of non-overlapping windows per weekday.
type Week []Window

// Exception replaces one local day (2006-01-02) of the weekly schedule: closed (an absence, a
// day off) or open with its own windows (which also opens a public holiday).
type Exception struct {
	Day     string
	Closed  bool
	Windows []Window
}

// Busy is an interval in which the doctor cannot take a visit: a booking, a held slot, an
// absence.
type Busy struct{ Start, End time.Time }

// Slot is a free visit: UTC instants, End-Start = Spec.Length.
type Slot struct{ Start, End time.Time }

// Spec is what a doctor's calendar at one facility publishes.
type Spec struct {
	Week       Week
	Exceptions []Exception
	Country    string         // "PL", "FR", "SK": whose public holidays close the day; "" none
	Zone       *time.Location // the tenant's zone; wall clocks are read there
	Length     time.Duration  // the visit's length in real time
	Buffer     time.Duration  // kept free before and after every visit
	Step       time.Duration  // grid of slot starts; 0 = Length+Buffer
	NoticeMin  time.Duration  // no slot starting sooner than now+NoticeMin
}

// Reasons a Spec is refused; a FieldError wraps one of them.
var (
	ErrMissing  = errors.New("missing")
	ErrTime     = errors.New("not a time of day HH:MM")
	ErrOrder    = errors.New("start not before end")
	ErrOverlap  = errors.New("overlaps another window of the same day")
	ErrWeekday  = errors.New("not a weekday")
	ErrDay      = errors.New("not a day YYYY-MM-DD")
	ErrTwice    = errors.New("day given twice")
	ErrClosed   = errors.New("a closed day has no windows")
	ErrDuration = errors.New("duration out of range")
	ErrCountry  = errors.New("country without a holiday calendar")
)

// FieldError names the field of a Spec that is wrong ("week[2].end", "exceptions[0].day",
// "length") and why (one of the Err… reasons, for errors.Is), so that the page can put a
// localized message next to that field.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "slots: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Bounds of the durations (a Step of one nanosecond would make a week view loop for ever).
const (
	minDuration = time.Minute
	maxDuration = 24 * time.Hour
)

// countries whose public holidays plugins/kit/workdays knows.
var countries = map[string]bool{"": true, "FR": true, "PL": true, "SK": true}

// HasHolidays reports whether the engine knows the public holidays of country ("PL").
func HasHolidays(country string) bool { return country != "" && countries[country] }

// Check reports the first thing wrong in the spec, as a *FieldError.
func (s Spec) Check() error {
	_, err := compile(s)
	return err
}

// span is a window in minutes since local midnight (end up to 24*60), with its index in the
// spec for error messages.
type span struct{ start, end, index int }

type plan struct {
	week       [7][]span
	exceptions map[string][]span // nil slice: closed
	holidays   *cal.BusinessCalendar
	zone       *time.Location
	length     time.Duration
	buffer     time.Duration
	step       time.Duration
	notice     time.Duration
}

func compile(s Spec) (*plan, error) {
	p := &plan{zone: s.Zone, length: s.Length, buffer: s.Buffer, step: s.Step, notice: s.NoticeMin}
	if s.Zone == nil {
		return nil, &FieldError{"zone", ErrMissing}
	}
	if !countries[s.Country] {
		return nil, &FieldError{"country", ErrCountry}
	}
	if s.Length < minDuration || s.Length > maxDuration {
		return nil, &FieldError{"length", ErrDuration}
	}
	if s.Buffer < 0 || s.Buffer > maxDuration {
		return nil, &FieldError{"buffer", ErrDuration}
	}
	if s.Step == 0 {
		p.step = s.Length + s.Buffer
	} else if s.Step < minDuration || s.Step > maxDuration {
		return nil, &FieldError{"step", ErrDuration}
	}
	if s.NoticeMin < 0 || s.NoticeMin > 366*maxDuration {
		return nil, &FieldError{"notice_min", ErrDuration}
	}
	for i, w := range s.Week {
		field := func() string { return "week[" + strconv.Itoa(i) + "]" }
		if w.Weekday < time.Sunday || w.Weekday > time.Saturday {
			return nil, &FieldError{field() + ".weekday", ErrWeekday}
		}
		sp, err := parseWindow(field, w, i)
		if err != nil {
			return nil, err
		}
		p.week[w.Weekday] = append(p.week[w.Weekday], sp)
	}
	for d := range p.week {
		if i := overlap(p.week[d]); i >= 0 {
			return nil, &FieldError{"week[" + strconv.Itoa(i) + "]", ErrOverlap}
		}
	}
	p.exceptions = make(map[string][]span, len(s.Exceptions))
	for i, e := range s.Exceptions {
		field := func() string { return "exceptions[" + strconv.Itoa(i) + "]" }
		day, err := time.Parse(time.DateOnly, e.Day)
		if err != nil || day.Format(time.DateOnly) != e.Day {
			return nil, &FieldError{field() + ".day", ErrDay}
		}
		if _, twice := p.exceptions[e.Day]; twice {
			return nil, &FieldError{field() + ".day", ErrTwice}
		}
		if e.Closed {
			if len(e.Windows) > 0 {
				return nil, &FieldError{field() + ".windows", ErrClosed}
			}
			p.exceptions[e.Day] = nil
			continue
		}
		spans := make([]span, 0, len(e.Windows))
		for j, w := range e.Windows {
			sp, err := parseWindow(func() string { return field() + ".windows[" + strconv.Itoa(j) + "]" }, w, j)
			if err != nil {
				return nil, err
			}
			spans = append(spans, sp)
		}
		if j := overlap(spans); j >= 0 {
			return nil, &FieldError{field() + ".windows[" + strconv.Itoa(j) + "]", ErrOverlap}
		}
		p.exceptions[e.Day] = spans
	}
	if s.Country != "" {
		p.holidays = workdays.Calendar(s.Country, 0, 24)
	}
	return p, nil
}

// overlap sorts spans by start and returns the index (in the spec) of a window overlapping
// the one before it, or -1. Touching windows (08:00–12:00, 12:00–16:00) do not overlap.
func overlap(spans []span) int {
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return spans[i].index
		}
	}
	return -1
}

func parseWindow(field func() string, w Window, index int) (span, error) {
	start, ok := clock(w.Start, false)
	if !ok {
		return span{}, &FieldError{field() + ".start", ErrTime}
	}
	end, ok := clock(w.End, true)
	if !ok {
		return span{}, &FieldError{field() + ".end", ErrTime}
	}
	if start >= end {
		return span{}, &FieldError{field() + ".end", ErrOrder}
	}
	return span{start, end, index}, nil
}

// clock parses "HH:MM" (00:00–23:59, and 24:00 when it ends a window) into minutes.
func clock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case h == 24 && m == 0 && end:
		return 24 * 60, true
	case h > 23 || m > 59:
		return 0, false
	}
	return h*60 + m, true
}

// Days returns n consecutive local days (2006-01-02) of zone, from the day from falls on: the
// columns of a week view.
func Days(from time.Time, n int, zone *time.Location) []string {
	if zone == nil {
		zone = time.UTC
	}
	y, m, d := from.In(zone).Date()
	out := make([]string, 0, max(n, 0))
	for i := 0; i < n; i++ {
		out = append(out, time.Date(y, m, d+i, 12, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	return out
}

// Free returns the free slots starting in [from, to) and not before now+NoticeMin, sorted by
// start: within the day's windows (the exception of the day if any, else the weekly schedule,
// nothing on a public holiday of Country), of exactly Length, never overlapping one another
// nor any busy interval, with Buffer clear on both sides (and between two slots of a day). A
// spec that Check refuses has no free slots. The work grows with the range: a page bounds the
// range a visitor may ask for (a week view asks for 7 days).
func Free(spec Spec, busy []Busy, from, to, now time.Time) []Slot {
	p, err := compile(spec)
	if err != nil || !to.After(from) {
		return nil
	}
	blocked := merge(busy, p.buffer)
	earliest := from
	if n := now.Add(p.notice); n.After(earliest) {
		earliest = n
	}
	g := &filler{plan: p, blocked: blocked, earliest: earliest, to: to}
	y, m, d := from.In(p.zone).Date()
	last := to.Add(-time.Nanosecond).In(p.zone)
	for day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC); ; day = day.AddDate(0, 0, 1) {
		ly, lm, ld := last.Date()
		if day.After(time.Date(ly, lm, ld, 12, 0, 0, 0, time.UTC)) {
			break
		}
		g.prevEnd = time.Time{}
		for _, sp := range p.spans(day) {
			g.fill(day, sp)
		}
	}
	return g.out
}

// Offered reports whether a visit starting at start is one of the free slots Free lists for
// its day — what a booking checks before the database takes the slot (which alone decides
// between two patients racing for it, C9).
func Offered(spec Spec, busy []Busy, start, now time.Time) (Slot, bool) {
	if spec.Zone == nil {
		return Slot{}, false
	}
	y, m, d := start.In(spec.Zone).Date()
	for _, s := range Free(spec, busy, at(y, m, d, 0, spec.Zone), at(y, m, d+1, 0, spec.Zone), now) {
		if s.Start.Equal(start) {
			return s, true
		}
	}
	return Slot{}, false
}

// spans returns the windows of a local day (given as noon UTC of that date).
func (p *plan) spans(day time.Time) []span {
	if e, ok := p.exceptions[day.Format(time.DateOnly)]; ok {
		return e
	}
	if p.holidays != nil {
		y, m, d := day.Date()
		if _, observed, _ := p.holidays.IsHoliday(time.Date(y, m, d, 12, 0, 0, 0, p.zone)); observed {
			return nil
		}
	}
	return p.week[day.Weekday()]
}

type filler struct {
	*plan
	blocked  []Busy
	earliest time.Time
	to       time.Time
	prevEnd  time.Time
	out      []Slot
}

// fill appends the free slots of one window of one day.
func (g *filler) fill(day time.Time, sp span) {
	y, m, d := day.Date()
	ws, we := at(y, m, d, sp.start, g.zone), at(y, m, d, sp.end, g.zone)
	holes := repeats(ws, we)
	// next returns the first grid point at or after target (target > t: progress).
	next := func(target time.Time) time.Time {
		k := (target.Sub(ws) + g.step - 1) / g.step
		return ws.Add(k * g.step)
	}
	for t := ws; !t.Add(g.length).After(we) && t.Before(g.to); {
		end := t.Add(g.length)
		if !g.prevEnd.IsZero() && t.Before(g.prevEnd.Add(g.buffer)) {
			t = next(g.prevEnd.Add(g.buffer))
			continue
		}
		if h, ok := hit(holes, t, end); ok {
			t = next(h.End)
			continue
		}
		if b, ok := hit(g.blocked, t, end); ok {
			t = next(b.End)
			continue
		}
		if !t.Before(g.earliest) {
			g.out = append(g.out, Slot{Start: t.UTC(), End: end.UTC()})
		}
		g.prevEnd = end
		t = next(end.Add(g.buffer))
	}
}

// hit returns the first of the sorted, disjoint intervals that overlaps [s, e).
func hit(in []Busy, s, e time.Time) (Busy, bool) {
	i := sort.Search(len(in), func(i int) bool { return in[i].End.After(s) })
	if i < len(in) && in[i].Start.Before(e) {
		return in[i], true
	}
	return Busy{}, false
}

// merge widens every busy interval by buffer on both sides and returns their union, sorted
// and disjoint. Empty or reversed intervals are ignored.
func merge(busy []Busy, buffer time.Duration) []Busy {
	out := make([]Busy, 0, len(busy))
	for _, b := range busy {
		if b.End.After(b.Start) {
			out = append(out, Busy{b.Start.Add(-buffer), b.End.Add(buffer)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	n := 0
	for _, b := range out {
		if n > 0 && !b.Start.After(out[n-1].End) {
			if b.End.After(out[n-1].End) {
				out[n-1].End = b.End
			}
			continue
		}
		out[n] = b
		n++
	}
	return out[:n]
}

// at returns the first instant whose wall clock in zone reads the given day and minutes since
// midnight or later: the first of two readings on a fall-back day, the end of the jump for a
// reading skipped by spring forward. Minutes may be 24*60 (midnight ending the day).
func at(y int, m time.Month, d, minutes int, zone *time.Location) time.Time {
	naive := time.Date(y, m, d, 0, minutes, 0, 0, time.UTC) // the wall clock, read as if UTC
	// Walk the zone's periods from well before any instant showing that reading (offsets lie
	// within ±14 h); in the first period holding a reading at or after it, the earliest such
	// instant is the answer, since the wall clock only rises inside a period.
	t := naive.Add(-30 * time.Hour).In(zone)
	for range 8 {
		start, end := t.ZoneBounds()
		_, offset := t.Zone()
		c := naive.Add(-time.Duration(offset) * time.Second)
		if !start.IsZero() && c.Before(start) {
			c = start
		}
		if end.IsZero() || c.Before(end) {
			return c.In(zone)
		}
		t = end.In(zone)
	}
	return time.Date(y, m, d, 0, minutes, 0, 0, zone)
}

// repeats returns the intervals in [ws, we) whose wall clock repeats an earlier reading: after
// each backward change of the zone's offset, the offset's drop.
func repeats(ws, we time.Time) []Busy {
	var out []Busy
	t := ws
	for range 8 {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(we) {
			break
		}
		_, before := t.Zone()
		_, after := end.Zone()
		if after < before {
			out = append(out, Busy{end, end.Add(time.Duration(before-after) * time.Second)})
		}
		t = end
	}
	return out
}
