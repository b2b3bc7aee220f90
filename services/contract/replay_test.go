package contract_test

import (
	"log/slog"
	"testing"
	"time"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/contract"
)

// TestDraftsFromMatchesUnderReplay: one draft per match, also when the contract service
// restarts with its cursor lost and reads demand's whole feed again.
func TestDraftsFromMatchesUnderReplay(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, cst(2026, 12, 2, 9, 0))
			stop := e.run()
			g1, g2 := e.seedGroup(careGroup("二桥西社区家长志愿者队")), e.seedGroup(careGroup("二桥西社区团委"))
			var projects []string
			for _, title := range []string{"周三下午四点半课堂", "周六上午读绘本"} {
				p := e.project(title)
				if _, err := e.demands.AcceptMatch(e.staff(erqiao), &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{g1, g2}, Etag: p.GetEtag()}); err != nil {
					t.Fatal(err)
				}
				e.draftOf(p.GetName())
				projects = append(projects, p.GetName())
			}
			stop()
			// The cursor is lost: a restarted service reads the feed from the start.
			if _, err := e.db.Exec(t.Context(), `DELETE FROM consumer_cursors WHERE consumer = 'contract-drafts'`); err != nil {
				t.Fatal(err)
			}
			svc, err := contract.Open(t.Context(), contract.Config{
				DB: sqlstoretest.OpenURL(t, e.dbURL), Tree: region.Demo(), Now: e.clock.Now, SweepInterval: time.Hour,
				Demands: assemblytest.Dial(t, e.demandAt, assemblytest.SystemCreds(e.keys, "contract", district)), Partners: assemblytest.Dial(t, e.partnerAt, assemblytest.SystemCreds(e.keys, "contract", district)),
				Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			runUntilStopped(t, "restarted contract.Run", svc.Run)
			e.eventually("the feed read again", func() bool {
				var n int64
				err := e.db.Reads().QueryRow(t.Context(), `SELECT COUNT(*) FROM consumer_cursors WHERE consumer = 'contract-drafts'`).Scan(&n)
				return err == nil && n == 1
			})
			time.Sleep(200 * time.Millisecond)
			for _, p := range projects {
				e.draftOf(p) // fails on a second draft
			}
			l, err := e.contracts.ListContracts(e.admin(), &contractv1.ListContractsRequest{})
			if err != nil || len(l.GetContracts()) != 2 {
				t.Fatalf("%d contracts after the replay, %v", len(l.GetContracts()), err)
			}
		})
	}
}
