package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/migrations"
)

// TestBoardEqualsRecount: after a random history of cases opened, moved between colours and
// units, escalated, taken on, replied to, closed, reopened, and
// updates refused as stale (rolled back, counts and all), the board the store keeps (the
// case_counts lines and the deadline indexes) equals a count of the cases themselves, for
// every scope and region, at moments before, among and after the deadlines.
func TestBoardEqualsRecount(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db, err := sqlstore.Open(ctx, b.NewURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
			if err := db.Migrate(ctx, "escalation", migrations.FS()); err != nil {
				t.Fatal(err)
			}
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 7))
			s := store.New()
			communities := []string{"450105001001", "450105001002", "450105002001", "450105003001"}
			units := []string{"regions/450105001001", "regions/450105001", "regions/450105", "departments/power", "departments/housing"}
			colours := []escalationv1.Colour{escalationv1.Colour_COLOUR_GREEN, escalationv1.Colour_COLOUR_YELLOW, escalationv1.Colour_COLOUR_RED}
			statuses := []escalationv1.CaseStatus{escalationv1.CaseStatus_CASE_STATUS_ASSIGNED, escalationv1.CaseStatus_CASE_STATUS_ACCEPTED,
				escalationv1.CaseStatus_CASE_STATUS_HANDED_BACK, escalationv1.CaseStatus_CASE_STATUS_RESOLVED, escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED}
			// A deadline within a few days either side of t0, or none.
			deadline := func() *timestamppb.Timestamp {
				if rng.IntN(5) == 0 {
					return nil
				}
				return timestamppb.New(t0.Add(time.Duration(rng.IntN(96)-48) * time.Hour).Add(time.Duration(rng.IntN(60)) * time.Minute))
			}
			done := func() *timestamppb.Timestamp {
				if rng.IntN(2) == 0 {
					return nil
				}
				return timestamppb.New(t0)
			}
			// shuffle sets the fields the board counts anew; a case stays in its community
			// (the demand's) all its life.
			shuffle := func(c *escalationv1.Case) {
				c.Colour = colours[rng.IntN(len(colours))]
				c.Unit = units[rng.IntN(len(units))]
				c.Status = statuses[rng.IntN(len(statuses))]
				c.EscalationCount = int32(rng.IntN(3))
				c.ResolveDeadline, c.AcknowledgeDeadline, c.ReplyDeadline = deadline(), deadline(), deadline()
				c.AcknowledgeTime, c.ReplyTime = done(), done()
			}
			type kept struct {
				c       *escalationv1.Case
				version int64
			}
			var cases []kept
			for i := range 300 {
				if len(cases) == 0 || rng.IntN(3) == 0 {
					c := newCase(i, communities[rng.IntN(len(communities))], colours[0], units[0])
					shuffle(c)
					if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return s.InsertCase(ctx, tx, c) }); err != nil {
						t.Fatal(err)
					}
					cases = append(cases, kept{c: c, version: 1})
					continue
				}
				k := &cases[rng.IntN(len(cases))]
				next := proto.Clone(k.c).(*escalationv1.Case)
				shuffle(next)
				stale := rng.IntN(6) == 0
				locked := rng.IntN(2) == 0
				err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
					v := k.version
					if stale {
						v--
					}
					var err error
					if locked && !stale {
						// The sweeper's path: the row held, the write queued.
						if err := s.LockCase(ctx, tx, next.GetName()); err != nil {
							return err
						}
						_, err = s.UpdateLockedCase(ctx, tx, next, v)
					} else {
						_, err = s.UpdateCase(ctx, tx, next, v)
					}
					return err
				})
				switch {
				case stale && !errors.Is(err, sqlstore.ErrStale):
					t.Fatalf("stale update: %v", err)
				case !stale && err != nil:
					t.Fatal(err)
				case !stale:
					k.c, k.version = next, k.version+1
				}
			}
			all := make([]*escalationv1.Case, len(cases))
			for i, k := range cases {
				all[i] = k.c
				got, v, err := s.GetCase(ctx, db, k.c.GetName())
				if err != nil || v != k.version || !proto.Equal(got, k.c) {
					t.Fatalf("case %d read back at version %d (%v), want %d:\n%v\nwant\n%v", i, v, err, k.version, got, k.c)
				}
			}
			scopes := []struct {
				name   string
				scope  *store.Scope
				region string
			}{
				{"everything", nil, ""},
				{"the district", &store.Scope{All: true}, "450105"},
				{"a sub-district", &store.Scope{All: true}, "450105001"},
				{"a community", &store.Scope{All: true}, "450105001002"},
				{"two communities", &store.Scope{Communities: []string{"450105001001", "450105003001"}}, ""},
				{"a department", &store.Scope{All: true, Unit: "departments/power"}, ""},
				{"a department in a sub-district", &store.Scope{All: true, Unit: "departments/housing"}, "450105002"},
			}
			for _, at := range []time.Time{t0.Add(-72 * time.Hour), t0.Add(-90 * time.Minute), t0, t0.Add(17 * time.Minute), t0.Add(72 * time.Hour)} {
				for _, sc := range scopes {
					soon := at.Add(24 * time.Hour)
					got, err := s.Board(ctx, db, sc.scope, sc.region, at, soon)
					if err != nil {
						t.Fatal(err)
					}
					want := recount(all, sc.scope, sc.region, at, soon)
					if msg := diffBoards(got, want); msg != "" {
						t.Errorf("%s at %v: %s", sc.name, at, msg)
					}
				}
			}
		})
	}
}

