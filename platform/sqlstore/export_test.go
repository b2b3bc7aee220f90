package sqlstore

// PGMigrationLockID exposes the migration advisory lock key to the tests, which hold it to
// show that Migrate waits.
const PGMigrationLockID = pgMigrationLockID
