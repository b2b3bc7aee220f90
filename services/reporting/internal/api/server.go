// Package api implements the ReportService gRPC API and the handling of the other services'
// feeds: access checks, the rules the proto cannot state, and the figures read from the
// aggregates the feeds keep.
package api

import (
	"context"
	"log/slog"
	"time"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/reporting/internal/domain"
	"github.com/jiayuan/jiayuan/services/reporting/internal/store"
)

// ConsumerName names this service's cursors in consumer_cursors (one per source).
const ConsumerName = "reporting"

// DefaultMinCases is the fewest cases a unit needs to be ranked.
const DefaultMinCases = 5

// DefaultRollupDeadline is how long the city rollup waits for a district.
const DefaultRollupDeadline = 3 * time.Second

// District is a district's reporting service, as the city rollup reads it.
type District struct {
	// Name is the district's name as the response names it, e.g. "江南区".
	Name string
	// RegionCode is the district's root code in its own region tree.
	RegionCode string
	// Client is its ReportService, carrying the rollup's own credentials.
	Client reportingv1.ReportServiceClient
}

// Server implements reportingv1.ReportServiceServer.
type Server struct {
	reportingv1.UnimplementedReportServiceServer

	db       *sqlstore.DB
	store    *store.Store
	tree     *region.Tree
	log      *slog.Logger
	now      func() time.Time
	minCases int32
	rebuild  func(ctx context.Context) ([]string, error)
}

// Config holds what the API needs.
type Config struct {
	DB     *sqlstore.DB
	Tree   *region.Tree
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MinCases is the default ranking threshold; DefaultMinCases when zero.
	MinCases int32
	// Rebuild stops the feeds' consumers, resets the figures and starts them again, returning
	// the sources; the service supplies it.
	Rebuild func(ctx context.Context) ([]string, error)
}

// New returns the ReportService implementation.
func New(cfg Config) *Server {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	minCases := cfg.MinCases
	if minCases <= 0 {
		minCases = DefaultMinCases
	}
	return &Server{
		db: cfg.DB, store: store.New(), tree: cfg.Tree, log: log, now: now, minCases: minCases, rebuild: cfg.Rebuild,
	}
}

// regions is the region code and its ancestors, whose aggregates an event adds to. A code the
// tree does not know counts at the district only: the district's totals stay whole.
func (s *Server) regions(code string) []string {
	path := s.tree.Path(code)
	if len(path) == 0 {
		return []string{s.tree.Root().Code}
	}
	out := make([]string, len(path))
	for i, n := range path {
		out[i] = n.Code
	}
	return out
}

// period is a request's period as days, checked: not reversed, not longer than allowed.
type period struct{ from, to int }

func checkPeriod(p *reportingv1.Period) (period, error) {
	start, err := domain.Date(p.GetStartDate())
	if err != nil {
		return period{}, apierr.InvalidArgument("period.start_date", "is not a date")
	}
	end, err := domain.Date(p.GetEndDate())
	if err != nil {
		return period{}, apierr.InvalidArgument("period.end_date", "is not a date")
	}
	if end.Before(start) {
		return period{}, apierr.InvalidArgument("period.end_date", "is before period.start_date: the period is reversed")
	}
	if days := int(end.Sub(start).Hours()/24) + 1; days > domain.MaxPeriodDays {
		return period{}, apierr.InvalidArgument("period.end_date", "the period is longer than 366 days")
	}
	return period{from: domain.Day(start), to: domain.Day(end)}, nil
}

// checkRegion returns the region code names, when it is in the caller's scope. An unknown
// region and one outside the scope read alike.
func (s *Server) checkRegion(p auth.Principal, code string) (region.Node, error) {
	n, ok := s.tree.Get(code)
	if !ok || !p.InScope(s.tree, code) {
		return region.Node{}, apierr.InvalidArgument("region_code", "no region "+code+" in your scope")
	}
	return n, nil
}
