// Package store keeps the partner service's records in SQL. One implementation serves both
// back ends (PostgreSQL and SQLite accept the same statements here); the conformance suite in
// this package runs on both.
package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Kind tells partners from groups in the shared parties table.
type Kind int64

// The kinds of party.
const (
	KindPartner Kind = 1
	KindGroup   Kind = 2
)

// KindOf returns the kind of a resource name ("partners/…" or "partnerGroups/…").
func KindOf(name string) Kind {
	if strings.HasPrefix(name, "partnerGroups/") {
		return KindGroup
	}
	return KindPartner
}

// Party is what partners and groups have in common.
type Party interface {
	proto.Message
	GetName() string
	GetDisplayName() string
	GetRegionCode() string
	GetStatus() partnerv1.PartnerStatus
	GetCapabilities() []*partnerv1.Capability
	GetServiceAreas() []string
	GetAvailability() []*typev1.WeeklyWindow
	GetRecruitmentChannel() partnerv1.RecruitmentChannel
}

// Store reads and writes partner records through q, which is a database or a transaction:
// callers compose store writes with the outbox and idempotency records in one transaction.
type Store struct {
	records *recordCache
	keys    *personal.Keys // seal contacts (see personal.go)
}

// New returns a Store for one database, sealing contacts under keys.
func New(keys *personal.Keys) *Store {
	return &Store{records: newRecordCache(recordCacheSize), keys: keys}
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// InsertParty adds a new partner or group with version 1.
func (s *Store) InsertParty(ctx context.Context, q sqlstore.Querier, p Party) error {
	data, sealed, phoneHash, err := s.sealParty(p)
	if err != nil {
		return err
	}
	group, credit, groupKind := partyColumns(p)
	now := time.Now()
	if err := sqlstore.Write(ctx, q, `INSERT INTO parties (name, kind, display_name, group_name, group_kind, region_code, status, credit_code,
		recruitment_channel, data, personal, contact_phone_hash, version, create_us, update_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, 1, $11, $11)`,
		p.GetName(), int64(KindOf(p.GetName())), p.GetDisplayName(), group, groupKind, p.GetRegionCode(), int64(p.GetStatus()), credit,
		int64(p.GetRecruitmentChannel()), data, createMicros(p, now), sealed, phoneHash); err != nil {
		return fmt.Errorf("insert %s: %w", p.GetName(), err)
	}
	return s.writeIndexes(ctx, q, p, 1)
}

func createMicros(p Party, now time.Time) int64 {
	if c, ok := p.(interface{ GetCreateTime() *timestamppb.Timestamp }); ok && c.GetCreateTime() != nil {
		return c.GetCreateTime().AsTime().UnixMicro()
	}
	return micros(now)
}

func partyColumns(p Party) (group, credit string, groupKind int64) {
	switch v := p.(type) {
	case *partnerv1.Partner:
		return v.GetGroup(), "", 0
	case *partnerv1.PartnerGroup:
		return "", v.GetCreditCode(), int64(v.GetKind())
	}
	return "", "", 0
}

func (s *Store) writeIndexes(ctx context.Context, q sqlstore.Querier, p Party, version int64) error {
	var args sqlstore.Args
	var rows []string
	kind, status, days := int64(KindOf(p.GetName())), int64(p.GetStatus()), weekdayMask(p.GetAvailability())
	for _, o := range offers(p) {
		rows = append(rows, "("+strings.Join([]string{args.Add(p.GetName()), args.Add(o.category), args.Add(o.region),
			args.Add(kind), args.Add(status), args.Add(days), args.Add(version)}, ", ")+")")
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO party_offers (party, category, region_code, kind, status, weekdays, version) VALUES `+
		strings.Join(rows, ", "), args.Values()...); err != nil {
		return fmt.Errorf("index offers of %s: %w", p.GetName(), err)
	}
	return nil
}

// weekdayMask has bit d set when the party is available on weekday d (Monday = 1).
func weekdayMask(windows []*typev1.WeeklyWindow) int64 {
	var m int64
	for _, w := range windows {
		m |= 1 << w.GetWeekday()
	}
	return m
}

type offer struct {
	category int64
	region   string
}

// offers is every (category, service area) pair a party offers, without duplicates.
func offers(p Party) []offer {
	cats := []int64{}
	seen := map[int64]bool{}
	for _, c := range p.GetCapabilities() {
		if n := int64(c.GetCategory()); !seen[n] {
			seen[n] = true
			cats = append(cats, n)
		}
	}
	if len(cats) == 0 {
		cats = []int64{0}
	}
	areas := p.GetServiceAreas()
	if len(areas) == 0 {
		areas = []string{""}
	}
	out := make([]offer, 0, len(cats)*len(areas))
	for _, c := range cats {
		for _, a := range areas {
			out = append(out, offer{c, a})
		}
	}
	return out
}

func (s *Store) clearIndexes(ctx context.Context, q sqlstore.Querier, name string) error {
	if err := sqlstore.Write(ctx, q, `DELETE FROM party_offers WHERE party = $1`, name); err != nil {
		return fmt.Errorf("clear the offers of %s: %w", name, err)
	}
	return nil
}

// GetParty reads the record called name into into and returns its version.
func (s *Store) GetParty(ctx context.Context, q sqlstore.Querier, name string, into Party) (int64, error) {
	var data, sealed []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, personal, version FROM parties WHERE name = $1 AND kind = $2`, name, int64(KindOf(name))).Scan(&data, &sealed, &version); err != nil {
		return 0, fmt.Errorf("get %s: %w", name, err)
	}
	if err := s.openParty(name, data, sealed, into); err != nil {
		return 0, err
	}
	return version, nil
}

// UpdateParty replaces the record if it is still at version and returns the new version;
// sqlstore.ErrStale if someone changed it meanwhile.
func (s *Store) UpdateParty(ctx context.Context, q sqlstore.Querier, p Party, version int64) (int64, error) {
	data, sealed, phoneHash, err := s.sealParty(p)
	if err != nil {
		return 0, err
	}
	group, credit, groupKind := partyColumns(p)
	n, err := q.Exec(ctx, `UPDATE parties SET display_name = $1, group_name = $2, group_kind = $3, region_code = $4, status = $5,
		credit_code = $6, recruitment_channel = $7, data = $8, personal = $12, contact_phone_hash = $13, version = version + 1,
		update_us = $9 WHERE name = $10 AND version = $11`,
		p.GetDisplayName(), group, groupKind, p.GetRegionCode(), int64(p.GetStatus()), credit, int64(p.GetRecruitmentChannel()),
		data, micros(time.Now()), p.GetName(), version, sealed, phoneHash)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", p.GetName(), err)
	}
	if n == 0 {
		return 0, fmt.Errorf("update %s: %w", p.GetName(), sqlstore.ErrStale)
	}
	if err := s.clearIndexes(ctx, q, p.GetName()); err != nil {
		return 0, err
	}
	if err := s.writeIndexes(ctx, q, p, version+1); err != nil {
		return 0, err
	}
	return version + 1, nil
}

// DeleteParty removes the record if it is still at version.
func (s *Store) DeleteParty(ctx context.Context, q sqlstore.Querier, name string, version int64) error {
	n, err := q.Exec(ctx, `DELETE FROM parties WHERE name = $1 AND version = $2`, name, version)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete %s: %w", name, sqlstore.ErrStale)
	}
	return nil
}

// MemberCounts returns how many partners belong to each of groups.
func (s *Store) MemberCounts(ctx context.Context, q sqlstore.Querier, groups []string) (map[string]int32, error) {
	out := make(map[string]int32, len(groups))
	if len(groups) == 0 {
		return out, nil
	}
	var args sqlstore.Args
	ph := make([]string, len(groups))
	for i, g := range groups {
		ph[i] = args.Add(g)
	}
	rows, err := q.Query(ctx, `SELECT group_name, COUNT(*) FROM parties WHERE group_name IN (`+strings.Join(ph, ", ")+`) GROUP BY group_name`, args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			return nil, fmt.Errorf("count members: %w", err)
		}
		out[g] = int32(n)
	}
	return out, rows.Err()
}
