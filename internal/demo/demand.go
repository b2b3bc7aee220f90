package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/metadata"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// More region codes of the demo tree, used by the demand stories.
const (
	ErqiaoxiGrid1 = "450105001001001" // 二桥西社区第一网格
	Dancun        = "450105001003"    // 淡村社区
)

// The 逢四说事 meeting of 二桥西 where the parents raised the Wednesday gap, and the project their
// needs became. SeedDemand's completion marker is that project having moved past APPROVED.
const (
	MeetingDate  = "2025-12-04"
	ProjectTitle = "周三下午四点半课堂"
)

// TokenSigner mints bearer tokens for the demo's callers; *auth.DevSigner is one.
type TokenSigner interface {
	Token(p auth.Principal, ttl time.Duration) (string, error)
}

// Cast are the callers the demand stories are told by. They are the `jiayuan dev` banner's
// principals, so that whoever uses the printed resident token finds the demand that resident
// filed, and the grid worker the needs they recorded on their rounds. Staff of the other
// communities are derived from Staff.
type Cast struct {
	Resident   auth.Principal // a resident of 二桥西
	GridWorker auth.Principal // the grid worker of 二桥西's first grid
	Staff      auth.Principal // community staff of 二桥西
	System     auth.Principal // another government system (the city hotline)
}

