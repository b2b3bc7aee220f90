package api

import (
	"context"
	"slices"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
	"github.com/jiayuan/jiayuan/services/contract/internal/store"
)

// Who sees a contract: officials, grid workers and other systems the contracts of the
// communities in their scope; a partner's user the contracts its partner is a party to,
// wherever they are. A contract out of sight does not exist for the caller.

// officialRoles see and act on a community's contracts by region scope.
var officialRoles = auth.With(auth.Handlers(), auth.RoleSystem)

// seesCommunity reports whether community is in the caller's scope as an official, or
// encloses the grid a grid worker's scope is.
func (s *Server) seesCommunity(p auth.Principal, community string) bool {
	if !p.HasRole(officialRoles...) {
		return false
	}
	if p.InScope(s.tree, community) {
		return true
	}
	for _, r := range p.Scope {
		if s.tree.Contains(community, r) {
			return true
		}
	}
	return false
}

// partyOf is the party the caller acts for as a partner's user ("" when none).
func partyOf(p auth.Principal) string {
	if p.HasRole(auth.RolePartner) {
		return p.Partner
	}
	return ""
}

// sees reports whether the caller sees c.
func (s *Server) sees(p auth.Principal, c *contractv1.Contract) bool {
	if s.seesCommunity(p, c.GetCommunityCode()) {
		return true
	}
	party := partyOf(p)
	return party != "" && domain.IsParty(c, party)
}

// manages reports whether the caller manages community's contracts: staff or officials (or
// another system) with it in scope.
func (s *Server) manages(p auth.Principal, community string) bool {
	return p.HasRole(auth.With(auth.Managers(), auth.RoleSystem)...) && p.InScope(s.tree, community)
}

func (s *Server) allowManage(p auth.Principal, community, what string) error {
	if !s.manages(p, community) {
		return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not "+what+": only the community's staff may")
	}
	return nil
}

// scope is the store's restriction for the caller (see sees).
func (s *Server) scope(p auth.Principal) store.Scope {
	sc := store.Scope{Partner: partyOf(p)}
	if !p.HasRole(officialRoles...) {
		return sc
	}
	for _, r := range p.Scope {
		if r == s.tree.Root().Code {
			return store.Scope{All: true}
		}
		for _, n := range s.tree.Path(r) {
			if n.Level == region.LevelCommunity && !slices.Contains(sc.Communities, n.Code) {
				sc.Communities = append(sc.Communities, n.Code)
			}
		}
		for _, n := range s.tree.Subtree(r) {
			if n.Level == region.LevelCommunity && !slices.Contains(sc.Communities, n.Code) {
				sc.Communities = append(sc.Communities, n.Code)
			}
		}
	}
	return sc
}

// loadContract reads a contract the caller may see; one they may not does not exist for them.
// It is the service's resource.Loader of contracts.
func (s *Server) loadContract(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*contractv1.Contract, int64, error) {
	if !aip.ValidName(name, "contracts") {
		return nil, 0, sqlstore.ErrNotFound
	}
	c, v, err := s.store.GetContract(ctx, q, name)
	if err != nil {
		return nil, 0, err
	}
	if !s.sees(p, c) {
		return nil, 0, sqlstore.ErrNotFound
	}
	return c, v, nil
}

// lockedContract is loadContract holding the row for the rest of the transaction: writes
// that do not carry the caller's etag (signatures, fulfilments) must not race the sweeper.
func (s *Server) lockedContract(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*contractv1.Contract, int64, error) {
	if !aip.ValidName(name, "contracts") {
		return nil, 0, sqlstore.ErrNotFound
	}
	if err := s.store.LockContract(ctx, q, name); err != nil {
		return nil, 0, err
	}
	return s.loadContract(ctx, q, p, name)
}
