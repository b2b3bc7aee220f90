package sqlstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ServiceAttribute is the attribute naming the service on the metrics a DB and the platform
// pieces built on it (the event feed consumers, the sweepers) record: under `jiayuan dev`
// every service shares one process and one scrape page, so the process's own service.name
// cannot tell them apart. In Prometheus it is the label jiayuan_service.
const ServiceAttribute = attribute.Key("jiayuan.service")

// WithMetrics records the connection pools' use (connections in use and idle, the cap, how
// many acquisitions waited and for how long) on mp, as observable instruments read at each
// collection, labelled with the service; and hands mp on to the platform pieces that take
// the DB (DB.Meter), so that a consumer or a sweeper a service builds on its DB records its
// metrics with no option of its own: a new service gets them without a line.
func WithMetrics(mp metric.MeterProvider, service string) Option {
	return func(o *options) { o.meter, o.service = mp, service }
}

// Meter returns a meter of the DB's provider (WithMetrics) for a platform package (scope is
// its import path), and the attributes naming the service; a no-op meter when the DB records
// no metrics.
func (db *DB) Meter(scope string) (metric.Meter, attribute.Set) {
	if db.meter == nil {
		return noop.NewMeterProvider().Meter(scope), attribute.NewSet()
	}
	return db.meter.Meter(scope), attribute.NewSet(ServiceAttribute.String(db.service))
}

// poolStats is one pool's figures at a collection.
type poolStats struct {
	pool             string
	inUse, idle, max int64
	waits            int64
	waitSeconds      float64
	// acquires counts every connection taken; database/sql (SQLite) does not count them.
	acquires    int64
	hasAcquires bool
}

// registerPoolMetrics observes db's pools at every collection until db closes.
func (db *DB) registerPoolMetrics() error {
	if db.meter == nil {
		return nil
	}
	m, attrs := db.Meter("github.com/jiayuan/jiayuan/platform/sqlstore")
	conns, err1 := m.Int64ObservableGauge("jiayuan.db.pool.connections", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections of the service's database pool, by state (in_use, idle)."))
	maxConns, err2 := m.Int64ObservableGauge("jiayuan.db.pool.max_connections", metric.WithUnit("{connection}"),
		metric.WithDescription("The most connections the pool opens."))
	acquires, err3 := m.Int64ObservableCounter("jiayuan.db.pool.acquires", metric.WithUnit("{acquire}"),
		metric.WithDescription("Connections taken from the pool."))
	waits, err4 := m.Int64ObservableCounter("jiayuan.db.pool.waits", metric.WithUnit("{acquire}"),
		metric.WithDescription("Connections taken from the pool after waiting for one: the pool was exhausted."))
	waited, err5 := m.Float64ObservableCounter("jiayuan.db.pool.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent waiting for a connection from the pool."))
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			return fmt.Errorf("sqlstore: pool metrics: %w", err)
		}
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, s := range db.poolStats() {
			pool := attribute.String("pool", s.pool)
			with := func(extra ...attribute.KeyValue) metric.MeasurementOption {
				kvs := append(attrs.ToSlice(), pool)
				return metric.WithAttributes(append(kvs, extra...)...)
			}
			o.ObserveInt64(conns, s.inUse, with(attribute.String("state", "in_use")))
			o.ObserveInt64(conns, s.idle, with(attribute.String("state", "idle")))
			o.ObserveInt64(maxConns, s.max, with())
			if s.hasAcquires {
				o.ObserveInt64(acquires, s.acquires, with())
			}
			o.ObserveInt64(waits, s.waits, with())
			o.ObserveFloat64(waited, s.waitSeconds, with())
		}
		return nil
	}, conns, maxConns, acquires, waits, waited)
	if err != nil {
		return fmt.Errorf("sqlstore: pool metrics: %w", err)
	}
	db.unregister = reg.Unregister
	return nil
}

// poolStats reads every pool of db: PostgreSQL's two (main, and reads for DB.Reads), or
// SQLite's one.
func (db *DB) poolStats() []poolStats {
	switch {
	case db.pg != nil:
		return []poolStats{pgxStats("main", db.pg.pool.Stat()), pgxStats("reads", db.pg.reads.Stat())}
	case db.sqlite != nil:
		st := db.sqlite.db.Stats()
		return []poolStats{{pool: "main", inUse: int64(st.InUse), idle: int64(st.Idle), max: int64(st.MaxOpenConnections),
			waits: st.WaitCount, waitSeconds: st.WaitDuration.Seconds()}}
	}
	return nil
}

// pgxStats is a pgx pool's figures. Its acquire duration counts every acquisition, waited or
// not; the time of the ones that waited is the part that matters, and they are the ones that
// take time.
func pgxStats(name string, st *pgxpool.Stat) poolStats {
	return poolStats{pool: name, inUse: int64(st.AcquiredConns()), idle: int64(st.IdleConns()), max: int64(st.MaxConns()),
		acquires: st.AcquireCount(), hasAcquires: true, waits: st.EmptyAcquireCount(), waitSeconds: st.AcquireDuration().Seconds()}
}
