package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ErrBadOrder means an order_by the method does not support.
var ErrBadOrder error = &aip.OrderError{Allowed: []string{"create_time", "create_time desc", "display_name", "display_name desc"}}

// Scope restricts what a caller sees to the region subtrees it acts within. A party is visible
// when its own region is in scope or when one of its service areas overlaps the scope (lies
// within it, or encloses it). Codes lists every region code in scope; Ancestors the codes above
// the scope roots. Exact codes from the region tree, rather than prefix matches, let the
// database use its indexes.
type Scope struct {
	Codes     []string
	Ancestors []string
}

// condition returns the SQL that keeps only parties visible in the scope; a nil scope sees all.
func (sc *Scope) condition(args *sqlstore.Args) string {
	if sc == nil {
		return ""
	}
	if len(sc.Codes) == 0 {
		return "1 = 0"
	}
	own := sqlstore.InList(args, sc.Codes)
	areas := own
	if len(sc.Ancestors) > 0 {
		areas = sqlstore.InList(args, append(append([]string{}, sc.Codes...), sc.Ancestors...))
	}
	return "(p.region_code IN " + own + " OR EXISTS (SELECT 1 FROM party_offers a WHERE a.party = p.name AND a.region_code IN " + areas + "))"
}

// ListParams selects a page of partners or groups.
type ListParams struct {
	Kind      Kind
	Filter    string
	OrderBy   string
	PageSize  int
	PageToken string
	Scope     *Scope
}

func categoryField() sqlstore.FilterField {
	return sqlstore.FilterField{Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *sqlstore.Args) (string, error) {
		n, err := aip.EnumNumber((&partnerv1.Capability{}).GetCategory().Descriptor(), "CATEGORY_", v)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM party_offers c WHERE c.party = p.name AND c.category = " + a.Add(int64(n)) + ")", nil
	}}
}

func partyFilter(kind Kind) sqlstore.FilterSchema {
	s := sqlstore.FilterSchema{
		"status":              sqlstore.EnumField("p.status", partnerv1.PartnerStatus(0).Descriptor(), "PARTNER_STATUS_"),
		"region_code":         sqlstore.PrefixField("p.region_code", region.CheckCode),
		"category":            categoryField(),
		"recruitment_channel": sqlstore.EnumField("p.recruitment_channel", partnerv1.RecruitmentChannel(0).Descriptor(), "RECRUITMENT_CHANNEL_"),
	}
	if kind == KindGroup {
		s["kind"] = sqlstore.EnumField("p.group_kind", partnerv1.GroupKind(0).Descriptor(), "GROUP_KIND_")
	} else {
		s["group"] = sqlstore.EqualField("p.group_name", func(v string) error {
			if !strings.HasPrefix(v, "partnerGroups/") {
				return fmt.Errorf("%q is not a partner group name", v)
			}
			return nil
		})
	}
	return s
}

type order struct {
	column string
	desc   bool
}

func parseOrder(s string) (order, error) {
	switch strings.Join(strings.Fields(s), " ") {
	case "", "create_time", "create_time asc":
		return order{"p.create_us", false}, nil
	case "create_time desc":
		return order{"p.create_us", true}, nil
	case "display_name", "display_name asc":
		return order{"p.display_name", false}, nil
	case "display_name desc":
		return order{"p.display_name", true}, nil
	}
	return order{}, ErrBadOrder
}

// ListedParty is a party as listed, with its version for the etag.
type ListedParty struct {
	Party   Party
	Version int64
}

// ListParties returns a page of partners or groups and the token of the next page.
func (s *Store) ListParties(ctx context.Context, q sqlstore.Querier, p ListParams, newParty func() Party) ([]ListedParty, string, error) {
	ord, err := parseOrder(p.OrderBy)
	if err != nil {
		return nil, "", err
	}
	query := aip.Fingerprint("parties", strconv.Itoa(int(p.Kind)), p.Filter, ord.column, strconv.FormatBool(ord.desc))
	after, err := aip.DecodePageToken(p.PageToken, query, 2)
	if err != nil {
		return nil, "", err
	}
	var args sqlstore.Args
	where := []string{"p.kind = " + args.Add(int64(p.Kind))}
	f, err := partyFilter(p.Kind).Compile(p.Filter, &args)
	if err != nil {
		return nil, "", err
	}
	if f != "" {
		where = append(where, f)
	}
	if c := p.Scope.condition(&args); c != "" {
		where = append(where, c)
	}
	dir, cmp := "ASC", ">"
	if ord.desc {
		dir, cmp = "DESC", "<"
	}
	if after != nil {
		var k any = after[0]
		if ord.column == "p.create_us" {
			n, err := strconv.ParseInt(after[0], 10, 64)
			if err != nil {
				return nil, "", aip.ErrBadPageToken
			}
			k = n
		}
		a, b := args.Add(k), args.Add(after[1])
		where = append(where, fmt.Sprintf("(%s %s %s OR (%s = %s AND p.name %s %s))", ord.column, cmp, a, ord.column, a, cmp, b))
	}
	sql := fmt.Sprintf(`SELECT p.data, p.personal, p.version, p.create_us, p.display_name, p.name FROM parties p WHERE %s ORDER BY %s %s, p.name %s LIMIT %d`,
		strings.Join(where, " AND "), ord.column, dir, dir, p.PageSize+1)
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list parties: %w", err)
	}
	defer rows.Close()
	var out []ListedParty
	var lastKey, lastName string
	for rows.Next() {
		var data, sealed []byte
		var version, createUS int64
		var display, name string
		if err := rows.Scan(&data, &sealed, &version, &createUS, &display, &name); err != nil {
			return nil, "", fmt.Errorf("list parties: %w", err)
		}
		if len(out) == p.PageSize {
			return out, aip.EncodePageToken(query, lastKey, lastName), rows.Err()
		}
		party := newParty()
		if err := s.openParty(name, data, sealed, party); err != nil {
			return nil, "", err
		}
		out = append(out, ListedParty{Party: party, Version: version})
		lastName = name
		if ord.column == "p.create_us" {
			lastKey = strconv.FormatInt(createUS, 10)
		} else {
			lastKey = display
		}
	}
	return out, "", rows.Err()
}
