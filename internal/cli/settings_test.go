package cli_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestSettingsDescribeChecks holds each container command's description (what deploy/overlay
// checks manifests against) to the command's own checks: run with nothing set, the command
// complains of exactly the required settings, each group of alternatives at least once; and
// every flag the description names is one the command declares.
func TestSettingsDescribeChecks(t *testing.T) {
	named := regexp.MustCompile(`\(--([a-z0-9-]+)\)`)
	commands := [][]string{{"serve", "gateway"}, {"serve", reporting.RollupName}}
	for _, s := range suite.Names() {
		commands = append(commands, []string{"serve", s}, []string{"migrate", s})
	}
	for _, args := range commands {
		s, err := cli.CommandSettings(args)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Args, args) {
			t.Errorf("%s: Args %q", s, s.Args)
		}
		var described []string
		for _, alts := range s.Required {
			described = append(described, alts...)
		}
		described = append(described, s.Files...)
		described = append(described, s.HostPorts...)
		for f := range s.OneOf {
			described = append(described, f)
		}
		for _, f := range described {
			if s.Flags.Lookup(f) == nil {
				t.Errorf("%s: the description names --%s, which the command does not declare", s, f)
			}
		}

		code, _, stderr := run(context.Background(), args, nil)
		if code == 0 {
			t.Fatalf("%s with nothing set succeeded", s)
		}
		var complaints []string
		for _, m := range named.FindAllStringSubmatch(stderr, -1) {
			complaints = append(complaints, m[1])
		}
		for _, f := range complaints {
			if !slices.ContainsFunc(s.Required, func(alts []string) bool { return slices.Contains(alts, f) }) {
				t.Errorf("%s complains of --%s, which its description does not require:\n%s", s, f, stderr)
			}
		}
		for _, alts := range s.Required {
			if !slices.ContainsFunc(alts, func(f string) bool { return slices.Contains(complaints, f) }) {
				t.Errorf("%s: the description requires %s, but the command started without it:\n%s", s, strings.Join(alts, " or "), stderr)
			}
		}
	}
	for _, args := range [][]string{{"serve"}, {"serve", "nosuch"}, {"migrate", "gateway"}, {"dev"}, {"token", "x"}, nil} {
		if s, err := cli.CommandSettings(args); err == nil {
			t.Errorf("CommandSettings(%q) = %v, want an error", args, s)
		}
	}
}
