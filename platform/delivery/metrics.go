package delivery

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Counter is a Queue that can count what waits to be delivered, for the metrics.
type Counter interface {
	// CountToDeliver returns how many messages wait: pending (due now or after a backoff) and
	// held (until the end of quiet hours).
	CountToDeliver(ctx context.Context) (pending, held int64, err error)
}

// Metrics says where a Sender records its instruments (on the service's database meter,
// sqlstore.DB.Meter) and under what name:
//
//   - <Name>.to_deliver: messages waiting, by state (pending, held), counted in the outbox at
//     each collection (when the Queue is a Counter): the whole service's, whichever replica
//     answers;
//   - <Name>.deliveries: this replica's tries, by outcome (sent, logged: written to the log
//     with no webhook configured, retry: failed and tried again later, failed: given up).
type Metrics struct {
	Meter metric.Meter
	Attrs attribute.Set
	// Name prefixes the instruments, e.g. "jiayuan.notifications".
	Name string
	// Unit is the instruments' unit, e.g. "{notification}".
	Unit string
}

// countWithin bounds the outbox count a scrape runs.
const countWithin = 5 * time.Second

// instruments are a running sender's.
type instruments struct {
	attrs      attribute.Set
	deliveries metric.Int64Counter
}

// register starts the sender's metrics; stop ends them (when Run returns). Without
// Config.Metrics it records nothing.
func (s *Sender) register() (stop func(), err error) {
	m := s.cfg.Metrics
	if m == nil || m.Meter == nil {
		return func() {}, nil
	}
	s.inst.attrs = m.Attrs
	s.inst.deliveries, err = m.Meter.Int64Counter(m.Name+".deliveries", metric.WithUnit(m.Unit),
		metric.WithDescription("Tries at delivering a message, by outcome (sent, logged, retry, failed)."))
	if err != nil {
		return nil, fmt.Errorf("delivery: metrics: %w", err)
	}
	// Every outcome exists from the start, at 0, so that an alert on an increase of failures
	// sees the first one.
	for _, outcome := range []string{"sent", "logged", "retry", "failed"} {
		s.inst.deliveries.Add(context.Background(), 0, metric.WithAttributeSet(m.Attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
	}
	counter, ok := s.cfg.Queue.(Counter)
	if !ok {
		return func() {}, nil
	}
	waiting, err := m.Meter.Int64ObservableGauge(m.Name+".to_deliver", metric.WithUnit(m.Unit),
		metric.WithDescription("Messages waiting to be delivered, by state (pending, held for quiet hours)."))
	if err != nil {
		return nil, fmt.Errorf("delivery: metrics: %w", err)
	}
	reg, err := m.Meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, countWithin)
		defer cancel()
		pending, held, err := counter.CountToDeliver(ctx)
		if err != nil {
			return err // the collection reports it; the other instruments are still read
		}
		o.ObserveInt64(waiting, pending, metric.WithAttributeSet(m.Attrs), metric.WithAttributes(attribute.String("state", "pending")))
		o.ObserveInt64(waiting, held, metric.WithAttributeSet(m.Attrs), metric.WithAttributes(attribute.String("state", "held")))
		return nil
	}, waiting)
	if err != nil {
		return nil, fmt.Errorf("delivery: metrics: %w", err)
	}
	return func() { _ = reg.Unregister() }, nil
}

// outcomes name the states a try ends in, on the deliveries counter.
var outcomes = map[State]string{Sent: "sent", Logged: "logged", Pending: "retry", Held: "retry", Failed: "failed"}

// delivered counts one try ending in state.
func (i *instruments) delivered(ctx context.Context, state State) {
	if i.deliveries == nil {
		return
	}
	i.deliveries.Add(context.WithoutCancel(ctx), 1, metric.WithAttributeSet(i.attrs), metric.WithAttributes(attribute.String("outcome", outcomes[state])))
}
