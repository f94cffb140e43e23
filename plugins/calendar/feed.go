package calendar

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/calendar/ics"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// The doctor's agenda as an iCalendar feed his calendar program subscribes to (issue
// 13.6): behind a secret URL of his account, which he can replace (the old one then finds
// nothing), with his live visits from feedDaysBack days back to feedDaysAhead ahead, each
// named by its service and its patient's name only, within a budget of requests per hour.
var (
	feedDaysBack        = kit.Int("calendar.feed_days_back", 30, 0, 365, "C9")
	feedDaysAhead       = kit.Int("calendar.feed_days_ahead", 180, 1, 730, "C9")
	feedRequestsPerHour = kit.Int("calendar.feed_requests_per_hour", 60, 1, 3600, "C9")
)

// Feed is a doctor account's agenda feed: only its token's hash is kept.
type Feed struct {
	bun.BaseModel `bun:"table:calendar_feeds,alias:fd"`

	TenantID  string    `bun:"tenant_id,pk"`
	UserID    string    `bun:"user_id,pk"`
	TokenHash string    `bun:"token_hash"`
	CreatedAt time.Time `bun:"created_at"`
}

// feedPage says whether the doctor has a feed, since when, and offers to make a new
// address (the first, or one replacing the old).
func (m *Module) feedPage(c *kit.Ctx) error {
	var fs []Feed
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&fs).Where("fd.user_id = ?", c.User().ID).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("calendar.feed.title")
	if len(fs) == 1 {
		v.Data["Since"] = fs[0].CreatedAt
	}
	return c.Render(http.StatusOK, "feed", v)
}

// rotateFeed makes a new secret address for the doctor's feed, replacing the old one in
// one upsert, and shows it once (only its hash is kept).
func (m *Module) rotateFeed(c *kit.Ctx) error {
	if n, err := m.ownDoctors(c); err != nil {
		return err
	} else if n == 0 {
		return kit.ErrNotFound
	}
	token, hash := newToken()
	now := m.now()
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&Feed{TenantID: sc.TenantID, UserID: c.User().ID, TokenHash: hash, CreatedAt: now}).
			On("CONFLICT (tenant_id, user_id) DO UPDATE").Set("token_hash = EXCLUDED.token_hash").Set("created_at = EXCLUDED.created_at").Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	v := c.View("calendar.feed.title")
	v.Data["Since"], v.Data["Path"] = now, "/calendar/feed/"+token+"/agenda.ics"
	v.Flash = v.T("calendar.flash.feed_rotated")
	return c.Render(http.StatusOK, "feed", v)
}

// ownDoctors counts the doctors the signed-in account is.
func (m *Module) ownDoctors(c *kit.Ctx) (int64, error) {
	var n int64
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		n, err = sc.Select((*Doctor)(nil)).Where("dr.user_id = ?", c.User().ID).Count(ctx)
		return err
	})
	return n, err
}

// feed answers the agenda feed of a secret address: the live visits of the doctors its
// account is, from the tenant's days back to its days ahead. An unknown (or replaced)
// address is not found; beyond the hour's budget of the address or the client, 429.
func (m *Module) feed(c *kit.Ctx) error {
	token := c.Param("token")
	if len(token) > 100 {
		return kit.ErrNotFound
	}
	hash := hashToken(token)
	t := c.Tenant()
	var f Feed
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&f).Where("fd.token_hash = ?", hash).Scan(ctx)
	})
	if errors.Is(err, sqlNoRows) {
		return kit.ErrNotFound
	} else if err != nil {
		return err
	}
	if err := m.feedHit(c.Context(), t, hash, c.Req.RemoteIP); errors.Is(err, errLimited) {
		c.W.Header().Set("Retry-After", "3600")
		c.W.WriteHeader(http.StatusTooManyRequests)
		return nil
	} else if err != nil {
		return err
	}
	now := m.now()
	from, to := now.AddDate(0, 0, -int(feedDaysBack.Of(t))), now.AddDate(0, 0, int(feedDaysAhead.Of(t)))
	var events []ics.Event
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		var bs []Booking
		if err := sc.Select(&bs).Where("bk.doctor_id IN (SELECT dr.id FROM calendar_doctors AS dr WHERE dr.tenant_id = ? AND dr.user_id = ?)", sc.TenantID, f.UserID).
			Where("bk.status IN (?)", bunIn(liveStatuses)).Where("bk.starts_at >= ? AND bk.starts_at < ?", from, to).
			Order("bk.starts_at").Limit(5000).Scan(ctx); err != nil {
			return err
		}
		var fs []Facility
		if err := sc.Select(&fs).Scan(ctx); err != nil { // a tenant's facilities are few
			return err
		}
		loc := c.Loc()
		for _, b := range bs {
			e := ics.Event{UID: b.ID + "@calendar." + t.Slug, Start: b.StartsAt, End: b.EndsAt, Zone: tenantZone(t), Status: ics.Confirmed,
				Summary: loc.T("calendar.feed.summary", "Service", b.ServiceName, "Patient", b.PatientFirstName+" "+b.PatientLastName)}
			if b.Status == statusAwaiting || b.Status == statusHeld {
				e.Status = ics.Tentative
			}
			for _, fa := range fs {
				if fa.ID == b.FacilityID {
					e.Location = fa.Name
				}
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	data, err := feedCalendar(events)
	if err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	c.W.Header().Set("Cache-Control", "private, no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(data)
	return err
}

// feedCalendar is the feed's file; an agenda without visits is a calendar without events.
func feedCalendar(events []ics.Event) ([]byte, error) {
	if len(events) > 0 {
		return ics.Calendar(prodID, ics.Publish, events...)
	}
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:" + prodID + "\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"), nil
}

// feedHit counts one request of the feed's address and of the client in the current hour,
// as the directory's budget does (a database upsert), and refuses it beyond the tenant's
// budget.
func (m *Module) feedHit(ctx context.Context, t sdk.Tenant, hash, ip string) error {
	limit := feedRequestsPerHour.Of(t)
	return m.spend(ctx, t, time.Hour, map[string]int64{"feed:" + hash[:32]: limit, "feedip:" + ip: limit})
}
