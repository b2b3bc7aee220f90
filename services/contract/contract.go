// Package contract is the contract service: contracts between a community (its party
// organisation) and its partners for a project (契约共建), so that partners who sign up work
// (not 合而不伙, 联而不动). It keeps each contract's versioned terms (duties with due dates or
// weekly recurrences, milestones, expected results), every party's signature, fulfilments,
// follow-up alerts and the evaluation at the end. It exposes how to build the service,
// register it on a gRPC server and run its background work; the rest is internal.
//
// Contracts are drafted from the demand service's feed (ProjectMatched) or by hand; partners'
// activities naming a contract count as fulfilment (the partner service's feed); the sweeper
// raises alerts (duty due soon or overdue, milestone missed, partner inactive) and expires
// contracts past their end. Every step goes onto this service's feed, which the demand service
// follows to move the project and the partner service to notice inactive partners.
package contract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sweep"
	"github.com/jiayuan/jiayuan/services/contract/internal/api"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
	"github.com/jiayuan/jiayuan/services/contract/migrations"
)

// Name is the service's name in configuration, logs and health checks.
const Name = "contract"

// DefaultSweepInterval is how often the sweeper looks for contracts that fell due.
const DefaultSweepInterval = time.Minute

// The follow-up settings' defaults (Config.DueSoonWorkdays and InactiveDays when zero).
const (
	DefaultDueSoonWorkdays = domain.DefaultDueSoonWorkdays
	DefaultInactiveDays    = domain.DefaultInactiveDays
)

// Config is what the service needs to run.
type Config struct {
	// DB is the service's own database; Open migrates it.
	DB   *sqlstore.DB
	Tree *region.Tree
	// Demands is a connection to the demand service, carrying this service's own credentials
	// (role system): its feed's ProjectMatched drafts contracts.
	Demands grpc.ClientConnInterface
	// Partners is a connection to the partner service, likewise: its feed's activities naming
	// a contract count as fulfilment.
	Partners grpc.ClientConnInterface
	// Calendar counts working days (the district's rules.yaml calendar); nil counts Monday to
	// Friday.
	Calendar *calendar.Calendar
	// DueSoonWorkdays: a one-off duty is due soon this many working days ahead
	// (DefaultDueSoonWorkdays when zero; `serve contract --due-soon-workdays`).
	DueSoonWorkdays int
	// InactiveDays: a partner of an active contract with no activity or fulfilment for this
	// many days raises an inactive-partner alert (DefaultInactiveDays when zero; `serve
	// contract --inactive-days`).
	InactiveDays int
	Logger       *slog.Logger
	// Now is the clock of the API and, when set, of the sweeper too (tests); by default the
	// sweeper uses the database's clock.
	Now func() time.Time
	// SweepInterval is how often the sweeper runs; DefaultSweepInterval when zero.
	SweepInterval time.Duration
}

