package modules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// TestCatalogHeldByTheDatabase: a module id is registered once, even by two admins at the
// same moment (the primary key decides); the command line's pre-registration replaces the
// executable and checksum of its id; a loaded catalog makes its modules known to the
// tenants (issue 11.17, P5).
func TestCatalogHeldByTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		c := &Catalog{DB: b.Open(t)}
		sum := strings.Repeat("ab", 32)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = c.Add(ctx, &CatalogEntry{ID: "hello", Version: "1.0.0", Path: "/opt/hello", SHA256: sum, RegisteredAt: time.Now().UTC()})
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrDuplicate):
				t.Fatalf("concurrent registration: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d registrations of one id succeeded", ok)
		}
		other := strings.Repeat("cd", 32)
		if err := c.Put(ctx, &CatalogEntry{ID: "hello", Path: "/opt/hello2", SHA256: other, RegisteredAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		if err := c.Put(ctx, &CatalogEntry{ID: "second", Path: "/opt/second", SHA256: sum, RegisteredAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		e, err := c.Get(ctx, "hello")
		if err != nil || e == nil || e.Path != "/opt/hello2" || e.SHA256 != other || len(e.Sum()) != 32 {
			t.Fatalf("after put: %+v %v", e, err)
		}
		if e, err := c.Get(ctx, "nothing"); e != nil || err != nil {
			t.Fatalf("unregistered id: %+v %v", e, err)
		}
		var known tenancy.ModuleSet
		es, err := c.Load(ctx, &known)
		if err != nil || len(es) != 2 || !known.Has("hello") || !known.Has("second") || known.Has("third") {
			t.Fatalf("load: %v %v", es, err)
		}
	})
}

// TestFileSum: only an absolute path to an executable regular file has a checksum.
func TestFileSum(t *testing.T) {
	dir := t.TempDir()
	exe, plain := filepath.Join(dir, "exe"), filepath.Join(dir, "plain")
	os.WriteFile(exe, []byte("abc"), 0o755)
	os.WriteFile(plain, []byte("abc"), 0o644)
	if sum, err := FileSum(exe); err != nil || sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("sum: %s %v", sum, err)
	}
	for _, p := range []string{plain, dir, "exe", filepath.Join(dir, "none")} {
		if _, err := FileSum(p); err == nil {
			t.Errorf("%s has a checksum", p)
		}
	}
	if s, ok := NormalizeSum(" BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD "); !ok || s[:4] != "ba78" {
		t.Errorf("normalize: %q %v", s, ok)
	}
}
