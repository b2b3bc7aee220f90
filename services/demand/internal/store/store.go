// Package store keeps the demand service's records in SQL: demands with their timelines and
// supporters, meetings, projects and the partners' track records. One implementation serves
// both back ends (PostgreSQL and SQLite accept the same statements here); the conformance
// suite in this package runs on both.
//
// Records are stored whole as marshalled protos, beside copies of the fields queries filter,
// sort or join on. Every method takes the Querier to run on (a *sqlstore.DB, its Reads(), or
// a sqlstore.Tx), so callers compose store writes with the outbox and idempotency records in
// one transaction.
package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Store reads and writes the demand service's records through the Querier each method is
// given. Demands' personal data is sealed under keys (see personal.go).
type Store struct {
	keys *personal.Keys
	// quiet holds notifications that are not urgent (notifications.go).
	quiet calendar.QuietHours
	// wake, when set, is called after the commit of a transaction that wrote notifications.
	wake func()
}

// Option configures a Store.
type Option func(*Store)

// WithQuietHours holds the notifications that are not urgent, written during q, until q ends.
func WithQuietHours(q calendar.QuietHours) Option { return func(s *Store) { s.quiet = q } }

// WithWake calls wake after the commit of every transaction that wrote notifications: the
// sender's cue to deliver them without waiting for its next poll.
func WithWake(wake func()) Option { return func(s *Store) { s.wake = wake } }

