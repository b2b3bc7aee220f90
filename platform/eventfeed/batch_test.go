package eventfeed_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// skippedMigrations add a count of skipped events by type, as a consumer that meets types it
// does not know keeps one.
var skippedMigrations = fstest.MapFS{
	"postgres/00001_skipped.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE skipped (type TEXT PRIMARY KEY, count BIGINT NOT NULL);
-- +goose Down
DROP TABLE skipped;
`)},
	"sqlite/00001_skipped.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE skipped (type TEXT PRIMARY KEY, count BIGINT NOT NULL);
-- +goose Down
DROP TABLE skipped;
`)},
}

// recordBatch is the batch handler body the tests share: an effect per event.
func recordBatch(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event, instance string) error {
	for _, ev := range evs {
		if err := recordEffect(ctx, tx, ev, instance); err != nil {
			return err
		}
	}
	return nil
}

// batchSizes records the size of every batch a handler was given.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, n)
}

func (b *batchSizes) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// TestBatchConsumerAppliesBacklogInBatches applies a backlog in bounded batches, one cursor
// move each, then follows new events one by one as they come, each applied once.
func TestBatchConsumerAppliesBacklogInBatches(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			var want []string
			// A backlog written in a few large transactions (quicker than one each).
			for range 3 {
				err := p.db.InTx(testContext(t), func(ctx context.Context, tx sqlstore.Tx) error {
					for i := range 400 {
						id, err := p.outbox.Append(ctx, tx, fmt.Sprintf("partners/p%d", i), "450105", wrapperspb.Int64(int64(i)))
						if err != nil {
							return err
						}
						want = append(want, id)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			var sizes batchSizes
			c, err := eventfeed.NewBatchConsumer(cdb, "reporting", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
					sizes.add(len(evs))
					return recordBatch(ctx, tx, evs, "c")
				}, eventfeed.WithMaxBatch(300), eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			waitCursor(t, c, 1200)
			backlog := sizes.get()
			if len(backlog) >= 1200/2 || slices.Max(backlog) > 300 {
				t.Errorf("backlog of 1200 applied in batches %v: want few, none over 300", backlog)
			}
			if got := storedCursor(t, cdb, "reporting"); got != 1200 {
				t.Errorf("stored cursor %d, want 1200", got)
			}
			// Live: each new event is applied without waiting for others.
			for i := range 3 {
				want = append(want, p.emit(t, 1)...)
				waitCursor(t, c, int64(1201+i))
			}
			stop()
			checkEffects(t, cdb, want)
		})
	}
}

// TestBatchConsumerFailingApplyMidBatch fails a batch after its first events' effects are
// written: the whole batch rolls back and is retried, so nothing is lost or doubled.
func TestBatchConsumerFailingApplyMidBatch(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			want := p.emit(t, 12)
			var attempts atomic.Int64
			c, err := eventfeed.NewBatchConsumer(cdb, "demand", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
					for _, ev := range evs {
						if err := recordEffect(ctx, tx, ev, "c"); err != nil {
							return err
						}
						if ev.GetCursor() == 7 && attempts.Add(1) <= 2 {
							return errors.New("downstream not ready")
						}
					}
					return nil
				}, eventfeed.WithMaxBatch(5), eventfeed.WithBackoff(5*time.Millisecond, 20*time.Millisecond),
				eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			waitCursor(t, c, 12)
			stop()
			if n := attempts.Load(); n != 3 {
				t.Errorf("event 7 attempted %d times, want 3", n)
			}
			checkEffects(t, cdb, want)
			if got := storedCursor(t, cdb, "demand"); got != 12 {
				t.Errorf("stored cursor %d, want 12", got)
			}
		})
	}
}

// TestBatchConsumerStoppedMidBatchResumes stops the consumer while a batch is being applied (its
// commit may then fail), and a second consumer resumes after the stored cursor.
func TestBatchConsumerStoppedMidBatchResumes(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			want := p.emit(t, 40)
			ctx, cancel := context.WithCancel(testContext(t))
			first, err := eventfeed.NewBatchConsumer(cdb, "reporting", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
					if err := recordBatch(ctx, tx, evs, "first"); err != nil {
						return err
					}
					if evs[len(evs)-1].GetCursor() >= 16 {
						cancel() // mid-way through the feed, with this batch's effects written
					}
					return nil
				}, eventfeed.WithMaxBatch(8), eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Run(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			stopped := storedCursor(t, cdb, "reporting")
			if stopped < 8 || stopped >= 40 || first.Cursor() != stopped {
				t.Fatalf("stored cursor %d, consumer cursor %d; want a batch boundary short of 40, equal", stopped, first.Cursor())
			}
			checkEffects(t, cdb, want[:stopped])

			second, err := eventfeed.NewBatchConsumer(cdb, "reporting", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
					return recordBatch(ctx, tx, evs, "second")
				}, eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, second)
			waitCursor(t, second, 40)
			stop()
			checkEffects(t, cdb, want)
		})
	}
}

