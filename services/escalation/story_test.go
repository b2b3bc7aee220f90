package escalation_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/escalation"
)

const (
	green  = escalationv1.Colour_COLOUR_GREEN
	yellow = escalationv1.Colour_COLOUR_YELLOW
	red    = escalationv1.Colour_COLOUR_RED
)

// monday is a Monday morning with no holiday for two weeks.
var monday = cst(2026, 11, 2, 9, 0)

// The article's first story: overflowing bins in a compound are green; the community has the
// compound draw up a fix, resolves the case with a note, and the resident is satisfied. Every
// step's reply reaches the resident's timeline, once.
func TestStoryBinsGreen(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "小区垃圾桶满溢", "3栋旁的垃圾桶天天满溢，气味很大", 30)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		if c.GetColour() != green || c.GetSuggestedColour() != green || c.GetLevel() != escalationv1.Level_LEVEL_COMMUNITY ||
			c.GetUnit() != "regions/"+erqiao || c.GetUnitDisplayName() != "二桥西社区" || c.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_ASSIGNED {
			t.Fatalf("case = %v", c)
		}
		// Three working days from Monday: Tuesday, Wednesday, Thursday; due at Friday's midnight.
		if got := c.GetResolveDeadline().AsTime(); !got.Equal(cst(2026, 11, 6, 0, 0)) {
			t.Errorf("resolve deadline %v", got)
		}
		if got := c.GetEscalateTime().AsTime(); !got.Equal(cst(2026, 11, 10, 0, 0)) {
			t.Errorf("escalate time %v", got)
		}
		if c.GetTitle() != "小区垃圾桶满溢" || c.GetHouseholdsAffected() != 30 || c.GetOpener() != "demand-feed" {
			t.Errorf("copied from the demand: %v", c)
		}

		staff := e.staff(erqiao)
		e.eventually("the demand in its case", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_IN_CASE
		})
		// A demand in a case is resolved by its case, not by hand.
		_, err := e.demands.ChangeDemandStatus(staff, &demandv1.ChangeDemandStatusRequest{Name: d.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, Reply: "已解决"})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		resp, err := e.cases.ClassifyCase(staff, &escalationv1.ClassifyCaseRequest{Name: c.GetName(), Colour: green, Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetCase().GetColourConfirmed() {
			t.Error("not confirmed")
		}
		acc, err := e.cases.AcceptCase(staff, &escalationv1.AcceptCaseRequest{Name: c.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if acc.GetCase().GetStatus() != escalationv1.CaseStatus_CASE_STATUS_ACCEPTED || acc.GetCase().GetAcknowledgeTime() == nil {
			t.Errorf("accepted = %v", acc.GetCase())
		}
		e.clock.Set(monday.Add(26 * time.Hour))
		res, err := e.cases.ResolveCase(staff, &escalationv1.ResolveCaseRequest{Name: c.GetName(), ResolutionNote: "已督促小区物业制定整改方案，增设两个垃圾桶并每日清运两次。"})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetCase().GetStatus() != escalationv1.CaseStatus_CASE_STATUS_RESOLVED || res.GetCase().GetOutcomeCount() != 1 {
			t.Fatalf("resolved = %v", res.GetCase())
		}
		e.eventually("the demand resolved", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
		})
		tl := e.waitReplies(res.GetCase())
		h := e.history(c.GetName())
		kinds := []escalationv1.CaseEventKind{}
		for _, ev := range h {
			kinds = append(kinds, ev.GetKind())
		}
		want := []escalationv1.CaseEventKind{escalationv1.CaseEventKind_CASE_EVENT_KIND_OPENED, escalationv1.CaseEventKind_CASE_EVENT_KIND_CLASSIFIED,
			escalationv1.CaseEventKind_CASE_EVENT_KIND_ACCEPTED, escalationv1.CaseEventKind_CASE_EVENT_KIND_RESOLVED}
		if len(kinds) != len(want) {
			t.Fatalf("history %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] || h[i].GetReply() == "" {
				t.Errorf("step %d: %v with reply %q", i, h[i].GetKind(), h[i].GetReply())
			}
		}
		// One timeline entry per step; the case's opening moved the demand (a status change).
		got := replies(tl, []string{h[0].GetReply(), h[1].GetReply(), h[2].GetReply(), h[3].GetReply()})
		if len(got) != 4 || got[0].GetToStatus() != demandv1.DemandStatus_DEMAND_STATUS_IN_CASE && got[0].GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY {
			t.Fatalf("timeline replies %v", got)
		}
		if got[3].GetToStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED || got[3].GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE {
			t.Errorf("resolution entry %v", got[3])
		}
		if _, err := e.demands.RateDemand(e.resident("res-"+erqiao, erqiao), &demandv1.RateDemandRequest{Name: d.GetName(), Rating: demandv1.Rating_RATING_SATISFIED}); err != nil {
			t.Fatal(err)
		}
		// A resolved case takes no more steps.
		_, err = e.cases.EscalateCase(staff, &escalationv1.EscalateCaseRequest{Name: c.GetName(), Reason: "再升级"})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
	})
}

