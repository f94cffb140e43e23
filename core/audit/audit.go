// Package audit owns the audit trail (P9): an append-only log per tenant in which every
// record carries the hash of the one before, so that an edited, deleted or reordered record
// is detected by Verify. Appends to one tenant's chain are serialised by the database (the
// chain head row is locked and a record's sequence number is unique). It must not know about
// HTTP.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
)

// Entry is a record of a tenant's audit trail.
type Entry struct {
	bun.BaseModel `bun:"table:audit_log,alias:al"`

	TenantID  string         `bun:"tenant_id,pk"`
	ID        string         `bun:"id,pk"`
	Seq       int64          `bun:"seq"`
	At        time.Time      `bun:"at"`
	Actor     string         `bun:"actor"`
	Module    string         `bun:"module"`
	Action    string         `bun:"action"`
	Subject   string         `bun:"subject"`
	Resource  string         `bun:"resource"`
	RequestID string         `bun:"request_id"`
	IP        string         `bun:"ip"`
	Detail    map[string]any `bun:"detail,type:json"`
	PrevHash  string         `bun:"prev_hash"`
	Hash      string         `bun:"hash"`
}

type head struct {
	bun.BaseModel `bun:"table:audit_heads,alias:ah"`

	TenantID string `bun:"tenant_id,pk"`
	Seq      int64  `bun:"seq"`
	Hash     string `bun:"hash"`
}

// ActorAPIKey prefixes the actor of what a machine did with an API key ("apikey:<key id>").
const ActorAPIKey = "apikey:"

// Actions the core records on behalf of the modules too (the HostAPI).
const (
	ActRoleAssigned  = "admin.role_assigned"
	ActRoleRemoved   = "admin.role_removed"
	ActSecretChecked = "account.secret_checked"
	// ActInvited is an account a module's staff opened for a person (Host.Invite).
	ActInvited = "account.invited"
	// ActSecretCheckFailed is a check whose answer did not match: recorded as failed, never
	// as verified (issue 12.3).
	ActSecretCheckFailed = "account.secret_check_failed"
)

// SecretCheckAction is the action that records a check of a secret answer, by its outcome.
func SecretCheckAction(match bool) string {
	if match {
		return ActSecretChecked
	}
	return ActSecretCheckFailed
}

// Trail appends to and reads the audit trails.
type Trail struct {
	DB  *db.DB
	Now func() time.Time
}

// New returns a trail over d.
func New(d *db.DB) *Trail { return &Trail{DB: d, Now: func() time.Time { return time.Now().UTC() }} }

// digest is the hash of a record: SHA-256 over the previous hash and the record's fields in
// a fixed order.
func digest(e *Entry) string {
	detail, _ := json.Marshal(e.Detail)
	fields := []string{e.PrevHash, e.TenantID, fmt.Sprint(e.Seq), e.ID, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Module,
		e.Action, e.Subject, e.Resource, e.RequestID, e.IP, string(detail)}
	b, _ := json.Marshal(fields)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Digest is the hash record e must carry, for a tool that checks a trail on its own.
func Digest(e *Entry) string { return digest(e) }

// Append adds e at the end of the tenant's chain.
func (t *Trail) Append(ctx context.Context, tenantID string, e Entry) error {
	if e.Action == "" {
		return errors.New("audit: action is required")
	}
	e.TenantID, e.ID, e.At = tenantID, uuid.Must(uuid.NewV7()).String(), t.Now().Truncate(time.Microsecond)
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	// Round-trip the detail through JSON so that the hash covers what is stored.
	raw, err := json.Marshal(e.Detail)
	if err != nil {
		return fmt.Errorf("audit: detail: %w", err)
	}
	e.Detail = map[string]any{}
	_ = json.Unmarshal(raw, &e.Detail)
	return t.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		h := &head{TenantID: tenantID}
		if _, err := sc.Insert(h).On("CONFLICT (tenant_id) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		q := sc.Select(h).Where("tenant_id = ?", tenantID)
		if t.DB.Kind == db.Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		e.Seq, e.PrevHash = h.Seq+1, h.Hash
		e.Hash = digest(&e)
		if _, err := sc.Insert(&e).Exec(ctx); err != nil {
			return err
		}
		res, err := sc.Update((*head)(nil)).Set("seq = ?", e.Seq).Set("hash = ?", e.Hash).
			Where("seq = ?", h.Seq).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("audit: concurrent append")
		}
		return nil
	})
}

