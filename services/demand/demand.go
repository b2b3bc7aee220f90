// Package demand is the demand service: residents' needs and problems from every channel, the
// meetings they are raised in, the needs list and each demand's timeline of replies, the
// project library, and matching projects to partners. It exposes how to build the service,
// register it on a gRPC server and run its background work; the rest is internal.
package demand

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/demand/internal/api"
	"github.com/jiayuan/jiayuan/services/demand/internal/notify"
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
	// Photos is where the photos attached to demands are kept and how links to them are made.
	Photos Photos
	// Notify says how notifications reach residents; the zero value writes them to the log.
	Notify NotifyConfig
	// Cases is a connection to the escalation service (this service's own credentials): its
	// feed puts each case step's reply on the demand's timeline and moves the demand as its
	// case says. Without it no case reaches a demand (tests of demand alone).
	Cases grpc.ClientConnInterface
	// Contracts is a connection to the contract service (this service's own credentials): its
	// feed moves projects with their contracts (CONTRACTED, DELIVERING, COMPLETED, back to
	// MATCHING) and puts contract outcomes into partners' track records. Without it projects
	// move by hand only (tests of demand alone).
	Contracts grpc.ClientConnInterface
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Photos configures the photos attached to demands.
type Photos struct {
	// Store keeps the images: a directory under `jiayuan dev`, an S3-compatible bucket of the
	// district in production (platform/blob).
	Store blob.Store
	// MaxBytes is the largest image accepted; photo.DefaultMaxBytes when zero.
	MaxBytes int64
	// URLTTL is how long a signed link to an image works; DefaultPhotoURLTTL when zero.
	URLTTL time.Duration
	// Signer signs the links, with the deployment's own key (platform/signedurl).
	Signer *signedurl.Signer
}

// DefaultPhotoURLTTL is how long a link to a photo works unless configured otherwise: long
// enough to read a demand's page, short enough that a link copied out of it soon stops working.
const DefaultPhotoURLTTL = 15 * time.Minute

// photoRequestOverhead is what a CreatePhoto request carries besides the image: the demand's
// name, the content type, a request id and the message's framing, with room to spare.
const photoRequestOverhead = 64 << 10

// NotifyConfig is how the service's notifications reach residents: the district's messaging
// gateway (SMS or a WeChat service account) behind a signed webhook (docs/notifications.md),
// quiet hours, and how hard to try.
type NotifyConfig struct {
	// WebhookURL is the gateway's webhook, https; empty: no gateway, each notification is
	// written to the log (phone masked) and recorded LOGGED, as under `jiayuan dev`.
	WebhookURL string
	// WebhookSecret is the secret shared with the gateway that signs every call.
	WebhookSecret []byte
	// WebhookRoots are the CAs the gateway's certificate chains to (a district's own); nil:
	// the system's roots.
	WebhookRoots *x509.CertPool
	// AllowLoopbackHTTP accepts an http WebhookURL to a loopback address (`jiayuan dev`,
	// tests); a production start refuses any URL that is not https.
	AllowLoopbackHTTP bool
	// WebhookTimeout bounds one call (webhook.DefaultTimeout when 0).
	WebhookTimeout time.Duration
	// QuietHours, "22:00-07:00" in China Standard Time, holds messages that are not urgent
	// until they end; empty or "off": none.
	QuietHours string
	// MaxAttempts is how many tries a notification gets before it is FAILED
	// (notify.DefaultMaxAttempts when 0).
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between tries (tests shorten them).
	RetryBase, RetryMax time.Duration
	// PollInterval is how often the sender looks for due notifications besides being woken
	// by new ones (notify.DefaultPoll when 0).
	PollInterval time.Duration
}

// Service is the assembled demand service.
type Service struct {
	api      *api.Server
	feed     *eventfeed.Feed
	activity *eventfeed.Consumer
	// photoMax is the image size limit, which sizes CreatePhoto's request limit.
	photoMax int64
	sender   *notify.Sender
	cases    *eventfeed.Consumer // nil without Config.Cases
	contract *eventfeed.Consumer // nil without Config.Contracts
}

