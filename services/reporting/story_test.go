package reporting_test

import (
	"fmt"
	"strconv"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/region"
)

// model counts the scripted history independently of the service: per community, by hand.
type model map[string]*reportingv1.Figures

func (m model) at(community string) *reportingv1.Figures {
	if m[community] == nil {
		m[community] = &reportingv1.Figures{}
	}
	return m[community]
}

// of is the model's figures of a region: the sum over the communities it holds.
func (m model) of(code string) *reportingv1.Figures {
	tree := region.Demo()
	out := &reportingv1.Figures{}
	for c, f := range m {
		if !tree.Contains(code, c) {
			continue
		}
		out.PartnerGroups += f.PartnerGroups
		out.Partners += f.Partners
		out.Projects += f.Projects
		out.MattersSolved += f.MattersSolved
		out.ServiceSessions += f.ServiceSessions
		out.PeopleServed += f.PeopleServed
		out.VolunteerHours += f.VolunteerHours // whole hours per community in this script
		out.Demands += f.Demands
		out.CasesOpened += f.CasesOpened
		out.Escalations += f.Escalations
		out.CasesClosed += f.CasesClosed
		out.CasesOnTime += f.CasesOnTime
		out.ClosedUnresolved += f.ClosedUnresolved
		out.Ratings += f.Ratings
		out.SatisfiedRatings += f.SatisfiedRatings
		out.MeetingsHeld += f.MeetingsHeld
	}
	return out
}

// script drives a history through the real services' APIs and counts it in m.
type script struct {
	e *env
	m model
}

func (s *script) partner(community string, channel partnerv1.RecruitmentChannel) string {
	s.e.t.Helper()
	resp, err := s.e.partners.CreatePartner(s.e.admin(), &partnerv1.CreatePartnerRequest{Partner: &partnerv1.Partner{
		DisplayName: "志愿者", RegionCode: community, ServiceAreas: []string{community}, RecruitmentChannel: channel,
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE}},
		Contact:      &partnerv1.Contact{PersonName: "唐丽", Phone: "13807710012"},
	}})
	if err != nil {
		s.e.t.Fatal(err)
	}
	name := resp.GetPartner().GetName()
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		if _, err := s.e.partners.ChangePartnerStatus(s.e.admin(), &partnerv1.ChangePartnerStatusRequest{Name: name, Status: st}); err != nil {
			s.e.t.Fatal(err)
		}
	}
	s.m.at(community).Partners++
	return name
}

func (s *script) group(community string) string {
	s.e.t.Helper()
	resp, err := s.e.partners.CreatePartnerGroup(s.e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: &partnerv1.PartnerGroup{
		DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: community, ServiceAreas: []string{community},
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CULTURE_SPORTS}},
		Contact:      &partnerv1.Contact{PersonName: "覃雅琴", Phone: "13807710004"},
	}})
	if err != nil {
		s.e.t.Fatal(err)
	}
	s.m.at(community).PartnerGroups++
	return resp.GetPartnerGroup().GetName()
}

func (s *script) activity(partner, community string, people, minutes int32) {
	s.e.t.Helper()
	if _, err := s.e.partners.RecordActivity(s.e.admin(), &partnerv1.RecordActivityRequest{Activity: &partnerv1.ServiceActivity{
		Partner: partner, CommunityCode: community, Title: "周三下午托管", Kind: partnerv1.ActivityKind_ACTIVITY_KIND_CARE,
		ActivityDate: today(), PeopleServed: people, VolunteerMinutes: minutes, ParticipantCount: 3,
	}}); err != nil {
		s.e.t.Fatal(err)
	}
	f := s.m.at(community)
	f.ServiceSessions++
	f.PeopleServed += int64(people)
	f.VolunteerHours += int64(minutes) / 60
}

// demand files a demand as the community's resident and has staff accept it.
func (s *script) demand(community string, kind demandv1.DemandKind, title string) string {
	s.e.t.Helper()
	resp, err := s.e.demands.CreateDemand(s.e.resident(community), &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
		Kind: kind, Category: typev1.Category_CATEGORY_ENVIRONMENT, Channel: demandv1.Channel_CHANNEL_ONLINE,
		Title: title, Description: title + "，请社区帮忙。", CommunityCode: community,
		Reporter: &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"},
	}})
	if err != nil {
		s.e.t.Fatal(err)
	}
	name := resp.GetDemand().GetName()
	s.move(community, name, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED)
	s.m.at(community).Demands++
	return name
}

func (s *script) move(community, name string, to demandv1.DemandStatus) {
	s.e.t.Helper()
	if _, err := s.e.demands.ChangeDemandStatus(s.e.staff(community), &demandv1.ChangeDemandStatusRequest{Name: name, Status: to, Reply: "处理进展", Reason: "经协调暂无条件办理"}); err != nil {
		s.e.t.Fatalf("move %s to %v: %v", name, to, err)
	}
}

