package auth

import (
	"context"
	"slices"

	"github.com/jiayuan/jiayuan/platform/region"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Caller returns the principal the interceptor verified for this call. Every handler starts
// here; a call without one is a wiring bug (a method the interceptor does not see), refused as
// UNAUTHENTICATED rather than served to nobody in particular.
func Caller(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, status.Error(codes.Unauthenticated, "no verified caller")
	}
	return p, nil
}

// The role sets the services share. Each call returns a fresh slice, so a caller appending to
// one cannot change another's.

// Managers are the officials who manage records of their region scope: register partners,
// handle demands, run projects.
func Managers() []Role {
	return []Role{RoleCommunityStaff, RoleStreetOfficer, RoleDistrictOfficer, RoleAdmin}
}

// Handlers are the managers and the grid workers: those who record and work on a community's
// demands and meetings.
func Handlers() []Role { return append([]Role{RoleGridWorker}, Managers()...) }

// With returns roles followed by more, as a new slice.
func With(roles []Role, more ...Role) []Role {
	return append(slices.Clone(roles), more...)
}

// Overlaps reports whether any of codes lies within p's scope or encloses part of it: a
// record placed in, or serving, any of those regions concerns the caller. A partner serving
// the whole district concerns a community's staff; one serving another community does not.
func (p Principal) Overlaps(tree *region.Tree, codes ...string) bool {
	if tree == nil {
		return false
	}
	for _, c := range codes {
		for _, root := range p.Scope {
			if tree.Contains(root, c) || tree.Contains(c, root) {
				return true
			}
		}
	}
	return false
}
