package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// testMigrations is a service-like migration set with the column types services are told to
// use, written once per dialect.
var testMigrations = fstest.MapFS{
	"postgres/00001_items.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE items (
    id    TEXT PRIMARY KEY,
    n     BIGINT NOT NULL,
    data  BYTEA,
    flag  BOOLEAN NOT NULL DEFAULT FALSE,
    note  TEXT,
    at_us BIGINT
);
-- +goose Down
DROP TABLE items;
`)},
	"postgres/00002_seed.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE seeded (v TEXT NOT NULL);
INSERT INTO seeded (v) VALUES ('once');
-- +goose Down
DROP TABLE seeded;
`)},
	"sqlite/00001_items.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE items (
    id    TEXT PRIMARY KEY,
    n     BIGINT NOT NULL,
    data  BLOB,
    flag  BOOLEAN NOT NULL DEFAULT FALSE,
    note  TEXT,
    at_us BIGINT
);
-- +goose Down
DROP TABLE items;
`)},
	"sqlite/00002_seed.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE seeded (v TEXT NOT NULL);
INSERT INTO seeded (v) VALUES ('once');
-- +goose Down
DROP TABLE seeded;
`)},
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openMigrated(t *testing.T, b sqlstoretest.Backend) *sqlstore.DB {
	t.Helper()
	db := b.Open(t)
	if err := db.Migrate(testContext(t), "test", testMigrations); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func countRows(t *testing.T, q sqlstore.Querier, table string) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRow(testContext(t), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenRejectsBadURLs(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"unknown scheme", "mysql://app:hunter2@db.internal/partner", `"mysql"`},
		{"no scheme", "partner.db", "no scheme"},
		{"sqlite without path", "sqlite:", "no path"},
		{"sqlite path with query", "sqlite:/tmp/x.db?mode=ro", "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.Open(testContext(t), tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error %q does not mention %s", tt.url, err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error leaks the password: %q", err)
			}
		})
	}
}

func TestOpenPostgresUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback refuses connections: no server needed.
	db, err := sqlstore.Open(testContext(t), "postgres://app:hunter2@127.0.0.1:1/partner?connect_timeout=5")
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if !errors.Is(err, sqlstore.ErrUnavailable) {
		t.Errorf("Open error = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open error leaks the password: %q", err)
	}
}

func TestOpenSQLiteCreatesParentDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "partner", "partner.db")
	db := sqlstoretest.OpenURL(t, "sqlite:"+path)
	if db.Dialect() != sqlstore.SQLite {
		t.Errorf("Dialect = %v, want sqlite", db.Dialect())
	}
	if _, err := db.Exec(testContext(t), "CREATE TABLE t (x BIGINT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
	var mode string
	if err := db.QueryRow(testContext(t), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk int64
	if err := db.QueryRow(testContext(t), "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Errorf("foreign_keys = %d, want 1", fk)
	}
}

func TestOpenSQLiteMemoryIsSharedByConnectionsAndPrivateToDB(t *testing.T) {
	ctx := testContext(t)
	db := sqlstoretest.OpenURL(t, "sqlite::memory:")
	other := sqlstoretest.OpenURL(t, "sqlite::memory:")
	if err := db.Migrate(ctx, "test", testMigrations); err != nil {
		t.Fatal(err)
	}
	// Concurrent transactions use several pool connections: all must see one database.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs <- db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO items (id, n) VALUES ($1, $2)", fmt.Sprint("i", i), int64(i))
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, db, "items"); n != 20 {
		t.Errorf("items = %d, want 20", n)
	}
	if _, err := other.Exec(ctx, "SELECT 1 FROM items"); err == nil {
		t.Error("a second sqlite::memory: DB sees the first one's tables")
	}
}

