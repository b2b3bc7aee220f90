package demand_test

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

func capability(c typev1.Category, tags ...string) *partnerv1.Capability {
	return &partnerv1.Capability{Category: c, Tags: tags}
}

// demoGroups are partner groups of internal/demo (the article's): the three behind 二桥西's
// Wednesday care, and two that have nothing to do with it.
func demoGroups() map[string]*partnerv1.PartnerGroup {
	return map[string]*partnerv1.PartnerGroup{
		"parents": {
			DisplayName: "二桥西社区家长志愿者队", Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: erqiao,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, "托管", "作业辅导", "看护")},
			ServiceAreas: []string{erqiao}, Availability: []*typev1.WeeklyWindow{wed("15:00", "18:00")},
			Contact: &partnerv1.Contact{PersonName: "唐晓梅", Phone: "13807710001"},
		},
		"league": {
			DisplayName: "二桥西社区团委", Kind: partnerv1.GroupKind_GROUP_KIND_GOVERNMENT_UNIT, CreditCode: "11450105MB00000112", RegionCode: erqiao,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, "托管", "手工"), capability(typev1.Category_CATEGORY_CULTURE_SPORTS, "读绘本")},
			ServiceAreas: []string{erqiao},
			Availability: []*typev1.WeeklyWindow{wed("14:30", "18:00"), {Weekday: typev1.Weekday_WEEKDAY_SATURDAY, StartTime: "09:00", EndTime: "12:00"}},
			Contact:      &partnerv1.Contact{PersonName: "黄志强", Phone: "13807710002"},
		},
		"youthspace": {
			DisplayName: "青空间社工服务站", Kind: partnerv1.GroupKind_GROUP_KIND_SOCIAL_ORGANISATION, CreditCode: "52450105MJ0000022D", RegionCode: jiangnan,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, "托管", "手工", "作业辅导"), capability(typev1.Category_CATEGORY_EDUCATION, "青少年成长")},
			ServiceAreas: []string{jiangnan},
			Availability: []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_MONDAY, StartTime: "14:00", EndTime: "18:00"}, wed("14:00", "18:00")},
			Contact:      &partnerv1.Contact{PersonName: "陆佳", Phone: "0771-5512345"},
		},
		"tea": {
			DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT, CreditCode: "92450105MA0000033W", RegionCode: peihong,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CULTURE_SPORTS, "茶艺", "非遗", "制茶")},
			ServiceAreas: []string{peihong},
			Availability: []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_THURSDAY, StartTime: "09:00", EndTime: "11:30"}},
			Contact:      &partnerv1.Contact{PersonName: "覃雅琴", Phone: "13807710004"},
		},
		"lawfirm": {
			DisplayName: "广西江南律师事务所", Kind: partnerv1.GroupKind_GROUP_KIND_ENTERPRISE, CreditCode: "91450105MA00000558", RegionCode: jiangnan,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_LEGAL_AID, "法律咨询", "普法宣传", "物业纠纷")},
			ServiceAreas: []string{district},
			Availability: []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_TUESDAY, StartTime: "14:30", EndTime: "17:30"}},
			Contact:      &partnerv1.Contact{PersonName: "莫律师", Phone: "13807710006"},
		},
	}
}

// registerGroup creates a partner group through the partner API, as an administrator, and
// returns its name; it stays APPLIED.
func (e *env) registerGroup(g *partnerv1.PartnerGroup) string {
	e.t.Helper()
	resp, err := e.partners.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
	if err != nil {
		e.t.Fatalf("create %s: %v", g.GetDisplayName(), err)
	}
	return resp.GetPartnerGroup().GetName()
}

// seedGroup registers a partner group and walks it to ACTIVE.
func (e *env) seedGroup(g *partnerv1.PartnerGroup) string {
	e.t.Helper()
	name := e.registerGroup(g)
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		if _, err := e.partners.ChangePartnerGroupStatus(e.admin(), &partnerv1.ChangePartnerGroupStatusRequest{Name: name, Status: st, Reason: "测试"}); err != nil {
			e.t.Fatalf("move %s to %v: %v", g.GetDisplayName(), st, err)
		}
	}
	return name
}

// seedPartner registers an individual partner and walks it to ACTIVE.
func (e *env) seedPartner(p *partnerv1.Partner) string {
	e.t.Helper()
	resp, err := e.partners.CreatePartner(e.admin(), &partnerv1.CreatePartnerRequest{Partner: p})
	if err != nil {
		e.t.Fatalf("create %s: %v", p.GetDisplayName(), err)
	}
	name := resp.GetPartner().GetName()
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		if _, err := e.partners.ChangePartnerStatus(e.admin(), &partnerv1.ChangePartnerStatusRequest{Name: name, Status: st, Reason: "测试"}); err != nil {
			e.t.Fatalf("move %s to %v: %v", p.GetDisplayName(), st, err)
		}
	}
	return name
}

// demandOf is a valid demand of 二桥西 raised by a named resident.
func demandOf(kind demandv1.DemandKind, category typev1.Category, channel demandv1.Channel, title string) *demandv1.Demand {
	return &demandv1.Demand{
		Kind: kind, Category: category, Channel: channel, Title: title, CommunityCode: erqiao,
		Reporter: &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"},
	}
}

func needOf(title string) *demandv1.Demand {
	return demandOf(demandv1.DemandKind_DEMAND_KIND_NEED, typev1.Category_CATEGORY_CHILDCARE, demandv1.Channel_CHANNEL_WALK_IN, title)
}

