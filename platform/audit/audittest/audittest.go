// Package audittest helps tests of the audit trail.
package audittest

import (
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ChainAll chains every record written so far, failing tb if it cannot within ten seconds.
// On PostgreSQL a record is chained only once every transaction older than its own has ended,
// in any database of the server, so a test sharing the server with others may have to wait.
func ChainAll(tb testing.TB, db *sqlstore.DB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := audit.Chain(tb.Context(), db); err != nil {
			tb.Fatal(err)
		}
		var left int64
		if err := db.QueryRow(tb.Context(), `SELECT COUNT(*) FROM audit_records r WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.record_seq = r.seq)`).Scan(&left); err != nil {
			tb.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d audit records still unchained after 10s", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
