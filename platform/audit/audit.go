// Package audit is the audit trail as data: one append-only record per write, per refused
// attempt and per unmasked read of personal data, in the service's own database (the table
// audit_records of the platform migrations).
//
// A write's record is inserted in the write's own transaction (platform/resource does it for
// every write), so a change and its record commit together or not at all. A refused attempt's
// record is written after the rollback, in its own small transaction; a read's, in its own.
//
// Records are chained after commit, never at insert, for the reason the event relay positions
// events after commit (platform/eventfeed): on PostgreSQL a transaction that inserts first may
// commit last. [Chain] positions the records whose transactions have all ended, in
// transaction-id order, under an advisory lock, and inserts each one's link (position, the
// previous record's hash and its own hash over its content and that) into audit_chain: writers
// never wait for it or for each other, and records are never updated. [Verify] walks the chain
// and reports the first gap or edit.
//
// Both tables refuse every UPDATE (triggers, on PostgreSQL and SQLite alike); records older
// than the retention (180 days, GB/T 22239 level 3) may be deleted, by [Purge], and a link only
// after its record.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// The kinds of record.
const (
	KindWrite        = "write"
	KindReadPersonal = "read_personal"
	KindRefused      = "refused"
	// KindPurge records a purge: Detail holds the highest position it deleted, so that
	// Verify knows where the chain may begin.
	KindPurge = "purge"
)

// OK is the outcome of an act that was done.
const OK = "OK"

// Outcome is the outcome of an act refused with code: the code's canonical name
// (PERMISSION_DENIED), as google.rpc.Code spells it.
func Outcome(c codes.Code) string {
	if name, ok := rpccode.Code_name[int32(c)]; ok {
		return name
	}
	return c.String()
}

// Record is one audited act.
type Record struct {
	ID         string
	Time       time.Time
	Kind       string
	Subject    string
	Roles      []auth.Role
	Method     string
	Resource   string
	RegionCode string
	// Outcome is OK, or the name of the refusal's gRPC code (PERMISSION_DENIED).
	Outcome string
	// Paths are the fields a write changed.
	Paths []string
	// Detail says what a read_personal record showed (contact, reporter); a purge's highest
	// deleted position.
	Detail string

	// The chain: zero until Chain has positioned the record.
	Position int64
	PrevHash []byte
	Hash     []byte
}

// Trail writes a service's audit records. It is safe for concurrent use.
type Trail struct {
	db      *sqlstore.DB
	log     *slog.Logger
	records bool
	now     func() time.Time
	wake    chan struct{}
	// reads holds the records of reads not yet written: they are written in batches (Flush),
	// so a read costs no transaction of its own.
	reads chan Record
}

// pendingReads bounds the read records held in memory; past it a read writes its own.
const pendingReads = 4096

// Option configures a Trail.
type Option func(*Trail)

// WithRecords turns the records on (the default) or off. Off, every act is written as an
// "audit" log line instead, as before the trail was data: the switch exists to measure the
// records' cost on writes, not to run without them.
func WithRecords(on bool) Option { return func(t *Trail) { t.records = on } }

// WithClock sets the clock that stamps records (tests).
func WithClock(now func() time.Time) Option { return func(t *Trail) { t.now = now } }

