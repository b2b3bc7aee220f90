package sweep

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// metrics are a sweeper's instruments, on its database's meter (sqlstore.WithMetrics), so
// that every service's sweeps are measured without an option of their own:
//
//   - jiayuan.sweep.last_run: when this replica last finished a run (unix seconds, wall
//     clock), reported once it has; with jiayuan.sweep.interval, what the alert "sweeper not
//     run for two intervals" compares;
//   - jiayuan.sweep.duration: each run's duration, by outcome (ok, error);
//   - jiayuan.sweep.rows: rows handled.
//
// The job is the attribute "sweep", not "job": Prometheus keeps "job" for the scrape job.
type metrics struct {
	attrs    attribute.Set
	duration metric.Float64Histogram
	rows     metric.Int64Counter
	lastWall atomic.Int64 // unix µs by the process's clock; 0 before the first run ends
}

func (m *metrics) init(db *sqlstore.DB, job string, interval time.Duration) error {
	meter, attrs := db.Meter("github.com/jiayuan/jiayuan/platform/sweep")
	m.attrs = attribute.NewSet(append(attrs.ToSlice(), attribute.String("sweep", job))...)
	var errs [5]error
	m.duration, errs[0] = meter.Float64Histogram("jiayuan.sweep.duration", metric.WithUnit("s"),
		metric.WithDescription("How long each sweep run took, by outcome."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	m.rows, errs[1] = meter.Int64Counter("jiayuan.sweep.rows", metric.WithUnit("{row}"),
		metric.WithDescription("Rows the sweep handled."))
	if errs[1] == nil {
		m.rows.Add(context.Background(), 0, metric.WithAttributeSet(m.attrs))
	}
	lastRun, err := meter.Float64ObservableGauge("jiayuan.sweep.last_run", metric.WithUnit("s"),
		metric.WithDescription("When this replica last finished a sweep run, in unix seconds."))
	errs[2] = err
	every, err := meter.Float64ObservableGauge("jiayuan.sweep.interval", metric.WithUnit("s"),
		metric.WithDescription("How often the sweep runs."))
	errs[3] = err
	if errs[2] == nil && errs[3] == nil {
		_, errs[4] = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveFloat64(every, interval.Seconds(), metric.WithAttributeSet(m.attrs))
			if us := m.lastWall.Load(); us != 0 {
				o.ObserveFloat64(lastRun, float64(us)/1e6, metric.WithAttributeSet(m.attrs))
			}
			return nil
		}, lastRun, every)
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("sweep %s: metrics: %w", job, err)
		}
	}
	return nil
}

// ran records a run that began at began.
func (m *metrics) ran(ctx context.Context, began time.Time, handled int, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	} else {
		m.lastWall.Store(time.Now().UnixMicro())
	}
	ctx = context.WithoutCancel(ctx)
	m.duration.Record(ctx, time.Since(began).Seconds(), metric.WithAttributeSet(m.attrs), metric.WithAttributes(attribute.String("outcome", outcome)))
	if handled > 0 {
		m.rows.Add(ctx, int64(handled), metric.WithAttributeSet(m.attrs))
	}
}