func (e *env) createDemand(ctx context.Context, d *demandv1.Demand) *demandv1.Demand {
	e.t.Helper()
	resp, err := e.client.CreateDemand(ctx, &demandv1.CreateDemandRequest{Demand: d})
	if err != nil {
		e.t.Fatalf("create %q: %v", d.GetTitle(), err)
	}
	return resp.GetDemand()
}

func (e *env) getDemand(ctx context.Context, name string) *demandv1.Demand {
	e.t.Helper()
	resp, err := e.client.GetDemand(ctx, &demandv1.GetDemandRequest{Name: name})
	if err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return resp.GetDemand()
}

// moveDemand moves a demand as 二桥西's staff, with a reply.
func (e *env) moveDemand(name string, to demandv1.DemandStatus, reply string) *demandv1.Demand {
	e.t.Helper()
	resp, err := e.client.ChangeDemandStatus(e.staff(), &demandv1.ChangeDemandStatusRequest{Name: name, Status: to, Reply: reply})
	if err != nil {
		e.t.Fatalf("move %s to %v: %v", name, to, err)
	}
	return resp.GetDemand()
}

// acceptedNeeds records n childcare needs in 二桥西 and accepts them.
func (e *env) acceptedNeeds(titles ...string) []string {
	e.t.Helper()
	var names []string
	for _, title := range titles {
		d := e.createDemand(e.staff(), needOf(title))
		e.moveDemand(d.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理，将纳入社区项目统筹办理。")
		names = append(names, d.GetName())
	}
	return names
}

func (e *env) timeline(name string) []*demandv1.TimelineEntry {
	e.t.Helper()
	resp, err := e.client.ListTimelineEntries(e.staff(), &demandv1.ListTimelineEntriesRequest{Parent: name})
	if err != nil {
		e.t.Fatalf("timeline of %s: %v", name, err)
	}
	return resp.GetEntries()
}

// countDemands counts every demand of the district.
func (e *env) countDemands() int {
	e.t.Helper()
	resp, err := e.client.ListDemands(e.admin(), &demandv1.ListDemandsRequest{PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(resp.GetDemands())
}

// childcareProject is a Wednesday-afternoon care project of 二桥西 gathering demands.
func childcareProject(demands ...string) *demandv1.Project {
	return &demandv1.Project{
		Title: "周三下午四点半课堂", Description: "周三下午放学后的托管与作业辅导", Category: typev1.Category_CATEGORY_CHILDCARE,
		ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN, CommunityCode: erqiao, RequiredTags: []string{"托管"},
		Schedule: []*typev1.WeeklyWindow{wed("15:00", "18:00")}, Venue: "二桥西社区活动室", Demands: demands,
	}
}

func (e *env) createProject(p *demandv1.Project) *demandv1.Project {
	e.t.Helper()
	resp, err := e.client.CreateProject(e.staff(), &demandv1.CreateProjectRequest{Project: p})
	if err != nil {
		e.t.Fatalf("create project %q: %v", p.GetTitle(), err)
	}
	return resp.GetProject()
}

// moveProject moves a project as 二桥西's staff, checking its etag.
func (e *env) moveProject(p *demandv1.Project, to demandv1.ProjectStatus, reply string) *demandv1.Project {
	e.t.Helper()
	resp, err := e.client.ChangeProjectStatus(e.staff(), &demandv1.ChangeProjectStatusRequest{Name: p.GetName(), Status: to, Reply: reply, Etag: p.GetEtag()})
	if err != nil {
		e.t.Fatalf("move %s to %v: %v", p.GetName(), to, err)
	}
	return resp.GetProject()
}

// approvedProject creates a childcare project and approves it.
func (e *env) approvedProject(demands ...string) *demandv1.Project {
	e.t.Helper()
	return e.moveProject(e.createProject(childcareProject(demands...)), demandv1.ProjectStatus_PROJECT_STATUS_APPROVED, "项目已通过审核，开始招募合伙人。")
}

func (e *env) match(name string) []*demandv1.MatchCandidate {
	e.t.Helper()
	resp, err := e.client.MatchPartners(e.staff(), &demandv1.MatchPartnersRequest{Name: name})
	if err != nil {
		e.t.Fatalf("match %s: %v", name, err)
	}
	return resp.GetCandidates()
}

func candidateOf(cands []*demandv1.MatchCandidate, partner string) *demandv1.MatchCandidate {
	for _, c := range cands {
		if c.GetPartner() == partner {
			return c
		}
	}
	return nil
}

func typeOf(m proto.Message) string { return string(proto.MessageName(m)) }

// watchUntil reads the demand service's feed after the cursor until an event satisfies match,
// and returns the events read, that one last.
func (e *env) watchUntil(after int64, match func(*eventsv1.Event) bool) []*eventsv1.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.system(), 10*time.Second)
	defer cancel()
	stream, err := e.feed.Watch(ctx, &eventsv1.WatchRequest{AfterCursor: after})
	if err != nil {
		e.t.Fatal(err)
	}
	var seen []*eventsv1.Event
	for {
		resp, err := stream.Recv()
		if err != nil {
			e.t.Fatalf("feed after %d events: %v", len(seen), err)
		}
		for _, ev := range resp.GetEvents() {
			seen = append(seen, ev)
			if match(ev) {
				return seen
			}
		}
	}
}

// submitted matches the DemandSubmitted event of the demand called name.
func submitted(name string) func(*eventsv1.Event) bool {
	return func(ev *eventsv1.Event) bool {
		return ev.GetType() == typeOf(&demandv1.DemandSubmitted{}) && ev.GetSubject() == name
	}
}
