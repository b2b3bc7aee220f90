package sqlstoretest

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// DialectMarker ends a migration line that is deliberately written for one dialect only, or
// differently in each, with the reason after it:
//
//	xid  xid8 NOT NULL DEFAULT pg_current_xact_id(), -- dialect: SQLite serialises writers
//
// CompareDialects leaves such lines out of the comparison.
const DialectMarker = "-- dialect:"

// StatementMarker, alone on a comment line, leaves the whole statement after it (through the
// line ending in ";") out of the comparison, for a statement that must be written differently
// in each dialect (a data rewrite in each one's byte functions), with the reason after it:
//
//	-- dialect statement: PostgreSQL's bytea functions; SQLite's hex text
//	UPDATE demand_timeline SET data = …;
const StatementMarker = "-- dialect statement:"

// dialectSpellings are the spellings that differ between the dialects for the same thing; a
// PostgreSQL line is compared with its SQLite twin after these replacements.
var dialectSpellings = []struct {
	pattern *regexp.Regexp
	sqlite  string
}{
	{regexp.MustCompile(`\bBYTEA\b`), "BLOB"},
	{regexp.MustCompile(`\bBIGSERIAL PRIMARY KEY\b`), "INTEGER PRIMARY KEY AUTOINCREMENT"},
}

// CheckDialects fails t unless CompareDialects finds the migrations' dialects in step.
func CheckDialects(t testing.TB, migrations fs.FS) {
	t.Helper()
	if err := CompareDialects(migrations); err != nil {
		t.Fatal(err)
	}
}

// CompareDialects checks that a set of migrations (a postgres/ and a sqlite/ directory, as
// sqlstore.DB.Migrate takes) says the same thing in both dialects: the same files, and in each
// pair the same lines in the same order once comments, blank lines and spacing are dropped
// and the known spellings are made the same (BYTEA is BLOB, BIGSERIAL PRIMARY KEY is INTEGER
// PRIMARY KEY AUTOINCREMENT). A line ending in DialectMarker is not compared. So a column,
// table or index added to one dialect only is an error, naming the file and the line.
func CompareDialects(migrations fs.FS) error {
	pg, err := fs.Glob(migrations, "postgres/*.sql")
	if err != nil {
		return err
	}
	lite, err := fs.Glob(migrations, "sqlite/*.sql")
	if err != nil {
		return err
	}
	pgNames, liteNames := baseNames(pg), baseNames(lite)
	if len(pgNames) == 0 {
		return fmt.Errorf("no migrations in postgres/")
	}
	if !slices.Equal(pgNames, liteNames) {
		return fmt.Errorf("postgres/ has %v and sqlite/ has %v: every migration needs both", pgNames, liteNames)
	}
	var problems []string
	for _, name := range pgNames {
		p, err := migrationLines(migrations, "postgres/"+name, true)
		if err != nil {
			return err
		}
		s, err := migrationLines(migrations, "sqlite/"+name, false)
		if err != nil {
			return err
		}
		if msg := firstDifference(p, s); msg != "" {
			problems = append(problems, name+": "+msg)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("migrations differ between postgres/ and sqlite/ (write the change in both, or end a line "+
			"that must differ with %q and the reason):\n%s", DialectMarker, strings.Join(problems, "\n"))
	}
	return nil
}

func baseNames(paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p[strings.LastIndexByte(p, '/')+1:]
	}
	slices.Sort(names)
	return names
}

// line is a migration line as compared, and where it is.
type line struct {
	text string
	no   int
}

func migrationLines(fsys fs.FS, path string, postgres bool) ([]line, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, err
	}
	var out []line
	skipping := false
	for i, raw := range strings.Split(string(data), "\n") {
		text := strings.TrimSpace(raw)
		if strings.HasPrefix(text, StatementMarker) {
			skipping = true
			continue
		}
		if skipping {
			if c := strings.Index(text, "--"); c >= 0 {
				text = text[:c]
			}
			skipping = !strings.HasSuffix(strings.TrimSpace(text), ";")
			continue
		}
		if strings.Contains(raw, DialectMarker) {
			continue
		}
		// goose's annotations are comments that matter: they split Up from Down.
		if !strings.HasPrefix(text, "-- +goose") {
			if c := strings.Index(text, "--"); c >= 0 {
				text = text[:c]
			}
		}
		text = strings.Join(strings.Fields(text), " ")
		if text == "" {
			continue
		}
		if postgres {
			for _, sp := range dialectSpellings {
				text = sp.pattern.ReplaceAllString(text, sp.sqlite)
			}
		}
		out = append(out, line{text: text, no: i + 1})
	}
	return out, nil
}

func firstDifference(pg, lite []line) string {
	for i := range max(len(pg), len(lite)) {
		switch {
		case i >= len(pg):
			return fmt.Sprintf("sqlite line %d %q has no postgres twin", lite[i].no, lite[i].text)
		case i >= len(lite):
			return fmt.Sprintf("postgres line %d %q has no sqlite twin", pg[i].no, pg[i].text)
		case pg[i].text != lite[i].text:
			return fmt.Sprintf("postgres line %d %q differs from sqlite line %d %q", pg[i].no, pg[i].text, lite[i].no, lite[i].text)
		}
	}
	return ""
}
