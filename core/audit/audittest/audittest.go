// Package audittest rewrites a tenant's audit trail as the database's owner could, for the
// tests that prove the signed checkpoints catch what the hash chain alone cannot.
package audittest

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/audit"
)

// Rewrite applies edit to every record of the tenant from sequence number from on, through
// o (a connection that bypasses nothing the owner could not), and recomputes their hashes
// and the chain head: the chain alone still verifies.
func Rewrite(t testing.TB, o *bun.DB, tid string, from int64, edit func(*audit.Entry)) {
	t.Helper()
	ctx := context.Background()
	var entries []audit.Entry
	if err := o.NewSelect().Model(&entries).Where("tenant_id = ?", tid).Order("seq").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i := range entries {
		e := &entries[i]
		if e.Seq >= from {
			edit(e)
			e.PrevHash = prev
			e.Hash = audit.Digest(e)
			if _, err := o.NewUpdate().Table("audit_log").Set("at = ?", e.At).Set("subject = ?", e.Subject).
				Set("resource = ?", e.Resource).Set("prev_hash = ?", e.PrevHash).Set("hash = ?", e.Hash).
				Where("tenant_id = ? AND seq = ?", tid, e.Seq).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		prev = e.Hash
	}
	if _, err := o.NewUpdate().Table("audit_heads").Set("hash = ?", prev).Where("tenant_id = ?", tid).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}
