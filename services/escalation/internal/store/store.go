// Package store keeps the escalation service's records in SQL: cases and their histories. One
// implementation serves both back ends; the conformance suite in this package runs on both.
//
// Cases are stored whole as marshalled protos, beside copies of the fields queries filter, sort,
// count or sweep on. Every method takes the Querier to run on (a *sqlstore.DB, its Reads(), or a
// sqlstore.Tx), so callers compose store writes with the outbox and idempotency records in one
// transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
)

// Store reads and writes cases through the Querier each method is given.
type Store struct {
	// changed, when set, runs after the commit of every transaction that wrote a case.
	changed func()
}

// New returns a Store.
func New() *Store { return &Store{} }

// NewWithChanges returns a Store that calls changed after the commit of each transaction in
// which it wrote a case (the API's board cache drops what it counted).
func NewWithChanges(changed func()) *Store { return &Store{changed: changed} }

// wrote registers the change hook on the transaction that writes a case.
func (s *Store) wrote(tx sqlstore.Tx) {
	if s.changed != nil {
		tx.AfterCommit(s.changed)
	}
}

// Listed is a record as read, with its version for the etag.
type Listed[T proto.Message] struct {
	Rec     T
	Version int64
}

// columns are the copies of a case's fields the queries use.
type columns struct {
	colour, status, category int64
	open, escalated          bool
	resolveDue, sweepDue     *int64
	// ackDue and replyDue are the acknowledge and reply deadlines still to meet (open cases
	// not yet taken on, not yet replied to).
	ackDue, replyDue *int64
	create, update   int64
	data             []byte
	// countKey is the case_counts line an open case is counted in; "" when closed.
	countKey string
}

func columnsOf(c *escalationv1.Case) (columns, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return columns{}, fmt.Errorf("encode %s: %w", c.GetName(), err)
	}
	col := columns{
		colour: int64(c.GetColour()), status: int64(c.GetStatus()), category: int64(c.GetCategory()),
		open: domain.Open(c.GetStatus()), escalated: c.GetEscalationCount() > 0,
		create: c.GetCreateTime().AsTime().UnixMicro(), update: c.GetUpdateTime().AsTime().UnixMicro(), data: data,
	}
	if col.open && c.GetResolveDeadline() != nil {
		us := c.GetResolveDeadline().AsTime().UnixMicro()
		col.resolveDue = &us
	}
	if col.open && c.GetAcknowledgeTime() == nil && c.GetAcknowledgeDeadline() != nil {
		us := c.GetAcknowledgeDeadline().AsTime().UnixMicro()
		col.ackDue = &us
	}
	if col.open && c.GetReplyTime() == nil && c.GetReplyDeadline() != nil {
		us := c.GetReplyDeadline().AsTime().UnixMicro()
		col.replyDue = &us
	}
	if due := domain.SweepDue(c); due != nil {
		us := due.UnixMicro()
		col.sweepDue = &us
	}
	if col.open {
		col.countKey = fmt.Sprintf("%s|%d|%s|%t", c.GetCommunityCode(), col.colour, c.GetUnit(), col.escalated)
	}
	return col, nil
}

// count adds one to the board's line of c (countKey), in q's transaction.
func count(ctx context.Context, q sqlstore.Querier, c *escalationv1.Case, col columns) error {
	if col.countKey == "" {
		return nil
	}
	return sqlstore.Write(ctx, q, `INSERT INTO case_counts (key, subdistrict_code, community_code, colour, unit, escalated, open_cases)
		VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (key) DO UPDATE SET open_cases = case_counts.open_cases + 1`,
		col.countKey, c.GetSubdistrictCode(), c.GetCommunityCode(), col.colour, c.GetUnit(), col.escalated)
}

// uncount takes the case called name out of the line it is counted in, before its row changes.
func uncount(ctx context.Context, q sqlstore.Querier, name string) error {
	return sqlstore.Write(ctx, q, `UPDATE case_counts SET open_cases = open_cases - 1
		WHERE key = (SELECT count_key FROM cases WHERE name = $1 AND count_key <> '')`, name)
}

