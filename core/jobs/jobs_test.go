package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
)

func tenant(t *testing.T, d *db.DB, slug string) string {
	t.Helper()
	s := &tenancy.Store{DB: d}
	f := &tenancy.File{Slug: slug, Settings: tenancy.Settings{Name: slug, DefaultLocale: "fr", Locales: []string{"fr"},
		TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: slug + ".localhost"}}}
	if _, err := s.Import(context.Background(), f, nil, ""); err != nil {
		t.Fatal(err)
	}
	tn, err := s.BySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// TestEachJobIsClaimedOnce: several instances claiming at once never get the same job (P8).
func TestEachJobIsClaimedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		base := jobs.NewStore(d)
		const n = 60
		for i := 0; i < n; i++ {
			if _, err := base.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "work", Key: fmt.Sprint(i), At: time.Now().Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			st := jobs.NewStore(d) // its own instance id
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := st.Claim(ctx, tid, 5)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, j := range got {
						mu.Lock()
						if prev, dup := seen[j.ID]; dup {
							t.Errorf("job %s claimed by %s and %s", j.IdempotencyKey, prev, st.Instance)
						}
						seen[j.ID] = st.Instance
						mu.Unlock()
						if err := st.Finish(ctx, j, nil); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d of %d jobs ran", len(seen), n)
		}
		done, _ := base.List(ctx, tid, jobs.Done, 1000)
		if len(done) != n {
			t.Fatalf("%d jobs done", len(done))
		}
	})
}

// TestRetriesWithBackoffThenFails: a failing job is retried later, then failed for good
// after the attempt budget; an admin's retry makes it pending again (P8).
func TestRetriesWithBackoffThenFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		s := jobs.NewStore(d)
		s.MaxAttempts = 3
		now := time.Now().UTC()
		s.Now = func() time.Time { return now }
		id, _ := s.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "flaky", Key: "k", At: now})
		for attempt := 1; attempt <= 3; attempt++ {
			got, err := s.Claim(ctx, tid, 10)
			if err != nil || len(got) != 1 {
				t.Fatalf("attempt %d: claimed %d (%v)", attempt, len(got), err)
			}
			s.Finish(ctx, got[0], errors.New("boom"))
			j, _ := s.Get(ctx, tid, id)
			if attempt < 3 {
				if j.Status != jobs.Pending || !j.RunAt.After(now) {
					t.Fatalf("attempt %d: %s at %s", attempt, j.Status, j.RunAt)
				}
				// Not due before its backoff.
				if again, _ := s.Claim(ctx, tid, 10); len(again) != 0 {
					t.Fatal("claimed during backoff")
				}
				now = j.RunAt
			} else if j.Status != jobs.Failed || j.LastError != "boom" {
				t.Fatalf("after the budget: %+v", j)
			}
		}
		if err := s.Retry(ctx, tid, id); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, tid, 10); len(got) != 1 {
			t.Fatal("retried job not claimable")
		}
	})
}

// TestLeaseExpires: a job claimed by an instance that died is claimed again after its lease,
// and the dead instance cannot finish it any more (P8: survives restarts).
func TestLeaseExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		now := time.Now().UTC()
		dead, alive := jobs.NewStore(d), jobs.NewStore(d)
		dead.Now = func() time.Time { return now }
		alive.Now = func() time.Time { return now.Add(6 * time.Minute) }
		dead.Enqueue(ctx, tid, jobs.Spec{Module: "m", Name: "w", Key: "k", At: now})
		got, _ := dead.Claim(ctx, tid, 1)
		if len(got) != 1 {
			t.Fatal("claim")
		}
		again, _ := alive.Claim(ctx, tid, 1)
		if len(again) != 1 || again[0].ID != got[0].ID {
			t.Fatalf("expired lease not reclaimed: %d", len(again))
		}
		dead.Finish(ctx, got[0], errors.New("late"))
		alive.Finish(ctx, again[0], nil)
		j, _ := alive.Get(ctx, tid, got[0].ID)
		if j.Status != jobs.Done {
			t.Fatalf("status %s: the dead instance overwrote the outcome", j.Status)
		}
	})
}

// TestCronRunsOncePerFireTime: two instances enqueueing the same schedule create one job per
// fire time; another tenant has its own.
func TestCronRunsOncePerFireTime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		a, other := tenant(t, d, "lab"), tenant(t, d, "other")
		at := time.Date(2026, 11, 21, 10, 7, 30, 0, time.UTC)
		s1, s2 := jobs.NewStore(d), jobs.NewStore(d)
		s1.Now = func() time.Time { return at }
		s2.Now = s1.Now
		sc := jobs.Schedule{Module: "m", Name: "every5", Cron: "*/5 * * * *"}
		for _, s := range []*jobs.Store{s1, s2, s1} {
			if err := s.EnqueueDue(ctx, a, sc, time.UTC, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		s1.EnqueueDue(ctx, other, sc, time.UTC, time.Hour)
		list, _ := s1.List(ctx, a, "", 100)
		if len(list) != 1 || !list[0].RunAt.Equal(time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)) {
			t.Fatalf("jobs: %+v", list)
		}
		if l, _ := s1.List(ctx, other, "", 100); len(l) != 1 {
			t.Fatalf("other tenant: %d", len(l))
		}
		if err := jobs.ParseCron("not a spec"); err == nil {
			t.Fatal("bad cron accepted")
		}
	})
}
