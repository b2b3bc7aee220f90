package telemetry_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/telemetry"
)

func TestPrometheusPage(t *testing.T) {
	cleanOTELEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, shutdown, err := telemetry.Setup(ctx, "jiayuan-demand", telemetry.WithPrometheus())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	if !p.MetricsExported || p.MetricsHandler == nil {
		t.Fatalf("MetricsExported %v, handler %v: want a Prometheus page", p.MetricsExported, p.MetricsHandler)
	}
	if p.TracesExported {
		t.Error("traces exported with no exporter asked for")
	}
	c, err := p.MeterProvider.Meter("t").Int64Counter("jiayuan.test.calls")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3)
	h, err := p.MeterProvider.Meter("t").Float64Histogram("jiayuan.test.duration")
	if err != nil {
		t.Fatal(err)
	}
	h.Record(ctx, 0.2)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.ServeMetrics(ctx, lis, nil) }()
	resp, err := http.Get("http://" + lis.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	page := string(body)
	for _, want := range []string{
		// Prometheus names: dots to underscores, _total on counters; the service on every series.
		`jiayuan_test_calls_total{otel_scope_name="t",otel_scope_schema_url="",otel_scope_version="",service_name="jiayuan-demand"} 3`,
		`jiayuan_test_duration_count{`,
		// The Go runtime's and the process's own.
		"go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if resp, err := http.Post("http://"+lis.Addr().String()+"/metrics", "text/plain", nil); err == nil {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /metrics: %s, want 405", resp.Status)
		}
		_ = resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeMetrics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMetrics did not return after its context ended")
	}
}

func TestServeMetricsWithoutPrometheus(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := telemetry.Noop().ServeMetrics(context.Background(), lis, nil); err == nil {
		t.Fatal("ServeMetrics served providers with no Prometheus exporter")
	}
}