// Filter selects records of one tenant.
type Filter struct {
	Actor, Subject, Action string
	// ExactAction matches Action as a whole action, not as a prefix ("results.view" without
	// "results.view_pdf").
	ExactAction bool
	From, To    time.Time
	Limit       int
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// Search returns the tenant's records matching f (Action is a prefix of the action), newest
// first.
func (t *Trail) Search(ctx context.Context, tenantID string, f Filter) ([]Entry, error) {
	var out []Entry
	err := t.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		q := sc.Select(&out).Order("seq DESC")
		if f.Actor != "" {
			q = q.Where("actor = ?", f.Actor)
		}
		if f.Subject != "" {
			q = q.Where("subject = ?", f.Subject)
		}
		if f.Action != "" && f.ExactAction {
			q = q.Where("action = ?", f.Action)
		} else if f.Action != "" {
			// A prefix taken literally: "_" and "%" match themselves, not any character.
			q = q.Where(`action LIKE ? ESCAPE '\'`, likeEscaper.Replace(f.Action)+"%")
		}
		if !f.From.IsZero() {
			q = q.Where("at >= ?", f.From)
		}
		if !f.To.IsZero() {
			q = q.Where("at < ?", f.To)
		}
		if f.Limit > 0 {
			q = q.Limit(int64(f.Limit))
		}
		return q.Scan(ctx)
	})
	return out, err
}

// ErrBroken is returned by Verify for a chain that was tampered with.
var ErrBroken = errors.New("audit trail broken")

// Verify walks the tenant's chain from the first record and reports the first record that
// was edited (its hash no longer matches), deleted (a sequence number is missing) or
// reordered (it does not link to the record before it). It returns the number of records.
// A chain rebuilt whole (every hash recomputed) passes here: VerifyAnchored checks it
// against the signed checkpoints.
func (t *Trail) Verify(ctx context.Context, tenantID string) (int64, error) {
	entries, err := t.verifyChain(ctx, tenantID)
	return int64(len(entries)), err
}

// verifyChain reads and checks the tenant's chain; on a break it returns the good records
// before it.
func (t *Trail) verifyChain(ctx context.Context, tenantID string) ([]Entry, error) {
	var entries []Entry
	var h head
	err := t.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		if err := sc.Select(&entries).Order("seq").Scan(ctx); err != nil {
			return err
		}
		err := sc.Select(&h).Where("tenant_id = ?", tenantID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := verifyEntries(entries, 1, ""); err != nil {
		return entries[:goodBefore(entries, err)], err
	}
	prev := ""
	if len(entries) > 0 {
		prev = entries[len(entries)-1].Hash
	}
	if int64(len(entries)) != h.Seq || prev != h.Hash {
		return entries, fmt.Errorf("%w: the last %d record(s) were removed", ErrBroken, h.Seq-int64(len(entries)))
	}
	return entries, nil
}

// brokenAt is a break in the chain at the i-th record checked.
type brokenAt struct {
	i   int
	err error
}

func (b *brokenAt) Error() string { return b.err.Error() }
func (b *brokenAt) Unwrap() error { return b.err }

func goodBefore(entries []Entry, err error) int {
	var b *brokenAt
	if errors.As(err, &b) {
		return b.i
	}
	return len(entries)
}

// verifyEntries checks records that should be numbered from first on, the first linking to
// prev.
func verifyEntries(entries []Entry, first int64, prev string) error {
	for i := range entries {
		e := &entries[i]
		want := first + int64(i)
		var err error
		switch {
		case e.Seq != want:
			err = fmt.Errorf("%w: record %d is missing (found %d)", ErrBroken, want, e.Seq)
		case e.PrevHash != prev:
			err = fmt.Errorf("%w: record %d does not follow record %d", ErrBroken, e.Seq, e.Seq-1)
		case digest(e) != e.Hash:
			err = fmt.Errorf("%w: record %d was changed", ErrBroken, e.Seq)
		}
		if err != nil {
			return &brokenAt{i: i, err: err}
		}
		prev = e.Hash
	}
	return nil
}
