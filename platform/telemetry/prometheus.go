package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Option configures Setup.
type Option func(*setupOptions)

type setupOptions struct {
	prometheus bool
}

// WithPrometheus adds a Prometheus exporter beside whatever OTEL_METRICS_EXPORTER asks for:
// the process's metrics (every instrument of the meter provider, plus the Go runtime's and the
// process's own) are kept in a registry of their own, which Providers.MetricsHandler serves
// as the scrape page. Serve it on its own port (ServeMetrics), away from the API.
//
// The names are translated the Prometheus way (dots to underscores, unit and _total
// suffixes: rpc.server.call.duration in seconds is rpc_server_call_duration_seconds), set
// explicitly so that the alert rules and the dashboard, which name them, do not change with
// the exporter's default.
func WithPrometheus() Option { return func(o *setupOptions) { o.prometheus = true } }

// newPrometheusReader builds the exporter (a metric reader) over a registry of its own, and
// the handler that serves that registry.
func newPrometheusReader() (sdkmetric.Reader, http.Handler, error) {
	reg := prometheus.NewRegistry()
	// Memory, goroutines, GC and open files: what a leak or a soak shows first.
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, nil, fmt.Errorf("telemetry: prometheus collectors: %w", err)
	}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		// service_name ("jiayuan-demand") on every series: the alert rules and the dashboard
		// group by it, whatever labels the scrape adds.
		otelprom.WithResourceAsConstantLabels(attribute.NewAllowKeysFilter("service.name")),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	// No hand-written text: the client library writes the exposition format.
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
	return exp, h, nil
}

// ServeMetrics serves p's scrape page (/metrics) on lis until ctx ends, then shuts the server
// down and returns nil; it returns the error that stopped it otherwise. Without a Prometheus
// exporter (Setup without WithPrometheus) it is an error: nothing would be there to scrape.
func (p Providers) ServeMetrics(ctx context.Context, lis net.Listener, logger *slog.Logger) error {
	if p.MetricsHandler == nil {
		_ = lis.Close()
		return errors.New("telemetry: no Prometheus exporter to serve (Setup without WithPrometheus)")
	}
	if logger == nil {
		logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.MetricsHandler)
	// Scrapers are inside the cluster and ask for a small page; tight timeouts keep a slow or
	// hostile client from holding connections.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.InfoContext(ctx, "metrics serving", "addr", lis.Addr().String(), "path", "/metrics")
	err := srv.Serve(lis)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return fmt.Errorf("telemetry: metrics server: %w", err)
}
