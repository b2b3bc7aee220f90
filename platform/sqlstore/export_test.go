package sqlstore

import "io/fs"

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
