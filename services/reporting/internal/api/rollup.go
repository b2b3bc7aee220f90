package api

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// GetCityHeadline implements reportingv1.ReportServiceServer: a district's instance is no
// rollup.
func (s *Server) GetCityHeadline(ctx context.Context, _ *reportingv1.GetCityHeadlineRequest) (*reportingv1.GetCityHeadlineResponse, error) {
	if _, err := auth.Caller(ctx); err != nil {
		return nil, err
	}
	return nil, apierr.FailedPrecondition("NOT_A_CITY_ROLLUP", "this reporting service is a district's: the city's figures come from the city rollup (`jiayuan serve reporting-rollup`)")
}

// Rollup implements reportingv1.ReportServiceServer for the city: GetCityHeadline fans out to
// the districts' reporting services; it keeps no figures of its own, so every other method
// refers the caller to the district.
type Rollup struct {
	reportingv1.UnimplementedReportServiceServer

	districts []District
	cityCode  string
	deadline  time.Duration
	log       *slog.Logger
}

// RollupConfig holds what the city rollup needs.
type RollupConfig struct {
	// Districts are the districts it reads, at least one.
	Districts []District
	// CityCode is the city's code: a caller of GetCityHeadline must hold it in their scope.
	CityCode string
	// Deadline bounds the wait for each district; DefaultRollupDeadline when zero.
	Deadline time.Duration
	Logger   *slog.Logger
}

// NewRollup returns the city rollup's ReportService.
func NewRollup(cfg RollupConfig) *Rollup {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	deadline := cfg.Deadline
	if deadline <= 0 {
		deadline = DefaultRollupDeadline
	}
	return &Rollup{districts: slices.Clone(cfg.Districts), cityCode: cfg.CityCode, deadline: deadline, log: log}
}

// GetCityHeadline implements reportingv1.ReportServiceServer: it asks every district at once,
// each under the rollup's deadline, and sums those that answered.
func (s *Rollup) GetCityHeadline(ctx context.Context, req *reportingv1.GetCityHeadlineRequest) (*reportingv1.GetCityHeadlineResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
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

// notDistrict is the answer of the rollup to a district-level read: it counts nothing itself.
func notDistrict() error {
	return apierr.FailedPrecondition("NOT_A_DISTRICT", "this is the city rollup: it keeps no figures of its own; ask the district's reporting service for its regions' figures")
}

// GetHeadline implements reportingv1.ReportServiceServer.
func (s *Rollup) GetHeadline(context.Context, *reportingv1.GetHeadlineRequest) (*reportingv1.GetHeadlineResponse, error) {
	return nil, notDistrict()
}

// GetBreakdown implements reportingv1.ReportServiceServer.
func (s *Rollup) GetBreakdown(context.Context, *reportingv1.GetBreakdownRequest) (*reportingv1.GetBreakdownResponse, error) {
	return nil, notDistrict()
}

// GetSeries implements reportingv1.ReportServiceServer.
func (s *Rollup) GetSeries(context.Context, *reportingv1.GetSeriesRequest) (*reportingv1.GetSeriesResponse, error) {
	return nil, notDistrict()
}

// GetRanking implements reportingv1.ReportServiceServer.
func (s *Rollup) GetRanking(context.Context, *reportingv1.GetRankingRequest) (*reportingv1.GetRankingResponse, error) {
	return nil, notDistrict()
}

// ExportReport implements reportingv1.ReportServiceServer.
func (s *Rollup) ExportReport(context.Context, *reportingv1.ExportReportRequest) (*httpbody.HttpBody, error) {
	return nil, notDistrict()
}

// GetReportStatus implements reportingv1.ReportServiceServer.
func (s *Rollup) GetReportStatus(context.Context, *reportingv1.GetReportStatusRequest) (*reportingv1.GetReportStatusResponse, error) {
	return nil, notDistrict()
}

// RebuildReports implements reportingv1.ReportServiceServer.
func (s *Rollup) RebuildReports(context.Context, *reportingv1.RebuildReportsRequest) (*reportingv1.RebuildReportsResponse, error) {
	return nil, notDistrict()
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
