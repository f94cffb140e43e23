package calendar

import (
	"html/template"
	"time"
)

// pageFuncs are the calendar's template functions: its stylesheet's address, for every
// page that lays out its lists (the booking week's starts, the import's column list), and
// the module's clock, so a page tells today from another day and a past day from one to come
// (issue 13 review: the week page, the guest's confirmation deadline).
func (m *Module) pageFuncs() template.FuncMap {
	return template.FuncMap{
		"calendarCSS": func() string { return m.assetURL("calendar.css") },
		// calendarNow is the module's now (a test's clock in tests).
		"calendarNow": func() time.Time { return m.now() },
		// dayOver reports whether the day that begins at midnight d (in the tenant's zone)
		// has ended.
		"dayOver": func(d time.Time) bool { return !d.AddDate(0, 0, 1).After(m.now()) },
		// isoWeekday is d's weekday, 1 = Monday … 7 = Sunday (the calendar.weekday.N words).
		"isoWeekday": func(d time.Time) int {
			if wd := int(d.Weekday()); wd != 0 {
				return wd
			}
			return 7
		},
	}
}
