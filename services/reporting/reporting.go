// Package reporting is the reporting service: the district's figures (DOMAIN.md step 6) for any
// node of the region tree and any period — partner groups, partners, projects, matters solved,
// service sessions, people served and the rest — kept current from the other services' event
// feeds, exportable as CSV and XLSX, and rolled up across districts by a city instance. It
// exposes how to build the service, register it and run its background work (the feeds it
// follows); the rest is internal.
//
// It never reads another service's database: each source's feed is followed by a batch
// consumer (eventfeed.NewBatchConsumer) whose cursor is stored with a batch of events' effects
// in one transaction, and every effect is idempotent by event id. The figures can be rebuilt
// from cursor zero, a batch of up to consumerBatch events a transaction.
package reporting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/reporting/internal/api"
	"github.com/jiayuan/jiayuan/services/reporting/internal/store"
	"github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// consumerBatch bounds the events a consumer applies in one transaction when it is behind (a
// rebuild, a restart): four Watch responses. A batch's events add to the same figures (the
// district's, the month's) and move the same states; the more of them in one transaction, the
// fewer times each row is written. A rebuild on PostgreSQL ran 8,200 events/s against 6,900
// with the feed's 500 (mean of three interleaved runs each, BenchmarkRebuildVsRead); SQLite's
// stayed the same. Live, a batch holds what has arrived, a few events.
const consumerBatch = 2000

// Name is the service's name in configuration, logs and health checks.
const Name = "reporting"

// The sources whose feeds a district's reporting service follows. The contract service's feed
// is followed when a connection to it is given (Config.Sources["contract"]).
const (
	SourcePartner    = "partner"
	SourceDemand     = "demand"
	SourceEscalation = "escalation"
	SourceContract   = "contract"
)

// Config is what the service needs to run.
type Config struct {
	// DB is the service's own database; Open migrates it.
	DB   *sqlstore.DB
	Tree *region.Tree
	// Sources holds a connection to each service whose feed is counted, by source name
	// (SourcePartner, …), carrying this service's own credentials (role system). A source
	// without a connection is not followed.
	Sources map[string]grpc.ClientConnInterface
	Logger  *slog.Logger
	// Now is the API's clock; time.Now when nil.
	Now func() time.Time
	// MinCases is the default ranking threshold (api.DefaultMinCases when zero).
	MinCases int32
}

// Service is the assembled reporting service.
type Service struct {
	api       *api.Server
	db        *sqlstore.DB
	consumers []*eventfeed.Consumer
	sources   []string
	log       *slog.Logger
	// rebuilds carries rebuild requests to Run, which stops the consumers, resets and restarts.
	rebuilds chan chan error
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil {
		return nil, errors.New("reporting: a database and a region tree are required")
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("reporting: migrate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: cfg.DB, log: log, rebuilds: make(chan chan error)}
	var rebuild func(ctx context.Context) ([]string, error)
	if len(cfg.Sources) > 0 {
		rebuild = s.Rebuild
	}
	s.api = api.New(api.Config{
		DB: cfg.DB, Tree: cfg.Tree, Logger: log, Now: cfg.Now, MinCases: cfg.MinCases, Rebuild: rebuild,
	})
	s.sources = slices.Sorted(maps.Keys(cfg.Sources))
	for _, source := range s.sources {
		conn := cfg.Sources[source]
		if conn == nil {
			return nil, fmt.Errorf("reporting: source %q has no connection", source)
		}
		c, err := eventfeed.NewBatchConsumer(cfg.DB, api.ConsumerName, source, eventsv1.NewEventFeedServiceClient(conn),
			s.api.Handler(source), eventfeed.WithConsumerLogger(log), eventfeed.WithMaxBatch(consumerBatch))
		if err != nil {
			return nil, fmt.Errorf("reporting: %w", err)
		}
		s.consumers = append(s.consumers, c)
	}
	return s, nil
}

// Register adds the service's gRPC services to srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	reportingv1.RegisterReportServiceServer(srv, s.api)
}

// Run follows every source's feed until ctx ends. A source that is away (not deployed yet, or
// down) is retried with backoff and never stops the others. A rebuild stops the followers,
// resets the figures and starts them again from cursor zero.
func (s *Service) Run(ctx context.Context) error {
	for {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.follow(runCtx) }()
		select {
		case reply := <-s.rebuilds:
			cancel()
			<-done
			reply <- s.reset(ctx)
		case err := <-done:
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// follow runs every consumer until ctx ends.
func (s *Service) follow(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range s.consumers {
		g.Go(func() error { return c.Run(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Service) reset(ctx context.Context) error {
	err := s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return store.New().Reset(ctx, tx, api.ConsumerName)
	})
	if err != nil {
		return fmt.Errorf("reporting: rebuild: %w", err)
	}
	s.log.InfoContext(ctx, "reporting: figures reset; reading every feed again from its start", "sources", s.sources)
	return nil
}

// Rebuild resets the figures and has Run read every feed again from its start; it returns the
// sources once the reset committed. Run must be running.
func (s *Service) Rebuild(ctx context.Context) ([]string, error) {
	reply := make(chan error, 1)
	select {
	case s.rebuilds <- reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-reply:
		if err != nil {
			return nil, err
		}
		return slices.Clone(s.sources), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cursors returns how far each source's feed has been applied (tests, and waiting for figures
// to catch up).
func (s *Service) Cursors() map[string]int64 {
	out := map[string]int64{}
	for i, c := range s.consumers {
		out[s.sources[i]] = c.Cursor()
	}
	return out
}

// Reset throws the figures of db away and moves its cursors to zero: `jiayuan rebuild
// reporting`, run while the service is stopped (a running one is rebuilt with RebuildReports).
func Reset(ctx context.Context, db *sqlstore.DB) error {
	return db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return store.New().Reset(ctx, tx, api.ConsumerName)
	})
}

// Policies says which roles may call each method; region scope is checked by the handlers.
func Policies() auth.Policies {
	// Officials read the figures of their scope (a grid worker their grid's); other systems
	// (a city dashboard, a city rollup) too.
	readers := auth.Allow(auth.With(auth.Handlers(), auth.RoleSystem)...)
	return auth.Policies{
		reportingv1.ReportService_GetHeadline_FullMethodName:     readers,
		reportingv1.ReportService_GetBreakdown_FullMethodName:    readers,
		reportingv1.ReportService_GetSeries_FullMethodName:       readers,
		reportingv1.ReportService_GetRanking_FullMethodName:      readers,
		reportingv1.ReportService_ExportReport_FullMethodName:    readers,
		reportingv1.ReportService_GetCityHeadline_FullMethodName: auth.Allow(auth.RoleDistrictOfficer, auth.RoleAdmin, auth.RoleSystem),
		reportingv1.ReportService_GetReportStatus_FullMethodName: auth.Allow(auth.RoleAdmin, auth.RoleSystem),
		reportingv1.ReportService_RebuildReports_FullMethodName:  auth.Allow(auth.RoleAdmin),
	}
}