// New returns a Store sealing personal data under keys.
func New(keys *personal.Keys, opts ...Option) *Store {
	s := &Store{keys: keys}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Listed is a record as read, with its version for the etag.
type Listed[T proto.Message] struct {
	Rec     T
	Version int64
}

// Scope restricts what a caller sees: nil sees everything; otherwise only the demands,
// meetings and projects whose community is in Communities (none when it is empty).
type Scope struct {
	Communities []string
}

// condition returns the SQL keeping rows of column in the scope; "" for a nil scope.
func (sc *Scope) condition(column string, args *sqlstore.Args) string {
	if sc == nil {
		return ""
	}
	if len(sc.Communities) == 0 {
		return "1 = 0"
	}
	return column + " IN " + sqlstore.InList(args, sc.Communities)
}

// fingerprint identifies the scope inside a page token's query fingerprint, so a token is not
// replayed under another scope.
func (sc *Scope) fingerprint() string {
	if sc == nil {
		return "*"
	}
	return "[" + strings.Join(sc.Communities, ",") + "]"
}

// Own restricts a resident to the demands they raised themselves or support.
type Own struct {
	Subject string
}

func (o *Own) condition(args *sqlstore.Args) string {
	if o == nil {
		return ""
	}
	// A union of two index lookups, joined back by primary key: a resident has a handful of
	// demands among many thousands, which a scan in list order would have to wade through.
	s := args.Add(o.Subject)
	return "d.name IN (SELECT r.name FROM demands r WHERE r.raised_by = " + s + " AND r.raised_by <> ''" +
		" UNION SELECT s.demand FROM demand_supporters s WHERE s.subject = " + s + ")"
}

func (o *Own) fingerprint() string {
	if o == nil {
		return "*"
	}
	return "own:" + o.Subject
}

// micros returns ts in unix microseconds, or now when ts is unset.
func micros(ts *timestamppb.Timestamp, now time.Time) int64 {
	if ts != nil {
		return ts.AsTime().UnixMicro()
	}
	return now.UnixMicro()
}

// updated reports a failed optimistic update: ErrNotFound when the record is gone, sqlstore.ErrStale
// when it is there at another version.
func updated(ctx context.Context, q sqlstore.Querier, table, name string) error {
	var one int64
	err := q.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE name = $1", name).Scan(&one)
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	return fmt.Errorf("update %s: %w", name, sqlstore.ErrStale)
}

// placeCode is the region code the region filter matches a demand on: its grid when known.
// The grid must lie within the demand's community: the region filter relies on it.
func placeCode(d *demandv1.Demand) (string, error) {
	g := d.GetGridCode()
	if g == "" {
		return d.GetCommunityCode(), nil
	}
	if !strings.HasPrefix(g, d.GetCommunityCode()) || len(g) <= len(d.GetCommunityCode()) {
		return "", fmt.Errorf("%s: grid %s is not within community %s", d.GetName(), g, d.GetCommunityCode())
	}
	return g, nil
}

// InsertDemand adds a demand at version 1 with the first entry of its timeline. raisedBy is the
// subject of the resident who filed it themselves, "" otherwise. A demand with a follow-up
// code whose hash another demand has is sqlstore.ErrAlreadyExists (in a transaction, at its
// commit). A demand raised at a meeting
// counts towards the meeting's demand_count. In a transaction every write is queued: a create
// costs one round trip.
func (s *Store) InsertDemand(ctx context.Context, q sqlstore.Querier, d *demandv1.Demand, raisedBy string, first *demandv1.TimelineEntry) error {
	row, err := s.sealDemand(d)
	if err != nil {
		return err
	}
	if first != nil {
		demand, _, err := splitEntryName(first.GetName())
		if err != nil {
			return err
		}
		if demand != d.GetName() {
			return fmt.Errorf("insert %s: first timeline entry %s belongs to another demand", d.GetName(), first.GetName())
		}
	}
	place, err := placeCode(d)
	if err != nil {
		return err
	}
	created := micros(d.GetCreateTime(), time.Now())
	if err := sqlstore.Write(ctx, q, `INSERT INTO demands (name, kind, category, channel, status, urgency, community_code, place_code,
		meeting, project, raised_by, supporter_count, data, personal, reporter_phone_hash, follow_up_code_hash, version, create_us, update_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $16, $17, $18, 1, $14, $15)`,
		d.GetName(), int64(d.GetKind()), int64(d.GetCategory()), int64(d.GetChannel()), int64(d.GetStatus()),
		int64(d.GetUrgency()), d.GetCommunityCode(), place, d.GetMeeting(), d.GetProject(), raisedBy,
		int64(d.GetSupporterCount()), row.data, created, micros(d.GetUpdateTime(), time.UnixMicro(created)), row.personal, row.phoneHash,
		row.codeHash); err != nil {
		return fmt.Errorf("insert %s: %w", d.GetName(), err)
	}
	if first != nil {
		if err := s.AppendTimeline(ctx, q, first); err != nil {
			return err
		}
	}
	if d.GetMeeting() != "" {
		// Only the column: demand_count is output only, so filing a demand does not move the
		// meeting's version and spoil the etag of someone editing its minutes.
		if err := sqlstore.Write(ctx, q, `UPDATE meetings SET demand_count = demand_count + 1 WHERE name = $1`, d.GetMeeting()); err != nil {
			return fmt.Errorf("count %s towards %s: %w", d.GetName(), d.GetMeeting(), err)
		}
	}
	return nil
}

// GetDemand returns the demand called name and its version; sqlstore.ErrNotFound when there
// is none.
func (s *Store) GetDemand(ctx context.Context, q sqlstore.Querier, name string) (*demandv1.Demand, int64, error) {
	var data, sealed []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, personal, version FROM demands WHERE name = $1`, name).Scan(&data, &sealed, &version); err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	d, err := s.openDemand(name, data, sealed)
	if err != nil {
		return nil, 0, err
	}
	return d, version, nil
}

// LockDemand holds the demand's row until the transaction ends, so that changes that do not
// come with the caller's etag (a resident's "me too", supporters merged in) queue behind each
// other instead of failing as stale. SQLite serialises transactions already.
func (s *Store) LockDemand(ctx context.Context, tx sqlstore.Querier, name string) error {
	if tx.Dialect() == sqlstore.SQLite {
		return nil
	}
	var one int64
	if err := tx.QueryRow(ctx, `SELECT 1 FROM demands WHERE name = $1 FOR UPDATE`, name).Scan(&one); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// DemandRaisedBy returns the subject of the resident who filed the demand online or claimed
// it with its follow-up code, "" when staff recorded it and nobody has claimed it.
func (s *Store) DemandRaisedBy(ctx context.Context, q sqlstore.Querier, name string) (string, error) {
	var by string
	if err := q.QueryRow(ctx, `SELECT raised_by FROM demands WHERE name = $1`, name).Scan(&by); err != nil {
		return "", fmt.Errorf("get the raiser of %s: %w", name, err)
	}
	return by, nil
}

// UpdateDemand replaces the demand if it is still at version and returns the new version:
// sqlstore.ErrStale if someone changed it meanwhile, sqlstore.ErrNotFound if it is gone. Every column
// copied from the record is rewritten from d, the follow-up code's hash too (d is what was
// read, code included); raised_by changes only by a claim (SetClaimant).
func (s *Store) UpdateDemand(ctx context.Context, q sqlstore.Querier, d *demandv1.Demand, version int64) (int64, error) {
	place, err := placeCode(d)
	if err != nil {
		return 0, err
	}
	row, err := s.sealDemand(d)
	if err != nil {
		return 0, err
	}
	n, err := q.Exec(ctx, `UPDATE demands SET kind = $1, category = $2, channel = $3, status = $4, urgency = $5,
		community_code = $6, place_code = $7, meeting = $8, project = $9, supporter_count = $10, data = $11,
		personal = $15, reporter_phone_hash = $16, follow_up_code_hash = $17, version = version + 1, update_us = $12
		WHERE name = $13 AND version = $14`,
		int64(d.GetKind()), int64(d.GetCategory()), int64(d.GetChannel()), int64(d.GetStatus()), int64(d.GetUrgency()),
		d.GetCommunityCode(), place, d.GetMeeting(), d.GetProject(), int64(d.GetSupporterCount()), row.data,
		micros(d.GetUpdateTime(), time.Now()), d.GetName(), version, row.personal, row.phoneHash, row.codeHash)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", d.GetName(), err)
	}
	if n == 0 {
		return 0, updated(ctx, q, "demands", d.GetName())
	}
	return version + 1, nil
}
