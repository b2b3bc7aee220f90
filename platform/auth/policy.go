package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// Policy says who may call a method: a token with one of Roles, or, for a public policy, anyone
// without a token, or, for a signed-link policy, whoever presents a signed link in the request.
type Policy struct {
	Roles     []Role
	public    bool
	signedURL bool
}

// Public is the policy of methods callable without a token. Only the health checking protocol
// may have it (see [Standard]); [CheckCoverage] enforces that.
func Public() Policy { return Policy{public: true} }

// SignedURL is the policy of a method whose request carries its own credential: a signed,
// expiring link (platform/signedurl) that a service handed to a caller it had authorised, for
// what a browser loads by URL and cannot send a bearer token with (an image in an <img> tag).
// The interceptor lets such calls through without a token and without reading one, so the
// context carries no Principal; the handler MUST verify the link's signature and expiry before
// it reads anything, and answer a bad link exactly as a missing resource. It is a decision of
// its own, never a variant of Public: [CheckCoverage] accepts it for unary methods only.
func SignedURL() Policy { return Policy{signedURL: true} }

// IsSignedURL reports whether the policy takes a signed link instead of a token.
func (p Policy) IsSignedURL() bool { return p.signedURL }

// Allow is the policy of methods callable with a token holding any of roles.
func Allow(roles ...Role) Policy { return Policy{Roles: roles} }

// IsPublic reports whether the policy needs no token.
func (p Policy) IsPublic() bool { return p.public }

// Allows reports whether the policy lets pr call the method.
func (p Policy) Allows(pr Principal) bool { return p.public || p.signedURL || pr.HasRole(p.Roles...) }

// Policies maps full gRPC method names ("/jiayuan.partner.v1.PartnerService/GetPartner") to
// their policies. A method missing from the map is refused to everyone.
type Policies map[string]Policy

// publicMethods are the only methods that may be public: probes call them without a token.
var publicMethods = []string{
	healthpb.Health_Check_FullMethodName,
	healthpb.Health_List_FullMethodName,
	healthpb.Health_Watch_FullMethodName,
}

// reflectionMethods are server reflection's (grpc.reflection.v1 and v1alpha). They describe the
// whole API, so only authenticated callers get them: grpcurl sends its -H headers with its
// reflection requests too.
var reflectionMethods = []string{
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName,
}

// Standard returns the policies of what every server serves besides its services: the gRPC
// health checking protocol (grpc.health.v1.Health), public, and server reflection, for a
// token of any role (when the server serves it at all: see server.Options.Reflection).
func Standard() Policies {
	p := make(Policies, len(publicMethods)+len(reflectionMethods))
	for _, m := range publicMethods {
		p[m] = Public()
	}
	for _, m := range reflectionMethods {
		p[m] = Allow(Roles()...)
	}
	return p
}

// Merge combines policy sets, e.g. Standard() with each service's own. A method in more
// than one set is an error: two services must not disagree about one method.
func Merge(sets ...Policies) (Policies, error) {
	out := make(Policies)
	var dups []string
	for _, set := range sets {
		for m, p := range set {
			if _, dup := out[m]; dup {
				dups = append(dups, m)
				continue
			}
			out[m] = p
		}
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		return nil, fmt.Errorf("auth: methods with more than one policy: %s", strings.Join(dups, ", "))
	}
	return out, nil
}

// CheckCoverage returns an error listing every method of info (from grpc.Server.GetServiceInfo)
// that lacks a policy, has a policy allowing no role, is public without being a health
// checking method, or takes a signed link while streaming. Servers call it at start, and each
// service's tests call it on their registered server, so a new RPC cannot ship without a
// decision about who may call it.
func CheckCoverage(info map[string]grpc.ServiceInfo, p Policies) error {
	var methods []string
	streaming := map[string]bool{}
	for svc, si := range info {
		for _, m := range si.Methods {
			full := "/" + svc + "/" + m.Name
			methods = append(methods, full)
			streaming[full] = m.IsClientStream || m.IsServerStream
		}
	}
	slices.Sort(methods)
	var errs []error
	for _, full := range methods {
		pol, ok := p[full]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("method %s has no access policy", full))
		case pol.public && !slices.Contains(publicMethods, full):
			errs = append(errs, fmt.Errorf("method %s is public, but only health checking methods may be", full))
		case pol.signedURL && streaming[full]:
			errs = append(errs, fmt.Errorf("method %s takes a signed link, but is streaming: a link grants one read", full))
		case pol.signedURL:
		case !pol.public && len(pol.Roles) == 0:
			errs = append(errs, fmt.Errorf("method %s has a policy that allows no role", full))
		case !pol.public:
			for _, r := range pol.Roles {
				if !r.Valid() {
					errs = append(errs, fmt.Errorf("method %s: policy names unknown role %q", full, r))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("auth: access policies incomplete:\n%w", errors.Join(errs...))
	}
	return nil
}
