package store

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// InsertMeeting adds a meeting at version 1. A second 逢四说事 of a community on one day is
// refused with sqlstore.ErrAlreadyExists. The insert runs at once, not queued, so that refusal
// is this call's error rather than the transaction's.
func (s *Store) InsertMeeting(ctx context.Context, q sqlstore.Querier, m *demandv1.Meeting) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.GetName(), err)
	}
	created := micros(m.GetCreateTime(), time.Now())
	if _, err := q.Exec(ctx, `INSERT INTO meetings (name, kind, community_code, meeting_date, demand_count, data, version,
		create_us, update_us) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)`,
		m.GetName(), int64(m.GetKind()), m.GetCommunityCode(), m.GetMeetingDate(), int64(m.GetDemandCount()), data,
		created, micros(m.GetUpdateTime(), time.UnixMicro(created))); err != nil {
		return fmt.Errorf("insert %s: %w", m.GetName(), err)
	}
	return nil
}

func decodeMeeting(data []byte, demandCount int64) (*demandv1.Meeting, error) {
	m := &demandv1.Meeting{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode a meeting: %w", err)
	}
	// The column is the count: filing a demand increments it without rewriting data.
	m.DemandCount = int32(demandCount)
	return m, nil
}

// GetMeeting returns the meeting called name, with its current demand count, and its version.
func (s *Store) GetMeeting(ctx context.Context, q sqlstore.Querier, name string) (*demandv1.Meeting, int64, error) {
	var data []byte
	var count, version int64
	if err := q.QueryRow(ctx, `SELECT data, demand_count, version FROM meetings WHERE name = $1`, name).Scan(&data, &count, &version); err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	m, err := decodeMeeting(data, count)
	if err != nil {
		return nil, 0, err
	}
	return m, version, nil
}

// UpdateMeeting replaces the meeting if it is still at version and returns the new version:
// sqlstore.ErrStale if someone changed it meanwhile, sqlstore.ErrNotFound if it is gone,
// sqlstore.ErrAlreadyExists if it moved a 逢四说事 onto a day that has one. The demand count is
// left as counted.
func (s *Store) UpdateMeeting(ctx context.Context, q sqlstore.Querier, m *demandv1.Meeting, version int64) (int64, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", m.GetName(), err)
	}
	n, err := q.Exec(ctx, `UPDATE meetings SET kind = $1, community_code = $2, meeting_date = $3, data = $4,
		version = version + 1, update_us = $5 WHERE name = $6 AND version = $7`,
		int64(m.GetKind()), m.GetCommunityCode(), m.GetMeetingDate(), data, micros(m.GetUpdateTime(), time.Now()),
		m.GetName(), version)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", m.GetName(), err)
	}
	if n == 0 {
		return 0, updated(ctx, q, "meetings", m.GetName())
	}
	return version + 1, nil
}

var meetingFilter = sqlstore.FilterSchema{
	"region_code":  regionField("m.community_code", "m.community_code"),
	"kind":         sqlstore.EnumField("m.kind", demandv1.MeetingKind(0).Descriptor(), "MEETING_KIND_"),
	"meeting_date": sqlstore.OrderedField("m.meeting_date", calendar.CheckDate),
}

// MeetingListParams selects a page of meetings.
type MeetingListParams struct {
	Filter    string
	PageSize  int
	PageToken string
	Scope     *Scope
}

// ListMeetings returns a page of meetings, latest date first, and the next page's token.
func (s *Store) ListMeetings(ctx context.Context, q sqlstore.Querier, p MeetingListParams) ([]Listed[*demandv1.Meeting], string, error) {
	lq := &listQuery{
		what: "list meetings", from: "meetings m", key: []keyCol{{expr: "m.meeting_date"}, {expr: "m.name"}}, desc: true,
		size: p.PageSize, token: p.PageToken, extras: []string{"m.demand_count"},
		query: aip.Fingerprint("meetings", p.Filter, p.Scope.fingerprint()),
	}
	f, err := meetingFilter.Compile(p.Filter, &lq.args)
	if err != nil {
		return nil, "", err
	}
	if f != "" {
		lq.where = append(lq.where, f)
	}
	if c := p.Scope.condition("m.community_code", &lq.args); c != "" {
		lq.where = append(lq.where, c)
	}
	return run(ctx, q, lq, func(data, _ []byte, extras []int64) (*demandv1.Meeting, error) {
		return decodeMeeting(data, extras[0])
	})
}

// FourthDayMeetings returns the community's 逢四说事 meetings from startDate to endDate
// inclusive ("YYYY-MM-DD"), by date.
//
// kind is the literal 1 (MEETING_KIND_FOURTH_DAY), not a parameter, so the partial unique
// index on (community_code, meeting_date) WHERE kind = 1 answers the query.
func (s *Store) FourthDayMeetings(ctx context.Context, q sqlstore.Querier, community, startDate, endDate string) (map[string]string, error) {
	rows, err := q.Query(ctx, `SELECT meeting_date, name FROM meetings WHERE community_code = $1 AND kind = 1
		AND meeting_date >= $2 AND meeting_date <= $3`, community, startDate, endDate)
	if err != nil {
		return nil, fmt.Errorf("list the meetings of %s: %w", community, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var date, name string
		if err := rows.Scan(&date, &name); err != nil {
			return nil, fmt.Errorf("list the meetings of %s: %w", community, err)
		}
		out[date] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the meetings of %s: %w", community, err)
	}
	return out, nil
}
