package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/config"
)

func env(vars map[string]string) config.Option {
	return config.WithLookupEnv(func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"db-url":        "JIAYUAN_DB_URL",
		"grpc-listen":   "JIAYUAN_GRPC_LISTEN",
		"data-dir":      "JIAYUAN_DATA_DIR",
		"v":             "JIAYUAN_V",
		"auth-jwks-url": "JIAYUAN_AUTH_JWKS_URL",
	}
	for flagName, want := range tests {
		if got := config.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
	if got, want := config.Setting("db-url"), "JIAYUAN_DB_URL (--db-url)"; got != want {
		t.Errorf("Setting = %q, want %q", got, want)
	}
}

type settings struct {
	dbURL   string
	port    int
	timeout time.Duration
	verbose bool
}

func declare(fs *config.FlagSet) *settings {
	var s settings
	fs.StringVar(&s.dbURL, "db-url", "sqlite://data/jiayuan.db", "database `URL`")
	fs.IntVar(&s.port, "port", 9090, "gRPC port")
	fs.DurationVar(&s.timeout, "timeout", 5*time.Second, "request timeout")
	fs.BoolVar(&s.verbose, "verbose", false, "log debug messages")
	return &s
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    settings
		sources map[string]config.Source
	}{
		{
			name:    "defaults",
			want:    settings{"sqlite://data/jiayuan.db", 9090, 5 * time.Second, false},
			sources: map[string]config.Source{"db-url": config.FromDefault, "port": config.FromDefault},
		},
		{
			name:    "environment overrides defaults",
			env:     map[string]string{"JIAYUAN_DB_URL": "postgres://db/x", "JIAYUAN_PORT": "7000", "JIAYUAN_TIMEOUT": "1m", "JIAYUAN_VERBOSE": "true"},
			want:    settings{"postgres://db/x", 7000, time.Minute, true},
			sources: map[string]config.Source{"db-url": config.FromEnv, "port": config.FromEnv, "verbose": config.FromEnv},
		},
		{
			name:    "flags override the environment",
			args:    []string{"--db-url=postgres://flag/x", "-port", "8000", "--verbose"},
			env:     map[string]string{"JIAYUAN_DB_URL": "postgres://db/x", "JIAYUAN_PORT": "7000", "JIAYUAN_TIMEOUT": "1m"},
			want:    settings{"postgres://flag/x", 8000, time.Minute, true},
			sources: map[string]config.Source{"db-url": config.FromFlag, "port": config.FromFlag, "timeout": config.FromEnv, "verbose": config.FromFlag},
		},
		{
			name: "a flag set to its default still beats the environment",
			args: []string{"--port=9090", "--verbose=false"},
			env:  map[string]string{"JIAYUAN_PORT": "7000", "JIAYUAN_VERBOSE": "true"},
			want: settings{"sqlite://data/jiayuan.db", 9090, 5 * time.Second, false},
		},
		{
			name:    "an empty variable counts as unset",
			env:     map[string]string{"JIAYUAN_DB_URL": "", "JIAYUAN_PORT": ""},
			want:    settings{"sqlite://data/jiayuan.db", 9090, 5 * time.Second, false},
			sources: map[string]config.Source{"db-url": config.FromDefault},
		},
		{
			name: "other variables are ignored",
			env:  map[string]string{"DB_URL": "x", "JIAYUAN_DBURL": "y", "jiayuan_db_url": "z"},
			want: settings{"sqlite://data/jiayuan.db", 9090, 5 * time.Second, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := config.NewFlagSet("test", env(tt.env))
			got := declare(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("settings = %+v, want %+v", *got, tt.want)
			}
			for name, want := range tt.sources {
				if src := fs.Source(name); src != want {
					t.Errorf("Source(%q) = %v, want %v", name, src, want)
				}
			}
		})
	}
}

