package api

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/services/reporting/internal/domain"
	"github.com/jiayuan/jiayuan/services/reporting/internal/store"
)

// figures reads the figures of each of regions over per: the flows of the period and the
// stocks at its end, in two sums over the aggregates.
func (s *Server) figures(ctx context.Context, regions []string, per period) (map[string]*reportingv1.Figures, error) {
	flows, err := s.store.Sum(ctx, s.db.Reads(), regions, per.from, per.to, domain.Flows())
	if err != nil {
		return nil, err
	}
	stocks, err := s.store.Sum(ctx, s.db.Reads(), regions, 0, per.to, domain.Stocks())
	if err != nil {
		return nil, err
	}
	out := make(map[string]*reportingv1.Figures, len(regions))
	for _, r := range regions {
		out[r] = buildFigures(flows[r], stocks[r])
	}
	return out, nil
}

// notWithdrawn sums a party stock over every status but withdrawn.
func notWithdrawn(stock store.Sums, measure string) int64 {
	return stock.Total(measure) - stock.Get(measure, partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN.String())
}

func rate(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

func buildFigures(flow, stock store.Sums) *reportingv1.Figures {
	satisfied := flow.Get(domain.Ratings, demandv1.Rating_RATING_SATISFIED.String()) +
		flow.Get(domain.Ratings, demandv1.Rating_RATING_BASICALLY_SATISFIED.String())
	f := &reportingv1.Figures{
		PartnerGroups:         notWithdrawn(stock, domain.GroupsByStatus),
		Partners:              notWithdrawn(stock, domain.PartnersByStatus),
		Projects:              stock.Total(domain.ProjectsByStatus) - stock.Get(domain.ProjectsByStatus, demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED.String()),
		MattersSolved:         flow.Total(domain.MattersSolved),
		ServiceSessions:       flow.Total(domain.Sessions),
		PeopleServed:          flow.Total(domain.PeopleServed),
		VolunteerHours:        flow.Total(domain.VolunteerMinutes) / 60,
		Demands:               flow.Total(domain.DemandsByKind),
		NeedsMatched:          flow.Total(domain.NeedsMatched),
		CasesOpened:           flow.Total(domain.CasesOpened),
		Escalations:           flow.Total(domain.Escalations),
		CasesClosed:           flow.Total(domain.CasesClosed),
		CasesOnTime:           flow.Get(domain.CasesClosed, domain.OnTime),
		ClosedUnresolved:      flow.Total(domain.ClosedUnresolved),
		Ratings:               flow.Total(domain.Ratings),
		SatisfiedRatings:      satisfied,
		MeetingsHeld:          flow.Total(domain.Meetings),
		ContractsActive:       stock.Total(domain.ContractsActive),
		ContractsFulfilled:    flow.Total(domain.ContractsFulfilled),
		ContractsBreached:     flow.Total(domain.ContractsBreached),
		InactivePartnerAlerts: flow.Total(domain.InactiveAlerts),
		PartnerGroupsByStatus: tallies(stock[domain.GroupsByStatus]),
		PartnersByStatus:      tallies(stock[domain.PartnersByStatus]),
		RecruitedByChannel:    tallies(flow[domain.RecruitedByChannel]),
		PartnersByField:       tallies(flow[domain.PartiesByField]),
		ProjectsByStatus:      tallies(stock[domain.ProjectsByStatus]),
		ProjectsByListType:    tallies(stock[domain.ProjectsByList]),
		DemandsByKind:         tallies(flow[domain.DemandsByKind]),
		DemandsByCategory:     tallies(flow[domain.DemandsByCategory]),
		DemandsByChannel:      tallies(flow[domain.DemandsByChannel]),
		DemandsByStatus:       tallies(stock[domain.DemandsByStatus]),
		CasesByColour:         tallies(stock[domain.OpenCasesByColour]),
		MeetingsByKind:        tallies(flow[domain.Meetings]),
	}
	f.OnTimeRate = rate(f.CasesOnTime, f.CasesClosed)
	f.SatisfactionRate = rate(f.SatisfiedRatings, f.Ratings)
	if d, ok := domain.Median(flow[domain.FirstReplyHist]); ok {
		f.MedianFirstReply = durationpb.New(d)
	}
	if d, ok := domain.Median(flow[domain.ResolutionHist]); ok {
		f.MedianResolution = durationpb.New(d)
	}
	return f
}

// tallies turns a dimension's sums into lines, in the order of their keys, zeros left out.
func tallies(m map[string]int64) []*reportingv1.Tally {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]*reportingv1.Tally, len(keys))
	for i, k := range keys {
		out[i] = &reportingv1.Tally{Key: k, Label: domain.Label(k), Value: m[k]}
	}
	return out
}

