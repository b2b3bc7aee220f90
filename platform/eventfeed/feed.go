package eventfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

const (
	// maxBatch bounds the events in one WatchResponse.
	maxBatch = 500
	// relayBatch bounds the events one relay transaction numbers.
	relayBatch = 1000
	// maxTypes mirrors the WatchRequest validation rule.
	maxTypes = 50
	// relayLockID is the PostgreSQL advisory lock key that serialises relays of one database.
	relayLockID int64 = 0x6a6979_72656c79 // "jiy" "rely"
)

// Feed serves a service's events: it implements eventsv1.EventFeedServiceServer.
type Feed struct {
	eventsv1.UnimplementedEventFeedServiceServer

	db        *sqlstore.DB
	wake      *notifier // nil: poll only
	poll      time.Duration
	heartbeat time.Duration
	logger    *slog.Logger
	tree      *region.Tree

	done      chan struct{}
	closeOnce sync.Once
}

// FeedOption configures a Feed.
type FeedOption func(*Feed)

// WithPollInterval sets how often an idle Watch looks for events committed by other processes
// (default 250ms). Commits through this process's Outbox wake watchers at once.
func WithPollInterval(d time.Duration) FeedOption {
	return func(f *Feed) { f.poll = d }
}

// WithHeartbeat sets after how long without events a Watch sends an empty response (default
// 15s), so consumers and proxies see the stream is alive.
func WithHeartbeat(d time.Duration) FeedOption {
	return func(f *Feed) { f.heartbeat = d }
}

// WithScope sets the region tree a caller's scope is read against: a caller who is not a
// system principal is sent only the events whose region code lies within its scope. Without
// it such a caller is sent no events at all.
func WithScope(tree *region.Tree) FeedOption {
	return func(f *Feed) { f.tree = tree }
}

// WithFeedLogger sets the logger (default slog.Default()).
func WithFeedLogger(l *slog.Logger) FeedOption {
	return func(f *Feed) { f.logger = l }
}

// NewFeed returns a Feed over db's event table. outbox is the Outbox this process appends
// with, whose commits wake the watchers; it may be nil when events are written by other
// processes only.
func NewFeed(db *sqlstore.DB, outbox *Outbox, opts ...FeedOption) *Feed {
	f := &Feed{
		db:        db,
		poll:      250 * time.Millisecond,
		heartbeat: 15 * time.Second,
		logger:    slog.Default(),
		done:      make(chan struct{}),
	}
	if outbox != nil {
		f.wake = outbox.wake
	}
	for _, opt := range opts {
		opt(f)
	}
	return f
}

// Close ends every Watch stream with UNAVAILABLE, so that grpc.Server.GracefulStop, which
// waits for streams, can return; clients reconnect elsewhere or later. Call it before
// GracefulStop.
func (f *Feed) Close() {
	f.closeOnce.Do(func() { close(f.done) })
}

// Watch implements eventsv1.EventFeedServiceServer: it sends every event after
// req.after_cursor in cursor order, in batches, then follows new events until the client goes
// away or the Feed is closed.
//
// Events are filtered by the caller's region scope (see WithScope): an admin of one community
// sees that community's events only; system principals (the services consuming each other's
// feeds) see all. A call with no principal in its context is one the server did not
// authenticate at all (tests, in-process use) and is not filtered.
func (f *Feed) Watch(req *eventsv1.WatchRequest, stream grpc.ServerStreamingServer[eventsv1.WatchResponse]) error {
	ctx := stream.Context()
	visible := f.visibleTo(ctx)
	if req.GetAfterCursor() < 0 {
		return status.Error(codes.InvalidArgument, "after_cursor must not be negative")
	}
	if len(req.GetTypes()) > maxTypes {
		return status.Errorf(codes.InvalidArgument, "types: at most %d", maxTypes)
	}
	after, types := req.GetAfterCursor(), req.GetTypes()
	// sent is the progress the consumer was last told (WatchResponse.progress_cursor), at
	// sentAt.
	sent, sentAt := after, time.Time{}

	poll := time.NewTimer(f.poll)
	defer poll.Stop()
	heartbeat := time.NewTimer(f.heartbeat)
	defer heartbeat.Stop()

	for {
		// Take the wake-up channel before reading, so a commit that lands after the read
		// still wakes this loop.
		var wake <-chan struct{}
		if f.wake != nil {
			wake = f.wake.wait()
		}
		if err := f.relay(ctx); err != nil {
			return f.statusErr(ctx, "position events", err)
		}
		// The head before the reads: every event up to it is positioned, so once the reads
		// below come back short, every selected event up to it has been sent.
		head, err := f.head(ctx)
		if err != nil {
			return f.statusErr(ctx, "read the head", err)
		}
		for {
			events, err := f.read(ctx, after, types)
			if err != nil {
				return f.statusErr(ctx, "read events", err)
			}
			n := len(events)
			if n > 0 {
				// Past the whole batch, shown or not, so out-of-scope events are not read again.
				after = events[n-1].GetCursor()
			}
			drained := n < maxBatch
			progress := after
			if drained {
				progress = max(after, head)
			}
			if visible != nil {
				events = slices.DeleteFunc(events, func(ev *eventsv1.Event) bool { return !visible(ev.GetRegionCode()) })
			}
			// Events, or only a bookmark when the feed moved on with none this watch selects
			// (other types, other regions): the consumer then knows it is not behind. A busy
			// feed wakes its watchers at every commit; bookmarks alone go at most once a
			// second (a later poll sends the one held back).
			if len(events) > 0 || (progress > sent && time.Since(sentAt) >= bookmarkEvery) {
				if err := stream.Send(&eventsv1.WatchResponse{Events: events, HeadCursor: max(head, after), ProgressCursor: progress}); err != nil {
					return err
				}
				sent, sentAt = progress, time.Now()
				heartbeat.Reset(f.heartbeat)
			}
			if drained {
				break
			}
		}

		poll.Reset(f.poll)
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-f.done:
			return status.Error(codes.Unavailable, "event feed is shutting down")
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			if err := stream.Send(&eventsv1.WatchResponse{HeadCursor: sent, ProgressCursor: sent}); err != nil {
				return err
			}
			heartbeat.Reset(f.heartbeat)
		}
	}
}

