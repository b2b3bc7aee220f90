package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// Settings describes the settings of one command the binary runs in a container (`serve
// <service>`, `serve gateway`, `migrate <service>`): the flag set exactly as the command
// declares it, and what a deployment must know of its flags beyond their types. The deploy
// checks (deploy/overlay) read it to hold manifests to the binary; TestSettingsDescribeChecks
// holds the description to the command's own checks.
type Settings struct {
	// Args are the arguments naming the command, e.g. ["serve", "partner"].
	Args []string
	// Service is the service served or migrated; empty for the gateway.
	Service string
	// Flags is the command's flag set; each flag is also read from config.EnvName(flag).
	Flags *config.FlagSet
	// Required lists the settings that must be set, each as alternatives (one suffices).
	Required [][]string
	// Files are flags naming a file the process reads.
	Files []string
	// HostPorts are flags holding a host:port.
	HostPorts []string
	// OneOf restricts flags' values.
	OneOf map[string][]string
	// Telemetry: the process sets up OpenTelemetry from the OTEL_* variables. Database: it
	// opens a database, and pgx reads PG* variables for what the URL leaves out.
	Telemetry, Database bool
}

func (s *Settings) String() string { return "`jiayuan " + strings.Join(s.Args, " ") + "`" }

// CommandSettings returns the settings of the command args names, e.g. ["serve", "demand"].
func CommandSettings(args []string) (*Settings, error) {
	if len(args) >= 2 {
		quiet := IO{Out: io.Discard, Err: io.Discard}
		switch {
		case args[0] == "serve" && args[1] == "gateway":
			_, s := gatewayFlags(quiet)
			return s, nil
		case args[0] == "serve" && args[1] == reporting.RollupName:
			_, s := rollupFlags(quiet)
			return s, nil
		case args[0] == "serve":
			if spec, ok := suite.Lookup(args[1]); ok {
				_, s := serveFlags(spec, quiet)
				return s, nil
			}
		case args[0] == "migrate":
			if spec, ok := suite.Lookup(args[1]); ok {
				_, s := migrateFlags(spec, quiet)
				return s, nil
			}
		}
	}
	return nil, fmt.Errorf("args %q: not a command of the jiayuan binary run in a container: `serve <service>`, `serve gateway`, `serve %s` or `migrate <service>` (services: %s)",
		args, reporting.RollupName, strings.Join(suite.Names(), ", "))
}

func newSettings(fs *config.FlagSet, args ...string) *Settings {
	return &Settings{Args: args, Flags: fs, OneOf: map[string][]string{}}
}

func (s *Settings) require(alternatives ...string) { s.Required = append(s.Required, alternatives) }

func (s *Settings) files(flags ...string) { s.Files = append(s.Files, flags...) }

func (s *Settings) hostPorts(flags ...string) { s.HostPorts = append(s.HostPorts, flags...) }

func (s *Settings) oneOf(flag string, values ...string) { s.OneOf[flag] = slices.Clone(values) }
