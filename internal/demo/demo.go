// Package demo seeds a fresh `jiayuan dev` suite with the partners of the source article
// (Jiangnan District, Nanning, 2025): the parent volunteers, the community youth league and the
// youth social-work space behind 二桥西's Wednesday care, the tea studio and the calligraphy
// class in 沛鸿, the women's federation's mediation talks, a law firm, and a few more; and then
// (SeedDemand) the demand side: the parents' needs from a 逢四说事 meeting becoming 二桥西's
// Wednesday care project, a grid worker's findings, and problems for the three-colour list. It
// goes through the public gRPC API, so the demo data passes the same validation and access
// checks as anyone's.
package demo

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// Region codes of the demo tree (platform/region/demo/jiangnan.yaml).
const (
	District     = "450105"       // 南宁市江南区
	Jiangnan     = "450105001"    // 江南街道
	Erqiaoxi     = "450105001001" // 二桥西社区
	Fujing       = "450105001002" // 富景社区
	Fujianyuan   = "450105002"    // 福建园街道
	FujianyuanSQ = "450105002001" // 福建园社区
	Nahong       = "450105003"    // 那洪街道
	Peihong      = "450105003001" // 沛鸿社区
)

type status = partnerv1.PartnerStatus

const (
	applied  = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
	verified = partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED
	active   = partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE
)

func window(d typev1.Weekday, start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: d, StartTime: start, EndTime: end}
}

func capability(c typev1.Category, hours int32, tags ...string) *partnerv1.Capability {
	return &partnerv1.Capability{Category: c, Tags: tags, CapacityHoursPerMonth: hours}
}

type group struct {
	key    string
	status status
	g      *partnerv1.PartnerGroup
}

type person struct {
	key    string
	group  string // key of the group, if any
	status status
	p      *partnerv1.Partner
}

type activity struct {
	by string // key of the group or partner
	a  *partnerv1.ServiceActivity
}

