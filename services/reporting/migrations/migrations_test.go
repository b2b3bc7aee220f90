package migrations_test

import (
	"testing"

	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// TestDialectsInStep keeps the postgres/ and sqlite/ migrations saying the same thing.
func TestDialectsInStep(t *testing.T) {
	sqlstoretest.CheckDialects(t, migrations.FS())
}
