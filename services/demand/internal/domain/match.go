package domain

import (
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/fit"
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

// Need is what project p at place asks of a partner, in the model of fit.
func Need(p *demandv1.Project, place Place) fit.Need {
	need := fit.Need{
		Tags:     p.GetRequiredTags(),
		Place:    fit.Place{Code: place.Community, Path: place.Path, Name: place.Name},
		Schedule: p.GetSchedule(),
	}
	if c := p.GetCategory(); c != typev1.Category_CATEGORY_UNSPECIFIED {
		need.Categories = []typev1.Category{c}
	}
	return need
}

// Record is a partner's record in the model of fit; an unreadable last activity date ("" for
// none) counts as none.
func Record(activeCommitments, activityCount int, lastActivityDate string, outcomes ...int) fit.Record {
	rec := fit.Record{ActiveCommitments: activeCommitments, ActivityCount: activityCount}
	if len(outcomes) == 2 {
		// The contracts fulfilled and breached (the contract service's outcomes).
		rec.ContractsFulfilled, rec.ContractsBreached = outcomes[0], outcomes[1]
	}
	if lastActivityDate == "" {
		return rec // most candidates of a match have none: no failed parse (and its error) each
	}
	if d, err := ParseDate(lastActivityDate); err == nil {
		rec.LastActivity = d
	}
	return rec
}

// split divides the facts into what the partner service told and what this service knows.
func (f Facts) split() (fit.Offer, *fit.Record) {
	rec := Record(f.ActiveCommitments, f.ActivityCount, f.LastActivityDate)
	return fit.Offer{Capabilities: f.Capabilities, ServiceAreas: f.ServiceAreas, Availability: f.Availability}, &rec
}

// Today is the day recency counts to: now's date in the district's time zone.
func Today(now time.Time) time.Time { return now.In(shanghai()) }

// Breakdown is the parts of a score as MatchPartners returns them.
func Breakdown(p fit.Parts) *demandv1.ScoreBreakdown {
	return &demandv1.ScoreBreakdown{
		Capability: int32(p.Capability), ServiceArea: int32(p.ServiceArea), Availability: int32(p.Availability),
		Load: int32(p.Load), TrackRecord: int32(p.TrackRecord), Recency: int32(p.Recency),
	}
}

// Score rates a candidate for project p at place, on the day today (for recency), with the
// model of fit. It returns the breakdown (its parts add up to the total), the total 0–100, and
// the reasons staff read beside it.
func Score(p *demandv1.Project, place Place, f Facts, today time.Time) (*demandv1.ScoreBreakdown, int, []string) {
	offer, rec := f.split()
	parts, reasons := fit.Explain(Need(p, place), offer, rec, Today(today))
	return Breakdown(parts), parts.Total(), reasons
}

// Points is Score without the reasons, for ranking many candidates of which only a page is
// shown: the reasons' strings cost more than the points.
func Points(p *demandv1.Project, place Place, f Facts, today time.Time) (*demandv1.ScoreBreakdown, int) {
	offer, rec := f.split()
	parts := fit.Score(Need(p, place), offer, rec, Today(today))
	return Breakdown(parts), parts.Total()
}
