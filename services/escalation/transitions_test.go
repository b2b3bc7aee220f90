package escalation_test

import (
	"testing"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// A case walked through every transition: each step with a reply puts exactly one entry on
// the resident's timeline, and a replayed feed puts no second one.
func TestEveryTransitionHasAReply(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, monday)
			e.run()
			d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "小区积水", "暴雨后小区门口积水", 50)
			e.toCase(erqiao, d.GetName())
			c := e.caseOf(d.GetName())
			staff, street, officer, power := e.staff(erqiao), e.street(jiangnan), e.districtOfficer(), e.department("power")
			must := func(resp interface{ GetCase() *escalationv1.Case }, err error) *escalationv1.Case {
				t.Helper()
				if err != nil {
					t.Fatalf("step: %v", err)
				}
				return resp.GetCase()
			}
			name := c.GetName()
			c = must(e.cases.ClassifyCase(staff, &escalationv1.ClassifyCaseRequest{Name: name, Colour: yellow, Reason: "涉及市政排水管网，需街道协调"}))
			if c.GetColour() != yellow || c.GetUnit() != "regions/"+jiangnan || !c.GetColourConfirmed() {
				t.Fatalf("classified: %v", c)
			}
			c = must(e.cases.EscalateCase(street, &escalationv1.EscalateCaseRequest{Name: name, Reason: "需区住建、城管部门统筹", Etag: c.GetEtag()}))
			if c.GetColour() != red || c.GetEscalationCount() != 1 {
				t.Fatalf("escalated: %v", c)
			}
			c = must(e.cases.AssignCase(officer, &escalationv1.AssignCaseRequest{Name: name, Unit: "departments/power", Assignee: "王工"}))
			c = must(e.cases.HandBackCase(power, &escalationv1.HandBackCaseRequest{Name: name, Reason: "积水属排水问题，不属供电部门职责"}))
			if c.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_HANDED_BACK || c.GetUnit() != "regions/"+district {
				t.Fatalf("handed back: %v", c)
			}
			// Handed back, it is no longer power's to see.
			if _, err := e.cases.GetCase(power, &escalationv1.GetCaseRequest{Name: name}); err == nil {
				t.Fatal("the department still sees a case it handed back")
			}
			c = must(e.cases.AssignCase(officer, &escalationv1.AssignCaseRequest{Name: name, Unit: "departments/urban_management"}))
			um := e.department("urban_management")
			c = must(e.cases.AcceptCase(um, &escalationv1.AcceptCaseRequest{Name: name}))
			c = must(e.cases.ReplyToCase(um, &escalationv1.ReplyToCaseRequest{Name: name, Message: "已安排抽水车，正在疏通排水管。"}))
			mt, err := e.cases.CreateCaseMeeting(um, &escalationv1.CreateCaseMeetingRequest{Parent: name, Meeting: &escalationv1.CaseMeeting{
				MeetingDate: "2026-11-02", Decisions: "城管局疏通管网，物业清理雨水口。",
				Participants: []*escalationv1.Participant{
					{DisplayName: "区城市管理局", Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT},
					{DisplayName: "小区物业公司", Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_PROPERTY_COMPANY},
				},
				Duties: []*escalationv1.Duty{{Description: "清理雨水口", Owner: "小区物业公司", DueDate: "2026-11-04"}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.cases.CompleteMeetingDuty(um, &escalationv1.CompleteMeetingDutyRequest{Name: mt.GetMeeting().GetName(), DutyId: "1"}); err != nil {
				t.Fatal(err)
			}
			c = must(e.cases.RequestExtension(um, &escalationv1.RequestExtensionRequest{Name: name, Workdays: 5, Reason: "需更换排水管"}))
			// The department cannot grant itself more time; the district can.
			if _, err := e.cases.DecideExtension(um, &escalationv1.DecideExtensionRequest{Name: name, Grant: true}); err == nil {
				t.Fatal("a department granted its own extension")
			}
			before := c.GetResolveDeadline().AsTime()
			c = must(e.cases.DecideExtension(officer, &escalationv1.DecideExtensionRequest{Name: name, Grant: true}))
			if !c.GetResolveDeadline().AsTime().After(before) || c.GetExtension().GetState() != escalationv1.ExtensionState_EXTENSION_STATE_GRANTED {
				t.Fatalf("extension: %v", c)
			}
			c = must(e.cases.DeescalateCase(officer, &escalationv1.DeescalateCaseRequest{Name: name, Reason: "管网已修复，余下由街道督办"}))
			if c.GetColour() != yellow || c.GetUnit() != "regions/"+jiangnan || c.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_ASSIGNED {
				t.Fatalf("de-escalated: %v", c)
			}
			c = must(e.cases.CloseCaseUnresolved(street, &escalationv1.CloseCaseUnresolvedRequest{Name: name, Reason: "小区地势低洼，需纳入明年老旧小区改造计划。"}))
			if c.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED || c.GetCloseReason() == "" {
				t.Fatalf("closed: %v", c)
			}
			e.eventually("the demand closed unresolved", func() bool {
				return e.demand(d.GetName()).GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED
			})

			h := e.history(name)
			var want []string
			for _, ev := range h {
				switch ev.GetKind() {
				case escalationv1.CaseEventKind_CASE_EVENT_KIND_EXTENSION_REQUESTED, escalationv1.CaseEventKind_CASE_EVENT_KIND_WARNED:
					if ev.GetReply() != "" {
						t.Errorf("%v tells the resident %q", ev.GetKind(), ev.GetReply())
					}
				default:
					if ev.GetReply() == "" {
						t.Errorf("%v has no reply", ev.GetKind())
					}
					want = append(want, ev.GetReply())
				}
			}
			if len(h) != 14 || len(want) != 13 {
				t.Fatalf("%d steps, %d replies: %v", len(h), len(want), h)
			}
			tl := e.waitReplies(c)
			got := replies(tl, want)
			if len(got) != len(want) {
				t.Fatalf("timeline has %d of the %d replies", len(got), len(want))
			}
			for i := range want {
				if got[i].GetMessage() != want[i] {
					t.Errorf("reply %d: %q, want %q", i, got[i].GetMessage(), want[i])
				}
			}

			// Replay the escalation feed into demand from the start: nothing new.
			e.stopDemand()
			if _, err := e.demDB.Exec(t.Context(), `UPDATE consumer_cursors SET cursor = 0 WHERE consumer = 'demand-cases'`); err != nil {
				t.Fatal(err)
			}
			e.stopDemand = e.runDemand()
			d2 := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "路面破损", "路面破损", 5)
			e.toCase(erqiao, d2.GetName())
			e.waitReplies(e.caseOf(d2.GetName())) // the follower has passed the replayed events
			if again := e.timeline(d.GetName()); len(again) != len(tl) {
				for _, en := range again[len(tl):] {
					t.Logf("added: %v", en)
				}
				t.Fatalf("the replay added %d entries", len(again)-len(tl))
			}
		})
	}
}