// CastOf picks the cast from principals by their first role.
func CastOf(principals []auth.Principal) (Cast, error) {
	var c Cast
	for _, p := range principals {
		if len(p.Roles) == 0 {
			continue
		}
		switch p.Roles[0] {
		case auth.RoleResident:
			c.Resident = p
		case auth.RoleGridWorker:
			c.GridWorker = p
		case auth.RoleCommunityStaff:
			c.Staff = p
		case auth.RoleSystem:
			c.System = p
		}
	}
	var missing []string
	for role, p := range map[auth.Role]auth.Principal{
		auth.RoleResident: c.Resident, auth.RoleGridWorker: c.GridWorker, auth.RoleCommunityStaff: c.Staff, auth.RoleSystem: c.System,
	} {
		if p.Subject == "" {
			missing = append(missing, string(role))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Cast{}, fmt.Errorf("demo: no principal for %v", missing)
	}
	return c, nil
}

// PartnerNames returns the resource names of the demo partners by key (see Names), found by
// listing partner groups and partners in creation order: the first record with a demo
// partner's display name is the seeded one. Keys with no such record are absent.
func PartnerNames(ctx context.Context, c partnerv1.PartnerServiceClient) (map[string]string, error) {
	byDisplay := map[string]string{}
	keep := func(display, name string) {
		if _, ok := byDisplay[display]; !ok {
			byDisplay[display] = name
		}
	}
	for token := ""; ; {
		resp, err := c.ListPartnerGroups(ctx, &partnerv1.ListPartnerGroupsRequest{PageSize: 1000, PageToken: token, OrderBy: "create_time"})
		if err != nil {
			return nil, fmt.Errorf("demo: list partner groups: %w", err)
		}
		for _, g := range resp.GetPartnerGroups() {
			keep(g.GetDisplayName(), g.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for token := ""; ; {
		resp, err := c.ListPartners(ctx, &partnerv1.ListPartnersRequest{PageSize: 1000, PageToken: token, OrderBy: "create_time"})
		if err != nil {
			return nil, fmt.Errorf("demo: list partners: %w", err)
		}
		for _, p := range resp.GetPartners() {
			keep(p.GetDisplayName(), p.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	out := map[string]string{}
	for key, display := range Names() {
		if name, ok := byDisplay[display]; ok {
			out[key] = name
		}
	}
	return out, nil
}

// caller says who tells a story: the principal is resolved from the Cast at seed time.
type caller struct {
	role      auth.Role
	community string // for community staff: the community they work in
	name      string // for community staff of communities other than the cast's
}

var (
	byResident   = caller{role: auth.RoleResident}
	byGridWorker = caller{role: auth.RoleGridWorker}
	bySystem     = caller{role: auth.RoleSystem}
)

func staffOf(community, name string) caller {
	return caller{role: auth.RoleCommunityStaff, community: community, name: name}
}

// story is one demand of the demo and how far the seed takes it.
type story struct {
	key string
	by  caller
	d   *demandv1.Demand
	// accept is the reply with which whoever recorded it accepts it; empty leaves it
	// SUBMITTED, waiting for staff, as a newcomer may try.
	accept string
}

// parentNeeds are the three parents' needs raised at the 逢四说事 meeting; meeting is set at
// seed time.
func parentNeeds() []story {
	need := func(key, title, desc, reporter, phone string) story {
		return story{key: key, by: staffOf(Erqiaoxi, ""), d: &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: typev1.Category_CATEGORY_CHILDCARE,
			Title: title, Description: desc, CommunityCode: Erqiaoxi,
			Reporter:           &demandv1.Reporter{Name: reporter, Phone: phone},
			HouseholdsAffected: 1, Channel: demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING,
		}, accept: "已受理：您在逢四说事上反映的周三下午看护难题已记录，社区将与其他家长的相同需求一并解决，近期给您答复。"}
	}
	return []story{
		need("demand-parent-1", "周三下午孩子放学后无人照看",
			"学校每周三下午三点左右放学，我们夫妻都要上班到六点，孩子放学后的这段时间没人照看。", "梁秀兰", "13807710021"),
		need("demand-parent-2", "希望社区开设周三下午托管班",
			"周三提前放学，孩子只能在小区里乱跑，希望社区能在活动室办个托管班，辅导作业、看护安全。", "黄丽", "13807710022"),
		need("demand-parent-3", "双职工家庭周三下午接孩子困难",
			"周三下午接不了孩子，请老人帮忙也不方便，希望有人能在放学后照看到家长下班。", "覃海燕", "13807710023"),
	}
}

// otherStories are the rest of the demo's needs list: what a grid worker heard on their
// rounds, the problems the three-colour list will sort, and needs elsewhere in the district.
func otherStories() []story {
	problem := demandv1.DemandKind_DEMAND_KIND_PROBLEM
	need := demandv1.DemandKind_DEMAND_KIND_NEED
	return []story{
		{key: "demand-grid-handrails", by: byGridWorker, d: &demandv1.Demand{
			Kind: need, Category: typev1.Category_CATEGORY_ELDERLY_CARE, Title: "楼道加装老年人扶手",
			Description:   "走访中独居老人反映，老楼楼道没有扶手，上下楼容易摔倒，希望每层加装扶手。",
			CommunityCode: Erqiaoxi, GridCode: ErqiaoxiGrid1, Address: "二桥西社区第一网格 5栋2单元楼道",
			Reporter: &demandv1.Reporter{Name: "韦桂英", Phone: "13807710024"}, HouseholdsAffected: 12,
			Channel: demandv1.Channel_CHANNEL_GRID_WORKER_VISIT,
		}, accept: "网格员已受理：已记录需加装扶手的楼道，将报社区统一安排适老化改造。"},
		{key: "demand-grid-chess", by: byGridWorker, d: &demandv1.Demand{
			Kind: need, Category: typev1.Category_CATEGORY_INFRASTRUCTURE, Title: "小区空地增设棋牌桌椅",
			Description:   "老人们常在树下下棋，只能坐在台阶上，希望在小区空地放几套石桌石凳。",
			CommunityCode: Erqiaoxi, GridCode: ErqiaoxiGrid1, Address: "二桥西社区第一网格 中心空地",
			HouseholdsAffected: 40, Channel: demandv1.Channel_CHANNEL_GRID_WORKER_VISIT,
		}, accept: "网格员已受理：已记录棋牌桌椅的位置和数量，社区将在合伙人联席会上商议。"},
		{key: "demand-problem-bins", by: staffOf(Fujing, "富景社区工作人员"), d: &demandv1.Demand{
			Kind: problem, Category: typev1.Category_CATEGORY_ENVIRONMENT, Title: "小区垃圾桶满溢无人清运",
			Description:   "敲门走访时多户居民反映，小区垃圾桶经常满溢，垃圾散落在地，夏天气味很大。",
			CommunityCode: Fujing, Address: "富景社区 富景花园小区东门垃圾收集点", HouseholdsAffected: 80,
			Urgency: demandv1.Urgency_URGENCY_HIGH, Channel: demandv1.Channel_CHANNEL_DOOR_KNOCKING,
		}, accept: "已受理：社区将督促小区物业制定整改方案，增加清运频次。"},
		{key: "demand-problem-cables", by: staffOf(Dancun, "淡村社区工作人员"), d: &demandv1.Demand{
			Kind: problem, Category: typev1.Category_CATEGORY_INFRASTRUCTURE, Title: "老旧小区网线杂乱、飞线严重",
			Description:   "网格夜话上居民反映，楼间网线、电话线缠绕成团，有的垂到头顶，存在安全隐患，涉及多家运营商。",
			CommunityCode: Dancun, Address: "淡村社区 老供销社宿舍区", HouseholdsAffected: 150,
			Channel: demandv1.Channel_CHANNEL_GRID_NIGHT_TALK,
		}, accept: "已受理：涉及多家通信运营商，社区已报街道协调，将召集小区自管小组和运营商共同商议整治。"},
		{key: "demand-problem-transformer", by: bySystem, d: &demandv1.Demand{
			Kind: problem, Category: typev1.Category_CATEGORY_INFRASTRUCTURE, Title: "小区老旧变压器频繁跳闸",
			Description:   "12345热线转来：小区变压器老化，近一个月多次跳闸停电，夜间还有异响，居民担心起火。",
			CommunityCode: FujianyuanSQ, Address: "福建园社区 福建园小区配电房", HouseholdsAffected: 300,
			Urgency: demandv1.Urgency_URGENCY_URGENT, Channel: demandv1.Channel_CHANNEL_HOTLINE,
		}},
		{key: "demand-problem-roof", by: byResident, d: &demandv1.Demand{
			Kind: problem, Category: typev1.Category_CATEGORY_PROPERTY_HOUSING, Title: "顶楼屋面漏水",
			Description:   "下雨时顶楼天花板渗水，墙面发霉，找物业多次未修好。",
			CommunityCode: Erqiaoxi, Address: "二桥西社区 3栋701", Reporter: &demandv1.Reporter{Name: "陈建国", Phone: "13807710031"},
			HouseholdsAffected: 2, Channel: demandv1.Channel_CHANNEL_ONLINE,
		}},
		{key: "demand-need-meals", by: staffOf(FujianyuanSQ, "福建园社区工作人员"), d: &demandv1.Demand{
			Kind: need, Category: typev1.Category_CATEGORY_ELDERLY_CARE, Title: "高龄独居老人希望有人送餐",
			Description:   "老友议事厅上老人们提出，行动不便的高龄老人做饭困难，希望社区食堂能送餐上门。",
			CommunityCode: FujianyuanSQ, HouseholdsAffected: 15, Channel: demandv1.Channel_CHANNEL_ELDERS_COUNCIL,
		}, accept: "已受理：社区将对接颐养餐厅，先摸清需要送餐的老人名单。"},
		{key: "demand-need-legal", by: staffOf(Fujing, "富景社区工作人员"), d: &demandv1.Demand{
			Kind: need, Category: typev1.Category_CATEGORY_LEGAL_AID, Title: "物业费纠纷需要法律咨询",
			Description:   "业主与物业公司因物业费和维修基金使用发生纠纷，希望有律师提供咨询。",
			CommunityCode: Fujing, Reporter: &demandv1.Reporter{Name: "莫志华", Phone: "13807710032"},
			HouseholdsAffected: 1, Channel: demandv1.Channel_CHANNEL_WALK_IN,
		}, accept: "已受理：社区将联系合伙律师事务所安排公益法律咨询。"},
	}
}

func wednesdayMeeting() *demandv1.Meeting {
	return &demandv1.Meeting{
		Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: Erqiaoxi, MeetingDate: MeetingDate,
		Host: "社区书记", AttendeeCount: 26,
		Minutes: "逢四说事。多位家长反映：学校每周三下午三点左右放学，双职工家长六点才下班，孩子放学后无人照看，" +
			"成了“四点半难题”。会上记录三位家长的需求；社区书记提议把这些需求项目化，由社区活动室提供场地，" +
			"在家园合伙人联席会上招募家长志愿者、社区团委和青空间社工共同承担周三下午托管。",
	}
}

func wednesdayProject(needs []string) *demandv1.Project {
	return &demandv1.Project{
		Title:       ProjectTitle,
		Description: "每周三下午放学后在社区活动室开展托管：作业辅导、手工和绘本阅读，由家长志愿者、社区团委和青空间社工轮流看护，解决双职工家庭的“四点半难题”。",
		Category:    typev1.Category_CATEGORY_CHILDCARE, ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN,
		CommunityCode: Erqiaoxi, RequiredTags: []string{"托管"},
		Schedule:  []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_WEDNESDAY, "15:00", "18:00")},
		StartDate: "2025-12-10", Venue: "社区活动室", ExpectedBeneficiaries: 18,
		Demands: needs,
	}
}

// matchedPartners are the keys of the partners who take on the Wednesday care.
var matchedPartners = []string{"parents", "league", "youthspace"}

// SeedDemand tells the source article's demand-side stories through the demand API, each as
// the caller who would: community staff hold 二桥西's 逢四说事 meeting on MeetingDate and record
// three parents' after-school needs there, accept them, gather them into the project
// ProjectTitle, approve it and take on the parent volunteers, the community youth league and the
// youth social-work space (partners maps demo keys to resource names, see PartnerNames); a grid
// worker records needs heard on a visit; problems for the three-colour list come in by
// door-knocking, a grid evening talk, the city hotline and a resident online.
//
// Every create carries a stable request_id and every move checks the current state first, so
// a seed that was interrupted resumes without duplicating anything. The project moving past
// APPROVED is the last step and marks completion: the seed never leaves it anywhere else, so
// once it has, SeedDemand does nothing and restarts keep what users changed.
func SeedDemand(ctx context.Context, c demandv1.DemandServiceClient, signer TokenSigner, cast Cast, partners map[string]string) error {
	s := &seeder{c: c, signer: signer, cast: cast, tokens: map[string]string{}}
	var matched []string
	for _, key := range matchedPartners {
		name, ok := partners[key]
		if !ok {
			return fmt.Errorf("demo: partner %s (%s) was not found; seed the partners first", key, Names()[key])
		}
		matched = append(matched, name)
	}
	staff, err := s.as(ctx, staffOf(Erqiaoxi, ""))
	if err != nil {
		return err
	}
	done, err := projectDone(staff, c)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	mt, err := c.CreateMeeting(staff, &demandv1.CreateMeetingRequest{Meeting: wednesdayMeeting(), RequestId: requestID("meeting-erqiaoxi-" + MeetingDate)})
	if err != nil {
		return fmt.Errorf("demo: create the 逢四说事 meeting of %s: %w", MeetingDate, err)
	}
	var needs []string
	for _, st := range parentNeeds() {
		st.d.Meeting = mt.GetMeeting().GetName()
		name, err := s.tell(ctx, st)
		if err != nil {
			return err
		}
		needs = append(needs, name)
	}
	for _, st := range otherStories() {
		if _, err := s.tell(ctx, st); err != nil {
			return err
		}
	}
	return s.project(staff, needs, matched)
}

// projectDone reports whether the demo project exists and has moved past APPROVED, by the
// seed's AcceptMatch or anyone's later move.
func projectDone(ctx context.Context, c demandv1.DemandServiceClient) (bool, error) {
	for token := ""; ; {
		resp, err := c.ListProjects(ctx, &demandv1.ListProjectsRequest{PageSize: 1000, PageToken: token, Filter: fmt.Sprintf("region_code = %q", Erqiaoxi)})
		if err != nil {
			return false, fmt.Errorf("demo: look for the demo project: %w", err)
		}
		for _, p := range resp.GetProjects() {
			if p.GetTitle() == ProjectTitle && !seedLeaves(p.GetStatus()) {
				return true, nil
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return false, nil
		}
	}
}

// seedLeaves reports whether an interrupted seed may have left the project in s.
func seedLeaves(s demandv1.ProjectStatus) bool {
	return s == demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED || s == demandv1.ProjectStatus_PROJECT_STATUS_APPROVED
}

type seeder struct {
	c      demandv1.DemandServiceClient
	signer TokenSigner
	cast   Cast
	tokens map[string]string // by subject
}

// tokenTTL outlasts any seed: it runs in seconds.
const tokenTTL = 10 * time.Minute

// as returns ctx carrying the credentials of who, replacing any it carried.
func (s *seeder) as(ctx context.Context, who caller) (context.Context, error) {
	p, err := s.principal(who)
	if err != nil {
		return nil, err
	}
	tok, ok := s.tokens[p.Subject]
	if !ok {
		if tok, err = s.signer.Token(p, tokenTTL); err != nil {
			return nil, fmt.Errorf("demo: token for %s: %w", p.Subject, err)
		}
		s.tokens[p.Subject] = tok
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set("authorization", "Bearer "+tok)
	return metadata.NewOutgoingContext(ctx, md), nil
}

func (s *seeder) principal(who caller) (auth.Principal, error) {
	switch who.role {
	case auth.RoleResident:
		return s.cast.Resident, nil
	case auth.RoleGridWorker:
		return s.cast.GridWorker, nil
	case auth.RoleSystem:
		return s.cast.System, nil
	case auth.RoleCommunityStaff:
		if slices.Contains(s.cast.Staff.Scope, who.community) {
			return s.cast.Staff, nil
		}
		// Staff of the other communities: one per community, scoped to it alone.
		return auth.Principal{
			Subject: s.cast.Staff.Subject + "-" + who.community, Name: who.name,
			Roles: []auth.Role{auth.RoleCommunityStaff}, Scope: []string{who.community},
		}, nil
	}
	return auth.Principal{}, fmt.Errorf("demo: no caller with role %s", who.role)
}

// tell records a story's demand and, when it says so, accepts it as its recorder; it returns
// the demand's name.
func (s *seeder) tell(ctx context.Context, st story) (string, error) {
	ctx, err := s.as(ctx, st.by)
	if err != nil {
		return "", err
	}
	resp, err := s.c.CreateDemand(ctx, &demandv1.CreateDemandRequest{Demand: st.d, RequestId: requestID(st.key)})
	if err != nil {
		return "", fmt.Errorf("demo: record demand %s: %w", st.d.GetTitle(), err)
	}
	name := resp.GetDemand().GetName()
	if st.accept == "" {
		return name, nil
	}
	// A replayed create answers with the demand as first recorded; ask for its status now.
	cur, err := s.c.GetDemand(ctx, &demandv1.GetDemandRequest{Name: name})
	if err != nil {
		return "", fmt.Errorf("demo: read demand %s: %w", st.d.GetTitle(), err)
	}
	if cur.GetDemand().GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED {
		return name, nil
	}
	if _, err := s.c.ChangeDemandStatus(ctx, &demandv1.ChangeDemandStatusRequest{
		Name: name, Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: st.accept, Etag: cur.GetDemand().GetEtag(),
	}); err != nil {
		return "", fmt.Errorf("demo: accept demand %s: %w", st.d.GetTitle(), err)
	}
	return name, nil
}

// project gathers the parents' needs into the Wednesday project, approves it and takes on the
// partners, skipping the steps already taken. ctx carries 二桥西 staff's credentials.
func (s *seeder) project(ctx context.Context, needs, partners []string) error {
	resp, err := s.c.CreateProject(ctx, &demandv1.CreateProjectRequest{Project: wednesdayProject(needs), RequestId: requestID("project-erqiaoxi-wednesday")})
	if err != nil {
		return fmt.Errorf("demo: create project %s: %w", ProjectTitle, err)
	}
	name := resp.GetProject().GetName()
	cur, err := s.c.GetProject(ctx, &demandv1.GetProjectRequest{Name: name})
	if err != nil {
		return fmt.Errorf("demo: read project %s: %w", ProjectTitle, err)
	}
	pr := cur.GetProject()
	if pr.GetStatus() == demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED {
		moved, err := s.c.ChangeProjectStatus(ctx, &demandv1.ChangeProjectStatusRequest{
			Name: name, Status: demandv1.ProjectStatus_PROJECT_STATUS_APPROVED, Etag: pr.GetEtag(),
			Reply: "社区两委已批准立项，场地定在社区活动室，正在招募合伙人。",
		})
		if err != nil {
			return fmt.Errorf("demo: approve project %s: %w", ProjectTitle, err)
		}
		pr = moved.GetProject()
	}
	if pr.GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_APPROVED {
		return nil
	}
	if _, err := s.c.AcceptMatch(ctx, &demandv1.AcceptMatchRequest{
		Name: name, Partners: partners, Etag: pr.GetEtag(),
		Reply: "家长志愿者队、社区团委和青空间社工认领了周三下午的托管，正在签订共建契约，一周内开课。",
	}); err != nil {
		return fmt.Errorf("demo: take on partners for project %s: %w", ProjectTitle, err)
	}
	return nil
}
