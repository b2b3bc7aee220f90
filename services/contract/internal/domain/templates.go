package domain

import (
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
)

// PartnerPlaceholder is the owner of a template's duty that every partner of the contract
// owes: a draft gives each partner its own copy.
const PartnerPlaceholder = "partner"

// template is one list type's starting point: what a community typically asks of its partners
// for such a project (个性化契约), to be tailored before it is sent for signature.
type template struct {
	days    int
	content string
	// duties' due dates are days after the start (dueIn); weekly ones recur.
	duties     []templateDuty
	milestones []templateMilestone
	results    []*contractv1.ExpectedResult
}

type templateDuty struct {
	owner, description string
	dueIn              int // days after the start; 0 with weekly set
	weekly             *typev1.WeeklyWindow
}

type templateMilestone struct {
	title string
	dueIn int
}

func weeklyAt(day typev1.Weekday, from, to string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: day, StartTime: from, EndTime: to}
}

func result(desc string, target int64, unit string, m contractv1.ResultMeasure, c contractv1.ResultCadence) *contractv1.ExpectedResult {
	return &contractv1.ExpectedResult{Description: desc, TargetValue: target, Unit: unit, Measure: m, Cadence: c}
}

const (
	people   = contractv1.ResultMeasure_RESULT_MEASURE_PEOPLE_SERVED
	sessions = contractv1.ResultMeasure_RESULT_MEASURE_SESSIONS
	manual   = contractv1.ResultMeasure_RESULT_MEASURE_MANUAL
	total    = contractv1.ResultCadence_RESULT_CADENCE_TOTAL
	perWeek  = contractv1.ResultCadence_RESULT_CADENCE_WEEKLY
)

var templates = map[demandv1.ListType]template{
	demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN: {
		days: 180, content: "在社区活动室为社区的儿童或老人定期开展照护服务。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "提供活动室并宣传服务时间", dueIn: 7},
			{owner: PartnerPlaceholder, description: "每周派人值守服务", weekly: weeklyAt(typev1.Weekday_WEEKDAY_WEDNESDAY, "15:00", "18:00")},
		},
		milestones: []templateMilestone{{title: "首次服务开展", dueIn: 14}},
		results:    []*contractv1.ExpectedResult{result("每周服务居民", 20, "人", people, perWeek)},
	},
	demandv1.ListType_LIST_TYPE_EMPLOYMENT: {
		days: 180, content: "为居民举办招聘会并提供一对一就业指导。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "摸排求职居民并预订场地", dueIn: 14},
			{owner: PartnerPlaceholder, description: "每月举办一次招聘会或就业指导日", dueIn: 30},
		},
		results: []*contractv1.ExpectedResult{result("帮助居民就业", 10, "人", manual, total)},
	},
	demandv1.ListType_LIST_TYPE_SKILLS_TRAINING: {
		days: 90, content: "为居民开设系列技能培训课程。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "组织学员报名并提供培训场地", dueIn: 7},
			{owner: PartnerPlaceholder, description: "每周授课", weekly: weeklyAt(typev1.Weekday_WEEKDAY_SATURDAY, "09:00", "11:00")},
		},
		results: []*contractv1.ExpectedResult{result("开展培训", 12, "次", sessions, total)},
	},
	demandv1.ListType_LIST_TYPE_CULTURE: {
		days: 90, content: "面向全体居民开展文体活动。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "宣传活动安排", dueIn: 7},
			{owner: PartnerPlaceholder, description: "每周组织活动", weekly: weeklyAt(typev1.Weekday_WEEKDAY_SATURDAY, "14:00", "16:00")},
		},
		results: []*contractv1.ExpectedResult{result("居民参与", 200, "人次", people, total)},
	},
	demandv1.ListType_LIST_TYPE_HEALTH: {
		days: 180, content: "为居民开展义诊和健康讲座。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "提供场地并通知居民", dueIn: 7},
			{owner: PartnerPlaceholder, description: "每月举办一次义诊", dueIn: 30},
		},
		results: []*contractv1.ExpectedResult{result("服务居民", 300, "人次", people, total)},
	},
	demandv1.ListType_LIST_TYPE_LEGAL_AID: {
		days: 180, content: "为居民提供法律咨询和普法宣传。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "提供咨询室", dueIn: 7},
			{owner: PartnerPlaceholder, description: "每周坐班提供法律咨询", weekly: weeklyAt(typev1.Weekday_WEEKDAY_THURSDAY, "14:00", "17:00")},
		},
		results: []*contractv1.ExpectedResult{result("提供法律咨询", 50, "次", sessions, total)},
	},
	demandv1.ListType_LIST_TYPE_LIVING_ENVIRONMENT: {
		days: 365, content: "改善居住环境（加装电梯、屋面修缮、垃圾分类设施、线缆整治）。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "征集业主同意意见", dueIn: 60},
			{owner: PartnerPlaceholder, description: "完成勘察并提交申请", dueIn: 120},
		},
		milestones: []templateMilestone{{title: "申请材料已提交", dueIn: 120}},
		results:    []*contractv1.ExpectedResult{result("申请改造", 16, "台", manual, total)},
	},
	demandv1.ListType_LIST_TYPE_OTHER: {
		days: 90, content: "按项目库中的项目说明实施。",
		duties: []templateDuty{
			{owner: CommunityParty, description: "统筹协调项目", dueIn: 7},
			{owner: PartnerPlaceholder, description: "实施项目", dueIn: 60},
		},
		results: []*contractv1.ExpectedResult{result("服务居民", 50, "人次", people, total)},
	},
}

