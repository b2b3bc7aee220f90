package overlay

import (
	"flag"
	"fmt"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
)

// Services lists the services the binary runs (internal/suite's catalogue), in start order. A
// district overlay must run each, and its gateway must have an address for each; when a service
// joins the suite, add it to the manifests (docs/deploy.md, "Adding a service").
func Services() []string { return suite.Names() }

// Peers lists the services a service calls with its own credentials (internal/suite's
// Spec.Peers): each needs the peer's address (--<peer>-addr), its own token (--peer-token-file)
// and, under TLS, the peer-tls settings.
func Peers(service string) []string {
	spec, ok := suite.Lookup(service)
	if !ok {
		return nil
	}
	return spec.Peers
}

// A mode is one way the jiayuan binary runs in a container, named by its arguments: its
// settings are the flags its command declares, each also read from the environment variable
// config.EnvName(flag), with what internal/cli says of each (required, a file, a host:port, one
// of some values). They are the binary's own (cli.CommandSettings), so a manifest setting a
// variable the binary does not read, or missing one it requires, fails here;
// TestModesMatchBinary still runs each command to see that it reads exactly those.
type mode struct {
	*cli.Settings
}

// modeFor returns the mode run by a container's args (the image has the binary as entrypoint).
func modeFor(args []string) (*mode, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("args %q: want `serve <service>`, `serve gateway` or `migrate <service>`", args)
	}
	s, err := cli.CommandSettings(args[:2])
	if err != nil {
		return nil, err
	}
	return &mode{s}, nil
}

// env maps each environment variable the mode reads to its flag.
func (m *mode) env() map[string]*flag.Flag {
	out := make(map[string]*flag.Flag)
	m.Flags.VisitAll(func(f *flag.Flag) { out[config.EnvName(f.Name)] = f })
	return out
}

// otherEnv lists the variables outside JIAYUAN_* a mode's process reads, by who reads them.
func (m *mode) otherEnv(name string) bool {
	switch {
	case goRuntimeEnv[name]:
		return true
	case m.Telemetry && otelEnv[name]:
		return true
	case m.Database && pgEnv[name]:
		return true
	}
	return false
}

// goRuntimeEnv are read by the Go runtime.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}

// pgEnv are read by pgx as defaults for what the URL leaves out.
var pgEnv = map[string]bool{
	"PGPASSWORD": true, "PGPASSFILE": true, "PGSSLMODE": true, "PGSSLROOTCERT": true, "PGSSLCERT": true,
	"PGSSLKEY": true, "PGAPPNAME": true, "PGCONNECT_TIMEOUT": true, "PGTARGETSESSIONATTRS": true,
}

// otelEnv are the OpenTelemetry SDK's variables that platform/telemetry (autoexport and the
// SDK's defaults) reads for traces and metrics.
var otelEnv = map[string]bool{
	"OTEL_SDK_DISABLED": true, "OTEL_SERVICE_NAME": true, "OTEL_RESOURCE_ATTRIBUTES": true,
	"OTEL_PROPAGATORS": true, "OTEL_TRACES_SAMPLER": true, "OTEL_TRACES_SAMPLER_ARG": true,
	"OTEL_TRACES_EXPORTER": true, "OTEL_METRICS_EXPORTER": true,
	"OTEL_EXPORTER_OTLP_ENDPOINT": true, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": true, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": true,
	"OTEL_EXPORTER_OTLP_PROTOCOL": true, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": true, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": true,
	"OTEL_EXPORTER_OTLP_HEADERS": true, "OTEL_EXPORTER_OTLP_TRACES_HEADERS": true, "OTEL_EXPORTER_OTLP_METRICS_HEADERS": true,
	"OTEL_EXPORTER_OTLP_TIMEOUT": true, "OTEL_EXPORTER_OTLP_COMPRESSION": true, "OTEL_EXPORTER_OTLP_INSECURE": true,
	"OTEL_EXPORTER_OTLP_CERTIFICATE": true, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": true, "OTEL_EXPORTER_OTLP_CLIENT_KEY": true,
	"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": true, "OTEL_METRIC_EXPORT_INTERVAL": true, "OTEL_METRIC_EXPORT_TIMEOUT": true,
	"OTEL_BSP_SCHEDULE_DELAY": true, "OTEL_BSP_EXPORT_TIMEOUT": true, "OTEL_BSP_MAX_QUEUE_SIZE": true, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": true,
	"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": true, "OTEL_ATTRIBUTE_COUNT_LIMIT": true,
}
