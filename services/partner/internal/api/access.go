package api

import (
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// contactReaders are the roles that see partners' contact details unmasked (in scope): those
// who arrange work with partners, auth.Handlers. Residents, departments, other partners and
// other services see them masked.
func contactReaders() []auth.Role { return auth.Handlers() }

// scope is the store's view of the caller's region scope: every code in the subtrees the
// caller acts within, and the codes above them. A caller whose scope is the whole tree is
// unrestricted (nil), which spares the database the list.
func (s *Server) scope(p auth.Principal) *store.Scope {
	sc := &store.Scope{}
	for _, r := range p.Scope {
		if r == s.tree.Root().Code {
			return nil
		}
		for _, n := range s.tree.Subtree(r) {
			sc.Codes = append(sc.Codes, n.Code)
		}
		sc.Ancestors = append(sc.Ancestors, s.ancestors(r)...)
	}
	return sc
}

// inScope reports whether code is within the caller's region scope.
func (s *Server) inScope(p auth.Principal, code string) bool {
	return p.InScope(s.tree, code)
}

// visible reports whether the caller may see a party: its own region or one of its service
// areas overlaps the caller's scope, or it is the caller's own record.
func (s *Server) visible(p auth.Principal, party store.Party) bool {
	return isSelf(p, party) || s.inScope(p, party.GetRegionCode()) || p.Overlaps(s.tree, party.GetServiceAreas()...)
}

// isSelf reports whether party is the caller's own partner record, or the group a partner
// caller represents.
func isSelf(p auth.Principal, party store.Party) bool {
	return p.HasRole(auth.RolePartner) && p.Partner != "" && p.Partner == party.GetName()
}

// canManage reports whether the caller may change a party whose region is regionCode.
func (s *Server) canManage(p auth.Principal, regionCode string) bool {
	return p.HasRole(auth.Managers()...) && s.inScope(p, regionCode)
}

// canReadContact reports whether the caller needs the party's contact details unmasked.
func (s *Server) canReadContact(p auth.Principal, party store.Party) bool {
	return isSelf(p, party) || (p.HasRole(contactReaders()...) && s.inScope(p, party.GetRegionCode()))
}

// maskContact hides the personal data in c for callers who do not need it.
func maskContact(c *partnerv1.Contact) {
	if c == nil {
		return
	}
	c.PersonName = personal.MaskName(c.GetPersonName())
	c.Phone = personal.MaskPhone(c.GetPhone())
}

func notFound(name string) error { return apierr.NotFound(name) }
