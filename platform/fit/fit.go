// Package fit is the one model of how well a partner fits a need: the partner service's search
// and the demand service's matching both score with it, each with the facts it has.
//
// The model lives in platform rather than in either service because neither holds every fact:
// partner holds the offer (capabilities, service areas, availability), demand holds the
// project (its schedule) and the partner's record in matching (active commitments, delivered
// activities). Scoring everything in partner would send it each match's schedule and the
// commitments of every partner in scope, facts that only demand keeps, for candidates demand
// does not know yet. Here partner's search scores what it knows and leaves the record out,
// and a match scores every part; the candidates still cross once, as they did. The two rank
// alike on the parts they share, so the candidates partner lists first, where a match stops
// reading, are the model's best and not another model's.
package fit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/weekly"
)

// Place is where a need is, in the region tree.
type Place struct {
	// Code is the need's region: a project's community, or any region a search names. Empty:
	// the service area is not scored.
	Code string
	// Path holds the codes from the root down to and including Code (or only its ancestors).
	Path []string
	// Name names a region code for the reasons staff read ("二桥西社区"); it may be nil or
	// return "", and the code is shown instead.
	Name func(code string) string
}

// Need is what is asked for.
type Need struct {
	// Categories are those that fit; a capability in any of them scores. Empty: not scored.
	Categories []typev1.Category
	// Tags are the skills wanted; each one the partner carries in any capability scores.
	Tags  []string
	Place Place
	// Schedule is when the work is done. Empty: every candidate gets the availability points,
	// there being nothing to miss.
	Schedule []*typev1.WeeklyWindow
}

// Offer is what a partner or group offers, as the partner service keeps it.
type Offer struct {
	Capabilities []*partnerv1.Capability
	ServiceAreas []string
	Availability []*typev1.WeeklyWindow
}

// Offerer is a partner or a partner group: what holds an offer.
type Offerer interface {
	GetCapabilities() []*partnerv1.Capability
	GetServiceAreas() []string
	GetAvailability() []*typev1.WeeklyWindow
}

// OfferOf is o's offer; the lists are o's own, shared, not copied.
func OfferOf(o Offerer) Offer {
	return Offer{Capabilities: o.GetCapabilities(), ServiceAreas: o.GetServiceAreas(), Availability: o.GetAvailability()}
}

// Record is what a partner has taken on and done, as the demand service knows it.
type Record struct {
	// ActiveCommitments counts the projects it is committed to now.
	ActiveCommitments int
	// ActivityCount counts the service activities it has delivered.
	ActivityCount int
	// LastActivity is the date of its latest activity (midnight, in the district's zone), or
	// zero.
	LastActivity time.Time
	// ContractsFulfilled and ContractsBreached count its contracts evaluated as fulfilled and
	// as breached (the contract service's outcomes): a contract kept is worth more than any
	// number of sessions, a breach takes as much away.
	ContractsFulfilled, ContractsBreached int
}

// Parts are a score's parts; Total adds them up, at most 100.
type Parts struct {
	Capability, ServiceArea, Availability, Load, TrackRecord, Recency int
}

// Total is the score, 0–100.
func (p Parts) Total() int {
	return p.Capability + p.ServiceArea + p.Availability + p.Load + p.TrackRecord + p.Recency
}

// Points of each part; the maxima add up to 100.
const (
	pointsCategory      = 25
	pointsPerTag        = 5
	pointsTagsMax       = 10
	pointsSamePlace     = 20
	pointsLevelUp       = 12 // a service area one level above the place: its sub-district
	pointsHigher        = 6  // two levels or more above: the district and beyond
	pointsPartOfPlace   = 10
	pointsAvailability  = 15
	pointsLoadMax       = 10
	pointsPerCommitment = 3
	pointsTrackMax      = 10
	pointsPerContract   = 4 // added per contract fulfilled, taken per contract breached
)

// recencySteps rewards a recent activity: within the days of a step, its points.
var recencySteps = [...]struct{ days, points int }{{30, 10}, {90, 6}, {365, 3}}

// Score rates offer for need. With a record (a match), load, track record and recency are
// scored on it, counting days up to today's date; without one (a search), those parts are 0.
func Score(need Need, offer Offer, rec *Record, today time.Time) Parts {
	p, _ := score(need, offer, rec, today, false)
	return p
}

