package domain

import (
	"slices"
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

func TestValidateCreditCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"91350100M000100Y43", true}, // the standard's published example
		{"52450105MJ00000018", true},
		{"91350100M000100Y44", false}, // wrong check character
		{"91350100M000100Y4", false},  // too short
		{"91350100I000100Y43", false}, // I is not in the alphabet
	}
	for _, tt := range tests {
		if err := ValidateCreditCode(tt.code); (err == nil) != tt.ok {
			t.Errorf("ValidateCreditCode(%q) = %v, want ok=%v", tt.code, err, tt.ok)
		}
	}
}

func TestTransitionActors(t *testing.T) {
	const (
		applied   = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
		verified  = partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED
		active    = partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE
		dormant   = partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT
		withdrawn = partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN
	)
	tests := []struct {
		from, to partnerv1.PartnerStatus
		ok, self bool
	}{
		{applied, verified, true, false},
		{verified, active, true, false},
		{active, dormant, true, true},
		{dormant, active, true, true},
		{applied, withdrawn, true, true},
		{active, withdrawn, true, true},
		{applied, active, false, false},
		{withdrawn, active, false, false},
		{withdrawn, withdrawn, false, false},
		{verified, dormant, false, false},
	}
	for _, tt := range tests {
		roles, self, ok := TransitionActors(tt.from, tt.to)
		if ok != tt.ok || self != tt.self || (ok && len(roles) == 0) {
			t.Errorf("%v → %v: ok=%v self=%v roles=%v; want ok=%v self=%v", tt.from, tt.to, ok, self, roles, tt.ok, tt.self)
		}
	}
}

func TestFitRanksClosestAndBestMatch(t *testing.T) {
	const (
		district  = "450105"
		street    = "450105001"
		community = "450105001001"
		other     = "450105001002"
	)
	wed := &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "15:00", EndTime: "18:00"}
	need := Need{
		Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE},
		Tags:       []string{"作业辅导"},
		Region:     community,
		RegionPath: []string{district, street, community},
		Window:     wed,
	}
	childcare := func(tags ...string) []*partnerv1.Capability {
		return []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: tags}}
	}
	offers := map[string]Offer{
		"local, tagged, available": {Capabilities: childcare("作业辅导"), ServiceAreas: []string{community}, Availability: []*typev1.WeeklyWindow{wed}},
		"local, available":         {Capabilities: childcare(), ServiceAreas: []string{community}, Availability: []*typev1.WeeklyWindow{wed}},
		"street-wide, available":   {Capabilities: childcare(), ServiceAreas: []string{street}, Availability: []*typev1.WeeklyWindow{wed}},
		"district-wide":            {Capabilities: childcare(), ServiceAreas: []string{district}},
		"other community":          {Capabilities: childcare(), ServiceAreas: []string{other}},
		"wrong category":           {Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_LEGAL_AID}}, ServiceAreas: []string{community}},
	}
	order := []string{"local, tagged, available", "local, available", "street-wide, available", "district-wide", "other community", "wrong category"}
	scores := map[string]int{}
	for name, o := range offers {
		s, reasons := Fit(need, o)
		scores[name] = s
		if s > 0 && len(reasons) == 0 {
			t.Errorf("%s scored %d with no reasons", name, s)
		}
		if fs := FitScore(need, o); fs != s {
			t.Errorf("%s: FitScore %d, Fit %d", name, fs, s)
		}
	}
	ranked := slices.Clone(order)
	slices.SortStableFunc(ranked, func(a, b string) int { return scores[b] - scores[a] })
	if !slices.Equal(ranked, order) {
		t.Fatalf("ranking = %v (scores %v), want %v", ranked, scores, order)
	}
	if s := scores["local, tagged, available"]; s > 100 {
		t.Fatalf("score %d above 100", s)
	}
}

// A search scores every candidate and explains only the page it returns: FitScore against
// Fit is what that saves per candidate.
func BenchmarkFit(b *testing.B) {
	wed := &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "15:00", EndTime: "18:00"}
	need := Need{
		Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, Tags: []string{"作业辅导"},
		Region: "450105001001", RegionPath: []string{"450105", "450105001", "450105001001"}, Window: wed,
		RegionName: func(string) string { return "二桥西社区" },
	}
	offer := Offer{
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: []string{"作业辅导", "志愿服务"}}},
		ServiceAreas: []string{"450105001"}, Availability: []*typev1.WeeklyWindow{wed},
	}
	b.Run("explained", func(b *testing.B) {
		for b.Loop() {
			Fit(need, offer)
		}
	})
	b.Run("score only", func(b *testing.B) {
		for b.Loop() {
			FitScore(need, offer)
		}
	})
}
