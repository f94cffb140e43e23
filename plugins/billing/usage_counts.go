package billing

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Usage counters (B3, B5). Each event is added to its subscription's period counter in the
// transaction that stores it, and only when it was stored (a duplicate id counts once), so
// that a billing run reads a row per subscription and kind instead of the period's events.
// Events stored before the counters existed (Counted false) are counted from the events.

// tallyKey is a counter: a subscription's calls or SMS in the period starting on period.
type tallyKey struct {
	sub    string
	period Date
	kind   string
}

// tally is what stored events add to their counters, saved once per transaction.
type tally map[tallyKey]int64

// add counts u, stored for sub, in the period its day (in the tenant's zone loc) falls in.
func (tl tally) add(sub *Subscription, u *Usage, loc *time.Location) {
	if first, ok := eventPeriod(sub, u.OccurredAt, loc); ok {
		tl[tallyKey{sub.ID, first, u.Kind}]++
	}
}

// eventPeriod is the first day of sub's period that an event at instant at falls in, by its
// day in loc; none for a day before the contract began (the API refuses such an event).
func eventPeriod(sub *Subscription, at time.Time, loc *time.Location) (Date, bool) {
	day := DateOf(at, loc)
	if sub.StartsOn.IsZero() || day.Before(sub.StartsOn) {
		return Date{}, false
	}
	_, first, _ := periodAt(sub.StartsOn, day)
	return first, true
}

// tallyRows is how many counters one statement adds to (five parameters each).
const tallyRows = 1000

// save adds the tally to the counters in the caller's transaction, in one statement per
// thousand counters, in key order (two transactions adding to the same counters take their
// rows in the same order, so neither waits for the other while holding what it waits for).
func (tl tally) save(ctx context.Context, sc *store.Scope) error {
	keys := make([]tallyKey, 0, len(tl))
	for k, n := range tl {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.sub != b.sub {
			return a.sub < b.sub
		}
		if c := a.period.Compare(b.period); c != 0 {
			return c < 0
		}
		return a.kind < b.kind
	})
	for lo := 0; lo < len(keys); lo += tallyRows {
		part := keys[lo:min(lo+tallyRows, len(keys))]
		var q strings.Builder
		args := make([]any, 0, 5*len(part))
		q.WriteString("INSERT INTO billing_usage_counts (tenant_id, subscription_id, period_start, kind, n) VALUES ")
		for i, k := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, sc.TenantID, k.sub, k.period.String(), k.kind, tl[k])
		}
		q.WriteString(" ON CONFLICT (tenant_id, subscription_id, period_start, kind) DO UPDATE SET n = billing_usage_counts.n + excluded.n")
		if _, err := sc.Tx.NewRaw(q.String(), args...).Exec(ctx); err != nil {
			return fmt.Errorf("usage counters: %w", err)
		}
	}
	return nil
}

// storeNewUsage stores events whose ids are new (the demo's month, a fixture) and counts
// them, in the caller's transaction; subs holds their subscriptions by id. An id stored before
// fails the transaction.
func storeNewUsage(ctx context.Context, sc *store.Scope, t sdk.Tenant, subs map[string]*Subscription, events []Usage) error {
	tl, loc := tally{}, zone(t)
	for i := range events {
		sub := subs[events[i].SubscriptionID]
		if sub == nil {
			return fmt.Errorf("usage: event %s names no known subscription", events[i].EventID)
		}
		events[i].Counted = true
		tl.add(sub, &events[i], loc)
	}
	for lo := 0; lo < len(events); lo += 2000 {
		part := events[lo:min(lo+2000, len(events))]
		if _, err := sc.Insert(&part).Exec(ctx); err != nil {
			return err
		}
	}
	return tl.save(ctx, sc)
}

