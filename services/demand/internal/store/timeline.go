package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// splitEntryName splits "demands/{id}/timelineEntries/{entry}" into the demand's name and the
// entry id.
func splitEntryName(name string) (demand, id string, err error) {
	demand, id, ok := strings.Cut(name, "/timelineEntries/")
	if !ok || !strings.HasPrefix(demand, "demands/") || len(demand) == len("demands/") ||
		strings.Contains(demand[len("demands/"):], "/") || id == "" || strings.Contains(id, "/") {
		return "", "", fmt.Errorf("%q is not a timeline entry name (demands/{demand}/timelineEntries/{entry})", name)
	}
	return demand, id, nil
}

// AppendTimeline adds an entry to its demand's timeline (queued in a transaction). The entry id,
// the last segment of its name, orders the timeline: it must be a ULID (or otherwise sort by
// time). An entry the demand's followers are told of (a reply, a status change, a project
// update: domain.Notifies) also writes one notification per follower to the outbox, in the
// same transaction: every way an entry is written notifies alike.
func (s *Store) AppendTimeline(ctx context.Context, q sqlstore.Querier, e *demandv1.TimelineEntry) error {
	demand, id, err := splitEntryName(e.GetName())
	if err != nil {
		return err
	}
	data, err := proto.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", e.GetName(), err)
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO demand_timeline (demand, id, kind, create_us, data) VALUES ($1, $2, $3, $4, $5)`,
		demand, id, int64(e.GetKind()), micros(e.GetCreateTime(), time.Now()), data); err != nil {
		return fmt.Errorf("insert %s: %w", e.GetName(), err)
	}
	return s.notifyFollowers(ctx, q, demand, e)
}

// ListTimeline returns a page of the demand's timeline, oldest first, and the next page's token.
func (s *Store) ListTimeline(ctx context.Context, q sqlstore.Querier, demand string, pageSize int, pageToken string) ([]*demandv1.TimelineEntry, string, error) {
	size := pageLimit(pageSize)
	query := aip.Fingerprint("timeline", demand)
	after, err := aip.DecodePageToken(pageToken, query, 1)
	if err != nil {
		return nil, "", err
	}
	var args sqlstore.Args
	where := "demand = " + args.Add(demand)
	if after != nil {
		where += " AND id > " + args.Add(after[0])
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT id, data FROM demand_timeline WHERE %s ORDER BY id LIMIT %d`, where, size+1),
		args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list the timeline of %s: %w", demand, err)
	}
	defer rows.Close()
	var out []*demandv1.TimelineEntry
	var last string
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(query, last), rows.Err()
		}
		var data []byte
		if err := rows.Scan(&last, &data); err != nil {
			return nil, "", fmt.Errorf("list the timeline of %s: %w", demand, err)
		}
		e := &demandv1.TimelineEntry{}
		if err := proto.Unmarshal(data, e); err != nil {
			return nil, "", fmt.Errorf("decode %s/timelineEntries/%s: %w", demand, last, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list the timeline of %s: %w", demand, err)
	}
	return out, "", nil
}
