package ics

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// parse reads out back with an independent parser (emersion/go-ical), after checking the
// raw form RFC 5545 asks for: CRLF line ends only, lines of at most 75 octets, folds only
// between characters.
func parse(t *testing.T, out []byte) *goical.Calendar {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatal("the file does not end with CRLF")
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\r\n")), []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d: a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 75 {
			t.Fatalf("line %d: %d octets, over 75: %q", i+1, len(line), line)
		}
		if !utf8.Valid(line) {
			t.Fatalf("line %d: folded inside a character: %q", i+1, line)
		}
	}
	cal, err := goical.NewDecoder(bytes.NewReader(out)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot read the file: %v\n%s", err, out)
	}
	return cal
}

func prop(t *testing.T, c *goical.Component, name string) *goical.Prop {
	t.Helper()
	p := c.Props.Get(name)
	if p == nil {
		t.Fatalf("%s has no %s", c.Name, name)
	}
	return p
}

// offsetAt evaluates a parsed VTIMEZONE at instant x the way a calendar program does: the
// observance with the latest onset at or before x gives the offset.
func offsetAt(t *testing.T, vtz *goical.Component, x time.Time) int {
	t.Helper()
	type onset struct {
		at time.Time
		to int
	}
	var onsets []onset
	for _, c := range vtz.Children {
		if c.Name != "STANDARD" && c.Name != "DAYLIGHT" {
			t.Fatalf("VTIMEZONE holds a %s", c.Name)
		}
		wall, err := time.Parse(localFormat, prop(t, c, "DTSTART").Value)
		if err != nil {
			t.Fatal(err)
		}
		from, to := seconds(t, prop(t, c, "TZOFFSETFROM").Value), seconds(t, prop(t, c, "TZOFFSETTO").Value)
		if prop(t, c, "TZNAME").Value == "" {
			t.Fatal("an observance without a name")
		}
		onsets = append(onsets, onset{wall.Add(-time.Duration(from) * time.Second), to})
	}
	sort.Slice(onsets, func(i, j int) bool { return onsets[i].at.Before(onsets[j].at) })
	if len(onsets) == 0 || x.Before(onsets[0].at) {
		t.Fatalf("%s is before the zone's first observance", x)
	}
	off := 0
	for _, o := range onsets {
		if !o.at.After(x) {
			off = o.to
		}
	}
	return off
}

func seconds(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 || (s[0] != '+' && s[0] != '-') {
		t.Fatalf("UTC offset %q", s)
	}
	n := 0
	for i, mult := range []int{3600, 60, 1}[:(len(s)-1)/2] {
		n += mult * int((s[1+2*i]-'0')*10+(s[2+2*i]-'0'))
	}
	if s[0] == '-' {
		n = -n
	}
	return n
}

func timezones(cal *goical.Calendar) map[string]*goical.Component {
	m := map[string]*goical.Component{}
	for _, c := range cal.Children {
		if c.Name == "VTIMEZONE" {
			m[c.Props.Get("TZID").Value] = c
		}
	}
	return m
}

