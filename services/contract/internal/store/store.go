// Package store keeps the contract service's records in SQL: contracts (whole, every version
// in one row), their partners, fulfilments and alerts. One implementation serves both back
// ends; the conformance suite in this package runs on both.
//
// Every method takes the Querier to run on (a *sqlstore.DB, its Reads(), or a sqlstore.Tx), so
// callers compose store writes with the outbox and idempotency records in one transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Store reads and writes contracts through the Querier each method is given.
type Store struct{}

// New returns a Store.
func New() *Store { return &Store{} }

// Listed is a record as read, with its version for the etag.
type Listed[T proto.Message] struct {
	Rec     T
	Version int64
}

func encode(m proto.Message, name string) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return data, nil
}

func micros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InsertContract adds c at version 1 with its partners. origin (the event it was drafted
// from, "" for none) is unique: a second contract of one origin is sqlstore.ErrAlreadyExists.
// due is when the sweeper must next look at it (nil: never).
func (s *Store) InsertContract(ctx context.Context, q sqlstore.Tx, c *contractv1.Contract, subdistrict, origin string, due *time.Time) error {
	data, err := encode(c, c.GetName())
	if err != nil {
		return err
	}
	// Not queued: the unique origin must fail here, where the caller can tell it apart.
	if _, err := q.Exec(ctx, `INSERT INTO contracts (name, project, origin, community_code, subdistrict_code, status, sweep_due_us,
		data, version, create_us, update_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10)`,
		c.GetName(), c.GetProject(), nullable(origin), c.GetCommunityCode(), subdistrict, int64(c.GetStatus()), micros(due),
		data, c.GetCreateTime().AsTime().UnixMicro(), c.GetUpdateTime().AsTime().UnixMicro()); err != nil {
		return fmt.Errorf("insert %s: %w", c.GetName(), err)
	}
	for _, p := range c.GetParties() {
		if p.GetParty() == "community" {
			continue
		}
		if err := sqlstore.Write(ctx, q, `INSERT INTO contract_partners (partner, contract) VALUES ($1, $2)`, p.GetParty(), c.GetName()); err != nil {
			return fmt.Errorf("insert %s: %w", c.GetName(), err)
		}
	}
	return nil
}

// UpdateContract stores c over version, returning the new version: sqlstore.ErrStale when
// someone changed it meanwhile, sqlstore.ErrNotFound when it is gone. Its parties never change.
func (s *Store) UpdateContract(ctx context.Context, q sqlstore.Tx, c *contractv1.Contract, version int64, due *time.Time) (int64, error) {
	data, err := encode(c, c.GetName())
	if err != nil {
		return 0, err
	}
	n, err := q.Exec(ctx, `UPDATE contracts SET status = $3, sweep_due_us = $4, data = $5, version = version + 1, update_us = $6
		WHERE name = $1 AND version = $2`,
		c.GetName(), version, int64(c.GetStatus()), micros(due), data, c.GetUpdateTime().AsTime().UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", c.GetName(), err)
	}
	if n == 0 {
		var one int64
		if err := q.QueryRow(ctx, `SELECT 1 FROM contracts WHERE name = $1`, c.GetName()).Scan(&one); err != nil {
			return 0, fmt.Errorf("update %s: %w", c.GetName(), err)
		}
		return 0, fmt.Errorf("update %s: %w", c.GetName(), sqlstore.ErrStale)
	}
	return version + 1, nil
}

// UpdateLockedContract stores c over version like UpdateContract, for a caller that holds the
// row (the sweeper's claim): the write is queued, to reach the database with the
// transaction's others, so a batch costs no round trip per contract.
func (s *Store) UpdateLockedContract(ctx context.Context, tx sqlstore.Tx, c *contractv1.Contract, version int64, due *time.Time) (int64, error) {
	data, err := encode(c, c.GetName())
	if err != nil {
		return 0, err
	}
	tx.Queue(ctx, `UPDATE contracts SET status = $3, sweep_due_us = $4, data = $5, version = version + 1, update_us = $6
		WHERE name = $1 AND version = $2`,
		c.GetName(), version, int64(c.GetStatus()), micros(due), data, c.GetUpdateTime().AsTime().UnixMicro())
	return version + 1, nil
}

// LockContract holds the contract's row for the rest of the transaction (PostgreSQL; on
// SQLite the write transaction holds the database), so the sweeper skips it meanwhile.
func (s *Store) LockContract(ctx context.Context, q sqlstore.Querier, name string) error {
	if q.Dialect() == sqlstore.SQLite {
		return nil
	}
	var one int64
	if err := q.QueryRow(ctx, `SELECT 1 FROM contracts WHERE name = $1 FOR UPDATE`, name).Scan(&one); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

func decodeContract(name string, data []byte) (*contractv1.Contract, error) {
	c := &contractv1.Contract{}
	if err := proto.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return c, nil
}

// GetContract returns the contract called name and its version; sqlstore.ErrNotFound when
// there is none.
func (s *Store) GetContract(ctx context.Context, q sqlstore.Querier, name string) (*contractv1.Contract, int64, error) {
	var data []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, version FROM contracts WHERE name = $1`, name).Scan(&data, &version); err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	c, err := decodeContract(name, data)
	return c, version, err
}

// GetContracts returns the contracts called names with their versions, by name (one round
// trip); names not found are left out.
func (s *Store) GetContracts(ctx context.Context, q sqlstore.Querier, names []string) (map[string]Listed[*contractv1.Contract], error) {
	var args sqlstore.Args
	rows, err := q.Query(ctx, `SELECT name, data, version FROM contracts WHERE `+sqlstore.AnyOf(q, args.Add, "name", names), args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("get contracts: %w", err)
	}
	defer rows.Close()
	out := make(map[string]Listed[*contractv1.Contract], len(names))
	for rows.Next() {
		var name string
		var data []byte
		var version int64
		if err := rows.Scan(&name, &data, &version); err != nil {
			return nil, fmt.Errorf("get contracts: %w", err)
		}
		c, err := decodeContract(name, data)
		if err != nil {
			return nil, err
		}
		out[name] = Listed[*contractv1.Contract]{Rec: c, Version: version}
	}
	return out, rows.Err()
}

// ContractOfOrigin returns the name of the contract drafted from origin; sqlstore.ErrNotFound
// when there is none.
func (s *Store) ContractOfOrigin(ctx context.Context, q sqlstore.Querier, origin string) (string, error) {
	var name string
	if err := q.QueryRow(ctx, `SELECT name FROM contracts WHERE origin = $1`, origin).Scan(&name); err != nil {
		return "", fmt.Errorf("contract of %s: %w", origin, err)
	}
	return name, nil
}

// Scope restricts what a caller sees: the contracts of Communities (All: every community),
// plus, when Partner is set, the contracts that partner is a party to.
type Scope struct {
	Communities []string
	All         bool
	Partner     string
}

func (sc Scope) condition(args *sqlstore.Args) string {
	var or []string
	if sc.All {
		return ""
	}
	if len(sc.Communities) > 0 {
		or = append(or, "community_code IN "+sqlstore.InList(args, sc.Communities))
	}
	if sc.Partner != "" {
		or = append(or, "name IN (SELECT contract FROM contract_partners WHERE partner = "+args.Add(sc.Partner)+")")
	}
	if len(or) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

func (sc Scope) fingerprint() string {
	return fmt.Sprintf("[%v,%s,%s]", sc.All, strings.Join(sc.Communities, ","), sc.Partner)
}

// ListParams selects a page of contracts.
type ListParams struct {
	Filter, PageToken string
	PageSize          int
	Scope             Scope
}

var partnerName = func(v string) error {
	if !aip.ValidName(v, "partners") && !aip.ValidName(v, "partnerGroups") {
		return fmt.Errorf("%q is not a partner name (partners/… or partnerGroups/…)", v)
	}
	return nil
}

var filterSchema = sqlstore.FilterSchema{
	"region_code": {Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *sqlstore.Args) (string, error) {
		if err := region.CheckCode(v); err != nil {
			return "", err
		}
		switch {
		case len(v) == region.LevelDistrict.CodeLen():
			return "subdistrict_code LIKE " + a.Add(v+"%"), nil
		case len(v) == region.LevelSubdistrict.CodeLen():
			return "subdistrict_code = " + a.Add(v), nil
		default:
			return "community_code = " + a.Add(v[:region.LevelCommunity.CodeLen()]), nil
		}
	}},
	"status": sqlstore.EnumField("status", contractv1.ContractStatus(0).Descriptor(), "CONTRACT_STATUS_"),
	"project": sqlstore.EqualField("project", func(v string) error {
		if !aip.ValidName(v, "projects") {
			return fmt.Errorf("%q is not a project name (projects/…)", v)
		}
		return nil
	}),
	"partner": {Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *sqlstore.Args) (string, error) {
		if err := partnerName(v); err != nil {
			return "", err
		}
		return "name IN (SELECT contract FROM contract_partners WHERE partner = " + a.Add(v) + ")", nil
	}},
}

// ListContracts returns a page of contracts, newest first, and the next page's token.
func (s *Store) ListContracts(ctx context.Context, q sqlstore.Querier, p ListParams) ([]Listed[*contractv1.Contract], string, error) {
	var args sqlstore.Args
	var where []string
	if c := p.Scope.condition(&args); c != "" {
		where = append(where, c)
	}
	cond, err := filterSchema.Compile(p.Filter, &args)
	if err != nil {
		return nil, "", err
	}
	if cond != "" {
		where = append(where, cond)
	}
	query := aip.Fingerprint("contracts", p.Filter, p.Scope.fingerprint())
	after, err := aip.DecodePageToken(p.PageToken, query, 1)
	if err != nil {
		return nil, "", err
	}
	if after != nil {
		// Names are sortable ids: newest first is by name, descending.
		where = append(where, "name < "+args.Add(after[0]))
	}
	sql := "SELECT name, data, version FROM contracts"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY name DESC LIMIT " + strconv.Itoa(p.PageSize+1)
	rows, err := q.Query(ctx, sql, args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list contracts: %w", err)
	}
	defer rows.Close()
	var out []Listed[*contractv1.Contract]
	last := ""
	for rows.Next() {
		if len(out) == p.PageSize {
			return out, aip.EncodePageToken(query, last), nil
		}
		var name string
		var data []byte
		var version int64
		if err := rows.Scan(&name, &data, &version); err != nil {
			return nil, "", fmt.Errorf("list contracts: %w", err)
		}
		c, err := decodeContract(name, data)
		if err != nil {
			return nil, "", err
		}
		out = append(out, Listed[*contractv1.Contract]{Rec: c, Version: version})
		last = name
	}
	return out, "", rows.Err()
}

// splitChild splits "contracts/{c}/{kind}/{id}" into the contract and the id.
func splitChild(name, kind string) (string, string, error) {
	parent, id, ok := strings.Cut(name, "/"+kind+"/")
	if !ok || !aip.ValidName(parent, "contracts") || id == "" {
		return "", "", fmt.Errorf("%q is not a contract's %s name", name, kind)
	}
	return parent, id, nil
}

// InsertFulfilment adds a fulfilment. One recorded from an activity (f.Activity) is unique by
// it: a second is sqlstore.ErrAlreadyExists.
func (s *Store) InsertFulfilment(ctx context.Context, q sqlstore.Tx, f *contractv1.Fulfilment) error {
	contract, id, err := splitChild(f.GetName(), "fulfilments")
	if err != nil {
		return err
	}
	data, err := encode(f, f.GetName())
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `INSERT INTO fulfilments (contract, id, activity, create_us, data) VALUES ($1, $2, $3, $4, $5)`,
		contract, id, nullable(f.GetActivity()), f.GetCreateTime().AsTime().UnixMicro(), data); err != nil {
		return fmt.Errorf("insert %s: %w", f.GetName(), err)
	}
	return nil
}

// FulfilmentOfActivity returns the name of the fulfilment recorded from activity;
// sqlstore.ErrNotFound when there is none.
func (s *Store) FulfilmentOfActivity(ctx context.Context, q sqlstore.Querier, activity string) (string, error) {
	var contract, id string
	if err := q.QueryRow(ctx, `SELECT contract, id FROM fulfilments WHERE activity = $1`, activity).Scan(&contract, &id); err != nil {
		return "", fmt.Errorf("fulfilment of %s: %w", activity, err)
	}
	return contract + "/fulfilments/" + id, nil
}

// InsertAlert adds alert a under key, unless the contract already has an alert of that key:
// it reports whether it was added (an alert fires once per occurrence).
func (s *Store) InsertAlert(ctx context.Context, q sqlstore.Tx, key string, a *contractv1.Alert) (bool, error) {
	contract, id, err := splitChild(a.GetName(), "alerts")
	if err != nil {
		return false, err
	}
	data, err := encode(a, a.GetName())
	if err != nil {
		return false, err
	}
	n, err := q.Exec(ctx, `INSERT INTO contract_alerts (contract, id, alert_key, create_us, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (contract, alert_key) DO NOTHING`,
		contract, id, key, a.GetCreateTime().AsTime().UnixMicro(), data)
	if err != nil {
		return false, fmt.Errorf("insert %s: %w", a.GetName(), err)
	}
	return n == 1, nil
}

// listChildren returns a page of table's records of contract, newest first (ids are sortable).
func listChildren[T proto.Message](ctx context.Context, q sqlstore.Querier, table, contract string, size int, token string, fresh func() T) ([]T, string, error) {
	query := aip.Fingerprint(table, contract)
	after, err := aip.DecodePageToken(token, query, 1)
	if err != nil {
		return nil, "", err
	}
	sql := `SELECT id, data FROM ` + table + ` WHERE contract = $1`
	args := []any{contract}
	if after != nil {
		sql += ` AND id < $2`
		args = append(args, after[0])
	}
	rows, err := q.Query(ctx, sql+` ORDER BY id DESC LIMIT `+strconv.Itoa(size+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list %s of %s: %w", table, contract, err)
	}
	defer rows.Close()
	var out []T
	last := ""
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(query, last), nil
		}
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, "", fmt.Errorf("list %s of %s: %w", table, contract, err)
		}
		m := fresh()
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, "", fmt.Errorf("decode %s/%s: %w", contract, id, err)
		}
		out = append(out, m)
		last = id
	}
	return out, "", rows.Err()
}

// ListFulfilments returns a page of contract's fulfilments, newest first.
func (s *Store) ListFulfilments(ctx context.Context, q sqlstore.Querier, contract string, size int, token string) ([]*contractv1.Fulfilment, string, error) {
	return listChildren(ctx, q, "fulfilments", contract, size, token, func() *contractv1.Fulfilment { return &contractv1.Fulfilment{} })
}

// ListAlerts returns a page of contract's alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, q sqlstore.Querier, contract string, size int, token string) ([]*contractv1.Alert, string, error) {
	return listChildren(ctx, q, "contract_alerts", contract, size, token, func() *contractv1.Alert { return &contractv1.Alert{} })
}

// IsNotFound reports whether err is sqlstore.ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
