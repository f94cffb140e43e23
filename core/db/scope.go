package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"github.com/uptrace/bun"
)

// ErrUnscoped is returned by a query on a tenant table that was not built through a Scope.
var ErrUnscoped = errors.New("db: query on a tenant table outside a tenant scope")

// ErrTenantMismatch is returned when a row handed to a Scope belongs to another tenant.
var ErrTenantMismatch = errors.New("db: row belongs to another tenant")

// PlatformDomain is the scope of platform-wide rows (Casbin rules of the platform admin).
const PlatformDomain = "*"

// TenantOwned is implemented by every model stored in a tenant table: tenant_id is the first
// column of its primary key. Such a model can only be queried through a Scope.
type TenantOwned interface {
	OwnerTenant() string
}

// Scope is a transaction bound to one tenant. Every query built from it is filtered on
// tenant_id, and on PostgreSQL the transaction carries app.tenant_id so that row-level
// security filters again.
type Scope struct {
	Tx       bun.Tx
	TenantID string
}

// InTenant runs fn in a transaction scoped to tenantID. fn's error rolls the transaction back.
func (d *DB) InTenant(ctx context.Context, tenantID string, fn func(ctx context.Context, s *Scope) error) error {
	if tenantID == "" {
		return ErrUnscoped
	}
	return d.Bun.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if d.Kind == Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true)", tenantID); err != nil {
				return fmt.Errorf("set tenant: %w", err)
			}
		}
		return fn(ctx, &Scope{Tx: tx, TenantID: tenantID})
	})
}

// InPlatform runs fn in the platform-wide scope ('*'): it sees only platform-wide rows.
func (d *DB) InPlatform(ctx context.Context, fn func(ctx context.Context, s *Scope) error) error {
	return d.InTenant(ctx, PlatformDomain, fn)
}

// Select starts a SELECT on model filtered to this tenant.
func (s *Scope) Select(model any) *bun.SelectQuery {
	return s.Tx.NewSelect().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
}

// Update starts an UPDATE on model filtered to this tenant.
func (s *Scope) Update(model any) *bun.UpdateQuery {
	q := s.Tx.NewUpdate().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
	if err := s.checkRows(model); err != nil {
		q = q.Err(err)
	}
	return q
}

// Delete starts a DELETE on model filtered to this tenant.
func (s *Scope) Delete(model any) *bun.DeleteQuery {
	return s.Tx.NewDelete().Model(model).Where("?TableAlias.tenant_id = ?", s.TenantID)
}

// Insert starts an INSERT of model, which must carry this tenant's id in every row.
func (s *Scope) Insert(model any) *bun.InsertQuery {
	q := s.Tx.NewInsert().Model(model)
	if err := s.checkRows(model); err != nil {
		q = q.Err(err)
	}
	return q
}

// checkRows refuses rows of another tenant (or rows that left their tenant id empty).
func (s *Scope) checkRows(model any) error {
	v := reflect.ValueOf(model)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	check := func(x reflect.Value) error {
		if x.Kind() != reflect.Pointer && x.CanAddr() {
			x = x.Addr()
		}
		if t, ok := x.Interface().(TenantOwned); ok && t.OwnerTenant() != s.TenantID {
			return fmt.Errorf("%w: %q in scope %q", ErrTenantMismatch, t.OwnerTenant(), s.TenantID)
		}
		return nil
	}
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			if err := check(v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if v.Kind() == reflect.Struct {
		return check(v)
	}
	return nil
}

// Global is the handle for platform tables that belong to no tenant (tenants, hostnames,
// secrets). It refuses any tenant-owned model.
type Global struct{ db bun.IDB }

// Global returns the handle for tables that belong to no tenant.
func (d *DB) Global() *Global { return &Global{db: d.Bun} }

// GlobalTx returns the Global handle inside an existing transaction.
func GlobalTx(tx bun.IDB) *Global { return &Global{db: tx} }

func tenantOwned(model any) bool {
	t := reflect.TypeOf(model)
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil {
		return false
	}
	return reflect.PointerTo(t).Implements(reflect.TypeOf((*TenantOwned)(nil)).Elem())
}

// Select starts a SELECT on a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Select(model any) *bun.SelectQuery {
	q := g.db.NewSelect().Model(model)
	if tenantOwned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Insert starts an INSERT into a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Insert(model any) *bun.InsertQuery {
	q := g.db.NewInsert().Model(model)
	if tenantOwned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Update starts an UPDATE of a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Update(model any) *bun.UpdateQuery {
	q := g.db.NewUpdate().Model(model)
	if tenantOwned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}

// Delete starts a DELETE on a global table; a tenant table is refused with ErrUnscoped.
func (g *Global) Delete(model any) *bun.DeleteQuery {
	q := g.db.NewDelete().Model(model)
	if tenantOwned(model) {
		q = q.Err(ErrUnscoped)
	}
	return q
}
