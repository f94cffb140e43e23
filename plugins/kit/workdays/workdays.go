// Package workdays counts working days and business hours per country, from the holiday
// calendars of github.com/rickar/cal (pinned at v2.1.26: earlier releases have wrong Slovak
// and Polish holidays). It holds no state of any module or of the core.
package workdays

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/pl"
	"github.com/rickar/cal/v2/sk"
)

// Calendar returns the business calendar of a country (ISO code FR, PL, SK; other codes get
// weekends only) with business hours from open to close (hours of the day).
func Calendar(country string, open, close int) *cal.BusinessCalendar {
	c := cal.NewBusinessCalendar()
	switch country {
	case "FR":
		c.AddHoliday(fr.Holidays...)
	case "PL":
		c.AddHoliday(pl.Holidays...)
	case "SK":
		c.AddHoliday(sk.Holidays...)
	}
	c.SetWorkHours(time.Duration(open)*time.Hour, time.Duration(close)*time.Hour)
	return c
}

// BusinessHoursBetween counts the business hours between two instants, in loc.
func BusinessHoursBetween(c *cal.BusinessCalendar, from, to time.Time, loc *time.Location) time.Duration {
	if !to.After(from) {
		return 0
	}
	return c.WorkHoursInRange(from.In(loc), to.In(loc))
}

// AddWorkdays returns the date n working days after t (in t's location).
func AddWorkdays(c *cal.BusinessCalendar, t time.Time, n int) time.Time {
	return c.WorkdaysFrom(t, n)
}
