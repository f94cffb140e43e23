package workdays

import (
	"testing"
	"time"
)

// TestCountryCalendars: holidays come from each country's calendar; business hours count
// only the open hours of working days.
func TestCountryCalendars(t *testing.T) {
	bratislava, _ := time.LoadLocation("Europe/Bratislava")
	warsaw, _ := time.LoadLocation("Europe/Warsaw")
	sk := Calendar("SK", 8, 18)
	if sk.IsWorkday(time.Date(2026, 1, 6, 12, 0, 0, 0, bratislava)) {
		t.Error("6 January is a Slovak holiday")
	}
	pl := Calendar("PL", 8, 18)
	if pl.IsWorkday(time.Date(2026, 11, 11, 12, 0, 0, 0, warsaw)) {
		t.Error("11 November is a Polish holiday")
	}
	if !Calendar("FR", 8, 18).IsWorkday(time.Date(2026, 11, 11, 12, 0, 0, 0, time.UTC).AddDate(0, 0, 1)) {
		t.Error("12 November 2026 is a French working day")
	}
	// Friday 16:00 → Monday 10:00: 2 h on Friday, 2 h on Monday.
	fri := time.Date(2026, 11, 20, 16, 0, 0, 0, warsaw)
	mon := time.Date(2026, 11, 23, 10, 0, 0, 0, warsaw)
	if got := BusinessHoursBetween(pl, fri, mon, warsaw); got != 4*time.Hour {
		t.Errorf("business hours: %s", got)
	}
}
