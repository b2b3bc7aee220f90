package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// The feeds' writes. A batch of events is applied in one transaction with a few statements
// whatever its size: the events' ids recorded in one, the states they touch read in one per
// kind, and the figures and states they change written back in one per table (on PostgreSQL;
// SQLite takes sqliteRows rows a statement).

// Agg names one aggregate row: a region, a day, a measure and a dimension.
type Agg struct {
	Region string
	Key
}

// AddAll adds every delta of deltas to its aggregate row, and to the row of the same month in
// monthly_aggregates. The writes are queued. The rows go in key order, so that two sources'
// transactions writing the same rows lock them in the same order and never deadlock.
func (s *Store) AddAll(ctx context.Context, tx sqlstore.Tx, deltas map[Agg]int64) {
	monthly := make(map[Agg]int64, len(deltas))
	for k, v := range deltas {
		m := k
		m.Day /= 100
		monthly[m] += v
	}
	for _, t := range []struct {
		table, column string
		rows          map[Agg]int64
	}{{"aggregates", "day", deltas}, {"monthly_aggregates", "month", monthly}} {
		keys := make([]Agg, 0, len(t.rows))
		for k, v := range t.rows {
			if v != 0 {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b Agg) int {
			return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Measure, b.Measure), cmp.Compare(a.Day, b.Day),
				cmp.Compare(a.Dimension, b.Dimension))
		})
		rows := make([][]any, len(keys))
		for i, k := range keys {
			rows[i] = []any{k.Region, int64(k.Day), k.Measure, k.Dimension, t.rows[k]}
		}
		insertRows(ctx, tx, t.table, []column{{"region_code", text}, {t.column, bigint}, {"measure", text}, {"dimension", text}, {"value", bigint}}, rows,
			`ON CONFLICT (region_code, measure, `+t.column+`, dimension) DO UPDATE SET value = `+t.table+`.value + excluded.value`)
	}
}

// FirstApplies records that the event ids of source are applied, and returns those that were
// not already: the caller applies only them.
func (s *Store) FirstApplies(ctx context.Context, tx sqlstore.Tx, source string, ids []string) (map[string]bool, error) {
	fresh := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, sqliteRows) {
		var q string
		args := []any{source}
		if tx.Dialect() == sqlstore.Postgres {
			q = `INSERT INTO applied_events (source, event_id) SELECT $1, unnest($2::text[])`
			args = append(args, chunk)
		} else {
			args = args[:0]
			for _, id := range chunk {
				args = append(args, source, id)
			}
			q = `INSERT INTO applied_events (source, event_id) VALUES ` + sqliteValues(len(chunk), 2)
		}
		err := query(ctx, tx, q+` ON CONFLICT (source, event_id) DO NOTHING RETURNING event_id`, args, func(r sqlstore.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			fresh[id] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record applied events: %w", err)
		}
	}
	return fresh, nil
}

// SkipAll counts events of types this service does not know: counts maps a type to how many.
func (s *Store) SkipAll(ctx context.Context, tx sqlstore.Tx, source string, counts map[string]int64) {
	var rows [][]any
	for _, typ := range slices.Sorted(maps.Keys(counts)) {
		rows = append(rows, []any{source, typ, counts[typ]})
	}
	insertRows(ctx, tx, "skipped_events", []column{{"source", text}, {"type", text}, {"count", bigint}}, rows,
		`ON CONFLICT (source, type) DO UPDATE SET count = skipped_events.count + excluded.count`)
}

// Demand is a demand's state.
type Demand struct {
	Name, Community  string
	Status           int32
	SubmitUS         int64
	Solved, Unsolved bool
}

