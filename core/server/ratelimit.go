package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/db"
)

// hit counts one attempt in a fixed window and returns the count so far. The counter lives
// in the shared database, so every core instance enforces the same limit; the upsert makes
// concurrent hits count exactly.
func (s *Server) hit(ctx context.Context, tenantID, bucket string, window time.Duration) (int, error) {
	start := time.Now().UTC().Truncate(window).Unix()
	var n int
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Tx.NewRaw(`INSERT INTO rate_limits (tenant_id, bucket, window_start, hits) VALUES (?, ?, ?, 1)
ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits`,
			sc.TenantID, bucket, start).Scan(ctx, &n)
	})
	return n, err
}

// overLimit counts an attempt for bucket and reports whether it exceeds the tenant's rule.
func (s *Server) overLimit(c *fiber.Ctx, bucket, rule string) (bool, error) {
	t := St(c).Tenant
	window := time.Duration(t.IntRule("security.rate_window_minutes")) * time.Minute
	n, err := s.hit(c.UserContext(), t.ID, bucket, window)
	if err != nil {
		return false, err
	}
	return int64(n) > t.IntRule(rule), nil
}

// unhit takes back the attempt overLimit counted for bucket when it succeeded: a limit on
// codes is used up by wrong ones only, so that a person who types correct codes is never
// held. The attempt was counted first, so racing wrong attempts still meet the limit.
func (s *Server) unhit(c *fiber.Ctx, bucket string) error {
	t := St(c).Tenant
	window := time.Duration(t.IntRule("security.rate_window_minutes")) * time.Minute
	start := time.Now().UTC().Truncate(window).Unix()
	return s.DB.InTenant(c.UserContext(), t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.NewRaw(`UPDATE rate_limits SET hits = hits - 1 WHERE tenant_id = ? AND bucket = ? AND window_start = ? AND hits > 0`,
			sc.TenantID, bucket, start).Exec(ctx)
		return err
	})
}

// limitByIP refuses a state-changing request once the client's address has used up the
// tenant's rule in the current window.
func (s *Server) limitByIP(name, rule string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Method() == fiber.MethodGet {
			return c.Next()
		}
		over, err := s.overLimit(c, name+":ip:"+c.IP(), rule)
		if err != nil {
			return err
		}
		if over {
			c.Set("Retry-After", "60")
			return fiber.ErrTooManyRequests
		}
		return c.Next()
	}
}

// SweepRateLimits forgets windows older than a day, and the sign-in throttle's counters
// that no longer count.
func (s *Server) SweepRateLimits(ctx context.Context, tenantID string) error {
	cutoff := time.Now().Add(-24 * time.Hour).Unix()
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.NewRaw("DELETE FROM rate_limits WHERE tenant_id = ? AND window_start < ?", sc.TenantID, cutoff).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	t, err := s.Tenants.ByID(ctx, tenantID)
	if err != nil {
		return err
	}
	return s.Accounts.SweepThrottles(ctx, t)
}
