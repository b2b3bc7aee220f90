package overlay

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestModesMatchBinary holds the modes to the binary itself: each command is run in process
// with an environment that records what it looks up and sets nothing, so the command reads
// every variable of its flags and then stops at its missing settings. What it asked for must
// be exactly what its mode says it reads, and what it complains of must be required.
func TestModesMatchBinary(t *testing.T) {
	commands := [][]string{{"serve", "gateway"}, {"serve", reporting.RollupName}}
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
		if !slices.ContainsFunc(m.Required, func(alts []string) bool {
			return slices.ContainsFunc(alts, func(f string) bool { return strings.Contains(stderr.String(), "--"+f) })
		}) {
			t.Errorf("jiayuan %s stopped with %q, naming no setting the table requires", strings.Join(args, " "), stderr.String())
		}
	}
}
