package telemetry_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// cleanOTELEnv blanks every OTEL_* variable for the test, so the host's environment cannot
// leak into what Setup sees.
func cleanOTELEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
}

// collector is a stand-in for an OpenTelemetry collector (outside the system): it accepts
// OTLP/HTTP protobuf exports and keeps them.
type collector struct {
	mu      sync.Mutex
	traces  []*collectortrace.ExportTraceServiceRequest
	metrics []*collectormetrics.ExportMetricsServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req := &collectortrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.traces = append(c.traces, req)
		resp = &collectortrace.ExportTraceServiceResponse{}
	case "/v1/metrics":
		req := &collectormetrics.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.metrics = append(c.metrics, req)
		resp = &collectormetrics.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	b, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func TestSetupSignalsFromEnv(t *testing.T) {
	coll := httptest.NewServer(&collector{})
	defer coll.Close()

	tests := []struct {
		name        string
		env         map[string]string
		wantTraces  bool
		wantMetrics bool
	}{
		{name: "clean environment", env: nil},
		{name: "otlp endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": coll.URL}, wantTraces: true, wantMetrics: true},
		{name: "traces endpoint only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": coll.URL + "/v1/traces"}, wantTraces: true},
		{name: "metrics endpoint only", env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": coll.URL + "/v1/metrics"}, wantMetrics: true},
		{name: "endpoint with metrics none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": coll.URL, "OTEL_METRICS_EXPORTER": "none"}, wantTraces: true},
		{name: "traces exporter named", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": coll.URL + "/v1/traces"}, wantTraces: true},
		{name: "both none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": coll.URL, "OTEL_SDK_DISABLED": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanOTELEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			p, shutdown, err := telemetry.Setup(ctx, "jiayuan-test")
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if p.TracesExported != tt.wantTraces || p.MetricsExported != tt.wantMetrics {
				t.Errorf("exported traces=%v metrics=%v, want %v %v", p.TracesExported, p.MetricsExported, tt.wantTraces, tt.wantMetrics)
			}
			_, span := p.TracerProvider.Tracer("t").Start(ctx, "op")
			if span.IsRecording() != tt.wantTraces {
				t.Errorf("span recording = %v, want %v", span.IsRecording(), tt.wantTraces)
			}
			span.End()
			if p.Propagator == nil || len(p.Propagator.Fields()) == 0 {
				t.Errorf("propagator missing: %v", p.Propagator)
			}
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}

func TestSetupExportsToOTLPEndpoint(t *testing.T) {
	cleanOTELEnv(t)
	coll := &collector{}
	srv := httptest.NewServer(coll)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")

	ctx := context.Background()
	p, shutdown, err := telemetry.Setup(ctx, "jiayuan-partner")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, span := p.TracerProvider.Tracer("t").Start(ctx, "CreatePartnerGroup")
	span.End()
	counter, err := p.MeterProvider.Meter("t").Int64Counter("requests")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(ctx, 3)

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	coll.mu.Lock()
	defer coll.mu.Unlock()
	if len(coll.traces) == 0 || len(coll.metrics) == 0 {
		t.Fatalf("collector got %d trace and %d metric exports, want both", len(coll.traces), len(coll.metrics))
	}
	rs := coll.traces[0].GetResourceSpans()[0]
	attrs := map[string]string{}
	for _, kv := range rs.GetResource().GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["service.name"] != "jiayuan-partner" || attrs["deployment.environment.name"] != "test" {
		t.Errorf("resource attributes = %v", attrs)
	}
	if got := rs.GetScopeSpans()[0].GetSpans()[0].GetName(); got != "CreatePartnerGroup" {
		t.Errorf("span name = %q", got)
	}
}

func TestSetupShutdownHonoursDeadlineWithoutCollector(t *testing.T) {
	cleanOTELEnv(t)
	// A port nothing listens on: take one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)

	ctx := context.Background()
	p, shutdown, err := telemetry.Setup(ctx, "jiayuan-test")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if !p.TracesExported {
		t.Fatal("OTLP endpoint set but traces not exported")
	}
	_, span := p.TracerProvider.Tracer("t").Start(ctx, "op")
	span.End()

	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = shutdown(sctx) // the export fails; only the deadline matters
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a 200ms deadline", d)
	}
}
