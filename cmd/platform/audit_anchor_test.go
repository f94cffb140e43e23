package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/store"
)

// TestAuditVerifyChecksSignedCheckpoints: `platform audit verify` checks the signed
// checkpoints: a chain the database owner rebuilt (one record rewritten, every following hash
// recomputed) fails against the checkpoint in the database; once the owner deleted the
// checkpoints too, the file of checkpoints downloaded earlier still fails it, with only the
// public keys it carries; `audit rotate-key` adds a key, the earlier one still verifies
// (issue 11.13, P9).
func TestAuditVerifyChecksSignedCheckpoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		cfg := b.Config(t)
		ctx := context.Background()
		d, err := db.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		owner := d.Bun
		if d.Kind == db.Postgres {
			owner = store.OpenPostgres(cfg.DSN, 2)
			defer owner.Close()
		}
		tenants := &tenancy.Store{DB: d}
		if _, err := tenants.ImportDir(ctx, filepath.Join("..", "..", "tenants")); err != nil {
			t.Fatal(err)
		}
		ml, _ := tenants.BySlug(ctx, "mlab")
		tr := audit.New(d)
		for i := 0; i < 4; i++ {
			if err := tr.Append(ctx, ml.ID, audit.Entry{Action: "results.view", Subject: "p", Resource: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		keyFile := filepath.Join(t.TempDir(), "keys", "audit.pem")
		var out bytes.Buffer
		if err := run(ctx, []string{"audit", "rotate-key", "--audit-key", keyFile}, &out, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		keys, err := audit.LoadKeyring(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Checkpoint(ctx, ml.ID, keys, time.Hour); err != nil {
			t.Fatal(err)
		}
		cps, _ := tr.Checkpoints(ctx, ml.ID)
		file := filepath.Join(t.TempDir(), "mlab-checkpoints.json")
		data, _ := json.Marshal(audit.Export{Format: audit.ExportFormat, Tenant: "mlab", TenantID: ml.ID, ExportedAt: time.Now(),
			Keys: keys.PublicKeys(), Checkpoints: cps})
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		verify := func(extra ...string) (string, error) {
			var out bytes.Buffer
			err := run(ctx, append([]string{"audit", "verify", "--data", cfg.DataDir, "--db", cfg.DSN}, extra...), &out, &out)
			return out.String(), err
		}
		if got, err := verify("--audit-key", keyFile, "--checkpoints", file); err != nil || !strings.Contains(got, "mlab         ok, 4 records, signed up to record 4 (2 checkpoints)") {
			t.Fatalf("untouched: %v\n%s", err, got)
		}
		// A rotation: the new key signs, the first one (now public only) still verifies.
		if err := run(ctx, []string{"audit", "rotate-key", "--audit-key", keyFile}, &out, &out); err != nil {
			t.Fatal(err)
		}
		if got, err := verify("--audit-key", keyFile); err != nil {
			t.Fatalf("after rotation: %v\n%s", err, got)
		}

		rebuildChain(t, owner, ml.ID, 2)
		got, err := verify("--audit-key", keyFile)
		if err == nil || !strings.Contains(got, "mlab         BROKEN") || !strings.Contains(got, "record 4 does not match the checkpoint") {
			t.Fatalf("rebuilt chain passed: %v\n%s", err, got)
		}
		if _, err := owner.NewDelete().Table("audit_checkpoints").Where("tenant_id = ?", ml.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := verify("--audit-key", keyFile); err != nil || strings.Contains(got, "WARNING") {
			t.Fatalf("with the checkpoints deleted the database alone cannot tell, yet it failed: %v\n%s", err, got)
		}
		// …unless the records are older than the checkpoint job would have let them be: then
		// it warns, and fails with --strict (issue 11.13).
		ageChain(t, owner, ml.ID, 3*time.Hour)
		if got, err := verify("--audit-key", keyFile, "--tenant", "mlab"); err != nil || !strings.Contains(got, "mlab         WARNING: the records since") {
			t.Fatalf("old unsigned records: %v\n%s", err, got)
		}
		if got, err := verify("--audit-key", keyFile, "--tenant", "mlab", "--strict"); err == nil {
			t.Fatalf("old unsigned records passed --strict:\n%s", got)
		}
		got, err = verify("--checkpoints", file, "--tenant", "mlab")
		if err == nil || !strings.Contains(got, "record 4 does not match the checkpoint") {
			t.Fatalf("the kept file did not catch the rebuild: %v\n%s", err, got)
		}
		// A file of another tenant is not silently ignored.
		if got, err := verify("--checkpoints", file, "--tenant", "elekarze"); err == nil {
			t.Fatalf("a file of another tenant passed: %s", got)
		}
	})
}

// ageChain moves every record of the tenant d into the past and recomputes the chain, as the
// database owner could.
func ageChain(t *testing.T, o *bun.DB, tid string, d time.Duration) {
	audittest.Rewrite(t, o, tid, 1, func(e *audit.Entry) { e.At = e.At.Add(-d) })
}

// rebuildChain rewrites record seq and recomputes every hash after it and the head, as the
// database owner could.
func rebuildChain(t *testing.T, o *bun.DB, tid string, seq int64) {
	audittest.Rewrite(t, o, tid, seq, func(e *audit.Entry) {
		if e.Seq == seq {
			e.Subject = "someone else"
		}
	})
}

// TestServeAuditKey: a production run without --audit-key refuses to start; a development
// run creates the key in the data directory, readable by its owner only, and keeps it
// across restarts (issue 11.13, P9).
func TestServeAuditKey(t *testing.T) {
	log := slogDiscard()
	dir := t.TempDir()
	if _, err := serveAuditKeys("", dir, false, log); err == nil || !strings.Contains(err.Error(), "--audit-key") {
		t.Fatalf("production without a key: %v", err)
	}
	if _, err := serveAuditKeys(filepath.Join(dir, "missing.pem"), dir, false, log); err == nil {
		t.Fatal("production with a missing key file started")
	}
	first, err := serveAuditKeys("", dir, true, log)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "audit-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, err := serveAuditKeys("", dir, true, log)
	if err != nil || again.Keys[0].ID != first.Keys[0].ID {
		t.Fatalf("the key changed across restarts: %v", err)
	}
	// An empty key file is refused.
	pub := filepath.Join(dir, "public.pem")
	os.WriteFile(pub, []byte(""), 0o600)
	if _, err := serveAuditKeys(pub, dir, false, log); err == nil {
		t.Fatal("an empty key file was accepted")
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