// InsertCase adds a case at version 1, counted on the board. A case for the same demand already
// there is sqlstore.ErrAlreadyExists: one case per demand.
func (s *Store) InsertCase(ctx context.Context, q sqlstore.Tx, c *escalationv1.Case) error {
	col, err := columnsOf(c)
	if err != nil {
		return err
	}
	// Not queued: the unique demand must fail here, where the caller can tell it apart.
	if _, err := q.Exec(ctx, `INSERT INTO cases (name, demand, community_code, subdistrict_code, category, colour, status,
		is_open, escalated, unit, count_key, resolve_due_us, sweep_due_us, data, version, create_us, update_us, ack_due_us, reply_due_us, clocks)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $16, $11, $12, $13, 1, $14, $15, $17, $18, 1)`,
		c.GetName(), c.GetDemand(), c.GetCommunityCode(), c.GetSubdistrictCode(), col.category, col.colour, col.status,
		col.open, col.escalated, c.GetUnit(), col.resolveDue, col.sweepDue, col.data, col.create, col.update, col.countKey,
		col.ackDue, col.replyDue); err != nil {
		return fmt.Errorf("insert %s: %w", c.GetName(), err)
	}
	s.wrote(q)
	return count(ctx, q, c, col)
}

// UpdateCase stores c over version, returning the new version: sqlstore.ErrStale when someone
// changed it meanwhile, sqlstore.ErrNotFound when it is gone. It runs in a transaction, which
// a failure must roll back: the board's counts move with the row.
func (s *Store) UpdateCase(ctx context.Context, q sqlstore.Tx, c *escalationv1.Case, version int64) (int64, error) {
	col, err := columnsOf(c)
	if err != nil {
		return 0, err
	}
	// The board's counts move with the row: out of the old line (read from the row before it
	// changes; queued, it reaches the database just before the update), into the new one. A
	// stale update fails its transaction, counts and all.
	if err := uncount(ctx, q, c.GetName()); err != nil {
		return 0, err
	}
	s.wrote(q)
	n, err := q.Exec(ctx, `UPDATE cases SET category = $3, colour = $4, status = $5, is_open = $6, escalated = $7, unit = $8,
		count_key = $13, resolve_due_us = $9, sweep_due_us = $10, data = $11, version = version + 1, update_us = $12,
		ack_due_us = $14, reply_due_us = $15, clocks = 1
		WHERE name = $1 AND version = $2`,
		c.GetName(), version, col.category, col.colour, col.status, col.open, col.escalated, c.GetUnit(),
		col.resolveDue, col.sweepDue, col.data, col.update, col.countKey, col.ackDue, col.replyDue)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", c.GetName(), err)
	}
	if n == 0 {
		var one int64
		if err := q.QueryRow(ctx, `SELECT 1 FROM cases WHERE name = $1`, c.GetName()).Scan(&one); err != nil {
			return 0, fmt.Errorf("update %s: %w", c.GetName(), err)
		}
		return 0, fmt.Errorf("update %s: %w", c.GetName(), sqlstore.ErrStale)
	}
	return version + 1, count(ctx, q, c, col)
}

// UpdateLockedCase stores c over version like UpdateCase, for a caller that holds the row (the
// sweeper's claim): the write is queued, to reach the database with the transaction's others,
// so a batch of cases costs no round trip each.
func (s *Store) UpdateLockedCase(ctx context.Context, tx sqlstore.Tx, c *escalationv1.Case, version int64) (int64, error) {
	col, err := columnsOf(c)
	if err != nil {
		return 0, err
	}
	if err := uncount(ctx, tx, c.GetName()); err != nil {
		return 0, err
	}
	s.wrote(tx)
	tx.Queue(ctx, `UPDATE cases SET category = $3, colour = $4, status = $5, is_open = $6, escalated = $7, unit = $8,
		count_key = $13, resolve_due_us = $9, sweep_due_us = $10, data = $11, version = version + 1, update_us = $12,
		ack_due_us = $14, reply_due_us = $15, clocks = 1
		WHERE name = $1 AND version = $2`,
		c.GetName(), version, col.category, col.colour, col.status, col.open, col.escalated, c.GetUnit(),
		col.resolveDue, col.sweepDue, col.data, col.update, col.countKey, col.ackDue, col.replyDue)
	return version + 1, count(ctx, tx, c, col)
}

