package billing

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The usage part (B2, B3): the telephony platform reports each call and SMS on a client's
// dedicated number (POST /billing/api/usage) and the messages the secretariat took for him
// (POST /billing/api/messages, messages.go); it reads his answering hours back (GET
// /billing/api/hours). The client sees his consumption of the current period against his
// plan's allowance and his messages (usage_pages.go); recordings and messages are kept
// billing.recording_retention_months (usage_retention.go).

// Rules of the usage part.
var (
	// usageClockSkewMinutes: how far in the future an event's time may lie (the platform's
	// clock is not ours) before it is refused as a bad time.
	usageClockSkewMinutes = kit.Int("billing.usage_clock_skew_minutes", 10, 0, 1440, "B3")
	// usageBatchMax: the most events (or messages) one call may carry.
	usageBatchMax = kit.Int("billing.usage_batch_max", 1000, 1, 10000, "B3")
)

// Names the part declares.
const (
	jobUsageRetention    = "billing.usage_retention"
	jobForwardMessages   = "billing.forward_messages"
	tmplMessageForwarded = "billing.message_forwarded"
	// optionTransmission is the code of the option "message forwarding" (B2): a subscription
	// that has it gets each message the secretariat took by e-mail.
	optionTransmission = "TRANSMISSION"
	// usageMaxBody caps an API call's body (1000 events are far below it).
	usageMaxBody = 4 << 20
)

// Per-event answers of the APIs.
const (
	usageAccepted  = "accepted"
	usageDuplicate = "duplicate"
	usageRefused   = "refused"
)

func (m *Module) usagePart() part {
	return part{
		Routes: []kit.Route{
			kit.API("POST /billing/api/usage", permUsage, m.apiUsage),
			kit.API("POST /billing/api/messages", permUsage, m.apiMessages).Multiline("messages.*.text"),
			kit.API("GET /billing/api/hours", permUsage, m.apiHours),
			kit.Perm("GET /billing/usage", permOwn, m.usagePage),
			kit.Perm("GET /billing/messages", permOwn, m.messagesPage),
			kit.Perm("GET /billing/manage/subscriptions/{id}/usage", permManage, m.manageUsagePage),
		},
		Rules: []kit.Rule{usageClockSkewMinutes, usageBatchMax},
		Jobs: []kit.Job{{Name: jobUsageRetention, Cron: "23 2 * * *", Run: m.usageRetentionJob},
			{Name: jobForwardMessages, Cron: "*/10 * * * *", Run: m.forwardJob}},
		Notifications: []string{tmplMessageForwarded},
		Funcs: template.FuncMap{"usagePhone": formatPhone, "textLines": textLines,
			"usageTel": func(e164 string) string { return strings.ReplaceAll(formatPhone(e164), " ", "\u00a0") }},
		Forget: m.usageForget,
		Export: m.usageExport,
	}
}

// usageE164 reads a phone number written in any usual notation ("01 45 67 89 01",
// "+33 1 45 67 89 01", "0033145678901") as E.164, in the tenant's country by default.
func usageE164(raw, country string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 40 {
		return "", false
	}
	return normalisePhone(raw, country)
}

// apiResult is the answer about one event or message of a call.
type apiResult struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Forwarded: a message was sent on to the client by e-mail (messages only).
	Forwarded *bool `json:"forwarded,omitempty"`
}

// apiReply is what the usage and messages APIs answer: one result per item, in order, and
// the counts.
type apiReply struct {
	Results    []apiResult `json:"results"`
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Refused    int         `json:"refused"`
}

func (r *apiReply) add(res apiResult) {
	switch res.Status {
	case usageAccepted:
		r.Accepted++
	case usageDuplicate:
		r.Duplicates++
	default:
		r.Refused++
	}
	r.Results = append(r.Results, res)
}

// apiGate refuses a call without an API key (401) or with a body too large (413); it
// answers true when it answered.
func apiGate(c *kit.Ctx) (bool, error) {
	if c.Req.ClientID == "" {
		return true, c.JSON(http.StatusUnauthorized, kit.APIError{Error: "unauthorized", Message: c.T("error.api.key_missing"), Fields: map[string]string{}})
	}
	if len(c.Req.Body) > usageMaxBody {
		return true, c.JSON(http.StatusRequestEntityTooLarge, kit.APIError{Error: "too_large", Message: c.T("error.too_large.text"), Fields: map[string]string{}})
	}
	return false, nil
}

// refusal is a refused item's answer: a stable reason and its sentence in the tenant's
// language.
func refusal(c *kit.Ctx, id, reason string) apiResult {
	return apiResult{ID: id, Status: usageRefused, Reason: reason, Message: c.T("billing.usage.refused." + reason)}
}

// usageEventIn is one event as the telephony platform sends it.
type usageEventIn struct {
	ID           string `json:"id"`
	Number       string `json:"number"`
	Kind         string `json:"kind"`
	At           string `json:"at"`
	DurationS    int64  `json:"duration_s"`
	RecordingRef string `json:"recording_ref"`
}

// apiUsage records the calls and SMS of a batch (B3): each is matched by its dedicated
// number to the subscription that was live on its day, and counted once by the platform's
// id — the same id again (in this batch, a later one, or a concurrent one) is a duplicate.
func (m *Module) apiUsage(c *kit.Ctx) error {
	if done, err := apiGate(c); done {
		return err
	}
	var in struct {
		Events *[]usageEventIn `json:"events"`
	}
	if err := c.DecodeJSON(&in); err != nil {
		return err
	}
	t := c.Tenant()
	switch {
	case in.Events == nil:
		return kit.FieldErrors{"events": "billing.usage.api.events_missing"}
	case int64(len(*in.Events)) > usageBatchMax.Of(t):
		return kit.FieldErrors{"events": "billing.usage.api.too_many"}
	}
	now := m.now()
	reply := apiReply{Results: []apiResult{}}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		reply = apiReply{Results: []apiResult{}}
		match, tl := usageMatcher(ctx, sc, t), tally{}
		for _, e := range *in.Events {
			res, err := m.recordUsage(ctx, c, sc, t, match, tl, now, e)
			if err != nil {
				return err
			}
			reply.add(res)
		}
		return tl.save(ctx, sc)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reply)
}

