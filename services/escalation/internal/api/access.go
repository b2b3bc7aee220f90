package api

import (
	"context"
	"slices"
	"strings"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
)

// Who sees a case: officials, grid workers and other systems the cases of the communities in
// their scope (a grid worker its grid's community); a department only the cases assigned to
// it, in every community of its scope. A case out of sight does not exist for the caller.

// departmentOnly reports whether the caller sees cases as a department: it holds the department
// role and no role that sees a community's cases.
func departmentOnly(p auth.Principal) bool {
	return p.HasRole(auth.RoleDepartment) && !p.HasRole(auth.With(auth.Handlers(), auth.RoleSystem)...)
}

// departmentUnit is the unit of the caller's department ("" when it names none).
func departmentUnit(p auth.Principal) string {
	if p.Department == "" {
		return ""
	}
	return domain.DepartmentUnitPrefix + p.Department
}

// seesCommunity reports whether community is in the caller's scope, or encloses the grid a
// grid worker's scope is.
func (s *Server) seesCommunity(p auth.Principal, community string) bool {
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

// sees reports whether the caller sees c.
func (s *Server) sees(p auth.Principal, c *escalationv1.Case) bool {
	if departmentOnly(p) {
		u := departmentUnit(p)
		return u != "" && c.GetUnit() == u && p.InScope(s.tree, c.GetCommunityCode())
	}
	return s.seesCommunity(p, c.GetCommunityCode())
}

// scope is the store's restriction for the caller (see sees).
func (s *Server) scope(p auth.Principal) *store.Scope {
	sc := &store.Scope{Communities: []string{}}
	if departmentOnly(p) {
		sc.Unit = departmentUnit(p)
		if sc.Unit == "" {
			sc.Unit = "departments/-" // names no unit: a department without its claim sees nothing
		}
	}
	for _, r := range p.Scope {
		if r == s.tree.Root().Code {
			sc.All = true
			sc.Communities = nil
			return sc
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

// loadCase reads a case the caller may see; one they may not does not exist for them. It is
// the service's resource.Loader of cases.
func (s *Server) loadCase(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*escalationv1.Case, int64, error) {
	c, v, err := s.store.GetCase(ctx, q, name)
	if err != nil {
		return nil, 0, err
	}
	if !s.sees(p, c) {
		return nil, 0, sqlstore.ErrNotFound
	}
	return c, v, nil
}

// lockedCase is loadCase holding the case's row for the rest of the transaction.
func (s *Server) lockedCase(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*escalationv1.Case, int64, error) {
	if !aip.ValidName(name, "cases") {
		return nil, 0, sqlstore.ErrNotFound
	}
	if err := s.store.LockCase(ctx, q, name); err != nil {
		return nil, 0, err
	}
	return s.loadCase(ctx, q, p, name)
}

func permissionDenied(what string) error {
	return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not "+what)
}

// atLevel reports whether the caller is an official of c's level or above with c's community in
// scope: who coordinates the case at its level.
func (s *Server) atLevel(p auth.Principal, c *escalationv1.Case) bool {
	return domain.RoleLevel(p) >= c.GetLevel() && p.InScope(s.tree, c.GetCommunityCode())
}

// actsForUnit reports whether the caller acts for the unit responsible for c: the department
// it is assigned to, or an official of its level or above.
func (s *Server) actsForUnit(p auth.Principal, c *escalationv1.Case) bool {
	if u := departmentUnit(p); u != "" && u == c.GetUnit() && p.HasRole(auth.RoleDepartment) && p.InScope(s.tree, c.GetCommunityCode()) {
		return true
	}
	return s.atLevel(p, c)
}

// allowAtLevel refuses unless the caller coordinates c at its level (atLevel), naming what.
func (s *Server) allowAtLevel(p auth.Principal, c *escalationv1.Case, what string) error {
	if !s.atLevel(p, c) {
		return apierr.PermissionDenied("BELOW_CASE_LEVEL", "you may not "+what+": it is a "+
			strings.ToLower(strings.TrimPrefix(c.GetColour().String(), "COLOUR_"))+" case, led at the "+levelWord(c.GetLevel())+" level")
	}
	return nil
}

func levelWord(l escalationv1.Level) string {
	return strings.ToLower(strings.TrimPrefix(l.String(), "LEVEL_"))
}

// unitLevel is the level of the office a unit is (the district for a department).
func (s *Server) unitLevel(unit string) escalationv1.Level {
	if code, ok := strings.CutPrefix(unit, domain.RegionUnitPrefix); ok {
		if n, ok := s.tree.Get(code); ok {
			return domain.RegionLevel(n.Level)
		}
	}
	return escalationv1.Level_LEVEL_DISTRICT
}

// decidesExtension reports whether the caller is the level above c's unit: officials of a more
// senior level than the unit's office, or, for the district's own office and its departments,
// the district's officials (there is no level above the district).
func (s *Server) decidesExtension(p auth.Principal, c *escalationv1.Case) bool {
	if !p.InScope(s.tree, c.GetCommunityCode()) {
		return false
	}
	ul, rl := s.unitLevel(c.GetUnit()), domain.RoleLevel(p)
	if ul == escalationv1.Level_LEVEL_DISTRICT {
		return rl == escalationv1.Level_LEVEL_DISTRICT
	}
	return rl > ul
}

// checkUnit checks that unit may lead c at its level: the case's community for green, its
// sub-district for yellow, the district or a department of rules.yaml for red.
func (s *Server) checkUnit(c *escalationv1.Case, unit string) error {
	if id, ok := strings.CutPrefix(unit, domain.DepartmentUnitPrefix); ok {
		if _, ok := s.rules.Department(id); !ok {
			return apierr.InvalidArgument("unit", unit+" is not a department of this district (rules.yaml departments)")
		}
		if c.GetLevel() != escalationv1.Level_LEVEL_DISTRICT {
			return apierr.InvalidArgument("unit", "a department takes red cases; this one is "+
				strings.ToLower(strings.TrimPrefix(c.GetColour().String(), "COLOUR_"))+": escalate it first")
		}
		return nil
	}
	want := domain.OfficeUnit(c.GetLevel(), c.GetCommunityCode(), c.GetSubdistrictCode(), s.tree.Root().Code)
	if unit != want {
		code := strings.TrimPrefix(unit, domain.RegionUnitPrefix)
		if _, ok := s.tree.Get(code); !ok {
			return apierr.InvalidArgument("unit", unit+" is not a region of this district")
		}
		return apierr.InvalidArgument("unit", unit+" is outside the case's region or level: a "+levelWord(c.GetLevel())+
			"-level case of "+c.GetCommunityCode()+" goes to "+want+" (or, when red, a department)")
	}
	return nil
}