// Service is the assembled contract service.
type Service struct {
	api      *api.Server
	feed     *eventfeed.Feed
	demands  *eventfeed.Consumer
	partners *eventfeed.Consumer
	sweeper  *sweep.Sweeper
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil || cfg.Demands == nil || cfg.Partners == nil {
		return nil, errors.New("contract: a database, a region tree and connections to the demand and partner services are required")
	}
	if cfg.DueSoonWorkdays < 0 || cfg.InactiveDays < 0 {
		return nil, fmt.Errorf("contract: due-soon working days (%d) and inactive days (%d) may not be negative", cfg.DueSoonWorkdays, cfg.InactiveDays)
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("contract: migrate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	outbox := eventfeed.NewOutbox()
	policy := domain.Policy{DueSoonWorkdays: cfg.DueSoonWorkdays, InactiveDays: cfg.InactiveDays, Calendar: cfg.Calendar}.WithDefaults()
	// Said once at start, so an operator sees the settings in force.
	log.InfoContext(ctx, "contract follow-up", "due_soon_workdays", policy.DueSoonWorkdays, "inactive_days", policy.InactiveDays)
	srv := api.New(api.Config{
		DB: cfg.DB, Outbox: outbox, Tree: cfg.Tree, Logger: log, Now: cfg.Now,
		Projects: demandv1.NewDemandServiceClient(cfg.Demands), Parties: partnerv1.NewPartnerServiceClient(cfg.Partners),
		Policy: policy,
	})
	demands, err := eventfeed.NewConsumer(cfg.DB, "contract-drafts", "demand", eventsv1.NewEventFeedServiceClient(cfg.Demands),
		srv.HandleDemandEvent,
		eventfeed.WithTypes(string(proto.MessageName(&demandv1.ProjectMatched{}))),
		eventfeed.WithConsumerLogger(log))
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	partners, err := eventfeed.NewConsumer(cfg.DB, "contract-fulfilments", "partner", eventsv1.NewEventFeedServiceClient(cfg.Partners),
		srv.HandlePartnerEvent,
		eventfeed.WithTypes(string(proto.MessageName(&partnerv1.ActivityRecorded{}))),
		eventfeed.WithConsumerLogger(log))
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	interval := cfg.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	opts := []sweep.Option{sweep.WithInterval(interval), sweep.WithLogger(log)}
	if cfg.Now != nil {
		opts = append(opts, sweep.WithClock(cfg.Now))
	}
	sw, err := sweep.New(cfg.DB, sweep.Job{Name: api.SweepJob, Table: "contracts", Key: "name", Due: "sweep_due_us", HandleBatch: srv.SweepContracts}, opts...)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return &Service{
		api:      srv,
		feed:     eventfeed.NewFeed(cfg.DB, outbox, eventfeed.WithFeedLogger(log), eventfeed.WithScope(cfg.Tree)),
		demands:  demands,
		partners: partners,
		sweeper:  sw,
	}, nil
}

// Register adds the service's gRPC services to srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	contractv1.RegisterContractServiceServer(srv, s.api)
	eventsv1.RegisterEventFeedServiceServer(srv, s.feed)
}

// Run follows the demand service's feed (drafts from matches) and the partner service's
// (activities as fulfilment), and sweeps contracts that fell due (alerts, expiry), until ctx
// ends. While a peer is away its follower retries; the rest goes on.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.demands.Run(ctx) })
	g.Go(func() error { return s.partners.Run(ctx) })
	g.Go(func() error { return s.sweeper.Run(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Sweep runs one sweep now and returns how many contracts it handled: tests, and operators
// who do not want to wait for the interval.
func (s *Service) Sweep(ctx context.Context) (int, error) { return s.sweeper.Sweep(ctx) }

// Policies says which roles may call each method; region scope and party are checked per
// contract by the handlers. Every method registered by Register has an entry.
func Policies() auth.Policies {
	managers := auth.With(auth.Managers(), auth.RoleSystem)
	// Who reads: officials and grid workers (their communities' contracts), partners (their
	// own), other systems.
	readers := auth.With(auth.Handlers(), auth.RolePartner, auth.RoleSystem)
	// Who acts for a party: the community's staff, and partners for themselves.
	parties := auth.With(auth.Managers(), auth.RolePartner)
	return auth.Policies{
		contractv1.ContractService_CreateContract_FullMethodName:        auth.Allow(managers...),
		contractv1.ContractService_GetContract_FullMethodName:           auth.Allow(readers...),
		contractv1.ContractService_ListContracts_FullMethodName:         auth.Allow(readers...),
		contractv1.ContractService_ListContractTemplates_FullMethodName: auth.Allow(readers...),
		contractv1.ContractService_AmendContract_FullMethodName:         auth.Allow(auth.Managers()...),
		contractv1.ContractService_SubmitContract_FullMethodName:        auth.Allow(auth.Managers()...),
		contractv1.ContractService_SignContract_FullMethodName:          auth.Allow(parties...),
		contractv1.ContractService_RenewContract_FullMethodName:         auth.Allow(auth.Managers()...),
		contractv1.ContractService_TerminateContract_FullMethodName:     auth.Allow(auth.Managers()...),
		contractv1.ContractService_RecordFulfilment_FullMethodName:      auth.Allow(parties...),
		contractv1.ContractService_ListFulfilments_FullMethodName:       auth.Allow(readers...),
		contractv1.ContractService_ListContractAlerts_FullMethodName:    auth.Allow(readers...),
		contractv1.ContractService_EvaluateContract_FullMethodName:      auth.Allow(auth.Managers()...),
		// The feed carries no personal data, but it is every contract of the district: other
		// services and administrators only.
		eventsv1.EventFeedService_Watch_FullMethodName: auth.Allow(auth.RoleSystem, auth.RoleAdmin),
	}
}