// C7, C11 (issue 13.4): a visit in Warsaw read back by another parser has its zone, start,
// end, summary, UID and status; the VTIMEZONE gives Go's offset at every hour of the year,
// across both daylight-saving changes; DTSTAMP, VERSION, PRODID and METHOD are there.
func TestCalendarReadsBack(t *testing.T) {
	warsaw := zone(t, "Europe/Warsaw")
	visits := []Event{
		// Just before and after the spring change (29 March 2026) and the autumn one (25 October).
		{UID: "v1@elekarze.example", Summary: "Kardiolog", Start: time.Date(2026, 3, 28, 9, 0, 0, 0, warsaw), End: time.Date(2026, 3, 28, 9, 30, 0, 0, warsaw)},
		{UID: "v2@elekarze.example", Summary: "Kardiolog", Start: time.Date(2026, 3, 30, 9, 0, 0, 0, warsaw), End: time.Date(2026, 3, 30, 9, 20, 0, 0, warsaw)},
		{UID: "v3@elekarze.example", Summary: "Kardiolog", Start: time.Date(2026, 10, 26, 8, 15, 0, 0, warsaw), End: time.Date(2026, 10, 26, 9, 0, 0, 0, warsaw), Status: Confirmed},
	}
	for i := range visits {
		visits[i].Zone = warsaw
		if visits[i].Status == "" {
			visits[i].Status = Tentative
		}
	}
	before := time.Now().UTC().Truncate(time.Second)
	out, err := Calendar("-//carenet//calendar//PL", Publish, visits...)
	if err != nil {
		t.Fatal(err)
	}
	cal := parse(t, out)
	for name, want := range map[string]string{"VERSION": "2.0", "PRODID": "-//carenet//calendar//PL", "METHOD": "PUBLISH"} {
		if got := prop(t, cal.Component, name).Value; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	events := cal.Events()
	if len(events) != len(visits) {
		t.Fatalf("%d events, want %d", len(events), len(visits))
	}
	for i, ev := range events {
		want := visits[i]
		if uid := prop(t, ev.Component, "UID").Value; uid != want.UID {
			t.Errorf("UID %q, want %q", uid, want.UID)
		}
		if s, _ := ev.Props.Text("SUMMARY"); s != want.Summary {
			t.Errorf("%s: summary %q", want.UID, s)
		}
		if st := prop(t, ev.Component, "STATUS").Value; st != want.Status {
			t.Errorf("%s: status %q, want %q", want.UID, st, want.Status)
		}
		for _, p := range []string{"DTSTART", "DTEND"} {
			if tzid := prop(t, ev.Component, p).Params.Get("TZID"); tzid != "Europe/Warsaw" {
				t.Errorf("%s: %s TZID %q", want.UID, p, tzid)
			}
		}
		start, err := ev.DateTimeStart(nil)
		if err != nil || !start.Equal(want.Start) || start.Location().String() != "Europe/Warsaw" {
			t.Errorf("%s: start %s (%v), want %s", want.UID, start, err, want.Start)
		}
		end, err := ev.DateTimeEnd(nil)
		if err != nil || !end.Equal(want.End) {
			t.Errorf("%s: end %s (%v), want %s", want.UID, end, err, want.End)
		}
		stamp, err := prop(t, ev.Component, "DTSTAMP").DateTime(nil)
		if err != nil || stamp.Before(before) || stamp.After(time.Now().Add(time.Second)) || stamp.Location() != time.UTC {
			t.Errorf("%s: DTSTAMP %s (%v)", want.UID, stamp, err)
		}
	}

	vtz := timezones(cal)["Europe/Warsaw"]
	if vtz == nil || len(timezones(cal)) != 1 {
		t.Fatalf("VTIMEZONEs %v, want Europe/Warsaw only", timezones(cal))
	}
	kinds := map[string]int{}
	for _, c := range vtz.Children {
		kinds[c.Name]++
	}
	if kinds["DAYLIGHT"] == 0 || kinds["STANDARD"] == 0 {
		t.Errorf("observances %v, want both daylight and standard", kinds)
	}
	for x := time.Date(2026, 1, 1, 0, 0, 0, 0, warsaw); x.Year() < 2027; x = x.Add(time.Hour) {
		if _, want := x.Zone(); offsetAt(t, vtz, x) != want {
			t.Fatalf("at %s the VTIMEZONE says %+d s, Go's zone data %+d s", x.UTC(), offsetAt(t, vtz, x), want)
		}
	}
	// Each side of the autumn change: 02:30 happens twice, the VTIMEZONE tells which.
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	if offsetAt(t, vtz, first) != 7200 || offsetAt(t, vtz, first.Add(time.Hour)) != 3600 {
		t.Error("the autumn change is not at 01:00 UTC")
	}
}

// C7, C11 (issue 13.4): events in two zones spanning two years get one VTIMEZONE each,
// right over both years; a zone without daylight saving has one standard observance;
// events without a zone are written in UTC.
func TestCalendarZones(t *testing.T) {
	paris, warsaw, tokyo := zone(t, "Europe/Paris"), zone(t, "Europe/Warsaw"), zone(t, "Asia/Tokyo")
	evs := []Event{
		{UID: "a", Summary: "Paris", Zone: paris, Start: time.Date(2026, 12, 31, 23, 0, 0, 0, paris), End: time.Date(2027, 1, 1, 0, 30, 0, 0, paris)},
		{UID: "b", Summary: "Varsovie", Zone: warsaw, Start: time.Date(2027, 7, 1, 10, 0, 0, 0, warsaw), End: time.Date(2027, 7, 1, 10, 30, 0, 0, warsaw)},
		{UID: "c", Summary: "Tokyo", Zone: tokyo, Start: time.Date(2027, 7, 1, 10, 0, 0, 0, tokyo), End: time.Date(2027, 7, 1, 10, 30, 0, 0, tokyo)},
		{UID: "d", Summary: "UTC", Start: time.Date(2027, 7, 1, 8, 0, 0, 0, time.UTC), End: time.Date(2027, 7, 1, 9, 0, 0, 0, time.UTC)},
		{UID: "e", Summary: "UTC zone", Zone: time.UTC, Start: time.Date(2027, 7, 1, 8, 0, 0, 0, time.UTC), End: time.Date(2027, 7, 1, 9, 0, 0, 0, time.UTC)},
	}
	out, err := Calendar("-//carenet//calendar//FR", Publish, evs...)
	if err != nil {
		t.Fatal(err)
	}
	cal := parse(t, out)
	tzs := timezones(cal)
	if len(tzs) != 3 {
		t.Fatalf("%d VTIMEZONEs, want Paris, Warsaw and Tokyo", len(tzs))
	}
	for name, loc := range map[string]*time.Location{"Europe/Paris": paris, "Europe/Warsaw": warsaw} {
		from := 2026
		if name == "Europe/Warsaw" {
			from = 2027
		}
		for x := time.Date(from, 1, 1, 0, 0, 0, 0, loc); x.Year() < 2028; x = x.Add(time.Hour) {
			if _, want := x.Zone(); offsetAt(t, tzs[name], x) != want {
				t.Fatalf("%s at %s: VTIMEZONE %+d s, Go %+d s", name, x.UTC(), offsetAt(t, tzs[name], x), want)
			}
		}
	}
	if c := tzs["Asia/Tokyo"].Children; len(c) != 1 || c[0].Name != "STANDARD" || c[0].Props.Get("TZOFFSETTO").Value != "+0900" {
		t.Errorf("Tokyo: %d observances", len(c))
	}
	for i, ev := range cal.Events() {
		start, err := ev.DateTimeStart(nil)
		if err != nil || !start.Equal(evs[i].Start) {
			t.Errorf("%s: start %s (%v), want %s", evs[i].UID, start, err, evs[i].Start)
		}
		if evs[i].Zone == nil || evs[i].Zone == time.UTC {
			if v := ev.Props.Get("DTSTART"); !strings.HasSuffix(v.Value, "Z") || v.Params.Get("TZID") != "" {
				t.Errorf("%s: DTSTART %q %v, want UTC", evs[i].UID, v.Value, v.Params)
			}
		}
	}
}

// C7, C10, C11 (issue 13.4): a summary, place and description with commas, semicolons,
// backslashes, line breaks and Polish and French letters come back as they were, also when
// the line is long enough to be folded.
func TestCalendarTextRoundTrips(t *testing.T) {
	summary := "Wizyta: lek. Łukasz Żółć-Gęślą; gabinet 3, piętro 2 — consultation «Hélène Œuvre», ça va ? Zażółć gęślą jaźń; élève, cœur, naïve"
	location := "ul. Świętokrzyska 12/3, 00-001 Warszawa;\nwejście od podwórza \\ klatka B"
	description := "Ligne 1\r\nLigne 2 : « à très bientôt »\rLigne 3, fin;"
	warsaw := zone(t, "Europe/Warsaw")
	out, err := Calendar("-//carenet//calendar//PL", Request, Event{
		UID: "rdv-ąę,;@example", Summary: summary, Location: location, Description: description + "\x00\x07",
		Zone: warsaw, Start: time.Date(2026, 12, 1, 9, 0, 0, 0, warsaw), End: time.Date(2026, 12, 1, 9, 30, 0, 0, warsaw),
		Status: Confirmed, Sequence: 2, Organizer: "Gabinet Żółć <gabinet@elekarze.example>", Attendee: "jan.kowalski@example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("\r\n ")) {
		t.Fatal("the long summary was not folded")
	}
	ev := parse(t, out).Events()[0]
	for name, want := range map[string]string{
		"SUMMARY": summary, "LOCATION": location, "UID": "rdv-ąę,;@example",
		"DESCRIPTION": "Ligne 1\nLigne 2 : « à très bientôt »\nLigne 3, fin;", // CR LF and CR become line breaks, control characters go
	} {
		if got, err := ev.Props.Text(name); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	if got := prop(t, ev.Component, "ORGANIZER").Value; got != "mailto:gabinet@elekarze.example" {
		t.Errorf("ORGANIZER %q", got)
	}
	if got := prop(t, ev.Component, "ATTENDEE").Value; got != "mailto:jan.kowalski@example.com" {
		t.Errorf("ATTENDEE %q", got)
	}
	if got, err := prop(t, ev.Component, "SEQUENCE").Int(); err != nil || got != 2 {
		t.Errorf("SEQUENCE %d (%v)", got, err)
	}
}

// C10 (issue 13.4): the cancellation sent to the patient marks the visit cancelled.
func TestCalendarCancel(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	out, err := Calendar("-//carenet//calendar//PL", Cancel, Event{UID: "v1", Summary: "Wizyta", Start: start, End: start.Add(30 * time.Minute),
		Sequence: 1, Organizer: "gabinet@elekarze.example", Attendee: "jan@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cal := parse(t, out)
	if m := prop(t, cal.Component, "METHOD").Value; m != "CANCEL" {
		t.Errorf("METHOD %q", m)
	}
	if st, err := cal.Events()[0].Status(); err != nil || st != goical.EventCancelled {
		t.Errorf("STATUS %q (%v)", st, err)
	}
}

// C7 (issue 13.4): what would make an invalid file is refused with an error, never written.
func TestCalendarRefuses(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ok := Event{UID: "v1", Summary: "Wizyta", Start: start, End: start.Add(time.Hour), Organizer: "a@example.com", Attendee: "b@example.com"}
	with := func(f func(*Event)) Event { e := ok; f(&e); return e }
	cases := map[string]struct {
		prodID, method string
		events         []Event
	}{
		"no product id":              {"", Publish, []Event{ok}},
		"product id on two lines":    {"a\r\nb", Publish, []Event{ok}},
		"unknown method":             {"p", "ADD", []Event{ok}},
		"no event":                   {"p", Publish, nil},
		"no UID":                     {"p", Publish, []Event{with(func(e *Event) { e.UID = " " })}},
		"end before start":           {"p", Publish, []Event{with(func(e *Event) { e.End = start.Add(-time.Minute) })}},
		"end at start":               {"p", Publish, []Event{with(func(e *Event) { e.End = start })}},
		"no start":                   {"p", Publish, []Event{with(func(e *Event) { e.Start, e.End = time.Time{}, time.Time{}.Add(time.Hour) })}},
		"negative sequence":          {"p", Publish, []Event{with(func(e *Event) { e.Sequence = -1 })}},
		"unknown status":             {"p", Publish, []Event{with(func(e *Event) { e.Status = "BOOKED" })}},
		"confirmed in a cancel":      {"p", Cancel, []Event{with(func(e *Event) { e.Status = Confirmed })}},
		"the Local zone":             {"p", Publish, []Event{with(func(e *Event) { e.Zone = time.Local })}},
		"a zone name with a colon":   {"p", Publish, []Event{with(func(e *Event) { e.Zone = time.FixedZone("UTC+1:30", 5400) })}},
		"a bad organizer":            {"p", Publish, []Event{with(func(e *Event) { e.Organizer = "not an address" })}},
		"a request without attendee": {"p", Request, []Event{with(func(e *Event) { e.Attendee = "" })}},
		"a cancel without organizer": {"p", Cancel, []Event{with(func(e *Event) { e.Organizer = "" })}},
	}
	for name, c := range cases {
		if out, err := Calendar(c.prodID, c.method, c.events...); err == nil {
			t.Errorf("%s: accepted:\n%s", name, out)
		}
	}
	if _, err := Calendar("p", Request, ok); err != nil {
		t.Errorf("the valid request: %v", err)
	}
}

// C7 (issue 13.4): utcOffset writes RFC 5545 offsets, with seconds only when there are.
func TestUTCOffset(t *testing.T) {
	for s, want := range map[int]string{0: "+0000", 3600: "+0100", 7200: "+0200", -18000: "-0500", 19800: "+0530", 5040: "+0124", 5041: "+012401", -3723: "-010203"} {
		if got := utcOffset(s); got != want {
			t.Errorf("utcOffset(%d) = %q, want %q", s, got, want)
		}
	}
}

// C7, C11 (issue 13.4): whatever text a visit carries, the file stays valid (line ends,
// lengths, folds) and the other parser reads the same text back.
func FuzzCalendarText(f *testing.F) {
	for _, s := range []string{"Wizyta; gabinet 3, piętro 2", "a\r\nb\\n", strings.Repeat("ż ", 80), strings.Repeat("<a@b>", 30), ""} {
		f.Add(s)
	}
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Calendar("-//carenet//calendar//PL", Publish, Event{UID: "u" + s, Summary: s, Description: s, Start: start, End: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ev := parse(t, out).Events()[0]
		for _, name := range []string{"SUMMARY", "DESCRIPTION"} {
			if got, _ := ev.Props.Text(name); got != text(s) {
				t.Fatalf("%s %q read back as %q", name, text(s), got)
			}
		}
		if got, _ := ev.Props.Text("UID"); got != text("u"+s) {
			t.Fatalf("UID %q read back as %q", text("u"+s), got)
		}
	})
}
