package slots

import (
	"errors"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones do not depend on the machine's tzdata
)

// fataler is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type fataler interface {
	Helper()
	Fatal(...any)
}

func zone(t fataler, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// day returns local midnight of a 2006-01-02 day and the next midnight.
func day(t fataler, d string, z *time.Location) (time.Time, time.Time) {
	t.Helper()
	v, err := time.ParseInLocation(time.DateOnly, d, z)
	if err != nil {
		t.Fatal(err)
	}
	return v, time.Date(v.Year(), v.Month(), v.Day()+1, 0, 0, 0, 0, z)
}

// labels renders the slots as a patient reads them: local start–end wall clocks.
func labels(s []Slot, z *time.Location) []string {
	out := []string{}
	for _, v := range s {
		out = append(out, v.Start.In(z).Format("15:04")+"-"+v.End.In(z).Format("15:04"))
	}
	return out
}

var past = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// EU zones change on the last Sunday of March and of October at 01:00 UTC: 2026-03-29 and
// 2026-10-25. Both tenant zones, both switches (C4, issue 13.2).
var dstZones = []string{"Europe/Warsaw", "Europe/Paris"}

// TestC4SpringForwardHasNoSlotInTheMissingHour: on the spring-forward day a window 01:00–04:00
// lasts two real hours; no slot starts or lies in the missing hour 02:00–03:00 and every slot
// keeps its length in real time, even the one across the jump (C4, issue 13.2).
func TestC4SpringForwardHasNoSlotInTheMissingHour(t *testing.T) {
	for _, name := range dstZones {
		z := zone(t, name)
		from, to := day(t, "2026-03-29", z)
		if got := to.Sub(from); got != 23*time.Hour {
			t.Fatalf("%s: 2026-03-29 lasts %v, not a spring-forward day", name, got)
		}
		week := Week{{Weekday: time.Sunday, Start: "01:00", End: "04:00"}}
		for _, c := range []struct {
			length time.Duration
			want   []string
		}{
			{30 * time.Minute, []string{"01:00-01:30", "01:30-03:00", "03:00-03:30", "03:30-04:00"}},
			{45 * time.Minute, []string{"01:00-01:45", "01:45-03:30"}},
			{60 * time.Minute, []string{"01:00-03:00", "03:00-04:00"}},
		} {
			got := Free(Spec{Week: week, Zone: z, Length: c.length}, nil, from, to, past)
			if !slices.Equal(labels(got, z), c.want) {
				t.Errorf("%s, %v visits: %v, want %v", name, c.length, labels(got, z), c.want)
			}
			for _, s := range got {
				if s.End.Sub(s.Start) != c.length {
					t.Errorf("%s: slot %v lasts %v", name, labels([]Slot{s}, z), s.End.Sub(s.Start))
				}
				if h := s.Start.In(z).Hour(); h == 2 {
					t.Errorf("%s: slot starts in the missing hour: %v", name, s.Start.In(z))
				}
			}
		}
		// A window opening inside the missing hour opens when the clock reaches 03:00.
		got := Free(Spec{Week: Week{{Weekday: time.Sunday, Start: "02:30", End: "05:00"}}, Zone: z, Length: time.Hour}, nil, from, to, past)
		if want := []string{"03:00-04:00", "04:00-05:00"}; !slices.Equal(labels(got, z), want) {
			t.Errorf("%s: window 02:30-05:00 gives %v, want %v", name, labels(got, z), want)
		}
	}
}

// TestC4FallBackNeverShowsTheRepeatedHourTwice: on the fall-back day the repeated hour
// 02:00–03:00 is offered once, at its first pass; a day never shows two slots with the same
// start time, no slot is counted twice, the window gives the same slots as on an ordinary
// Sunday, and a slot that would reach into the second pass is not offered (C4, issue 13.2).
func TestC4FallBackNeverShowsTheRepeatedHourTwice(t *testing.T) {
	for _, name := range dstZones {
		z := zone(t, name)
		from, to := day(t, "2026-10-25", z)
		if got := to.Sub(from); got != 25*time.Hour {
			t.Fatalf("%s: 2026-10-25 lasts %v, not a fall-back day", name, got)
		}
		ordFrom, ordTo := day(t, "2026-10-18", z)
		week := Week{{Weekday: time.Sunday, Start: "01:00", End: "04:00"}}
		for _, c := range []struct {
			length time.Duration
			want   []string
		}{
			{30 * time.Minute, []string{"01:00-01:30", "01:30-02:00", "02:00-02:30", "02:30-02:00", "03:00-03:30", "03:30-04:00"}},
			{45 * time.Minute, []string{"01:00-01:45", "01:45-02:30", "03:00-03:45"}},
			{60 * time.Minute, []string{"01:00-02:00", "02:00-02:00", "03:00-04:00"}},
		} {
			spec := Spec{Week: week, Zone: z, Length: c.length}
			got := Free(spec, nil, from, to, past)
			if !slices.Equal(labels(got, z), c.want) {
				t.Errorf("%s, %v visits: %v, want %v", name, c.length, labels(got, z), c.want)
			}
			seen := map[string]bool{}
			for i, s := range got {
				label := s.Start.In(z).Format("15:04")
				if seen[label] {
					t.Errorf("%s: two slots start at %s", name, label)
				}
				seen[label] = true
				if s.End.Sub(s.Start) != c.length {
					t.Errorf("%s: slot %s lasts %v", name, label, s.End.Sub(s.Start))
				}
				if i > 0 && s.Start.Before(got[i-1].End) {
					t.Errorf("%s: slot %s overlaps the one before", name, label)
				}
				// The second pass (02:00–03:00 at the winter offset) is in no slot.
				second := time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)
				if s.Start.Before(second.Add(time.Hour)) && second.Before(s.End) {
					t.Errorf("%s: slot %s lies in the repeated hour's second pass", name, label)
				}
			}
			if ord := Free(spec, nil, ordFrom, ordTo, past); c.length == 30*time.Minute && len(ord) != len(got) {
				t.Errorf("%s: %d slots on the fall-back day, %d on an ordinary Sunday", name, len(got), len(ord))
			}
		}
	}
}

