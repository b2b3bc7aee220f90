package demand_test

import (
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// TestReferencesOutOfScopeReadAsMissing: every name a request refers to is resolved in the
// caller's scope first, so a record of a community the caller may not see reads exactly like
// one that does not exist — the same code, the same field, the same words — and nothing of it
// (its community's name or code) leaks into the error.
func TestReferencesOutOfScopeReadAsMissing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fujingStaff := e.as(auth.RoleCommunityStaff, fujing)
		hiddenDemand := e.createDemand(fujingStaff, &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: needOf("").GetCategory(), Channel: demandv1.Channel_CHANNEL_WALK_IN,
			Title: "福景社区的托管需求", CommunityCode: fujing,
		})
		if _, err := e.client.ChangeDemandStatus(fujingStaff, &demandv1.ChangeDemandStatusRequest{
			Name: hiddenDemand.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理"}); err != nil {
			t.Fatal(err)
		}
		mresp, err := e.client.CreateMeeting(fujingStaff, &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: fujing, MeetingDate: "2025-12-04"}})
		if err != nil {
			t.Fatal(err)
		}
		hiddenMeeting := mresp.GetMeeting().GetName()
		tea := demoGroups()["tea"] // serves 沛鸿 only: nothing to do with 二桥西
		hiddenGroup := e.seedGroup(tea)

		mine := e.createDemand(e.staff(), needOf("二桥西的托管需求"))
		needs := e.acceptedNeeds("周三下午托管")
		project := e.approvedProject(needs...)

		cases := []struct {
			name   string
			hidden string
			// missing is a well-formed name of the same collection that does not exist.
			missing string
			call    func(name string) error
		}{
			{"MarkDuplicate duplicate_of", hiddenDemand.GetName(), "demands/" + ulid.Make().String(), func(n string) error {
				_, err := e.client.MarkDuplicate(e.staff(), &demandv1.MarkDuplicateRequest{Name: mine.GetName(), DuplicateOf: n})
				return err
			}},
			{"CreateProject demands", hiddenDemand.GetName(), "demands/" + ulid.Make().String(), func(n string) error {
				_, err := e.client.CreateProject(e.staff(), &demandv1.CreateProjectRequest{Project: childcareProject(n)})
				return err
			}},
			{"AddProjectDemands demands", hiddenDemand.GetName(), "demands/" + ulid.Make().String(), func(n string) error {
				_, err := e.client.AddProjectDemands(e.staff(), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: []string{n}})
				return err
			}},
			{"CreateDemand meeting", hiddenMeeting, "meetings/" + ulid.Make().String(), func(n string) error {
				d := needOf("逢四说事上提出的需求")
				d.Channel, d.Meeting = demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING, n
				_, err := e.client.CreateDemand(e.staff(), &demandv1.CreateDemandRequest{Demand: d})
				return err
			}},
			{"AcceptMatch partners", hiddenGroup, "partnerGroups/" + ulid.Make().String(), func(n string) error {
				_, err := e.client.AcceptMatch(e.staff(), &demandv1.AcceptMatchRequest{Name: project.GetName(), Partners: []string{n}})
				return err
			}},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				hidden, missing := tt.call(tt.hidden), tt.call(tt.missing)
				if hidden == nil || missing == nil {
					t.Fatalf("hidden: %v, missing: %v; both must be refused", hidden, missing)
				}
				hs, ms := status.Convert(hidden), status.Convert(missing)
				if hs.Code() != ms.Code() {
					t.Errorf("code %v for a hidden name, %v for a missing one", hs.Code(), ms.Code())
				}
				if h, m := strings.ReplaceAll(hs.Message(), tt.hidden, "NAME"), strings.ReplaceAll(ms.Message(), tt.missing, "NAME"); h != m {
					t.Errorf("a hidden name reads %q, a missing one %q", h, m)
				}
				if h, m := fields(hs), fields(ms); h != m {
					t.Errorf("fields %q for a hidden name, %q for a missing one", h, m)
				}
				for _, leak := range []string{fujing, "福景", peihong, tea.GetDisplayName()} {
					if strings.Contains(hs.Message(), leak) {
						t.Errorf("the error names %q: %s", leak, hs.Message())
					}
				}
			})
		}
		// Nothing was written by the refusals: the hidden demand is still only accepted, and
		// the project still gathers only its own need.
		if got := e.getDemand(fujingStaff, hiddenDemand.GetName()); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED {
			t.Errorf("the hidden demand is %v", got.GetStatus())
		}
		presp, err := e.client.GetProject(e.staff(), &demandv1.GetProjectRequest{Name: project.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got := presp.GetProject(); len(got.GetDemands()) != 1 || len(got.GetMatchedPartners()) != 0 {
			t.Errorf("the project changed: demands %v, partners %v", got.GetDemands(), got.GetMatchedPartners())
		}
		// In the scope of a district officer, who sees both communities, the same group is
		// found and accepted.
		_, err = e.client.AcceptMatch(e.as(auth.RoleDistrictOfficer, district), &demandv1.AcceptMatchRequest{Name: project.GetName(), Partners: []string{hiddenGroup}})
		if err != nil {
			t.Errorf("a district officer accepting %s: %v", hiddenGroup, err)
		}
	})
}

// fields lists the fields a status error's BadRequest names.
func fields(st *status.Status) string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return strings.Join(out, ",")
}
