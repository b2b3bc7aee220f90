package api

import (
	"math"
	"slices"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// isResident reports whether the caller acts as a resident only: residents see their own
// demands and those they support, not their community's.
func isResident(p auth.Principal) bool {
	return p.HasRole(auth.RoleResident) && !p.HasRole(auth.With(auth.Handlers(), auth.RoleDepartment, auth.RoleSystem)...)
}

// communities are the communities whose records the caller sees: every community in the
// subtrees of its scope, and, for a scope below a community (a grid worker's grid), the
// community around it — a grid worker follows the whole community's needs list, with the
// personal data of other grids masked. Nil means the whole tree.
func (s *Server) communities(p auth.Principal) *store.Scope {
	sc := &store.Scope{Communities: []string{}}
	for _, r := range p.Scope {
		if r == s.tree.Root().Code {
			return nil
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

// seesCommunity reports whether the caller sees the records of community (see communities):
// it is in the caller's scope, or it encloses the grid a grid worker's scope is.
func (s *Server) seesCommunity(p auth.Principal, community string) bool {
	if p.InScope(s.tree, community) {
		return true
	}
	if n, ok := s.tree.Get(community); !ok || n.Level != region.LevelCommunity {
		return false
	}
	for _, r := range p.Scope {
		if s.tree.Contains(community, r) {
			return true
		}
	}
	return false
}

// own is the store's restriction for residents, nil for everyone else.
func own(p auth.Principal) *store.Own {
	if isResident(p) {
		return &store.Own{Subject: p.Subject}
	}
	return nil
}

// canHandle reports whether the caller may work on records of community: a manager with it in
// scope, or a grid worker of one of its grids.
func (s *Server) canHandle(p auth.Principal, community string) bool {
	if p.HasRole(auth.Managers()...) && p.InScope(s.tree, community) {
		return true
	}
	return p.HasRole(auth.RoleGridWorker) && s.seesCommunity(p, community)
}

// canManage reports whether the caller is a manager with community in scope.
func (s *Server) canManage(p auth.Principal, community string) bool {
	return p.HasRole(auth.Managers()...) && p.InScope(s.tree, community)
}

// readsReporter reports whether the caller needs the reporter's identity unmasked: whoever
// recorded the demand (the resident themselves, or the worker who took it down), community
// staff of the community (they call back), and the grid worker of the demand's grid. Everyone
// else — other grids' workers, sub-district and district officers, departments, other
// services — sees it masked.
func (s *Server) readsReporter(p auth.Principal, d *demandv1.Demand) bool {
	if d.GetRecorder() == p.Subject {
		return true
	}
	if p.HasRole(auth.RoleCommunityStaff) && p.InScope(s.tree, d.GetCommunityCode()) {
		return true
	}
	return p.HasRole(auth.RoleGridWorker) && d.GetGridCode() != "" && p.InScope(s.tree, d.GetGridCode())
}

// maskDemand hides the reporter's personal data and the address of their home.
func maskDemand(d *demandv1.Demand) {
	if r := d.GetReporter(); r != nil {
		r.Name = personal.MaskName(r.GetName())
		r.Phone = personal.MaskPhone(r.GetPhone())
	}
	d.Address = personal.MaskAddress(d.GetAddress())
	// Two decimals (about a kilometre) still place a problem on the map, not at a door.
	if l := d.GetLocation(); l != nil {
		l.Latitude = math.Round(l.GetLatitude()*100) / 100
		l.Longitude = math.Round(l.GetLongitude()*100) / 100
	}
}

func permissionDenied(what string) error {
	return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not "+what)
}

// allowHandle refuses, naming what the caller tried, unless they may work on records of
// community (canHandle).
func (s *Server) allowHandle(p auth.Principal, community, what string) error {
	if !s.canHandle(p, community) {
		return permissionDenied(what)
	}
	return nil
}

// allowManage refuses, naming what the caller tried, unless they manage community
// (canManage).
func (s *Server) allowManage(p auth.Principal, community, what string) error {
	if !s.canManage(p, community) {
		return permissionDenied(what)
	}
	return nil
}

// inCommunity passes on a record read from the store, with its version, when p sees its
// community (seesCommunity); a record p does not see is sqlstore.ErrNotFound.
func inCommunity[R interface{ GetCommunityCode() string }](s *Server, p auth.Principal) func(R, int64, error) (R, int64, error) {
	return func(r R, v int64, err error) (R, int64, error) {
		var zero R
		if err != nil {
			return zero, 0, err
		}
		if !s.seesCommunity(p, r.GetCommunityCode()) {
			return zero, 0, sqlstore.ErrNotFound
		}
		return r, v, nil
	}
}
