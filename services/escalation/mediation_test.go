package escalation_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// A neighbours' dispute climbs the mediation ladder (阶梯式矛盾调和): the grid worker, the
// community's mediation committee, the sub-district's judicial office (the case turns yellow),
// the district (red), where the parties agree. Another fails at the top and closes unresolved.
func TestMediationLadder(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_OTHER, "楼上漏水邻里纠纷", "楼上装修漏水，协商不成", 2)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		grid := e.as(auth.RoleGridWorker, erqiao+"001")
		parties := []string{"受损业主", "楼上业主"}
		rec := func(ctx context.Context, outcome escalationv1.MediationOutcome, summary string) (*escalationv1.Case, error) {
			resp, err := e.cases.RecordMediationSession(ctx, &escalationv1.RecordMediationSessionRequest{Name: c.GetName(), Parties: parties, Outcome: outcome, Summary: summary})
			return resp.GetCase(), err
		}
		failed, agreed := escalationv1.MediationOutcome_MEDIATION_OUTCOME_FAILED, escalationv1.MediationOutcome_MEDIATION_OUTCOME_AGREED

		got, err := rec(grid, failed, "双方对赔偿金额分歧较大")
		if err != nil || got.GetMediationRung() != escalationv1.MediationRung_MEDIATION_RUNG_COMMUNITY_COMMITTEE || got.GetColour() != green {
			t.Fatalf("after the grid worker: %v, %v", got, err)
		}
		// The committee's rung is not the grid worker's.
		_, err = rec(grid, agreed, "越级记录")
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		got, err = rec(e.staff(erqiao), failed, "楼上业主不认可漏水原因")
		if err != nil || got.GetMediationRung() != escalationv1.MediationRung_MEDIATION_RUNG_SUBDISTRICT_JUDICIAL_OFFICE ||
			got.GetColour() != yellow || got.GetUnit() != "regions/"+jiangnan || got.GetEscalationCount() != 1 {
			t.Fatalf("after the committee: %v, %v", got, err)
		}
		_, err = rec(e.staff(erqiao), agreed, "社区越级记录")
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		got, err = rec(e.street(jiangnan), failed, "需委托第三方鉴定")
		if err != nil || got.GetMediationRung() != escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT || got.GetColour() != red {
			t.Fatalf("after the judicial office: %v, %v", got, err)
		}
		got, err = rec(e.districtOfficer(), agreed, "经鉴定为楼上防水层破损，楼上业主负责维修并赔偿2000元。")
		if err != nil || got.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_RESOLVED || got.GetResolutionNote() == "" {
			t.Fatalf("agreed: %v, %v", got, err)
		}
		sessions := 0
		for _, ev := range e.history(c.GetName()) {
			if ev.GetKind() == escalationv1.CaseEventKind_CASE_EVENT_KIND_MEDIATED {
				sessions++
				if len(ev.GetSession().GetParties()) != 2 || ev.GetSession().GetOutcome() == 0 || ev.GetReply() == "" {
					t.Errorf("session step %v", ev)
				}
			}
		}
		if sessions != 4 {
			t.Fatalf("%d sessions recorded", sessions)
		}
		e.waitReplies(got)

		// Bad sessions.
		_, err = e.cases.RecordMediationSession(e.districtOfficer(), &escalationv1.RecordMediationSessionRequest{Name: c.GetName(), Parties: parties, Summary: "无结果"})
		apierrtest.WantField(t, err, "outcome")
		_, err = e.cases.RecordMediationSession(e.districtOfficer(), &escalationv1.RecordMediationSessionRequest{Name: c.GetName(), Parties: parties[:1], Outcome: failed, Summary: "一方"})
		apierrtest.WantField(t, err, "parties")

		// A dispute that fails at the top closes unresolved.
		d2 := e.problem(fujing, typev1.Category_CATEGORY_PROPERTY_HOUSING, "物业费纠纷", "业主与物业公司物业费纠纷", 300)
		e.toCase(fujing, d2.GetName())
		c = e.caseOf(d2.GetName())
		if c.GetColour() != yellow {
			t.Fatalf("property dispute: %v", c)
		}
		parties = []string{"业主代表", "物业公司"}
		if got, err = rec(e.street(jiangnan), failed, "物业公司拒不让步"); err != nil || got.GetMediationRung() != escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT {
			t.Fatalf("judicial office: %v, %v", got, err)
		}
		got, err = rec(e.districtOfficer(), failed, "双方分歧无法调和，建议通过诉讼解决。")
		if err != nil || got.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED {
			t.Fatalf("failed at the top: %v, %v", got, err)
		}
	})
}