// GetHeadline implements reportingv1.ReportServiceServer.
func (s *Server) GetHeadline(ctx context.Context, req *reportingv1.GetHeadlineRequest) (*reportingv1.GetHeadlineResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.checkRegion(p, req.GetRegionCode())
	if err != nil {
		return nil, err
	}
	per, err := checkPeriod(req.GetPeriod())
	if err != nil {
		return nil, err
	}
	read := s.now()
	figs, err := s.figures(ctx, []string{node.Code}, per)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	return &reportingv1.GetHeadlineResponse{
		RegionCode: node.Code, RegionName: node.Name, Period: req.GetPeriod(), Figures: figs[node.Code],
		ReadTime: timestamppb.New(read),
	}, nil
}

// GetBreakdown implements reportingv1.ReportServiceServer.
func (s *Server) GetBreakdown(ctx context.Context, req *reportingv1.GetBreakdownRequest) (*reportingv1.GetBreakdownResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.checkRegion(p, req.GetRegionCode())
	if err != nil {
		return nil, err
	}
	per, err := checkPeriod(req.GetPeriod())
	if err != nil {
		return nil, err
	}
	return s.breakdown(ctx, node.Code, per)
}

func (s *Server) breakdown(ctx context.Context, code string, per period) (*reportingv1.GetBreakdownResponse, error) {
	node, _ := s.tree.Get(code)
	children := s.tree.Children(code)
	codes := []string{code}
	for _, c := range children {
		codes = append(codes, c.Code)
	}
	figs, err := s.figures(ctx, codes, per)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	out := &reportingv1.GetBreakdownResponse{Total: &reportingv1.RegionFigures{RegionCode: code, RegionName: node.Name, Figures: figs[code]}}
	for _, c := range children {
		out.Children = append(out.Children, &reportingv1.RegionFigures{RegionCode: c.Code, RegionName: c.Name, Figures: figs[c.Code]})
	}
	return out, nil
}

// seriesMeasures are the aggregate measures behind each series measure.
var seriesMeasures = map[reportingv1.Measure]string{
	reportingv1.Measure_MEASURE_MATTERS_SOLVED:     domain.MattersSolved,
	reportingv1.Measure_MEASURE_SERVICE_SESSIONS:   domain.Sessions,
	reportingv1.Measure_MEASURE_PEOPLE_SERVED:      domain.PeopleServed,
	reportingv1.Measure_MEASURE_VOLUNTEER_MINUTES:  domain.VolunteerMinutes,
	reportingv1.Measure_MEASURE_DEMANDS:            domain.DemandsByKind,
	reportingv1.Measure_MEASURE_CASES_OPENED:       domain.CasesOpened,
	reportingv1.Measure_MEASURE_ESCALATIONS:        domain.Escalations,
	reportingv1.Measure_MEASURE_PARTNERS_RECRUITED: domain.RecruitedByChannel,
}