// GetDemands reads the state of the demands named, by name; a demand with none is absent.
func (s *Store) GetDemands(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Demand, error) {
	out := map[string]Demand{}
	err := getStates(ctx, q, `SELECT name, community_code, status, submit_us, solved, closed_unresolved FROM demand_state`, names,
		func(r sqlstore.Rows) error {
			var d Demand
			var solved, unsolved int
			if err := r.Scan(&d.Name, &d.Community, &d.Status, &d.SubmitUS, &solved, &unsolved); err != nil {
				return err
			}
			d.Solved, d.Unsolved = solved == 1, unsolved == 1
			out[d.Name] = d
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("get demand states: %w", err)
	}
	return out, nil
}

// PutDemands writes the demands' states (queued).
func (s *Store) PutDemands(ctx context.Context, tx sqlstore.Tx, ds []Demand) {
	rows := make([][]any, len(ds))
	for i, d := range ds {
		rows[i] = []any{d.Name, d.Community, int64(d.Status), d.SubmitUS, b2i(d.Solved), b2i(d.Unsolved)}
	}
	insertRows(ctx, tx, "demand_state", []column{{"name", text}, {"community_code", text}, {"status", bigint}, {"submit_us", bigint},
		{"solved", bigint}, {"closed_unresolved", bigint}}, rows,
		`ON CONFLICT (name) DO UPDATE SET community_code = excluded.community_code, status = excluded.status, submit_us = excluded.submit_us,
		solved = excluded.solved, closed_unresolved = excluded.closed_unresolved`)
}

// Project is a project's state.
type Project struct {
	Name, Community string
	Status          int32
	ListType        int32
	Matched         bool
}

// GetProjects reads the state of the projects named, by name; a project with none is absent.
func (s *Store) GetProjects(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Project, error) {
	out := map[string]Project{}
	err := getStates(ctx, q, `SELECT name, community_code, status, list_type, matched FROM project_state`, names,
		func(r sqlstore.Rows) error {
			var p Project
			var matched int
			if err := r.Scan(&p.Name, &p.Community, &p.Status, &p.ListType, &matched); err != nil {
				return err
			}
			p.Matched = matched == 1
			out[p.Name] = p
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("get project states: %w", err)
	}
	return out, nil
}

// PutProjects writes the projects' states (queued).
func (s *Store) PutProjects(ctx context.Context, tx sqlstore.Tx, ps []Project) {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.Name, p.Community, int64(p.Status), int64(p.ListType), b2i(p.Matched)}
	}
	insertRows(ctx, tx, "project_state", []column{{"name", text}, {"community_code", text}, {"status", bigint}, {"list_type", bigint},
		{"matched", bigint}}, rows,
		`ON CONFLICT (name) DO UPDATE SET community_code = excluded.community_code, status = excluded.status,
		list_type = excluded.list_type, matched = excluded.matched`)
}

// Case is a case's state.
type Case struct {
	Name, Community       string
	Colour                int32
	Open, Replied, Closed bool
}

