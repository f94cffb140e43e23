package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
)

// fakeClock is the service's clock and sleep: a wait advances the clock, and is recorded.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	return nil
}
func (f *fakeClock) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }
func (f *fakeClock) last() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waits[len(f.waits)-1]
}

// TestLoginThrottleWithoutLockout: issue 11.5, P2. An attacker failing from one address is
// refused for that account once he reached the tenant's number — even with the right
// password — until his window ends; each failure makes the account's next attempt wait longer
// (the tenant's first delay, doubled, up to its cap), but the owner with the right password
// from another address still gets in, and from an address he signed in from before he does
// not wait at all. The clock is the test's: no real waiting.
func TestLoginThrottleWithoutLockout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		clock := &fakeClock{now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
		s.Now, s.Sleep = clock.Now, clock.Sleep
		if _, err := s.CreateActive(ctx, tn, "owner@example.org", "the owner's password", "Owner", "1980-01-01", "fr"); err != nil {
			t.Fatal(err)
		}
		const attacker, owner, elsewhere = "203.0.113.7", "198.51.100.20", "192.0.2.55"
		login := func(ip, pw string) error {
			_, err := s.Login(ctx, tn, "owner@example.org", pw, ip, "test")
			return err
		}
		// Defaults: 5 failures per address, 1 s doubled, at most 20 s.
		want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
		for i, w := range want {
			if err := login(attacker, "guess"); !errors.Is(err, accounts.ErrBadCredentials) {
				t.Fatalf("guess %d: %v", i+1, err)
			}
			if got := clock.last(); got != w {
				t.Fatalf("guess %d waited %s, want %s", i+1, got, w)
			}
		}
		// The attacker's address is refused for this account, even with the right password.
		var th *accounts.ThrottledError
		if err := login(attacker, "the owner's password"); !errors.As(err, &th) {
			t.Fatalf("6th attempt from the attacker's address: %v", err)
		}
		if th.RetryAfter <= 14*time.Minute || th.RetryAfter > 15*time.Minute {
			t.Fatalf("retry after %s, want the rest of the 15-minute window", th.RetryAfter)
		}
		// The owner, from his own address: he waits the account's delay (16 s after 5
		// failures), then gets in.
		if err := login(owner, "the owner's password"); err != nil {
			t.Fatalf("the owner was locked out: %v", err)
		}
		if got := clock.last(); got != 16*time.Second {
			t.Fatalf("the owner waited %s, want 16s", got)
		}
		// The attacker's address stays refused until its window ends…
		clock.advance(10 * time.Minute)
		if err := login(attacker, "the owner's password"); !errors.As(err, &th) {
			t.Fatalf("attacker within the window: %v", err)
		}
		// …then may try again.
		clock.advance(6 * time.Minute)
		if err := login(attacker, "wrong again"); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Fatalf("attacker after the window: %v", err)
		}

		// Failures from many addresses: the delay grows and stops at the cap.
		clock.advance(time.Hour)
		for i, w := range []time.Duration{0, 1, 2, 4, 8, 16, 20, 20} {
			if err := login("10.0.0."+string(rune('1'+i)), "guess"); !errors.Is(err, accounts.ErrBadCredentials) {
				t.Fatal(err)
			}
			if got := clock.last(); got != w*time.Second {
				t.Fatalf("failure %d from a new address waited %s, want %ds", i+1, got, w)
			}
		}
		// The owner's address, which signed in before, does not wait; another one does.
		if err := login(owner, "the owner's password"); err != nil || clock.last() != 0 {
			t.Fatalf("owner from a known address: %v, waited %s", err, clock.last())
		}
		login("10.0.1.1", "guess")
		if err := login(elsewhere, "the owner's password"); err != nil || clock.last() != time.Second {
			t.Fatalf("owner from a new address after one failure: %v, waited %s", err, clock.last())
		}

		// The numbers are the tenant's rules.
		clock.advance(time.Hour)
		tn.Settings.Rules = map[string]any{accounts.RuleLoginDelaySeconds: int64(3), accounts.RuleLoginFailuresPerAddress: int64(2)}
		login("10.0.2.1", "guess")
		login("10.0.2.1", "guess")
		if clock.last() != 3*time.Second {
			t.Fatalf("the tenant's first delay of 3 s: waited %s", clock.last())
		}
		if err := login("10.0.2.1", "guess"); !errors.As(err, &th) {
			t.Fatalf("3rd failure with the tenant's rule of 2: %v", err)
		}
	})
}

// TestLoginThrottleHoldsUnderConcurrency: issue 11.5, P2. Twenty attempts at once from one
// address: exactly the tenant's number of them is evaluated, the others are refused — the
// count is held by the database, not by the instance.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		s.Sleep = func(context.Context, time.Duration) error { return nil }
		if _, err := s.CreateActive(ctx, tn, "owner@example.org", "the owner's password", "Owner", "1980-01-01", "fr"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		evaluated, refused := 0, 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Login(ctx, tn, "owner@example.org", "guess", "203.0.113.7", "test")
				var th *accounts.ThrottledError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, accounts.ErrBadCredentials):
					evaluated++
				case errors.As(err, &th):
					refused++
				default:
					t.Errorf("attempt: %v", err)
				}
			}()
		}
		wg.Wait()
		if evaluated != 5 || refused != 15 {
			t.Fatalf("%d evaluated, %d refused; want 5 and 15", evaluated, refused)
		}
	})
}