func groups() []group {
	wed := typev1.Weekday_WEEKDAY_WEDNESDAY
	return []group{
		{"parents", active, &partnerv1.PartnerGroup{
			DisplayName: "二桥西社区家长志愿者队", Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: Erqiaoxi,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, 24, "托管", "作业辅导", "看护")},
			ServiceAreas: []string{Erqiaoxi}, Availability: []*typev1.WeeklyWindow{window(wed, "15:00", "18:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_JOINT_MEETING,
			Contact:            &partnerv1.Contact{PersonName: "唐晓梅", Phone: "13807710001"},
			Description:        "逢四说事会上自发组织的家长志愿者，轮流照看周三下午放学的孩子。",
		}},
		{"league", active, &partnerv1.PartnerGroup{
			DisplayName: "二桥西社区团委", Kind: partnerv1.GroupKind_GROUP_KIND_GOVERNMENT_UNIT, CreditCode: "11450105MB00000112", RegionCode: Erqiaoxi,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, 16, "托管", "手工"), capability(typev1.Category_CATEGORY_CULTURE_SPORTS, 8, "读绘本")},
			ServiceAreas: []string{Erqiaoxi}, Availability: []*typev1.WeeklyWindow{window(wed, "14:30", "18:00"), window(typev1.Weekday_WEEKDAY_SATURDAY, "09:00", "12:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_JOINT_MEETING,
			Contact:            &partnerv1.Contact{PersonName: "黄志强", Phone: "13807710002"},
		}},
		{"youthspace", active, &partnerv1.PartnerGroup{
			DisplayName: "青空间社工服务站", Kind: partnerv1.GroupKind_GROUP_KIND_SOCIAL_ORGANISATION, CreditCode: "52450105MJ0000022D", RegionCode: Jiangnan,
			Capabilities:       []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, 40, "托管", "手工", "作业辅导"), capability(typev1.Category_CATEGORY_EDUCATION, 20, "青少年成长")},
			ServiceAreas:       []string{Jiangnan},
			Availability:       []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_MONDAY, "14:00", "18:00"), window(wed, "14:00", "18:00"), window(typev1.Weekday_WEEKDAY_FRIDAY, "14:00", "18:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_OPEN_CALL,
			Contact:            &partnerv1.Contact{PersonName: "陆佳", Phone: "0771-5512345"},
		}},
		{"tea", active, &partnerv1.PartnerGroup{
			DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT, CreditCode: "92450105MA0000033W", RegionCode: Peihong,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CULTURE_SPORTS, 12, "茶艺", "非遗", "制茶")},
			ServiceAreas: []string{Peihong}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_THURSDAY, "09:00", "11:30")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_DOOR_KNOCKING,
			Contact:            &partnerv1.Contact{PersonName: "覃雅琴", Phone: "13807710004"},
			Description:        "与沛鸿社区居委会联合开展“手作茶香，非遗流长”制茶体验活动。",
		}},
		{"womensfed", active, &partnerv1.PartnerGroup{
			DisplayName: "南宁市妇联“宁宁姐”婚调巡讲团", Kind: partnerv1.GroupKind_GROUP_KIND_GOVERNMENT_UNIT, CreditCode: "11450100MB00000446", RegionCode: District,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_LEGAL_AID, 10, "婚姻调解", "家庭纠纷")},
			ServiceAreas: []string{District}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_THURSDAY, "09:00", "12:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_REFERRAL,
			Contact:            &partnerv1.Contact{PersonName: "韦宁", Phone: "13807710005"},
		}},
		{"lawfirm", active, &partnerv1.PartnerGroup{
			DisplayName: "广西江南律师事务所", Kind: partnerv1.GroupKind_GROUP_KIND_ENTERPRISE, CreditCode: "91450105MA00000558", RegionCode: Jiangnan,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_LEGAL_AID, 20, "法律咨询", "普法宣传", "物业纠纷")},
			ServiceAreas: []string{District}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_TUESDAY, "14:30", "17:30")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_OPEN_CALL,
			Contact:            &partnerv1.Contact{PersonName: "莫律师", Phone: "13807710006"},
		}},
		{"canteen", active, &partnerv1.PartnerGroup{
			DisplayName: "福建园颐养餐厅", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT, CreditCode: "92450105MA0000088H", RegionCode: FujianyuanSQ,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_ELDERLY_CARE, 120, "养老助餐", "送餐上门")},
			ServiceAreas: []string{Fujianyuan},
			Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_MONDAY, "11:00", "13:00"), window(typev1.Weekday_WEEKDAY_TUESDAY, "11:00", "13:00"),
				window(wed, "11:00", "13:00"), window(typev1.Weekday_WEEKDAY_THURSDAY, "11:00", "13:00"), window(typev1.Weekday_WEEKDAY_FRIDAY, "11:00", "13:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_OPEN_CALL,
			Contact:            &partnerv1.Contact{PersonName: "梁桂芳", Phone: "13807710007"},
		}},
		{"hospital", verified, &partnerv1.PartnerGroup{
			DisplayName: "江南区人民医院社区义诊队", Kind: partnerv1.GroupKind_GROUP_KIND_HOSPITAL, CreditCode: "12450105MB0000066K", RegionCode: District,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_MEDICAL, 16, "义诊", "健康讲座", "艾滋病预防")},
			ServiceAreas: []string{District}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_SATURDAY, "08:30", "11:30")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_OPEN_CALL,
			Contact:            &partnerv1.Contact{PersonName: "蒙医生", Phone: "13807710008"},
		}},
		{"telecom", applied, &partnerv1.PartnerGroup{
			DisplayName: "通信运营商江南分公司", Kind: partnerv1.GroupKind_GROUP_KIND_ENTERPRISE, CreditCode: "91450100MA00000778", RegionCode: District,
			Capabilities:       []*partnerv1.Capability{capability(typev1.Category_CATEGORY_INFRASTRUCTURE, 0, "网线整治", "飞线清理")},
			ServiceAreas:       []string{District},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_JOINT_MEETING,
			Contact:            &partnerv1.Contact{PersonName: "周工", Phone: "13807710009"},
		}},
	}
}

