package demand_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

func TestMeetingDays(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fourthDay := func(community, date string) (*demandv1.Meeting, error) {
			resp, err := e.client.CreateMeeting(e.staff(), &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
				Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: community, MeetingDate: date}})
			return resp.GetMeeting(), err
		}
		m, err := fourthDay(erqiao, "2025-12-14")
		if err != nil {
			t.Fatal(err)
		}
		// An elders' council the same day is another meeting, not on the 逢四说事 calendar.
		if _, err := e.client.CreateMeeting(e.staff(), &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_ELDERS_COUNCIL, CommunityCode: erqiao, MeetingDate: "2025-12-14"}}); err != nil {
			t.Fatal(err)
		}
		days, err := e.client.ListMeetingDays(e.as(auth.RoleResident, erqiao), &demandv1.ListMeetingDaysRequest{
			CommunityCode: erqiao, StartDate: "2025-12-01", EndDate: "2025-12-31"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range days.GetDays() {
			got = append(got, d.GetDate()+"="+d.GetMeeting())
		}
		if want := []string{"2025-12-04=", "2025-12-14=" + m.GetName(), "2025-12-24="}; !slices.Equal(got, want) {
			t.Fatalf("days %v, want %v", got, want)
		}

		_, err = fourthDay(erqiao, "2025-12-14")
		if st := apierrtest.WantCode(t, err, codes.AlreadyExists); !strings.Contains(st.Message(), erqiao) {
			t.Errorf("message %q does not name the community", st.Message())
		}
		// Nor may another 逢四说事 move onto that day; the refusal names what is there.
		later, err := fourthDay(erqiao, "2025-12-24")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.UpdateMeeting(e.staff(), &demandv1.UpdateMeetingRequest{
			Meeting:    &demandv1.Meeting{Name: later.GetName(), MeetingDate: "2025-12-14", Etag: later.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"meeting_date"}}})
		if st := apierrtest.WantCode(t, err, codes.AlreadyExists); !strings.Contains(st.Message(), erqiao) {
			t.Errorf("UpdateMeeting's message %q does not name the community", st.Message())
		}
		_, err = e.client.UpdateMeeting(e.staff(), &demandv1.UpdateMeetingRequest{
			Meeting:    &demandv1.Meeting{Name: later.GetName(), MeetingDate: "2025-12-25", Etag: later.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"meeting_date"}}})
		apierrtest.WantField(t, err, "meeting.meeting_date")
		upd, err := e.client.UpdateMeeting(e.staff(), &demandv1.UpdateMeetingRequest{
			Meeting:    &demandv1.Meeting{Name: later.GetName(), Minutes: "居民反映周三下午托管需求。", AttendeeCount: 23, Etag: later.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"minutes", "attendee_count"}}})
		if err != nil || upd.GetMeeting().GetAttendeeCount() != 23 || upd.GetMeeting().GetMeetingDate() != "2025-12-24" {
			t.Fatalf("minutes: %v, %v", upd.GetMeeting(), err)
		}
		// Another community meets the same day.
		if _, err := e.client.CreateMeeting(e.as(auth.RoleCommunityStaff, fujing), &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: fujing, MeetingDate: "2025-12-14"}}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.ListMeetingDays(e.staff(), &demandv1.ListMeetingDaysRequest{CommunityCode: erqiao, StartDate: "2025-01-01", EndDate: "2026-01-03"})
		apierrtest.WantField(t, err, "end_date")
		_, err = e.client.ListMeetingDays(e.staff(), &demandv1.ListMeetingDaysRequest{CommunityCode: erqiao, StartDate: "2025-12-31", EndDate: "2025-12-01"})
		apierrtest.WantField(t, err, "end_date")
		year, err := e.client.ListMeetingDays(e.staff(), &demandv1.ListMeetingDaysRequest{CommunityCode: erqiao, StartDate: "2025-01-01", EndDate: "2025-12-31"})
		if err != nil || len(year.GetDays()) != 36 {
			t.Fatalf("a year has %d meeting days, %v", len(year.GetDays()), err)
		}
	})
}

