package eventfeed

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
)

// lag is how far a consumer is behind its feed, kept from what the feed tells it
// (WatchResponse.head_cursor and progress_cursor) and measured on its database's meter
// (sqlstore.WithMetrics), by consumer and source:
//
//   - jiayuan.eventfeed.consumer.events_behind: the feed's head minus how far the consumer
//     has got;
//   - jiayuan.eventfeed.consumer.seconds_behind: the age of the oldest event received and not
//     yet applied, or else how long the consumer has known of events it has not reached; 0
//     when caught up. This is what the alert "consumer behind" watches;
//   - jiayuan.eventfeed.consumer.cursor: the last event applied;
//   - jiayuan.eventfeed.consumer.events: events applied, and handler failures (outcome).
type lag struct {
	head     atomic.Int64
	progress atomic.Int64
	// pendingUS is the time of the event being applied (unix µs); 0 between events.
	pendingUS atomic.Int64
	// behindUS is when the consumer learnt of a head it has not reached; 0 when caught up.
	behindUS atomic.Int64

	events metric.Int64Counter
	attrs  attribute.Set
}

// register starts reporting c's lag; stop ends it (when Run returns).
func (l *lag) register(c *Consumer) (stop func(), err error) {
	meter, attrs := c.db.Meter("github.com/jiayuan/jiayuan/platform/eventfeed")
	l.attrs = attribute.NewSet(append(attrs.ToSlice(), attribute.String("consumer", c.name), attribute.String("source", c.source))...)
	l.events = noop.Int64Counter{}
	if ev, err := meter.Int64Counter("jiayuan.eventfeed.consumer.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events the consumer applied (outcome ok) and handler failures it retried (outcome error).")); err == nil {
		l.events = ev
		// Both outcomes exist from the start, at 0, so that an alert on an increase of
		// failures sees the first one.
		for _, outcome := range []string{"ok", "error"} {
			ev.Add(context.Background(), 0, metric.WithAttributeSet(l.attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
		}
	}
	behind, err1 := meter.Int64ObservableGauge("jiayuan.eventfeed.consumer.events_behind", metric.WithUnit("{event}"),
		metric.WithDescription("Events the source's feed has that the consumer has not got to."))
	seconds, err2 := meter.Float64ObservableGauge("jiayuan.eventfeed.consumer.seconds_behind", metric.WithUnit("s"),
		metric.WithDescription("How far behind its source's feed the consumer is, in time; 0 when caught up."))
	cursor, err3 := meter.Int64ObservableGauge("jiayuan.eventfeed.consumer.cursor", metric.WithUnit("{event}"),
		metric.WithDescription("The cursor of the last event the consumer applied."))
	if err := firstErr(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("eventfeed: consumer %s metrics: %w", c.name, err)
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		at := metric.WithAttributeSet(l.attrs)
		cur := c.cursor.Load()
		o.ObserveInt64(cursor, cur, at)
		o.ObserveInt64(behind, l.eventsBehind(cur), at)
		o.ObserveFloat64(seconds, l.secondsBehind(time.Now()), at)
		return nil
	}, behind, seconds, cursor)
	if err != nil {
		return nil, fmt.Errorf("eventfeed: consumer %s metrics: %w", c.name, err)
	}
	return func() { _ = reg.Unregister() }, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// received notes what a response says of the feed, before its events are applied.
func (l *lag) received(resp *eventsv1.WatchResponse, cursor int64, now time.Time) {
	if h := resp.GetHeadCursor(); h > l.head.Load() {
		l.head.Store(h)
	}
	if l.eventsBehind(cursor) > 0 {
		l.behindUS.CompareAndSwap(0, now.UnixMicro())
	}
}

// applying notes the event about to be applied: until it is, the consumer is its age behind.
func (l *lag) applying(ev *eventsv1.Event) {
	if t := ev.GetTime(); t != nil {
		l.pendingUS.Store(t.AsTime().UnixMicro())
	}
}

// applied notes that every event of resp was applied: the consumer has got to its progress.
func (l *lag) applied(resp *eventsv1.WatchResponse, cursor int64, now time.Time) {
	l.pendingUS.Store(0)
	if p := resp.GetProgressCursor(); p > l.progress.Load() {
		l.progress.Store(p)
	}
	if l.eventsBehind(cursor) == 0 {
		l.behindUS.Store(0)
	} else {
		l.behindUS.CompareAndSwap(0, now.UnixMicro())
	}
}

// count records n events applied (ok) or a failed attempt at applying them.
func (l *lag) count(ctx context.Context, ok bool, n int64) {
	if l.events == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	l.events.Add(context.WithoutCancel(ctx), n, metric.WithAttributeSet(l.attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
}

func (l *lag) eventsBehind(cursor int64) int64 {
	return max(0, l.head.Load()-max(cursor, l.progress.Load()))
}

func (l *lag) secondsBehind(now time.Time) float64 {
	if us := l.pendingUS.Load(); us != 0 {
		return max(0, now.Sub(time.UnixMicro(us)).Seconds())
	}
	if us := l.behindUS.Load(); us != 0 {
		return max(0, now.Sub(time.UnixMicro(us)).Seconds())
	}
	return 0
}
