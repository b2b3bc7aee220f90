// Package sqlstore is the storage plumbing every jiayuan service shares: it opens PostgreSQL
// (pgx/v5, pgxpool) or embedded SQLite (modernc.org/sqlite) from one URL, exposes one small
// query interface over both so a service writes its SQL once, runs transactions with
// after-commit hooks, translates driver errors into a few sentinels, applies goose
// migrations, and builds the parameterised parts of a query (Args, InList, AnyOf, and
// FilterSchema, which turns an AIP-160 filter parsed by platform/aip into a store's columns).
//
// SQL written against this package uses $1-style placeholders, ON CONFLICT and RETURNING,
// which both back ends accept. To scan the same Go types from both, keep columns to BIGINT
// (int64; times as unix microseconds), TEXT (string), BYTEA/BLOB ([]byte) and BOOLEAN (bool),
// with sql.Null* or pointer destinations for nullable columns. An empty BLOB may scan as a nil
// []byte on SQLite: treat nil and empty as equal.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Dialect names the SQL back end behind a DB.
type Dialect int

// The supported back ends.
const (
	Postgres Dialect = iota + 1
	SQLite
)

// String returns the dialect's name as used in migration directories ("postgres", "sqlite").
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	default:
		return fmt.Sprintf("Dialect(%d)", int(d))
	}
}

// Querier runs SQL. DB runs each statement on its own (autocommit); Tx runs them inside one
// transaction.
type Querier interface {
	// Exec runs a statement that returns no rows and reports how many rows it affected.
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	// Query runs a statement that returns rows. The caller must Close the Rows.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// QueryRow runs a statement expected to return at most one row. Its Scan reports
	// ErrNotFound when there was none.
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// Dialect reports the back end, for the few statements that must differ between them.
	Dialect() Dialect
}

// AnyOf returns the condition "column is one of vals", binding them through bind (which
// returns the placeholder of a value it binds). On PostgreSQL the list is one array
// parameter, so the statement's text — and its prepared plan — is the same whatever the
// list's length; SQLite has no arrays and gets one parameter per value.
func AnyOf[T any](q Querier, bind func(any) string, column string, vals []T) string {
	if q.Dialect() == Postgres {
		return column + " = ANY(" + bind(vals) + ")"
	}
	if len(vals) == 0 {
		return "1 = 0"
	}
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = bind(v)
	}
	return column + " IN (" + strings.Join(ph, ", ") + ")"
}

// Rows iterates over a query's result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	// Err reports the error, if any, that ended the iteration.
	Err() error
	Close()
}

// Row is the result of QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// Tx is a Querier bound to one transaction. It is valid only inside the function given to
// DB.InTx and must not be used from several goroutines at once.
type Tx interface {
	Querier
	// AfterCommit registers f to run after the transaction commits successfully. Hooks run
	// in registration order on the goroutine that called InTx; they never run if the
	// transaction rolls back, and those of a retried attempt are discarded.
	AfterCommit(f func())
	// Queue adds a write whose result the caller does not need. On PostgreSQL queued
	// statements travel to the server together, in one round trip, just before the
	// transaction's next statement or its commit; a failure among them is the error of that
	// statement or of InTx, translated like any other. On SQLite the statement runs at once
	// and a failure is reported the same way, at the next statement or at commit.
	Queue(ctx context.Context, sql string, args ...any)
}

// backend is what each dialect implements.
type backend interface {
	Querier
	inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	ping(ctx context.Context) error
	close()
}

// DB is an open database, safe for concurrent use.
type DB struct {
	dialect Dialect
	b       backend
	// pg is set for PostgreSQL (migrations need the pool); sqlite for SQLite.
	pg     *pgBackend
	sqlite *sqliteBackend
	// meter records the pools' use and is handed to the platform pieces built on the DB
	// (WithMetrics); nil records nothing. service labels what it records.
	meter   metric.MeterProvider
	service string
	// unregister stops the pool metrics' callback at Close.
	unregister func() error

	closeOnce sync.Once
}

