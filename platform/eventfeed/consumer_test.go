package eventfeed_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// effectsMigrations give the consumer's database a table that records every effect, so the
// tests can count losses and duplicates.
var effectsMigrations = fstest.MapFS{
	"postgres/00001_effects.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE effects (event_id TEXT NOT NULL, cursor BIGINT NOT NULL, instance TEXT NOT NULL);
-- +goose Down
DROP TABLE effects;
`)},
	"sqlite/00001_effects.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE effects (event_id TEXT NOT NULL, cursor BIGINT NOT NULL, instance TEXT NOT NULL);
-- +goose Down
DROP TABLE effects;
`)},
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// producer is a service with an event feed served over gRPC.
type producer struct {
	db     *sqlstore.DB
	outbox *eventfeed.Outbox
	srv    *feedServer
	client eventsv1.EventFeedServiceClient
}

func newProducer(t *testing.T, b sqlstoretest.Backend) *producer {
	t.Helper()
	p := &producer{db: migrated(t, b), outbox: eventfeed.NewOutbox()}
	p.srv = serve(t, eventfeed.NewFeed(p.db, p.outbox, eventfeed.WithPollInterval(fastPoll)), "")
	p.client = dial(t, p.srv.addr)
	return p
}

func (p *producer) emit(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		out = append(out, appendEach(t, p.db, p.outbox, wrapperspb.Int64(int64(i)))...)
	}
	return out
}

func consumerDB(t *testing.T, b sqlstoretest.Backend) *sqlstore.DB {
	t.Helper()
	db := b.Open(t)
	if err := db.Migrate(testContext(t), "consumertest", effectsMigrations); err != nil {
		t.Fatal(err)
	}
	return db
}

// recordEffect is the handler body the tests share.
func recordEffect(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event, instance string) error {
	_, err := tx.Exec(ctx, `INSERT INTO effects (event_id, cursor, instance) VALUES ($1, $2, $3)`,
		ev.GetId(), ev.GetCursor(), instance)
	return err
}

// runConsumer runs c in the background and returns a stop function that cancels it and
// waits for Run to return.
func runConsumer(t *testing.T, c *eventfeed.Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitCursor(t *testing.T, c *eventfeed.Consumer, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Cursor() < want {
		if time.Now().After(deadline) {
			t.Fatalf("consumer cursor %d, want %d", c.Cursor(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkEffects verifies that the effects are exactly the events with cursors 1..n, each once.
func checkEffects(t *testing.T, db *sqlstore.DB, wantIDs []string) {
	t.Helper()
	rows, err := db.Query(testContext(t), `SELECT event_id, cursor FROM effects ORDER BY cursor`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var cursor int64
		if err := rows.Scan(&id, &cursor); err != nil {
			t.Fatal(err)
		}
		if cursor != int64(len(got)+1) {
			t.Errorf("effect %d has cursor %d (lost or duplicated event)", len(got)+1, cursor)
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, wantIDs) {
		t.Errorf("effects for %d events, want %d: %v", len(got), len(wantIDs), got)
	}
}

func storedCursor(t *testing.T, db *sqlstore.DB, name string) int64 {
	t.Helper()
	var cursor int64
	if err := db.QueryRow(testContext(t), `SELECT cursor FROM consumer_cursors WHERE consumer = $1 AND source = 'producer'`,
		name).Scan(&cursor); err != nil {
		t.Fatal(err)
	}
	return cursor
}

func TestConsumerResumesWithoutLossOrDuplicates(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			want := p.emit(t, 40)

			// First run: stopped from inside the handler after 15 effects, mid-stream.
			ctx, cancel := context.WithCancel(testContext(t))
			var applied atomic.Int64
			first, err := eventfeed.NewConsumer(cdb, "reporting", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
					if applied.Add(1) == 15 {
						cancel() // the commit of this effect may fail: it must then not count
					}
					return recordEffect(ctx, tx, ev, "first")
				}, eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Run(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			stopped := storedCursor(t, cdb, "reporting")
			if stopped < 14 || stopped > 15 || first.Cursor() != stopped {
				t.Fatalf("stored cursor %d, consumer cursor %d; want 14 or 15 and equal", stopped, first.Cursor())
			}
			checkEffects(t, cdb, want[:stopped])

			// Second run resumes after the stored cursor, then follows new events.
			second, err := eventfeed.NewConsumer(cdb, "reporting", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
					return recordEffect(ctx, tx, ev, "second")
				}, eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, second)
			waitCursor(t, second, 40)
			want = append(want, p.emit(t, 5)...)
			waitCursor(t, second, 45)
			stop()
			checkEffects(t, cdb, want)
			if got := storedCursor(t, cdb, "reporting"); got != 45 {
				t.Errorf("stored cursor = %d, want 45", got)
			}
		})
	}
}

func TestConsumerRetriesFailingEventAndNeverSkipsIt(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			want := p.emit(t, 5)
			var attempts atomic.Int64
			c, err := eventfeed.NewConsumer(cdb, "demand", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
					// The effect is written before the failure: the rollback must undo it.
					if err := recordEffect(ctx, tx, ev, "c"); err != nil {
						return err
					}
					if ev.GetCursor() == 3 && attempts.Add(1) <= 2 {
						return errors.New("downstream not ready")
					}
					return nil
				}, eventfeed.WithBackoff(5*time.Millisecond, 20*time.Millisecond), eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			waitCursor(t, c, 5)
			stop()
			if n := attempts.Load(); n != 3 {
				t.Errorf("event 3 attempted %d times, want 3", n)
			}
			checkEffects(t, cdb, want)
		})
	}
}

func TestConsumerReconnectsWhenSourceRestarts(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			cdb := consumerDB(t, b)
			want := p.emit(t, 3)
			c, err := eventfeed.NewConsumer(cdb, "escalation", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
					return recordEffect(ctx, tx, ev, "c")
				}, eventfeed.WithBackoff(10*time.Millisecond, 100*time.Millisecond), eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			waitCursor(t, c, 3)

			// The source goes away; events committed meanwhile wait in its outbox.
			addr := p.srv.addr
			p.srv.stop(t)
			want = append(want, p.emit(t, 4)...)
			time.Sleep(300 * time.Millisecond) // the consumer retries against a closed port
			if c.Cursor() != 3 {
				t.Fatalf("cursor moved to %d while the source was down", c.Cursor())
			}
			serve(t, eventfeed.NewFeed(p.db, p.outbox, eventfeed.WithPollInterval(fastPoll)), addr)
			waitCursor(t, c, 7)
			stop()
			checkEffects(t, cdb, want)
		})
	}
}

