package limits_test

import (
	"context"
	"net/netip"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jiayuan/jiayuan/platform/limits"
)

// TestRefusalsCounted: every refusal is counted by reason, and every reason is reported from
// the start, at 0.
func TestRefusalsCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg := limits.DefaultConfig()
	cfg.Anonymous = limits.Limit{Rate: 1, Burst: 1}
	cfg.AuthFailures = limits.Limit{Rate: 1, Burst: 1}
	l, err := limits.NewEdge(cfg, limits.WithMetrics(mp, "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	count := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "jiayuan.limits.refusals" {
					continue
				}
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					r, _ := p.Attributes.Value("reason")
					s, _ := p.Attributes.Value("jiayuan.service")
					if s.AsString() != "gateway" {
						t.Errorf("refusal counted for service %q, want gateway", s.AsString())
					}
					out[r.AsString()] = p.Value
				}
			}
		}
		return out
	}
	want := map[string]int64{limits.ReasonRateLimited: 0, limits.ReasonStreams: 0, limits.ReasonAuthFailures: 0}
	if got := count(); !equal(got, want) {
		t.Fatalf("before any refusal: %v, want %v", got, want)
	}
	a := netip.MustParseAddr("192.0.2.1")
	if _, ok := l.AllowAnonymous(a); !ok {
		t.Fatal("the first anonymous call was refused")
	}
	if _, ok := l.AllowAnonymous(a); ok {
		t.Fatal("the second anonymous call within the burst of 1 was allowed")
	}
	l.FailedAuth(a)
	if _, ok := l.AdmitAuth(a); ok {
		t.Fatal("an address with its failures spent was admitted")
	}
	want[limits.ReasonRateLimited], want[limits.ReasonAuthFailures] = 1, 1
	if got := count(); !equal(got, want) {
		t.Errorf("after the refusals: %v, want %v", got, want)
	}
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
