package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/audit/audittest"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/store"
)

// ownerOf returns a handle with the rights of the database's owner (on SQLite, the file;
// on PostgreSQL, the role that owns the tables, which the runtime role is not): what
// someone who wants to rewrite the trail would use.
func ownerOf(t *testing.T, cfg db.Config, d *db.DB) *bun.DB {
	t.Helper()
	if d.Kind == db.SQLite {
		return d.Bun
	}
	o := store.OpenPostgres(cfg.DSN, 2)
	t.Cleanup(func() { o.Close() })
	return o
}

func openBoth(t *testing.T, b dbtest.Backend) (*db.DB, *bun.DB) {
	t.Helper()
	cfg := b.Config(t)
	d, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, ownerOf(t, cfg, d)
}

// rebuild rewrites record seq of the tenant and recomputes the hash of every record after
// it and of the chain head, as the database owner could: the chain alone still verifies.
func rebuild(t *testing.T, o *bun.DB, tid string, seq int64) {
	audittest.Rewrite(t, o, tid, seq, func(e *audit.Entry) {
		if e.Seq == seq {
			e.Resource = "result:rewritten"
		}
	})
}

func keyring(t *testing.T) (*audit.Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit-key.pem")
	if created, err := audit.EnsureKeyFile(path); err != nil || !created {
		t.Fatalf("key file: %v %v", created, err)
	}
	k, err := audit.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, path
}

// TestRebuiltChainFailsAgainstCheckpoint: a record rewritten with every following hash
// recomputed passes the chain check, but no longer matches the checkpoint signed before,
// and the next checkpoint refuses to sign it (issue 11.13, P9).
func TestRebuiltChainFailsAgainstCheckpoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d, o := openBoth(t, b)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		tr := audit.New(d)
		keys, _ := keyring(t)
		fill(t, tr, tid, 5)
		cp, err := tr.Checkpoint(ctx, tid, keys, time.Hour)
		if err != nil || cp == nil || cp.Seq != 5 {
			t.Fatalf("checkpoint: %+v %v", cp, err)
		}
		fill(t, tr, tid, 2)
		if got, err := tr.VerifyAnchored(ctx, tid, keys, nil); err != nil || got.Records != 7 || got.UpTo != 5 || got.Checkpoints != 1 {
			t.Fatalf("untouched trail: %+v %v", got, err)
		}
		rebuild(t, o, tid, 2)
		if n, err := tr.Verify(ctx, tid); err != nil || n != 7 {
			t.Fatalf("the rebuilt chain should pass the chain check alone: %d %v", n, err)
		}
		_, err = tr.VerifyAnchored(ctx, tid, keys, nil)
		if !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "record 5 does not match the checkpoint") {
			t.Fatalf("rebuilt chain not detected: %v", err)
		}
		tr.Now = func() time.Time { return time.Now().UTC().Add(2 * time.Hour) }
		if cp, err := tr.Checkpoint(ctx, tid, keys, time.Hour); !errors.Is(err, audit.ErrBroken) || cp != nil {
			t.Fatalf("a rebuilt chain was signed: %+v %v", cp, err)
		}
	})
}

// TestForgedCheckpointFails: a checkpoint whose signature does not verify, or one signed by
// a key the verifier does not know, fails verification (issue 11.13, P9).
func TestForgedCheckpointFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d, o := openBoth(t, b)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		tr := audit.New(d)
		keys, _ := keyring(t)
		fill(t, tr, tid, 3)
		if _, err := tr.Checkpoint(ctx, tid, keys, time.Hour); err != nil {
			t.Fatal(err)
		}
		// The owner moves the signed time: the signature no longer covers it.
		if _, err := o.NewUpdate().Table("audit_checkpoints").Set("at = ?", time.Now().UTC().Add(-48*time.Hour)).
			Where("tenant_id = ?", tid).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.VerifyAnchored(ctx, tid, keys, nil); !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("a checkpoint with a bad signature passed: %v", err)
		}
		// A checkpoint signed with the owner's own key is signed by an unknown key.
		if _, err := o.NewDelete().Table("audit_checkpoints").Where("tenant_id = ?", tid).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		mine, _ := keyring(t)
		if _, err := tr.Checkpoint(ctx, tid, mine, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.VerifyAnchored(ctx, tid, keys, nil); !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "unknown key") {
			t.Fatalf("a checkpoint of an unknown key passed: %v", err)
		}
		// Checkpoints and no key at all: nothing can be said, and that is an error.
		if _, err := tr.VerifyAnchored(ctx, tid, nil, nil); !errors.Is(err, audit.ErrNoKey) {
			t.Fatalf("no key: %v", err)
		}
	})
}

