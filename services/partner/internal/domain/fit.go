package domain

import (
	"fmt"
	"slices"
	"strings"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/weekly"
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
func Fit(need Need, offer Offer) (int, []string) { return fit(need, offer, true) }

// FitScore is Fit's score without its reasons. A search scores every candidate but explains
// only the page it returns, and the reasons' strings are most of the cost: 1.1 µs and 10
// allocations a candidate explained, 0.2 µs and 1 scored (BenchmarkFit).
func FitScore(need Need, offer Offer) int {
	score, _ := fit(need, offer, false)
	return score
}

func fit(need Need, offer Offer, explain bool) (int, []string) {
	score := 0
	var reasons []string
	// Callers check explain first, so no reason's string is built for a score alone.
	because := func(why string) {
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	if len(need.Categories) > 0 {
		for _, c := range offer.Capabilities {
			if slices.Contains(need.Categories, c.GetCategory()) {
				score += pointsCategory
				if explain {
					because("capability " + CategoryLabel(c.GetCategory()))
				}
				break
			}
		}
	}
	if n := matchingTags(need.Tags, offer.Capabilities); len(n) > 0 {
		score += min(pointsPerTag*len(n), pointsTagsMax)
		if explain {
			because("tags " + strings.Join(n, "、"))
		}
	}
	if need.Region != "" {
		p, why := areaPoints(need, offer.ServiceAreas, explain)
		score += p
		because(why)
	}
	if need.Window != nil {
		if overlap, w := bestOverlap(need.Window, offer.Availability); overlap > 0 {
			start, end, _ := weekly.Bounds(need.Window) // valid: it overlaps
			score += pointsWindowOverlap * overlap / (end - start)
			if explain {
				because(fmt.Sprintf("available %s %s–%s", weekly.DayLabel(w.GetWeekday()), w.GetStartTime(), w.GetEndTime()))
			}
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
func areaPoints(need Need, areas []string, explain bool) (int, string) {
	const (
		same = iota + 1
		encloses
		within
	)
	best, bestArea, how := 0, "", 0
	for _, a := range areas {
		p, h := 0, 0
		switch i := slices.Index(need.RegionPath, a); {
		case a == need.Region:
			p, h = pointsSameArea, same
		case i >= 0:
			// Each level up costs points: the partner spreads its effort more widely.
			levelsUp := len(need.RegionPath) - 1 - i
			p, h = max(pointsSameArea-8*levelsUp, 6), encloses
		case strings.HasPrefix(a, need.Region):
			p, h = 12, within
		}
		if p > best {
			best, bestArea, how = p, a, h
		}
	}
	if !explain {
		return best, ""
	}
	name := func(code string) string {
		if need.RegionName != nil {
			if n := need.RegionName(code); n != "" {
				return n
			}
		}
		return code
	}
	switch how {
	case same:
		return best, "serves " + name(bestArea)
	case encloses:
		return best, "serves " + name(bestArea) + " (includes " + name(need.Region) + ")"
	case within:
		return best, "serves " + name(bestArea) + " within " + name(need.Region)
	}
	return best, ""
}

// Available reports whether any of have overlaps want (touching ends do not overlap).
func Available(want *typev1.WeeklyWindow, have []*typev1.WeeklyWindow) bool {
	overlap, _ := bestOverlap(want, have)
	return overlap > 0
}

// bestOverlap returns the longest overlap in minutes of want with one of have, and that window.
func bestOverlap(want *typev1.WeeklyWindow, have []*typev1.WeeklyWindow) (int, *typev1.WeeklyWindow) {
	best, bestW := 0, (*typev1.WeeklyWindow)(nil)
	ws, we, ok := weekly.Bounds(want)
	if !ok {
		return 0, nil
	}
	for _, w := range have {
		hs, he, ok := weekly.Bounds(w)
		if !ok || w.GetWeekday() != want.GetWeekday() {
			continue
		}
		if o := min(he, we) - max(hs, ws); o > best {
			best, bestW = o, w
		}
	}
	return best, bestW
}

// CategoryLabel is the short lowercase name of a category, e.g. "childcare".
func CategoryLabel(c typev1.Category) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CATEGORY_"))
}
