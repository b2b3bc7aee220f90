package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

const method = "/jiayuan.test.v1.ThingService/CreateThing"

var thingsMigrations = fstest.MapFS{
	"postgres/00001_things.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE things (id TEXT PRIMARY KEY, name TEXT NOT NULL);
-- +goose Down
DROP TABLE things;
`)},
	"sqlite/00001_things.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE things (id TEXT PRIMARY KEY, name TEXT NOT NULL);
-- +goose Down
DROP TABLE things;
`)},
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t *testing.T, b sqlstoretest.Backend) *sqlstore.DB {
	t.Helper()
	db := b.Open(t)
	if err := db.Migrate(testContext(t), "things", thingsMigrations); err != nil {
		t.Fatal(err)
	}
	return db
}

// createThing is a create RPC's store step: it writes a thing (a new id each time it runs)
// under idempotency.Do and returns the response.
func createThing(ctx context.Context, db *sqlstore.DB, requestID, name string, runs *atomic.Int64) (*wrapperspb.StringValue, bool, error) {
	var (
		resp     *wrapperspb.StringValue
		replayed bool
	)
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		var err error
		resp, replayed, err = idempotency.Do(ctx, tx, method, requestID, wrapperspb.String(name),
			func() (*wrapperspb.StringValue, error) {
				runs.Add(1)
				id := "things/" + ulid.Make().String()
				if _, err := tx.Exec(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, id, name); err != nil {
					return nil, err
				}
				return wrapperspb.String(id), nil
			})
		return err
	})
	return resp, replayed, err
}