func TestQuerier(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)
			if db.Dialect() != b.Dialect {
				t.Fatalf("Dialect = %v, want %v", db.Dialect(), b.Dialect)
			}
			if err := db.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}

			n, err := db.Exec(ctx, `INSERT INTO items (id, n, data, flag, note, at_us) VALUES ($1, $2, $3, $4, $5, $6)`,
				"a", int64(1), []byte{0, 1, 2, 0xff}, true, "note a", int64(1_700_000_000_000_000))
			if err != nil || n != 1 {
				t.Fatalf("insert a: n=%d err=%v", n, err)
			}
			var nilNote *string
			if _, err := db.Exec(ctx, `INSERT INTO items (id, n, data, note, at_us) VALUES ($1, $2, $3, $4, $5)`,
				"b", int64(-2), nil, nilNote, sql.NullInt64{}); err != nil {
				t.Fatalf("insert b with NULLs: %v", err)
			}

			t.Run("unique violation is ErrAlreadyExists", func(t *testing.T) {
				_, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, $2)`, "a", int64(9))
				if !errors.Is(err, sqlstore.ErrAlreadyExists) {
					t.Errorf("duplicate insert: %v, want ErrAlreadyExists", err)
				}
			})
			t.Run("ON CONFLICT DO NOTHING affects no row", func(t *testing.T) {
				n, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, "a", int64(9))
				if err != nil || n != 0 {
					t.Errorf("n=%d err=%v, want 0, nil", n, err)
				}
			})
			t.Run("upsert RETURNING", func(t *testing.T) {
				var got int64
				err := db.QueryRow(ctx, `INSERT INTO items (id, n) VALUES ($1, $2)
					ON CONFLICT (id) DO UPDATE SET n = items.n + excluded.n RETURNING n`, "a", int64(10)).Scan(&got)
				if err != nil || got != 11 {
					t.Errorf("got %d, %v; want 11", got, err)
				}
			})
			t.Run("scan values", func(t *testing.T) {
				var (
					n    int64
					data []byte
					flag bool
					note sql.NullString
					at   *int64
				)
				err := db.QueryRow(ctx, `SELECT n, data, flag, note, at_us FROM items WHERE id = $1`, "a").
					Scan(&n, &data, &flag, &note, &at)
				if err != nil {
					t.Fatal(err)
				}
				if n != 11 || string(data) != "\x00\x01\x02\xff" || !flag || note != (sql.NullString{String: "note a", Valid: true}) ||
					at == nil || *at != 1_700_000_000_000_000 {
					t.Errorf("got n=%d data=%x flag=%v note=%v at=%v", n, data, flag, note, at)
				}
			})
			t.Run("scan NULLs", func(t *testing.T) {
				var (
					data []byte
					flag bool
					note *string
					at   sql.NullInt64
				)
				err := db.QueryRow(ctx, `SELECT data, flag, note, at_us FROM items WHERE id = $1`, "b").
					Scan(&data, &flag, &note, &at)
				if err != nil {
					t.Fatal(err)
				}
				if data != nil || flag || note != nil || at.Valid {
					t.Errorf("got data=%v flag=%v note=%v at=%v, want NULLs and default false", data, flag, note, at)
				}
			})
			t.Run("no row is ErrNotFound", func(t *testing.T) {
				var n int64
				err := db.QueryRow(ctx, `SELECT n FROM items WHERE id = $1`, "zzz").Scan(&n)
				if !errors.Is(err, sqlstore.ErrNotFound) {
					t.Errorf("got %v, want ErrNotFound", err)
				}
			})
			t.Run("query rows in order", func(t *testing.T) {
				rows, err := db.Query(ctx, `SELECT id, n FROM items ORDER BY id DESC`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var got []string
				for rows.Next() {
					var id string
					var n int64
					if err := rows.Scan(&id, &n); err != nil {
						t.Fatal(err)
					}
					got = append(got, fmt.Sprint(id, n))
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, ",") != "b-2,a11" {
					t.Errorf("rows = %v", got)
				}
			})
			t.Run("update reports rows affected", func(t *testing.T) {
				n, err := db.Exec(ctx, `UPDATE items SET flag = $1`, true)
				if err != nil || n != 2 {
					t.Errorf("n=%d err=%v, want 2", n, err)
				}
			})
		})
	}
}

func TestInTx(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)
			insert := func(ctx context.Context, tx sqlstore.Tx, id string) error {
				_, err := tx.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, id)
				return err
			}

			t.Run("commit runs hooks after commit", func(t *testing.T) {
				var hookSaw int64 = -1
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					if tx.Dialect() != b.Dialect {
						t.Errorf("tx.Dialect = %v", tx.Dialect())
					}
					tx.AfterCommit(func() {
						// Runs after commit: a fresh statement outside the tx sees the row.
						hookSaw = countRows(t, db, "items")
					})
					return insert(ctx, tx, "committed")
				})
				if err != nil {
					t.Fatal(err)
				}
				if hookSaw != 1 {
					t.Errorf("hook saw %d rows (or did not run), want 1", hookSaw)
				}
			})
			t.Run("error rolls back and skips hooks", func(t *testing.T) {
				boom := errors.New("boom")
				hookRan := false
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					tx.AfterCommit(func() { hookRan = true })
					if err := insert(ctx, tx, "rolled-back"); err != nil {
						return err
					}
					return boom
				})
				if !errors.Is(err, boom) {
					t.Errorf("InTx = %v, want boom", err)
				}
				if hookRan {
					t.Error("hook ran after rollback")
				}
				if n := countRows(t, db, "items"); n != 1 {
					t.Errorf("items = %d, want 1", n)
				}
			})
			t.Run("panic rolls back and propagates", func(t *testing.T) {
				hookRan := false
				func() {
					defer func() {
						if r := recover(); r != "kaboom" {
							t.Errorf("recovered %v, want kaboom", r)
						}
					}()
					_ = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
						tx.AfterCommit(func() { hookRan = true })
						if err := insert(ctx, tx, "panicked"); err != nil {
							t.Error(err)
						}
						panic("kaboom")
					})
				}()
				if hookRan {
					t.Error("hook ran after panic")
				}
				if n := countRows(t, db, "items"); n != 1 {
					t.Errorf("items = %d, want 1", n)
				}
				// The connection went back to the pool in a usable state.
				if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return insert(ctx, tx, "after-panic") }); err != nil {
					t.Errorf("InTx after panic: %v", err)
				}
			})
			t.Run("errors inside a tx are translated", func(t *testing.T) {
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					if err := insert(ctx, tx, "committed"); err != nil {
						return fmt.Errorf("create item: %w", err)
					}
					return nil
				})
				if !errors.Is(err, sqlstore.ErrAlreadyExists) {
					t.Errorf("InTx = %v, want ErrAlreadyExists", err)
				}
				err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					var n int64
					return tx.QueryRow(ctx, `SELECT n FROM items WHERE id = 'nope'`).Scan(&n)
				})
				if !errors.Is(err, sqlstore.ErrNotFound) {
					t.Errorf("InTx = %v, want ErrNotFound", err)
				}
			})
			t.Run("query inside a tx sees its own writes", func(t *testing.T) {
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					if err := insert(ctx, tx, "own"); err != nil {
						return err
					}
					rows, err := tx.Query(ctx, `SELECT id FROM items WHERE id = $1`, "own")
					if err != nil {
						return err
					}
					defer rows.Close()
					if !rows.Next() {
						return errors.New("own write not visible")
					}
					return rows.Err()
				})
				if err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func TestInTxRetriesDeadlockOnPostgres(t *testing.T) {
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	ctx := testContext(t)
	db := openMigrated(t, b)
	if _, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ('x', 0), ('y', 0)`); err != nil {
		t.Fatal(err)
	}
	// Two transactions lock x and y in opposite orders; PostgreSQL aborts one with
	// deadlock_detected, InTx runs it again and both succeed.
	var attempts atomic.Int32
	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	run := func(first, second string) error {
		tries := 0
		return db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			attempts.Add(1)
			tries++
			if _, err := tx.Exec(ctx, `UPDATE items SET n = n + 1 WHERE id = $1`, first); err != nil {
				return err
			}
			if tries == 1 {
				firstLocks.Done()
				firstLocks.Wait()
			}
			_, err := tx.Exec(ctx, `UPDATE items SET n = n + 1 WHERE id = $1`, second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run("x", "y") }()
	go func() { errs <- run("y", "x") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("InTx: %v", err)
		}
	}
	if got := attempts.Load(); got != 3 {
		t.Errorf("fn ran %d times, want 3 (one retry)", got)
	}
	var sum int64
	if err := db.QueryRow(ctx, `SELECT SUM(n) FROM items`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 4 {
		t.Errorf("sum = %d, want 4 (each transaction applied once)", sum)
	}
}

