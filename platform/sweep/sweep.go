// Package sweep runs a service's periodic sweep over rows that fall due: a case left past its
// escalation interval, a contract duty past its date. A [Job] names the table, its key and a
// due column (unix microseconds, indexed); the [Sweeper] finds the rows whose time has come and
// hands each to the job in a transaction that holds it, so that any number of replicas may
// sweep at once:
//
//   - no row is handled twice: on PostgreSQL the rows are claimed with SELECT … FOR UPDATE SKIP
//     LOCKED (a replica skips what another holds, and after that one commits the row is no
//     longer due); on SQLite every write transaction takes the database's write lock, so
//     sweeps are serialised;
//   - none is missed: a run continues batch after batch until nothing due is left, and a row
//     whose handling fails stays due for the next run;
//   - time is the database's clock, one clock for every replica, unless the sweeper is given
//     its own (tests);
//   - nothing lives in memory: after a restart the due column says what is left, and
//     sweep_runs (a platform table) says when the job last ran, on any replica ([LastRun]).
//
// A sweep with nothing due is one index lookup on the due column.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Job is a sweep: which rows, and what to do with each one that is due.
type Job struct {
	// Name identifies the job in sweep_runs and the logs, e.g. "escalation-cases".
	Name string
	// Table holds the rows; Key is its primary key (TEXT); Due is a BIGINT column of unix
	// microseconds when the row next needs handling, NULL when it never does. Index Due.
	Table, Key, Due string
	// Batch is how many rows one transaction handles (default 200).
	Batch int
	// Handle handles one due row in tx, which holds it until commit. It must move the row's
	// Due past now (or to NULL), or it is due again at once; it may find the row no longer
	// needs anything (changed since it was read) and only move Due. now is the sweep's clock.
	Handle func(ctx context.Context, tx sqlstore.Tx, key string, now time.Time) error
	// HandleBatch, when set instead of Handle, handles a batch of due rows at once, so that
	// it can read them in one statement and queue its writes: a sweep of many due rows then
	// costs a few round trips per batch, not per row. The same contract holds for each row.
	HandleBatch func(ctx context.Context, tx sqlstore.Tx, keys []string, now time.Time) error
}

// Sweeper runs a Job every interval.
type Sweeper struct {
	db       *sqlstore.DB
	job      Job
	interval time.Duration
	clock    func() time.Time
	log      *slog.Logger
	claim    string
	lastEnd  atomic.Int64 // unix µs of this replica's last finished run; 0 before the first
	metrics  metrics
}

// Option configures a Sweeper.
type Option func(*Sweeper)

// WithInterval sets how often Run sweeps (default 30s).
func WithInterval(d time.Duration) Option { return func(s *Sweeper) { s.interval = d } }