// GetSeries implements reportingv1.ReportServiceServer.
func (s *Server) GetSeries(ctx context.Context, req *reportingv1.GetSeriesRequest) (*reportingv1.GetSeriesResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.checkRegion(p, req.GetRegionCode())
	if err != nil {
		return nil, err
	}
	per, err := checkPeriod(req.GetPeriod())
	if err != nil {
		return nil, err
	}
	measure, ok := seriesMeasures[req.GetMeasure()]
	if !ok {
		return nil, apierr.InvalidArgument("measure", "is not a measure a series counts")
	}
	daily, err := s.store.Daily(ctx, s.db.Reads(), node.Code, per.from, per.to, measure)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	out := &reportingv1.GetSeriesResponse{}
	end := domain.DateOfDay(per.to)
	for start := domain.DateOfDay(per.from); !start.After(end); {
		next := nextInterval(start, req.GetInterval())
		last := next.AddDate(0, 0, -1)
		if last.After(end) {
			last = end
		}
		var v int64
		for d := start; !d.After(last); d = d.AddDate(0, 0, 1) {
			v += daily[domain.Day(d)]
		}
		out.Points = append(out.Points, &reportingv1.Point{StartDate: start.Format(time.DateOnly), EndDate: last.Format(time.DateOnly), Value: v})
		out.Total += v
		start = next
	}
	return out, nil
}

// nextInterval is the first day of the interval after the one t is in.
func nextInterval(t time.Time, iv reportingv1.Interval) time.Time {
	switch iv {
	case reportingv1.Interval_INTERVAL_WEEK:
		// Weeks run Monday to Sunday.
		return t.AddDate(0, 0, 7-(int(t.Weekday())+6)%7)
	case reportingv1.Interval_INTERVAL_MONTH:
		return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
	default:
		return t.AddDate(0, 0, 1)
	}
}

