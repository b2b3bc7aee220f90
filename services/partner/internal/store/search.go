package store

import (
	"context"
	"fmt"
	"strings"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
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
	// Names, when not empty, keeps only these parties.
	Names []string
	Scope *Scope
}

// SearchCandidates returns every party that passes the search's filters. The filters are
// answered by the offers index alone, with each candidate's version; a candidate is read and
// decoded only when the Store does not already hold it at that version.
func (s *Store) SearchCandidates(ctx context.Context, q sqlstore.Querier, p SearchParams) ([]Candidate, error) {
	var args sqlstore.Args
	var offer []string
	if len(p.Categories) > 0 {
		offer = append(offer, "o.category IN "+sqlstore.InList(&args, enumInts(p.Categories)))
	}
	if len(p.Areas) > 0 {
		offer = append(offer, "o.region_code IN "+sqlstore.InList(&args, p.Areas))
	}
	if len(p.Names) > 0 {
		offer = append(offer, sqlstore.AnyOf(q, args.Add, "o.party", p.Names))
	}
	if len(p.Statuses) > 0 {
		offer = append(offer, "o.status IN "+sqlstore.InList(&args, enumInts(p.Statuses)))
	}
	if len(p.Kinds) > 0 {
		kinds := make([]int64, len(p.Kinds))
		for i, k := range p.Kinds {
			kinds[i] = int64(k)
		}
		offer = append(offer, "o.kind IN "+sqlstore.InList(&args, kinds))
	}
	if p.Weekday != typev1.Weekday_WEEKDAY_UNSPECIFIED {
		offer = append(offer, "(o.weekdays & "+args.Add(int64(1)<<p.Weekday)+") <> 0")
	}
	if len(offer) == 0 {
		return s.searchAll(ctx, q, p.Scope)
	}
	// A scope restricts to parties of its regions or serving them (the condition reads the
	// party's own region); the whole district needs no check.
	if c := p.Scope.condition(&args); c != "" {
		offer = append(offer, "EXISTS (SELECT 1 FROM parties p WHERE p.name = o.party AND "+c+")")
	}
	found, err := s.offerers(ctx, q, "SELECT DISTINCT o.party, o.version FROM party_offers o WHERE "+strings.Join(offer, " AND "), args.Values())
	if err != nil {
		return nil, err
	}
	out, missing := s.records.getAll(found, make([]Candidate, 0, len(found)))
	if len(missing) == 0 {
		return out, nil
	}
	// Read by primary key. One statement joining offers and parties would be planned once for
	// every search (see DB.Reads) without knowing how many offers match, and such a plan reads
	// the whole parties table to join a few hundred.
	args = sqlstore.Args{}
	read, err := s.readRecords(ctx, q, "SELECT p.name, p.data, p.personal, p.version FROM parties p WHERE "+sqlstore.AnyOf(q, args.Add, "p.name", missing), args.Values())
	if err != nil {
		return nil, err
	}
	return append(out, read...), nil
}

// searchAll returns every party in the scope: a search with no filter at all.
func (s *Store) searchAll(ctx context.Context, q sqlstore.Querier, scope *Scope) ([]Candidate, error) {
	var args sqlstore.Args
	sql := "SELECT p.name, p.data, p.personal, p.version FROM parties p"
	if c := scope.condition(&args); c != "" {
		sql += " WHERE " + c
	}
	return s.readRecords(ctx, q, sql, args.Values())
}

// readRecords runs a query of (name, data, personal, version) rows and decodes them through the cache.
func (s *Store) readRecords(ctx context.Context, q sqlstore.Querier, sql string, args []any) ([]Candidate, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search parties: %w", err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		var name string
		var data, sealed []byte
		var version int64
		if err := rows.Scan(&name, &data, &sealed, &version); err != nil {
			return nil, fmt.Errorf("search parties: %w", err)
		}
		r, ok := s.records.get(name, version)
		if !ok {
			party := NewParty(name)
			if err := s.openParty(name, data, sealed, party); err != nil {
				return nil, err
			}
			r = s.records.keep(name, version, party)
		}
		out = append(out, Candidate{Party: r.party, Version: r.version})
	}
	return out, rows.Err()
}

// offered is a party an offers query found, at the version its offers were written with.
type offered struct {
	name    string
	version int64
}

// offerers returns the parties (and versions) a query over party_offers names.
func (s *Store) offerers(ctx context.Context, q sqlstore.Querier, sql string, args []any) ([]offered, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search offers: %w", err)
	}
	defer rows.Close()
	var found []offered
	for rows.Next() {
		var f offered
		if err := rows.Scan(&f.name, &f.version); err != nil {
			return nil, fmt.Errorf("search offers: %w", err)
		}
		found = append(found, f)
	}
	return found, rows.Err()
}

func enumInts[E ~int32](vals []E) []int64 {
	out := make([]int64, len(vals))
	for i, v := range vals {
		out[i] = int64(v)
	}
	return out
}