// GetCases reads the state of the cases named, by name; a case with none is absent.
func (s *Store) GetCases(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Case, error) {
	out := map[string]Case{}
	err := getStates(ctx, q, `SELECT name, community_code, colour, is_open, replied, closed FROM case_state`, names,
		func(r sqlstore.Rows) error {
			var c Case
			var open, replied, closed int
			if err := r.Scan(&c.Name, &c.Community, &c.Colour, &open, &replied, &closed); err != nil {
				return err
			}
			c.Open, c.Replied, c.Closed = open == 1, replied == 1, closed == 1
			out[c.Name] = c
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("get case states: %w", err)
	}
	return out, nil
}

// PutCases writes the cases' states (queued).
func (s *Store) PutCases(ctx context.Context, tx sqlstore.Tx, cs []Case) {
	rows := make([][]any, len(cs))
	for i, c := range cs {
		rows[i] = []any{c.Name, c.Community, int64(c.Colour), b2i(c.Open), b2i(c.Replied), b2i(c.Closed)}
	}
	insertRows(ctx, tx, "case_state", []column{{"name", text}, {"community_code", text}, {"colour", bigint}, {"is_open", bigint},
		{"replied", bigint}, {"closed", bigint}}, rows,
		`ON CONFLICT (name) DO UPDATE SET community_code = excluded.community_code, colour = excluded.colour,
		is_open = excluded.is_open, replied = excluded.replied, closed = excluded.closed`)
}

// Meeting is where one of demand's community meetings is counted: its community, kind and day.
type Meeting struct {
	Name, Community, Kind string
	Day                   int
}

// GetMeetings reads the state of the meetings named, by name; a meeting with none is absent.
func (s *Store) GetMeetings(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Meeting, error) {
	out := map[string]Meeting{}
	err := getStates(ctx, q, `SELECT name, community_code, kind, day FROM meeting_state`, names,
		func(r sqlstore.Rows) error {
			var m Meeting
			if err := r.Scan(&m.Name, &m.Community, &m.Kind, &m.Day); err != nil {
				return err
			}
			out[m.Name] = m
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("get meeting states: %w", err)
	}
	return out, nil
}

// PutMeetings writes the meetings' states (queued).
func (s *Store) PutMeetings(ctx context.Context, tx sqlstore.Tx, ms []Meeting) {
	rows := make([][]any, len(ms))
	for i, m := range ms {
		rows[i] = []any{m.Name, m.Community, m.Kind, int64(m.Day)}
	}
	insertRows(ctx, tx, "meeting_state", []column{{"name", text}, {"community_code", text}, {"kind", text}, {"day", bigint}}, rows,
		`ON CONFLICT (name) DO UPDATE SET community_code = excluded.community_code, kind = excluded.kind, day = excluded.day`)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// getStates runs sel for the rows whose name is one of names, a chunk at a time, and hands
// each row to scan.
func getStates(ctx context.Context, q sqlstore.Querier, sel string, names []string, scan func(sqlstore.Rows) error) error {
	for chunk := range slices.Chunk(names, sqliteRows) {
		where, args := ` WHERE name = ANY($1)`, []any{chunk}
		if q.Dialect() != sqlstore.Postgres {
			where, args = ` WHERE name IN `+sqliteValues(1, len(chunk)), make([]any, len(chunk))
			for i, n := range chunk {
				args[i] = n
			}
		}
		if err := query(ctx, q, sel+where, args, scan); err != nil {
			return err
		}
	}
	return nil
}

// query runs q and hands each row to scan.
func query(ctx context.Context, q sqlstore.Querier, sql string, args []any, scan func(sqlstore.Rows) error) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// The kinds of column insertRows binds: text takes string values, bigint int64 ones.
const (
	text   = "text"
	bigint = "bigint"
)

// column is a column insertRows writes: its name and kind.
type column struct{ name, kind string }

// sqliteRows bounds the rows (and ids, and names) of one SQLite statement, far under its
// limit of 32,766 parameters.
const sqliteRows = 500

// insertRows queues the insert of rows (one value per column) into table, tail being its ON
// CONFLICT clause, in as few statements as the back end allows. On PostgreSQL it is one
// statement whatever the number of rows: each column is bound as one array and unnested, so
// the statement's text, and so its prepared plan, never changes. SQLite has no arrays: a
// statement of VALUES per sqliteRows rows, run at once inside the transaction.
func insertRows(ctx context.Context, tx sqlstore.Tx, table string, cols []column, rows [][]any, tail string) {
	if len(rows) == 0 {
		return
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) `
	if tx.Dialect() == sqlstore.Postgres {
		arrays := make([]any, len(cols))
		casts := make([]string, len(cols))
		for i, c := range cols {
			casts[i] = "$" + strconv.Itoa(i+1) + "::" + c.kind + "[]"
			if c.kind == text {
				vals := make([]string, len(rows))
				for j, r := range rows {
					vals[j] = r[i].(string)
				}
				arrays[i] = vals
			} else {
				vals := make([]int64, len(rows))
				for j, r := range rows {
					vals[j] = r[i].(int64)
				}
				arrays[i] = vals
			}
		}
		tx.Queue(ctx, head+`SELECT * FROM unnest(`+strings.Join(casts, ", ")+`) `+tail, arrays...)
		return
	}
	for chunk := range slices.Chunk(rows, sqliteRows) {
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		tx.Queue(ctx, head+`VALUES `+sqliteValues(len(chunk), len(cols))+` `+tail, args...)
	}
}

// sqliteValues is "(?, ?), (?, ?), …": rows tuples of cols anonymous parameters. SQLite looks
// a numbered parameter ($7) up in a list of those already seen, and the driver the name of
// each it binds: in a statement of thousands, parsing and binding them cost more than running
// it. Anonymous ones take their number from their place.
func sqliteValues(rows, cols int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(tuple+", ", rows-1) + tuple
}
