package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Handler applies one event inside tx, a transaction on the consumer's own database that also
// records the consumer's new cursor: the effect and the cursor commit together or not at all.
// An error rolls both back and the event is retried.
type Handler func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error

// BatchHandler applies several events, in cursor order, inside one transaction tx that also
// records the consumer's new cursor (past the last of them): all the effects and the cursor
// commit together or not at all. An error rolls the whole batch back and it is retried. The
// events are those the consumer has not applied yet; the handler's effects must still be
// idempotent by event id, as a Handler's are.
type BatchHandler func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error

// Consumer follows another service's feed and applies its events, each exactly once.
type Consumer struct {
	db     *sqlstore.DB
	name   string
	source string
	client eventsv1.EventFeedServiceClient
	// Exactly one of handle and handleBatch is set (NewConsumer, NewBatchConsumer).
	handle      Handler
	handleBatch BatchHandler
	maxBatch    int
	types       []string
	minBackoff  time.Duration
	maxBackoff  time.Duration
	logger      *slog.Logger

	cursor atomic.Int64
	lag    lag
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*Consumer)

// WithTypes restricts the consumer to events of these payload types (full message names).
func WithTypes(types ...string) ConsumerOption {
	return func(c *Consumer) { c.types = append([]string(nil), types...) }
}

// WithBackoff sets the delays between reconnections and between retries of a failing event:
// starting at first, doubling up to limit (defaults 100ms and 30s), with jitter.
func WithBackoff(first, limit time.Duration) ConsumerOption {
	return func(c *Consumer) { c.minBackoff, c.maxBackoff = first, limit }
}

// WithMaxBatch bounds the events a batch consumer (NewBatchConsumer) applies in one
// transaction (default 500, a Watch response's most). It has no effect on NewConsumer.
func WithMaxBatch(n int) ConsumerOption {
	return func(c *Consumer) { c.maxBatch = n }
}

// WithConsumerLogger sets the logger (default slog.Default()).
func WithConsumerLogger(l *slog.Logger) ConsumerOption {
	return func(c *Consumer) { c.logger = l }
}

// NewConsumer returns a consumer called name (unique within db) of the feed served by client,
// which the caller has set up with the credentials the source requires. source names that
// feed (e.g. "demand"); the cursor is stored per (name, source) in db's consumer_cursors table.
func NewConsumer(db *sqlstore.DB, name, source string, client eventsv1.EventFeedServiceClient,
	handle Handler, opts ...ConsumerOption) (*Consumer, error) {
	if handle == nil {
		return nil, errors.New("eventfeed: consumer needs a db, a client and a handler")
	}
	return newConsumer(db, name, source, client, &Consumer{handle: handle}, opts)
}

// NewBatchConsumer is NewConsumer for a consumer that applies many events in one transaction:
// the events a Watch stream has delivered and that are not yet applied, up to WithMaxBatch, go
// to handle together, and the stored cursor moves once per batch. A batch never waits for
// more events to arrive: when the feed is quiet each event is applied as soon as it comes, so
// batching costs live freshness nothing, and when the consumer is behind (a rebuild, a burst)
// the batches grow and the cost of a transaction is shared by many events. Each event is still
// applied exactly once: a batch that fails is rolled back whole and retried, and events at or
// below the stored cursor (a replay, another instance of the consumer) are left out.
func NewBatchConsumer(db *sqlstore.DB, name, source string, client eventsv1.EventFeedServiceClient,
	handle BatchHandler, opts ...ConsumerOption) (*Consumer, error) {
	if handle == nil {
		return nil, errors.New("eventfeed: consumer needs a db, a client and a handler")
	}
	return newConsumer(db, name, source, client, &Consumer{handleBatch: handle}, opts)
}

func newConsumer(db *sqlstore.DB, name, source string, client eventsv1.EventFeedServiceClient,
	c *Consumer, opts []ConsumerOption) (*Consumer, error) {
	switch {
	case db == nil, client == nil:
		return nil, errors.New("eventfeed: consumer needs a db, a client and a handler")
	case name == "", source == "":
		return nil, errors.New("eventfeed: consumer needs a name and a source")
	}
	c.db, c.name, c.source, c.client = db, name, source, client
	c.maxBatch = maxBatch
	c.minBackoff, c.maxBackoff = 100*time.Millisecond, 30*time.Second
	c.logger = slog.Default()
	for _, opt := range opts {
		opt(c)
	}
	if c.minBackoff <= 0 || c.maxBackoff < c.minBackoff {
		return nil, fmt.Errorf("eventfeed: invalid backoff %v..%v", c.minBackoff, c.maxBackoff)
	}
	if c.maxBatch <= 0 {
		return nil, fmt.Errorf("eventfeed: invalid batch size %d", c.maxBatch)
	}
	c.logger = c.logger.With("consumer", name, "source", source)
	return c, nil
}

// Cursor returns the cursor of the last event applied (or skipped as already applied).
func (c *Consumer) Cursor() int64 { return c.cursor.Load() }

// Run follows the feed until ctx ends, and then returns ctx's error. It resumes after the
// stored cursor, reconnects with capped backoff when the stream fails, and retries an event
// whose handler fails until it succeeds: it never skips one.
func (c *Consumer) Run(ctx context.Context) error {
	stop, err := c.lag.register(c)
	if err != nil {
		return err
	}
	defer stop()
	bo := c.newBackoff()
	for {
		err := c.loadCursor(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.logger.WarnContext(ctx, "event consumer: cannot read its cursor", "error", err)
		if err := bo.wait(ctx); err != nil {
			return err
		}
	}
	follow := c.follow
	if c.handleBatch != nil {
		follow = c.followBatches
	}
	for {
		err := follow(ctx, bo)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.logger.WarnContext(ctx, "event consumer: stream ended; reconnecting",
			"cursor", c.cursor.Load(), "error", err)
		if err := bo.wait(ctx); err != nil {
			return err
		}
	}
}

func (c *Consumer) loadCursor(ctx context.Context) error {
	var cursor int64
	err := c.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO consumer_cursors (consumer, source, cursor, event_id, updated_us)
			VALUES ($1, $2, 0, '', $3) ON CONFLICT (consumer, source) DO NOTHING`,
			c.name, c.source, time.Now().UnixMicro()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT cursor FROM consumer_cursors WHERE consumer = $1 AND source = $2`,
			c.name, c.source).Scan(&cursor)
	})
	if err != nil {
		return fmt.Errorf("load cursor: %w", err)
	}
	c.cursor.Store(cursor)
	return nil
}

// follow reads one Watch stream until it fails or ctx ends.
func (c *Consumer) follow(ctx context.Context, bo *backoff) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Watch(ctx, &eventsv1.WatchRequest{AfterCursor: c.cursor.Load(), Types: c.types})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		bo.reset()
		c.lag.received(resp, c.cursor.Load(), time.Now())
		for _, ev := range resp.GetEvents() {
			c.lag.applying(ev)
			if err := c.apply(ctx, ev); err != nil {
				return err
			}
		}
		c.lag.applied(resp, c.cursor.Load(), time.Now())
	}
}

// apply runs the handler for ev until it succeeds or ctx ends.
func (c *Consumer) apply(ctx context.Context, ev *eventsv1.Event) error {
	if ev.GetCursor() <= c.cursor.Load() {
		return nil
	}
	bo := c.newBackoff()
	for attempt := 1; ; attempt++ {
		err := c.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			// Advance the stored cursor first: it row-locks the cursor, so that another
			// instance of this consumer applying the same event waits, then finds the cursor
			// already past it and skips the event.
			n, err := tx.Exec(ctx, `UPDATE consumer_cursors SET cursor = $3, event_id = $4, updated_us = $5
				WHERE consumer = $1 AND source = $2 AND cursor < $3`,
				c.name, c.source, ev.GetCursor(), ev.GetId(), time.Now().UnixMicro())
			if err != nil {
				return fmt.Errorf("store cursor: %w", err)
			}
			if n == 0 {
				return nil // already applied
			}
			return c.handle(ctx, tx, ev)
		})
		if err == nil {
			c.cursor.Store(ev.GetCursor())
			c.lag.count(ctx, true, 1)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.lag.count(ctx, false, 1)
		c.logger.ErrorContext(ctx, "event consumer: handler failed; retrying",
			"event_id", ev.GetId(), "event_type", ev.GetType(), "cursor", ev.GetCursor(),
			"attempt", attempt, "error", err)
		if err := bo.wait(ctx); err != nil {
			return err
		}
	}
}

func (c *Consumer) newBackoff() *backoff {
	return &backoff{min: c.minBackoff, max: c.maxBackoff, next: c.minBackoff}
}

// backoff is a capped exponential delay with jitter.
type backoff struct {
	min, max, next time.Duration
}

func (b *backoff) reset() { b.next = b.min }

// wait sleeps for the next delay (between half and all of it) or until ctx ends.
func (b *backoff) wait(ctx context.Context) error {
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
