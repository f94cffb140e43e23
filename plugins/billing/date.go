package billing

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Date is a calendar day in the tenant's time zone, stored as 'YYYY-MM-DD' text on both
// databases (so that comparing the text compares the days). The zero Date is no date and is
// stored as ”.
type Date struct {
	Y int
	M time.Month
	D int
}

// DateOf is the day t falls on in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// ParseDate reads 'YYYY-MM-DD'; it refuses a day that does not exist.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// IsZero reports whether d is no date.
func (d Date) IsZero() bool { return d == Date{} }

// String is 'YYYY-MM-DD' (” for no date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Y, int(d.M), d.D)
}

// In is the instant the day begins in loc.
func (d Date) In(loc *time.Location) time.Time { return time.Date(d.Y, d.M, d.D, 0, 0, 0, 0, loc) }

// t is the day at noon UTC, for calendar arithmetic that no time zone can shift.
func (d Date) t() time.Time { return time.Date(d.Y, d.M, d.D, 12, 0, 0, 0, time.UTC) }

// AddDays is the day n days later (earlier when n < 0).
func (d Date) AddDays(n int) Date {
	t := d.t().AddDate(0, 0, n)
	return Date{t.Year(), t.Month(), t.Day()}
}

// Before, After and Compare order days.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }
func (d Date) After(o Date) bool  { return d.Compare(o) > 0 }
func (d Date) Compare(o Date) int {
	switch {
	case d.Y != o.Y:
		return cmpInt(d.Y, o.Y)
	case d.M != o.M:
		return cmpInt(int(d.M), int(o.M))
	default:
		return cmpInt(d.D, o.D)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// daysIn is the number of days of month m of year y.
func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day() }

// AddMonthsClamped is the day n months after d with d's day of month, or the month's last day
// when it has fewer days (31 January + 1 month = 28 or 29 February).
func (d Date) AddMonthsClamped(n int) Date {
	y, m := d.Y, int(d.M)-1+n
	y += m / 12
	m %= 12
	if m < 0 {
		m += 12
		y--
	}
	month := time.Month(m + 1)
	return Date{y, month, min(d.D, daysIn(y, month))}
}

// Value stores the day as text.
func (d Date) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads the day from text (” is no date).
func (d *Date) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		*d = Date{}
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case time.Time:
		*d = Date{v.Year(), v.Month(), v.Day()}
		return nil
	default:
		return fmt.Errorf("billing: cannot scan %T into a date", src)
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}
