// Package storetest gives module tests a database of their own on every backend the
// machine has: a SQLite file always, and a fresh PostgreSQL database when
// PLATFORM_TEST_POSTGRES names a server (the same variable the core's tests read).
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

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

// Env returns a module environment with an empty database of kind b, dropped at the end of
// the test.
func Env(t testing.TB, b Backend) sdk.Env {
	t.Helper()
	dir := t.TempDir()
	if b == "sqlite" {
		return sdk.Env{DSN: filepath.Join(dir, "module.db"), DBKind: "sqlite", DataDir: dir}
	}
	admin := os.Getenv("PLATFORM_TEST_POSTGRES")
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "modtest_" + hex.EncodeToString(rnd[:])
	adb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin), pgdriver.WithTimeout(10*time.Second)))
	if _, err := adb.Exec("CREATE DATABASE " + name); err != nil {
		adb.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		adb.Close()
	})
	return sdk.Env{DSN: withDatabase(admin, name), DBKind: "postgres", DataDir: dir}
}

// withDatabase replaces the database of a postgres:// DSN.
func withDatabase(dsn, name string) string {
	q := ""
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn, q = dsn[:i], dsn[i:]
	}
	if i := strings.LastIndexByte(dsn, '/'); i > len("postgres://") {
		dsn = dsn[:i]
	}
	return dsn + "/" + name + q
}
