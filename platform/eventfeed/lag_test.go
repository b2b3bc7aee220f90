package eventfeed_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// point reads the value of metric name for the consumer called consumer (and outcome, for the
// counter) from r; ok is false when there is none.
func point(t *testing.T, r *sdkmetric.ManualReader, name, consumer, outcome string) (v float64, ok bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if c, _ := p.Attributes.Value("consumer"); c.AsString() == consumer {
						return float64(p.Value), true
					}
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					if c, _ := p.Attributes.Value("consumer"); c.AsString() == consumer {
						return p.Value, true
					}
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					c, _ := p.Attributes.Value("consumer")
					o, _ := p.Attributes.Value("outcome")
					if c.AsString() == consumer && o.AsString() == outcome {
						return float64(p.Value), true
					}
				}
			}
		}
	}
	return 0, false
}

// eventually waits for cond, failing with what after 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumerLag: a consumer's lag metrics show a backlog while its handler is held, and
// drain to zero once it catches up, even when the feed's last events are of types it does not
// watch (the feed's progress bookmark tells it it has got that far).
func TestConsumerLag(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := newProducer(t, b)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			cdb, err := sqlstore.Open(testContext(t), b.NewURL(t), sqlstore.WithMetrics(mp, "consumertest"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cdb.Close)
			if err := cdb.Migrate(testContext(t), "consumertest", effectsMigrations); err != nil {
				t.Fatal(err)
			}

			// Events 1..5: the consumer watches the Int64 ones (2 and 3) and holds the second.
			appendEach(t, p.db, p.outbox, str("other"), wrapperspb.Int64(1), wrapperspb.Int64(2), str("other"), str("other"))
			release := make(chan struct{})
			c, err := eventfeed.NewConsumer(cdb, "lagging", "producer", p.client,
				func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
					if ev.GetCursor() == 3 {
						select {
						case <-release:
						case <-ctx.Done():
							return ctx.Err()
						}
					}
					return recordEffect(ctx, tx, ev, "c")
				}, eventfeed.WithTypes(int64Type), eventfeed.WithConsumerLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			defer stop()

			waitCursor(t, c, 2)
			eventually(t, "events behind 3 while event 3 is held", func() bool {
				v, _ := point(t, reader, "jiayuan.eventfeed.consumer.events_behind", "lagging", "")
				return v == 3
			})
			time.Sleep(50 * time.Millisecond)
			if v, _ := point(t, reader, "jiayuan.eventfeed.consumer.seconds_behind", "lagging", ""); v <= 0 {
				t.Errorf("seconds behind %v while an event is held, want > 0", v)
			}
			if v, _ := point(t, reader, "jiayuan.eventfeed.consumer.cursor", "lagging", ""); v != 2 {
				t.Errorf("cursor %v, want 2", v)
			}

			close(release)
			waitCursor(t, c, 3)
			eventually(t, "caught up: 0 events and 0 seconds behind", func() bool {
				e, _ := point(t, reader, "jiayuan.eventfeed.consumer.events_behind", "lagging", "")
				s, _ := point(t, reader, "jiayuan.eventfeed.consumer.seconds_behind", "lagging", "")
				return e == 0 && s == 0
			})
			if v, _ := point(t, reader, "jiayuan.eventfeed.consumer.events", "lagging", "ok"); v != 2 {
				t.Errorf("events applied %v, want 2", v)
			}
			if v, ok := point(t, reader, "jiayuan.eventfeed.consumer.events", "lagging", "error"); !ok || v != 0 {
				t.Errorf("handler failures %v (reported %v), want 0, reported from the start", v, ok)
			}

			// New events of another type only: still not behind, once the bookmark arrives.
			appendEach(t, p.db, p.outbox, str("other"), str("other"))
			eventually(t, "not behind after events it does not watch", func() bool {
				e, _ := point(t, reader, "jiayuan.eventfeed.consumer.events_behind", "lagging", "")
				return e == 0
			})

			stop()
			if _, ok := point(t, reader, "jiayuan.eventfeed.consumer.events_behind", "lagging", ""); ok {
				t.Error("a stopped consumer still reports its lag")
			}
		})
	}
}