// The second story: tangled old network cables are a safety hazard the telecom operators must
// fix: yellow, the sub-district coordinating. A street officer opens the case directly.
func TestStoryCablesYellow(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(fujing, typev1.Category_CATEGORY_SAFETY, "新旧网线错综复杂", "老旧小区新旧网线错综复杂、存在安全隐患", 80)
		street := e.street(jiangnan)
		req := &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName(), OutsideParty: true}, RequestId: "8a4cde6f-6d7e-4e61-9d6b-8f0e2f1b6a01"}
		resp, err := e.cases.CreateCase(street, req)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.GetCase()
		if c.GetColour() != yellow || c.GetUnit() != "regions/"+jiangnan || c.GetUnitDisplayName() != "江南街道办事处" || c.GetOpener() == "demand-feed" {
			t.Fatalf("case = %v", c)
		}
		// A retry of the same request returns the same case; another request for the demand is refused.
		again, err := e.cases.CreateCase(street, req)
		if err != nil || again.GetCase().GetName() != c.GetName() {
			t.Fatalf("replay = %v, %v", again, err)
		}
		_, err = e.cases.CreateCase(street, &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName()}})
		apierrtest.WantCode(t, err, codes.AlreadyExists)
		// The demand follows into IN_CASE through the feed.
		e.eventually("the demand in its case", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_IN_CASE
		})
		// The community cannot act for a yellow case; the sub-district can.
		_, err = e.cases.AcceptCase(e.staff(fujing), &escalationv1.AcceptCaseRequest{Name: c.GetName()})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		if _, err := e.cases.AcceptCase(street, &escalationv1.AcceptCaseRequest{Name: c.GetName(), Reply: "街道已组织小区自管小组和通信运营商召开专项协商会。"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cases.ReplyToCase(street, &escalationv1.ReplyToCaseRequest{Name: c.GetName(), Message: "运营商已开始分批整理线缆，预计下周完成。"}); err != nil {
			t.Fatal(err)
		}
		// The co-handling meeting: the compound's self-management group and the telecom
		// operators, the sub-district guiding; two follow-up duties the sweeper watches.
		group, telecom, sub := "福景小区自管小组", "中国电信江南分公司", "江南街道办事处"
		e.clock.Set(cst(2026, 11, 3, 18, 0))
		mt, err := e.cases.CreateCaseMeeting(street, &escalationv1.CreateCaseMeetingRequest{Parent: c.GetName(), Meeting: &escalationv1.CaseMeeting{
			MeetingDate: "2026-11-03", Venue: "富景社区党群服务中心",
			Participants: []*escalationv1.Participant{
				{DisplayName: group, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS},
				{DisplayName: telecom, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_TELECOM_OPERATOR},
				{DisplayName: sub, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT},
			},
			Decisions: "运营商分批整理、拆除废旧线缆；自管小组协助入户核对；街道督办。",
			Duties: []*escalationv1.Duty{
				{Description: "拆除废旧线缆", Owner: telecom, DueDate: "2026-11-06"},
				{Description: "入户核对线路归属", Owner: group, DueDate: "2026-11-04"},
			},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m := mt.GetMeeting()
		if len(m.GetDuties()) != 2 || m.GetDuties()[0].GetId() != "1" {
			t.Fatalf("meeting = %v", m)
		}
		if got := e.get(c.GetName()); !got.GetNextDutyDueTime().AsTime().Equal(cst(2026, 11, 5, 0, 0)) {
			t.Fatalf("next duty due %v", got.GetNextDutyDueTime())
		}
		// The group's duty passes its date undone: the sweep tells the unit, once.
		e.clock.Set(cst(2026, 11, 5, 9, 0))
		if n, err := e.svc.Sweep(t.Context()); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		if n, err := e.svc.Sweep(t.Context()); err != nil || n != 0 {
			t.Fatalf("second sweep: %d, %v", n, err)
		}
		if got := e.get(c.GetName()); !got.GetNextDutyDueTime().AsTime().Equal(cst(2026, 11, 7, 0, 0)) {
			t.Fatalf("after the report, next duty due %v", got.GetNextDutyDueTime())
		}
		done, err := e.cases.CompleteMeetingDuty(street, &escalationv1.CompleteMeetingDutyRequest{Name: m.GetName(), DutyId: "1"})
		if err != nil || !done.GetMeeting().GetDuties()[0].GetDone() || !done.GetMeeting().GetDuties()[1].GetOverdueReported() {
			t.Fatalf("complete: %v, %v", done, err)
		}
		_, err = e.cases.CompleteMeetingDuty(street, &escalationv1.CompleteMeetingDutyRequest{Name: m.GetName(), DutyId: "1"})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		_, err = e.cases.CompleteMeetingDuty(street, &escalationv1.CompleteMeetingDutyRequest{Name: m.GetName(), DutyId: "9"})
		apierrtest.WantField(t, err, "duty_id")
		_, err = e.cases.CompleteMeetingDuty(e.street(nahong), &escalationv1.CompleteMeetingDutyRequest{Name: m.GetName(), DutyId: "2"})
		apierrtest.WantCode(t, err, codes.NotFound)
		if got := e.get(c.GetName()); got.GetNextDutyDueTime() != nil {
			t.Fatalf("no duty left to watch, yet %v", got.GetNextDutyDueTime())
		}
		list, err := e.cases.ListCaseMeetings(e.staff(fujing), &escalationv1.ListCaseMeetingsRequest{Parent: c.GetName()})
		if err != nil || len(list.GetMeetings()) != 1 {
			t.Fatalf("list meetings: %v, %v", list, err)
		}
		overdue := 0
		for _, ev := range e.history(c.GetName()) {
			if ev.GetKind() == escalationv1.CaseEventKind_CASE_EVENT_KIND_DUTY_OVERDUE {
				overdue++
				if ev.GetReply() != "" || ev.GetActor() != "sweeper" {
					t.Errorf("overdue step %v", ev)
				}
			}
		}
		if overdue != 1 {
			t.Fatalf("%d overdue steps", overdue)
		}
		// Bad meetings: nothing recorded.
		for _, tc := range []struct {
			m     *escalationv1.CaseMeeting
			field string
		}{
			{&escalationv1.CaseMeeting{MeetingDate: "2026-11-03", Decisions: "议定", Participants: []*escalationv1.Participant{
				{DisplayName: group, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS}, {DisplayName: sub, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT}},
				Duties: []*escalationv1.Duty{{Description: "整理", Owner: "不在场的人", DueDate: "2026-11-10"}}}, "meeting.duties[0].owner"},
			{&escalationv1.CaseMeeting{MeetingDate: "2026-11-03", Decisions: "议定", Participants: []*escalationv1.Participant{
				{DisplayName: group, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS}, {DisplayName: sub, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT}},
				Duties: []*escalationv1.Duty{{Description: "整理", Owner: sub, DueDate: "2026-11-01"}}}, "meeting.duties[0].due_date"},
			{&escalationv1.CaseMeeting{MeetingDate: "2026-12-30", Decisions: "议定", Participants: []*escalationv1.Participant{
				{DisplayName: group, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS}, {DisplayName: sub, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT}}}, "meeting.meeting_date"},
			{&escalationv1.CaseMeeting{MeetingDate: "2026-11-03", Decisions: "议定", Participants: []*escalationv1.Participant{
				{DisplayName: group, Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS}}}, "meeting.participants"},
		} {
			_, err := e.cases.CreateCaseMeeting(street, &escalationv1.CreateCaseMeetingRequest{Parent: c.GetName(), Meeting: tc.m})
			apierrtest.WantField(t, err, tc.field)
		}
		if list, _ := e.cases.ListCaseMeetings(street, &escalationv1.ListCaseMeetingsRequest{Parent: c.GetName()}); len(list.GetMeetings()) != 1 {
			t.Fatalf("a refused meeting was recorded: %v", list.GetMeetings())
		}
		res, err := e.cases.ResolveCase(street, &escalationv1.ResolveCaseRequest{Name: c.GetName(), ResolutionNote: "三家运营商已完成线缆整理，废旧线缆全部拆除。"})
		if err != nil {
			t.Fatal(err)
		}
		e.waitReplies(res.GetCase())
		e.eventually("the demand resolved", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
		})
	})
}

// The third story: an old transformer that keeps tripping is red, assigned to the district's
// power department, which alone among departments sees it.
func TestStoryTransformerRed(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(fujing, typev1.Category_CATEGORY_SAFETY, "老旧变压器经常跳闸", "福临大厦的老旧变压器一开暖气就跳闸", 120)
		e.toCase(fujing, d.GetName())
		c := e.caseOf(d.GetName())
		if c.GetColour() != red || c.GetSuggestionReason() != "colour_rules[14]: keyword 变压器" || c.GetUnit() != "regions/"+district {
			t.Fatalf("case = %v", c)
		}
		// The community cannot assign, resolve or close a red case.
		_, err := e.cases.AssignCase(e.staff(fujing), &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "departments/power"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		_, err = e.cases.CloseCaseUnresolved(e.staff(fujing), &escalationv1.CloseCaseUnresolvedRequest{Name: c.GetName(), Reason: "社区无法处理"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)

		resp, err := e.cases.AssignCase(e.districtOfficer(), &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "departments/power", Assignee: "李工"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCase().GetUnitDisplayName() != "区发展和改革局（电力）" || resp.GetCase().GetAssignee() != "李工" {
			t.Fatalf("assigned = %v", resp.GetCase())
		}
		power, housing := e.department("power"), e.department("housing")
		if _, err := e.cases.GetCase(power, &escalationv1.GetCaseRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.cases.GetCase(housing, &escalationv1.GetCaseRequest{Name: c.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)
		list, err := e.cases.ListCases(housing, &escalationv1.ListCasesRequest{})
		if err != nil || len(list.GetCases()) != 0 {
			t.Fatalf("housing lists %v, %v", list.GetCases(), err)
		}
		list, err = e.cases.ListCases(power, &escalationv1.ListCasesRequest{})
		if err != nil || len(list.GetCases()) != 1 {
			t.Fatalf("power lists %v, %v", list.GetCases(), err)
		}
		if _, err := e.cases.AcceptCase(power, &escalationv1.AcceptCaseRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		res, err := e.cases.ResolveCase(power, &escalationv1.ResolveCaseRequest{Name: c.GetName(), ResolutionNote: "已更换新变压器，居民用电恢复正常。"})
		if err != nil {
			t.Fatal(err)
		}
		e.waitReplies(res.GetCase())
	})
}

// A green case left past the community's escalation interval moves to the sub-district, then
// to the district, each move with a reply on the resident's timeline; the unit is warned
// first. Two replicas sweeping at once move it exactly once per step.
func TestAutomaticEscalation(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "楼道堆放杂物", "楼道长期堆放杂物", 12)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		other := e.secondReplica()
		sweepBoth := func() int {
			var wg sync.WaitGroup
			n := make([]int, 2)
			errs := make([]error, 2)
			for i, s := range []*escalation.Service{e.svc, other} {
				wg.Go(func() { n[i], errs[i] = s.Sweep(context.Background()) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			return n[0] + n[1]
		}
		if n := sweepBoth(); n != 0 {
			t.Fatalf("nothing is due yet, swept %d", n)
		}
		// 80% of three working days: the unit is warned, the resident is not bothered.
		e.clock.Set(cst(2026, 11, 5, 12, 0))
		if n := sweepBoth(); n != 1 {
			t.Fatalf("warning: swept %d", n)
		}
		if got := e.get(c.GetName()); !got.GetWarned() || got.GetColour() != green {
			t.Fatalf("after the warning: %v", got)
		}
		// Past five working days at the community: up to the sub-district, once.
		e.clock.Set(cst(2026, 11, 10, 0, 1))
		if n := sweepBoth(); n != 1 {
			t.Fatalf("first escalation: swept %d", n)
		}
		got := e.get(c.GetName())
		if got.GetColour() != yellow || got.GetLevel() != escalationv1.Level_LEVEL_SUBDISTRICT || got.GetUnit() != "regions/"+jiangnan ||
			got.GetEscalationCount() != 1 || got.GetWarned() {
			t.Fatalf("after the first escalation: %v", got)
		}
		// Its clocks restarted when it was due: ten working days at the sub-district.
		if !got.GetLevelStartTime().AsTime().Equal(cst(2026, 11, 10, 0, 0)) || !got.GetEscalateTime().AsTime().Equal(cst(2026, 11, 25, 0, 0)) {
			t.Errorf("clocks: start %v, escalate %v", got.GetLevelStartTime().AsTime(), got.GetEscalateTime().AsTime())
		}
		e.clock.Set(cst(2026, 11, 25, 0, 1))
		if n := sweepBoth(); n != 1 {
			t.Fatalf("second escalation: swept %d", n)
		}
		got = e.get(c.GetName())
		if got.GetColour() != red || got.GetUnit() != "regions/"+district || got.GetEscalationCount() != 2 || got.GetEscalateTime() != nil {
			t.Fatalf("after the second escalation: %v", got)
		}
		// The district is the top: the warning comes, then nothing more.
		e.clock.Set(cst(2026, 12, 31, 0, 0))
		if n := sweepBoth(); n != 1 {
			t.Fatalf("warning at the district: swept %d", n)
		}
		if n := sweepBoth(); n != 0 {
			t.Fatalf("nothing left: swept %d", n)
		}
		escalated := 0
		for _, ev := range e.history(c.GetName()) {
			if ev.GetKind() == escalationv1.CaseEventKind_CASE_EVENT_KIND_ESCALATED {
				escalated++
				if ev.GetActor() != "sweeper" || ev.GetReply() == "" {
					t.Errorf("escalation step %v", ev)
				}
			}
		}
		if escalated != 2 {
			t.Fatalf("%d escalation steps, want 2", escalated)
		}
		e.waitReplies(got)
		board, err := e.cases.GetCaseBoard(e.districtOfficer(), &escalationv1.GetCaseBoardRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if board.GetLastSweepTime() == nil || board.GetOpen() != 1 || board.GetOverdue() != 1 || board.GetColours()[2].GetEscalated() != 1 {
			t.Errorf("board = %v", board)
		}
	})
}

// A limit that spans the National Day holiday ends on the right working day, and the 调休
// Saturday after it counts.
func TestNationalDayLimits(t *testing.T) {
	forEachBackend(t, cst(2026, 9, 30, 9, 0), func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾分类亭损坏", "垃圾分类亭门坏了", 20)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		// From Wednesday 09-30: 10-01…10-07 off; 10-08, 10-09 and the make-up Saturday 10-10 are
		// the three working days.
		if got := c.GetResolveDeadline().AsTime(); !got.Equal(cst(2026, 10, 11, 0, 0)) {
			t.Errorf("resolve deadline %v, want 2026-10-11 00:00", got.In(cst(2026, 1, 1, 0, 0).Location()))
		}
		if got := c.GetReplyDeadline().AsTime(); !got.Equal(cst(2026, 10, 9, 0, 0)) {
			t.Errorf("reply deadline %v, want 2026-10-09 00:00", got)
		}
		if got := c.GetEscalateTime().AsTime(); !got.Equal(cst(2026, 10, 14, 0, 0)) {
			t.Errorf("escalate time %v, want 2026-10-14 00:00", got)
		}
		// Acknowledge is 2h on the clock: through the night, whatever the calendar.
		if got := c.GetAcknowledgeDeadline().AsTime(); !got.Equal(cst(2026, 9, 30, 11, 0)) {
			t.Errorf("acknowledge deadline %v", got)
		}
		tl := e.waitReplies(c)
		if msg := tl[len(tl)-1].GetMessage(); msg != "您反映的问题已立案办理，列入绿色清单，由二桥西社区负责办理，预计2026年10月10日前办结。" {
			t.Errorf("reply %q", msg)
		}
	})
}

// A demand moved to case handling while the escalation service is stopped gets exactly one case
// once it starts, however often the feed is replayed; and a replayed escalation feed adds no
// second reply to the demand's timeline.
func TestCasesWhileStopped(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, monday)
			d := e.problem(peihong, typev1.Category_CATEGORY_PROPERTY_HOUSING, "物业不作为", "电梯坏了物业一直不修", 60)
			e.toCase(peihong, d.GetName())
			stop := e.run()
			c := e.caseOf(d.GetName())
			if c.GetColour() != yellow || c.GetSubdistrictCode() != nahong {
				t.Fatalf("case = %v", c)
			}
			tl := e.waitReplies(c)
			// Replay both feeds from the start.
			stop()
			e.stopDemand()
			if _, err := e.db.Exec(t.Context(), `UPDATE consumer_cursors SET cursor = 0`); err != nil {
				t.Fatal(err)
			}
			if _, err := e.demDB.Exec(t.Context(), `UPDATE consumer_cursors SET cursor = 0 WHERE consumer = 'demand-cases'`); err != nil {
				t.Fatal(err)
			}
			e.stopDemand = e.runDemand()
			e.run()
			// A new case after the replay would be a second step of the demand; wait for the
			// followers to pass where they were, then count.
			d2 := e.problem(peihong, typev1.Category_CATEGORY_ENVIRONMENT, "路灯不亮", "小区路灯不亮", 10)
			e.toCase(peihong, d2.GetName())
			c2 := e.caseOf(d2.GetName())
			e.waitReplies(c2)
			e.caseOf(d.GetName()) // fails on two cases
			if h := e.history(c.GetName()); len(h) != 1 {
				t.Fatalf("history after the replay: %v", h)
			}
			if again := e.timeline(d.GetName()); len(again) != len(tl) {
				t.Fatalf("timeline grew from %d to %d entries on a replay", len(tl), len(again))
			}
		})
	}
}

// An unsatisfied rating reopens the case at its level, once per outcome; the demand shows
// IN_CASE again.
func TestUnsatisfiedRatingReopens(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, monday)
			stop := e.run()
			unsatisfiedRatingReopens(t, e, stop)
		})
	}
}

