package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Page sizes when the caller passes none or too many (the API layer normally applies its own
// through aip.PageSize first).
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

// regionField matches rows whose place (placeColumn: a community, or a grid within it) lies in
// the subtree of the value. Above a community that is a prefix match. A community or a grid
// names the community outright, and a grid, which has no children, the place: equalities,
// which let the database walk a (community_code, create_us, …) index in list order. A prefix
// LIKE would do the same for a custom plan, but the list queries run with generic plans
// (sqlstore.DB.Reads), where a LIKE on a parameter is guessed so selective that PostgreSQL
// sorts the whole community instead.
func regionField(placeColumn, communityColumn string) sqlstore.FilterField {
	prefix := sqlstore.PrefixField(placeColumn, region.CheckCode)
	communityCodeLen := region.LevelCommunity.CodeLen()
	return sqlstore.FilterField{Ops: prefix.Ops, SQL: func(op aip.Op, v string, a *sqlstore.Args) (string, error) {
		if len(v) < communityCodeLen {
			return prefix.SQL(op, v, a)
		}
		if err := region.CheckCode(v); err != nil {
			return "", err
		}
		cond := communityColumn + " = " + a.Add(v[:communityCodeLen])
		if len(v) > communityCodeLen {
			cond += " AND " + placeColumn + " = " + a.Add(v)
		}
		return cond, nil
	}}
}

// nameField compares a reference column ("meetings/…") with a name of that collection. Equality
// also states that the column is not empty, which lets the partial index on the column (of
// non-empty values) serve the lookup even under a generic plan.
func nameField(column, collection string) sqlstore.FilterField {
	return sqlstore.FilterField{Ops: []aip.Op{aip.OpEq, aip.OpNe}, SQL: func(op aip.Op, v string, a *sqlstore.Args) (string, error) {
		if !strings.HasPrefix(v, collection+"/") || len(v) == len(collection)+1 {
			return "", fmt.Errorf("%q is not a %s name (%s/…)", v, strings.TrimSuffix(collection, "s"), collection)
		}
		if op == aip.OpEq {
			return "(" + column + " = " + a.Add(v) + " AND " + column + " <> '')", nil
		}
		return column + " <> " + a.Add(v), nil
	}}
}

// dayField compares a microsecond time column with local calendar days: `>= "2026-01-01"` is
// from that day's midnight in China Standard Time, `< "2026-02-01"` before it, `<=` through the end
// of that day, `=` within it.
func dayField(column string) sqlstore.FilterField {
	return sqlstore.FilterField{Ops: []aip.Op{aip.OpEq, aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}, SQL: func(op aip.Op, v string, a *sqlstore.Args) (string, error) {
		day, err := calendar.ParseDate(v)
		if err != nil {
			return "", err
		}
		start, next := day.Start().UnixMicro(), day.AddDays(1).Start().UnixMicro()
		switch op {
		case aip.OpGe:
			return column + " >= " + a.Add(start), nil
		case aip.OpLt:
			return column + " < " + a.Add(start), nil
		case aip.OpGt:
			return column + " >= " + a.Add(next), nil
		case aip.OpLe:
			return column + " < " + a.Add(next), nil
		default:
			return "(" + column + " >= " + a.Add(start) + " AND " + column + " < " + a.Add(next) + ")", nil
		}
	}}
}

// keyCol is a column of a list's sort key.
type keyCol struct {
	expr    string
	integer bool
}

// listQuery is one page of a keyset-paged list. The sort key's last column must be unique
// (the name); all columns sort the same way, so the position is one row-value comparison the
// database answers from an index.
type listQuery struct {
	what   string // for errors: "list demands"
	from   string // "demands d"
	where  []string
	args   sqlstore.Args
	key    []keyCol
	desc   bool
	query  string // the fingerprint page tokens are bound to
	size   int
	token  string
	extras []string // integer columns scanned after data and version, handed to decode
	// sealed: the table has a personal column (personal data, sealed), handed to decode.
	sealed bool
}

// run returns the page's records and the next page's token. decode turns a row's data, sealed
// personal data (nil unless lq.sealed) and extras into the record.
func run[T proto.Message](ctx context.Context, q sqlstore.Querier, lq *listQuery, decode func(data, sealed []byte, extras []int64) (T, error)) ([]Listed[T], string, error) {
	size := pageLimit(lq.size)
	after, err := aip.DecodePageToken(lq.token, lq.query, len(lq.key))
	if err != nil {
		return nil, "", err
	}
	exprs := make([]string, len(lq.key))
	for i, k := range lq.key {
		exprs[i] = k.expr
	}
	dir, cmp := "ASC", ">"
	if lq.desc {
		dir, cmp = "DESC", "<"
	}
	where := lq.where
	if after != nil {
		ph := make([]string, len(after))
		for i, v := range after {
			var val any = v
			if lq.key[i].integer {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, "", aip.ErrBadPageToken
				}
				val = n
			}
			ph[i] = lq.args.Add(val)
		}
		where = append(where[:len(where):len(where)],
			"("+strings.Join(exprs, ", ")+") "+cmp+" ("+strings.Join(ph, ", ")+")")
	}
	var sql strings.Builder
	sql.WriteString("SELECT data, version")
	if lq.sealed {
		sql.WriteString(", personal")
	}
	for _, e := range append(lq.extras[:len(lq.extras):len(lq.extras)], exprs...) {
		sql.WriteString(", " + e)
	}
	sql.WriteString(" FROM " + lq.from)
	if len(where) > 0 {
		sql.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sql.WriteString(" ORDER BY ")
	for i, e := range exprs {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString(e + " " + dir)
	}
	fmt.Fprintf(&sql, " LIMIT %d", size+1)

	rows, err := q.Query(ctx, sql.String(), lq.args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", lq.what, err)
	}
	defer rows.Close()
	var (
		data    []byte
		sealed  []byte
		version int64
		extras  = make([]int64, len(lq.extras))
		ints    = make([]int64, len(lq.key))
		strs    = make([]string, len(lq.key))
		dest    = []any{&data, &version}
		out     []Listed[T]
		last    []string
	)
	if lq.sealed {
		dest = append(dest, &sealed)
	}
	for i := range extras {
		dest = append(dest, &extras[i])
	}
	for i, k := range lq.key {
		if k.integer {
			dest = append(dest, &ints[i])
		} else {
			dest = append(dest, &strs[i])
		}
	}
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(lq.query, last...), rows.Err()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, "", fmt.Errorf("%s: %w", lq.what, err)
		}
		rec, err := decode(data, sealed, extras)
		if err != nil {
			return nil, "", err
		}
		out = append(out, Listed[T]{Rec: rec, Version: version})
		last = make([]string, len(lq.key))
		for i, k := range lq.key {
			if k.integer {
				last[i] = strconv.FormatInt(ints[i], 10)
			} else {
				last[i] = strs[i]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", lq.what, err)
	}
	return out, "", nil
}