// RecordPoints are the parts only a record scores (load, track record, recency): Score's total
// with rec is Score's total without one plus these. So a match can rank on the score partner's
// search gives (the offer's parts, with the project's schedule) and the record it keeps itself,
// and read the offers of its best candidates only.
func RecordPoints(rec Record, today time.Time) int {
	load, _ := loadPoints(rec.ActiveCommitments, false)
	track, _ := trackPoints(rec.ActivityCount, rec.ContractsFulfilled, rec.ContractsBreached, false)
	recency, _ := recencyPoints(rec.LastActivity, today, false)
	return load + track + recency
}

// Explain is Score with the reasons staff read beside it. Callers rank every candidate by
// Score and explain only the page they return: the reasons' strings cost several times the
// points (BenchmarkScore).
func Explain(need Need, offer Offer, rec *Record, today time.Time) (Parts, []string) {
	return score(need, offer, rec, today, true)
}

func score(need Need, offer Offer, rec *Record, today time.Time, explain bool) (Parts, []string) {
	var p Parts
	var reasons []string
	because := func(why string) {
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	var why string
	p.Capability, why = categoryPoints(need.Categories, offer.Capabilities, explain)
	because(why)
	tags, why := tagPoints(need.Tags, offer.Capabilities, explain)
	p.Capability += tags
	because(why)
	p.ServiceArea, why = areaPoints(need.Place, offer.ServiceAreas, explain)
	because(why)
	p.Availability, why = availabilityPoints(need.Schedule, offer.Availability, explain)
	because(why)
	if rec != nil {
		p.Load, why = loadPoints(rec.ActiveCommitments, explain)
		because(why)
		p.TrackRecord, why = trackPoints(rec.ActivityCount, rec.ContractsFulfilled, rec.ContractsBreached, explain)
		because(why)
		p.Recency, why = recencyPoints(rec.LastActivity, today, explain)
		because(why)
	}
	return p, reasons
}

// categoryPoints rewards a capability in one of the categories asked for.
func categoryPoints(want []typev1.Category, caps []*partnerv1.Capability, explain bool) (int, string) {
	if len(want) == 0 {
		return 0, ""
	}
	for _, c := range caps {
		if slices.Contains(want, c.GetCategory()) {
			if !explain {
				return pointsCategory, ""
			}
			return pointsCategory, "capability " + CategoryLabel(c.GetCategory())
		}
	}
	return 0, ""
}

// tagPoints rewards each tag asked for that the partner carries in any capability: a tag names
// a skill whatever category it was filed under. Case does not matter, and a tag asked for
// twice counts once.
func tagPoints(want []string, caps []*partnerv1.Capability, explain bool) (int, string) {
	n := 0
	var got []string
	for i, t := range want {
		if slices.ContainsFunc(want[:i], func(s string) bool { return strings.EqualFold(s, t) }) {
			continue
		}
		if slices.ContainsFunc(caps, func(k *partnerv1.Capability) bool {
			return slices.ContainsFunc(k.GetTags(), func(s string) bool { return strings.EqualFold(s, t) })
		}) {
			n++
			if explain {
				got = append(got, t)
			}
		}
	}
	if n == 0 {
		return 0, ""
	}
	points := min(pointsPerTag*n, pointsTagsMax)
	if !explain {
		return points, ""
	}
	return points, "tags " + strings.Join(got, "、")
}

// areaPoints rewards the service area closest to the place: the place itself, then the level
// around it (a community's sub-district), then a part of it (a grid within a community), then
// anything higher. A partner spread more widely has less effort to give any one place.
func areaPoints(place Place, areas []string, explain bool) (int, string) {
	if place.Code == "" {
		return 0, ""
	}
	here := slices.Index(place.Path, place.Code)
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
		case a == "":
		case a == place.Code:
			p, h = pointsSamePlace, same
		case i >= 0 && i < here:
			p, h = pointsHigher, encloses
			if here-i == 1 {
				p = pointsLevelUp
			}
		case strings.HasPrefix(a, place.Code):
			// Region codes extend their parent's: a longer code with the place's prefix lies
			// within it.
			p, h = pointsPartOfPlace, within
		}
		if p > best {
			best, bestArea, how = p, a, h
		}
	}
	if !explain {
		return best, ""
	}
	name := func(code string) string {
		if place.Name != nil {
			if n := place.Name(code); n != "" {
				return n
			}
		}
		return code
	}
	switch how {
	case same:
		return best, "serves " + name(bestArea)
	case encloses:
		return best, "serves " + name(bestArea) + " (includes " + name(place.Code) + ")"
	case within:
		return best, "serves " + name(bestArea) + " within " + name(place.Code)
	}
	return best, ""
}