func (s *script) rate(community, name string, r demandv1.Rating) {
	s.e.t.Helper()
	if _, err := s.e.demands.RateDemand(s.e.resident(community), &demandv1.RateDemandRequest{Name: name, Rating: r}); err != nil {
		s.e.t.Fatalf("rate %s: %v", name, err)
	}
	f := s.m.at(community)
	f.Ratings++
	if r == demandv1.Rating_RATING_SATISFIED || r == demandv1.Rating_RATING_BASICALLY_SATISFIED {
		f.SatisfiedRatings++
	}
}

// meeting records a community meeting of kind on date as the community's staff; it counts when
// date is in this year's period.
func (s *script) meeting(community string, kind demandv1.MeetingKind, date string) *demandv1.Meeting {
	s.e.t.Helper()
	resp, err := s.e.demands.CreateMeeting(s.e.staff(community), &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
		Kind: kind, CommunityCode: community, MeetingDate: date, Host: "社区书记", AttendeeCount: 12,
	}})
	if err != nil {
		s.e.t.Fatal(err)
	}
	if date[:4] == today()[:4] && date <= today() {
		s.m.at(community).MeetingsHeld++
	}
	return resp.GetMeeting()
}

// toCase moves a PROBLEM to IN_CASE and returns its case once the escalation service opened it.
func (s *script) toCase(community, demand string) *escalationv1.Case {
	s.e.t.Helper()
	s.move(community, demand, demandv1.DemandStatus_DEMAND_STATUS_IN_CASE)
	var c *escalationv1.Case
	s.e.eventually("the case of "+demand, func() bool {
		resp, err := s.e.cases.ListCases(s.e.districtOfficer(), &escalationv1.ListCasesRequest{Filter: fmt.Sprintf("demand = %q", demand)})
		if err != nil {
			s.e.t.Fatal(err)
		}
		if len(resp.GetCases()) == 1 {
			c = resp.GetCases()[0]
		}
		return c != nil
	})
	s.m.at(community).CasesOpened++
	return c
}