// Template is the template of list type lt (OTHER's when it has none), its duties owned by
// "community" or "partner", dated from start.
func Template(lt demandv1.ListType, start calendar.Date) *contractv1.ContractTemplate {
	tp, ok := templates[lt]
	if !ok {
		lt, tp = demandv1.ListType_LIST_TYPE_OTHER, templates[demandv1.ListType_LIST_TYPE_OTHER]
	}
	t := &contractv1.Terms{
		Content: tp.content, StartDate: start.Proto(), EndDate: start.AddDays(tp.days - 1).Proto(),
	}
	for _, d := range tp.duties {
		duty := &contractv1.Duty{Owner: d.owner, Description: d.description}
		if d.weekly != nil {
			duty.When = &contractv1.Duty_Weekly{Weekly: proto.Clone(d.weekly).(*typev1.WeeklyWindow)}
		} else {
			duty.When = &contractv1.Duty_DueDate{DueDate: start.AddDays(d.dueIn).Proto()}
		}
		t.Duties = append(t.Duties, duty)
	}
	for _, m := range tp.milestones {
		t.Milestones = append(t.Milestones, &contractv1.Milestone{Title: m.title, DueDate: start.AddDays(m.dueIn).Proto()})
	}
	for _, r := range tp.results {
		t.ExpectedResults = append(t.ExpectedResults, proto.Clone(r).(*contractv1.ExpectedResult))
	}
	return &contractv1.ContractTemplate{ListType: lt, Terms: t, DefaultDays: int32(tp.days)}
}

// Templates lists every list type's template, dated from start.
func Templates(start calendar.Date) []*contractv1.ContractTemplate {
	var out []*contractv1.ContractTemplate
	for lt := demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN; lt <= demandv1.ListType_LIST_TYPE_OTHER; lt++ {
		out = append(out, Template(lt, start))
	}
	return out
}

// DraftTerms is list type lt's template for a contract with partners starting on start: each
// partner gets its own copy of the partners' duties, and ids are assigned.
func DraftTerms(lt demandv1.ListType, partners []string, start calendar.Date) *contractv1.Terms {
	t := Template(lt, start).GetTerms()
	var duties []*contractv1.Duty
	for _, d := range t.GetDuties() {
		if d.GetOwner() != PartnerPlaceholder {
			duties = append(duties, d)
			continue
		}
		for _, p := range partners {
			c := proto.Clone(d).(*contractv1.Duty)
			c.Owner = p
			duties = append(duties, c)
		}
	}
	t.Duties = duties
	AssignIDs(t, nil)
	return t
}