// TestConsumerInstancesShareOneCursor runs two instances of one consumer on one database (two
// replicas of a service): every event is applied once between them.
func TestConsumerInstancesShareOneCursor(t *testing.T) {
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
				c, err := eventfeed.NewConsumer(db, "contract", "producer", dial(t, p.srv.addr),
					func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
						return recordEffect(ctx, tx, ev, fmt.Sprint(i))
					}, eventfeed.WithConsumerLogger(quietLogger))
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

func TestConsumerTypes(t *testing.T) {
	b := sqlstoretest.SQLiteBackend()
	p := newProducer(t, b)
	cdb := consumerDB(t, b)
	ids := appendEach(t, p.db, p.outbox, str("skip"), wrapperspb.Int64(1), str("skip"), wrapperspb.Int64(2))
	c, err := eventfeed.NewConsumer(cdb, "partner", "producer", p.client,
		func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
			if ev.GetType() != int64Type {
				return fmt.Errorf("unexpected type %s", ev.GetType())
			}
			_, err := tx.Exec(ctx, `INSERT INTO effects (event_id, cursor, instance) VALUES ($1, $2, 'c')`,
				ev.GetId(), ev.GetCursor())
			return err
		}, eventfeed.WithTypes(int64Type), eventfeed.WithConsumerLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	waitCursor(t, c, 4)
	stop()
	var got []string
	rows, err := cdb.Query(testContext(t), `SELECT event_id FROM effects ORDER BY cursor`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if !slices.Equal(got, []string{ids[1], ids[3]}) {
		t.Errorf("effects %v, want %v", got, []string{ids[1], ids[3]})
	}
}

func TestNewConsumerValidates(t *testing.T) {
	db := sqlstoretest.SQLiteBackend().Open(t)
	client := eventsv1.NewEventFeedServiceClient(nil)
	h := func(context.Context, sqlstore.Tx, *eventsv1.Event) error { return nil }
	tests := []struct {
		name         string
		consumerName string
		source       string
		handler      eventfeed.Handler
		opts         []eventfeed.ConsumerOption
	}{
		{"no name", "", "producer", h, nil},
		{"no source", "c", "", h, nil},
		{"no handler", "c", "producer", nil, nil},
		{"bad backoff", "c", "producer", h, []eventfeed.ConsumerOption{eventfeed.WithBackoff(time.Second, time.Millisecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := eventfeed.NewConsumer(db, tt.consumerName, tt.source, client, tt.handler, tt.opts...); err == nil {
				t.Error("NewConsumer succeeded")
			}
		})
	}
}
