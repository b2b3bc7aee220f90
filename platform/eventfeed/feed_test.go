package eventfeed_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

func TestAppendInRolledBackTransactionEmitsNothing(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(fastPoll)), "")
			w := watch(t, dial(t, srv.addr), &eventsv1.WatchRequest{})

			errBoom := errors.New("boom")
			err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				if _, err := outbox.Append(ctx, tx, "partners/x", "450105", str("rolled back")); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("InTx = %v", err)
			}
			w.none(t, 300*time.Millisecond)
			committed := appendEach(t, db, outbox, str("committed"))

			got := w.next(t, 1)
			if got[0].GetId() != committed[0] || got[0].GetCursor() != 1 {
				t.Errorf("first event = %s cursor %d, want the committed one at cursor 1", got[0].GetId(), got[0].GetCursor())
			}
			w.none(t, 200*time.Millisecond)
			var n int64
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil || n != 1 {
				t.Errorf("events table has %d rows (%v), want 1", n, err)
			}
		})
	}
}

func TestWatchReplaysThenFollows(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := migrated(t, b)
			at := time.Date(2026, 11, 26, 8, 30, 0, 123456000, time.UTC)
			outbox := eventfeed.NewOutbox(eventfeed.WithClock(func() time.Time { return at }))
			// A poll interval of an hour: following can only work through the Outbox wake-up.
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(time.Hour)), "")
			client := dial(t, srv.addr)

			before := appendEach(t, db, outbox, str("e1"), str("e2"))
			// Two events in one transaction.
			var pair []string
			if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				for _, s := range []string{"e3", "e4"} {
					id, err := outbox.Append(ctx, tx, "partners/pair", "450105001", str(s))
					if err != nil {
						return err
					}
					pair = append(pair, id)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := append(before, pair...)

			w := watch(t, client, &eventsv1.WatchRequest{AfterCursor: 0})
			got := w.next(t, 4)
			if !slices.Equal(ids(got), want) {
				t.Fatalf("replay ids = %v, want %v", ids(got), want)
			}
			for i, ev := range got {
				if ev.GetCursor() != int64(i+1) {
					t.Errorf("event %d cursor = %d, want %d", i, ev.GetCursor(), i+1)
				}
				if ev.GetType() != stringType {
					t.Errorf("type = %q", ev.GetType())
				}
				if !ev.GetTime().AsTime().Equal(at) {
					t.Errorf("time = %v, want %v", ev.GetTime().AsTime(), at)
				}
				if s := payloadString(ev); s != fmt.Sprint("e", i+1) {
					t.Errorf("payload = %q", s)
				}
			}
			if got[2].GetSubject() != "partners/pair" || got[2].GetRegionCode() != "450105001" {
				t.Errorf("subject/region = %q/%q", got[2].GetSubject(), got[2].GetRegionCode())
			}

			// Follow: new commits arrive on the open stream.
			later := appendEach(t, db, outbox, str("e5"))
			if got := w.next(t, 1); got[0].GetId() != later[0] || got[0].GetCursor() != 5 {
				t.Errorf("followed event = %s cursor %d, want %s cursor 5", got[0].GetId(), got[0].GetCursor(), later[0])
			}

			// Resume from a cursor.
			w2 := watch(t, client, &eventsv1.WatchRequest{AfterCursor: 3})
			if got := w2.next(t, 2); !slices.Equal(ids(got), []string{pair[1], later[0]}) {
				t.Errorf("after 3: %v", ids(got))
			}
			w2.none(t, 100*time.Millisecond)
		})
	}
}

func TestWatchSendsLargeBacklogInBatches(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			const total = 2300 // more than one relay batch and several Watch batches
			var want []string
			if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				for i := range total {
					id, err := outbox.Append(ctx, tx, "partners/bulk", "450105", wrapperspb.Int64(int64(i)))
					if err != nil {
						return err
					}
					want = append(want, id)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			srv := serve(t, eventfeed.NewFeed(db, outbox), "")
			w := watch(t, dial(t, srv.addr), &eventsv1.WatchRequest{})
			got := w.next(t, total) // the watcher fails the stream on a batch over 500
			if !slices.Equal(ids(got), want) {
				t.Fatal("backlog delivered out of order or incomplete")
			}
			checkIncreasing(t, 0, got)
		})
	}
}