// GetCases returns the cases called names with their versions, by name (one round trip);
// names not found are left out.
func (s *Store) GetCases(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Listed[*escalationv1.Case], error) {
	var args sqlstore.Args
	rows, err := q.Query(ctx, `SELECT name, data, version FROM cases WHERE `+sqlstore.AnyOf(q, args.Add, "name", names), args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("get cases: %w", err)
	}
	defer rows.Close()
	out := make(map[string]Listed[*escalationv1.Case], len(names))
	for rows.Next() {
		var name string
		var data []byte
		var version int64
		if err := rows.Scan(&name, &data, &version); err != nil {
			return nil, fmt.Errorf("get cases: %w", err)
		}
		c, err := decodeCase(name, data)
		if err != nil {
			return nil, err
		}
		out[name] = Listed[*escalationv1.Case]{Rec: c, Version: version}
	}
	return out, rows.Err()
}

func decodeCase(name string, data []byte) (*escalationv1.Case, error) {
	c := &escalationv1.Case{}
	if err := proto.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return c, nil
}

// GetCase returns the case called name and its version; sqlstore.ErrNotFound when there is none.
func (s *Store) GetCase(ctx context.Context, q sqlstore.Querier, name string) (*escalationv1.Case, int64, error) {
	return s.getBy(ctx, q, "name", name)
}

// CaseOfDemand returns the case of demand; sqlstore.ErrNotFound when it has none.
func (s *Store) CaseOfDemand(ctx context.Context, q sqlstore.Querier, demand string) (*escalationv1.Case, int64, error) {
	return s.getBy(ctx, q, "demand", demand)
}

