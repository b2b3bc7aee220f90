package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// platformMigrations holds the tables of the shared platform packages (eventfeed, idempotency).
//
//go:embed migrations
var platformMigrations embed.FS

// platformSet names the platform's own migration set; its versions live in
// platform_schema_migrations.
const platformSet = "platform"

// pgMigrationLockID is the advisory lock key that serialises migrations on a PostgreSQL
// database, whichever process or set runs them.
const pgMigrationLockID int64 = 0x6a6979_6d696772 // "jiy" "migr"

var migrationSetName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Migrate brings the schema up to date: first the platform's own tables (the event outbox,
// consumer cursors and idempotency keys), then the set called name from migrations, which must
// hold a "postgres" and a "sqlite" directory of goose SQL files (NNNNN_name.sql); the one for
// this DB's dialect is applied. Versions are recorded in "<name>_schema_migrations". A nil
// migrations applies the platform tables only. The two directories say the same thing line for
// line; a test calling sqlstoretest.CheckDialects keeps them so.
//
// Concurrent Migrate calls, in this or other processes, apply each migration once: PostgreSQL
// serialises them with an advisory lock, SQLite with a write lock on a "<file>.migrate-lock"
// file next to the database.
func (db *DB) Migrate(ctx context.Context, name string, migrations fs.FS) error {
	if migrations != nil && (!migrationSetName.MatchString(name) || name == platformSet) {
		return fmt.Errorf("sqlstore: migration set name %q must match %s and not be %q",
			name, migrationSetName, platformSet)
	}
	dir := db.dialect.String()
	platform, err := fs.Sub(platformMigrations, "migrations/"+dir)
	if err != nil {
		return fmt.Errorf("sqlstore: platform migrations: %w", err)
	}
	if err := db.migrate(ctx, platformSet, platform); err != nil {
		return err
	}
	if migrations == nil {
		return nil
	}
	if fi, err := fs.Stat(migrations, dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("sqlstore: migrations for %q have no %q directory", name, dir)
	}
	own, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations for %q: %w", name, err)
	}
	return db.migrate(ctx, name, own)
}

func (db *DB) migrate(ctx context.Context, name string, fsys fs.FS) error {
	var (
		sqlDB   *sql.DB
		dialect goose.Dialect
		locker  lock.SessionLocker
	)
	switch db.dialect {
	case Postgres:
		// goose speaks database/sql; this borrows connections from the pool (and closing it
		// leaves the pool open).
		sqlDB = stdlib.OpenDBFromPool(db.pg.pool)
		defer sqlDB.Close()
		dialect = goose.DialectPostgres
		var err error
		locker, err = lock.NewPostgresSessionLocker(lock.WithLockID(pgMigrationLockID),
			lock.WithLockTimeout(1, 600), lock.WithUnlockTimeout(1, 60))
		if err != nil {
			return fmt.Errorf("sqlstore: migration lock: %w", err)
		}
	case SQLite:
		sqlDB = db.sqlite.db
		dialect = goose.DialectSQLite3
		locker = &sqliteMigrationLock{path: db.sqlite.path}
	}
	provider, err := goose.NewProvider(dialect, sqlDB, fsys,
		goose.WithTableName(name+"_schema_migrations"),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations %q: %w", name, err)
	}
	// provider.Close would close sqlDB, which for SQLite is the DB's own pool: not called.
	results, err := provider.Up(ctx)
	for _, r := range results {
		slog.InfoContext(ctx, "applied migration", "set", name, "file", path.Base(r.Source.Path),
			"duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %q: %w", name, db.translate(err))
	}
	return nil
}

func (db *DB) translate(err error) error {
	if db.dialect == Postgres {
		return translatePG(err)
	}
	return translateSQLite(err, db.sqlite.closed.Load())
}

// sqliteMigrationLock serialises migrations of one SQLite database across connections and
// processes by holding the write lock of a companion file. SQLite releases file locks when a
// process dies, so a crash mid-migration leaves no stale lock behind.
type sqliteMigrationLock struct {
	path string // database file; "" for an in-memory database
	db   *sql.DB
	conn *sql.Conn
}

// SessionLock implements lock.SessionLocker.
func (l *sqliteMigrationLock) SessionLock(ctx context.Context, _ *sql.Conn) error {
	if l.path == "" {
		// An in-memory database is private to its DB value: nothing else can migrate it.
		return nil
	}
	db, err := sql.Open("sqlite", l.path+".migrate-lock?_pragma=busy_timeout(100)")
	if err != nil {
		return fmt.Errorf("sqlstore: open migration lock: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("sqlstore: open migration lock: %w", err)
	}
	for {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			l.db, l.conn = db, conn
			return nil
		}
		var liteErr *sqlite.Error
		if !errors.As(err, &liteErr) || liteErr.Code()&0xff != sqlite3.SQLITE_BUSY {
			_ = conn.Close()
			_ = db.Close()
			return fmt.Errorf("sqlstore: take migration lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = conn.Close()
			_ = db.Close()
			return fmt.Errorf("sqlstore: wait for migration lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SessionUnlock implements lock.SessionLocker.
func (l *sqliteMigrationLock) SessionUnlock(ctx context.Context, _ *sql.Conn) error {
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(ctx, "ROLLBACK")
	err = errors.Join(err, l.conn.Close(), l.db.Close())
	l.conn, l.db = nil, nil
	if err != nil {
		return fmt.Errorf("sqlstore: release migration lock: %w", err)
	}
	return nil
}
