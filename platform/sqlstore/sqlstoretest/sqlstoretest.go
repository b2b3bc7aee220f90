// Package sqlstoretest gives conformance tests a fresh database on every back end:
//
//	for _, b := range sqlstoretest.Backends(t) {
//		t.Run(b.Name, func(t *testing.T) {
//			db := b.Open(t)
//			...
//		})
//	}
//
// SQLite is always included (a file in t.TempDir()). PostgreSQL is included when
// JIAYUAN_TEST_POSTGRES_URL is set: each Open creates a database with a unique name on that
// server and drops it when the test ends. With the variable set and the server unreachable the
// test fails rather than skips, so CI cannot pass without PostgreSQL by accident.
package sqlstoretest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// PostgresURLEnv names the environment variable holding the PostgreSQL server to test against.
const PostgresURLEnv = "JIAYUAN_TEST_POSTGRES_URL"

// Backend creates fresh databases of one kind.
type Backend struct {
	// Name is "sqlite" or "postgres", fit for t.Run.
	Name    string
	Dialect sqlstore.Dialect
	newURL  func(t testing.TB) string
}

// Backends returns SQLite and, when JIAYUAN_TEST_POSTGRES_URL is set, PostgreSQL.
func Backends(t testing.TB) []Backend {
	t.Helper()
	bs := []Backend{SQLiteBackend()}
	if pg, ok := PostgresBackend(t); ok {
		bs = append(bs, pg)
	}
	return bs
}

// SQLiteBackend returns the SQLite back end.
func SQLiteBackend() Backend {
	return Backend{Name: "sqlite", Dialect: sqlstore.SQLite, newURL: newSQLiteURL}
}

// PostgresBackend returns the PostgreSQL back end, or false when JIAYUAN_TEST_POSTGRES_URL is
// unset. Tests that only make sense on PostgreSQL skip when it reports false.
func PostgresBackend(t testing.TB) (Backend, bool) {
	t.Helper()
	server := os.Getenv(PostgresURLEnv)
	if server == "" {
		return Backend{}, false
	}
	return Backend{
		Name:    "postgres",
		Dialect: sqlstore.Postgres,
		newURL:  func(t testing.TB) string { return newPostgresURL(t, server) },
	}, true
}

// NewURL creates a fresh, empty database and returns its URL; the database is removed when
// the test ends. Use it when a test needs several DB handles on one database (as several
// processes would have).
func (b Backend) NewURL(t testing.TB) string {
	t.Helper()
	return b.newURL(t)
}

// Open creates a fresh, empty database and opens it; it is closed and removed when the test
// ends. The schema is left to the caller (DB.Migrate).
func (b Backend) Open(t testing.TB) *sqlstore.DB {
	t.Helper()
	return OpenURL(t, b.NewURL(t))
}

// OpenURL opens url and closes the DB when the test ends.
func OpenURL(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatalf("sqlstoretest: open database: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func newSQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

func newPostgresURL(t testing.TB, server string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("sqlstoretest: %s is not a URL: %v", PostgresURLEnv, err)
	}
	name := "jiayuan_test_" + strings.ToLower(ulid.Make().String())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("sqlstoretest: %s is set but PostgreSQL is unreachable: %v", PostgresURLEnv, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	// template0: template1 refuses to be copied while anyone else is connected to it.
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'",
		pgx.Identifier{name}.Sanitize())); err != nil {
		t.Fatalf("sqlstoretest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropPostgres(t, server, name) })

	u.Path = "/" + name
	return u.String()
}

func dropPostgres(t testing.TB, server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Errorf("sqlstoretest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.WithoutCancel(ctx))
	// FORCE ends connections a test left open (e.g. a stream still shutting down).
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)",
		pgx.Identifier{name}.Sanitize())); err != nil {
		t.Errorf("sqlstoretest: drop database %s: %v", name, err)
	}
}
