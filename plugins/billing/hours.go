package billing

import (
	"encoding/json"
	"errors"
	"time"
)

// Answering hours (B2): when the secretariat answers a client's number. The firm's full
// service is Monday to Friday 08:00–20:00 and Saturday 08:00–13:00; partial hours are agreed
// per client. Subscription.Hours holds them as JSON (empty: the full service).

// Hours profiles.
const (
	hoursFull    = "full"
	hoursPartial = "partial"
)

// Hours is a client's answering hours.
type Hours struct {
	Profile string     `json:"profile"`
	Days    []HoursDay `json:"days"`
}

// HoursDay is one answering span of a weekday (1 = Monday … 7 = Sunday), "HH:MM" in the
// tenant's time zone; a day may have several spans.
type HoursDay struct {
	Weekday int    `json:"weekday"`
	Opens   string `json:"opens"`
	Closes  string `json:"closes"`
}

// fullHours is the full service (B2).
func fullHours() Hours {
	h := Hours{Profile: hoursFull}
	for wd := 1; wd <= 5; wd++ {
		h.Days = append(h.Days, HoursDay{wd, "08:00", "20:00"})
	}
	h.Days = append(h.Days, HoursDay{6, "08:00", "13:00"})
	return h
}

var errBadHours = errors.New("billing: answering hours not understood")

// parseHours reads Subscription.Hours (an empty one is the full service).
func parseHours(s string) (Hours, error) {
	if s == "" {
		return fullHours(), nil
	}
	var h Hours
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return Hours{}, errBadHours
	}
	if h.Profile != hoursFull && h.Profile != hoursPartial {
		return Hours{}, errBadHours
	}
	for _, d := range h.Days {
		o, err1 := time.Parse("15:04", d.Opens)
		c, err2 := time.Parse("15:04", d.Closes)
		if d.Weekday < 1 || d.Weekday > 7 || err1 != nil || err2 != nil || !o.Before(c) {
			return Hours{}, errBadHours
		}
	}
	return h, nil
}

// String is the JSON Subscription.Hours keeps.
func (h Hours) String() string {
	b, _ := json.Marshal(h)
	return string(b)
}

// Answers reports whether the secretariat answers at t (in loc, the tenant's zone).
func (h Hours) Answers(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	wd := int(t.Weekday())
	if wd == 0 {
		wd = 7
	}
	hm := t.Format("15:04")
	for _, d := range h.Days {
		if d.Weekday == wd && hm >= d.Opens && hm < d.Closes {
			return true
		}
	}
	return false
}