func countThings(t *testing.T, db *sqlstore.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(testContext(t), `SELECT COUNT(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDo(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)

			t.Run("replay returns the first result", func(t *testing.T) {
				ctx := testContext(t)
				var runs atomic.Int64
				first, replayed, err := createThing(ctx, db, "req-replay", "alpha", &runs)
				if err != nil || replayed {
					t.Fatalf("first call: replayed=%v err=%v", replayed, err)
				}
				again, replayed, err := createThing(ctx, db, "req-replay", "alpha", &runs)
				if err != nil || !replayed {
					t.Fatalf("retry: replayed=%v err=%v", replayed, err)
				}
				if again.GetValue() != first.GetValue() {
					t.Errorf("retry returned %q, first %q", again.GetValue(), first.GetValue())
				}
				if runs.Load() != 1 {
					t.Errorf("fn ran %d times, want 1", runs.Load())
				}
			})

			t.Run("same id with different content is refused", func(t *testing.T) {
				ctx := testContext(t)
				var runs atomic.Int64
				if _, _, err := createThing(ctx, db, "req-reused", "beta", &runs); err != nil {
					t.Fatal(err)
				}
				_, _, err := createThing(ctx, db, "req-reused", "gamma", &runs)
				if !errors.Is(err, idempotency.ErrRequestIDReused) {
					t.Errorf("got %v, want ErrRequestIDReused", err)
				}
				if runs.Load() != 1 {
					t.Errorf("fn ran %d times, want 1", runs.Load())
				}
			})

			t.Run("ids are scoped by method", func(t *testing.T) {
				ctx := testContext(t)
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					resp, replayed, err := idempotency.Do(ctx, tx, "/other.v1.Service/Create", "req-replay",
						wrapperspb.String("alpha"), func() (*wrapperspb.StringValue, error) { return wrapperspb.String("other"), nil })
					if err == nil && (replayed || resp.GetValue() != "other") {
						t.Errorf("other method: replayed=%v resp=%v", replayed, resp)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			})

			t.Run("empty request id runs every time", func(t *testing.T) {
				ctx := testContext(t)
				var runs atomic.Int64
				for range 2 {
					if _, replayed, err := createThing(ctx, db, "", "delta", &runs); err != nil || replayed {
						t.Fatalf("replayed=%v err=%v", replayed, err)
					}
				}
				if runs.Load() != 2 {
					t.Errorf("fn ran %d times, want 2", runs.Load())
				}
			})

			t.Run("rolled back first attempt leaves the id free", func(t *testing.T) {
				ctx := testContext(t)
				before := countThings(t, db)
				errLater := errors.New("a later step failed")
				var runs atomic.Int64
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					_, _, err := idempotency.Do(ctx, tx, method, "req-rollback", wrapperspb.String("epsilon"),
						func() (*wrapperspb.StringValue, error) {
							runs.Add(1)
							_, err := tx.Exec(ctx, `INSERT INTO things (id, name) VALUES ('things/rolled-back', 'epsilon')`)
							return wrapperspb.String("things/rolled-back"), err
						})
					if err != nil {
						return err
					}
					return errLater
				})
				if !errors.Is(err, errLater) {
					t.Fatalf("InTx = %v", err)
				}
				resp, replayed, err := createThing(ctx, db, "req-rollback", "epsilon", &runs)
				if err != nil || replayed || resp.GetValue() == "things/rolled-back" {
					t.Fatalf("retry after rollback: resp=%v replayed=%v err=%v", resp, replayed, err)
				}
				if runs.Load() != 2 || countThings(t, db) != before+1 {
					t.Errorf("fn ran %d times, things grew by %d; want 2 and 1", runs.Load(), countThings(t, db)-before)
				}
			})

			t.Run("failed fn leaves the id free even if the caller commits", func(t *testing.T) {
				ctx := testContext(t)
				errInvalid := errors.New("invalid thing")
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					_, _, err := idempotency.Do(ctx, tx, method, "req-failed", wrapperspb.String("zeta"),
						func() (*wrapperspb.StringValue, error) { return nil, errInvalid })
					if !errors.Is(err, errInvalid) {
						t.Errorf("Do = %v, want the fn error", err)
					}
					return nil // commit anyway
				})
				if err != nil {
					t.Fatal(err)
				}
				var runs atomic.Int64
				if _, replayed, err := createThing(ctx, db, "req-failed", "zeta", &runs); err != nil || replayed || runs.Load() != 1 {
					t.Errorf("retry: replayed=%v err=%v runs=%d", replayed, err, runs.Load())
				}
			})

			t.Run("empty response replays as an empty message", func(t *testing.T) {
				ctx := testContext(t)
				req, err := structpb.NewStruct(map[string]any{"name": "eta", "tags": []any{"a", "b"}})
				if err != nil {
					t.Fatal(err)
				}
				for i, wantReplay := range []bool{false, true} {
					err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
						resp, replayed, err := idempotency.Do(ctx, tx, method, "req-empty", req,
							func() (*emptypb.Empty, error) { return &emptypb.Empty{}, nil })
						if err == nil && (replayed != wantReplay || resp == nil) {
							t.Errorf("call %d: replayed=%v resp=%v", i, replayed, resp)
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				}
			})
		})
	}
}

// TestDoConcurrentDuplicates sends the same request 20 times at once: one resource is
// created and every caller gets its response.
func TestDoConcurrentDuplicates(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openDB(t, b)
			const callers = 20
			var (
				runs      atomic.Int64
				replays   atomic.Int64
				wg        sync.WaitGroup
				start     = make(chan struct{})
				responses = make([]string, callers)
			)
			for i := range callers {
				wg.Go(func() {
					<-start
					resp, replayed, err := createThing(ctx, db, "req-concurrent", "theta", &runs)
					if err != nil {
						t.Errorf("caller %d: %v", i, err)
						return
					}
					if replayed {
						replays.Add(1)
					}
					responses[i] = resp.GetValue()
				})
			}
			close(start)
			wg.Wait()
			if n := countThings(t, db); n != 1 {
				t.Errorf("%d things created, want 1", n)
			}
			if runs.Load() != 1 || replays.Load() != callers-1 {
				t.Errorf("fn ran %d times, %d replays; want 1 and %d", runs.Load(), replays.Load(), callers-1)
			}
			for i, r := range responses {
				if r == "" || r != responses[0] {
					t.Errorf("caller %d got %q, caller 0 got %q", i, r, responses[0])
				}
			}
		})
	}
}

func TestPurge(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openDB(t, b)
			var runs atomic.Int64
			if _, _, err := createThing(ctx, db, "req-old", "iota", &runs); err != nil {
				t.Fatal(err)
			}
			if n, err := idempotency.Purge(ctx, db, time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Errorf("Purge(an hour ago) = %d, %v; want 0", n, err)
			}
			if n, err := idempotency.Purge(ctx, db, time.Now().Add(time.Second)); err != nil || n != 1 {
				t.Errorf("Purge(now) = %d, %v; want 1", n, err)
			}
			if _, replayed, err := createThing(ctx, db, "req-old", "iota", &runs); err != nil || replayed || runs.Load() != 2 {
				t.Errorf("after purge: replayed=%v err=%v runs=%d", replayed, err, runs.Load())
			}
		})
	}
}
