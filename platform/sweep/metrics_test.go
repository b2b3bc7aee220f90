package sweep_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/sweep"
)

// collected is every data point of r by metric name, as (attributes, value) pairs.
func collected(t *testing.T, r *sdkmetric.ManualReader) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{p.Attributes, p.Value})
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{p.Attributes, p.Value})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{p.Attributes, float64(p.Count)})
				}
			}
		}
	}
	return out
}

type point struct {
	attrs attribute.Set
	v     float64
}

// find returns the value of the point whose attributes include kv, and whether there is one.
func find(ps []point, kv ...attribute.KeyValue) (float64, bool) {
	for _, p := range ps {
		all := true
		for _, want := range kv {
			if got, ok := p.attrs.Value(want.Key); !ok || got != want.Value {
				all = false
			}
		}
		if all {
			return p.v, true
		}
	}
	return 0, false
}

// TestMetrics: a sweeper on a database that records metrics (sqlstore.WithMetrics) reports its
// interval from the start, its last run once it has finished one, each run's duration by
// outcome and the rows handled, labelled with the service and the sweep; and the database
// reports its pools.
func TestMetrics(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			db, err := sqlstore.Open(t.Context(), b.NewURL(t), sqlstore.WithMetrics(mp, "sweeptest"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
			if err := db.Migrate(t.Context(), "sweeptest", migrations()); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if _, err := db.Exec(ctx, `INSERT INTO items (key, due_us) VALUES ('a', 1), ('b', 2)`); err != nil {
				t.Fatal(err)
			}
			var fail atomic.Bool
			fail.Store(true)
			var calls atomic.Int64
			ok := handleOnce(&calls)
			s, err := sweep.New(db, sweep.Job{Name: "items", Table: "items", Key: "key", Due: "due_us",
				Handle: func(ctx context.Context, tx sqlstore.Tx, key string, now time.Time) error {
					if fail.Load() {
						return errors.New("boom")
					}
					return ok(ctx, tx, key, now)
				}}, sweep.WithInterval(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			svc, job := attribute.String("jiayuan.service", "sweeptest"), attribute.String("sweep", "items")

			m := collected(t, reader)
			if v, ok := find(m["jiayuan.sweep.interval"], svc, job); !ok || v != 60 {
				t.Errorf("interval %v (reported %v), want 60", v, ok)
			}
			if _, ok := find(m["jiayuan.sweep.last_run"]); ok {
				t.Error("a last run reported before any")
			}
			if v, ok := find(m["jiayuan.db.pool.max_connections"], svc, attribute.String("pool", "main")); !ok || v <= 0 {
				t.Errorf("pool max %v (reported %v), want > 0", v, ok)
			}
			if b.Name == "postgres" {
				if _, ok := find(m["jiayuan.db.pool.connections"], svc, attribute.String("pool", "reads"), attribute.String("state", "idle")); !ok {
					t.Error("no reads pool reported on PostgreSQL")
				}
			}

			if _, err := s.Sweep(ctx); err == nil {
				t.Fatal("a failing row did not fail the sweep")
			}
			m = collected(t, reader)
			if v, ok := find(m["jiayuan.sweep.duration"], svc, job, attribute.String("outcome", "error")); !ok || v != 1 {
				t.Errorf("failed runs %v, want 1", v)
			}
			if _, ok := find(m["jiayuan.sweep.last_run"]); ok {
				t.Error("a failed run reported as the last run")
			}

			fail.Store(false)
			before := time.Now()
			if n, err := s.Sweep(ctx); err != nil || n != 2 {
				t.Fatalf("sweep handled %d, %v", n, err)
			}
			m = collected(t, reader)
			if v, ok := find(m["jiayuan.sweep.last_run"], svc, job); !ok || v < float64(before.Unix()) || v > float64(time.Now().Unix()+1) {
				t.Errorf("last run %v (reported %v), want about %d", v, ok, before.Unix())
			}
			if v, _ := find(m["jiayuan.sweep.rows"], svc, job); v != 2 {
				t.Errorf("rows %v, want 2", v)
			}
			if v, _ := find(m["jiayuan.sweep.duration"], svc, job, attribute.String("outcome", "ok")); v != 1 {
				t.Errorf("successful runs %v, want 1", v)
			}
		})
	}
}