// recount is the board counted case by case from the cases themselves.
func recount(cases []*escalationv1.Case, sc *store.Scope, regionCode string, now, soon time.Time) store.Board {
	b := store.Board{Colours: map[escalationv1.Colour]store.ColourLine{}}
	units := map[string]*store.UnitLine{}
	for _, c := range cases {
		if !domain.Open(c.GetStatus()) {
			continue
		}
		if sc != nil && ((!sc.All && !slices.Contains(sc.Communities, c.GetCommunityCode())) || (sc.Unit != "" && c.GetUnit() != sc.Unit)) {
			continue
		}
		switch len(regionCode) {
		case 0:
		case 6:
			if c.GetSubdistrictCode()[:6] != regionCode {
				continue
			}
		case 9:
			if c.GetSubdistrictCode() != regionCode {
				continue
			}
		default:
			if c.GetCommunityCode() != regionCode {
				continue
			}
		}
		l := b.Colours[c.GetColour()]
		u := units[c.GetUnit()]
		if u == nil {
			u = &store.UnitLine{Unit: c.GetUnit()}
			units[c.GetUnit()] = u
		}
		l.Open++
		u.Open++
		if c.GetEscalationCount() > 0 {
			l.Escalated++
		}
		if d := c.GetResolveDeadline(); d != nil {
			switch at := d.AsTime(); {
			case at.Before(now):
				l.Overdue++
				u.Overdue++
			case at.Before(soon):
				l.DueSoon++
			}
		}
		if d := c.GetAcknowledgeDeadline(); d != nil && c.GetAcknowledgeTime() == nil {
			switch at := d.AsTime(); {
			case at.Before(now):
				l.AcknowledgeOverdue++
				u.AcknowledgeOverdue++
			case at.Before(now.Add(store.AcknowledgeSoon)):
				l.AcknowledgeDueSoon++
			}
		}
		if d := c.GetReplyDeadline(); d != nil && c.GetReplyTime() == nil {
			switch at := d.AsTime(); {
			case at.Before(now):
				l.ReplyOverdue++
				u.ReplyOverdue++
			case at.Before(soon):
				l.ReplyDueSoon++
			}
		}
		b.Colours[c.GetColour()] = l
	}
	for _, k := range slices.Sorted(maps.Keys(units)) {
		b.Units = append(b.Units, *units[k])
	}
	return b
}

// diffBoards describes how got differs from want ("" when equal); the order of units does not
// matter, nor colours or units with nothing open.
func diffBoards(got, want store.Board) string {
	for _, c := range []escalationv1.Colour{escalationv1.Colour_COLOUR_GREEN, escalationv1.Colour_COLOUR_YELLOW, escalationv1.Colour_COLOUR_RED} {
		if got.Colours[c] != want.Colours[c] {
			return fmt.Sprintf("%v: %+v, want %+v", c, got.Colours[c], want.Colours[c])
		}
	}
	byUnit := func(lines []store.UnitLine) map[string]store.UnitLine {
		m := map[string]store.UnitLine{}
		for _, l := range lines {
			if l != (store.UnitLine{Unit: l.Unit}) {
				m[l.Unit] = l
			}
		}
		return m
	}
	if g, w := byUnit(got.Units), byUnit(want.Units); !maps.Equal(g, w) {
		return fmt.Sprintf("units %+v, want %+v", g, w)
	}
	return ""
}
