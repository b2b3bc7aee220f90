package store

import (
	"context"
	"fmt"
	"strings"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ErrBadOrder means an order_by ListDemands does not support.
var ErrBadOrder error = &aip.OrderError{Allowed: []string{"create_time desc", "create_time", "supporter_count desc", "urgency desc"}}

// demandFilter is the filter language of ListDemands and CountDemands.
var demandFilter = sqlstore.FilterSchema{
	"region_code": regionField("d.place_code", "d.community_code"),
	"kind":        sqlstore.EnumField("d.kind", demandv1.DemandKind(0).Descriptor(), "DEMAND_KIND_"),
	"category":    sqlstore.EnumField("d.category", typev1.Category(0).Descriptor(), "CATEGORY_"),
	"channel":     sqlstore.EnumField("d.channel", demandv1.Channel(0).Descriptor(), "CHANNEL_"),
	"status":      sqlstore.EnumField("d.status", demandv1.DemandStatus(0).Descriptor(), "DEMAND_STATUS_"),
	"urgency":     sqlstore.EnumField("d.urgency", demandv1.Urgency(0).Descriptor(), "URGENCY_"),
	"meeting":     nameField("d.meeting", "meetings"),
	"project":     nameField("d.project", "projects"),
	"create_time": dayField("d.create_us"),
}

var (
	createKey   = keyCol{expr: "d.create_us", integer: true}
	demandName  = keyCol{expr: "d.name"}
	demandOrder = map[string]struct {
		key  []keyCol
		desc bool
	}{
		"create_time desc":     {[]keyCol{createKey, demandName}, true},
		"create_time":          {[]keyCol{createKey, demandName}, false},
		"supporter_count desc": {[]keyCol{{expr: "d.supporter_count", integer: true}, createKey, demandName}, true},
		"urgency desc":         {[]keyCol{{expr: "d.urgency", integer: true}, createKey, demandName}, true},
	}
)

// normalOrder canonicalises an order_by: spacing, the default and an explicit "asc".
func normalOrder(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	switch s {
	case "":
		return "create_time desc"
	case "create_time asc":
		return "create_time"
	}
	return s
}

// demandWhere compiles the filter, scope and own restriction of a demand query.
func demandWhere(filter string, scope *Scope, own *Own, args *sqlstore.Args) ([]string, error) {
	var where []string
	f, err := demandFilter.Compile(filter, args)
	if err != nil {
		return nil, err
	}
	if f != "" {
		where = append(where, f)
	}
	if c := scope.condition("d.community_code", args); c != "" {
		where = append(where, c)
	}
	if c := own.condition(args); c != "" {
		where = append(where, c)
	}
	return where, nil
}

// DemandListParams selects a page of demands.
type DemandListParams struct {
	Filter    string
	OrderBy   string
	PageSize  int
	PageToken string
	Scope     *Scope
	Own       *Own
}

// ListDemands returns a page of demands and the next page's token. Pages are keyset pages in
// the requested order, ties broken newest first and by name; tokens are bound to the filter,
// order, scope and own restriction they were issued for.
func (s *Store) ListDemands(ctx context.Context, q sqlstore.Querier, p DemandListParams) ([]Listed[*demandv1.Demand], string, error) {
	orderBy := normalOrder(p.OrderBy)
	ord, ok := demandOrder[orderBy]
	if !ok {
		return nil, "", ErrBadOrder
	}
	lq := &listQuery{
		what: "list demands", from: "demands d", key: ord.key, desc: ord.desc, size: p.PageSize, token: p.PageToken,
		query: aip.Fingerprint("demands", p.Filter, orderBy, p.Scope.fingerprint(), p.Own.fingerprint()), sealed: true,
	}
	where, err := demandWhere(p.Filter, p.Scope, p.Own, &lq.args)
	if err != nil {
		return nil, "", err
	}
	lq.where = where
	return run(ctx, q, lq, func(data, sealed []byte, _ []int64) (*demandv1.Demand, error) {
		return s.openDemand("", data, sealed)
	})
}

// Counts are the demands matching a filter, in total and by the number of each enum value.
type Counts struct {
	Total                                   int
	ByCategory, ByStatus, ByChannel, ByKind map[int32]int
}

// CountDemands counts the demands matching filter (ListDemands' language) within scope and own,
// in one GROUP BY over the four dimensions folded here: one round trip.
func (s *Store) CountDemands(ctx context.Context, q sqlstore.Querier, filter string, scope *Scope, own *Own) (Counts, error) {
	var args sqlstore.Args
	where, err := demandWhere(filter, scope, own, &args)
	if err != nil {
		return Counts{}, err
	}
	sql := "SELECT d.category, d.status, d.channel, d.kind, COUNT(*) FROM demands d"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " GROUP BY d.category, d.status, d.channel, d.kind"
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return Counts{}, fmt.Errorf("count demands: %w", err)
	}
	defer rows.Close()
	c := Counts{ByCategory: map[int32]int{}, ByStatus: map[int32]int{}, ByChannel: map[int32]int{}, ByKind: map[int32]int{}}
	for rows.Next() {
		var category, status, channel, kind, n int64
		if err := rows.Scan(&category, &status, &channel, &kind, &n); err != nil {
			return Counts{}, fmt.Errorf("count demands: %w", err)
		}
		c.Total += int(n)
		c.ByCategory[int32(category)] += int(n)
		c.ByStatus[int32(status)] += int(n)
		c.ByChannel[int32(channel)] += int(n)
		c.ByKind[int32(kind)] += int(n)
	}
	if err := rows.Err(); err != nil {
		return Counts{}, fmt.Errorf("count demands: %w", err)
	}
	return c, nil
}

// openStatuses are the statuses of demands still being handled, which a new demand may join.
var openStatuses = []int64{
	int64(demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED),
	int64(demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED),
	int64(demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT),
	int64(demandv1.DemandStatus_DEMAND_STATUS_IN_CASE),
}

// SimilarCandidates returns up to limit open demands of the community and category, newest
// first: the pool "me too" suggestions are ranked from.
func (s *Store) SimilarCandidates(ctx context.Context, q sqlstore.Querier, community string, category int32, limit int) ([]*demandv1.Demand, error) {
	if limit <= 0 {
		return nil, nil
	}
	var args sqlstore.Args
	sql := fmt.Sprintf(`SELECT name, data, personal FROM demands WHERE community_code = %s AND category = %s AND status IN %s
		ORDER BY create_us DESC, name DESC LIMIT %d`, args.Add(community), args.Add(int64(category)), sqlstore.InList(&args, openStatuses), limit)
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("find similar demands: %w", err)
	}
	defer rows.Close()
	var out []*demandv1.Demand
	for rows.Next() {
		var name string
		var data, sealed []byte
		if err := rows.Scan(&name, &data, &sealed); err != nil {
			return nil, fmt.Errorf("find similar demands: %w", err)
		}
		d, err := s.openDemand(name, data, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find similar demands: %w", err)
	}
	return out, nil
}