// availabilityPoints rewards the share of the schedule's minutes that the partner's windows
// cover. Overlapping windows of the partner count once.
func availabilityPoints(schedule, have []*typev1.WeeklyWindow, explain bool) (int, string) {
	total, covered := 0, 0
	var spans []string
	// Room for the overlaps of a usual availability without allocating; more spill to the heap.
	var buf [8][2]int
	for _, want := range schedule {
		ws, we, ok := weekly.Bounds(want)
		if !ok {
			continue
		}
		total += we - ws
		parts := buf[:0]
		for _, h := range have {
			if h.GetWeekday() != want.GetWeekday() {
				continue
			}
			hs, he, ok := weekly.Bounds(h)
			if !ok {
				continue
			}
			if s, e := max(hs, ws), min(he, we); s < e {
				parts = append(parts, [2]int{s, e})
			}
		}
		eachUnion(parts, func(s, e int) {
			covered += e - s
			if explain {
				spans = append(spans, fmt.Sprintf("%s %s–%s", weekly.DayLabel(want.GetWeekday()), clock(s), clock(e)))
			}
		})
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

// eachUnion calls fn with each interval of the union of in, in order; overlapping or touching
// intervals join. It sorts in.
func eachUnion(in [][2]int, fn func(start, end int)) {
	if len(in) > 1 {
		slices.SortFunc(in, func(a, b [2]int) int { return a[0] - b[0] })
	}
	for i := 0; i < len(in); {
		s, e := in[i][0], in[i][1]
		for i++; i < len(in) && in[i][0] <= e; i++ {
			e = max(e, in[i][1])
		}
		fn(s, e)
	}
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

// trackPoints rewards delivered activities, one point each, and contracts kept
// (pointsPerContract each); each breached contract takes as many away. The part stays within
// 0 and its maximum.
func trackPoints(activities, fulfilled, breached int, explain bool) (int, string) {
	activities, fulfilled, breached = max(activities, 0), max(fulfilled, 0), max(breached, 0)
	n := min(max(activities+pointsPerContract*(fulfilled-breached), 0), pointsTrackMax)
	if !explain || activities+fulfilled+breached == 0 {
		return n, ""
	}
	var parts []string
	switch activities {
	case 0:
	case 1:
		parts = append(parts, "1 activity delivered")
	default:
		parts = append(parts, fmt.Sprintf("%d activities delivered", activities))
	}
	if fulfilled > 0 {
		parts = append(parts, fmt.Sprintf("%d contract(s) fulfilled", fulfilled))
	}
	if breached > 0 {
		parts = append(parts, fmt.Sprintf("%d contract(s) breached", breached))
	}
	return n, strings.Join(parts, ", ")
}

// recencyPoints rewards a partner that delivered lately: it is still active. The days are
// counted between calendar dates, each read in its own location; a date after today (clock
// skew, a late entry) counts as today.
func recencyPoints(last, today time.Time, explain bool) (int, string) {
	if last.IsZero() {
		return 0, ""
	}
	days := max(int(civil(today).Sub(civil(last)).Hours()/24), 0)
	for _, step := range recencySteps {
		if days > step.days {
			continue
		}
		if !explain {
			return step.points, ""
		}
		return step.points, fmt.Sprintf("last activity %s (%d days ago)", last.Format(time.DateOnly), days)
	}
	return 0, ""
}

// civil is the calendar date of t, as midnight UTC, so that dates subtract exactly.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Available reports whether any window of have overlaps want (touching ends do not overlap).
func Available(want *typev1.WeeklyWindow, have []*typev1.WeeklyWindow) bool {
	ws, we, ok := weekly.Bounds(want)
	if !ok {
		return false
	}
	for _, h := range have {
		if h.GetWeekday() != want.GetWeekday() {
			continue
		}
		if hs, he, ok := weekly.Bounds(h); ok && max(hs, ws) < min(he, we) {
			return true
		}
	}
	return false
}

// CategoryLabel is the short lowercase name of a category, e.g. "childcare".
func CategoryLabel(c typev1.Category) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CATEGORY_"))
}
