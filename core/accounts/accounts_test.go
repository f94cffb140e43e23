package accounts_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

func setup(t *testing.T, b dbtest.Backend) (*accounts.Service, *tenancy.Tenant) {
	t.Helper()
	d := b.Open(t)
	ctx := context.Background()
	store := &tenancy.Store{DB: d}
	f := &tenancy.File{Slug: "lab", Settings: tenancy.Settings{Name: "Lab", DefaultLocale: "fr", Locales: []string{"fr"},
		TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: "lab.localhost"}}}
	if _, err := store.Import(ctx, f, nil, ""); err != nil {
		t.Fatal(err)
	}
	tn, err := store.BySlug(ctx, "lab")
	if err != nil {
		t.Fatal(err)
	}
	az := authz.NewService(d)
	if err := d.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
		return az.InstallGrants(ctx, sc, authz.CoreGrants)
	}); err != nil {
		t.Fatal(err)
	}
	return accounts.NewService(d, az), tn
}

func input(email string) accounts.RegisterInput {
	return accounts.RegisterInput{Email: email, Password: "long enough pw", Password2: "long enough pw", Name: "Anna", BirthDate: "1990-02-03"}
}

// TestPasswordsAreArgon2id: hashes use argon2id with m=19 MiB, t=2, p=1 (P2).
func TestPasswordsAreArgon2id(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		u, _, _, err := s.Register(context.Background(), tn, input("a@example.org"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash %q", u.PasswordHash)
		}
	})
}

// TestVerificationLinkIsUsedOnce: two browsers racing with the same link: exactly one wins
// (a guarded update in the database), and an expired link never works (P2).
func TestVerificationLinkIsUsedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		_, token, _, err := s.Register(ctx, tn, input("race@example.org"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, fails := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Verify(ctx, tn, token)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, accounts.ErrTokenInvalid):
					fails++
				default:
					t.Errorf("verify: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || fails != 7 {
			t.Fatalf("wins %d, refusals %d", wins, fails)
		}

		_, token, _, _ = s.Register(ctx, tn, input("late@example.org"), nil, nil)
		s.Now = func() time.Time { return time.Now().UTC().Add(24*time.Hour + time.Minute) }
		if _, err := s.Verify(ctx, tn, token); !errors.Is(err, accounts.ErrTokenInvalid) {
			t.Fatalf("expired link: %v", err)
		}
	})
}

// TestOneAccountPerEmailUnderRace: concurrent registrations of one address create one account
// (a unique key per tenant), and the others get the same answer (P2).
func TestOneAccountPerEmailUnderRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, c, err := s.Register(ctx, tn, input("Same@Example.org"), nil, nil)
				if err != nil {
					t.Errorf("register: %v", err)
					return
				}
				if c {
					mu.Lock()
					created++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if created != 1 {
			t.Fatalf("%d accounts created", created)
		}
		list, _ := s.List(ctx, tn.ID, "same@example.org", 10)
		if len(list) != 1 {
			t.Fatalf("%d rows", len(list))
		}
	})
}

// TestRegistrationFieldsFromModules: a module's extra mandatory field is checked with the
// core's, and stored with the account (P2, R2/C3/E2 will use it).
func TestRegistrationFieldsFromModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		extra := []accounts.Field{{Name: "birth_name", LabelKey: "x", Type: "text", Required: true, MaxLen: 10}}
		in := input("m@example.org")
		_, _, _, err := s.Register(context.Background(), tn, in, extra, nil)
		var ferr form.Errors
		if !errors.As(err, &ferr) || ferr["birth_name"] != "form.required" {
			t.Fatalf("missing module field: %v", err)
		}
		in.Extra = map[string]string{"birth_name": "Dupont"}
		u, _, _, err := s.Register(context.Background(), tn, in, extra, nil)
		if err != nil || u.Profile["birth_name"] != "Dupont" {
			t.Fatalf("module field not stored: %v %v", err, u)
		}
	})
}
