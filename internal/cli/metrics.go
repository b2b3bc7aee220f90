package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// DefaultMetricsListen is where `serve` publishes its Prometheus metrics: the port the
// OpenTelemetry Prometheus exporter uses by convention, which the monitoring component's
// PodMonitors scrape (deploy/k8s/components/monitoring).
const DefaultMetricsListen = ":9464"

// metricsFlag declares --metrics-listen.
func metricsFlag(fs *config.FlagSet, s *Settings) *string {
	addr := fs.String("metrics-listen", DefaultMetricsListen,
		"serve Prometheus metrics (GET /metrics: calls per method, errors, durations, database pools, feed lag, sweeps, limits) "+
			"on this address, in plaintext and without credentials, apart from the API; empty: none")
	if s != nil {
		s.hostPorts("metrics-listen")
	}
	return addr
}

// checkMetrics reports a bad --metrics-listen.
func checkMetrics(p *config.Problems, addr string) {
	if addr != "" {
		p.Check("metrics-listen", config.HostPort(addr))
	}
}

// telemetryOptions are Setup's options for a process publishing metrics at addr.
func telemetryOptions(addr string) []telemetry.Option {
	if addr == "" {
		return nil
	}
	return []telemetry.Option{telemetry.WithPrometheus()}
}

// serveMetrics listens on addr (nothing when empty) and serves the providers' metrics there
// until ctx ends or stop is called; stop waits for the server to end. Listening here, before
// the service starts, makes a taken port fail the start naming the setting.
func serveMetrics(ctx context.Context, addr string, p telemetry.Providers, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.Setting("metrics-listen"), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.ServeMetrics(ctx, lis, logger); err != nil {
			logger.ErrorContext(ctx, "metrics server failed", "error", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