func TestWatchFiltersTypes(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(fastPoll)), "")
			client := dial(t, srv.addr)
			mixed := appendEach(t, db, outbox, str("s1"), wrapperspb.Int64(1), str("s2"), wrapperspb.Int64(2))

			ints := watch(t, client, &eventsv1.WatchRequest{Types: []string{int64Type}})
			if got := ints.next(t, 2); !slices.Equal(ids(got), []string{mixed[1], mixed[3]}) {
				t.Errorf("int64 events = %v, want %v", ids(got), []string{mixed[1], mixed[3]})
			}
			both := watch(t, client, &eventsv1.WatchRequest{Types: []string{int64Type, stringType}})
			if got := both.next(t, 4); !slices.Equal(ids(got), mixed) {
				t.Errorf("both types = %v", ids(got))
			}
			none := watch(t, client, &eventsv1.WatchRequest{Types: []string{"jiayuan.nothing.v1.Nothing"}})

			more := appendEach(t, db, outbox, str("s3"), wrapperspb.Int64(3))
			if got := ints.next(t, 1); got[0].GetId() != more[1] {
				t.Errorf("followed int64 event = %s, want %s", got[0].GetId(), more[1])
			}
			ints.none(t, 100*time.Millisecond)
			none.none(t, 100*time.Millisecond)
		})
	}
}

// TestWatchPollsForOtherProcesses writes through a second DB handle and Outbox, as another
// replica of the service would: no wake-up reaches the feed, the poll finds the events.
func TestWatchPollsForOtherProcesses(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.NewURL(t)
			feedDB := sqlstoretest.OpenURL(t, url)
			if err := feedDB.Migrate(testContext(t), "", nil); err != nil {
				t.Fatal(err)
			}
			writerDB := sqlstoretest.OpenURL(t, url)
			srv := serve(t, eventfeed.NewFeed(feedDB, eventfeed.NewOutbox(), eventfeed.WithPollInterval(fastPoll)), "")
			w := watch(t, dial(t, srv.addr), &eventsv1.WatchRequest{})
			want := appendEach(t, writerDB, eventfeed.NewOutbox(), str("elsewhere 1"), str("elsewhere 2"))
			if got := w.next(t, 2); !slices.Equal(ids(got), want) {
				t.Errorf("got %v, want %v", ids(got), want)
			}
		})
	}
}

func TestWatchSendsHeartbeatsWhenIdle(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithHeartbeat(50*time.Millisecond)), "")
			w := watch(t, dial(t, srv.addr), &eventsv1.WatchRequest{})
			w.none(t, 400*time.Millisecond)
			if n := w.heartbeats.Load(); n < 3 {
				t.Errorf("%d heartbeats in 400ms with a 50ms interval, want several", n)
			}
			// A heartbeat does not disturb delivery.
			want := appendEach(t, db, outbox, str("after heartbeats"))
			if got := w.next(t, 1); got[0].GetId() != want[0] {
				t.Errorf("got %s, want %s", got[0].GetId(), want[0])
			}
		})
	}
}

func TestFeedCloseEndsStreamsWithUnavailable(t *testing.T) {
	db := migrated(t, sqlstoretest.SQLiteBackend())
	srv := serve(t, eventfeed.NewFeed(db, nil), "")
	w := watch(t, dial(t, srv.addr), &eventsv1.WatchRequest{})
	time.Sleep(50 * time.Millisecond) // let the stream reach its wait
	srv.stop(t)
	select {
	case err := <-w.err:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("stream ended with %v, want UNAVAILABLE", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after Close")
	}
}

func TestWatchRejectsBadRequests(t *testing.T) {
	db := migrated(t, sqlstoretest.SQLiteBackend())
	srv := serve(t, eventfeed.NewFeed(db, nil), "")
	client := dial(t, srv.addr)
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("t", i)
	}
	for _, req := range []*eventsv1.WatchRequest{{AfterCursor: -1}, {Types: tooMany}} {
		stream, err := client.Watch(testContext(t), req)
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Watch(%v) = %v, want INVALID_ARGUMENT", req, err)
		}
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	db := migrated(t, sqlstoretest.SQLiteBackend())
	outbox := eventfeed.NewOutbox()
	tests := []struct {
		name    string
		subject string
		payload proto.Message
	}{
		{"nil payload", "partners/x", nil},
		{"empty subject", "", str("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.InTx(testContext(t), func(ctx context.Context, tx sqlstore.Tx) error {
				_, err := outbox.Append(ctx, tx, tt.subject, "450105", tt.payload)
				return err
			})
			if err == nil {
				t.Error("Append succeeded")
			}
		})
	}
}