func TestInTxGivesUpOnPersistentSerializationFailure(t *testing.T) {
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	ctx := testContext(t)
	db := b.Open(t)
	attempts := 0
	hookRan := false
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		attempts++
		tx.AfterCommit(func() { hookRan = true })
		_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = 'forced'; END $$`)
		return err
	})
	if !errors.Is(err, sqlstore.ErrAborted) {
		t.Errorf("InTx = %v, want ErrAborted", err)
	}
	if attempts != 5 {
		t.Errorf("fn ran %d times, want 5", attempts)
	}
	if hookRan {
		t.Error("hook of an aborted attempt ran")
	}
}

// TestPostgresRecoversFromTerminatedConnections kills the server side of the pool's
// connections, as a PostgreSQL restart or failover does, and shows that the failed call
// reports ErrUnavailable and the next call works again without any action by the caller.
func TestPostgresRecoversFromTerminatedConnections(t *testing.T) {
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	ctx := testContext(t)
	url := b.NewURL(t)
	db := sqlstoretest.OpenURL(t, url)
	if err := db.Migrate(ctx, "test", testMigrations); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, os.Getenv(sqlstoretest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var dbName string
	if err := db.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	terminateAll := func() int {
		var n int
		err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("connection lost inside a transaction", func(t *testing.T) {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO items (id, n) VALUES ('lost', 1)`); err != nil {
				return err
			}
			if n := terminateAll(); n == 0 {
				t.Error("no backend terminated")
			}
			_, err := tx.Exec(ctx, `INSERT INTO items (id, n) VALUES ('lost2', 1)`)
			return err
		})
		if !errors.Is(err, sqlstore.ErrUnavailable) {
			t.Fatalf("InTx after terminate = %v, want ErrUnavailable", err)
		}
		if n, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ('next', 1)`); err != nil || n != 1 {
			t.Fatalf("next call after the failure: n=%d err=%v", n, err)
		}
		if n := countRows(t, db, "items"); n != 1 {
			t.Errorf("items = %d, want 1 (the lost transaction rolled back)", n)
		}
	})

	t.Run("idle pool connections terminated", func(t *testing.T) {
		// Fill the pool with several idle connections.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := db.Exec(ctx, `SELECT pg_sleep(0.05)`); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := terminateAll(); n == 0 {
			t.Fatal("no backend terminated")
		}
		time.Sleep(100 * time.Millisecond) // let the terminations land
		failures := 0
		for i := range 10 {
			_, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, fmt.Sprint("idle", i))
			switch {
			case err == nil:
			case errors.Is(err, sqlstore.ErrUnavailable):
				failures++
			default:
				t.Fatalf("call %d: %v, want nil or ErrUnavailable", i, err)
			}
		}
		if failures > 4 {
			t.Errorf("%d calls failed; each dead connection should fail at most once", failures)
		}
		if err := db.Ping(ctx); err != nil {
			t.Errorf("Ping after recovery: %v", err)
		}
	})
}

func TestClosedDBIsUnavailable(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := b.Open(t)
			db.Close()
			db.Close() // idempotent
			if _, err := db.Exec(ctx, `SELECT 1`); !errors.Is(err, sqlstore.ErrUnavailable) {
				t.Errorf("Exec after Close = %v, want ErrUnavailable", err)
			}
			var n int64
			if err := db.QueryRow(ctx, `SELECT 1`).Scan(&n); !errors.Is(err, sqlstore.ErrUnavailable) {
				t.Errorf("QueryRow after Close = %v, want ErrUnavailable", err)
			}
			err := db.InTx(ctx, func(context.Context, sqlstore.Tx) error { return nil })
			if !errors.Is(err, sqlstore.ErrUnavailable) {
				t.Errorf("InTx after Close = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)
			// A second run is a no-op: the seed row is not inserted again.
			if err := db.Migrate(ctx, "test", testMigrations); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if n := countRows(t, db, "seeded"); n != 1 {
				t.Errorf("seeded = %d, want 1", n)
			}
			for _, table := range []string{"events", "consumer_cursors", "idempotency_keys", "audit_records", "audit_chain", "sweep_runs"} {
				countRows(t, db, table) // fails the test when the table is missing
			}
			for _, tt := range []struct {
				table string
				want  int64
			}{{"platform_schema_migrations", 7}, {"test_schema_migrations", 2}} {
				var max int64
				err := db.QueryRow(ctx, `SELECT MAX(version_id) FROM `+tt.table).Scan(&max)
				if err != nil || max != tt.want {
					t.Errorf("%s: max version %d (%v), want %d", tt.table, max, err, tt.want)
				}
			}
		})
	}
}

func TestMigrateRejectsBadInput(t *testing.T) {
	db := sqlstoretest.SQLiteBackend().Open(t)
	ctx := testContext(t)
	tests := []struct {
		name, set string
		fsys      fstest.MapFS
		want      string
	}{
		{"bad name", "Bad-Name", testMigrations, "must match"},
		{"reserved name", "platform", testMigrations, "must match"},
		{"no dialect directory", "other", fstest.MapFS{"postgres/00001_x.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}, `no "sqlite" directory`},
		{"broken SQL", "broken", fstest.MapFS{"sqlite/00001_x.sql": {Data: []byte("-- +goose Up\nCREATE TABLEX y;\n")}}, "broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Migrate(ctx, tt.set, tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Migrate = %v, want an error mentioning %s", err, tt.want)
			}
		})
	}
	// Platform tables alone.
	if err := db.Migrate(ctx, "", nil); err != nil {
		t.Fatalf("Migrate(nil): %v", err)
	}
	countRows(t, db, "events")
}

func TestMigrateConcurrentProcessesApplyOnce(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			url := b.NewURL(t)
			// Separate DB values on one database stand for separate processes.
			const procs = 4
			dbs := make([]*sqlstore.DB, procs)
			for i := range dbs {
				dbs[i] = sqlstoretest.OpenURL(t, url)
			}
			start := make(chan struct{})
			errs := make(chan error, procs)
			for _, db := range dbs {
				go func() {
					<-start
					errs <- db.Migrate(ctx, "test", testMigrations)
				}()
			}
			close(start)
			for range procs {
				if err := <-errs; err != nil {
					t.Errorf("Migrate: %v", err)
				}
			}
			if n := countRows(t, dbs[0], "seeded"); n != 1 {
				t.Errorf("seeded = %d, want 1 (migration applied once)", n)
			}
			if n := countRows(t, dbs[0], "test_schema_migrations"); n != 3 { // goose's version 0 row + 2
				t.Errorf("test_schema_migrations has %d rows, want 3", n)
			}
		})
	}
}

// TestMigrateWaitsForLock holds the migration lock the way another process would and shows
// that Migrate waits for it instead of running alongside.
func TestMigrateWaitsForLock(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			url := b.NewURL(t)
			db := sqlstoretest.OpenURL(t, url)

			var release func()
			switch b.Dialect {
			case sqlstore.Postgres:
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.WithoutCancel(ctx))
				if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, sqlstore.PGMigrationLockID); err != nil {
					t.Fatal(err)
				}
				release = func() {
					if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, sqlstore.PGMigrationLockID); err != nil {
						t.Error(err)
					}
				}
			case sqlstore.SQLite:
				lockDB, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:")+".migrate-lock")
				if err != nil {
					t.Fatal(err)
				}
				defer lockDB.Close()
				conn, err := lockDB.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
					t.Fatal(err)
				}
				release = func() {
					if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
						t.Error(err)
					}
				}
			}

			done := make(chan error, 1)
			go func() { done <- db.Migrate(ctx, "test", testMigrations) }()
			select {
			case err := <-done:
				t.Fatalf("Migrate finished while another process held the lock: %v", err)
			case <-time.After(1500 * time.Millisecond):
			}
			if _, err := db.Exec(ctx, `SELECT 1 FROM events`); err == nil {
				t.Fatal("platform tables created while the lock was held")
			}
			release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Migrate: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Migrate did not finish after the lock was released")
			}
			countRows(t, db, "seeded")
		})
	}
}

func TestQueue(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)

			t.Run("queued writes are seen by the next statement and committed", func(t *testing.T) {
				var seen int64
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, "q1")
					tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 2)`, "q2")
					if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE id IN ('q1', 'q2')`).Scan(&seen); err != nil {
						return err
					}
					tx.Queue(ctx, `UPDATE items SET n = 3 WHERE id = $1`, "q2")
					return nil
				})
				if err != nil || seen != 2 {
					t.Fatalf("InTx = %v, saw %d rows; want nil, 2", err, seen)
				}
				var n int64
				if err := db.QueryRow(ctx, `SELECT n FROM items WHERE id = 'q2'`).Scan(&n); err != nil || n != 3 {
					t.Fatalf("write queued last: n = %d, %v; want 3 (flushed at commit)", n, err)
				}
			})

			t.Run("a transaction of queued writes alone commits them all and runs its hooks", func(t *testing.T) {
				hooked := false
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					for _, id := range []string{"w1", "w2", "w3"} {
						tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 7)`, id)
					}
					tx.AfterCommit(func() { hooked = true })
					return nil
				})
				if err != nil || !hooked {
					t.Fatalf("InTx = %v, hook ran %v; want nil, true", err, hooked)
				}
				var n int64
				if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE n = 7`).Scan(&n); err != nil || n != 3 {
					t.Fatalf("%d rows written, %v; want 3", n, err)
				}
			})

			t.Run("a failing queued write fails the transaction and writes nothing", func(t *testing.T) {
				before := countRows(t, db, "items")
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, "fresh")
					tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, "q1") // duplicate key
					return nil
				})
				if !errors.Is(err, sqlstore.ErrAlreadyExists) {
					t.Fatalf("InTx = %v, want ErrAlreadyExists", err)
				}
				if after := countRows(t, db, "items"); after != before {
					t.Fatalf("%d rows after the failed transaction, %d before", after, before)
				}
			})

			t.Run("the failure is the next statement's error", func(t *testing.T) {
				var execErr error
				_ = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					tx.Queue(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, "q1")
					_, execErr = tx.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, 1)`, "other")
					return execErr
				})
				if !errors.Is(execErr, sqlstore.ErrAlreadyExists) {
					t.Fatalf("next statement: %v, want ErrAlreadyExists", execErr)
				}
			})
		})
	}
}

