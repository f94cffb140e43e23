package store

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// Request is what a request costs the database: the statements it ran, counted by a query
// hook on every connection, and the one read transaction its reads share. Open one per
// request with WithRequest and Close it when the request ends.
type Request struct {
	statements atomic.Int64

	mu     sync.Mutex
	tx     *bun.Tx
	db     *DB
	tenant string
}

type requestKey struct{}

// WithRequest returns ctx carrying a new Request.
func WithRequest(ctx context.Context) (context.Context, *Request) {
	r := &Request{}
	return context.WithValue(ctx, requestKey{}, r), r
}

// Detach returns ctx without its Request: work done on behalf of no request in particular
// (a cache refresh) is not counted as one's.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, (*Request)(nil))
}

func requestOf(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// Statements is the number of statements the request ran so far (transactions' BEGIN,
// COMMIT and tenant setting aside).
func (r *Request) Statements() int64 { return r.statements.Load() }

// Close ends the request's read transaction.
func (r *Request) Close() { r.endRead() }

func (r *Request) readTx(ctx context.Context, d *DB, tenantID string) (bun.Tx, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tx != nil && r.db == d && r.tenant == tenantID {
		return *r.tx, nil
	}
	r.endLocked()
	// SQLite only: a read on PostgreSQL carries its tenant itself (pgread.go).
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return bun.Tx{}, err
	}
	r.tx, r.db, r.tenant = &tx, d, tenantID
	return tx, nil
}

func (r *Request) endRead() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked()
}

func (r *Request) endLocked() {
	if r.tx != nil {
		// A read-only transaction has nothing to keep: ending it releases its snapshot.
		_ = r.tx.Rollback()
		r.tx = nil
	}
}

// counter counts the statements of the request a query runs for.
type counter struct{}

// logStatements, set by PLATFORM_LOG_SQL=1, logs every statement with its duration: what
// a page costs, statement by statement, when one asks for it (never by default).
var logStatements = os.Getenv("PLATFORM_LOG_SQL") == "1"

func (counter) BeforeQuery(ctx context.Context, ev *bun.QueryEvent) context.Context {
	if r := requestOf(ctx); r != nil && !bookkeeping(ev.Query) {
		r.statements.Add(1)
	}
	return ctx
}

// bookkeeping are a transaction's own statements: not the request's work.
func bookkeeping(q string) bool { return q == "BEGIN" || q == "COMMIT" || q == "ROLLBACK" }

func (counter) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if logStatements {
		slog.Info("statement", "duration_us", time.Since(ev.StartTime).Microseconds(), "query", ev.Query, "err", ev.Err)
	}
}
