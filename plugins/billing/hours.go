package billing

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
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

// fullServiceHours is the tenant's full service (B2; the firm's: Monday to Friday
// 08:00–20:00, Saturday 08:00–13:00), written as weekday ranges and spans separated by
// semicolons ("1-5 08:00-20:00; 6 08:00-13:00", 1 = Monday).
var fullServiceHours = kit.String("billing.full_service_hours", "1-5 08:00-20:00; 6 08:00-13:00", nil, "B2")

// fullHours is the tenant's full service (B2); a rule value that cannot be read gives the
// default's hours.
func fullHours(t sdk.Tenant) Hours {
	if h, err := readSpans(fullServiceHours.Of(t)); err == nil {
		return h
	}
	h, _ := readSpans(fullServiceHours.Rule().Default.(string))
	return h
}

// readSpans reads "1-5 08:00-20:00; 6 08:00-13:00" as the full service's hours.
func readSpans(s string) (Hours, error) {
	h := Hours{Profile: hoursFull}
	for _, part := range strings.Split(s, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		days, span, ok := f[0], "", len(f) == 2
		if ok {
			span = f[1]
		}
		from, to, _ := strings.Cut(days, "-")
		if to == "" {
			to = from
		}
		opens, closes, _ := strings.Cut(span, "-")
		a, errA := strconv.Atoi(from)
		b, errB := strconv.Atoi(to)
		if !ok || errA != nil || errB != nil || a > b {
			return Hours{}, errBadHours
		}
		for wd := a; wd <= b; wd++ {
			h.Days = append(h.Days, HoursDay{wd, opens, closes})
		}
	}
	if len(h.Days) == 0 {
		return Hours{}, errBadHours
	}
	if _, err := parseHours(sdk.Tenant{}, h.String()); err != nil {
		return Hours{}, err
	}
	return h, nil
}

var errBadHours = errors.New("billing: answering hours not understood")

// parseHours reads Subscription.Hours (an empty one is the tenant's full service).
func parseHours(t sdk.Tenant, s string) (Hours, error) {
	if s == "" {
		return fullHours(t), nil
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
