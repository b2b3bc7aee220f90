package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

const (
	// chainBatch bounds the records one chaining transaction positions.
	chainBatch = 1000
	// chainLockID is the PostgreSQL advisory lock key that serialises chaining steps of one
	// database (never writers).
	chainLockID int64 = 0x6a6979_61756474 // "jiy" "audt"
)

// Retention is how long a record is kept at least: 180 days (GB/T 22239 level 3). The
// table's trigger refuses to delete younger records whatever Purge is asked.
const Retention = 180 * 24 * time.Hour

// Chain positions and hashes the records whose transactions have ended, in transaction order,
// and reports how many it chained.
func Chain(ctx context.Context, db *sqlstore.DB) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			var err error
			n, err = chainStep(ctx, tx)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("audit: chain: %w", err)
		}
		if n < chainBatch {
			return total, nil
		}
	}
}

func chainStep(ctx context.Context, tx sqlstore.Tx) (int64, error) {
	// The head of the chain: its position and hash, and the record it links, where this step
	// resumes.
	var (
		top     int64
		headSeq int64
		headXID *string
	)
	prev := make([]byte, sha256.Size)
	head := `SELECT position, hash, record_seq, NULL FROM audit_chain ORDER BY position DESC LIMIT 1`
	if tx.Dialect() == sqlstore.Postgres {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, chainLockID); err != nil {
			return 0, err
		}
		head = `SELECT position, hash, record_seq, record_xid::text FROM audit_chain ORDER BY position DESC LIMIT 1`
	}
	err := tx.QueryRow(ctx, head).Scan(&top, &prev, &headSeq, &headXID)
	if err != nil && !errors.Is(err, sqlstore.ErrNotFound) {
		return 0, err
	}
	var (
		query string
		args  sqlstore.Args
	)
	if tx.Dialect() == sqlstore.SQLite {
		// The transaction holds SQLite's write lock, as every writer did: seq order is commit
		// order and no writer is in flight.
		query = `SELECT ` + recordColumns + `, NULL FROM audit_records r WHERE r.seq > ` + args.Add(headSeq) +
			` ORDER BY r.seq LIMIT ` + args.Add(int64(chainBatch))
	} else {
		// As the event relay: every transaction below xmin has ended, and none can later get
		// an id below it, so the records below it are a final set, chained in (xid, seq)
		// order. Everything before the head in that order is chained already.
		var xmin string
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin); err != nil {
			return 0, err
		}
		where := `r.xid < ` + args.Add(xmin) + `::text::xid8`
		if headXID != nil {
			where += ` AND (r.xid, r.seq) > (` + args.Add(*headXID) + `::text::xid8, ` + args.Add(headSeq) + `)`
		}
		query = `SELECT ` + recordColumns + `, r.xid::text FROM audit_records r WHERE ` + where +
			` ORDER BY r.xid, r.seq LIMIT ` + args.Add(int64(chainBatch))
	}
	rows, err := tx.Query(ctx, query, args.Values()...)
	if err != nil {
		return 0, err
	}
	var (
		recs []Record
		seqs []int64
		xids []*string
	)
	for rows.Next() {
		var (
			r   Record
			seq int64
			xid *string
		)
		if err := scanRecord(rows, &r, &seq, &xid); err != nil {
			rows.Close()
			return 0, err
		}
		recs, seqs, xids = append(recs, r), append(seqs, seq), append(xids, xid)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(recs) == 0 {
		return 0, err
	}
	// One multi-row insert per step: the links of a busy 100 ms are one statement.
	var (
		links  sqlstore.Args
		values []string
	)
	for i := range recs {
		r := &recs[i]
		r.Position, r.PrevHash = top+int64(i)+1, prev
		r.Hash = hashRecord(*r)
		prev = r.Hash
		row := links.Add(r.Position) + ", " + links.Add(seqs[i]) + ", " + links.Add(r.PrevHash) + ", " + links.Add(r.Hash)
		if tx.Dialect() == sqlstore.Postgres {
			row += ", " + links.Add(*xids[i]) + "::text::xid8"
		}
		values = append(values, "("+row+")")
	}
	insert := `INSERT INTO audit_chain (position, record_seq, prev_hash, hash) VALUES `
	if tx.Dialect() == sqlstore.Postgres {
		insert = `INSERT INTO audit_chain (position, record_seq, prev_hash, hash, record_xid) VALUES `
	}
	if _, err := tx.Exec(ctx, insert+strings.Join(values, ", "), links.Values()...); err != nil {
		return 0, err
	}
	return int64(len(recs)), nil
}

