package db

import (
	"context"

	"carenet.dev/platform/plugins/kit/store"
)

// The scoped query helper is the one the modules use too (plugins/kit/store): a Scope
// filters every query on tenant_id and refuses rows of another tenant; Global refuses tenant
// tables (those whose primary key starts with tenant_id).
type (
	// Scope is a transaction bound to one tenant.
	Scope = store.Scope
	// Global is the handle for tables that belong to no tenant.
	Global = store.Global
)

// Errors of the scoped helper.
var (
	// ErrUnscoped is returned by a query on a tenant table that was not built through a Scope.
	ErrUnscoped = store.ErrUnscoped
	// ErrTenantMismatch is returned when a row handed to a Scope belongs to another tenant.
	ErrTenantMismatch = store.ErrTenantMismatch
)

// Arg marks where a value goes in a read started with Scope.SelectBound.
var Arg = store.Arg

// PlatformDomain is the scope of platform-wide rows (Casbin rules of the platform admin).
const PlatformDomain = store.PlatformDomain

// InTenant runs fn in a transaction scoped to tenantID. fn's error rolls the transaction
// back. On PostgreSQL the transaction carries app.tenant_id, so row-level security filters
// again.
func (d *DB) InTenant(ctx context.Context, tenantID string, fn func(ctx context.Context, s *Scope) error) error {
	return d.st.InTenant(ctx, tenantID, fn)
}

// ReadTenant runs fn in a read-only transaction scoped to tenantID: it never takes SQLite's
// write lock, and within a request every read of the tenant shares it (store.WithRequest).
func (d *DB) ReadTenant(ctx context.Context, tenantID string, fn func(ctx context.Context, s *Scope) error) error {
	return d.st.ReadTenant(ctx, tenantID, fn)
}

// GlobalRead returns the handle for reading the tables of no tenant on the read connections.
func (d *DB) GlobalRead() *Global { return d.st.GlobalRead() }

// InPlatform runs fn in the platform-wide scope ('*'): it sees only platform-wide rows.
func (d *DB) InPlatform(ctx context.Context, fn func(ctx context.Context, s *Scope) error) error {
	return d.InTenant(ctx, PlatformDomain, fn)
}

// Global returns the handle for tables that belong to no tenant.
func (d *DB) Global() *Global { return d.st.Global() }

// GlobalTx returns the Global handle inside an existing transaction.
var GlobalTx = store.GlobalTx