// TestC4PublicHolidaysCloseTheDayUnlessAnExceptionOpensIt: the country's holidays from
// kit/workdays close the weekly schedule; each country its own (C4, issue 13.2).
func TestC4PublicHolidaysCloseTheDayUnlessAnExceptionOpensIt(t *testing.T) {
	cases := []struct{ country, zone, day string }{
		{"PL", "Europe/Warsaw", "2026-06-04"},     // Boże Ciało, Thursday
		{"FR", "Europe/Paris", "2026-07-14"},      // Fête nationale, Tuesday
		{"SK", "Europe/Bratislava", "2026-09-15"}, // Sedembolestná Panna Mária, Tuesday
	}
	for _, c := range cases {
		z := zone(t, c.zone)
		from, to := day(t, c.day, z)
		week := Week{{Weekday: from.Weekday(), Start: "08:00", End: "12:00"}}
		spec := Spec{Week: week, Zone: z, Length: time.Hour, Country: c.country}
		if got := Free(spec, nil, from, to, past); len(got) != 0 {
			t.Errorf("%s %s is a holiday, yet %v", c.country, c.day, labels(got, z))
		}
		for _, other := range cases {
			if other.country != c.country {
				spec.Country = other.country
				if got := Free(spec, nil, from, to, past); len(got) != 4 {
					t.Errorf("%s is no holiday in %s, yet %d slots", c.day, other.country, len(got))
				}
			}
		}
		spec.Country = c.country
		spec.Exceptions = []Exception{{Day: c.day, Windows: []Window{{Start: "09:00", End: "11:00"}}}}
		if got, want := labels(Free(spec, nil, from, to, past), z), []string{"09:00-10:00", "10:00-11:00"}; !slices.Equal(got, want) {
			t.Errorf("%s %s opened by an exception: %v, want %v", c.country, c.day, got, want)
		}
	}
}

