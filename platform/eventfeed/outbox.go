// Package eventfeed is the change feed between jiayuan services (ARCHITECTURE.md, "Events
// between services"): a transactional outbox that a service appends domain events to in the
// same transaction as the change, a Feed that serves them over jiayuan.events.v1.EventFeedService
// (replay from a cursor, then follow), and a Consumer that applies another service's events
// exactly once by storing its cursor in the same transaction as the effect: one event a
// transaction (NewConsumer), or all that have arrived, up to a bound (NewBatchConsumer).
//
// Delivery positions (cursors) are assigned after commit by a relay step, never at insert: on
// PostgreSQL a transaction that inserts first may commit last, so an insert-order sequence
// would let a reader that has seen event 42 skip event 41 forever. The relay numbers only
// events whose transactions have all ended (xid below the oldest running transaction id),
// in transaction-id order, under an advisory lock; once numbered, nothing can appear before
// them. SQLite serialises writers, so its relay simply numbers committed events in insert
// order.
//
// The tables live in the platform migrations applied by sqlstore.DB.Migrate.
package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Outbox appends events to a service's event table. One Outbox is shared by the service's
// writers and its Feed, so that a commit wakes the feed's watchers at once.
type Outbox struct {
	wake *notifier
	now  func() time.Time
}

// OutboxOption configures an Outbox.
type OutboxOption func(*Outbox)

// WithClock sets the clock that stamps events (tests).
func WithClock(now func() time.Time) OutboxOption {
	return func(o *Outbox) { o.now = now }
}

// NewOutbox returns an Outbox.
func NewOutbox(opts ...OutboxOption) *Outbox {
	o := &Outbox{wake: newNotifier(), now: time.Now}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Append records an event in tx: its type is the payload's full message name, subject the
// resource it is about (e.g. "partners/01J…") and regionCode the region of that resource. It
// returns the event id (a ULID). The event exists only if tx commits; watchers of this
// process are woken after the commit.
func (o *Outbox) Append(ctx context.Context, tx sqlstore.Tx, subject, regionCode string, payload proto.Message) (string, error) {
	if payload == nil {
		return "", errors.New("eventfeed: append: nil payload")
	}
	if subject == "" {
		return "", errors.New("eventfeed: append: empty subject")
	}
	packed, err := anypb.New(payload)
	if err != nil {
		return "", fmt.Errorf("eventfeed: append: pack payload: %w", err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(packed)
	if err != nil {
		return "", fmt.Errorf("eventfeed: append: encode payload: %w", err)
	}
	id := ulid.Make().String()
	typ := string(payload.ProtoReflect().Descriptor().FullName())
	// Queued: it goes to the database with the transaction's other writes, and a failure fails
	// the transaction.
	tx.Queue(ctx, `INSERT INTO events (id, type, subject, region_code, time_us, payload)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		id, typ, subject, regionCode, o.now().UnixMicro(), data)
	tx.AfterCommit(o.wake.notify)
	return id, nil
}

// notifier is a broadcast wake-up: wait returns a channel that is closed by the next notify.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}
