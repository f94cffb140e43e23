// Package dbtest gives each test its own fresh database: always SQLite, and PostgreSQL too
// when PLATFORM_TEST_POSTGRES holds a DSN (the test creates and drops its own database).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/db"
)

// PostgresDSN is the administrative DSN of the test PostgreSQL server, or "".
func PostgresDSN() string { return os.Getenv("PLATFORM_TEST_POSTGRES") }

// Backend is one database engine a test runs on.
type Backend struct {
	Name string
	// Open returns a fresh, migrated database for t, dropped when t ends.
	Open func(t testing.TB) *db.DB
	// Config returns the configuration of a fresh database (not opened), dropped when t ends.
	Config func(t testing.TB) db.Config
}

// Backends lists the engines to run on: SQLite, then PostgreSQL when configured.
func Backends() []Backend {
	bs := []Backend{{Name: "sqlite", Config: sqliteConfig}}
	if PostgresDSN() != "" {
		bs = append(bs, Backend{Name: "postgres", Config: postgresConfig})
	}
	for i := range bs {
		cfgFn := bs[i].Config
		bs[i].Open = func(t testing.TB) *db.DB {
			t.Helper()
			d, err := db.Open(context.Background(), cfgFn(t))
			if err != nil {
				t.Fatalf("open %s: %v", t.Name(), err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
	}
	return bs
}

// Postgres is the PostgreSQL backend, for a test that needs it alone (several instances on
// one database, row-level security); the test is skipped when none is configured.
func Postgres(t testing.TB) Backend {
	t.Helper()
	for _, b := range Backends() {
		if b.Name == "postgres" {
			return b
		}
	}
	t.Skip("PLATFORM_TEST_POSTGRES not set")
	return Backend{}
}

// Each runs fn once per backend as a subtest named after it.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

func sqliteConfig(t testing.TB) db.Config {
	return db.Config{DataDir: t.TempDir()}
}

func postgresConfig(t testing.TB) db.Config {
	t.Helper()
	admin := PostgresDSN()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "platform_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	adm := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin)))
	if _, err := adm.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		adm.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		adm.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse PLATFORM_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return db.Config{DSN: u.String(), DataDir: t.TempDir()}
}
