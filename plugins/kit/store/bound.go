package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Arg marks, in a read started with SelectBound, where its next value goes.
var Arg = bun.Safe("?")

// SelectBound starts a SELECT on model filtered to this tenant, whose values — the ones given
// here, in the order Arg marks their places — are bound apart from its text instead of being
// written into it. Its text is then the same at every call, and SQLite parses it once per
// connection rather than once per call (what a request's hottest reads cost most). It is
// built, scanned, counted and logged like any other query (the log shows "?" where each value
// goes). On PostgreSQL the values are written into the text as usual. Every value of such a
// read goes through Arg: one written into the text by hand could carry a "?" of its own.
func (s *Scope) SelectBound(model any, values ...any) *bun.SelectQuery {
	c := &boundConn{s: s, values: append([]any{s.TenantID}, values...)}
	return s.Tx.NewSelect().Conn(c).Model(model).Where("?TableAlias.tenant_id = ?", Arg)
}

// boundConn runs the text bun built with the values bound apart.
type boundConn struct {
	s      *Scope
	values []any
}

var errBoundWrite = errors.New("store: a bound read does not write")

func (c *boundConn) QueryContext(ctx context.Context, query string, _ ...any) (*sql.Rows, error) {
	if c.s.raw == nil { // a scope made by hand
		return c.s.Tx.QueryContext(ctx, query, c.values...)
	}
	if st := c.s.prepared(query); st != nil {
		if vals, ok := bindable(c.s.Tx.Dialect(), c.values); ok {
			if tx, ok := c.s.raw.(*sql.Tx); ok {
				return tx.StmtContext(ctx, st).QueryContext(ctx, vals...)
			}
		}
	}
	return c.s.raw.QueryContext(ctx, schema.NewQueryGen(c.s.Tx.Dialect()).FormatQuery(query, c.values...))
}

func (c *boundConn) ExecContext(context.Context, string, ...any) (sql.Result, error) {
	return nil, errBoundWrite
}

func (c *boundConn) QueryRowContext(ctx context.Context, query string, _ ...any) *sql.Row {
	if c.s.raw == nil {
		return c.s.Tx.QueryRowContext(ctx, query, c.values...)
	}
	return c.s.raw.QueryRowContext(ctx, schema.NewQueryGen(c.s.Tx.Dialect()).FormatQuery(query, c.values...))
}

// bindable converts values to what the driver binds them as, written as bun writes them into
// a text (a time as the dialect's string); ok is false for a value it does not know.
func bindable(d schema.Dialect, values []any) ([]any, bool) {
	out := make([]any, len(values))
	for i, v := range values {
		switch v := v.(type) {
		case string, int, int64:
			out[i] = v
		case time.Time:
			b := d.AppendTime(nil, v)
			if len(b) < 2 || b[0] != '\'' || b[len(b)-1] != '\'' {
				return nil, false
			}
			out[i] = string(b[1 : len(b)-1])
		default:
			return nil, false
		}
	}
	return out, true
}

// maxPrepared bounds the statements a pool keeps prepared; past it, a new text runs unprepared.
const maxPrepared = 256

// stmts are the texts a pool has prepared (each on the connections it ran on).
type stmts struct {
	mu   sync.Mutex
	m    map[string]*sql.Stmt
	busy map[string]bool // being prepared
}

// get returns the statement of query, or nil while it is not prepared yet: it is prepared
// apart, on whatever connection comes free, never waiting in the request (which holds a
// connection of the pool already: waiting for another could wait for ever).
func (p *stmts) get(pool *bun.DB, query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st
	}
	if len(p.m)+len(p.busy) >= maxPrepared || p.busy[query] {
		return nil
	}
	if p.busy == nil {
		p.busy = map[string]bool{}
	}
	p.busy[query] = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := pool.DB.PrepareContext(ctx, query)
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.busy, query)
		if err != nil {
			return // it runs unprepared; the next call tries again
		}
		if p.m == nil {
			p.m = map[string]*sql.Stmt{}
		}
		p.m[query] = st
	}()
	return nil
}

func (p *stmts) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.m {
		_ = st.Close()
	}
	p.m = nil
}

// prepared returns the statement of query prepared on the pool s's transaction came from, or
// nil where preparing saves nothing (PostgreSQL's driver writes the values into the text).
func (s *Scope) prepared(query string) *sql.Stmt {
	if s.db == nil || s.db.kind != SQLite {
		return nil
	}
	if s.write {
		return s.db.ws.get(s.db.b, query)
	}
	return s.db.rs.get(s.db.r, query)
}
