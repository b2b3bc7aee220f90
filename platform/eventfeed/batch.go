package eventfeed

import (
	"context"
	"fmt"
	"time"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// respBuffer is how many Watch responses a batch consumer's reader holds while a batch is
// being applied: up to 4 × 500 events in memory.
const respBuffer = 4

// followBatches reads one Watch stream until it fails or ctx ends, applying its events in
// batches. A reader goroutine receives the responses, so that the stream is read while a batch
// commits and the applier sees at once every response that has arrived.
func (c *Consumer) followBatches(ctx context.Context, bo *backoff) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Watch(ctx, &eventsv1.WatchRequest{AfterCursor: c.cursor.Load(), Types: c.types})
	if err != nil {
		return err
	}
	resps := make(chan *eventsv1.WatchResponse, respBuffer)
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case resps <- resp:
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		pending  []*eventsv1.Event
		progress *eventsv1.WatchResponse // the furthest progress received, noted once applied
	)
	take := func(resp *eventsv1.WatchResponse) {
		c.lag.received(resp, c.cursor.Load(), time.Now())
		// Only events past those already held: a feed sends each once, in cursor order, but
		// a batch must never hold an event twice whatever it is sent.
		top := c.cursor.Load()
		if len(pending) > 0 {
			top = max(top, pending[len(pending)-1].GetCursor())
		}
		for _, ev := range resp.GetEvents() {
			if ev.GetCursor() > top {
				pending = append(pending, ev)
				top = ev.GetCursor()
			}
		}
		if progress == nil || resp.GetProgressCursor() > progress.GetProgressCursor() {
			progress = &eventsv1.WatchResponse{ProgressCursor: resp.GetProgressCursor()}
		}
	}
	for {
		if len(pending) == 0 {
			select {
			case resp := <-resps:
				bo.reset()
				take(resp)
			case err := <-recvErr:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Everything that has already arrived joins the batch, up to its bound; nothing is
		// waited for.
	more:
		for len(pending) < c.maxBatch {
			select {
			case resp := <-resps:
				take(resp)
			default:
				break more
			}
		}
		batch := pending[:min(len(pending), c.maxBatch)]
		if len(batch) > 0 {
			c.lag.applying(batch[0])
			if err := c.applyBatch(ctx, batch); err != nil {
				return err
			}
		}
		pending = pending[len(batch):]
		if len(pending) == 0 {
			c.lag.applied(progress, c.cursor.Load(), time.Now())
			pending = nil // let the applied events go
		}
	}
}

// applyBatch runs the batch handler for the events of evs past the cursor until it succeeds or
// ctx ends.
func (c *Consumer) applyBatch(ctx context.Context, evs []*eventsv1.Event) error {
	evs = after(evs, c.cursor.Load())
	if len(evs) == 0 {
		return nil
	}
	last := evs[len(evs)-1]
	bo := c.newBackoff()
	for attempt := 1; ; attempt++ {
		var applied int
		err := c.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			applied = 0
			// Lock the stored cursor first, so that another instance of this consumer applying
			// the same events waits, then finds the cursor past some or all of them and leaves
			// those out.
			stored, err := c.lockCursor(ctx, tx)
			if err != nil {
				return err
			}
			todo := after(evs, stored)
			if len(todo) == 0 {
				return nil // already applied
			}
			tx.Queue(ctx, `UPDATE consumer_cursors SET cursor = $3, event_id = $4, updated_us = $5
				WHERE consumer = $1 AND source = $2`,
				c.name, c.source, last.GetCursor(), last.GetId(), time.Now().UnixMicro())
			applied = len(todo)
			return c.handleBatch(ctx, tx, todo)
		})
		if err == nil {
			c.cursor.Store(max(c.cursor.Load(), last.GetCursor()))
			c.lag.count(ctx, true, int64(applied))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.lag.count(ctx, false, 1)
		c.logger.ErrorContext(ctx, "event consumer: batch handler failed; retrying",
			"events", len(evs), "first_event_id", evs[0].GetId(), "first_cursor", evs[0].GetCursor(),
			"last_cursor", last.GetCursor(), "attempt", attempt, "error", err)
		if err := bo.wait(ctx); err != nil {
			return err
		}
	}
}

// lockCursor reads the stored cursor in tx and holds it until tx ends: PostgreSQL locks the
// row; SQLite's transaction holds the write lock from its start (BEGIN IMMEDIATE).
func (c *Consumer) lockCursor(ctx context.Context, tx sqlstore.Tx) (int64, error) {
	q := `SELECT cursor FROM consumer_cursors WHERE consumer = $1 AND source = $2`
	if tx.Dialect() == sqlstore.Postgres {
		q += ` FOR UPDATE`
	}
	var cursor int64
	if err := tx.QueryRow(ctx, q, c.name, c.source).Scan(&cursor); err != nil {
		return 0, fmt.Errorf("lock cursor: %w", err)
	}
	return cursor, nil
}

// after returns the events of evs (in cursor order) past cursor.
func after(evs []*eventsv1.Event, cursor int64) []*eventsv1.Event {
	for i, ev := range evs {
		if ev.GetCursor() > cursor {
			return evs[i:]
		}
	}
	return nil
}
