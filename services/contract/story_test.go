package contract_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// careGroup is a partner group of 二桥西 able to staff Wednesday afternoon care.
func careGroup(name string) *partnerv1.PartnerGroup {
	return &partnerv1.PartnerGroup{
		DisplayName: name, Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: erqiao,
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: []string{"托管", "作业辅导"}}},
		ServiceAreas: []string{erqiao}, Availability: []*typev1.WeeklyWindow{wed("15:00", "18:00")},
		Contact: &partnerv1.Contact{PersonName: "唐晓梅", Phone: "13807710001"},
	}
}

// seedGroup registers a partner group and walks it to ACTIVE.
func (e *env) seedGroup(g *partnerv1.PartnerGroup) string {
	e.t.Helper()
	resp, err := e.partners.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
	if err != nil {
		e.t.Fatalf("create %s: %v", g.GetDisplayName(), err)
	}
	name := resp.GetPartnerGroup().GetName()
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		if _, err := e.partners.ChangePartnerGroupStatus(e.admin(), &partnerv1.ChangePartnerGroupStatusRequest{Name: name, Status: st, Reason: "测试"}); err != nil {
			e.t.Fatalf("move %s to %v: %v", g.GetDisplayName(), st, err)
		}
	}
	return name
}

// project gathers accepted needs of 二桥西 into an approved Wednesday care project.
func (e *env) project(title string) *demandv1.Project {
	e.t.Helper()
	staff := e.staff(erqiao)
	var demands []string
	for _, need := range []string{"周三下午孩子放学早，家里没人看", "希望周三下午有人辅导孩子作业"} {
		d, err := e.demands.CreateDemand(staff, &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: typev1.Category_CATEGORY_CHILDCARE, Channel: demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING,
			Title: need, CommunityCode: erqiao, Reporter: &demandv1.Reporter{Name: "黄丽萍", Phone: "13977100001"},
		}})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.demands.ChangeDemandStatus(staff, &demandv1.ChangeDemandStatusRequest{Name: d.GetDemand().GetName(),
			Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理，社区将统筹安排周三下午托管。"}); err != nil {
			e.t.Fatal(err)
		}
		demands = append(demands, d.GetDemand().GetName())
	}
	p, err := e.demands.CreateProject(staff, &demandv1.CreateProjectRequest{Project: &demandv1.Project{
		Title: title, Description: "周三下午放学后的托管与作业辅导", Category: typev1.Category_CATEGORY_CHILDCARE,
		ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN, CommunityCode: erqiao, RequiredTags: []string{"托管"},
		Schedule: []*typev1.WeeklyWindow{wed("15:00", "18:00")}, Venue: "二桥西社区活动室", Demands: demands,
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetProject().GetName(),
		Status: demandv1.ProjectStatus_PROJECT_STATUS_APPROVED, Reply: "项目已通过审核，开始招募合伙人。", Etag: p.GetProject().GetEtag()})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.GetProject()
}

