package config_test

import (
	"errors"
	"testing"

	"github.com/jiayuan/jiayuan/platform/config"
)

func TestChecks(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" for valid
	}{
		{"host:port", config.HostPort("127.0.0.1:9090"), ""},
		{"port only", config.HostPort(":9090"), ""},
		{"ipv6", config.HostPort("[::1]:9090"), ""},
		{"name", config.HostPort("partner.jiayuan.svc:9090"), ""},
		{"port zero", config.HostPort("localhost:0"), ""},
		{"no port", config.HostPort("abc"), `"abc" is not host:port`},
		{"empty", config.HostPort(""), `"" is not host:port`},
		{"named port", config.HostPort("localhost:http"), `"localhost:http" is not host:port: the port must be a number from 0 to 65535`},
		{"port too big", config.HostPort("localhost:65536"), `"localhost:65536" is not host:port: the port must be a number from 0 to 65535`},
		{"empty port", config.HostPort("localhost:"), `"localhost:" is not host:port: the port must be a number from 0 to 65535`},
		{"url", config.URL("postgres://u@db:5432/x", "postgres", "postgresql"), ""},
		{"url any scheme", config.URL("https://idp.example/jwks"), ""},
		{"url wrong scheme", config.URL("mysql://db/x", "postgres", "postgresql"), `"mysql://db/x": the scheme must be postgres or postgresql`},
		{"url password redacted", config.URL("mysql://u:secret@db/x", "postgres"), `"mysql://u:xxxxx@db/x": the scheme must be postgres`},
		{"url relative", config.URL("/var/db", "postgres"), `"/var/db" is not an absolute URL with a host`},
		{"url unparsable, password not echoed", config.URL("postgres://u:se cret@db:x/%zz", "postgres"), "is not a valid URL"},
		{"required", config.Required("x"), ""},
		{"required empty", config.Required(" "), "must be set"},
		{"one of", config.OneOf("json", "text", "json"), ""},
		{"not one of", config.OneOf("xml", "text", "json"), `"xml" is not one of text, json`},
	}
	for _, tt := range tests {
		got := ""
		if tt.err != nil {
			got = tt.err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: error = %q, want %q", tt.name, got, tt.want)
		}
	}
}

type serverConfig struct {
	GRPCListen string
	DBURL      string
	LogFormat  string
}

func (c serverConfig) Validate() error {
	var p config.Problems
	p.Check("grpc-listen", config.HostPort(c.GRPCListen))
	p.Check("db-url", config.URL(c.DBURL, "postgres", "postgresql"))
	p.Check("log-format", config.OneOf(c.LogFormat, "text", "json"))
	if c.LogFormat == "text" && c.DBURL != "" {
		p.Addf("log-format", "%q is for terminals; use json with a database", c.LogFormat)
	}
	return p.Err()
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		cfg  serverConfig
		want string
	}{
		{"valid", serverConfig{"127.0.0.1:9090", "postgres://db/x", "json"}, ""},
		{"one bad", serverConfig{"abc", "postgres://db/x", "json"}, `JIAYUAN_GRPC_LISTEN (--grpc-listen): "abc" is not host:port`},
		{
			"several bad",
			serverConfig{"abc", "db", "text"},
			"JIAYUAN_GRPC_LISTEN (--grpc-listen): \"abc\" is not host:port\n" +
				"JIAYUAN_DB_URL (--db-url): \"db\" is not an absolute URL with a host\n" +
				"JIAYUAN_LOG_FORMAT (--log-format): \"text\" is for terminals; use json with a database",
		},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q, want %q", tt.name, got, tt.want)
		}
	}

	err := serverConfig{"abc", "postgres://db/x", "json"}.Validate()
	var se *config.SettingError
	if !errors.As(err, &se) || se.Flag != "grpc-listen" {
		t.Errorf("errors.As(SettingError) = %v, %+v", errors.As(err, &se), se)
	}
}
