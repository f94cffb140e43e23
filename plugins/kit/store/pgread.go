package store

import (
	"context"
	"database/sql/driver"
	"errors"
)

// On PostgreSQL a tenant's reads need no transaction of their own: each statement is sent as
// "SET TRANSACTION READ ONLY; SET LOCAL <TenantSetting> = '<tenant>'; <statement>" in one
// round trip. PostgreSQL runs such a string as one implicit transaction: read-only, with the
// tenant row-level security filters on, the setting gone when it ends (even on an error),
// nothing left open on the connection. A read of a request costs its statements' round trips
// and nothing else (a transaction would add BEGIN, the setting and its end: three).

type pgReadKey struct{}

// pgRead marks ctx: the statements run with it read tenantID's rows only.
func pgRead(ctx context.Context, tenantID string) context.Context {
	return context.WithValue(ctx, pgReadKey{}, "SET TRANSACTION READ ONLY; SET LOCAL "+TenantSetting+" = "+PgString(tenantID)+"; ")
}

var errPgReadArgs = errors.New("store: a tenant read on PostgreSQL carries its values in its text")

// tenantConnector gives connections that prefix the statements of a tenant read.
type tenantConnector struct{ driver.Connector }

func (c tenantConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &tenantConn{cn}, nil
}

// conn is what the PostgreSQL driver's connections are.
type conn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.Validator
	driver.SessionResetter
}

type tenantConn struct{ driver.Conn }

func (c *tenantConn) inner() conn { return c.Conn.(conn) }

func prefixed(ctx context.Context, query string, args []driver.NamedValue) (string, error) {
	p, _ := ctx.Value(pgReadKey{}).(string)
	if p == "" {
		return query, nil
	}
	if len(args) > 0 {
		return "", errPgReadArgs
	}
	return p + query, nil
}

func (c *tenantConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, err := prefixed(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return c.inner().QueryContext(ctx, q, args)
}

func (c *tenantConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q, err := prefixed(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return c.inner().ExecContext(ctx, q, args)
}

func (c *tenantConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if ctx.Value(pgReadKey{}) != nil {
		return nil, errPgReadArgs
	}
	return c.inner().PrepareContext(ctx, query)
}

func (c *tenantConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *tenantConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *tenantConn) IsValid() bool { return c.inner().IsValid() }

func (c *tenantConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }
