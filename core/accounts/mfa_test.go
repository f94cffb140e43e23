package accounts_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withTOTP gives a new active account a confirmed TOTP secret and returns it with its
// recovery codes; now is the service's clock.
func withTOTP(t *testing.T, s *accounts.Service, tn *tenancy.Tenant, now *time.Time) (*accounts.User, string, []string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateActive(ctx, tn, "staff@example.org", "long enough pw", "Staff", "1980-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.BeginTOTP(ctx, tn, u)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmTOTP(ctx, tn, u.ID, code(t, k.Secret, *now))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if _, err := s.BeginTOTP(ctx, tn, u); !errors.Is(err, accounts.ErrFactorExists) {
		t.Fatalf("second set-up: %v", err)
	}
	return u, k.Secret, codes
}

// TestTOTPSkewAndReplay: a code of the previous or next 30-second step passes, one two steps
// away does not; a code (or an earlier one) is never accepted twice, even by two concurrent
// sign-ins (issue 11.14, P2).
func TestTOTPSkewAndReplay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		now := time.Now().UTC()
		s.Now = func() time.Time { return now }
		u, secret, _ := withTOTP(t, s, tn, &now)
		ctx := context.Background()
		check := func(c string) error { _, err := s.CheckCode(ctx, tn, u.ID, c); return err }
		if err := check(code(t, secret, now)); !errors.Is(err, accounts.ErrCodeWrong) {
			t.Fatalf("the set-up code again: %v", err)
		}
		now = now.Add(5 * time.Minute)
		if err := check(code(t, secret, now.Add(-60*time.Second))); !errors.Is(err, accounts.ErrCodeWrong) {
			t.Fatalf("two steps late: %v", err)
		}
		if err := check(code(t, secret, now.Add(60*time.Second))); !errors.Is(err, accounts.ErrCodeWrong) {
			t.Fatalf("two steps early: %v", err)
		}
		if err := check(code(t, secret, now.Add(-30*time.Second))); err != nil {
			t.Fatalf("one step late: %v", err)
		}
		if err := check(code(t, secret, now.Add(-30*time.Second))); !errors.Is(err, accounts.ErrCodeWrong) {
			t.Fatalf("replayed: %v", err)
		}
		// Two sign-ins race with the same (next-step) code: one passes.
		now = now.Add(2 * time.Minute)
		c := code(t, secret, now.Add(30*time.Second))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func(i int) { defer wg.Done(); errs[i] = check(c) }(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, accounts.ErrCodeWrong):
				t.Fatalf("race: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of two concurrent uses of one code passed", ok)
		}
	})
}

// TestRecoveryCodeRaced: a recovery code is used once, even by two concurrent sign-ins; it
// is stored hashed (issue 11.14, P2).
func TestRecoveryCodeRaced(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		now := time.Now().UTC()
		s.Now = func() time.Time { return now }
		u, _, codes := withTOTP(t, s, tn, &now)
		ctx := context.Background()
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					var rec bool
					rec, errs[i] = s.CheckCode(ctx, tn, u.ID, codes[round])
					if errs[i] == nil && !rec {
						errs[i] = errors.New("not taken as a recovery code")
					}
				}(i)
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, accounts.ErrCodeWrong):
					t.Fatalf("race: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of 4 concurrent uses of one code passed", round, ok)
			}
		}
		f, err := s.Factors(ctx, tn.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f.RecoveryLeft != 7 {
			t.Fatalf("%d codes left, want 7", f.RecoveryLeft)
		}
		var plain, hashed int
		err = s.DB.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			q := "SELECT COUNT(*) FROM user_recovery_codes WHERE tenant_id = ? AND code_hash = ?"
			if err := sc.Tx.NewRaw(q, tn.ID, codes[3]).Scan(ctx, &plain); err != nil {
				return err
			}
			return sc.Tx.NewRaw(q, tn.ID, accounts.HashToken(strings.ReplaceAll(codes[3], "-", ""))).Scan(ctx, &hashed)
		})
		if err != nil || plain != 0 || hashed != 1 {
			t.Fatalf("code stored as it is: %d, as its hash: %d (%v)", plain, hashed, err)
		}
	})
}

// TestRequiresSecondFactor: the tenant's rule of roles (issue 11.14, P2): "*" is every role
// beyond the plain user (module staff and professionals included), a list names roles, ""
// is nobody.
func TestRequiresSecondFactor(t *testing.T) {
	tn := &tenancy.Tenant{}
	for _, tc := range []struct {
		rule  any // nil: the default
		roles []string
		want  bool
	}{
		{nil, []string{"user", "tenant_admin"}, true},
		{nil, []string{"user", "results.lab_staff"}, true},
		{nil, []string{"user", "results.professional"}, true},
		{nil, []string{"user"}, false},
		{nil, []string{"platform_admin"}, false},
		{"", []string{"user", "tenant_admin"}, false},
		{"results.lab_staff", []string{"user", "tenant_admin"}, false},
		{"results.lab_staff, tenant_admin", []string{"user", "tenant_admin"}, true},
		{"results.lab_staff", []string{"results.lab_staff"}, true},
	} {
		tn.Settings.Rules = map[string]any{}
		if tc.rule != nil {
			tn.Settings.Rules[tenancy.RuleSecondFactorRoles] = tc.rule
		}
		if got := accounts.RequiresSecondFactor(tn, tc.roles); got != tc.want {
			t.Errorf("rule %v, roles %v: %v, want %v", tc.rule, tc.roles, got, tc.want)
		}
	}
}
