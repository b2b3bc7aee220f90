package domain

import (
	"slices"
	"strings"
	"testing"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"google.golang.org/protobuf/proto"
)

const (
	jiangnan  = "450105"       // 江南区
	street    = "450105001"    // 江南街道
	erqiaoxi  = "450105001001" // 二桥西社区
	neighbour = "450105001002" // another community of the same sub-district
	grid      = "450105001001003"
	city      = "4501" // 南宁市, above the district
)

var regionNames = map[string]string{
	jiangnan: "江南区",
	street:   "江南街道",
	erqiaoxi: "二桥西社区",
}

func erqiaoxiPlace() Place {
	return Place{
		Community: erqiaoxi,
		Path:      []string{jiangnan, street, erqiaoxi},
		Name:      func(code string) string { return regionNames[code] },
	}
}

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

func caps(c typev1.Category, tags ...string) []*partnerv1.Capability {
	return []*partnerv1.Capability{{Category: c, Tags: tags}}
}

// today is a Wednesday, noon in Nanning.
var today = time.Date(2026, time.March, 11, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))

func TestScoreParts(t *testing.T) {
	childcareProject := &demandv1.Project{
		Category:      typev1.Category_CATEGORY_CHILDCARE,
		CommunityCode: erqiaoxi,
		RequiredTags:  []string{"课后托管", "作业辅导", "Art"},
		Schedule:      []*typev1.WeeklyWindow{wed("15:00", "18:00")},
	}
	childcare := caps(typev1.Category_CATEGORY_CHILDCARE)
	tests := []struct {
		name    string
		project *demandv1.Project
		place   Place
		facts   Facts
		today   time.Time
		want    *demandv1.ScoreBreakdown
		reasons []string // each must appear within some reason
	}{
		{
			name:    "nothing known",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			want:    &demandv1.ScoreBreakdown{Load: 10},
			reasons: []string{"no active commitments"},
		},
		{
			name:    "category without tags",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{Capabilities: childcare, ActiveCommitments: 4},
			want:    &demandv1.ScoreBreakdown{Capability: 25},
			reasons: []string{"capability childcare", "4 active commitments"},
		},
		{
			name:    "one tag, case-insensitive, in another category",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{Capabilities: caps(typev1.Category_CATEGORY_CULTURE_SPORTS, "art"), ActiveCommitments: 1},
			want:    &demandv1.ScoreBreakdown{Capability: 5, Load: 7},
			reasons: []string{"tags Art", "1 active commitment"},
		},
		{
			name:    "tags capped at 10",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{Capabilities: caps(typev1.Category_CATEGORY_CHILDCARE, "课后托管", "作业辅导", "ART"), ActiveCommitments: 2},
			want:    &demandv1.ScoreBreakdown{Capability: 35, Load: 4},
			reasons: []string{"tags 课后托管、作业辅导、Art"},
		},
		{
			name: "a tag required twice counts once",
			project: &demandv1.Project{
				Category:     typev1.Category_CATEGORY_CHILDCARE,
				RequiredTags: []string{"课后托管", "课后托管"},
			},
			place: erqiaoxiPlace(),
			facts: Facts{Capabilities: caps(typev1.Category_CATEGORY_OTHER, "课后托管"), ActiveCommitments: 9},
			want:  &demandv1.ScoreBreakdown{Capability: 5, Availability: 15},
		},
		{
			name:    "serves the community",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ServiceAreas: []string{neighbour, erqiaoxi, jiangnan}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 20},
			reasons: []string{"serves 二桥西社区"},
		},
		{
			name:    "serves the sub-district",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ServiceAreas: []string{jiangnan, street}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 12},
			reasons: []string{"serves 江南街道 (includes 二桥西社区)"},
		},
		{
			name:    "serves a grid of the community",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ServiceAreas: []string{grid, jiangnan}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 10},
			reasons: []string{"serves 450105001001003 within 二桥西社区"},
		},
		{
			name:    "serves the district",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ServiceAreas: []string{jiangnan}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 6},
			reasons: []string{"serves 江南区 (includes 二桥西社区)"},
		},
		{
			name:    "serves the city above the district",
			project: childcareProject,
			place: Place{
				Community: erqiaoxi,
				Path:      []string{city, jiangnan, street, erqiaoxi},
			},
			facts:   Facts{ServiceAreas: []string{city}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 6},
			reasons: []string{"serves 4501 (includes 450105001001)"},
		},
		{
			name:    "serves only a neighbouring community",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ServiceAreas: []string{neighbour}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{},
		},
		{
			name:    "covers half the schedule",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{Availability: []*typev1.WeeklyWindow{wed("16:30", "20:00")}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{Availability: 7},
			reasons: []string{"available Wed 16:30–18:00 (90 of 180 scheduled minutes)"},
		},
		{
			name:    "overlapping windows count once",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts: Facts{Availability: []*typev1.WeeklyWindow{
				wed("15:00", "16:00"), wed("15:30", "16:30"), wed("17:00", "19:00"),
			}, ActiveCommitments: 5},
			// 15:00–16:30 and 17:00–18:00: 150 of 180 minutes.
			want:    &demandv1.ScoreBreakdown{Availability: 12},
			reasons: []string{"available Wed 15:00–16:30, Wed 17:00–18:00 (150 of 180 scheduled minutes)"},
		},
		{
			name:    "another weekday covers nothing",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts: Facts{Availability: []*typev1.WeeklyWindow{
				{Weekday: typev1.Weekday_WEEKDAY_THURSDAY, StartTime: "15:00", EndTime: "18:00"},
				wed("18:00", "20:00"), // touching is not overlapping
			}, ActiveCommitments: 5},
			want: &demandv1.ScoreBreakdown{},
		},
		{
			name: "several schedule windows",
			project: &demandv1.Project{
				Category: typev1.Category_CATEGORY_CHILDCARE,
				Schedule: []*typev1.WeeklyWindow{
					wed("15:00", "18:00"),
					{Weekday: typev1.Weekday_WEEKDAY_SATURDAY, StartTime: "09:00", EndTime: "10:00"},
				},
			},
			place: erqiaoxiPlace(),
			facts: Facts{Availability: []*typev1.WeeklyWindow{
				{Weekday: typev1.Weekday_WEEKDAY_SATURDAY, StartTime: "08:00", EndTime: "12:00"},
			}, ActiveCommitments: 5},
			// 60 of 240 minutes.
			want:    &demandv1.ScoreBreakdown{Availability: 3},
			reasons: []string{"available Sat 09:00–10:00 (60 of 240 scheduled minutes)"},
		},
		{
			name:    "no schedule gives full availability",
			project: &demandv1.Project{Category: typev1.Category_CATEGORY_CHILDCARE},
			place:   erqiaoxiPlace(),
			facts:   Facts{ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{Availability: 15},
		},
		{
			name:    "track record capped",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ActiveCommitments: 5, ActivityCount: 37},
			want:    &demandv1.ScoreBreakdown{TrackRecord: 10},
			reasons: []string{"37 activities delivered"},
		},
		{
			name:    "track record counts",
			project: childcareProject,
			place:   erqiaoxiPlace(),
			facts:   Facts{ActiveCommitments: 5, ActivityCount: 4},
			want:    &demandv1.ScoreBreakdown{TrackRecord: 4},
			reasons: []string{"4 activities delivered"},
		},
		{
			name:    "nil project",
			place:   erqiaoxiPlace(),
			facts:   Facts{Capabilities: childcare, ServiceAreas: []string{erqiaoxi}, ActiveCommitments: 5},
			want:    &demandv1.ScoreBreakdown{ServiceArea: 20, Availability: 15},
			reasons: []string{"serves 二桥西社区"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			when := tt.today
			if when.IsZero() {
				when = today
			}
			b, total, reasons := scored(t, tt.project, tt.place, tt.facts, when)
			if !proto.Equal(b, tt.want) {
				t.Fatalf("breakdown = %v, want %v", b, tt.want)
			}
			if sum := b.GetCapability() + b.GetServiceArea() + b.GetAvailability() + b.GetLoad() + b.GetTrackRecord() + b.GetRecency(); int(sum) != total {
				t.Fatalf("total %d, parts add up to %d", total, sum)
			}
			for _, want := range tt.reasons {
				if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, want) }) {
					t.Errorf("reasons %q lack %q", reasons, want)
				}
			}
		})
	}
}

