package escalation_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/services/escalation/internal/api"
)

// TestBoardClocks: besides the resolve deadline, the board counts the acknowledge deadline
// (签收) of cases their unit has not taken on and the reply deadline of cases whose resident
// has not heard back, due soon and overdue, by colour, by unit and in all; meeting a deadline
// takes the case off its count. The case itself shows every deadline.
func TestBoardClocks(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾桶满溢", "小区垃圾桶每天满溢", 30)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		start := c.GetLevelStartTime().AsTime()
		// Green: acknowledge in 2 hours, reply in 1 working day, resolve in 3.
		if got := c.GetAcknowledgeDeadline().AsTime(); !got.Equal(start.Add(2 * time.Hour)) {
			t.Errorf("acknowledge deadline %v, want 2h after %v", got, start)
		}
		if c.GetReplyDeadline() == nil || c.GetResolveDeadline() == nil {
			t.Fatalf("the case shows no reply or resolve deadline: %v", c)
		}
		type counts struct{ ackSoon, ackOver, replySoon, replyOver, unitAck, unitReply, totalAck, totalReply int32 }
		board := func(at time.Time) counts {
			t.Helper()
			e.clock.Set(at)
			b, err := e.cases.GetCaseBoard(e.staff(erqiao), &escalationv1.GetCaseBoardRequest{RegionCode: erqiao})
			if err != nil {
				t.Fatal(err)
			}
			var got counts
			for _, l := range b.GetColours() {
				if l.GetColour() == green {
					got.ackSoon, got.ackOver, got.replySoon, got.replyOver = l.GetAcknowledgeDueSoon(), l.GetAcknowledgeOverdue(), l.GetReplyDueSoon(), l.GetReplyOverdue()
				}
			}
			for _, u := range b.GetUnits() {
				if u.GetUnit() == "regions/"+erqiao {
					got.unitAck, got.unitReply = u.GetAcknowledgeOverdue(), u.GetReplyOverdue()
				}
			}
			got.totalAck, got.totalReply = b.GetAcknowledgeOverdue(), b.GetReplyOverdue()
			return got
		}
		ack, reply := c.GetAcknowledgeDeadline().AsTime(), c.GetReplyDeadline().AsTime()
		for _, tc := range []struct {
			name string
			at   time.Time
			want counts
		}{
			{"just opened", start.Add(time.Minute), counts{}},
			{"acknowledge due within the hour", ack.Add(-30 * time.Minute), counts{ackSoon: 1}},
			{"acknowledge overdue", ack.Add(time.Minute), counts{ackOver: 1, unitAck: 1, totalAck: 1}},
		} {
			if got := board(tc.at); got != tc.want {
				t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
			}
		}
		// Taken on, late: off the acknowledge count; the reply clock still runs.
		if _, err := e.cases.AcceptCase(e.staff(erqiao), &escalationv1.AcceptCaseRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			at   time.Time
			want counts
		}{
			{"accepted", ack.Add(2 * time.Minute), counts{}},
			{"reply due within a day", reply.Add(-time.Hour), counts{replySoon: 1}},
			{"reply overdue", reply.Add(time.Hour), counts{replyOver: 1, unitReply: 1, totalReply: 1}},
		} {
			if got := board(tc.at); got != tc.want {
				t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
			}
		}
		if _, err := e.cases.ReplyToCase(e.staff(erqiao), &escalationv1.ReplyToCaseRequest{Name: c.GetName(), Message: "已联系物业增加清运频次。"}); err != nil {
			t.Fatal(err)
		}
		if got := board(reply.Add(2 * time.Hour)); got != (counts{}) {
			t.Errorf("replied: %+v, want nothing overdue", got)
		}
	})
}

// TestBoardCache: a replica answers a scope's board from its last count for a moment, but
// never one scope's count to another caller; a step taken on the replica shows at once; one
// taken on another replica shows once the count is DefaultBoardCache old.
func TestBoardCache(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		for _, community := range []string{erqiao, fujing} {
			d := e.problem(community, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾桶满溢", "小区垃圾桶每天满溢", 30)
			e.toCase(community, d.GetName())
			e.caseOf(d.GetName())
		}
		board := func(ctx context.Context) *escalationv1.GetCaseBoardResponse {
			t.Helper()
			b, err := e.cases.GetCaseBoard(ctx, &escalationv1.GetCaseBoardRequest{})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		units := func(b *escalationv1.GetCaseBoardResponse) []string {
			var out []string
			for _, u := range b.GetUnits() {
				out = append(out, fmt.Sprintf("%s:%d", u.GetUnit(), u.GetOpen()))
			}
			return out
		}
		// Each scope its own count, whichever asks first and however often, at one moment.
		for range 2 {
			for _, tc := range []struct {
				name  string
				ctx   context.Context
				units []string
			}{
				{"erqiao's staff", e.staff(erqiao), []string{"regions/" + erqiao + ":1"}},
				{"the district", e.districtOfficer(), []string{"regions/" + erqiao + ":1", "regions/" + fujing + ":1"}},
				{"fujing's staff", e.staff(fujing), []string{"regions/" + fujing + ":1"}},
			} {
				if got := units(board(tc.ctx)); !slices.Equal(got, tc.units) {
					t.Errorf("%s sees %v, want %v", tc.name, got, tc.units)
				}
			}
		}
		// A case opened on this replica (from demand's feed) shows at once, at the same moment.
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "路灯不亮", "小区路灯坏了一周", 20)
		e.toCase(erqiao, d.GetName())
		e.caseOf(d.GetName())
		if got := board(e.districtOfficer()).GetOpen(); got != 3 {
			t.Fatalf("the district's board counts %d open cases after a third opened here, want 3", got)
		}
		// Past the community's escalation interval, another replica escalates the three: this
		// replica's count of a moment ago may stand until it is DefaultBoardCache old, no longer.
		e.clock.Set(cst(2026, 11, 10, 0, 1))
		if got := board(e.districtOfficer()).GetColours()[0].GetOpen(); got != 3 {
			t.Fatalf("green before the sweep: %d, want 3", got)
		}
		if n, err := e.secondReplica().Sweep(t.Context()); err != nil || n != 3 {
			t.Fatalf("the other replica swept %d, %v; want 3", n, err)
		}
		swept := time.Now()
		for {
			b := board(e.districtOfficer())
			yellow := b.GetColours()[1].GetOpen()
			if yellow == 3 {
				break
			}
			if b.GetColours()[0].GetOpen() != 3 || yellow != 0 {
				t.Fatalf("a board neither as counted before the sweep nor after: %v", b)
			}
			// The count before the sweep expires DefaultBoardCache after it was taken; the
			// slack is for a loaded machine's calls.
			if time.Since(swept) > api.DefaultBoardCache+3*time.Second {
				t.Fatalf("the other replica's escalations are not on the board %v after the sweep", time.Since(swept))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
