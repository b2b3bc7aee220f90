package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/audit/audittest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

func openDB(t *testing.T, b sqlstoretest.Backend) *sqlstore.DB {
	t.Helper()
	db := b.Open(t)
	if err := db.Migrate(t.Context(), "audit", nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// writeRecords writes n write records, each in its own transaction, from several goroutines
// at once (writers do not wait for each other), as at times now+i seconds.
func writeRecords(t *testing.T, db *sqlstore.DB, trail *audit.Trail, n int, at time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.InTx(t.Context(), func(ctx context.Context, tx sqlstore.Tx) error {
				trail.Write(ctx, tx, audit.Record{
					Time: at.Add(time.Duration(i) * time.Second), Kind: audit.KindWrite, Subject: fmt.Sprintf("user-%d", i),
					Roles: []auth.Role{auth.RoleCommunityStaff}, Method: "/jiayuan.demand.v1.DemandService/UpdateDemand",
					Resource: fmt.Sprintf("demands/%03d", i), RegionCode: "450105001001", Paths: []string{"title", "description"},
				})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func chain(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	audittest.ChainAll(t, db)
}

// bypass runs stmt as a superuser (PostgreSQL) or the file's owner (SQLite) would, past the
// table's triggers: what the chain must detect.
func bypass(t *testing.T, db *sqlstore.DB, stmt string, args ...any) {
	t.Helper()
	ctx := t.Context()
	if db.Dialect() == sqlstore.Postgres {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			for _, table := range []string{"audit_records", "audit_chain"} {
				if _, err := tx.Exec(ctx, `ALTER TABLE `+table+` DISABLE TRIGGER USER`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, stmt, args...); err != nil {
				return err
			}
			for _, table := range []string{"audit_records", "audit_chain"} {
				if _, err := tx.Exec(ctx, `ALTER TABLE `+table+` ENABLE TRIGGER USER`); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, s := range []string{`DROP TRIGGER IF EXISTS audit_records_append_only`, `DROP TRIGGER IF EXISTS audit_records_retained`,
		`DROP TRIGGER IF EXISTS audit_chain_append_only`, `DROP TRIGGER IF EXISTS audit_chain_retained`} {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, stmt, args...); err != nil {
		t.Fatal(err)
	}
}

func TestChainAndVerify(t *testing.T) {
	now := time.Now()
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range []struct {
				name   string
				tamper func(t *testing.T, db *sqlstore.DB)
				// want is in the problem's text, at position at; "" means the chain holds.
				want string
				at   int64
			}{
				{name: "untouched", tamper: func(*testing.T, *sqlstore.DB) {}},
				{
					name: "an edited record",
					tamper: func(t *testing.T, db *sqlstore.DB) {
						bypass(t, db, `UPDATE audit_records SET subject = 'someone-else' WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 5)`)
					},
					want: "edited", at: 5,
				},
				{
					name: "an edited link",
					tamper: func(t *testing.T, db *sqlstore.DB) {
						bypass(t, db, `UPDATE audit_chain SET prev_hash = hash WHERE position = 7`)
					},
					want: "link", at: 7,
				},
				{
					name: "a deleted record",
					tamper: func(t *testing.T, db *sqlstore.DB) {
						bypass(t, db, `DELETE FROM audit_records WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 4)`)
					},
					want: "missing", at: 4,
				},
				{
					name: "the first records deleted, no purge",
					tamper: func(t *testing.T, db *sqlstore.DB) {
						bypass(t, db, `DELETE FROM audit_records WHERE seq IN (SELECT record_seq FROM audit_chain WHERE position <= 2)`)
					},
					want: "missing", at: 1,
				},
				{
					// The records after a deleted one renumbered so that no position is
					// missing: the link of the one after the hole still names the deleted one.
					name: "a gap closed by renumbering",
					tamper: func(t *testing.T, db *sqlstore.DB) {
						bypass(t, db, `DELETE FROM audit_records WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 3)`)
						bypass(t, db, `DELETE FROM audit_chain WHERE position = 3`)
						bypass(t, db, `UPDATE audit_chain SET position = position + 100 WHERE position > 3`)
						bypass(t, db, `UPDATE audit_chain SET position = position - 101 WHERE position > 100`)
					},
					want: "link", at: 3,
				},
			} {
				t.Run(tt.name, func(t *testing.T) {
					db := openDB(t, b)
					trail := audit.New(db, nil)
					writeRecords(t, db, trail, 10, now)
					chain(t, db)
					tt.tamper(t, db)
					n, problem, err := audit.Verify(t.Context(), db)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case tt.want == "" && (problem != nil || n != 10):
						t.Fatalf("verify: %d checked, %v; want 10 and no problem", n, problem)
					case tt.want != "" && problem == nil:
						t.Fatalf("verify found no problem; want %q at %d", tt.want, tt.at)
					case tt.want != "" && (problem.Position != tt.at || !strings.Contains(problem.Error(), tt.want)):
						t.Fatalf("verify: %v; want %q at %d", problem, tt.want, tt.at)
					}
				})
			}
		})
	}
}

// TestChainContinues: records written after a chaining step continue the chain, and a
// record still unchained is not checked yet.
func TestChainContinues(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)
			trail := audit.New(db, nil)
			writeRecords(t, db, trail, 3, time.Now())
			chain(t, db)
			writeRecords(t, db, trail, 4, time.Now())
			if n, problem, err := audit.Verify(t.Context(), db); err != nil || problem != nil || n != 3 {
				t.Fatalf("before chaining the new records: %d, %v, %v; want 3 checked", n, problem, err)
			}
			chain(t, db)
			if n, problem, err := audit.Verify(t.Context(), db); err != nil || problem != nil || n != 7 {
				t.Fatalf("after: %d, %v, %v; want 7 checked", n, problem, err)
			}
		})
	}
}

