// Package store is the reporting service's SQL, shared by PostgreSQL and SQLite: the
// incremental aggregates, the per-entity state that counts a transition once, the record of
// applied and skipped events, and the reset of a rebuild.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Store runs the service's SQL. It holds no state: every method takes its Querier or Tx.
type Store struct{}

// New returns the store.
func New() *Store { return &Store{} }

// Key names one aggregate row but its region: a day, a measure and a dimension.
type Key struct {
	Day       int // yyyymmdd, local date
	Measure   string
	Dimension string
}

// Skipped is a count of skipped events.
type Skipped struct {
	Source, Type string
	Count        int64
}

// ListSkipped returns the skipped counts by source and type.
func (s *Store) ListSkipped(ctx context.Context, q sqlstore.Querier) ([]Skipped, error) {
	rows, err := q.Query(ctx, `SELECT source, type, count FROM skipped_events ORDER BY source, type`)
	if err != nil {
		return nil, fmt.Errorf("list skipped: %w", err)
	}
	defer rows.Close()
	var out []Skipped
	for rows.Next() {
		var k Skipped
		if err := rows.Scan(&k.Source, &k.Type, &k.Count); err != nil {
			return nil, fmt.Errorf("list skipped: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Cursor is how far a consumer has read a source.
type Cursor struct {
	Source    string
	Cursor    int64
	UpdatedUS int64
}

// ListCursors returns the cursors of the consumer called consumer.
func (s *Store) ListCursors(ctx context.Context, q sqlstore.Querier, consumer string) ([]Cursor, error) {
	rows, err := q.Query(ctx, `SELECT source, cursor, updated_us FROM consumer_cursors WHERE consumer = $1 ORDER BY source`, consumer)
	if err != nil {
		return nil, fmt.Errorf("list cursors: %w", err)
	}
	defer rows.Close()
	var out []Cursor
	for rows.Next() {
		var c Cursor
		if err := rows.Scan(&c.Source, &c.Cursor, &c.UpdatedUS); err != nil {
			return nil, fmt.Errorf("list cursors: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Reset throws every figure, state row and applied-event record away and moves the cursors of
// consumer back to zero, in tx: the rebuild's start.
func (s *Store) Reset(ctx context.Context, tx sqlstore.Tx, consumer string) error {
	for _, q := range []string{
		`DELETE FROM aggregates`, `DELETE FROM monthly_aggregates`, `DELETE FROM demand_state`, `DELETE FROM project_state`,
		`DELETE FROM case_state`, `DELETE FROM meeting_state`, `DELETE FROM applied_events`, `DELETE FROM skipped_events`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE consumer_cursors SET cursor = 0, event_id = '' WHERE consumer = $1`, consumer); err != nil {
		return fmt.Errorf("reset cursors: %w", err)
	}
	return nil
}

// Sums maps measure → dimension → value.
type Sums map[string]map[string]int64

// Get returns the value of measure and dimension.
func (s Sums) Get(measure, dimension string) int64 { return s[measure][dimension] }

// Total returns the sum of measure over its dimensions.
func (s Sums) Total(measure string) int64 {
	var n int64
	for _, v := range s[measure] {
		n += v
	}
	return n
}

func (s Sums) add(measure, dimension string, v int64) {
	m := s[measure]
	if m == nil {
		m = map[string]int64{}
		s[measure] = m
	}
	m[dimension] += v
}

// Sum returns, for each of regions, the sums of the measures (any measure when measures is
// empty) over the days from..to (yyyymmdd, both included; from 0 for a stock's value at to).
// Whole months are read from monthly_aggregates, the days of a month cut by the period from
// aggregates.
func (s *Store) Sum(ctx context.Context, q sqlstore.Querier, regions []string, from, to int, measures []string) (map[string]Sums, error) {
	out := map[string]Sums{}
	for _, r := range regions {
		out[r] = Sums{}
	}
	for _, p := range split(from, to) {
		if err := s.sumPart(ctx, q, p, regions, measures, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// part is a piece of a period: days of aggregates, or months of monthly_aggregates.
type part struct {
	months   bool
	from, to int
}

// split cuts from..to into whole months and the days before and after them.
func split(from, to int) []part {
	if from > to {
		return nil
	}
	first := func(d int) bool { return d%100 <= 1 } // 0 (the beginning) counts as a first day
	last := func(d int) bool { return d%100 == daysIn(d/100) }
	fm, tm := from/100, to/100
	if fm == tm {
		if first(from) && last(to) {
			return []part{{months: true, from: fm, to: tm}}
		}
		return []part{{from: from, to: to}}
	}
	var parts []part
	startMonth := fm
	if !first(from) {
		parts = append(parts, part{from: from, to: fm*100 + 31})
		startMonth = nextMonth(fm)
	}
	endMonth := tm
	if !last(to) {
		parts = append(parts, part{from: tm*100 + 1, to: to})
		endMonth = prevMonth(tm)
	}
	if startMonth <= endMonth {
		parts = append(parts, part{months: true, from: startMonth, to: endMonth})
	}
	return parts
}

func daysIn(month int) int {
	if month < 100 {
		return 0
	}
	return time.Date(month/100, time.Month(month%100)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func nextMonth(m int) int {
	if m%100 >= 12 {
		return (m/100+1)*100 + 1
	}
	return m + 1
}

func prevMonth(m int) int {
	if m%100 <= 1 {
		return (m/100-1)*100 + 12
	}
	return m - 1
}

func (s *Store) sumPart(ctx context.Context, q sqlstore.Querier, p part, regions, measures []string, out map[string]Sums) error {
	table, column := "aggregates", "day"
	if p.months {
		table, column = "monthly_aggregates", "month"
	}
	var args sqlstore.Args
	bind := func(v any) string { return args.Add(v) }
	where := sqlstore.AnyOf(q, bind, "region_code", regions) + " AND " + column + " >= " + args.Add(p.from) + " AND " + column + " <= " + args.Add(p.to)
	if len(measures) > 0 {
		where += " AND " + sqlstore.AnyOf(q, bind, "measure", measures)
	}
	rows, err := q.Query(ctx, `SELECT region_code, measure, dimension, SUM(value) FROM `+table+` WHERE `+where+
		` GROUP BY region_code, measure, dimension`, args.Values()...)
	if err != nil {
		return fmt.Errorf("sum %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var region, measure, dim string
		var v int64
		if err := rows.Scan(&region, &measure, &dim, &v); err != nil {
			return fmt.Errorf("sum %s: %w", table, err)
		}
		out[region].add(measure, dim, v)
	}
	return rows.Err()
}

// Daily returns a measure of region per day over from..to (days without a row are absent).
func (s *Store) Daily(ctx context.Context, q sqlstore.Querier, region string, from, to int, measure string) (map[int]int64, error) {
	rows, err := q.Query(ctx, `SELECT day, SUM(value) FROM aggregates WHERE region_code = $1 AND day >= $2 AND day <= $3 AND measure = $4 GROUP BY day`,
		region, from, to, measure)
	if err != nil {
		return nil, fmt.Errorf("daily aggregates: %w", err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var day int
		var v int64
		if err := rows.Scan(&day, &v); err != nil {
			return nil, fmt.Errorf("daily aggregates: %w", err)
		}
		out[day] = v
	}
	return out, rows.Err()
}