func (s *Store) getBy(ctx context.Context, q sqlstore.Querier, column, value string) (*escalationv1.Case, int64, error) {
	var data []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, version FROM cases WHERE `+column+` = $1`, value).Scan(&data, &version); err != nil {
		return nil, 0, fmt.Errorf("get case %s: %w", value, err)
	}
	c, err := decodeCase(value, data)
	if err != nil {
		return nil, 0, err
	}
	return c, version, nil
}

// LockCase holds the case's row until the transaction ends, so that a change that does not
// come with the caller's etag waits for another instead of failing as stale, and the sweeper
// (SKIP LOCKED) leaves the case to it. SQLite serialises transactions already.
func (s *Store) LockCase(ctx context.Context, q sqlstore.Querier, name string) error {
	if q.Dialect() == sqlstore.SQLite {
		return nil
	}
	var one int64
	if err := q.QueryRow(ctx, `SELECT 1 FROM cases WHERE name = $1 FOR UPDATE`, name).Scan(&one); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// AppendEvent adds a step to its case's history.
func (s *Store) AppendEvent(ctx context.Context, q sqlstore.Querier, e *escalationv1.CaseEvent) error {
	caseName, id, ok := strings.Cut(e.GetName(), "/events/")
	if !ok || !aip.ValidName(caseName, "cases") || id == "" {
		return fmt.Errorf("append event: %q is not a case event name", e.GetName())
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", e.GetName(), err)
	}
	return sqlstore.Write(ctx, q, `INSERT INTO case_events (case_name, id, create_us, data) VALUES ($1, $2, $3, $4)`,
		caseName, id, e.GetCreateTime().AsTime().UnixMicro(), data)
}

// ListEvents returns a page of a case's history, oldest first, and the next page's token.
func (s *Store) ListEvents(ctx context.Context, q sqlstore.Querier, caseName string, size int, token string) ([]*escalationv1.CaseEvent, string, error) {
	query := aip.Fingerprint("case_events", caseName)
	after, err := aip.DecodePageToken(token, query, 1)
	if err != nil {
		return nil, "", err
	}
	from := ""
	if after != nil {
		from = after[0]
	}
	rows, err := q.Query(ctx, `SELECT id, data FROM case_events WHERE case_name = $1 AND id > $2 ORDER BY id LIMIT `+strconv.Itoa(size+1), caseName, from)
	if err != nil {
		return nil, "", fmt.Errorf("list events of %s: %w", caseName, err)
	}
	defer rows.Close()
	var out []*escalationv1.CaseEvent
	last := ""
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(query, last), nil
		}
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, "", fmt.Errorf("list events of %s: %w", caseName, err)
		}
		e := &escalationv1.CaseEvent{}
		if err := proto.Unmarshal(data, e); err != nil {
			return nil, "", fmt.Errorf("decode %s/events/%s: %w", caseName, id, err)
		}
		out = append(out, e)
		last = id
	}
	return out, "", rows.Err()
}

// Scope restricts what a caller sees: nil sees every case; otherwise only the cases whose
// community is in Communities, and, when Unit is set (a department), only those assigned to it.
type Scope struct {
	Communities []string
	// All: every community (a caller of the whole district), still restricted by Unit.
	All  bool
	Unit string
}

func (sc *Scope) condition(args *sqlstore.Args) []string {
	if sc == nil {
		return nil
	}
	var out []string
	if !sc.All {
		if len(sc.Communities) == 0 {
			return []string{"1 = 0"}
		}
		out = append(out, "community_code IN "+sqlstore.InList(args, sc.Communities))
	}
	if sc.Unit != "" {
		out = append(out, "unit = "+args.Add(sc.Unit))
	}
	return out
}

func (sc *Scope) fingerprint() string {
	if sc == nil {
		return "*"
	}
	return fmt.Sprintf("[%v,%s,%s]", sc.All, strings.Join(sc.Communities, ","), sc.Unit)
}

// ErrBadOrder means an order_by ListCases does not support.
var ErrBadOrder error = &aip.OrderError{Allowed: []string{"create_time desc", "create_time", "resolve_deadline", "colour desc"}}

type order struct {
	key  []string // SQL expressions, the last unique
	desc bool
}

// maxDue sorts closed cases (no resolve deadline) after every open one.
const maxDue = "COALESCE(resolve_due_us, 9223372036854775807)"

var orders = map[string]order{
	"create_time desc": {key: []string{"create_us", "name"}, desc: true},
	"create_time":      {key: []string{"create_us", "name"}},
	"resolve_deadline": {key: []string{maxDue, "name"}},
	"colour desc":      {key: []string{"colour", "create_us", "name"}, desc: true},
}

// ListParams selects a page of cases.
type ListParams struct {
	Filter, OrderBy, PageToken string
	PageSize                   int
	Scope                      *Scope
	// Now is the moment overdue is judged at.
	Now time.Time
}

// filterSchema is ListCases' filter language.
func filterSchema(now time.Time) sqlstore.FilterSchema {
	boolean := func(sql string) sqlstore.FilterField {
		return sqlstore.FilterField{Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *sqlstore.Args) (string, error) {
			switch v {
			case "true":
				return sql, nil
			case "false":
				return "NOT (" + sql + ")", nil
			}
			return "", fmt.Errorf("want true or false, not %q", v)
		}}
	}
	return sqlstore.FilterSchema{
		"region_code": {Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *sqlstore.Args) (string, error) {
			return regionCondition(v, a)
		}},
		"colour":   sqlstore.EnumField("colour", escalationv1.Colour(0).Descriptor(), "COLOUR_"),
		"level":    sqlstore.EnumField("colour", escalationv1.Level(0).Descriptor(), "LEVEL_"), // a level is its colour's number
		"status":   sqlstore.EnumField("status", escalationv1.CaseStatus(0).Descriptor(), "CASE_STATUS_"),
		"category": sqlstore.EnumField("category", typev1.Category(0).Descriptor(), "CATEGORY_"),
		"unit": sqlstore.EqualField("unit", func(v string) error {
			if !strings.HasPrefix(v, domain.RegionUnitPrefix) && !strings.HasPrefix(v, domain.DepartmentUnitPrefix) {
				return fmt.Errorf("%q is not a unit (regions/… or departments/…)", v)
			}
			return nil
		}),
		"demand": sqlstore.EqualField("demand", func(v string) error {
			if !aip.ValidName(v, "demands") {
				return fmt.Errorf("%q is not a demand name (demands/…)", v)
			}
			return nil
		}),
		"open":      boolean("is_open"),
		"escalated": boolean("escalated"),
		"overdue":   boolean("(is_open AND resolve_due_us < " + strconv.FormatInt(now.UnixMicro(), 10) + ")"),
	}
}

// regionCondition keeps the cases in the subtree of code: the whole district, a sub-district or
// a community (a grid narrows to its community: cases are placed by community).
func regionCondition(code string, a *sqlstore.Args) (string, error) {
	if err := region.CheckCode(code); err != nil {
		return "", err
	}
	switch {
	case len(code) == region.LevelDistrict.CodeLen():
		return "subdistrict_code LIKE " + a.Add(code+"%"), nil
	case len(code) == region.LevelSubdistrict.CodeLen():
		return "subdistrict_code = " + a.Add(code), nil
	default:
		return "community_code = " + a.Add(code[:region.LevelCommunity.CodeLen()]), nil
	}
}

// ListCases returns a page of cases and the next page's token.
func (s *Store) ListCases(ctx context.Context, q sqlstore.Querier, p ListParams) ([]Listed[*escalationv1.Case], string, error) {
	orderBy := strings.Join(strings.Fields(p.OrderBy), " ")
	if orderBy == "" {
		orderBy = "create_time desc"
	}
	ord, ok := orders[orderBy]
	if !ok {
		return nil, "", ErrBadOrder
	}
	var args sqlstore.Args
	where := p.Scope.condition(&args)
	cond, err := filterSchema(p.Now).Compile(p.Filter, &args)
	if err != nil {
		return nil, "", err
	}
	if cond != "" {
		where = append(where, cond)
	}
	// overdue depends on the moment: a token is bound to the filter's words, and the moment is
	// taken afresh for every page, as a list read later would.
	query := aip.Fingerprint("cases", p.Filter, orderBy, p.Scope.fingerprint())
	after, err := aip.DecodePageToken(p.PageToken, query, len(ord.key))
	if err != nil {
		return nil, "", err
	}
	dir, cmp := "ASC", ">"
	if ord.desc {
		dir, cmp = "DESC", "<"
	}
	if after != nil {
		ph := make([]string, len(after))
		for i, v := range after {
			if i == len(after)-1 {
				ph[i] = args.Add(v)
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, "", aip.ErrBadPageToken
			}
			ph[i] = args.Add(n)
		}
		where = append(where, "("+strings.Join(ord.key, ", ")+") "+cmp+" ("+strings.Join(ph, ", ")+")")
	}
	var sql strings.Builder
	sql.WriteString("SELECT data, version, " + strings.Join(ord.key, ", ") + " FROM cases")
	if len(where) > 0 {
		sql.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sql.WriteString(" ORDER BY ")
	for i, k := range ord.key {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString(k + " " + dir)
	}
	size := p.PageSize
	fmt.Fprintf(&sql, " LIMIT %d", size+1)
	rows, err := q.Query(ctx, sql.String(), args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list cases: %w", err)
	}
	defer rows.Close()
	var (
		out  []Listed[*escalationv1.Case]
		last []string
	)
	ints := make([]int64, len(ord.key)-1)
	var name string
	var data []byte
	var version int64
	dest := []any{&data, &version}
	for i := range ints {
		dest = append(dest, &ints[i])
	}
	dest = append(dest, &name)
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(query, last...), nil
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, "", fmt.Errorf("list cases: %w", err)
		}
		c, err := decodeCase(name, data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, Listed[*escalationv1.Case]{Rec: c, Version: version})
		last = last[:0]
		for _, n := range ints {
			last = append(last, strconv.FormatInt(n, 10))
		}
		last = append(last, name)
	}
	return out, "", rows.Err()
}

// ColourLine is the board's line for one colour.
type ColourLine struct {
	Open, Overdue, DueSoon, Escalated      int
	AcknowledgeOverdue, AcknowledgeDueSoon int
	ReplyOverdue, ReplyDueSoon             int
}

// UnitLine is the board's line for one unit.
type UnitLine struct {
	Unit                                            string
	Open, Overdue, AcknowledgeOverdue, ReplyOverdue int
}

// AcknowledgeSoon is how close an acknowledge deadline is "due soon": limits to take a case on
// are hours (2h for green), not days, so the window is shorter than the others' (soon).
const AcknowledgeSoon = time.Hour

// Board are the counts of the three-colour board.
type Board struct {
	Colours map[escalationv1.Colour]ColourLine
	Units   []UnitLine
}

// Board counts the open cases within scope and the region code (empty: all of scope), as of
// now: by colour (open, overdue, due before soon, escalated; the acknowledge deadlines not met,
// overdue and due within AcknowledgeSoon; the reply deadlines not met, overdue and due before
// soon) and by unit. The open counts come
// from case_counts (a line per community, colour, unit and escalation), the overdue and
// due-soon ones from the open cases whose deadline is before soon (an index range): neither
// reads every open case.
func (s *Store) Board(ctx context.Context, q sqlstore.Querier, scope *Scope, regionCode string, now, soon time.Time) (Board, error) {
	b := Board{Colours: map[escalationv1.Colour]ColourLine{}}
	units := map[string]*UnitLine{}
	var order []string
	unitLine := func(unit string) *UnitLine {
		u, ok := units[unit]
		if !ok {
			u = &UnitLine{Unit: unit}
			units[unit] = u
			order = append(order, unit)
		}
		return u
	}
	var args sqlstore.Args
	where := append([]string{"open_cases > 0"}, scope.condition(&args)...)
	if regionCode != "" {
		cond, err := regionCondition(regionCode, &args)
		if err != nil {
			return Board{}, err
		}
		where = append(where, cond)
	}
	rows, err := q.Query(ctx, `SELECT colour, unit, escalated, SUM(open_cases) FROM case_counts WHERE `+strings.Join(where, " AND ")+
		` GROUP BY colour, unit, escalated`, args.Values()...)
	if err != nil {
		return Board{}, fmt.Errorf("count the board: %w", err)
	}
	for rows.Next() {
		var colour, n int64
		var unit string
		var escalated bool
		if err := rows.Scan(&colour, &unit, &escalated, &n); err != nil {
			rows.Close()
			return Board{}, fmt.Errorf("count the board: %w", err)
		}
		line := b.Colours[escalationv1.Colour(colour)]
		line.Open += int(n)
		if escalated {
			line.Escalated += int(n)
		}
		b.Colours[escalationv1.Colour(colour)] = line
		unitLine(unit).Open += int(n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Board{}, fmt.Errorf("count the board: %w", err)
	}

	// The resolve, acknowledge and reply clocks: each an index range over the cases whose
	// deadline is before its "soon", counted overdue when before now; the three in one round
	// trip (UNION ALL), each part its own range. Each part reads only its index (cases_board_*,
	// which carries every column named here: index-only on PostgreSQL, a covering index on
	// SQLite), not the cases' rows; a deadline is set only on an open case, so there is no
	// is_open to test.
	clocks := []struct {
		column string
		soon   time.Time
		add    func(line *ColourLine, unit *UnitLine, overdue, dueSoon int)
	}{
		{"resolve_due_us", soon, func(l *ColourLine, u *UnitLine, o, d int) { l.Overdue += o; l.DueSoon += d; u.Overdue += o }},
		{"ack_due_us", now.Add(AcknowledgeSoon), func(l *ColourLine, u *UnitLine, o, d int) {
			l.AcknowledgeOverdue += o
			l.AcknowledgeDueSoon += d
			u.AcknowledgeOverdue += o
		}},
		{"reply_due_us", soon, func(l *ColourLine, u *UnitLine, o, d int) {
			l.ReplyOverdue += o
			l.ReplyDueSoon += d
			u.ReplyOverdue += o
		}},
	}
	args = sqlstore.Args{}
	where = scope.condition(&args)
	if regionCode != "" {
		cond, err := regionCondition(regionCode, &args)
		if err != nil {
			return Board{}, err
		}
		where = append(where, cond)
	}
	nowArg := args.Add(now.UnixMicro())
	parts := make([]string, len(clocks))
	for i, clk := range clocks {
		parts[i] = `SELECT ` + strconv.Itoa(i) + ` AS clock, colour, unit, SUM(CASE WHEN ` + clk.column + ` < ` + nowArg + ` THEN 1 ELSE 0 END) AS overdue, COUNT(*) AS n
			FROM cases WHERE ` + strings.Join(append(slices.Clone(where), clk.column+" < "+args.Add(clk.soon.UnixMicro())), " AND ") + ` GROUP BY colour, unit`
	}
	rows, err = q.Query(ctx, strings.Join(parts, " UNION ALL "), args.Values()...)
	if err != nil {
		return Board{}, fmt.Errorf("count the board: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var clock, colour, overdue, n int64
		var unit string
		if err := rows.Scan(&clock, &colour, &unit, &overdue, &n); err != nil {
			return Board{}, fmt.Errorf("count the board: %w", err)
		}
		if clock < 0 || int(clock) >= len(clocks) {
			return Board{}, fmt.Errorf("count the board: clock %d", clock)
		}
		line := b.Colours[escalationv1.Colour(colour)]
		clocks[clock].add(&line, unitLine(unit), int(overdue), int(n-overdue))
		b.Colours[escalationv1.Colour(colour)] = line
	}
	if err := rows.Err(); err != nil {
		return Board{}, fmt.Errorf("count the board: %w", err)
	}
	for _, u := range order {
		b.Units = append(b.Units, *units[u])
	}
	return b, nil
}

// FillClocks fills in the acknowledge and reply columns of up to batch cases written by a build
// that did not keep them, returning how many it filled: the service calls it at start until
// it returns 0, so a data directory of the previous build upgrades in place. The rows' data
// and versions are untouched (their etags stay valid).
func (s *Store) FillClocks(ctx context.Context, db *sqlstore.DB, batch int) (int, error) {
	n := 0
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT name, data FROM cases WHERE clocks = 0 ORDER BY name LIMIT `+strconv.Itoa(batch))
		if err != nil {
			return fmt.Errorf("fill clocks: %w", err)
		}
		var cols []columns
		var names []string
		for rows.Next() {
			var name string
			var data []byte
			if err := rows.Scan(&name, &data); err != nil {
				rows.Close()
				return fmt.Errorf("fill clocks: %w", err)
			}
			c, err := decodeCase(name, data)
			if err != nil {
				rows.Close()
				return err
			}
			col, err := columnsOf(c)
			if err != nil {
				rows.Close()
				return err
			}
			cols, names = append(cols, col), append(names, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("fill clocks: %w", err)
		}
		for i, name := range names {
			tx.Queue(ctx, `UPDATE cases SET ack_due_us = $2, reply_due_us = $3, clocks = 1 WHERE name = $1`, name, cols[i].ackDue, cols[i].replyDue)
		}
		n = len(names)
		return nil
	})
	return n, err
}

