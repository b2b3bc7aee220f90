// Package partner is the partner service: partner groups (合伙群体) and partners (合伙人), their
// capabilities, service areas and availability, their lifecycle, and the service activities
// they deliver. It exposes how to build the service and register it on a gRPC server; the
// rest is internal.
package partner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner/internal/api"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
	"github.com/jiayuan/jiayuan/services/partner/migrations"
)

// Name is the service's name in configuration, logs and health checks.
const Name = "partner"

// Config is what the service needs to run.
type Config struct {
	// DB is the service's own database; Open migrates it.
	DB   *sqlstore.DB
	Tree *region.Tree
	// Keys seal contacts' personal data at rest (person name, phone).
	Keys *personal.Keys
	// Contracts is a connection to the contract service (this service's own credentials): an
	// activity naming a contract is recorded only when the contract exists, is active and has
	// the activity's partner as a party. Without it (tests of partner alone) a contract named
	// is refused: nothing can vouch for it.
	Contracts grpc.ClientConnInterface
	// Bounds are the most one activity may plausibly count; zero fields take the defaults
	// (api.DefaultBounds).
	Bounds api.Bounds
	// DormantOnInactive is the district's policy on the contract service's inactive-partner
	// alerts (followed from its feed when Contracts is set): true moves an ACTIVE partner to
	// DORMANT; false (the default) only logs them, and staff decide.
	DormantOnInactive bool
	Logger            *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is the assembled partner service.
type Service struct {
	api  *api.Server
	feed *eventfeed.Feed
	// alerts follows the contract service's feed (inactive-partner alerts); nil without
	// Config.Contracts.
	alerts *eventfeed.Consumer
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil {
		return nil, fmt.Errorf("partner: a database and a region tree are required")
	}
	if cfg.Keys == nil {
		return nil, fmt.Errorf("partner: %w: the service stores personal data only sealed", personal.ErrNoKeys)
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("partner: migrate: %w", err)
	}
	outbox := eventfeed.NewOutbox()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	st := store.New(cfg.Keys)
	// A data directory of a build before encryption: seal what it stored in plaintext.
	n, err := st.SealLegacy(ctx, cfg.DB, resealBatch)
	if err != nil {
		return nil, fmt.Errorf("partner: seal personal data stored before encryption: %w", err)
	}
	if n > 0 {
		log.InfoContext(ctx, "sealed personal data stored before encryption", "parties", n)
	}
	svc := &Service{
		api: api.New(api.Config{DB: cfg.DB, Outbox: outbox, Store: st, Tree: cfg.Tree, Logger: log, Now: cfg.Now,
			Contracts: contracts(cfg.Contracts), Bounds: cfg.Bounds, DormantOnInactive: cfg.DormantOnInactive}),
		feed: eventfeed.NewFeed(cfg.DB, outbox, eventfeed.WithFeedLogger(log), eventfeed.WithScope(cfg.Tree)),
	}
	if cfg.Contracts != nil {
		c, err := eventfeed.NewConsumer(cfg.DB, "partner-contract-alerts", "contract", eventsv1.NewEventFeedServiceClient(cfg.Contracts),
			svc.api.HandleContractAlert,
			eventfeed.WithTypes(string(proto.MessageName(&contractv1.AlertRaised{}))),
			eventfeed.WithConsumerLogger(log))
		if err != nil {
			return nil, fmt.Errorf("partner: %w", err)
		}
		svc.alerts = c
	}
	return svc, nil
}

// Run follows the contract service's feed (inactive-partner alerts) until ctx ends; without a
// contract service it only waits. While the contract service is away the follower retries.
func (s *Service) Run(ctx context.Context) error {
	if s.alerts == nil {
		<-ctx.Done()
		return nil
	}
	err := s.alerts.Run(ctx)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

// resealBatch is how many records one transaction seals, on start and in RotateKeys: small
// enough that the service's writes wait little behind it.
const resealBatch = 200

// RotateKeys re-seals every party's contact under the current key of keys, a batch of records
// per transaction, calling progress (if not nil) after each batch with the count so far and
// the last name looked at. It is resumable: run again after an interruption, it skips what is
// already under the current key. db must be migrated.
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
	partnerv1.RegisterPartnerServiceServer(srv, s.api)
	eventsv1.RegisterEventFeedServiceServer(srv, s.feed)
}

// Policies says which roles may call each method; region scope is checked per record by the
// handlers. Every method registered by Register has an entry (a test enumerates them).
func Policies() auth.Policies {
	all := auth.Roles()
	managers := auth.Managers()
	// Applications come from residents (open call) and grid workers (door-knocking) too.
	applicants := auth.With(managers, auth.RoleResident, auth.RoleGridWorker)
	// A partner edits and pauses its own record; the handlers check it is its own.
	editors := auth.With(managers, auth.RolePartner)
	searchers := auth.With(managers, auth.RoleGridWorker, auth.RoleDepartment, auth.RoleSystem)
	recorders := auth.With(managers, auth.RolePartner, auth.RoleGridWorker)
	p := auth.Policies{
		partnerv1.PartnerService_GetPartnerGroup_FullMethodName:          auth.Allow(all...),
		partnerv1.PartnerService_ListPartnerGroups_FullMethodName:        auth.Allow(all...),
		partnerv1.PartnerService_CreatePartnerGroup_FullMethodName:       auth.Allow(applicants...),
		partnerv1.PartnerService_UpdatePartnerGroup_FullMethodName:       auth.Allow(editors...),
		partnerv1.PartnerService_DeletePartnerGroup_FullMethodName:       auth.Allow(managers...),
		partnerv1.PartnerService_ChangePartnerGroupStatus_FullMethodName: auth.Allow(editors...),
		partnerv1.PartnerService_GetPartner_FullMethodName:               auth.Allow(all...),
		partnerv1.PartnerService_ListPartners_FullMethodName:             auth.Allow(all...),
		partnerv1.PartnerService_CreatePartner_FullMethodName:            auth.Allow(applicants...),
		partnerv1.PartnerService_UpdatePartner_FullMethodName:            auth.Allow(editors...),
		partnerv1.PartnerService_DeletePartner_FullMethodName:            auth.Allow(managers...),
		partnerv1.PartnerService_ChangePartnerStatus_FullMethodName:      auth.Allow(editors...),
		partnerv1.PartnerService_SearchPartners_FullMethodName:           auth.Allow(searchers...),
		partnerv1.PartnerService_RecordActivity_FullMethodName:           auth.Allow(recorders...),
		partnerv1.PartnerService_ListActivities_FullMethodName:           auth.Allow(all...),
		// The feed carries no personal data, but it is every record of the district: other
		// services and administrators only.
		eventsv1.EventFeedService_Watch_FullMethodName: auth.Allow(auth.RoleSystem, auth.RoleAdmin),
	}
	return p
}

func contracts(conn grpc.ClientConnInterface) contractv1.ContractServiceClient {
	if conn == nil {
		return nil
	}
	return contractv1.NewContractServiceClient(conn)
}
