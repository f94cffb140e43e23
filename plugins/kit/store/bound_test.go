package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
)

type person struct {
	bun.BaseModel `bun:"table:bound_people,alias:p"`
	TenantID      string `bun:"tenant_id,pk"`
	ID            string `bun:"id,pk"`
	Name          string `bun:"name"`
}

type visit struct {
	bun.BaseModel `bun:"table:bound_visits,alias:v"`
	TenantID      string    `bun:"tenant_id,pk"`
	ID            string    `bun:"id,pk"`
	PersonID      string    `bun:"person_id"`
	At            time.Time `bun:"at"`
	Person        *person   `bun:"rel:belongs-to,join:tenant_id=tenant_id,join:person_id=id"`
}

func migrations(ts string) fstest.MapFS {
	sql := `CREATE TABLE bound_people (tenant_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (tenant_id, id));
--bun:split
CREATE TABLE bound_visits (tenant_id TEXT NOT NULL, id TEXT NOT NULL, person_id TEXT NOT NULL, at ` + ts + ` NOT NULL, PRIMARY KEY (tenant_id, id));`
	return fstest.MapFS{
		"migrations/sqlite/20260101000001_bound.up.sql":   {Data: []byte(sql)},
		"migrations/postgres/20260101000001_bound.up.sql": {Data: []byte(sql)},
	}
}

// TestSelectBoundReadsWhatSelectReads: a read whose values are bound apart from its text
// (issue 10: SQLite parses it once per connection) returns exactly what the same read with its
// values written in returns — a time compared as bun writes it, a joined row, the tenant's
// rows only — and, raced by more requests than the pool has connections, never waits for ever
// for the statement to be prepared.
func TestSelectBoundReadsWhatSelectReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		env := storetest.Env(t, b, "boundtest")
		ts := "TIMESTAMP"
		if b == "postgres" {
			ts = "TIMESTAMPTZ"
		}
		d, err := store.Open(ctx, "boundtest", env, migrations(ts))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		base := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
		for _, tenant := range []string{"a", "b"} {
			err := d.InTenant(ctx, tenant, func(ctx context.Context, sc *store.Scope) error {
				if _, err := sc.Insert(&person{TenantID: tenant, ID: "p1", Name: "Zoé " + tenant}).Exec(ctx); err != nil {
					return err
				}
				for i := 0; i < 10; i++ {
					v := &visit{TenantID: tenant, ID: fmt.Sprint(i), PersonID: "p1", At: base.Add(time.Duration(i) * time.Minute)}
					if _, err := sc.Insert(v).Exec(ctx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		since := base.Add(3 * time.Minute) // the 4th visit is at exactly this instant: not after it
		read := func(ctx context.Context, bound bool) ([]visit, error) {
			var vs []visit
			err := d.ReadTenant(ctx, "a", func(ctx context.Context, sc *store.Scope) error {
				if bound {
					return sc.SelectBound(&vs, "p1", since).Relation("Person").
						Where("v.person_id = ?", store.Arg).Where("v.at > ?", store.Arg).Order("v.at").Scan(ctx)
				}
				return sc.Select(&vs).Relation("Person").Where("v.person_id = ?", "p1").Where("v.at > ?", since).Order("v.at").Scan(ctx)
			})
			return vs, err
		}
		want, err := read(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != 6 || want[0].Person == nil || want[0].Person.Name != "Zoé a" {
			t.Fatalf("the plain read: %+v", want)
		}
		check := func(ctx context.Context) error {
			got, err := read(ctx, true)
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				return fmt.Errorf("bound read: %d rows, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].TenantID != "a" || got[i].Person == nil || got[i].Person.Name != "Zoé a" || !got[i].At.Equal(want[i].At) {
					return fmt.Errorf("bound read row %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			return nil
		}
		// 64 requests at once, each holding a read transaction of a pool of fewer connections.
		done := make(chan struct{})
		go func() {
			defer close(done)
			var wg sync.WaitGroup
			for g := 0; g < 64; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 20; i++ {
						rctx, req := store.WithRequest(ctx)
						if err := check(rctx); err != nil {
							t.Error(err)
						}
						if req.Statements() != 1 {
							t.Errorf("a bound read counted %d statements", req.Statements())
						}
						req.Close()
					}
				}()
			}
			wg.Wait()
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("bound reads stuck waiting for connections")
		}
		if b == "sqlite" && store.PreparedReads(d) != 1 {
			t.Errorf("%d texts prepared, want the one", store.PreparedReads(d))
		}
	})
}