// New returns the trail of the service whose database is db. log receives the audit lines
// when the records are off, and errors writing the records of refusals and reads.
func New(db *sqlstore.DB, log *slog.Logger, opts ...Option) *Trail {
	if log == nil {
		log = slog.Default()
	}
	t := &Trail{db: db, log: log, records: true, now: time.Now, wake: make(chan struct{}, 1), reads: make(chan Record, pendingReads)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// DB is the database the trail's records are in.
func (t *Trail) DB() *sqlstore.DB { return t.db }

// Records reports whether the trail writes records (rather than log lines).
func (t *Trail) Records() bool { return t != nil && t.records }

type trailKey struct{}

// NewContext returns a context carrying t: resource.Run writes its records to it, and
// auth.AuditRead (through auth.WithAuditSink) its reads.
func NewContext(ctx context.Context, t *Trail) context.Context {
	return auth.WithAuditSink(context.WithValue(ctx, trailKey{}, t), t)
}

// FromContext returns the trail of ctx, or nil.
func FromContext(ctx context.Context) *Trail {
	t, _ := ctx.Value(trailKey{}).(*Trail)
	return t
}

// Write records r in tx, the transaction of the write it records: it exists only if tx
// commits. Without records (a nil Trail, or records off) it is logged after the commit.
func (t *Trail) Write(ctx context.Context, tx sqlstore.Tx, r Record) {
	if !t.Records() {
		log := slog.Default()
		if t != nil {
			log = t.log
		}
		tx.AfterCommit(func() { logRecord(ctx, log, t.stamp(r)) })
		return
	}
	r = t.stamp(r)
	tx.Queue(ctx, insertSQL, insertArgs(r)...)
	tx.AfterCommit(t.notify)
}

// Refused records an attempt that was refused, after its transaction rolled back, in a
// transaction of its own. A failure is logged, never the caller's error: the caller is told of
// the refusal either way.
func (t *Trail) Refused(ctx context.Context, r Record) {
	r.Kind = KindRefused
	if !t.Records() {
		log := slog.Default()
		if t != nil {
			log = t.log
		}
		logRecord(ctx, log, t.stamp(r))
		return
	}
	if err := t.insert(context.WithoutCancel(ctx), t.stamp(r)); err != nil {
		t.log.ErrorContext(ctx, "audit record not written", "error", err, "kind", r.Kind, "method", r.Method, "subject", r.Subject)
	}
}

// RoleDenied records a call the interceptor refused because p's roles may not call method
// (auth.OnRoleDenied). Like reads' records it is queued and written in a batch: a caller
// repeating a refused call costs no transaction each.
func (t *Trail) RoleDenied(ctx context.Context, method string, p auth.Principal) {
	r := Record{Kind: KindRefused, Subject: p.Subject, Roles: p.Roles, Method: method,
		Outcome: Outcome(codes.PermissionDenied), RegionCode: region.Common(p.Scope...)}
	if err := t.queue(ctx, r); err != nil {
		t.log.ErrorContext(ctx, "audit record not written", "error", err, "kind", r.Kind, "method", method, "subject", p.Subject)
	}
}

// Audit implements auth.AuditSink: a read of personal data (auth.AuditRead) becomes one
// record per call, naming every resource shown (space-separated: names hold no spaces), so a
// list of twenty costs one record, not twenty. Reads change nothing, so their records are not
// written in a transaction each: they are queued and written in batches by Run (Flush), soon
// after; a process killed in between loses the reads of that moment (at most one chaining
// pause). When the queue is full the record is written at once.
func (t *Trail) Audit(ctx context.Context, a auth.AuditRecord) error {
	r := Record{Kind: a.Action, Subject: a.Subject, Roles: a.Roles, Method: a.Method, Outcome: OK, Detail: a.Data,
		Resource: strings.Join(a.Resources, " "), RegionCode: a.Region}
	if a.Action == "write" {
		r.Kind = KindWrite
	}
	if !t.Records() {
		return auth.LogAuditSink{Handler: t.log.Handler()}.Audit(ctx, a)
	}
	return t.queue(ctx, r)
}

// queue hands r to Run's next batch, or writes it at once when the queue is full; without
// records it is a log line.
func (t *Trail) queue(ctx context.Context, r Record) error {
	r = t.stamp(r)
	if !t.Records() {
		log := slog.Default()
		if t != nil {
			log = t.log
		}
		logRecord(ctx, log, r)
		return nil
	}
	select {
	case t.reads <- r:
		t.notify()
		return nil
	default:
		return t.insert(context.WithoutCancel(ctx), r)
	}
}

// flushBatch bounds the records one Flush transaction writes.
const flushBatch = 1000

// Flush writes the queued read records, in batches of one transaction each.
func (t *Trail) Flush(ctx context.Context) error {
	for {
		var batch []Record
	drain:
		for len(batch) < flushBatch {
			select {
			case r := <-t.reads:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := t.insert(ctx, batch...); err != nil {
			return err
		}
	}
}

func (t *Trail) insert(ctx context.Context, rs ...Record) error {
	return t.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		for _, r := range rs {
			tx.Queue(ctx, insertSQL, insertArgs(r)...)
		}
		tx.AfterCommit(t.notify)
		return nil
	})
}

// stamp gives r its id and time, unless it has them.
func (t *Trail) stamp(r Record) Record {
	if r.ID == "" {
		r.ID = ulid.Make().String()
	}
	if r.Time.IsZero() {
		if t != nil {
			r.Time = t.now()
		} else {
			r.Time = time.Now()
		}
	}
	if r.Outcome == "" {
		r.Outcome = OK
	}
	return r
}

// notify wakes Run's chaining without blocking the writer.
func (t *Trail) notify() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// chainPause is the least time between two chaining steps of one node.
const chainPause = 100 * time.Millisecond

// Run chains the trail's records until ctx ends: soon after each commit of this process, and
// every interval for the rest (other replicas' records, transactions that ended late). Every
// hour it also purges the records older than Retention.
func (t *Trail) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			t.flushOnStop(ctx)
			return
		case <-t.wake:
		case <-tick.C:
		case <-purge.C:
			if n, err := t.Purge(ctx, Retention); err != nil && ctx.Err() == nil {
				t.log.WarnContext(ctx, "could not purge old audit records; trying again later", "error", err)
			} else if n > 0 {
				t.log.InfoContext(ctx, "purged old audit records", "count", n, "retention", Retention)
			}
		}
		if err := t.Flush(ctx); err != nil && ctx.Err() == nil {
			t.log.WarnContext(ctx, "could not write read audit records; trying again later", "error", err)
		}
		if _, err := Chain(ctx, t.db); err != nil && ctx.Err() == nil {
			t.log.WarnContext(ctx, "could not chain audit records; trying again later", "error", err, "retry_in", interval)
		}
		// Commits during the pause are chained together after it: under load the chaining
		// costs a transaction every chainPause, not one per write.
		select {
		case <-ctx.Done():
			t.flushOnStop(ctx)
			return
		case <-time.After(chainPause):
		}
	}
}