// GetRanking implements reportingv1.ReportServiceServer.
func (s *Server) GetRanking(ctx context.Context, req *reportingv1.GetRankingRequest) (*reportingv1.GetRankingResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.checkRegion(p, req.GetRegionCode())
	if err != nil {
		return nil, err
	}
	per, err := checkPeriod(req.GetPeriod())
	if err != nil {
		return nil, err
	}
	minCases := req.GetMinCases()
	if minCases == 0 {
		minCases = s.minCases
	}
	type line struct {
		unit, name string
		value      float64
		cases      int64
	}
	var lines []line
	what := "cases"
	switch m := req.GetMeasure(); m {
	case reportingv1.RankingMeasure_RANKING_MEASURE_RESOLUTION_RATE, reportingv1.RankingMeasure_RANKING_MEASURE_ON_TIME_RATE,
		reportingv1.RankingMeasure_RANKING_MEASURE_SATISFACTION_RATE:
		var communities []string
		names := map[string]string{}
		for _, n := range s.tree.Subtree(node.Code) {
			if n.Level == "community" {
				communities = append(communities, n.Code)
				names[n.Code] = n.Name
			}
		}
		sums, err := s.store.Sum(ctx, s.db.Reads(), communities, per.from, per.to,
			[]string{domain.MattersSolved, domain.ClosedUnresolved, domain.CasesClosed, domain.Ratings})
		if err != nil {
			return nil, apierr.Internal(err)
		}
		for _, c := range communities {
			f := sums[c]
			var part, whole int64
			switch m {
			case reportingv1.RankingMeasure_RANKING_MEASURE_RESOLUTION_RATE:
				part, whole = f.Total(domain.MattersSolved), f.Total(domain.MattersSolved)+f.Total(domain.ClosedUnresolved)
			case reportingv1.RankingMeasure_RANKING_MEASURE_ON_TIME_RATE:
				part, whole = f.Get(domain.CasesClosed, domain.OnTime), f.Total(domain.CasesClosed)
			default:
				what = "ratings"
				part = f.Get(domain.Ratings, demandv1.Rating_RATING_SATISFIED.String()) + f.Get(domain.Ratings, demandv1.Rating_RATING_BASICALLY_SATISFIED.String())
				whole = f.Total(domain.Ratings)
			}
			lines = append(lines, line{unit: c, name: names[c], value: rate(part, whole), cases: whole})
		}
	case reportingv1.RankingMeasure_RANKING_MEASURE_VOLUNTEER_HOURS, reportingv1.RankingMeasure_RANKING_MEASURE_PEOPLE_SERVED:
		what = "activities"
		measure, scale := domain.PartnerPeople, 1.0
		if m == reportingv1.RankingMeasure_RANKING_MEASURE_VOLUNTEER_HOURS {
			measure, scale = domain.PartnerMinutes, 1.0/60
		}
		sums, err := s.store.Sum(ctx, s.db.Reads(), []string{node.Code}, per.from, per.to, []string{measure, domain.PartnerSessions})
		if err != nil {
			return nil, apierr.Internal(err)
		}
		f := sums[node.Code]
		for partner, n := range f[domain.PartnerSessions] {
			lines = append(lines, line{unit: partner, value: float64(f.Get(measure, partner)) * scale, cases: n})
		}
	default:
		return nil, apierr.InvalidArgument("measure", "is not a measure units are ranked by")
	}
	slices.SortFunc(lines, func(a, b line) int {
		switch {
		case a.value > b.value:
			return -1
		case a.value < b.value:
			return 1
		}
		return strings.Compare(a.unit, b.unit)
	})
	out := &reportingv1.GetRankingResponse{MinCases: minCases}
	for _, l := range lines {
		if l.cases < int64(minCases) {
			out.Excluded = append(out.Excluded, &reportingv1.ExcludedUnit{
				Unit: l.unit, DisplayName: l.name, Cases: l.cases,
				Reason: fmt.Sprintf("%d %s, fewer than the minimum of %d", l.cases, what, minCases),
			})
			continue
		}
		rank := int32(len(out.Units) + 1)
		if k := len(out.Units); k > 0 && out.Units[k-1].GetValue() == l.value {
			rank = out.Units[k-1].GetRank()
		}
		out.Units = append(out.Units, &reportingv1.RankedUnit{Rank: rank, Unit: l.unit, DisplayName: l.name, Value: l.value, Cases: l.cases})
	}
	return out, nil
}

// GetReportStatus implements reportingv1.ReportServiceServer.
func (s *Server) GetReportStatus(ctx context.Context, _ *reportingv1.GetReportStatusRequest) (*reportingv1.GetReportStatusResponse, error) {
	if _, err := auth.Caller(ctx); err != nil {
		return nil, err
	}
	cursors, err := s.store.ListCursors(ctx, s.db.Reads(), ConsumerName)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	skipped, err := s.store.ListSkipped(ctx, s.db.Reads())
	if err != nil {
		return nil, apierr.Internal(err)
	}
	out := &reportingv1.GetReportStatusResponse{}
	for _, c := range cursors {
		out.Sources = append(out.Sources, &reportingv1.SourceStatus{Source: c.Source, Cursor: c.Cursor, UpdateTime: timestamppb.New(time.UnixMicro(c.UpdatedUS))})
	}
	for _, k := range skipped {
		out.Skipped = append(out.Skipped, &reportingv1.SkippedType{Source: k.Source, Type: k.Type, Count: k.Count})
	}
	return out, nil
}

// RebuildReports implements reportingv1.ReportServiceServer.
func (s *Server) RebuildReports(ctx context.Context, _ *reportingv1.RebuildReportsRequest) (*reportingv1.RebuildReportsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if s.rebuild == nil {
		return nil, apierr.FailedPrecondition("NO_FEEDS", "this instance follows no feeds: there is nothing to rebuild")
	}
	sources, err := s.rebuild(ctx)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	auth.AuditWrite(ctx, s.log, p, "reports", "RebuildReports")
	return &reportingv1.RebuildReportsResponse{Sources: sources}, nil
}
