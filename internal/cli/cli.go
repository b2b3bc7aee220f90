// Package cli is the jiayuan command line: one binary, many roles. `jiayuan dev` runs the
// whole suite in one process; `jiayuan serve <service>` runs one service (or the gateway) as
// Kubernetes does; `jiayuan token` mints a dev token; `jiayuan migrate <service>` brings a
// service's database schema up to date; `jiayuan rotate-keys <service>` re-seals its personal
// data under the current key.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// Version is set at build time (-ldflags "-X github.com/jiayuan/jiayuan/internal/cli.Version=…").
var Version = "dev"

// IO is where a command reads its environment and writes its output.
type IO struct {
	Out, Err io.Writer
	// LookupEnv reads the environment (os.LookupEnv in main).
	LookupEnv func(string) (string, bool)
}

const usage = `jiayuan — the Home Partners (家园合伙人) community co-governance platform

Usage:
  jiayuan dev                    run every service and the REST gateway locally (SQLite, demo data)
  jiayuan serve <service>        run one service: %s, or gateway
  jiayuan serve reporting-rollup run the city's rollup of its districts' reporting services
  jiayuan migrate <service>      apply a service's database migrations and exit
  jiayuan rotate-keys <service>  re-seal a service's personal data under the current key
  jiayuan audit verify <service> check a service's audit trail for gaps and edits (--db-url)
  jiayuan rebuild reporting      reset the figures to be counted again from every feed (--db-url)
  jiayuan token --role ROLE      print a dev token (only without a real identity provider)
  jiayuan version                print the version
  jiayuan new-district <code> <name>  write a district's overlay and its city side (deploy/k8s)

Run "jiayuan <command> --help" for a command's settings; each flag can also be set by an
environment variable, e.g. --db-url as JIAYUAN_DB_URL.
`

// Run runs the command in args (without the program name) and returns its exit code.
func Run(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 {
		fmt.Fprintf(io.Err, usage, strings.Join(suite.Names(), ", "))
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		suite.TuneGC(os.LookupEnv) // the runtime reads GOGC from the process, whatever io says
		err = runDev(ctx, args[1:], io)
	case "serve":
		suite.TuneGC(os.LookupEnv) // the runtime reads GOGC from the process, whatever io says
		err = runServe(ctx, args[1:], io)
	case "migrate":
		err = runMigrate(ctx, args[1:], io)
	case "rotate-keys":
		err = runRotateKeys(ctx, args[1:], io)
	case "audit":
		err = runAudit(ctx, args[1:], io)
	case "rebuild":
		err = runRebuild(ctx, args[1:], io)
	case "token":
		err = runToken(args[1:], io)
	case "version":
		fmt.Fprintln(io.Out, Version)
	case "new-district":
		err = runNewDistrict(args[1:], io)
	case "help", "-h", "--help":
		fmt.Fprintf(io.Out, usage, strings.Join(suite.Names(), ", "))
	default:
		fmt.Fprintf(io.Err, "jiayuan: unknown command %q\n\n"+usage, args[0], strings.Join(suite.Names(), ", "))
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled):
		return 0
	default:
		fmt.Fprintf(io.Err, "jiayuan %s: %v\n", args[0], err)
		return 1
	}
}

// logging holds the settings every long-running command shares.
type logging struct {
	level, format string
}

func (l *logging) register(fs *config.FlagSet, format string) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log-format", format, "log format: json or text")
}

func (l *logging) check(p *config.Problems) {
	p.Check("log-level", config.OneOf(l.level, logLevels()...))
	p.Check("log-format", config.OneOf(l.format, logFormats()...))
}

// describe adds the logging settings' allowed values to s.
func (l *logging) describe(s *Settings) {
	s.oneOf("log-level", logLevels()...)
	s.oneOf("log-format", logFormats()...)
}

// The values --log-level and --log-format accept.
func logLevels() []string  { return []string{"debug", "info", "warn", "error"} }
func logFormats() []string { return []string{"json", "text"} }

func (l *logging) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.level)) // checked by check
	return telemetry.NewLogger(w, level, l.format)
}

// loadTree reads the region tree file, or the Jiangnan demo tree when path is "demo".
func loadTree(path string) (*region.Tree, error) {
	if path == "demo" {
		return region.Demo(), nil
	}
	return region.Load(path)
}

func newFlagSet(name string, io IO) *config.FlagSet {
	opts := []config.Option{config.WithOutput(io.Err)}
	if io.LookupEnv != nil {
		opts = append(opts, config.WithLookupEnv(io.LookupEnv))
	}
	return config.NewFlagSet(name, opts...)
}