// visibleTo returns which region codes the caller of ctx may see events of; nil means all.
func (f *Feed) visibleTo(ctx context.Context) func(regionCode string) bool {
	p, ok := auth.FromContext(ctx)
	if !ok || p.HasRole(auth.RoleSystem) {
		return nil
	}
	return func(code string) bool { return p.InScope(f.tree, code) }
}

func (f *Feed) statusErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if errors.Is(err, sqlstore.ErrUnavailable) {
		f.logger.WarnContext(ctx, "event feed: database unavailable", "step", what, "error", err)
		return status.Error(codes.Unavailable, "event store unavailable")
	}
	f.logger.ErrorContext(ctx, "event feed failed", "step", what, "error", err)
	return status.Error(codes.Internal, "event feed failed")
}

// bookmarkEvery is the least time between two responses carrying only a bookmark.
const bookmarkEvery = time.Second

// head returns the feed's newest cursor (0 when it has none).
func (f *Feed) head(ctx context.Context) (int64, error) {
	var head int64
	err := f.db.QueryRow(ctx, `SELECT COALESCE(MAX(cursor), 0) FROM events`).Scan(&head)
	return head, err
}

// read returns up to maxBatch positioned events after the cursor, in cursor order.
func (f *Feed) read(ctx context.Context, after int64, types []string) ([]*eventsv1.Event, error) {
	var q strings.Builder
	q.WriteString(`SELECT cursor, id, type, subject, region_code, time_us, payload FROM events WHERE cursor > $1`)
	args := []any{after, int64(maxBatch)}
	if len(types) > 0 {
		q.WriteString(` AND type IN (`)
		for i, t := range types {
			if i > 0 {
				q.WriteString(", ")
			}
			args = append(args, t)
			q.WriteString("$" + strconv.Itoa(len(args)))
		}
		q.WriteString(`)`)
	}
	q.WriteString(` ORDER BY cursor LIMIT $2`)

	rows, err := f.db.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []*eventsv1.Event
	for rows.Next() {
		var (
			ev      eventsv1.Event
			timeUS  int64
			payload []byte
		)
		if err := rows.Scan(&ev.Cursor, &ev.Id, &ev.Type, &ev.Subject, &ev.RegionCode, &timeUS, &payload); err != nil {
			return nil, err
		}
		ev.Time = timestamppb.New(time.UnixMicro(timeUS))
		ev.Payload = &anypb.Any{}
		if err := proto.Unmarshal(payload, ev.Payload); err != nil {
			return nil, fmt.Errorf("decode payload of event %s: %w", ev.Id, err)
		}
		events = append(events, &ev)
	}
	return events, rows.Err()
}

// relay gives positions to the events whose transactions have ended.
func (f *Feed) relay(ctx context.Context) error {
	// Cheap check first, so idle watchers do not take locks (on SQLite, the write lock).
	var pending bool
	if err := f.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE cursor IS NULL)`).Scan(&pending); err != nil {
		return err
	}
	if !pending {
		return nil
	}
	for {
		var n int64
		err := f.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			var err error
			n, err = relayStep(ctx, tx)
			return err
		})
		if err != nil || n < relayBatch {
			return err
		}
	}
}

// relayStep numbers up to relayBatch events after the current highest cursor.
func relayStep(ctx context.Context, tx sqlstore.Tx) (int64, error) {
	if tx.Dialect() == sqlstore.SQLite {
		// The transaction holds SQLite's write lock (BEGIN IMMEDIATE), and so did every
		// writer: an event's seq order is its commit order and no writer is in flight.
		return tx.Exec(ctx, `
			WITH next AS (
				SELECT seq, row_number() OVER (ORDER BY seq) AS rn
				FROM events WHERE cursor IS NULL ORDER BY seq LIMIT $1
			), base AS (SELECT COALESCE(MAX(cursor), 0) AS top FROM events)
			UPDATE events SET cursor = base.top + next.rn FROM next, base WHERE events.seq = next.seq`,
			int64(relayBatch))
	}
	// One relay at a time per database, so max(cursor) and the numbering are consistent.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, relayLockID); err != nil {
		return 0, err
	}
	// In its own statement, after the lock: every transaction with an id below xmin has ended
	// (committed or rolled back), and the next statement's snapshot sees all of them. No
	// transaction can later receive an id below xmin, so the events below it are a final set.
	var xmin string
	if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin); err != nil {
		return 0, err
	}
	return tx.Exec(ctx, `
		WITH next AS (
			SELECT seq, row_number() OVER (ORDER BY xid, seq) AS rn
			FROM events WHERE cursor IS NULL AND xid < $1::text::xid8
			ORDER BY xid, seq LIMIT $2
		), base AS (SELECT COALESCE(MAX(cursor), 0) AS top FROM events)
		UPDATE events SET cursor = base.top + next.rn FROM next, base WHERE events.seq = next.seq`,
		xmin, int64(relayBatch))
}