// recordColumns are a record's columns (audit_records as r), in scanRecord's order before the
// link's.
const recordColumns = `r.seq, r.id, r.time_us, r.kind, r.subject, r.roles, r.method, r.resource, r.region_code, r.outcome, r.paths, r.detail`

// columns are a record's columns with its link (audit_chain as c, NULL where not chained).
const columns = recordColumns + `, c.position, c.prev_hash, c.hash`

// scanner is what pgx's and database/sql's rows have in common.
type scanner interface{ Scan(dest ...any) error }

// scanRecord reads recordColumns into r and seq, then the rest of the row into more.
func scanRecord(row scanner, r *Record, seq *int64, more ...any) error {
	var (
		timeUS       int64
		roles, paths string
	)
	dest := append([]any{seq, &r.ID, &timeUS, &r.Kind, &r.Subject, &roles, &r.Method, &r.Resource,
		&r.RegionCode, &r.Outcome, &paths, &r.Detail}, more...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	r.Time = time.UnixMicro(timeUS)
	r.Roles = parseRoles(roles)
	r.Paths = splitList(paths, ",")
	return nil
}

// scanRecords runs query, which selects columns, and returns its records and their seqs.
func scanRecords(ctx context.Context, q sqlstore.Querier, query string, args ...any) ([]Record, []int64, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		recs []Record
		seqs []int64
	)
	for rows.Next() {
		var (
			r   Record
			seq int64
			pos *int64
		)
		if err := scanRecord(rows, &r, &seq, &pos, &r.PrevHash, &r.Hash); err != nil {
			return nil, nil, err
		}
		if pos != nil {
			r.Position = *pos
		}
		recs = append(recs, r)
		seqs = append(seqs, seq)
	}
	return recs, seqs, rows.Err()
}

// hashRecord is SHA-256 over the previous hash and every field of r, each length-prefixed so
// that no two records' fields run together the same way.
func hashRecord(r Record) []byte {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(string(r.PrevHash))
	field(strconv.FormatInt(r.Position, 10))
	field(r.ID)
	field(strconv.FormatInt(r.Time.UnixMicro(), 10))
	field(r.Kind)
	field(r.Subject)
	field(joinRoles(r.Roles))
	field(r.Method)
	field(r.Resource)
	field(r.RegionCode)
	field(r.Outcome)
	field(strings.Join(r.Paths, ","))
	field(r.Detail)
	return h.Sum(nil)
}

// Problem is the first place the chain does not hold.
type Problem struct {
	// Position is where the chain breaks: the missing position of a gap, or the edited
	// record's.
	Position int64
	// RecordID is the record at the break, if there is one.
	RecordID string
	// What says what is wrong.
	What string
}

func (p *Problem) Error() string {
	if p.RecordID == "" {
		return fmt.Sprintf("audit chain broken at position %d: %s", p.Position, p.What)
	}
	return fmt.Sprintf("audit chain broken at position %d (record %s): %s", p.Position, p.RecordID, p.What)
}

