package demand_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// TestWednesdayAfterSchoolCare is the article's story: parents raise the lack of care on
// Wednesday afternoons at a 逢四说事 meeting of 二桥西; the community gathers their needs into
// one project, matches it to the parent volunteers, the youth league and the youth social-work
// space, and every parent can follow it on their demand's timeline.
func TestWednesdayAfterSchoolCare(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		groups := demoGroups()
		names := map[string]string{}
		for _, key := range []string{"parents", "league", "youthspace", "tea", "lawfirm"} {
			names[key] = e.seedGroup(groups[key])
		}
		staff := e.staff()

		mresp, err := e.client.CreateMeeting(staff, &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: erqiao, MeetingDate: "2025-11-14", Host: "二桥西社区党委",
		}})
		if err != nil {
			t.Fatal(err)
		}
		meeting := mresp.GetMeeting().GetName()

		parents := []struct{ title, name, phone string }{
			{"周三下午孩子放学早，家里没人看", "黄丽萍", "13977100001"},
			{"希望周三下午有人辅导孩子作业", "李建华", "13977100002"},
			{"双职工家庭周三下午托管困难", "陆海燕", "13977100003"},
		}
		var demands []string
		for _, p := range parents {
			d := demandOf(demandv1.DemandKind_DEMAND_KIND_NEED, typev1.Category_CATEGORY_CHILDCARE, demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING, p.title)
			d.Meeting = meeting
			d.Reporter = &demandv1.Reporter{Name: p.name, Phone: p.phone}
			got := e.createDemand(staff, d)
			if got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED || got.GetReporter().GetPhone() != p.phone {
				t.Fatalf("created %v", got)
			}
			accepted := e.moveDemand(got.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理，社区将统筹安排周三下午托管。")
			if accepted.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED {
				t.Fatalf("accepted %v", accepted.GetStatus())
			}
			demands = append(demands, got.GetName())
		}

		project := e.createProject(childcareProject(demands...))
		if project.GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED || !slices.Equal(project.GetDemands(), demands) {
			t.Fatalf("created project %v", project)
		}
		project = e.moveProject(project, demandv1.ProjectStatus_PROJECT_STATUS_APPROVED, "项目已通过审核，开始招募合伙人。")

		cands := e.match(project.GetName())
		if len(cands) < 3 {
			t.Fatalf("%d candidates: %v", len(cands), cands)
		}
		var top []string
		for i, c := range cands {
			b := c.GetBreakdown()
			if b == nil || len(c.GetReasons()) == 0 || c.GetDisplayName() == "" {
				t.Fatalf("candidate %s: breakdown %v reasons %v", c.GetPartner(), b, c.GetReasons())
			}
			if sum := b.GetCapability() + b.GetServiceArea() + b.GetAvailability() + b.GetLoad() + b.GetTrackRecord() + b.GetRecency(); sum != c.GetScore() {
				t.Fatalf("%s: breakdown adds up to %d, score %d", c.GetDisplayName(), sum, c.GetScore())
			}
			if i < 3 {
				top = append(top, c.GetPartner())
			} else if c.GetScore() > cands[2].GetScore() {
				t.Fatalf("candidates out of order: %v", cands)
			}
			if c.GetPartner() == names["tea"] && i < 3 {
				t.Fatalf("the tea studio ranks %d for after-school care", i+1)
			}
		}
		want := []string{names["parents"], names["league"], names["youthspace"]}
		slices.Sort(top)
		slices.Sort(want)
		if !slices.Equal(top, want) {
			t.Fatalf("top three %v, want the parents, the league and the youth space %v", top, want)
		}

		aresp, err := e.client.AcceptMatch(staff, &demandv1.AcceptMatchRequest{
			Name: project.GetName(), Partners: []string{names["parents"], names["league"], names["youthspace"]}, Etag: project.GetEtag(),
		})
		if err != nil {
			t.Fatal(err)
		}
		project = aresp.GetProject()
		if project.GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING ||
			!slices.Equal(project.GetMatchedPartners(), []string{names["parents"], names["league"], names["youthspace"]}) {
			t.Fatalf("after AcceptMatch: %v %v", project.GetStatus(), project.GetMatchedPartners())
		}
		got, err := e.client.GetProject(staff, &demandv1.GetProjectRequest{Name: project.GetName()})
		if err != nil || got.GetProject().GetEtag() != project.GetEtag() || got.GetProject().GetStatus() != project.GetStatus() {
			t.Fatalf("read back %v, %v", got.GetProject(), err)
		}

		// The contract service learns of the match from the feed.
		evs := e.watchUntil(0, func(ev *eventsv1.Event) bool { return ev.GetType() == typeOf(&demandv1.ProjectMatched{}) })
		var matched demandv1.ProjectMatched
		if err := evs[len(evs)-1].GetPayload().UnmarshalTo(&matched); err != nil {
			t.Fatal(err)
		}
		if matched.GetProject().GetName() != project.GetName() || len(matched.GetPartners()) != 3 {
			t.Fatalf("ProjectMatched %v", &matched)
		}
		checkFeedHasNoReporter(t, evs)

		// Every parent follows it: submitted, accepted, in the project, and each step of the
		// project, always with a message.
		for i, d := range demands {
			dd := e.getDemand(staff, d)
			if dd.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT || dd.GetProject() != project.GetName() {
				t.Fatalf("demand %d: %v in %q", i, dd.GetStatus(), dd.GetProject())
			}
			entries := e.timeline(d)
			var steps []string
			for _, en := range entries {
				if strings.TrimSpace(en.GetMessage()) == "" {
					t.Fatalf("demand %d: entry %v has no message", i, en)
				}
				steps = append(steps, strings.TrimPrefix(en.GetKind().String(), "TIMELINE_ENTRY_KIND_")+" "+strings.TrimPrefix(en.GetToStatus().String(), "DEMAND_STATUS_"))
			}
			want := []string{"STATUS_CHANGE SUBMITTED", "STATUS_CHANGE ACCEPTED", "STATUS_CHANGE IN_PROJECT", "PROJECT_UPDATE IN_PROJECT", "PROJECT_UPDATE IN_PROJECT"}
			if !slices.Equal(steps, want) {
				t.Fatalf("demand %d timeline %v, want %v", i, steps, want)
			}
			last := entries[len(entries)-1].GetMessage()
			for _, key := range []string{"parents", "league", "youthspace"} {
				if !strings.Contains(last, groups[key].GetDisplayName()) {
					t.Fatalf("the match reply %q does not name %s", last, groups[key].GetDisplayName())
				}
			}
		}

		m, err := e.client.GetMeeting(staff, &demandv1.GetMeetingRequest{Name: meeting})
		if err != nil || m.GetMeeting().GetDemandCount() != 3 {
			t.Fatalf("meeting: %v, %v", m.GetMeeting(), err)
		}
	})
}

