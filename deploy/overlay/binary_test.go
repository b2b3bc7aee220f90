package overlay

import (
	"slices"
	"strings"
	"testing"
)

// TestModes pins the settings each command reads: the variables are the flags' names through
// config.EnvName, and the auth ones come from platform/auth's own registration, the limits'
// from platform/limits'.
func TestModes(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		env      []string
		required string
	}{
		{
			args: []string{"serve", "partner"},
			env: []string{"JIAYUAN_ANONYMOUS_RATE_LIMIT", "JIAYUAN_AUDIT_RECORDS", "JIAYUAN_AUTH_AUDIENCE", "JIAYUAN_AUTH_FAILURE_LIMIT", "JIAYUAN_AUTH_ISSUER", "JIAYUAN_AUTH_JWKS_MIN_FETCH_INTERVAL",
				"JIAYUAN_AUTH_JWKS_URL", "JIAYUAN_AUTH_MAX_SYSTEM_TOKEN_LIFETIME", "JIAYUAN_AUTH_MAX_TOKEN_LIFETIME", "JIAYUAN_AUTH_PUBLIC_KEY_FILE", "JIAYUAN_CONTRACT_ADDR", "JIAYUAN_DB_POOL_SIZE", "JIAYUAN_DB_URL", "JIAYUAN_DRAIN_DELAY",
				"JIAYUAN_GRPC_LISTEN", "JIAYUAN_HEALTH_LISTEN", "JIAYUAN_LOG_FORMAT", "JIAYUAN_LOG_LEVEL", "JIAYUAN_MAX_CONCURRENT_STREAMS", "JIAYUAN_MAX_RECV_BYTES",
				"JIAYUAN_MAX_STREAMS_PER_CALLER", "JIAYUAN_MAX_SYSTEM_STREAMS", "JIAYUAN_METRICS_LISTEN", "JIAYUAN_PEER_TLS_CA", "JIAYUAN_PEER_TLS_CERT", "JIAYUAN_PEER_TLS_KEY", "JIAYUAN_PEER_TOKEN_FILE",
				"JIAYUAN_PERSONAL_DATA_KEYS", "JIAYUAN_RATE_LIMITS", "JIAYUAN_RATE_LIMIT_CLIENTS", "JIAYUAN_REFLECTION",
				"JIAYUAN_REGIONS", "JIAYUAN_SHUTDOWN_TIMEOUT", "JIAYUAN_TLS_CERT", "JIAYUAN_TLS_CLIENT_CA", "JIAYUAN_TLS_CLIENT_NAMES", "JIAYUAN_TLS_KEY", "JIAYUAN_TRUSTED_PROXIES"},
			required: "db-url regions auth-issuer auth-audience auth-jwks-url|auth-public-key-file contract-addr peer-token-file personal-data-keys",
		},
		{
			args: []string{"serve", "demand"},
			env: []string{"JIAYUAN_ANONYMOUS_RATE_LIMIT", "JIAYUAN_AUDIT_RECORDS", "JIAYUAN_AUTH_AUDIENCE", "JIAYUAN_AUTH_FAILURE_LIMIT", "JIAYUAN_AUTH_ISSUER", "JIAYUAN_AUTH_JWKS_MIN_FETCH_INTERVAL",
				"JIAYUAN_AUTH_JWKS_URL", "JIAYUAN_AUTH_MAX_SYSTEM_TOKEN_LIFETIME", "JIAYUAN_AUTH_MAX_TOKEN_LIFETIME", "JIAYUAN_AUTH_PUBLIC_KEY_FILE", "JIAYUAN_CONTRACT_ADDR", "JIAYUAN_DB_POOL_SIZE", "JIAYUAN_DB_URL", "JIAYUAN_DRAIN_DELAY",
				"JIAYUAN_ESCALATION_ADDR", "JIAYUAN_GRPC_LISTEN", "JIAYUAN_HEALTH_LISTEN", "JIAYUAN_LOG_FORMAT", "JIAYUAN_LOG_LEVEL", "JIAYUAN_MAX_CONCURRENT_STREAMS",
				"JIAYUAN_MAX_RECV_BYTES", "JIAYUAN_MAX_STREAMS_PER_CALLER", "JIAYUAN_MAX_SYSTEM_STREAMS", "JIAYUAN_METRICS_LISTEN", "JIAYUAN_NOTIFY_MAX_ATTEMPTS", "JIAYUAN_NOTIFY_QUIET_HOURS", "JIAYUAN_NOTIFY_WEBHOOK_CA", "JIAYUAN_NOTIFY_WEBHOOK_SECRET_FILE",
				"JIAYUAN_NOTIFY_WEBHOOK_URL", "JIAYUAN_PARTNER_ADDR", "JIAYUAN_PEER_TLS_CA", "JIAYUAN_PEER_TLS_CERT", "JIAYUAN_PEER_TLS_KEY", "JIAYUAN_PEER_TOKEN_FILE",
				"JIAYUAN_PERSONAL_DATA_KEYS", "JIAYUAN_PHOTO_MAX_BYTES", "JIAYUAN_PHOTO_S3_CREDENTIALS", "JIAYUAN_PHOTO_STORE", "JIAYUAN_PHOTO_URL_KEY_FILE", "JIAYUAN_PHOTO_URL_TTL",
				"JIAYUAN_RATE_LIMITS", "JIAYUAN_RATE_LIMIT_CLIENTS", "JIAYUAN_REFLECTION", "JIAYUAN_REGIONS", "JIAYUAN_SHUTDOWN_TIMEOUT", "JIAYUAN_TLS_CERT",
				"JIAYUAN_TLS_CLIENT_CA", "JIAYUAN_TLS_CLIENT_NAMES", "JIAYUAN_TLS_KEY", "JIAYUAN_TRUSTED_PROXIES"},
			required: "db-url regions auth-issuer auth-audience auth-jwks-url|auth-public-key-file partner-addr escalation-addr contract-addr peer-token-file personal-data-keys photo-store photo-url-key-file",
		},
		{
			args: []string{"serve", "escalation"},
			env: []string{"JIAYUAN_ANONYMOUS_RATE_LIMIT", "JIAYUAN_AUDIT_RECORDS", "JIAYUAN_AUTH_AUDIENCE", "JIAYUAN_AUTH_FAILURE_LIMIT", "JIAYUAN_AUTH_ISSUER", "JIAYUAN_AUTH_JWKS_MIN_FETCH_INTERVAL",
				"JIAYUAN_AUTH_JWKS_URL", "JIAYUAN_AUTH_MAX_SYSTEM_TOKEN_LIFETIME", "JIAYUAN_AUTH_MAX_TOKEN_LIFETIME", "JIAYUAN_AUTH_PUBLIC_KEY_FILE", "JIAYUAN_DB_POOL_SIZE", "JIAYUAN_DB_URL", "JIAYUAN_DEMAND_ADDR",
				"JIAYUAN_DRAIN_DELAY", "JIAYUAN_GRPC_LISTEN", "JIAYUAN_HEALTH_LISTEN", "JIAYUAN_LOG_FORMAT", "JIAYUAN_LOG_LEVEL", "JIAYUAN_MAX_CONCURRENT_STREAMS",
				"JIAYUAN_MAX_RECV_BYTES", "JIAYUAN_MAX_STREAMS_PER_CALLER", "JIAYUAN_MAX_SYSTEM_STREAMS", "JIAYUAN_METRICS_LISTEN", "JIAYUAN_NOTIFY_MAX_ATTEMPTS", "JIAYUAN_NOTIFY_QUIET_HOURS", "JIAYUAN_NOTIFY_WEBHOOK_CA", "JIAYUAN_NOTIFY_WEBHOOK_SECRET_FILE",
				"JIAYUAN_NOTIFY_WEBHOOK_URL", "JIAYUAN_PEER_TLS_CA", "JIAYUAN_PEER_TLS_CERT", "JIAYUAN_PEER_TLS_KEY",
				"JIAYUAN_PEER_TOKEN_FILE", "JIAYUAN_RATE_LIMITS", "JIAYUAN_RATE_LIMIT_CLIENTS", "JIAYUAN_REFLECTION", "JIAYUAN_REGIONS", "JIAYUAN_RULES",
				"JIAYUAN_SHUTDOWN_TIMEOUT", "JIAYUAN_SWEEP_INTERVAL", "JIAYUAN_TLS_CERT", "JIAYUAN_TLS_CLIENT_CA", "JIAYUAN_TLS_CLIENT_NAMES", "JIAYUAN_TLS_KEY", "JIAYUAN_TRUSTED_PROXIES"},
			required: "db-url regions auth-issuer auth-audience auth-jwks-url|auth-public-key-file demand-addr peer-token-file rules",
		},
		{
			args: []string{"serve", "contract"},
			env: []string{"JIAYUAN_ANONYMOUS_RATE_LIMIT", "JIAYUAN_AUDIT_RECORDS", "JIAYUAN_AUTH_AUDIENCE", "JIAYUAN_AUTH_FAILURE_LIMIT", "JIAYUAN_AUTH_ISSUER", "JIAYUAN_AUTH_JWKS_MIN_FETCH_INTERVAL",
				"JIAYUAN_AUTH_JWKS_URL", "JIAYUAN_AUTH_MAX_SYSTEM_TOKEN_LIFETIME", "JIAYUAN_AUTH_MAX_TOKEN_LIFETIME", "JIAYUAN_AUTH_PUBLIC_KEY_FILE", "JIAYUAN_DB_POOL_SIZE", "JIAYUAN_DB_URL", "JIAYUAN_DEMAND_ADDR",
				"JIAYUAN_DRAIN_DELAY", "JIAYUAN_DUE_SOON_WORKDAYS", "JIAYUAN_GRPC_LISTEN", "JIAYUAN_HEALTH_LISTEN", "JIAYUAN_INACTIVE_DAYS", "JIAYUAN_LOG_FORMAT", "JIAYUAN_LOG_LEVEL", "JIAYUAN_MAX_CONCURRENT_STREAMS",
				"JIAYUAN_MAX_RECV_BYTES", "JIAYUAN_MAX_STREAMS_PER_CALLER", "JIAYUAN_MAX_SYSTEM_STREAMS", "JIAYUAN_METRICS_LISTEN", "JIAYUAN_PARTNER_ADDR", "JIAYUAN_PEER_TLS_CA", "JIAYUAN_PEER_TLS_CERT", "JIAYUAN_PEER_TLS_KEY",
				"JIAYUAN_PEER_TOKEN_FILE", "JIAYUAN_RATE_LIMITS", "JIAYUAN_RATE_LIMIT_CLIENTS", "JIAYUAN_REFLECTION", "JIAYUAN_REGIONS", "JIAYUAN_RULES",
				"JIAYUAN_SHUTDOWN_TIMEOUT", "JIAYUAN_SWEEP_INTERVAL", "JIAYUAN_TLS_CERT", "JIAYUAN_TLS_CLIENT_CA", "JIAYUAN_TLS_CLIENT_NAMES", "JIAYUAN_TLS_KEY", "JIAYUAN_TRUSTED_PROXIES"},
			required: "db-url regions auth-issuer auth-audience auth-jwks-url|auth-public-key-file demand-addr partner-addr peer-token-file rules",
		},
		{
			args: []string{"serve", "gateway"},
			env: []string{"JIAYUAN_ANONYMOUS_RATE_LIMIT", "JIAYUAN_AUTH_FAILURE_LIMIT", "JIAYUAN_CONTRACT_ADDR", "JIAYUAN_CORS_ORIGINS", "JIAYUAN_DEMAND_ADDR", "JIAYUAN_DRAIN_DELAY", "JIAYUAN_ESCALATION_ADDR",
				"JIAYUAN_HTTP_IDLE_TIMEOUT", "JIAYUAN_HTTP_LISTEN", "JIAYUAN_HTTP_MAX_CONNS", "JIAYUAN_HTTP_READ_HEADER_TIMEOUT", "JIAYUAN_HTTP_READ_TIMEOUT", "JIAYUAN_HTTP_WRITE_TIMEOUT",
				"JIAYUAN_LOG_FORMAT", "JIAYUAN_LOG_LEVEL", "JIAYUAN_MAX_BODY_BYTES", "JIAYUAN_METRICS_LISTEN", "JIAYUAN_PARTNER_ADDR", "JIAYUAN_PHOTO_MAX_BYTES", "JIAYUAN_RATE_LIMIT_CLIENTS",
				"JIAYUAN_REPORTING_ADDR", "JIAYUAN_SHUTDOWN_TIMEOUT", "JIAYUAN_TRUSTED_PROXIES", "JIAYUAN_UPSTREAM_CA", "JIAYUAN_UPSTREAM_CERT", "JIAYUAN_UPSTREAM_KEY"},
			required: "partner-addr demand-addr escalation-addr contract-addr reporting-addr",
		},
		{
			args:     []string{"migrate", "partner"},
			env:      []string{"JIAYUAN_DB_URL"},
			required: "db-url",
		},
	} {
		m, err := modeFor(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		var env []string
		for name := range m.env() {
			env = append(env, name)
		}
		slices.Sort(env)
		if !slices.Equal(env, tc.env) {
			t.Errorf("%s reads %v, want %v", m, env, tc.env)
		}
		var req []string
		for _, alts := range m.Required {
			req = append(req, strings.Join(alts, "|"))
		}
		if got := strings.Join(req, " "); got != tc.required {
			t.Errorf("%s requires %q, want %q", m, got, tc.required)
		}
	}
	for _, args := range [][]string{{"serve"}, {"serve", "nosuch"}, {"migrate", "gateway"}, {"dev"}, nil} {
		if m, err := modeFor(args); err == nil {
			t.Errorf("modeFor(%q) = %v, want an error", args, m)
		}
	}
	m, _ := modeFor([]string{"migrate", "partner"})
	if m.otherEnv("OTEL_EXPORTER_OTLP_ENDPOINT") || !m.otherEnv("PGPASSWORD") || !m.otherEnv("GOMEMLIMIT") {
		t.Error("migrate: sets up no telemetry but opens PostgreSQL")
	}
	if m, _ := modeFor([]string{"serve", "gateway"}); m.otherEnv("PGPASSWORD") || !m.otherEnv("OTEL_RESOURCE_ATTRIBUTES") {
		t.Error("gateway: telemetry but no database")
	}
}

func TestPinned(t *testing.T) {
	for image, ok := range map[string]bool{
		"registry.example/jiayuan/jiayuan:v0.1.0":         true,
		"registry.example:5000/jiayuan/jiayuan:v0.1.0":    true,
		"registry.example:5000/jiayuan/jiayuan":           false,
		"jiayuan":                                         false,
		"jiayuan:latest":                                  false,
		"ghcr.io/cloudnative-pg/postgresql:17.6":          true,
		"jiayuan@sha256:0123456789abcdef0123456789abcdef": true,
		"": false,
	} {
		if err := pinned(image); (err == nil) != ok {
			t.Errorf("pinned(%q) = %v, want ok %v", image, err, ok)
		}
	}
}

func TestParseGoBytes(t *testing.T) {
	for in, want := range map[string]int64{"460MiB": 460 << 20, "1GiB": 1 << 30, "1024": 1024, "512KiB": 512 << 10, "9B": 9} {
		if got, err := parseGoBytes(in); err != nil || got != want {
			t.Errorf("parseGoBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"460Mi", "", "-1", "1.5GiB"} {
		if _, err := parseGoBytes(in); err == nil {
			t.Errorf("parseGoBytes(%q) succeeded", in)
		}
	}
}