// history is the scripted history: partners recruited, activities recorded, needs solved by
// hand (one reopened and solved again), a need closed unresolved, problems escalated and
// resolved through cases, ratings.
func history(t *testing.T, e *env) model {
	s := &script{e: e, m: model{}}
	p1 := s.partner(erqiao, partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_OPEN_CALL)
	s.partner(erqiao, partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_DOOR_KNOCKING)
	p3 := s.partner(peihong, partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_REFERRAL)
	s.group(erqiao)
	s.group(fujing)
	s.activity(p1, erqiao, 30, 120)
	s.activity(p1, erqiao, 20, 60)
	s.activity(p3, peihong, 50, 180)

	need := demandv1.DemandKind_DEMAND_KIND_NEED
	problem := demandv1.DemandKind_DEMAND_KIND_PROBLEM
	resolved := demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
	d1 := s.demand(erqiao, need, "周三下午孩子无人照看")
	s.move(erqiao, d1, resolved)
	s.m.at(erqiao).MattersSolved++
	s.rate(erqiao, d1, demandv1.Rating_RATING_SATISFIED)
	// Reopened and resolved again: one matter solved.
	d2 := s.demand(erqiao, need, "老人需要助餐")
	s.move(erqiao, d2, resolved)
	s.move(erqiao, d2, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED)
	s.move(erqiao, d2, resolved)
	s.m.at(erqiao).MattersSolved++
	d3 := s.demand(fujing, need, "希望开设书法班")
	s.move(fujing, d3, demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED)
	s.m.at(fujing).ClosedUnresolved++
	s.rate(fujing, d3, demandv1.Rating_RATING_BASICALLY_SATISFIED)
	s.demand(peihong, need, "需要法律咨询")

	// A problem solved through its case: the case counts through its demand, once.
	d4 := s.demand(erqiao, problem, "小区垃圾桶满溢")
	c4 := s.toCase(erqiao, d4)
	staff := e.staff(erqiao)
	cl, err := e.cases.ClassifyCase(staff, &escalationv1.ClassifyCaseRequest{Name: c4.GetName(), Colour: escalationv1.Colour_COLOUR_GREEN, Etag: c4.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.AcceptCase(staff, &escalationv1.AcceptCaseRequest{Name: cl.GetCase().GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.ResolveCase(staff, &escalationv1.ResolveCaseRequest{Name: c4.GetName(), ResolutionNote: "已增设垃圾桶并每日清运两次。"}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the demand resolved by its case", func() bool {
		resp, err := e.demands.GetDemand(e.staff(erqiao), &demandv1.GetDemandRequest{Name: d4})
		return err == nil && resp.GetDemand().GetStatus() == resolved
	})
	s.m.at(erqiao).MattersSolved++
	s.m.at(erqiao).CasesClosed++
	s.m.at(erqiao).CasesOnTime++
	s.rate(erqiao, d4, demandv1.Rating_RATING_SATISFIED)

	// A problem escalated and still open.
	d5 := s.demand(peihong, problem, "小区路灯不亮")
	c5 := s.toCase(peihong, d5)
	cl5, err := e.cases.ClassifyCase(e.staff(peihong), &escalationv1.ClassifyCaseRequest{Name: c5.GetName(), Colour: escalationv1.Colour_COLOUR_GREEN, Etag: c5.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.EscalateCase(e.staff(peihong), &escalationv1.EscalateCaseRequest{Name: cl5.GetCase().GetName(), Reason: "需要街道协调"}); err != nil {
		t.Fatal(err)
	}
	s.m.at(peihong).Escalations++

	// A project in the library.
	if _, err := e.demands.CreateProject(e.staff(erqiao), &demandv1.CreateProjectRequest{Project: &demandv1.Project{
		Title: "周三下午托管", Category: typev1.Category_CATEGORY_CHILDCARE, ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN,
		CommunityCode: erqiao,
	}}); err != nil {
		t.Fatal(err)
	}
	s.m.at(erqiao).Projects++

	// Residents' meetings, counted on their own dates: one today in each of two communities,
	// and one first entered for next year, then corrected to today (it moves, never counts
	// twice).
	s.meeting(erqiao, demandv1.MeetingKind_MEETING_KIND_ELDERS_COUNCIL, today())
	s.meeting(peihong, demandv1.MeetingKind_MEETING_KIND_GRID_NIGHT_TALK, today())
	next := fmt.Sprintf("%d-06-15", atoi(today()[:4])+1)
	late := s.meeting(fujing, demandv1.MeetingKind_MEETING_KIND_GRID_NIGHT_TALK, next)
	late.MeetingDate = today()
	if _, err := e.demands.UpdateMeeting(e.staff(fujing), &demandv1.UpdateMeetingRequest{Meeting: late,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"meeting_date"}}}); err != nil {
		t.Fatal(err)
	}
	s.m.at(fujing).MeetingsHeld++
	return s.m
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// tallyEqual compares tallies by key and value, whatever their order.
func tallyEqual(got, want []*reportingv1.Tally) bool {
	m := map[string]int64{}
	for _, t := range got {
		m[t.GetKey()] += t.GetValue()
	}
	for _, t := range want {
		if m[t.GetKey()] != t.GetValue() {
			return false
		}
		delete(m, t.GetKey())
	}
	return len(m) == 0
}

// TestScriptedHistory drives a history through the real services and checks the figures of
// every level against the model; then a replay of every event and a rebuild change nothing.
func TestScriptedHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		m := history(t, e)
		regions := []string{district, jiangnan, erqiao, fujing, nahong, peihong}
		before := map[string]*reportingv1.Figures{}
		for _, code := range regions {
			before[code] = e.waitFigures(code, m.of(code))
		}
		f := before[district]
		if f.GetOnTimeRate() != 1 || f.GetSatisfactionRate() != 1 {
			t.Errorf("rates: on time %v, satisfaction %v", f.GetOnTimeRate(), f.GetSatisfactionRate())
		}
		if f.GetMedianResolution() == nil || f.GetMedianFirstReply() == nil {
			t.Errorf("medians unset: %v %v", f.GetMedianResolution(), f.GetMedianFirstReply())
		}
		var yellowOrGreen int64
		for _, c := range f.GetCasesByColour() {
			yellowOrGreen += c.GetValue()
		}
		if yellowOrGreen != 1 {
			t.Errorf("open cases by colour %v, want the escalated one only", f.GetCasesByColour())
		}
		wantKinds := []*reportingv1.Tally{{Key: "MEETING_KIND_ELDERS_COUNCIL", Value: 1}, {Key: "MEETING_KIND_GRID_NIGHT_TALK", Value: 2}}
		if !tallyEqual(f.GetMeetingsByKind(), wantKinds) {
			t.Errorf("meetings by kind %v, want %v", f.GetMeetingsByKind(), wantKinds)
		}

		// Every event delivered twice: the cursors go back to zero, the figures stay.
		e.stop()
		if _, err := e.db.Exec(t.Context(), `UPDATE consumer_cursors SET cursor = 0 WHERE consumer = 'reporting'`); err != nil {
			t.Fatal(err)
		}
		e.stop = runUntilStopped(t, "reporting.Run again", e.svc.Run)
		e.eventually("the feeds read again", func() bool {
			var behind int
			if err := e.db.QueryRow(t.Context(), `SELECT COUNT(*) FROM consumer_cursors WHERE consumer = 'reporting' AND source <> 'contract' AND cursor = 0`).Scan(&behind); err != nil {
				t.Fatal(err)
			}
			return behind == 0
		})
		for _, code := range regions {
			if got := e.headline(code); !proto.Equal(got, before[code]) {
				t.Errorf("%s after a replay:\n got %v\nwant %v", code, got, before[code])
			}
		}

		// A rebuild from cursor zero gives the same figures.
		resp, err := e.reports.RebuildReports(e.admin(), &reportingv1.RebuildReportsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetSources()) != 4 {
			t.Errorf("rebuilt sources %v", resp.GetSources())
		}
		for _, code := range regions {
			e.waitFigures(code, m.of(code))
			e.eventually("the rebuilt figures of "+code, func() bool { return proto.Equal(e.headline(code), before[code]) })
		}
		_, err = e.reports.RebuildReports(e.districtOfficer(), &reportingv1.RebuildReportsRequest{})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
	})
}
