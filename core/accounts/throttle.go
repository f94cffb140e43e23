package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
)

// Sign-in throttling (P2): guessing passwords is slowed down without ever locking the owner
// out. Two counters, both in the database (every instance sees them) and both changed by
// guarded statements (concurrent attempts are all counted):
//
//   - per account and address: once an address has failed the tenant's number of times for
//     an account within the window, that address is refused for that account until the
//     window ends. Every attempt is counted before it is evaluated (a success clears the
//     count), so concurrent attempts cannot slip past the number.
//   - per account, from anywhere: each failure makes the next attempt wait longer before it
//     is evaluated (the tenant's first delay, doubled with each failure, up to its cap). The
//     attempt waits, it is not refused: the owner, from another address, still gets in. An
//     address that has signed into the account before does not wait.
//
// The numbers are the tenant's rules.
const (
	RuleLoginFailuresPerAddress = "security.login_failures_per_address"
	RuleLoginDelaySeconds       = "security.login_delay_seconds"
	RuleLoginDelayMaxSeconds    = "security.login_delay_max_seconds"
	ruleRateWindowMinutes       = "security.rate_window_minutes"
)

// ThrottledError refuses a sign-in from an address that failed too often for the account;
// RetryAfter is the time left until its window ends.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("accounts: too many failed sign-ins from this address, retry after %s", e.RetryAfter)
}

// throttleRow is a counter of login_throttles (for reading; changes are guarded statements).
type throttleRow struct {
	Failures    int64 `bun:"failures"`
	WindowStart int64 `bun:"window_start"`
	LastFailure int64 `bun:"last_failure"`
	Succeeded   int64 `bun:"succeeded"`
}

// ThrottleAccount is the name the sign-in throttle gives an account: a hash of its e-mail.
func ThrottleAccount(email string) string {
	account, _ := throttleKeys(email, "")
	return account
}

// EraseThrottles removes what the sign-in throttle keeps of an account, every address's row
// with it, when the person is erased (P11).
func EraseThrottles(ctx context.Context, sc *db.Scope, email string) error {
	_, err := sc.Tx.NewDelete().Table("login_throttles").Where("tenant_id = ? AND account = ?", sc.TenantID, ThrottleAccount(email)).Exec(ctx)
	return err
}

// throttleKeys name an account and an address by hashes: the table holds neither.
func throttleKeys(email, ip string) (account, addr string) {
	if ip == "" {
		ip = "-"
	}
	return HashToken("account:" + strings.ToLower(strings.TrimSpace(email)))[:32], HashToken("ip:" + ip)[:32]
}

// loginDelay is the wait before an attempt on an account that failed failures times in a
// row: first, then doubled each time, never more than max.
func loginDelay(failures int64, first, max time.Duration) time.Duration {
	if failures <= 0 || first <= 0 {
		return 0
	}
	d := first
	for i := int64(1); i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

func throttleWindow(t *tenancy.Tenant) time.Duration {
	return time.Duration(t.IntRule(ruleRateWindowMinutes)) * time.Minute
}

// gate counts a sign-in attempt on account from addr and says how long it must wait before
// it is evaluated, or refuses it with a ThrottledError.
func (s *Service) gate(ctx context.Context, t *tenancy.Tenant, account, addr string) (time.Duration, error) {
	now := s.Now()
	window := throttleWindow(t)
	nowMS, cutoff := now.UnixMilli(), now.Add(-window).UnixMilli()
	var mine, acc throttleRow
	err := s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		// The attempt counts as a failure of the address until it succeeds: a guarded
		// increment, so that concurrent attempts cannot pass the rule together.
		err := sc.Tx.NewRaw(`INSERT INTO login_throttles (tenant_id, account, ip, failures, window_start) VALUES (?, ?, ?, 1, ?)
ON CONFLICT (tenant_id, account, ip) DO UPDATE SET
 failures = CASE WHEN login_throttles.window_start <= ? THEN 1 ELSE login_throttles.failures + 1 END,
 window_start = CASE WHEN login_throttles.window_start <= ? THEN ? ELSE login_throttles.window_start END
RETURNING failures, window_start, last_failure, succeeded`, sc.TenantID, account, addr, nowMS, cutoff, cutoff, nowMS).Scan(ctx, &mine)
		if err != nil {
			return err
		}
		err = sc.Tx.NewRaw(`SELECT failures, window_start, last_failure, succeeded FROM login_throttles
WHERE tenant_id = ? AND account = ? AND ip = ''`, sc.TenantID, account).Scan(ctx, &acc)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	if mine.Failures > t.IntRule(RuleLoginFailuresPerAddress) {
		return 0, &ThrottledError{RetryAfter: time.UnixMilli(mine.WindowStart).Add(window).Sub(now)}
	}
	if mine.Succeeded > 0 || acc.LastFailure <= cutoff {
		// An address the owner signed in from, or failures older than the window.
		return 0, nil
	}
	max := time.Duration(t.IntRule(RuleLoginDelayMaxSeconds)) * time.Second
	wait := time.UnixMilli(acc.LastFailure).Add(loginDelay(acc.Failures, time.Duration(t.IntRule(RuleLoginDelaySeconds))*time.Second, max)).Sub(now)
	if wait < 0 {
		wait = 0
	}
	if wait > max {
		wait = max
	}
	return wait, nil
}

// failed records a failed attempt on the account: the next one waits longer.
func (s *Service) failed(ctx context.Context, t *tenancy.Tenant, account string) error {
	now := s.Now()
	nowMS, cutoff := now.UnixMilli(), now.Add(-throttleWindow(t)).UnixMilli()
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.NewRaw(`INSERT INTO login_throttles (tenant_id, account, ip, failures, last_failure) VALUES (?, ?, '', 1, ?)
ON CONFLICT (tenant_id, account, ip) DO UPDATE SET
 failures = CASE WHEN login_throttles.last_failure <= ? THEN 1 ELSE login_throttles.failures + 1 END,
 last_failure = ?`, sc.TenantID, account, nowMS, cutoff, nowMS).Exec(ctx)
		return err
	})
}

// succeeded clears the account's failures and its address's, and remembers the address.
func (s *Service) succeeded(ctx context.Context, t *tenancy.Tenant, account, addr string) error {
	nowMS := s.Now().UnixMilli()
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.NewRaw(`UPDATE login_throttles SET failures = 0,
 succeeded = CASE WHEN ip = '' THEN succeeded ELSE ? END
WHERE tenant_id = ? AND account = ? AND ip IN ('', ?)`, nowMS, sc.TenantID, account, addr).Exec(ctx)
		return err
	})
}

// SweepThrottles forgets the counters that no longer count: windows and failures older than
// a day, and addresses that have not signed in for the tenant's session lifetime.
func (s *Service) SweepThrottles(ctx context.Context, t *tenancy.Tenant) error {
	now := s.Now()
	stale := now.Add(-throttleWindow(t) - 24*time.Hour).UnixMilli()
	known := now.Add(-time.Duration(t.IntRule("account.session_days")) * 24 * time.Hour).UnixMilli()
	return s.DB.InTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Tx.NewRaw(`DELETE FROM login_throttles WHERE tenant_id = ? AND window_start < ? AND last_failure < ? AND succeeded < ?`,
			sc.TenantID, stale, stale, known).Exec(ctx)
		return err
	})
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
