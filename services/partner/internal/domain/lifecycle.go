package domain

import (
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// TransitionActors returns the roles allowed to move a record from one status to another and
// whether the record's own partner may make the move too. Officials (auth.Managers) act on
// records in their region scope (checked by the caller); a partner acts only on its own record. ok is false when the transition does
// not exist in the lifecycle: applied → verified → active ⇄ dormant, and withdrawn (final)
// from any other status.
func TransitionActors(from, to partnerv1.PartnerStatus) (roles []auth.Role, self bool, ok bool) {
	const (
		applied   = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
		verified  = partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED
		active    = partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE
		dormant   = partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT
		withdrawn = partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN
	)
	switch {
	case from == applied && to == verified:
		// Verification checks identity and credit code: officials only.
		return auth.Managers(), false, true
	case from == verified && to == active:
		return auth.Managers(), false, true
	case from == active && to == dormant:
		// Officials mark inactive partners dormant; a partner may pause itself.
		return auth.Managers(), true, true
	case from == dormant && to == active:
		return auth.Managers(), true, true
	case to == withdrawn && from != withdrawn:
		// Anyone may leave; officials may also reject an application or remove a partner.
		return auth.Managers(), true, true
	default:
		return nil, false, false
	}
}

// Deletable reports whether a record may be deleted outright rather than withdrawn: only one
// that was never verified, so no history that the figures rely on is lost.
func Deletable(s partnerv1.PartnerStatus) bool {
	return s == partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
}

// CreditCodeRequired reports whether a group of this kind must carry a unified social credit
// code: every registered organisation does; volunteer teams and "other" often have none.
func CreditCodeRequired(k partnerv1.GroupKind) bool {
	return k != partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM && k != partnerv1.GroupKind_GROUP_KIND_OTHER
}