// IsAlreadyExists reports whether err is a unique key collision (a second case for a demand).
func IsAlreadyExists(err error) bool { return errors.Is(err, sqlstore.ErrAlreadyExists) }

// InsertMeeting adds a co-handling meeting at version 1.
func (s *Store) InsertMeeting(ctx context.Context, q sqlstore.Tx, m *escalationv1.CaseMeeting) error {
	caseName, _, ok := strings.Cut(m.GetName(), "/meetings/")
	if !ok {
		return fmt.Errorf("insert meeting: %q is not a case meeting name", m.GetName())
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.GetName(), err)
	}
	return sqlstore.Write(ctx, q, `INSERT INTO case_meetings (name, case_name, data, version, create_us) VALUES ($1, $2, $3, 1, $4)`,
		m.GetName(), caseName, data, m.GetCreateTime().AsTime().UnixMicro())
}

// GetMeeting returns the meeting called name and its version; sqlstore.ErrNotFound when there
// is none.
func (s *Store) GetMeeting(ctx context.Context, q sqlstore.Querier, name string) (*escalationv1.CaseMeeting, int64, error) {
	var data []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, version FROM case_meetings WHERE name = $1`, name).Scan(&data, &version); err != nil {
		return nil, 0, fmt.Errorf("get meeting %s: %w", name, err)
	}
	m := &escalationv1.CaseMeeting{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", name, err)
	}
	return m, version, nil
}

// UpdateMeeting stores m over version, for a caller holding its case's row (which every change
// of a meeting goes through); it returns the new version.
func (s *Store) UpdateMeeting(ctx context.Context, q sqlstore.Tx, m *escalationv1.CaseMeeting, version int64) (int64, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", m.GetName(), err)
	}
	n, err := q.Exec(ctx, `UPDATE case_meetings SET data = $3, version = version + 1 WHERE name = $1 AND version = $2`, m.GetName(), version, data)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", m.GetName(), err)
	}
	if n == 0 {
		return 0, fmt.Errorf("update %s: %w", m.GetName(), sqlstore.ErrStale)
	}
	return version + 1, nil
}

// ListMeetings returns a page of a case's meetings, oldest first (names are ULIDs), with their
// versions, and the next page's token; size 0 returns them all.
func (s *Store) ListMeetings(ctx context.Context, q sqlstore.Querier, caseName string, size int, token string) ([]Listed[*escalationv1.CaseMeeting], string, error) {
	query := aip.Fingerprint("case_meetings", caseName)
	after, err := aip.DecodePageToken(token, query, 1)
	if err != nil {
		return nil, "", err
	}
	from := ""
	if after != nil {
		from = after[0]
	}
	sql := `SELECT name, data, version FROM case_meetings WHERE case_name = $1 AND name > $2 ORDER BY name`
	if size > 0 {
		sql += " LIMIT " + strconv.Itoa(size+1)
	}
	rows, err := q.Query(ctx, sql, caseName, from)
	if err != nil {
		return nil, "", fmt.Errorf("list meetings of %s: %w", caseName, err)
	}
	defer rows.Close()
	var out []Listed[*escalationv1.CaseMeeting]
	last := ""
	for rows.Next() {
		if size > 0 && len(out) == size {
			return out, aip.EncodePageToken(query, last), nil
		}
		var name string
		var data []byte
		var version int64
		if err := rows.Scan(&name, &data, &version); err != nil {
			return nil, "", fmt.Errorf("list meetings of %s: %w", caseName, err)
		}
		m := &escalationv1.CaseMeeting{}
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, "", fmt.Errorf("decode %s: %w", name, err)
		}
		out = append(out, Listed[*escalationv1.CaseMeeting]{Rec: m, Version: version})
		last = name
	}
	return out, "", rows.Err()
}