// flushOnStop writes the queued read records as Run stops, within a short bound: the node
// is stopping and its database closes after Run returns.
func (t *Trail) flushOnStop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := t.Flush(ctx); err != nil {
		t.log.WarnContext(ctx, "read audit records not written as the node stopped", "error", err)
	}
}

const insertSQL = `INSERT INTO audit_records
	(id, time_us, kind, subject, roles, method, resource, region_code, outcome, paths, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func insertArgs(r Record) []any {
	return []any{r.ID, r.Time.UnixMicro(), r.Kind, r.Subject, joinRoles(r.Roles), r.Method, r.Resource,
		r.RegionCode, r.Outcome, strings.Join(r.Paths, ","), r.Detail}
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " ")
}

func splitList(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// logRecord writes r as an "audit" log line past the logger's level (auth.LogAuditSink).
func logRecord(ctx context.Context, log *slog.Logger, r Record) {
	rec := slog.NewRecord(r.Time, slog.LevelInfo, "audit", 0)
	rec.AddAttrs(
		slog.String("action", r.Kind),
		slog.String("resource", r.Resource),
		slog.String("method", r.Method),
		slog.String("subject", r.Subject),
		slog.Any("roles", r.Roles),
		slog.String("outcome", r.Outcome),
	)
	if len(r.Paths) > 0 {
		rec.AddAttrs(slog.Any("paths", r.Paths))
	}
	if err := log.Handler().Handle(ctx, rec); err != nil {
		log.ErrorContext(ctx, "audit line not written", "error", fmt.Errorf("audit: %w", err))
	}
}

func parseRoles(s string) []auth.Role {
	var out []auth.Role
	for _, r := range splitList(s, " ") {
		out = append(out, auth.Role(r))
	}
	return out
}