func TestAppendOnly(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)
			trail := audit.New(db, nil)
			writeRecords(t, db, trail, 2, time.Now().Add(-time.Hour))
			ctx := t.Context()
			// Not even before chaining: records are never updated.
			if _, err := db.Exec(ctx, `UPDATE audit_records SET subject = 'x'`); err == nil {
				t.Fatal("an unchained record's content was updated")
			}
			chain(t, db)
			for _, stmt := range []string{
				`UPDATE audit_records SET subject = 'x' WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 1)`,
				`UPDATE audit_chain SET hash = prev_hash WHERE position = 1`,
				`UPDATE audit_chain SET position = 9 WHERE position = 2`,
				`DELETE FROM audit_records WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 1)`,
				`DELETE FROM audit_chain WHERE position = 1`,
			} {
				if _, err := db.Exec(ctx, stmt); err == nil {
					t.Errorf("%s: allowed", stmt)
				}
			}
			if db.Dialect() == sqlstore.Postgres {
				for _, table := range []string{"audit_records", "audit_chain"} {
					if _, err := db.Exec(ctx, `TRUNCATE `+table); err == nil {
						t.Errorf("TRUNCATE %s allowed", table)
					}
				}
			}
			if n, problem, err := audit.Verify(ctx, db); err != nil || problem != nil || n != 2 {
				t.Fatalf("verify: %d, %v, %v", n, problem, err)
			}
		})
	}
}

func TestPurge(t *testing.T) {
	now := time.Now()
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)
			trail := audit.New(db, nil, audit.WithClock(func() time.Time { return now }))
			ctx := t.Context()
			// Five records of a year ago, then three of last month: the purge deletes the
			// old ones only, and the chain still verifies from its new beginning.
			writeRecords(t, db, trail, 5, now.AddDate(-1, 0, 0))
			chain(t, db)
			writeRecords(t, db, trail, 3, now.AddDate(0, -1, 0))
			chain(t, db)
			if _, err := trail.Purge(ctx, 30*24*time.Hour); err == nil {
				t.Fatal("a purge with a retention under 180 days was allowed")
			}
			n, err := trail.Purge(ctx, audit.Retention)
			if err != nil || n != 5 {
				t.Fatalf("purge: %d, %v; want 5", n, err)
			}
			chain(t, db) // the purge's own record
			var left int64
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_records WHERE kind = 'write'`).Scan(&left); err != nil || left != 3 {
				t.Fatalf("%d write records left (%v), want the 3 young ones", left, err)
			}
			if n, problem, err := audit.Verify(ctx, db); err != nil || problem != nil || n != 4 {
				t.Fatalf("verify after the purge: %d, %v, %v; want 4 checked", n, problem, err)
			}
			// The table itself refuses to delete a young record, whoever asks.
			if _, err := db.Exec(ctx, `DELETE FROM audit_records WHERE kind = 'write'`); err == nil {
				t.Fatal("a young record was deleted")
			}
		})
	}
}

func TestRecordsOffWritesLogLines(t *testing.T) {
	db := openDB(t, sqlstoretest.SQLiteBackend())
	trail := audit.New(db, nil, audit.WithRecords(false))
	writeRecords(t, db, trail, 2, time.Now())
	var n int64
	if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_records`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d records (%v) with records off", n, err)
	}
}

// TestRunChainsAfterCommit: a running trail chains a record soon after its write commits,
// without anyone asking.
func TestRunChainsAfterCommit(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)
			trail := audit.New(db, nil)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); trail.Run(ctx, time.Hour) }()
			defer func() { cancel(); <-done }()
			writeRecords(t, db, trail, 3, time.Now())
			deadline := time.Now().Add(10 * time.Second)
			for {
				// On PostgreSQL a record waits for every older transaction of the server to
				// end; the wake-up after a later commit, or the next tick, chains it then.
				writeRecords(t, db, trail, 1, time.Now())
				n, problem, err := audit.Verify(t.Context(), db)
				if err != nil || problem != nil {
					t.Fatalf("verify: %v %v", problem, err)
				}
				if n >= 3 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d records chained after 10s, want at least 3", n)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestReadsAreBatched: a read's records cost the reader no transaction; they are written by
// Flush (which Run calls), all of them, and then chain like any other.
func TestReadsAreBatched(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := openDB(t, b)
			trail := audit.New(db, nil)
			count := func() int {
				var n int
				if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_records WHERE kind = 'read_personal'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			read := auth.AuditRecord{Action: audit.KindReadPersonal, Subject: "staff", Method: "/x/Get", Data: "reporter",
				Resources: []string{"demands/a", "demands/b", "demands/c"}}
			if err := trail.Audit(t.Context(), read); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 0 {
				t.Fatalf("%d read records written by the reader, want 0 until Flush", n)
			}
			if err := trail.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 1 {
				t.Fatalf("%d read records after Flush, want 1 naming the three demands", n)
			}
			var res string
			if err := db.QueryRow(t.Context(), `SELECT resource FROM audit_records WHERE kind = 'read_personal'`).Scan(&res); err != nil || res != "demands/a demands/b demands/c" {
				t.Fatalf("the read's record names %q (%v)", res, err)
			}
			// On PostgreSQL a transaction of another test may hold the chaining back a moment.
			audittest.ChainAll(t, db)
			n, problem, err := audit.Verify(t.Context(), db)
			if err != nil || problem != nil || n != 1 {
				t.Fatalf("verify: %d, %v, %v", n, problem, err)
			}
		})
	}
}