// TestC4ExceptionsReplaceOrCloseTheDay (C4, issue 13.2).
func TestC4ExceptionsReplaceOrCloseTheDay(t *testing.T) {
	z := zone(t, "Europe/Warsaw")
	from, _ := day(t, "2026-11-30", z) // Monday
	to := from.AddDate(0, 0, 3)
	week := Week{}
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday} {
		week = append(week, Window{Weekday: d, Start: "08:00", End: "10:00"})
	}
	spec := Spec{Week: week, Zone: z, Length: time.Hour, Country: "PL", Exceptions: []Exception{
		{Day: "2026-12-01", Closed: true},
		{Day: "2026-12-02", Windows: []Window{{Start: "15:00", End: "16:00"}, {Start: "12:00", End: "13:00"}}},
	}}
	var got []string
	for _, s := range Free(spec, nil, from, to, past) {
		got = append(got, s.Start.In(z).Format("01-02 15:04"))
	}
	want := []string{"11-30 08:00", "11-30 09:00", "12-02 12:00", "12-02 15:00"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestC4BusyIntervalsKeepTheBufferOnBothSides: a slot overlapping a booking, a held slot or an
// absence widened by the buffer is not free; slots keep the buffer between each other too
// (C4, issue 13.2).
func TestC4BusyIntervalsKeepTheBufferOnBothSides(t *testing.T) {
	z := zone(t, "Europe/Warsaw")
	from, to := day(t, "2026-12-07", z) // Monday
	at := func(hm string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", "2026-12-07 "+hm, z)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	spec := Spec{Week: Week{{Weekday: time.Monday, Start: "08:00", End: "12:00"}}, Zone: z,
		Length: 30 * time.Minute, Buffer: 10 * time.Minute}
	if got, want := labels(Free(spec, nil, from, to, past), z),
		[]string{"08:00-08:30", "08:40-09:10", "09:20-09:50", "10:00-10:30", "10:40-11:10", "11:20-11:50"}; !slices.Equal(got, want) {
		t.Fatalf("no bookings: %v, want %v", got, want)
	}
	busy := []Busy{
		{at("09:30"), at("09:50")}, // another service, booked
		{at("10:45"), at("10:50")}, // a short absence
	}
	got := labels(Free(spec, busy, from, to, past), z)
	want := []string{"08:00-08:30", "08:40-09:10", "10:00-10:30", "11:20-11:50"}
	if !slices.Equal(got, want) {
		t.Errorf("with bookings: %v, want %v", got, want)
	}
	// A finer step lets the next slot start as soon as the buffer after a booking allows.
	spec.Step = 5 * time.Minute
	got = labels(Free(spec, busy, from, to, past), z)
	want = []string{"08:00-08:30", "08:40-09:10", "10:00-10:30", "11:00-11:30"}
	if !slices.Equal(got, want) {
		t.Errorf("5-minute step: %v, want %v", got, want)
	}
}

// TestC4NoSlotSoonerThanTheNotice (C4, issue 13.2).
func TestC4NoSlotSoonerThanTheNotice(t *testing.T) {
	z := zone(t, "Europe/Paris")
	from, to := day(t, "2026-12-07", z)
	spec := Spec{Week: Week{{Weekday: time.Monday, Start: "08:00", End: "12:00"}}, Zone: z,
		Length: time.Hour, NoticeMin: 2 * time.Hour}
	now := from.Add(7*time.Hour + 5*time.Minute) // 07:05
	if got, want := labels(Free(spec, nil, from, to, now), z), []string{"10:00-11:00", "11:00-12:00"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// [from, to) bounds the starts.
	if got, want := labels(Free(spec, nil, from.Add(9*time.Hour), from.Add(11*time.Hour), past), z), []string{"09:00-10:00", "10:00-11:00"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestC4CheckNamesTheWrongField: a refused schedule says which field is wrong and why, so the
// page can show a localized message next to it; Free gives no slot for it (C4, issue 13.2).
func TestC4CheckNamesTheWrongField(t *testing.T) {
	z := zone(t, "Europe/Warsaw")
	ok := Spec{Week: Week{{Weekday: time.Monday, Start: "08:00", End: "12:00"}, {Weekday: time.Monday, Start: "12:00", End: "24:00"}},
		Zone: z, Length: 20 * time.Minute, Country: "PL",
		Exceptions: []Exception{{Day: "2026-12-24", Closed: true}, {Day: "2026-12-31", Windows: []Window{{Start: "08:00", End: "10:00"}}}}}
	if err := ok.Check(); err != nil {
		t.Fatalf("a good spec refused: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Spec)
		field  string
		reason error
	}{
		{"no zone", func(s *Spec) { s.Zone = nil }, "zone", ErrMissing},
		{"unknown country", func(s *Spec) { s.Country = "pl" }, "country", ErrCountry},
		{"no length", func(s *Spec) { s.Length = 0 }, "length", ErrDuration},
		{"negative buffer", func(s *Spec) { s.Buffer = -time.Minute }, "buffer", ErrDuration},
		{"nanosecond step", func(s *Spec) { s.Step = time.Nanosecond }, "step", ErrDuration},
		{"negative notice", func(s *Spec) { s.NoticeMin = -time.Hour }, "notice_min", ErrDuration},
		{"bad weekday", func(s *Spec) { s.Week[1].Weekday = 7 }, "week[1].weekday", ErrWeekday},
		{"hour 25", func(s *Spec) { s.Week[0].Start = "25:00" }, "week[0].start", ErrTime},
		{"no colon", func(s *Spec) { s.Week[0].Start = "0800" }, "week[0].start", ErrTime},
		{"signed", func(s *Spec) { s.Week[0].End = "+9:00" }, "week[0].end", ErrTime},
		{"24:00 as a start", func(s *Spec) { s.Week[1].Start = "24:00" }, "week[1].start", ErrTime},
		{"minute 60", func(s *Spec) { s.Week[0].End = "11:60" }, "week[0].end", ErrTime},
		{"end before start", func(s *Spec) { s.Week[0].End = "07:00" }, "week[0].end", ErrOrder},
		{"empty window", func(s *Spec) { s.Week[0].End = "08:00" }, "week[0].end", ErrOrder},
		{"overlap", func(s *Spec) { s.Week[1].Start = "11:59" }, "week[1]", ErrOverlap},
		{"bad day", func(s *Spec) { s.Exceptions[0].Day = "2026-02-30" }, "exceptions[0].day", ErrDay},
		{"day twice", func(s *Spec) { s.Exceptions[1].Day = "2026-12-24" }, "exceptions[1].day", ErrTwice},
		{"closed with windows", func(s *Spec) { s.Exceptions[0].Windows = []Window{{Start: "08:00", End: "09:00"}} }, "exceptions[0].windows", ErrClosed},
		{"exception window", func(s *Spec) { s.Exceptions[1].Windows[0].End = "8:00" }, "exceptions[1].windows[0].end", ErrTime},
		{"exception overlap", func(s *Spec) {
			s.Exceptions[1].Windows = []Window{{Start: "08:00", End: "10:00"}, {Start: "07:00", End: "08:30"}}
		}, "exceptions[1].windows[0]", ErrOverlap},
	}
	for _, c := range cases {
		s := ok
		s.Week = slices.Clone(ok.Week)
		s.Exceptions = slices.Clone(ok.Exceptions)
		s.Exceptions[1].Windows = slices.Clone(ok.Exceptions[1].Windows)
		c.change(&s)
		err := s.Check()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.reason) {
			t.Errorf("%s: %v, want %s: %v", c.name, err, c.field, c.reason)
		}
		if got := Free(s, nil, past, past.AddDate(0, 0, 7), past); got != nil {
			t.Errorf("%s: a refused spec gives slots %v", c.name, got)
		}
	}
}

// TestC4DaysAreTheLocalDaysOfTheWeekView: the week view's columns, across a DST change and a
// year end (C4, issue 13.2).
func TestC4DaysAreTheLocalDaysOfTheWeekView(t *testing.T) {
	z := zone(t, "Europe/Warsaw")
	// 23:30 UTC on Saturday 24 October is already Sunday 25 in Warsaw.
	got := Days(time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC), 3, z)
	if want := []string{"2026-10-25", "2026-10-26", "2026-10-27"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = Days(time.Date(2026, 12, 28, 12, 0, 0, 0, z), 7, z)
	if want := []string{"2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := Days(past, 0, z); len(got) != 0 {
		t.Errorf("0 days: %v", got)
	}
}

// benchmarkSpec is one doctor's ordinary month: two windows on weekdays, Saturday morning,
// 20-minute visits with a 5-minute buffer, Polish holidays and a day off.
func benchmarkSpec(z *time.Location) Spec {
	week := Week{{Weekday: time.Saturday, Start: "09:00", End: "13:00"}}
	for d := time.Monday; d <= time.Friday; d++ {
		week = append(week, Window{Weekday: d, Start: "08:00", End: "12:00"}, Window{Weekday: d, Start: "13:00", End: "17:30"})
	}
	return Spec{Week: week, Zone: z, Country: "PL", Length: 20 * time.Minute, Buffer: 5 * time.Minute,
		Exceptions: []Exception{{Day: "2026-11-20", Closed: true}}}
}

// BenchmarkFreeFourWeeksOneDoctor computes four weeks of one doctor with a third of the slots
// booked (C4, issue 13.2).
func BenchmarkFreeFourWeeksOneDoctor(b *testing.B) {
	z := zone(b, "Europe/Warsaw")
	spec := benchmarkSpec(z)
	from, _ := day(b, "2026-11-02", z)
	to := from.AddDate(0, 0, 28)
	var busy []Busy
	for i, s := range Free(spec, nil, from, to, past) {
		if i%3 == 0 {
			busy = append(busy, Busy(s))
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(Free(spec, busy, from, to, past))
	}
	if n == 0 {
		b.Fatal("no slots")
	}
}