// TestExportedCheckpointsCatchRewrittenTable: the file of checkpoints a tenant admin
// exported and kept outside the database detects a rebuilt chain even when the checkpoints
// table was rewritten too, here with new checkpoints signed by the same key (the worst
// case: the key was stolen as well) (issue 11.13, P9).
func TestExportedCheckpointsCatchRewrittenTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d, o := openBoth(t, b)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		tr := audit.New(d)
		keys, _ := keyring(t)
		fill(t, tr, tid, 4)
		if _, err := tr.Checkpoint(ctx, tid, keys, time.Hour); err != nil {
			t.Fatal(err)
		}
		cps, err := tr.Checkpoints(ctx, tid)
		if err != nil || len(cps) != 1 {
			t.Fatalf("checkpoints: %v %v", cps, err)
		}
		file, _ := json.Marshal(audit.Export{Format: audit.ExportFormat, Tenant: "lab", TenantID: tid, ExportedAt: time.Now(),
			Keys: keys.PublicKeys(), Checkpoints: cps})

		rebuild(t, o, tid, 3)
		if _, err := o.NewDelete().Table("audit_checkpoints").Where("tenant_id = ?", tid).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Checkpoint(ctx, tid, keys, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.VerifyAnchored(ctx, tid, keys, nil); err != nil {
			t.Fatalf("with the table rewritten, the database alone cannot tell: %v", err)
		}
		exp, fileKeys, err := audit.ParseExport(file)
		if err != nil {
			t.Fatal(err)
		}
		// The file's own public keys are enough: the private key is not needed to verify.
		if _, err := tr.VerifyAnchored(ctx, tid, fileKeys, exp.Checkpoints); !errors.Is(err, audit.ErrBroken) ||
			!strings.Contains(err.Error(), "record 4 does not match") {
			t.Fatalf("the exported checkpoints did not catch the rebuild: %v", err)
		}
		// A file whose checkpoint was edited to match the rebuilt chain fails its signature.
		var forged audit.Export
		json.Unmarshal(file, &forged)
		cur, _ := tr.Checkpoints(ctx, tid)
		forged.Checkpoints[0].Hash = cur[0].Hash
		data, _ := json.Marshal(forged)
		exp, _, _ = audit.ParseExport(data)
		if _, err := tr.VerifyAnchored(ctx, tid, fileKeys, exp.Checkpoints); !errors.Is(err, audit.ErrBroken) ||
			!strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("an edited file passed: %v", err)
		}
	})
}

// TestCheckpointIntervalAndKeyRotation: a checkpoint is signed once per interval and only
// when the chain grew; after a rotation the newest key signs, the earlier key (now public
// only in the file) still verifies what it signed, and the key file is readable by its
// owner only (issue 11.13, P9).
func TestCheckpointIntervalAndKeyRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		d := b.Open(t)
		ctx := context.Background()
		tid := tenant(t, d, "lab")
		tr := audit.New(d)
		now := time.Now().UTC()
		tr.Now = func() time.Time { return now }
		keys, path := keyring(t)
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode: %v %v", fi.Mode(), err)
		}
		if cp, err := tr.Checkpoint(ctx, tid, keys, time.Hour); err != nil || cp != nil {
			t.Fatalf("a checkpoint of an empty trail: %+v %v", cp, err)
		}
		fill(t, tr, tid, 2)
		first, err := tr.Checkpoint(ctx, tid, keys, time.Hour)
		if err != nil || first == nil || first.KeyID != keys.Keys[0].ID {
			t.Fatalf("first: %+v %v", first, err)
		}
		fill(t, tr, tid, 1)
		now = now.Add(30 * time.Minute)
		if cp, _ := tr.Checkpoint(ctx, tid, keys, time.Hour); cp != nil {
			t.Fatal("signed before the interval was over")
		}
		now = now.Add(31 * time.Minute)
		newID, err := audit.RotateKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rotated, err := audit.LoadKeyring(path)
		if err != nil || len(rotated.Keys) != 2 || rotated.Keys[0].Private != nil || rotated.Keys[1].ID != newID {
			t.Fatalf("rotated ring: %+v %v", rotated, err)
		}
		second, err := tr.Checkpoint(ctx, tid, rotated, time.Hour)
		if err != nil || second == nil || second.KeyID != newID || second.Seq != 3 {
			t.Fatalf("second: %+v %v", second, err)
		}
		now = now.Add(2 * time.Hour)
		if cp, _ := tr.Checkpoint(ctx, tid, rotated, time.Hour); cp != nil {
			t.Fatal("signed although the chain did not grow")
		}
		if got, err := tr.VerifyAnchored(ctx, tid, rotated, nil); err != nil || got.Checkpoints != 2 {
			t.Fatalf("both keys: %+v %v", got, err)
		}
		onlyNew := &audit.Keyring{Keys: rotated.Keys[1:]}
		if _, err := tr.VerifyAnchored(ctx, tid, onlyNew, nil); !errors.Is(err, audit.ErrBroken) {
			t.Fatalf("the retired key's checkpoint passed without it: %v", err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("rotated key file mode: %v %v", fi.Mode(), err)
		}
	})
}