// Open migrates the database to the current schema and builds the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Tree == nil || cfg.Partners == nil {
		return nil, errors.New("demand: a database, a region tree and a partner service connection are required")
	}
	if cfg.Keys == nil {
		return nil, fmt.Errorf("demand: %w: the service stores personal data only sealed", personal.ErrNoKeys)
	}
	photos := api.Photos{Store: cfg.Photos.Store, MaxBytes: cfg.Photos.MaxBytes, URLTTL: cfg.Photos.URLTTL, Signer: cfg.Photos.Signer}
	if photos.MaxBytes == 0 {
		photos.MaxBytes = photo.DefaultMaxBytes
	}
	if photos.URLTTL == 0 {
		photos.URLTTL = DefaultPhotoURLTTL
	}
	if err := photos.Check(); err != nil {
		return nil, fmt.Errorf("demand: photos: %w", err)
	}
	if err := cfg.DB.Migrate(ctx, Name, migrations.FS()); err != nil {
		return nil, fmt.Errorf("demand: migrate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	quiet, err := calendar.ParseQuietHours(cfg.Notify.QuietHours)
	if err != nil {
		return nil, fmt.Errorf("demand: quiet hours: %w", err)
	}
	var hook *webhook.Client
	if cfg.Notify.WebhookURL != "" {
		if hook, err = webhook.New(webhook.Config{
			URL: cfg.Notify.WebhookURL, Secret: cfg.Notify.WebhookSecret, AllowLoopbackHTTP: cfg.Notify.AllowLoopbackHTTP,
			Timeout: cfg.Notify.WebhookTimeout, Now: cfg.Now, UserAgent: "jiayuan-demand", RootCAs: cfg.Notify.WebhookRoots,
		}); err != nil {
			return nil, fmt.Errorf("demand: notifications: %w", err)
		}
	}
	// The sender is built after the store it reads, and the store wakes it: through this.
	var sender *notify.Sender
	st := store.New(cfg.Keys, store.WithQuietHours(quiet), store.WithWake(func() { sender.Wake() }))
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
	sender = notify.New(notify.Config{
		DB: cfg.DB, Store: st, Webhook: hook, WebhookTimeout: cfg.Notify.WebhookTimeout, Quiet: quiet,
		MaxAttempts: cfg.Notify.MaxAttempts, RetryBase: cfg.Notify.RetryBase, RetryMax: cfg.Notify.RetryMax,
		Poll: cfg.Notify.PollInterval, Logger: log, Now: cfg.Now,
	})
	svc := &Service{
		sender: sender,
		api: api.New(api.Config{
			DB: cfg.DB, Outbox: outbox, Store: st, Tree: cfg.Tree, Logger: log, Now: cfg.Now,
			Partners: partnerv1.NewPartnerServiceClient(cfg.Partners), Photos: photos,
		}),
		feed:     eventfeed.NewFeed(cfg.DB, outbox, eventfeed.WithFeedLogger(log), eventfeed.WithScope(cfg.Tree)),
		activity: activity,
		photoMax: photos.MaxBytes,
	}
	if err := svc.followCases(cfg, log); err != nil {
		return nil, err
	}
	if cfg.Contracts != nil {
		c, err := eventfeed.NewConsumer(cfg.DB, "demand-contracts", "contract", eventsv1.NewEventFeedServiceClient(cfg.Contracts),
			svc.api.ApplyContractChange,
			eventfeed.WithTypes(string(proto.MessageName(&contractv1.ContractStatusChanged{})), string(proto.MessageName(&contractv1.FulfilmentRecorded{}))),
			eventfeed.WithConsumerLogger(log))
		if err != nil {
			return nil, fmt.Errorf("demand: %w", err)
		}
		svc.contract = c
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

// MethodMaxRecvMsgSize is the request size limit of the methods that need more than the
// server's: CreatePhoto carries an image of up to the photo size limit. Every other method
// keeps the server's limit.
func (s *Service) MethodMaxRecvMsgSize() map[string]int {
	return map[string]int{demandv1.DemandService_CreatePhoto_FullMethodName: int(s.photoMax) + photoRequestOverhead}
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

// Run does the service's background work until ctx ends: it follows the partner service's
// feed, keeping partners' track records for matching, and the escalation service's (cases'
// replies and outcomes), and delivers the notification outbox to residents. While a peer or the
// messaging gateway is away it retries; the rest of the service is unaffected.
func (s *Service) Run(ctx context.Context) error {
	work, stop := context.WithCancel(ctx)
	defer stop()
	sent := make(chan error, 1)
	go func() { sent <- s.sender.Run(work) }()
	followed := make(chan error, 1)
	if s.cases != nil {
		go func() { followed <- s.cases.Run(work) }()
	} else {
		followed <- nil
	}
	contracts := make(chan error, 1)
	if s.contract != nil {
		go func() { contracts <- s.contract.Run(work) }()
	} else {
		contracts <- nil
	}
	err := s.activity.Run(work)
	// The partner feed's end ends the rest.
	stop()
	err = errors.Join(err, <-sent, <-followed, <-contracts)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
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
		demandv1.DemandService_ClaimDemand_FullMethodName:         auth.Allow(auth.RoleResident),
		demandv1.DemandService_ListTimelineEntries_FullMethodName: auth.Allow(readers...),
		// Delivery status is for the staff handling the demand, not residents.
		demandv1.DemandService_ListNotifications_FullMethodName:   auth.Allow(handlers...),
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
		// The resident who raised a demand and those who handle it attach photos; everyone who
		// sees the demand lists them; the uploader or the community's staff remove one (the
		// handlers check which). The image itself is read through a signed link, which ListPhotos
		// and CreatePhoto hand to callers who may see it: browsers load it without a token.
		demandv1.DemandService_CreatePhoto_FullMethodName:     auth.Allow(auth.With(handlers, auth.RoleResident)...),
		demandv1.DemandService_ListPhotos_FullMethodName:      auth.Allow(readers...),
		demandv1.DemandService_DeletePhoto_FullMethodName:     auth.Allow(auth.With(handlers, auth.RoleResident)...),
		demandv1.DemandService_GetPhotoContent_FullMethodName: auth.SignedURL(),
		// The feed carries no personal data, but it is every record of the district: other
		// services and administrators only.
		eventsv1.EventFeedService_Watch_FullMethodName: auth.Allow(auth.RoleSystem, auth.RoleAdmin),
	}
}