// recordUsage checks and stores one event, and adds it to tl when it was not stored before.
func (m *Module) recordUsage(ctx context.Context, c *kit.Ctx, sc *store.Scope, t sdk.Tenant, match func(string, time.Time) (*Subscription, string, error), tl tally, now time.Time, e usageEventIn) (apiResult, error) {
	id := strings.TrimSpace(e.ID)
	if id == "" || len(id) > 128 {
		return refusal(c, id, "bad_id"), nil
	}
	if e.Kind != usageCall && e.Kind != usageSMS {
		return refusal(c, id, "bad_kind"), nil
	}
	at, reason := usageTime(e.At, now, t)
	if reason != "" {
		return refusal(c, id, reason), nil
	}
	if e.DurationS < 0 || e.DurationS > 86400 {
		return refusal(c, id, "bad_duration"), nil
	}
	if len(e.RecordingRef) > 500 {
		return refusal(c, id, "bad_recording"), nil
	}
	sub, reason, err := match(e.Number, at)
	if err != nil || reason != "" {
		return refusal(c, id, reason), err
	}
	u := &Usage{TenantID: t.ID, EventID: id, SubscriptionID: sub.ID, Kind: e.Kind, OccurredAt: at, DurationS: int(e.DurationS),
		RecordingRef: strings.TrimSpace(e.RecordingRef), ReceivedAt: now, Counted: true}
	res, err := sc.Insert(u).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return apiResult{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return apiResult{}, err
	} else if n == 0 {
		return apiResult{ID: id, Status: usageDuplicate}, nil
	}
	tl.add(sub, u, zone(t))
	return apiResult{ID: id, Status: usageAccepted}, nil
}

// usageTime reads an event's RFC 3339 time (to the second, in UTC); one beyond the clock's
// allowed skew is refused.
func usageTime(s string, now time.Time, t sdk.Tenant) (time.Time, string) {
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil || at.Year() < 2000 {
		return time.Time{}, "bad_time"
	}
	at = at.UTC().Truncate(time.Second)
	if at.After(now.Add(time.Duration(usageClockSkewMinutes.Of(t)) * time.Minute)) {
		return time.Time{}, "future_time"
	}
	return at, ""
}

// usageMatcher returns what finds the subscription a dedicated number belonged to at an
// instant: the one whose contract covered that day in the tenant's zone (started on or
// before it, not ended), pending subscriptions aside. It answers a refusal's reason when
// there is none: a number that is no number, a number no subscription has, or a day outside
// its contract. It remembers the numbers it looked up.
func usageMatcher(ctx context.Context, sc *store.Scope, t sdk.Tenant) func(number string, at time.Time) (*Subscription, string, error) {
	seen := map[string][]Subscription{}
	loc := zone(t)
	return func(number string, at time.Time) (*Subscription, string, error) {
		e164, ok := usageE164(number, t.Country)
		if !ok {
			return nil, "bad_number", nil
		}
		subs, ok := seen[e164]
		if !ok {
			if err := sc.Select(&subs).Where("sub.phone_number = ?", e164).Where("sub.state IN (?)", bun.In([]string{subActive, subSuspended, subTerminated})).
				OrderExpr("sub.starts_on DESC").Scan(ctx); err != nil {
				return nil, "", err
			}
			seen[e164] = subs
		}
		if len(subs) == 0 {
			return nil, "unknown_number", nil
		}
		day := DateOf(at, loc)
		for i := range subs {
			s := &subs[i]
			if !s.StartsOn.IsZero() && !day.Before(s.StartsOn) && (s.EndsOn.IsZero() || day.Before(s.EndsOn)) {
				return s, "", nil
			}
		}
		return nil, "out_of_contract", nil
	}
}

// apiHours gives the telephony platform a number's answering hours (B2) as service data:
// the weekly spans in the tenant's zone, and whether the secretariat answers now (not
// while the subscription is suspended).
func (m *Module) apiHours(c *kit.Ctx) error {
	if done, err := apiGate(c); done {
		return err
	}
	t := c.Tenant()
	raw := c.Query("number")
	if strings.TrimSpace(raw) == "" {
		return kit.FieldErrors{"number": "billing.usage.api.number_missing"}
	}
	e164, ok := usageE164(raw, t.Country)
	if !ok {
		return kit.FieldErrors{"number": "billing.usage.refused.bad_number"}
	}
	now := m.now()
	var sub *Subscription
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		s, reason, err := usageMatcher(ctx, sc, t)(e164, now)
		if reason == "" && err == nil {
			sub = s
		}
		return err
	})
	if err != nil {
		return err
	}
	if sub == nil || sub.State == subTerminated {
		return kit.ErrNotFound
	}
	h, err := parseHours(c.Tenant(), sub.Hours)
	if err != nil {
		return err
	}
	days := h.Days
	if days == nil {
		days = []HoursDay{}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"number": e164, "time_zone": zone(t).String(), "profile": h.Profile, "days": days,
		"suspended": sub.State == subSuspended, "answers_now": sub.State == subActive && h.Answers(now, zone(t)),
	})
}

// textLines cuts a text a person wrote on several lines (a message, a specification, an
// amendment) into its lines, for a template to show them with <br> between them: the pages
// carry no inline style (html-validate), and a line break must survive.
func textLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}
