package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/sweep"
)

const schema = `-- +goose Up
CREATE TABLE items (
    key     TEXT PRIMARY KEY,
    due_us  BIGINT,
    handled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX items_due ON items (due_us);
`

func migrations() fstest.MapFS {
	return fstest.MapFS{
		"postgres/00001_items.sql": {Data: []byte(schema)},
		"sqlite/00001_items.sql":   {Data: []byte(schema)},
	}
}

func open(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(t.Context(), "sweeptest", migrations()); err != nil {
		t.Fatal(err)
	}
	return db
}

// handleOnce counts each handling and moves the row out of the sweep; it sleeps a little so
// that concurrent sweepers overlap.
func handleOnce(calls *atomic.Int64) func(ctx context.Context, tx sqlstore.Tx, key string, now time.Time) error {
	return func(ctx context.Context, tx sqlstore.Tx, key string, now time.Time) error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		_, err := tx.Exec(ctx, `UPDATE items SET handled = handled + 1, due_us = NULL WHERE key = $1`, key)
		return err
	}
}

func TestTwoSweepersHandleEachRowOnce(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.NewURL(t)
			// Two handles on one database, as two replicas have.
			db1, db2 := open(t, url), open(t, url)
			now := time.Date(2026, 10, 9, 10, 0, 0, 0, time.UTC)
			ctx := t.Context()
			const n = 250
			err := db1.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				for i := range n {
					due := now.Add(-time.Minute).UnixMicro()
					if i%5 == 0 {
						due = now.Add(time.Hour).UnixMicro() // not yet due
					}
					if _, err := tx.Exec(ctx, `INSERT INTO items (key, due_us) VALUES ($1, $2)`, fmt.Sprintf("k%04d", i), due); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, `INSERT INTO items (key, due_us) VALUES ('never', NULL)`)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int64
			clock := func() time.Time { return now }
			job := sweep.Job{Name: "items", Table: "items", Key: "key", Due: "due_us", Batch: 17, Handle: handleOnce(&calls)}
			s1, err := sweep.New(db1, job, sweep.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			s2, err := sweep.New(db2, job, sweep.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			counts := make([]int, 2)
			errs := make([]error, 2)
			for i, s := range []*sweep.Sweeper{s1, s2} {
				wg.Go(func() { counts[i], errs[i] = s.Sweep(ctx) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			want := n - n/5
			if counts[0]+counts[1] != want || calls.Load() != int64(want) {
				t.Fatalf("sweepers handled %v (%d calls), want %d in all", counts, calls.Load(), want)
			}
			var twice, left int
			if err := db1.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE handled > 1`).Scan(&twice); err != nil {
				t.Fatal(err)
			}
			if err := db1.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE handled = 0 AND due_us <= $1`, now.UnixMicro()).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if twice != 0 || left != 0 {
				t.Fatalf("%d rows handled twice, %d due rows missed", twice, left)
			}

			// Nothing due: nothing handled, and the run is recorded.
			if got, err := s1.Sweep(ctx); err != nil || got != 0 {
				t.Fatalf("second sweep handled %d, %v", got, err)
			}
			last, ok, err := sweep.LastRun(ctx, db2, "items")
			if err != nil || !ok || !last.Equal(now) {
				t.Fatalf("LastRun = %v, %v, %v; want %v", last, ok, err, now)
			}
			if l, ok := s1.LastRun(); !ok || !l.Equal(now) {
				t.Fatalf("s1.LastRun = %v, %v", l, ok)
			}
			if _, ok, err := sweep.LastRun(ctx, db2, "other"); ok || err != nil {
				t.Fatalf("LastRun(other) = %v, %v", ok, err)
			}
		})
	}
}

func TestHandleBatch(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := open(t, b.NewURL(t))
			ctx := t.Context()
			for i := range 7 {
				if _, err := db.Exec(ctx, `INSERT INTO items (key, due_us) VALUES ($1, 1)`, fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
			}
			var batches []int
			s, err := sweep.New(db, sweep.Job{Name: "items", Table: "items", Key: "key", Due: "due_us", Batch: 3,
				HandleBatch: func(ctx context.Context, tx sqlstore.Tx, keys []string, now time.Time) error {
					batches = append(batches, len(keys))
					for _, k := range keys {
						if _, err := tx.Exec(ctx, `UPDATE items SET handled = handled + 1, due_us = NULL WHERE key = $1`, k); err != nil {
							return err
						}
					}
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := s.Sweep(ctx); err != nil || n != 7 || fmt.Sprint(batches) != "[3 3 1]" {
				t.Fatalf("swept %d in batches %v, %v", n, batches, err)
			}
		})
	}
}

func TestFailedHandlingStaysDue(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := open(t, b.NewURL(t))
			ctx := t.Context()
			if _, err := db.Exec(ctx, `INSERT INTO items (key, due_us) VALUES ('a', 1), ('b', 2)`); err != nil {
				t.Fatal(err)
			}
			fail := true
			var calls atomic.Int64
			ok := handleOnce(&calls)
			s, err := sweep.New(db, sweep.Job{Name: "items", Table: "items", Key: "key", Due: "due_us",
				Handle: func(ctx context.Context, tx sqlstore.Tx, key string, now time.Time) error {
					if key == "b" && fail {
						return errors.New("boom")
					}
					return ok(ctx, tx, key, now)
				}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Sweep(ctx); err == nil {
				t.Fatal("a failing row did not fail the sweep")
			}
			var handled int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE handled > 0`).Scan(&handled); err != nil || handled != 0 {
				t.Fatalf("the failed batch left %d rows handled (%v)", handled, err)
			}
			fail = false
			// The database's own clock this time: both rows are long due.
			if n, err := s.Sweep(ctx); err != nil || n != 2 {
				t.Fatalf("retry handled %d, %v", n, err)
			}
		})
	}
}

func TestDatabaseNow(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := open(t, b.NewURL(t))
			got, err := sweep.DatabaseNow(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(got); d < -2*time.Second || d > 2*time.Second {
				t.Fatalf("DatabaseNow = %v, %v from this clock", got, d)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	db := open(t, sqlstoretest.SQLiteBackend().NewURL(t))
	h := func(context.Context, sqlstore.Tx, string, time.Time) error { return nil }
	for _, job := range []sweep.Job{
		{Name: "x", Table: "items; DROP TABLE items", Key: "key", Due: "due_us", Handle: h},
		{Name: "", Table: "items", Key: "key", Due: "due_us", Handle: h},
		{Name: "x", Table: "items", Key: "key", Due: "due_us"},
		{Name: "x", Table: "items", Key: "key", Due: "due_us", Handle: h, HandleBatch: func(context.Context, sqlstore.Tx, []string, time.Time) error { return nil }},
	} {
		if _, err := sweep.New(db, job); err == nil {
			t.Errorf("New(%+v) succeeded", job)
		}
	}
}