// TestBatchConsumerInstancesShareOneCursor runs two instances of one batch consumer on one
// database: every event is applied once between them, however their batches overlap.
func TestBatchConsumerInstancesShareOneCursor(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			url := b.NewURL(t)
			cdb1 := sqlstoretest.OpenURL(t, url)
			if err := cdb1.Migrate(testContext(t), "consumertest", effectsMigrations); err != nil {
				t.Fatal(err)
			}
			cdb2 := sqlstoretest.OpenURL(t, url)
			want := p.emit(t, 30)
			var consumers []*eventfeed.Consumer
			for i, db := range []*sqlstore.DB{cdb1, cdb2} {
				c, err := eventfeed.NewBatchConsumer(db, "contract", "producer", dial(t, p.srv.addr),
					func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
						return recordBatch(ctx, tx, evs, fmt.Sprint(i))
					}, eventfeed.WithMaxBatch(4+3*i), eventfeed.WithConsumerLogger(quietLogger))
				if err != nil {
					t.Fatal(err)
				}
				consumers = append(consumers, c)
				runConsumer(t, c)
			}
			want = append(want, p.emit(t, 10)...)
			for _, c := range consumers {
				waitCursor(t, c, 40)
			}
			checkEffects(t, cdb1, want)
		})
	}
}

// replayFeed sends its whole history on every Watch, whatever the cursor asked for, in
// overlapping responses: a feed replaying what the consumer already has.
type replayFeed struct {
	eventsv1.UnimplementedEventFeedServiceServer
	events []*eventsv1.Event
}

func (f *replayFeed) Watch(_ *eventsv1.WatchRequest, stream grpc.ServerStreamingServer[eventsv1.WatchResponse]) error {
	for from := 0; from < len(f.events); from += 3 {
		last := f.events[min(from+5, len(f.events))-1]
		resp := &eventsv1.WatchResponse{Events: f.events[from:min(from+5, len(f.events))], HeadCursor: last.GetCursor(), ProgressCursor: last.GetCursor()}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

// TestBatchConsumerReplayAndUnknownTypes follows a feed that sends events again (within one
// stream and on every reconnection) and carries types the handler does not know: known events
// take effect once, unknown ones are skipped and counted once, and a replay changes nothing.
func TestBatchConsumerReplayAndUnknownTypes(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			cdb := consumerDB(t, b)
			if err := cdb.Migrate(testContext(t), "batchtest", skippedMigrations); err != nil {
				t.Fatal(err)
			}
			feed := &replayFeed{}
			var want []string
			for i := range 20 {
				var m proto.Message = wrapperspb.Int64(int64(i))
				if i%4 == 1 {
					m = wrapperspb.Bool(true) // a type this consumer does not know
				}
				payload, err := anypb.New(m)
				if err != nil {
					t.Fatal(err)
				}
				ev := &eventsv1.Event{Cursor: int64(i + 1), Id: fmt.Sprintf("ev-%02d", i+1), Type: string(payload.MessageName()),
					Subject: "partners/p", RegionCode: "450105", Time: timestamppb.Now(), Payload: payload}
				feed.events = append(feed.events, ev)
				if i%4 != 1 {
					want = append(want, ev.GetId())
				}
			}
			client := dial(t, serveFeed(t, feed))
			handle := func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
				for _, ev := range evs {
					if ev.GetType() != int64Type {
						if _, err := tx.Exec(ctx, `INSERT INTO skipped (type, count) VALUES ($1, 1)
							ON CONFLICT (type) DO UPDATE SET count = skipped.count + 1`, ev.GetType()); err != nil {
							return err
						}
						continue
					}
					if err := recordEffect(ctx, tx, ev, "c"); err != nil {
						return err
					}
				}
				return nil
			}
			for run := range 2 {
				c, err := eventfeed.NewBatchConsumer(cdb, "reporting", "producer", client, handle,
					eventfeed.WithMaxBatch(7), eventfeed.WithConsumerLogger(quietLogger))
				if err != nil {
					t.Fatal(err)
				}
				stop := runConsumer(t, c)
				waitCursor(t, c, 20)
				time.Sleep(50 * time.Millisecond) // the rest of the replayed history arrives
				stop()

				var got []string
				rows, err := cdb.Query(testContext(t), `SELECT event_id FROM effects ORDER BY cursor`)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					got = append(got, id)
				}
				rows.Close()
				if !slices.Equal(got, want) {
					t.Errorf("run %d: effects %v, want %v", run, got, want)
				}
				var skipped int64
				if err := cdb.QueryRow(testContext(t), `SELECT count FROM skipped WHERE type = 'google.protobuf.BoolValue'`).Scan(&skipped); err != nil {
					t.Fatal(err)
				}
				if skipped != 5 {
					t.Errorf("run %d: %d events skipped, want 5", run, skipped)
				}
			}
		})
	}
}

// serveFeed serves an EventFeedService on a loopback port until the test ends.
func serveFeed(t *testing.T, feed eventsv1.EventFeedServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	eventsv1.RegisterEventFeedServiceServer(srv, feed)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestNewBatchConsumerValidates(t *testing.T) {
	db := sqlstoretest.SQLiteBackend().Open(t)
	client := eventsv1.NewEventFeedServiceClient(nil)
	h := func(context.Context, sqlstore.Tx, []*eventsv1.Event) error { return nil }
	tests := []struct {
		name    string
		handler eventfeed.BatchHandler
		opts    []eventfeed.ConsumerOption
	}{
		{"no handler", nil, nil},
		{"zero batch", h, []eventfeed.ConsumerOption{eventfeed.WithMaxBatch(0)}},
		{"negative batch", h, []eventfeed.ConsumerOption{eventfeed.WithMaxBatch(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := eventfeed.NewBatchConsumer(db, "c", "producer", client, tt.handler, tt.opts...); err == nil {
				t.Error("NewBatchConsumer succeeded")
			}
		})
	}
}
