package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jiayuan/jiayuan/platform/auth"
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
// under idempotency.Create and returns the response.
func createThing(ctx context.Context, db *sqlstore.DB, requestID, name string, runs *atomic.Int64) (*wrapperspb.StringValue, bool, error) {
	return idempotency.Create(ctx, db, method, requestID, wrapperspb.String(name),
		func(ctx context.Context, tx sqlstore.Tx) (*wrapperspb.StringValue, error) {
			runs.Add(1)
			id := "things/" + ulid.Make().String()
			tx.Queue(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, id, name)
			return wrapperspb.String(id), nil
		})
}

func countThings(t *testing.T, db *sqlstore.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(testContext(t), `SELECT COUNT(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreate(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)

			t.Run("replay returns the first result and keeps nothing of the second", func(t *testing.T) {
				ctx := testContext(t)
				var runs atomic.Int64
				before := countThings(t, db)
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
				if n := countThings(t, db) - before; n != 1 {
					t.Errorf("%d things written, want 1", n)
				}
			})

			t.Run("same id with different content is refused", func(t *testing.T) {
				ctx := testContext(t)
				var runs atomic.Int64
				if _, _, err := createThing(ctx, db, "req-reused", "beta", &runs); err != nil {
					t.Fatal(err)
				}
				before := countThings(t, db)
				_, _, err := createThing(ctx, db, "req-reused", "gamma", &runs)
				if !errors.Is(err, idempotency.ErrRequestIDReused) {
					t.Errorf("got %v, want ErrRequestIDReused", err)
				}
				if countThings(t, db) != before {
					t.Errorf("the refused request wrote a thing")
				}
			})

			t.Run("ids are scoped by method", func(t *testing.T) {
				ctx := testContext(t)
				resp, replayed, err := idempotency.Create(ctx, db, "/other.v1.Service/Create", "req-replay", wrapperspb.String("alpha"),
					func(context.Context, sqlstore.Tx) (*wrapperspb.StringValue, error) {
						return wrapperspb.String("other"), nil
					})
				if err != nil || replayed || resp.GetValue() != "other" {
					t.Errorf("other method: resp=%v replayed=%v err=%v", resp, replayed, err)
				}
			})

			t.Run("ids are the caller's own", func(t *testing.T) {
				alice := auth.WithPrincipal(testContext(t), auth.Principal{Subject: "alice", Roles: []auth.Role{auth.RoleResident}})
				bob := auth.WithPrincipal(testContext(t), auth.Principal{Subject: "bob", Roles: []auth.Role{auth.RoleResident}})
				var runs atomic.Int64
				before := countThings(t, db)
				first, _, err := createThing(alice, db, "req-shared", "kappa", &runs)
				if err != nil {
					t.Fatal(err)
				}
				// Bob replays Alice's id with Alice's content: he gets a thing of his own, never hers.
				theirs, replayed, err := createThing(bob, db, "req-shared", "kappa", &runs)
				if err != nil || replayed {
					t.Fatalf("bob: replayed=%v err=%v", replayed, err)
				}
				if theirs.GetValue() == first.GetValue() {
					t.Errorf("bob got alice's thing %q", first.GetValue())
				}
				// Each still replays their own.
				for _, c := range []struct {
					ctx  context.Context
					want string
				}{{alice, first.GetValue()}, {bob, theirs.GetValue()}} {
					again, replayed, err := createThing(c.ctx, db, "req-shared", "kappa", &runs)
					if err != nil || !replayed || again.GetValue() != c.want {
						t.Errorf("replay: got %q replayed=%v err=%v, want %q", again.GetValue(), replayed, err, c.want)
					}
				}
				if n := countThings(t, db) - before; n != 2 {
					t.Errorf("%d things written, want 2", n)
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

			t.Run("a failed attempt leaves the id free", func(t *testing.T) {
				ctx := testContext(t)
				errInvalid := errors.New("invalid thing")
				_, _, err := idempotency.Create(ctx, db, method, "req-failed", wrapperspb.String("zeta"),
					func(context.Context, sqlstore.Tx) (*wrapperspb.StringValue, error) { return nil, errInvalid })
				if !errors.Is(err, errInvalid) {
					t.Fatalf("Create = %v, want the fn error", err)
				}
				var runs atomic.Int64
				if _, replayed, err := createThing(ctx, db, "req-failed", "zeta", &runs); err != nil || replayed || runs.Load() != 1 {
					t.Errorf("retry: replayed=%v err=%v runs=%d", replayed, err, runs.Load())
				}
			})

			t.Run("a failing queued write rolls the key back with it", func(t *testing.T) {
				ctx := testContext(t)
				if _, err := db.Exec(ctx, `INSERT INTO things (id, name) VALUES ('things/taken', 'x')`); err != nil {
					t.Fatal(err)
				}
				_, _, err := idempotency.Create(ctx, db, method, "req-rollback", wrapperspb.String("epsilon"),
					func(ctx context.Context, tx sqlstore.Tx) (*wrapperspb.StringValue, error) {
						tx.Queue(ctx, `INSERT INTO things (id, name) VALUES ('things/taken', 'epsilon')`)
						return wrapperspb.String("things/taken"), nil
					})
				if !errors.Is(err, sqlstore.ErrAlreadyExists) {
					t.Fatalf("Create = %v, want ErrAlreadyExists", err)
				}
				var runs atomic.Int64
				resp, replayed, err := createThing(ctx, db, "req-rollback", "epsilon", &runs)
				if err != nil || replayed || resp.GetValue() == "things/taken" {
					t.Fatalf("retry after rollback: resp=%v replayed=%v err=%v", resp, replayed, err)
				}
			})

			t.Run("a repeat that fn refuses still gets the first response", func(t *testing.T) {
				ctx := testContext(t)
				// fn refuses a second thing of the same name, as a create refuses a second
				// organisation with the same credit code.
				uniqueName := func(ctx context.Context, tx sqlstore.Tx) (*wrapperspb.StringValue, error) {
					var n int64
					if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM things WHERE name = 'iota'`).Scan(&n); err != nil {
						return nil, err
					}
					if n > 0 {
						return nil, errors.New("a thing called iota exists")
					}
					id := "things/" + ulid.Make().String()
					tx.Queue(ctx, `INSERT INTO things (id, name) VALUES ($1, 'iota')`, id)
					return wrapperspb.String(id), nil
				}
				first, _, err := idempotency.Create(ctx, db, method, "req-refused", wrapperspb.String("iota"), uniqueName)
				if err != nil {
					t.Fatal(err)
				}
				again, replayed, err := idempotency.Create(ctx, db, method, "req-refused", wrapperspb.String("iota"), uniqueName)
				if err != nil || !replayed || again.GetValue() != first.GetValue() {
					t.Fatalf("repeat: resp=%v replayed=%v err=%v; want %v replayed", again, replayed, err, first)
				}
			})

			t.Run("empty response replays as an empty message", func(t *testing.T) {
				ctx := testContext(t)
				req, err := structpb.NewStruct(map[string]any{"name": "eta", "tags": []any{"a", "b"}})
				if err != nil {
					t.Fatal(err)
				}
				for i, wantReplay := range []bool{false, true} {
					resp, replayed, err := idempotency.Create(ctx, db, method, "req-empty", req,
						func(context.Context, sqlstore.Tx) (*emptypb.Empty, error) { return &emptypb.Empty{}, nil })
					if err != nil || replayed != wantReplay || resp == nil {
						t.Errorf("call %d: replayed=%v resp=%v err=%v", i, replayed, resp, err)
					}
				}
			})
		})
	}
}