// heldTx is a transaction kept open by a goroutine, driven step by step by the test.
type heldTx struct {
	steps   chan func(ctx context.Context, tx sqlstore.Tx) error
	stepErr chan error
	end     chan error // nil: commit; non-nil: roll back with it
	done    chan error
}

var errRollback = errors.New("roll back")

func beginHeld(t *testing.T, db *sqlstore.DB) *heldTx {
	t.Helper()
	h := &heldTx{
		steps: make(chan func(context.Context, sqlstore.Tx) error), stepErr: make(chan error),
		end: make(chan error), done: make(chan error, 1),
	}
	go func() {
		h.done <- db.InTx(testContext(t), func(ctx context.Context, tx sqlstore.Tx) error {
			for {
				select {
				case step := <-h.steps:
					h.stepErr <- step(ctx, tx)
				case err := <-h.end:
					return err
				case <-ctx.Done():
					// The test failed or ended early: do not hold a connection past it.
					return ctx.Err()
				}
			}
		})
	}()
	return h
}

func (h *heldTx) do(t *testing.T, step func(ctx context.Context, tx sqlstore.Tx) error) {
	t.Helper()
	h.steps <- step
	if err := <-h.stepErr; err != nil {
		t.Fatalf("step in held transaction: %v", err)
	}
}

func (h *heldTx) appendEvent(t *testing.T, o *eventfeed.Outbox, label string) string {
	t.Helper()
	var id string
	h.do(t, func(ctx context.Context, tx sqlstore.Tx) error {
		var err error
		id, err = o.Append(ctx, tx, "cases/"+label, "450105", str(label))
		return err
	})
	return id
}

// takeXID makes the transaction take its transaction id now, before it writes an event.
func (h *heldTx) takeXID(t *testing.T) {
	t.Helper()
	h.do(t, func(ctx context.Context, tx sqlstore.Tx) error {
		var xid string
		return tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid)
	})
}

func (h *heldTx) finish(t *testing.T, commit bool) {
	t.Helper()
	var want error
	if !commit {
		want = errRollback
	}
	h.end <- want
	if err := <-h.done; !errors.Is(err, want) && !(want == nil && err == nil) {
		t.Fatalf("end transaction: %v", err)
	}
}

