// Package api implements the ContractService gRPC API, the handling of the demand service's
// feed (drafts from matches) and the partner service's feed (activities that fulfil duties),
// and the follow-up sweep (alerts, expiry): access checks, the rules the proto cannot state,
// and composing store writes with their events and idempotency records in one transaction.
package api

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
	"github.com/jiayuan/jiayuan/services/contract/internal/store"
)

// SweepJob names the follow-up sweep of contracts in sweep_runs.
const SweepJob = "contract-followup"

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// Server implements contractv1.ContractServiceServer.
type Server struct {
	contractv1.UnimplementedContractServiceServer

	db     *sqlstore.DB
	res    *resource.Service
	store  *store.Store
	tree   *region.Tree
	policy domain.Policy
	log    *slog.Logger
	now    func() time.Time
	// projects and parties resolve the names a hand-drafted contract refers to.
	projects demandv1.DemandServiceClient
	parties  partnerv1.PartnerServiceClient
}

// Config holds what the API needs.
type Config struct {
	DB     *sqlstore.DB
	Outbox *eventfeed.Outbox
	Tree   *region.Tree
	// Policy is the follow-up settings (due-soon working days, inactive days, calendar).
	Policy domain.Policy
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Projects and Parties are the demand and partner services, called with this service's
	// own credentials to resolve the project and partners a hand-drafted contract names.
	Projects demandv1.DemandServiceClient
	Parties  partnerv1.PartnerServiceClient
}

// New returns the ContractService implementation.
func New(cfg Config) *Server {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		db: cfg.DB, res: resource.NewService(cfg.DB, cfg.Outbox, log, now), store: store.New(), tree: cfg.Tree,
		policy: cfg.Policy.WithDefaults(), log: log, now: now, projects: cfg.Projects, parties: cfg.Parties,
	}
}

// The service's own identities, for the steps it takes by itself.
var (
	demandFeedActor  = auth.Principal{Subject: "demand-feed", Roles: []auth.Role{auth.RoleSystem}}
	partnerFeedActor = auth.Principal{Subject: "partner-feed", Roles: []auth.Role{auth.RoleSystem}}
	sweeperActor     = auth.Principal{Subject: "sweeper", Roles: []auth.Role{auth.RoleSystem}}
)

// view sets the etag of a contract returned to a caller.
func view(_ context.Context, _ auth.Principal, c *contractv1.Contract, version int64) {
	c.Etag = aip.Etag(c.GetName(), version)
}

// subdistrictOf is the sub-district of a community ("" when the tree does not know it).
func (s *Server) subdistrictOf(community string) string {
	if n, ok := s.tree.Get(community); ok {
		return n.Parent
	}
	return ""
}

// save stores c over version with its next sweep moment; locked says the sweeper's claim holds
// the row, so the write is queued with the batch's others.
func (s *Server) save(ctx context.Context, t *resource.Tx, c *contractv1.Contract, version int64, locked bool) (int64, error) {
	c.UpdateTime = timestamppb.New(t.Now)
	due := domain.NextDue(c, s.policy)
	if locked {
		return s.store.UpdateLockedContract(ctx, t, c, version, due)
	}
	return s.store.UpdateContract(ctx, t, c, version, due)
}

// copyOf is c as it goes on the feed: no etag (a feed reader has no use for it).
func copyOf(c *contractv1.Contract) *contractv1.Contract {
	out := proto.Clone(c).(*contractv1.Contract)
	out.Etag = ""
	return out
}

// moved sets c's status and puts the move on the feed (the demand service follows it).
func (s *Server) moved(ctx context.Context, t *resource.Tx, c *contractv1.Contract, to contractv1.ContractStatus, reason string) error {
	from := c.GetStatus()
	c.Status = to
	return t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.ContractStatusChanged{
		Contract: copyOf(c), FromStatus: from, ToStatus: to, Reason: reason,
	})
}
