package api

import (
	"context"
	"errors"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// GetCityHeadline implements reportingv1.ReportServiceServer: it asks every district at once,
// each under the rollup's deadline, and sums those that answered.
func (s *Server) GetCityHeadline(ctx context.Context, req *reportingv1.GetCityHeadlineRequest) (*reportingv1.GetCityHeadlineResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.districts) == 0 {
		return nil, apierr.FailedPrecondition("NOT_A_CITY_ROLLUP", "this reporting service is a district's: it is configured with no districts to roll up")
	}
	if !slices.Contains(p.Scope, s.cityCode) {
		return nil, apierr.PermissionDenied("NOT_CITY_SCOPE", "the city's figures are for callers whose scope is the city "+s.cityCode)
	}
	if _, err := checkPeriod(req.GetPeriod()); err != nil {
		return nil, err
	}
	type answer struct {
		figs *reportingv1.RegionFigures
		err  error
	}
	answers := make([]answer, len(s.districts))
	var wg sync.WaitGroup
	for i, d := range s.districts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, s.deadline)
			defer cancel()
			resp, err := d.Client.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: d.RegionCode, Period: req.GetPeriod()})
			if err != nil {
				answers[i] = answer{err: err}
				return
			}
			answers[i] = answer{figs: &reportingv1.RegionFigures{RegionCode: resp.GetRegionCode(), RegionName: d.Name, Figures: resp.GetFigures()}}
		})
	}
	wg.Wait()
	out := &reportingv1.GetCityHeadlineResponse{Period: req.GetPeriod(), Figures: &reportingv1.Figures{}}
	for i, a := range answers {
		if a.err != nil {
			s.log.WarnContext(ctx, "city rollup: a district did not answer", "district", s.districts[i].Name, "error", a.err)
			out.Missing = append(out.Missing, &reportingv1.MissingDistrict{District: s.districts[i].Name, Reason: missingReason(a.err)})
			continue
		}
		out.Districts = append(out.Districts, a.figs)
		addFigures(out.Figures, a.figs.GetFigures())
	}
	return out, nil
}

// missingReason says in a few words why a district did not answer.
func missingReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return "deadline exceeded"
	case codes.Unavailable:
		return "unavailable"
	case codes.PermissionDenied, codes.Unauthenticated:
		return "refused the rollup's credentials"
	default:
		return "failed: " + status.Code(err).String()
	}
}

// addFigures adds the counts of b to a; rates and medians do not add up and stay unset, and
// tallies add by key.
func addFigures(a, b *reportingv1.Figures) {
	a.PartnerGroups += b.GetPartnerGroups()
	a.Partners += b.GetPartners()
	a.Projects += b.GetProjects()
	a.MattersSolved += b.GetMattersSolved()
	a.ServiceSessions += b.GetServiceSessions()
	a.PeopleServed += b.GetPeopleServed()
	a.VolunteerHours += b.GetVolunteerHours()
	a.Demands += b.GetDemands()
	a.NeedsMatched += b.GetNeedsMatched()
	a.CasesOpened += b.GetCasesOpened()
	a.Escalations += b.GetEscalations()
	a.CasesClosed += b.GetCasesClosed()
	a.CasesOnTime += b.GetCasesOnTime()
	a.ClosedUnresolved += b.GetClosedUnresolved()
	a.Ratings += b.GetRatings()
	a.SatisfiedRatings += b.GetSatisfiedRatings()
	a.MeetingsHeld += b.GetMeetingsHeld()
	a.ContractsActive += b.GetContractsActive()
	a.ContractsFulfilled += b.GetContractsFulfilled()
	a.ContractsBreached += b.GetContractsBreached()
	a.InactivePartnerAlerts += b.GetInactivePartnerAlerts()
	// The rates are the sums' own: they do add up as ratios of sums.
	a.OnTimeRate = rate(a.GetCasesOnTime(), a.GetCasesClosed())
	a.SatisfactionRate = rate(a.GetSatisfiedRatings(), a.GetRatings())
	a.PartnerGroupsByStatus = addTallies(a.PartnerGroupsByStatus, b.GetPartnerGroupsByStatus())
	a.PartnersByStatus = addTallies(a.PartnersByStatus, b.GetPartnersByStatus())
	a.RecruitedByChannel = addTallies(a.RecruitedByChannel, b.GetRecruitedByChannel())
	a.PartnersByField = addTallies(a.PartnersByField, b.GetPartnersByField())
	a.ProjectsByStatus = addTallies(a.ProjectsByStatus, b.GetProjectsByStatus())
	a.ProjectsByListType = addTallies(a.ProjectsByListType, b.GetProjectsByListType())
	a.DemandsByKind = addTallies(a.DemandsByKind, b.GetDemandsByKind())
	a.DemandsByCategory = addTallies(a.DemandsByCategory, b.GetDemandsByCategory())
	a.DemandsByChannel = addTallies(a.DemandsByChannel, b.GetDemandsByChannel())
	a.DemandsByStatus = addTallies(a.DemandsByStatus, b.GetDemandsByStatus())
	a.CasesByColour = addTallies(a.CasesByColour, b.GetCasesByColour())
	a.MeetingsByKind = addTallies(a.MeetingsByKind, b.GetMeetingsByKind())
}

func addTallies(a, b []*reportingv1.Tally) []*reportingv1.Tally {
	m := map[string]int64{}
	for _, t := range a {
		m[t.GetKey()] += t.GetValue()
	}
	for _, t := range b {
		m[t.GetKey()] += t.GetValue()
	}
	return tallies(m)
}
