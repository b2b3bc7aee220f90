package store

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// InsertActivity records a service activity.
func (s *Store) InsertActivity(ctx context.Context, q sqlstore.Querier, a *partnerv1.ServiceActivity) error {
	data, err := proto.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode %s: %w", a.GetName(), err)
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO activities (name, party, community_code, kind, activity_date, create_us, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.GetName(), a.GetPartner(), a.GetCommunityCode(), int64(a.GetKind()),
		a.GetActivityDate(), a.GetCreateTime().AsTime().UnixMicro(), data); err != nil {
		return fmt.Errorf("insert %s: %w", a.GetName(), err)
	}
	return nil
}

// ActivityParams selects a page of activities, newest first.
type ActivityParams struct {
	Filter    string
	PageSize  int
	PageToken string
	// Communities, when not nil, keeps activities in these region subtrees; Parties, when not
	// nil, keeps those delivered by these parties (a partner sees its own).
	Communities []string
	Parties     []string
}

func activityFilter() sqlstore.FilterSchema {
	return sqlstore.FilterSchema{
		"partner": sqlstore.EqualField("t.party", func(v string) error {
			if !strings.HasPrefix(v, "partners/") && !strings.HasPrefix(v, "partnerGroups/") {
				return fmt.Errorf("%q is not a partner or group name", v)
			}
			return nil
		}),
		"community_code": sqlstore.PrefixField("t.community_code", region.CheckCode),
		"kind":           sqlstore.EnumField("t.kind", partnerv1.ActivityKind(0).Descriptor(), "ACTIVITY_KIND_"),
		"activity_date":  sqlstore.OrderedField("t.activity_date", calendar.CheckDate),
	}
}

// ListActivities returns a page of activities, newest first, and the next page's token.
func (s *Store) ListActivities(ctx context.Context, q sqlstore.Querier, p ActivityParams) ([]*partnerv1.ServiceActivity, string, error) {
	query := aip.Fingerprint("activities", p.Filter)
	after, err := aip.DecodePageToken(p.PageToken, query, 2)
	if err != nil {
		return nil, "", err
	}
	var args sqlstore.Args
	var where []string
	f, err := activityFilter().Compile(p.Filter, &args)
	if err != nil {
		return nil, "", err
	}
	if f != "" {
		where = append(where, f)
	}
	anyOf := func(column string, vals []string, prefix bool) {
		if vals == nil {
			return
		}
		if len(vals) == 0 {
			where = append(where, "1 = 0")
			return
		}
		conds := make([]string, len(vals))
		for i, v := range vals {
			if prefix {
				conds[i] = column + " LIKE " + args.Add(v+"%")
			} else {
				conds[i] = column + " = " + args.Add(v)
			}
		}
		where = append(where, "("+strings.Join(conds, " OR ")+")")
	}
	anyOf("t.community_code", p.Communities, true)
	anyOf("t.party", p.Parties, false)
	if after != nil {
		a, b := args.Add(after[0]), args.Add(after[1])
		where = append(where, fmt.Sprintf("(t.activity_date < %s OR (t.activity_date = %s AND t.name < %s))", a, a, b))
	}
	sql := "SELECT t.data, t.activity_date, t.name FROM activities t"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += fmt.Sprintf(" ORDER BY t.activity_date DESC, t.name DESC LIMIT %d", p.PageSize+1)
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list activities: %w", err)
	}
	defer rows.Close()
	var out []*partnerv1.ServiceActivity
	for rows.Next() {
		var data []byte
		var date, name string
		if err := rows.Scan(&data, &date, &name); err != nil {
			return nil, "", fmt.Errorf("list activities: %w", err)
		}
		if len(out) == p.PageSize {
			last := out[len(out)-1]
			return out, aip.EncodePageToken(query, last.GetActivityDate(), last.GetName()), rows.Err()
		}
		a := &partnerv1.ServiceActivity{}
		if err := proto.Unmarshal(data, a); err != nil {
			return nil, "", fmt.Errorf("decode %s: %w", name, err)
		}
		out = append(out, a)
	}
	return out, "", rows.Err()
}
