package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors returned by this package, wrapped around the driver's error so both errors.Is and the
// original message work.
var (
	// ErrNotFound: the query returned no row.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique or primary key constraint refused the row.
	ErrAlreadyExists = errors.New("already exists")
	// ErrUnavailable: the database cannot be reached or is shutting down, the connection
	// was lost, the DB was closed, or (SQLite) the write lock could not be taken in time.
	// The condition is transient: the same call may succeed later.
	ErrUnavailable = errors.New("database unavailable")
	// ErrAborted: the transaction lost a serialization conflict or a deadlock and was rolled
	// back. InTx retries these itself; it is returned only once the retries are used up.
	ErrAborted = errors.New("transaction aborted by a concurrent one")
	// ErrStale: an optimistic write found the record at another version than the one read
	// (a store's UPDATE … WHERE version = $n touched no row).
	ErrStale = errors.New("record changed since it was read")
)

var sentinels = []error{ErrNotFound, ErrAlreadyExists, ErrUnavailable, ErrAborted}

func wrap(kind, err error) error { return fmt.Errorf("%w: %w", kind, err) }

func alreadyTranslated(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// isContextErr reports a cancelled or expired context: the caller's doing, not the database's.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isNetworkErr recognises a lost or refused connection below the driver.
func isNetworkErr(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// translatePG maps a pgx error to the package's sentinels.
func translatePG(err error) error {
	if err == nil || alreadyTranslated(err) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return wrap(ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "23505": // unique_violation
			return wrap(ErrAlreadyExists, err)
		case code == "40001" || code == "40P01": // serialization_failure, deadlock_detected
			return wrap(ErrAborted, err)
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "57P"), // admin/crash shutdown, cannot connect now
			strings.HasPrefix(code, "53"):  // insufficient resources (too many connections, disk full)
			return wrap(ErrUnavailable, err)
		}
		return err
	}
	if isContextErr(err) {
		return err
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, pgconn.ErrConnClosed) || isNetworkErr(err) {
		return wrap(ErrUnavailable, err)
	}
	return err
}

// translateSQLite maps a database/sql + modernc error to the package's sentinels. closed
// reports whether DB.Close was called.
func translateSQLite(err error, closed bool) error {
	if err == nil || alreadyTranslated(err) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return wrap(ErrNotFound, err)
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		switch {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return wrap(ErrAlreadyExists, err)
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED,
			code&0xff == sqlite3.SQLITE_CANTOPEN, code&0xff == sqlite3.SQLITE_IOERR,
			code&0xff == sqlite3.SQLITE_FULL:
			return wrap(ErrUnavailable, err)
		}
		return err
	}
	if isContextErr(err) {
		return err
	}
	if closed || errors.Is(err, sql.ErrConnDone) {
		return wrap(ErrUnavailable, err)
	}
	return err
}
