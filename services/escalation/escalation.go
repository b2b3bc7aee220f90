// Package escalation is the escalation service: problem cases on the three-colour list
// (三色清单), their colour and level, the unit responsible, time limits on the working-day
// calendar, automatic escalation up the ladder (community → sub-district → district) and a
// reply to the resident at every step (事事有回音). It exposes how to build the service,
// register it on a gRPC server and run its background work; the rest is internal.
//
// Cases open from the demand service's feed (staff moving a PROBLEM to IN_CASE) or directly
// (CreateCase, which reads the demand from the demand service); every step goes onto this
// service's feed as CaseChanged, which the demand service follows to put the reply on the
// demand's timeline and move the demand.
package escalation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/delivery"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sweep"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/escalation/internal/api"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/migrations"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// Name is the service's name in configuration, logs and health checks.
const Name = "escalation"

// DefaultSweepInterval is how often the sweeper looks for cases that fell due.
const DefaultSweepInterval = 30 * time.Second

// Config is what the service needs to run.
type Config struct {
	// DB is the service's own database; Open migrates it.
	DB   *sqlstore.DB
	Tree *region.Tree
	// Rules are the district's rules (rules.yaml): colours, limits, the ladder, departments.
	Rules *rules.Rules
	// Demands is a connection to the demand service, carrying this service's own credentials
	// (role system): its feed opens and reopens cases, and CreateCase reads demands from it.
	Demands grpc.ClientConnInterface
	Logger  *slog.Logger
	// Now is the clock of the API and, when set, of the sweeper too (tests); by default the
	// sweeper uses the database's clock.
	Now func() time.Time
	// SweepInterval is how often the sweeper runs; DefaultSweepInterval when zero.
	SweepInterval time.Duration
	// Notify is how units hear of their cases: the district's messaging gateway, the one
	// residents' notifications go through (the zero value writes them to the log).
	Notify NotifyConfig
	// BoardCache is how long a replica answers the three-colour board of one scope and region
	// from its last count (read_time says when that was): api.DefaultBoardCache (2s) when zero,
	// none when negative. A change of a case on the replica drops it at once; one made on
	// another replica shows within this time.
	BoardCache time.Duration
}

// NotifyConfig is how the units responsible for cases are told of them (a case given to
// them, a warning, an overdue duty): the district's messaging gateway behind a signed webhook
// (docs/notifications.md), with each unit's contact from rules.yaml, quiet hours, and how hard
// to try. It is the demand service's NotifyConfig: one gateway for the district.
type NotifyConfig struct {
	// WebhookURL is the gateway's webhook, https; empty: each message is written to the log
	// and recorded LOGGED.
	WebhookURL string
	// WebhookSecret is the secret shared with the gateway that signs every call.
	WebhookSecret []byte
	// WebhookRoots are the CAs the gateway's certificate chains to (a district's own); nil:
	// the system's roots.
	WebhookRoots *x509.CertPool
	// AllowLoopbackHTTP accepts an http WebhookURL to a loopback address (dev, tests).
	AllowLoopbackHTTP bool
	// WebhookTimeout bounds one call (webhook.DefaultTimeout when 0).
	WebhookTimeout time.Duration
	// QuietHours, "22:00-07:00" in China Standard Time, holds messages that are not urgent
	// (every one but a red case given to a unit); empty or "off": none.
	QuietHours string
	// MaxAttempts is how many tries a message gets before it is FAILED.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between tries (tests shorten them).
	RetryBase, RetryMax time.Duration
	// PollInterval is how often the sender looks for due messages besides being woken.
	PollInterval time.Duration
}

