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
		days: 180, content: "Regular care sessions for the community's children or elderly in the community's rooms.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "provide the activity room and publicise the sessions", dueIn: 7},
			{owner: PartnerPlaceholder, description: "staff the weekly session", weekly: weeklyAt(typev1.Weekday_WEEKDAY_WEDNESDAY, "15:00", "18:00")},
		},
		milestones: []templateMilestone{{title: "first session held", dueIn: 14}},
		results:    []*contractv1.ExpectedResult{result("residents served each week", 20, "人", people, perWeek)},
	},
	demandv1.ListType_LIST_TYPE_EMPLOYMENT: {
		days: 180, content: "Job fairs and one-to-one employment guidance for residents.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "gather job seekers and book the venue", dueIn: 14},
			{owner: PartnerPlaceholder, description: "hold a monthly job fair or guidance day", dueIn: 30},
		},
		results: []*contractv1.ExpectedResult{result("residents helped to a job", 10, "人", manual, total)},
	},
	demandv1.ListType_LIST_TYPE_SKILLS_TRAINING: {
		days: 90, content: "A course of skills training sessions for residents.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "enrol the trainees and provide the room", dueIn: 7},
			{owner: PartnerPlaceholder, description: "teach the weekly session", weekly: weeklyAt(typev1.Weekday_WEEKDAY_SATURDAY, "09:00", "11:00")},
		},
		results: []*contractv1.ExpectedResult{result("training sessions held", 12, "次", sessions, total)},
	},
	demandv1.ListType_LIST_TYPE_CULTURE: {
		days: 90, content: "Cultural and sports activities open to every resident.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "publicise the activities", dueIn: 7},
			{owner: PartnerPlaceholder, description: "run the weekly activity", weekly: weeklyAt(typev1.Weekday_WEEKDAY_SATURDAY, "14:00", "16:00")},
		},
		results: []*contractv1.ExpectedResult{result("residents taking part", 200, "人次", people, total)},
	},
	demandv1.ListType_LIST_TYPE_HEALTH: {
		days: 180, content: "Free clinics and health talks for residents.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "provide the venue and notify residents", dueIn: 7},
			{owner: PartnerPlaceholder, description: "hold the monthly free clinic", dueIn: 30},
		},
		results: []*contractv1.ExpectedResult{result("residents seen", 300, "人次", people, total)},
	},
	demandv1.ListType_LIST_TYPE_LEGAL_AID: {
		days: 180, content: "Legal consultations and law education for residents.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "provide a consultation room", dueIn: 7},
			{owner: PartnerPlaceholder, description: "hold the weekly consultation hours", weekly: weeklyAt(typev1.Weekday_WEEKDAY_THURSDAY, "14:00", "17:00")},
		},
		results: []*contractv1.ExpectedResult{result("consultations given", 50, "次", sessions, total)},
	},
	demandv1.ListType_LIST_TYPE_LIVING_ENVIRONMENT: {
		days: 365, content: "Improvements to the living environment (lifts, roofs, bins, cables).",
		duties: []templateDuty{
			{owner: CommunityParty, description: "collect the owners' consent", dueIn: 60},
			{owner: PartnerPlaceholder, description: "survey and submit the applications", dueIn: 120},
		},
		milestones: []templateMilestone{{title: "applications submitted", dueIn: 120}},
		results:    []*contractv1.ExpectedResult{result("renewals applied for", 16, "台", manual, total)},
	},
	demandv1.ListType_LIST_TYPE_OTHER: {
		days: 90, content: "The project as described in the project library.",
		duties: []templateDuty{
			{owner: CommunityParty, description: "coordinate the project", dueIn: 7},
			{owner: PartnerPlaceholder, description: "deliver the project", dueIn: 60},
		},
		results: []*contractv1.ExpectedResult{result("residents served", 50, "人次", people, total)},
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
