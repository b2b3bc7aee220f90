package sqlstoretest_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

func TestCompareDialects(t *testing.T) {
	const pg = `-- +goose Up
-- Things.
CREATE TABLE things (
    seq   BIGSERIAL PRIMARY KEY,
    name  TEXT NOT NULL, -- the resource name
    data  BYTEA NOT NULL
);
UPDATE things t SET name = o.name FROM others o WHERE o.seq = t.seq; -- dialect: UPDATE … FROM

-- +goose Down
DROP TABLE things;
`
	const lite = `-- +goose Up
CREATE TABLE things (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,

    data BLOB NOT NULL
);
UPDATE things SET name = (SELECT o.name FROM others o WHERE o.seq = things.seq); -- dialect: a subquery

-- +goose Down
DROP TABLE things;
`
	tests := []struct {
		name      string
		pg, lite  string
		files     map[string]string // extra files
		wantError string            // "" when in step
	}{
		{name: "in step after spellings, comments and spacing", pg: pg, lite: lite},
		{
			name: "a column added to postgres only", pg: strings.Replace(pg, "    data", "    note  TEXT,\n    data", 1), lite: lite,
			wantError: `postgres line 6 "note TEXT," differs from sqlite line 6 "data BLOB NOT NULL"`,
		},
		{
			name: "a column added to sqlite only", pg: pg, lite: strings.Replace(lite, ");", "    note TEXT\n);", 1),
			wantError: `sqlite line 7`,
		},
		{
			name: "a type changed in one", pg: pg, lite: strings.Replace(lite, "name TEXT", "name BLOB", 1),
			wantError: `"name TEXT NOT NULL,"`,
		},
		{
			name: "a statement added at the end of one", pg: pg + "CREATE INDEX things_name ON things (name);\n", lite: lite,
			wantError: `postgres line 12 "CREATE INDEX things_name ON things (name);" has no sqlite twin`,
		},
		{
			name: "Up and Down are not interchangeable", pg: pg, lite: strings.Replace(strings.Replace(lite, "DROP TABLE things;", "", 1), "-- +goose Up", "-- +goose Up\nDROP TABLE things;", 1),
			wantError: "differs",
		},
		{
			name: "a statement marked as written per dialect",
			pg:   strings.Replace(pg, "-- +goose Down", "-- dialect statement: bytea functions\nUPDATE things\nSET data = '\\x0a'::bytea;\n\n-- +goose Down", 1),
			lite: strings.Replace(lite, "-- +goose Down", "-- dialect statement: hex text\nUPDATE things\n  SET data = unhex('0A');\n\n-- +goose Down", 1),
		},
		{
			name:      "the marker covers one statement, not the next",
			pg:        strings.Replace(pg, "-- +goose Down", "-- dialect statement: bytea functions\nUPDATE things SET data = '\\x0a'::bytea;\nDELETE FROM things;\n-- +goose Down", 1),
			lite:      strings.Replace(lite, "-- +goose Down", "-- dialect statement: hex text\nUPDATE things SET data = unhex('0A');\n-- +goose Down", 1),
			wantError: `"DELETE FROM things;" differs`,
		},
		{
			name: "a file in one dialect only", pg: pg, lite: lite, files: map[string]string{"postgres/00002_more.sql": "-- +goose Up\n"},
			wantError: "every migration needs both",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"postgres/00001_things.sql": {Data: []byte(tt.pg)},
				"sqlite/00001_things.sql":   {Data: []byte(tt.lite)},
			}
			for name, data := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			err := sqlstoretest.CompareDialects(fsys)
			if tt.wantError == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantError)
			}
		})
	}
}
