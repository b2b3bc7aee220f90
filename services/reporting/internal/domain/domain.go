// Package domain holds the reporting service's rules with no I/O: the measures it keeps, the
// local calendar days they are kept by, the duration histograms medians are read from, and the
// Chinese labels exports print.
package domain

import (
	"fmt"
	"time"
)

// The measures kept in aggregates. A stock's rows are daily changes (its value at a date is the
// sum up to it); a flow's rows are what happened that day.
const (
	// Stocks.
	GroupsByStatus    = "groups_by_status"     // dimension: PartnerStatus name
	PartnersByStatus  = "partners_by_status"   // dimension: PartnerStatus name
	ProjectsByStatus  = "projects_by_status"   // dimension: ProjectStatus name
	ProjectsByList    = "projects_by_list"     // dimension: ListType name; not cancelled
	DemandsByStatus   = "demands_by_status"    // dimension: DemandStatus name
	OpenCasesByColour = "open_cases_by_colour" // dimension: Colour name
	ContractsActive   = "contracts_active"

	// Flows.
	RecruitedByChannel = "recruited_by_channel" // dimension: RecruitmentChannel name
	PartiesByField     = "parties_by_field"     // dimension: Category name
	Sessions           = "sessions"             // dimension: ActivityKind name
	PeopleServed       = "people_served"
	VolunteerMinutes   = "volunteer_minutes"
	PartnerMinutes     = "partner_minutes"     // dimension: partner resource name
	PartnerPeople      = "partner_people"      // dimension: partner resource name
	PartnerSessions    = "partner_sessions"    // dimension: partner resource name
	DemandsByKind      = "demands_by_kind"     // dimension: DemandKind name
	DemandsByCategory  = "demands_by_category" // dimension: Category name
	DemandsByChannel   = "demands_by_channel"  // dimension: Channel name
	MattersSolved      = "matters_solved"
	ClosedUnresolved   = "closed_unresolved"
	ResolutionHist     = "resolution_hist" // dimension: Bucket
	NeedsMatched       = "needs_matched"
	Ratings            = "ratings" // dimension: Rating name
	CasesOpened        = "cases_opened"
	Escalations        = "escalations"
	CasesClosed        = "cases_closed"     // dimension: OnTime or Late
	FirstReplyHist     = "first_reply_hist" // dimension: Bucket
	Meetings           = "meetings"         // dimension: MeetingCase, MeetingMediation or a demand MeetingKind
	ContractsFulfilled = "contracts_fulfilled"
	ContractsBreached  = "contracts_breached"
	InactiveAlerts     = "inactive_partner_alerts"
)

// Stocks are the measures summed from the beginning to the period's end.
var stocks = []string{GroupsByStatus, PartnersByStatus, ProjectsByStatus, ProjectsByList, DemandsByStatus, OpenCasesByColour, ContractsActive}

// flows are the measures a headline sums over its period: every flow but the per-partner ones,
// which only rankings read (they are a row per partner and day, the bulk of the table).
var flows = []string{RecruitedByChannel, PartiesByField, Sessions, PeopleServed, VolunteerMinutes, DemandsByKind,
	DemandsByCategory, DemandsByChannel, MattersSolved, ClosedUnresolved, ResolutionHist, NeedsMatched, Ratings,
	CasesOpened, Escalations, CasesClosed, FirstReplyHist, Meetings, ContractsFulfilled, ContractsBreached, InactiveAlerts}

// Flows returns the flow measures a headline reads.
func Flows() []string { return append([]string(nil), flows...) }

// Stocks returns the stock measures.
func Stocks() []string { return append([]string(nil), stocks...) }

// Dimensions of CasesClosed and Meetings.
const (
	OnTime           = "on_time"
	Late             = "late"
	MeetingCase      = "CASE_MEETING"
	MeetingMediation = "MEDIATION_SESSION"
)

// China Standard Time has no daylight saving: a fixed zone needs no tz database.
var cst = time.FixedZone("CST", 8*3600)

