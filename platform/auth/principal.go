// Package auth verifies who is calling and decides whether they may, denying by default.
//
// Every RPC carries a bearer JWT from the district's identity provider (or, in `jiayuan dev`,
// from [DevSigner]). [UnaryServerInterceptor] and [StreamServerInterceptor] verify it, check the
// caller's roles against the method's [Policy], and put the [Principal] in the context. A method
// without a policy is refused. Region scope is left to handlers, which know where a resource
// lies: they call [Principal.InScope].
package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/platform/region"
)

// Role is what a principal does in the system.
type Role string

// The roles. A token naming any other role is rejected.
const (
	RoleResident        Role = "resident"         // 居民
	RoleGridWorker      Role = "grid_worker"      // 网格员
	RoleCommunityStaff  Role = "community_staff"  // 社区工作人员、书记
	RoleStreetOfficer   Role = "street_officer"   // 街道干部
	RoleDistrictOfficer Role = "district_officer" // 区级干部
	RoleDepartment      Role = "department"       // 区职能部门
	RolePartner         Role = "partner"          // 家园合伙人 (an organisation or a person)
	RoleAdmin           Role = "admin"            // platform administrator
	RoleSystem          Role = "system"           // another system or service
	RoleAuditor         Role = "auditor"          // 审计员: reads the audit trail, nothing else
)

var allRoles = [...]Role{
	RoleResident, RoleGridWorker, RoleCommunityStaff, RoleStreetOfficer, RoleDistrictOfficer,
	RoleDepartment, RolePartner, RoleAdmin, RoleSystem, RoleAuditor,
}

// Roles returns every role.
func Roles() []Role { return slices.Clone(allRoles[:]) }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q", s)
	}
	return r, nil
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return slices.Contains(allRoles[:], r) }

// partnerName matches the resource names of partner records (see proto/jiayuan/partner/v1).
var partnerName = regexp.MustCompile(`^(partners|partnerGroups)/[0-9A-Za-z]{26}$`)

// departmentID matches the ids of district departments (services/escalation/rules).
var departmentID = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)

// Principal is an authenticated caller.
type Principal struct {
	Subject string // the identity provider's stable subject id
	Roles   []Role
	// Scope holds region codes, each the root of a subtree the principal acts within.
	Scope []string
	// Partner is, for the partner role, the resource name of the caller's own partner record
	// ("partners/…" or "partnerGroups/…"); empty otherwise.
	Partner string
	// Department is, for the department role, the id of the district department the caller
	// works for (rules.yaml's departments, e.g. "power"): the escalation service shows a
	// department the cases assigned to it. Empty otherwise; a department caller without one
	// is assigned no cases.
	Department string
	Name       string // display name, optional
}

// HasRole reports whether p has any of roles.
func (p Principal) HasRole(roles ...Role) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// InScope reports whether code lies within one of p's scope subtrees of tree. It is false when
// tree is nil, code is not in the tree, or p has no scope; no role bypasses it.
func (p Principal) InScope(tree *region.Tree, code string) bool {
	if tree == nil {
		return false
	}
	for _, root := range p.Scope {
		if tree.Contains(root, code) {
			return true
		}
	}
	return false
}

// Validate checks that p is a principal the system can act for: a subject, at least one known
// role, well-formed scope entries, and a partner record exactly when p has the partner role.
func (p Principal) Validate() error {
	var errs []error
	if strings.TrimSpace(p.Subject) == "" {
		errs = append(errs, errors.New("subject is empty"))
	}
	if len(p.Roles) == 0 {
		errs = append(errs, errors.New("no roles"))
	}
	for _, r := range p.Roles {
		if !r.Valid() {
			errs = append(errs, fmt.Errorf("unknown role %q", r))
		}
	}
	for _, s := range p.Scope {
		if s == "" {
			errs = append(errs, errors.New("empty region code in scope"))
		}
	}
	switch {
	case p.HasRole(RolePartner) && !partnerName.MatchString(p.Partner):
		errs = append(errs, fmt.Errorf("the partner role needs the partner claim to name a partners/… or partnerGroups/… record, got %q", p.Partner))
	case !p.HasRole(RolePartner) && p.Partner != "":
		errs = append(errs, fmt.Errorf("partner claim %q given without the partner role", p.Partner))
	}
	switch {
	case p.Department != "" && !p.HasRole(RoleDepartment):
		errs = append(errs, fmt.Errorf("department claim %q given without the department role", p.Department))
	case p.Department != "" && !departmentID.MatchString(p.Department):
		errs = append(errs, fmt.Errorf("department claim %q is not a department id (lower-case letters, digits and _)", p.Department))
	}
	return errors.Join(errs...)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the interceptor authenticated; ok is false on public
// methods and outside RPCs.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
