package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/weekly"
)

// Place is where a project runs, in the region tree.
type Place struct {
	// Community is the project's community code.
	Community string
	// Path holds the codes from the district root down to and including Community.
	Path []string
	// Name names a region code for the reasons staff read ("二桥西社区"); it may be nil or
	// return "", and the code is shown instead.
	Name func(code string) string
}

// Facts is what is known of a candidate partner or group.
type Facts struct {
	Capabilities []*partnerv1.Capability
	ServiceAreas []string
	Availability []*typev1.WeeklyWindow
	// ActiveCommitments counts the projects it is committed to now (see Committed).
	ActiveCommitments int
	// ActivityCount counts the service activities it has delivered.
	ActivityCount int
	// LastActivityDate is the "YYYY-MM-DD" of its latest activity, or "".
	LastActivityDate string
}

// Points of each part of the score; the maxima add up to 100.
const (
	pointsCategory      = 25
	pointsPerTag        = 5
	pointsTagsMax       = 10
	pointsCommunity     = 20
	pointsSubDistrict   = 12
	pointsPartOfPlace   = 10
	pointsDistrict      = 6
	pointsAvailability  = 15
	pointsLoadMax       = 10
	pointsPerCommitment = 3
	pointsTrackMax      = 10
)

// recencyPoints rewards a recent activity: within the days of a step, its points.
var recencyPoints = [...]struct{ days, points int }{{30, 10}, {90, 6}, {365, 3}}

// Score rates a candidate for project p at place, on the day today (for recency). It returns the
// breakdown (its parts add up to the total), the total 0–100, and the reasons staff read beside
// it.
func Score(p *demandv1.Project, place Place, f Facts, today time.Time) (*demandv1.ScoreBreakdown, int, []string) {
	return score(p, place, f, today, true)
}

// Points is Score without the reasons, for ranking many candidates of which only a page is
// shown: the reasons' strings cost more than the points.
func Points(p *demandv1.Project, place Place, f Facts, today time.Time) (*demandv1.ScoreBreakdown, int) {
	b, total, _ := score(p, place, f, today, false)
	return b, total
}

func score(p *demandv1.Project, place Place, f Facts, today time.Time, explain bool) (*demandv1.ScoreBreakdown, int, []string) {
	var reasons []string
	add := func(points int, why ...string) int32 {
		for _, w := range why {
			if w != "" {
				reasons = append(reasons, w)
			}
		}
		return int32(points)
	}
	b := &demandv1.ScoreBreakdown{}
	capPoints, capWhy := capabilityPoints(p, f.Capabilities, explain)
	b.Capability = add(capPoints, capWhy...)
	b.ServiceArea = add(areaPoints(place, f.ServiceAreas, explain))
	b.Availability = add(availabilityPoints(p.GetSchedule(), f.Availability, explain))
	b.Load = add(loadPoints(f.ActiveCommitments, explain))
	b.TrackRecord = add(trackPoints(f.ActivityCount, explain))
	b.Recency = add(recencyPointsOf(f.LastActivityDate, today, explain))
	total := b.GetCapability() + b.GetServiceArea() + b.GetAvailability() + b.GetLoad() + b.GetTrackRecord() + b.GetRecency()
	return b, int(total), reasons
}