// Day is t's local date as yyyymmdd.
func Day(t time.Time) int {
	t = t.In(cst)
	return t.Year()*10000 + int(t.Month())*100 + t.Day()
}

// Date parses "YYYY-MM-DD" as a local date.
func Date(s string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, s, cst)
}

// DayOfDate is "YYYY-MM-DD" as yyyymmdd; false when it is not a date.
func DayOfDate(s string) (int, bool) {
	t, err := Date(s)
	if err != nil {
		return 0, false
	}
	return Day(t), true
}

// DateOfDay is yyyymmdd as a local date.
func DateOfDay(d int) time.Time {
	return time.Date(d/10000, time.Month(d/100%100), d%100, 0, 0, 0, 0, cst)
}

// MaxPeriodDays is the longest period a query counts: a year, leap or not.
const MaxPeriodDays = 366

// bucketBounds are the upper bounds of the duration histograms: fine where replies and
// resolutions usually fall (hours to weeks), coarse beyond.
var bucketBounds = []time.Duration{
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	2 * 24 * time.Hour, 3 * 24 * time.Hour, 5 * 24 * time.Hour, 7 * 24 * time.Hour, 10 * 24 * time.Hour,
	14 * 24 * time.Hour, 21 * 24 * time.Hour, 30 * 24 * time.Hour, 60 * 24 * time.Hour,
	90 * 24 * time.Hour, 180 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// Bucket is the histogram bucket of d: "b00" … "b18" (the last is over a year).
func Bucket(d time.Duration) string {
	for i, b := range bucketBounds {
		if d <= b {
			return fmt.Sprintf("b%02d", i)
		}
	}
	return fmt.Sprintf("b%02d", len(bucketBounds))
}

// Median returns the upper bound of the bucket holding the median of the histogram h
// (bucket → count); false when h is empty. Past the last bound it answers that bound.
func Median(h map[string]int64) (time.Duration, bool) {
	var total int64
	for _, v := range h {
		total += v
	}
	if total <= 0 {
		return 0, false
	}
	var seen int64
	for i := 0; i <= len(bucketBounds); i++ {
		seen += h[fmt.Sprintf("b%02d", i)]
		if 2*seen >= total {
			if i == len(bucketBounds) {
				i--
			}
			return bucketBounds[i], true
		}
	}
	return bucketBounds[len(bucketBounds)-1], true
}

// labels name enum values in Chinese, by the value's suffix after its type's prefix.
var labels = map[string]string{
	// Statuses of partners and groups.
	"PARTNER_STATUS_APPLIED": "已申请", "PARTNER_STATUS_VERIFIED": "已核验", "PARTNER_STATUS_ACTIVE": "活跃",
	"PARTNER_STATUS_DORMANT": "休眠", "PARTNER_STATUS_WITHDRAWN": "已退出",
	// Recruitment channels.
	"RECRUITMENT_CHANNEL_UNSPECIFIED": "未注明", "RECRUITMENT_CHANNEL_OPEN_CALL": "张榜招贤",
	"RECRUITMENT_CHANNEL_DOOR_KNOCKING": "敲门招募", "RECRUITMENT_CHANNEL_REFERRAL": "推荐",
	"RECRUITMENT_CHANNEL_JOINT_MEETING": "联席会",
	// Projects.
	"PROJECT_STATUS_PROPOSED": "已提出", "PROJECT_STATUS_APPROVED": "已立项", "PROJECT_STATUS_MATCHING": "匹配中",
	"PROJECT_STATUS_CONTRACT_PENDING": "待签约", "PROJECT_STATUS_CONTRACTED": "已签约", "PROJECT_STATUS_CONTRACT_EXPIRED": "契约已到期",
	"PROJECT_STATUS_DELIVERING": "实施中", "PROJECT_STATUS_COMPLETED": "已完成", "PROJECT_STATUS_CANCELLED": "已取消",
	"LIST_TYPE_UNSPECIFIED": "未分类", "LIST_TYPE_ELDERLY_AND_CHILDREN": "一老一小", "LIST_TYPE_EMPLOYMENT": "就业服务",
	"LIST_TYPE_SKILLS_TRAINING": "技能培训", "LIST_TYPE_CULTURE": "文化", "LIST_TYPE_HEALTH": "健康",
	"LIST_TYPE_LEGAL_AID": "法律援助", "LIST_TYPE_LIVING_ENVIRONMENT": "人居环境", "LIST_TYPE_OTHER": "其他",
	// Demands.
	"DEMAND_KIND_NEED": "需求", "DEMAND_KIND_PROBLEM": "问题",
	"CHANNEL_FOURTH_DAY_MEETING": "逢四说事", "CHANNEL_ELDERS_COUNCIL": "老友议事厅", "CHANNEL_GRID_NIGHT_TALK": "网格夜话",
	"CHANNEL_DOOR_KNOCKING": "敲门行动", "CHANNEL_GRID_WORKER_VISIT": "网格员走访", "CHANNEL_PARTNER_JOINT_MEETING": "合伙人联席会",
	"CHANNEL_ONLINE": "网上", "CHANNEL_HOTLINE": "热线", "CHANNEL_WALK_IN": "来访",
	"DEMAND_STATUS_SUBMITTED": "已提交", "DEMAND_STATUS_ACCEPTED": "已受理", "DEMAND_STATUS_REJECTED": "不予受理",
	"DEMAND_STATUS_IN_PROJECT": "项目办理中", "DEMAND_STATUS_IN_CASE": "案件办理中", "DEMAND_STATUS_RESOLVED": "已解决",
	"DEMAND_STATUS_CLOSED_UNRESOLVED": "未解决办结", "DEMAND_STATUS_CLOSED": "已关闭", "DEMAND_STATUS_DUPLICATE": "重复",
	// Cases and meetings.
	"COLOUR_GREEN": "绿色", "COLOUR_YELLOW": "黄色", "COLOUR_RED": "红色", "COLOUR_UNSPECIFIED": "未定色",
	MeetingCase: "联合协商会", MeetingMediation: "调解",
	"MEETING_KIND_FOURTH_DAY": "逢四说事", "MEETING_KIND_ELDERS_COUNCIL": "老友议事厅", "MEETING_KIND_GRID_NIGHT_TALK": "网格夜话",
	"MEETING_KIND_PARTNER_JOINT_MEETING": "合伙人联席会",
	// Activities.
	"ACTIVITY_KIND_VOLUNTEER_SERVICE": "志愿服务", "ACTIVITY_KIND_TRAINING": "培训", "ACTIVITY_KIND_LAW_EDUCATION": "普法",
	"ACTIVITY_KIND_CULTURE": "文化活动", "ACTIVITY_KIND_HEALTH": "健康服务", "ACTIVITY_KIND_CARE": "关爱服务",
	"ACTIVITY_KIND_OTHER": "其他",
	// Categories (fields).
	"CATEGORY_UNSPECIFIED": "未分类", "CATEGORY_ELDERLY_CARE": "养老服务", "CATEGORY_CHILDCARE": "托管照看",
	"CATEGORY_EDUCATION": "教育培训", "CATEGORY_MEDICAL": "医疗健康", "CATEGORY_LEGAL_AID": "法律援助",
	"CATEGORY_EMPLOYMENT": "就业服务", "CATEGORY_CULTURE_SPORTS": "文体活动", "CATEGORY_PROPERTY_HOUSING": "物业住房",
	"CATEGORY_ENVIRONMENT": "环境卫生", "CATEGORY_SAFETY": "平安建设", "CATEGORY_INFRASTRUCTURE": "基础设施",
	"CATEGORY_OTHER": "其他",
}

// Label is the Chinese name of an enum value (its proto name); a value without one reads as
// itself.
func Label(key string) string {
	if l, ok := labels[key]; ok {
		return l
	}
	return key
}