// TestLateCommitIsNeverSkipped is the trap ARCHITECTURE.md names: two transactions write
// events and commit out of order while a watcher runs. The watcher must deliver every
// committed event exactly once with strictly increasing cursors, and must not deliver an
// event while a transaction that could still be ordered before it is in flight.
func TestLateCommitIsNeverSkipped(t *testing.T) {
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	tests := []struct {
		name string
		// xidFirstA: A takes its transaction id before B does (A orders first in the feed).
		// appendFirstA: A inserts its event before B (A gets the lower seq).
		xidFirstA, appendFirstA bool
		commitFirst             string // "A" or "B"
		rollbackA               bool
		// held: the committed event must not be delivered while the other is in flight.
		held bool
		want []string // delivery order of the events, by label
	}{
		{name: "lower xid and seq commits last", xidFirstA: true, appendFirstA: true, commitFirst: "B", held: true, want: []string{"A", "B"}},
		{name: "lower xid, higher seq commits last", xidFirstA: true, appendFirstA: false, commitFirst: "B", held: true, want: []string{"A", "B"}},
		{name: "lower xid, higher seq commits first", xidFirstA: true, appendFirstA: false, commitFirst: "A", held: false, want: []string{"A", "B"}},
		{name: "higher xid, lower seq commits first", xidFirstA: false, appendFirstA: true, commitFirst: "A", held: true, want: []string{"B", "A"}},
		{name: "in order", xidFirstA: true, appendFirstA: true, commitFirst: "A", held: false, want: []string{"A", "B"}},
		{name: "lower xid rolls back after higher commits", xidFirstA: true, appendFirstA: true, commitFirst: "B", rollbackA: true, held: true, want: []string{"B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(fastPoll)), "")
			client := dial(t, srv.addr)
			w := watch(t, client, &eventsv1.WatchRequest{})

			a, bb := beginHeld(t, db), beginHeld(t, db)
			first, second := a, bb
			if !tt.xidFirstA {
				first, second = bb, a
			}
			first.takeXID(t)
			second.takeXID(t)
			idOf := map[string]string{}
			if tt.appendFirstA {
				idOf["A"] = a.appendEvent(t, outbox, "A")
				idOf["B"] = bb.appendEvent(t, outbox, "B")
			} else {
				idOf["B"] = bb.appendEvent(t, outbox, "B")
				idOf["A"] = a.appendEvent(t, outbox, "A")
			}
			labelOf := map[string]string{idOf["A"]: "A", idOf["B"]: "B"}

			early, late := a, bb
			earlyLabel := "A"
			if tt.commitFirst == "B" {
				early, late, earlyLabel = bb, a, "B"
			}
			early.finish(t, true)

			var got []*eventsv1.Event
			if tt.held {
				// Many relay passes run meanwhile (20ms poll).
				w.none(t, 500*time.Millisecond)
			} else {
				got = append(got, w.next(t, 1)...)
				if l := labelOf[got[0].GetId()]; l != earlyLabel {
					t.Fatalf("delivered %s while the other transaction was open, want %s", l, earlyLabel)
				}
			}
			late.finish(t, !(tt.rollbackA && late == a))
			got = append(got, w.next(t, len(tt.want)-len(got))...)
			w.none(t, 300*time.Millisecond) // nothing twice

			var labels []string
			for _, ev := range got {
				labels = append(labels, labelOf[ev.GetId()])
			}
			if !slices.Equal(labels, tt.want) {
				t.Errorf("delivered %v, want %v", labels, tt.want)
			}
			checkIncreasing(t, 0, got)

			// A fresh replay gives the same events at the same cursors.
			replay := watch(t, client, &eventsv1.WatchRequest{}).next(t, len(got))
			for i := range got {
				if replay[i].GetId() != got[i].GetId() || replay[i].GetCursor() != got[i].GetCursor() {
					t.Errorf("replay %d = %s@%d, live %s@%d", i, replay[i].GetId(), replay[i].GetCursor(),
						got[i].GetId(), got[i].GetCursor())
				}
			}
		})
	}
}

// TestConcurrentWritersAreDeliveredOnce runs writers that commit in random order (and roll
// some back) while watchers follow the feed: every committed event arrives exactly once, in
// strictly increasing cursor order, and nothing rolled back arrives.
func TestConcurrentWritersAreDeliveredOnce(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			srv := serve(t, eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(fastPoll)), "")
			client := dial(t, srv.addr)
			watchers := []*watcher{
				watch(t, client, &eventsv1.WatchRequest{}),
				watch(t, client, &eventsv1.WatchRequest{}),
			}

			const writers, perWriter = 6, 15
			var (
				mu        sync.Mutex
				committed = map[string]bool{}
				wg        sync.WaitGroup
			)
			for wi := range writers {
				wg.Go(func() {
					for i := range perWriter {
						rollback := rand.IntN(5) == 0
						var txIDs []string
						err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
							txIDs = txIDs[:0] // a retried attempt starts over
							for k := range 1 + rand.IntN(3) {
								id, err := outbox.Append(ctx, tx, fmt.Sprintf("w/%d/%d/%d", wi, i, k), "450105", str("x"))
								if err != nil {
									return err
								}
								txIDs = append(txIDs, id)
								time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
							}
							if rollback {
								return errRollback
							}
							return nil
						})
						if err != nil && !errors.Is(err, errRollback) {
							t.Errorf("writer %d: %v", wi, err)
							return
						}
						if err == nil {
							mu.Lock()
							for _, id := range txIDs {
								committed[id] = true
							}
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()

			for wn, w := range watchers {
				got := w.next(t, len(committed))
				w.none(t, 200*time.Millisecond)
				checkIncreasing(t, 0, got)
				seen := map[string]bool{}
				for _, ev := range got {
					if !committed[ev.GetId()] {
						t.Errorf("watcher %d: event %s was not committed", wn, ev.GetId())
					}
					if seen[ev.GetId()] {
						t.Errorf("watcher %d: event %s delivered twice", wn, ev.GetId())
					}
					seen[ev.GetId()] = true
				}
			}
		})
	}
}
