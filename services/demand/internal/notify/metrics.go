package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

// countWithin bounds the outbox count a scrape runs.
const countWithin = 5 * time.Second

// metrics are the sender's instruments, on its database's meter (sqlstore.WithMetrics):
//
//   - jiayuan.notifications.to_deliver: notifications waiting, by state (pending, held),
//     counted in the outbox at each collection: the whole service's, whichever replica
//     answers;
//   - jiayuan.notifications.deliveries: this replica's tries, by outcome (sent, logged: written
//     to the log with no gateway configured, retry: failed and tried again later, failed:
//     given up after the last try).
type metrics struct {
	attrs      attribute.Set
	deliveries metric.Int64Counter
}

// register starts the sender's metrics; stop ends them (when Run returns).
func (s *Sender) register() (stop func(), err error) {
	meter, attrs := s.cfg.DB.Meter("github.com/jiayuan/jiayuan/services/demand/internal/notify")
	s.metrics.attrs = attrs
	s.metrics.deliveries, err = meter.Int64Counter("jiayuan.notifications.deliveries", metric.WithUnit("{notification}"),
		metric.WithDescription("Tries at delivering a notification, by outcome (sent, logged, retry, failed)."))
	if err != nil {
		return nil, fmt.Errorf("notify: metrics: %w", err)
	}
	// Every outcome exists from the start, at 0, so that an alert on an increase of failures
	// sees the first one.
	for _, outcome := range []string{"sent", "logged", "retry", "failed"} {
		s.metrics.deliveries.Add(context.Background(), 0, metric.WithAttributeSet(attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
	}
	waiting, err := meter.Int64ObservableGauge("jiayuan.notifications.to_deliver", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications waiting to be delivered, by state (pending, held for quiet hours)."))
	if err != nil {
		return nil, fmt.Errorf("notify: metrics: %w", err)
	}
	reg, err := meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, countWithin)
		defer cancel()
		pending, held, err := s.cfg.Store.CountToDeliver(ctx, s.cfg.DB)
		if err != nil {
			return err // the collection reports it; the other instruments are still read
		}
		o.ObserveInt64(waiting, pending, metric.WithAttributeSet(attrs), metric.WithAttributes(attribute.String("state", "pending")))
		o.ObserveInt64(waiting, held, metric.WithAttributeSet(attrs), metric.WithAttributes(attribute.String("state", "held")))
		return nil
	}, waiting)
	if err != nil {
		return nil, fmt.Errorf("notify: metrics: %w", err)
	}
	return func() { _ = reg.Unregister() }, nil
}

// delivered counts one try ending in state.
func (m *metrics) delivered(ctx context.Context, state demandv1.NotificationState) {
	if m.deliveries == nil {
		return
	}
	outcome := strings.ToLower(strings.TrimPrefix(state.String(), "NOTIFICATION_STATE_"))
	if state == demandv1.NotificationState_NOTIFICATION_STATE_PENDING || state == demandv1.NotificationState_NOTIFICATION_STATE_HELD {
		outcome = "retry"
	}
	m.deliveries.Add(context.WithoutCancel(ctx), 1, metric.WithAttributeSet(m.attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
}
