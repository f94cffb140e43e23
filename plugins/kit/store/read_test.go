package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

// TestSQLiteReadsNeverWaitForTheWriteLock: on SQLite a read runs while a write transaction
// holds the write lock (it neither waits for it nor takes it), cannot write, and the reads of
// one request share one transaction — they see one snapshot, whatever commits meanwhile;
// the request's own write ends it, so its next read sees the write (issue 10).
func TestSQLiteReadsNeverWaitForTheWriteLock(t *testing.T) {
	ctx := context.Background()
	env := storetest.Env(t, "sqlite", "boundtest")
	d, err := store.Open(ctx, "boundtest", env, migrations("TIMESTAMP"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	insert := func(ctx context.Context, id string) error {
		return d.InTenant(ctx, "a", func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(&person{TenantID: "a", ID: id, Name: id}).Exec(ctx)
			return err
		})
	}
	count := func(ctx context.Context) (int, error) {
		var n int64
		err := d.ReadTenant(ctx, "a", func(ctx context.Context, sc *store.Scope) error {
			var err error
			n, err = sc.Select((*person)(nil)).Count(ctx)
			return err
		})
		return int(n), err
	}
	if err := insert(ctx, "p1"); err != nil {
		t.Fatal(err)
	}

	// A writer holds the lock, with a row not committed yet.
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.InTenant(ctx, "a", func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Insert(&person{TenantID: "a", ID: "p2", Name: "p2"}).Exec(ctx); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	start := time.Now()
	rctx, req := store.WithRequest(ctx)
	n, err := count(rctx)
	if err != nil || n != 1 {
		t.Fatalf("a read while the write lock is held: %d rows, %v", n, err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("the read waited %s for the writer", waited)
	}
	err = d.ReadTenant(ctx, "a", func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Insert(&person{TenantID: "a", ID: "p3", Name: "p3"}).Exec(ctx)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a read wrote: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The request's reads share one transaction: p2, committed since, is not in its snapshot.
	if n, err := count(rctx); err != nil || n != 1 {
		t.Fatalf("the request's second read: %d rows (%v), want the snapshot of its first", n, err)
	}
	// Its own write ends that transaction: the next read sees everything.
	if err := insert(rctx, "p4"); err != nil {
		t.Fatal(err)
	}
	if n, err := count(rctx); err != nil || n != 3 {
		t.Fatalf("after the request's write: %d rows (%v), want 3", n, err)
	}
	req.Close()
}