func TestPositionalArgsRemain(t *testing.T) {
	fs := config.NewFlagSet("test", env(nil))
	declare(fs)
	if err := fs.Parse([]string{"--port", "1", "partner", "--port=2"}); err != nil {
		t.Fatal(err)
	}
	if got := fs.Args(); len(got) != 2 || got[0] != "partner" {
		t.Errorf("Args() = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{
			name: "bad flag value",
			args: []string{"--port=abc"},
			want: `--port (JIAYUAN_PORT): invalid value "abc": parse error`,
		},
		{
			name: "bad boolean flag value",
			args: []string{"--verbose=maybe"},
			want: `--verbose (JIAYUAN_VERBOSE): invalid value "maybe": parse error`,
		},
		{
			name: "bad environment value",
			env:  map[string]string{"JIAYUAN_TIMEOUT": "5 minutes"},
			want: `JIAYUAN_TIMEOUT (--timeout): invalid value "5 minutes": parse error`,
		},
		{
			name: "every bad environment value is reported",
			env:  map[string]string{"JIAYUAN_TIMEOUT": "soon", "JIAYUAN_PORT": "-"},
			want: "JIAYUAN_PORT (--port): invalid value \"-\": parse error\nJIAYUAN_TIMEOUT (--timeout): invalid value \"soon\": parse error",
		},
		{
			name: "a bad environment value does not matter when the flag is given",
			args: []string{"--port=1"},
			env:  map[string]string{"JIAYUAN_PORT": "abc"},
		},
		{
			name: "custom flag rejecting a value",
			args: []string{"--level=loud"},
			want: `--level (JIAYUAN_LEVEL): invalid value "loud": want debug, info, warn or error`,
		},
		{
			name: "custom flag rejecting an environment value",
			env:  map[string]string{"JIAYUAN_LEVEL": "loud"},
			want: `JIAYUAN_LEVEL (--level): invalid value "loud": want debug, info, warn or error`,
		},
		{
			name: "unknown flag",
			args: []string{"--prot=1"},
			want: "flag provided but not defined: -prot",
		},
		{
			name: "missing argument",
			args: []string{"--port"},
			want: "flag needs an argument: -port",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := config.NewFlagSet("test", env(tt.env))
			declare(fs)
			fs.Func("level", "log level", func(s string) error {
				if s != "debug" && s != "info" && s != "warn" && s != "error" {
					return errors.New("want debug, info, warn or error")
				}
				return nil
			})
			err := fs.Parse(tt.args)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKeepsFlagValues(t *testing.T) {
	fs := config.NewFlagSet("test", env(nil))
	declare(fs)
	if err := fs.Parse([]string{"--port=1234"}); err != nil {
		t.Fatal(err)
	}
	// Parse wraps values while parsing; afterwards callers must see the originals again.
	getter, ok := fs.Lookup("port").Value.(flag.Getter)
	if !ok || getter.Get() != 1234 {
		t.Errorf("Lookup(port).Value = %#v", fs.Lookup("port").Value)
	}
}

func TestBadFlagNames(t *testing.T) {
	for _, name := range []string{"DB-URL", "db_url", "db.url", "db-", "1db", "数据"} {
		fs := config.NewFlagSet("test", env(nil))
		fs.String(name, "", "")
		err := fs.Parse(nil)
		if want := fmt.Sprintf("flag --%s: name must be", name); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("flag %q: Parse error = %v", name, err)
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	fs := config.NewFlagSet("jiayuan serve", env(nil), config.WithOutput(&out))
	declare(fs)
	err := fs.Parse([]string{"--help"})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(--help) = %v, want flag.ErrHelp", err)
	}
	want := `Usage of jiayuan serve:
  --db-url URL  (env JIAYUAN_DB_URL)
    	database URL (default "sqlite://data/jiayuan.db")
  --port int  (env JIAYUAN_PORT)
    	gRPC port (default 9090)
  --timeout duration  (env JIAYUAN_TIMEOUT)
    	request timeout (default 5s)
  --verbose  (env JIAYUAN_VERBOSE)
    	log debug messages
`
	if out.String() != want {
		t.Errorf("usage:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestErrorsDoNotPrint(t *testing.T) {
	var out bytes.Buffer
	fs := config.NewFlagSet("test", env(nil), config.WithOutput(&out))
	declare(fs)
	if err := fs.Parse([]string{"--port=x"}); err == nil {
		t.Fatal("Parse succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("Parse printed %q; errors are for the caller to report", out.String())
	}
}
