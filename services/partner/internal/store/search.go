package store

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// SearchParams narrows the candidates of a search; ranking is the caller's.
type SearchParams struct {
	Kinds      []Kind
	Statuses   []partnerv1.PartnerStatus
	Categories []typev1.Category
	// Region, when set, keeps parties serving it: a service area that is Region or one of
	// RegionAncestors (covers it), or lies within Region.
	Region          string
	RegionAncestors []string
	Window          *typev1.WeeklyWindow
	Scope           *Scope
	// Limit caps the candidates read, as a guard; 0 means no cap.
	Limit int
}

// SearchCandidates returns every party that passes the search's filters, using the search
// indexes so only candidates are read and decoded.
func (s *Store) SearchCandidates(ctx context.Context, q sqlstore.Querier, p SearchParams) ([]ListedParty, error) {
	var args aip.Args
	var where []string
	in := func(column string, vals []int64) {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = args.Add(v)
		}
		where = append(where, column+" IN ("+strings.Join(ph, ", ")+")")
	}
	if len(p.Kinds) > 0 {
		vals := make([]int64, len(p.Kinds))
		for i, k := range p.Kinds {
			vals[i] = int64(k)
		}
		in("p.kind", vals)
	}
	if len(p.Statuses) > 0 {
		vals := make([]int64, len(p.Statuses))
		for i, st := range p.Statuses {
			vals[i] = int64(st)
		}
		in("p.status", vals)
	}
	if len(p.Categories) > 0 {
		ph := make([]string, len(p.Categories))
		for i, c := range p.Categories {
			ph[i] = args.Add(int64(c))
		}
		where = append(where, "EXISTS (SELECT 1 FROM party_capabilities c WHERE c.party = p.name AND c.category IN ("+strings.Join(ph, ", ")+"))")
	}
	if p.Region != "" {
		covers := []string{args.Add(p.Region)}
		for _, a := range p.RegionAncestors {
			covers = append(covers, args.Add(a))
		}
		where = append(where, "EXISTS (SELECT 1 FROM party_areas a WHERE a.party = p.name AND (a.region_code IN ("+
			strings.Join(covers, ", ")+") OR a.region_code LIKE "+args.Add(p.Region+"%")+"))")
	}
	if w := p.Window; w != nil {
		where = append(where, fmt.Sprintf("EXISTS (SELECT 1 FROM party_windows w WHERE w.party = p.name AND w.weekday = %s AND w.start_min < %s AND w.end_min > %s)",
			args.Add(int64(w.GetWeekday())), args.Add(int64(minuteOfDay(w.GetEndTime()))), args.Add(int64(minuteOfDay(w.GetStartTime())))))
	}
	if c := p.Scope.condition(&args); c != "" {
		where = append(where, c)
	}
	sql := "SELECT p.name, p.data, p.version FROM parties p"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY p.name"
	if p.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", p.Limit)
	}
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("search parties: %w", err)
	}
	defer rows.Close()
	var out []ListedParty
	for rows.Next() {
		var name string
		var data []byte
		var version int64
		if err := rows.Scan(&name, &data, &version); err != nil {
			return nil, fmt.Errorf("search parties: %w", err)
		}
		var party Party = &partnerv1.Partner{}
		if KindOf(name) == KindGroup {
			party = &partnerv1.PartnerGroup{}
		}
		if err := proto.Unmarshal(data, party); err != nil {
			return nil, fmt.Errorf("decode %s: %w", name, err)
		}
		out = append(out, ListedParty{Party: party, Version: version})
	}
	return out, rows.Err()
}
