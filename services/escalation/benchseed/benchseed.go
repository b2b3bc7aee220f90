// Package benchseed fills an escalation database with open cases for the benchmarks — the Go
// benchmarks of the service (bench_test.go) and the project's report (cmd/jiayuan-bench) seed
// the same cases the same way — straight into the store, as the API would take minutes for
// 100,000. It is not used by the service itself.
package benchseed

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// unanswered: one case in this many is still waiting to be taken on and replied to.
const unanswered = 50

// Seed inserts n open green cases spread over the tree's communities, opened an hour before
// at, all but one in 50 taken on and replied to; every dueEvery-th (none when 0) opened ten days before, past five working days at the
// community, so a sweep at at escalates it. It returns those due cases as seeded (for Reset)
// and leaves the tables vacuumed and analysed, as autovacuum leaves a table in service.
func Seed(ctx context.Context, db *sqlstore.DB, tree *region.Tree, r *rules.Rules, n, dueEvery int, at time.Time) ([]*escalationv1.Case, error) {
	var communities []string
	for _, node := range tree.Subtree(tree.Root().Code) {
		if node.Level == region.LevelCommunity {
			communities = append(communities, node.Code)
		}
	}
	if len(communities) == 0 {
		return nil, fmt.Errorf("benchseed: the tree has no communities")
	}
	st := store.New()
	var due []*escalationv1.Case
	const batch = 2000
	for from := 0; from < n; from += batch {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			for i := from; i < min(from+batch, n); i++ {
				community := communities[i%len(communities)]
				start := at.Add(-time.Hour)
				if dueEvery > 0 && i%dueEvery == 0 {
					start = at.AddDate(0, 0, -10)
				}
				c := &escalationv1.Case{
					Name: aip.NewName("cases"), Demand: aip.NewName("demands"), CommunityCode: community,
					SubdistrictCode: community[:region.LevelSubdistrict.CodeLen()], Category: typev1.Category_CATEGORY_ENVIRONMENT, Title: fmt.Sprintf("问题%d", i),
					Colour: escalationv1.Colour_COLOUR_GREEN, Level: escalationv1.Level_LEVEL_COMMUNITY,
					Unit: domain.RegionUnitPrefix + community, UnitDisplayName: tree.Name(community), Status: escalationv1.CaseStatus_CASE_STATUS_ASSIGNED,
					Opener: "bench", CreateTime: timestamppb.New(start), UpdateTime: timestamppb.New(start),
				}
				domain.SetClocks(r, c, start)
				c.Warned = true // the warnings are not what is measured
				// As in service, most cases were taken on and replied to in time; one in
				// unanswered (every 50th) still runs its acknowledge and reply clocks.
				if i%unanswered != 0 {
					c.Status = escalationv1.CaseStatus_CASE_STATUS_ACCEPTED
					c.AcknowledgeTime = timestamppb.New(start.Add(30 * time.Minute))
					c.ReplyTime = timestamppb.New(start.Add(30 * time.Minute))
				}
				if err := st.InsertCase(ctx, tx, c); err != nil {
					return err
				}
				if start.Before(at.Add(-time.Hour)) {
					due = append(due, proto.Clone(c).(*escalationv1.Case))
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("benchseed: %w", err)
		}
	}
	if db.Dialect() == sqlstore.Postgres {
		for _, table := range []string{"cases", "case_counts"} {
			if _, err := db.Exec(ctx, `VACUUM ANALYZE `+table); err != nil {
				return nil, fmt.Errorf("benchseed: %w", err)
			}
		}
	}
	return due, nil
}

// Reset puts the cases due back as Seed returned them, so that every sweep measured escalates
// the same ones.
func Reset(ctx context.Context, db *sqlstore.DB, due []*escalationv1.Case) error {
	st := store.New()
	return db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		for _, c := range due {
			_, v, err := st.GetCase(ctx, tx, c.GetName())
			if err != nil {
				return err
			}
			if _, err := st.UpdateCase(ctx, tx, c, v); err != nil {
				return err
			}
		}
		return nil
	})
}