// gatheredStatus reads each demand's status and project as staff.
func (e *env) gatheredStatus(names ...string) []string {
	e.t.Helper()
	var out []string
	for _, n := range names {
		d := e.getDemand(e.staff(), n)
		out = append(out, strings.TrimPrefix(d.GetStatus().String(), "DEMAND_STATUS_")+" "+d.GetProject())
	}
	return out
}

func TestProjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		needs := e.acceptedNeeds("周三下午孩子没人看", "周三下午想有人辅导作业", "周三放学后无处可去")
		groups := demoGroups()
		parents, league := e.seedGroup(groups["parents"]), e.seedGroup(groups["league"])
		applied := e.registerGroup(groups["youthspace"]) // stays APPLIED

		t.Run("gathering only accepted needs", func(t *testing.T) {
			problem := demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_CHILDCARE, demandv1.Channel_CHANNEL_WALK_IN, "托管室的门锁坏了")
			p := e.createDemand(staff, problem)
			e.moveDemand(p.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理")
			fresh := e.createDemand(staff, needOf("周三下午托管"))
			tests := []struct {
				name    string
				demands []string
				field   string
			}{
				{"a problem", []string{p.GetName()}, "project.demands[0]"},
				{"a submitted need", []string{fresh.GetName()}, "project.demands[0]"},
				{"an accepted need then a submitted one", []string{needs[0], fresh.GetName()}, "project.demands[1]"},
			}
			for _, tt := range tests {
				_, err := e.client.CreateProject(staff, &demandv1.CreateProjectRequest{Project: childcareProject(tt.demands...)})
				apierrtest.WantField(t, err, tt.field)
			}
			list, err := e.client.ListProjects(staff, &demandv1.ListProjectsRequest{})
			if err != nil || len(list.GetProjects()) != 0 {
				t.Fatalf("projects after refused creates: %v, %v", list.GetProjects(), err)
			}
			if got := e.gatheredStatus(needs[0], fresh.GetName(), p.GetName()); !slices.Equal(got, []string{"ACCEPTED ", "SUBMITTED ", "ACCEPTED "}) {
				t.Fatalf("after refused creates: %v", got)
			}
		})

		t.Run("cancelled returns the needs", func(t *testing.T) {
			p := e.createProject(childcareProject(needs[0], needs[1]))
			if got := e.gatheredStatus(needs[0], needs[1]); !slices.Equal(got, []string{"IN_PROJECT " + p.GetName(), "IN_PROJECT " + p.GetName()}) {
				t.Fatalf("gathered: %v", got)
			}
			// A need is in one project at a time.
			_, err := e.client.CreateProject(staff, &demandv1.CreateProjectRequest{Project: childcareProject(needs[0])})
			apierrtest.WantField(t, err, "project.demands[0]")
			e.moveProject(p, demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED, "活动室改造，项目取消。")
			if got := e.gatheredStatus(needs[0], needs[1]); !slices.Equal(got, []string{"ACCEPTED ", "ACCEPTED "}) {
				t.Fatalf("after the cancel: %v", got)
			}
			entries := e.timeline(needs[0])
			last := entries[len(entries)-1]
			if last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE || last.GetToStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED ||
				!strings.Contains(last.GetMessage(), "活动室改造，项目取消。") {
				t.Fatalf("last entry %v", last)
			}
		})

		t.Run("completed resolves the needs", func(t *testing.T) {
			p := e.approvedProject(needs[0], needs[2])
			_, err := e.client.AcceptMatch(staff, &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{parents, applied}})
			apierrtest.WantField(t, err, "partners[1]")
			resp, err := e.client.AcceptMatch(staff, &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{parents}, Reply: "家长志愿者队接手。", Etag: p.GetEtag()})
			if err != nil {
				t.Fatal(err)
			}
			p = resp.GetProject()

			// While committed here, the parents carry the load into other matches.
			other := e.approvedProject()
			cands := e.match(other.GetName())
			if c := candidateOf(cands, parents); c.GetActiveCommitments() != 1 || c.GetBreakdown().GetLoad() != 7 {
				t.Fatalf("the committed partner: %v", c)
			}
			if c := candidateOf(cands, league); c.GetActiveCommitments() != 0 || c.GetBreakdown().GetLoad() != 10 {
				t.Fatalf("a free partner: %v", c)
			}

			for _, st := range []demandv1.ProjectStatus{demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING} {
				p = e.moveProject(p, st, "项目推进中。")
			}
			if got := e.gatheredStatus(needs[0], needs[2]); !slices.Equal(got, []string{"IN_PROJECT " + p.GetName(), "IN_PROJECT " + p.GetName()}) {
				t.Fatalf("while delivering: %v", got)
			}
			p = e.moveProject(p, demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED, "周三托管已常态化开展，感谢参与。")
			if got := e.gatheredStatus(needs[0], needs[2]); !slices.Equal(got, []string{"RESOLVED " + p.GetName(), "RESOLVED " + p.GetName()}) {
				t.Fatalf("after completion: %v", got)
			}
			entries := e.timeline(needs[2])
			last := entries[len(entries)-1]
			if last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE || last.GetToStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED ||
				!strings.Contains(last.GetMessage(), "周三托管已常态化开展，感谢参与。") {
				t.Fatalf("last entry %v", last)
			}
			_, err = e.client.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(), Status: demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED, Reply: "取消"})
			apierrtest.WantCode(t, err, codes.FailedPrecondition)
			// The partner is free again.
			if c := candidateOf(e.match(other.GetName()), parents); c.GetActiveCommitments() != 0 {
				t.Fatalf("after completion the partner has %d commitments", c.GetActiveCommitments())
			}
		})

		t.Run("a declined candidate stays out", func(t *testing.T) {
			p := e.approvedProject()
			if candidateOf(e.match(p.GetName()), league) == nil {
				t.Fatal("the league is not a candidate")
			}
			resp, err := e.client.DeclineCandidate(staff, &demandv1.DeclineCandidateRequest{Name: p.GetName(), Partner: league, Reason: "周三下午另有安排", Etag: p.GetEtag()})
			if err != nil {
				t.Fatal(err)
			}
			if d := resp.GetProject().GetDeclined(); len(d) != 1 || d[0].GetPartner() != league || d[0].GetActor() != "test-community_staff@"+erqiao {
				t.Fatalf("declined %v", d)
			}
			cands := e.match(p.GetName())
			if candidateOf(cands, league) != nil || candidateOf(cands, parents) == nil {
				t.Fatalf("after declining the league: %v", cands)
			}
			// The etag read before the decline is stale.
			_, err = e.client.AcceptMatch(staff, &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{parents}, Etag: p.GetEtag()})
			apierrtest.WantCode(t, err, codes.Aborted)
		})
	})
}

