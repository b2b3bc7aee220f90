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
	// Areas, when not empty, keeps parties with a service area among these codes: the place of
	// the need, its ancestors (areas that cover it) and its descendants (areas within it).
	Areas []string
	// Weekday, when set, keeps parties available at some time that day; the caller checks
	// the hours.
	Weekday typev1.Weekday
	Scope   *Scope
}

// SearchCandidates returns every party that passes the search's filters. The filters are
// answered by the offers index alone; only the candidates are read and decoded.
func (s *Store) SearchCandidates(ctx context.Context, q sqlstore.Querier, p SearchParams) ([]ListedParty, error) {
	var args aip.Args
	var offer []string
	if len(p.Categories) > 0 {
		offer = append(offer, "o.category IN "+aip.InList(&args, enumInts(p.Categories)))
	}
	if len(p.Areas) > 0 {
		offer = append(offer, "o.region_code IN "+aip.InList(&args, p.Areas))
	}
	if len(p.Statuses) > 0 {
		offer = append(offer, "o.status IN "+aip.InList(&args, enumInts(p.Statuses)))
	}
	if len(p.Kinds) > 0 {
		kinds := make([]int64, len(p.Kinds))
		for i, k := range p.Kinds {
			kinds[i] = int64(k)
		}
		offer = append(offer, "o.kind IN "+aip.InList(&args, kinds))
	}
	if p.Weekday != typev1.Weekday_WEEKDAY_UNSPECIFIED {
		offer = append(offer, "(o.weekdays & "+args.Add(int64(1)<<p.Weekday)+") <> 0")
	}
	var where []string
	if len(offer) > 0 {
		// The candidates first, from the offers index alone; then their records by primary
		// key. One statement joining the two would be planned once for every search (see
		// DB.Reads) without knowing how many offers match, and such a plan reads the whole
		// parties table to join a few hundred.
		names, err := s.offerers(ctx, q, "SELECT DISTINCT o.party FROM party_offers o WHERE "+strings.Join(offer, " AND "), args.Values())
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, nil
		}
		args = aip.Args{}
		where = append(where, sqlstore.AnyOf(q, args.Add, "p.name", names))
	}
	sql := "SELECT p.name, p.data, p.version FROM parties p"
	if c := p.Scope.condition(&args); c != "" {
		where = append(where, c)
	}
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
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

// offerers returns the parties a query over party_offers names.
func (s *Store) offerers(ctx context.Context, q sqlstore.Querier, sql string, args []any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search offers: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("search offers: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func enumInts[E ~int32](vals []E) []int64 {
	out := make([]int64, len(vals))
	for i, v := range vals {
		out[i] = int64(v)
	}
	return out
}
