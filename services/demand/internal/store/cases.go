package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// HasTimelineEntry reports whether the demand's timeline holds the entry with id: the replies
// of the escalation service's case steps are entered under the step's own id, so that a step
// applied again (a replayed feed) is recognised and not entered twice.
func (s *Store) HasTimelineEntry(ctx context.Context, q sqlstore.Querier, demand, id string) (bool, error) {
	var one int64
	err := q.QueryRow(ctx, `SELECT 1 FROM demand_timeline WHERE demand = $1 AND id = $2`, demand, id).Scan(&one)
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up %s/timelineEntries/%s: %w", demand, id, err)
	}
	return true, nil
}