// Verify walks the chained records in position order and returns how many it checked and the
// first Problem: a gap (a position missing, a record deleted), or a record whose content or
// link does not match its hash (an edit). Records not yet chained are not checked.
func Verify(ctx context.Context, q sqlstore.Querier) (int64, *Problem, error) {
	var (
		checked int64
		next    int64 // the position the next record must have; 0 before the first
		prev    []byte
	)
	// A purge deletes the chain's beginning; the trail itself records where it stopped.
	var purged int64
	{
		rows, err := q.Query(ctx, `SELECT detail FROM audit_records WHERE kind = $1`, KindPurge)
		if err != nil {
			return 0, nil, fmt.Errorf("audit: verify: %w", err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return 0, nil, fmt.Errorf("audit: verify: %w", err)
			}
			if n, err := strconv.ParseInt(d, 10, 64); err == nil && n > purged {
				purged = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, nil, fmt.Errorf("audit: verify: %w", err)
		}
	}
	for {
		// A record deleted leaves its link without a partner: the join skips the position.
		recs, _, err := scanRecords(ctx, q, `SELECT `+columns+` FROM audit_chain c JOIN audit_records r ON r.seq = c.record_seq
			WHERE c.position >= $1 ORDER BY c.position LIMIT $2`, next, int64(chainBatch))
		if err != nil {
			return checked, nil, fmt.Errorf("audit: verify: %w", err)
		}
		for _, r := range recs {
			if next == 0 {
				// The first record: position 1 with the zero hash before it, or the first
				// after a purge, whose link is taken as stored (the purge record vouches for
				// the positions before it).
				switch {
				case r.Position == 1:
					prev = make([]byte, sha256.Size)
				case r.Position <= purged+1:
					prev = r.PrevHash
				default:
					return checked, &Problem{Position: purged + 1, What: "missing: the chain begins later, and no purge deleted it"}, nil
				}
				next = r.Position
			}
			if r.Position != next {
				return checked, &Problem{Position: next, What: "missing: the record at this position was deleted"}, nil
			}
			if !bytes.Equal(r.PrevHash, prev) {
				return checked, &Problem{Position: r.Position, RecordID: r.ID, What: "its link to the previous record does not match (a record before it was deleted or edited)"}, nil
			}
			if !bytes.Equal(hashRecord(r), r.Hash) {
				return checked, &Problem{Position: r.Position, RecordID: r.ID, What: "its content does not match its hash (edited)"}, nil
			}
			prev, next = r.Hash, r.Position+1
			checked++
		}
		if len(recs) < chainBatch {
			return checked, nil, nil
		}
	}
}

// Purge deletes the chained records older than retention (at least Retention) and records
// that it did, so that Verify accepts the chain's new beginning. It returns how many it
// deleted.
func (t *Trail) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	if retention < Retention {
		return 0, fmt.Errorf("audit: purge: a retention of %v is shorter than the %v the records are kept", retention, Retention)
	}
	cutoff := t.now().Add(-retention).UnixMicro()
	var n int64
	err := t.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		// The purge deletes a prefix of the chain, all of it older than the cutoff: up to the
		// position before the first younger record (positions follow commits, not clocks).
		// The head stays, however old: the next link continues from its hash.
		var young, last *int64
		if err := tx.QueryRow(ctx, `SELECT MIN(c.position) FROM audit_chain c JOIN audit_records r ON r.seq = c.record_seq
			WHERE r.time_us >= $1`, cutoff).Scan(&young); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT MAX(position) FROM audit_chain`).Scan(&last); err != nil {
			return err
		}
		if last == nil {
			return nil
		}
		top := *last - 1
		if young != nil && *young-1 < top {
			top = *young - 1
		}
		if top < 1 {
			return nil
		}
		var err error
		// Records first: a link goes only after its record (the chain table's trigger).
		if n, err = tx.Exec(ctx, `DELETE FROM audit_records WHERE seq IN (SELECT record_seq FROM audit_chain WHERE position <= $1)`, top); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM audit_chain WHERE position <= $1`, top); err != nil {
			return err
		}
		tx.Queue(ctx, insertSQL, insertArgs(t.stamp(Record{Kind: KindPurge, Subject: "system", Method: "audit.Purge", Detail: strconv.FormatInt(top, 10)}))...)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return n, nil
}

// List returns the records matching where (a condition over audit_records' columns whose
// parameters are in args), in insert order, at most limit, with their insert sequence numbers
// (the key a page token resumes after).
func List(ctx context.Context, q sqlstore.Querier, where string, args *sqlstore.Args, limit int) ([]Record, []int64, error) {
	query := `SELECT ` + columns + ` FROM audit_records r LEFT JOIN audit_chain c ON c.record_seq = r.seq WHERE ` + where +
		` ORDER BY r.seq LIMIT ` + args.Add(int64(limit))
	return scanRecords(ctx, q, query, args.Values()...)
}
