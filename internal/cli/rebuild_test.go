package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// TestRebuildReporting resets the reporting database: figures gone, cursors at zero; and it
// refuses any other service.
func TestRebuildReporting(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "reporting.db")
	run := func(args ...string) (int, string) {
		var out, errs strings.Builder
		code := cli.Run(context.Background(), args, cli.IO{Out: &out, Err: &errs, LookupEnv: func(string) (string, bool) { return "", false }})
		return code, out.String() + errs.String()
	}
	if code, out := run("rebuild", "reporting", "--db-url", url); code != 0 {
		t.Fatalf("first rebuild: %d %s", code, out)
	}
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO aggregates (region_code, day, measure, dimension, value) VALUES ('450105', 20260101, 'matters_solved', '', 3)`,
		`INSERT INTO consumer_cursors (consumer, source, cursor, event_id, updated_us) VALUES ('reporting', 'demand', 42, 'x', 0)`,
	} {
		if _, err := db.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := run("rebuild", "reporting", "--db-url", url); code != 0 || !strings.Contains(out, "figures reset") {
		t.Fatalf("rebuild: %d %s", code, out)
	}
	var rows, cursor int64
	if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM aggregates`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(t.Context(), `SELECT cursor FROM consumer_cursors WHERE consumer = 'reporting' AND source = 'demand'`).Scan(&cursor); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || cursor != 0 {
		t.Errorf("after the rebuild: %d aggregate rows, cursor %d", rows, cursor)
	}
	if code, _ := run("rebuild", "demand", "--db-url", url); code == 0 {
		t.Error("rebuild demand succeeded")
	}
}
