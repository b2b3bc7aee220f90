package domain

import (
	"fmt"
	"slices"
	"strings"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// Need is what a search asks for.
type Need struct {
	Categories []typev1.Category
	Tags       []string
	// Region is the place of the need; RegionPath its ancestors from the root down to and
	// including Region; RegionName names a code for the reasons shown to staff.
	Region     string
	RegionPath []string
	RegionName func(code string) string
	Window     *typev1.WeeklyWindow
}

// Offer is what a partner or group offers.
type Offer struct {
	Capabilities []*partnerv1.Capability
	ServiceAreas []string
	Availability []*typev1.WeeklyWindow
}

// Points for each part of the fit; they add up to at most 100.
const (
	pointsCategory      = 40
	pointsPerTag        = 5
	pointsTagsMax       = 15
	pointsSameArea      = 30
	pointsWindowOverlap = 15
)

// Fit scores how well offer meets need, 0–100, with the reasons staff see beside the score.
func Fit(need Need, offer Offer) (int, []string) {
	score := 0
	var reasons []string
	if len(need.Categories) > 0 {
		for _, c := range offer.Capabilities {
			if slices.Contains(need.Categories, c.GetCategory()) {
				score += pointsCategory
				reasons = append(reasons, "capability "+CategoryLabel(c.GetCategory()))
				break
			}
		}
	}
	if n := matchingTags(need.Tags, offer.Capabilities); len(n) > 0 {
		score += min(pointsPerTag*len(n), pointsTagsMax)
		reasons = append(reasons, "tags "+strings.Join(n, "、"))
	}
	if need.Region != "" {
		p, why := areaPoints(need, offer.ServiceAreas)
		score += p
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	if need.Window != nil {
		overlap, w := bestOverlap(need.Window, offer.Availability)
		if span := minutes(need.Window.GetEndTime()) - minutes(need.Window.GetStartTime()); overlap > 0 && span > 0 {
			score += pointsWindowOverlap * overlap / span
			reasons = append(reasons, fmt.Sprintf("available %s %s–%s", weekdayLabel(w.GetWeekday()), w.GetStartTime(), w.GetEndTime()))
		}
	}
	return min(score, 100), reasons
}

func matchingTags(want []string, caps []*partnerv1.Capability) []string {
	var got []string
	for _, t := range want {
		for _, c := range caps {
			if slices.ContainsFunc(c.GetTags(), func(s string) bool { return strings.EqualFold(s, t) }) {
				got = append(got, t)
				break
			}
		}
	}
	return got
}

// areaPoints rewards the service area closest to the need: the same place, then the nearest
// enclosing level (a sub-district-wide partner before a district-wide one), then a partner
// serving part of the place.
func areaPoints(need Need, areas []string) (int, string) {
	best, why := 0, ""
	name := func(code string) string {
		if need.RegionName != nil {
			if n := need.RegionName(code); n != "" {
				return n
			}
		}
		return code
	}
	for _, a := range areas {
		p, w := 0, ""
		switch i := slices.Index(need.RegionPath, a); {
		case a == need.Region:
			p, w = pointsSameArea, "serves "+name(a)
		case i >= 0:
			// Each level up costs points: the partner spreads its effort more widely.
			levelsUp := len(need.RegionPath) - 1 - i
			p, w = max(pointsSameArea-8*levelsUp, 6), "serves "+name(a)+" (includes "+name(need.Region)+")"
		case strings.HasPrefix(a, need.Region):
			p, w = 12, "serves "+name(a)+" within "+name(need.Region)
		}
		if p > best {
			best, why = p, w
		}
	}
	return best, why
}

// Available reports whether any of have overlaps want (touching ends do not overlap).
func Available(want *typev1.WeeklyWindow, have []*typev1.WeeklyWindow) bool {
	overlap, _ := bestOverlap(want, have)
	return overlap > 0
}

func bestOverlap(want *typev1.WeeklyWindow, have []*typev1.WeeklyWindow) (int, *typev1.WeeklyWindow) {
	best, bestW := 0, (*typev1.WeeklyWindow)(nil)
	for _, w := range have {
		if w.GetWeekday() != want.GetWeekday() {
			continue
		}
		o := min(minutes(w.GetEndTime()), minutes(want.GetEndTime())) - max(minutes(w.GetStartTime()), minutes(want.GetStartTime()))
		if o > best {
			best, bestW = o, w
		}
	}
	return best, bestW
}

// minutes returns the minute of the day of an "HH:MM" time (validated by the proto).
func minutes(hhmm string) int {
	if len(hhmm) != 5 {
		return 0
	}
	return int(hhmm[0]-'0')*600 + int(hhmm[1]-'0')*60 + int(hhmm[3]-'0')*10 + int(hhmm[4]-'0')
}

func weekdayLabel(d typev1.Weekday) string {
	return [...]string{"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}[d]
}

// CategoryLabel is the short lowercase name of a category, e.g. "childcare".
func CategoryLabel(c typev1.Category) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CATEGORY_"))
}