func TestScoreRecency(t *testing.T) {
	tests := []struct {
		name  string
		last  string
		today time.Time
		want  int32
	}{
		{"never", "", today, 0},
		{"unreadable date", "2026-02-30", today, 0},
		{"today", "2026-03-11", today, 10},
		{"30 days", "2026-02-09", today, 10},
		{"31 days", "2026-02-08", today, 6},
		{"90 days", "2025-12-11", today, 6},
		{"91 days", "2025-12-10", today, 3},
		{"365 days", "2025-03-11", today, 3},
		{"366 days", "2025-03-10", today, 0},
		{"after today counts as today", "2026-03-20", today, 10},
		// 20:00 UTC on the 10th is already the 11th in Nanning: 31 days, not 30.
		{"today read in Asia/Shanghai", "2026-02-08", time.Date(2026, time.March, 10, 20, 0, 0, 0, time.UTC), 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, reasons := scored(t, &demandv1.Project{}, erqiaoxiPlace(), Facts{LastActivityDate: tt.last}, tt.today)
			if b.GetRecency() != tt.want {
				t.Fatalf("recency = %d, want %d", b.GetRecency(), tt.want)
			}
			hasReason := slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, "last activity") })
			if hasReason != (tt.want > 0) {
				t.Fatalf("reasons %q: recency reason present = %v, want %v", reasons, hasReason, tt.want > 0)
			}
		})
	}
}

func TestScoreLoad(t *testing.T) {
	tests := []struct {
		commitments int
		want        int32
	}{{-1, 10}, {0, 10}, {1, 7}, {2, 4}, {3, 1}, {4, 0}, {10, 0}}
	for _, tt := range tests {
		b, _, _ := scored(t, &demandv1.Project{}, Place{}, Facts{ActiveCommitments: tt.commitments}, today)
		if b.GetLoad() != tt.want {
			t.Errorf("load for %d commitments = %d, want %d", tt.commitments, b.GetLoad(), tt.want)
		}
	}
}

