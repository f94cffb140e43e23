// Package storetest gives module tests a database of their own on every backend the
// machine has: a SQLite file always, and a fresh PostgreSQL database when
// PLATFORM_TEST_POSTGRES names a server (the same variable the core's tests read), with the
// module's schema, owner and runtime role provisioned the way the host provisions them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Backend names a database kind a test runs on.
type Backend string

// Backends are the kinds available here: "sqlite", and "postgres" when configured.
func Backends() []Backend {
	out := []Backend{"sqlite"}
	if os.Getenv("PLATFORM_TEST_POSTGRES") != "" {
		out = append(out, "postgres")
	}
	return out
}

// Each runs fn once per backend, as a subtest.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

// Env returns the environment of module id with an empty database of kind b, dropped at
// the end of the test. On PostgreSQL, AdminDSN(env) connects to the same database as the
// server's administrator (to look at it from outside the module).
func Env(t testing.TB, b Backend, id string) sdk.Env {
	t.Helper()
	dir := t.TempDir()
	if b == "sqlite" {
		return sdk.Env{DSN: filepath.Join(dir, "module.db"), DBKind: "sqlite", DataDir: dir}
	}
	admin := os.Getenv("PLATFORM_TEST_POSTGRES")
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "modtest_" + hex.EncodeToString(rnd[:])
	ctx := context.Background()
	adb := store.OpenPostgres(admin, 2)
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		adb.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = adb.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		adb.Close()
	})
	dsn := WithDatabase(admin, name)
	tdb := store.OpenPostgres(dsn, 2)
	defer tdb.Close()
	rt, owner, err := store.ProvisionPostgres(ctx, tdb, dsn, id, "")
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return sdk.Env{DSN: rt, OwnerDSN: owner, DBKind: "postgres", DataDir: dir}
}

// AdminDSN is the administrator's DSN of the PostgreSQL database of env.
func AdminDSN(env sdk.Env) string {
	name := env.DSN
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	name = name[strings.LastIndexByte(name, '/')+1:]
	return WithDatabase(os.Getenv("PLATFORM_TEST_POSTGRES"), name)
}

// WithDatabase replaces the database of a postgres:// DSN.
func WithDatabase(dsn, name string) string {
	q := ""
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn, q = dsn[:i], dsn[i:]
	}
	if i := strings.LastIndexByte(dsn, '/'); i > len("postgres://") {
		dsn = dsn[:i]
	}
	return dsn + "/" + name + q
}
