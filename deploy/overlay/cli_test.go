package overlay

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/internal/suite"
)

// TestModesMatchBinary holds the table of modes to the binary itself: each command is run in
// process with an environment that records what it looks up and sets nothing, so the command
// reads every variable of its flags and then stops at its first missing setting. What it asked
// for must be exactly what the table says it reads, and the services the table knows, and the
// services each calls, must be the suite's.
func TestModesMatchBinary(t *testing.T) {
	if got, want := Services(), suite.Names(); !slices.Equal(got, want) {
		t.Fatalf("overlay.Services() = %v, but the binary serves %v: add the new service to the table and the manifests (docs/deploy.md, \"Adding a service\")", got, want)
	}
	for _, spec := range suite.Services() {
		if got := Peers(spec.Name); !slices.Equal(got, spec.Peers) {
			t.Errorf("overlay.Peers(%q) = %v, but the binary's %s calls %v", spec.Name, got, spec.Name, spec.Peers)
		}
	}
	commands := [][]string{{"serve", "gateway"}}
	for _, s := range suite.Names() {
		commands = append(commands, []string{"serve", s}, []string{"migrate", s})
	}
	for _, args := range commands {
		var (
			read   []string
			stderr strings.Builder
		)
		code := cli.Run(context.Background(), args, cli.IO{Out: io.Discard, Err: &stderr, LookupEnv: func(name string) (string, bool) {
			read = append(read, name)
			return "", false
		}})
		if code == 0 {
			t.Fatalf("jiayuan %s with no settings succeeded: it should have stopped at a missing one", strings.Join(args, " "))
		}
		m, err := modeFor(args)
		if err != nil {
			t.Fatal(err)
		}
		var table []string
		for name := range m.env() {
			table = append(table, name)
		}
		slices.Sort(table)
		slices.Sort(read)
		read = slices.Compact(read)
		if !slices.Equal(read, table) {
			t.Errorf("jiayuan %s reads %v;\nthe table in binary.go says %v", strings.Join(args, " "), read, table)
		}
		// The binary's first complaint is a setting the table requires too.
		if !slices.ContainsFunc(m.required, func(alts []string) bool {
			return slices.ContainsFunc(alts, func(f string) bool { return strings.Contains(stderr.String(), "--"+f) })
		}) {
			t.Errorf("jiayuan %s stopped with %q, naming no setting the table requires", strings.Join(args, " "), stderr.String())
		}
	}
}