// TestPartnerServiceDown: matching needs the partner service; while it is away, matching says
// so and changes nothing, and the rest of the service carries on.
// A need raised after its project began joins it, and follows it from then on; a request
// that cannot be carried out in full changes nothing.
func TestAddProjectDemands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		first := e.acceptedNeeds("周三下午孩子没人接", "放学后想有人辅导作业")
		project := e.approvedProject(first...)
		late := e.acceptedNeeds("第四位家长：周三也需要托管")
		// Another community's need, a problem, one already in the project, one not yet accepted.
		fujingStaff := e.as(auth.RoleCommunityStaff, fujing)
		elsewhere := needOf("富景的托管需求")
		elsewhere.CommunityCode = fujing
		other := e.createDemand(fujingStaff, elsewhere).GetName()
		if _, err := e.client.ChangeDemandStatus(fujingStaff, &demandv1.ChangeDemandStatusRequest{
			Name: other, Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理"}); err != nil {
			t.Fatal(err)
		}
		problem := e.createDemand(e.staff(), demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_INFRASTRUCTURE,
			demandv1.Channel_CHANNEL_WALK_IN, "楼道灯坏了")).GetName()
		e.moveDemand(problem, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理")
		submitted := e.createDemand(e.staff(), needOf("刚提交的需求")).GetName()
		for _, tt := range []struct {
			name    string
			demands []string
			field   string
		}{
			{"another community", []string{late[0], other}, "demands[1]"},
			{"a problem", []string{late[0], problem}, "demands[1]"},
			{"already gathered", []string{first[0]}, "demands[0]"},
			{"not accepted", []string{submitted}, "demands[0]"},
			{"not a demand name", []string{"projects/01M8D6VHRAKBP9Z65ZYVS161TR"}, "demands[0]"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.client.AddProjectDemands(e.staff(), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: tt.demands})
				apierrtest.WantField(t, err, tt.field)
			})
		}
		if got := e.getDemand(e.staff(), late[0]); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || got.GetProject() != "" {
			t.Fatalf("a refused request moved %s: %v, %q", late[0], got.GetStatus(), got.GetProject())
		}
		// Not for another community's staff, nor for a grid worker; not with a stale etag.
		_, err := e.client.AddProjectDemands(fujingStaff, &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: late})
		apierrtest.WantCode(t, err, codes.NotFound)
		_, err = e.client.AddProjectDemands(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: late})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		stale := project.GetEtag()
		project = e.moveProject(project, demandv1.ProjectStatus_PROJECT_STATUS_MATCHING, "开始招募合伙人。")
		_, err = e.client.AddProjectDemands(e.staff(), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: late, Etag: stale})
		apierrtest.WantCode(t, err, codes.Aborted)

		resp, err := e.client.AddProjectDemands(e.staff(), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: late, Etag: project.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		project = resp.GetProject()
		if want := append(slices.Clone(first), late...); !slices.Equal(project.GetDemands(), want) || project.GetEtag() == "" {
			t.Fatalf("demands %v (etag %q), want %v", project.GetDemands(), project.GetEtag(), want)
		}
		if got := e.getDemand(e.staff(), late[0]); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT || got.GetProject() != project.GetName() {
			t.Fatalf("added demand: %v in %q", got.GetStatus(), got.GetProject())
		}
		// It follows the project like the others: cancelled, all return to the needs list.
		e.moveProject(project, demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED, "报名人数不足，项目取消，需求退回需求清单。")
		for _, name := range append(first, late...) {
			if got := e.getDemand(e.staff(), name); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || got.GetProject() != "" {
				t.Fatalf("%s after cancelling: %v in %q", name, got.GetStatus(), got.GetProject())
			}
		}
		entries := e.timeline(late[0])
		if !slices.ContainsFunc(entries, func(en *demandv1.TimelineEntry) bool { return strings.Contains(en.GetMessage(), "纳入社区项目") }) ||
			!slices.ContainsFunc(entries, func(en *demandv1.TimelineEntry) bool { return strings.Contains(en.GetMessage(), "项目取消") }) {
			t.Fatalf("timeline of the added demand lacks the project's replies: %v", entries)
		}
		// An ended project gathers no more.
		_, err = e.client.AddProjectDemands(e.staff(), &demandv1.AddProjectDemandsRequest{Name: project.GetName(), Demands: late})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
	})
}

