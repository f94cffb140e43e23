// Package ics writes iCalendar files (RFC 5545) for visits: the file attached to a booking's
// confirmation and cancellation e-mails (REQUIREMENTS C7, C10), the per-visit download on the
// patient's pages (C11) and a doctor's agenda feed. It builds on github.com/arran4/golang-ical
// and adds what a calendar program needs to show the visit at the right hour: each zone the
// events use gets a VTIMEZONE made from Go's zone data (one observance per offset change in
// the years the events cover), lines end in CRLF and are folded at 75 octets, and text is
// escaped.
package ics

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"

	ical "github.com/arran4/golang-ical"
)

// Methods (RFC 5546): what the receiving calendar program is asked to do.
const (
	Publish = "PUBLISH" // a file to import: downloads and feeds
	Request = "REQUEST" // an invitation in an e-mail: needs Organizer and Attendee
	Cancel  = "CANCEL"  // a cancellation in an e-mail: needs Organizer and Attendee
)

// Statuses of an event.
const (
	Confirmed = "CONFIRMED"
	Tentative = "TENTATIVE" // e.g. an anonymous booking awaiting its e-mail confirmation (C6)
	Cancelled = "CANCELLED"
)

// Event is one visit.
type Event struct {
	UID                            string // stable across updates of the same visit, globally unique
	Summary, Location, Description string // plain text, any characters
	Start, End                     time.Time
	Zone                           *time.Location // the visit's zone (the tenant's); nil writes UTC times
	Status                         string         // Confirmed, Tentative, Cancelled or ""
	Sequence                       int            // revision: raise it on every change of a sent event
	Organizer                      string         // e-mail address (the doctor's or the portal's)
	Attendee                       string         // e-mail address of the patient, for Request and Cancel
}

var tzidPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_+-]*$`)

// Calendar returns the iCalendar file of events with the method given (Publish, Request or
// Cancel). A Cancel marks every event Cancelled. DTSTAMP is the present moment.
func Calendar(prodID string, method string, events ...Event) ([]byte, error) {
	return build(time.Now(), prodID, method, events)
}

func build(now time.Time, prodID, method string, events []Event) ([]byte, error) {
	if prodID == "" || strings.ContainsAny(prodID, "\r\n") {
		return nil, errors.New("ics: product id empty or on several lines")
	}
	switch method {
	case Publish, Request, Cancel:
	default:
		return nil, fmt.Errorf("ics: method %q is not PUBLISH, REQUEST or CANCEL", method)
	}
	if len(events) == 0 {
		return nil, errors.New("ics: no event")
	}
	cal := ical.NewCalendar()
	cal.SetProductId(prodID)
	cal.SetCalscale("GREGORIAN")
	cal.SetMethod(ical.Method(method))

	// One VTIMEZONE per zone, covering the years of that zone's events.
	type span struct {
		loc      *time.Location
		from, to int
	}
	zones := map[string]*span{}
	for i, e := range events {
		if err := check(e, method); err != nil {
			return nil, fmt.Errorf("ics: event %d: %w", i, err)
		}
		if local(e.Zone) {
			name := e.Zone.String()
			s := zones[name]
			if s == nil {
				s = &span{loc: e.Zone, from: e.Start.In(e.Zone).Year(), to: e.Start.In(e.Zone).Year()}
				zones[name] = s
			}
			s.from = min(s.from, e.Start.In(e.Zone).Year())
			s.to = max(s.to, e.End.In(e.Zone).Year())
		}
	}
	names := make([]string, 0, len(zones))
	for name := range zones {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := zones[name]
		cal.AddVTimezone(timezone(s.loc, time.Date(s.from, 1, 1, 0, 0, 0, 0, s.loc), time.Date(s.to+1, 1, 1, 0, 0, 0, 0, s.loc)))
	}

	for _, e := range events {
		ev := cal.AddEvent(text(e.UID))
		ev.SetDtStampTime(now)
		if local(e.Zone) {
			tz := ical.WithTZID(e.Zone.String())
			ev.SetProperty(ical.ComponentPropertyDtStart, e.Start.In(e.Zone).Format(localFormat), tz)
			ev.SetProperty(ical.ComponentPropertyDtEnd, e.End.In(e.Zone).Format(localFormat), tz)
		} else {
			ev.SetStartAt(e.Start)
			ev.SetEndAt(e.End)
		}
		ev.SetSequence(e.Sequence)
		ev.SetSummary(text(e.Summary))
		if e.Location != "" {
			ev.SetLocation(text(e.Location))
		}
		if e.Description != "" {
			ev.SetDescription(text(e.Description))
		}
		status := e.Status
		if method == Cancel {
			status = Cancelled
		}
		if status != "" {
			ev.SetStatus(ical.ObjectStatus(status))
		}
		if e.Organizer != "" {
			ev.SetOrganizer(address(e.Organizer))
		}
		if e.Attendee != "" {
			ev.AddAttendee("mailto:" + address(e.Attendee))
		}
	}
	var b bytes.Buffer
	if err := cal.SerializeTo(&b, ical.WithNewLineWindows, ical.WithLineLength(75)); err != nil {
		return nil, fmt.Errorf("ics: %w", err)
	}
	return b.Bytes(), nil
}

const localFormat = "20060102T150405"

// local tells whether times are written as local times of a zone (with its VTIMEZONE).
func local(z *time.Location) bool { return z != nil && z != time.UTC && z.String() != "UTC" }

func check(e Event, method string) error {
	switch {
	case strings.TrimSpace(e.UID) == "":
		return errors.New("no UID")
	case e.Start.IsZero() || !e.End.After(e.Start):
		return errors.New("the end is not after the start")
	case e.Sequence < 0:
		return errors.New("negative sequence")
	case local(e.Zone) && !tzidPattern.MatchString(e.Zone.String()):
		return fmt.Errorf("zone %q is not a zone name (load it with time.LoadLocation)", e.Zone.String())
	case e.Zone != nil && e.Zone.String() == "Local":
		return errors.New(`zone "Local" is not a zone name (load it with time.LoadLocation)`)
	}
	switch e.Status {
	case "", Confirmed, Tentative, Cancelled:
	default:
		return fmt.Errorf("status %q", e.Status)
	}
	if method == Cancel && e.Status != "" && e.Status != Cancelled {
		return fmt.Errorf("status %q in a cancellation", e.Status)
	}
	for _, a := range []string{e.Organizer, e.Attendee} {
		if a != "" && address(a) == "" {
			return fmt.Errorf("%q is not an e-mail address", a)
		}
	}
	if method != Publish && (e.Organizer == "" || e.Attendee == "") {
		return fmt.Errorf("%s needs an organizer and an attendee", method)
	}
	return nil
}

// address returns the bare e-mail address of s ("Name <a@b>" or "a@b"), "" if it is none.
func address(s string) string {
	a, err := mail.ParseAddress(strings.TrimPrefix(s, "mailto:"))
	if err != nil || strings.ContainsAny(a.Address, "\r\n\"") {
		return ""
	}
	return a.Address
}

// text makes s fit a TEXT value: line breaks become "\n" (which golang-ical escapes, with
// commas, semicolons and backslashes), other control characters, which RFC 5545 forbids,
// are dropped.
func text(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// timezone describes loc between from and to with explicit observances: the one in force
// at from, then one per change of offset, name or daylight-saving state until to, each taken
// from Go's zone data (time.ZoneBounds).
func timezone(loc *time.Location, from, to time.Time) *ical.VTimezone {
	tz := ical.NewTimezone(loc.String())
	t := from
	for {
		name, offset := t.Zone()
		start, end := t.ZoneBounds()
		onset, before := start, offset
		if start.IsZero() { // the zone never changed before: a conventional first onset
			onset = time.Date(1970, 1, 1, 0, 0, 0, 0, loc)
			if onset.After(t) {
				onset = t
			}
		} else {
			_, before = start.Add(-time.Second).Zone()
		}
		var c *ical.ComponentBase
		if t.IsDST() {
			d := &ical.Daylight{}
			tz.Components = append(tz.Components, d)
			c = &d.ComponentBase
		} else {
			s := tz.AddStandard()
			c = &s.ComponentBase
		}
		c.SetProperty(ical.ComponentPropertyDtStart, onset.In(time.FixedZone("", before)).Format(localFormat))
		c.SetProperty(ical.ComponentProperty(ical.PropertyTzoffsetfrom), utcOffset(before))
		c.SetProperty(ical.ComponentProperty(ical.PropertyTzoffsetto), utcOffset(offset))
		c.SetProperty(ical.ComponentProperty(ical.PropertyTzname), text(name))
		if end.IsZero() || !end.Before(to) {
			return tz
		}
		t = end
	}
}

// utcOffset writes seconds east of UTC as RFC 5545 does: +HHMM, with seconds when there are.
func utcOffset(s int) string {
	sign := '+'
	if s < 0 {
		sign, s = '-', -s
	}
	if s%60 != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%c%02d%02d", sign, s/3600, s/60%60)
}