// periodUsage gives, for each of subs, its calls and SMS ([0] and [1]) in each of its periods
// that starts from first to last (both included): its counters, plus its events stored before
// the counters existed. Three statements at most, whatever the number of subscriptions and
// periods.
func periodUsage(ctx context.Context, sc *store.Scope, t sdk.Tenant, subs []*Subscription, first, last Date) (map[string]map[Date][2]int64, error) {
	out := make(map[string]map[Date][2]int64, len(subs))
	if len(subs) == 0 {
		return out, nil
	}
	byID := make(map[string]*Subscription, len(subs))
	ids := make([]string, len(subs))
	for i, s := range subs {
		byID[s.ID], ids[i] = s, s.ID
	}
	put := func(sub string, period Date, kind string, n int64) {
		per := out[sub]
		if per == nil {
			per = map[Date][2]int64{}
			out[sub] = per
		}
		c := per[period]
		switch kind {
		case usageCall:
			c[0] += n
		case usageSMS:
			c[1] += n
		}
		per[period] = c
	}
	var counts []UsageCount
	if err := countersQuery(sc, ids, first, last).Scan(ctx, &counts); err != nil {
		return nil, err
	}
	for _, c := range counts {
		put(c.SubscriptionID, c.PeriodStart, c.Kind, c.N)
	}
	// Events in no counter, if the tenant has any left; a period starting on last ends before
	// its start plus a month and a few days.
	var left []string
	if err := sc.Select((*Usage)(nil)).Column("use.event_id").Where("NOT use.counted").Limit(1).Scan(ctx, &left); err != nil || len(left) == 0 {
		return out, err
	}
	loc := zone(t)
	var old []Usage
	if err := uncountedQuery(sc, ids, first.In(loc).UTC(), last.AddDays(35).In(loc).UTC()).Scan(ctx, &old); err != nil {
		return nil, err
	}
	for _, u := range old {
		if period, ok := eventPeriod(byID[u.SubscriptionID], u.OccurredAt, loc); ok && !period.Before(first) && !period.After(last) {
			put(u.SubscriptionID, period, u.Kind, 1)
		}
	}
	return out, nil
}

// countersQuery reads the counters of subscriptions ids for the periods starting from first
// to last, by their primary key.
func countersQuery(sc *store.Scope, ids []string, first, last Date) *bun.SelectQuery {
	return sc.Select((*UsageCount)(nil)).Column("ucount.subscription_id", "ucount.period_start", "ucount.kind", "ucount.n").
		Where("ucount.subscription_id IN (?) AND ucount.period_start >= ? AND ucount.period_start <= ?", bun.In(ids), first.String(), last.String())
}

// uncountedQuery reads the events in no counter, from the index that holds them alone.
func uncountedQuery(sc *store.Scope, ids []string, from, to time.Time) *bun.SelectQuery {
	return sc.Select((*Usage)(nil)).Column("use.subscription_id", "use.kind", "use.occurred_at").
		Where("NOT use.counted").Where("use.subscription_id IN (?) AND use.occurred_at >= ? AND use.occurred_at < ?", bun.In(ids), from, to)
}

// usageCounts counts sub's calls and SMS whose local day in the tenant's zone lies between
// first and last, both included (B3, B5): the invoices part bills what is beyond the plan's
// allowance with it. A whole period is read from its counters; a part of one (the last days
// of a contract) from the events.
func (m *Module) usageCounts(ctx context.Context, sc *store.Scope, t sdk.Tenant, sub *Subscription, first, last Date) (calls, sms int64, err error) {
	if !first.Before(sub.StartsOn) {
		if _, pf, pl := periodAt(sub.StartsOn, first); pf == first && pl == last {
			got, err := periodUsage(ctx, sc, t, []*Subscription{sub}, first, first)
			c := got[sub.ID][first]
			return c[0], c[1], err
		}
	}
	var rows []struct {
		Kind string `bun:"kind"`
		N    int64  `bun:"n"`
	}
	from, to := first.In(zone(t)).UTC(), last.AddDays(1).In(zone(t)).UTC()
	if err := usageBetweenQuery(sc, sub.ID, from, to).Scan(ctx, &rows); err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		switch r.Kind {
		case usageCall:
			calls = r.N
		case usageSMS:
			sms = r.N
		}
	}
	return calls, sms, nil
}

// usageBetweenQuery counts a subscription's events in a span of time: the covering index
// billing_usage_period (tenant, subscription, time, kind) answers it without reading the table.
func usageBetweenQuery(sc *store.Scope, subID string, from, to time.Time) *bun.SelectQuery {
	return sc.Select((*Usage)(nil)).Column("use.kind").ColumnExpr("COUNT(*) AS n").
		Where("use.subscription_id = ? AND use.occurred_at >= ? AND use.occurred_at < ?", subID, from, to).
		Group("use.kind")
}
