// Package migrations holds the contract service's schema, one directory per database dialect
// (postgres/, sqlite/), applied in order on start. A change goes into both, line for line
// (BYTEA is written BLOB, BIGSERIAL PRIMARY KEY INTEGER PRIMARY KEY AUTOINCREMENT); a line that
// must differ ends in "-- dialect: <why>". TestDialectsInStep checks it.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migrations, with a postgres/ and a sqlite/ directory.
func FS() fs.FS { return files }
