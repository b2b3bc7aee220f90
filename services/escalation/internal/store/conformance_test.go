package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/migrations"
)

var t0 = time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)

func newCase(i int, community string, colour escalationv1.Colour, unit string) *escalationv1.Case {
	return &escalationv1.Case{
		Name: aip.NewName("cases"), Demand: aip.NewName("demands"), CommunityCode: community, SubdistrictCode: community[:9],
		Colour: colour, Level: escalationv1.Level(colour), Unit: unit, Status: escalationv1.CaseStatus_CASE_STATUS_ASSIGNED,
		ResolveDeadline: timestamppb.New(t0.Add(time.Duration(i+1) * time.Hour)),
		WarnTime:        timestamppb.New(t0.Add(time.Duration(i) * time.Minute)),
		CreateTime:      timestamppb.New(t0.Add(time.Duration(i) * time.Second)), UpdateTime: timestamppb.New(t0),
	}
}

func TestConformance(t *testing.T) {
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
			s := store.New()
			a := newCase(0, "450105001001", escalationv1.Colour_COLOUR_GREEN, "regions/450105001001")
			inTx := func(f func(tx sqlstore.Tx) error) error {
				return db.InTx(ctx, func(_ context.Context, tx sqlstore.Tx) error { return f(tx) })
			}
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertCase(ctx, tx, a) }); err != nil {
				t.Fatal(err)
			}
			dup := newCase(1, "450105001001", escalationv1.Colour_COLOUR_GREEN, "regions/450105001001")
			dup.Demand = a.GetDemand()
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertCase(ctx, tx, dup) }); !errors.Is(err, sqlstore.ErrAlreadyExists) {
				t.Fatalf("second case for a demand: %v", err)
			}
			got, v, err := s.GetCase(ctx, db, a.GetName())
			if err != nil || v != 1 || got.GetDemand() != a.GetDemand() {
				t.Fatalf("GetCase = %v, %d, %v", got, v, err)
			}
			if _, _, err := s.CaseOfDemand(ctx, db, a.GetDemand()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.GetCase(ctx, db, "cases/nope"); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("missing: %v", err)
			}
			got.Status = escalationv1.CaseStatus_CASE_STATUS_ACCEPTED
			if err := inTx(func(tx sqlstore.Tx) error { v, err = s.UpdateCase(ctx, tx, got, 1); return err }); err != nil || v != 2 {
				t.Fatalf("update = %d, %v", v, err)
			}
			if err := inTx(func(tx sqlstore.Tx) error { _, err := s.UpdateCase(ctx, tx, got, 1); return err }); !errors.Is(err, sqlstore.ErrStale) {
				t.Fatalf("stale update: %v", err)
			}
			err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return s.LockCase(ctx, tx, a.GetName()) })
			if err != nil {
				t.Fatal(err)
			}

			// History, paged.
			for i := range 5 {
				e := &escalationv1.CaseEvent{Name: a.GetName() + "/events/" + aip.NewID(), Kind: escalationv1.CaseEventKind_CASE_EVENT_KIND_REPLIED,
					Reply: fmt.Sprint(i), CreateTime: timestamppb.New(t0)}
				if err := s.AppendEvent(ctx, db, e); err != nil {
					t.Fatal(err)
				}
			}
			var replies []string
			token := ""
			for {
				page, next, err := s.ListEvents(ctx, db, a.GetName(), 2, token)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					replies = append(replies, e.GetReply())
				}
				if token = next; token == "" {
					break
				}
			}
			if fmt.Sprint(replies) != "[0 1 2 3 4]" {
				t.Fatalf("history %v", replies)
			}
			if err := s.AppendEvent(ctx, db, &escalationv1.CaseEvent{Name: "nope"}); err == nil {
				t.Fatal("appended an event with a bad name")
			}

			// Co-handling meetings, paged, oldest first.
			var meetings []string
			for i := range 3 {
				m := &escalationv1.CaseMeeting{Name: a.GetName() + "/meetings/" + aip.NewID(), MeetingDate: "2026-11-03", Decisions: fmt.Sprint(i),
					CreateTime: timestamppb.New(t0)}
				if err := inTx(func(tx sqlstore.Tx) error { return s.InsertMeeting(ctx, tx, m) }); err != nil {
					t.Fatal(err)
				}
				meetings = append(meetings, m.GetName())
			}
			page, next, err := s.ListMeetings(ctx, db, a.GetName(), 2, "")
			if err != nil || len(page) != 2 || next == "" || page[0].Rec.GetDecisions() != "0" {
				t.Fatalf("first page of meetings: %v, %q, %v", page, next, err)
			}
			rest, next, err := s.ListMeetings(ctx, db, a.GetName(), 2, next)
			if err != nil || len(rest) != 1 || next != "" {
				t.Fatalf("second page of meetings: %v, %q, %v", rest, next, err)
			}
			if all, _, err := s.ListMeetings(ctx, db, a.GetName(), 0, ""); err != nil || len(all) != 3 {
				t.Fatalf("all meetings: %d, %v", len(all), err)
			}
			m, mv, err := s.GetMeeting(ctx, db, meetings[0])
			if err != nil || mv != 1 {
				t.Fatalf("GetMeeting = %v, %d, %v", m, mv, err)
			}
			m.Venue = "党群服务中心"
			if err := inTx(func(tx sqlstore.Tx) error { _, err := s.UpdateMeeting(ctx, tx, m, 1); return err }); err != nil {
				t.Fatal(err)
			}
			if err := inTx(func(tx sqlstore.Tx) error { _, err := s.UpdateMeeting(ctx, tx, m, 1); return err }); !errors.Is(err, sqlstore.ErrStale) {
				t.Fatalf("stale meeting update: %v", err)
			}
			if _, _, err := s.GetMeeting(ctx, db, a.GetName()+"/meetings/nope"); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("missing meeting: %v", err)
			}

			// More cases for lists and the board.
			for i, c := range []*escalationv1.Case{
				newCase(2, "450105001002", escalationv1.Colour_COLOUR_YELLOW, "regions/450105001"),
				newCase(3, "450105003001", escalationv1.Colour_COLOUR_RED, "departments/power"),
				newCase(4, "450105003001", escalationv1.Colour_COLOUR_RED, "departments/power"),
			} {
				if i == 2 {
					c.Status, c.EscalationCount = escalationv1.CaseStatus_CASE_STATUS_RESOLVED, 1
				}
				if err := inTx(func(tx sqlstore.Tx) error { return s.InsertCase(ctx, tx, c) }); err != nil {
					t.Fatal(err)
				}
			}
			now := t0.Add(150 * time.Minute) // past the first deadline, an hour before the yellow one
			for _, tc := range []struct {
				scope  *store.Scope
				filter string
				want   int
			}{
				{nil, "", 4},
				{&store.Scope{All: true, Unit: "departments/power"}, "", 2},
				{&store.Scope{Communities: []string{"450105001001"}}, "", 1},
				{&store.Scope{Communities: []string{}}, "", 0},
				{nil, "overdue = true", 1},
				{nil, "open = false", 1},
				{nil, `region_code = "450105003"`, 2},
				{nil, `region_code = "450105"`, 4},
				{nil, "colour = RED AND status = RESOLVED", 1},
				{nil, "escalated = true", 1},
			} {
				page, _, err := s.ListCases(ctx, db, store.ListParams{Scope: tc.scope, Filter: tc.filter, PageSize: 10, Now: now})
				if err != nil || len(page) != tc.want {
					t.Errorf("scope %+v filter %q: %d cases, %v; want %d", tc.scope, tc.filter, len(page), err, tc.want)
				}
			}
			if _, _, err := s.ListCases(ctx, db, store.ListParams{OrderBy: "title", PageSize: 10}); !errors.Is(err, store.ErrBadOrder) {
				t.Errorf("bad order: %v", err)
			}
			board, err := s.Board(ctx, db, nil, "", now, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if g := board.Colours[escalationv1.Colour_COLOUR_GREEN]; g.Open != 1 || g.Overdue != 1 {
				t.Errorf("green line %+v", g)
			}
			if r := board.Colours[escalationv1.Colour_COLOUR_RED]; r.Open != 1 || r.DueSoon != 0 || r.Escalated != 0 {
				t.Errorf("red line %+v", r)
			}
			if y := board.Colours[escalationv1.Colour_COLOUR_YELLOW]; y.Open != 1 || y.DueSoon != 1 {
				t.Errorf("yellow line %+v", y)
			}
			if len(board.Units) != 3 {
				t.Errorf("units %+v", board.Units)
			}
			// The sweeper's batch path: loaded together, stored queued.
			err = inTx(func(tx sqlstore.Tx) error {
				m, err := s.GetCases(ctx, tx, []string{a.GetName(), "cases/nope"})
				if err != nil || len(m) != 1 {
					return fmt.Errorf("GetCases = %v, %v", m, err)
				}
				l := m[a.GetName()]
				l.Rec.Status = escalationv1.CaseStatus_CASE_STATUS_RESOLVED
				_, err = s.UpdateLockedCase(ctx, tx, l.Rec, l.Version)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			after, err := s.Board(ctx, db, nil, "", now, now.Add(time.Hour))
			if err != nil || after.Colours[escalationv1.Colour_COLOUR_GREEN].Open != 0 || after.Colours[escalationv1.Colour_COLOUR_GREEN].Overdue != 0 {
				t.Errorf("after resolving the green case: %+v, %v", after.Colours, err)
			}
			sub, err := s.Board(ctx, db, &store.Scope{All: true}, "450105001", now, now)
			if err != nil || sub.Colours[escalationv1.Colour_COLOUR_RED].Open != 0 || sub.Colours[escalationv1.Colour_COLOUR_YELLOW].Open != 1 {
				t.Errorf("sub-district board %+v, %v", sub, err)
			}
		})
	}
}