// capabilityPoints rewards the project's category among the capabilities, and each required tag
// the partner carries in any capability: a tag names a skill whatever category it was filed under.
func capabilityPoints(p *demandv1.Project, caps []*partnerv1.Capability, explain bool) (int, []string) {
	points := 0
	var why []string
	if c := p.GetCategory(); c != typev1.Category_CATEGORY_UNSPECIFIED &&
		slices.ContainsFunc(caps, func(k *partnerv1.Capability) bool { return k.GetCategory() == c }) {
		points += pointsCategory
		if explain {
			why = append(why, "capability "+categoryLabel(c))
		}
	}
	var tags []string
	for _, t := range p.GetRequiredTags() {
		if slices.ContainsFunc(tags, func(s string) bool { return strings.EqualFold(s, t) }) {
			continue // the same tag twice counts once
		}
		if slices.ContainsFunc(caps, func(k *partnerv1.Capability) bool {
			return slices.ContainsFunc(k.GetTags(), func(s string) bool { return strings.EqualFold(s, t) })
		}) {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		points += min(pointsPerTag*len(tags), pointsTagsMax)
		if explain {
			why = append(why, "tags "+strings.Join(tags, "、"))
		}
	}
	return points, why
}

// areaPoints rewards the service area closest to the place: the community itself, then the
// sub-district around it, then a grid within it, then the district or anything higher. A
// partner spread more widely has less effort to give any one community.
func areaPoints(place Place, areas []string, explain bool) (int, string) {
	name := func(code string) string {
		if place.Name != nil {
			if n := place.Name(code); n != "" {
				return n
			}
		}
		return code
	}
	here := slices.Index(place.Path, place.Community)
	if here < 0 {
		// Path holds only the ancestors.
		here = len(place.Path)
	}
	const (
		same = iota + 1
		encloses
		within
	)
	best, bestArea, how := 0, "", 0
	for _, a := range areas {
		p, h := 0, 0
		switch i := slices.Index(place.Path, a); {
		case a == "" || place.Community == "":
		case a == place.Community:
			p, h = pointsCommunity, same
		case i >= 0 && i < here:
			p, h = pointsDistrict, encloses
			if here-i == 1 {
				p = pointsSubDistrict
			}
		case strings.HasPrefix(a, place.Community):
			// Region codes extend their parent's: a longer code with the community's prefix is
			// a grid or compound within it.
			p, h = pointsPartOfPlace, within
		}
		if p > best {
			best, bestArea, how = p, a, h
		}
	}
	if !explain {
		return best, ""
	}
	switch how {
	case same:
		return best, "serves " + name(bestArea)
	case encloses:
		return best, "serves " + name(bestArea) + " (includes " + name(place.Community) + ")"
	case within:
		return best, "serves " + name(bestArea) + " within " + name(place.Community)
	}
	return best, ""
}

// availabilityPoints rewards the share of the schedule's minutes that the partner's windows
// cover. Overlapping windows of the partner count once. A project without a schedule gives
// every candidate full points: there is nothing to miss.
func availabilityPoints(schedule, have []*typev1.WeeklyWindow, explain bool) (int, string) {
	total, covered := 0, 0
	var spans []string
	for _, want := range schedule {
		ws, we, ok := weekly.Bounds(want)
		if !ok {
			continue
		}
		total += we - ws
		var parts [][2]int
		for _, h := range have {
			hs, he, ok := weekly.Bounds(h)
			if !ok || h.GetWeekday() != want.GetWeekday() {
				continue
			}
			if s, e := max(hs, ws), min(he, we); s < e {
				parts = append(parts, [2]int{s, e})
			}
		}
		for _, part := range mergeIntervals(parts) {
			covered += part[1] - part[0]
			if !explain {
				continue
			}
			spans = append(spans, fmt.Sprintf("%s %s–%s", weekly.DayLabel(want.GetWeekday()), clock(part[0]), clock(part[1])))
		}
	}
	switch {
	case total == 0:
		return pointsAvailability, ""
	case covered == 0:
		return 0, ""
	case !explain:
		return pointsAvailability * covered / total, ""
	case covered == total:
		return pointsAvailability, "available " + strings.Join(spans, ", ")
	default:
		return pointsAvailability * covered / total, fmt.Sprintf("available %s (%d of %d scheduled minutes)", strings.Join(spans, ", "), covered, total)
	}
}

// mergeIntervals joins overlapping or touching intervals, in order of start.
func mergeIntervals(in [][2]int) [][2]int {
	slices.SortFunc(in, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, iv := range in {
		if n := len(out); n > 0 && iv[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], iv[1])
			continue
		}
		out = append(out, iv)
	}
	return out
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// loadPoints rewards a partner with few active commitments: it has time for one more.
func loadPoints(commitments int, explain bool) (int, string) {
	switch n := max(commitments, 0); {
	case !explain:
		return max(pointsLoadMax-pointsPerCommitment*n, 0), ""
	case n == 0:
		return pointsLoadMax, "no active commitments"
	case n == 1:
		return max(pointsLoadMax-pointsPerCommitment, 0), "1 active commitment"
	default:
		return max(pointsLoadMax-pointsPerCommitment*n, 0), fmt.Sprintf("%d active commitments", n)
	}
}

// trackPoints rewards delivered activities, one point each.
func trackPoints(activities int, explain bool) (int, string) {
	switch n := max(activities, 0); {
	case n == 0:
		return 0, ""
	case !explain:
		return min(n, pointsTrackMax), ""
	case n == 1:
		return 1, "1 activity delivered"
	default:
		return min(n, pointsTrackMax), fmt.Sprintf("%d activities delivered", n)
	}
}

// recencyPointsOf rewards a partner that delivered lately: it is still active. A date after
// today (clock skew, a late entry) counts as today.
func recencyPointsOf(last string, today time.Time, explain bool) (int, string) {
	if last == "" {
		return 0, ""
	}
	d, err := ParseDate(last)
	if err != nil {
		return 0, ""
	}
	days := max(int(dateOf(today.In(shanghai())).Sub(dateOf(d)).Hours()/24), 0)
	for _, step := range recencyPoints {
		if days <= step.days && !explain {
			return step.points, ""
		}
		if days <= step.days {
			return step.points, fmt.Sprintf("last activity %s (%d days ago)", last, days)
		}
	}
	return 0, ""
}

// categoryLabel is the short lowercase name of a category, e.g. "childcare".
func categoryLabel(c typev1.Category) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CATEGORY_"))
}
