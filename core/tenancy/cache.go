package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/plugins/kit/store"
)

// DefaultBound is how long a change made on another instance may go unseen by this one.
const DefaultBound = time.Second

// The tenants a request reads (by hostname, slug or id, with hostnames, modules and rules)
// are kept in memory. Every change to them bumps the tenant's rev (its permission rules bump
// policy_rev); an instance reads every tenant's revisions at most once per Bound and drops
// what moved. A change made on this instance is seen at once; one made on another instance
// within Bound. The tenants handed out from memory are shared: read them, never change them
// (ByID gives a copy of one's own to edit).
type cache struct {
	mu      sync.RWMutex
	checked time.Time
	revs    map[string][2]int64 // tenant id → rev, policy_rev when last read
	tenants map[string]*Tenant  // by id, with hostnames and modules
	hosts   map[string]Hostname // every hostname; nil until read
	slugs   map[string]string   // slug → id; nil until read
	order   []string            // ids in List order; nil until read

	checking atomic.Bool
}

type revRow struct {
	ID        string `bun:"id"`
	Rev       int64  `bun:"rev"`
	PolicyRev int64  `bun:"policy_rev"`
}

func (s *Store) bound() time.Duration {
	if s.Bound > 0 {
		return s.Bound
	}
	return DefaultBound
}

// Watch reads the tenants' revisions twice per bound until ctx ends, so that requests never
// wait for it (fresh reads them in the request only when nothing watches).
func (s *Store) Watch(ctx context.Context) {
	t := time.NewTicker(s.bound() / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.cache.mu.Lock()
			s.cache.checked = time.Time{}.Add(1) // due, and not "never read"
			s.cache.mu.Unlock()
			if err := s.fresh(store.Detach(ctx)); err != nil && ctx.Err() == nil {
				slog.Warn("tenant revisions", "err", err)
			}
		}
	}
}

// fresh reads the tenants' revisions when the last reading is older than the bound, and
// drops what moved. One request reads them; the others meanwhile use what they have.
func (s *Store) fresh(ctx context.Context) error {
	c := &s.cache
	c.mu.RLock()
	recent := time.Since(c.checked) < s.bound()
	never := c.checked.IsZero()
	c.mu.RUnlock()
	if recent || (!never && !c.checking.CompareAndSwap(false, true)) {
		return nil
	}
	if !never {
		defer c.checking.Store(false)
	}
	var rows []revRow
	if err := s.DB.GlobalRead().Select((*Tenant)(nil)).Column("id", "rev", "policy_rev").Scan(ctx, &rows); err != nil {
		return fmt.Errorf("tenant revisions: %w", err)
	}
	var moved []string
	defer func() {
		if len(moved) > 0 && s.Moved != nil {
			go s.Moved(moved)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	revs := make(map[string][2]int64, len(rows))
	changed := len(rows) != len(c.revs)
	for _, r := range rows {
		rv := [2]int64{r.Rev, r.PolicyRev}
		revs[r.ID] = rv
		if old, ok := c.revs[r.ID]; !ok || old != rv {
			changed = true
			delete(c.tenants, r.ID)
			if c.revs != nil {
				moved = append(moved, r.ID)
			}
		}
	}
	for id := range c.revs {
		if _, ok := revs[id]; !ok {
			delete(c.tenants, id)
		}
	}
	if changed {
		c.hosts, c.slugs, c.order = nil, nil, nil
	}
	c.revs, c.checked = revs, time.Now()
	if c.tenants == nil {
		c.tenants = map[string]*Tenant{}
	}
	return nil
}

// invalidate drops a tenant changed on this instance (or all, for ""), at once.
func (s *Store) invalidate(id string) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == "" {
		c.tenants = map[string]*Tenant{}
	} else {
		delete(c.tenants, id)
	}
	c.hosts, c.slugs, c.order = nil, nil, nil
	c.checked = time.Time{}
}

// cached returns the tenant of id from memory, reading it once.
func (s *Store) cached(ctx context.Context, id string) (*Tenant, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	s.cache.mu.RLock()
	t := s.cache.tenants[id]
	s.cache.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := s.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cache.mu.Lock()
	if rv, ok := s.cache.revs[id]; ok && rv == [2]int64{t.Rev, t.PolicyRev} {
		// Kept only if it is the revision the last check saw: a newer one is read again.
		s.cache.tenants[id] = t
	}
	s.cache.mu.Unlock()
	return t, nil
}

// ByHost resolves a Host header (port ignored, case-insensitive), from memory.
func (s *Store) ByHost(ctx context.Context, host string) (*Tenant, *Hostname, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, nil, err
	}
	host = NormalizeHost(host)
	s.cache.mu.RLock()
	hosts := s.cache.hosts
	s.cache.mu.RUnlock()
	if hosts == nil {
		var all []Hostname
		if err := s.DB.GlobalRead().Select(&all).Scan(ctx); err != nil {
			return nil, nil, fmt.Errorf("resolve host: %w", err)
		}
		hosts = make(map[string]Hostname, len(all))
		for _, h := range all {
			hosts[h.Hostname] = h
		}
		s.cache.mu.Lock()
		s.cache.hosts = hosts
		s.cache.mu.Unlock()
	}
	h, ok := hosts[host]
	if !ok {
		return nil, nil, ErrNotFound
	}
	t, err := s.cached(ctx, h.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return t, &h, nil
}

// BySlug resolves a tenant by its slug, from memory.
func (s *Store) BySlug(ctx context.Context, slug string) (*Tenant, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	s.cache.mu.RLock()
	slugs := s.cache.slugs
	s.cache.mu.RUnlock()
	if slugs == nil {
		var rows []struct {
			ID   string `bun:"id"`
			Slug string `bun:"slug"`
		}
		if err := s.DB.GlobalRead().Select((*Tenant)(nil)).Column("id", "slug").Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("tenant by slug: %w", err)
		}
		slugs = make(map[string]string, len(rows))
		for _, r := range rows {
			slugs[r.Slug] = r.ID
		}
		s.cache.mu.Lock()
		s.cache.slugs = slugs
		s.cache.mu.Unlock()
	}
	id, ok := slugs[slug]
	if !ok {
		return nil, ErrNotFound
	}
	return s.cached(ctx, id)
}

