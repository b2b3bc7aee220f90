// Package api implements the CaseService gRPC API, the handling of the demand service's feed
// (cases opened and reopened) and the sweep (warnings and automatic escalation): access checks,
// the rules the proto cannot state, and composing store writes with their history, events and
// idempotency records in one transaction.
package api

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// SweepJob names the sweep of cases in sweep_runs.
const SweepJob = "escalation-cases"

// Server implements escalationv1.CaseServiceServer.
type Server struct {
	escalationv1.UnimplementedCaseServiceServer

	db      *sqlstore.DB
	res     *resource.Service
	store   *store.Store
	tree    *region.Tree
	rules   *rules.Rules
	demands demandv1.DemandServiceClient
	log     *slog.Logger
	now     func() time.Time
	// quiet holds units' messages that are not urgent; wake tells the sender of new ones.
	quiet calendar.QuietHours
	wake  func()
	// boards keeps each scope's board for a moment (nil: counted every time).
	boards *boardCache
}

// Config holds what the API needs.
type Config struct {
	DB     *sqlstore.DB
	Outbox *eventfeed.Outbox
	Tree   *region.Tree
	Rules  *rules.Rules
	// Demands is the demand service, called with this service's own credentials to read the
	// demand a case is for.
	Demands demandv1.DemandServiceClient
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Quiet holds the units' messages that are not urgent until it ends.
	Quiet calendar.QuietHours
	// Wake tells the units' sender, after a commit, that messages are waiting (nil: it polls).
	Wake func()
	// BoardCache is how long a scope's board is answered from its last count on this replica
	// (a change of a case here drops it at once): DefaultBoardCache when zero, none when
	// negative.
	BoardCache time.Duration
}

// New returns the CaseService implementation.
func New(cfg Config) *Server {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ttl := cfg.BoardCache
	if ttl == 0 {
		ttl = DefaultBoardCache
	}
	boards := newBoardCache(ttl)
	return &Server{
		db: cfg.DB, res: resource.NewService(cfg.DB, cfg.Outbox, log, now), store: store.NewWithChanges(boards.changed), tree: cfg.Tree,
		rules: cfg.Rules, demands: cfg.Demands, log: log, now: now, quiet: cfg.Quiet, wake: cfg.Wake, boards: boards,
	}
}

// The service's own identities, for the steps it takes by itself.
var (
	feedActor    = auth.Principal{Subject: "demand-feed", Roles: []auth.Role{auth.RoleSystem}}
	sweeperActor = auth.Principal{Subject: "sweeper", Roles: []auth.Role{auth.RoleSystem}}
)

// unitName is the name residents read for unit.
func (s *Server) unitName(unit string) string {
	if code, ok := strings.CutPrefix(unit, domain.RegionUnitPrefix); ok {
		if n, ok := s.tree.Get(code); ok {
			if n.Level == region.LevelSubdistrict {
				return n.Name + "办事处"
			}
			return n.Name
		}
	}
	if id, ok := strings.CutPrefix(unit, domain.DepartmentUnitPrefix); ok {
		if d, ok := s.rules.Department(id); ok {
			return d.Name
		}
	}
	return unit
}

// subdistrictOf is the sub-district of a community ("" when the tree does not know it).
func (s *Server) subdistrictOf(community string) string {
	if n, ok := s.tree.Get(community); ok {
		return n.Parent
	}
	return ""
}

// toOffice moves c to its level's own office (the community, the sub-district, the district),
// ASSIGNED, with no assignee.
func (s *Server) toOffice(c *escalationv1.Case) {
	c.Unit = domain.OfficeUnit(c.GetLevel(), c.GetCommunityCode(), c.GetSubdistrictCode(), s.tree.Root().Code)
	c.UnitDisplayName = s.unitName(c.GetUnit())
	c.Assignee = ""
	c.Status = escalationv1.CaseStatus_CASE_STATUS_ASSIGNED
}

// setColour sets c's colour and level, moves it to that level's office and restarts its
// clocks at start.
func (s *Server) setColour(c *escalationv1.Case, colour escalationv1.Colour, start time.Time) {
	c.Colour, c.Level = colour, domain.LevelOf(colour)
	s.toOffice(c)
	domain.SetClocks(s.rules, c, start)
}

// step records a step of c that the write in t made: the new version is stored, the step goes
// into the history and onto the feed (CaseChanged, which demand follows for the reply). It
// returns the new version.
func (s *Server) step(ctx context.Context, t *resource.Tx, c *escalationv1.Case, version int64,
	kind escalationv1.CaseEventKind, reason, reply string) (int64, error) {
	return s.stepAs(ctx, t, c, version, kind, reason, reply, false)
}

// stepAs is step; swept says the sweeper's claim holds the row, so the write is queued with the
// batch's others (store.UpdateLockedCase).
func (s *Server) stepAs(ctx context.Context, t *resource.Tx, c *escalationv1.Case, version int64,
	kind escalationv1.CaseEventKind, reason, reply string, swept bool) (int64, error) {
	c.UpdateTime = timestamppb.New(t.Now)
	update := s.store.UpdateCase
	if swept {
		update = s.store.UpdateLockedCase
	}
	v, err := update(ctx, t, c, version)
	if err != nil {
		return 0, err
	}
	return v, s.record(ctx, t, c, kind, reason, reply)
}

// record appends a step of c to its history and the feed.
func (s *Server) record(ctx context.Context, t *resource.Tx, c *escalationv1.Case, kind escalationv1.CaseEventKind, reason, reply string) error {
	return s.recordSession(ctx, t, c, kind, reason, reply, nil)
}

// recordSession is record, with the mediation session a MEDIATED step holds.
func (s *Server) recordSession(ctx context.Context, t *resource.Tx, c *escalationv1.Case, kind escalationv1.CaseEventKind, reason, reply string,
	session *escalationv1.MediationSession) error {
	role := ""
	if len(t.Caller.Roles) > 0 {
		role = string(t.Caller.Roles[0])
	}
	e := &escalationv1.CaseEvent{
		Name: c.GetName() + "/events/" + aip.NewID(), Kind: kind, Colour: c.GetColour(), Level: c.GetLevel(),
		Unit: c.GetUnit(), Status: c.GetStatus(), Reason: reason, Reply: reply, ActorRole: role, Actor: t.Caller.Subject,
		CreateTime: timestamppb.New(t.Now), Session: session,
	}
	if err := s.store.AppendEvent(ctx, t, e); err != nil {
		return err
	}
	if err := s.notifyUnit(ctx, t, c, kind, reason); err != nil {
		return err
	}
	view := proto.Clone(c).(*escalationv1.Case)
	view.Etag = ""
	return t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &escalationv1.CaseChanged{Case: view, Event: e})
}