// WithClock replaces the database's clock (tests: a controllable clock).
func WithClock(now func() time.Time) Option { return func(s *Sweeper) { s.clock = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Sweeper) { s.log = l } }

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// New returns a sweeper of job over db.
func New(db *sqlstore.DB, job Job, opts ...Option) (*Sweeper, error) {
	for _, id := range []string{job.Table, job.Key, job.Due} {
		if !identifier.MatchString(id) {
			return nil, fmt.Errorf("sweep: %q is not a plain SQL identifier", id)
		}
	}
	if db == nil || job.Name == "" || (job.Handle == nil) == (job.HandleBatch == nil) {
		return nil, errors.New("sweep: a database, a job name and one handler (Handle or HandleBatch) are required")
	}
	if job.Batch <= 0 {
		job.Batch = 200
	}
	s := &Sweeper{db: db, job: job, interval: 30 * time.Second, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	if s.interval <= 0 {
		return nil, fmt.Errorf("sweep: interval %v must be positive", s.interval)
	}
	s.log = s.log.With("sweep", job.Name)
	if err := s.metrics.init(db, job.Name, s.interval); err != nil {
		return nil, err
	}
	s.claim = fmt.Sprintf("SELECT %s FROM %s WHERE %s <= $1 ORDER BY %s LIMIT %d", job.Key, job.Table, job.Due, job.Due, job.Batch)
	if db.Dialect() == sqlstore.Postgres {
		// Rows another replica holds are its to handle; the others are this one's.
		s.claim += " FOR UPDATE SKIP LOCKED"
	}
	return s, nil
}

// Run sweeps every interval until ctx ends, then returns nil. A failed sweep is logged and
// tried again at the next interval: what was due stays due.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sweep failed; retrying at the next interval", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep handles every row due now, a batch per transaction, and records the run in
// sweep_runs. It returns how many rows it handled.
func (s *Sweeper) Sweep(ctx context.Context) (handled int, err error) {
	began := time.Now()
	defer func() { s.metrics.ran(ctx, began, handled, err) }()
	start, err := s.now(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := s.batch(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n < s.job.Batch {
			break
		}
	}
	end, err := s.now(ctx)
	if err != nil {
		return total, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO sweep_runs (job, start_us, end_us, handled, handled_all) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (job) DO UPDATE SET start_us = excluded.start_us, end_us = excluded.end_us,
			handled = excluded.handled, handled_all = sweep_runs.handled_all + excluded.handled`,
		s.job.Name, start.UnixMicro(), end.UnixMicro(), total); err != nil {
		return total, fmt.Errorf("sweep %s: record the run: %w", s.job.Name, err)
	}
	s.lastEnd.Store(end.UnixMicro())
	if total > 0 {
		s.log.InfoContext(ctx, "swept", "handled", total)
	}
	return total, nil
}

// batch handles up to Batch due rows in one transaction.
func (s *Sweeper) batch(ctx context.Context) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		n = 0
		now, err := s.txNow(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, s.claim, now.UnixMicro())
		if err != nil {
			return fmt.Errorf("sweep %s: claim: %w", s.job.Name, err)
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("sweep %s: claim: %w", s.job.Name, err)
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sweep %s: claim: %w", s.job.Name, err)
		}
		if s.job.HandleBatch != nil && len(keys) > 0 {
			if err := s.job.HandleBatch(ctx, tx, keys, now); err != nil {
				return fmt.Errorf("sweep %s: %w", s.job.Name, err)
			}
		}
		for _, k := range keys {
			if s.job.Handle == nil {
				break
			}
			if err := s.job.Handle(ctx, tx, k, now); err != nil {
				return fmt.Errorf("sweep %s: %s: %w", s.job.Name, k, err)
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}

// LastRun returns when this replica last finished a sweep; ok is false before its first.
func (s *Sweeper) LastRun() (t time.Time, ok bool) {
	us := s.lastEnd.Load()
	return time.UnixMicro(us), us != 0
}

func (s *Sweeper) now(ctx context.Context) (time.Time, error) {
	if s.clock != nil {
		return s.clock(), nil
	}
	return DatabaseNow(ctx, s.db)
}

func (s *Sweeper) txNow(ctx context.Context, tx sqlstore.Tx) (time.Time, error) {
	if s.clock != nil {
		return s.clock(), nil
	}
	return DatabaseNow(ctx, tx)
}

// DatabaseNow reads the database's clock: one clock for every replica, whatever their own.
func DatabaseNow(ctx context.Context, q sqlstore.Querier) (time.Time, error) {
	query := `SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)`
	if q.Dialect() == sqlstore.Postgres {
		query = `SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT`
	}
	var us int64
	if err := q.QueryRow(ctx, query).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("sweep: read the database's clock: %w", err)
	}
	return time.UnixMicro(us), nil
}

// LastRun returns when the job named job last finished a run on any replica, from sweep_runs;
// ok is false when it never has.
func LastRun(ctx context.Context, q sqlstore.Querier, job string) (t time.Time, ok bool, err error) {
	var us int64
	err = q.QueryRow(ctx, `SELECT end_us FROM sweep_runs WHERE job = $1`, job).Scan(&us)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sweep: last run of %s: %w", job, err)
	}
	return time.UnixMicro(us), true, nil
}
