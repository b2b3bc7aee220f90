package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMaxAttempts bounds how often InTx runs fn when PostgreSQL aborts it for a serialization
// failure or deadlock.
const pgMaxAttempts = 5

type pgBackend struct {
	pool *pgxpool.Pool
	// reads serves DB.Reads: the same database, with each statement planned once per
	// connection (generic plans) rather than on every execution.
	reads *pgxpool.Pool
	// closed lets a transaction that would not touch the server (nothing to send) still
	// report a closed database, as one that does would.
	closed atomic.Bool
}

func openPostgres(ctx context.Context, url string, o options) (*pgBackend, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("sqlstore: parse PostgreSQL URL: %w", err)
	}
	switch {
	case o.poolSize > 0:
		cfg.MaxConns = int32(o.poolSize)
	case !strings.Contains(url, "pool_max_conns="):
		cfg.MaxConns = int32(DefaultPoolSize())
	}
	// Service databases are small enough to stay in memory, where an index probe costs about
	// what a sequential read does; with the default (4) the planner prefers scanning whole
	// tables over a few hundred index lookups. A random_page_cost in the URL overrides this.
	if _, set := cfg.ConnConfig.RuntimeParams["random_page_cost"]; !set {
		cfg.ConnConfig.RuntimeParams["random_page_cost"] = "1.1"
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(o.tracer), otelpgx.WithTrimSQLInSpanName())
	}
	readCfg := cfg.Copy()
	if _, set := readCfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		readCfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open PostgreSQL pool: %w", translatePG(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL database %q on %s: %w",
			cfg.ConnConfig.Database, cfg.ConnConfig.Host, translatePG(err))
	}
	reads, err := pgxpool.NewWithConfig(ctx, readCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlstore: open PostgreSQL read pool: %w", translatePG(err))
	}
	return &pgBackend{pool: pool, reads: reads}, nil
}

// pgReads is the Querier of DB.Reads on PostgreSQL.
type pgReads struct{ pool *pgxpool.Pool }

func (r pgReads) Dialect() Dialect { return Postgres }

func (r pgReads) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return pgExec(ctx, r.pool, sql, args)
}

func (r pgReads) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	return pgQuery(ctx, r.pool, sql, args)
}

func (r pgReads) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return pgRow{r.pool.QueryRow(ctx, sql, args...)}
}

func (p *pgBackend) close() {
	p.closed.Store(true)
	p.pool.Close()
	p.reads.Close()
}

func (p *pgBackend) ping(ctx context.Context) error { return translatePG(p.pool.Ping(ctx)) }

func (p *pgBackend) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return pgExec(ctx, p.pool, sql, args)
}

func (p *pgBackend) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	return pgQuery(ctx, p.pool, sql, args)
}

func (p *pgBackend) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return pgRow{p.pool.QueryRow(ctx, sql, args...)}
}

func (p *pgBackend) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := p.tryTx(ctx, fn)
		if err == nil || !errors.Is(err, ErrAborted) || attempt == pgMaxAttempts {
			return err
		}
		// Jitter so that the transactions that collided do not collide again.
		wait := backoff/2 + rand.N(backoff)
		backoff *= 2
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retry interrupted: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (p *pgBackend) tryTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) (err error) {
	if p.closed.Load() {
		return fmt.Errorf("sqlstore: begin transaction: %w", ErrUnavailable)
	}
	tx := &pgTx{pool: p.pool}
	defer func() {
		if r := recover(); r != nil {
			tx.rollback(ctx)
			panic(r)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		tx.rollback(ctx)
		return err
	}
	if err := tx.commit(ctx); err != nil {
		return err
	}
	tx.run()
	return nil
}

// pgTx begins its transaction only when a statement needs an answer (Exec, Query, QueryRow).
// A transaction of queued writes alone never begins one: its writes go to the server in one
// pipeline, which PostgreSQL runs as one implicit transaction — as atomic as BEGIN … COMMIT,
// in one round trip instead of three.
type pgTx struct {
	pool   *pgxpool.Pool
	tx     pgx.Tx // nil until begun
	queued pgx.Batch
	txHooks
}

func (t *pgTx) Dialect() Dialect { return Postgres }

func (t *pgTx) Queue(_ context.Context, sql string, args ...any) { t.queued.Queue(sql, args...) }

// begin starts the transaction and sends what was queued before it.
func (t *pgTx) begin(ctx context.Context) error {
	if t.tx != nil {
		return t.flush(ctx)
	}
	ptx, err := t.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: begin transaction: %w", translatePG(err))
	}
	t.tx = ptx
	return t.flush(ctx)
}

func (t *pgTx) rollback(ctx context.Context) {
	if t.tx != nil {
		_ = t.tx.Rollback(context.WithoutCancel(ctx))
	}
}

func (t *pgTx) commit(ctx context.Context) error {
	if t.tx == nil {
		return t.sendBatch(ctx, t.pool)
	}
	if err := t.flush(ctx); err != nil {
		t.rollback(ctx)
		return err
	}
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", translatePG(err))
	}
	return nil
}

// flush sends the queued statements in one round trip, inside the begun transaction.
func (t *pgTx) flush(ctx context.Context) error { return t.sendBatch(ctx, t.tx) }

func (t *pgTx) sendBatch(ctx context.Context, q interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}) error {
	n := t.queued.Len()
	if n == 0 {
		return nil
	}
	// The batch is read while its results are; give it its own memory before emptying the queue.
	b := t.queued
	t.queued = pgx.Batch{}
	br := q.SendBatch(ctx, &b)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return translatePG(err)
		}
	}
	return translatePG(br.Close())
}

func (t *pgTx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return pgExec(ctx, t.tx, sql, args)
}

func (t *pgTx) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return pgQuery(ctx, t.tx, sql, args)
}

func (t *pgTx) QueryRow(ctx context.Context, sql string, args ...any) Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return pgRow{t.tx.QueryRow(ctx, sql, args...)}
}

// errRow is a Row whose query never ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func pgExec[Q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}](ctx context.Context, q Q, sql string, args []any) (int64, error) {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, translatePG(err)
	}
	return tag.RowsAffected(), nil
}

func pgQuery[Q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}](ctx context.Context, q Q, sql string, args []any) (Rows, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translatePG(err)
	}
	return pgRows{rows}, nil
}

type pgRows struct{ rows pgx.Rows }

func (r pgRows) Next() bool             { return r.rows.Next() }
func (r pgRows) Scan(dest ...any) error { return translatePG(r.rows.Scan(dest...)) }
func (r pgRows) Err() error             { return translatePG(r.rows.Err()) }
func (r pgRows) Close()                 { r.rows.Close() }

type pgRow struct{ row pgx.Row }

func (r pgRow) Scan(dest ...any) error { return translatePG(r.row.Scan(dest...)) }

func (p *pgBackend) Dialect() Dialect { return Postgres }