func people() []person {
	return []person{
		{"calligraphy", "", active, &partnerv1.Partner{
			DisplayName: "何老师（书法）", RegionCode: Peihong,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_EDUCATION, 8, "书法", "老年书法课"), capability(typev1.Category_CATEGORY_CULTURE_SPORTS, 4, "书法")},
			ServiceAreas: []string{Peihong}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_THURSDAY, "09:00", "11:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_DOOR_KNOCKING,
			Contact:            &partnerv1.Contact{PersonName: "何文华", Phone: "13807710010"},
		}},
		{"taichi", "", active, &partnerv1.Partner{
			DisplayName: "李老师（太极拳）", RegionCode: Peihong,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CULTURE_SPORTS, 8, "太极拳")},
			ServiceAreas: []string{Nahong}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_SATURDAY, "07:30", "09:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_REFERRAL,
			Contact:            &partnerv1.Contact{PersonName: "李秋生", Phone: "13807710011"},
		}},
		{"parent-tang", "parents", active, &partnerv1.Partner{
			DisplayName: "唐妈妈（家长志愿者）", RegionCode: Erqiaoxi,
			Capabilities: []*partnerv1.Capability{capability(typev1.Category_CATEGORY_CHILDCARE, 8, "看护", "读绘本")},
			ServiceAreas: []string{Erqiaoxi}, Availability: []*typev1.WeeklyWindow{window(typev1.Weekday_WEEKDAY_WEDNESDAY, "15:00", "18:00")},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_JOINT_MEETING,
			Contact:            &partnerv1.Contact{PersonName: "唐丽", Phone: "13807710012"},
		}},
		{"plumber", "", applied, &partnerv1.Partner{
			DisplayName: "王师傅（水电维修）", RegionCode: Erqiaoxi,
			Capabilities:       []*partnerv1.Capability{capability(typev1.Category_CATEGORY_PROPERTY_HOUSING, 10, "水电维修", "楼顶漏水")},
			ServiceAreas:       []string{Jiangnan},
			RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_DOOR_KNOCKING,
			Contact:            &partnerv1.Contact{PersonName: "王建国", Phone: "13807710013"},
		}},
	}
}

func activities() []activity {
	act := func(by, community, title, date string, kind partnerv1.ActivityKind, participants, served, minutes int32) activity {
		return activity{by, &partnerv1.ServiceActivity{CommunityCode: community, Title: title, ActivityDate: date, Kind: kind,
			ParticipantCount: participants, PeopleServed: served, VolunteerMinutes: minutes}}
	}
	return []activity{
		act("parents", Erqiaoxi, "周三下午“成长时光”托管", "2025-11-26", partnerv1.ActivityKind_ACTIVITY_KIND_CARE, 4, 18, 4*180),
		act("league", Erqiaoxi, "周三下午托管：手工与绘本", "2025-11-26", partnerv1.ActivityKind_ACTIVITY_KIND_CARE, 2, 18, 2*180),
		act("tea", Peihong, "手作茶香，非遗流长", "2025-11-27", partnerv1.ActivityKind_ACTIVITY_KIND_CULTURE, 3, 26, 3*150),
		act("calligraphy", Peihong, "公益老年书法课", "2025-11-27", partnerv1.ActivityKind_ACTIVITY_KIND_TRAINING, 1, 20, 120),
		act("womensfed", Peihong, "“宁宁姐”婚调公益巡讲", "2025-11-27", partnerv1.ActivityKind_ACTIVITY_KIND_LAW_EDUCATION, 2, 45, 2*120),
		act("lawfirm", Fujing, "物业纠纷普法宣传", "2025-11-20", partnerv1.ActivityKind_ACTIVITY_KIND_LAW_EDUCATION, 2, 60, 2*150),
		act("canteen", FujianyuanSQ, "养老助餐", "2025-11-25", partnerv1.ActivityKind_ACTIVITY_KIND_VOLUNTEER_SERVICE, 5, 80, 5*120),
	}
}