// TestCreateConcurrentDuplicates sends the same request 20 times at once: one resource is
// created and every caller gets its response.
func TestCreateConcurrentDuplicates(t *testing.T) {
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
			if replays.Load() != callers-1 {
				t.Errorf("%d replays; want %d", replays.Load(), callers-1)
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

// TestExpire: the expirer forgets a request id once it is older than the retention, and keeps
// a recent one.
func TestExpire(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openDB(t, b)
			var runs atomic.Int64
			for _, id := range []string{"req-stale", "req-fresh"} {
				if _, _, err := createThing(ctx, db, id, "kappa", &runs); err != nil {
					t.Fatal(err)
				}
			}
			// Age one key by two days.
			if _, err := db.Exec(ctx, `UPDATE idempotency_keys SET created_us = created_us - $1 WHERE request_id = 'req-stale'`,
				(48 * time.Hour).Microseconds()); err != nil {
				t.Fatal(err)
			}
			ectx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				idempotency.Expire(ectx, db, 24*time.Hour, 10*time.Millisecond, slog.New(slog.DiscardHandler))
			}()
			keys := func() []string {
				rows, err := db.Query(ctx, `SELECT request_id FROM idempotency_keys ORDER BY request_id`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					out = append(out, id)
				}
				return out
			}
			deadline := time.Now().Add(10 * time.Second)
			for slices.Contains(keys(), "req-stale") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			<-done
			if got := keys(); !slices.Equal(got, []string{"req-fresh"}) {
				t.Fatalf("keys left: %v, want [req-fresh]", got)
			}
		})
	}
}
