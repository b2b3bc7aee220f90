package escalation_test

import (
	"testing"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
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
