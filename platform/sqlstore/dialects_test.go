package sqlstore_test

import (
	"testing"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// TestPlatformDialectsInStep keeps the platform's postgres/ and sqlite/ migrations saying the
// same thing.
func TestPlatformDialectsInStep(t *testing.T) {
	sqlstoretest.CheckDialects(t, sqlstore.PlatformMigrations)
}