func TestPostgresStatementsAreTraced(t *testing.T) {
	pg, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip("needs " + sqlstoretest.PostgresURLEnv)
	}
	ctx := testContext(t)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	db, err := sqlstore.Open(ctx, pg.NewURL(t), sqlstore.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const secret = "13800001111"
	// Statements are traced under the caller's span (an RPC's), not on their own.
	rctx, rpc := tp.Tracer("test").Start(ctx, "rpc")
	var got string
	if err := db.QueryRow(rctx, `SELECT $1::text`, secret).Scan(&got); err != nil || got != secret {
		t.Fatalf("query: %q, %v", got, err)
	}
	rpc.End()
	var statement bool
	for _, s := range spans.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.Emit(), "SELECT $1::text") {
				statement = true
			}
			if strings.Contains(a.Value.Emit(), secret) {
				t.Fatalf("span %q carries an argument (%s): personal data must not reach traces", s.Name, a.Key)
			}
		}
	}
	if !statement {
		t.Fatalf("no span carries the statement; spans: %v", spans.GetSpans())
	}
}

func TestReads(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)
			if _, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ('r1', 7)`); err != nil {
				t.Fatal(err)
			}
			// The same statement many times: past the point where PostgreSQL would switch plans.
			for range 8 {
				var n int64
				if err := db.Reads().QueryRow(ctx, `SELECT n FROM items WHERE id = $1`, "r1").Scan(&n); err != nil || n != 7 {
					t.Fatalf("read = %d, %v; want the committed 7", n, err)
				}
			}
			if err := db.Reads().QueryRow(ctx, `SELECT n FROM items WHERE id = $1`, "none").Scan(new(int64)); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("missing row: %v, want ErrNotFound", err)
			}
			db.Close()
			if _, err := db.Reads().Query(ctx, `SELECT n FROM items`); !errors.Is(err, sqlstore.ErrUnavailable) {
				t.Fatalf("after Close: %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestAnyOf(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openMigrated(t, b)
			for _, id := range []string{"a1", "a2", "a3"} {
				if _, err := db.Exec(ctx, `INSERT INTO items (id, n) VALUES ($1, 0)`, id); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct {
				name string
				vals []string
				want int64
			}{
				{"some", []string{"a1", "a3", "missing"}, 2},
				{"one", []string{"a2"}, 1},
				{"none", []string{}, 0},
			}
			for _, q := range []sqlstore.Querier{db, db.Reads()} {
				for _, tt := range tests {
					var args []any
					bind := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
					var n int64
					sql := `SELECT COUNT(*) FROM items WHERE ` + sqlstore.AnyOf(q, bind, "id", tt.vals)
					if err := q.QueryRow(ctx, sql, args...).Scan(&n); err != nil || n != tt.want {
						t.Errorf("%s: %q matched %d rows, %v; want %d", tt.name, sql, n, err, tt.want)
					}
				}
			}
		})
	}
}

// TestAuditChainMovesOut: records chained in audit_records' own columns (migration 5) keep
// their links, now in audit_chain, and the records lose the columns (migration 6).
func TestAuditChainMovesOut(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := b.Open(t)
			if err := db.MigratePlatformThrough(ctx, 5); err != nil {
				t.Fatal(err)
			}
			for i, chained := range []bool{true, true, false} {
				var pos any
				var prev, hash []byte
				if chained {
					pos, prev, hash = int64(i+1), []byte{byte(i)}, []byte{byte(i + 1)}
				}
				if _, err := db.Exec(ctx, `INSERT INTO audit_records (id, time_us, kind, subject, roles, method, resource,
					region_code, outcome, paths, detail, position, prev_hash, hash)
					VALUES ($1, 1, 'write', 's', 'admin', 'm', 'r', '', 'OK', '', '', $2, $3, $4)`,
					fmt.Sprint("rec-", i), pos, prev, hash); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx, "test", nil); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Query(ctx, `SELECT c.position, r.id, c.prev_hash, c.hash FROM audit_chain c
				JOIN audit_records r ON r.seq = c.record_seq ORDER BY c.position`)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var (
					pos        int64
					id         string
					prev, hash []byte
				)
				if err := rows.Scan(&pos, &id, &prev, &hash); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprint(pos, id, prev, hash))
			}
			rows.Close()
			if want := []string{"1rec-0[0] [1]", "2rec-1[1] [2]"}; !slices.Equal(got, want) {
				t.Fatalf("links after the migration: %q, want %q", got, want)
			}
			if _, err := db.Exec(ctx, `SELECT position FROM audit_records`); err == nil {
				t.Fatal("audit_records still has its chain columns")
			}
		})
	}
}

// TestPoolSize: each of the two PostgreSQL pools holds what WithPoolSize says, else the URL's
// pool_max_conns, else DefaultPoolSize (from GOMAXPROCS, which follows the container's CPU
// limit), never pgx's own default (the node's cores), which the deploy checks cannot budget.
func TestPoolSize(t *testing.T) {
	if got := sqlstore.PoolSizeFor(1); got != 4 {
		t.Errorf("PoolSizeFor(1) = %d, want 4", got)
	}
	if got := sqlstore.PoolSizeFor(8); got != 8 {
		t.Errorf("PoolSizeFor(8) = %d, want 8", got)
	}
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	ctx := testContext(t)
	url := b.NewURL(t)
	withMax := url + "&pool_max_conns=7"
	if !strings.Contains(url, "?") {
		withMax = url + "?pool_max_conns=7"
	}
	for _, tc := range []struct {
		name string
		url  string
		opts []sqlstore.Option
		want int32
	}{
		{"default", url, nil, int32(sqlstore.DefaultPoolSize())},
		{"option", url, []sqlstore.Option{sqlstore.WithPoolSize(3)}, 3},
		{"URL", withMax, nil, 7},
		{"option over URL", withMax, []sqlstore.Option{sqlstore.WithPoolSize(2)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, tc.url, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if w, r := db.PoolSizes(); w != tc.want || r != tc.want {
				t.Errorf("pool sizes %d (writes), %d (reads), want %d each", w, r, tc.want)
			}
		})
	}
}
