// Package telemetry sets up OpenTelemetry traces and metrics from the standard OTEL_*
// environment variables, and builds slog loggers that carry the current trace and span ids.
//
// Setup returns the providers explicitly so that callers hand them to otelgrpc, otelhttp and
// SQL instrumentation as options; it never touches the otel globals. A binary that also wants
// libraries reading the globals to see them calls Providers.SetGlobal once, in main.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Providers are the telemetry providers a process passes to its instrumentation.
type Providers struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Propagator is W3C tracecontext + baggage. It is set even when nothing is exported, so
	// incoming trace ids still reach logs and outgoing calls.
	Propagator propagation.TextMapPropagator
	// TracesExported and MetricsExported say whether an exporter was configured for each
	// signal; when false the matching provider is a no-op.
	TracesExported  bool
	MetricsExported bool
	// MetricsHandler serves the Prometheus scrape page when Setup was given WithPrometheus;
	// nil otherwise. See ServeMetrics.
	MetricsHandler http.Handler
}

// Noop returns providers that record nothing but still propagate trace context.
func Noop() Providers {
	return Providers{
		TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider:  metricnoop.NewMeterProvider(),
		Propagator:     newPropagator(),
	}
}

// SetGlobal installs p as the otel global providers and propagator, for libraries that read
// the globals. Call it at most once per process, from main.
func (p Providers) SetGlobal() {
	otel.SetTracerProvider(p.TracerProvider)
	otel.SetMeterProvider(p.MeterProvider)
	otel.SetTextMapPropagator(p.Propagator)
}

// Setup builds trace and metric providers for serviceName from the OTEL_* environment
// variables (exporters chosen by go.opentelemetry.io/contrib/exporters/autoexport, resource
// attributes from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, sampler from
// OTEL_TRACES_SAMPLER).
//
// A signal is exported only when it is asked for: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER
// names an exporter other than "none", or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or the
// per-signal OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT) is set. autoexport alone would
// default to OTLP and retry against localhost forever; here an unconfigured process installs
// nothing and gets no-op providers. OTEL_SDK_DISABLED=true disables both signals.
//
// shutdown flushes and stops what was built; the caller runs it after its servers stopped,
// with a deadline.
//
// With WithPrometheus, metrics are also kept for a Prometheus scrape (Providers.MetricsHandler),
// whatever the environment says.
func Setup(ctx context.Context, serviceName string, opts ...Option) (p Providers, shutdown func(context.Context) error, err error) {
	var o setupOptions
	for _, opt := range opts {
		opt(&o)
	}
	p = Noop()
	var shutdowns []func(context.Context) error
	shutdown = func(ctx context.Context) error {
		var errs []error
		for i := len(shutdowns) - 1; i >= 0; i-- {
			errs = append(errs, shutdowns[i](ctx))
		}
		return errors.Join(errs...)
	}

	wantTraces, wantMetrics := signalConfigured("TRACES"), signalConfigured("METRICS")
	if !wantTraces && !wantMetrics && !o.prometheus {
		return p, shutdown, nil
	}

	res, err := newResource(ctx, serviceName)
	if err != nil {
		return Providers{}, nil, err
	}

	if wantTraces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return Providers{}, nil, fmt.Errorf("telemetry: span exporter: %w", err)
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
			shutdowns = append(shutdowns, tp.Shutdown)
			p.TracerProvider = tp
			p.TracesExported = true
		}
	}
	var readers []sdkmetric.Reader
	if wantMetrics {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			// Stop the tracer provider already built, so nothing leaks on error.
			return Providers{}, nil, errors.Join(fmt.Errorf("telemetry: metric reader: %w", err), shutdown(ctx))
		}
		if !autoexport.IsNoneMetricReader(reader) {
			readers = append(readers, reader)
		} else {
			_ = reader.Shutdown(ctx)
		}
	}
	if o.prometheus {
		reader, h, err := newPrometheusReader()
		if err != nil {
			return Providers{}, nil, errors.Join(err, shutdown(ctx))
		}
		readers = append(readers, reader)
		p.MetricsHandler = h
	}
	if len(readers) > 0 {
		mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		for _, r := range readers {
			mopts = append(mopts, sdkmetric.WithReader(r))
		}
		mp := sdkmetric.NewMeterProvider(mopts...)
		shutdowns = append(shutdowns, mp.Shutdown)
		p.MeterProvider = mp
		p.MetricsExported = true
	}
	return p, shutdown, nil
}

// signalConfigured reports whether the environment asks for signal ("TRACES" or "METRICS")
// to be exported.
func signalConfigured(signal string) bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if exporter := strings.TrimSpace(os.Getenv("OTEL_" + signal + "_EXPORTER")); exporter != "" {
		return exporter != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

func newResource(ctx context.Context, serviceName string) (*resource.Resource, error) {
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the
	// service name given in code, as the OpenTelemetry specification asks.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

func newPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