// Partners that tie in partner's ranking are all scored, whatever page partner lists them on:
// the one available at the project's hours comes first though partner lists it last.
func TestMatchScoresEveryTiedCandidate(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			// Pages of two, so that five candidates take three calls; the offers of the page
			// shown are read after, by name.
			var searches, offerReads atomic.Int32
			smallPages := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
				cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if r, ok := req.(*partnerv1.SearchPartnersRequest); ok {
					if len(r.GetNames()) > 0 {
						offerReads.Add(1)
					} else {
						searches.Add(1)
					}
					r = proto.CloneOf(r)
					r.PageSize = 2
					req = r
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			})
			e := start(t, b, smallPages)
			var partners []string
			for i := range 5 {
				p := &partnerv1.Partner{
					DisplayName: fmt.Sprintf("志愿者%d", i), RegionCode: erqiao, ServiceAreas: []string{erqiao},
					Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, "托管")},
					Availability: []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_SATURDAY, StartTime: "09:00", EndTime: "11:00"}},
				}
				if i == 4 { // registered last, listed last: the only one free on Wednesday afternoons
					p.Availability = []*typev1.WeeklyWindow{wed("15:00", "18:00")}
				}
				partners = append(partners, e.seedPartner(p))
			}
			project := e.approvedProject(e.acceptedNeeds("孩子放学后没人看")...)
			cands := e.match(project.GetName())
			if len(cands) != 5 || cands[0].GetPartner() != partners[4] || cands[0].GetBreakdown().GetAvailability() == 0 {
				t.Fatalf("candidates %v, want all five with %s first", cands, partners[4])
			}
			if n := searches.Load(); n != 3 {
				t.Fatalf("%d searches for five candidates in pages of two, want 3", n)
			}
			if n := offerReads.Load(); n != 3 { // five names, in pages of two
				t.Fatalf("%d reads of the shown candidates' offers, want 3", n)
			}
		})
	}
}

func TestPartnerServiceDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		parents := e.seedGroup(demoGroups()["parents"])
		p := e.approvedProject(e.acceptedNeeds("周三下午孩子没人看")...)
		e.stopPartner()

		_, err := e.client.MatchPartners(e.staff(), &demandv1.MatchPartnersRequest{Name: p.GetName()})
		apierrtest.WantCode(t, err, codes.Unavailable)
		_, err = e.client.AcceptMatch(e.staff(), &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{parents}, Etag: p.GetEtag()})
		apierrtest.WantCode(t, err, codes.Unavailable)
		got, err := e.client.GetProject(e.staff(), &demandv1.GetProjectRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetProject().GetEtag() != p.GetEtag() || got.GetProject().GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_APPROVED ||
			len(got.GetProject().GetMatchedPartners()) != 0 {
			t.Fatalf("after the outage: %v", got.GetProject())
		}
		d := e.createDemand(e.staff(), needOf("周三下午托管"))
		if d.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED {
			t.Fatalf("created %v", d)
		}
	})
}

// During a rolling upgrade the partner service may still be the previous release, which
// refuses PARTY_VIEW_NAME (an enum value it does not know) and names results only in their
// party: a match still ranks every candidate, asking again with the read mask it knows.
func TestMatchWithPartnerOfPreviousRelease(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			var refused atomic.Int32
			previous := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
				cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				r, ok := req.(*partnerv1.SearchPartnersRequest)
				if ok && r.GetView() == partnerv1.PartyView_PARTY_VIEW_NAME {
					refused.Add(1)
					return status.Error(codes.InvalidArgument, "view: value must be one of the defined enum values")
				}
				if err := invoker(ctx, method, req, reply, cc, opts...); err != nil || !ok {
					return err
				}
				for _, res := range reply.(*partnerv1.SearchPartnersResponse).GetResults() {
					res.Name = ""
				}
				return nil
			})
			e := start(t, b, previous)
			var partners []string
			for i := range 3 {
				partners = append(partners, e.seedPartner(&partnerv1.Partner{
					DisplayName: fmt.Sprintf("志愿者%d", i), RegionCode: erqiao, ServiceAreas: []string{erqiao},
					Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, "托管")},
					Availability: []*typev1.WeeklyWindow{wed("15:00", "18:00")},
				}))
			}
			project := e.approvedProject(e.acceptedNeeds("孩子放学后没人看")...)
			cands := e.match(project.GetName())
			var got []string
			for _, c := range cands {
				got = append(got, c.GetPartner())
				if c.GetDisplayName() == "" || len(c.GetReasons()) == 0 {
					t.Errorf("candidate %v: want its display name and reasons", c)
				}
			}
			slices.Sort(got)
			slices.Sort(partners)
			if !slices.Equal(got, partners) {
				t.Fatalf("candidates %v, want %v", got, partners)
			}
			if n := refused.Load(); n != 1 {
				t.Fatalf("%d searches refused, want the first only", n)
			}
		})
	}
}
