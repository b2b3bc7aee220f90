// Package api implements the PartnerService gRPC API: access checks, validation the proto
// cannot state, and composing store writes with their events and idempotency records in one
// transaction.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// Server implements partnerv1.PartnerServiceServer.
type Server struct {
	partnerv1.UnimplementedPartnerServiceServer

	db    *sqlstore.DB
	res   *resource.Service
	store *store.Store
	tree  *region.Tree
	log   *slog.Logger
	now   func() time.Time
	// rankings keeps a multi-page search's ranking for its next pages (see search.go).
	rankings  *expirable.LRU[string, []ranked]
	contracts contractv1.ContractServiceClient
	bounds    Bounds
	// dormantOnInactive: an inactive-partner alert moves the partner to DORMANT.
	dormantOnInactive bool
}

// Config holds what the API needs.
type Config struct {
	DB     *sqlstore.DB
	Outbox *eventfeed.Outbox
	// Store is the service's store, which seals personal data under the service's keys.
	Store  *store.Store
	Tree   *region.Tree
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Contracts is the contract service, which vouches for an activity's contract (nil: a
	// contract named is refused).
	Contracts contractv1.ContractServiceClient
	// Bounds are the most one activity may count (zero fields: DefaultBounds).
	Bounds Bounds
	// DormantOnInactive: the contract service's inactive-partner alert moves an ACTIVE
	// partner to DORMANT (the district's policy; off: staff decide).
	DormantOnInactive bool
}

// New returns the PartnerService implementation.
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
		db: cfg.DB, res: resource.NewService(cfg.DB, cfg.Outbox, log, now), store: cfg.Store, tree: cfg.Tree, log: log, now: now,
		contracts: cfg.Contracts, bounds: cfg.Bounds.withDefaults(), dormantOnInactive: cfg.DormantOnInactive,
		rankings: expirable.NewLRU[string, []ranked](rankingsKept, nil, rankingLife),
	}
}

// checkRegions validates the region codes of a party against the region tree.
func (s *Server) checkRegions(field string, party store.Party) error {
	if err := s.tree.Validate(party.GetRegionCode()); err != nil {
		return apierr.InvalidArgument(field+".region_code", err.Error())
	}
	for i, a := range party.GetServiceAreas() {
		if err := s.tree.Validate(a); err != nil {
			return apierr.InvalidArgument(fmt.Sprintf("%s.service_areas[%d]", field, i), err.Error())
		}
	}
	return nil
}

// view prepares a stored party for the caller (see prepare) and audits an unmasked read.
func (s *Server) view(ctx context.Context, p auth.Principal, party store.Party, version int64) {
	if s.prepare(p, party, party, version) {
		auth.AuditRead(ctx, s.log, p, "contact", auth.Shown{Name: party.GetName(), Region: party.GetRegionCode()})
	}
}

// viewAll prepares listed parties for the caller, with one audit line for the call. wholes,
// when given, are the whole records of partial copies (AIP-157), to judge access by: a copy
// may lack the fields that decide it.
func (s *Server) viewAll(ctx context.Context, p auth.Principal, listed []store.ListedParty, wholes ...store.Party) {
	var shown []auth.Shown
	for i, l := range listed {
		whole := l.Party
		if wholes != nil {
			whole = wholes[i]
		}
		if s.prepare(p, l.Party, whole, l.Version) {
			shown = append(shown, auth.Shown{Name: l.Party.GetName(), Region: l.Party.GetRegionCode()})
		}
	}
	auth.AuditRead(ctx, s.log, p, "contact", shown...)
}

// prepare sets the etag on party and masks its contact unless the caller needs it, judged by
// whole, the whole record (party itself, unless party is a partial copy); it reports whether
// personal data is shown unmasked.
func (s *Server) prepare(p auth.Principal, party, whole store.Party, version int64) bool {
	setEtag(party, aip.Etag(party.GetName(), version))
	c := contactOf(party)
	if c == nil {
		return false
	}
	if s.canReadContact(p, whole) {
		return true
	}
	maskContact(c)
	return false
}

func setEtag(party store.Party, etag string) {
	switch v := party.(type) {
	case *partnerv1.Partner:
		v.Etag = etag
	case *partnerv1.PartnerGroup:
		v.Etag = etag
	}
}

func contactOf(party store.Party) *partnerv1.Contact {
	switch v := party.(type) {
	case *partnerv1.Partner:
		return v.GetContact()
	case *partnerv1.PartnerGroup:
		return v.GetContact()
	}
	return nil
}

// recordStatus sets a party's status and appends the change to its history.
func recordStatus(party store.Party, to partnerv1.PartnerStatus, actor, reason string, at time.Time) *partnerv1.StatusChange {
	change := &partnerv1.StatusChange{FromStatus: party.GetStatus(), ToStatus: to, Actor: actor, ChangeTime: timestamppb.New(at), Reason: reason}
	switch v := party.(type) {
	case *partnerv1.Partner:
		v.Status = to
		v.StatusHistory = append(v.StatusHistory, change)
	case *partnerv1.PartnerGroup:
		v.Status = to
		v.StatusHistory = append(v.StatusHistory, change)
	}
	return change
}

// forFeed is the copy of a party that goes on the event feed: without personal data, which
// other services have no need of and must not accumulate.
func forFeed[T interface {
	proto.Message
	GetContact() *partnerv1.Contact
}](party T) T {
	c := proto.Clone(party).(T)
	c.ProtoReflect().Clear(c.ProtoReflect().Descriptor().Fields().ByName("contact"))
	c.ProtoReflect().Clear(c.ProtoReflect().Descriptor().Fields().ByName("etag"))
	return c
}

// regionPath returns the ancestors of code, root first, excluding code itself.
func (s *Server) ancestors(code string) []string {
	var out []string
	for _, n := range s.tree.Path(code) {
		if n.Code != code {
			out = append(out, n.Code)
		}
	}
	return out
}