func (e *env) projectStatus(name string) demandv1.ProjectStatus {
	e.t.Helper()
	resp, err := e.demands.GetProject(e.staff(erqiao), &demandv1.GetProjectRequest{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.GetProject().GetStatus()
}

// draftOf waits for the one contract drafted for project and returns it.
func (e *env) draftOf(project string) *contractv1.Contract {
	e.t.Helper()
	var c *contractv1.Contract
	e.eventually("the draft of "+project, func() bool {
		resp, err := e.contracts.ListContracts(e.staff(erqiao), &contractv1.ListContractsRequest{Filter: fmt.Sprintf("project = %q", project)})
		if err != nil {
			e.t.Fatal(err)
		}
		if n := len(resp.GetContracts()); n > 1 {
			e.t.Fatalf("%d contracts for %s", n, project)
		} else if n == 1 {
			c = resp.GetContracts()[0]
		}
		return c != nil
	})
	return c
}

// TestWednesdayCareStory is issue 14's story: matched partners → a draft from the event → all
// parties sign within a week → the project is CONTRACTED → weekly activities recorded by the
// partners count as fulfilment → the evaluation shows children served against the target →
// matching ranks a partner with a breached contract below one with a fulfilled one.
func TestWednesdayCareStory(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 9, 0), func(t *testing.T, e *env) {
		e.runDemand()
		staff := e.staff(erqiao)
		parents, league := e.seedGroup(careGroup("二桥西社区家长志愿者队")), e.seedGroup(careGroup("二桥西社区团委"))

		p := e.project("周三下午四点半课堂")
		am, err := e.demands.AcceptMatch(staff, &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{parents, league},
			Reply: "家长志愿者队和社区团委接手。", Etag: p.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		if am.GetProject().GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING {
			t.Fatalf("after the match: %v", am.GetProject().GetStatus())
		}

		// A draft appears from ProjectMatched, from the template of its list type.
		c := e.draftOf(p.GetName())
		terms := c.GetVersions()[0].GetTerms()
		if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_DRAFT || len(c.GetParties()) != 3 || len(terms.GetDuties()) != 3 ||
			terms.GetDuties()[1].GetWeekly().GetWeekday() != typev1.Weekday_WEEKDAY_WEDNESDAY || terms.GetContent() != "周三下午放学后的托管与作业辅导" {
			t.Fatalf("draft: %v", c)
		}
		// The community tailors the terms: four Wednesdays of December, 20 children each week.
		terms.EndDate = day(2026, 12, 30)
		terms.ExpectedResults[0].Description = "每周服务儿童"
		r, err := e.contracts.AmendContract(staff, &contractv1.AmendContractRequest{Name: c.GetName(), Terms: terms, Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.contracts.SubmitContract(staff, &contractv1.SubmitContractRequest{Name: c.GetName(), Etag: r.GetContract().GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		c = s.GetContract()
		// Every party signs within the week.
		for i, party := range []string{"community", parents, league} {
			e.clock.Set(cst(2026, 12, 2+i, 17, 0))
			if _, err := e.contracts.SignContract(e.signer(party), &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: party}); err != nil {
				t.Fatalf("%s signs: %v", party, err)
			}
		}
		e.eventually("the project CONTRACTED", func() bool { return e.projectStatus(p.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED })
		// Under contract, the project no longer moves by hand.
		got, _ := e.demands.GetProject(staff, &demandv1.GetProjectRequest{Name: p.GetName()})
		_, err = e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(),
			Status: demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED, Reply: "项目取消", Etag: got.GetProject().GetEtag()})
		wantCode(t, err, codes.FailedPrecondition, "under contract")

		// Weekly activities recorded by the partners count as fulfilment.
		served := 0
		for week := range 5 {
			d := calendar.DateOf(cst(2026, 12, 2, 12, 0)).AddDays(7 * week)
			e.clock.Set(d.Start().Add(19 * time.Hour))
			for i, g := range []string{parents, league} {
				n := int32(10 + i)
				if _, err := e.partners.RecordActivity(e.partnerUser(g), &partnerv1.RecordActivityRequest{Activity: &partnerv1.ServiceActivity{
					Partner: g, CommunityCode: erqiao, Title: "周三下午四点半课堂", Kind: partnerv1.ActivityKind_ACTIVITY_KIND_VOLUNTEER_SERVICE,
					ActivityDate: d.String(), ParticipantCount: 3, PeopleServed: n, VolunteerMinutes: 540, Project: p.GetName(), Contract: c.GetName(),
				}}); err != nil {
					t.Fatal(err)
				}
				served += int(n)
			}
		}
		e.eventually("ten fulfilments", func() bool {
			l, err := e.contracts.ListFulfilments(staff, &contractv1.ListFulfilmentsRequest{Parent: c.GetName(), PageSize: 100})
			return err == nil && len(l.GetFulfilments()) == 10
		})
		e.eventually("the project DELIVERING", func() bool { return e.projectStatus(p.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING })
		c = e.get(c.GetName())
		for _, d := range c.GetVersions()[0].GetTerms().GetDuties()[1:] {
			if d.GetFulfilmentCount() != 5 || d.GetLastFulfilledDate().GetDay() != 30 {
				t.Fatalf("duty %s: %d fulfilments, last %v", d.GetId(), d.GetFulfilmentCount(), d.GetLastFulfilledDate())
			}
		}

		// The evaluation shows children served against the target: 20 a week for 5 weeks.
		e.clock.Set(cst(2026, 12, 31, 10, 0))
		ev, err := e.contracts.EvaluateContract(staff, &contractv1.EvaluateContractRequest{Name: c.GetName(), Rating: 5,
			Summary: "五周共服务儿童105人次，家长满意。", Outcome: contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED, Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		res := ev.GetContract().GetEvaluation().GetResults()
		if len(res) != 1 || res[0].GetTargetValue() != 20 || res[0].GetExpectedTotal() != 100 || res[0].GetAchievedValue() != int64(served) || !res[0].GetMet() {
			t.Fatalf("evaluation %v (served %d)", res, served)
		}
		e.eventually("the project COMPLETED", func() bool { return e.projectStatus(p.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED })

		// Two more groups alike in every way: one keeps a contract, one breaches it. Matching
		// ranks the breacher below the keeper.
		keeper, breacher := e.seedGroup(careGroup("二桥西社区巾帼志愿队")), e.seedGroup(careGroup("二桥西社区青年志愿队"))
		e.clock.Set(cst(2027, 1, 4, 10, 0))
		for _, tc := range []struct {
			partner string
			outcome contractv1.ContractStatus
		}{{keeper, contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED}, {breacher, contractv1.ContractStatus_CONTRACT_STATUS_BREACHED}} {
			req := e.createReq(tc.partner, e.newParty())
			req.Partners = req.Partners[:1]
			req.Terms.Duties = req.Terms.Duties[:2]
			req.Terms.StartDate, req.Terms.EndDate = day(2027, 1, 4), day(2027, 3, 31)
			req.Terms.Duties[0].When = &contractv1.Duty_DueDate{DueDate: day(2027, 1, 8)}
			req.Terms.Milestones[0].DueDate = day(2027, 1, 13)
			cr, err := e.contracts.CreateContract(staff, req)
			if err != nil {
				t.Fatal(err)
			}
			k := cr.GetContract()
			sr, err := e.contracts.SubmitContract(staff, &contractv1.SubmitContractRequest{Name: k.GetName(), Etag: k.GetEtag()})
			if err != nil {
				t.Fatal(err)
			}
			k = sr.GetContract()
			for _, party := range []string{"community", tc.partner} {
				sg, err := e.contracts.SignContract(e.signer(party), &contractv1.SignContractRequest{Name: k.GetName(), Version: 1, Party: party})
				if err != nil {
					t.Fatal(err)
				}
				k = sg.GetContract()
			}
			if _, err := e.contracts.EvaluateContract(staff, &contractv1.EvaluateContractRequest{Name: k.GetName(), Rating: 3,
				Summary: "评估", Outcome: tc.outcome, Etag: k.GetEtag()}); err != nil {
				t.Fatal(err)
			}
		}
		p2 := e.project("寒假托管班")
		var ranks map[string]int
		var cands []*demandv1.MatchCandidate
		e.eventually("the outcomes in the track records", func() bool {
			m, err := e.demands.MatchPartners(staff, &demandv1.MatchPartnersRequest{Name: p2.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			cands, ranks = m.GetCandidates(), map[string]int{}
			for i, c := range cands {
				ranks[c.GetPartner()] = i
			}
			k, b := cands[ranks[keeper]], cands[ranks[breacher]]
			return k.GetBreakdown().GetTrackRecord() > b.GetBreakdown().GetTrackRecord()
		})
		if ranks[keeper] > ranks[breacher] {
			t.Fatalf("the keeper ranks %d, the breacher %d: %v", ranks[keeper], ranks[breacher], cands)
		}
	})
}

// TestActivityChecks: the partner service refuses an activity dated in the future, one with
// implausible counts, and one naming a contract that does not exist, is not active, or has
// its partner as no party; nothing is recorded and no fulfilment counted.
func TestActivityChecks(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 9, 19, 0), func(t *testing.T, e *env) {
		g, stranger := e.seedGroup(careGroup("二桥西社区家长志愿者队")), e.seedGroup(careGroup("二桥西社区巾帼志愿队"))
		c := e.active(g, e.newParty())
		draft, err := e.contracts.CreateContract(e.staff(erqiao), e.createReq(g, e.newParty()))
		if err != nil {
			t.Fatal(err)
		}
		ok := func() *partnerv1.ServiceActivity {
			return &partnerv1.ServiceActivity{Partner: g, CommunityCode: erqiao, Title: "周三下午四点半课堂", Kind: partnerv1.ActivityKind_ACTIVITY_KIND_VOLUNTEER_SERVICE,
				ActivityDate: "2026-12-09", ParticipantCount: 3, PeopleServed: 20, VolunteerMinutes: 540, Contract: c.GetName()}
		}
		for _, tc := range []struct {
			name, field string
			by          string
			edit        func(a *partnerv1.ServiceActivity)
		}{
			{"a date in the future", "activity.activity_date", g, func(a *partnerv1.ServiceActivity) { a.ActivityDate = "2030-01-01" }},
			{"999,999 people served", "activity.people_served", g, func(a *partnerv1.ServiceActivity) { a.PeopleServed = 999999 }},
			{"a contract that does not exist", "activity.contract", g, func(a *partnerv1.ServiceActivity) { a.Contract = "contracts/" + newPartner()[len("partnerGroups/"):] }},
			{"free text as the contract", "activity.contract", g, func(a *partnerv1.ServiceActivity) { a.Contract = "二桥西托管合同" }},
			{"a contract not active", "activity.contract", g, func(a *partnerv1.ServiceActivity) { a.Contract = draft.GetContract().GetName() }},
			{"a contract its partner is not party to", "activity.contract", stranger, func(a *partnerv1.ServiceActivity) { a.Partner = stranger }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := ok()
				tc.edit(a)
				_, err := e.partners.RecordActivity(e.partnerUser(tc.by), &partnerv1.RecordActivityRequest{Activity: a})
				wantCode(t, err, codes.InvalidArgument, tc.field)
			})
		}
		l, err := e.partners.ListActivities(e.admin(), &partnerv1.ListActivitiesRequest{})
		if err != nil || len(l.GetActivities()) != 0 {
			t.Fatalf("after refusals: %d activities, %v", len(l.GetActivities()), err)
		}
		if _, err := e.partners.RecordActivity(e.partnerUser(g), &partnerv1.RecordActivityRequest{Activity: ok()}); err != nil {
			t.Fatal(err)
		}
		e.eventually("one fulfilment", func() bool {
			f, err := e.contracts.ListFulfilments(e.staff(erqiao), &contractv1.ListFulfilmentsRequest{Parent: c.GetName()})
			return err == nil && len(f.GetFulfilments()) == 1
		})
	})
}

// TestInactivePartnerGoesDormant: a partner that signs and then records nothing raises the
// inactive-partner alert once; under a district policy of DormantOnInactive the partner
// service, following the contract feed, moves it to DORMANT.
func TestInactivePartnerGoesDormant(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, cst(2026, 12, 2, 10, 0), true)
			e.run()
			e.runPartner()
			idle, busy := e.seedGroup(careGroup("二桥西社区家长志愿者队")), e.seedGroup(careGroup("二桥西社区团委"))
			c := e.active(idle, busy)
			for week := range 3 {
				d := calendar.DateOf(cst(2026, 12, 2, 12, 0)).AddDays(7 * week)
				e.clock.Set(d.Start().Add(19 * time.Hour))
				if _, err := e.contracts.RecordFulfilment(e.partnerUser(busy), &contractv1.RecordFulfilmentRequest{Parent: c.GetName(),
					Fulfilment: &contractv1.Fulfilment{DutyId: "d3", Date: d.Proto(), Party: busy, PeopleServed: 20}}); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if _, err := e.svc.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
			}
			alerts, err := e.contracts.ListContractAlerts(e.staff(erqiao), &contractv1.ListContractAlertsRequest{Parent: c.GetName(), PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			inactive := map[string]int{}
			for _, a := range alerts.GetAlerts() {
				if a.GetKind() == contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE {
					inactive[a.GetParty()]++
				}
			}
			if inactive[idle] != 1 || inactive[busy] != 0 {
				t.Fatalf("inactive alerts %v", inactive)
			}
			e.eventually("the idle partner DORMANT", func() bool {
				g, err := e.partners.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: idle})
				return err == nil && g.GetPartnerGroup().GetStatus() == partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT
			})
			g, err := e.partners.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: busy})
			if err != nil || g.GetPartnerGroup().GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
				t.Fatalf("the busy partner: %v, %v", g.GetPartnerGroup().GetStatus(), err)
			}
		})
	}
}
