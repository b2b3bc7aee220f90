// Package api implements the DemandService gRPC API: access checks, the rules the proto cannot
// state, and composing store writes with their timeline entries, events and idempotency
// records in one transaction.
package api

import (
	"errors"
	"log/slog"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// Server implements demandv1.DemandServiceServer.
type Server struct {
	demandv1.UnimplementedDemandServiceServer

	db       *sqlstore.DB
	res      *resource.Service
	store    *store.Store
	tree     *region.Tree
	partners partnerv1.PartnerServiceClient
	photos   Photos
	log      *slog.Logger
	now      func() time.Time
}

// Photos is where the photos attached to demands are kept and how they are served.
type Photos struct {
	// Store keeps the images, under keys equal to the photos' names.
	Store blob.Store
	// MaxBytes is the largest image accepted.
	MaxBytes int64
	// URLTTL is how long a signed link to an image works.
	URLTTL time.Duration
	// Signer signs the links with the deployment's key.
	Signer *signedurl.Signer
}

// Check reports what is missing or wrong.
func (p Photos) Check() error {
	switch {
	case p.Store == nil:
		return errors.New("no photo store")
	case p.Signer == nil:
		return errors.New("no key to sign photo links with")
	case p.MaxBytes <= 0:
		return errors.New("the photo size limit must be positive")
	case p.URLTTL <= 0:
		return errors.New("the photo link lifetime must be positive")
	}
	return nil
}

// Config holds what the API needs.
type Config struct {
	DB     *sqlstore.DB
	Outbox *eventfeed.Outbox
	// Store is the service's store, which seals personal data under the service's keys.
	Store *store.Store
	Tree  *region.Tree
	// Partners is the partner service, called with the service's own credentials for matching.
	Partners partnerv1.PartnerServiceClient
	// Photos keeps and serves the photos attached to demands (checked by Photos.Check).
	Photos Photos
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// New returns the DemandService implementation.
func New(cfg Config) *Server {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{db: cfg.DB, res: resource.NewService(cfg.DB, cfg.Outbox, log, now), store: cfg.Store, tree: cfg.Tree, partners: cfg.Partners, photos: cfg.Photos, log: log, now: now}
}

// checkCommunity checks that code (in field) is a community of the region tree.
func (s *Server) checkCommunity(field, code string) error {
	n, ok := s.tree.Get(code)
	if !ok {
		return apierr.InvalidArgument(field, "region "+code+" is not in the region tree")
	}
	if n.Level != region.LevelCommunity {
		return apierr.InvalidArgument(field, code+" ("+n.Name+") is a "+string(n.Level)+", not a community")
	}
	return nil
}

// checkGrid checks that grid (in field) is a grid of the community.
func (s *Server) checkGrid(field, grid, community string) error {
	n, ok := s.tree.Get(grid)
	if !ok {
		return apierr.InvalidArgument(field, "region "+grid+" is not in the region tree")
	}
	if n.Level != region.LevelGrid || n.Parent != community {
		return apierr.InvalidArgument(field, grid+" ("+n.Name+") is not a grid of community "+community)
	}
	return nil
}