// checkFeedHasNoReporter checks that no demand on the feed carries the reporter.
func checkFeedHasNoReporter(t *testing.T, evs []*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		if ev.GetType() != typeOf(&demandv1.DemandSubmitted{}) {
			continue
		}
		var s demandv1.DemandSubmitted
		if err := ev.GetPayload().UnmarshalTo(&s); err != nil {
			t.Fatal(err)
		}
		if s.GetDemand().GetReporter() != nil || s.GetDemand().GetTitle() == "" {
			t.Fatalf("DemandSubmitted carries %v", s.GetDemand())
		}
	}
}

// TestTrackRecord: an activity recorded on the partner service reaches the demand service
// through the partner feed, and counts in the partner's next match.
func TestTrackRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		parents := e.seedGroup(demoGroups()["parents"])
		project := e.approvedProject()
		before := candidateOf(e.match(project.GetName()), parents)
		if before == nil || before.GetActivityCount() != 0 || before.GetLastActivityDate() != "" {
			t.Fatalf("before any activity: %v", before)
		}

		day := time.Now().In(shanghai()).Format(time.DateOnly)
		if _, err := e.partners.RecordActivity(e.admin(), &partnerv1.RecordActivityRequest{Activity: &partnerv1.ServiceActivity{
			Partner: parents, CommunityCode: erqiao, Title: "周三下午“成长时光”托管", Kind: partnerv1.ActivityKind_ACTIVITY_KIND_CARE,
			ActivityDate: day, ParticipantCount: 4, PeopleServed: 18, VolunteerMinutes: 720,
		}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := candidateOf(e.match(project.GetName()), parents)
			if c.GetActivityCount() == 1 {
				if c.GetLastActivityDate() != day || c.GetBreakdown().GetTrackRecord() != 1 || c.GetBreakdown().GetRecency() != 10 ||
					c.GetScore() != before.GetScore()+11 {
					t.Fatalf("after the activity: %v (before %v)", c, before)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the activity did not reach the demand service: %v\n%s", c, e.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}