// Cached returns the tenant of id from memory (shared: read it, never change it).
func (s *Store) Cached(ctx context.Context, id string) (*Tenant, error) { return s.cached(ctx, id) }

// List returns every tenant (the console last), with hostnames and modules, from memory.
func (s *Store) List(ctx context.Context) ([]*Tenant, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	s.cache.mu.RLock()
	order := s.cache.order
	s.cache.mu.RUnlock()
	if order == nil {
		var rows []struct {
			ID   string `bun:"id"`
			Kind string `bun:"kind"`
			Slug string `bun:"slug"`
		}
		if err := s.DB.GlobalRead().Select((*Tenant)(nil)).Column("id", "kind", "slug").Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].Kind != rows[j].Kind {
				return rows[i].Kind > rows[j].Kind
			}
			return rows[i].Slug < rows[j].Slug
		})
		for _, r := range rows {
			order = append(order, r.ID)
		}
		s.cache.mu.Lock()
		s.cache.order = order
		s.cache.mu.Unlock()
	}
	out := make([]*Tenant, 0, len(order))
	for _, id := range order {
		t, err := s.cached(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // removed since
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Touch records that something every page of the tenant reads changed (its maintenance
// windows, its terms): every instance reads the tenant again.
func (s *Store) Touch(ctx context.Context, tenantID string) error {
	err := touchIn(ctx, s.DB.Global(), tenantID)
	s.invalidate(tenantID)
	return err
}

func touchIn(ctx context.Context, g *db.Global, tenantID string) error {
	_, err := g.Update((*Tenant)(nil)).Set("rev = rev + 1").Where("id = ?", tenantID).Exec(ctx)
	return err
}

// Memo keeps, per tenant, a value read from the database for as long as the tenant's rev
// does not move (the tenant's maintenance windows, its terms versions): every change to it
// bumps rev (Touch), so every instance reads it again within the bound.
type Memo[T any] struct {
	mu sync.Mutex
	m  map[string]memoEntry[T]
}

type memoEntry[T any] struct {
	rev int64
	v   T
}

// Get returns t's value at its rev, reading it with load once.
func (m *Memo[T]) Get(t *Tenant, load func() (T, error)) (T, error) {
	m.mu.Lock()
	e, ok := m.m[t.ID]
	m.mu.Unlock()
	if ok && e.rev == t.Rev {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]memoEntry[T]{}
	}
	m.m[t.ID] = memoEntry[T]{t.Rev, v}
	m.mu.Unlock()
	return v, nil
}