func unsatisfiedRatingReopens(t *testing.T, e *env, stop func()) {
	{
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾清运不及时", "垃圾站清运不及时", 40)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		staff := e.staff(erqiao)
		if _, err := e.cases.ResolveCase(staff, &escalationv1.ResolveCaseRequest{Name: c.GetName(), ResolutionNote: "已协调环卫每日清运。"}); err != nil {
			t.Fatal(err)
		}
		e.eventually("the demand resolved", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
		})
		if _, err := e.demands.RateDemand(e.resident("res-"+erqiao, erqiao), &demandv1.RateDemandRequest{Name: d.GetName(), Rating: demandv1.Rating_RATING_UNSATISFIED, Comment: "还是经常满"}); err != nil {
			t.Fatal(err)
		}
		e.eventually("the case reopened and the demand in it again", func() bool {
			got := e.get(c.GetName())
			return got.GetStatus() == escalationv1.CaseStatus_CASE_STATUS_ASSIGNED && got.GetReopenCount() == 1 &&
				e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_IN_CASE
		})
		got := e.get(c.GetName())
		if got.GetColour() != green || got.GetUnit() != "regions/"+erqiao {
			t.Errorf("reopened at another level: %v", got)
		}
		e.waitReplies(got)
		// Reopened by the rating itself (DemandRated), not inferred from the demand's move.
		reopened := func() []*escalationv1.CaseEvent {
			var out []*escalationv1.CaseEvent
			for _, h := range e.history(c.GetName()) {
				if h.GetKind() == escalationv1.CaseEventKind_CASE_EVENT_KIND_REOPENED {
					out = append(out, h)
				}
			}
			return out
		}
		if r := reopened(); len(r) != 1 || r[0].GetReason() != "居民对办理结果不满意" {
			t.Fatalf("reopenings: %v", r)
		}
		// The demand feed replayed from the start: the rating reopens nothing again.
		var before int64
		if err := e.db.QueryRow(t.Context(), `SELECT cursor FROM consumer_cursors WHERE consumer = 'escalation-cases'`).Scan(&before); err != nil {
			t.Fatal(err)
		}
		stop()
		if _, err := e.db.Exec(t.Context(), `UPDATE consumer_cursors SET cursor = 0 WHERE consumer = 'escalation-cases'`); err != nil {
			t.Fatal(err)
		}
		e.run()
		e.eventually("the replay consumed", func() bool {
			var now int64
			return e.db.QueryRow(t.Context(), `SELECT cursor FROM consumer_cursors WHERE consumer = 'escalation-cases'`).Scan(&now) == nil && now >= before
		})
		if r := reopened(); len(r) != 1 || e.get(c.GetName()).GetReopenCount() != 1 {
			t.Fatalf("after a replay: %d reopenings, reopen count %d", len(r), e.get(c.GetName()).GetReopenCount())
		}
		// Resolved again and rated satisfied: it stays resolved.
		if _, err := e.cases.ResolveCase(staff, &escalationv1.ResolveCaseRequest{Name: c.GetName(), ResolutionNote: "增设垃圾桶并每日两次清运。"}); err != nil {
			t.Fatal(err)
		}
		e.eventually("the demand resolved again", func() bool {
			return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
		})
		if _, err := e.demands.RateDemand(e.resident("res-"+erqiao, erqiao), &demandv1.RateDemandRequest{Name: d.GetName(), Rating: demandv1.Rating_RATING_SATISFIED}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if got := e.get(c.GetName()); got.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_RESOLVED || len(reopened()) != 1 {
			t.Errorf("after a satisfied rating: %v, %d reopenings", got.GetStatus(), len(reopened()))
		}
	}
}