// Open connects to the database named by url:
//
//	postgres://user@host:5432/dbname?sslmode=disable   (also postgresql://)
//	sqlite:/var/lib/jiayuan/partner.db                 (a file; parent directories are created)
//	sqlite::memory:                                    (a private in-memory database)
//
// Open checks the connection before it returns; a database that cannot be reached yields an
// error matching ErrUnavailable, so a caller may retry.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	scheme, _, ok := strings.Cut(url, ":")
	if !ok {
		return nil, errors.New("sqlstore: database URL has no scheme (want postgres://, postgresql:// or sqlite:)")
	}
	db := &DB{}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		pg, err := openPostgres(ctx, url, o)
		if err != nil {
			return nil, err
		}
		db.dialect, db.b, db.pg = Postgres, pg, pg
	case "sqlite":
		lite, err := openSQLite(ctx, url[len(scheme)+1:])
		if err != nil {
			return nil, err
		}
		db.dialect, db.b, db.sqlite = SQLite, lite, lite
	default:
		// Only the scheme is named: the rest of the URL may hold a password.
		return nil, fmt.Errorf("sqlstore: unsupported database URL scheme %q (want postgres://, postgresql:// or sqlite:)", scheme)
	}
	db.meter, db.service = o.meter, o.service
	if err := db.registerPoolMetrics(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Option configures Open.
type Option func(*options)

type options struct {
	tracer   trace.TracerProvider
	poolSize int
	// meter and service: WithMetrics.
	meter   metric.MeterProvider
	service string
}

// PostgresPools is how many connection pools an open PostgreSQL database holds: one for
// writes and one for DB.Reads. Each holds up to the pool size, so a process may open
// PostgresPools × size connections; the deploy checks budget them against max_connections.
const PostgresPools = 2

// DefaultPoolSize is the size of each PostgreSQL pool when neither WithPoolSize nor the URL's
// pool_max_conns sets one: the larger of 4 and GOMAXPROCS. Since Go 1.25 GOMAXPROCS follows
// the container's CPU limit (rounded up, at least 2) rather than the node's cores, which is
// what pgx's own default (runtime.NumCPU) counts: on a 32-core node that opened 32
// connections per pool for a pod limited to one CPU.
func DefaultPoolSize() int { return PoolSizeFor(runtime.GOMAXPROCS(0)) }

// PoolSizeFor is DefaultPoolSize for a process whose GOMAXPROCS is procs.
func PoolSizeFor(procs int) int { return max(4, procs) }

// WithPoolSize sets the most connections each PostgreSQL pool holds (see PostgresPools),
// overriding the URL's pool_max_conns. Zero or less leaves the choice to the URL, else
// DefaultPoolSize.
func WithPoolSize(n int) Option {
	return func(o *options) { o.poolSize = n }
}

// WithTracerProvider traces every PostgreSQL statement as a span under the caller's (the
// statement text, never its arguments, which may hold residents' personal data). SQLite, the
// single-process development store, is not traced.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// Dialect reports the back end.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close releases the connections. Calls made after Close fail with ErrUnavailable.
func (db *DB) Close() {
	db.closeOnce.Do(func() {
		if db.unregister != nil {
			_ = db.unregister()
		}
		db.b.close()
	})
}

// Reads returns a Querier for read-only statements whose best plan does not depend on the
// values bound (the indexed lookups of list and search pages). On PostgreSQL they run on a
// second pool whose connections plan each statement once (plan_cache_mode=force_generic_plan)
// instead of on every execution, which for short queries costs as much as running them; writes
// stay on the main pool, where generic plans measured slower. On SQLite it is the DB itself.
func (db *DB) Reads() Querier {
	if db.pg != nil {
		return pgReads{db.pg.reads}
	}
	return db
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.b.ping(ctx) }

// Exec implements Querier, outside any transaction.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return db.b.Exec(ctx, sql, args...)
}

// Query implements Querier, outside any transaction.
func (db *DB) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	return db.b.Query(ctx, sql, args...)
}

// QueryRow implements Querier, outside any transaction.
func (db *DB) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return db.b.QueryRow(ctx, sql, args...)
}

// InTx runs fn in one transaction: it commits when fn returns nil and rolls back when fn
// returns an error or panics (the panic is re-raised). After a successful commit it runs the
// hooks registered with Tx.AfterCommit.
//
// On PostgreSQL the transaction runs at READ COMMITTED; when it fails with a serialization
// failure or a deadlock, fn is run again from the start in a new transaction (a few times), so
// fn must have no effects outside the transaction other than AfterCommit hooks. On SQLite the
// transaction takes the write lock when it begins (BEGIN IMMEDIATE), so transactions are
// serialised.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return db.b.inTx(ctx, fn)
}

// txHooks is the AfterCommit bookkeeping shared by both back ends.
type txHooks struct {
	hooks []func()
}

func (h *txHooks) AfterCommit(f func()) { h.hooks = append(h.hooks, f) }

func (h *txHooks) run() {
	for _, f := range h.hooks {
		f()
	}
}

// Write runs a statement whose result is not needed. In a transaction it is queued (Tx.Queue),
// to reach the database with the transaction's other writes in one round trip, and a failure
// fails the transaction; on a DB it runs at once.
func Write(ctx context.Context, q Querier, sql string, args ...any) error {
	if tx, ok := q.(Tx); ok {
		tx.Queue(ctx, sql, args...)
		return nil
	}
	_, err := q.Exec(ctx, sql, args...)
	return err
}
