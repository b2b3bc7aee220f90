package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// AddSupporter records that subject supports the demand, and whether they asked to be
// notified of its progress, and reports whether the support is new (false when they already
// did: their wish to be notified is then set anew). The demand's supporter_count is the
// caller's to update.
func (s *Store) AddSupporter(ctx context.Context, q sqlstore.Querier, demand, subject string, notify bool) (bool, error) {
	n, err := q.Exec(ctx, `INSERT INTO demand_supporters (demand, subject, create_us, notify) VALUES ($1, $2, $3, $4)
		ON CONFLICT (demand, subject) DO NOTHING`, demand, subject, time.Now().UnixMicro(), notify)
	if err != nil {
		return false, fmt.Errorf("add a supporter to %s: %w", demand, err)
	}
	if n > 0 {
		return true, nil
	}
	if err := sqlstore.Write(ctx, q, `UPDATE demand_supporters SET notify = $1 WHERE demand = $2 AND subject = $3`, notify, demand, subject); err != nil {
		return false, fmt.Errorf("update a supporter of %s: %w", demand, err)
	}
	return false, nil
}

// RemoveSupporter records that subject no longer supports the demand and reports whether they
// did. The demand's supporter_count is the caller's to update.
func (s *Store) RemoveSupporter(ctx context.Context, q sqlstore.Querier, demand, subject string) (bool, error) {
	n, err := q.Exec(ctx, `DELETE FROM demand_supporters WHERE demand = $1 AND subject = $2`, demand, subject)
	if err != nil {
		return false, fmt.Errorf("remove a supporter of %s: %w", demand, err)
	}
	return n > 0, nil
}

// IsSupporter reports whether subject supports the demand.
func (s *Store) IsSupporter(ctx context.Context, q sqlstore.Querier, demand, subject string) (bool, error) {
	var one int64
	err := q.QueryRow(ctx, `SELECT 1 FROM demand_supporters WHERE demand = $1 AND subject = $2`, demand, subject).Scan(&one)
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up a supporter of %s: %w", demand, err)
	}
	return true, nil
}

// MoveSupporters makes from's supporters, and the extra subjects (such as from's raiser),
// supporters of to, skipping to's own raiser, and returns to's new number of supporters, which
// the caller stores on to's record. from's supporters stay recorded: a duplicate keeps its
// history. Those who asked to be notified of from are notified of to; the extra subjects are
// always (a duplicate's reporter is told they will hear of the other demand's progress).
func (s *Store) MoveSupporters(ctx context.Context, q sqlstore.Querier, from, to string, extra []string) (int, error) {
	raiser, err := s.DemandRaisedBy(ctx, q, to)
	if err != nil {
		return 0, err
	}
	now := time.Now().UnixMicro()
	// The WHERE also settles SQLite's parse of ON CONFLICT after INSERT … SELECT.
	if err := sqlstore.Write(ctx, q, `INSERT INTO demand_supporters (demand, subject, create_us, notify)
		SELECT $1, subject, $2, notify FROM demand_supporters WHERE demand = $3 AND subject <> $4
		ON CONFLICT (demand, subject) DO UPDATE SET notify = demand_supporters.notify OR excluded.notify`, to, now, from, raiser); err != nil {
		return 0, fmt.Errorf("move the supporters of %s to %s: %w", from, to, err)
	}
	var args sqlstore.Args
	var rows []string
	seen := map[string]bool{"": true, raiser: true}
	for _, sub := range extra {
		if seen[sub] {
			continue
		}
		seen[sub] = true
		rows = append(rows, "("+args.Add(to)+", "+args.Add(sub)+", "+args.Add(now)+", TRUE)")
	}
	if len(rows) > 0 {
		if err := sqlstore.Write(ctx, q, `INSERT INTO demand_supporters (demand, subject, create_us, notify) VALUES `+strings.Join(rows, ", ")+
			` ON CONFLICT (demand, subject) DO UPDATE SET notify = TRUE`, args.Values()...); err != nil {
			return 0, fmt.Errorf("add supporters to %s: %w", to, err)
		}
	}
	var n int64
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM demand_supporters WHERE demand = $1`, to).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the supporters of %s: %w", to, err)
	}
	return int(n), nil
}