// TestScoreArticleCase is the Wednesday after-school care of 二桥西社区 from the report: parent
// volunteers and the community youth league, both serving 二桥西 on Wednesday afternoons, rank
// above the sub-district's youth social-work space, which ranks above a tea studio that does no
// childcare at all.
func TestScoreArticleCase(t *testing.T) {
	project := &demandv1.Project{
		Title:         "周三下午课后托管",
		Category:      typev1.Category_CATEGORY_CHILDCARE,
		ListType:      demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN,
		CommunityCode: erqiaoxi,
		RequiredTags:  []string{"课后托管", "作业辅导"},
		Schedule:      []*typev1.WeeklyWindow{wed("15:00", "18:00")},
	}
	candidates := []struct {
		name  string
		facts Facts
	}{
		{"parent volunteer team", Facts{
			Capabilities:     caps(typev1.Category_CATEGORY_CHILDCARE, "课后托管"),
			ServiceAreas:     []string{erqiaoxi},
			Availability:     []*typev1.WeeklyWindow{wed("15:00", "18:00")},
			ActivityCount:    3,
			LastActivityDate: "2026-03-01",
		}},
		{"community youth league", Facts{
			Capabilities:      caps(typev1.Category_CATEGORY_CHILDCARE, "课后托管", "作业辅导"),
			ServiceAreas:      []string{erqiaoxi},
			Availability:      []*typev1.WeeklyWindow{wed("14:30", "18:00")},
			ActiveCommitments: 1,
			ActivityCount:     8,
			LastActivityDate:  "2026-01-30",
		}},
		// A professional team with a long record and the best tags, but it serves the whole
		// sub-district and is busy elsewhere.
		{"youth social-work space", Facts{
			Capabilities:      caps(typev1.Category_CATEGORY_CHILDCARE, "课后托管", "作业辅导"),
			ServiceAreas:      []string{street},
			Availability:      []*typev1.WeeklyWindow{wed("14:00", "18:00")},
			ActiveCommitments: 2,
			ActivityCount:     25,
			LastActivityDate:  "2026-03-06",
		}},
		{"tea studio", Facts{
			Capabilities:     caps(typev1.Category_CATEGORY_CULTURE_SPORTS, "茶艺"),
			ServiceAreas:     []string{erqiaoxi},
			Availability:     []*typev1.WeeklyWindow{wed("09:00", "21:00")},
			ActivityCount:    6,
			LastActivityDate: "2026-03-08",
		}},
	}
	scores := make(map[string]int, len(candidates))
	for _, c := range candidates {
		b, total, reasons := scored(t, project, erqiaoxiPlace(), c.facts, today)
		scores[c.name] = total
		if total < 0 || total > 100 {
			t.Fatalf("%s: score %d outside 0–100", c.name, total)
		}
		if sum := b.GetCapability() + b.GetServiceArea() + b.GetAvailability() + b.GetLoad() + b.GetTrackRecord() + b.GetRecency(); int(sum) != total {
			t.Fatalf("%s: total %d, parts add up to %d", c.name, total, sum)
		}
		if b.GetAvailability() != 15 {
			t.Errorf("%s: availability %d, want 15 (each covers Wed 15:00–18:00)", c.name, b.GetAvailability())
		}
		if len(reasons) == 0 {
			t.Errorf("%s: no reasons", c.name)
		}
	}
	t.Logf("scores: %v", scores)
	for _, top := range []string{"parent volunteer team", "community youth league"} {
		if scores[top] <= scores["youth social-work space"] {
			t.Errorf("%s (%d) does not outrank the youth social-work space (%d)", top, scores[top], scores["youth social-work space"])
		}
	}
	if scores["youth social-work space"] <= scores["tea studio"] {
		t.Errorf("youth social-work space (%d) does not outrank the tea studio (%d)", scores["youth social-work space"], scores["tea studio"])
	}
	// The parent team's reasons name the community and the time, as staff read them.
	_, _, reasons := scored(t, project, erqiaoxiPlace(), candidates[0].facts, today)
	for _, want := range []string{"capability childcare", "tags 课后托管", "serves 二桥西社区", "available Wed 15:00–18:00"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("parent team reasons %q lack %q", reasons, want)
		}
	}
}

// scored is Score, checked against Points: a match ranks every candidate by Points and
// explains the page it returns with Score, so the two must agree.
func scored(t *testing.T, p *demandv1.Project, place Place, f Facts, today time.Time) (*demandv1.ScoreBreakdown, int, []string) {
	t.Helper()
	b, total, reasons := Score(p, place, f, today)
	if pb, ptotal := Points(p, place, f, today); !proto.Equal(pb, b) || ptotal != total {
		t.Fatalf("Points %v (%d), Score %v (%d)", pb, ptotal, b, total)
	}
	return b, total, reasons
}
