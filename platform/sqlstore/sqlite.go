package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/oklog/ulid/v2"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteParams configure every SQLite connection (see TOOLCHAIN.md): wait for the write lock
// instead of failing with "database is locked", let readers run beside the writer (WAL),
// enforce foreign keys, and take the write lock when a transaction begins so that two
// transactions never deadlock upgrading read locks.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// sqliteMaxConns bounds the connection pool; SQLite has one writer at a time anyway.
const sqliteMaxConns = 16

type sqliteBackend struct {
	db *sql.DB
	// path is the database file, "" for an in-memory database.
	path string
	// pin keeps an in-memory database alive: it disappears when its last connection closes.
	pin    *sql.Conn
	closed atomic.Bool
}

func openSQLite(ctx context.Context, path string) (*sqliteBackend, error) {
	var dsn string
	switch {
	case path == ":memory:":
		// The memdb VFS shares one in-memory database between the pool's connections (a plain
		// ":memory:" gives each connection its own); a unique name keeps DBs apart.
		dsn = "file:/jiayuan-" + ulid.Make().String() + "?vfs=memdb&" + sqliteParams
		path = ""
	case path == "":
		return nil, errors.New("sqlstore: sqlite URL has no path (want sqlite:PATH or sqlite::memory:)")
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("sqlstore: sqlite path %q must not contain '?' or '#'", path)
	default:
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlstore: create directory for sqlite database: %w", err)
		}
		dsn = path + "?" + sqliteParams
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite database %q: %w", path, err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	b := &sqliteBackend{db: db, path: path}
	if path == "" {
		b.pin, err = db.Conn(ctx)
	} else {
		err = db.PingContext(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite database %q: %w", path, translateSQLite(err, false))
	}
	return b, nil
}

func (s *sqliteBackend) close() {
	s.closed.Store(true)
	if s.pin != nil {
		_ = s.pin.Close()
	}
	_ = s.db.Close()
}

func (s *sqliteBackend) translate(err error) error { return translateSQLite(err, s.closed.Load()) }

func (s *sqliteBackend) ping(ctx context.Context) error { return s.translate(s.db.PingContext(ctx)) }

func (s *sqliteBackend) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqliteExec(ctx, s, s.db, query, args)
}

func (s *sqliteBackend) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return sqliteQuery(ctx, s, s.db, query, args)
}

func (s *sqliteBackend) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqliteRow{s, s.db.QueryRowContext(ctx, query, args...)}
}

func (s *sqliteBackend) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) (err error) {
	stx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin transaction: %w", s.translate(err))
	}
	tx := &sqliteTx{s: s, tx: stx}
	defer func() {
		if r := recover(); r != nil {
			_ = stx.Rollback()
			panic(r)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := tx.queueErr; err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, sql.ErrTxDone) {
			// database/sql rolled the transaction back when ctx ended.
			err = ctxErr
		}
		return fmt.Errorf("sqlstore: commit: %w", s.translate(err))
	}
	tx.run()
	return nil
}

type sqliteTx struct {
	s  *sqliteBackend
	tx *sql.Tx
	// queueErr is the first failure of a queued statement, reported at the next statement
	// or at commit as on PostgreSQL.
	queueErr error
	txHooks
}

func (t *sqliteTx) Dialect() Dialect { return SQLite }

func (t *sqliteTx) Queue(ctx context.Context, query string, args ...any) {
	if t.queueErr != nil {
		return
	}
	if _, err := sqliteExec(ctx, t.s, t.tx, query, args); err != nil {
		t.queueErr = err
	}
}

func (t *sqliteTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.queueErr != nil {
		return 0, t.queueErr
	}
	return sqliteExec(ctx, t.s, t.tx, query, args)
}

func (t *sqliteTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if t.queueErr != nil {
		return nil, t.queueErr
	}
	return sqliteQuery(ctx, t.s, t.tx, query, args)
}

func (t *sqliteTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	if t.queueErr != nil {
		return errRow{t.queueErr}
	}
	return sqliteRow{t.s, t.tx.QueryRowContext(ctx, query, args...)}
}

// sqlQuerier is what *sql.DB and *sql.Tx have in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func sqliteExec(ctx context.Context, s *sqliteBackend, q sqlQuerier, query string, args []any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, s.translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.translate(err)
	}
	return n, nil
}

func sqliteQuery(ctx context.Context, s *sqliteBackend, q sqlQuerier, query string, args []any) (Rows, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.translate(err)
	}
	return sqliteRows{s, rows}, nil
}

type sqliteRows struct {
	s    *sqliteBackend
	rows *sql.Rows
}

func (r sqliteRows) Next() bool             { return r.rows.Next() }
func (r sqliteRows) Scan(dest ...any) error { return r.s.translate(r.rows.Scan(dest...)) }
func (r sqliteRows) Err() error             { return r.s.translate(r.rows.Err()) }
func (r sqliteRows) Close()                 { _ = r.rows.Close() }

type sqliteRow struct {
	s   *sqliteBackend
	row *sql.Row
}

func (r sqliteRow) Scan(dest ...any) error { return r.s.translate(r.row.Scan(dest...)) }

func (s *sqliteBackend) Dialect() Dialect { return SQLite }