// requestID is a stable request_id for a demo record, so a seed that was interrupted and runs
// again gets back what it already created rather than duplicating it.
func requestID(key string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("jiayuan-demo:"+key)).String()
}

// Seed creates the demo partners, moves them to their demo status and records their
// activities. ctx must carry the credentials of an official whose scope is the whole district.
// Activities are recorded last and cannot be deleted, so their presence means a seed has
// completed: then Seed does nothing, and restarts keep what users changed. A seed that was
// interrupted resumes where it stopped.
func Seed(ctx context.Context, c partnerv1.PartnerServiceClient) error {
	done, err := c.ListActivities(ctx, &partnerv1.ListActivitiesRequest{PageSize: 1})
	if err != nil {
		return fmt.Errorf("demo: look for existing data: %w", err)
	}
	if len(done.GetActivities()) > 0 {
		return nil
	}
	names := map[string]string{}
	for _, g := range groups() {
		resp, err := c.CreatePartnerGroup(ctx, &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g.g, RequestId: requestID(g.key)})
		if err != nil {
			return fmt.Errorf("demo: create group %s: %w", g.g.GetDisplayName(), err)
		}
		name := resp.GetPartnerGroup().GetName()
		names[g.key] = name
		// A replayed create answers with the record as first created; ask for its status now.
		cur, err := c.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: name})
		if err != nil {
			return fmt.Errorf("demo: read group %s: %w", g.g.GetDisplayName(), err)
		}
		if err := promote(cur.GetPartnerGroup().GetStatus(), g.status, func(to status) error {
			_, err := c.ChangePartnerGroupStatus(ctx, &partnerv1.ChangePartnerGroupStatusRequest{Name: name, Status: to, Reason: "演示数据"})
			return err
		}); err != nil {
			return fmt.Errorf("demo: promote group %s: %w", g.g.GetDisplayName(), err)
		}
	}
	for _, p := range people() {
		p.p.Group = names[p.group]
		resp, err := c.CreatePartner(ctx, &partnerv1.CreatePartnerRequest{Partner: p.p, RequestId: requestID(p.key)})
		if err != nil {
			return fmt.Errorf("demo: create partner %s: %w", p.p.GetDisplayName(), err)
		}
		name := resp.GetPartner().GetName()
		names[p.key] = name
		cur, err := c.GetPartner(ctx, &partnerv1.GetPartnerRequest{Name: name})
		if err != nil {
			return fmt.Errorf("demo: read partner %s: %w", p.p.GetDisplayName(), err)
		}
		if err := promote(cur.GetPartner().GetStatus(), p.status, func(to status) error {
			_, err := c.ChangePartnerStatus(ctx, &partnerv1.ChangePartnerStatusRequest{Name: name, Status: to, Reason: "演示数据"})
			return err
		}); err != nil {
			return fmt.Errorf("demo: promote partner %s: %w", p.p.GetDisplayName(), err)
		}
	}
	for i, a := range activities() {
		a.a.Partner = names[a.by]
		if _, err := c.RecordActivity(ctx, &partnerv1.RecordActivityRequest{Activity: a.a, RequestId: requestID(fmt.Sprintf("activity-%d", i))}); err != nil {
			return fmt.Errorf("demo: record activity %s: %w", a.a.GetTitle(), err)
		}
	}
	return nil
}

// promote walks a record from its current status up to want, through verified then active,
// skipping the steps already taken.
func promote(current, want status, change func(to status) error) error {
	for _, step := range []status{verified, active} {
		if step <= current {
			continue
		}
		if want < step {
			return nil
		}
		if err := change(step); err != nil {
			return err
		}
	}
	return nil
}

// Names returns the demo partners' display names by key, for tests and documentation.
func Names() map[string]string {
	out := map[string]string{}
	for _, g := range groups() {
		out[g.key] = g.g.GetDisplayName()
	}
	for _, p := range people() {
		out[p.key] = p.p.GetDisplayName()
	}
	return out
}