// Service is the assembled escalation service.
type Service struct {
	api     *api.Server
	feed    *eventfeed.Feed
	demands *eventfeed.Consumer
	sweeper *sweep.Sweeper
	sender  *delivery.Sender
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil || cfg.Rules == nil || cfg.Demands == nil {
		return nil, errors.New("escalation: a database, a region tree, the district's rules and a demand service connection are required")
	}
	if cfg.Rules.District() != cfg.Tree.Root().Code {
		return nil, fmt.Errorf("escalation: the rules are for district %s, the region tree for %s", cfg.Rules.District(), cfg.Tree.Root().Code)
	}
	if err := cfg.Rules.CheckOffices(cfg.Tree); err != nil {
		return nil, fmt.Errorf("escalation: %w", err)
	}
	quiet, err := calendar.ParseQuietHours(cfg.Notify.QuietHours)
	if err != nil {
		return nil, fmt.Errorf("escalation: quiet hours: %w", err)
	}
	var hook *webhook.Client
	if cfg.Notify.WebhookURL != "" {
		if hook, err = webhook.New(webhook.Config{
			URL: cfg.Notify.WebhookURL, Secret: cfg.Notify.WebhookSecret, AllowLoopbackHTTP: cfg.Notify.AllowLoopbackHTTP,
			Timeout: cfg.Notify.WebhookTimeout, Now: cfg.Now, UserAgent: "jiayuan-escalation", RootCAs: cfg.Notify.WebhookRoots,
		}); err != nil {
			return nil, fmt.Errorf("escalation: notifications: %w", err)
		}
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("escalation: migrate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Cases of a build before the board counted acknowledge and reply deadlines: fill them in.
	for filled := 0; ; {
		n, err := store.New().FillClocks(ctx, cfg.DB, 500)
		if err != nil {
			return nil, fmt.Errorf("escalation: fill in the board's clocks: %w", err)
		}
		if filled += n; n == 0 {
			if filled > 0 {
				log.InfoContext(ctx, "filled in the acknowledge and reply deadlines of cases from an older build", "cases", filled)
			}
			break
		}
	}
	outbox := eventfeed.NewOutbox()
	meter, attrs := cfg.DB.Meter("github.com/jiayuan/jiayuan/services/escalation")
	sender := delivery.New(delivery.Config{
		Queue: store.UnitQueue{DB: cfg.DB}, Webhook: hook, WebhookTimeout: cfg.Notify.WebhookTimeout, Quiet: quiet,
		MaxAttempts: cfg.Notify.MaxAttempts, RetryBase: cfg.Notify.RetryBase, RetryMax: cfg.Notify.RetryMax,
		Poll: cfg.Notify.PollInterval, Logger: log, Now: cfg.Now, What: "unit notification", Setting: "--notify-webhook-url",
		Metrics: &delivery.Metrics{Meter: meter, Attrs: attrs, Name: "jiayuan.notifications", Unit: "{notification}"},
	})
	srv := api.New(api.Config{
		DB: cfg.DB, Outbox: outbox, Tree: cfg.Tree, Rules: cfg.Rules, Logger: log, Now: cfg.Now,
		Demands: demandv1.NewDemandServiceClient(cfg.Demands), Quiet: quiet, Wake: sender.Wake, BoardCache: cfg.BoardCache,
	})
	consumer, err := eventfeed.NewConsumer(cfg.DB, "escalation-cases", "demand", eventsv1.NewEventFeedServiceClient(cfg.Demands),
		srv.HandleDemandEvent,
		eventfeed.WithTypes(string(proto.MessageName(&demandv1.DemandStatusChanged{})), string(proto.MessageName(&demandv1.DemandRated{}))),
		eventfeed.WithConsumerLogger(log))
	if err != nil {
		return nil, fmt.Errorf("escalation: %w", err)
	}
	interval := cfg.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	opts := []sweep.Option{sweep.WithInterval(interval), sweep.WithLogger(log)}
	if cfg.Now != nil {
		opts = append(opts, sweep.WithClock(cfg.Now))
	}
	sw, err := sweep.New(cfg.DB, sweep.Job{Name: api.SweepJob, Table: "cases", Key: "name", Due: "sweep_due_us", HandleBatch: srv.SweepCases}, opts...)
	if err != nil {
		return nil, fmt.Errorf("escalation: %w", err)
	}
	return &Service{
		api:     srv,
		feed:    eventfeed.NewFeed(cfg.DB, outbox, eventfeed.WithFeedLogger(log), eventfeed.WithScope(cfg.Tree)),
		demands: consumer,
		sweeper: sw,
		sender:  sender,
	}, nil
}

// Register adds the service's gRPC services to srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	escalationv1.RegisterCaseServiceServer(srv, s.api)
	eventsv1.RegisterEventFeedServiceServer(srv, s.feed)
}

// Run follows the demand service's feed (opening and reopening cases), sweeps cases that
// fell due (warnings, automatic escalation) and sends units their notifications until ctx ends. While the demand service is away
// the follower retries; the sweeper goes on.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.demands.Run(ctx) })
	g.Go(func() error { return s.sweeper.Run(ctx) })
	g.Go(func() error { return s.sender.Run(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Sweep runs one sweep now and returns how many cases it handled: tests, and operators who
// do not want to wait for the interval.
func (s *Service) Sweep(ctx context.Context) (int, error) { return s.sweeper.Sweep(ctx) }

// Policies says which roles may call each method; region scope, level and unit are checked per
// case by the handlers. Every method registered by Register has an entry.
func Policies() auth.Policies {
	officials := auth.Managers()
	// Who reads the list: officials, grid workers (their community's), departments (their
	// own cases) and other systems (a city dashboard).
	readers := auth.With(auth.Handlers(), auth.RoleDepartment, auth.RoleSystem)
	// Who acts for a unit: officials, and departments for the cases assigned to them.
	units := auth.With(officials, auth.RoleDepartment)
	return auth.Policies{
		escalationv1.CaseService_CreateCase_FullMethodName:          auth.Allow(auth.With(officials, auth.RoleSystem)...),
		escalationv1.CaseService_GetCase_FullMethodName:             auth.Allow(readers...),
		escalationv1.CaseService_ListCases_FullMethodName:           auth.Allow(readers...),
		escalationv1.CaseService_GetCaseBoard_FullMethodName:        auth.Allow(readers...),
		escalationv1.CaseService_ListCaseEvents_FullMethodName:      auth.Allow(readers...),
		escalationv1.CaseService_ClassifyCase_FullMethodName:        auth.Allow(officials...),
		escalationv1.CaseService_AssignCase_FullMethodName:          auth.Allow(officials...),
		escalationv1.CaseService_AcceptCase_FullMethodName:          auth.Allow(units...),
		escalationv1.CaseService_HandBackCase_FullMethodName:        auth.Allow(units...),
		escalationv1.CaseService_RequestExtension_FullMethodName:    auth.Allow(units...),
		escalationv1.CaseService_DecideExtension_FullMethodName:     auth.Allow(officials...),
		escalationv1.CaseService_ReplyToCase_FullMethodName:         auth.Allow(units...),
		escalationv1.CaseService_EscalateCase_FullMethodName:        auth.Allow(officials...),
		escalationv1.CaseService_DeescalateCase_FullMethodName:      auth.Allow(officials...),
		escalationv1.CaseService_ResolveCase_FullMethodName:         auth.Allow(units...),
		escalationv1.CaseService_CloseCaseUnresolved_FullMethodName: auth.Allow(units...),
		escalationv1.CaseService_CreateCaseMeeting_FullMethodName:   auth.Allow(units...),
		escalationv1.CaseService_ListCaseMeetings_FullMethodName:    auth.Allow(readers...),
		escalationv1.CaseService_CompleteMeetingDuty_FullMethodName: auth.Allow(units...),
		// Grid workers mediate on the ladder's first rung.
		escalationv1.CaseService_RecordMediationSession_FullMethodName: auth.Allow(auth.Handlers()...),
		// The feed carries no personal data, but it is every case of the district: other
		// services and administrators only.
		eventsv1.EventFeedService_Watch_FullMethodName: auth.Allow(auth.RoleSystem, auth.RoleAdmin),
	}
}
