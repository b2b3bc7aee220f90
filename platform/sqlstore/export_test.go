package sqlstore

import (
	"context"
	"io/fs"
	"strconv"
	"strings"
	"testing/fstest"
)

// PGMigrationLockID exposes the migration advisory lock key to the tests, which hold it to
// show that Migrate waits.
const PGMigrationLockID = pgMigrationLockID

// PlatformMigrations exposes the platform's own migrations, with a postgres/ and a sqlite/
// directory.
var PlatformMigrations = func() fs.FS {
	sub, err := fs.Sub(platformMigrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}()

// MigratePlatformThrough applies the platform's migrations up to version only, so a test can
// put data in an older schema and watch a later migration carry it over.
func (db *DB) MigratePlatformThrough(ctx context.Context, version int) error {
	dir := "migrations/" + db.dialect.String()
	entries, err := fs.ReadDir(platformMigrations, dir)
	if err != nil {
		return err
	}
	older := fstest.MapFS{}
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil || n > version {
			continue
		}
		data, err := fs.ReadFile(platformMigrations, dir+"/"+e.Name())
		if err != nil {
			return err
		}
		older[e.Name()] = &fstest.MapFile{Data: data}
	}
	return db.migrate(ctx, platformSet, older)
}

// PoolSizes reports the most connections each PostgreSQL pool (writes, reads) may hold.
func (db *DB) PoolSizes() (writes, reads int32) {
	return db.pg.pool.Config().MaxConns, db.pg.reads.Config().MaxConns
}
