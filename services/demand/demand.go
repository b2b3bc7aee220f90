// Package demand is the demand service: residents' needs and problems from every channel, the
// meetings they are raised in, the needs list and each demand's timeline of replies, the
// project library, and matching projects to partners. It exposes how to build the service,
// register it on a gRPC server and run its background work; the rest is internal.
package demand

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/api"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// Name is the service's name in configuration, logs and health checks.
const Name = "demand"

// Config is what the service needs to run.
type Config struct {
	// DB is the service's own database; Open migrates it.
	DB   *sqlstore.DB
	Tree *region.Tree
	// Partners is a connection to the partner service, carrying this service's own
	// credentials (role system): matching asks it for candidates, and its event feed supplies
	// partners' track records.
	Partners grpc.ClientConnInterface
	// Keys seal residents' personal data at rest (reporters, addresses, exact locations).
	Keys *personal.Keys
	// Cases is a connection to the escalation service (this service's own credentials): its
	// feed puts each case step's reply on the demand's timeline and moves the demand as its
	// case says. Without it no case reaches a demand (tests of demand alone).
	Cases  grpc.ClientConnInterface
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is the assembled demand service.
type Service struct {
	api      *api.Server
	feed     *eventfeed.Feed
	activity *eventfeed.Consumer
	cases    *eventfeed.Consumer // nil without Config.Cases
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil || cfg.Partners == nil {
		return nil, errors.New("demand: a database, a region tree and a partner service connection are required")
	}
	if cfg.Keys == nil {
		return nil, fmt.Errorf("demand: %w: the service stores personal data only sealed", personal.ErrNoKeys)
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("demand: migrate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	st := store.New(cfg.Keys)
	// A data directory of a build before encryption: seal what it stored in plaintext.
	n, err := st.SealLegacy(ctx, cfg.DB, resealBatch)
	if err != nil {
		return nil, fmt.Errorf("demand: seal personal data stored before encryption: %w", err)
	}
	if n > 0 {
		log.InfoContext(ctx, "sealed personal data stored before encryption", "demands", n)
	}
	outbox := eventfeed.NewOutbox()
	activity, err := eventfeed.NewConsumer(cfg.DB, "demand-track-records", "partner", eventsv1.NewEventFeedServiceClient(cfg.Partners),
		func(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
			var rec partnerv1.ActivityRecorded
			if err := ev.GetPayload().UnmarshalTo(&rec); err != nil {
				return fmt.Errorf("decode %s: %w", ev.GetId(), err)
			}
			a := rec.GetActivity()
			return st.RecordActivity(ctx, tx, a.GetPartner(), a.GetActivityDate(), int(a.GetPeopleServed()))
		},
		eventfeed.WithTypes(string(proto.MessageName(&partnerv1.ActivityRecorded{}))),
		eventfeed.WithConsumerLogger(log))
	if err != nil {
		return nil, fmt.Errorf("demand: %w", err)
	}
	svc := &Service{
		api: api.New(api.Config{
			DB: cfg.DB, Outbox: outbox, Store: st, Tree: cfg.Tree, Logger: log, Now: cfg.Now,
			Partners: partnerv1.NewPartnerServiceClient(cfg.Partners),
		}),
		feed:     eventfeed.NewFeed(cfg.DB, outbox, eventfeed.WithFeedLogger(log), eventfeed.WithScope(cfg.Tree)),
		activity: activity,
	}
	if err := svc.followCases(cfg, log); err != nil {
		return nil, err
	}
	return svc, nil
}

// followCases sets up the follower of the escalation service's feed (see Config.Cases).
func (s *Service) followCases(cfg Config, log *slog.Logger) error {
	if cfg.Cases == nil {
		return nil
	}
	c, err := eventfeed.NewConsumer(cfg.DB, "demand-cases", "escalation", eventsv1.NewEventFeedServiceClient(cfg.Cases),
		s.api.ApplyCaseChange,
		eventfeed.WithTypes(string(proto.MessageName(&escalationv1.CaseChanged{}))),
		eventfeed.WithConsumerLogger(log))
	if err != nil {
		return fmt.Errorf("demand: %w", err)
	}
	s.cases = c
	return nil
}

// resealBatch is how many records one transaction seals, on start and in RotateKeys: small
// enough that the service's writes wait little behind it.
const resealBatch = 200

// RotateKeys re-seals every demand's personal data under the current key of keys, a batch of
// records per transaction, calling progress (if not nil) after each batch with the count so
// far and the last name looked at. It is resumable: run again after an interruption, it skips
// what is already under the current key. db must be migrated.
func RotateKeys(ctx context.Context, db *sqlstore.DB, keys *personal.Keys, progress func(sealed int, last string)) (int, error) {
	if keys == nil {
		return 0, personal.ErrNoKeys
	}
	total := 0
	return store.New(keys).Rotate(ctx, db, "", resealBatch, func(r store.Reseal) {
		total += r.Sealed
		if progress != nil {
			progress(total, r.Last)
		}
	})
}

// Register adds the service's gRPC services to srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	demandv1.RegisterDemandServiceServer(srv, s.api)
	eventsv1.RegisterEventFeedServiceServer(srv, s.feed)
}

// Run follows the partner service's feed, keeping partners' track records for matching, and
// the escalation service's (cases' replies and outcomes), until ctx ends. While either is away
// it retries; the rest of the service is unaffected.
func (s *Service) Run(ctx context.Context) error {
	if s.cases != nil {
		// The escalation service's feed too, beside partner's (followCases).
		done := make(chan error, 1)
		go func() { done <- s.cases.Run(ctx) }()
		defer func() { <-done }()
	}
	err := s.activity.Run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Policies says which roles may call each method; region scope and ownership are checked per
// record by the handlers. Every method registered by Register has an entry (a test enumerates
// them).
func Policies() auth.Policies {
	managers, handlers := auth.Managers(), auth.Handlers()
	// Residents file online; staff and grid workers record the other channels; other
	// government systems (a city hotline) file as system.
	recorders := auth.With(handlers, auth.RoleResident, auth.RoleSystem)
	readers := auth.With(handlers, auth.RoleResident, auth.RoleDepartment, auth.RoleSystem)
	officials := auth.With(handlers, auth.RoleDepartment, auth.RoleSystem)
	all := auth.Roles()
	return auth.Policies{
		demandv1.DemandService_CreateDemand_FullMethodName:        auth.Allow(recorders...),
		demandv1.DemandService_GetDemand_FullMethodName:           auth.Allow(readers...),
		demandv1.DemandService_ListDemands_FullMethodName:         auth.Allow(readers...),
		demandv1.DemandService_UpdateDemand_FullMethodName:        auth.Allow(handlers...),
		demandv1.DemandService_CountDemands_FullMethodName:        auth.Allow(officials...),
		demandv1.DemandService_FindSimilarDemands_FullMethodName:  auth.Allow(recorders...),
		demandv1.DemandService_SupportDemand_FullMethodName:       auth.Allow(auth.RoleResident),
		demandv1.DemandService_MarkDuplicate_FullMethodName:       auth.Allow(managers...),
		demandv1.DemandService_ChangeDemandStatus_FullMethodName:  auth.Allow(handlers...),
		demandv1.DemandService_ReplyToDemand_FullMethodName:       auth.Allow(auth.With(handlers, auth.RoleDepartment)...),
		demandv1.DemandService_RateDemand_FullMethodName:          auth.Allow(auth.RoleResident),
		demandv1.DemandService_ListTimelineEntries_FullMethodName: auth.Allow(readers...),
		demandv1.DemandService_CreateMeeting_FullMethodName:       auth.Allow(handlers...),
		demandv1.DemandService_GetMeeting_FullMethodName:          auth.Allow(all...),
		demandv1.DemandService_ListMeetings_FullMethodName:        auth.Allow(all...),
		demandv1.DemandService_UpdateMeeting_FullMethodName:       auth.Allow(handlers...),
		demandv1.DemandService_ListMeetingDays_FullMethodName:     auth.Allow(all...),
		demandv1.DemandService_CreateProject_FullMethodName:       auth.Allow(managers...),
		demandv1.DemandService_GetProject_FullMethodName:          auth.Allow(all...),
		demandv1.DemandService_ListProjects_FullMethodName:        auth.Allow(all...),
		demandv1.DemandService_UpdateProject_FullMethodName:       auth.Allow(managers...),
		demandv1.DemandService_ChangeProjectStatus_FullMethodName: auth.Allow(managers...),
		demandv1.DemandService_AddProjectDemands_FullMethodName:   auth.Allow(managers...),
		demandv1.DemandService_MatchPartners_FullMethodName:       auth.Allow(managers...),
		demandv1.DemandService_AcceptMatch_FullMethodName:         auth.Allow(managers...),
		demandv1.DemandService_DeclineCandidate_FullMethodName:    auth.Allow(managers...),
		// The feed carries no personal data, but it is every record of the district: other
		// services and administrators only.
		eventsv1.EventFeedService_Watch_FullMethodName: auth.Allow(auth.RoleSystem, auth.RoleAdmin),
	}
}
