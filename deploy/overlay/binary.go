package overlay

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/server"
)

// Services lists the services `jiayuan serve` runs today, in start order. A district overlay must
// run each, and its gateway must have an address for each. TestModesMatchBinary holds it to
// internal/suite: when a service joins the suite, add it here and to the manifests
// (docs/deploy.md, "Adding a service").
func Services() []string { return []string{"partner", "demand"} }

// Peers lists the services a service calls with its own credentials: each needs the peer's
// address (--<peer>-addr), its own token (--peer-token-file) and, under TLS, the peer-tls
// settings. TestModesMatchBinary holds it to internal/suite's Spec.Peers.
func Peers(service string) []string {
	switch service {
	case "demand":
		return []string{"partner"}
	}
	return nil
}

// A mode is one way the jiayuan binary runs in a container, named by its arguments: its
// settings are the flags it declares, each also read from the environment variable
// config.EnvName(flag). The flag sets mirror internal/cli (serve.go, migrate.go), reuse the
// platform's own registrations where there are some (auth), and are held to the binary by
// TestModesMatchBinary, which runs each command and records the variables it looks up. So a
// manifest setting a variable the binary does not read, or missing one it requires, fails here.
type mode struct {
	args    []string
	service string // the service served or migrated; "" for the gateway
	flags   *config.FlagSet
	// required lists settings that must be set, each as alternatives (one of them suffices).
	required [][]string
	// files are flags naming a file the container must have mounted.
	files []string
	// hostPorts are flags holding host:port.
	hostPorts []string
	// oneOf restricts a flag's values.
	oneOf map[string][]string
	// telemetry: the process sets up OpenTelemetry from OTEL_*; database: it opens PostgreSQL
	// (and pgx reads PG* variables).
	telemetry, database bool
}

// modeFor returns the mode run by a container's args (the image has the binary as entrypoint).
func modeFor(args []string) (*mode, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("args %q: want `serve <service>`, `serve gateway` or `migrate <service>`", args)
	}
	switch {
	case args[0] == "serve" && args[1] == "gateway":
		return gatewayMode(args), nil
	case args[0] == "serve" && slices.Contains(Services(), args[1]):
		return serveMode(args), nil
	case args[0] == "migrate" && slices.Contains(Services(), args[1]):
		return migrateMode(args), nil
	}
	return nil, fmt.Errorf("args %q: not a command of the jiayuan binary (services: %s)", args, strings.Join(Services(), ", "))
}

func (m *mode) String() string { return "`jiayuan " + strings.Join(m.args, " ") + "`" }

// env maps each environment variable the mode reads to its flag.
func (m *mode) env() map[string]*flag.Flag {
	out := make(map[string]*flag.Flag)
	m.flags.VisitAll(func(f *flag.Flag) { out[config.EnvName(f.Name)] = f })
	return out
}

var logLevels, logFormats = []string{"debug", "info", "warn", "error"}, []string{"json", "text"}

func logFlags(fs *config.FlagSet, m *mode) {
	fs.String("log-level", "info", "")
	fs.String("log-format", "json", "")
	m.oneOf["log-level"], m.oneOf["log-format"] = logLevels, logFormats
}

func serveMode(args []string) *mode {
	fs := config.NewFlagSet("jiayuan serve " + args[1])
	m := &mode{args: args[:2], service: args[1], flags: fs, oneOf: map[string][]string{}, telemetry: true, database: true}
	fs.String("grpc-listen", ":9090", "")
	fs.String("db-url", "", "")
	fs.String("regions", "", "")
	fs.Duration("drain-delay", server.DefaultDrainDelay, "")
	fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "")
	fs.Int("max-recv-bytes", server.DefaultMaxRecvMsgSize, "")
	fs.String("tls-cert", "", "")
	fs.String("tls-key", "", "")
	fs.String("tls-client-ca", "", "")
	fs.String("health-listen", "", "")
	logFlags(fs, m)
	var v auth.VerifierConfig
	v.RegisterFlags(fs)
	m.required = [][]string{{"db-url"}, {"regions"}, {auth.FlagIssuer}, {auth.FlagAudience}, {auth.FlagJWKSURL, auth.FlagPublicKeyFile}}
	m.files = []string{"regions", "tls-cert", "tls-key", "tls-client-ca", auth.FlagPublicKeyFile}
	m.hostPorts = []string{"grpc-listen", "health-listen"}
	if peers := Peers(args[1]); len(peers) > 0 {
		for _, p := range peers {
			fs.String(p+"-addr", "", "")
			m.required = append(m.required, []string{p + "-addr"})
			m.hostPorts = append(m.hostPorts, p+"-addr")
		}
		fs.String("peer-token-file", "", "")
		fs.String("peer-tls-ca", "", "")
		fs.String("peer-tls-cert", "", "")
		fs.String("peer-tls-key", "", "")
		m.required = append(m.required, []string{"peer-token-file"})
		m.files = append(m.files, "peer-token-file", "peer-tls-ca", "peer-tls-cert", "peer-tls-key")
	}
	return m
}

func gatewayMode(args []string) *mode {
	fs := config.NewFlagSet("jiayuan serve gateway")
	m := &mode{args: args[:2], flags: fs, oneOf: map[string][]string{}, telemetry: true}
	fs.String("http-listen", ":8080", "")
	fs.String("cors-origins", "", "")
	fs.Int64("max-body-bytes", 1<<20, "")
	fs.String("upstream-ca", "", "")
	fs.String("upstream-cert", "", "")
	fs.String("upstream-key", "", "")
	fs.Duration("drain-delay", server.DefaultDrainDelay, "")
	fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "")
	httpCfg := gateway.DefaultServerConfig() // the gateway's own timeout and connection flags
	httpCfg.RegisterFlags(fs)
	m.hostPorts = []string{"http-listen"}
	for _, s := range Services() {
		fs.String(s+"-addr", "", "")
		m.required = append(m.required, []string{s + "-addr"})
		m.hostPorts = append(m.hostPorts, s+"-addr")
	}
	logFlags(fs, m)
	m.files = []string{"upstream-ca", "upstream-cert", "upstream-key"}
	return m
}

func migrateMode(args []string) *mode {
	fs := config.NewFlagSet("jiayuan migrate " + args[1])
	fs.String("db-url", "", "")
	return &mode{args: args[:2], service: args[1], flags: fs, oneOf: map[string][]string{},
		required: [][]string{{"db-url"}}, database: true}
}

// otherEnv lists the variables outside JIAYUAN_* a mode's process reads, by who reads them.
func (m *mode) otherEnv(name string) bool {
	switch {
	case goRuntimeEnv[name]:
		return true
	case m.telemetry && otelEnv[name]:
		return true
	case m.database && pgEnv[name]:
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
